/* controller/handle_summary and controller/summary_data: handleSummary(data) run on the
 * controller over a compiled archive, its result written to streams and files, its failures
 * reported; and the data object as k6 builds it. Scripts are written into a mkdtemp() directory
 * and compiled in base mode (plain ES5, no Babel) except where an ES module import is the point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/compile.h"
#include "controller/handle_summary.c"

static char dir[256];

static void put(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *rel) {
  char path[512];
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  if (sb_buf_read_file(&b, path, &err)) return NULL;
  sb_buf_puts(&b, "");
  return b.data;
}

static sb_metrics *sample_metrics(void) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  const char *const ok[] = {"check", "ok", "group", ""};
  const char *const in[] = {"check", "in", "group", "::g"};
  const char *const n[] = {"group", "::g::n", "expected_response", "true"};
  sb_metrics_add(m, SB_M_CHECKS, sb_metrics_tags(m, ok, 2), 1);
  sb_metrics_add(m, SB_M_CHECKS, sb_metrics_tags(m, ok, 2), 0);
  sb_metrics_add(m, SB_M_CHECKS, sb_metrics_tags(m, in, 2), 1);
  for (int i = 0; i < 4; i++) {
    sb_metrics_add(m, SB_M_HTTP_REQS, sb_metrics_tags(m, n, 2), 1);
    sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, sb_metrics_tags(m, n, 2), 10);
    sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, sb_metrics_tags(m, n, 2), i == 0);
  }
  sb_metrics_add(m, SB_M_VUS, sb_metrics_tags(m, NULL, 0), 3);
  sb_metrics_add(m, SB_M_DATA_SENT, sb_metrics_tags(m, NULL, 0), 2000);
  return m;
}

/* The data as JSON text for sample_metrics(), thresholds http_reqs count>3 (ok) and
 * http_req_duration{expected_response:true} p(95)<5 (failed). */
static char *sample_data(sb_metrics *m) {
  static sb_threshold th[2];
  sb_err err;
  assert_int_equal(sb_threshold_parse(&th[0], "http_reqs", "count>3", &err), 0);
  assert_int_equal(sb_threshold_parse(&th[1], "http_req_duration{expected_response:true}",
                                      "p(95)<5", &err), 0);
  sb_threshold_result res[2] = {{1, 1, 4}, {0, 1, 10}};
  sb_summary_input in = {.metrics = m, .thresholds = th, .results = res, .nthresholds = 2,
                         .duration_s = 2, .time_unit = "ms"};
  sb_summary_state st = {1, 0, 1};
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_summary_data_json(&b, &in, &st), 0);
  sb_threshold_clear(&th[0]);
  sb_threshold_clear(&th[1]);
  return b.data;
}

static json_t *at(json_t *j, const char *path) {
  char key[128];
  while (j && *path) {
    size_t n = strcspn(path, "/");
    snprintf(key, sizeof(key), "%.*s", (int)n, path);
    j = json_is_array(j) ? json_array_get(j, (size_t)atoi(key)) : json_object_get(j, key);
    path += n + (path[n] == '/');
  }
  return j;
}

/* k6's shape: root_group with md5 ids and nested groups, options, state, metrics with values by
 * type and thresholds with ok, a sub-metric. */
