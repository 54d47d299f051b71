/* controller/compile: ES2015+ scripts to archive + options. Every test writes its scripts into a
 * fresh mkdtemp() directory. Each compile loads Babel (~0.3 s), so the happy path is compiled once
 * in the group setup and several tests look at that one result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/archive.h"
#include "common/buf.h"
#include "controller/compile.h"

static char dir[256];
static sb_compile_result main_res;
static int main_rc;
static sb_err main_err;

static void put(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
  assert_int_equal(system(cmd), 0);
  *slash = '/';
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void path_of(char *out, size_t cap, const char *rel) {
  snprintf(out, cap, "%s/%s", dir, rel);
}

/* The archive entry "file<dir>/<rel>" (or with "es5/" in front). */
static const sb_archive_file *entry(const sb_archive *a, int es5, const char *rel) {
  char name[600];
  snprintf(name, sizeof(name), "%sfile%s/%s", es5 ? "es5/" : "", dir, rel);
  return sb_archive_get(a, name);
}

static const char MAIN_JS[] =
    "import http from 'k6/http';\n"
    "import { sleep, check } from 'k6';\n"
    "import { Trend } from 'k6/metrics';\n"
    "import { pick, twice } from './lib/a.js';\n"
    "export { twice } from './lib/b.js';\n"
    "\n"
    "const data = open('data.txt');\n"
    "const bin = open('./bin/blob.dat', 'b');\n"
    "const t = new Trend('my_trend', true);\n"
    "const target = __ENV.TARGET || 'http://127.0.0.1:8080/';\n"
    "\n"
    "export const options = {\n"
    "  vus: parseInt(__ENV.VUS || '1'),\n"
    "  iterations: 30,\n"
    "  stages: [{ duration: '5s', target: 10 }, { duration: '10s', target: 0 }],\n"
    "  thresholds: { http_req_duration: ['p(95)<2000'], checks: [`rate>${0.9}`] },\n"
    "  ext: { size: bin.byteLength, first: data.split('\\n')[0] },\n"
    "};\n"
    "\n"
    "export default () => {\n"
    "  let res = http.get(`${target}?n=${twice(pick([1, 2]))}`);\n"
    "  check(res, { 'is 200': (r) => r.status === 200 });\n"
    "  sleep(1);\n"
    "};\n";

static const char A_JS[] =
    "import { twice } from './b.js';\n"
    "export const csv = open('../bin/users.csv'); // relative to this module, as in k6\n"
    "export const pick = (xs) => xs[0];\n"
    "export { twice };\n";

static const char B_JS[] =
    "import { pick } from './a.js'; // a cycle\n"
    "export function twice(x) { const y = x * 2; return y; }\n"
    "export const again = (xs) => pick(xs);\n";

static int setup_main(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/compile_test.XXXXXX");
  if (!mkdtemp(dir)) return -1;
  put("main.js", MAIN_JS);
  put("lib/a.js", A_JS);
  put("lib/b.js", B_JS);
  put("data.txt", "first line\nsecond line\n");
  put("bin/blob.dat", "0123456789");
  put("bin/users.csv", "user,pass\n");
  char path[512];
  path_of(path, sizeof(path), "main.js");
  const char *env[] = {"VUS", "7", "TARGET", "http://127.0.0.1:1/", NULL};
  memset(&main_err, 0, sizeof(main_err));
  main_rc = sb_compile_script(path, env, &main_res, &main_err);
  return 0;
}

