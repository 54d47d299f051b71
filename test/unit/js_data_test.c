/* k6/data's SharedArray on a plain Duktape heap over a store indexed from a fake archive: values
 * and copies, length, iteration and the Array methods, read-only, the same object per name, the
 * fallback when the archive lacks the array, the errors k6 gives; the index itself (names,
 * nesting, strings with brackets, bad JSON); and the cost of an access compared with a plain
 * array (printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agent/js_modules.h"
#include "common/archive.h"
#include "common/err.h"

static duk_context *ctx;
static sb_archive *ar;
static sb_data_store *store;

static void add_shared(const char *name, const char *json) {
  char an[256];
  assert_int_equal(sb_data_archive_name(name, strlen(name), an, sizeof(an)), 0);
  assert_int_equal(sb_archive_add(ar, an, json, strlen(json)), 0);
}

/* A global "calls" counts the functions SharedArray runs (it must not, for archived arrays). */
static int setup(void **state) {
  sb_err err;
  if (sb_archive_new(&ar)) return -1;
  add_shared("users", "[{\"id\":1,\"name\":\"a\"}, {\"id\":2,\"name\":\"b]\\\"}\"},\n"
                      " {\"id\":3,\"tags\":[1,[2,{\"x\":\"]\"}]]}]");
  add_shared("nums", "[1,2.5,-3e2,true,null,\"s\"]");
  add_shared("empty", " [ ] ");
  add_shared("odd name/../x", "[42]");
  sb_archive_add(ar, "file/data.json", "[1]", 3);
  if (sb_data_store_new(&store, ar, &err)) return -1;
  ctx = duk_create_heap_default();
  sb_js_data_push_store(ctx, store);
  duk_put_global_string(ctx, "data");
  duk_peval_string_noresult(ctx, "var calls = 0; function fn() { calls++; return [9]; }"
                                 "var SA = data.SharedArray;");
  return 0;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx);
  sb_data_store_free(store);
  sb_archive_free(ar);
  return 0;
}

#include "duk_eval.h"

static void test_store_index(void **state) {
  assert_int_equal(sb_data_store_count(store), 4);
  char an[64];
  assert_int_equal(sb_data_archive_name("a b/é", strlen("a b/é"), an, sizeof(an)), 0);
  assert_string_equal(an, "shared/a%20b%2F%C3%A9.json");
  assert_int_equal(sb_data_archive_name("x", 1, an, 13), SB_EINVAL);
}

static void test_bad_json_refused(void **state) {
  static const char *const bad[] = {"{}", "[1,", "[1 2]", "[\"x]", "[[1]", "[1]x", "", "[,]"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sb_archive *a;
    sb_data_store *s = NULL;
    sb_err err;
    err.msg[0] = '\0';
    assert_int_equal(sb_archive_new(&a), 0);
    assert_int_equal(sb_archive_add(a, "shared/x.json", bad[i], strlen(bad[i])), 0);
    if (sb_data_store_new(&s, a, &err) != SB_EFORMAT) fail_msg("accepted '%s'", bad[i]);
    assert_non_null(strstr(err.msg, "shared/x.json"));
    sb_archive_free(a);
  }
}

static void test_values_and_length(void **state) {
  expect("var u = new SA('users', fn); u.length", "3");
  expect("u[0].name + u[1].name + JSON.stringify(u[2].tags)", "ab]\"}[1,[2,{\"x\":\"]\"}]]");
  expect("u['1'].id + ',' + u[3] + ',' + u[-1] + ',' + u['01']", "2,undefined,undefined,undefined");
  expect("var n = new SA('nums', fn); JSON.stringify([n[0], n[1], n[2], n[3], n[4], n[5]])",
         "[1,2.5,-300,true,null,\"s\"]");
  expect("new SA('empty', fn).length", "0");
  expect("new SA('odd name/../x', fn)[0]", "42");
  expect("calls", "0");
}

static void test_copies_and_read_only(void **state) {
  expect("var u = new SA('users', fn); u[0].name = 'z'; u[0].name", "a");
  expect("u[0] === u[0]", "false");
  expect("u[0] = 5; u.length = 0; delete u[1]; u.foo = 1; u.length + ',' + u[0].id + ',' + u.foo",
         "3,1,undefined");
  expect_throw("(function () { 'use strict'; u[0] = 1; })()", "TypeError");
  expect_throw("(function () { 'use strict'; u.push(1); })()", "TypeError");
  expect_throw("u.sort()", "TypeError");
}

