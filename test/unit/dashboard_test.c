/* controller/dashboard.h: the page, its JSON document, and the report that embeds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/dashboard.h"

static void test_page_is_self_contained(void **state) {
  size_t len;
  const char *p = sb_dashboard_page(&len);
  assert_true(len > 1000);
  assert_non_null(memmem(p, len, "/*SB_REPORT*/", 13));
  assert_null(memmem(p, len, "http://", 7)); /* nothing from elsewhere: no CDN */
  assert_null(memmem(p, len, "https://", 8));
  assert_null(memmem(p, len, "<script src", 11));
}

static void test_document(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  const char *kv[] = {"method", "POST", "name", "</script><b>"};
  const sb_tagset *t = sb_metrics_tags(m, kv, 2);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, 1), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, 12), 0);
  sb_timeline tl;
  sb_timeline_init(&tl);
  assert_int_equal(sb_timeline_add(&tl, 1, 1, m, 2), 0);
  sb_dash_threshold th[] = {{"http_req_duration", "p(95)<500", 1}, {"checks", "rate>0.99", 0}};
  sb_dash_check ck[] = {{"status is \"200\"", 9, 1}};
  sb_dash_agent ag[] = {{"a1", NULL, 0, 2, 10, 11, 0.25, 0.5}, {"a2", NULL, 1, 0, 3, 3, 0, 0}};
  sb_dash_input in = {.phase = "running", .elapsed_s = 1.5, .script = "s.js", .timeline = &tl,
                      .total = m, .thresholds = th, .nthresholds = 2, .checks = ck, .nchecks = 1,
                      .agents = ag, .nagents = 2};
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_dashboard_json(&b, &in), 0);
  assert_int_equal(sb_buf_append(&b, "", 1), 0);
  const char *want[] = {
      "{\"status\":{\"phase\":\"running\",\"elapsed\":1.500,\"script\":\"s.js\"},\"timeline\":{",
      "\"urls\":[{\"name\":\"</script><b>\",\"method\":\"POST\",\"reqs\":1,",
      "\"thresholds\":[{\"metric\":\"http_req_duration\",\"expr\":\"p(95)<500\",\"ok\":true},"
      "{\"metric\":\"checks\",\"expr\":\"rate>0.99\",\"ok\":false}]",
      "\"checks\":[{\"name\":\"status is \\\"200\\\"\",\"passes\":9,\"fails\":1}]",
      "\"agents\":[{\"name\":\"a1\",\"state\":\"ok\",\"lost\":false,\"vus\":2,",
      "{\"name\":\"a2\",\"state\":\"lost\",\"lost\":true,"};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    if (!strstr(b.data, want[i])) fail_msg("no '%s' in %s", want[i], b.data);
  /* the report: the page with the document in it, "</" escaped so the script stays whole */
  char path[] = "/tmp/sb-report-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  sb_err err;
  assert_int_equal(sb_report_write(path, b.data, b.len - 1, &err), 0);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char page[1 << 20];
  size_t n = fread(page, 1, sizeof(page) - 1, f);
  fclose(f);
  page[n] = '\0';
  assert_null(strstr(page, "/*SB_REPORT*/"));
  assert_non_null(strstr(page, "var SB_REPORT = {\"status\":{\"phase\":\"running\""));
  assert_non_null(strstr(page, "<\\/script><b>"));
  assert_int_equal(sb_report_write("/nonexistent-dir/r.html", "{}", 2, &err), SB_EIO);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/r.html: "));
  unlink(path);
  sb_buf_clear(&b);
  sb_timeline_clear(&tl);
  sb_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_page_is_self_contained),
      cmocka_unit_test(test_document),
  };
  return cmocka_run_group_tests_name("dashboard", tests, NULL, NULL);
}