static void test_data_json(void **state) {
  sb_metrics *m = sample_metrics();
  char *text = sample_data(m);
  json_error_t je;
  json_t *d = json_loads(text, 0, &je);
  assert_non_null(d);
  assert_string_equal(json_string_value(at(d, "root_group/id")), "d41d8cd98f00b204e9800998ecf8427e");
  assert_string_equal(json_string_value(at(d, "root_group/path")), "");
  assert_string_equal(json_string_value(at(d, "root_group/checks/0/path")), "::ok");
  assert_string_equal(json_string_value(at(d, "root_group/checks/0/id")),
                      "2385b52f13b6c5244d846734f1757fa3");
  assert_int_equal(json_integer_value(at(d, "root_group/checks/0/passes")), 1);
  assert_int_equal(json_integer_value(at(d, "root_group/checks/0/fails")), 1);
  assert_string_equal(json_string_value(at(d, "root_group/groups/0/name")), "g");
  assert_string_equal(json_string_value(at(d, "root_group/groups/0/id")),
                      "652e756c89643c3ada0b451cbd88a9d3");
  assert_string_equal(json_string_value(at(d, "root_group/groups/0/checks/0/path")), "::g::in");
  assert_string_equal(json_string_value(at(d, "root_group/groups/0/groups/0/path")), "::g::n");
  assert_int_equal(json_array_size(at(d, "root_group/groups/0/groups/0/checks")), 0);
  assert_int_equal(json_array_size(at(d, "options/summaryTrendStats")), 6);
  assert_string_equal(json_string_value(at(d, "options/summaryTimeUnit")), "ms");
  assert_true(json_is_true(at(d, "options/noColor")));
  assert_true(json_is_true(at(d, "state/isStdOutTTY")));
  assert_true(json_is_false(at(d, "state/isStdErrTTY")));
  assert_true(json_number_value(at(d, "state/testRunDurationMs")) == 2000);
  assert_string_equal(json_string_value(at(d, "metrics/http_reqs/type")), "counter");
  assert_true(json_number_value(at(d, "metrics/http_reqs/values/count")) == 4);
  assert_true(json_number_value(at(d, "metrics/http_reqs/values/rate")) == 2);
  assert_true(json_is_true(at(d, "metrics/http_reqs/thresholds/count>3/ok")));
  assert_string_equal(json_string_value(at(d, "metrics/data_sent/contains")), "data");
  assert_true(json_number_value(at(d, "metrics/vus/values/max")) == 3);
  assert_true(json_number_value(at(d, "metrics/http_req_failed/values/rate")) == 0.25);
  assert_true(json_number_value(at(d, "metrics/http_req_failed/values/passes")) == 1);
  assert_true(json_number_value(at(d, "metrics/http_req_failed/values/fails")) == 3);
  assert_true(json_number_value(at(d, "metrics/checks/values/rate")) == 2.0 / 3);
  json_t *sub = at(d, "metrics/http_req_duration{expected_response:true}");
  assert_string_equal(json_string_value(at(sub, "contains")), "time");
  assert_true(json_number_value(at(sub, "values/p(95)")) > 9.9);
  assert_true(json_is_false(at(sub, "thresholds/p(95)<5/ok")));
  assert_null(at(d, "metrics/http_req_duration/thresholds"));
  json_decref(d);
  free(text);
  sb_metrics_free(m);
}

typedef struct hs_out {
  int rc;
  sb_err err;
  char *out, *errs; /* what went to "stdout" and "stderr" */
} hs_out;

/* Compiles |js| as dir/|name| (base: plain ES5) and runs handleSummary on sample data. */
static hs_out run_script(const char *name, const char *js, sb_compat_mode mode, const char *setup,
                         int64_t timeout_ms) {
  char path[512];
  hs_out r = {0};
  sb_compile_result cr;
  sb_err err;
  put(name, js);
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (sb_compile_script_mode(path, NULL, mode, &cr, &err)) fail_msg("compile: %s", err.msg);
  sb_metrics *m = sample_metrics();
  char *data = sample_data(m);
  size_t on = 0, en = 0;
  FILE *out = open_memstream(&r.out, &on), *errs = open_memstream(&r.errs, &en);
  sb_handle_summary_opts o = {cr.archive, data, setup, "{\"vus\":3}", timeout_ms, 0, 7, out, errs};
  r.err.msg[0] = '\0';
  r.rc = sb_handle_summary_wanted(cr.archive) ? sb_handle_summary_run(&o, &r.err) : 0;
  fclose(out);
  fclose(errs);
  free(data);
  sb_metrics_free(m);
  sb_compile_result_clear(&cr);
  return r;
}

static void hs_clear(hs_out *r) {
  free(r->out);
  free(r->errs);
}

/* An ES module importing a textSummary helper from a local file, as scripts import k6's jslib
 * module: stdout, stderr, files (a string, an ArrayBuffer, a relative path), setup_data, console
 * lines, open() and the init code's metrics and exec.test.options. */
static void test_result_written(void **state) {
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(dir), 0);
  put("lib.js", "export function textSummary(data, opts) {\n"
                "  return opts.indent + 'reqs=' + data.metrics.http_reqs.values.count;\n"
                "}\n");
  put("names.txt", "alpha\n");
  hs_out r = run_script(
      "esm.js",
      "import { textSummary } from './lib.js';\n"
      "import { Trend } from 'k6/metrics';\n"
      "import exec from 'k6/execution';\n"
      "import { check } from 'k6';\n"
      "const t = new Trend('t');\n"
      "const names = open('./names.txt');\n"
      "export default function () {}\n"
      "export function handleSummary(data) {\n"
      "  console.log('vus', exec.test.options.vus, {a: 1});\n"
      "  check(1, {'one': (x) => x === 1});\n"
      "  return {\n"
      "    stdout: textSummary(data, {indent: '>', enableColors: false}) + '\\n',\n"
      "    stderr: 'setup ' + JSON.stringify(data.setup_data) + ' ' + names.trim() + '\\n',\n"
      "    'out.json': JSON.stringify(data.metrics.vus.values),\n"
      "    'bytes.bin': new Uint8Array([0, 255, 10]).buffer,\n"
      "    'caf\\u00e9.txt': '\\u2713',\n"
      "  };\n"
      "}\n",
      SB_COMPAT_EXTENDED, "{\"token\":\"x\"}", 0);
  if (r.rc != 1) fail_msg("rc %d: %s", r.rc, r.err.msg);
  assert_string_equal(r.out, ">reqs=4\n");
  assert_non_null(strstr(r.errs, "INFO[0007] vus 3 {\"a\":1}  source=console\n"));
  assert_non_null(strstr(r.errs, "setup {\"token\":\"x\"} alpha\n"));
  char *f = slurp("out.json");
  assert_string_equal(f, "{\"value\":3,\"min\":3,\"max\":3}");
  free(f);
  f = slurp("bytes.bin");
  assert_memory_equal(f, "\0\xff\n", 3);
  free(f);
  f = slurp("caf\xc3\xa9.txt");
  assert_string_equal(f, "\xe2\x9c\x93");
  free(f);
  hs_clear(&r);
  assert_int_equal(chdir(cwd), 0);
}

