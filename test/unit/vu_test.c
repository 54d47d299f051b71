/* agent/vu.c (+ js_k6.c, js_console.c): VUs over a real event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "agent/vu.h"
#include "agent/vu_heap.h"
#include "common/archive.h"
#include "common/duk_udata.h"

static const char META[] = "{\"filename\":\"file:///t/main.js\"}";

static const char MAIN_JS[] =
    "var k6 = require('k6');\n"
    "initRuns = (typeof initRuns === 'number' ? initRuns : 0) + 1;\n"
    "var counter = 0;\n"
    "exports.default = function () { counter++; globalCount = counter;\n"
    "  seen = __ENV.FOO + ':' + __VU + ':' + __ITER; };\n"
    "exports.sleepy = function () { var t = Date.now(); k6.sleep(0.05); slept = Date.now() - t; };\n"
    "exports.checky = function () {\n"
    "  return k6.check(1, { 'is one': function (v) { return v === 1; },\n"
    "                       'is two': function (v) { return v === 2; } }, { mine: 'x' });\n"
    "};\n"
    "exports.boom = function () {\n"
    "  throw new Error('boom');\n"
    "};\n"
    "exports.forever = function () { for (;;) { try { k6.sleep(10); } catch (e) { caught = true; } } };\n"
    "exports.grouped = function () {\n"
    "  groupRet = k6.group('g1', function () { k6.check(0, { c: function () { return true; } });\n"
    "    return 42; });\n"
    "};\n"
    "exports.talk = function () { console.log('a', 1, { x: 2 }, [3]); console.warn('w'); };\n"
    "exports.failer = function () { k6.fail('nope'); };\n"
    "exports.notfn = 5;\n"
    "var metrics = require('k6/metrics');\n"
    "var myTrend = new metrics.Trend('my_trend', true), myCount = new metrics.Counter('my_count');\n"
    "var myRate = new metrics.Rate('my_rate');\n"
    "exports.custom = function () { myTrend.add(12.5, { k: 'v' }); myCount.add(2); myCount.add(3);\n"
    "  myRate.add(true); myRate.add(0); };\n"
    "var http = require('k6/http');\n"
    "exports.get = function () { var r = http.get(URL + '/'); status = r.status; body = r.body; };\n"
    "exports.slow = function () { try { http.get(URL + '/slow'); } catch (e) {} slowDone = true; };\n"
    "exports.bench = function () { k6.check(1, { ok: function (v) { return v === 1; } }); };\n"
    "exports.deep = function () {\n"
    "  function f(n) { return [1].map(function () { return n ? f(n - 1) : 0; })[0]; }\n"
    "  try { f(100000); } catch (e) { deepErr = String(e); }\n"
    "  var o = {}; for (var i = 0; i < 5000; i++) o = { o: o };\n"
    "  try { JSON.stringify(o); } catch (e) { jsonErr = String(e); }\n"
    "  var src = ''; for (i = 0; i < 3000; i++) src += '('; src += '1'; for (i = 0; i < 3000; i++) src += ')';\n"
    "  try { eval(src); } catch (e) { evalErr = String(e); }\n"
    "  var re = ''; for (i = 0; i < 20000; i++) re += '(?:'; re += 'a'; for (i = 0; i < 20000; i++) re += ')';\n"
    "  try { new RegExp(re).test('a'); } catch (e) { reErr = String(e); }\n"
    "  try { /(a|b)*c/.test(new Array(100000).join('a')); } catch (e) { reExecErr = String(e); }\n"
    "};\n"
    "exports.setup = function (d) { myCount.add(7); k6.sleep(0.01);\n"
    "  return { a: 1, got: d === undefined ? 'undef' : d.x, vu: __VU }; };\n"
    "exports.usedata = function (d) { dataA = d === undefined ? -1 : d.a;\n"
    "  sameData = typeof lastData === 'object' && lastData === d; lastData = d; };\n"
    "exports.cyclic = function () { var o = {}; o.o = o; return o; };\n"
    "exports.givesfn = function () { return function () {}; };\n"
    "exports.spin = function () { for (;;) { try { spun = 1; } catch (e) {} } };\n"
    "exports.hog = function () { var a = []; for (var i = 0;; i++) a.push('x' + i + new Array(64).join('y')); };\n"
    "exports.hogcaught = function () { var a = []; try { for (var i = 0;; i++) a.push([i, i, i]); }\n"
    "  catch (e) { a = null; caughtHog = String(e); } };\n"
    "exports.bigstr = function () { var s = 'x'; for (;;) s = s + s; };\n"
    "exports.rnd = function () { k6.randomSeed(7); r1 = Math.random(); r2 = Math.random(); };\n"
    "exports.proto = function () { Array.prototype.mine = __VU; };\n";

typedef struct fixture {
  struct event_base *base;
  sb_metrics *m;
  sb_program *prog;
  sb_vu_env env;
  sb_vu_heaps *heaps;  /* the second run of every test: VUs share heaps of 4 */
  char last_level[16];
  char last_log[2048];
  int nlogs;
  int done;
  sb_vu_result result;
} fixture;

static fixture F;

static void on_log(const char *level, const char *source, const char *text, size_t len,
                   void *ud) {
  fixture *f = ud;
  snprintf(f->last_level, sizeof(f->last_level), "%s", level);
  snprintf(f->last_log, sizeof(f->last_log), "%.*s", (int)len, text);
  f->nlogs++;
}

