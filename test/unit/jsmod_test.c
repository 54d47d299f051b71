/* common/jsmod.c: compile an in-memory archive, require between modules, caching, cycles,
 * errors with file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/archive.h"
#include "common/err.h"
#include "common/jsmod.h"

static const char META[] = "{\"filename\":\"file:///t/main.js\",\"options\":{}}";

static const char MAIN_JS[] =
    "'use strict';\n"
    "var lib = require('./lib.js');\n"
    "var lib2 = require('./lib.js');\n"
    "var k6 = require('k6');\n"
    "exports.sum = lib.add(2, 3);\n"
    "exports.same = lib === lib2;\n"
    "exports.loads = lib.loads();\n"
    "exports.k6name = k6.name;\n"
    "exports.sameBuiltin = k6 === require('k6');\n"
    "exports.file = __filename;\n"
    "exports.dir = __dirname;\n"
    "exports.cycle = require('./a.js').seen;\n";

static const char LIB_JS[] =
    "var n = 0;\n"
    "n++;\n"
    "exports.add = function (a, b) { return a + b; };\n"
    "exports.loads = function () { return n; };\n";

/* a requires b, b requires a back and sees a's partly filled exports. */
static const char A_JS[] = "exports.early = 'yes';\nexports.seen = require('./b.js').sawEarly;\n";
static const char B_JS[] = "var a = require('./a.js');\nexports.sawEarly = a.early;\n";

/* Throws while loading; requires back up the tree on the way. */
static const char BAD_JS[] =
    "exports.lib = require('../lib.js').add(1, 1);\n"
    "badRuns = (typeof badRuns === 'number' ? badRuns : 0) + 1;\n"
    "throw new Error('bad ' + badRuns);\n";

static int builtin(duk_context *ctx, const char *name, void *ud) {
  int *calls = ud;
  if (strcmp(name, "k6") != 0) return 0;
  (*calls)++;
  duk_push_object(ctx);
  duk_push_string(ctx, "builtin-k6");
  duk_put_prop_string(ctx, -2, "name");
  return 1;
}

static sb_archive *make_archive(const char *main_src) {
  sb_archive *a;
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", main_src, strlen(main_src)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/lib.js", LIB_JS, strlen(LIB_JS)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/a.js", A_JS, strlen(A_JS)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/b.js", B_JS, strlen(B_JS)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/sub/bad.js", BAD_JS, strlen(BAD_JS)), 0);
  assert_int_equal(sb_archive_add(a, "file/t/main.js", "ignored(", 8), 0); /* sources: not compiled */
  return a;
}

/* Compiles, runs the entry in a fresh heap; returns the run's code, exports left on the stack. */
static int run(const char *main_src, duk_context **pctx, sb_program **pp, int *calls, sb_err *err) {
  sb_archive *a = make_archive(main_src);
  int rc = sb_program_new(pp, a, err);
  sb_archive_free(a);
  if (rc) return rc;
  *pctx = duk_create_heap_default();
  assert_non_null(*pctx);
  assert_int_equal(sb_jsmod_install(*pctx, *pp, builtin, calls), 0);
  return sb_jsmod_run_entry(*pctx, err);
}

static void test_exports_cache_cycle(void **state) {
  duk_context *ctx;
  sb_program *p;
  int calls = 0;
  sb_err err = {{0}};
  assert_int_equal(run(MAIN_JS, &ctx, &p, &calls, &err), 0);
  assert_string_equal(sb_program_entry(p), "file:///t/main.js");
  assert_int_equal(duk_get_top(ctx), 1);
  assert_true(duk_get_prop_string(ctx, -1, "sum"));
  assert_int_equal(duk_get_int(ctx, -1), 5);
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "same");
  assert_true(duk_get_boolean(ctx, -1));
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "loads");
  assert_int_equal(duk_get_int(ctx, -1), 1); /* lib's body ran once */
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "k6name");
  assert_string_equal(duk_get_string(ctx, -1), "builtin-k6");
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "sameBuiltin");
  assert_true(duk_get_boolean(ctx, -1));
  duk_pop(ctx);
  assert_int_equal(calls, 1);
  duk_get_prop_string(ctx, -1, "file");
  assert_string_equal(duk_get_string(ctx, -1), "/t/main.js");
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "dir");
  assert_string_equal(duk_get_string(ctx, -1), "/t");
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "cycle");
  assert_string_equal(duk_get_string(ctx, -1), "yes");
  duk_pop_2(ctx);
  /* A second heap loads the same bytecode independently. */
  duk_context *ctx2 = duk_create_heap_default();
  int calls2 = 0;
  assert_int_equal(sb_jsmod_install(ctx2, p, builtin, &calls2), 0);
  assert_int_equal(sb_jsmod_run_entry(ctx2, &err), 0);
  assert_int_equal(calls2, 1);
  duk_destroy_heap(ctx2);
  duk_destroy_heap(ctx);
  sb_program_free(p);
}

