/* agent/engine.c: setup() and teardown() on the call VU (data to every iteration, errors,
 * timeouts, their metrics in the next collect), and scenarios with no VU on this agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "agent/engine.h"
#include "agent/engine_internal.h" /* the workers' event bases, to hold one (command slot test) */
#include "common/archive.h"
#include "common/clock.h"

static const char META[] = "{\"filename\":\"file:///t/main.js\"}";

/* __ENV.MODE picks the setup(): ok, none (not exported), throw, slow (waits), spin (never
 * yields the loop, swallows exceptions). */
static const char MAIN_JS[] =
    "var metrics = require('k6/metrics'), k6 = require('k6');\n"
    "var seenA = new metrics.Counter('seen_a'), inSetup = new metrics.Counter('in_setup');\n"
    "var torn = new metrics.Counter('torn');\n"
    "var mode = __ENV.MODE;\n"
    "if (mode !== 'none') exports.setup = function () {\n"
    "  if (mode === 'throw') throw new Error('setup failed on purpose');\n" /* line 6 */
    "  if (mode === 'slow') k6.sleep(30);\n"
    "  if (mode === 'spin') for (;;) { try { inSetup.add(0); } catch (e) {} }\n"
    "  inSetup.add(1);\n"
    "  return { a: 1, vu: __VU };\n"
    "};\n"
    "exports.default = function (data) { if (mode === 'spiniter') for (;;) { try { k6.check(1, {}); } catch (e) {} } seenA.add(data ? data.a : 100); if (mode === 'sleepiter') k6.sleep(0.2); };\n"
    "exports.teardown = function (data) { torn.add(data.a * 5 + data.vu); };\n"
    "var envSeen = new metrics.Counter('env_seen');\n"
    "exports.envcheck = function () { envSeen.add(1, { scen: __ENV.SCEN || 'none', mode: __ENV.MODE }); };\n";

typedef struct ctx {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int done;
  int calls;
  int present, timed_out, json_null, error_null;
  char json[256], error[2048];
} ctx;

static ctx C;
static uint64_t vus_seen; /* what sb_engine_collect() says looped */

static void on_done(void *ud) {
  ctx *c = ud;
  pthread_mutex_lock(&c->mu);
  c->done++;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
}

static void on_call(int present, const char *json, const char *error, int timed_out, void *ud) {
  ctx *c = ud;
  pthread_mutex_lock(&c->mu);
  c->calls++;
  c->present = present;
  c->timed_out = timed_out;
  c->json_null = json == NULL;
  c->error_null = error == NULL;
  snprintf(c->json, sizeof(c->json), "%s", json ? json : "");
  snprintf(c->error, sizeof(c->error), "%s", error ? error : "");
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
}

/* Waits until *|counter| reaches |n|, at most |ms|; returns whether it did. */
static int wait_for(int *counter, int n, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&C.mu);
  int rc = 0;
  while (*counter < n && rc == 0) rc = pthread_cond_timedwait(&C.cond, &C.mu, &ts);
  int ok = *counter >= n;
  pthread_mutex_unlock(&C.mu);
  return ok;
}

static uint8_t *archive_bytes(size_t *len) {
  sb_archive *a;
  sb_err err = {{0}};
  uint8_t *buf;
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", MAIN_JS, strlen(MAIN_JS)), 0);
  assert_int_equal(sb_archive_write(a, 0, &buf, len, &err), 0);
  sb_archive_free(a);
  return buf;
}

static char **dup_pairs(char **kv, size_t n) {
  if (!n) return NULL;
  char **d = calloc(2 * n + 1, sizeof(char *));
  for (size_t i = 0; i < 2 * n; i++) d[i] = strdup(kv[i]);
  return d;
}

