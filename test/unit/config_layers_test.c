/* controller/config_layers: k6's order of precedence (config file < script < K6_* < flags), the
 * execution settings a higher layer replaces whole, dns merged field by field, every K6_* form,
 * the config file's errors, and errors that name the layer at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* the failing allocator must wrap the module's .c: */
// clang-format off
#include "test/unit/failalloc.h"
#include "controller/config_layers.c"
#include "test/unit/failalloc_off.h"
// clang-format on

#include <stdio.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/sb_layers_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Writes |text| to |dir|/|name|; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text) {
  static char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

/* The layers of |src| merged; fails the test on an error. */
static sb_config_layers *load_ok(const sb_option_sources *src) {
  sb_config_layers *l = NULL;
  sb_err err = {{0}};
  if (sb_config_layers_load(&l, src, &err)) fail_msg("load failed: %s", err.msg);
  return l;
}

static json_t *merged(const sb_config_layers *l) {
  json_t *o = json_loads(sb_config_layers_json(l), 0, NULL);
  assert_non_null(o);
  return o;
}

/* sb_options_load() expecting a failure whose message contains |want|. */
static void options_err(const sb_option_sources *src, const char *want) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  assert_true(sb_options_load(&o, NULL, src, &err) < 0);
  assert_null(o);
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
}

/* Each layer wins over the one below it, and the winner is recorded. */
static void test_precedence(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.config_path = strdup(write_file("cfg.json", "{\"vus\": 2, \"userAgent\": \"file\", "
                                                  "\"throw\": true, \"batch\": 3}"));
  const char *script = "{\"vus\": 3, \"userAgent\": \"script\", \"batch\": 4}";
  const char *env[] = {"K6_VUS=4", "K6_USER_AGENT=env", "PATH=/bin", NULL};
  sb_option_sources src = {script, env, &cli, 1};
  sb_config_layers *l = load_ok(&src);
  json_t *m = merged(l);
  assert_int_equal(json_integer_value(json_object_get(m, "vus")), 4);
  assert_string_equal(json_string_value(json_object_get(m, "userAgent")), "env");
  assert_int_equal(json_integer_value(json_object_get(m, "batch")), 4);
  assert_true(json_is_true(json_object_get(m, "throw")));
  assert_int_equal(sb_config_layers_source(l, "vus"), SB_LAYER_ENV);
  assert_int_equal(sb_config_layers_source(l, "batch"), SB_LAYER_SCRIPT);
  assert_int_equal(sb_config_layers_source(l, "throw"), SB_LAYER_CONFIG);
  assert_int_equal(sb_config_layers_source(l, "hosts"), -1);
  json_decref(m);
  sb_config_layers_free(l);

  cli.vus = 5; /* the flag wins over all */
  cli.user_agent = strdup("cli");
  l = load_ok(&src);
  m = merged(l);
  assert_int_equal(json_integer_value(json_object_get(m, "vus")), 5);
  assert_string_equal(json_string_value(json_object_get(m, "userAgent")), "cli");
  assert_int_equal(sb_config_layers_source(l, "vus"), SB_LAYER_CLI);
  json_decref(m);
  sb_config_layers_free(l);

  sb_options *o = NULL; /* and the parsed options agree */
  sb_err err;
  assert_int_equal(sb_options_load(&o, NULL, &src, &err), 0);
  assert_string_equal(o->http.user_agent, "cli");
  assert_int_equal(o->http.batch, 4);
  assert_true(o->http.throw_errors);
  sb_options_free(o);
  sb_cli_overrides_clear(&cli);
}

/* k6's Options.Apply: duration, iterations, stages or scenarios in a higher layer replace all
 * four below; vus alone does not. */
