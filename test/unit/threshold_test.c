/* controller/threshold: keys with tag filters, every expression form, errors, type checks, and
 * evaluation on a metric set with known values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test/unit/failalloc.h"
#include "controller/threshold.c"
#include "test/unit/failalloc_off.h"

static void parse_ok(sb_threshold *t, const char *key, const char *expr) {
  sb_err err = {{0}};
  if (sb_threshold_parse(t, key, expr, &err)) fail_msg("'%s' '%s': %s", key, expr, err.msg);
}

static void parse_err(const char *key, const char *expr, const char *want) {
  sb_threshold t;
  sb_err err = {{0}};
  assert_int_equal(sb_threshold_parse(&t, key, expr, &err), SB_EINVAL);
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static void test_keys(void **state) {
  sb_threshold t;
  parse_ok(&t, "http_req_duration", "p(95)<200");
  assert_string_equal(t.metric, "http_req_duration");
  assert_string_equal(t.submetric, "http_req_duration");
  assert_int_equal(t.nfilter, 0);
  sb_threshold_clear(&t);

  parse_ok(&t, "http_req_duration{status:200}", "p(95)<200");
  assert_string_equal(t.metric, "http_req_duration");
  assert_int_equal(t.nfilter, 1);
  assert_string_equal(t.filter[0], "status");
  assert_string_equal(t.filter[1], "200");
  assert_string_equal(t.submetric, "http_req_duration{status:200}");
  sb_threshold_clear(&t);

  parse_ok(&t, " checks { my_tag : a b , other:'x:y' } ", "rate>0.9");
  assert_string_equal(t.metric, "checks");
  assert_int_equal(t.nfilter, 2);
  assert_string_equal(t.filter[0], "my_tag");
  assert_string_equal(t.filter[1], "a b");
  assert_string_equal(t.filter[2], "other");
  assert_string_equal(t.filter[3], "x:y");
  assert_string_equal(t.submetric, "checks{my_tag:a b,other:x:y}");
  assert_string_equal(t.key, " checks { my_tag : a b , other:'x:y' } ");
  sb_threshold_clear(&t);

  parse_err("{a:b}", "rate>0", "thresholds: '{a:b}': missing metric name");
  parse_err("checks{a:b", "rate>0", "thresholds: 'checks{a:b': the tag filter must be");
  parse_err("checks{a:b}x", "rate>0", "the tag filter must be");
  parse_err("checks{ab}", "rate>0", "thresholds: 'checks{ab}': tag filter 'ab' must be tag:value");
}

static void test_exprs(void **state) {
  static const struct {
    const char *expr;
    sb_threshold_agg agg;
    double pct;
    sb_threshold_op op;
    double limit;
  } cases[] = {
      {"avg<200", SB_AGG_AVG, 0, SB_OP_LT, 200},
      {" min >= 1.5 ", SB_AGG_MIN, 0, SB_OP_GE, 1.5},
      {"max<=3e3", SB_AGG_MAX, 0, SB_OP_LE, 3000},
      {"med > -2", SB_AGG_MED, 0, SB_OP_GT, -2},
      {"p(95)<200", SB_AGG_PCT, 95, SB_OP_LT, 200},
      {"p( 99.9 ) < 1500", SB_AGG_PCT, 99.9, SB_OP_LT, 1500},
      {"p(0)==0", SB_AGG_PCT, 0, SB_OP_EQ, 0},
      {"count===10", SB_AGG_COUNT, 0, SB_OP_EQ, 10},
      {"rate!=0.5", SB_AGG_RATE, 0, SB_OP_NE, 0.5},
      {"value==3", SB_AGG_VALUE, 0, SB_OP_EQ, 3},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sb_threshold t;
    parse_ok(&t, "m", cases[i].expr);
    assert_int_equal(t.agg, cases[i].agg);
    assert_true(t.pct == cases[i].pct);
    assert_int_equal(t.op, cases[i].op);
    assert_true(t.limit == cases[i].limit);
    assert_string_equal(t.expr, cases[i].expr);
    sb_threshold_clear(&t);
  }
  parse_err("http_req_duration", "p95<200",
            "thresholds: 'http_req_duration': 'p95<200': unknown aggregation 'p95'");
  parse_err("m", "p(101)<2", "unknown aggregation 'p(101)'");
  parse_err("m", "p()<2", "unknown aggregation 'p()'");
  parse_err("m", "avg 200", "'avg 200': missing operator");
  parse_err("m", "<200", "missing aggregation");
  parse_err("m", "avg<", "missing number");
  parse_err("m", "avg<abc", "'abc' is not a number");
  parse_err("m", "avg=<3", "unknown operator");
  parse_err("m", "avg<3 4", "'3 4' is not a number");
}

static void test_types(void **state) {
  static const struct {
    const char *expr;
    int trend, counter, rate, gauge;
  } cases[] = {
      {"avg<1", 1, 0, 0, 0},  {"min<1", 1, 0, 0, 0},   {"max<1", 1, 0, 0, 0},
      {"med<1", 1, 0, 0, 0},  {"p(90)<1", 1, 0, 0, 0}, {"count<1", 0, 1, 0, 0},
      {"rate<1", 0, 1, 1, 0}, {"value<1", 0, 0, 0, 1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sb_threshold t;
    parse_ok(&t, "x", cases[i].expr);
    assert_int_equal(sb_threshold_check_type(&t, SB_METRIC_TREND, NULL) == 0, cases[i].trend);
    assert_int_equal(sb_threshold_check_type(&t, SB_METRIC_COUNTER, NULL) == 0, cases[i].counter);
    assert_int_equal(sb_threshold_check_type(&t, SB_METRIC_RATE, NULL) == 0, cases[i].rate);
    assert_int_equal(sb_threshold_check_type(&t, SB_METRIC_GAUGE, NULL) == 0, cases[i].gauge);
    sb_threshold_clear(&t);
  }
  sb_threshold t;
  sb_err err;
  parse_ok(&t, "http_reqs", "p(95)<1");
  assert_int_equal(sb_threshold_check_type(&t, SB_METRIC_COUNTER, &err), SB_EINVAL);
  assert_string_equal(err.msg, "thresholds: 'http_reqs': 'p(95)<1': aggregation 'p(95)' does not "
                               "apply to a counter metric (use count or rate)");
  sb_threshold_clear(&t);
}

/* The metrics of a script: my_count, my_gauge, my_rate, my_trend (time), as the compile step
 * lists them. */