static int teardown_main(void **state) {
  sb_compile_result_clear(&main_res);
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_compiles_with_imports(void **state) {
  if (main_rc) fprintf(stderr, "compile: %s\n", main_err.msg);
  assert_int_equal(main_rc, 0);
  const sb_archive *a = main_res.archive;
  assert_non_null(a);
  assert_non_null(sb_archive_get(a, "metadata.json"));
  const sb_archive_file *d = sb_archive_get(a, "data");
  assert_non_null(d);
  assert_string_equal((const char *)d->data, MAIN_JS);
  assert_non_null(entry(a, 0, "main.js"));
  assert_string_equal((const char *)entry(a, 0, "lib/a.js")->data, A_JS);
  assert_string_equal((const char *)entry(a, 0, "lib/b.js")->data, B_JS);
  for (int i = 0; i < 3; i++) {
    const char *rel[] = {"main.js", "lib/a.js", "lib/b.js"};
    const sb_archive_file *e = entry(a, 1, rel[i]);
    assert_non_null(e);
    /* ES5 CommonJS: no module syntax, arrows, template literals or let left */
    const char *s = (const char *)e->data;
    assert_null(strstr(s, "import "));
    assert_null(strstr(s, "=>"));
    assert_null(strstr(s, "`"));
    assert_null(strstr(s, "let "));
    assert_non_null(strstr(s, "exports"));
  }
  char url[600];
  snprintf(url, sizeof(url), "file://%s/main.js", dir);
  assert_string_equal(main_res.entry_url, url);
}

/* retainLines: the default function's body stays on the user's lines. */
static void test_lines_retained(void **state) {
  assert_int_equal(main_rc, 0);
  const char *s = (const char *)entry(main_res.archive, 1, "main.js")->data;
  int line = 1;
  const char *p = s;
  const char *hit = strstr(s, "sleep)(1)");
  if (!hit) hit = strstr(s, "sleep(1)");
  assert_non_null(hit);
  for (; p < hit; p++) line += *p == '\n';
  assert_int_equal(line, 23);
}

static void test_options(void **state) {
  assert_int_equal(main_rc, 0);
  json_error_t je;
  json_t *o = json_loads(main_res.options_json, 0, &je);
  assert_non_null(o);
  assert_int_equal(json_integer_value(json_object_get(o, "vus")), 7); /* from __ENV */
  assert_int_equal(json_integer_value(json_object_get(o, "iterations")), 30);
  json_t *st = json_object_get(o, "stages");
  assert_int_equal(json_array_size(st), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(st, 1), "duration")), "10s");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 0), "target")), 10);
  json_t *th = json_object_get(o, "thresholds");
  assert_string_equal(json_string_value(json_array_get(json_object_get(th, "http_req_duration"), 0)),
                      "p(95)<2000");
  assert_string_equal(json_string_value(json_array_get(json_object_get(th, "checks"), 0)),
                      "rate>0.9");
  json_t *ext = json_object_get(o, "ext");
  assert_int_equal(json_integer_value(json_object_get(ext, "size")), 10);
  assert_string_equal(json_string_value(json_object_get(ext, "first")), "first line");
  json_decref(o);
}

static void test_metadata(void **state) {
  assert_int_equal(main_rc, 0);
  const sb_archive_file *m = sb_archive_get(main_res.archive, "metadata.json");
  json_t *j = json_loadb((const char *)m->data, m->len, 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "filename")), main_res.entry_url);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "js");
  assert_string_equal(json_string_value(json_object_get(j, "compatibilityMode")), "extended");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "options"), "vus")), 7);
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "env"), "VUS")), "7");
  const char *pwd = json_string_value(json_object_get(j, "pwd"));
  assert_non_null(pwd);
  assert_int_equal(strncmp(pwd, "file:///", 8), 0);
  json_decref(j);
}

/* The init code's `new Trend('my_trend', true)`: a time trend the thresholds may name. */
static void test_init_metrics(void **state) {
  assert_int_equal(main_rc, 0);
  assert_int_equal(main_res.nmetrics, 1);
  assert_string_equal(main_res.metrics[0].name, "my_trend");
  assert_int_equal(main_res.metrics[0].type, SB_METRIC_TREND);
  assert_int_equal(main_res.metrics[0].contains, SB_VALUE_TIME);
}

static void test_open_files_archived(void **state) {
  assert_int_equal(main_rc, 0);
  const sb_archive_file *f = entry(main_res.archive, 0, "data.txt");
  assert_non_null(f);
  assert_string_equal((const char *)f->data, "first line\nsecond line\n");
  f = entry(main_res.archive, 0, "bin/blob.dat");
  assert_non_null(f);
  assert_int_equal(f->len, 10);
  f = entry(main_res.archive, 0, "bin/users.csv");
  assert_non_null(f);
  assert_string_equal((const char *)f->data, "user,pass\n");
}

