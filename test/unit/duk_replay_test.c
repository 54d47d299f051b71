/* scripts/duktape-sb-tables-replay.patch: the first heap of a process decodes Duktape's built-in
 * strings and objects from their bit streams and records what it decoded; every later heap
 * replays the record. Replayed heaps must be the same as the decoded one: every built-in object,
 * property, attribute, value and prototype, in the same order. main() makes the decoded heap
 * before any test runs (this binary makes no other heap first), and dumps its whole built-in
 * graph; each test dumps replayed heaps and compares. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "duktape.h"

/* Every object reachable from the global object through own properties (names and symbols) and
 * prototypes, depth first, one line per property: path, attributes, type, primitive value. An
 * object met again is named by the path where it was first met. Getters are not called. */
static const char DUMP_JS[] =
    "(function (g) {\n"
    "  var seen = [], where = [], out = [];\n"
    "  function ref(o) { var i = seen.indexOf(o); return i < 0 ? 'new' : where[i]; }\n"
    "  function prim(v) { return typeof v === 'symbol' ? v.toString() :\n"
    "    (typeof v === 'number' && v === 0 && 1 / v < 0) ? '-0' : String(v); }\n"
    "  function walk(o, path) {\n"
    "    seen.push(o); where.push(path);\n"
    "    var p = Object.getPrototypeOf(o);\n"
    "    out.push(path + ' proto=' + (p === null ? 'null' : ref(p)) + ' ext=' +\n"
    "             Object.isExtensible(o) + ' class=' + Object.prototype.toString.call(o));\n"
    "    var keys = Object.getOwnPropertyNames(o).concat(Object.getOwnPropertySymbols(o));\n"
    "    for (var i = 0; i < keys.length; i++) {\n"
    "      var k = keys[i], d = Object.getOwnPropertyDescriptor(o, k), at = path + '.' + prim(k);\n"
    "      var s = at + ' ' + (d.writable ? 'w' : '-') + (d.enumerable ? 'e' : '-') +\n"
    "              (d.configurable ? 'c' : '-');\n"
    "      if (!('value' in d)) { out.push(s + ' get=' + typeof d.get + ' set=' + typeof d.set);\n"
    "        continue; }\n"
    "      var v = d.value, t = typeof v;\n"
    "      if ((t === 'object' && v !== null) || t === 'function') {\n"
    "        var r = ref(v);\n"
    "        out.push(s + ' ' + t + (r === 'new' ? '' : ' = ' + r));\n"
    "        if (r === 'new') walk(v, at);\n"
    "      } else out.push(s + ' ' + t + '=' + prim(v));\n"
    "    }\n"
    "    if (p !== null && ref(p) === 'new') walk(p, path + '.[[Prototype]]');\n"
    "  }\n"
    "  walk(g, 'global');\n"
    "  return out.join('\\n');\n"
    "})(this)";

static char *decoded; /* the dump of the first heap, made in main() */

/* A new heap's dump (malloc'ed), or NULL when the dump threw. */
static char *dump_new_heap(void) {
  duk_context *c = duk_create_heap_default();
  if (!c) return NULL;
  char *s = NULL;
  if (duk_peval_string(c, DUMP_JS) == 0) s = strdup(duk_get_string(c, -1));
  duk_destroy_heap(c);
  return s;
}

/* The first differing line of |a| and |b| (for the failure message). */
static void fail_on_difference(const char *a, const char *b) {
  const char *line = a;
  size_t i = 0;
  while (a[i] && a[i] == b[i]) {
    if (a[i] == '\n') line = a + i + 1;
    i++;
  }
  if (!a[i] && !b[i]) return;
  fail_msg("replayed heap differs at byte %zu, line starting '%.120s' (replayed: '%.120s')", i,
           line, b + (line - a));
}

static void replayed_heaps_equal_the_decoded_one(void **state) {
  (void)state;
  /* What the dump covers, so that an empty or broken dump cannot pass. */
  assert_non_null(strstr(decoded, "\nglobal.Math.max "));
  assert_non_null(strstr(decoded, "\nglobal.Array.prototype.push "));
  assert_non_null(strstr(decoded, "global.Math.PI --- number=3.14159"));
  assert_non_null(strstr(decoded, "\nglobal.Symbol.iterator --- symbol=Symbol(Symbol.iterator)"));
  size_t lines = 0;
  for (const char *p = decoded; *p; p++) lines += *p == '\n';
  assert_true(lines > 400);
  for (int i = 0; i < 3; i++) {
    char *again = dump_new_heap();
    assert_non_null(again);
    fail_on_difference(decoded, again);
    free(again);
  }
}

static void *dump_thread(void *arg) {
  (void)arg;
  return dump_new_heap();
}

/* Workers make their VUs' heaps on several threads at once: they all read the one record. */
static void replay_from_several_threads(void **state) {
  (void)state;
  pthread_t t[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, dump_thread, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *r = NULL;
    assert_int_equal(pthread_join(t[i], &r), 0);
    assert_non_null(r);
    fail_on_difference(decoded, r);
    free(r);
  }
}

/* The strings a heap interns at creation (replayed as bytes) are the ones scripts use. */
static void replayed_strings_work(void **state) {
  (void)state;
  duk_context *c = duk_create_heap_default();
  assert_non_null(c);
  assert_int_equal(duk_peval_string(c, "[typeof undefined, 'abc'.toUpperCase(), "
                                       "JSON.stringify({a: [1, 'x']}), new Error('e').name, "
                                       "Object.keys({prototype: 1, constructor: 2}).join()]"
                                       ".join('|')"),
                   0);
  assert_string_equal(duk_get_string(c, -1),
                      "undefined|ABC|{\"a\":[1,\"x\"]}|Error|prototype,constructor");
  duk_destroy_heap(c);
}

int main(void) {
  decoded = dump_new_heap(); /* the process's first heap: decoded, and recorded */
  if (!decoded) {
    fprintf(stderr, "duk_replay_test: the first heap's dump failed\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(replayed_heaps_equal_the_decoded_one),
      cmocka_unit_test(replay_from_several_threads),
      cmocka_unit_test(replayed_strings_work),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(decoded);
  return rc;
}
