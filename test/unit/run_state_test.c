/* controller/run_state: test time and pauses, fleet VUs, per-scenario figures folded from the
 * metrics and the agents' progress, progress fractions, k6's status, the scale target checks,
 * live thresholds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controller/run_state.h"
#include "test/unit/run_fixture.h"

static const char *TWO =
    "{\"scenarios\": {"
    "\"steady\": {\"executor\": \"constant-vus\", \"vus\": 10, \"duration\": \"10s\"},"
    "\"batch\": {\"executor\": \"shared-iterations\", \"vus\": 2, \"iterations\": 40,"
    "            \"startTime\": \"2s\"}},"
    "\"thresholds\": {\"http_req_duration\": [\"p(95)<100\"]}}";

static void test_time_and_pause(void **state) {
  fixture f;
  fixture_init(&f, TWO, 1);
  assert_true(sb_run_state_elapsed(&f.st, T_NOW) == 5.0);
  f.st.paused_us = 1000000;
  f.st.paused_since_us = T_NOW - 500000;
  assert_true(sb_run_state_paused_s(&f.st, T_NOW) == 1.5);
  f.st.end_mono_us = T_NOW - 2000000; /* ended: time stops there */
  assert_true(sb_run_state_elapsed(&f.st, T_NOW) == 3.0);
  f.st.start_mono_us = 0;
  assert_true(sb_run_state_elapsed(&f.st, T_NOW) == 0.0);
  fixture_clear(&f);
}

static void test_tick_folds(void **state) {
  fixture f;
  fixture_init(&f, TWO, 2);
  fixture_add(&f, SB_M_ITERATIONS, "steady", NULL, 30);
  fixture_add(&f, SB_M_ITERATIONS, "batch", NULL, 12);
  fixture_add(&f, SB_M_DROPPED_ITERATIONS, "batch", NULL, 3);
  f.agents[0].vus = 6, f.agents[1].vus = 5;
  f.agents[0].vus_max = 6, f.agents[1].vus_max = 6;
  f.scen_vus[0][0] = 5, f.scen_vus[1][0] = 5, f.scen_vus[0][1] = 1, f.scen_vus[1][1] = 0;
  f.agents[0].interrupted = 2;
  sb_run_state_tick(&f.st);
  assert_int_equal(f.st.iterations, 42);
  assert_int_equal(f.st.interrupted_iters, 2);
  assert_int_equal(f.st.scen[0].iterations, 30);
  assert_int_equal(f.st.scen[1].iterations, 12);
  assert_int_equal(f.st.scen[1].dropped, 3);
  assert_int_equal(f.st.scen[0].vus, 10);
  assert_true(f.st.scen[0].vus_known);
  assert_int_equal(sb_run_state_vus(&f.st, 0), 11);
  assert_int_equal(sb_run_state_vus(&f.st, 1), 12);
  f.agents[1].scen_vus = NULL; /* an agent that has not reported: unknown */
  sb_run_state_tick(&f.st);
  assert_false(f.st.scen[0].vus_known);
  f.agents[1].state = SB_AGENT_LOST; /* a lost agent does not count */
  sb_run_state_tick(&f.st);
  assert_true(f.st.scen[0].vus_known);
  assert_int_equal(f.st.scen[0].vus, 5);
  fixture_clear(&f);
}

static void test_progress_fractions(void **state) {
  fixture f;
  fixture_init(&f, TWO, 1);
  assert_true(sb_run_state_scen_progress(&f.st, 0, T_NOW) == 0.5); /* 5 s of 10 s */
  f.st.scen[1].iterations = 10;
  assert_true(sb_run_state_scen_progress(&f.st, 1, T_NOW) == 0.25); /* 10 of 40 */
  assert_true(sb_run_state_scen_progress(&f.st, 0, T_NOW + 20000000) == 1.0);
  assert_int_equal(sb_run_state_scen_length_ms(&f.st, 0), 10000);
  assert_int_equal(sb_run_state_scen_length_ms(&f.st, 1), 600000); /* maxDuration 10m */
  fixture_clear(&f);
}

