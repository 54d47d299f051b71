/* Tests for controller/output_json.c: numbers, times and strings as Go's encoder writes them, and
 * k6's Metric and Point records. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "controller/output_internal.h"

static void expect_number(double v, const char *want) {
  char out[40];
  size_t n = sb_out_json_number(v, out);
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
}

/* The expected strings are what Go's json.Marshal(float64) prints. */
static void test_numbers_as_go(void **state) {
  expect_number(1, "1");
  expect_number(0, "0");
  expect_number(-2.5, "-2.5");
  expect_number(0.1, "0.1");
  expect_number(0.1 + 0.2, "0.30000000000000004");
  expect_number(105.928183, "105.928183");
  expect_number(12345.678, "12345.678");
  expect_number(0.000001, "0.000001");
  expect_number(1e-7, "1e-7");
  expect_number(1.5e-10, "1.5e-10");
  expect_number(-3.25e-8, "-3.25e-8");
  expect_number(1e15, "1000000000000000");
  expect_number(123456789012345680000.0, "123456789012345680000");
  expect_number(1e21, "1e+21");
  expect_number(2.5e300, "2.5e+300");
  expect_number(0.2695010006427765, "0.2695010006427765");
  expect_number(1.0 / 3, "0.3333333333333333");
  expect_number(NAN, "null");
  expect_number(INFINITY, "null");
}

static void expect_time(int64_t us, const char *want) {
  sb_buf b;
  sb_buf_init(&b);
  sb_out_timefmt tf;
  sb_out_timefmt_init(&tf);
  assert_int_equal(sb_out_json_time(&b, &tf, us), 0);
  assert_string_equal(b.data, want);
  sb_buf_clear(&b);
}

static void test_times_as_go(void **state) {
  setenv("TZ", "UTC0", 1);
  tzset();
  expect_time(1764522245123456, "\"2025-11-30T17:04:05.123456Z\"");
  expect_time(1764522245120000, "\"2025-11-30T17:04:05.12Z\"");
  expect_time(1764522245000000, "\"2025-11-30T17:04:05Z\"");
  setenv("TZ", "<+0230>-2:30", 1);
  tzset();
  expect_time(1764522245000001, "\"2025-11-30T19:34:05.000001+02:30\"");
  setenv("TZ", "<-05>5", 1);
  tzset();
  expect_time(1764522245500000, "\"2025-11-30T12:04:05.5-05:00\"");
  setenv("TZ", "UTC0", 1);
  tzset();
}

static void test_strings(void **state) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_out_json_string(&b, "a\"b\\c\n\t\x01<&> é \xe2\x80\xa8x"), 0);
  assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001<&> é \\u2028x\"");
  sb_buf_clear(&b);
}

static void test_tags_and_metadata(void **state) {
  sb_buf b;
  sb_buf_init(&b);
  const char *kv[] = {"iter", "3", "method", "GET", "status", "200", "vu", "1"};
  assert_int_equal(sb_out_json_tags(&b, kv, 4), 0);
  assert_string_equal(b.data, "{\"method\":\"GET\",\"status\":\"200\"},\"metadata\":{\"iter\":\"3\",\"vu\":\"1\"}");
  sb_buf_reset(&b);
  assert_int_equal(sb_out_json_tags(&b, NULL, 0), 0);
  assert_string_equal(b.data, "{}");
  sb_buf_clear(&b);
}

static void test_metric_record(void **state) {
  sb_threshold t[3];
  sb_err err;
  assert_int_equal(sb_threshold_parse(&t[0], "http_req_duration", "p(95)<500", &err), 0);
  assert_int_equal(sb_threshold_parse(&t[1], "http_req_duration{status:200}", "max<900", &err), 0);
  assert_int_equal(sb_threshold_parse(&t[2], "http_req_duration", "avg<100", &err), 0);
  t[2].abort_on_fail = 1;
  t[2].delay_abort_eval_ms = 10000;
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_out_json_metric(&b, "http_req_duration", SB_METRIC_TREND, SB_VALUE_TIME, t, 3), 0);
  assert_string_equal(b.data,
                      "{\"type\":\"Metric\",\"data\":{\"name\":\"http_req_duration\",\"type\":\"trend\","
                      "\"contains\":\"time\",\"thresholds\":[\"p(95)<500\",{\"threshold\":\"avg<100\","
                      "\"abortOnFail\":true,\"delayAbortEval\":\"10s\"}],\"submetrics\":[{\"name\":"
                      "\"http_req_duration{status:200}\",\"suffix\":\"status:200\",\"tags\":{\"status\":"
                      "\"200\"}}]},\"metric\":\"http_req_duration\"}\n");
  sb_buf_reset(&b);
  assert_int_equal(sb_out_json_metric(&b, "vus", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL, 0), 0);
  assert_string_equal(b.data, "{\"type\":\"Metric\",\"data\":{\"name\":\"vus\",\"type\":\"gauge\","
                              "\"contains\":\"default\",\"thresholds\":[],\"submetrics\":null},"
                              "\"metric\":\"vus\"}\n");
  sb_buf_clear(&b);
  for (int i = 0; i < 3; i++) sb_threshold_clear(&t[i]);
}

static void test_point_record(void **state) {
  setenv("TZ", "UTC0", 1);
  tzset();
  sb_buf b;
  sb_buf_init(&b);
  sb_out_timefmt tf;
  sb_out_timefmt_init(&tf);
  const char tags[] = "{\"status\":\"200\"}";
  assert_int_equal(sb_out_json_point(&b, &tf, "\"http_reqs\"", tags, strlen(tags),
                                     1764522245123456, 1), 0);
  assert_string_equal(b.data, "{\"metric\":\"http_reqs\",\"type\":\"Point\",\"data\":{\"time\":"
                              "\"2025-11-30T17:04:05.123456Z\",\"value\":1,\"tags\":"
                              "{\"status\":\"200\"}}}\n");
  sb_buf_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numbers_as_go),   cmocka_unit_test(test_times_as_go),
      cmocka_unit_test(test_strings),         cmocka_unit_test(test_tags_and_metadata),
      cmocka_unit_test(test_metric_record),   cmocka_unit_test(test_point_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
