/* controller/options_json: exec.test.options as k6 shows it — every lib.Options key (null when
 * unset), the shortcuts folded into scenarios.default with only the fields a tier set, the
 * script's own scenarios with their executor's fields, CLI flags over the script, Go-style
 * durations, thresholds as k6 marshals them, and out-of-memory at every allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/options_json.h"

static json_t *got; /* the last build()'s result, freed by the next and by teardown */

static int teardown(void **state) {
  json_decref(got);
  got = NULL;
  return 0;
}

/* Parses |script| with |cli| as the run does and returns test.options, parsed back. */
static json_t *build(const char *script, const sb_cli_overrides *cli) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  char *s = NULL;
  if (sb_options_parse(&o, script, cli, &err)) fail_msg("parse: %s", err.msg);
  if (sb_options_to_json(o, script, cli, &s, &err)) fail_msg("to_json: %s", err.msg);
  sb_options_free(o);
  json_decref(got);
  got = json_loads(s, 0, NULL);
  if (!got) fail_msg("not JSON: %s", s);
  free(s);
  return got;
}

/* |path| ("scenarios.default.vus") inside |j|, or NULL. */
static json_t *at(json_t *j, const char *path) {
  char key[128];
  while (j && *path) {
    size_t n = strcspn(path, ".");
    snprintf(key, sizeof(key), "%.*s", (int)n, path);
    j = json_object_get(j, key);
    path += n + (path[n] == '.');
  }
  return j;
}

