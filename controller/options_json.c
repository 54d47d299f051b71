/* exec.test.options as k6 shows it (see options_json.h): the script's options JSON says which
 * fields a person set, the parsed sb_options says what they consolidated to.
 *
 * The key list below is k6's lib.Options as its JSON marshals it (k6's own test of a run with
 * no options, TestExecutionTestOptionsDefaultValues, lists it). Building goes through jansson;
 * a NULL from any constructor is remembered in |bad| and reported once as out of memory. */
#include "controller/options_json.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/duration.h"

static const char *const K6_KEYS[] = {
    "paused",
    "executionSegment",
    "executionSegmentSequence",
    "noSetup",
    "setupTimeout",
    "noTeardown",
    "teardownTimeout",
    "rps",
    "dns",
    "maxRedirects",
    "userAgent",
    "batch",
    "batchPerHost",
    "httpDebug",
    "insecureSkipTLSVerify",
    "tlsCipherSuites",
    "tlsVersion",
    "tlsAuth",
    "throw",
    "thresholds",
    "blacklistIPs",
    "blockHostnames",
    "hosts",
    "noConnectionReuse",
    "noVUConnectionReuse",
    "minIterationDuration",
    "ext",
    "summaryTrendStats",
    "summaryTimeUnit",
    "systemTags",
    "tags",
    "metricSamplesBufferSize",
    "noCookiesReset",
    "discardResponseBodies",
    "consoleOutput",
    "scenarios",
    "localIPs",
};

/* k6's DefaultSystemTagSet, in the (sorted) order it marshals. */
static const char *const DEFAULT_SYSTEM_TAGS[] = {
    "check",       "error", "error_code", "expected_response", "group",  "method",
    "name",        "proto", "scenario",   "service",           "status", "subproto",
    "tls_version", "url",
};

static const char *const DURATION_KEYS[] = {"setupTimeout", "teardownTimeout",
                                            "minIterationDuration"};

/* Sets |obj|[key] to |v|, taking the reference in every case (jansson's *_new calls release it
 * on failure too); a NULL |obj| or |v| or a failed set marks |*bad|. */
static void put(json_t *obj, const char *key, json_t *v, int *bad) {
  if (!obj) {
    json_decref(v);
    *bad = 1;
  } else if (!v || json_object_set_new(obj, key, v)) {
    *bad = 1;
  }
}

/* |src|[key] is there and not null: the script (or a flag) set it. */
static int has(json_t *src, const char *key) {
  json_t *v = json_is_object(src) ? json_object_get(src, key) : NULL;
  return v && !json_is_null(v);
}

/* A new reference to |src|[key], or null. */
static json_t *raw(json_t *src, const char *key) {
  json_t *v = json_is_object(src) ? json_object_get(src, key) : NULL;
  return v ? json_incref(v) : json_null();
}

static json_t *dur(int64_t ms) {
  char buf[48];
  sb_duration_format_ms(ms, buf, sizeof(buf));
  return json_string(buf);
}

/* A duration as the script wrote it ("60s", 60000) in Go's form ("1m0s"); anything that does
 * not parse is kept as written (the options parser has refused what matters already). */
static json_t *norm_duration(json_t *v) {
  int64_t ms;
  if (json_is_string(v) && sb_duration_parse_ms(json_string_value(v), &ms, NULL) == 0)
    return dur(ms);
  if (json_is_number(v)) return dur((int64_t)json_number_value(v));
  return json_incref(v);
}

static const char *executor_name(sb_executor e) {
  switch (e) {
  case SB_EXEC_SHARED_ITERATIONS: return "shared-iterations";
  case SB_EXEC_PER_VU_ITERATIONS: return "per-vu-iterations";
  case SB_EXEC_CONSTANT_VUS: return "constant-vus";
  case SB_EXEC_RAMPING_VUS: return "ramping-vus";
  case SB_EXEC_CONSTANT_ARRIVAL_RATE: return "constant-arrival-rate";
  case SB_EXEC_RAMPING_ARRIVAL_RATE: return "ramping-arrival-rate";
  }
  return "unknown";
}