static const char *const ENV[] = {"FOO", "bar", NULL};

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
  assert_int_equal(sb_metrics_new(&F.m), 0);
  F.env = (sb_vu_env){.base = F.base, .metrics = F.m, .prog = F.prog, .env = ENV,
                      .log = on_log, .log_ud = &F};
  return 0;
}

static int setup_shared(void **state) {
  setup(state);
  F.heaps = sb_vu_heaps_new(4, NULL);
  assert_non_null(F.heaps);
  F.env.heaps = F.heaps;
  return 0;
}

static int teardown(void **state) {
  sb_vu_heaps_free(F.heaps);
  F.heaps = NULL;
  sb_metrics_free(F.m);
  event_base_free(F.base);
  sb_program_free(F.prog);
  return 0;
}

static void on_iter(sb_vu *vu, sb_vu_result r, void *ud) {
  fixture *f = ud;
  f->done++;
  f->result = r;
  event_base_loopbreak(f->base);
}

/* Runs one iteration of |exec| to completion on the loop. */
static sb_vu_result iterate(sb_vu *vu, const char *exec, uint64_t n) {
  sb_vu_iter it = {.exec = exec, .scenario = "default", .iteration = n};
  sb_err err = {{0}};
  int before = F.done;
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_iter, &F, &err), 0);
  assert_int_equal(F.done, before); /* never from inside start */
  assert_true(sb_vu_busy(vu));
  while (F.done == before) event_base_loop(F.base, EVLOOP_ONCE);
  assert_false(sb_vu_busy(vu));
  return F.result;
}

static double global_num(sb_vu *vu, const char *name) {
  duk_context *ctx = sb_vu_ctx(vu);
  duk_get_global_string(ctx, name);
  double v = duk_get_number(ctx, -1);
  duk_pop(ctx);
  return v;
}

static const char *global_str(sb_vu *vu, const char *name, char *buf, size_t cap) {
  duk_context *ctx = sb_vu_ctx(vu);
  duk_get_global_string(ctx, name);
  snprintf(buf, cap, "%s", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return buf;
}

/* Folds |metric| over series tagged key=value. */
static void fold(int metric, const char *key, const char *value, sb_series *s) {
  const char *filter[2] = {key, value};
  sb_series_init(s, metric);
  assert_int_equal(sb_metrics_fold(F.m, metric, filter, key ? 1 : 0, s), 0);
}

static void test_init_once_counter_persists(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 7, &err), 0);
  assert_int_equal(sb_vu_id(vu), 7);
  for (uint64_t i = 0; i < 3; i++) assert_int_equal(iterate(vu, "default", i), SB_VU_OK);
  assert_true(global_num(vu, "initRuns") == 1);
  assert_true(global_num(vu, "globalCount") == 3);
  char buf[64];
  assert_string_equal(global_str(vu, "seen", buf, sizeof(buf)), "bar:7:2");
  sb_series s;
  fold(SB_M_ITERATIONS, "scenario", "default", &s);
  assert_true(s.value == 3);
  sb_series_clear(&s);
  fold(SB_M_ITERATION_DURATION, "group", "", &s);
  assert_int_equal(s.hist.count, 3);
  sb_series_clear(&s);
  sb_vu_free(vu);
  sb_vu_free(NULL);
}

static int ticks;
static void on_tick(evutil_socket_t fd, short what, void *arg) { ticks++; }

static void test_sleep_yields_to_loop(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  struct event *tick = event_new(F.base, -1, EV_PERSIST, on_tick, NULL);
  struct timeval tv = {0, 10000};
  event_add(tick, &tv);
  ticks = 0;
  assert_int_equal(iterate(vu, "sleepy", 0), SB_VU_OK);
  event_free(tick);
  assert_true(ticks >= 2); /* the loop ran other events while the VU slept */
  assert_true(global_num(vu, "slept") >= 45);
  sb_vu_free(vu);
}

static void test_check_rate(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  assert_int_equal(iterate(vu, "checky", 0), SB_VU_OK);
  assert_int_equal(iterate(vu, "checky", 1), SB_VU_OK);
  sb_series s;
  fold(SB_M_CHECKS, "check", "is one", &s);
  assert_int_equal(s.trues, 2);
  assert_int_equal(s.total, 2);
  sb_series_clear(&s);
  fold(SB_M_CHECKS, "check", "is two", &s);
  assert_int_equal(s.trues, 0);
  assert_int_equal(s.total, 2);
  sb_series_clear(&s);
  fold(SB_M_CHECKS, "mine", "x", &s); /* user tags ride along */
  assert_int_equal(s.total, 4);
  sb_series_clear(&s);
  sb_vu_free(vu);
}

static void test_group(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  assert_int_equal(iterate(vu, "grouped", 0), SB_VU_OK);
  assert_true(global_num(vu, "groupRet") == 42);
  assert_string_equal(sb_vu_group(vu), "");
  sb_series s;
  fold(SB_M_CHECKS, "group", "::g1", &s);
  assert_int_equal(s.trues, 1);
  sb_series_clear(&s);
  fold(SB_M_GROUP_DURATION, "group", "::g1", &s);
  assert_int_equal(s.hist.count, 1);
  sb_series_clear(&s);
  sb_vu_free(vu);
}

