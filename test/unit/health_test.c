/* The agent's health endpoint (agent/health.h), served on an in-process event_base bound to
 * 127.0.0.1:0 and asked by libevent's HTTP client on the same base: liveness, readiness as the
 * daemon's busy/stopping flags change, the /status JSON, unknown paths and methods, bad
 * addresses, and the constructor's out-of-memory unwind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

#include "test/unit/failalloc.h"
#include "agent/health.c"
#include "test/unit/failalloc_off.h"

typedef struct reply {
  struct event_base *base;
  int code;
  char body[1024];
  char type[64];
} reply;

static void on_reply(struct evhttp_request *req, void *arg) {
  reply *r = arg;
  r->code = req ? evhttp_request_get_response_code(req) : -1;
  if (req) {
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    if (n >= sizeof(r->body)) n = sizeof(r->body) - 1;
    evbuffer_remove(b, r->body, n);
    r->body[n] = '\0';
    const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    snprintf(r->type, sizeof(r->type), "%s", t ? t : "");
  }
  event_base_loopbreak(r->base);
}

/* Sends |method| |path| to the server at |addr| ("127.0.0.1:PORT") and runs |base| until the
 * answer. */
static reply ask(struct event_base *base, const char *addr, enum evhttp_cmd_type method,
                 const char *path) {
  reply r = {.base = base, .code = 0};
  char host[64];
  snprintf(host, sizeof(host), "%s", addr);
  char *colon = strrchr(host, ':');
  *colon = '\0';
  struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, host, (unsigned short)atoi(colon + 1));
  assert_non_null(c);
  struct evhttp_request *req = evhttp_request_new(on_reply, &r);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
  assert_int_equal(evhttp_make_request(c, req, method, path), 0);
  event_base_dispatch(base);
  evhttp_connection_free(c);
  return r;
}

static void test_probes_follow_state(void **state) {
  (void)state;
  struct event_base *base = event_base_new();
  atomic_int busy = 0, stopping = 0;
  sb_health_state st = {.busy = &busy, .stopping = &stopping, .agent_id = "vm-1:6566", .max_vus = 0};
  sb_health *h = NULL;
  sb_err err = {{0}};
  assert_int_equal(sb_health_new(&h, base, "127.0.0.1:0", &st, &err), 0);
  const char *a = sb_health_addr(h);
  assert_true(strncmp(a, "127.0.0.1:", 10) == 0 && atoi(a + 10) > 0);

  reply r = ask(base, a, EVHTTP_REQ_GET, "/healthz");
  assert_int_equal(r.code, 200);
  assert_string_equal(r.body, "ok\n");
  r = ask(base, a, EVHTTP_REQ_GET, "/readyz");
  assert_int_equal(r.code, 200);
  assert_string_equal(r.body, "idle\n");

  atomic_store(&busy, 1); /* a controller holds the agent: not ready, still alive */
  r = ask(base, a, EVHTTP_REQ_GET, "/readyz");
  assert_int_equal(r.code, 503);
  assert_string_equal(r.body, "busy\n");
  r = ask(base, a, EVHTTP_REQ_GET, "/healthz");
  assert_int_equal(r.code, 200);
  r = ask(base, a, EVHTTP_REQ_GET, "/status");
  assert_int_equal(r.code, 200);
  assert_string_equal(r.type, "application/json");
  assert_non_null(strstr(r.body, "{\"state\":\"busy\",\"version\":\"" SB_VERSION "\",\"id\":\"vm-1:6566\""));
  assert_non_null(strstr(r.body, "\"capacity\":{\"cores\":"));
  assert_non_null(strstr(r.body, "\"max_vus\":null}}"));

  atomic_store(&stopping, 1); /* SIGTERM wins over busy */
  r = ask(base, a, EVHTTP_REQ_GET, "/readyz");
  assert_int_equal(r.code, 503);
  assert_string_equal(r.body, "stopping\n");
  r = ask(base, a, EVHTTP_REQ_HEAD, "/readyz");
  assert_int_equal(r.code, 503);
  assert_string_equal(r.body, "");

  sb_health_free(h);
  event_base_free(base);
}

static void test_status_json(void **state) {
  (void)state;
  struct event_base *base = event_base_new();
  sb_health_state st = {.agent_id = "a\"b\\c\n", .max_vus = 500}; /* no flags: always idle */
  sb_health *h = NULL;
  assert_int_equal(sb_health_new(&h, base, "localhost:0", &st, NULL), 0);
  reply r = ask(base, sb_health_addr(h), EVHTTP_REQ_GET, "/status");
  assert_int_equal(r.code, 200);
  assert_non_null(strstr(r.body, "\"state\":\"idle\""));
  assert_non_null(strstr(r.body, "\"id\":\"a\\\"b\\\\c\\u000a\""));
  assert_non_null(strstr(r.body, "\"max_vus\":500}}"));
  assert_non_null(strstr(r.body, "\"memory_bytes\":"));
  r = ask(base, sb_health_addr(h), EVHTTP_REQ_GET, "/metrics");
  assert_int_equal(r.code, 404);
  assert_non_null(strstr(r.body, "/readyz"));
  r = ask(base, sb_health_addr(h), EVHTTP_REQ_POST, "/readyz");
  assert_true(r.code == 405 || r.code == 501);
  sb_health_free(h);
  event_base_free(base);
}

static void test_bad_addresses(void **state) {
  (void)state;
  struct event_base *base = event_base_new();
  sb_health_state st = {0};
  sb_health *h = (sb_health *)&st, *keep = h;
  sb_err err = {{0}};
  assert_int_equal(sb_health_new(&h, base, "6567", &st, &err), SB_EINVAL);
  assert_string_equal(err.msg, "--health '6567': expected ADDR:PORT ([ADDR]:PORT for IPv6)");
  assert_ptr_equal(h, keep); /* untouched on failure */
  assert_int_equal(sb_health_new(&h, base, "127.0.0.1:70000", &st, &err), SB_EINVAL);
  assert_int_equal(sb_health_new(&h, base, "127.0.0.1:x", &st, &err), SB_EINVAL);
  assert_int_equal(sb_health_new(&h, base, "no-such-host.invalid:1", &st, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "--health 'no-such-host.invalid:1': "));
  /* a port someone else holds */
  sb_health *first = NULL;
  assert_int_equal(sb_health_new(&first, base, "127.0.0.1:0", &st, &err), 0);
  char taken[300];
  snprintf(taken, sizeof(taken), "%s", sb_health_addr(first));
  assert_int_equal(sb_health_new(&h, base, taken, &st, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "Address already in use"));
  sb_health_free(first);
  sb_health_free(NULL);
  event_base_free(base);
}

static void test_out_of_memory(void **state) {
  (void)state;
  struct event_base *base = event_base_new();
  sb_health_state st = {0};
  sb_health *h = NULL;
  sb_err err = {{0}};
  alloc_fail_at = 1, alloc_calls = 0;
  assert_int_equal(sb_health_new(&h, base, "127.0.0.1:0", &st, &err), SB_ENOMEM);
  assert_null(h);
  alloc_fail_at = 0;
  event_base_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_probes_follow_state),
      cmocka_unit_test(test_status_json),
      cmocka_unit_test(test_bad_addresses),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