static json_t *stages_json(const sb_scenario *s, int *bad) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < s->nstages; i++) {
    json_t *st = json_object();
    put(st, "duration", dur(s->stages[i].duration_ms), bad);
    put(st, "target", json_integer((json_int_t)s->stages[i].target), bad);
    if (!st || json_array_append_new(a, st)) *bad = 1;
  }
  if (!a) *bad = 1;
  return a;
}

#define SET_OR_NULL(key, value) put(j, key, has(src, key) ? (value) : json_null(), bad)

/* One scenario as k6 marshals its executor's config: every field, from |s| where |src| (the
 * script's entry, or the fields a shortcut set) has it, null elsewhere. */
static json_t *scenario_json(const sb_scenario *s, json_t *src, int *bad) {
  json_t *j = json_object();
  put(j, "executor", json_string(executor_name(s->executor)), bad);
  SET_OR_NULL("startTime", dur(s->start_time_ms));
  SET_OR_NULL("gracefulStop", dur(s->graceful_stop_ms));
  put(j, "env", raw(src, "env"), bad);
  SET_OR_NULL("exec", json_string(s->exec));
  put(j, "tags", raw(src, "tags"), bad);
  switch (s->executor) {
  case SB_EXEC_SHARED_ITERATIONS:
  case SB_EXEC_PER_VU_ITERATIONS:
    SET_OR_NULL("vus", json_integer((json_int_t)s->vus));
    SET_OR_NULL("iterations", json_integer((json_int_t)s->iterations));
    SET_OR_NULL("maxDuration", dur(s->max_duration_ms));
    break;
  case SB_EXEC_CONSTANT_VUS:
    SET_OR_NULL("vus", json_integer((json_int_t)s->vus));
    SET_OR_NULL("duration", dur(s->duration_ms));
    break;
  case SB_EXEC_RAMPING_VUS:
    SET_OR_NULL("startVUs", json_integer((json_int_t)s->start_vus));
    SET_OR_NULL("stages", stages_json(s, bad));
    SET_OR_NULL("gracefulRampDown", dur(s->graceful_ramp_down_ms));
    break;
  case SB_EXEC_CONSTANT_ARRIVAL_RATE:
  case SB_EXEC_RAMPING_ARRIVAL_RATE:
    if (s->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE) {
      SET_OR_NULL("rate", json_integer((json_int_t)s->rate));
      SET_OR_NULL("duration", dur(s->duration_ms));
    } else {
      SET_OR_NULL("startRate", json_integer((json_int_t)s->start_rate));
      SET_OR_NULL("stages", stages_json(s, bad));
    }
    SET_OR_NULL("timeUnit", dur(s->time_unit_ms));
    SET_OR_NULL("preAllocatedVUs", json_integer((json_int_t)s->pre_allocated_vus));
    SET_OR_NULL("maxVUs", json_integer((json_int_t)s->max_vus));
    break;
  }
  if (!j) *bad = 1;
  return j;
}

#undef SET_OR_NULL

/* The fields k6's DeriveScenariosFromShortcuts sets on the "default" scenario: iterations,
 * duration (shared-iterations' maxDuration) and stages as given, `vus` (startVUs for stages)
 * only when a tier set it; the no-shortcut per-vu-iterations scenario has none set. The command
 * line's --iterations/--duration/--stage replace the script's execution settings, --vus only
 * `vus` (options.c apply_cli). */