static void test_custom_metrics(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  assert_int_equal(iterate(vu, "custom", 0), SB_VU_OK);
  int trend = sb_metrics_find(F.m, "my_trend"), count = sb_metrics_find(F.m, "my_count");
  int rate = sb_metrics_find(F.m, "my_rate");
  assert_true(trend >= 0 && count >= 0 && rate >= 0);
  assert_int_equal(sb_metrics_info(F.m, trend)->type, SB_METRIC_TREND);
  assert_int_equal(sb_metrics_info(F.m, trend)->contains, SB_VALUE_TIME);
  sb_series s;
  fold(trend, "k", "v", &s);
  assert_int_equal(s.hist.count, 1);
  sb_series_clear(&s);
  fold(count, "scenario", "default", &s);
  assert_true(s.value == 5);
  sb_series_clear(&s);
  fold(rate, NULL, NULL, &s);
  assert_int_equal(s.trues, 1);
  assert_int_equal(s.total, 2);
  sb_series_clear(&s);
  sb_vu_free(vu);
}

static void test_exception_counted_and_logged(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  sb_series s;
  fold(SB_M_ITERATIONS, NULL, NULL, &s);
  double before = s.value;
  sb_series_clear(&s);
  assert_int_equal(iterate(vu, "boom", 0), SB_VU_EXCEPTION);
  assert_string_equal(F.last_level, "error");
  assert_non_null(strstr(F.last_log, "file:///t/main.js:12: Error: boom"));
  assert_int_equal(iterate(vu, "failer", 1), SB_VU_EXCEPTION);
  assert_non_null(strstr(F.last_log, "file:///t/main.js:20: Error: nope"));
  fold(SB_M_ITERATIONS, NULL, NULL, &s);
  assert_true(s.value == before + 2);
  sb_series_clear(&s);
  sb_vu_free(vu);
}

static void test_console(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  int n = F.nlogs;
  assert_int_equal(iterate(vu, "talk", 0), SB_VU_OK);
  assert_int_equal(F.nlogs, n + 2);
  assert_string_equal(F.last_level, "warn");
  assert_string_equal(F.last_log, "w");
  duk_context *ctx = sb_vu_ctx(vu);
  assert_false(duk_get_global_string(ctx, "print"));
  duk_pop(ctx);
  sb_vu_free(vu);
}

static void test_console_format(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  duk_context *ctx = sb_vu_ctx(vu);
  assert_int_equal(duk_peval_string(ctx, "console.log('a', 1, {x: 2}, [3], null, undefined)"), 0);
  duk_pop(ctx);
  assert_string_equal(F.last_level, "info");
  assert_string_equal(F.last_log, "a 1 {\"x\":2} [3] null undefined");
  sb_vu_free(vu);
}

/* The interruption relies on Duktape built with DUK_USE_EXEC_TIMEOUT_CHECK. A duktape.o built
 * without it would make the interrupt tests spin forever: fail them instead, saying why. */
static int exec_timeout_compiled_in(void) {
  static sb_duk_udata u = {.interrupt = 1};
  duk_context *ctx = duk_create_heap(NULL, NULL, NULL, &u, NULL);
  assert_non_null(ctx);
  int rc = duk_peval_string(ctx, "for (var i = 0; i < 3000000; i++) {}");
  duk_destroy_heap(ctx);
  return rc != 0;
}

#define REQUIRE_EXEC_TIMEOUT()                                                                    \
  do {                                                                                            \
    if (!exec_timeout_compiled_in())                                                              \
      fail_msg("duktape.o lacks DUK_USE_EXEC_TIMEOUT_CHECK (built against the wrong duk_config.h?)"); \
  } while (0)

static sb_vu *interrupt_target;
static int cb_before_return;
static void on_interrupt_timer(evutil_socket_t fd, short what, void *arg) {
  int before = F.done;
  sb_vu_interrupt(interrupt_target);
  cb_before_return = F.done == before + 1 && F.result == SB_VU_INTERRUPTED;
}

static void test_interrupt_during_sleep(void **state) {
  REQUIRE_EXEC_TIMEOUT();
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  sb_series s;
  fold(SB_M_ITERATIONS, NULL, NULL, &s);
  double before = s.value;
  sb_series_clear(&s);
  interrupt_target = vu;
  cb_before_return = 0;
  struct event *ev = evtimer_new(F.base, on_interrupt_timer, NULL);
  struct timeval tv = {0, 20000};
  evtimer_add(ev, &tv);
  assert_int_equal(iterate(vu, "forever", 0), SB_VU_INTERRUPTED);
  event_free(ev);
  assert_true(cb_before_return);
  fold(SB_M_ITERATIONS, NULL, NULL, &s);
  assert_true(s.value == before); /* not counted */
  sb_series_clear(&s);
  /* The VU is usable again afterwards. */
  assert_int_equal(iterate(vu, "default", 1), SB_VU_OK);
  sb_vu_interrupt(vu); /* idle: no-op */
  sb_vu_free(vu);
}

static void test_free_while_busy(void **state) {
  REQUIRE_EXEC_TIMEOUT();
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  sb_vu_iter it = {.exec = "forever", .scenario = "default"};
  int before = F.done;
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_iter, &F, &err), 0);
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_iter, &F, &err), SB_EINVAL);
  sb_vu_free(vu); /* interrupts without calling back */
  assert_int_equal(F.done, before);
}

/* Duktape's recursion limits must trip before the coroutine's guard page: the deepest C
 * recursions scripts can cause end in catchable RangeErrors, not SIGSEGV. */