/* null, undefined, no handleSummary: the default summary (0); not a function: an error. */
static void test_default_cases(void **state) {
  hs_out r = run_script("null.js", "exports.default = function () {};\n"
                                   "exports.handleSummary = function () { return null; };\n",
                        SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, 0);
  assert_string_equal(r.out, "");
  hs_clear(&r);
  r = run_script("undef.js", "exports.default = function () {};\n"
                             "exports.handleSummary = function (d) {\n"
                             "  if (d.setup_data !== undefined || !('setup_data' in d)) throw 1;\n"
                             "};\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, 0);
  hs_clear(&r);
  r = run_script("none.js", "exports.default = function () {};\n", SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, 0);
  hs_clear(&r);
  r = run_script("notfn.js", "exports.default = function () {};\nexports.handleSummary = 3;\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_EINVAL);
  assert_non_null(strstr(r.err.msg, "handleSummary must be a function"));
  hs_clear(&r);
  r = run_script("empty.js", "exports.default = function () {};\n"
                             "exports.handleSummary = function () { return {}; };\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, 1); /* an empty map: nothing written, no default summary (k6) */
  assert_string_equal(r.out, "");
  hs_clear(&r);
}

/* Failures: an exception (with its line), results of the wrong shape (nothing written), a file
 * that cannot be written (the rest is), requests (the controller sends none). */
static void test_errors(void **state) {
  hs_out r = run_script("throw.js", "exports.default = function () {};\n"
                                    "exports.handleSummary = function () {\n"
                                    "  throw new Error('boom');\n"
                                    "};\n",
                        SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_ESCRIPT);
  assert_non_null(strstr(r.err.msg, "throw.js:3"));
  assert_non_null(strstr(r.err.msg, "Error: boom"));
  hs_clear(&r);
  r = run_script("num.js", "exports.default = function () {};\n"
                           "exports.handleSummary = function () { return {stdout: 'x', a: 5}; };\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_EINVAL);
  assert_string_equal(r.err.msg, "error handling summary object 'a': invalid type number, it "
                                 "needs to be a string or ArrayBuffer");
  assert_string_equal(r.out, ""); /* nothing written */
  hs_clear(&r);
  r = run_script("str.js", "exports.default = function () {};\n"
                           "exports.handleSummary = function () { return 'text'; };\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_EINVAL);
  assert_non_null(strstr(r.err.msg, "should return a map with string keys (got string)"));
  hs_clear(&r);
  r = run_script("then.js", "exports.default = function () {};\n"
                            "exports.handleSummary = function () { return {then: function () {}}; };\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_EINVAL);
  assert_non_null(strstr(r.err.msg, "a Promise"));
  hs_clear(&r);
  r = run_script("dir.js", "exports.default = function () {};\n"
                           "exports.handleSummary = function () {\n"
                           "  return {'/nonexistent-dir/x.txt': 'a', stdout: 'still\\n'};\n"
                           "};\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_EIO);
  assert_non_null(strstr(r.err.msg, "could not open '/nonexistent-dir/x.txt'"));
  assert_string_equal(r.out, "still\n");
  hs_clear(&r);
  r = run_script("http.js", "var http = require('k6/http');\n"
                            "exports.default = function () {};\n"
                            "exports.handleSummary = function () { http.get('http://x'); };\n",
                 SB_COMPAT_BASE, NULL, 0);
  assert_int_equal(r.rc, SB_ESCRIPT);
  assert_non_null(strstr(r.err.msg, "http.get() is not available in handleSummary()"));
  hs_clear(&r);
}

/* handleSummaryTimeout stops a script that never returns. */
static void test_timeout(void **state) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hs_out r = run_script("loop.js", "exports.default = function () {};\n"
                                   "exports.handleSummary = function () { for (;;) {} };\n",
                        SB_COMPAT_BASE, NULL, 300);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(r.rc, SB_ETIMEDOUT);
  assert_string_equal(r.err.msg, "handleSummary() execution timed out after 0.3 seconds");
  assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 3000);
  hs_clear(&r);
}

static int setup_dir(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/sb-hs-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_json),     cmocka_unit_test(test_result_written),
      cmocka_unit_test(test_default_cases), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_timeout),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
