/* controller/summary: k6's end-of-test summary, compared line by line with the workshop seed
 * (/work/shared/seeds/002_*.txt) and with hand-checked layouts: dotted names, aligned columns,
 * kB/MB units, ✓/✗ marks and counts, the check tree (legacy); k6 v1's compact and full layouts
 * worked out by hand from k6's summary.js (v1.8.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test/unit/failalloc.h"
#include "controller/summary.c"
#include "controller/summary_compact.c"
#include "test/unit/failalloc_off.h"

#include "controller/judge.h"

static sb_metrics *new_set(void) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  return m;
}

static void add(sb_metrics *m, int metric, const char *const *kv, size_t n, double v) {
  const sb_tagset *t = sb_metrics_tags(m, kv, n);
  assert_non_null(t);
  assert_int_equal(sb_metrics_add(m, metric, t, v), 0);
}

/* Prints through a memstream (the FILE path) and returns the text (free()). */
static char *render(const sb_summary_input *in) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  assert_int_equal(sb_summary_print(f, in), 0);
  fclose(f);
  return text;
}

/* cmocka truncates long messages: the texts go to stderr whole, the failure names the line. */
static void expect(const char *got, const char *want) {
  if (!strcmp(got, want)) return;
  size_t i = 0;
  while (got[i] && got[i] == want[i]) i++;
  fprintf(stderr, "--- got ---\n%s\n--- want ---\n%s\n", got, want);
  fail_msg("summary differs at byte %zu: got '%.20s', want '%.20s'", i, got + i, want + i);
}

static const char *const er[] = {"expected_response", "true"};

/* The seed's first run: one request, every stat the same value. */
static void test_seed_single_request(void **state) {
  sb_metrics *m = new_set();
  add(m, SB_M_DATA_RECEIVED, NULL, 0, 7800);
  add(m, SB_M_DATA_SENT, NULL, 0, 621);
  add(m, SB_M_HTTP_REQ_BLOCKED, er, 1, 127.55);
  add(m, SB_M_HTTP_REQ_CONNECTING, er, 1, 15.62);
  add(m, SB_M_HTTP_REQ_DURATION, er, 1, 115.28);
  add(m, SB_M_HTTP_REQ_FAILED, er, 1, 0);
  add(m, SB_M_HTTP_REQ_RECEIVING, er, 1, 1.96);
  add(m, SB_M_HTTP_REQ_SENDING, er, 1, 0.52);
  add(m, SB_M_HTTP_REQ_TLS_HANDSHAKING, er, 1, 35.16);
  add(m, SB_M_HTTP_REQ_WAITING, er, 1, 112.79);
  add(m, SB_M_HTTP_REQS, er, 1, 1);
  add(m, SB_M_ITERATION_DURATION, NULL, 0, 242.31);
  add(m, SB_M_ITERATIONS, NULL, 0, 1);
  sb_summary_input in = {.metrics = m, .duration_s = 1 / 4.117856};
  char *got = render(&in);
  expect(got, "\n"
              "     data_received..................: 7.8 kB 32 kB/s\n"
              "     data_sent......................: 621 B  2.6 kB/s\n"
              "     http_req_blocked...............: avg=127.55ms min=127.55ms med=127.55ms "
              "max=127.55ms p(90)=127.55ms p(95)=127.55ms\n"
              "     http_req_connecting............: avg=15.62ms  min=15.62ms  med=15.62ms  "
              "max=15.62ms  p(90)=15.62ms  p(95)=15.62ms\n"
              "     http_req_duration..............: avg=115.28ms min=115.28ms med=115.28ms "
              "max=115.28ms p(90)=115.28ms p(95)=115.28ms\n"
              "       { expected_response:true }...: avg=115.28ms min=115.28ms med=115.28ms "
              "max=115.28ms p(90)=115.28ms p(95)=115.28ms\n"
              "     http_req_failed................: 0.00%  ✓ 0        ✗ 1\n"
              "     http_req_receiving.............: avg=1.96ms   min=1.96ms   med=1.96ms   "
              "max=1.96ms   p(90)=1.96ms   p(95)=1.96ms\n"
              "     http_req_sending...............: avg=520µs    min=520µs    med=520µs    "
              "max=520µs    p(90)=520µs    p(95)=520µs\n"
              "     http_req_tls_handshaking.......: avg=35.16ms  min=35.16ms  med=35.16ms  "
              "max=35.16ms  p(90)=35.16ms  p(95)=35.16ms\n"
              "     http_req_waiting...............: avg=112.79ms min=112.79ms med=112.79ms "
              "max=112.79ms p(90)=112.79ms p(95)=112.79ms\n"
              "     http_reqs......................: 1      4.117856/s\n"
              "     iteration_duration.............: avg=242.31ms min=242.31ms med=242.31ms "
              "max=242.31ms p(90)=242.31ms p(95)=242.31ms\n"
              "     iterations.....................: 1      4.117856/s\n"
              "\n");
  free(got);
  sb_metrics_free(m);
}