static void test_deep_recursion_stays_on_stack(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  char buf[256];
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  assert_int_equal(iterate(vu, "deep", 0), SB_VU_OK);
  assert_non_null(strstr(global_str(vu, "deepErr", buf, sizeof(buf)), "RangeError"));
  assert_non_null(strstr(global_str(vu, "jsonErr", buf, sizeof(buf)), "RangeError"));
  printf("# deep: %s\n", global_str(vu, "evalErr", buf, sizeof(buf)));
  printf("# deep: %s\n", global_str(vu, "reErr", buf, sizeof(buf)));
  printf("# deep: %s\n", global_str(vu, "reExecErr", buf, sizeof(buf)));
  sb_vu_free(vu);
}

/* An in-process HTTP server on 127.0.0.1:0: "/" answers "ok", "/slow" never answers. */
static void on_http(struct evhttp_request *req, void *arg) {
  if (strcmp(evhttp_request_get_uri(req), "/slow") == 0) return; /* left hanging */
  struct evbuffer *b = evbuffer_new();
  evbuffer_add(b, "ok", 2);
  evhttp_send_reply(req, 200, "OK", b);
  evbuffer_free(b);
}

static struct evhttp *start_server(char *url, size_t cap) {
  struct evhttp *h = evhttp_new(F.base);
  assert_non_null(h);
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(h, "127.0.0.1", 0);
  assert_non_null(bs);
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len), 0);
  snprintf(url, cap, "http://127.0.0.1:%d", ntohs(sin.sin_port));
  evhttp_set_gencb(h, on_http, NULL);
  return h;
}

static void set_url(sb_vu *vu, const char *url) {
  duk_context *ctx = sb_vu_ctx(vu);
  duk_push_string(ctx, url);
  duk_put_global_string(ctx, "URL");
}

static void test_http_get_and_interrupt(void **state) {
  REQUIRE_EXEC_TIMEOUT();
  char url[64], buf[64];
  struct evhttp *h = start_server(url, sizeof(url));
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  set_url(vu, url);
  assert_int_equal(iterate(vu, "get", 0), SB_VU_OK);
  assert_true(global_num(vu, "status") == 200);
  assert_string_equal(global_str(vu, "body", buf, sizeof(buf)), "ok");
  sb_series s;
  fold(SB_M_HTTP_REQS, "scenario", "default", &s);
  assert_true(s.value >= 1);
  sb_series_clear(&s);
  /* A request the server never answers: interrupted, the script's catch does not swallow it. */
  interrupt_target = vu;
  cb_before_return = 0;
  struct event *ev = evtimer_new(F.base, on_interrupt_timer, NULL);
  struct timeval tv = {0, 50000};
  evtimer_add(ev, &tv);
  assert_int_equal(iterate(vu, "slow", 1), SB_VU_INTERRUPTED);
  assert_true(cb_before_return);
  event_free(ev);
  assert_int_equal(iterate(vu, "get", 2), SB_VU_OK); /* the client is usable afterwards */
  sb_vu_free(vu);
  evhttp_free(h);
}

/* Arrival-rate VUs are warmed when made: k6/http's per-VU state, the Response prototype and the
 * HTTP client exist before the first request, which then works as a cold one would. */
static void test_warm(void **state) {
  char url[64], buf[64];
  struct evhttp *h = start_server(url, sizeof(url));
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  assert_null(sb_vu_http_if_any(vu));
  assert_null(*sb_vu_http_state(vu));
  duk_idx_t top = duk_get_top(sb_vu_ctx(vu));
  sb_vu_warm(vu);
  assert_non_null(sb_vu_http_if_any(vu));
  assert_non_null(*sb_vu_http_state(vu));
  assert_int_equal(duk_get_top(sb_vu_ctx(vu)), top);
  set_url(vu, url);
  assert_int_equal(iterate(vu, "get", 0), SB_VU_OK);
  assert_true(global_num(vu, "status") == 200);
  assert_string_equal(global_str(vu, "body", buf, sizeof(buf)), "ok");
  sb_vu_free(vu);
  evhttp_free(h);
}

static void test_missing_export(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  sb_vu_iter it = {.exec = "nope", .scenario = "default"};
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_iter, &F, &err), SB_ENOTFOUND);
  assert_non_null(strstr(err.msg, "\"nope\""));
  it.exec = "notfn";
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_iter, &F, &err), SB_ENOTFOUND);
  assert_false(sb_vu_busy(vu));
  sb_vu_free(vu);
}

/* --- calls (setup/teardown) and the data iterations get ----------------------------------- */

typedef struct call_out {
  int n;
  sb_vu_result r;
  char json[256];
  int json_null;
  char error[2048];
  int error_null;
} call_out;

static void on_call(sb_vu *vu, sb_vu_result r, const char *json, const char *error, void *ud) {
  call_out *o = ud;
  o->n++;
  o->r = r;
  o->json_null = json == NULL;
  snprintf(o->json, sizeof(o->json), "%s", json ? json : "");
  o->error_null = error == NULL;
  snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
  event_base_loopbreak(F.base);
}

static void call(sb_vu *vu, const char *fn, const char *arg, call_out *o) {
  sb_err err = {{0}};
  memset(o, 0, sizeof(*o));
  assert_int_equal(sb_vu_call(vu, fn, arg, on_call, o, &err), 0);
  assert_int_equal(o->n, 0); /* never from inside sb_vu_call */
  assert_true(sb_vu_busy(vu));
  while (o->n == 0) event_base_loop(F.base, EVLOOP_ONCE);
  assert_int_equal(o->n, 1);
  assert_false(sb_vu_busy(vu));
}

