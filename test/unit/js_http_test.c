/* Tests for agent/js_http.c: k6/http in a real VU against an in-process evhttp server on
 * 127.0.0.1:0 sharing the VU's event_base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent/vu.h"
#include "common/archive.h"

static const char META[] = "{\"filename\":\"file:///t/main.js\"}";

static const char MAIN_JS[] =
    "var http = require('k6/http');\n"
    "var B = __ENV.BASE;\n"
    "try { http.get(B + '/'); } catch (e) { initErr = String(e); }\n"
    "exports.get = function () {\n"
    "  var r = http.get(B + '/x?a=1', { headers: { 'X-Hello': 'hi' } });\n"
    "  st = r.status; body = r.body; ctype = r.headers['Content-Type'];\n"
    "  multi = r.headers['X-Multi']; ok = r.json().ok; err = r.error; code = r.error_code;\n"
    "  dur = r.timings.duration; proto = r.proto; url = r.url; reqm = r.request.method;\n"
    "  seenHello = r.headers['X-Seen-Hello']; stext = r.status_text;\n"
    "  sameProto = Object.getPrototypeOf(r) === Object.getPrototypeOf(http.get(B + '/'));\n"
    "};\n"
    "exports.post = function () {\n"
    "  pbody = http.post(B + '/', 'hello=world').body;\n"
    "  fbody = http.post(B + '/', { a: 'x y', b: '&' }).body;\n"
    "  var pr = http.request('put', B + '/', 'abc'); pput = pr.status;\n"
    "  lazySame = pr.headers === pr.headers && pr.timings === pr.timings;\n"
    "  lazyReq = pr.request.method + ' ' + pr.request.body + ' ' + (pr.request.url === pr.url);\n"
    "  lazyRemote = pr.remote_ip + ' ' + (pr.remote_port > 0);\n"
    "  lazyKeys = JSON.parse(JSON.stringify(pr)).timings.duration >= 0;\n"
    "  pdel = http.del(B + '/?status=204').status;\n"
    "};\n"
    "exports.tagged = function () {\n"
    "  http.get(B + '/?status=404', { tags: { name: 'notfound', mine: 'x' } });\n"
    "};\n"
    "exports.none = function () {\n"
    "  var r = http.get(B + '/', { responseType: 'none' }); nbody = r.body; nst = r.status;\n"
    "};\n"
    "exports.notjson = function () {\n"
    "  try { http.get(B + '/?text=1').json(); jerr = ''; } catch (e) { jerr = String(e); }\n"
    "};\n"
    "exports.refused = function () {\n"
    "  var r = http.get(__ENV.DEAD, { timeout: '2s' }); rst = r.status; rcode = r.error_code;\n"
    "  rerr = r.error; rbody = r.body;\n"
    "};\n"
    "exports.timeout = function () {\n"
    "  var r = http.get(B + '/?delay=500', { timeout: 50 }); tcode = r.error_code;\n"
    "};\n"
    "exports.badurl = function () {\n"
    "  try { http.get('nope'); burl = ''; } catch (e) { burl = String(e); }\n"
    "};\n"
    "exports.slow = function () { http.get(B + '/?delay=2000'); after = true; };\n"
    "exports.redir = function () {\n"
    "  var r = http.get(B + '/?redirect=/final'); rs = r.status; rurl = r.url; rb = r.body;\n"
    "  var r2 = http.post(B + '/?redirect=rel', 'x'); rs2 = r2.status; rurl2 = r2.url;\n"
    "  rm2 = r2.request.method;\n"
    "  rs3 = http.get(B + '/?redirect=/final', { redirects: 0 }).status;\n"
    "  rs4 = http.get(B + '/?redirect=ftp://x.invalid/').status;\n"
    "};\n"
    "exports.loop = function () { for (var i = 0; i < 50; i++) http.get(B + '/'); };\n";

typedef struct fixture {
  struct event_base *base;
  struct evhttp *http;
  int port;
  sb_metrics *m;
  sb_program *prog;
  sb_vu_env env;
  char base_url[64], dead_url[64];
  const char *envv[5];
  int done;
  sb_vu_result result;
  int requests;
  char last_log[1024];
} fixture;

static fixture F;

typedef struct delayed {
  struct evhttp_request *req;
  struct event *ev;
} delayed;

static void reply_ok(struct evhttp_request *req) {
  struct evbuffer *out = evbuffer_new();
  evbuffer_add_printf(out, "{\"ok\":true}");
  evhttp_send_reply(req, 200, "OK", out);
  evbuffer_free(out);
}

static void on_delay(evutil_socket_t fd, short what, void *arg) {
  delayed *d = arg;
  evhttp_connection_set_closecb(evhttp_request_get_connection(d->req), NULL, NULL);
  reply_ok(d->req);
  event_free(d->ev);
  free(d);
}

static void on_close(struct evhttp_connection *c, void *arg) {
  delayed *d = arg;
  evhttp_connection_set_closecb(c, NULL, NULL);
  event_free(d->ev);
  free(d);
}

static void on_http(struct evhttp_request *req, void *arg) {
  struct evkeyvalq q = {0};
  q.tqh_last = &q.tqh_first;
  const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
  const char *query = evhttp_uri_get_query(u);
  struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
  F.requests++;
  if (query) evhttp_parse_query_str(query, &q);
  const char *st = evhttp_find_header(&q, "status");
  const char *delay = evhttp_find_header(&q, "delay");
  const char *redirect = evhttp_find_header(&q, "redirect");
  const char *hello = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Hello");
  evhttp_add_header(oh, "content-type", "application/json");
  evhttp_add_header(oh, "X-Multi", "a");
  evhttp_add_header(oh, "X-Multi", "b");
  if (hello) evhttp_add_header(oh, "X-Seen-Hello", hello);
  struct evbuffer *out = evbuffer_new();
  if (redirect) {
    evhttp_add_header(oh, "Location", redirect);
    evhttp_send_reply(req, 302, "Found", out);
  } else if (delay) {
    delayed *d = calloc(1, sizeof(*d));
    d->req = req;
    d->ev = evtimer_new(F.base, on_delay, d);
    struct timeval tv = {0, atoi(delay) * 1000};
    if (tv.tv_usec >= 1000000) tv.tv_sec = tv.tv_usec / 1000000, tv.tv_usec %= 1000000;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, d);
    evtimer_add(d->ev, &tv);
  } else if (evhttp_find_header(&q, "text")) {
    evbuffer_add_printf(out, "<html>");
    evhttp_send_reply(req, 200, "OK", out);
  } else if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    evbuffer_add_buffer(out, in);
    evhttp_send_reply(req, st ? atoi(st) : 200, "X", out);
  } else {
    evbuffer_add_printf(out, "{\"ok\":true}");
    evhttp_send_reply(req, st ? atoi(st) : 200, "X", out);
  }
  evbuffer_free(out);
  evhttp_clear_headers(&q);
}

static void on_log(const char *level, const char *source, const char *text, size_t len,
                   void *ud) {
  snprintf(F.last_log, sizeof(F.last_log), "%.*s", (int)len, text);
}

static int setup(void **state) {
  sb_archive *a;
  sb_err err = {{0}};
  memset(&F, 0, sizeof(F));
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", MAIN_JS, strlen(MAIN_JS)), 0);
  int rc = sb_program_new(&F.prog, a, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  sb_archive_free(a);
  F.base = event_base_new();
  F.http = evhttp_new(F.base);
  evhttp_set_gencb(F.http, on_http, NULL);
  evhttp_set_allowed_methods(F.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(F.http, "127.0.0.1", 0);
  assert_non_null(bs);
  struct sockaddr_in sin;
  socklen_t sl = sizeof(sin);
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
  F.port = ntohs(sin.sin_port);
  snprintf(F.base_url, sizeof(F.base_url), "http://127.0.0.1:%d", F.port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sin.sin_port = 0;
  sl = sizeof(sin);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  getsockname(fd, (struct sockaddr *)&sin, &sl);
  close(fd);
  snprintf(F.dead_url, sizeof(F.dead_url), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
  F.envv[0] = "BASE", F.envv[1] = F.base_url, F.envv[2] = "DEAD", F.envv[3] = F.dead_url;
  assert_int_equal(sb_metrics_new(&F.m), 0);
  F.env = (sb_vu_env){
      .base = F.base, .metrics = F.m, .prog = F.prog, .env = F.envv, .log = on_log, .log_ud = &F};
  return 0;
}

static int teardown(void **state) {
  sb_metrics_free(F.m);
  evhttp_free(F.http);
  event_base_free(F.base);
  sb_program_free(F.prog);
  return 0;
}

static void on_iter(sb_vu *vu, sb_vu_result r, void *ud) {
  F.done++;
  F.result = r;
  event_base_loopbreak(F.base);
}

static sb_vu_result iterate(sb_vu *vu, const char *exec) {
  sb_vu_iter it = {.exec = exec, .scenario = "default", .iteration = 0};
  sb_err err = {{0}};
  int before = F.done;
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_iter, &F, &err), 0);
  while (F.done == before)
    event_base_loop(F.base, EVLOOP_ONCE);
  if (F.result != SB_VU_OK) fprintf(stderr, "iteration %s: %s\n", exec, F.last_log);
  return F.result;
}

static double num(sb_vu *vu, const char *name) {
  duk_context *ctx = sb_vu_ctx(vu);
  duk_get_global_string(ctx, name);
  double v = duk_get_number(ctx, -1);
  duk_pop(ctx);
  return v;
}

static const char *str(sb_vu *vu, const char *name) {
  static char buf[512];
  duk_context *ctx = sb_vu_ctx(vu);
  duk_get_global_string(ctx, name);
  snprintf(buf, sizeof(buf), "%s", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return buf;
}

static sb_vu *new_vu(void) {
  sb_vu *vu;
  sb_err err = {{0}};
  int rc = sb_vu_new(&vu, &F.env, 1, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  return vu;
}

/* Sum of |metric| over series tagged with all |n| pairs. */
static double folded(int metric, const char *const *kv, size_t n, uint64_t *count) {
  sb_series s;
  sb_series_init(&s, metric);
  assert_int_equal(sb_metrics_fold(F.m, metric, kv, n, &s), 0);
  double v = s.value;
  if (count) *count = metric == SB_M_HTTP_REQ_FAILED ? s.total : s.hist.count;
  if (metric == SB_M_HTTP_REQ_FAILED) v = (double)s.trues;
  sb_series_clear(&s);
  return v;
}