static json_t *derived_fields(const sb_scenario *s, json_t *script, const sb_cli_overrides *cli) {
  int exec_cli = cli && (cli->iterations >= 0 || cli->duration_ms >= 0 || cli->nstages);
  int vus_set = (cli && cli->vus >= 0) || has(script, "vus");
  int dur_set = exec_cli ? cli->duration_ms >= 0 : has(script, "duration");
  const char *keys[3] = {NULL, NULL, NULL};
  switch (s->executor) {
  case SB_EXEC_SHARED_ITERATIONS:
    keys[0] = "iterations", keys[1] = vus_set ? "vus" : NULL,
    keys[2] = dur_set ? "maxDuration" : NULL;
    break;
  case SB_EXEC_CONSTANT_VUS: keys[0] = "duration", keys[1] = vus_set ? "vus" : NULL; break;
  case SB_EXEC_RAMPING_VUS: keys[0] = "stages", keys[1] = vus_set ? "startVUs" : NULL; break;
  case SB_EXEC_PER_VU_ITERATIONS:
  default: break; /* arrival-rate scenarios never come from shortcuts */
  }
  json_t *f = json_object();
  for (int i = 0; f && i < 3; i++)
    if (keys[i] && json_object_set_new(f, keys[i], json_true())) {
      json_decref(f);
      return NULL;
    }
  return f;
}

static json_t *scenarios_json(const sb_options *o, json_t *script, const sb_cli_overrides *cli,
                              int *bad) {
  json_t *all = json_object(), *sc = json_object_get(script, "scenarios");
  int exec_cli = cli && (cli->iterations >= 0 || cli->duration_ms >= 0 || cli->nstages);
  int own = json_is_object(sc) && json_object_size(sc) > 0 && !exec_cli;
  for (size_t i = 0; all && i < o->nscenarios; i++) {
    const sb_scenario *s = &o->scenarios[i];
    json_t *mine = own ? json_object_get(sc, s->name) : NULL; /* NULL: from shortcuts */
    json_t *src = mine ? json_incref(mine) : derived_fields(s, script, cli);
    if (!src) *bad = 1;
    put(all, s->name, scenario_json(s, src, bad), bad);
    json_decref(src);
  }
  if (!all) *bad = 1;
  return all;
}

/* Per metric, an array: the expression, or {threshold, abortOnFail, delayAbortEval} when it
 * aborts (k6's thresholdConfig.MarshalJSON). */
static json_t *thresholds_json(const sb_options *o, int *bad) {
  json_t *th = json_object();
  for (size_t i = 0; th && i < o->nthresholds; i++) {
    const sb_threshold_def *d = &o->thresholds[i];
    json_t *e;
    if (!json_object_get(th, d->metric)) put(th, d->metric, json_array(), bad);
    json_t *a = json_object_get(th, d->metric); /* borrowed */
    if (d->abort_on_fail) {
      e = json_object();
      put(e, "threshold", json_string(d->expr), bad);
      put(e, "abortOnFail", json_true(), bad);
      put(e, "delayAbortEval", d->delay_abort_eval_ms ? dur(d->delay_abort_eval_ms) : json_null(),
          bad);
    } else {
      e = json_string(d->expr);
    }
    if (!a) json_decref(e);
    if (!a || !e || json_array_append_new(a, e)) *bad = 1;
  }
  if (!th) *bad = 1;
  return th;
}

static json_t *strings_json(const char *const *v, size_t n, int *bad) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_string(v[i]))) *bad = 1;
  if (!a) *bad = 1;
  return a;
}

/* dns {ttl, select, policy}: the script's, then --dns "ttl=1m,select=first,policy=any". */
static json_t *dns_json(json_t *script, const sb_cli_overrides *cli, int *bad) {
  json_t *d = json_object(), *sd = json_object_get(script, "dns");
  static const char *const keys[] = {"ttl", "select", "policy"};
  for (size_t i = 0; i < 3; i++)
    put(d, keys[i], raw(sd, keys[i]), bad);
  for (const char *p = cli && cli->dns ? cli->dns : ""; *p;) {
    size_t n = strcspn(p, ","), k = strcspn(p, "=");
    if (k < n)
      for (size_t i = 0; i < 3; i++)
        if (strlen(keys[i]) == k && !strncmp(p, keys[i], k))
          put(d, keys[i], json_stringn(p + k + 1, n - k - 1), bad);
    p += n + (p[n] == ',');
  }
  return d;
}

