/* controller/options: k6's shortcut rules, scenarios, defaults, CLI overrides, errors naming the
 * option, and the banner's facts (max duration, max VUs, scenario lines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test/unit/failalloc.h"
#include "controller/options.c"
#include "controller/options_http.c"
#include "test/unit/failalloc_off.h"

#include <unistd.h>

#include "common/tls_names.h"

static sb_options *parse_ok(const char *json, const sb_cli_overrides *cli) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  int rc = sb_options_parse(&o, json, cli, &err);
  if (rc) fail_msg("parse failed: %s", err.msg);
  return o;
}

/* Parses |json| expecting a failure whose message contains |want|. */
static void parse_err(const char *json, const sb_cli_overrides *cli, const char *want) {
  sb_options *o = NULL;
  sb_err err = {{0}};
  int rc = sb_options_parse(&o, json, cli, &err);
  assert_true(rc < 0);
  assert_null(o);
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static void describe_eq(const sb_scenario *s, const char *want) {
  char buf[256];
  sb_scenario_describe(s, buf, sizeof(buf));
  assert_string_equal(buf, want);
}

static void test_nothing_is_one_iteration(void **state) {
  const char *inputs[] = {
      NULL, "", "null", " {} ", "null\n", "{\"scenarios\": {}, \"stages\": []}",
      "{\"vus\": 10, \"stages\": []}"}; /* k6 v2: an explicit empty stages ends `vus`'s shortcut */
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    sb_options *o = parse_ok(inputs[i], NULL);
    assert_int_equal(o->nscenarios, 1);
    sb_scenario *s = &o->scenarios[0];
    assert_string_equal(s->name, "default");
    assert_string_equal(s->exec, "default");
    assert_int_equal(s->executor, SB_EXEC_PER_VU_ITERATIONS);
    assert_int_equal(s->vus, 1);
    assert_int_equal(s->iterations, 1);
    assert_int_equal(s->max_duration_ms, 600000);
    assert_int_equal(s->graceful_stop_ms, 30000);
    assert_int_equal(s->start_time_ms, 0);
    /* the seed's banner: "1 scenario, 1 max VUs, 10m30s max duration" */
    assert_int_equal(sb_options_max_duration_ms(o), 630000);
    assert_int_equal(sb_options_max_vus(o), 1);
    describe_eq(s, "1 iterations for each of 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
    assert_int_equal(o->nsummary_trend_stats, 6);
    assert_string_equal(o->summary_trend_stats[4], "p(90)");
    assert_int_equal(o->nthresholds, 0);
    sb_options_free(o);
  }
}

static void test_vus_iterations(void **state) {
  /* the seed's first banner: vus 1 + iterations 1 */
  sb_options *o = parse_ok("{\"vus\": 1, \"iterations\": 1}", NULL);
  describe_eq(&o->scenarios[0],
              "1 iterations shared among 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  sb_options_free(o);
  o = parse_ok("{\"vus\": 100, \"iterations\": 1000}", NULL);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(sb_options_max_vus(o), 100);
  assert_int_equal(sb_options_max_duration_ms(o), 630000);
  describe_eq(&o->scenarios[0],
              "1000 iterations shared among 100 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  sb_options_free(o);

  o = parse_ok("{\"iterations\": 7}", NULL); /* iterations only: 1 VU */
  assert_int_equal(o->scenarios[0].vus, 1);
  assert_int_equal(o->scenarios[0].iterations, 7);
  sb_options_free(o);

  /* iterations + duration: duration becomes maxDuration */
  o = parse_ok("{\"vus\": 2, \"iterations\": 10, \"duration\": \"1m\"}", NULL);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(o->scenarios[0].max_duration_ms, 60000);
  assert_int_equal(sb_options_max_duration_ms(o), 90000);
  describe_eq(&o->scenarios[0],
              "10 iterations shared among 2 VUs (maxDuration: 1m0s, gracefulStop: 30s)");
  sb_options_free(o);
}

static void test_vus_duration(void **state) {
  sb_options *o = parse_ok("{\"vus\": 10, \"duration\": \"30s\"}", NULL);
  sb_scenario *s = &o->scenarios[0];
  assert_int_equal(s->executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(s->vus, 10);
  assert_int_equal(s->duration_ms, 30000);
  describe_eq(s, "10 looping VUs for 30s (gracefulStop: 30s)");
  assert_int_equal(sb_options_max_duration_ms(o), 60000);
  sb_options_free(o);

  o = parse_ok("{\"duration\": 5000}", NULL); /* number = ms; vus default 1 */
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].vus, 1);
  assert_int_equal(o->scenarios[0].duration_ms, 5000);
  sb_options_free(o);
}

static void test_stages(void **state) {
  sb_options *o = parse_ok("{\"stages\": [{\"duration\": \"1m\", \"target\": 200},"
                           "{\"duration\": \"2m\", \"target\": 200}]}",
                           NULL);
  sb_scenario *s = &o->scenarios[0];
  assert_int_equal(s->executor, SB_EXEC_RAMPING_VUS);
  assert_int_equal(s->start_vus, 1);
  assert_int_equal(s->nstages, 2);
  assert_int_equal(s->stages[1].duration_ms, 120000);
  assert_int_equal(s->stages[1].target, 200);
  assert_int_equal(s->graceful_ramp_down_ms, 30000);
  /* the seed's banner: "200 max VUs, 3m30s max duration" */
  assert_int_equal(sb_options_max_vus(o), 200);
  assert_int_equal(sb_options_max_duration_ms(o), 210000);
  describe_eq(s, "Up to 200 looping VUs for 3m0s over 2 stages (gracefulRampDown: 30s, "
                 "gracefulStop: 30s)");
  sb_options_free(o);

  o = parse_ok("{\"vus\": 5, \"stages\": [{\"duration\": \"10s\", \"target\": 3}]}", NULL);
  assert_int_equal(o->scenarios[0].start_vus, 5);
  assert_int_equal(sb_options_max_vus(o), 5);
  sb_options_free(o);

  o = parse_ok("{\"stages\": [], \"vus\": 3, \"duration\": \"10s\"}", NULL); /* empty = none */
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  sb_options_free(o);
}

static void test_scenarios(void **state) {
  sb_options *o = parse_ok(
      "{\"scenarios\": {"
      "\"z_late\": {\"executor\": \"per-vu-iterations\", \"vus\": 2, \"iterations\": 5,"
      "             \"startTime\": \"1m\", \"exec\": \"login\"},"
      "\"b\": {\"executor\": \"constant-vus\", \"vus\": 3, \"duration\": \"45s\","
      "        \"gracefulStop\": 0},"
      "\"a\": {\"executor\": \"ramping-vus\", \"startVUs\": 0, \"gracefulRampDown\": \"5s\","
      "        \"stages\": [{\"duration\": \"20s\", \"target\": 10}]},"
      "\"si\": {\"executor\": \"shared-iterations\"}},"
      "\"summaryTrendStats\": [\"avg\", \"p(99.9)\", \"count\"],"
      "\"discardResponseBodies\": true}",
      NULL);
  assert_int_equal(o->nscenarios, 4);
  /* sorted by startTime, then name */
  assert_string_equal(o->scenarios[0].name, "a");
  assert_string_equal(o->scenarios[1].name, "b");
  assert_string_equal(o->scenarios[2].name, "si");
  assert_string_equal(o->scenarios[3].name, "z_late");
  describe_eq(&o->scenarios[0], "Up to 10 looping VUs for 20s over 1 stages (gracefulRampDown: "
                                "5s, gracefulStop: 30s)");
  describe_eq(&o->scenarios[1], "3 looping VUs for 45s");
  describe_eq(&o->scenarios[2],
              "1 iterations shared among 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  describe_eq(&o->scenarios[3], "5 iterations for each of 2 VUs (maxDuration: 10m0s, exec: "
                                "login, startTime: 1m0s, gracefulStop: 30s)");
  assert_int_equal(o->scenarios[0].start_vus, 0);
  assert_string_equal(o->scenarios[3].exec, "login");
  /* 1m + 10m + 30s */
  assert_int_equal(sb_options_max_duration_ms(o), 690000);
  assert_int_equal(sb_options_max_vus(o), 10 + 3 + 1 + 2);
  assert_int_equal(o->nsummary_trend_stats, 3);
  assert_string_equal(o->summary_trend_stats[1], "p(99.9)");
  assert_true(o->discard_response_bodies);
  sb_options_free(o);
}

static void test_thresholds(void **state) {
  sb_options *o = parse_ok(
      "{\"thresholds\": {"
      "\"http_req_duration\": [\"p(95)<200\", {\"threshold\": \"avg<100\", \"abortOnFail\": true,"
      "                          \"delayAbortEval\": \"10s\"}],"
      "\"checks{my_tag:a b}\": \"rate>0.9\"}}",
      NULL);
  assert_int_equal(o->nthresholds, 3);
  assert_string_equal(o->thresholds[0].metric, "http_req_duration");
  assert_string_equal(o->thresholds[0].expr, "p(95)<200");
  assert_false(o->thresholds[0].abort_on_fail);
  assert_string_equal(o->thresholds[1].expr, "avg<100");
  assert_true(o->thresholds[1].abort_on_fail);
  assert_int_equal(o->thresholds[1].delay_abort_eval_ms, 10000);
  assert_string_equal(o->thresholds[2].metric, "checks{my_tag:a b}");
  assert_string_equal(o->thresholds[2].expr, "rate>0.9");
  sb_options_free(o);
}

static void test_cli_overrides(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.vus = 4;
  /* --vus alone replaces the script's vus */
  sb_options *o = parse_ok("{\"vus\": 2, \"duration\": \"10s\"}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].vus, 4);
  sb_options_free(o);

  /* --iterations replaces the script's duration/stages/scenarios */
  cli.iterations = 8;
  o = parse_ok("{\"scenarios\": {\"x\": {\"executor\": \"constant-vus\", \"duration\": \"5s\"}}}",
               &cli);
  assert_int_equal(o->nscenarios, 1);
  assert_string_equal(o->scenarios[0].name, "default");
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(o->scenarios[0].iterations, 8);
  assert_int_equal(o->scenarios[0].vus, 4);
  sb_options_free(o);
  o = parse_ok("{\"stages\": [{\"duration\": \"1m\", \"target\": 3}]}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  sb_options_free(o);

  /* --stage */
  sb_cli_overrides_init(&cli);
  cli.stages = malloc(2 * sizeof(sb_stage));
  cli.stages[0] = (sb_stage){30000, 10};
  cli.stages[1] = (sb_stage){10000, 0};
  cli.nstages = 2;
  cli.no_thresholds = 1;
  cli.no_summary = 1;
  cli.summary_trend_stats = malloc(sizeof(char *));
  cli.summary_trend_stats[0] = strdup("p(99)");
  cli.nsummary_trend_stats = 1;
  o = parse_ok("{\"vus\": 2, \"iterations\": 4, \"summaryTrendStats\": [\"avg\"]}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_RAMPING_VUS);
  assert_int_equal(o->scenarios[0].start_vus, 2);
  assert_int_equal(o->scenarios[0].nstages, 2);
  assert_int_equal(sb_options_max_duration_ms(o), 70000);
  assert_true(o->no_thresholds);
  assert_true(o->no_summary);
  assert_int_equal(o->nsummary_trend_stats, 1);
  assert_string_equal(o->summary_trend_stats[0], "p(99)");
  sb_options_free(o);
  sb_cli_overrides_clear(&cli);
  assert_null(cli.stages);
  assert_int_equal(cli.vus, -1);

  /* --duration with a script that had both scenarios and a shortcut: the CLI tier wins */
  cli.duration_ms = 20000;
  o = parse_ok("{\"duration\": \"5s\", \"scenarios\": {\"x\": {\"executor\": \"foo\"}}}", &cli);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_CONSTANT_VUS);
  assert_int_equal(o->scenarios[0].duration_ms, 20000);
  sb_options_free(o);
}

static void test_errors(void **state) {
  parse_err("[1]", NULL, "options: must be an object");
  parse_err("{\"vus\": ", NULL, "options: invalid JSON");
  parse_err("{\"vus\": -1}", NULL, "options.vus: must be a non-negative integer");
  parse_err("{\"vus\": 1.5}", NULL, "options.vus: must be a non-negative integer");
  parse_err("{\"vus\": \"3\"}", NULL, "options.vus: must be a non-negative integer");
  parse_err("{\"vus\": 0, \"duration\": \"10s\"}", NULL, "options.vus: must be > 0");
  parse_err("{\"iterations\": -3}", NULL, "options.iterations: must be a non-negative integer");
  parse_err("{\"vus\": 10, \"iterations\": 5}", NULL,
            "options.iterations: the number of iterations (5) can't be less than the number of "
            "VUs (10)");
  parse_err("{\"duration\": \"abc\"}", NULL, "options.duration: invalid duration 'abc'");
  parse_err("{\"duration\": true}", NULL, "options.duration: must be a duration");
  parse_err("{\"duration\": \"0s\"}", NULL, "options.duration: must be more than 0");
  parse_err("{\"duration\": 500}", NULL, "options.duration: must be at least 1s");
  parse_err("{\"iterations\": 5, \"duration\": 10}", NULL, "options.duration: must be at least 1s");
  parse_err("{\"stages\": [{\"target\": 3}]}", NULL, "options.stages[0].duration: required");
  parse_err("{\"stages\": {}}", NULL, "options.stages: must be an array");
  parse_err("{\"stages\": [{\"duration\": \"1m\"}], \"duration\": \"1m\"}", NULL,
            "using multiple execution config shortcuts (duration, stages)");
  parse_err("{\"iterations\": 3, \"scenarios\": {\"a\": {\"executor\": \"shared-iterations\"}}}",
            NULL, "shortcut (iterations) and \"scenarios\" simultaneously is not allowed");
  parse_err("{\"scenarios\": {\"login\": {\"executor\": \"foo\"}}}", NULL,
            "options.scenarios.login.executor: unknown executor 'foo'");
  parse_err("{\"scenarios\": {\"login\": {\"executor\": \"externally-controlled\"}}}", NULL,
            "options.scenarios.login.executor: executor 'externally-controlled' is not supported "
            "yet");
  parse_err("{\"scenarios\": {\"login\": {\"vus\": 2}}}", NULL,
            "options.scenarios.login.executor: required");
  parse_err("{\"scenarios\": {\"c\": {\"executor\": \"constant-vus\", \"vus\": 2}}}", NULL,
            "options.scenarios.c.duration: required");
  parse_err("{\"scenarios\": {\"c\": {\"executor\": \"constant-vus\", \"vus\": 0, \"duration\": "
            "\"1m\"}}}",
            NULL, "options.scenarios.c.vus: must be > 0");
  parse_err("{\"scenarios\": {\"r\": {\"executor\": \"ramping-vus\"}}}", NULL,
            "options.scenarios.r.stages: at least one stage");
  parse_err("{\"scenarios\": {\"r\": {\"executor\": \"shared-iterations\", \"gracefulStop\": "
            "-1000}}}",
            NULL, "options.scenarios.r.gracefulStop: must not be negative");
  parse_err("{\"scenarios\": {\"p\": {\"executor\": \"per-vu-iterations\", \"maxDuration\": "
            "\"x\"}}}",
            NULL, "options.scenarios.p.maxDuration: invalid duration 'x'");
  parse_err("{\"scenarios\": {\"bad name\": {\"executor\": \"shared-iterations\"}}}", NULL,
            "options.scenarios.bad name:");
  parse_err("{\"scenarios\": []}", NULL, "options.scenarios: must be an object");
  parse_err("{\"thresholds\": {\"x\": 3}}", NULL, "options.thresholds.x: must be a string");
  parse_err("{\"thresholds\": {\"x\": [{\"abortOnFail\": true}]}}", NULL,
            "options.thresholds.x[0].threshold: required");
  parse_err("{\"thresholds\": {\"x\": [{\"threshold\": \"rate<1\", \"abortOnFail\": 1}]}}", NULL,
            "options.thresholds.x[0].abortOnFail: must be true or false");
  parse_err("{\"summaryTrendStats\": [\"avg\", \"p(101)\"]}", NULL,
            "options.summaryTrendStats: unknown stat 'p(101)'");
  parse_err("{\"discardResponseBodies\": \"yes\"}", NULL,
            "options.discardResponseBodies: must be true or false");
}

/* ---- HTTP, TLS and DNS options (options_http.c) ---- */

/* A client certificate (EC P-256, self-signed, CN=client.test), its key (PKCS#8), the same key
 * encrypted with the password "secret", and a key of another pair. */
static const char CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgzCCASmgAwIBAgIUO4VHrenaIR0oziroVi08fw+KbA0wCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLY2xpZW50LnRlc3QwIBcNMjYxMTMwMTQxNjA1WhgPMjEyNjEx\n"
    "MDYxNDE2MDVaMBYxFDASBgNVBAMMC2NsaWVudC50ZXN0MFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAEaaKvM3hUfhuOBUEPwnkmXCiytrB54eOhm63G0lwpNNO6Z2IZ\n"
    "NZs+2PFj8u3fs8ND4XDNBIzNNzngdGwMFcuX66NTMFEwHQYDVR0OBBYEFOyQF+pM\n"
    "47ccfu+nAPjRQsEcpfMoMB8GA1UdIwQYMBaAFOyQF+pM47ccfu+nAPjRQsEcpfMo\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgPaflUBtM90EE+qd6\n"
    "PA2zKXwkGOF1rXH7gUZFwyMVblQCIQDi45yR7SydxVdSURfLWYj6f991nCc+y3GN\n"
    "4tXJirYzOw==\n"
    "-----END CERTIFICATE-----\n";
static const char KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWZuidFh1xZHNAe3+\n"
    "7JTIEkOr9XT8u7B8DCJMDtKsAKGhRANCAARpoq8zeFR+G44FQQ/CeSZcKLK2sHnh\n"
    "46GbrcbSXCk007pnYhk1mz7Y8WPy7d+zw0PhcM0EjM03OeB0bAwVy5fr\n"
    "-----END PRIVATE KEY-----\n";
static const char KEY_ENC[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgKwLgeirVtJQICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEJECr3SftABqM/31wUmUqHAEgZDP\n"
    "KFFmcRx57pr50l6emaj3W7TfRlgRLJoWz87OI7Wcu4dmXUNbPIZAdqXEaB48q7xO\n"
    "bo7Aka61jkU75qfpfl7LV/kaSyO28nZSUB85Y8OUrVwkwJ7CBg4lm2lEngvscwdk\n"
    "KE+C2Oc2JpBMLO+BCKwsDzo/6Z8/2l5hF/3dhljp9rSDIWyv884uPhXCCme0Dq8=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";
static const char OTHER_KEY[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEINJ/vE1YAvZg13ync1BRAtemKGNCjjRjBOrL1sWUCWL/oAoGCCqGSM49\n"
    "AwEHoUQDQgAE+38Ako4rOkypz2aASCt5izTCZm+Ub558CI+GTihf8VeHUXD8f730\n"
    "3x4XdmiPSrywRnXSFOLV1HC+KiVwdF9v/Q==\n"
    "-----END EC PRIVATE KEY-----\n";

/* {"tlsAuth": [{"domains": [domain], "cert": cert, "key": key, "password": pw}]} as JSON (free()
 * it); a NULL |pw| leaves the password out. */
static char *tls_auth_json(const char *domain, const char *cert, const char *key, const char *pw) {
  json_t *e = json_pack("{s:[s],s:s,s:s}", "domains", domain, "cert", cert, "key", key);
  if (pw) json_object_set_new(e, "password", json_string(pw));
  json_t *root = json_pack("{s:[o]}", "tlsAuth", e);
  char *s = json_dumps(root, 0);
  json_decref(root);
  return s;
}

static void test_http_defaults(void **state) {
  sb_options *o = parse_ok("{}", NULL);
  const sb_http_config *h = &o->http;
  assert_false(h->insecure_skip_tls_verify);
  assert_int_equal(h->tls_min_version, 0);
  assert_int_equal(h->tls_max_version, 0);
  assert_null(h->tls_ciphers);
  assert_null(h->tls_ciphersuites);
  assert_int_equal(h->ntls_auth, 0);
  assert_null(h->ca_pem);
  assert_int_equal(h->nhosts, 0);
  assert_true(h->dns.ttl_ms == 300000);
  assert_int_equal(h->dns.select, SB_DNS_SELECT_RANDOM);
  assert_int_equal(h->dns.policy, SB_DNS_POLICY_PREFER_IPV4);
  assert_int_equal(h->max_redirects, 10);
  assert_false(h->no_connection_reuse);
  assert_false(h->no_vu_connection_reuse);
  assert_null(h->user_agent);
  assert_int_equal(h->batch, 20);
  assert_int_equal(h->batch_per_host, 6);
  assert_false(h->discard_response_bodies);
  sb_options_free(o);
  /* discardResponseBodies still lands in sb_options, and now in the HTTP config too */
  o = parse_ok("{\"discardResponseBodies\": true}", NULL);
  assert_true(o->discard_response_bodies);
  assert_true(o->http.discard_response_bodies);
  sb_options_free(o);
}

static void test_http_scalars(void **state) {
  sb_options *o = parse_ok("{\"insecureSkipTLSVerify\": true, \"maxRedirects\": 0,"
                           "\"noConnectionReuse\": true, \"noVUConnectionReuse\": true,"
                           "\"userAgent\": \"\", \"batch\": 5, \"batchPerHost\": 0,"
                           "\"throw\": true}",
                           NULL);
  const sb_http_config *h = &o->http;
  assert_true(h->throw_errors);
  assert_true(h->insecure_skip_tls_verify);
  assert_int_equal(h->max_redirects, 0);
  assert_true(h->no_connection_reuse);
  assert_true(h->no_vu_connection_reuse);
  assert_string_equal(h->user_agent, ""); /* "" = no User-Agent header, not the default */
  assert_int_equal(h->batch, 5);
  assert_int_equal(h->batch_per_host, 0);
  sb_options_free(o);
  o = parse_ok("{\"userAgent\": \"MyAgent/1.0\", \"maxRedirects\": 3.0, \"userAgent\": null}",
               NULL);
  assert_null(o->http.user_agent); /* the last key wins in jansson: null = the default */
  assert_int_equal(o->http.max_redirects, 3);
  sb_options_free(o);
  o = parse_ok("{\"userAgent\": \"MyAgent/1.0\"}", NULL);
  assert_string_equal(o->http.user_agent, "MyAgent/1.0");
  sb_options_free(o);

  parse_err("{\"insecureSkipTLSVerify\": \"yes\"}", NULL,
            "options.insecureSkipTLSVerify: must be true or false");
  parse_err("{\"maxRedirects\": -1}", NULL, "options.maxRedirects: must be an integer >= 0");
  parse_err("{\"maxRedirects\": 1.5}", NULL, "options.maxRedirects: must be an integer >= 0");
  parse_err("{\"noConnectionReuse\": 1}", NULL,
            "options.noConnectionReuse: must be true or false");
  parse_err("{\"noVUConnectionReuse\": \"true\"}", NULL,
            "options.noVUConnectionReuse: must be true or false");
  parse_err("{\"userAgent\": 5}", NULL, "options.userAgent: must be a string");
  parse_err("{\"throw\": \"yes\"}", NULL, "options.throw: must be true or false");
  parse_err("{\"batch\": 0}", NULL, "options.batch: must be an integer >= 1");
  parse_err("{\"batch\": \"20\"}", NULL, "options.batch: must be an integer >= 1");
  parse_err("{\"batchPerHost\": -2}", NULL, "options.batchPerHost: must be an integer >= 0");
  parse_err("{\"batchPerHost\": 1e12}", NULL, "options.batchPerHost: must be an integer >= 0");
}

static void test_http_tls_version_and_ciphers(void **state) {
  sb_options *o = parse_ok("{\"tlsVersion\": \"tls1.2\"}", NULL);
  assert_int_equal(o->http.tls_min_version, SB_TLS_1_2);
  assert_int_equal(o->http.tls_max_version, SB_TLS_1_2);
  sb_options_free(o);
  o = parse_ok("{\"tlsVersion\": {\"min\": \"tls1.2\", \"max\": \"tls1.3\"}}", NULL);
  assert_int_equal(o->http.tls_min_version, SB_TLS_1_2);
  assert_int_equal(o->http.tls_max_version, SB_TLS_1_3);
  sb_options_free(o);
  o = parse_ok("{\"tlsVersion\": {\"min\": \"ssl3.0\"}}", NULL);
  assert_int_equal(o->http.tls_min_version, SB_TLS_SSL3_0);
  assert_int_equal(o->http.tls_max_version, 0);
  sb_options_free(o);

  o = parse_ok("{\"tlsCipherSuites\": [\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\","
               "\"TLS_AES_128_GCM_SHA256\", \"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305\","
               "\"TLS_CHACHA20_POLY1305_SHA256\", \"TLS_RSA_WITH_AES_256_CBC_SHA\"]}",
               NULL);
  assert_string_equal(o->http.tls_ciphers,
                      "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:AES256-SHA");
  assert_string_equal(o->http.tls_ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
  sb_options_free(o);
  o = parse_ok("{\"tlsCipherSuites\": [\"TLS_AES_256_GCM_SHA384\"]}", NULL);
  assert_null(o->http.tls_ciphers); /* no TLS 1.2 suite named: TLS 1.2 keeps its default */
  assert_string_equal(o->http.tls_ciphersuites, "TLS_AES_256_GCM_SHA384");
  sb_options_free(o);
  o = parse_ok("{\"tlsCipherSuites\": []}", NULL);
  assert_null(o->http.tls_ciphers);
  assert_null(o->http.tls_ciphersuites);
  sb_options_free(o);

  parse_err("{\"tlsVersion\": \"tls1.4\"}", NULL,
            "options.tlsVersion.min: unknown TLS version 'tls1.4' (use ssl3.0");
  parse_err("{\"tlsVersion\": {\"max\": \"TLS1.2\"}}", NULL,
            "options.tlsVersion.max: unknown TLS version 'TLS1.2'");
  parse_err("{\"tlsVersion\": 12}", NULL, "options.tlsVersion: must be a version");
  parse_err("{\"tlsVersion\": {\"min\": 3}}", NULL, "options.tlsVersion.min: must be a TLS version");
  parse_err("{\"tlsVersion\": {\"min\": \"tls1.3\", \"max\": \"tls1.2\"}}", NULL,
            "options.tlsVersion: min (tls1.3) is newer than max (tls1.2)");
  parse_err("{\"tlsCipherSuites\": [\"TLS_AES_128_GCM_SHA256\", \"ECDHE-RSA-AES128-GCM-SHA256\"]}",
            NULL, "options.tlsCipherSuites[1]: unknown cipher suite 'ECDHE-RSA-AES128-GCM-SHA256'");
  parse_err("{\"tlsCipherSuites\": \"TLS_AES_128_GCM_SHA256\"}", NULL,
            "options.tlsCipherSuites: must be an array");
  parse_err("{\"tlsCipherSuites\": [7]}", NULL, "options.tlsCipherSuites[0]: must be a string");
  /* k6 knows RC4, but an OpenSSL without it must say so before the load, not fail every request:
   * beside a usable suite it is skipped with a warning (k6's own tlsconfig example lists it),
   * alone it is an error */
  if (!sb_tls_cipher_available("RC4-SHA", 0)) {
    parse_err("{\"tlsCipherSuites\": [\"TLS_RSA_WITH_RC4_128_SHA\"]}", NULL,
              "options.tlsCipherSuites: none of the 1 suites is available");
    o = parse_ok("{\"tlsCipherSuites\": [\"TLS_RSA_WITH_RC4_128_SHA\", "
                 "\"TLS_RSA_WITH_AES_128_GCM_SHA256\"]}", NULL);
    assert_string_equal(o->http.tls_ciphers, "AES128-GCM-SHA256");
    sb_options_free(o);
  }
}

static void test_http_tls_auth(void **state) {
  char *j = tls_auth_json("Client.Test", CERT, KEY, NULL);
  sb_options *o = parse_ok(j, NULL);
  free(j);
  assert_int_equal(o->http.ntls_auth, 1);
  assert_int_equal(o->http.tls_auth[0].ndomains, 1);
  assert_string_equal(o->http.tls_auth[0].domains[0], "client.test");
  assert_string_equal(o->http.tls_auth[0].cert_pem, CERT);
  assert_string_equal(o->http.tls_auth[0].key_pem, KEY);
  assert_null(o->http.tls_auth[0].password);
  sb_options_free(o);
  j = tls_auth_json("a.test", CERT, KEY_ENC, "secret");
  o = parse_ok(j, NULL);
  free(j);
  assert_string_equal(o->http.tls_auth[0].password, "secret");
  sb_options_free(o);

  struct {
    const char *cert, *key, *pw, *want;
  } bad[] = {
      {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", KEY, NULL,
       "options.tlsAuth[0].cert: not a PEM certificate"},
      {"hello", KEY, NULL, "options.tlsAuth[0].cert: not a PEM certificate"},
      {CERT, "nope", NULL, "options.tlsAuth[0].key: not a PEM private key"},
      {CERT, KEY_ENC, NULL, "options.tlsAuth[0].key: not a PEM private key (an encrypted key "
                            "needs a password)"},
      {CERT, KEY_ENC, "wrong", "options.tlsAuth[0].key: not a PEM private key, or a wrong password"},
      {CERT, OTHER_KEY, NULL, "options.tlsAuth[0]: the key does not match the certificate"},
      {CERT, "", NULL, "options.tlsAuth[0].key: required"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    j = tls_auth_json("a.test", bad[i].cert, bad[i].key, bad[i].pw);
    parse_err(j, NULL, bad[i].want);
    free(j);
  }
  parse_err("{\"tlsAuth\": {}}", NULL, "options.tlsAuth: must be an array");
  parse_err("{\"tlsAuth\": [3]}", NULL, "options.tlsAuth[0]: must be an object");
  parse_err("{\"tlsAuth\": [{\"cert\": \"x\", \"key\": \"y\"}]}", NULL,
            "options.tlsAuth[0].domains: required");
  parse_err("{\"tlsAuth\": [{\"domains\": [\"\"], \"cert\": \"x\", \"key\": \"y\"}]}", NULL,
            "options.tlsAuth[0].domains[0]: must be a host name");
  parse_err("{\"tlsAuth\": [{\"domains\": [\"a b\"], \"cert\": \"x\", \"key\": \"y\"}]}", NULL,
            "options.tlsAuth[0].domains[0]: must be a host name");
  parse_err("{\"tlsAuth\": [{\"domains\": [\"a\"], \"key\": \"y\"}]}", NULL,
            "options.tlsAuth[0].cert: required");
  parse_err("{\"tlsAuth\": [{\"domains\": [\"a\"], \"cert\": \"x\", \"key\": \"y\", "
            "\"password\": 1}]}",
            NULL, "options.tlsAuth[0].password: must be a string");
}

static void test_http_hosts(void **state) {
  sb_options *o = parse_ok("{\"hosts\": {\"Test.Local\": \"127.0.0.1\", \"api.test:8443\": "
                           "\"10.0.0.2:443\", \"*.wild.test\": \"::1\", \"v6.test\": "
                           "\"[fe80::1]:8080\", \"10.1.1.1\": \"10.2.2.2\"}}",
                           NULL);
  const sb_http_config *h = &o->http;
  assert_int_equal(h->nhosts, 5);
  const sb_host_override *m = sb_http_config_match_host(h, "test.local", 80);
  assert_non_null(m);
  assert_string_equal(m->name, "test.local");
  assert_string_equal(m->ip, "127.0.0.1");
  assert_int_equal(m->port, 0);
  assert_int_equal(m->to_port, 0);
  m = sb_http_config_match_host(h, "api.test", 8443);
  assert_string_equal(m->ip, "10.0.0.2");
  assert_int_equal(m->port, 8443);
  assert_int_equal(m->to_port, 443);
  assert_null(sb_http_config_match_host(h, "api.test", 443)); /* the key names a port */
  m = sb_http_config_match_host(h, "a.b.wild.test", 443);
  assert_string_equal(m->ip, "::1");
  assert_null(sb_http_config_match_host(h, "wild.test", 443)); /* subdomains only */
  m = sb_http_config_match_host(h, "v6.test", 80);
  assert_string_equal(m->ip, "fe80::1");
  assert_int_equal(m->to_port, 8080);
  assert_string_equal(sb_http_config_match_host(h, "10.1.1.1", 80)->ip, "10.2.2.2");
  sb_options_free(o);

  parse_err("{\"hosts\": []}", NULL, "options.hosts: must be an object");
  parse_err("{\"hosts\": {\"test.local\": \"other.host\"}}", NULL,
            "options.hosts.test.local: 'other.host' is not an IP address");
  parse_err("{\"hosts\": {\"test.local\": \"1.2.3.4:0\"}}", NULL,
            "options.hosts.test.local: invalid port in '1.2.3.4:0'");
  parse_err("{\"hosts\": {\"test.local\": \"1.2.3.4:70000\"}}", NULL,
            "options.hosts.test.local: invalid port in '1.2.3.4:70000'");
  parse_err("{\"hosts\": {\"test.local\": \"[::1]\"}}", NULL, "is not an IP address");
  parse_err("{\"hosts\": {\"test.local\": \"1.2.3.400\"}}", NULL, "is not an IP address");
  parse_err("{\"hosts\": {\"test.local\": 1}}", NULL,
            "options.hosts.test.local: must be a string");
  parse_err("{\"hosts\": {\"bad host\": \"1.2.3.4\"}}", NULL,
            "options.hosts.bad host: invalid host pattern 'bad host'");
  parse_err("{\"hosts\": {\"a..b\": \"1.2.3.4\"}}", NULL, "invalid host pattern 'a..b'");
  parse_err("{\"hosts\": {\"*.\": \"1.2.3.4\"}}", NULL, "invalid host pattern '*.'");
  parse_err("{\"hosts\": {\"a.test:x\": \"1.2.3.4\"}}", NULL,
            "options.hosts.a.test:x: invalid port in host pattern 'a.test:x'");
}

static void test_http_dns(void **state) {
  sb_options *o = parse_ok("{\"dns\": {\"ttl\": \"1m\", \"select\": \"roundRobin\", \"policy\": "
                           "\"onlyIPv6\", \"other\": 1}}",
                           NULL);
  assert_true(o->http.dns.ttl_ms == 60000);
  assert_int_equal(o->http.dns.select, SB_DNS_SELECT_ROUND_ROBIN);
  assert_int_equal(o->http.dns.policy, SB_DNS_POLICY_ONLY_IPV6);
  sb_options_free(o);
  o = parse_ok("{\"dns\": {\"ttl\": \"inf\", \"select\": \"first\"}}", NULL);
  assert_true(o->http.dns.ttl_ms < 0);
  assert_int_equal(o->http.dns.select, SB_DNS_SELECT_FIRST);
  assert_int_equal(o->http.dns.policy, SB_DNS_POLICY_PREFER_IPV4);
  sb_options_free(o);
  o = parse_ok("{\"dns\": {\"ttl\": \"0\", \"policy\": \"any\"}}", NULL);
  assert_true(o->http.dns.ttl_ms == 0);
  assert_int_equal(o->http.dns.policy, SB_DNS_POLICY_ANY);
  sb_options_free(o);
  o = parse_ok("{\"dns\": {\"ttl\": 1500}}", NULL); /* a number: milliseconds */
  assert_true(o->http.dns.ttl_ms == 1500);
  sb_options_free(o);
  o = parse_ok("{\"dns\": \"policy=preferIPv6,ttl=30s\"}", NULL); /* k6's text form */
  assert_true(o->http.dns.ttl_ms == 30000);
  assert_int_equal(o->http.dns.policy, SB_DNS_POLICY_PREFER_IPV6);
  assert_int_equal(o->http.dns.select, SB_DNS_SELECT_RANDOM);
  sb_options_free(o);

  parse_err("{\"dns\": {\"ttl\": \"forever\"}}", NULL,
            "options.dns.ttl: invalid DNS TTL 'forever'");
  parse_err("{\"dns\": {\"ttl\": -5}}", NULL, "options.dns.ttl: must not be negative");
  parse_err("{\"dns\": {\"select\": \"last\"}}", NULL,
            "options.dns.select: unknown value 'last' (use first, random or roundRobin)");
  parse_err("{\"dns\": {\"policy\": \"ipv4\"}}", NULL, "options.dns.policy: unknown value 'ipv4'");
  parse_err("{\"dns\": {\"policy\": 4}}", NULL, "options.dns.policy: must be a string");
  parse_err("{\"dns\": \"ttl=1m,foo=bar\"}", NULL,
            "options.dns: unknown DNS configuration field 'foo'");
  parse_err("{\"dns\": \"ttl=\"}", NULL, "options.dns: no value for key 'ttl'");
  parse_err("{\"dns\": 5}", NULL, "options.dns: must be {ttl, select, policy}");
}

static void test_http_cli(void **state) {
  sb_cli_overrides cli;
  sb_cli_overrides_init(&cli);
  cli.insecure_skip_tls_verify = 1;
  cli.no_connection_reuse = 1;
  cli.no_vu_connection_reuse = 1;
  cli.max_redirects = 0;
  cli.batch = 7;
  cli.batch_per_host = 0;
  cli.user_agent = strdup("");
  cli.dns = strdup("select=first");
  /* the command line wins over the script; --dns field by field */
  sb_options *o = parse_ok("{\"insecureSkipTLSVerify\": false, \"maxRedirects\": 4, \"batch\": 2,"
                           "\"batchPerHost\": 3, \"userAgent\": \"script\", \"dns\": {\"ttl\": "
                           "\"2m\", \"select\": \"random\"}}",
                           &cli);
  const sb_http_config *h = &o->http;
  assert_true(h->insecure_skip_tls_verify);
  assert_true(h->no_connection_reuse);
  assert_true(h->no_vu_connection_reuse);
  assert_int_equal(h->max_redirects, 0);
  assert_int_equal(h->batch, 7);
  assert_int_equal(h->batch_per_host, 0);
  assert_string_equal(h->user_agent, "");
  assert_int_equal(h->dns.select, SB_DNS_SELECT_FIRST);
  assert_true(h->dns.ttl_ms == 120000); /* the script's, --dns did not name ttl */
  sb_options_free(o);

  cli.batch = 0;
  parse_err("{}", &cli, "--batch: batch: must be an integer >= 1"); /* the flag is named */
  cli.batch = -1;
  free(cli.dns);
  cli.dns = strdup("ttl=1m,select=sometimes");
  parse_err("{}", &cli, "--dns: dns.select: unknown value 'sometimes'");
  free(cli.dns);
  cli.dns = strdup("policy");
  parse_err("{}", &cli, "--dns: no value for key 'policy'");
  sb_cli_overrides_clear(&cli);
  assert_null(cli.dns);
  assert_null(cli.user_agent);
  assert_int_equal(cli.batch, -1);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_http_ca_file(void **state) {
  char dir[] = "/tmp/sb-opts-XXXXXX", path[64], bad[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/ca.pem", dir);
  snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
  write_file(path, CERT);
  sb_http_config c;
  sb_err err = {{0}};
  sb_http_config_defaults(&c);
  assert_int_equal(sb_options_http_load_ca(&c, path, "--tls-ca-file", &err), 0);
  assert_string_equal(c.ca_pem, CERT);
  assert_int_equal(sb_options_http_load_ca(&c, path, "--tls-ca-file", &err), 0);
  assert_int_equal(strlen(c.ca_pem), 2 * strlen(CERT) + 1); /* both files, kept apart */

  assert_int_equal(sb_options_http_load_ca(&c, "/nonexistent/ca.pem", "--tls-ca-file", &err),
                   SB_ENOTFOUND);
  assert_non_null(strstr(err.msg, "--tls-ca-file: /nonexistent/ca.pem"));
  write_file(bad, "not a certificate\n");
  assert_int_equal(sb_options_http_load_ca(&c, bad, "SSL_CERT_FILE", &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "SSL_CERT_FILE: "));
  assert_non_null(strstr(err.msg, "no PEM certificate in the file"));
  /* a good certificate followed by a broken one */
  char *two = malloc(strlen(CERT) * 2 + 1);
  strcpy(two, CERT);
  strcat(two, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  write_file(bad, two);
  free(two);
  assert_int_equal(sb_options_http_load_ca(&c, bad, "--tls-ca-file", &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "certificate 2 does not parse"));
  assert_int_equal(strlen(c.ca_pem), 2 * strlen(CERT) + 1); /* untouched by the failures */
  sb_http_config_clear(&c);
  assert_null(c.ca_pem);
  unlink(path);
  unlink(bad);
  rmdir(dir);
}

/* Every allocation failure unwinds to SB_ENOMEM with nothing leaked (ASan checks) and |*out|
 * untouched, until the parse succeeds. */
static void test_alloc_failures(void **state) {
  const char *json =
      "{\"scenarios\": {\"a\": {\"executor\": \"ramping-vus\", \"exec\": \"f\","
      "\"stages\": [{\"duration\": \"1s\", \"target\": 2}]},"
      "\"b\": {\"executor\": \"shared-iterations\"}},"
      "\"thresholds\": {\"x\": [\"rate<1\", {\"threshold\": \"count>1\"}], \"y\": \"avg<2\"},"
      "\"summaryTrendStats\": [\"avg\", \"p(99)\"]}";
  const char *shortcut = "{\"stages\": [{\"duration\": \"1s\", \"target\": 2}]}";
  const char *http =
      "{\"hosts\": {\"a.test\": \"127.0.0.1\", \"*.b.test:80\": \"::1:8080\"},"
      "\"tlsCipherSuites\": [\"TLS_AES_128_GCM_SHA256\"], \"userAgent\": \"x\","
      "\"dns\": \"ttl=1m,select=first\"}";
  char *auth = tls_auth_json("a.test", CERT, KEY_ENC, "secret");
  const char *inputs[] = {json, shortcut, http, auth};
  for (size_t i = 0; i < 4; i++) {
    long n;
    for (n = 1; n < 1000; n++) {
      sb_options *o = (sb_options *)&n; /* must stay untouched on failure */
      sb_err err;
      alloc_fail_at = n;
      alloc_calls = 0;
      int rc = sb_options_parse(&o, inputs[i], NULL, &err);
      alloc_fail_at = 0;
      if (rc == 0) {
        sb_options_free(o);
        break;
      }
      assert_int_equal(rc, SB_ENOMEM);
      assert_ptr_equal(o, (sb_options *)&n);
    }
    assert_true(n > 5 && n < 1000);
  }
  free(auth);
}

/* k6 v2: `vus` alone is shared-iterations with as many iterations, over any scenarios. */
static void test_lone_vus(void **state) {
  sb_options *o = parse_ok("{\"vus\": 10}", NULL);
  assert_int_equal(o->nscenarios, 1);
  assert_int_equal(o->scenarios[0].executor, SB_EXEC_SHARED_ITERATIONS);
  assert_int_equal(o->scenarios[0].vus, 10);
  assert_int_equal(o->scenarios[0].iterations, 10);
  describe_eq(&o->scenarios[0],
              "10 iterations shared among 10 VUs (maxDuration: 10m0s, gracefulStop: 30s)");
  sb_options_free(o);
  o = parse_ok("{\"vus\": 3, \"scenarios\": {\"a\": {\"executor\": \"constant-vus\", "
               "\"duration\": \"5s\"}}}",
               NULL);
  assert_int_equal(o->nscenarios, 1);
  assert_string_equal(o->scenarios[0].name, "default");
  assert_int_equal(o->scenarios[0].iterations, 3);
  sb_options_free(o);
  parse_err("{\"vus\": 0}", NULL, "options.vus: must be > 0");
}

static void test_arrival_rate(void **state) {
  sb_options *o = parse_ok(
      "{\"scenarios\": {\"car\": {\"executor\": \"constant-arrival-rate\", \"rate\": 300, "
      "\"timeUnit\": \"1m\", \"duration\": \"30s\", \"preAllocatedVUs\": 5, \"maxVUs\": 50, "
      "\"env\": {\"A\": \"1\"}, \"tags\": {\"team\": \"x\"}}, "
      "\"rar\": {\"executor\": \"ramping-arrival-rate\", \"startRate\": 2, "
      "\"preAllocatedVUs\": 10, \"startTime\": \"30s\", \"stages\": [{\"duration\": \"1m\", "
      "\"target\": 100}, {\"duration\": \"30s\", \"target\": 0}]}}, "
      "\"minIterationDuration\": \"2s\"}",
      NULL);
  assert_int_equal(o->nscenarios, 2);
  sb_scenario *c = &o->scenarios[0], *r = &o->scenarios[1];
  assert_int_equal(c->executor, SB_EXEC_CONSTANT_ARRIVAL_RATE);
  assert_int_equal(c->rate, 300);
  assert_int_equal(c->time_unit_ms, 60000);
  assert_int_equal(c->pre_allocated_vus, 5);
  assert_int_equal(c->max_vus, 50);
  assert_int_equal(c->nenv, 1);
  assert_string_equal(c->env[0], "A");
  assert_int_equal(c->ntags, 1);
  assert_string_equal(c->tags[1], "x");
  assert_int_equal(c->min_iteration_duration_ms, 2000);
  describe_eq(c, "5.00 iterations/s for 30s (maxVUs: 5-50, gracefulStop: 30s)");
  assert_int_equal(r->executor, SB_EXEC_RAMPING_ARRIVAL_RATE);
  assert_int_equal(r->max_vus, 10); /* maxVUs defaults to preAllocatedVUs */
  assert_int_equal(r->stages[0].target, 100);
  describe_eq(r, "Up to 100.00 iterations/s for 1m30s over 2 stages (maxVUs: 10, startTime: 30s, "
                 "gracefulStop: 30s)");
  assert_int_equal(sb_options_max_vus(o), 60);
  assert_int_equal(sb_options_max_duration_ms(o), 30000 + 90000 + 30000);
  sb_options_free(o);
  const char *car = "{\"scenarios\": {\"x\": {\"executor\": \"constant-arrival-rate\", ";
  char buf[512];
  static const char *const bad[][2] = {
      {"\"duration\": \"10s\", \"preAllocatedVUs\": 1}}}", "options.scenarios.x.rate: required"},
      {"\"rate\": 0, \"duration\": \"10s\", \"preAllocatedVUs\": 1}}}",
       "options.scenarios.x.rate: must be more than 0"},
      {"\"rate\": 1, \"duration\": \"10s\"}}}", "options.scenarios.x.preAllocatedVUs: required"},
      {"\"rate\": 1, \"preAllocatedVUs\": 1}}}", "options.scenarios.x.duration: required"},
      {"\"rate\": 1, \"duration\": \"10s\", \"preAllocatedVUs\": 5, \"maxVUs\": 2}}}",
       "options.scenarios.x.maxVUs: can't be less than preAllocatedVUs"},
      {"\"rate\": 1, \"duration\": \"10s\", \"preAllocatedVUs\": 1, \"timeUnit\": \"0s\"}}}",
       "options.scenarios.x.timeUnit: must be more than 0"},
      {"\"rate\": -1, \"duration\": \"10s\", \"preAllocatedVUs\": 1}}}",
       "options.scenarios.x.rate: must be a non-negative integer"},
      {"\"rate\": 1, \"duration\": \"10s\", \"preAllocatedVUs\": 1, \"tags\": {\"a\": 1}}}}",
       "options.scenarios.x.tags.a: must be a string"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    snprintf(buf, sizeof(buf), "%s%s", car, bad[i][0]);
    parse_err(buf, NULL, bad[i][1]);
  }
  parse_err("{\"scenarios\": {\"y\": {\"executor\": \"ramping-arrival-rate\", "
            "\"preAllocatedVUs\": 1}}}",
            NULL, "options.scenarios.y.stages: at least one stage is required");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_is_one_iteration),
      cmocka_unit_test(test_vus_iterations),
      cmocka_unit_test(test_lone_vus),
      cmocka_unit_test(test_arrival_rate),
      cmocka_unit_test(test_vus_duration),
      cmocka_unit_test(test_stages),
      cmocka_unit_test(test_scenarios),
      cmocka_unit_test(test_thresholds),
      cmocka_unit_test(test_cli_overrides),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_http_defaults),
      cmocka_unit_test(test_http_scalars),
      cmocka_unit_test(test_http_tls_version_and_ciphers),
      cmocka_unit_test(test_http_tls_auth),
      cmocka_unit_test(test_http_hosts),
      cmocka_unit_test(test_http_dns),
      cmocka_unit_test(test_http_cli),
      cmocka_unit_test(test_http_ca_file),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