static void test_k6_status(void **state) {
  fixture f;
  fixture_init(&f, TWO, 1);
  static const struct {
    sb_run_phase p;
    int interrupted, want;
  } cases[] = {{SB_PHASE_INIT, 0, 1},     {SB_PHASE_SETUP, 0, 6}, {SB_PHASE_RUNNING, 0, 7},
               {SB_PHASE_TEARDOWN, 0, 8}, {SB_PHASE_ENDED, 0, 9}, {SB_PHASE_ENDED, 1, 10}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    f.st.phase = cases[i].p;
    f.st.interrupted = cases[i].interrupted;
    assert_int_equal(sb_run_state_k6_status(&f.st), cases[i].want);
  }
  assert_string_equal(sb_run_phase_name(SB_PHASE_TEARDOWN), "teardown");
  assert_string_equal(sb_agent_state_name(SB_AGENT_LOST), "lost");
  assert_string_equal(sb_executor_name(SB_EXEC_RAMPING_ARRIVAL_RATE), "ramping-arrival-rate");
  fixture_clear(&f);
}

static void expect_scale(const sb_run_state *st, const char *name, uint64_t vus, int64_t now,
                         int rc, const char *msg) {
  sb_err err = {{0}};
  size_t idx = 99;
  assert_int_equal(sb_run_state_scale_target(st, name, vus, now, &idx, &err), rc);
  if (msg && !strstr(err.msg, msg)) fail_msg("'%s' lacks '%s'", err.msg, msg);
  if (!rc) assert_int_equal(idx, 0);
}

static void test_scale_target(void **state) {
  fixture f;
  fixture_init(&f, TWO, 1);
  expect_scale(&f.st, NULL, 4, T_NOW, 0, NULL); /* the only constant-vus one */
  expect_scale(&f.st, "steady", 10, T_NOW, 0, NULL);
  expect_scale(&f.st, "steady", 11, T_NOW, SB_EINVAL, "at most 10 VUs");
  expect_scale(&f.st, "batch", 1, T_NOW, SB_EINVAL, "shared-iterations");
  expect_scale(&f.st, "nope", 1, T_NOW, SB_ENOTFOUND, "no scenario named 'nope'");
  expect_scale(&f.st, NULL, 4, T_NOW + 6000000, SB_ECANCELED, "has ended");
  f.st.phase = SB_PHASE_SETUP;
  expect_scale(&f.st, NULL, 4, T_NOW, SB_ECANCELED, "not running (setup)");
  fixture_clear(&f);

  fixture_init(&f,
               "{\"scenarios\": {"
               "\"a\": {\"executor\": \"constant-vus\", \"vus\": 2, \"duration\": \"10s\"},"
               "\"b\": {\"executor\": \"ramping-vus\", \"stages\": [{\"duration\": \"10s\","
               "        \"target\": 5}], \"startTime\": \"8s\"}}}",
               1);
  expect_scale(&f.st, NULL, 1, T_NOW, SB_EINVAL, "2 scenarios can change");
  expect_scale(&f.st, "b", 1, T_NOW, SB_ECANCELED, "not started yet");
  fixture_clear(&f);
}

static void test_thresholds_live(void **state) {
  fixture f;
  fixture_init(&f, TWO, 1);
  assert_int_equal(f.st.nthr, 1);
  sb_run_state_eval_thresholds(&f.st, 5);
  assert_false(f.st.tainted); /* no samples yet: not evaluated */
  assert_false(f.st.thr_res[0].evaluated);
  fixture_add(&f, SB_M_HTTP_REQ_DURATION, "steady", NULL, 500);
  sb_run_state_eval_thresholds(&f.st, 5);
  assert_true(f.st.tainted);
  fixture_clear(&f);
}


/* --- the generator's verdict ------------------------------------------------------------------ */

/* |n| one-second intervals of |g|'s latest figures, while the scenarios run. */
static void gen_feed(sb_rs_gen *g, int n) {
  for (int i = 0; i < n; i++) sb_rs_gen_fold(g, g->last_us + 1000000, 1);
}