/* The command line's HTTP flags over the script's values (k6's CLI tier). */
static void overlay_cli(json_t *out, const sb_cli_overrides *cli, int *bad) {
  if (!cli) return;
  if (cli->insecure_skip_tls_verify) put(out, "insecureSkipTLSVerify", json_true(), bad);
  if (cli->no_connection_reuse) put(out, "noConnectionReuse", json_true(), bad);
  if (cli->no_vu_connection_reuse) put(out, "noVUConnectionReuse", json_true(), bad);
  if (cli->throw_errors) put(out, "throw", json_true(), bad);
  if (cli->max_redirects >= 0) put(out, "maxRedirects", json_integer(cli->max_redirects), bad);
  if (cli->batch >= 0) put(out, "batch", json_integer(cli->batch), bad);
  if (cli->batch_per_host >= 0) put(out, "batchPerHost", json_integer(cli->batch_per_host), bad);
  if (cli->user_agent) put(out, "userAgent", json_string(cli->user_agent), bad);
}

static json_t *load_script(const char *json, sb_err *err, int *rc) {
  json_error_t je;
  json_t *root;
  *rc = 0;
  if (!json || !*json || !strcmp(json, "null")) {
    if (!(root = json_object())) *rc = sb_err_set(err, SB_ENOMEM, "options: out of memory");
    return root;
  }
  root = json_loads(json, JSON_DECODE_ANY, &je);
  /* jansson 2.14 reports most of its allocation failures as "unknown" (some as bad syntax) */
  if (!root && (json_error_code(&je) == json_error_out_of_memory ||
                json_error_code(&je) == json_error_unknown)) {
    *rc = sb_err_set(err, SB_ENOMEM, "options: out of memory");
    return NULL;
  }
  if (!root || !json_is_object(root)) {
    json_decref(root);
    *rc = sb_err_set(err, SB_EFORMAT, "options: not a JSON object (%s)",
                     root ? "another JSON value" : je.text);
    return NULL;
  }
  return root;
}

int sb_options_to_json(const sb_options *o, const char *script_json, const sb_cli_overrides *cli,
                       char **out, sb_err *err) {
  int rc, bad = 0;
  json_t *script = load_script(script_json, err, &rc), *res;
  if (!script) return rc;
  if (!(res = json_object())) bad = 1;
  for (size_t i = 0; !bad && i < sizeof(K6_KEYS) / sizeof(K6_KEYS[0]); i++)
    put(res, K6_KEYS[i], raw(script, K6_KEYS[i]), &bad);
  for (size_t i = 0; !bad && i < sizeof(DURATION_KEYS) / sizeof(DURATION_KEYS[0]); i++)
    if (has(script, DURATION_KEYS[i]))
      put(res, DURATION_KEYS[i], norm_duration(json_object_get(script, DURATION_KEYS[i])), &bad);
  if (!bad) {
    put(res, "dns", dns_json(script, cli, &bad), &bad);
    if (has(script, "thresholds")) put(res, "thresholds", thresholds_json(o, &bad), &bad);
    put(res, "summaryTrendStats",
        strings_json((const char *const *)o->summary_trend_stats, o->nsummary_trend_stats, &bad),
        &bad);
    if (!has(script, "systemTags"))
      put(res, "systemTags",
          strings_json(DEFAULT_SYSTEM_TAGS,
                       sizeof(DEFAULT_SYSTEM_TAGS) / sizeof(DEFAULT_SYSTEM_TAGS[0]), &bad),
          &bad);
    put(res, "scenarios", scenarios_json(o, script, cli, &bad), &bad);
    overlay_cli(res, cli, &bad);
  }
  char *s = bad ? NULL : json_dumps(res, JSON_COMPACT);
  json_decref(res);
  json_decref(script);
  if (!s) return sb_err_set(err, SB_ENOMEM, "options: out of memory building test.options");
  *out = s;
  return 0;
}
