/* controller/options: k6's shortcut rules, scenarios, defaults, CLI overrides, errors naming the
 * option, and the banner's facts (max duration, max VUs, scenario lines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test/unit/failalloc.h"
#include "controller/options.c"
#include "test/unit/failalloc_off.h"

static sb_options *parse_ok(const char *json, const sb_cli_overrides *cli) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  int rc = sb_options_parse(&o, json, cli, &err);
  if (rc) fail_msg("parse failed: %s", err.msg);
  return o;
}

/* Parses |json| expecting a failure whose message contains |want|. */
static void parse_err(const char *json, const sb_cli_overrides *cli, const char *want) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  int rc = sb_options_parse(&o, json, cli, &err);
  assert_true(rc < 0);
  assert_null(o);
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static void describe_eq(const sb_scenario *s, const char *want) {
  char buf[256];
  sb_scenario_describe(s, buf, sizeof(buf));
  assert_string_equal(buf, want);
}

static void test_nothing_is_one_iteration(void **state) {
  const char *inputs[] = {
      NULL, "", "null", " {} ", "null\n", "{\"vus\": 10}", "{\"scenarios\": {}, \"stages\": []}"};
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    sb_options *o = parse_ok(inputs[i], NULL);
    assert_int_equal(o->nscenarios, 1);
    sb_scenario *s = &o->scenarios[0];
    assert_string_equal(s->name, "default");
    assert_string_equal(s->exec, "default");
    assert_int_equal(s->executor, SB_EXEC_PER_VU_ITERATIONS);
    assert_int_equal(s->vus, 1);
    assert_int_equal(s->iterations, 1);
    assert_int_equal(s->max_duration_ms, 600000);
    assert_int_equal(s->graceful_stop_ms, 30000);
    assert_int_equal(s->start_time_ms, 0);
    /* the seed's banner: "1 scenario, 1 max VUs, 10m30s max duration" */
    assert_int_equal(sb_options_max_duration_ms(o), 630000);
    assert_int_equal(sb_options_max_vus(o), 1);
    describe_eq(s, "1 iterations for each of 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
    assert_int_equal(o->nsummary_trend_stats, 6);
    assert_string_equal(o->summary_trend_stats[4], "p(90)");
    assert_int_equal(o->nthresholds, 0);
    sb_options_free(o);
  }
}

