/* Module paths: specifier resolution, built-ins, archive entry names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/modpath.h"

static void check(const char *base, const char *spec, const char *want) {
  char out[512];
  sb_err err = {{0}};
  int rc = sb_modpath_resolve(base, spec, out, sizeof(out), &err);
  if (rc) fail_msg("resolve(%s, %s): %s", base, spec, err.msg);
  assert_string_equal(out, want);
}

static void test_builtin(void **state) {
  assert_true(sb_modpath_is_builtin("k6"));
  assert_true(sb_modpath_is_builtin("k6/http"));
  assert_true(sb_modpath_is_builtin("k6/x/foo"));
  assert_false(sb_modpath_is_builtin("k6x"));
  assert_false(sb_modpath_is_builtin("./k6"));
  check("file:///s/a.js", "k6", "k6");
  check("file:///s/a.js", "k6/http", "k6/http");
  check("file:///s/a.js", "k6/x/sql", "k6/x/sql");
  check(NULL, "k6/metrics", "k6/metrics");
}

static void test_relative(void **state) {
  check("file:///home/u/s/main.js", "./lib.js", "file:///home/u/s/lib.js");
  check("file:///home/u/s/main.js", "../lib.js", "file:///home/u/lib.js");
  check("file:///home/u/s/main.js", "./a/./b/../c.js", "file:///home/u/s/a/c.js");
  check("file:///main.js", "../../x.js", "file:///x.js"); /* ".." stops at the root */
  check("file:///home/u/s/main.js", "/etc/lib.js", "file:///etc/lib.js");
  check(NULL, "/abs/x.js", "file:///abs/x.js");
  check("https://ex.com/libs/v1/m.js", "./u.js", "https://ex.com/libs/v1/u.js");
  check("https://ex.com/libs/v1/m.js", "../u.js", "https://ex.com/libs/u.js");
  check("https://ex.com/libs/v1/m.js", "/top.js", "https://ex.com/top.js");
  check("https://ex.com", "./u.js", "https://ex.com/u.js");
  check("https://ex.com/a/m.js", "./u.js?v=1/../2", "https://ex.com/a/u.js?v=1/../2");
}

static void test_absolute_urls(void **state) {
  check("file:///s/a.js", "https://jslib.k6.io/x/1.0/index.js",
        "https://jslib.k6.io/x/1.0/index.js");
  check("file:///s/a.js", "https://h/a/../b/./c.js", "https://h/b/c.js");
  check("file:///s/a.js", "file:///x/../y.js", "file:///y.js");
}

static void test_refusals(void **state) {
  char out[64];
  sb_err err = {{0}};
  assert_int_equal(sb_modpath_resolve("file:///s/a.js", "lodash", out, sizeof(out), &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "unknown module 'lodash'"));
  memset(&err, 0, sizeof(err));
  assert_int_equal(sb_modpath_resolve("file:///s/a.js", "ftp://h/x.js", out, sizeof(out), &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "ftp://h/x.js"));
  assert_int_equal(sb_modpath_resolve("file:///s/a.js", "", out, sizeof(out), NULL), SB_EINVAL);
  assert_int_equal(sb_modpath_resolve(NULL, "./a.js", out, sizeof(out), NULL), SB_EINVAL);
  memset(&err, 0, sizeof(err));
  assert_int_equal(sb_modpath_resolve("file:///a-rather-long-directory-name/and-more/main.js",
                                      "./a-long-module-name.js", out, 32, &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "too long"));
}

static void test_from_file(void **state) {
  char out[4096], want[4096], cwd[2048];
  assert_int_equal(sb_modpath_from_file("/a/./b/../c.js", out, sizeof(out), NULL), 0);
  assert_string_equal(out, "file:///a/c.js");
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(sb_modpath_from_file("s/x.js", out, sizeof(out), NULL), 0);
  snprintf(want, sizeof(want), "file://%s/s/x.js", cwd);
  assert_string_equal(out, want);
  assert_string_equal(sb_modpath_file_path("file:///a/c.js"), "/a/c.js");
  assert_null(sb_modpath_file_path("https://h/p"));
}

static void test_to_archive(void **state) {
  char out[256];
  assert_int_equal(sb_modpath_to_archive("file:///a/b.js", 0, out, sizeof(out)), 0);
  assert_string_equal(out, "file/a/b.js");
  assert_int_equal(sb_modpath_to_archive("https://h/p", 0, out, sizeof(out)), 0);
  assert_string_equal(out, "https/h/p");
  assert_int_equal(sb_modpath_to_archive("file:///a/b.js", 1, out, sizeof(out)), 0);
  assert_string_equal(out, "es5/file/a/b.js");
  assert_int_equal(sb_modpath_to_archive("https://h/p", 1, out, sizeof(out)), 0);
  assert_string_equal(out, "es5/https/h/p");
  assert_int_equal(sb_modpath_to_archive("k6/http", 0, out, sizeof(out)), SB_EINVAL);
  assert_int_equal(sb_modpath_to_archive("file:///a/b.js", 1, out, 8), SB_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_builtin),     cmocka_unit_test(test_relative),
      cmocka_unit_test(test_absolute_urls), cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_from_file),   cmocka_unit_test(test_to_archive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