static void test_init_context_refused(void **state) {
  sb_vu *vu = new_vu();
  assert_non_null(strstr(str(vu, "initErr"), "init context"));
  assert_int_equal(F.requests, 0);
  sb_vu_free(vu);
}

static void test_get(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "get"), SB_VU_OK);
  assert_true(num(vu, "st") == 200);
  assert_string_equal(str(vu, "body"), "{\"ok\":true}");
  assert_string_equal(str(vu, "ctype"), "application/json");
  assert_string_equal(str(vu, "multi"), "a, b");
  assert_string_equal(str(vu, "ok"), "true");
  assert_string_equal(str(vu, "err"), "");
  assert_true(num(vu, "code") == 0);
  assert_true(num(vu, "dur") > 0);
  assert_string_equal(str(vu, "proto"), "HTTP/1.1");
  assert_string_equal(str(vu, "reqm"), "GET");
  assert_string_equal(str(vu, "seenHello"), "hi");
  assert_string_equal(str(vu, "stext"), "200 X"); /* the server's reason phrase, as Go keeps it */
  assert_string_equal(str(vu, "sameProto"), "true");
  char url[128];
  snprintf(url, sizeof(url), "%s/x?a=1", F.base_url);
  assert_string_equal(str(vu, "url"), url);
  const char *kv[] = {
      "url",   url,     "method",   "GET",      "status",  "200",  "expected_response",
      "true",  "proto", "HTTP/1.1", "scenario", "default", "name", url,
      "group", ""};
  uint64_t n;
  assert_true(folded(SB_M_HTTP_REQS, kv, 8, NULL) == 1);
  folded(SB_M_HTTP_REQ_DURATION, kv, 8, &n);
  assert_int_equal(n, 1);
  folded(SB_M_HTTP_REQ_FAILED, kv, 8, &n);
  assert_int_equal(n, 1);
  assert_true(folded(SB_M_HTTP_REQS, NULL, 0, NULL) == 2);
  assert_true(folded(SB_M_DATA_RECEIVED, NULL, 0, NULL) > 50);
  assert_true(folded(SB_M_DATA_SENT, NULL, 0, NULL) > 50);
  sb_vu_free(vu);
}