static void test_unknown_module(void **state) {
  duk_context *ctx;
  sb_program *p;
  int calls = 0;
  sb_err err = {{0}};
  assert_int_equal(run("var x = 1;\nrequire('k6/nope');\n", &ctx, &p, &calls, &err), SB_ESCRIPT);
  assert_non_null(strstr(err.msg, "unknown module: k6/nope"));
  assert_non_null(strstr(err.msg, "file:///t/main.js:2: Error: "));
  assert_int_equal(duk_get_top(ctx), 0);
  duk_destroy_heap(ctx);
  sb_program_free(p);

  assert_int_equal(run("\n\nrequire('./missing.js');\n", &ctx, &p, &calls, &err), SB_ESCRIPT);
  assert_non_null(strstr(err.msg, "file:///t/main.js:3: Error: cannot find module './missing.js'"));
  duk_destroy_heap(ctx);
  sb_program_free(p);
}

static void test_runtime_error_line(void **state) {
  duk_context *ctx;
  sb_program *p;
  int calls = 0;
  sb_err err = {{0}};
  const char *src = "var a = 1;\n\nfunction f() {\n  throw new TypeError('boom ' + a);\n}\nf();\n";
  assert_int_equal(run(src, &ctx, &p, &calls, &err), SB_ESCRIPT);
  assert_non_null(strstr(err.msg, "file:///t/main.js:4: TypeError: boom 1"));
  assert_non_null(strstr(err.msg, "\n")); /* the stack follows */
  duk_destroy_heap(ctx);
  sb_program_free(p);

  assert_int_equal(run("throw 'plain';\n", &ctx, &p, &calls, &err), SB_ESCRIPT);
  assert_string_equal(err.msg, "plain");
  duk_destroy_heap(ctx);
  sb_program_free(p);
}

/* Like Node: a module whose body threw is not cached, so requiring it again runs it again. */
static void test_failed_module_not_cached(void **state) {
  duk_context *ctx;
  sb_program *p;
  int calls = 0;
  sb_err err = {{0}};
  const char *src = "try { require('./sub/bad.js'); } catch (e) {}\n"
                    "try { require('/t/sub/bad.js'); } catch (e) { exports.msg = e.message; }\n";
  assert_int_equal(run(src, &ctx, &p, &calls, &err), 0);
  duk_get_prop_string(ctx, -1, "msg");
  assert_string_equal(duk_get_string(ctx, -1), "bad 2");
  duk_pop_2(ctx);
  duk_destroy_heap(ctx);
  sb_program_free(p);
}

static void test_syntax_error(void **state) {
  sb_archive *a = make_archive("var ok = 1;\nvar x = ;\n");
  sb_program *p = NULL;
  sb_err err = {{0}};
  assert_int_equal(sb_program_new(&p, a, &err), SB_ESCRIPT);
  assert_null(p);
  assert_non_null(strstr(err.msg, "file:///t/main.js:2: SyntaxError: "));
  sb_archive_free(a);
}

static void test_bad_metadata(void **state) {
  sb_archive *a;
  sb_program *p = NULL;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_program_new(&p, a, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "metadata.json"));
  assert_int_equal(sb_archive_add(a, "metadata.json", "{\"filename\":\"file:///x.js\"}", 27), 0);
  assert_int_equal(sb_program_new(&p, a, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "file:///x.js"));
  assert_null(p);
  sb_archive_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exports_cache_cycle), cmocka_unit_test(test_unknown_module),
      cmocka_unit_test(test_runtime_error_line),  cmocka_unit_test(test_syntax_error),
      cmocka_unit_test(test_failed_module_not_cached),
      cmocka_unit_test(test_bad_metadata),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