static void test_call_returns_json_in_its_group(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  call_out o;
  assert_int_equal(sb_vu_new(&vu, &F.env, 0, &err), 0);
  sb_series s;
  fold(SB_M_ITERATIONS, NULL, NULL, &s);
  double iters = s.value;
  sb_series_clear(&s);
  call(vu, "setup", NULL, &o);
  assert_int_equal(o.r, SB_VU_OK);
  assert_true(o.error_null);
  assert_string_equal(o.json, "{\"a\":1,\"got\":\"undef\",\"vu\":0}");
  call(vu, "setup", "{\"x\":5}", &o);
  assert_string_equal(o.json, "{\"a\":1,\"got\":5,\"vu\":0}");
  assert_string_equal(sb_vu_group(vu), ""); /* left the group */
  int count = sb_metrics_find(F.m, "my_count");
  assert_true(count >= 0);
  fold(count, "group", "::setup", &s);
  assert_true(s.value == 14);
  sb_series_clear(&s);
  fold(SB_M_ITERATIONS, NULL, NULL, &s);
  assert_true(s.value == iters); /* a call is no iteration */
  sb_series_clear(&s);
  fold(SB_M_ITERATION_DURATION, "group", "::setup", &s);
  assert_int_equal(s.hist.count, 0);
  sb_series_clear(&s);
  /* The VU still runs iterations afterwards. */
  assert_int_equal(iterate(vu, "default", 0), SB_VU_OK);
  sb_vu_free(vu);
}

static void test_call_errors(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  call_out o;
  assert_int_equal(sb_vu_new(&vu, &F.env, 0, &err), 0);
  assert_int_equal(sb_vu_call(vu, "teardown", NULL, on_call, &o, &err), SB_ENOTFOUND);
  assert_non_null(strstr(err.msg, "\"teardown\""));
  assert_int_equal(sb_vu_call(vu, "notfn", NULL, on_call, &o, &err), SB_ENOTFOUND);
  assert_false(sb_vu_busy(vu));
  int logs = F.nlogs;
  call(vu, "boom", NULL, &o);
  assert_int_equal(o.r, SB_VU_EXCEPTION);
  assert_true(o.json_null);
  if (!strstr(o.error, "main.js:12") || !strstr(o.error, "boom"))
    fail_msg("error without file:line: %s", o.error);
  assert_int_equal(F.nlogs, logs); /* reported to the caller, not logged */
  call(vu, "cyclic", NULL, &o);
  assert_int_equal(o.r, SB_VU_EXCEPTION);
  assert_non_null(strstr(o.error, "TypeError"));
  call(vu, "givesfn", NULL, &o);
  assert_int_equal(o.r, SB_VU_OK);
  assert_true(o.json_null);
  call(vu, "default", "{bad json", &o); /* the argument is parsed inside the call */
  assert_int_equal(o.r, SB_VU_EXCEPTION);
  assert_non_null(strstr(o.error, "SyntaxError"));
  sb_vu_free(vu);
}

static sb_vu *call_target;
static void on_call_timer(evutil_socket_t fd, short what, void *arg) { sb_vu_interrupt(call_target); }

static void test_call_interrupted(void **state) {
  REQUIRE_EXEC_TIMEOUT();
  sb_vu *vu;
  sb_err err = {{0}};
  call_out o;
  assert_int_equal(sb_vu_new(&vu, &F.env, 0, &err), 0);
  call_target = vu;
  struct event *ev = evtimer_new(F.base, on_call_timer, NULL);
  struct timeval tv = {0, 20000};
  evtimer_add(ev, &tv);
  call(vu, "forever", NULL, &o);
  event_free(ev);
  assert_int_equal(o.r, SB_VU_INTERRUPTED);
  assert_true(o.json_null && o.error_null);
  assert_string_equal(sb_vu_group(vu), "");
  call(vu, "setup", NULL, &o); /* usable again */
  assert_int_equal(o.r, SB_VU_OK);
  /* Freed during a call: no callback. */
  assert_int_equal(sb_vu_call(vu, "forever", NULL, on_call, &o, &err), 0);
  int n = o.n;
  sb_vu_free(vu);
  assert_int_equal(o.n, n);
}

static void *interrupt_later(void *arg) {
  struct timespec ts = {0, 50000000};
  nanosleep(&ts, NULL);
  sb_vu_call_interrupt_async(arg);
  return NULL;
}

/* A call that never yields the loop is stopped from another thread. */
static void test_call_interrupt_async(void **state) {
  REQUIRE_EXEC_TIMEOUT();
  sb_vu *vu;
  sb_err err = {{0}};
  call_out o;
  assert_int_equal(sb_vu_new(&vu, &F.env, 0, &err), 0);
  sb_vu_call_interrupt_async(vu); /* idle: dropped, the next call is not hit */
  call(vu, "setup", NULL, &o);
  assert_int_equal(o.r, SB_VU_OK);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, interrupt_later, vu), 0);
  call(vu, "spin", NULL, &o); /* returns only once interrupted */
  pthread_join(th, NULL);
  assert_int_equal(o.r, SB_VU_INTERRUPTED);
  assert_true(global_num(vu, "spun") == 1);
  call(vu, "setup", NULL, &o);
  assert_int_equal(o.r, SB_VU_OK);
  sb_vu_free(vu);
}