/* |path| in the last result equals the JSON |want| (object key order aside). */
static void expect_at(const char *path, const char *want) {
  json_t *w = json_loads(want, JSON_DECODE_ANY, NULL), *g = at(got, path);
  if (!w) fail_msg("bad expectation %s", want);
  if (!g || !json_equal(g, w)) {
    char *gs = g ? json_dumps(g, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fail_msg("%s\n got %s\nwant %s", path, gs ? gs : "(absent)", want);
  }
  json_decref(w);
}

static void expect_absent(const char *path) {
  if (at(got, path)) fail_msg("%s should be absent", path);
}

static sb_cli_overrides cli_none(void) {
  sb_cli_overrides c;
  sb_cli_overrides_init(&c);
  return c;
}

/* No options at all: k6's lib.Options with nulls, one per-vu-iterations scenario with nothing
 * set, the two defaults k6 fills in. */
static void test_no_options(void **state) {
  build(NULL, NULL);
  assert_int_equal(json_object_size(got), 37);
  expect_at("paused", "null");
  expect_at("setupTimeout", "null");
  expect_at("dns", "{\"ttl\":null,\"select\":null,\"policy\":null}");
  expect_at("thresholds", "null");
  expect_at("summaryTrendStats", "[\"avg\",\"min\",\"med\",\"max\",\"p(90)\",\"p(95)\"]");
  assert_int_equal(json_array_size(at(got, "systemTags")), 14);
  assert_string_equal(json_string_value(json_array_get(at(got, "systemTags"), 0)), "check");
  expect_at("scenarios", "{\"default\":{\"executor\":\"per-vu-iterations\",\"startTime\":null,"
                         "\"gracefulStop\":null,\"env\":null,\"exec\":null,\"tags\":null,"
                         "\"vus\":null,\"iterations\":null,\"maxDuration\":null}}");
  expect_at("consoleOutput", "null");
  expect_at("localIPs", "null");
  build("null", NULL);
  assert_int_equal(json_object_size(got), 37);
  build("", NULL);
  expect_at("scenarios.default.executor", "\"per-vu-iterations\"");
}

/* The e2e case: `vus: 2, duration: '1s'` with --vus 3. */
static void test_shortcuts_and_cli_vus(void **state) {
  sb_cli_overrides c = cli_none();
  c.vus = 3;
  build("{\"vus\": 2, \"duration\": \"1s\"}", &c);
  expect_at("scenarios", "{\"default\":{\"executor\":\"constant-vus\",\"startTime\":null,"
                         "\"gracefulStop\":null,\"env\":null,\"exec\":null,\"tags\":null,"
                         "\"vus\":3,\"duration\":\"1s\"}}");
  expect_absent("vus"); /* k6 deletes the shortcuts */
  expect_absent("duration");
  expect_absent("iterations");
  expect_absent("stages");
  build("{\"vus\": 2, \"duration\": \"1s\"}", NULL);
  expect_at("scenarios.default.vus", "2");
  build("{\"duration\": \"90s\"}", NULL);
  expect_at("scenarios.default.vus", "null"); /* no tier set it: k6 says null, runs 1 */
  expect_at("scenarios.default.duration", "\"1m30s\"");
}

/* k6's own run with --iterations 1 and no options: shared-iterations, only iterations set. */
static void test_cli_iterations(void **state) {
  sb_cli_overrides c = cli_none();
  c.iterations = 1;
  build(NULL, &c);
  expect_at("scenarios.default", "{\"executor\":\"shared-iterations\",\"startTime\":null,"
                                 "\"gracefulStop\":null,\"env\":null,\"exec\":null,\"tags\":null,"
                                 "\"vus\":null,\"iterations\":1,\"maxDuration\":null}");
  /* iterations + duration: the duration is the scenario's maxDuration */
  build("{\"vus\": 5, \"iterations\": 20, \"duration\": \"2m\"}", NULL);
  expect_at("scenarios.default.executor", "\"shared-iterations\"");
  expect_at("scenarios.default.vus", "5");
  expect_at("scenarios.default.iterations", "20");
  expect_at("scenarios.default.maxDuration", "\"2m0s\"");
  /* --duration replaces the script's iterations (and its scenarios); `vus` stays */
  c = cli_none();
  c.duration_ms = 1500;
  build("{\"vus\": 4, \"iterations\": 20}", &c);
  expect_at("scenarios.default.executor", "\"constant-vus\"");
  expect_at("scenarios.default.vus", "4");
  expect_at("scenarios.default.duration", "\"1.5s\"");
  build("{\"scenarios\": {\"a\": {\"executor\": \"per-vu-iterations\"}}}", &c);
  expect_at("scenarios", "{\"default\":{\"executor\":\"constant-vus\",\"startTime\":null,"
                         "\"gracefulStop\":null,\"env\":null,\"exec\":null,\"tags\":null,"
                         "\"vus\":null,\"duration\":\"1.5s\"}}");
}

static void test_stages(void **state) {
  build("{\"vus\": 2, \"stages\": [{\"duration\": \"30s\", \"target\": 10},"
        " {\"duration\": \"1m\", \"target\": 0}]}",
        NULL);
  expect_at("scenarios.default", "{\"executor\":\"ramping-vus\",\"startTime\":null,"
                                 "\"gracefulStop\":null,\"env\":null,\"exec\":null,\"tags\":null,"
                                 "\"startVUs\":2,\"stages\":[{\"duration\":\"30s\",\"target\":10},"
                                 "{\"duration\":\"1m0s\",\"target\":0}],"
                                 "\"gracefulRampDown\":null}");
  sb_cli_overrides c = cli_none();
  sb_stage st = {5000, 7};
  c.stages = &st;
  c.nstages = 1;
  build("{\"duration\": \"10s\"}", &c);
  expect_at("scenarios.default.stages", "[{\"duration\":\"5s\",\"target\":7}]");
  expect_at("scenarios.default.startVUs", "null");
}

/* The script's own scenarios: each field of the executor, its value where the script set it. */
static void test_script_scenarios(void **state) {
  build("{\"scenarios\": {"
        " \"cv\": {\"executor\": \"constant-vus\", \"vus\": 50, \"duration\": \"600s\","
        "  \"startTime\": \"10s\", \"gracefulStop\": \"30s\", \"env\": {\"FOO\": \"bar\"},"
        "  \"exec\": \"login\", \"tags\": {\"k\": \"v\"}, \"unknownField\": 1},"
        " \"si\": {\"executor\": \"shared-iterations\", \"iterations\": 9, \"maxDuration\": 90000},"
        " \"rv\": {\"executor\": \"ramping-vus\", \"stages\": [{\"duration\": \"1s\", \"target\": "
        "3}],"
        "  \"gracefulRampDown\": \"0s\"}}}",
        NULL);
  expect_at("scenarios.cv", "{\"executor\":\"constant-vus\",\"startTime\":\"10s\","
                            "\"gracefulStop\":\"30s\",\"env\":{\"FOO\":\"bar\"},\"exec\":\"login\","
                            "\"tags\":{\"k\":\"v\"},\"vus\":50,\"duration\":\"10m0s\"}");
  expect_at("scenarios.si", "{\"executor\":\"shared-iterations\",\"startTime\":null,"
                            "\"gracefulStop\":null,\"env\":null,\"exec\":null,\"tags\":null,"
                            "\"vus\":null,\"iterations\":9,\"maxDuration\":\"1m30s\"}");
  expect_at("scenarios.rv.startVUs", "null");
  expect_at("scenarios.rv.gracefulRampDown", "\"0s\"");
  expect_at("scenarios.rv.stages", "[{\"duration\":\"1s\",\"target\":3}]");
  assert_int_equal(json_object_size(at(got, "scenarios")), 3);
  /* k6 v2: --vus alone is a shortcut of its own, over the script's scenarios */
  sb_cli_overrides c = cli_none();
  c.vus = 8;
  build("{\"scenarios\": {\"a\": {\"executor\": \"per-vu-iterations\", \"vus\": 2}}}", &c);
  expect_at("scenarios.default.vus", "8");
  expect_at("scenarios.default.iterations", "8");
  expect_absent("scenarios.a");
}

static void test_thresholds(void **state) {
  build("{\"thresholds\": {\"http_req_duration\": [\"p(95)<200\", \"avg<100\"],"
        " \"checks\": [{\"threshold\": \"rate>0.9\", \"abortOnFail\": true,"
        "  \"delayAbortEval\": \"10s\"}],"
        " \"iterations\": [{\"threshold\": \"count>1\", \"abortOnFail\": false}],"
        " \"http_reqs\": [{\"threshold\": \"count>0\", \"abortOnFail\": true}]}}",
        NULL);
  expect_at(
      "thresholds",
      "{\"http_req_duration\":[\"p(95)<200\",\"avg<100\"],"
      "\"checks\":[{\"threshold\":\"rate>0.9\",\"abortOnFail\":true,\"delayAbortEval\":\"10s\"}],"
      "\"iterations\":[\"count>1\"],"
      "\"http_reqs\":[{\"threshold\":\"count>0\",\"abortOnFail\":true,\"delayAbortEval\":null}]}");
  build("{\"thresholds\": {}}", NULL);
  expect_at("thresholds", "{}");
}

/* Known keys pass through (durations in Go's form), unknown ones are dropped as k6 drops them. */
static void test_passthrough(void **state) {
  build("{\"setupTimeout\": \"60s\", \"teardownTimeout\": 1500, \"minIterationDuration\": \"2s\","
        " \"hosts\": {\"a.test\": \"127.0.0.1\"}, \"tags\": {\"team\": \"x\"},"
        " \"noCookiesReset\": true, \"maxRedirects\": 3, \"userAgent\": \"ua/1\","
        " \"dns\": {\"ttl\": \"1m\", \"select\": \"random\"}, \"systemTags\": [\"url\"],"
        " \"myOwnThing\": 42, \"summaryTrendStats\": [\"avg\", \"p(99)\"]}",
        NULL);
  expect_at("setupTimeout", "\"1m0s\"");
  expect_at("teardownTimeout", "\"1.5s\"");
  expect_at("minIterationDuration", "\"2s\"");
  expect_at("hosts", "{\"a.test\":\"127.0.0.1\"}");
  expect_at("tags", "{\"team\":\"x\"}");
  expect_at("noCookiesReset", "true");
  expect_at("maxRedirects", "3");
  expect_at("userAgent", "\"ua/1\"");
  expect_at("dns", "{\"ttl\":\"1m\",\"select\":\"random\",\"policy\":null}");
  expect_at("systemTags", "[\"url\"]");
  expect_at("summaryTrendStats", "[\"avg\",\"p(99)\"]");
  expect_absent("myOwnThing");
  assert_int_equal(json_object_size(got), 37);
}

/* The command line's flags win over the script. */
static void test_cli_overlay(void **state) {
  sb_cli_overrides c = cli_none();
  char *stats[] = {"p(99)"};
  c.max_redirects = 0;
  c.batch = 4;
  c.batch_per_host = 2;
  c.throw_errors = 1;
  c.insecure_skip_tls_verify = 1;
  c.no_connection_reuse = 1;
  c.no_vu_connection_reuse = 1;
  c.user_agent = "cli-agent";
  c.dns = "select=first,ttl=inf";
  c.summary_trend_stats = stats;
  c.nsummary_trend_stats = 1;
  build("{\"maxRedirects\": 5, \"userAgent\": \"script\", \"dns\": {\"policy\": \"onlyIPv4\","
        " \"select\": \"random\"}}",
        &c);
  expect_at("maxRedirects", "0");
  expect_at("batch", "4");
  expect_at("batchPerHost", "2");
  expect_at("throw", "true");
  expect_at("insecureSkipTLSVerify", "true");
  expect_at("noConnectionReuse", "true");
  expect_at("noVUConnectionReuse", "true");
  expect_at("userAgent", "\"cli-agent\"");
  expect_at("dns", "{\"ttl\":\"inf\",\"select\":\"first\",\"policy\":\"onlyIPv4\"}");
  expect_at("summaryTrendStats", "[\"p(99)\"]");
}

static void test_bad_input(void **state) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  char *s = (char *)"untouched";
  assert_int_equal(sb_options_parse(&o, NULL, NULL, &err), 0);
  assert_int_equal(sb_options_to_json(o, "[1, 2]", NULL, &s, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "not a JSON object"));
  assert_int_equal(sb_options_to_json(o, "{oops", NULL, &s, &err), SB_EFORMAT);
  assert_string_equal(s, "untouched");
  sb_options_free(o);
}