/* CPU: hot (>= 90%) for >= 20% of the measured time, or for >= 5 s whatever the share. */
static void test_gen_cpu_edges(void **state) {
  sb_rs_gen g = {.workers = 2, .cpu_max_pm = 899};
  gen_feed(&g, 10);
  assert_int_equal(sb_rs_gen_causes(&g, 0), 0);
  assert_int_equal(sb_rs_gen_causes(&g, 1), 0);
  assert_true(g.measured_s > 9.99 && g.measured_s < 10.01);
  g.cpu_max_pm = 900; /* the edge counts */
  assert_int_equal(sb_rs_gen_causes(&g, 1), SB_GEN_CPU);
  gen_feed(&g, 1); /* 1 s hot of 11: 9% */
  assert_int_equal(sb_rs_gen_causes(&g, 0), 0);
  gen_feed(&g, 2); /* 3 s of 13: 23% */
  assert_int_equal(sb_rs_gen_causes(&g, 0), SB_GEN_CPU);
  assert_int_equal(g.cpu_peak_pm, 900);

  sb_rs_gen h = {.workers = 1, .cpu_max_pm = 100};
  gen_feed(&h, 100);
  h.cpu_max_pm = 1000;
  gen_feed(&h, 4); /* 4 s of 104: neither */
  assert_int_equal(sb_rs_gen_causes(&h, 0), 0);
  gen_feed(&h, 1); /* 5 s: enough on its own */
  assert_int_equal(sb_rs_gen_causes(&h, 0), SB_GEN_CPU);

  sb_rs_gen i = {.workers = 1, .cpu_max_pm = 1000}; /* outside the running phase: not counted */
  for (int k = 0; k < 10; k++) sb_rs_gen_fold(&i, i.last_us + 1000000, 0);
  assert_int_equal(sb_rs_gen_causes(&i, 0), 0);
  sb_rs_gen old = {.cpu_max_pm = 1000}; /* workers 0: an agent that does not measure */
  gen_feed(&old, 10);
  assert_int_equal(sb_rs_gen_causes(&old, 0) | sb_rs_gen_causes(&old, 1), 0);
}

/* Loop lag: >= 100 ms at most, or >= 20 ms on average (of the intervals' means). */
static void test_gen_lag_edges(void **state) {
  sb_rs_gen g = {.workers = 1, .lag_max_us = 99999, .lag_mean_us = 19999};
  gen_feed(&g, 3);
  assert_int_equal(sb_rs_gen_causes(&g, 0), 0);
  g.lag_max_us = 100000, g.lag_mean_us = 1000;
  gen_feed(&g, 1);
  assert_int_equal(sb_rs_gen_causes(&g, 0), SB_GEN_LAG);
  assert_int_equal(sb_rs_gen_causes(&g, 1), SB_GEN_LAG);
  sb_rs_gen h = {.workers = 1, .lag_max_us = 30000, .lag_mean_us = 20000};
  gen_feed(&h, 2);
  assert_int_equal(sb_rs_gen_causes(&h, 0), SB_GEN_LAG); /* the mean alone */
  assert_int_equal(sb_rs_gen_causes(&h, 1), 0);          /* now: only the max counts */
}

/* Descriptors: >= 90% of the limit at any interval; any EMFILE dial; no limit known: no verdict. */
static void test_gen_fds_edges(void **state) {
  sb_rs_gen g = {.workers = 1, .fds_open = 899, .fds_limit = 1000};
  gen_feed(&g, 1);
  assert_int_equal(sb_rs_gen_causes(&g, 0), 0);
  g.fds_open = 900;
  assert_int_equal(sb_rs_gen_causes(&g, 1), SB_GEN_FDS);
  gen_feed(&g, 1);
  g.fds_open = 10;
  gen_feed(&g, 1); /* the peak stays */
  assert_int_equal(sb_rs_gen_causes(&g, 0), SB_GEN_FDS);
  assert_int_equal(g.fds_peak_open, 900);
  assert_int_equal(sb_rs_gen_causes(&g, 1), 0);
  g.dial_emfile = 1;
  assert_int_equal(sb_rs_gen_causes(&g, 0), SB_GEN_FDS | SB_GEN_EMFILE);
  sb_rs_gen u = {.workers = 1, .fds_open = 5000, .fds_limit = 0};
  gen_feed(&u, 3);
  assert_int_equal(sb_rs_gen_causes(&u, 0) | sb_rs_gen_causes(&u, 1), 0);
}

