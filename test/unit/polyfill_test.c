/* controller/polyfill: the scan picks what ES5 code needs, the prelude builds with its
 * dependencies, and each polyfill behaves as the spec says on the usual cases, in a plain Duktape
 * heap (as the project builds Duktape). Also prints what each costs per heap (bytes allocated
 * after a full GC), the numbers docs/PERFORMANCE.md quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/duk_udata.h"
#include "controller/polyfill.h"
#include "duktape.h"

/* --- a heap that counts its bytes ------------------------------------------------------------ */

typedef struct counted {
  sb_duk_udata udata; /* first: Duktape's exec-timeout check reads the heap's user data */
  size_t bytes;
} counted;

static void *c_alloc(void *ud, duk_size_t n) {
  size_t *p = malloc(n + 16);
  if (!p) return NULL;
  *p = n;
  ((counted *)ud)->bytes += n;
  return (char *)p + 16;
}
static void *c_realloc(void *ud, void *ptr, duk_size_t n) {
  if (!ptr) return c_alloc(ud, n);
  size_t *p = (size_t *)((char *)ptr - 16);
  size_t old = *p;
  size_t *q = realloc(p, n + 16);
  if (!q) return NULL;
  *q = n;
  ((counted *)ud)->bytes += n - old;
  return (char *)q + 16;
}
static void c_free(void *ud, void *ptr) {
  if (!ptr) return;
  size_t *p = (size_t *)((char *)ptr - 16);
  ((counted *)ud)->bytes -= *p;
  free(p);
}

static duk_context *heap(counted *c) {
  memset(c, 0, sizeof(*c));
  return duk_create_heap(c_alloc, c_realloc, c_free, c, NULL);
}

static duk_ret_t eval_safe(duk_context *ctx, void *ud) {
  duk_eval_string(ctx, ud);
  return 1;
}

/* Evaluates |js| in |ctx|; fails the test with the error. Leaves the result on the stack and
 * returns it as a string (valid until the caller pops it). */
static const char *run(duk_context *ctx, const char *js) {
  if (duk_safe_call(ctx, eval_safe, (void *)js, 0, 1) != DUK_EXEC_SUCCESS)
    fail_msg("%s\n  in: %.200s", duk_safe_to_string(ctx, -1), js);
  return duk_safe_to_string(ctx, -1);
}

/* A heap with the prelude for |names| (comma-separated, or "all"). */
static duk_context *with(counted *c, const char *names) {
  sb_polyfill_mask m = 0;
  for (int i = 0; i < sb_polyfill_count(); i++)
    if (strcmp(names, "all") == 0 || strstr(names, sb_polyfill_name(i))) m |= 1u << i;
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_polyfill_build(m, &b), 0);
  duk_context *ctx = heap(c);
  assert_non_null(ctx);
  if (b.len) {
    if (duk_safe_call(ctx, eval_safe, b.data, 0, 1) != DUK_EXEC_SUCCESS) /* -> [ hooks ] */
      fail_msg("prelude: %s", duk_safe_to_string(ctx, -1));
    duk_put_global_string(ctx, "__hooks"); /* for the Promise tests */
  }
  sb_buf_clear(&b);
  return ctx;
}

static void expect(duk_context *ctx, const char *js, const char *want) {
  const char *got = run(ctx, js);
  if (strcmp(got, want) != 0) fail_msg("%s\n  got  %s\n  want %s", js, got, want);
  duk_pop(ctx);
}

/* --- the scan --------------------------------------------------------------------------------- */

static void names_of(const char *code, char *out, size_t cap) {
  sb_polyfill_mask m = 0;
  sb_polyfill_scan(code, strlen(code), &m);
  sb_polyfill_names(m, out, cap);
}

static void test_scan(void **state) {
  char n[512];
  names_of("var a = [1]; a.join(',');", n, sizeof(n));
  assert_string_equal(n, "");
  names_of("var m = new Map(); var s = new Set();", n, sizeof(n));
  assert_string_equal(n, "base,coll,map,set");
  names_of("x.Map = 1; obj.Set(2);", n, sizeof(n)); /* members named Map are not Map */
  assert_string_equal(n, "");
  names_of("Object.entries(o); 'a'.padStart(3); [1].includes(1)", n, sizeof(n));
  assert_string_equal(n, "base,iter,array_includes,object_entries,string_pad");
  names_of("for (var i = x[Symbol.iterator](); ;) {}", n, sizeof(n));
  assert_string_equal(n, "base,iter");
  names_of("new WeakMap(); Array.from(s);\nObject\n  .fromEntries(e)", n, sizeof(n));
  assert_string_equal(n, "base,weak,weakmap,array_from,object_from_entries");
  assert_int_equal(sb_polyfill_bit("nope"), 0);
  assert_int_not_equal(sb_polyfill_bit("map"), 0);
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_polyfill_build(0, &b), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(sb_polyfill_build(sb_polyfill_bit("set"), &b), 0);
  assert_non_null(strstr(b.data, "var coll")); /* its dependencies come along */
  assert_null(strstr(b.data, "function Map("));
  sb_buf_clear(&b);
}

