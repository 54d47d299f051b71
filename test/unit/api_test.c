/* controller/api: every endpoint's document from a hand-made run state, PATCH's checks and the
 * control calls it makes (a fake run), the errors' status codes and JSON, the address parser,
 * and the real server on 127.0.0.1:0 answering a GET and a PATCH over a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "common/clock.h"
#include "controller/api.h"
#include "test/unit/run_fixture.h"

typedef struct fake { /* the run behind sb_run_control */
  fixture *f;
  int pauses, last_paused, scales;
  size_t last_idx;
  uint64_t last_vus;
} fake;

static int fake_pause(void *ud, int paused, sb_err *err) {
  fake *k = ud;
  k->pauses++;
  k->last_paused = paused;
  k->f->st.paused = paused;
  return 0;
}

static int fake_scale(void *ud, size_t idx, uint64_t vus, sb_err *err) {
  fake *k = ud;
  k->scales++;
  k->last_idx = idx;
  k->last_vus = vus;
  return 0;
}

/* Sends a request; returns the status and the parsed document in |*doc|. */
static int call(fixture *f, fake *k, const char *method, const char *path, const char *body,
                json_t **doc) {
  sb_run_control ctl = {fake_pause, fake_scale, k};
  sb_buf out;
  sb_buf_init(&out);
  int st = sb_api_handle(&f->st, k ? &ctl : NULL, method, path, body, body ? strlen(body) : 0,
                         T_NOW, &out);
  json_error_t je;
  *doc = json_loadb(out.data, out.len, 0, &je);
  if (!*doc) fail_msg("not JSON (%s): %.*s", je.text, (int)out.len, out.data);
  sb_buf_clear(&out);
  return st;
}

static const char *jstr(json_t *doc, const char *path) {
  json_t *v = doc;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *save, *t = strtok_r(buf, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
    v = json_is_array(v) ? json_array_get(v, (size_t)atoi(t)) : json_object_get(v, t);
  static char s[256];
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_integer(v))
    snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(s, sizeof(s), "%g", json_real_value(v));
  else if (json_is_boolean(v))
    snprintf(s, sizeof(s), "%s", json_is_true(v) ? "true" : "false");
  else if (json_is_null(v))
    snprintf(s, sizeof(s), "null");
  else
    return "(absent)";
  return s;
}

static void expect_error(fixture *f, fake *k, const char *method, const char *path,
                         const char *body, int status, const char *detail) {
  json_t *d;
  assert_int_equal(call(f, k, method, path, body, &d), status);
  char st[8];
  snprintf(st, sizeof(st), "%d", status);
  assert_string_equal(jstr(d, "errors.0.status"), st);
  if (!strstr(jstr(d, "errors.0.detail"), detail))
    fail_msg("'%s' lacks '%s'", jstr(d, "errors.0.detail"), detail);
  json_decref(d);
}

static const char *OPTS = "{\"scenarios\": {\"default\": {\"executor\": \"constant-vus\", "
                          "\"vus\": 9, \"duration\": \"30s\"}}, "
                          "\"thresholds\": {\"http_reqs\": [\"count<3\"]}}";

