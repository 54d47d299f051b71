/* controller/run_state: test time and pauses, fleet VUs, per-scenario figures folded from the
 * metrics and the agents' progress, progress fractions, k6's status, the scale target checks,
 * live thresholds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_and_pause),     cmocka_unit_test(test_tick_folds),
      cmocka_unit_test(test_progress_fractions), cmocka_unit_test(test_k6_status),
      cmocka_unit_test(test_scale_target),       cmocka_unit_test(test_thresholds_live),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