static void test_execution_replaced_whole(void **state) {
  const char *script = "{\"scenarios\": {\"s\": {\"executor\": \"shared-iterations\"}},"
                       "\"vus\": 2}";
  const char *env[] = {"K6_DURATION=2s", NULL};
  sb_option_sources src = {script, env, NULL, 1};
  sb_options *o = NULL;
  char *json = NULL;
  sb_err err;
  assert_int_equal(sb_options_load(&o, &json, &src, &err), 0);
  assert_int_equal(o->nscenarios, 1);
  assert_string_equal(o->scenarios[0].name, "default");
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].vus, 2); /* the script's vus stays */
  assert_int_equal(o->scenarios[0].duration_ms, 2000);
  assert_null(strstr(json, "scenarios"));
  sb_options_free(o);
  free(json);

  /* a config file's stages give way to the script's iterations */
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.config_path =
      strdup(write_file("st.json", "{\"stages\": [{\"duration\": \"1s\", \"target\": 3}]}"));
  sb_option_sources src2 = {"{\"iterations\": 7}", NULL, &cli, 1};
  assert_int_equal(sb_options_load(&o, NULL, &src2, &err), 0);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(o->scenarios[0].iterations, 7);
  sb_options_free(o);

  /* within one layer, shortcuts and scenarios still exclude each other */
  sb_option_sources src3 = {
      "{\"duration\": \"2s\", \"scenarios\": {\"s\": {\"executor\": \"shared-iterations\"}}}", NULL,
      NULL, 1};
  options_err(&src3, "simultaneously is not allowed");
  sb_cli_overrides_clear(&cli);
}

/* dns merges field by field, whatever form each layer wrote it in. */
static void test_dns_field_by_field(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.dns = strdup("policy=onlyIPv4");
  const char *env[] = {"K6_DNS=select=first", NULL};
  sb_option_sources src = {"{\"dns\": \"ttl=2m,select=roundRobin\"}", env, &cli, 1};
  sb_options *o = NULL;
  sb_err err;
  assert_int_equal(sb_options_load(&o, NULL, &src, &err), 0);
  assert_true(o->http.dns.ttl_ms == 120000);
  assert_int_equal(o->http.dns.select, SB_DNS_SELECT_FIRST);
  assert_int_equal(o->http.dns.policy, SB_DNS_POLICY_ONLY_IPV4);
  sb_options_free(o);

  const char *bad_env[] = {"K6_DNS=select=sometimes", NULL};
  sb_option_sources bad = {"{\"dns\": {\"ttl\": \"1m\"}}", bad_env, NULL, 1};
  options_err(&bad, "K6_DNS: dns.select: unknown value 'sometimes'");
  const char *bad_key[] = {"K6_DNS=ttl=1m,color=red", NULL};
  sb_option_sources bk = {NULL, bad_key, NULL, 1};
  options_err(&bk, "K6_DNS: unknown DNS configuration field 'color'");
  sb_cli_overrides_clear(&cli);
}

/* Every form of K6_* variable, read as k6's envconfig reads it. */
static void test_env_forms(void **state) {
  const char *env[] = {"K6_VUS=3",
                       "K6_STAGES=1s:2, 2s:0",
                       "K6_INSECURE_SKIP_TLS_VERIFY=True",
                       "K6_THROW=0",
                       "K6_NO_COOKIES_RESET=t",
                       "K6_TAGS=team:a,env:prod",
                       "K6_HOSTS=test.local:127.0.0.1",
                       "K6_SYSTEM_TAGS=method,status",
                       "K6_BLOCK_HOSTNAMES=*.example.com,Bad.Test",
                       "K6_SUMMARY_TREND_STATS=avg,p(99)",
                       "K6_SUMMARY_TIME_UNIT=ms",
                       "K6_SETUP_TIMEOUT=5s",
                       "K6_LINGER=false",
                       "K6_NOT_AN_OPTION=1",
                       NULL};
  sb_option_sources src = {NULL, env, NULL, 1};
  sb_options *o = NULL;
  sb_err err;
  assert_int_equal(sb_options_load(&o, NULL, &src, &err), 0);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_RAMPING_VUS);
  assert_int_equal(o->scenarios[0].start_vus, 3);
  assert_int_equal(o->scenarios[0].nstages, 2);
  assert_int_equal(o->scenarios[0].stages[1].duration_ms, 2000);
  assert_true(o->http.insecure_skip_tls_verify);
  assert_false(o->http.throw_errors);
  assert_true(o->http.no_cookies_reset);
  assert_int_equal(o->http.ntags, 2);
  assert_int_equal(o->http.nhosts, 1);
  assert_string_equal(o->http.hosts[0].ip, "127.0.0.1");
  assert_int_equal(o->http.system_tags, SB_TAG_METHOD | SB_TAG_STATUS);
  assert_int_equal(o->http.nblock_hostnames, 2);
  assert_string_equal(o->http.block_hostnames[1], "bad.test");
  assert_int_equal(o->nsummary_trend_stats, 2);
  assert_string_equal(o->summary_time_unit, "ms");
  assert_int_equal(o->setup_timeout_ms, 5000);
  assert_false(o->linger);
  sb_options_free(o);
}