/* --- behaviour -------------------------------------------------------------------------------- */

static void test_map(void **state) {
  counted c;
  duk_context *ctx = with(&c, "map");
  expect(ctx, "var m = new Map([['a', 1], [2, 'two']]); m.set(NaN, 'nan').set(-0, 'zero');"
              "[m.size, m.get('a'), m.get(2), m.get('2'), m.get(NaN), m.get(0), m.has('b')]"
              ".join()", "4,1,two,,nan,zero,false");
  expect(ctx, "var k = {}, m = new Map(); m.set(k, 1); m.set({}, 2);"
              "[m.get(k), m.get({}), m.size, Object.keys(k).length, JSON.stringify(k)].join()",
         "1,,2,0,{}");
  expect(ctx, "var m = new Map([['a', 1], ['b', 2], ['c', 3]]); m.delete('b');"
              "var out = []; m.forEach(function (v, k, mm) { out.push(k + v + (mm === m)); });"
              "out.join()", "a1true,c3true");
  /* a live iterator sees deletions and additions made while it walks */
  expect(ctx, "var m = new Map([[1, 'a'], [2, 'b'], [3, 'c']]), it = m.entries(), seen = [];"
              "seen.push(it.next().value.join(':')); m.delete(2); m.set(4, 'd');"
              "for (var r; !(r = it.next()).done;) seen.push(r.value[0]); seen.join()",
         "1:a,3,4");
  expect(ctx, "var m = new Map([['x', 1]]); var it = m[Symbol.iterator]();"
              "[it.next().value, it.next().done, m.keys().next().value, m.values().next().value,"
              " Object.prototype.toString.call(m)].join('|')",
         "x,1|true|x|1|[object Map]");
  expect(ctx, "var m = new Map([[1, 1]]); m.clear(); [m.size, m.get(1)].join()", "0,");
  expect(ctx, "try { Map(); 'no' } catch (e) { e.name }", "TypeError");
  expect(ctx, "try { new Map([1]); 'no' } catch (e) { e.name }", "TypeError");
  expect(ctx, "var f = Object.freeze({}), m = new Map(); m.set(f, 'frozen');"
              "var s = Symbol('s'); m.set(s, 'sym'); [m.get(f), m.get(s), m.size].join()",
         "frozen,sym,2");
  expect(ctx, "Object.keys(this).indexOf('Map')", "-1"); /* not enumerable, as built-ins */
  duk_destroy_heap(ctx);
}

static void test_set(void **state) {
  counted c;
  duk_context *ctx = with(&c, "set,iter");
  expect(ctx, "var s = new Set([1, 2, 2, '2', NaN, NaN]); [s.size, s.has(2), s.has('2'),"
              " s.has(NaN), s.has(3)].join()", "4,true,true,true,false");
  expect(ctx, "var s = new Set('hello'); var a = []; s.forEach(function (v) { a.push(v); });"
              "a.join('')", "helo");
  expect(ctx, "var s = new Set([3, 1]); s.add(2).add(1); var it = s.values(), o = [];"
              "for (var r; !(r = it.next()).done;) o.push(r.value); o.join()", "3,1,2");
  expect(ctx, "var s = new Set([1]); s.entries().next().value.join()", "1,1");
  expect(ctx, "new Set(new Set([1, 2])).size", "2");
  duk_destroy_heap(ctx);
}

static void test_weak(void **state) {
  counted c;
  duk_context *ctx = with(&c, "weakmap,weakset");
  expect(ctx, "var k = {}, w = new WeakMap([[k, 1]]); var k2 = {}; w.set(k2, 2);"
              "[w.get(k), w.get(k2), w.has({}), w.delete(k), w.has(k), Object.keys(k2).length,"
              " JSON.stringify(k2)].join()", "1,2,false,true,false,0,{}");
  expect(ctx, "var a = new WeakMap(), b = new WeakMap(), k = {}; a.set(k, 'a'); b.set(k, 'b');"
              "a.get(k) + b.get(k)", "ab");
  expect(ctx, "try { new WeakMap().set('x', 1); 'no' } catch (e) { e.name }", "TypeError");
  expect(ctx, "var s = new WeakSet(), o = {}; s.add(o); [s.has(o), s.has({})].join()",
         "true,false");
  duk_destroy_heap(ctx);
}