/* The seed's second run's counters, rates and gauges: MB/kB units, 6-decimal rates, the ✓/✗
 * counts and the gauge columns aligned with the counters' rates. */
static void test_seed_columns(void **state) {
  sb_metrics *m = new_set();
  add(m, SB_M_DATA_RECEIVED, NULL, 0, 3200000);
  add(m, SB_M_DATA_SENT, NULL, 0, 130000);
  add(m, SB_M_HTTP_REQ_BLOCKED, NULL, 0, 0);
  add(m, SB_M_HTTP_REQ_DURATION, er, 1, 4430);
  for (int i = 0; i < 1000; i++) {
    add(m, SB_M_HTTP_REQ_FAILED, NULL, 0, i < 14);
    add(m, SB_M_HTTP_REQS, NULL, 0, 1);
    add(m, SB_M_ITERATIONS, NULL, 0, 1);
  }
  add(m, SB_M_VUS, NULL, 0, 100);
  add(m, SB_M_VUS, NULL, 0, 8);
  add(m, SB_M_VUS_MAX, NULL, 0, 100);
  sb_summary_input in = {.metrics = m, .duration_s = 1000 / 25.861591};
  char *got = render(&in);
  expect(got, "\n"
              "     data_received..................: 3.2 MB 83 kB/s\n"
              "     data_sent......................: 130 kB 3.4 kB/s\n"
              "     http_req_blocked...............: avg=0s    min=0s    med=0s    max=0s    "
              "p(90)=0s    p(95)=0s\n"
              "     http_req_duration..............: avg=4.43s min=4.43s med=4.43s max=4.43s "
              "p(90)=4.43s p(95)=4.43s\n"
              "       { expected_response:true }...: avg=4.43s min=4.43s med=4.43s max=4.43s "
              "p(90)=4.43s p(95)=4.43s\n"
              "     http_req_failed................: 1.40%  ✓ 14        ✗ 986\n"
              "     http_reqs......................: 1000   25.861591/s\n"
              "     iterations.....................: 1000   25.861591/s\n"
              "     vus............................: 8      min=8       max=100\n"
              "     vus_max........................: 100    min=100     max=100\n"
              "\n");
  free(got);
  sb_metrics_free(m);
}

static void parse(sb_threshold *t, const char *key, const char *expr) {
  sb_err err;
  if (sb_threshold_parse(t, key, expr, &err)) fail_msg("%s", err.msg);
}

/* Marks: ✗ for a failed threshold, ✓ for passed ones, sub-metric rows for thresholds, a metric
 * with a threshold and no samples shown on zeros; summaryTrendStats with count and p(99.9). */
