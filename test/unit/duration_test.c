/* Durations: k6/Go syntax parsing, Go-style and k6-summary-style formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/duration.h"

static int64_t ms_of(const char *s) {
  int64_t ms = -1;
  sb_err err = {{0}};
  assert_int_equal(sb_duration_parse_ms(s, &ms, &err), 0);
  return ms;
}

static int64_t us_of(const char *s) {
  int64_t us = -1;
  assert_int_equal(sb_duration_parse_us(s, &us, NULL), 0);
  return us;
}

static void test_parse(void **state) {
  assert_int_equal(ms_of("30s"), 30000);
  assert_int_equal(ms_of("1m30s"), 90000);
  assert_int_equal(ms_of("500ms"), 500);
  assert_int_equal(ms_of("2h"), 7200000);
  assert_int_equal(ms_of("1h2m3s4ms"), 3723004);
  assert_int_equal(ms_of("1.5s"), 1500);
  assert_int_equal(ms_of("0.3s"), 300);
  assert_int_equal(ms_of(".5m"), 30000);
  assert_int_equal(ms_of("1d"), 86400000);
  assert_int_equal(ms_of("250"), 250); /* bare number: ms */
  assert_int_equal(ms_of("0"), 0);
  assert_int_equal(us_of("10us"), 10);
  assert_int_equal(us_of("10\xc2\xb5s"), 10);
  assert_int_equal(us_of("1500ns"), 1);
  assert_int_equal(us_of("1.5"), 1500);
  assert_int_equal(us_of("1.1ms"), 1100);
  assert_int_equal(ms_of("999us"), 0);
}

static void test_parse_refuses(void **state) {
  const char *bad[] = {"", "abc", "-1s", "+1s", "1x", "s", "1s2", "1 s", " 1s", "1e3s",
                       "infs", "nan", "0x10s", ".s", "1..5s", "1s-", "-5"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    int64_t ms = 42;
    sb_err err = {{0}};
    assert_int_equal(sb_duration_parse_ms(bad[i], &ms, &err), SB_EINVAL);
    assert_int_equal(ms, 42);
    assert_non_null(strstr(err.msg, "invalid duration"));
  }
  sb_err err = {{0}};
  int64_t ms;
  assert_int_equal(sb_duration_parse_ms("1x", &ms, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "'1x'"));
  assert_int_equal(sb_duration_parse_ms(NULL, &ms, NULL), SB_EINVAL);
  assert_int_equal(sb_duration_parse_ms("99999999999999999999h", &ms, NULL), SB_EINVAL);
}

static void check_ms(int64_t ms, const char *want) {
  char out[64];
  sb_duration_format_ms(ms, out, sizeof(out));
  assert_string_equal(out, want);
}

static void test_format_ms(void **state) {
  check_ms(630000, "10m30s");
  check_ms(30000, "30s");
  check_ms(180000, "3m0s");
  check_ms(3600000, "1h0m0s");
  check_ms(3723000, "1h2m3s");
  check_ms(1500, "1.5s");
  check_ms(61500, "1m1.5s");
  check_ms(500, "500ms");
  check_ms(1, "1ms");
  check_ms(0, "0s");
  char small[4];
  sb_duration_format_ms(630000, small, sizeof(small)); /* truncated, still terminated */
  assert_int_equal(strlen(small), 3);
}

static void check_value(double ms, const char *want) {
  char out[64];
  sb_duration_format_value(ms, out, sizeof(out));
  assert_string_equal(out, want);
}

/* k6's summary.js truncates (toFixedNoTrailingZerosTrunc), it does not round */
static void test_format_value(void **state) {
  check_value(127.55, "127.55ms");
  check_value(127.559, "127.55ms");
  check_value(0.52, "520µs");
  check_value(0.039671, "39.67µs");
  check_value(0.03967, "39.67µs"); /* 39.67 * 100 is 3966.99...: k6 shows 39.66µs */
  check_value(35.16, "35.16ms");    /* k6: 35.15ms */
  check_value(35.159, "35.15ms");
  check_value(4430.2, "4.43s");
  check_value(4439.9, "4.43s");
  check_value(0, "0s");
  check_value(62000, "1m2s");
  check_value(62999, "1m2s");
  check_value(60000, "1m0s");
  check_value(3723000, "1h2m3s");
  check_value(7200000, "2h0m0s");
  check_value(1, "1ms");
  check_value(1.5, "1.5ms");
  check_value(1000, "1s");
  check_value(59999.0, "59.99s");
  check_value(0.0005, "500ns");
  check_value(0.0009999, "999ns");
  char small[3];
  sb_duration_format_value(127.55, small, sizeof(small));
  assert_string_equal(small, "12");
}

/* Found by test/fuzz/duration_fuzz: past ~5.5e23 ms the minutes did not fit a long long (UB:
 * the summary of a time Trend given a huge value printed "-153722867280912930h-8m..."). */
static void test_format_value_huge(void **state) {
  char out[64];
  sb_duration_format_value(6e23, out, sizeof(out)); /* 1e19 minutes */
  assert_true(strncmp(out, "166666666666666", 15) == 0);
  assert_non_null(strchr(out, 'h'));
  sb_duration_format_value(-1e300, out, sizeof(out));
  assert_true(out[0] == '-' && out[1] >= '1' && out[1] <= '9');
  sb_duration_format_value(1.7e308, out, sizeof(out));
  assert_true(out[0] >= '1' && out[0] <= '9');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_refuses),
      cmocka_unit_test(test_format_ms),
      cmocka_unit_test(test_format_value),
      cmocka_unit_test(test_format_value_huge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