static void test_iterators(void **state) {
  counted c;
  duk_context *ctx = with(&c, "iter");
  expect(ctx, "var it = [1, 2][Symbol.iterator](); [it.next().value, it.next().value,"
              " it.next().done].join()", "1,2,true");
  expect(ctx, "var it = ['a', 'b'].entries(); it.next(); it.next().value.join()", "1,b");
  expect(ctx, "var it = [7, 8].keys(); it.next(); it.next().value", "1");
  expect(ctx, "var it = 'a\\uD83D\\uDE00b'[Symbol.iterator](), o = [];"
              "for (var r; !(r = it.next()).done;) o.push(r.value.length); o.join()", "1,2,1");
  expect(ctx, "var it = new Uint8Array([5, 6]).values(); it.next(); it.next().value", "6");
  expect(ctx, "Object.keys([].__proto__).length + ',' + [1].propertyIsEnumerable('values')",
         "0,false");
  duk_destroy_heap(ctx);
}

static void test_array(void **state) {
  counted c;
  duk_context *ctx = with(&c, "array_from,array_of,array_find,array_includes,array_flat,"
                              "array_misc,map,set,iter");
  expect(ctx, "[Array.from('abc').join(), Array.from({length: 2}, function (v, i) {"
              " return i * 2; }).join(), Array.from(new Set([1, 1, 2])).join(),"
              " Array.from(new Map([[1, 2]]))[0].join(), Array.of(7, 8).join()].join('|')",
         "a,b,c|0,2|1,2|1,2|7,8");
  expect(ctx, "var a = [5, 12, 8, 130, 44]; [a.find(function (x) { return x > 10; }),"
              " a.findIndex(function (x) { return x > 10; }), a.findLast(function (x) {"
              " return x > 10; }), a.findLastIndex(function (x) { return x > 200; }),"
              " a.find(function (x) { return x > 500; })].join()", "12,1,44,-1,");
  expect(ctx, "[[1, 2, NaN].includes(NaN), [1, 2, 3].includes(1, 1), [1, 2, 3].includes(3, -1),"
              " ['a'].includes('b')].join()", "true,false,true,false");
  expect(ctx, "JSON.stringify([[1, [2, [3, [4]]]].flat(), [1, [2, [3, [4]]]].flat(Infinity),"
              " [1, 2].flatMap(function (x) { return [x, x * 2]; }), [1, , 2].flat()])",
         "[[1,2,[3,[4]]],[1,2,3,4],[1,2,2,4],[1,2]]");
  expect(ctx, "[[1, 2, 3].fill(0, 1).join(), new Array(3).fill(7).join(), [1, 2, 3].at(-1),"
              " 'abc'.at(0), [1].at(5)].join('|')", "1,0,0|7,7,7|3|a|");
  duk_destroy_heap(ctx);
}

static void test_object_and_string(void **state) {
  counted c;
  duk_context *ctx = with(&c, "object_entries,object_from_entries,object_descriptors,"
                              "string_pad,string_trim,string_raw,map,iter");
  expect(ctx, "JSON.stringify([Object.entries({a: 1, b: 'x'}), Object.values({a: 1, b: 2}),"
              " Object.fromEntries([['a', 1], ['b', 2]]),"
              " Object.fromEntries(new Map([['m', true]]))])",
         "[[[\"a\",1],[\"b\",\"x\"]],[1,2],{\"a\":1,\"b\":2},{\"m\":true}]");
  expect(ctx, "var o = {}; Object.defineProperty(o, 'h', {value: 1});"
              "var d = Object.getOwnPropertyDescriptors({a: 1, get b() { return 2; }, h: 0});"
              "[d.a.value, d.a.writable, typeof d.b.get, Object.keys(d).join('')].join()",
         "1,true,function,abh");
  expect(ctx, "['5'.padStart(3, '0'), 'abc'.padStart(6, '12'), 'abc'.padEnd(5),"
              " 'abc'.padStart(2), 'x'.padEnd(4, 'ab')].join('|')", "005|121abc|abc  |abc|xaba");
  expect(ctx, "['  a  '.trimStart() + '|', '  a  '.trimEnd() + '|', '\\t a'.trimLeft()].join()",
         "a  |,  a|,a");
  expect(ctx, "String.raw({raw: ['a', 'b', 'c']}, 1, 2)", "a1b2c");
  duk_destroy_heap(ctx);
}

/* Promise: jobs run only when the VU drains them, in order; the combinators; a rejection nobody
 * handled by the end of a drain is thrown from it, one handled in time is not. */