static void test_thresholds_and_stats(void **state) {
  sb_metrics *m = new_set();
  const char *const s200[] = {"expected_response", "true", "status", "200"};
  const char *const s500[] = {"expected_response", "false", "status", "500"};
  for (int i = 1; i <= 10; i++)
    add(m, SB_M_HTTP_REQ_DURATION, i <= 8 ? s200 : s500, 2, 1000);
  add(m, SB_M_HTTP_REQ_FAILED, s500, 2, 1);
  add(m, SB_M_HTTP_REQ_FAILED, s200, 2, 0);
  assert_true(sb_metrics_register(m, "errors", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL) >= 0);
  sb_threshold th[4];
  parse(&th[0], "http_req_duration", "p(95)<200");
  parse(&th[1], "http_req_failed", "rate<0.6");
  parse(&th[2], "http_req_duration{status:500}", "max<2000");
  parse(&th[3], "errors", "count<10");
  sb_threshold_result res[4] = {{0, 1, 1000}, {1, 1, 0.5}, {1, 1, 1000}, {1, 1, 0}};
  const char *const stats[] = {"count", "p(99.9)"};
  sb_summary_input in = {.metrics = m,
                         .trend_stats = stats,
                         .ntrend_stats = 2,
                         .thresholds = th,
                         .results = res,
                         .nthresholds = 4,
                         .duration_s = 2};
  char *got = render(&in);
  expect(got, "\n"
              "   ✓ errors.........................: 0      0/s\n"
              "   ✗ http_req_duration..............: count=10 p(99.9)=1s\n"
              "       { expected_response:true }...: count=8  p(99.9)=1s\n"
              "     ✓ { status:500 }...............: count=2  p(99.9)=1s\n"
              "   ✓ http_req_failed................: 50.00% ✓ 1 ✗ 1\n"
              "\n");
  free(got);
  for (int i = 0; i < 4; i++)
    sb_threshold_clear(&th[i]);
  sb_metrics_free(m);
}

/* The check tree: root checks, groups (nested, one with only nested checks), the ↳ line. */
static void test_checks_tree(void **state) {
  sb_metrics *m = new_set();
  const char *const st[] = {"check", "is status 200", "group", ""};
  const char *const body[] = {"check", "body ok", "group", ""};
  const char *const tok[] = {"check", "token", "group", "::login"};
  const char *const x[] = {"check", "x", "group", "::login::inner"};
  const char *const deep[] = {"check", "deep", "group", "::only::nested"};
  for (int i = 0; i < 1000; i++)
    add(m, SB_M_CHECKS, st, 2, i < 980);
  add(m, SB_M_CHECKS, body, 2, 1);
  add(m, SB_M_CHECKS, tok, 2, 1);
  add(m, SB_M_CHECKS, x, 2, 1);
  add(m, SB_M_CHECKS, x, 2, 0);
  add(m, SB_M_CHECKS, deep, 2, 1);
  sb_summary_input in = {.metrics = m, .duration_s = 1};
  char *got = render(&in);
  /* in the order of first appearance (the script's), not by name, as k6 prints them */
  expect(got, "\n"
              "     ✗ is status 200\n"
              "      ↳  98% — ✓ 980 / ✗ 20\n"
              "     ✓ body ok\n"
              "\n"
              "     █ login\n"
              "\n"
              "       ✓ token\n"
              "\n"
              "       █ inner\n"
              "\n"
              "         ✗ x\n"
              "          ↳  50% — ✓ 1 / ✗ 1\n"
              "\n"
              "     █ only\n"
              "\n"
              "       █ nested\n"
              "\n"
              "         ✓ deep\n"
              "\n"
              "     checks...: 97.91% ✓ 984 ✗ 21\n"
              "\n");
  free(got);
  sb_metrics_free(m);
}

/* Names sort as JS localeCompare does: case-blind, '_' before digits before letters. */
static void test_sort_order(void **state) {
  sb_metrics *m = new_set();
  const char *names[] = {"Zeta", "alpha", "a_b", "a1", "Alpha2"};
  add(m, SB_M_DATA_SENT, NULL, 0, 1);
  for (size_t i = 0; i < 5; i++) {
    int id = sb_metrics_register(m, names[i], SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL);
    assert_true(id >= 0);
    add(m, id, NULL, 0, 1);
  }
  sb_summary_input in = {.metrics = m, .duration_s = 1};
  char *got = render(&in);
  expect(got, "\n"
              "     a_b.........: 1   1/s\n"
              "     a1..........: 1   1/s\n"
              "     alpha.......: 1   1/s\n"
              "     Alpha2......: 1   1/s\n"
              "     data_sent...: 1 B 1 B/s\n"
              "     Zeta........: 1   1/s\n"
              "\n");
  free(got);
  sb_metrics_free(m);
}