/* An engine on |nw| workers running copies of |scs| with __ENV.MODE = |mode|. */
static sb_engine *make(const char *mode, const sb_scenario_cfg *scs, size_t nsc, uint32_t nw) {
  size_t len;
  uint8_t *buf = archive_bytes(&len);
  sb_engine_cfg cfg;
  sb_engine_cfg_init(&cfg);
  cfg.archive = buf;
  cfg.archive_len = len;
  cfg.workers = nw;
  cfg.env = calloc(3, sizeof(char *));
  assert_non_null(cfg.env);
  cfg.env[0] = strdup("MODE");
  cfg.env[1] = strdup(mode);
  cfg.scenarios = calloc(nsc + 1, sizeof(*cfg.scenarios));
  assert_non_null(cfg.scenarios);
  for (size_t i = 0; i < nsc; i++, cfg.nscenarios++) {
    sb_scenario_cfg *c = &cfg.scenarios[i];
    *c = scs[i];
    c->name = scs[i].name ? strdup(scs[i].name) : NULL;
    c->exec = scs[i].exec ? strdup(scs[i].exec) : NULL;
    c->env = dup_pairs(scs[i].env, scs[i].nenv);
    c->tags = dup_pairs(scs[i].tags, scs[i].ntags);
    c->stages = NULL;
    if (scs[i].nstages) {
      c->stages = calloc(scs[i].nstages, sizeof(*c->stages));
      memcpy(c->stages, scs[i].stages, scs[i].nstages * sizeof(*c->stages));
    }
    assert_int_equal(sb_scenario_cfg_resolve(c, NULL), 0);
  }
  memset(&C, 0, sizeof(C));
  pthread_mutex_init(&C.mu, NULL);
  pthread_cond_init(&C.cond, NULL);
  sb_engine_cbs cbs = {.done = on_done, .ud = &C};
  sb_engine *e = NULL;
  sb_err err = {{0}};
  int rc = sb_engine_new(&e, &cfg, &cbs, &err);
  if (rc) fail_msg("sb_engine_new: %s", err.msg);
  assert_null(cfg.scenarios); /* the engine took them */
  sb_engine_cfg_clear(&cfg);
  free(buf);
  return e;
}

static void shared(sb_scenario_cfg *sc, uint64_t vus, uint64_t iters) {
  memset(sc, 0, sizeof(*sc));
  sc->kind = SB_SCEN_SHARED_ITERATIONS;
  sc->vus = vus;
  sc->iterations = iters;
  sc->max_duration_us = 10000000;
}

/* Sum of counter |name| over series whose tag |key| is |value| (NULL: all). */
static double counter(sb_metrics *m, const char *name, const char *key, const char *value) {
  int id = sb_metrics_find(m, name);
  if (id < 0) return 0;
  const char *filter[2] = {key, value};
  sb_series s;
  sb_series_init(&s, id);
  assert_int_equal(sb_metrics_fold(m, id, filter, key ? 1 : 0, &s), 0);
  double v = s.value;
  sb_series_clear(&s);
  return v;
}

static void call(sb_engine *e, const char *fn, const char *data, int64_t timeout_ms) {
  int n = C.calls;
  assert_int_equal(sb_engine_call(e, fn, data, timeout_ms, on_call, &C), 0);
  assert_true(wait_for(&C.calls, n + 1, 5000));
}

static void test_setup_data_reaches_iterations(void **state) {
  sb_scenario_cfg sc;
  shared(&sc, 3, 12);
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("ok", scs, 1, 2);
  sb_metrics *m;
  sb_err err = {{0}};
  assert_int_equal(sb_metrics_new(&m), 0);
  call(e, "setup", NULL, 0);
  assert_true(C.present);
  assert_true(C.error_null);
  assert_false(C.timed_out);
  assert_string_equal(C.json, "{\"a\":1,\"vu\":0}");
  /* Setup's samples are in the very next collect, tagged with its group; no iteration. */
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  assert_true(counter(m, "in_setup", "group", "::setup") == 1);
  assert_true(counter(m, "in_setup", "scenario", "default") == 0);
  assert_true(counter(m, "iterations", NULL, NULL) == 0);
  /* Every iteration gets setup's data. */
  assert_int_equal(sb_engine_set_data(e, C.json), 0);
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 5000));
  assert_int_equal(sb_engine_iterations(e), 12);
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  assert_true(counter(m, "seen_a", NULL, NULL) == 12); /* data.a === 1, twelve times */
  /* Teardown after done, with the data. */
  call(e, "teardown", "{\"a\":1,\"vu\":0}", 0);
  assert_true(C.present);
  assert_true(C.error_null);
  assert_true(C.json_null);
  sb_metrics_reset(m);
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  assert_true(counter(m, "torn", "group", "::teardown") == 5);
  assert_true(counter(m, "iterations", NULL, NULL) == 0);
  sb_metrics_free(m);
  sb_engine_free(e);
}

static void test_setup_absent(void **state) {
  sb_scenario_cfg sc;
  shared(&sc, 1, 2);
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("none", scs, 1, 1);
  call(e, "setup", NULL, 0);
  assert_false(C.present);
  assert_true(C.json_null && C.error_null);
  /* No data: iterations get undefined. */
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 5000));
  sb_metrics *m;
  sb_err err = {{0}};
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  assert_true(counter(m, "seen_a", NULL, NULL) == 200);
  sb_metrics_free(m);
  sb_engine_free(e);
}