/* Our own archive comes back through write/parse and needs no Babel; env is overridden. */
static void test_archive_round_trip(void **state) {
  assert_int_equal(main_rc, 0);
  uint8_t *buf = NULL;
  size_t len = 0;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_write(main_res.archive, 3, &buf, &len, &err), 0);
  char path[512];
  path_of(path, sizeof(path), "test.tar.zst");
  assert_int_equal(sb_write_file(path, buf, len, &err), 0);
  free(buf);
  /* the sources on disk are gone: everything must come from the archive */
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s/lib' '%s/data.txt' '%s/bin' '%s/main.js'", dir, dir, dir,
           dir);
  assert_int_equal(system(cmd), 0);
  const char *env[] = {"VUS", "3", NULL};
  sb_compile_result r;
  int rc = sb_compile_archive_file(path, env, &r, &err);
  if (rc) fprintf(stderr, "archive: %s\n", err.msg);
  assert_int_equal(rc, 0);
  assert_string_equal(r.entry_url, main_res.entry_url);
  json_t *o = json_loads(r.options_json, 0, NULL);
  assert_non_null(o);
  /* options are frozen in the archive (k6) */
  assert_int_equal(json_integer_value(json_object_get(o, "vus")), 7);
  assert_int_equal(json_array_size(json_object_get(o, "stages")), 2);
  json_decref(o);
  /* the init code ran again: its custom metric is known from the archive too */
  assert_int_equal(r.nmetrics, 1);
  assert_string_equal(r.metrics[0].name, "my_trend");
  assert_non_null(entry(r.archive, 1, "lib/b.js"));
  assert_non_null(entry(r.archive, 0, "data.txt"));
  const sb_archive_file *m = sb_archive_get(r.archive, "metadata.json");
  json_t *j = json_loadb((const char *)m->data, m->len, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "env"), "VUS")), "3");
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "env"), "TARGET")),
                      "http://127.0.0.1:1/");
  json_decref(j);
  sb_compile_result_clear(&r);
}

/* A `k6 archive` (plain tar, sources only, no es5/): transpiled from the archive, never from
 * disk. */
static void test_k6_archive(void **state) {
  sb_archive *a;
  assert_int_equal(sb_archive_new(&a), 0);
  const char *meta =
      "{\"type\":\"js\",\"filename\":\"file:///nowhere/k6/script.js\",\"pwd\":\"file:///nowhere/k6/\","
      "\"options\":{\"vus\":2,\"duration\":\"5s\"},\"env\":{\"A\":\"1\"},"
      "\"compatibilityMode\":\"extended\",\"k6version\":\"0.47.0\"}";
  const char *script =
      "import { hello } from './lib/h.js';\n"
      "const txt = open('./users.csv');\n"
      "export const options = { vus: 9 };\n"
      "export default () => hello(txt);\n";
  const char *lib = "export const hello = (s) => `hi ${s}`;\n";
  sb_archive_add(a, "metadata.json", meta, strlen(meta));
  sb_archive_add(a, "data", script, strlen(script));
  sb_archive_add(a, "file/nowhere/k6/lib/h.js", lib, strlen(lib));
  sb_archive_add(a, "file/nowhere/k6/users.csv", "u,p\n", 4);
  sb_compile_result r;
  sb_err err = {{0}};
  /* `k6 archive` writes a plain (uncompressed) tar */
  uint8_t *buf = NULL;
  size_t len = 0;
  char path[512];
  path_of(path, sizeof(path), "k6.tar");
  assert_int_equal(sb_archive_write(a, 0, &buf, &len, &err), 0);
  assert_int_equal(sb_write_file(path, buf, len, &err), 0);
  free(buf);
  int rc = sb_compile_archive_file(path, NULL, &r, &err);
  if (rc) fprintf(stderr, "k6 archive: %s\n", err.msg);
  assert_int_equal(rc, 0);
  assert_string_equal(r.entry_url, "file:///nowhere/k6/script.js");
  assert_non_null(sb_archive_get(r.archive, "es5/file/nowhere/k6/script.js"));
  const sb_archive_file *e = sb_archive_get(r.archive, "es5/file/nowhere/k6/lib/h.js");
  assert_non_null(e);
  assert_null(strstr((const char *)e->data, "=>"));
  assert_non_null(sb_archive_get(r.archive, "file/nowhere/k6/users.csv"));
  json_t *o = json_loads(r.options_json, 0, NULL);
  assert_int_equal(json_integer_value(json_object_get(o, "vus")), 2); /* metadata's */
  json_decref(o);
  sb_compile_result_clear(&r);
  sb_archive_free(a);
}