static void test_post(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "post"), SB_VU_OK);
  assert_string_equal(str(vu, "pbody"), "hello=world");
  assert_string_equal(str(vu, "fbody"), "a=x+y&b=%26");
  assert_true(num(vu, "pput") == 200);
  assert_true(num(vu, "pdel") == 204);
  /* lazy fields: built once, cached, complete, and serialised by JSON.stringify once read */
  assert_string_equal(str(vu, "lazySame"), "true");
  assert_string_equal(str(vu, "lazyReq"), "PUT abc true");
  assert_string_equal(str(vu, "lazyRemote"), "127.0.0.1 true");
  assert_string_equal(str(vu, "lazyKeys"), "true");
  sb_vu_free(vu);
}

static void test_tags_and_failed(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "tagged"), SB_VU_OK);
  const char *kv[] = {"name", "notfound",          "mine", "x", "status",
                      "404",  "expected_response", "false"};
  uint64_t n;
  assert_true(folded(SB_M_HTTP_REQ_FAILED, kv, 4, &n) == 1);
  assert_int_equal(n, 1);
  sb_vu_free(vu);
}

static void test_response_type_none(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "none"), SB_VU_OK);
  assert_string_equal(str(vu, "nbody"), "null");
  assert_true(num(vu, "nst") == 200);
  sb_vu_free(vu);
}