/* Errors name the layer: the variable, the flag, the file; the script keeps "options.". */
static void test_errors_name_the_layer(void **state) {
  const char *e1[] = {"K6_VUS=ten", NULL};
  sb_option_sources s1 = {NULL, e1, NULL, 1};
  options_err(&s1, "K6_VUS: 'ten' is not an integer");
  const char *e2[] = {"K6_VUS=-1", "K6_DURATION=5s", NULL};
  sb_option_sources s2 = {NULL, e2, NULL, 1};
  options_err(&s2, "K6_VUS: vus: must be a non-negative integer");
  const char *e3[] = {"K6_THROW=yes", NULL};
  sb_option_sources s3 = {NULL, e3, NULL, 1};
  options_err(&s3, "K6_THROW: 'yes' is not a boolean");
  const char *e4[] = {"K6_STAGES=10s", NULL};
  sb_option_sources s4 = {NULL, e4, NULL, 1};
  options_err(&s4, "K6_STAGES: '10s': expected DURATION:TARGET");
  const char *e5[] = {"K6_SYSTEM_TAGS=method,iter", NULL};
  sb_option_sources s5 = {NULL, e5, NULL, 1};
  options_err(&s5, "K6_SYSTEM_TAGS: systemTags[1]: 'iter' is not supported");

  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.config_path = strdup(write_file("bad.json", "{\"vus\": \"many\"}"));
  sb_option_sources s6 = {"{\"duration\": \"1s\"}", NULL, &cli, 1};
  char want[200];
  snprintf(want, sizeof(want), "--config %s: vus: must be a non-negative integer", cli.config_path);
  options_err(&s6, want);
  free(cli.config_path);
  cli.config_path = strdup(write_file("broken.json", "{\"vus\": "));
  options_err(&s6, "broken.json: invalid JSON at line 1");
  free(cli.config_path);
  cli.config_path = strdup(write_file("array.json", "[1]"));
  options_err(&s6, "array.json: must be a JSON object of options");
  free(cli.config_path);
  cli.config_path = strdup("/nonexistent/k6.json");
  sb_config_layers *l = NULL;
  sb_err err;
  assert_true(sb_config_layers_load(&l, &s6, &err) < 0);
  assert_non_null(strstr(err.msg, "--config /nonexistent/k6.json: "));
  free(cli.config_path);
  cli.config_path = NULL;

  cli.summary_time_unit = strdup("ns");
  options_err(&s6, "--summary-time-unit: summaryTimeUnit: invalid summary time unit");
  free(cli.summary_time_unit);
  cli.summary_time_unit = NULL;
  cli.tags = calloc(1, sizeof(char *));
  cli.tags[0] = strdup("novalue");
  cli.ntags = 1;
  options_err(&s6, "--tag: 'novalue': expected name=value");
  sb_cli_overrides_clear(&cli);

  sb_option_sources s7 = {"{\"blockHostnames\": [\"a..b\"]}", NULL, NULL, 1};
  options_err(&s7, "options.blockHostnames[0]: invalid hostname pattern 'a..b'");
}

/* The config file: k6's own keys are dropped, K6_CONFIG names it, a missing default is fine. */
static void test_config_file(void **state) {
  const char *path = write_file("k6.json", "{\"collectors\": {\"cloud\": {\"token\": \"secret\"}},"
                                           "\"out\": [\"json=x\"], \"maxRedirects\": 2}");
  char var[200];
  snprintf(var, sizeof(var), "K6_CONFIG=%s", path);
  const char *env[] = {var, NULL};
  sb_option_sources src = {NULL, env, NULL, 1};
  sb_config_layers *l = load_ok(&src);
  assert_null(strstr(sb_config_layers_json(l), "secret"));
  assert_null(strstr(sb_config_layers_json(l), "out"));
  assert_int_equal(sb_config_layers_source(l, "maxRedirects"), SB_LAYER_CONFIG);
  sb_config_layers_free(l);

  char home[128];
  snprintf(home, sizeof(home), "HOME=%s", dir); /* no ~/.config/k6/config.json there */
  const char *env2[] = {home, NULL};
  sb_option_sources src2 = {NULL, env2, NULL, 0};
  l = load_ok(&src2);
  assert_string_equal(sb_config_layers_json(l), "{}");
  sb_config_layers_free(l);
  char cfgdir[160];
  snprintf(cfgdir, sizeof(cfgdir), "%s/.config/k6", dir);
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "mkdir -p %s", cfgdir);
  assert_int_equal(system(cmd), 0);
  write_file(".config/k6/config.json", "{\"batch\": 9}");
  l = load_ok(&src2);
  assert_int_equal(sb_config_layers_source(l, "batch"), SB_LAYER_CONFIG);
  sb_config_layers_free(l);
}