static const sb_metric_info custom[] = {
    {"my_count", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
    {"my_gauge", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
    {"my_rate", SB_METRIC_RATE, SB_VALUE_DEFAULT},
    {"my_trend", SB_METRIC_TREND, SB_VALUE_TIME},
};

/* Validates one threshold against the built-ins and |custom|; |want| NULL: must pass. */
static void validate(const char *key, const char *expr, const char *want) {
  sb_threshold t;
  sb_err err = {{0}};
  parse_ok(&t, key, expr);
  int rc = sb_thresholds_validate(&t, 1, custom, sizeof(custom) / sizeof(custom[0]), &err);
  if (!want && rc) fail_msg("%s %s: %s", key, expr, err.msg);
  if (want && (rc != SB_EINVAL || strcmp(err.msg, want)))
    fail_msg("%s %s: rc=%d '%s', want '%s'", key, expr, rc, err.msg, want);
  sb_threshold_clear(&t);
}

/* k6's check before a run: the metric exists (built-in or created at init) and the aggregation
 * fits its type; a tag filter (sub-metric) is checked on its parent. */
static void test_validate(void **state) {
  validate("http_req_duration", "p(95)<200", NULL);
  validate("checks{tag:x}", "rate>0.9", NULL);
  validate("my_count", "count>=1", NULL);
  validate("my_count", "rate<100", NULL);
  validate("my_gauge", "value<3", NULL);
  validate("my_rate", "rate>0.9", NULL);
  for (size_t i = 0; i < 5; i++) {
    static const char *const ok[] = {"avg<1", "min<1", "max<1", "med<1", "p(99.9)<1"};
    validate("my_trend", ok[i], NULL);
  }
  validate("my_trend{tag:x}", "p(95)<200", NULL);
  validate("my_rate{ a : b , c:d }", "rate>0", NULL);

  validate("my_rate", "value<3",
           "thresholds: 'my_rate': 'value<3': aggregation 'value' does not apply to a rate metric "
           "(use rate)");
  validate("my_count", "p(95)<3",
           "thresholds: 'my_count': 'p(95)<3': aggregation 'p(95)' does not apply to a counter "
           "metric (use count or rate)");
  validate("my_gauge", "avg<3",
           "thresholds: 'my_gauge': 'avg<3': aggregation 'avg' does not apply to a gauge metric "
           "(use value)");
  validate("my_trend{tag:x}", "count>0",
           "thresholds: 'my_trend{tag:x}': 'count>0': aggregation 'count' does not apply to a "
           "trend metric (use avg, min, max, med or p(N))");
  validate("nope", "count>0",
           "thresholds: 'nope': no metric name \"nope\" found: neither a built-in metric nor one "
           "the init code creates with k6/metrics");
  validate("nope{a:b}", "count>0",
           "thresholds: 'nope{a:b}': no metric name \"nope\" found: neither a built-in metric nor "
           "one the init code creates with k6/metrics");

  /* without custom metrics only the built-ins exist; the first threshold at fault is named */
  sb_threshold t[2];
  sb_err err = {{0}};
  parse_ok(&t[0], "http_reqs", "count>0");
  parse_ok(&t[1], "my_rate", "rate>0");
  assert_int_equal(sb_thresholds_validate(t, 2, NULL, 0, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "'my_rate': no metric name \"my_rate\" found"));
  assert_int_equal(sb_thresholds_validate(t, 2, custom, 4, &err), 0);
  assert_int_equal(sb_thresholds_validate(t, 0, NULL, 0, &err), 0);
  sb_threshold_clear(&t[0]);
  sb_threshold_clear(&t[1]);
}

/* A set: http_req_duration 1..100 ms with status 200 (1..90) and 500 (91..100); http_reqs 100;
 * checks 3 of 4 true with my_tag a b; a gauge; an untouched custom trend. */
static sb_metrics *fixture(void) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  const char *ok[] = {"status", "200", "method", "GET"},
             *bad[] = {"status", "500", "method", "GET"};
  const sb_tagset *t200 = sb_metrics_tags(m, ok, 2), *t500 = sb_metrics_tags(m, bad, 2);
  for (int i = 1; i <= 100; i++) {
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, i <= 90 ? t200 : t500, i), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, i <= 90 ? t200 : t500, 1), 0);
  }
  const char *ct[] = {"check", "ok", "my_tag", "a b"};
  const sb_tagset *tc = sb_metrics_tags(m, ct, 2);
  for (int i = 0; i < 4; i++)
    assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, tc, i != 0), 0);
  const sb_tagset *none = sb_metrics_tags(m, NULL, 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, none, 7), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, none, 3), 0);
  assert_true(sb_metrics_register(m, "my_trend", SB_METRIC_TREND, SB_VALUE_TIME, NULL) >= 0);
  assert_true(sb_metrics_register(m, "my_rate", SB_METRIC_RATE, SB_VALUE_DEFAULT, NULL) >= 0);
  assert_true(sb_metrics_register(m, "my_count", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL) >= 0);
  return m;
}