static void test_vus_iterations(void **state) {
  /* the seed's first banner: vus 1 + iterations 1 */
  sb_options *o = parse_ok("{\"vus\": 1, \"iterations\": 1}", NULL);
  describe_eq(&o->scenarios[0],
              "1 iterations shared among 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  sb_options_free(o);
  o = parse_ok("{\"vus\": 100, \"iterations\": 1000}", NULL);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(sb_options_max_vus(o), 100);
  assert_int_equal(sb_options_max_duration_ms(o), 630000);
  describe_eq(&o->scenarios[0],
              "1000 iterations shared among 100 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  sb_options_free(o);

  o = parse_ok("{\"iterations\": 7}", NULL); /* iterations only: 1 VU */
  assert_int_equal(o->scenarios[0].vus, 1);
  assert_int_equal(o->scenarios[0].iterations, 7);
  sb_options_free(o);

  /* iterations + duration: duration becomes maxDuration */
  o = parse_ok("{\"vus\": 2, \"iterations\": 10, \"duration\": \"1m\"}", NULL);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(o->scenarios[0].max_duration_ms, 60000);
  assert_int_equal(sb_options_max_duration_ms(o), 90000);
  describe_eq(&o->scenarios[0],
              "10 iterations shared among 2 VUs (maxDuration: 1m0s, gracefulStop: 30s)");
  sb_options_free(o);
}

static void test_vus_duration(void **state) {
  sb_options *o = parse_ok("{\"vus\": 10, \"duration\": \"30s\"}", NULL);
  sb_scenario *s = &o->scenarios[0];
  assert_int_equal(s->executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(s->vus, 10);
  assert_int_equal(s->duration_ms, 30000);
  describe_eq(s, "10 looping VUs for 30s (gracefulStop: 30s)");
  assert_int_equal(sb_options_max_duration_ms(o), 60000);
  sb_options_free(o);

  o = parse_ok("{\"duration\": 5000}", NULL); /* number = ms; vus default 1 */
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].vus, 1);
  assert_int_equal(o->scenarios[0].duration_ms, 5000);
  sb_options_free(o);
}

static void test_stages(void **state) {
  sb_options *o = parse_ok("{\"stages\": [{\"duration\": \"1m\", \"target\": 200},"
                           "{\"duration\": \"2m\", \"target\": 200}]}",
                           NULL);
  sb_scenario *s = &o->scenarios[0];
  assert_int_equal(s->executor, SB_EXEC_RAMPING_VUS);
  assert_int_equal(s->start_vus, 1);
  assert_int_equal(s->nstages, 2);
  assert_int_equal(s->stages[1].duration_ms, 120000);
  assert_int_equal(s->stages[1].target, 200);
  assert_int_equal(s->graceful_ramp_down_ms, 30000);
  /* the seed's banner: "200 max VUs, 3m30s max duration" */
  assert_int_equal(sb_options_max_vus(o), 200);
  assert_int_equal(sb_options_max_duration_ms(o), 210000);
  describe_eq(s, "Up to 200 looping VUs for 3m0s over 2 stages (gracefulRampDown: 30s, "
                 "gracefulStop: 30s)");
  sb_options_free(o);

  o = parse_ok("{\"vus\": 5, \"stages\": [{\"duration\": \"10s\", \"target\": 3}]}", NULL);
  assert_int_equal(o->scenarios[0].start_vus, 5);
  assert_int_equal(sb_options_max_vus(o), 5);
  sb_options_free(o);

  o = parse_ok("{\"stages\": [], \"vus\": 3, \"duration\": \"10s\"}", NULL); /* empty = none */
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  sb_options_free(o);
}

static void test_scenarios(void **state) {
  sb_options *o = parse_ok(
      "{\"scenarios\": {"
      "\"z_late\": {\"executor\": \"per-vu-iterations\", \"vus\": 2, \"iterations\": 5,"
      "             \"startTime\": \"1m\", \"exec\": \"login\"},"
      "\"b\": {\"executor\": \"constant-vus\", \"vus\": 3, \"duration\": \"45s\","
      "        \"gracefulStop\": 0},"
      "\"a\": {\"executor\": \"ramping-vus\", \"startVUs\": 0, \"gracefulRampDown\": \"5s\","
      "        \"stages\": [{\"duration\": \"20s\", \"target\": 10}]},"
      "\"si\": {\"executor\": \"shared-iterations\"}},"
      "\"summaryTrendStats\": [\"avg\", \"p(99.9)\", \"count\"],"
      "\"discardResponseBodies\": true}",
      NULL);
  assert_int_equal(o->nscenarios, 4);
  /* sorted by startTime, then name */
  assert_string_equal(o->scenarios[0].name, "a");
  assert_string_equal(o->scenarios[1].name, "b");
  assert_string_equal(o->scenarios[2].name, "si");
  assert_string_equal(o->scenarios[3].name, "z_late");
  describe_eq(&o->scenarios[0], "Up to 10 looping VUs for 20s over 1 stages (gracefulRampDown: "
                                "5s, gracefulStop: 30s)");
  describe_eq(&o->scenarios[1], "3 looping VUs for 45s");
  describe_eq(&o->scenarios[2],
              "1 iterations shared among 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  describe_eq(&o->scenarios[3], "5 iterations for each of 2 VUs (maxDuration: 10m0s, exec: "
                                "login, startTime: 1m0s, gracefulStop: 30s)");
  assert_int_equal(o->scenarios[0].start_vus, 0);
  assert_string_equal(o->scenarios[3].exec, "login");
  /* 1m + 10m + 30s */
  assert_int_equal(sb_options_max_duration_ms(o), 690000);
  assert_int_equal(sb_options_max_vus(o), 10 + 3 + 1 + 2);
  assert_int_equal(o->nsummary_trend_stats, 3);
  assert_string_equal(o->summary_trend_stats[1], "p(99.9)");
  assert_true(o->discard_response_bodies);
  sb_options_free(o);
}

static void test_thresholds(void **state) {
  sb_options *o = parse_ok(
      "{\"thresholds\": {"
      "\"http_req_duration\": [\"p(95)<200\", {\"threshold\": \"avg<100\", \"abortOnFail\": true,"
      "                          \"delayAbortEval\": \"10s\"}],"
      "\"checks{my_tag:a b}\": \"rate>0.9\"}}",
      NULL);
  assert_int_equal(o->nthresholds, 3);
  assert_string_equal(o->thresholds[0].metric, "http_req_duration");
  assert_string_equal(o->thresholds[0].expr, "p(95)<200");
  assert_false(o->thresholds[0].abort_on_fail);
  assert_string_equal(o->thresholds[1].expr, "avg<100");
  assert_true(o->thresholds[1].abort_on_fail);
  assert_int_equal(o->thresholds[1].delay_abort_eval_ms, 10000);
  assert_string_equal(o->thresholds[2].metric, "checks{my_tag:a b}");
  assert_string_equal(o->thresholds[2].expr, "rate>0.9");
  sb_options_free(o);
}

static void test_cli_overrides(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.vus = 4;
  /* --vus alone replaces the script's vus */
  sb_options *o = parse_ok("{\"vus\": 2, \"duration\": \"10s\"}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].vus, 4);
  sb_options_free(o);

  /* --iterations replaces the script's duration/stages/scenarios */
  cli.iterations = 8;
  o = parse_ok("{\"scenarios\": {\"x\": {\"executor\": \"constant-vus\", \"duration\": \"5s\"}}}",
               &cli);
  assert_int_equal(o->nscenarios, 1);
  assert_string_equal(o->scenarios[0].name, "default");
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(o->scenarios[0].iterations, 8);
  assert_int_equal(o->scenarios[0].vus, 4);
  sb_options_free(o);
  o = parse_ok("{\"stages\": [{\"duration\": \"1m\", \"target\": 3}]}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  sb_options_free(o);

  /* --stage */
  sb_cli_overrides_init(&cli);
  cli.stages = malloc(2 * sizeof(sb_stage));
  cli.stages[0] = (sb_stage){30000, 10};
  cli.stages[1] = (sb_stage){10000, 0};
  cli.nstages = 2;
  cli.no_thresholds = 1;
  cli.no_summary = 1;
  cli.summary_trend_stats = malloc(sizeof(char *));
  cli.summary_trend_stats[0] = strdup("p(99)");
  cli.nsummary_trend_stats = 1;
  o = parse_ok("{\"vus\": 2, \"iterations\": 4, \"summaryTrendStats\": [\"avg\"]}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_RAMPING_VUS);
  assert_int_equal(o->scenarios[0].start_vus, 2);
  assert_int_equal(o->scenarios[0].nstages, 2);
  assert_int_equal(sb_options_max_duration_ms(o), 70000);
  assert_true(o->no_thresholds);
  assert_true(o->no_summary);
  assert_int_equal(o->nsummary_trend_stats, 1);
  assert_string_equal(o->summary_trend_stats[0], "p(99)");
  sb_options_free(o);
  sb_cli_overrides_clear(&cli);
  assert_null(cli.stages);
  assert_int_equal(cli.vus, -1);

  /* --duration with a script that had both scenarios and a shortcut: the CLI tier wins */
  cli.duration_ms = 20000;
  o = parse_ok("{\"duration\": \"5s\", \"scenarios\": {\"x\": {\"executor\": \"foo\"}}}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].duration_ms, 20000);
  sb_options_free(o);
}

static void test_errors(void **state) {
  parse_err("[1]", NULL, "options: must be an object");
  parse_err("{\"vus\": ", NULL, "options: invalid JSON");
  parse_err("{\"vus\": -1}", NULL, "options.vus: must be a non-negative integer");
  parse_err("{\"vus\": 1.5}", NULL, "options.vus: must be a non-negative integer");
  parse_err("{\"vus\": \"3\"}", NULL, "options.vus: must be a non-negative integer");
  parse_err("{\"vus\": 0, \"duration\": \"10s\"}", NULL, "options.vus: must be > 0");
  parse_err("{\"iterations\": -3}", NULL, "options.iterations: must be a non-negative integer");
  parse_err("{\"vus\": 10, \"iterations\": 5}", NULL,
            "options.iterations: the number of iterations (5) can't be less than the number of "
            "VUs (10)");
  parse_err("{\"duration\": \"abc\"}", NULL, "options.duration: invalid duration 'abc'");
  parse_err("{\"duration\": true}", NULL, "options.duration: must be a duration");
  parse_err("{\"duration\": \"0s\"}", NULL, "options.duration: must be more than 0");
  parse_err("{\"duration\": 500}", NULL, "options.duration: must be at least 1s");
  parse_err("{\"iterations\": 5, \"duration\": 10}", NULL, "options.duration: must be at least 1s");
  parse_err("{\"stages\": [{\"target\": 3}]}", NULL, "options.stages[0].duration: required");
  parse_err("{\"stages\": {}}", NULL, "options.stages: must be an array");
  parse_err("{\"stages\": [{\"duration\": \"1m\"}], \"duration\": \"1m\"}", NULL,
            "using multiple execution config shortcuts (duration, stages)");
  parse_err("{\"iterations\": 3, \"scenarios\": {\"a\": {\"executor\": \"shared-iterations\"}}}",
            NULL, "shortcut (iterations) and \"scenarios\" simultaneously is not allowed");
  parse_err("{\"scenarios\": {\"login\": {\"executor\": \"foo\"}}}", NULL,
            "options.scenarios.login.executor: unknown executor 'foo'");
  parse_err("{\"scenarios\": {\"login\": {\"executor\": \"constant-arrival-rate\"}}}", NULL,
            "options.scenarios.login.executor: executor 'constant-arrival-rate' is not supported "
            "yet");
  parse_err("{\"scenarios\": {\"login\": {\"vus\": 2}}}", NULL,
            "options.scenarios.login.executor: required");
  parse_err("{\"scenarios\": {\"c\": {\"executor\": \"constant-vus\", \"vus\": 2}}}", NULL,
            "options.scenarios.c.duration: required");
  parse_err("{\"scenarios\": {\"c\": {\"executor\": \"constant-vus\", \"vus\": 0, \"duration\": "
            "\"1m\"}}}",
            NULL, "options.scenarios.c.vus: must be > 0");
  parse_err("{\"scenarios\": {\"r\": {\"executor\": \"ramping-vus\"}}}", NULL,
            "options.scenarios.r.stages: at least one stage");
  parse_err("{\"scenarios\": {\"r\": {\"executor\": \"shared-iterations\", \"gracefulStop\": "
            "-1000}}}",
            NULL, "options.scenarios.r.gracefulStop: must not be negative");
  parse_err("{\"scenarios\": {\"p\": {\"executor\": \"per-vu-iterations\", \"maxDuration\": "
            "\"x\"}}}",
            NULL, "options.scenarios.p.maxDuration: invalid duration 'x'");
  parse_err("{\"scenarios\": {\"bad name\": {\"executor\": \"shared-iterations\"}}}", NULL,
            "options.scenarios.bad name:");
  parse_err("{\"scenarios\": []}", NULL, "options.scenarios: must be an object");
  parse_err("{\"thresholds\": {\"x\": 3}}", NULL, "options.thresholds.x: must be a string");
  parse_err("{\"thresholds\": {\"x\": [{\"abortOnFail\": true}]}}", NULL,
            "options.thresholds.x[0].threshold: required");
  parse_err("{\"thresholds\": {\"x\": [{\"threshold\": \"rate<1\", \"abortOnFail\": 1}]}}", NULL,
            "options.thresholds.x[0].abortOnFail: must be true or false");
  parse_err("{\"summaryTrendStats\": [\"avg\", \"p(101)\"]}", NULL,
            "options.summaryTrendStats: unknown stat 'p(101)'");
  parse_err("{\"discardResponseBodies\": \"yes\"}", NULL,
            "options.discardResponseBodies: must be true or false");
}

/* Every allocation failure unwinds to SB_ENOMEM with nothing leaked (ASan checks) and |*out|
 * untouched, until the parse succeeds. */
static void test_alloc_failures(void **state) {
  const char *json =
      "{\"scenarios\": {\"a\": {\"executor\": \"ramping-vus\", \"exec\": \"f\","
      "\"stages\": [{\"duration\": \"1s\", \"target\": 2}]},"
      "\"b\": {\"executor\": \"shared-iterations\"}},"
      "\"thresholds\": {\"x\": [\"rate<1\", {\"threshold\": \"count>1\"}], \"y\": \"avg<2\"},"
      "\"summaryTrendStats\": [\"avg\", \"p(99)\"]}";
  const char *shortcut = "{\"stages\": [{\"duration\": \"1s\", \"target\": 2}]}";
  const char *inputs[] = {json, shortcut};
  for (size_t i = 0; i < 2; i++) {
    long n;
    for (n = 1; n < 1000; n++) {
      sb_options *o = (sb_options *)&n; /* must stay untouched on failure */
      sb_err err;
      alloc_fail_at = n;
      alloc_calls = 0;
      int rc = sb_options_parse(&o, inputs[i], NULL, &err);
      alloc_fail_at = 0;
      if (rc == 0) {
        sb_options_free(o);
        break;
      }
      assert_int_equal(rc, SB_ENOMEM);
      assert_ptr_equal(o, (sb_options *)&n);
    }
    assert_true(n > 5 && n < 1000);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_is_one_iteration),
      cmocka_unit_test(test_vus_iterations),
      cmocka_unit_test(test_vus_duration),
      cmocka_unit_test(test_stages),
      cmocka_unit_test(test_scenarios),
      cmocka_unit_test(test_thresholds),
      cmocka_unit_test(test_cli_overrides),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
