/* controller/timeline.h: per-interval points and the per-name table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controller/timeline.h"

static void fill(sb_metrics *m, const char *name, int reqs, int failed, double ms) {
  const char *kv[] = {"method", "GET", "name", name};
  const sb_tagset *t = sb_metrics_tags(m, kv, 2);
  for (int i = 0; i < reqs; i++) {
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, 1), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, i < failed), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, ms), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_DATA_RECEIVED, t, 100), 0);
  }
}

static void test_points_and_json(void **state) {
  sb_metrics *a, *b;
  assert_int_equal(sb_metrics_new(&a), 0);
  assert_int_equal(sb_metrics_new(&b), 0);
  fill(a, "/x", 10, 1, 20);
  fill(b, "/y", 4, 0, 40);
  sb_timeline tl;
  sb_timeline_init(&tl);
  assert_int_equal(sb_timeline_add(&tl, 1, 1, a, 3), 0);
  assert_int_equal(sb_timeline_add(&tl, 2, 1, b, 5), 0);
  assert_int_equal(tl.n, 2);
  assert_true(tl.p[0].reqs == 10 && tl.p[0].failed == 1 && tl.p[0].received == 1000);
  assert_true(tl.p[0].p50 > 19.7 && tl.p[0].p50 < 20.3);
  assert_true(tl.p[1].vus == 5 && tl.p[1].reqs == 4 && tl.p[1].max == 40);
  sb_buf out;
  sb_buf_init(&out);
  assert_int_equal(sb_timeline_json(&tl, 1, &out), 0);
  assert_int_equal(sb_buf_append(&out, "", 1), 0);
  if (strncmp(out.data, "{\"cols\":[\"t\",\"secs\",\"vus\",\"reqs\",\"failed\"", 40) != 0)
    fail_msg("%s", out.data);
  assert_non_null(strstr(out.data, "\"rows\":[[2,1,5,4,0,")); /* only from point 1 */
  assert_null(strstr(out.data, "],["));
  sb_buf_clear(&out);
  /* the table over the cumulative set: busiest first */
  assert_int_equal(sb_metrics_merge(a, b, NULL), 0);
  sb_buf_init(&out);
  assert_int_equal(sb_timeline_urls_json(a, 10, &out), 0);
  assert_int_equal(sb_buf_append(&out, "", 1), 0);
  const char *x = out.data;
  if (!strstr(x, "[{\"name\":\"/x\",\"method\":\"GET\",\"reqs\":10,\"failed\":1,\"avg\":") ||
      !strstr(x, "},{\"name\":\"/y\",\"method\":\"GET\",\"reqs\":4,\"failed\":0,"))
    fail_msg("%s", x);
  sb_buf_clear(&out);
  sb_buf_init(&out);
  assert_int_equal(sb_timeline_urls_json(a, 1, &out), 0); /* limited */
  assert_int_equal(sb_buf_append(&out, "", 1), 0);
  assert_null(strstr(out.data, "/y"));
  sb_buf_clear(&out);
  sb_timeline_clear(&tl);
  sb_metrics_free(a);
  sb_metrics_free(b);
}

static void test_empty_interval(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_timeline tl;
  sb_timeline_init(&tl);
  assert_int_equal(sb_timeline_add(&tl, 1, 1, m, 0), 0);
  assert_true(tl.p[0].reqs == 0 && tl.p[0].p99 == 0);
  sb_buf out;
  sb_buf_init(&out);
  assert_int_equal(sb_timeline_json(&tl, 0, &out), 0);
  assert_int_equal(sb_buf_append(&out, "", 1), 0);
  assert_non_null(strstr(out.data, "\"rows\":[[1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]]}"));
  sb_buf_clear(&out);
  sb_timeline_clear(&tl);
  sb_metrics_free(m);
}

/* From the cumulative set: each point is the difference since the previous one, percentiles of
 * that interval's requests only. */
static void test_from_totals(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_timeline tl;
  sb_timeline_init(&tl);
  fill(m, "/x", 10, 2, 10);
  assert_int_equal(sb_timeline_add_total(&tl, 1, m, 4), 0);
  fill(m, "/x", 5, 0, 100);
  assert_int_equal(sb_timeline_add_total(&tl, 3, m, 6), 0);
  assert_int_equal(tl.n, 2);
  assert_true(tl.p[0].reqs == 10 && tl.p[0].failed == 2 && tl.p[0].secs == 1);
  assert_true(tl.p[0].p99 > 9.8 && tl.p[0].p99 < 10.2);
  assert_true(tl.p[1].reqs == 5 && tl.p[1].failed == 0 && tl.p[1].secs == 2 && tl.p[1].vus == 6);
  assert_true(tl.p[1].p50 > 98 && tl.p[1].p50 < 102); /* only the second interval's requests */
  assert_true(tl.p[1].avg > 98 && tl.p[1].avg < 102);
  assert_int_equal(sb_timeline_add_total(&tl, 4, m, 6), 0); /* nothing new */
  assert_true(tl.p[2].reqs == 0 && tl.p[2].p50 == 0);
  sb_timeline_clear(&tl);
  sb_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_points_and_json),
      cmocka_unit_test(test_empty_interval),
      cmocka_unit_test(test_from_totals),
  };
  return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