static void eval(const sb_metrics *m, const char *key, const char *expr, int skip_empty, int ok,
                 int evaluated, double observed, double tol) {
  sb_threshold t;
  sb_threshold_result r;
  sb_err err = {{0}};
  parse_ok(&t, key, expr);
  if (sb_threshold_eval(&t, m, 10.0, skip_empty, &r, &err))
    fail_msg("%s %s: %s", key, expr, err.msg);
  if (r.ok != ok || r.evaluated != evaluated || r.observed < observed - tol ||
      r.observed > observed + tol)
    fail_msg("%s %s: ok=%d evaluated=%d observed=%g (want %d %d %g)", key, expr, r.ok, r.evaluated,
             r.observed, ok, evaluated, observed);
  sb_threshold_clear(&t);
}

static void test_eval(void **state) {
  sb_metrics *m = fixture();
  eval(m, "http_req_duration", "avg<50.6", 0, 1, 1, 50.5, 1e-9);
  eval(m, "http_req_duration", "avg<50.5", 0, 0, 1, 50.5, 1e-9);
  eval(m, "http_req_duration", "min==1", 0, 1, 1, 1, 0);
  eval(m, "http_req_duration", "max===100", 0, 1, 1, 100, 0);
  eval(m, "http_req_duration", "med<52", 0, 1, 1, 50.5, 1.0);
  eval(m, "http_req_duration", "p(95)<90", 0, 0, 1, 95, 1.5);
  eval(m, "http_req_duration", "p(100)<=100", 0, 1, 1, 100, 0);
  /* tag filters */
  eval(m, "http_req_duration{status:200}", "max<=90", 0, 1, 1, 90, 0);
  eval(m, "http_req_duration{status:500}", "min>90", 0, 1, 1, 91, 0);
  eval(m, "http_req_duration{ status : 500 , method:GET}", "avg==95.5", 0, 1, 1, 95.5, 1e-9);
  eval(m, "http_req_duration{status:404}", "max<1", 0, 1, 1, 0, 0); /* no samples: zeros */
  /* counter: count and rate = count / 10 s */
  eval(m, "http_reqs", "count==100", 0, 1, 1, 100, 0);
  eval(m, "http_reqs", "rate>=10", 0, 1, 1, 10, 1e-9);
  eval(m, "http_reqs{status:500}", "rate<1", 0, 0, 1, 1, 1e-9);
  /* rate metric */
  eval(m, "checks", "rate>0.7", 0, 1, 1, 0.75, 1e-9);
  eval(m, "checks{my_tag:a b}", "rate>0.8", 0, 0, 1, 0.75, 1e-9);
  /* gauge: last value */
  eval(m, "vus", "value==3", 0, 1, 1, 3, 0);
  /* no samples: evaluated on zeros at the end, skipped mid-run */
  eval(m, "my_trend", "p(95)<200", 0, 1, 1, 0, 0);
  eval(m, "my_count", "count>0", 0, 0, 1, 0, 0);
  eval(m, "my_count", "count>0", 1, 1, 0, 0, 0);
  eval(m, "my_rate", "rate<0.1", 0, 1, 1, 0, 0);
  eval(m, "not_registered", "count>0", 0, 0, 1, 0, 0);

  /* an aggregation the metric's type lacks is an error at evaluation */
  sb_threshold t;
  sb_threshold_result r;
  sb_err err;
  parse_ok(&t, "checks", "p(95)<1");
  assert_int_equal(sb_threshold_eval(&t, m, 1, 0, &r, &err), SB_EINVAL);
  assert_non_null(
      strstr(err.msg, "aggregation 'p(95)' does not apply to a rate metric (use rate)"));
  sb_threshold_clear(&t);
  sb_metrics_free(m);
}

