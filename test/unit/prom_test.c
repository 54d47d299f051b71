/* controller/prom.h: the Prometheus text exposition of a metric set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/prom.h"

static void expect_line(const char *text, const char *line) {
  if (!strstr(text, line)) fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_every_type(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  const char *kv[] = {"method", "GET", "name", "a \"quoted\" \\ name", "status", "200"};
  const sb_tagset *t = sb_metrics_tags(m, kv, 3);
  assert_non_null(t);
  for (int i = 0; i < 4; i++) assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, 1), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, 0), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, 1), 0);
  for (int i = 1; i <= 100; i++)
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, (double)i), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, sb_metrics_tags(m, NULL, 0), 7), 0);
  int custom = sb_metrics_register(m, "my-counter.x", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL);
  assert_true(custom >= 0);
  const char *ckv[] = {"9lives", "x\ny"};
  assert_int_equal(sb_metrics_add(m, custom, sb_metrics_tags(m, ckv, 1), 2.5), 0);
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_prom_write(&b, m), 0);
  assert_int_equal(sb_buf_append(&b, "", 1), 0);
  const char *x = b.data;
  const char *labels = "{method=\"GET\",name=\"a \\\"quoted\\\" \\\\ name\",status=\"200\"}";
  char line[256];
  expect_line(x, "# TYPE k6_http_reqs_total counter\n");
  snprintf(line, sizeof(line), "k6_http_reqs_total%s 4\n", labels);
  expect_line(x, line);
  expect_line(x, "# TYPE k6_http_req_failed_rate gauge\n");
  snprintf(line, sizeof(line), "k6_http_req_failed_rate%s 0.5\n", labels);
  expect_line(x, line);
  snprintf(line, sizeof(line), "k6_http_req_failed_true_total%s 1\n", labels);
  expect_line(x, line);
  expect_line(x, "# TYPE k6_http_req_duration_seconds summary\n");
  snprintf(line, sizeof(line), "k6_http_req_duration_seconds_count%s 100\n", labels);
  expect_line(x, line);
  snprintf(line, sizeof(line), "k6_http_req_duration_seconds_sum%s 5.0499999999999998\n", labels);
  expect_line(x, line);
  /* quantiles are within the histogram's 1%: 0.5 of 1..100 ms is ~0.050 s */
  const char *q = strstr(x, "k6_http_req_duration_seconds{method=\"GET\",name=\"a \\\"quoted\\\" \\\\ name\",status=\"200\",quantile=\"0.5\"} ");
  assert_non_null(q);
  double v = strtod(strchr(q, '}') + 2, NULL);
  assert_true(v > 0.049 && v < 0.051);
  expect_line(x, "# TYPE k6_vus gauge\nk6_vus 7\n");
  expect_line(x, "k6_my_counter_x_total{_9lives=\"x\\ny\"} 2.5\n");
  /* families in name order, each once */
  assert_true(strstr(x, "k6_http_req_duration") < strstr(x, "k6_http_reqs_total"));
  assert_null(strstr(strstr(x, "# TYPE k6_http_reqs_total") + 1, "# TYPE k6_http_reqs_total"));
  sb_buf_clear(&b);
  sb_metrics_free(m);
}

static void test_empty_set(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_prom_write(&b, m), 0);
  assert_int_equal(b.len, 0); /* no samples, no families */
  sb_buf_clear(&b);
  sb_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_type),
      cmocka_unit_test(test_empty_set),
  };
  return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}