static void test_iterations_get_data(void **state) {
  char *json = "{\"a\":1}";
  sb_vu_env env = F.env;
  env.data_json = &json;
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &env, 1, &err), 0);
  assert_int_equal(iterate(vu, "usedata", 0), SB_VU_OK);
  assert_true(global_num(vu, "dataA") == 1);
  json = "{\"a\":2}"; /* read once, on the first iteration */
  assert_int_equal(iterate(vu, "usedata", 1), SB_VU_OK);
  assert_true(global_num(vu, "dataA") == 1);
  duk_context *ctx = sb_vu_ctx(vu);
  duk_get_global_string(ctx, "sameData");
  assert_true(duk_get_boolean(ctx, -1)); /* the same value, not parsed again */
  duk_pop(ctx);
  sb_vu_free(vu);
  /* No data: undefined. */
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  assert_int_equal(iterate(vu, "usedata", 0), SB_VU_OK);
  assert_true(global_num(vu, "dataA") == -1);
  sb_vu_free(vu);
  /* Unparsable data: logged once, undefined. */
  json = "{nope";
  int logs = F.nlogs;
  assert_int_equal(sb_vu_new(&vu, &env, 1, &err), 0);
  assert_int_equal(iterate(vu, "usedata", 0), SB_VU_OK);
  assert_int_equal(iterate(vu, "usedata", 1), SB_VU_OK);
  assert_true(global_num(vu, "dataA") == -1);
  assert_int_equal(F.nlogs, logs + 1);
  assert_string_equal(F.last_level, "error");
  assert_non_null(strstr(F.last_log, "setup() returned"));
  sb_vu_free(vu);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_thousand_vus(void **state) {
  enum { N = 1000 };
  static sb_vu *vus[N];
  sb_err err = {{0}};
  long rss0 = rss_kib();
  size_t heap = 0;
  for (int i = 0; i < N; i++) assert_int_equal(sb_vu_new(&vus[i], &F.env, (uint64_t)i + 1, &err), 0);
  for (int i = 0; i < N; i++) assert_int_equal(iterate(vus[i], "default", 0), SB_VU_OK);
  for (int i = 0; i < N; i++) heap += sb_vu_heap_bytes(vus[i]);
  long rss1 = rss_kib();
  printf("# %d VUs: heap %zu bytes/VU, RSS +%ld KiB/VU\n", N, heap / N, (rss1 - rss0) / N);
  assert_true(heap / N < 400 * 1024);
  for (int i = 0; i < N; i++) sb_vu_free(vus[i]);
}

/* The loop restarts the VU from its callback, as the engine does; steady state must not grow. */
typedef struct bench { sb_vu *vu; uint64_t left, n; size_t max_heap; } bench;
static void on_bench(sb_vu *vu, sb_vu_result r, void *ud) {
  bench *b = ud;
  assert_int_equal(r, SB_VU_OK);
  if (sb_vu_heap_bytes(vu) > b->max_heap) b->max_heap = sb_vu_heap_bytes(vu);
  if (--b->left == 0) return;
  sb_vu_iter it = {.exec = "bench", .scenario = "default", .iteration = b->n++};
  assert_int_equal(sb_vu_start_iteration(vu, &it, on_bench, b, NULL), 0);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_iteration_speed_and_no_growth(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &F.env, 1, &err), 0);
  bench b = {.vu = vu, .left = 2000};
  on_bench(vu, SB_VU_OK, &b); /* warm-up round: starts the first iteration */
  b.left++;
  event_base_dispatch(F.base);
  size_t heap = sb_vu_heap_bytes(vu);
  enum { N = 100000 };
  b.left = N + 1;
  double t0 = mono_s();
  on_bench(vu, SB_VU_OK, &b);
  event_base_dispatch(F.base);
  double dt = mono_s() - t0;
  printf("# %d iterations with one check: %.2f us/iteration, heap %zu -> %zu bytes, max %zu\n",
         N, dt / N * 1e6, heap, sb_vu_heap_bytes(vu), b.max_heap);
  assert_true(b.max_heap < 400 * 1024); /* garbage is collected: the heap stays bounded */
  sb_vu_free(vu);
}

static void test_init_error(void **state) {
  static const char src[] = "var k6 = require('k6');\nk6.sleep(1);\nnope();\n";
  sb_archive *a;
  sb_program *p;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", src, strlen(src)), 0);
  assert_int_equal(sb_program_new(&p, a, &err), 0);
  sb_archive_free(a);
  sb_vu_env env = F.env;
  env.prog = p;
  sb_vu *vu = NULL;
  assert_int_equal(sb_vu_new(&vu, &env, 3, &err), SB_ESCRIPT); /* sleep in init returns at once */
  assert_null(vu);
  assert_non_null(strstr(err.msg, "file:///t/main.js:3: ReferenceError: "));
  sb_program_free(p);
}

static void test_heap_limit(void **state) {
  sb_vu *vu;
  sb_err err = {{0}};
  sb_vu_env env = F.env;
  env.heap_limit = 16 * 1024; /* far below a bare heap: creation must fail cleanly */
  if (!env.heaps) { /* a shared heap's built-ins are no VU's */
    assert_true(sb_vu_new(&vu, &env, 1, &err) < 0);
    assert_true(err.msg[0] != '\0');
  }
  /* Every limit between "cannot even create the heap" and "enough": a clean error or a working
   * VU, never Duktape's fatal handler (allocation failures must all land in protected calls). */
  int made = 0;
  for (size_t lim = 24 * 1024; lim <= 400 * 1024; lim += 6 * 1024) {
    env.heap_limit = lim;
    err.msg[0] = '\0';
    int rc = sb_vu_new(&vu, &env, 1, &err);
    if (rc != 0) {
      assert_true(rc == SB_ENOMEM || rc == SB_ESCRIPT);
      assert_true(err.msg[0] != '\0');
      continue;
    }
    made++;
    sb_vu_result r = iterate(vu, "checky", 0);
    assert_true(r == SB_VU_OK || r == SB_VU_EXCEPTION);
    assert_true(sb_vu_heap_bytes(vu) <= lim);
    sb_vu_free(vu);
  }
  assert_true(made > 0);
}

