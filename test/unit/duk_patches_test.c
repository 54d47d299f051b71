/* The behaviour of Speedboat's Duktape patches (scripts/duktape-*.patch): what a script can see
 * must be what ES2015 says, only made later or not at all when nothing can see it.
 *   lazy-proto:  a function's automatic .prototype is made on first use;
 *                strict functions have no own caller/arguments throwers.
 *   namebinding: a named function expression binds its name only when its body may look it up.
 *   own-next:    sb_duk_own_next() walks a plain object's own properties as for-in would.
 *   quick-destroy: destroying a heap finalizes every object that has a finalizer without
 *                marking the heap three times first.
 *   sb-put-own:  sb_duk_put_own() defines an own data property without [[Set]]'s prototype walk.
 *   sb-skip-compact: a closure's property table is allocated at its final size once, and
 *                compacting a table that is already exact does not copy it.
 * And what the patches are for: such closures are freed by reference counting, without a
 * mark-and-sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/duk_ext.h"
#include "duktape.h"

static duk_context *ctx;

#include "duk_eval.h"

/* Counts live allocations, so a test can see garbage that waits for mark-and-sweep, and all
 * allocations made, so a test can see a table allocated twice. */
static long live, allocs;

static void *count_alloc(void *ud, duk_size_t n) {
  (void)ud;
  void *p = malloc(n ? n : 1);
  if (p) live++, allocs++;
  return p;
}

static void *count_realloc(void *ud, void *p, duk_size_t n) {
  (void)ud;
  if (!p) return count_alloc(ud, n);
  if (n == 0) {
    free(p);
    live--;
    return NULL;
  }
  return realloc(p, n);
}

static void count_free(void *ud, void *p) {
  (void)ud;
  if (p) live--;
  free(p);
}

static int setup(void **state) {
  (void)state;
  ctx = duk_create_heap(count_alloc, count_realloc, count_free, NULL, NULL);
  return ctx ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  duk_destroy_heap(ctx);
  return 0;
}

static void prototype_is_there_when_used(void **state) {
  (void)state;
  expect("function F() { this.a = 1; } F.prototype.b = 2; var o = new F(); o.a + o.b", "3");
  expect("(function () {}).prototype.constructor.length", "0");
  expect("var g = function (x, y) {}; g.prototype.constructor === g", "true");
  expect("function H() {} new H() instanceof H", "true");
  expect("function I() {} Object.getPrototypeOf(new I()) === I.prototype", "true");
  expect("(function () {}).hasOwnProperty('prototype')", "true");
  expect("'prototype' in function () {}", "true");
  expect("Object.getOwnPropertyNames(function () {}).indexOf('prototype') >= 0", "true");
  expect("Object.keys(function () {}).length", "0"); /* not enumerable */
  expect("var d = Object.getOwnPropertyDescriptor(function () {}, 'prototype');"
         "[d.writable, d.enumerable, d.configurable].join()", "true,false,false");
  expect("(function () { 'use strict'; var f = function () {}; try { delete f.prototype; return 'deleted'; }"
         " catch (e) { return e.name; } })()", "TypeError");
  expect("var j = function () {}; j.prototype = { k: 5 }; new j().k", "5");
  /* Not constructable: no prototype, as before. */
  expect("({ m() {} }).m.prototype === undefined", "true");
  expect("Math.max.prototype === undefined", "true");
}

static void prototype_with_frozen_functions(void **state) {
  (void)state;
  expect("var f = function () {}; Object.freeze(f); Object.isFrozen(f) && "
         "!Object.getOwnPropertyDescriptor(f, 'prototype').writable", "true");
  expect("var s = function () {}; Object.seal(s); s.prototype.constructor === s", "true");
  expect("var p = function () {}; Object.preventExtensions(p); typeof p.prototype", "object");
}

static void babel_classes_work(void **state) {
  (void)state;
  /* What Babel 6 makes of `class A { get v() {...} } class B extends A {...}`. */
  expect("var A = (function () { function A() { this.x = 1; }"
         "  Object.defineProperty(A.prototype, 'v', { get: function () { return this.x + 1; } });"
         "  return A; })();"
         "var B = (function (_A) { function B() { _A.call(this); this.y = 3; }"
         "  B.prototype = Object.create(_A.prototype, { constructor: { value: B } });"
         "  Object.setPrototypeOf(B, _A); return B; })(A);"
         "var b = new B(); [b.v, b.y, b instanceof A, B.prototype.constructor === B].join()",
         "2,3,true,true");
}