/* The flags become a layer: lists split at commas, tags, booleans only when given. */
static void test_cli_layer(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  char *tags[] = {strdup("team=a"), strdup("env=x=y,z=w")};
  char *st[] = {strdup("method, url"), strdup("vu")};
  char *bh[] = {strdup("*.Example.com")};
  cli.tags = malloc(sizeof(tags));
  memcpy(cli.tags, tags, sizeof(tags));
  cli.ntags = 2;
  cli.system_tags = malloc(sizeof(st));
  memcpy(cli.system_tags, st, sizeof(st));
  cli.nsystem_tags = 2;
  cli.block_hostnames = malloc(sizeof(bh));
  memcpy(cli.block_hostnames, bh, sizeof(bh));
  cli.nblock_hostnames = 1;
  cli.linger = 1;
  cli.discard_response_bodies = 1;
  cli.duration_ms = 90000;
  sb_option_sources src = {"{\"tags\": {\"team\": \"b\", \"keep\": \"1\"}}", NULL, &cli, 1};
  sb_options *o = NULL;
  char *json = NULL;
  sb_err err;
  assert_int_equal(sb_options_load(&o, &json, &src, &err), 0);
  assert_int_equal(o->http.ntags, 3); /* the flags' tags replace the script's map */
  assert_string_equal(o->http.tags[0], "team");
  assert_string_equal(o->http.tags[1], "a");
  assert_string_equal(o->http.tags[3], "x=y");
  assert_int_equal(o->http.system_tags, SB_TAG_METHOD | SB_TAG_URL | SB_TAG_VU);
  assert_string_equal(o->http.block_hostnames[0], "*.example.com");
  assert_true(o->linger);
  assert_true(o->discard_response_bodies && o->http.discard_response_bodies);
  assert_non_null(strstr(json, "\"duration\":\"1m30s\""));
  sb_options_free(o);
  free(json);
  sb_cli_overrides_clear(&cli);

  /* an empty tags object does not wipe the tags below (k6: len(RunTags) > 0) */
  const char *env[] = {"K6_TAGS=", NULL};
  sb_option_sources src2 = {"{\"tags\": {\"team\": \"b\"}}", env, NULL, 1};
  assert_int_equal(sb_options_load(&o, NULL, &src2, &err), 0);
  assert_int_equal(o->http.ntags, 1);
  sb_options_free(o);
}

/* Every allocation failure of the layering unwinds to an error with nothing leaked (ASan). */
static void test_alloc_failures(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.vus = 2;
  cli.dns = strdup("ttl=1m");
  cli.nstages = 1;
  cli.stages = calloc(1, sizeof(sb_stage));
  cli.stages[0].duration_ms = 1000;
  const char *env[] = {"K6_TAGS=a:b", "K6_STAGES=1s:1", "K6_DNS=select=first", NULL};
  sb_option_sources src = {"{\"dns\": {\"policy\": \"any\"}, \"vus\": 1}", env, &cli, 1};
  long n;
  for (n = 1; n < 500; n++) {
    sb_config_layers *l = (sb_config_layers *)&n;
    sb_err err;
    alloc_fail_at = n;
    alloc_calls = 0;
    int rc = sb_config_layers_load(&l, &src, &err);
    alloc_fail_at = 0;
    if (rc == 0) {
      sb_config_layers_free(l);
      break;
    }
    assert_true(rc < 0);
    assert_ptr_equal(l, (sb_config_layers *)&n);
  }
  assert_true(n > 3 && n < 500);
  sb_cli_overrides_clear(&cli);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_execution_replaced_whole),
      cmocka_unit_test(test_dns_field_by_field),
      cmocka_unit_test(test_env_forms),
      cmocka_unit_test(test_errors_name_the_layer),
      cmocka_unit_test(test_config_file),
      cmocka_unit_test(test_cli_layer),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