/* Builds a one-file program from |src|. */
static sb_program *program_of(const char *src) {
  sb_archive *a;
  sb_program *p;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", src, strlen(src)), 0);
  assert_int_equal(sb_program_new(&p, a, &err), 0);
  sb_archive_free(a);
  return p;
}

/* issue 10: a VU that allocates without bound fails its own iteration with an error naming the
 * limit (Duktape's own is only "Error: alloc failed"); the VU goes on (its next iteration runs), the heap stays under the cap, and another VU
 * is not disturbed. Every way of running out (objects, a doubling string, a caught RangeError)
 * lands in a protected call, never in Duktape's fatal handler. */
static void test_heap_limit_fails_only_that_iteration(void **state) {
  sb_vu *vu, *other;
  sb_err err = {{0}};
  char buf[256];
  sb_vu_env env = F.env;
  env.heap_limit = 8u << 20;
  assert_int_equal(sb_vu_new(&vu, &env, 12, &err), 0);
  assert_int_equal(sb_vu_new(&other, &F.env, 13, &err), 0);
  for (int round = 0; round < 3; round++) {
    F.last_log[0] = '\0';
    assert_int_equal(iterate(vu, "hog", 0), SB_VU_EXCEPTION);
    printf("# %s\n", F.last_log);
    assert_non_null(strstr(F.last_log, "VU 12: heap limit 8 MiB exceeded"));
    assert_non_null(strstr(F.last_log, "alloc failed"));
    assert_true(sb_vu_heap_bytes(vu) <= env.heap_limit);
    assert_true(sb_vu_heap_bytes(vu) < 2u << 20); /* the garbage was collected */
    assert_int_equal(iterate(vu, "default", 1), SB_VU_OK);
    assert_int_equal(iterate(other, "default", round), SB_VU_OK);
  }
  F.last_log[0] = '\0';
  assert_int_equal(iterate(vu, "bigstr", 2), SB_VU_EXCEPTION);
  assert_non_null(strstr(F.last_log, "heap limit 8 MiB exceeded"));
  assert_int_equal(iterate(vu, "hogcaught", 3), SB_VU_OK); /* the script may catch it */
  assert_non_null(strstr(global_str(vu, "caughtHog", buf, sizeof(buf)), "alloc failed"));
  F.last_log[0] = '\0';
  assert_int_equal(iterate(vu, "boom", 4), SB_VU_EXCEPTION); /* other errors say nothing of it */
  assert_null(strstr(F.last_log, "heap limit"));
  sb_vu_free(vu);
  sb_vu_free(other);
}

/* Init code that allocates past the limit fails the VU's creation, naming the limit. */
static void test_heap_limit_in_init(void **state) {
  sb_program *p = program_of("var a = []; for (var i = 0;; i++) a.push({ i: i });\n");
  sb_vu_env env = F.env;
  env.prog = p;
  env.heap_limit = 4u << 20;
  sb_vu *vu = NULL;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &env, 7, &err), SB_ESCRIPT);
  assert_null(vu);
  printf("# %s\n", err.msg);
  assert_non_null(strstr(err.msg, "VU 7: heap limit 4 MiB exceeded"));
  sb_program_free(p);
}

static double mono_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* issue 10: init code that never ends is stopped after env.init_timeout_us with an error naming
 * initTimeout; one that ends in time is not disturbed, and the watchdog is disarmed. */
static void test_init_timeout(void **state) {
  sb_program *p = program_of("var n = 0;\nfor (;;) { try { n++; } catch (e) {} }\n");
  sb_vu_env env = F.env;
  env.prog = p;
  env.init_timeout_us = 200 * 1000;
  sb_vu *vu = NULL;
  sb_err err = {{0}};
  double t0 = mono_now_s();
  assert_int_equal(sb_vu_new(&vu, &env, 5, &err), SB_ESCRIPT);
  double dt = mono_now_s() - t0;
  printf("# after %.2f s: %s\n", dt, err.msg);
  assert_null(vu);
  assert_true(dt >= 0.19 && dt < 5);
  assert_non_null(strstr(err.msg, "VU 5: init code still running after 0.2 s (initTimeout)"));
  sb_program_free(p);
  env = F.env;
  env.init_timeout_us = 100 * 1000;
  assert_int_equal(sb_vu_new(&vu, &env, 6, &err), 0); /* a normal init: well within */
  usleep(200 * 1000);                                 /* the deadline passes: nothing fires */
  assert_int_equal(iterate(vu, "default", 0), SB_VU_OK);
  sb_vu_free(vu);
}

/* Two VUs (of one heap when shared): their globals, module state and Math.random() are their
 * own; an iteration suspended mid-call (sleep) while the other runs, throws and catches unwinds
 * to its own frames afterwards. */
typedef struct two { int done; sb_vu_result r[2]; sb_vu *vu[2]; } two;
static void on_two(sb_vu *vu, sb_vu_result r, void *ud) {
  two *t = ud;
  t->r[vu == t->vu[1]] = r;
  t->done++;
}