static void test_setup_throws(void **state) {
  sb_scenario_cfg sc;
  shared(&sc, 1, 1);
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("throw", scs, 1, 1);
  call(e, "setup", NULL, 0);
  assert_true(C.present);
  assert_false(C.timed_out);
  assert_true(C.json_null);
  if (!strstr(C.error, "main.js:6") || !strstr(C.error, "setup failed on purpose"))
    fail_msg("error without file:line: %s", C.error);
  sb_engine_free(e);
}

static void test_setup_timeout(void **state) {
  sb_scenario_cfg sc;
  shared(&sc, 1, 1);
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("slow", scs, 1, 1);
  int64_t t0 = sb_clock_mono_us();
  call(e, "setup", NULL, 200);
  int64_t took = sb_clock_mono_us() - t0;
  assert_true(C.present);
  assert_true(C.timed_out);
  assert_non_null(strstr(C.error, "setup() execution timed out after 0.2 seconds"));
  assert_true(took >= 190000 && took < 2000000);
  /* A second call while one runs is refused; the engine takes the next one after. */
  int n = C.calls;
  assert_int_equal(sb_engine_call(e, "setup", NULL, 300, on_call, &C), 0);
  assert_int_equal(sb_engine_call(e, "setup", NULL, 300, on_call, &C), SB_EINVAL);
  assert_true(wait_for(&C.calls, n + 1, 5000));
  assert_true(C.timed_out);
  sb_engine_free(e);
}

/* A setup() that never waits cannot be reached by worker 0's loop timer: the watchdog stops it. */
static void test_setup_timeout_busy_loop(void **state) {
  sb_scenario_cfg sc;
  shared(&sc, 1, 1);
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("spin", scs, 1, 1);
  int64_t t0 = sb_clock_mono_us();
  call(e, "setup", NULL, 300);
  int64_t took = sb_clock_mono_us() - t0;
  assert_true(C.present);
  assert_true(C.timed_out);
  assert_non_null(strstr(C.error, "timed out"));
  assert_true(took >= 290000 && took < 2000000);
  /* The call VU works again: teardown runs normally. */
  call(e, "teardown", "{\"a\":1,\"vu\":0}", 0);
  assert_true(C.present && C.error_null);
  /* Freed while spinning: the watchdog is stopped, no callback. */
  int n = C.calls;
  assert_int_equal(sb_engine_call(e, "setup", NULL, 0, on_call, &C), 0);
  struct timespec ts = {0, 50000000};
  nanosleep(&ts, NULL);
  assert_int_equal(C.calls, n);
  sb_engine_free(e);
  assert_int_equal(C.calls, n);
}

static void test_free_during_call(void **state) {
  sb_scenario_cfg sc;
  shared(&sc, 1, 1);
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("slow", scs, 1, 1);
  assert_int_equal(sb_engine_call(e, "setup", NULL, 0, on_call, &C), 0);
  struct timespec ts = {0, 50000000};
  nanosleep(&ts, NULL);
  sb_engine_free(e); /* interrupts the call; no callback after free */
  assert_int_equal(C.calls, 0);
}

/* A small test split over many agents leaves some with no VU of a scenario: finished at once. */
static void test_zero_vu_scenarios_finish(void **state) {
  sb_scenario_cfg a = {.kind = SB_SCEN_CONSTANT_VUS, .vus = 0, .duration_us = 30000000}, b, c;
  shared(&b, 0, 0);
  c = a;
  c.kind = SB_SCEN_RAMPING_VUS;
  sb_scen_stage st = {.duration_us = 30000000, .target = 0};
  c.stages = &st;
  c.nstages = 1;
  sb_scenario_cfg scs[] = {a, b, c};
  sb_engine *e = make("ok", scs, 3, 0);
  int64_t t0 = sb_clock_mono_us();
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 3000));
  assert_true(sb_clock_mono_us() - t0 < 2000000);
  assert_int_equal(sb_engine_iterations(e), 0);
  assert_string_equal(sb_engine_error(e), "");
  sb_engine_free(e);
  /* One scenario with VUs beside one without: done when the first is. */
  sb_scenario_cfg d;
  shared(&d, 1, 2);
  sb_scenario_cfg scs2[] = {d, a};
  e = make("ok", scs2, 2, 0);
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 3000));
  assert_int_equal(sb_engine_iterations(e), 2);
  sb_engine_free(e);
  /* No scenario at all: done after start, once, and not before it. */
  e = make("ok", NULL, 0, 0);
  struct timespec ts = {0, 400000000}; /* past a metrics flush */
  nanosleep(&ts, NULL);
  assert_int_equal(C.done, 0);
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 3000));
  nanosleep(&ts, NULL);
  assert_int_equal(C.done, 1);
  sb_engine_free(e);
}