static void test_humanize(void **state) {
  static const struct {
    double v;
    sb_metric_type type;
    sb_value_type contains;
    const char *want;
  } cases[] = {
      {0, SB_METRIC_COUNTER, SB_VALUE_DATA, "0 B"},
      {9, SB_METRIC_COUNTER, SB_VALUE_DATA, "9 B"},
      {2.5, SB_METRIC_COUNTER, SB_VALUE_DATA, "2.5 B"},
      {999, SB_METRIC_COUNTER, SB_VALUE_DATA, "999 B"},
      {1000, SB_METRIC_COUNTER, SB_VALUE_DATA, "1.0 kB"},
      {7849, SB_METRIC_COUNTER, SB_VALUE_DATA, "7.8 kB"},
      {32119, SB_METRIC_COUNTER, SB_VALUE_DATA, "32 kB"},
      {3.2e6, SB_METRIC_COUNTER, SB_VALUE_DATA, "3.2 MB"},
      {1.5e9, SB_METRIC_COUNTER, SB_VALUE_DATA, "1.5 GB"},
      {0.014, SB_METRIC_RATE, SB_VALUE_DEFAULT, "1.40%"},
      {0.99999, SB_METRIC_RATE, SB_VALUE_DEFAULT, "99.99%"},
      {1, SB_METRIC_RATE, SB_VALUE_DEFAULT, "100.00%"},
      {25.8615912, SB_METRIC_COUNTER, SB_VALUE_DEFAULT, "25.861591"},
      {25.5, SB_METRIC_COUNTER, SB_VALUE_DEFAULT, "25.5"},
      {1000, SB_METRIC_COUNTER, SB_VALUE_DEFAULT, "1000"},
      {-0.0000001, SB_METRIC_GAUGE, SB_VALUE_DEFAULT, "0"},
      {127.55, SB_METRIC_TREND, SB_VALUE_TIME, "127.55ms"},
      {1.0 / 0.0, SB_METRIC_COUNTER, SB_VALUE_DATA, "Infinity"},
      {-1.0 / 0.0, SB_METRIC_GAUGE, SB_VALUE_DEFAULT, "-Infinity"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[64];
    sb_summary_humanize(cases[i].v, cases[i].type, cases[i].contains, out, sizeof(out));
    if (strcmp(out, cases[i].want))
      fail_msg("%g: got '%s', want '%s'", cases[i].v, out, cases[i].want);
  }
}

/* Thresholds on custom metrics through the judge (controller/judge.h), as a run does: the init
 * context's metrics registered in the merge set before any sample, samples as the agents send
 * them, a sub-metric with a tag filter, a time trend in ms, and a metric that never got a sample
 * still judged (on zeros) and shown. */
static void test_custom_metrics_judged(void **state) {
  static const sb_metric_info custom[] = {
      {"my_count", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
      {"my_gauge", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
      {"my_rate", SB_METRIC_RATE, SB_VALUE_DEFAULT},
      {"my_trend", SB_METRIC_TREND, SB_VALUE_TIME},
      {"never", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
  };
  sb_threshold_def defs[] = {
      {"my_count", "count==8", 0, 0},          {"my_gauge", "value>0", 0, 0},
      {"my_rate", "rate>0.9", 0, 0},           {"my_trend", "p(95)<=100", 0, 0},
      {"my_trend{kind:fast}", "max<20", 0, 0}, {"never", "count>0", 0, 0},
  };
  sb_options o = {0};
  o.thresholds = defs;
  o.nthresholds = sizeof(defs) / sizeof(defs[0]);
  sb_judge *j;
  sb_err err = {{0}};
  if (sb_judge_new(&j, &o, custom, sizeof(custom) / sizeof(custom[0]), &err))
    fail_msg("%s", err.msg);
  sb_metrics *m = new_set();
  assert_int_equal(sb_judge_register_metrics(j, m, &err), 0);
  const char *const fast[] = {"kind", "fast"}, *const slow[] = {"kind", "slow"};
  for (int i = 0; i < 4; i++) {
    add(m, sb_metrics_find(m, "my_count"), NULL, 0, 2);
    add(m, sb_metrics_find(m, "my_gauge"), NULL, 0, i + 1);
    add(m, sb_metrics_find(m, "my_rate"), NULL, 0, i % 2 == 0);
    add(m, sb_metrics_find(m, "my_trend"), fast, 1, 10);
    add(m, sb_metrics_find(m, "my_trend"), slow, 1, 100);
  }
  assert_int_equal(sb_judge_finish(j, m, 2), 0);
  assert_string_equal(sb_judge_failed_metrics(j), "my_rate, never");
  char *got = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&got, &len);
  assert_non_null(f);
  sb_judge_print_summary(j, f, m, 2);
  fclose(f);
  expect(got,
         "\n"
         "   ✓ my_count..........: 8      4/s\n"
         "   ✓ my_gauge..........: 4      min=1 max=4\n"
         "   ✗ my_rate...........: 50.00% ✓ 2   ✗ 2\n"
         "   ✓ my_trend..........: avg=55ms min=10ms med=55.01ms max=100ms p(90)=100ms p(95)=100ms\n"
         "     ✓ { kind:fast }...: avg=10ms min=10ms med=10ms    max=10ms  p(90)=10ms  p(95)=10ms\n"
         "   ✗ never.............: 0      0/s\n"
         "\n");
  free(got);
  sb_metrics_free(m);
  sb_judge_free(j);

  /* a mismatch or an unknown metric is refused when the judge is made */
  defs[1].expr = "rate>0";
  assert_int_equal(sb_judge_new(&j, &o, custom, 5, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "'my_gauge': 'rate>0': aggregation 'rate' does not apply"));
  defs[1].expr = "value>0";
  assert_int_equal(sb_judge_new(&j, &o, custom, 4, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "'never': no metric name \"never\" found"));
  /* --no-thresholds: nothing to check */
  o.no_thresholds = 1;
  assert_int_equal(sb_judge_new(&j, &o, NULL, 0, &err), 0);
  sb_judge_free(j);
}

/* k6 v1's compact layout: thresholds (a sub-metric under its parent, a counter's count and
 * rate), the checks as three metrics and a flat list (a check of a group too), the metrics by
 * category with custom ones first, the HTTP phase timings and checks left out, one alignment for
 * every category. */
static void test_compact(void **state) {
  sb_metrics *m = new_set();
  const char *const ok[] = {"check", "ok", "group", ""}, *const bad[] = {"check", "bad", "group", "::g"};
  for (int i = 0; i < 2; i++) {
    add(m, SB_M_HTTP_REQ_DURATION, er, 1, 100);
    add(m, SB_M_HTTP_REQ_BLOCKED, er, 1, 1);
    add(m, SB_M_HTTP_REQ_FAILED, er, 1, 0);
    add(m, SB_M_HTTP_REQS, er, 1, 1);
    add(m, SB_M_ITERATIONS, NULL, 0, 1);
    add(m, SB_M_CHECKS, ok, 2, 1);
    add(m, SB_M_CHECKS, bad, 2, i);
  }
  add(m, SB_M_VUS, NULL, 0, 1);
  int id = sb_metrics_register(m, "my_counter", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL);
  add(m, id, NULL, 0, 3);
  sb_threshold th[4];
  parse(&th[0], "http_req_duration", "p(95)<200");
  parse(&th[1], "http_req_duration{expected_response:true}", " max<50 ");
  parse(&th[2], "http_reqs", "count>1");
  parse(&th[3], "http_reqs", "rate<100");
  sb_threshold_result res[4] = {{1, 1, 0}, {0, 1, 0}, {1, 1, 0}, {1, 1, 0}};
  sb_summary_input in = {.metrics = m, .thresholds = th, .results = res, .nthresholds = 4,
                         .duration_s = 1, .mode = SB_SUMMARY_COMPACT};
  char *got = render(&in);
  const char *t = "avg=100ms min=100ms med=100ms max=100ms p(90)=100ms p(95)=100ms\n";
  char want[4096];
  snprintf(want, sizeof(want),
           "\n"
           "\n"
           "  █ THRESHOLDS\n"
           "\n"
           "    http_req_duration\n"
           "    ✓ 'p(95)<200' p(95)=100ms\n"
           "\n"
           "      {expected_response:true}\n"
           "      ✗ 'max<50' max=100ms\n"
           "\n"
           "    http_reqs\n"
           "    ✓ 'count>1' count=2\n"
           "    ✓ 'rate<100' rate=2/s\n"
           "\n"
           "\n"
           "  █ TOTAL RESULTS\n"
           "\n"
           "    checks_total.......: 4      4/s\n"
           "    checks_succeeded...: 75.00%% 3 out of 4\n"
           "    checks_failed......: 25.00%% 1 out of 4\n"
           "\n"
           "    ✓ ok\n"
           "    ✗ bad\n"
           "      ↳  50%% — ✓ 1 / ✗ 1\n"
           "\n"
           "    CUSTOM\n"
           "    my_counter.....................: 3     3/s\n"
           "\n"
           "    HTTP\n"
           "    http_req_duration..............: %s"
           "      { expected_response:true }...: %s"
           "    http_req_failed................: 0.00%% 0 out of 2\n"
           "    http_reqs......................: 2     2/s\n"
           "\n"
           "    EXECUTION\n"
           "    iterations.....................: 2     2/s\n"
           "    vus............................: 1     min=1      max=1\n"
           "\n"
           "\n"
           "\n",
           t, t);
  expect(got, want);
  free(got);
  for (int i = 0; i < 4; i++)
    sb_threshold_clear(&th[i]);
  sb_metrics_free(m);
}

/* The full layout: every metric, then a GROUP section per group of the default scenario (each
 * with its own checks and metrics, nested groups as "↳ GROUP:") and a SCENARIO section per
 * other scenario with its groups; group_duration is never shown, the vus gauge (no scenario) only
 * in the totals. */
static void test_full(void **state) {
  sb_metrics *m = new_set();
  const char *const ok[] = {"check", "ok", "group", "", "scenario", "default"};
  const char *const in_g[] = {"check", "in_g", "group", "::g", "scenario", "default"};
  const char *const sc[] = {"check", "sc_check", "group", "::h", "scenario", "api"};
  const char *const gn[] = {"group", "::g::n", "scenario", "default"};
  const char *const api[] = {"group", "", "scenario", "api"};
  const char *const g[] = {"group", "::g", "scenario", "default"};
  add(m, SB_M_CHECKS, ok, 3, 1);
  add(m, SB_M_CHECKS, in_g, 3, 1);
  add(m, SB_M_CHECKS, sc, 3, 0);
  add(m, SB_M_HTTP_REQS, gn, 2, 1);
  add(m, SB_M_HTTP_REQS, api, 2, 2);
  add(m, SB_M_GROUP_DURATION, g, 2, 5);
  add(m, SB_M_VUS, NULL, 0, 1);
  sb_summary_input in = {.metrics = m, .duration_s = 1, .mode = SB_SUMMARY_FULL};
  char *got = render(&in);
  expect(got, "\n"
              "\n"
              "  █ TOTAL RESULTS\n"
              "\n"
              "    checks_total.......: 3      3/s\n"
              "    checks_succeeded...: 66.66% 2 out of 3\n"
              "    checks_failed......: 33.33% 1 out of 3\n"
              "\n"
              "    ✓ ok\n"
              "    ✓ in_g\n"
              "    ✗ sc_check\n"
              "      ↳  0% — ✓ 0 / ✗ 1\n"
              "\n"
              "    HTTP\n"
              "    http_reqs...: 3 3/s\n"
              "\n"
              "    EXECUTION\n"
              "    vus.........: 1 min=1 max=1\n"
              "\n"
              "\n"
              "  █ GROUP: g\n"
              "\n"
              "    checks_total.......: 1       1/s\n"
              "    checks_succeeded...: 100.00% 1 out of 1\n"
              "    checks_failed......: 0.00%   0 out of 1\n"
              "\n"
              "    ✓ in_g\n"
              "\n"
              "    ↳ GROUP: n\n"
              "\n"
              "      HTTP\n"
              "      http_reqs...: 1 1/s\n"
              "\n"
              "\n"
              "  █ SCENARIO: api\n"
              "\n"
              "    checks_total.......: 1       1/s\n"
              "    checks_succeeded...: 0.00%   0 out of 1\n"
              "    checks_failed......: 100.00% 1 out of 1\n"
              "\n"
              "    ✗ sc_check\n"
              "      ↳  0% — ✓ 0 / ✗ 1\n"
              "\n"
              "    HTTP\n"
              "    http_reqs...: 2 2/s\n"
              "\n"
              "    ↳ GROUP: h\n"
              "\n"
              "      checks_total.......: 1       1/s\n"
              "      checks_succeeded...: 0.00%   0 out of 1\n"
              "      checks_failed......: 100.00% 1 out of 1\n"
              "\n"
              "      ✗ sc_check\n"
              "          ↳  0% — ✓ 0 / ✗ 1\n"
              "\n"
              "\n"
              "\n");
  free(got);
  /* disabled prints nothing */
  in.mode = SB_SUMMARY_DISABLED;
  got = render(&in);
  expect(got, "");
  free(got);
  sb_metrics_free(m);
}

/* summaryTimeUnit fixes the unit of every time, two decimals (k6's humanizeDuration), in every
 * layout; the modes parse by k6's names. */
static void test_time_unit_and_modes(void **state) {
  sb_metrics *m = new_set();
  add(m, SB_M_ITERATION_DURATION, NULL, 0, 1234.5);
  const char *const stats[] = {"avg"};
  sb_summary_input in = {.metrics = m, .trend_stats = stats, .ntrend_stats = 1, .duration_s = 1,
                         .time_unit = "ms"};
  char *got = render(&in);
  expect(got, "\n     iteration_duration...: avg=1234.50ms\n\n");
  free(got);
  in.time_unit = "s";
  got = render(&in);
  expect(got, "\n     iteration_duration...: avg=1.23s\n\n");
  free(got);
  in.time_unit = "us";
  in.mode = SB_SUMMARY_COMPACT;
  got = render(&in);
  expect(got, "\n\n  █ TOTAL RESULTS\n\n    EXECUTION\n"
              "    iteration_duration...: avg=1234500.00µs\n\n\n\n");
  free(got);
  sb_metrics_free(m);
  sb_summary_mode mode;
  sb_err err;
  assert_int_equal(sb_summary_mode_parse("full", &mode, &err), 0);
  assert_int_equal(mode, SB_SUMMARY_FULL);
  assert_int_equal(sb_summary_mode_parse("legacy", &mode, &err), 0);
  assert_int_equal(mode, SB_SUMMARY_LEGACY);
  assert_int_equal(sb_summary_mode_parse("Compact", &mode, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "expected compact, full, legacy or disabled"));
  assert_string_equal(sb_summary_mode_name(SB_SUMMARY_COMPACT), "compact");
}

/* Every allocation failure gives SB_ENOMEM with nothing leaked (ASan checks), until the full
 * summary comes out. */
static void test_alloc_failures(void **state) {
  sb_metrics *m = new_set();
  const char *const c1[] = {"check", "a", "group", "::g::h"};
  const char *const c2[] = {"check", "b", "group", "::g", "scenario", "s"};
  add(m, SB_M_CHECKS, c1, 2, 0);
  add(m, SB_M_CHECKS, c2, 3, 1);
  add(m, SB_M_HTTP_REQ_DURATION, er, 1, 3);
  add(m, SB_M_VUS, NULL, 0, 3);
  sb_threshold th;
  parse(&th, "http_req_duration{status:200}", "avg<1");
  sb_threshold_result res = {1, 1, 0};
  sb_summary_input in = {
      .metrics = m, .thresholds = &th, .results = &res, .nthresholds = 1, .duration_s = 1};
  for (int mode = SB_SUMMARY_LEGACY; mode <= SB_SUMMARY_FULL; mode++) {
  in.mode = (sb_summary_mode)mode;
  sb_buf want;
  sb_buf_init(&want);
  assert_int_equal(sb_summary_format(&want, &in), 0);
  long n;
  for (n = 1; n < 1000; n++) {
    sb_buf b;
    sb_buf_init(&b);
    alloc_fail_at = n;
    alloc_calls = 0;
    int rc = sb_summary_format(&b, &in);
    alloc_fail_at = 0;
    if (rc == 0) {
      assert_string_equal(b.data, want.data);
      sb_buf_clear(&b);
      break;
    }
    assert_int_equal(rc, SB_ENOMEM);
    sb_buf_clear(&b);
  }
  assert_true(n > 5 && n < 1000);
  sb_buf_clear(&want);
  }
  sb_threshold_clear(&th);
  sb_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed_single_request),  cmocka_unit_test(test_seed_columns),
      cmocka_unit_test(test_thresholds_and_stats), cmocka_unit_test(test_checks_tree),
      cmocka_unit_test(test_sort_order),           cmocka_unit_test(test_humanize),
      cmocka_unit_test(test_custom_metrics_judged),
      cmocka_unit_test(test_compact),              cmocka_unit_test(test_full),
      cmocka_unit_test(test_time_unit_and_modes),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