static void test_promise(void **state) {
  counted c;
  duk_context *ctx = with(&c, "promise");
  expect(ctx, "var log = []; Promise.resolve(1).then(function (v) { log.push(v); return v + 1; })"
              ".then(function (v) { log.push(v); });"
              "new Promise(function (res) { log.push('exec'); res('r'); }).then(log.push.bind(log));"
              "log.push('sync'); __hooks.drain(); log.join()",
         "exec,sync,1,r,2");
  expect(ctx, "var out; Promise.all([1, Promise.resolve(2), {then: function (f) { f(3); }}])"
              ".then(function (v) { out = v.join(); }); __hooks.drain(); out",
         "1,2,3");
  expect(ctx, "var out; Promise.allSettled([Promise.reject(new Error('no')), 5]).then(function (v) {"
              " out = v[0].status + ':' + v[0].reason.message + ',' + v[1].status + ':' + v[1].value;"
              "}); __hooks.drain(); out",
         "rejected:no,fulfilled:5");
  expect(ctx, "var out; Promise.race([new Promise(function () {}), Promise.resolve('fast')])"
              ".then(function (v) { out = v; }); __hooks.drain(); out",
         "fast");
  expect(ctx, "var out; Promise.any([Promise.reject(1), Promise.reject(2)]).catch(function (e) {"
              " out = e.name + ':' + e.errors.join(); }); __hooks.drain(); out",
         "AggregateError:1,2");
  expect(ctx, "var out = []; Promise.reject(new Error('e')).finally(function () { out.push('fin'); })"
              ".catch(function (e) { out.push(e.message); }); __hooks.drain(); out.join()",
         "fin,e");
  expect(ctx, "var r, p = new Promise(function (res) { r = res; }), out = false; r(p);"
              "p.catch(function (e) { out = e instanceof TypeError; }); __hooks.drain(); out",
         "true");
  expect(ctx, "var m; Promise.reject(new Error('lost')); try { __hooks.drain(); } catch (e) {"
              " m = e.message; } m",
         "Uncaught (in promise) lost");
  expect(ctx, "var m = 'none'; var p = Promise.reject('late'); p.catch(function () {});"
              "try { __hooks.drain(); } catch (e) { m = e.message; } m",
         "none");
  expect(ctx, "var w = __hooks.watch(Promise.reject(new Error('w'))); __hooks.drain();"
              "w.st + ':' + w.v.message",
         "2:w");
  expect(ctx, "Object.prototype.toString.call(Promise.resolve())", "[object Promise]");
  duk_destroy_heap(ctx);
}

/* Every section at once: no clash between them, and a second run defines nothing twice. */
static void test_all_together(void **state) {
  counted c;
  duk_context *ctx = with(&c, "all");
  expect(ctx, "[typeof Map, typeof Set, typeof WeakMap, typeof WeakSet, typeof Array.from,"
              " typeof Object.entries, typeof ''.padStart].join()",
         "function,function,function,function,function,function,function");
  duk_destroy_heap(ctx);
}

/* --- cost per heap ---------------------------------------------------------------------------- */

static size_t heap_bytes(const char *names, double *ms) {
  counted c;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  duk_context *ctx = with(&c, names);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  duk_gc(ctx, 0);
  duk_gc(ctx, 0);
  size_t b = c.bytes;
  duk_destroy_heap(ctx);
  *ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  return b;
}

/* Prints the per-heap cost of each polyfill (with its dependencies) and of all of them; bounds
 * them so a heavy addition is noticed. (Source compiled in the heap here; VUs load bytecode
 * compiled once, which costs about the same in the heap.) */
static void test_cost(void **state) {
  double ms;
  size_t none = heap_bytes("none", &ms);
  printf("# empty heap: %zu bytes\n", none);
  for (int i = 0; i < sb_polyfill_count(); i++) {
    size_t b = heap_bytes(sb_polyfill_name(i), &ms);
    printf("# %-20s +%6zu bytes  %.2f ms\n", sb_polyfill_name(i), b - none, ms);
  }
  size_t all = heap_bytes("all", &ms);
  printf("# %-20s +%6zu bytes  %.2f ms\n", "all", all - none, ms);
  assert_true(all - none < 160 * 1024); /* promise ~34 KB and regenerator ~45 KB of it */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scan),        cmocka_unit_test(test_map),
      cmocka_unit_test(test_set),         cmocka_unit_test(test_weak),
      cmocka_unit_test(test_iterators),   cmocka_unit_test(test_array),
      cmocka_unit_test(test_object_and_string), cmocka_unit_test(test_all_together), cmocka_unit_test(test_promise),
      cmocka_unit_test(test_cost),
  };
  return cmocka_run_group_tests_name("polyfill", tests, NULL, NULL);
}