static void strict_functions_have_no_own_throwers(void **state) {
  (void)state;
  expect("(function () { 'use strict'; return function () {}; })().hasOwnProperty('caller')",
         "false");
  expect("(function () { 'use strict'; return function () {}; })().hasOwnProperty('arguments')",
         "false");
}

static void named_function_expressions_still_bind(void **state) {
  (void)state;
  expect("var g = function fact(n) { return n ? n * fact(n - 1) : 1; }; g(5)", "120");
  expect("var h = function me() { return function () { return me; }; }; h()() === h", "true");
  expect("var e = function ev() { return eval('ev'); }; e() === e", "true");
  expect("var n = { 'status 200': function status200(r) { return r.status === 200; } };"
         "n['status 200']({ status: 200 }) + ' ' + n['status 200'].name", "true status200");
  /* A parameter or variable of the same name shadows the function's name, as in ES5. */
  expect("var sh = function x(x) { return x; }; sh(7)", "7");
}

/* What the patches are for: a check-style closure per call leaves no garbage behind. */
static void closures_freed_without_gc(void **state) {
  (void)state;
  duk_gc(ctx, 0);
  duk_gc(ctx, 0);
  /* What Babel makes of `check(r, { 'status 200': (r) => r.status === 200 })`. */
  expect("var sink = 0; function check(v, o) { for (var k in o) sink += o[k](v) ? 1 : 0; }"
         "function iter(r) { check(r, { 'status 200': function status200(x) {"
         " return x.status === 200; } }); }"
         "iter({ status: 200 }); sink", "1");
  long before = live;
  expect("for (var i = 0; i < 2000; i++) iter({ status: 200 }); sink", "2001");
  /* Without the patches every call left a closure, a prototype and an environment: thousands. */
  assert_true(live - before < 100);
}

/* The keys sb_duk_own_next() gives for the object |js| evaluates to, "k=v,k=v", or "-1" when
 * it declines the object. */
static const char *own_walk(const char *js) {
  static char out[256];
  if (duk_peval_string(ctx, js) != 0) fail_msg("%s: %s", js, duk_safe_to_string(ctx, -1));
  duk_uint_t pos = 0;
  duk_int_t rc;
  size_t n = 0;
  out[0] = '\0';
  while ((rc = sb_duk_own_next(ctx, -1, &pos)) == 1) {
    n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s=%s", n ? "," : "",
                          duk_to_string(ctx, -2), duk_safe_to_string(ctx, -1));
    duk_pop_2(ctx);
  }
  if (rc < 0) snprintf(out, sizeof(out), "-1");
  duk_pop(ctx);
  return out;
}

static void own_next_walks_like_for_in(void **state) {
  (void)state;
  assert_string_equal(own_walk("({ b: 1, a: 2, 'status 200': 3 })"), "b=1,a=2,status 200=3");
  assert_string_equal(own_walk("({})"), "");
  assert_string_equal(own_walk("var o = { x: 1, y: 2, z: 3 }; delete o.y; o"), "x=1,z=3");
  assert_string_equal(own_walk("var p = Object.create({ inherited: 1 }); p.own = 2; p"), "own=2");
  assert_string_equal(own_walk("Object.defineProperty({ a: 1 }, 'hidden', { value: 2 })"), "a=1");
  /* What it declines, so that the caller's duk_enum keeps for-in's rules: index keys (they come
   * first in for-in order), accessors (they run code), arrays and other exotic objects. */
  assert_string_equal(own_walk("({ b: 1, 2: 2 })"), "-1");
  assert_string_equal(own_walk("({ get g() { return 1; } })"), "-1");
  assert_string_equal(own_walk("[1, 2]"), "-1");
  assert_string_equal(own_walk("new Proxy({ a: 1 }, {})"), "-1");
  assert_string_equal(own_walk("var s = {}; s[Symbol('x')] = 1; s.a = 2; s"), "-1");
}

static int setter_calls;

static duk_ret_t count_setter(duk_context *c) {
  (void)c;
  setter_calls++;
  return 0;
}

/* What k6/http's Response is built with: own, writable, enumerable, configurable properties,
 * whatever the prototype has of the same name. */
