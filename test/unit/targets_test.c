/* Static targets: URLs in string literals and __ENV values, nothing from placeholders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "controller/targets.h"

static void test_scan(void **state) {
  (void)state;
  sb_targets t = {0};
  const char src[] =
      "http.get('http://127.0.0.1:8080/a?x=1'); http.get(\"https://example.test/b\");\n"
      "http.get(`http://localhost:9000`); http.get(`${BASE}/x`); http.get(`http://${h}/x`);\n"
      "// see http://docs.example.test/ (a comment, no quote before it)\n"
      "var u = 'http://[::1]:7000/'; var v = 'http://127.0.0.1:8080/again'; var w = 'http://';\n"
      "var x = 'ftp://no.test/'; var y = 'http://bad.test:/';";
  assert_int_equal(sb_targets_scan(&t, src, strlen(src)), 0);
  assert_int_equal(t.n, 4);
  assert_string_equal(t.v[0], "127.0.0.1:8080");
  assert_string_equal(t.v[1], "example.test:443");
  assert_string_equal(t.v[2], "localhost:9000");
  assert_string_equal(t.v[3], "[::1]:7000");
  sb_targets_clear(&t);
}

static void test_env_and_cap(void **state) {
  (void)state;
  sb_targets t = {0};
  const char *env[] = {"TARGET", "http://10.1.2.3:81/api", "NAME", "http-ish", "B", "https://b.test", NULL};
  assert_int_equal(sb_targets_collect(&t, NULL, env), 0);
  assert_int_equal(t.n, 2);
  assert_string_equal(t.v[0], "10.1.2.3:81");
  assert_string_equal(t.v[1], "b.test:443");
  sb_targets_clear(&t);
  char big[64 * 40];
  size_t n = 0;
  for (int i = 0; i < 40; i++) n += (size_t)snprintf(big + n, sizeof(big) - n, "'http://h%d.test/' ", i);
  assert_int_equal(sb_targets_scan(&t, big, n), 0);
  assert_int_equal(t.n, SB_TARGETS_MAX);
  sb_targets_clear(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_env_and_cap),
  };
  return cmocka_run_group_tests_name("targets", tests, NULL, NULL);
}