/* jansson's allocator failing at the Nth call, for every N until the build succeeds: each
 * failure is SB_ENOMEM with nothing leaked (ASan) and |*out| untouched. While the script is
 * being parsed back, jansson 2.14 may report a failed allocation as a syntax error: SB_EFORMAT
 * is accepted there (and only there). */
static long fail_at, calls;
static void *fail_malloc(size_t n) {
  return ++calls == fail_at ? NULL : malloc(n);
}

static void test_out_of_memory(void **state) {
  static const char script[] =
      "{\"vus\": 2, \"duration\": \"5s\", \"dns\": {\"ttl\": \"1m\"}, \"setupTimeout\": \"1m\","
      " \"thresholds\": {\"a\": [\"count>0\", {\"threshold\": \"rate>0\", \"abortOnFail\": "
      "true}]}}";
  sb_cli_overrides c = cli_none();
  c.dns = "policy=any";
  c.user_agent = "x";
  sb_options *o = NULL;
  sb_err err = {{0}};
  assert_int_equal(sb_options_parse(&o, script, &c, &err), 0);
  calls = 0, fail_at = 0;
  json_set_alloc_funcs(fail_malloc, free);
  json_decref(json_loads(script, 0, NULL));
  json_set_alloc_funcs(malloc, free);
  long parse_calls = calls;
  int ok = 0;
  for (fail_at = 1; !ok && fail_at < 10000; fail_at++) {
    char *s = NULL;
    calls = 0;
    json_set_alloc_funcs(fail_malloc, free);
    int rc = sb_options_to_json(o, script, &c, &s, &err);
    json_set_alloc_funcs(malloc, free);
    if (rc == 0) {
      ok = 1;
      assert_non_null(s);
      free(s);
    } else {
      if (rc != SB_ENOMEM && !(rc == SB_EFORMAT && fail_at <= parse_calls))
        fail_msg("allocation %ld failed: rc %d (%s)", fail_at, rc, err.msg);
      assert_null(s);
    }
  }
  assert_true(ok);
  assert_true(fail_at > 50); /* it did fail many times on the way */
  sb_options_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_no_options, teardown),
      cmocka_unit_test_teardown(test_shortcuts_and_cli_vus, teardown),
      cmocka_unit_test_teardown(test_cli_iterations, teardown),
      cmocka_unit_test_teardown(test_stages, teardown),
      cmocka_unit_test_teardown(test_script_scenarios, teardown),
      cmocka_unit_test_teardown(test_thresholds, teardown),
      cmocka_unit_test_teardown(test_passthrough, teardown),
      cmocka_unit_test_teardown(test_cli_overlay, teardown),
      cmocka_unit_test_teardown(test_bad_input, teardown),
      cmocka_unit_test_teardown(test_out_of_memory, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