static void put_own_defines_own_properties(void **state) {
  (void)state;
  eval_str("var proto = {}; var obj = Object.create(proto); obj");
  duk_push_c_function(ctx, count_setter, 1);
  duk_put_global_string(ctx, "setter");
  expect("Object.defineProperty(proto, 'lazy', { set: setter, get: function () { return 'p'; },"
         " configurable: true }); Object.defineProperty(proto, 'ro', { value: 1 }); 1", "1");
  duk_get_global_string(ctx, "obj");
  duk_push_string(ctx, "lazy");
  duk_push_int(ctx, 7);
  sb_duk_put_own(ctx, -3);
  duk_push_string(ctx, "ro");
  duk_push_int(ctx, 8);
  sb_duk_put_own(ctx, -3);
  duk_push_string(ctx, "plain");
  duk_push_string(ctx, "v");
  sb_duk_put_own(ctx, -3);
  assert_int_equal(duk_get_top(ctx), 1); /* key and value taken */
  duk_pop(ctx);
  assert_int_equal(setter_calls, 0);
  expect("[obj.lazy, obj.ro, obj.plain, Object.keys(obj).join()].join()", "7,8,v,lazy,ro,plain");
  expect("var d = Object.getOwnPropertyDescriptor(obj, 'ro');"
         "[d.writable, d.enumerable, d.configurable].join()", "true,true,true");
  expect("obj.plain = 'w'; delete obj.lazy; [obj.plain, obj.lazy].join()", "w,p");
}

/* Closures keep every property they had, and their table is allocated once: a check() callback
 * per call cost an extra allocation and copy when the compaction at its end resized it. */
static void closures_sized_once(void **state) {
  (void)state;
  expect("function outer(a, b) { return function named(x, y, z) { return a + x; }; }"
         "var c = outer(1, 2); [c.length, c.name, c(2), typeof c.prototype].join()",
         "3,named,3,object");
  expect("var anon = (function () { return function (r) { return r.status === 200; }; })();"
         "[anon.length, anon.name, anon({ status: 200 })].join()", "1,,true");
  expect("Object.getOwnPropertyNames(outer(1, 2)).sort().join()", "fileName,length,name,prototype");
  expect("var o = { a: 1, b: 2, c: 3 }; delete o.b; Duktape.compact(o); Object.keys(o).join()",
         "a,c");
  /* What Babel makes of `{ 'status 200': (r) => r.status === 200 }`. */
  eval_str("function make() { return { 'status 200': function (r) { return r.status === 200; } }; }"
           "make()");
  long before = allocs;
  expect("for (var i = 0; i < 1000; i++) make(); 1", "1");
  /* Per call 5 allocations (the object literal, the closure, their property tables, the
   * literal's growth); a second table per closure made 6. */
  if (allocs - before > 5 * 1000 + 100) fail_msg("%ld allocations for 1000 calls", allocs - before);
}

static int finalized;

static duk_ret_t count_finalizer(duk_context *c) {
  (void)c;
  finalized++;
  return 0;
}

/* Reachable objects, an unreachable cycle and a rescued-then-dropped object are all finalized
 * once when the heap goes. */
static void destroy_runs_every_finalizer(void **state) {
  (void)state;
  duk_context *c = duk_create_heap_default();
  finalized = 0;
  duk_push_c_function(c, count_finalizer, 1);
  duk_put_global_string(c, "fin");
  duk_eval_string_noresult(c,
      "var keep = {}; Duktape.fin(keep, fin);"                      /* reachable */
      "(function () { var a = {}, b = { a: a }; a.b = b; Duktape.fin(a, fin); })();" /* cycle */
      "var arr = []; for (var i = 0; i < 5; i++) { var o = {}; Duktape.fin(o, fin); arr.push(o); }");
  assert_int_equal(finalized, 0);
  duk_destroy_heap(c);
  assert_int_equal(finalized, 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(prototype_is_there_when_used, setup, teardown),
      cmocka_unit_test_setup_teardown(prototype_with_frozen_functions, setup, teardown),
      cmocka_unit_test_setup_teardown(babel_classes_work, setup, teardown),
      cmocka_unit_test_setup_teardown(strict_functions_have_no_own_throwers, setup, teardown),
      cmocka_unit_test_setup_teardown(named_function_expressions_still_bind, setup, teardown),
      cmocka_unit_test_setup_teardown(closures_freed_without_gc, setup, teardown),
      cmocka_unit_test_setup_teardown(own_next_walks_like_for_in, setup, teardown),
      cmocka_unit_test_setup_teardown(put_own_defines_own_properties, setup, teardown),
      cmocka_unit_test_setup_teardown(closures_sized_once, setup, teardown),
      cmocka_unit_test(destroy_runs_every_finalizer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