static void test_parse_all(void **state) {
  sb_options o = {0};
  sb_threshold_def defs[] = {
      {"http_req_duration", "p(95)<200", 1, 5000},
      {"checks{a:b}", "rate>0.9", 0, 0},
  };
  o.thresholds = defs;
  o.nthresholds = 2;
  sb_threshold *t;
  size_t n;
  sb_err err;
  assert_int_equal(sb_thresholds_parse(&o, &t, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_true(t[0].abort_on_fail);
  assert_int_equal(t[0].delay_abort_eval_ms, 5000);
  assert_string_equal(t[1].submetric, "checks{a:b}");
  sb_thresholds_free(t, n);
  defs[1].expr = "rate>>1";
  assert_int_equal(sb_thresholds_parse(&o, &t, &n, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "thresholds: 'checks{a:b}': 'rate>>1'"));
}

/* Every allocation failure unwinds to SB_ENOMEM with nothing leaked (ASan checks). */
static void test_alloc_failures(void **state) {
  long n;
  for (n = 1; n < 1000; n++) {
    sb_threshold t;
    sb_err err;
    alloc_fail_at = n;
    alloc_calls = 0;
    int rc = sb_threshold_parse(&t, "http_req_duration{a:b, c:d}", "p(99.9)<3", &err);
    alloc_fail_at = 0;
    if (rc == 0) {
      assert_string_equal(t.submetric, "http_req_duration{a:b,c:d}");
      sb_threshold_clear(&t);
      break;
    }
    assert_int_equal(rc, SB_ENOMEM);
  }
  assert_true(n > 4 && n < 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys),           cmocka_unit_test(test_exprs),
      cmocka_unit_test(test_types),          cmocka_unit_test(test_validate),
      cmocka_unit_test(test_eval),           cmocka_unit_test(test_parse_all),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