/* --- errors: each in its own directory ----------------------------------------------------- */

static int setup_dir(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/compile_test.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

/* Compiles |rel| (by its path relative to the cwd, as a user would type it). */
static int compile_rel(const char *rel, sb_compile_result *r, sb_err *err) {
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(dir), 0);
  memset(err, 0, sizeof(*err));
  int rc = sb_compile_script(rel, NULL, r, err);
  assert_int_equal(chdir(cwd), 0);
  return rc;
}

/* Line of the first occurrence of |needle| in |s|, 1-based (0 when absent). */
static int line_of(const char *s, const char *needle) {
  const char *hit = strstr(s, needle);
  if (!hit) return 0;
  int line = 1;
  for (const char *p = s; p < hit; p++) line += *p == '\n';
  return line;
}

/* Regression: an anonymous `export default function` used to be hoisted above the named exported
 * functions, which retainLines then pushed below their real lines (setup() on line 2 reported its
 * errors on line 8). Every function stays on its line, and the default keeps working. */
static void test_exported_functions_keep_their_lines(void **state) {
  put("lines.js", "import http from 'k6/http';\nexport function setup() {\n  return 1;\n}\n"
                  "export default function () {\n  const two = 2;\n}\n"
                  "export function teardown(d) {\n  const three = 3;\n}\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("lines.js", &r, &err), 0);
  const char *s = (const char *)entry(r.archive, 1, "lines.js")->data;
  assert_int_equal(line_of(s, "return 1"), 3);
  assert_int_equal(line_of(s, "two = 2"), 6);
  assert_int_equal(line_of(s, "three = 3"), 9);
  assert_non_null(strstr(s, "exports.default ="));
  sb_compile_result_clear(&r);
}

static void test_syntax_error(void **state) {
  put("bad.js", "import http from 'k6/http';\nconst a = 1;\nlet x = (;\nexport default () => {};\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("bad.js", &r, &err), SB_ESCRIPT);
  assert_null(r.archive);
  /* esbuild's message at the user's line:column (0-based, as Babel had it), a code frame */
  assert_string_equal(err.msg, "bad.js:3:9: SyntaxError: Unexpected \";\"\n"
                               "> 3 | let x = (;\n"
                               "    |          ^");
}

static void test_syntax_error_in_module(void **state) {
  put("main.js", "import { f } from './lib/m.js';\nexport default () => f();\n");
  put("lib/m.js", "export const f = () => {\n  return {;\n};\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), SB_ESCRIPT);
  assert_int_equal(strncmp(err.msg, "lib/m.js:2:10: SyntaxError:", 27), 0);
}

static void test_missing_import(void **state) {
  put("main.js", "import { f } from './nope.js';\nexport default () => f();\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), SB_ENOTFOUND);
  char want[600];
  snprintf(want, sizeof(want), "main.js: import './nope.js': file not found: %s/nope.js", dir);
  assert_string_equal(err.msg, want);
}

static void test_missing_script(void **state) {
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("absent.js", &r, &err), SB_ENOTFOUND);
  assert_string_equal(err.msg, "absent.js: file not found");
}

/* A remote module that cannot be fetched: the error names the importing file, the import and
 * the cause (nothing listens on port 1 of loopback). */
static void test_remote_import_unreachable(void **state) {
  put("main.js", "import { randomIntBetween } from 'http://127.0.0.1:1/k6-utils/index.js';\n"
                 "export default () => randomIntBetween(1, 5);\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), SB_EIO);
  assert_string_equal(err.msg, "main.js: import 'http://127.0.0.1:1/k6-utils/index.js': "
                               "http://127.0.0.1:1/k6-utils/index.js: dial: connection refused");
}

static void test_init_exception(void **state) {
  put("main.js", "import http from 'k6/http';\n\nconst x = 1;\nthrow new Error(`boom ${x}`);\n"
                 "export default () => {};\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), SB_ESCRIPT);
  char want[600];
  snprintf(want, sizeof(want), "file://%s/main.js:4: Error: boom 1", dir);
  assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
}

/* k6 lets init code define functions that call http.get later, not call it at init. */
static void test_init_only_stubs(void **state) {
  put("main.js", "import http from 'k6/http';\nimport { sleep } from 'k6';\n"
                 "const later = () => http.get('http://127.0.0.1/');\n"
                 "export const options = { vus: 1 };\nsleep(1);\nexport default later;\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), SB_ESCRIPT);
  assert_non_null(strstr(err.msg, ":5: Error: sleep() is not supported in the init context"));
}

static void test_open_missing(void **state) {
  put("main.js", "const d = open('nothere.csv');\nexport default () => {};\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), SB_ESCRIPT);
  assert_non_null(strstr(err.msg, "main.js:1: Error: open(\"nothere.csv\"): file not found: "));
}

/* Every k6/metrics constructor records its metric, in creation order, once per name; a built-in
 * name re-created with its own type is the built-in (not listed); metrics created in an imported
 * module count too. */
static void test_custom_metrics(void **state) {
  put("lib/m.js",
      "import { Gauge } from 'k6/metrics';\nexport const g = new Gauge('lib_gauge');\n");
  put("main.js", "import { Counter, Gauge, Rate, Trend } from 'k6/metrics';\n"
                 "import { g } from './lib/m.js';\n"
                 "const c = new Counter('my_counter'), r = new Rate('my_rate');\n"
                 "const t = new Trend('my_trend'), tt = new Trend('my_time', true);\n"
                 "const again = new Counter('my_counter'), reqs = new Counter('http_reqs');\n"
                 "const gt = new Gauge('my_gauge', 1);\n"
                 "export default () => c.add(1);\n");
  sb_compile_result r;
  sb_err err;
  int rc = compile_rel("main.js", &r, &err);
  if (rc) fail_msg("%s", err.msg);
  static const struct {
    const char *name;
    sb_metric_type type;
    sb_value_type contains;
  } want[] = {
      {"lib_gauge", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
      {"my_counter", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
      {"my_rate", SB_METRIC_RATE, SB_VALUE_DEFAULT},
      {"my_trend", SB_METRIC_TREND, SB_VALUE_DEFAULT},
      {"my_time", SB_METRIC_TREND, SB_VALUE_TIME},
      {"my_gauge", SB_METRIC_GAUGE, SB_VALUE_TIME},
  };
  assert_int_equal(r.nmetrics, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < r.nmetrics; i++) {
    assert_string_equal(r.metrics[i].name, want[i].name);
    assert_int_equal(r.metrics[i].type, want[i].type);
    assert_int_equal(r.metrics[i].contains, want[i].contains);
  }
  sb_compile_result_clear(&r);
  assert_null(r.metrics);
  assert_int_equal(r.nmetrics, 0);

  /* none created: none listed */
  put("plain.js", "export default () => {};\n");
  assert_int_equal(compile_rel("plain.js", &r, &err), 0);
  assert_null(r.metrics);
  assert_int_equal(r.nmetrics, 0);
  sb_compile_result_clear(&r);
}

/* A name created again with another type or value type throws at its line, as on the VUs (k6:
 * "metric 'x' already exists but with type counter"); a built-in name too. */
static void test_custom_metric_conflicts(void **state) {
  static const struct {
    const char *js, *want;
  } cases[] = {
      {"const a = new Counter('x');\nconst b = new Rate('x');\n",
       ":3: TypeError: metric 'x' already exists as a counter, not a rate"},
      {"const a = new Trend('x', true);\nconst b = new Trend('x');\n",
       ":3: TypeError: metric 'x' already exists with value type"},
      {"const b = new Gauge('http_req_duration');\n",
       ":2: TypeError: metric 'http_req_duration' already exists as a trend, not a gauge"},
      {"const b = Counter('x');\n", ":2: TypeError: Counter must be called with new"},
      {"const b = new Rate('');\n", ":2: TypeError: Rate: a name is required"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char js[512];
    snprintf(js, sizeof(js),
             "import { Counter, Gauge, Rate, Trend } from 'k6/metrics';\n%s"
             "export default () => {};\n",
             cases[i].js);
    put("main.js", js);
    sb_compile_result r;
    sb_err err;
    assert_int_equal(compile_rel("main.js", &r, &err), SB_ESCRIPT);
    if (!strstr(err.msg, cases[i].want))
      fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
    assert_null(r.metrics);
  }
}


/* --- modern JavaScript and TypeScript (esbuild, then Babel) --------------------------------- */

static const char TS_MAIN[] =
    "import { check } from 'k6';\n"
    "import { double, Color, type Named } from './lib/util.ts';\n"
    "\n"
    "interface Opts { vus: number; tags?: { [k: string]: string } }\n"
    "const m = new Map<string, number>([['vus', 3]]);\n"
    "export const options: Opts = { vus: m.get('vus') ?? 1, tags: { ...{ a: 'x' }, b: Color.Red } };\n"
    "\n"
    "class Counter implements Named {\n"
    "  name = 'c';\n"
    "  static made = 0;\n"
    "  #hits: number = 0;\n"
    "  hit(): number { return ++this.#hits; }\n"
    "}\n"
    "\n"
    "export default function (): void {\n"
    "  const c = new Counter();\n"
    "  const o: any = { a: { b: null } };\n"
    "  const { a, ...rest } = { a: 1, b: 2, c: 3 };\n"
    "  check(o?.a?.b ?? double(a), { 'ok': (v) => v === 2 });\n"
    "  throw new Error('line 20');\n"
    "}\n";

static const char TS_UTIL[] =
    "export interface Named { name: string }\n"
    "export enum Color { Red = 'red', Green = 'green' }\n"
    "export const double = (x: number): number => x * 2;\n";

/* Returns the es5 text of |rel| in |r|. */
static const char *es5_of(const sb_compile_result *r, const char *rel) {
  const sb_archive_file *f = entry(r->archive, 1, rel);
  assert_non_null(f);
  return (const char *)f->data;
}

/* A .ts entry importing a .ts module: types, interfaces, enums, class fields (private too), ?.,
 * ??, spread and rest become ES5 on the user's lines; the init code (which uses Map) runs with
 * the polyfills the program needs and only those. */
static void test_typescript(void **state) {
  put("main.ts", TS_MAIN);
  put("lib/util.ts", TS_UTIL);
  sb_compile_result r;
  sb_err err;
  int rc = compile_rel("main.ts", &r, &err);
  if (rc) fail_msg("%s", err.msg);
  const char *s = es5_of(&r, "main.ts");
  assert_null(strstr(s, "?."));
  assert_null(strstr(s, "??"));
  assert_null(strstr(s, "interface"));
  assert_null(strstr(s, "=>"));
  assert_null(strstr(s, "class Counter"));
  assert_int_equal(line_of(s, "new Error(\"line 20\")"), 20);
  assert_int_equal(line_of(s, "new Map("), 5);
  assert_int_equal(line_of(es5_of(&r, "lib/util.ts"), "x * 2"), 3);
  assert_non_null(strstr(es5_of(&r, "lib/util.ts"), "Green"));
  json_t *o = json_loads(r.options_json, 0, NULL);
  assert_int_equal(json_integer_value(json_object_get(o, "vus")), 3);
  assert_string_equal(json_string_value(json_object_get(json_object_get(o, "tags"), "b")), "red");
  assert_string_equal(json_string_value(json_object_get(json_object_get(o, "tags"), "a")), "x");
  json_decref(o);
  const sb_archive_file *pf = sb_archive_get(r.archive, "es5/polyfills.js");
  assert_non_null(pf);
  const char *p = (const char *)pf->data;
  assert_non_null(strstr(p, "function Map("));
  assert_null(strstr(p, "function Set("));  /* not used: not paid for */
  assert_null(strstr(p, "padStart"));
  sb_compile_result_clear(&r);
}

/* Runtime errors in init code of a TypeScript module name the user's file:line. */
static void test_typescript_error_lines(void **state) {
  put("lib/t.ts", "type N = number;\ninterface I { a: N }\nconst x: I = { a: 1 };\n\n"
                  "export const f = (n: N): N => {\n  if (n > 0) throw new Error(`bad ${n}`);\n"
                  "  return n;\n};\n");
  put("main.ts", "import { f } from './lib/t.ts';\nenum E { A }\nconst v: number = f(E.A);\n"
                 "f(v + 1);\nexport default () => {};\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.ts", &r, &err), SB_ESCRIPT);
  char want[600];
  snprintf(want, sizeof(want), "file://%s/lib/t.ts:6: Error: bad 1", dir);
  if (strncmp(err.msg, want, strlen(want)) != 0) fail_msg("got '%s'", err.msg);
}

static void test_typescript_syntax_error(void **state) {
  put("main.ts", "import { f } from './lib/m.ts';\nexport default () => f();\n");
  put("lib/m.ts", "export const f = (): number => {\n  return {;\n};\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.ts", &r, &err), SB_ESCRIPT);
  if (strncmp(err.msg, "lib/m.ts:2:10: SyntaxError: ", 28) != 0) fail_msg("got '%s'", err.msg);
  assert_non_null(strstr(err.msg, "> 2 |   return {;"));
}

/* async functions and generators compile to ES5 over two prelude sections: the Promise (with the
 * hooks the VU's event loop drains) and regenerator's runtime. */
static void test_async_and_generators(void **state) {
  put("main.js", "import http from 'k6/http';\n\nexport default async function () {\n"
                 "  await http.get('http://127.0.0.1/');\n}\n");
  sb_compile_result r;
  sb_err err;
  if (compile_rel("main.js", &r, &err) != 0) fail_msg("%s", err.msg);
  const sb_archive_file *pre = sb_archive_get(r.archive, "es5/polyfills.js");
  assert_non_null(pre);
  assert_non_null(memmem(pre->data, pre->len, "hooks.drain", 11));
  assert_non_null(memmem(pre->data, pre->len, "regeneratorRuntime", 18));
  sb_compile_result_clear(&r);
  put("gen.js", "export function* g() { yield 1; }\nexport default () => { for (const x of g()) x; };\n");
  if (compile_rel("gen.js", &r, &err) != 0) fail_msg("%s", err.msg);
  pre = sb_archive_get(r.archive, "es5/polyfills.js");
  assert_non_null(pre);
  assert_non_null(memmem(pre->data, pre->len, "regeneratorRuntime", 18));
  assert_null(memmem(pre->data, pre->len, "hooks.drain", 11)); /* no Promise needed */
  sb_compile_result_clear(&r);
}

/* A plain ES5 script needs no polyfill and gets no prelude. */
static void test_no_polyfills_when_unused(void **state) {
  put("main.js", "import http from 'k6/http';\nexport default function () {\n"
                 "  var a = [1, 2];\n  http.get('http://127.0.0.1/' + a.join(','));\n}\n");
  sb_compile_result r;
  sb_err err;
  assert_int_equal(compile_rel("main.js", &r, &err), 0);
  assert_null(sb_archive_get(r.archive, "es5/polyfills.js"));
  sb_compile_result_clear(&r);
}

/* --compatibility-mode=base: the source is the ES5, require() literals are the imports, nothing
 * is added; modern syntax fails with a hint. */
static void test_base_mode(void **state) {
  put("main.js", "var http = require('k6/http');\nvar lib = require('./lib/l.js');\n"
                 "module.exports.options = { vus: lib.n };\n"
                 "module.exports.default = function () { http.get('http://127.0.0.1/'); };\n");
  put("lib/l.js", "exports.n = typeof Map === 'undefined' ? 2 : 0; // no polyfills in base mode\n");
  char cwd[512], path[512];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(dir), 0);
  sb_compile_result r;
  sb_err err = {{0}};
  int rc = sb_compile_script_mode("main.js", NULL, SB_COMPAT_BASE, &r, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_string_equal(es5_of(&r, "main.js"), (const char *)entry(r.archive, 0, "main.js")->data);
  assert_non_null(entry(r.archive, 1, "lib/l.js"));
  assert_null(sb_archive_get(r.archive, "es5/polyfills.js"));
  assert_string_equal(r.options_json, "{\"vus\":2}");
  const sb_archive_file *m = sb_archive_get(r.archive, "metadata.json");
  json_t *j = json_loadb((const char *)m->data, m->len, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(j, "compatibilityMode")), "base");
  json_decref(j);
  sb_compile_result_clear(&r);

  snprintf(path, sizeof(path), "modern.js");
  put("modern.js", "import http from 'k6/http';\nexport default () => {};\n");
  rc = sb_compile_script_mode(path, NULL, SB_COMPAT_BASE, &r, &err);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(rc, SB_ESCRIPT);
  assert_non_null(strstr(err.msg, "SyntaxError"));
  assert_non_null(strstr(err.msg, "--compatibility-mode=base runs plain ES5.1"));

  sb_compat_mode mode;
  assert_int_equal(sb_compat_mode_parse("base", &mode, &err), 0);
  assert_int_equal(mode, SB_COMPAT_BASE);
  assert_int_equal(sb_compat_mode_parse("extended", &mode, &err), 0);
  assert_int_equal(mode, SB_COMPAT_EXTENDED);
  assert_int_equal(sb_compat_mode_parse("latest", &mode, &err), SB_EINVAL);
  assert_string_equal(err.msg, "--compatibility-mode: 'latest' is not base or extended");
}

/* Without esbuild: .js still compiles through Babel alone, .ts is refused with a hint. */
static void test_without_esbuild(void **state) {
  put("main.js", "export default () => { const a = [1]; return a; };\n");
  put("main.ts", "export default (): number => 1;\n");
  setenv("SB_ESBUILD", "/nonexistent/esbuild", 1);
  sb_compile_result r;
  sb_err err;
  int rc = compile_rel("main.js", &r, &err);
  if (rc) fail_msg("%s", err.msg);
  sb_compile_result_clear(&r);
  rc = compile_rel("main.ts", &r, &err);
  unsetenv("SB_ESBUILD");
  assert_int_equal(rc, SB_ENOTFOUND);
  assert_non_null(strstr(err.msg, "main.ts: TypeScript needs esbuild"));
}

static int teardown_dir(void **state) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest ok[] = {
      cmocka_unit_test(test_compiles_with_imports), cmocka_unit_test(test_lines_retained),
      cmocka_unit_test(test_options),               cmocka_unit_test(test_metadata),
      cmocka_unit_test(test_open_files_archived),   cmocka_unit_test(test_archive_round_trip),
      cmocka_unit_test(test_k6_archive),            cmocka_unit_test(test_init_metrics),
  };
  const struct CMUnitTest bad[] = {
      cmocka_unit_test_setup_teardown(test_exported_functions_keep_their_lines, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_syntax_error, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_syntax_error_in_module, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_missing_import, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_missing_script, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_remote_import_unreachable, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_init_exception, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_init_only_stubs, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_open_missing, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_custom_metrics, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_custom_metric_conflicts, setup_dir, teardown_dir),
  };
  const struct CMUnitTest modern[] = {
      cmocka_unit_test_setup_teardown(test_typescript, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_typescript_error_lines, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_typescript_syntax_error, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_async_and_generators, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_no_polyfills_when_unused, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_base_mode, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_without_esbuild, setup_dir, teardown_dir),
  };
  int failed = cmocka_run_group_tests_name("compile", ok, setup_main, teardown_main);
  failed += cmocka_run_group_tests_name("compile errors", bad, NULL, NULL);
  failed += cmocka_run_group_tests_name("compile modern", modern, NULL, NULL);
  return failed ? 1 : 0;
}