/* An iteration that never yields its worker's loop (a script bug) still stops on abort: the
 * worker cannot read its command while the VU spins, so the abort also reaches the VU through
 * Duktape's interrupt check. The agent must stop the load and free its VUs when its controller
 * is lost, whatever the script does. */
static void test_abort_stops_spinning_iterations(void **state) {
  sb_scenario_cfg sc = {.kind = SB_SCEN_CONSTANT_VUS, .vus = 2, .duration_us = 60000000,
                        .graceful_stop_us = 60000000};
  sb_scenario_cfg *scs = &sc;
  sb_engine *e = make("spiniter", scs, 1, 2);
  assert_int_equal(sb_engine_start(e, 0), 0);
  struct timespec ts = {0, 300000000};
  nanosleep(&ts, NULL);
  int64_t t0 = sb_clock_mono_us();
  sb_engine_stop(e, 1);
  assert_true(wait_for(&C.done, 1, 3000));
  assert_true(sb_clock_mono_us() - t0 < 2000000);
  sb_engine_free(e);
  /* freeing the engine while they spin does not hang either */
  e = make("spiniter", scs, 1, 2);
  assert_int_equal(sb_engine_start(e, 0), 0);
  nanosleep(&ts, NULL);
  t0 = sb_clock_mono_us();
  sb_engine_free(e);
  assert_true(sb_clock_mono_us() - t0 < 2000000);
}

static sb_scenario_cfg arrival(uint64_t rate, int64_t duration_us, uint64_t pre, uint64_t max) {
  sb_scenario_cfg c = {.kind = SB_SCEN_CONSTANT_ARRIVAL_RATE, .rate = rate,
                       .time_unit_us = 1000000, .duration_us = duration_us,
                       .pre_allocated_vus = pre, .max_vus = max, .graceful_stop_us = 2000000};
  return c;
}

/* Every start that came due either ran or was dropped: 50/s for 1 s is 50, on two workers. */
static void test_arrival_rate_count(void **state) {
  sb_scenario_cfg sc = arrival(50, 1000000, 2, 4);
  sb_engine *e = make("ok", &sc, 1, 2);
  assert_int_equal(sb_engine_vus_max(e), 2); /* the preallocated ones only */
  int64_t t0 = sb_clock_mono_us();
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 5000));
  int64_t took = sb_clock_mono_us() - t0;
  assert_true(took >= 980000 && took < 1500000);
  sb_metrics *m;
  sb_err err = {{0}};
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  assert_true(counter(m, "iterations", "scenario", "default") +
                  counter(m, "dropped_iterations", "scenario", "default") == 50);
  assert_true(counter(m, "dropped_iterations", NULL, NULL) == 0); /* fast iterations: none */
  assert_true(sb_metrics_find(m, "iteration_start_delay") >= 0);
  sb_metrics_free(m);
  sb_engine_free(e);
}

/* Iterations of 200 ms at 50/s need 10 VUs: with at most 3, most starts are dropped, VUs are
 * made mid-test up to maxVUs (vus_max grows), and still every due start is counted once. */
static void test_arrival_rate_drops_and_grows(void **state) {
  sb_scenario_cfg sc = arrival(50, 1000000, 1, 3);
  sb_engine *e = make("sleepiter", &sc, 1, 1);
  assert_int_equal(sb_engine_vus_max(e), 1);
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 6000));
  assert_int_equal(sb_engine_vus_max(e), 3);
  sb_metrics *m;
  sb_err err = {{0}};
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  double it = counter(m, "iterations", NULL, NULL);
  double dr = counter(m, "dropped_iterations", NULL, NULL);
  assert_true(it + dr == 50);
  assert_true(dr >= 30 && it <= 20);
  sb_metrics_free(m);
  sb_engine_free(e);
}

/* minIterationDuration keeps a VU after a short iteration: 3 iterations of one VU take 3 x
 * 150 ms. */
static void test_min_iteration_duration(void **state) {
  sb_scenario_cfg sc = {.kind = SB_SCEN_PER_VU_ITERATIONS, .vus = 1, .iterations = 3,
                        .max_duration_us = 10000000, .min_iteration_duration_us = 150000};
  sb_engine *e = make("ok", &sc, 1, 1);
  int64_t t0 = sb_clock_mono_us();
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 5000));
  int64_t took = sb_clock_mono_us() - t0;
  assert_int_equal(sb_engine_iterations(e), 3);
  assert_true(took >= 440000 && took < 2000000);
  sb_engine_free(e);
}