static void test_iteration_and_methods(void **state) {
  expect("var u = new SA('users', fn); var s = ''; for (var i = 0; i < u.length; i++) s += u[i].id; s",
         "123");
  expect("s = ''; u.forEach(function (e, i) { s += i + ':' + e.id + ' '; }); s", "0:1 1:2 2:3 ");
  expect("u.map(function (e) { return e.id * 2; }).join()", "2,4,6");
  expect("u.filter(function (e) { return e.id > 1; }).length", "2");
  expect("u.slice(1).map(function (e) { return e.id; }).join()", "2,3");
  expect("u.reduce(function (a, e) { return a + e.id; }, 0)", "6");
  expect("Array.isArray(u) + ',' + (1 in u) + ',' + (3 in u) + ',' + ('length' in u)",
         "true,true,false,true");
  /* Duktape filters Object.keys() and for...in by the target's own (empty) descriptors: only
   * getOwnPropertyNames() sees the indexes. k6 promises length, [i] and for...of only. */
  expect("Object.getOwnPropertyNames(u).join()", "0,1,2");
  expect("var it = u['@@iterator'](), r = [], x; while (!(x = it.next()).done) r.push(x.value.id);"
         " r.join()", "1,2,3");
  expect("typeof Symbol === 'function' && Symbol.iterator ? typeof u[Symbol.iterator] : 'function'",
         "function");
  expect("JSON.stringify(new SA('nums', fn))", "[1,2.5,-300,true,null,\"s\"]");
}

static void test_same_name_same_object(void **state) {
  expect("new SA('users', fn) === new SA('users', function () { return []; })", "true");
  expect("calls", "0");
}

static void test_fallback_calls_fn_once_per_heap(void **state) {
  expect("var f = new SA('missing', fn); f.length + ',' + f[0] + ',' + calls", "1,9,1");
  expect("new SA('missing', fn) === f", "true");
  expect("calls", "1");
  expect("var g = new SA('missing2', function () { return [{a: undefined, b: [1]}]; });"
         " JSON.stringify(g[0])", "{\"b\":[1]}");
  expect_throw("new SA('missing3', function () { return {length: 1}; })",
               "only arrays can be made into SharedArray");
  duk_gc(ctx, 0);
  expect("f[0] + g[0].b[0]", "10");
}

static void test_errors(void **state) {
  expect_throw("new SA('', fn)", "empty name provided to SharedArray's constructor");
  expect_throw("new SA('users')",
               "a function is expected as the second argument of SharedArray's constructor");
  expect_throw("new SA('users', 1)", "TypeError");
}

/* Not asserted: the per-access cost of a SharedArray element against a plain array's, as the
 * note in docs/PERFORMANCE.md reports it. */
static void test_access_cost(void **state) {
  static const char *const js[] = {
      "(function () { var u = new SA('users', fn), t = 0;"
      " for (var i = 0; i < 300000; i++) t += u[i % 3].id; return t; })()",
      "(function () { var p = JSON.parse('[{\"id\":1,\"name\":\"a\"},{\"id\":2},{\"id\":3}]'),"
      " t = 0; for (var i = 0; i < 300000; i++) t += p[i % 3].id; return t; })()",
      "(function () { var u = new SA('users', fn), t = 0;"
      " for (var i = 0; i < 300000; i++) t += u.length; return t; })()",
  };
  static const char *const label[] = {"SharedArray u[i].id", "plain array p[i].id",
                                      "SharedArray u.length"};
  for (int k = 0; k < 3; k++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    eval_str(js[k]);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 300000;
    print_message("  %-22s %7.0f ns per access\n", label[k], ns);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_index),
      cmocka_unit_test(test_bad_json_refused),
      cmocka_unit_test(test_values_and_length),
      cmocka_unit_test(test_copies_and_read_only),
      cmocka_unit_test(test_iteration_and_methods),
      cmocka_unit_test(test_same_name_same_object),
      cmocka_unit_test(test_fallback_calls_fn_once_per_heap),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_access_cost),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