static void test_two_vus_apart(void **state) {
  two t = {0};
  sb_err err = {{0}};
  char buf[64];
  assert_int_equal(sb_vu_new(&t.vu[0], &F.env, 1, &err), 0);
  assert_int_equal(sb_vu_new(&t.vu[1], &F.env, 2, &err), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(iterate(t.vu[0], "default", (uint64_t)i), SB_VU_OK);
  assert_int_equal(iterate(t.vu[1], "default", 0), SB_VU_OK);
  assert_true(global_num(t.vu[0], "globalCount") == 3);
  assert_true(global_num(t.vu[1], "globalCount") == 1);
  assert_true(global_num(t.vu[0], "initRuns") == 1);
  assert_true(global_num(t.vu[1], "initRuns") == 1);
  assert_string_equal(global_str(t.vu[1], "seen", buf, sizeof(buf)), "bar:2:0");
  assert_int_equal(iterate(t.vu[0], "rnd", 3), SB_VU_OK);
  assert_int_equal(iterate(t.vu[1], "rnd", 1), SB_VU_OK);
  assert_true(global_num(t.vu[0], "r1") == global_num(t.vu[1], "r1"));
  assert_true(global_num(t.vu[0], "r2") == global_num(t.vu[1], "r2"));
  assert_true(global_num(t.vu[0], "r1") != global_num(t.vu[0], "r2"));
  /* Interleaved: vu[0] sleeps inside k6.sleep while vu[1] throws, then vu[0] throws. */
  sb_vu_iter a = {.exec = "sleepy", .scenario = "default", .iteration = 4};
  sb_vu_iter b = {.exec = "boom", .scenario = "default", .iteration = 2};
  assert_int_equal(sb_vu_start_iteration(t.vu[0], &a, on_two, &t, &err), 0);
  assert_int_equal(sb_vu_start_iteration(t.vu[1], &b, on_two, &t, &err), 0);
  while (t.done < 2) event_base_loop(F.base, EVLOOP_ONCE);
  assert_int_equal(t.r[0], SB_VU_OK);
  assert_int_equal(t.r[1], SB_VU_EXCEPTION);
  assert_true(global_num(t.vu[0], "slept") >= 49);
  a.exec = "boom";
  b.exec = "sleepy";
  t.done = 0;
  assert_int_equal(sb_vu_start_iteration(t.vu[1], &b, on_two, &t, &err), 0);
  assert_int_equal(sb_vu_start_iteration(t.vu[0], &a, on_two, &t, &err), 0);
  while (t.done < 2) event_base_loop(F.base, EVLOOP_ONCE);
  assert_int_equal(t.r[0], SB_VU_EXCEPTION);
  assert_int_equal(t.r[1], SB_VU_OK);
  assert_non_null(strstr(F.last_log, "boom"));
  sb_vu_free(t.vu[0]);
  sb_vu_free(t.vu[1]);
}

/* Shared heaps only: the built-in objects are the heap's, so what one VU adds to them the other
 * sees (documented in agent/vu_heap.h); with heaps of their own it does not. */
static void test_builtins_shared_in_a_heap(void **state) {
  sb_vu *a, *b;
  sb_err err = {{0}};
  char buf[32];
  assert_int_equal(sb_vu_new(&a, &F.env, 1, &err), 0);
  assert_int_equal(sb_vu_new(&b, &F.env, 2, &err), 0);
  assert_int_equal(iterate(a, "proto", 0), SB_VU_OK);
  duk_context *ctx = sb_vu_ctx(b);
  duk_eval_string(ctx, "String([].mine)");
  snprintf(buf, sizeof(buf), "%s", duk_get_string(ctx, -1));
  duk_pop(ctx);
  assert_string_equal(buf, F.env.heaps ? "1" : "undefined");
  sb_vu_free(a);
  sb_vu_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_once_counter_persists),
      cmocka_unit_test(test_sleep_yields_to_loop),
      cmocka_unit_test(test_check_rate),
      cmocka_unit_test(test_group),
      cmocka_unit_test(test_exception_counted_and_logged),
      cmocka_unit_test(test_custom_metrics),
      cmocka_unit_test(test_console),
      cmocka_unit_test(test_console_format),
      cmocka_unit_test(test_interrupt_during_sleep),
      cmocka_unit_test(test_free_while_busy),
      cmocka_unit_test(test_missing_export),
      cmocka_unit_test(test_call_returns_json_in_its_group),
      cmocka_unit_test(test_call_errors),
      cmocka_unit_test(test_call_interrupted),
      cmocka_unit_test(test_call_interrupt_async),
      cmocka_unit_test(test_iterations_get_data),
      cmocka_unit_test(test_http_get_and_interrupt),
      cmocka_unit_test(test_warm),
      cmocka_unit_test(test_deep_recursion_stays_on_stack),
      cmocka_unit_test(test_heap_limit),
      cmocka_unit_test(test_heap_limit_fails_only_that_iteration),
      cmocka_unit_test(test_heap_limit_in_init),
      cmocka_unit_test(test_init_timeout),
      cmocka_unit_test(test_init_error),
      cmocka_unit_test(test_iteration_speed_and_no_growth),
      cmocka_unit_test(test_thousand_vus),
      cmocka_unit_test(test_two_vus_apart),
      cmocka_unit_test(test_builtins_shared_in_a_heap),
  };
  int failed = cmocka_run_group_tests_name("own heaps", tests, setup, teardown);
  return failed + cmocka_run_group_tests_name("shared heaps", tests, setup_shared, teardown);
}