/* The summary's block and handleSummary's JSON: a line per cause (agents, then dropped
 * iterations of arrival-rate scenarios), nothing at all for a calm run. */
static void test_gen_text_and_json(void **state) {
  fixture f;
  fixture_init(&f, "{\"scenarios\": {\"ar\": {\"executor\": \"constant-arrival-rate\", "
                   "\"rate\": 10, \"duration\": \"10s\", \"preAllocatedVUs\": 2}}}", 2);
  f.agents[0].gen = (sb_rs_gen){.workers = 2, .cpu_max_pm = 300, .lag_max_us = 2000,
                                .lag_mean_us = 500, .fds_open = 20, .fds_limit = 1024};
  gen_feed(&f.agents[0].gen, 5);
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_run_state_generator_text(&b, &f.st), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(sb_run_state_generator_json(&b, &f.st), 0);
  assert_non_null(
      strstr(b.data, "{\"saturated\":false,\"causes\":[],\"agents\":[{\"name\":\"a1:6566\""));
  sb_buf_reset(&b);
  char now[200];
  sb_run_state_generator_now(&f.st, now, sizeof(now));
  assert_string_equal(now, "");

  f.agents[1].gen = (sb_rs_gen){.workers = 1, .cpu_max_pm = 990, .lag_max_us = 150000,
                                .lag_mean_us = 40000, .fds_open = 64, .fds_limit = 64,
                                .dial_emfile = 7};
  gen_feed(&f.agents[1].gen, 4);
  fixture_add(&f, SB_M_DROPPED_ITERATIONS, "ar", NULL, 3);
  assert_int_equal(sb_run_state_generator_text(&b, &f.st), 5);
  const char *t = b.data;
  assert_non_null(strstr(t, "WARN the load generator was saturated \xe2\x80\x94 results may "
                            "describe the generator, not the target:\n  - agent a2:6566: a worker "
                            "thread "
                            "was busy (on a CPU or waiting for one) >= 90% of the time for 4.0 s "
                            "of 4.0 s (peak 99%): add agents"));
  assert_non_null(strstr(t, "\n  - agent a2:6566: its event loops ran late by up to 150 ms "
                            "(40.0 ms on average)"));
  assert_non_null(strstr(t, "\n  - agent a2:6566: 64 of its 64 file descriptors were in use: "
                            "raise its limit (`ulimit -n`"));
  assert_non_null(strstr(t, "\n  - agent a2:6566: 7 connections failed with \"too many open "
                            "files\" (limit 64)"));
  assert_non_null(strstr(t, "\n  - scenario ar: 3 iterations dropped"));
  assert_null(strstr(t, "a1:6566"));
  sb_buf_reset(&b);
  assert_int_equal(sb_run_state_generator_json(&b, &f.st), 0);
  assert_non_null(strstr(b.data, "{\"saturated\":true,\"causes\":[{\"agent\":\"a2:6566\","
                                 "\"cause\":\"cpu\",\"message\":\"agent a2:6566: a worker"));
  assert_non_null(strstr(b.data, "{\"scenario\":\"ar\",\"cause\":\"dropped_iterations\""));
  assert_non_null(strstr(b.data, "\"cpu_peak\":0.990,\"loop_lag_max_ms\":150.0,"
                                 "\"loop_lag_mean_ms\":40.0,\"fds_peak_open\":64,\"fds_limit\":64,"
                                 "\"dial_emfile\":7}]}"));
  sb_run_state_generator_now(&f.st, now, sizeof(now));
  assert_string_equal(now, "generator saturated: agent a2:6566 worker CPU 99%");
  sb_buf_clear(&b);
  fixture_clear(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_and_pause),     cmocka_unit_test(test_tick_folds),
      cmocka_unit_test(test_progress_fractions), cmocka_unit_test(test_k6_status),
      cmocka_unit_test(test_gen_cpu_edges),        cmocka_unit_test(test_gen_lag_edges),
      cmocka_unit_test(test_gen_fds_edges),        cmocka_unit_test(test_gen_text_and_json),
      cmocka_unit_test(test_scale_target),       cmocka_unit_test(test_thresholds_live),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