static void test_status(void **state) {
  fixture f;
  fixture_init(&f, OPTS, 3);
  for (int i = 0; i < 3; i++)
    f.agents[i].vus = 3, f.agents[i].vus_max = 3;
  json_t *d;
  assert_int_equal(call(&f, NULL, "GET", "/v1/status", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.type"), "status");
  assert_string_equal(jstr(d, "data.id"), "default");
  assert_string_equal(jstr(d, "data.attributes.status"), "7");
  assert_string_equal(jstr(d, "data.attributes.vus"), "9");
  assert_string_equal(jstr(d, "data.attributes.vus-max"), "9");
  assert_string_equal(jstr(d, "data.attributes.running"), "true");
  assert_string_equal(jstr(d, "data.attributes.paused"), "false");
  assert_string_equal(jstr(d, "data.attributes.stopped"), "false");
  assert_string_equal(jstr(d, "data.attributes.tainted"), "false");
  json_decref(d);
  f.st.phase = SB_PHASE_ENDED;
  assert_int_equal(call(&f, NULL, "GET", "/v1/status/", NULL, &d), 200); /* a trailing slash */
  assert_string_equal(jstr(d, "data.attributes.status"), "9");
  assert_string_equal(jstr(d, "data.attributes.stopped"), "true");
  json_decref(d);
  fixture_clear(&f);
}

static void test_patch(void **state) {
  fixture f;
  fixture_init(&f, OPTS, 1);
  fake k = {.f = &f};
  json_t *d;
  assert_int_equal(call(&f, &k, "PATCH", "/v1/status",
                        "{\"data\":{\"type\":\"status\",\"id\":\"default\","
                        "\"attributes\":{\"paused\":true,\"vus\":null}}}",
                        &d),
                   200);
  assert_int_equal(k.pauses, 1);
  assert_true(k.last_paused);
  assert_int_equal(k.scales, 0);
  assert_string_equal(jstr(d, "data.attributes.paused"), "true");
  json_decref(d);
  assert_int_equal(call(&f, &k, "PATCH", "/v1/status",
                        "{\"data\":{\"attributes\":{\"vus\":4,\"scenario\":\"default\"}}}", &d),
                   200);
  assert_int_equal(k.scales, 1);
  assert_int_equal(k.last_vus, 4);
  assert_int_equal(k.last_idx, 0);
  json_decref(d);
  /* bad requests: nothing is done */
  int pauses = k.pauses, scales = k.scales;
  expect_error(&f, &k, "PATCH", "/v1/status", "{nope", 400, "not JSON");
  expect_error(&f, &k, "PATCH", "/v1/status", "{\"paused\":true}", 400, "expected {\"data\"");
  expect_error(&f, &k, "PATCH", "/v1/status", "{\"data\":{\"attributes\":{\"paused\":1}}}", 400,
               "attributes.paused must be");
  expect_error(&f, &k, "PATCH", "/v1/status", "{\"data\":{\"attributes\":{\"vus\":-1}}}", 400,
               "non-negative integer");
  expect_error(&f, &k, "PATCH", "/v1/status", "{\"data\":{\"attributes\":{\"vus\":10}}}", 400,
               "at most 9 VUs");
  expect_error(&f, &k, "PATCH", "/v1/status",
               "{\"data\":{\"attributes\":{\"vus\":1,\"paused\":false,\"vus-max\":50}}}", 400,
               "vus-max cannot change");
  expect_error(&f, &k, "PATCH", "/v1/status",
               "{\"data\":{\"attributes\":{\"vus\":1,\"scenario\":\"x\"}}}", 404, "no scenario");
  expect_error(&f, &k, "PATCH", "/v1/status", "{\"data\":{\"type\":\"metrics\",\"attributes\":{}}}",
               400, "data.type");
  assert_int_equal(k.pauses, pauses);
  assert_int_equal(k.scales, scales);
  f.st.phase = SB_PHASE_TEARDOWN;
  expect_error(&f, &k, "PATCH", "/v1/status", "{\"data\":{\"attributes\":{\"paused\":false}}}", 409,
               "not running (teardown)");
  expect_error(&f, NULL, "PATCH", "/v1/status", "{\"data\":{\"attributes\":{}}}", 409,
               "cannot be steered");
  fixture_clear(&f);
}

static void test_metrics(void **state) {
  fixture f;
  fixture_init(&f, OPTS, 1);
  fixture_add(&f, SB_M_HTTP_REQS, "default", NULL, 5);
  fixture_add(&f, SB_M_HTTP_REQS, "default", "::g", 5);
  for (int i = 1; i <= 100; i++)
    fixture_add(&f, SB_M_HTTP_REQ_DURATION, "default", NULL, i);
  fixture_add(&f, SB_M_HTTP_REQ_FAILED, "default", NULL, 1);
  fixture_add(&f, SB_M_HTTP_REQ_FAILED, "default", NULL, 0);
  fixture_add(&f, SB_M_VUS, "default", NULL, 7);
  sb_run_state_eval_thresholds(&f.st, 5);
  json_t *d;
  assert_int_equal(call(&f, NULL, "GET", "/v1/metrics", NULL, &d), 200);
  assert_int_equal(json_array_size(json_object_get(d, "data")), 4); /* only metrics with samples */
  json_decref(d);
  assert_int_equal(call(&f, NULL, "GET", "/v1/metrics/http_reqs", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.type"), "metrics");
  assert_string_equal(jstr(d, "data.id"), "http_reqs");
  assert_string_equal(jstr(d, "data.attributes.type"), "counter");
  assert_string_equal(jstr(d, "data.attributes.contains"), "default");
  assert_string_equal(jstr(d, "data.attributes.sample.count"), "10");
  assert_string_equal(jstr(d, "data.attributes.sample.rate"), "2"); /* 10 in 5 s */
  assert_string_equal(jstr(d, "data.attributes.tainted"), "true");  /* count<3 failed */
  json_decref(d);
  assert_int_equal(call(&f, NULL, "GET", "/v1/metrics/http_req_duration", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.attributes.contains"), "time");
  assert_string_equal(jstr(d, "data.attributes.sample.min"), "1");
  assert_string_equal(jstr(d, "data.attributes.sample.max"), "100");
  assert_string_equal(jstr(d, "data.attributes.sample.avg"), "50.5");
  assert_non_null(json_object_get(
      json_object_get(json_object_get(json_object_get(d, "data"), "attributes"), "sample"),
      "p(95)"));
  json_decref(d);
  assert_int_equal(call(&f, NULL, "GET", "/v1/metrics/http_req_failed", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.attributes.sample.rate"), "0.5");
  assert_string_equal(jstr(d, "data.attributes.sample.passes"), "1");
  json_decref(d);
  assert_int_equal(call(&f, NULL, "GET", "/v1/metrics/vus", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.attributes.sample.value"), "7");
  json_decref(d);
  expect_error(&f, NULL, "GET", "/v1/metrics/nope", NULL, 404, "no metric");
  expect_error(&f, NULL, "GET", "/v1/metrics/checks", NULL, 404, "no metric"); /* no samples */
  expect_error(&f, NULL, "DELETE", "/v1/metrics", NULL, 405, "allowed: GET");
  fixture_clear(&f);
}

static void test_groups_and_setup(void **state) {
  fixture f;
  fixture_init(&f, OPTS, 1);
  const char *kv[] = {"group", "::a::b", "check", "ok"};
  const sb_tagset *t = sb_metrics_tags(f.m, kv, 2);
  sb_metrics_add(f.m, SB_M_CHECKS, t, 1);
  sb_metrics_add(f.m, SB_M_CHECKS, t, 1);
  sb_metrics_add(f.m, SB_M_CHECKS, t, 0);
  json_t *d;
  assert_int_equal(call(&f, NULL, "GET", "/v1/groups", NULL, &d), 200);
  assert_int_equal(json_array_size(json_object_get(d, "data")), 3); /* "", ::a, ::a::b */
  assert_string_equal(jstr(d, "data.0.id"), "d41d8cd98f00b204e9800998ecf8427e"); /* md5("") */
  assert_string_equal(jstr(d, "data.0.relationships.parent.data"), "null");
  assert_string_equal(jstr(d, "data.2.attributes.path"), "::a::b");
  assert_string_equal(jstr(d, "data.2.attributes.name"), "b");
  assert_string_equal(jstr(d, "data.2.attributes.checks.0.path"), "::a::b::ok");
  assert_string_equal(jstr(d, "data.2.attributes.checks.0.passes"), "2");
  assert_string_equal(jstr(d, "data.2.attributes.checks.0.fails"), "1");
  assert_string_equal(jstr(d, "data.2.relationships.parent.data.id"), jstr(d, "data.1.id"));
  char id[64];
  snprintf(id, sizeof(id), "/v1/groups/%s", jstr(d, "data.1.id"));
  json_decref(d);
  assert_int_equal(call(&f, NULL, "GET", id, NULL, &d), 200);
  assert_string_equal(jstr(d, "data.attributes.name"), "a");
  assert_string_equal(jstr(d, "data.relationships.groups.data.0.type"), "groups"); /* ::a::b */
  json_decref(d);
  expect_error(&f, NULL, "GET", "/v1/groups/ffff", NULL, 404, "no group");

  assert_int_equal(call(&f, NULL, "GET", "/v1/setup", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.type"), "setupData");
  assert_string_equal(jstr(d, "data.attributes.data"), "null");
  json_decref(d);
  f.st.setup_data = "{\"token\":\"abc\",\"n\":[1,2]}";
  assert_int_equal(call(&f, NULL, "GET", "/v1/setup", NULL, &d), 200);
  assert_string_equal(jstr(d, "data.attributes.data.token"), "abc");
  assert_string_equal(jstr(d, "data.attributes.data.n.1"), "2");
  json_decref(d);
  expect_error(&f, NULL, "POST", "/v1/setup", "{}", 405, "read-only");
  expect_error(&f, NULL, "GET", "/v2/anything", NULL, 404, "/v1/status, /v1/metrics");
  fixture_clear(&f);
}

static void test_parse_address(void **state) {
  char host[64];
  int port;
  sb_err err = {{0}};
  assert_int_equal(sb_api_parse_address("127.0.0.1:6565", host, sizeof(host), &port, &err), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 6565);
  assert_int_equal(sb_api_parse_address("localhost:0", host, sizeof(host), &port, &err), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(sb_api_parse_address("[::1]:7000", host, sizeof(host), &port, &err), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(sb_api_parse_address(":7000", host, sizeof(host), &port, &err), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(sb_api_parse_address("host:99999", host, sizeof(host), &port, &err), SB_EINVAL);
  assert_int_equal(sb_api_parse_address("host:", host, sizeof(host), &port, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "HOST:PORT"));
}

/* --- the real server ----------------------------------------------------------------------------
 */

typedef struct got {
  int status;
  char body[4096];
  struct event_base *base;
} got;

static void on_reply(struct evhttp_request *rq, void *arg) {
  got *g = arg;
  g->status = rq ? evhttp_request_get_response_code(rq) : -1;
  if (rq) {
    struct evbuffer *in = evhttp_request_get_input_buffer(rq);
    size_t n = evbuffer_get_length(in);
    if (n >= sizeof(g->body)) n = sizeof(g->body) - 1;
    evbuffer_remove(in, g->body, n);
    g->body[n] = '\0';
  }
  event_base_loopbreak(g->base);
}

static void http_call(struct event_base *base, int port, enum evhttp_cmd_type m, const char *body,
                      got *g) {
  struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", (uint16_t)port);
  struct evhttp_request *rq = evhttp_request_new(on_reply, g);
  g->base = base;
  evhttp_add_header(evhttp_request_get_output_headers(rq), "Host", "127.0.0.1");
  if (body) {
    char len[24];
    snprintf(len, sizeof(len), "%zu", strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(rq), "Content-Length", len);
    evbuffer_add(evhttp_request_get_output_buffer(rq), body, strlen(body));
  }
  assert_int_equal(evhttp_make_request(c, rq, m, "/v1/status"), 0);
  event_base_dispatch(base);
  evhttp_connection_free(c);
}

static void test_server(void **state) {
  fixture f;
  fixture_init(&f, OPTS, 1);
  f.st.start_mono_us = sb_clock_mono_us() - 1000000; /* the server uses the real clock */
  fake k = {.f = &f};
  sb_run_control ctl = {fake_pause, fake_scale, &k};
  struct event_base *base = event_base_new();
  sb_api *api;
  sb_err err = {{0}};
  if (sb_api_new(&api, base, "127.0.0.1:0", &f.st, &ctl, &err)) fail_msg("%s", err.msg);
  int port = atoi(strrchr(sb_api_address(api), ':') + 1);
  assert_true(port > 0);
  got g = {0};
  http_call(base, port, EVHTTP_REQ_GET, NULL, &g);
  assert_int_equal(g.status, 200);
  assert_non_null(strstr(g.body, "\"type\":\"status\""));
  memset(&g, 0, sizeof(g));
  http_call(base, port, EVHTTP_REQ_PATCH, "{\"data\":{\"attributes\":{\"paused\":true}}}", &g);
  assert_int_equal(g.status, 200);
  assert_int_equal(k.pauses, 1);
  assert_non_null(strstr(g.body, "\"paused\":true"));
  memset(&g, 0, sizeof(g));
  http_call(base, port, EVHTTP_REQ_PATCH, "[]", &g);
  assert_int_equal(g.status, 400);
  /* the same address twice: the second cannot listen, and says why */
  sb_api *again;
  char addr[64];
  snprintf(addr, sizeof(addr), "%s", sb_api_address(api));
  assert_int_equal(sb_api_new(&again, base, addr, &f.st, &ctl, &err), SB_EIO);
  assert_non_null(strstr(err.msg, "in use"));
  sb_api_free(api);
  event_base_free(base);
  fixture_clear(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status),        cmocka_unit_test(test_patch),
      cmocka_unit_test(test_metrics),       cmocka_unit_test(test_groups_and_setup),
      cmocka_unit_test(test_parse_address), cmocka_unit_test(test_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