static void test_json_error(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "notjson"), SB_VU_OK);
  assert_non_null(strstr(str(vu, "jerr"), "not JSON"));
  sb_vu_free(vu);
}

static void test_refused(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "refused"), SB_VU_OK);
  assert_true(num(vu, "rst") == 0);
  assert_true(num(vu, "rcode") == 1212);
  assert_string_equal(str(vu, "rerr"), "dial: connection refused");
  assert_string_equal(str(vu, "rbody"), "null");
  const char *kv[] = {"status", "0", "error_code", "1212", "error", "dial: connection refused"};
  assert_true(folded(SB_M_HTTP_REQ_FAILED, kv, 3, NULL) == 1);
  sb_vu_free(vu);
}

static void test_timeout(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "timeout"), SB_VU_OK);
  assert_true(num(vu, "tcode") == 1050);
  sb_vu_free(vu);
}

static void test_bad_url(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "badurl"), SB_VU_OK);
  assert_non_null(strstr(str(vu, "burl"), "unsupported protocol scheme"));
  sb_vu_free(vu);
}

static sb_vu *interrupt_target;
static void on_interrupt(evutil_socket_t fd, short what, void *arg) {
  sb_vu_interrupt(interrupt_target);
}

static void test_interrupt_during_request(void **state) {
  sb_vu *vu = new_vu();
  interrupt_target = vu;
  struct event *ev = evtimer_new(F.base, on_interrupt, NULL);
  struct timeval tv = {0, 50000};
  evtimer_add(ev, &tv);
  assert_int_equal(iterate(vu, "slow"), SB_VU_INTERRUPTED);
  event_free(ev);
  assert_true(folded(SB_M_HTTP_REQS, NULL, 0, NULL) == 0);
  /* usable again */
  assert_int_equal(iterate(vu, "get"), SB_VU_OK);
  assert_true(num(vu, "st") == 200);
  sb_vu_free(vu);
}

static void test_redirects(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "redir"), SB_VU_OK);
  char url[128];
  assert_true(num(vu, "rs") == 200);
  snprintf(url, sizeof(url), "%s/final", F.base_url);
  assert_string_equal(str(vu, "rurl"), url);
  assert_string_equal(str(vu, "rb"), "{\"ok\":true}");
  assert_true(num(vu, "rs2") == 200);
  snprintf(url, sizeof(url), "%s/rel", F.base_url);
  assert_string_equal(str(vu, "rurl2"), url);
  assert_string_equal(str(vu, "rm2"), "GET");
  assert_true(num(vu, "rs3") == 302);
  assert_true(num(vu, "rs4") == 302);
  const char *kv[] = {"status", "302"};
  assert_true(folded(SB_M_HTTP_REQS, kv, 1, NULL) == 4);
  assert_true(folded(SB_M_HTTP_REQS, NULL, 0, NULL) == 6);
  sb_vu_free(vu);
}

static void test_loop_reuses_connection(void **state) {
  sb_vu *vu = new_vu();
  assert_int_equal(iterate(vu, "loop"), SB_VU_OK);
  assert_int_equal(F.requests, 50);
  uint64_t n;
  const char *kv[] = {"status", "200"};
  folded(SB_M_HTTP_REQ_CONNECTING, kv, 1, &n);
  assert_int_equal(n, 50);
  sb_series s;
  sb_series_init(&s, SB_M_HTTP_REQ_CONNECTING);
  assert_int_equal(sb_metrics_fold(F.m, SB_M_HTTP_REQ_CONNECTING, kv, 1, &s), 0);
  /* one connect; the other 49 recorded 0 */
  assert_true(s.hist.count == 50);
  sb_series_clear(&s);
  sb_vu_free(vu);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_context_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tags_and_failed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_response_type_none, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interrupt_during_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loop_reuses_connection, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