/* A scenario's env lies over the test's __ENV for its VUs, and its tags are on its samples. */
static void test_scenario_env_and_tags(void **state) {
  char *env[] = {"SCEN", "one", NULL}, *tags[] = {"team", "blue", NULL};
  sb_scenario_cfg sc = {.kind = SB_SCEN_SHARED_ITERATIONS, .vus = 1, .iterations = 2,
                        .max_duration_us = 10000000, .exec = "envcheck"};
  sb_scenario_cfg plain = sc;
  plain.name = "plain";
  sc.name = "tagged";
  sc.env = env;
  sc.nenv = 1;
  sc.tags = tags;
  sc.ntags = 1;
  sb_scenario_cfg scs[] = {sc, plain};
  sb_engine *e = make("ok", scs, 2, 1);
  assert_int_equal(sb_engine_start(e, 0), 0);
  assert_true(wait_for(&C.done, 1, 5000));
  sb_metrics *m;
  sb_err err = {{0}};
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_int_equal(sb_engine_collect(e, m, &vus_seen, &err), 0);
  assert_true(counter(m, "env_seen", "scen", "one") == 2);
  assert_true(counter(m, "env_seen", "scen", "none") == 2);
  assert_true(counter(m, "env_seen", "team", "blue") == 2);
  assert_true(counter(m, "iterations", "team", "blue") == 2);
  assert_true(counter(m, "env_seen", "mode", "ok") == 4); /* the test's env is still there */
  sb_metrics_free(m);
  sb_engine_free(e);
}

/* A worker's loop held in a callback until the test opens the gate: commands sent meanwhile
 * pile up unread, as when the worker is busy running VUs. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int entered, open;
} gate;

static void on_gate(evutil_socket_t fd, short what, void *arg) {
  gate *g = arg;
  pthread_mutex_lock(&g->mu);
  g->entered = 1;
  pthread_cond_broadcast(&g->cond);
  while (!g->open) pthread_cond_wait(&g->cond, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

/* Holds |w|'s loop in on_gate() and returns once it is there. */
static struct event *gate_close(gate *g, sb_worker *w) {
  memset(g, 0, sizeof(*g));
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cond, NULL);
  struct event *ev = event_new(w->base, -1, 0, on_gate, g);
  assert_non_null(ev);
  event_active(ev, EV_TIMEOUT, 0);
  pthread_mutex_lock(&g->mu);
  while (!g->entered) pthread_cond_wait(&g->cond, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return ev;
}

static void gate_open(gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cond);
  pthread_mutex_unlock(&g->mu);
}

/* Regression (issue 10): START then STOP sent before the worker read either. With one command
 * slot the STOP overwrote the START: the worker never started, so never reported done, and the
 * engine's done callback never came (the session waited for its overrun timer). Every command
 * sent must be read, in order. */
static void test_start_then_stop_unread(void **state) {
  sb_scenario_cfg sc = {.kind = SB_SCEN_CONSTANT_VUS, .vus = 1, .duration_us = 60000000};
  for (int abort = 0; abort <= 1; abort++) {
    sb_engine *e = make("sleepiter", &sc, 1, 1);
    gate g;
    struct event *ev = gate_close(&g, &e->w[0]);
    assert_int_equal(sb_engine_start(e, 0), 0);
    sb_engine_stop(e, abort);
    gate_open(&g);
    assert_true(wait_for(&C.done, 1, 3000));
    assert_int_equal(sb_engine_iterations(e), 0); /* stopped before its start came due */
    event_free(ev); /* ran; freed while its base lives */
    sb_engine_free(e);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_abort_stops_spinning_iterations),
      cmocka_unit_test(test_setup_data_reaches_iterations),
      cmocka_unit_test(test_setup_absent),
      cmocka_unit_test(test_setup_throws),
      cmocka_unit_test(test_setup_timeout),
      cmocka_unit_test(test_setup_timeout_busy_loop),
      cmocka_unit_test(test_free_during_call),
      cmocka_unit_test(test_zero_vu_scenarios_finish),
      cmocka_unit_test(test_arrival_rate_count),
      cmocka_unit_test(test_arrival_rate_drops_and_grows),
      cmocka_unit_test(test_min_iteration_duration),
      cmocka_unit_test(test_scenario_env_and_tags),
      cmocka_unit_test(test_start_then_stop_unread),
  };
  return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
