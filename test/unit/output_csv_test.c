/* Tests for controller/output_csv.c: k6's header, Go's quoting, the tag columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/output_internal.h"

static void test_header(void **state) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_out_csv_header(&b), 0);
  assert_string_equal(b.data, "metric_name,timestamp,metric_value,check,error,error_code,"
                              "expected_response,group,method,name,proto,scenario,service,status,"
                              "subproto,tls_version,url,extra_tags,metadata\n");
  sb_buf_clear(&b);
}

static void expect_field(const char *in, const char *want) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_out_csv_field(&b, in), 0);
  assert_string_equal(b.data ? b.data : "", want);
  sb_buf_clear(&b);
}

/* As Go's encoding/csv: quoted only for a comma, a quote, a line break or a leading space. */
static void test_quoting(void **state) {
  expect_field("", "");
  expect_field("plain", "plain");
  expect_field("a,b", "\"a,b\"");
  expect_field("say \"hi\"", "\"say \"\"hi\"\"\"");
  expect_field("two\nlines", "\"two\nlines\"");
  expect_field(" lead", "\" lead\"");
  expect_field("trail ", "trail ");
  expect_field("\\.", "\"\\.\"");
}

static void test_tags_and_point(void **state) {
  sb_buf t, b;
  sb_buf_init(&t);
  sb_buf_init(&b);
  const char *kv[] = {"check", "is, ok", "group", "::g", "iter", "4", "my", "x&y",
                      "status", "200", "url", "http://h/?a=1", "vu", "2", "zz", "1"};
  assert_int_equal(sb_out_csv_tags(&t, kv, 8), 0);
  assert_string_equal(t.data, ",\"is, ok\",,,,::g,,,,,,200,,,http://h/?a=1,my=x&y&zz=1,iter=4&vu=2\n");
  assert_int_equal(sb_out_csv_point(&b, "http_reqs", t.data, t.len, 1764522245999999, 1), 0);
  assert_string_equal(b.data, "http_reqs,1764522245,1.000000,\"is, ok\",,,,::g,,,,,,200,,,"
                              "http://h/?a=1,my=x&y&zz=1,iter=4&vu=2\n");
  sb_buf_reset(&t);
  assert_int_equal(sb_out_csv_tags(&t, NULL, 0), 0);
  assert_string_equal(t.data, ",,,,,,,,,,,,,,,,\n");
  sb_buf_clear(&t);
  sb_buf_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header),
      cmocka_unit_test(test_quoting),
      cmocka_unit_test(test_tags_and_point),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
