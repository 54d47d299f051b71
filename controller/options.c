/* Test options: the script's `export const options` (JSON) and the command line, validated once
 * into a read-only sb_options. Shortcut and scenario rules follow k6 (see options.h). */
#include "controller/options.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "controller/options_scenario.h"
#include "controller/config_layers.h"
#include "controller/options_http.h"
#include "controller/options_limits.h"

#define MS_10M (10 * 60 * 1000)
#define MS_30S (30 * 1000)

static const char *const default_trend_stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};

/* The script's execution shortcuts, before they become the "default" scenario. */
typedef struct shortcuts {
  int has_vus, has_iterations, has_duration, has_stages;
  int stages_set;   /* `stages` given, even empty (k6 v2: then a lone vus is not a shortcut) */
  uint64_t vus, iterations;
  int64_t duration_ms;
  sb_stage *stages; /* owned */
  size_t nstages;
} shortcuts;

void sb_cli_overrides_init(sb_cli_overrides *o) {
  memset(o, 0, sizeof(*o));
  o->vus = o->iterations = o->duration_ms = -1;
  o->max_redirects = o->batch = o->batch_per_host = -1;
}

void sb_cli_overrides_clear(sb_cli_overrides *o) {
  free(o->stages);
  for (size_t i = 0; i < o->nsummary_trend_stats; i++)
    free(o->summary_trend_stats[i]);
  free(o->summary_trend_stats);
  free(o->user_agent);
  free(o->dns);
  free(o->tls_ca_file);
  free(o->config_path);
  free(o->summary_time_unit);
  char **lists[] = {o->tags, o->system_tags, o->block_hostnames};
  size_t ns[] = {o->ntags, o->nsystem_tags, o->nblock_hostnames};
  for (size_t l = 0; l < 3; l++) {
    for (size_t i = 0; i < ns[l]; i++)
      free(lists[l][i]);
    free(lists[l]);
  }
  sb_cli_overrides_init(o);
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- typed getters: each names the option at fault in |err| ---- */

static int get_uint(json_t *v, const char *path, uint64_t *out, sb_err *err) {
  double d;
  if (json_is_integer(v))
    d = (double)json_integer_value(v);
  else if (json_is_real(v))
    d = json_real_value(v);
  else
    return sb_err_set(err, SB_EINVAL, "%s: must be a non-negative integer", path);
  if (d < 0 || d != floor(d) || d > 9007199254740992.0)
    return sb_err_set(err, SB_EINVAL, "%s: must be a non-negative integer", path);
  *out = (uint64_t)d;
  return 0;
}

/* A duration: a k6 string ("1m30s") or a number of milliseconds; never negative. */
static int get_duration(json_t *v, const char *path, int64_t *ms, sb_err *err) {
  if (json_is_string(v)) {
    sb_err e;
    if (sb_duration_parse_ms(json_string_value(v), ms, &e))
      return sb_err_set(err, SB_EINVAL, "%s: invalid duration '%s'", path, json_string_value(v));
  } else if (json_is_number(v)) {
    double d = json_number_value(v);
    if (!isfinite(d) || fabs(d) > 9e15)
      return sb_err_set(err, SB_EINVAL, "%s: invalid duration", path);
    *ms = (int64_t)d;
  } else {
    return sb_err_set(err, SB_EINVAL, "%s: must be a duration string (\"30s\") or milliseconds",
                      path);
  }
  if (*ms < 0) return sb_err_set(err, SB_EINVAL, "%s: must not be negative", path);
  return 0;
}

static int get_bool(json_t *v, const char *path, int *out, sb_err *err) {
  if (!json_is_boolean(v)) return sb_err_set(err, SB_EINVAL, "%s: must be true or false", path);
  *out = json_is_true(v);
  return 0;
}

/* Parses a `stages` array into a fresh array (|*out| free()d by the caller). */
static int get_stages(json_t *v, const char *path, sb_stage **out, size_t *n, sb_err *err) {
  char p[256];
  if (!json_is_array(v))
    return sb_err_set(err, SB_EINVAL, "%s: must be an array of {duration, target}", path);
  size_t cnt = json_array_size(v);
  sb_stage *st = calloc(cnt ? cnt : 1, sizeof(*st));
  if (!st) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  for (size_t i = 0; i < cnt; i++) {
    json_t *e = json_array_get(v, i), *d, *t;
    if (!json_is_object(e)) {
      free(st);
      return sb_err_set(err, SB_EINVAL, "%s[%zu]: must be an object {duration, target}", path, i);
    }
    snprintf(p, sizeof(p), "%s[%zu].duration", path, i);
    if (!(d = json_object_get(e, "duration"))) {
      free(st);
      return sb_err_set(err, SB_EINVAL, "%s: required", p);
    }
    if (get_duration(d, p, &st[i].duration_ms, err)) goto fail;
    snprintf(p, sizeof(p), "%s[%zu].target", path, i);
    if ((t = json_object_get(e, "target")) && get_uint(t, p, &st[i].target, err)) goto fail;
  }
  *out = st;
  *n = cnt;
  return 0;
fail:
  free(st);
  return SB_EINVAL;
}

/* ---- scenarios ---- */

static void scenario_clear(sb_scenario *s) {
  free(s->name);
  free(s->exec);
  free(s->stages);
  sb_scenario_clear_more(s);
}

static int scenario_defaults(sb_scenario *s, const char *name, sb_executor ex) {
  memset(s, 0, sizeof(*s));
  s->executor = ex;
  s->vus = 1;
  s->iterations = 1;
  s->start_vus = 1;
  s->max_duration_ms = MS_10M;
  s->graceful_stop_ms = MS_30S;
  s->graceful_ramp_down_ms = MS_30S;
  s->duration_ms = -1;
  s->name = xstrdup(name);
  s->exec = xstrdup("default");
  return s->name && s->exec ? 0 : SB_ENOMEM;
}

static int executor_from_name(const char *n, sb_executor *ex) {
  static const struct {
    const char *name;
    sb_executor ex;
  } known[] = {
      {"shared-iterations", SB_EXEC_SHARED_ITERATIONS},
      {"per-vu-iterations", SB_EXEC_PER_VU_ITERATIONS},
      {"constant-vus", SB_EXEC_CONSTANT_VUS},
      {"ramping-vus", SB_EXEC_RAMPING_VUS},
      {"constant-arrival-rate", SB_EXEC_CONSTANT_ARRIVAL_RATE},
      {"ramping-arrival-rate", SB_EXEC_RAMPING_ARRIVAL_RATE},
  };
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (!strcmp(n, known[i].name)) {
      *ex = known[i].ex;
      return 0;
    }
  if (!strcmp(n, "externally-controlled")) return 1;
  return -1;
}

/* k6's per-executor validation, with the scenario's option path in every message. */
static int scenario_validate(const sb_scenario *s, const char *path, sb_err *err) {
  switch (s->executor) {
  case SB_EXEC_SHARED_ITERATIONS:
    if (s->iterations < s->vus)
      return sb_err_set(err, SB_EINVAL,
                        "%s.iterations: the number of iterations (%" PRIu64
                        ") can't be less than the number of VUs (%" PRIu64 ")",
                        path, s->iterations, s->vus);
    /* fallthrough */
  case SB_EXEC_PER_VU_ITERATIONS:
    if (s->vus == 0) return sb_err_set(err, SB_EINVAL, "%s.vus: must be > 0", path);
    if (s->iterations == 0) return sb_err_set(err, SB_EINVAL, "%s.iterations: must be > 0", path);
    if (s->max_duration_ms < 1000)
      return sb_err_set(err, SB_EINVAL, "%s.maxDuration: must be at least 1s", path);
    break;
  case SB_EXEC_CONSTANT_VUS:
    if (s->vus == 0) return sb_err_set(err, SB_EINVAL, "%s.vus: must be > 0", path);
    if (s->duration_ms < 0) return sb_err_set(err, SB_EINVAL, "%s.duration: required", path);
    if (s->duration_ms < 1000)
      return sb_err_set(err, SB_EINVAL, "%s.duration: must be at least 1s", path);
    break;
  case SB_EXEC_RAMPING_VUS:
    if (s->nstages == 0)
      return sb_err_set(err, SB_EINVAL, "%s.stages: at least one stage is required", path);
    break;
  default: return sb_scenario_validate_more(s, path, err);
  }
  return 0;
}

static int valid_scenario_name(const char *n) {
  if (!*n) return 0;
  for (; *n; n++)
    if (!isalnum((unsigned char)*n) && *n != '_' && *n != '-') return 0;
  return 1;
}

/* Fills |s| from one entry of `scenarios`. Unknown keys are ignored, as k6 does. */
static int scenario_parse(sb_scenario *s, const char *name, json_t *obj, sb_err *err) {
  char path[256], p[320];
  json_t *v;
  sb_executor ex;
  int rc;
  snprintf(path, sizeof(path), "options.scenarios.%s", name);
  memset(s, 0, sizeof(*s));
  if (!valid_scenario_name(name))
    return sb_err_set(err, SB_EINVAL,
                      "%s: a scenario name may contain only letters, digits, '_' and '-'", path);
  if (!json_is_object(obj)) return sb_err_set(err, SB_EINVAL, "%s: must be an object", path);
  if (!(v = json_object_get(obj, "executor")))
    return sb_err_set(err, SB_EINVAL, "%s.executor: required", path);
  if (!json_is_string(v)) return sb_err_set(err, SB_EINVAL, "%s.executor: must be a string", path);
  rc = executor_from_name(json_string_value(v), &ex);
  if (rc > 0)
    return sb_err_set(err, SB_EINVAL, "%s.executor: executor '%s' is not supported yet", path,
                      json_string_value(v));
  if (rc < 0)
    return sb_err_set(err, SB_EINVAL, "%s.executor: unknown executor '%s'", path,
                      json_string_value(v));
  if (scenario_defaults(s, name, ex)) goto nomem;

#define FIELD(key) (snprintf(p, sizeof(p), "%s.%s", path, key), v = json_object_get(obj, key))
  if (FIELD("exec")) {
    if (!json_is_string(v) || !*json_string_value(v)) {
      rc = sb_err_set(err, SB_EINVAL, "%s: must be a function name", p);
      goto fail;
    }
    free(s->exec);
    if (!(s->exec = xstrdup(json_string_value(v)))) goto nomem;
  }
  if (FIELD("startTime") && (rc = get_duration(v, p, &s->start_time_ms, err))) goto fail;
  if (FIELD("gracefulStop") && (rc = get_duration(v, p, &s->graceful_stop_ms, err))) goto fail;
  if ((ex == SB_EXEC_SHARED_ITERATIONS || ex == SB_EXEC_PER_VU_ITERATIONS ||
       ex == SB_EXEC_CONSTANT_VUS) &&
      FIELD("vus") && (rc = get_uint(v, p, &s->vus, err)))
    goto fail;
  if ((ex == SB_EXEC_SHARED_ITERATIONS || ex == SB_EXEC_PER_VU_ITERATIONS)) {
    if (FIELD("iterations") && (rc = get_uint(v, p, &s->iterations, err))) goto fail;
    if (FIELD("maxDuration") && (rc = get_duration(v, p, &s->max_duration_ms, err))) goto fail;
  }
  if (ex == SB_EXEC_CONSTANT_VUS && FIELD("duration") &&
      (rc = get_duration(v, p, &s->duration_ms, err)))
    goto fail;
  if (ex == SB_EXEC_RAMPING_VUS) {
    if (FIELD("startVUs") && (rc = get_uint(v, p, &s->start_vus, err))) goto fail;
    if (FIELD("gracefulRampDown") && (rc = get_duration(v, p, &s->graceful_ramp_down_ms, err)))
      goto fail;
    if (FIELD("stages") && (rc = get_stages(v, p, &s->stages, &s->nstages, err))) goto fail;
  }
#undef FIELD
  if ((rc = sb_scenario_parse_more(s, obj, path, err))) goto fail;
  if ((rc = scenario_validate(s, path, err))) goto fail;
  return 0;

nomem:
  rc = sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
fail:
  scenario_clear(s);
  memset(s, 0, sizeof(*s));
  return rc;
}

/* k6 orders scenarios by startTime, then by name. */
static int scenario_cmp(const void *a, const void *b) {
  const sb_scenario *x = a, *y = b;
  if (x->start_time_ms != y->start_time_ms) return x->start_time_ms < y->start_time_ms ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int parse_scenarios(sb_options *o, json_t *sc, sb_err *err) {
  const char *name;
  json_t *v;
  int rc;
  if (!json_is_object(sc))
    return sb_err_set(err, SB_EINVAL, "options.scenarios: must be an object of scenarios");
  size_t n = json_object_size(sc);
  if (!(o->scenarios = calloc(n, sizeof(*o->scenarios))))
    return sb_err_set(err, SB_ENOMEM, "options.scenarios: out of memory");
  json_object_foreach(sc, name, v) {
    if ((rc = scenario_parse(&o->scenarios[o->nscenarios], name, v, err))) return rc;
    o->nscenarios++;
  }
  qsort(o->scenarios, o->nscenarios, sizeof(*o->scenarios), scenario_cmp);
  return 0;
}

/* ---- shortcuts -> the "default" scenario ---- */

static int read_shortcuts(shortcuts *sc, json_t *root, sb_err *err) {
  json_t *v;
  memset(sc, 0, sizeof(*sc));
  if ((v = json_object_get(root, "vus")) && !json_is_null(v)) {
    if (get_uint(v, "options.vus", &sc->vus, err)) return SB_EINVAL;
    sc->has_vus = 1;
  }
  if ((v = json_object_get(root, "iterations")) && !json_is_null(v)) {
    if (get_uint(v, "options.iterations", &sc->iterations, err)) return SB_EINVAL;
    sc->has_iterations = 1;
  }
  if ((v = json_object_get(root, "duration")) && !json_is_null(v)) {
    if (get_duration(v, "options.duration", &sc->duration_ms, err)) return SB_EINVAL;
    sc->has_duration = 1;
  }
  if ((v = json_object_get(root, "stages")) && !json_is_null(v)) {
    int rc = get_stages(v, "options.stages", &sc->stages, &sc->nstages, err);
    if (rc) return rc;
    sc->has_stages = sc->nstages > 0; /* k6: an empty `stages` is as good as none */
    sc->stages_set = 1;
  }
  return 0;
}

static const char *shortcut_names(const shortcuts *sc, char *buf, size_t cap) {
  buf[0] = '\0';
  const char *names[] = {"iterations", "duration", "stages"};
  int has[] = {sc->has_iterations, sc->has_duration, sc->has_stages};
  for (int i = 0; i < 3; i++)
    if (has[i]) {
      if (buf[0]) strncat(buf, ", ", cap - strlen(buf) - 1);
      strncat(buf, names[i], cap - strlen(buf) - 1);
    }
  return buf;
}

/* k6 v2: `vus` with no iterations, duration or stages (not even an empty list) is a shortcut of
 * its own: shared-iterations, as many iterations as VUs, over any scenarios (with a warning). */
static int lone_vus(const shortcuts *sc) {
  return sc->has_vus && !sc->stages_set && !sc->has_iterations && !sc->has_duration;
}

/* DeriveScenariosFromShortcuts, as k6: iterations (with or without duration, which becomes
 * maxDuration) -> shared-iterations; duration -> constant-vus; stages -> ramping-vus; nothing ->
 * per-vu-iterations, 1 iteration on 1 VU (a lone `vus` is ignored there, k6 only warns). Stages
 * together with iterations or duration are an error. */
static int derive_default(sb_options *o, const shortcuts *sc, sb_err *err) {
  sb_scenario *s;
  char names[64];
  if (sc->has_stages && (sc->has_iterations || sc->has_duration))
    return sb_err_set(err, SB_EINVAL,
                      "options: using multiple execution config shortcuts (%s) simultaneously is "
                      "not allowed",
                      shortcut_names(sc, names, sizeof(names)));
  if (!(o->scenarios = calloc(1, sizeof(*o->scenarios))))
    return sb_err_set(err, SB_ENOMEM, "options: out of memory");
  s = &o->scenarios[0];
  uint64_t vus = sc->has_vus ? sc->vus : 1;
  sb_executor ex = sc->has_stages       ? SB_EXEC_RAMPING_VUS
                   : sc->has_iterations ? SB_EXEC_SHARED_ITERATIONS
                   : sc->has_duration   ? SB_EXEC_CONSTANT_VUS
                   : lone_vus(sc)       ? SB_EXEC_SHARED_ITERATIONS
                                        : SB_EXEC_PER_VU_ITERATIONS;
  if (scenario_defaults(s, "default", ex)) {
    scenario_clear(s);
    return sb_err_set(err, SB_ENOMEM, "options: out of memory");
  }
  o->nscenarios = 1;
  if (ex == SB_EXEC_RAMPING_VUS) {
    s->start_vus = vus;
    if (!(s->stages = malloc(sc->nstages * sizeof(*s->stages))))
      return sb_err_set(err, SB_ENOMEM, "options: out of memory");
    memcpy(s->stages, sc->stages, sc->nstages * sizeof(*s->stages));
    s->nstages = sc->nstages;
    return 0;
  }
  if (ex == SB_EXEC_PER_VU_ITERATIONS) return 0; /* the defaults: 1 VU, 1 iteration */
  if (sc->has_duration && sc->duration_ms == 0)
    return sb_err_set(err, SB_EINVAL, "options.duration: must be more than 0");
  if (sc->has_duration && sc->duration_ms < 1000)
    return sb_err_set(err, SB_EINVAL, "options.duration: must be at least 1s");
  s->vus = vus;
  if (sc->has_vus && vus == 0) return sb_err_set(err, SB_EINVAL, "options.vus: must be > 0");
  if (ex == SB_EXEC_CONSTANT_VUS) {
    s->duration_ms = sc->duration_ms;
    return scenario_validate(s, "options", err);
  }
  s->iterations = sc->has_iterations ? sc->iterations : lone_vus(sc) ? vus : 1;
  if (sc->has_duration) s->max_duration_ms = sc->duration_ms;
  if (s->iterations < s->vus)
    return sb_err_set(err, SB_EINVAL,
                      "options.iterations: the number of iterations (%" PRIu64
                      ") can't be less than the number of VUs (%" PRIu64 ")",
                      s->iterations, s->vus);
  return scenario_validate(s, "options", err);
}

/* ---- thresholds and the rest ---- */

static int add_threshold(sb_options *o, const char *key, json_t *e, const char *path, sb_err *err) {
  sb_threshold_def *d = &o->thresholds[o->nthresholds];
  json_t *v;
  memset(d, 0, sizeof(*d));
  if (json_is_string(e)) {
    v = e;
  } else if (json_is_object(e)) {
    char p[300];
    if (!(v = json_object_get(e, "threshold")) || !json_is_string(v))
      return sb_err_set(err, SB_EINVAL, "%s.threshold: required (a string such as 'p(95)<200')",
                        path);
    json_t *a = json_object_get(e, "abortOnFail"), *dl = json_object_get(e, "delayAbortEval");
    snprintf(p, sizeof(p), "%s.abortOnFail", path);
    if (a && !json_is_null(a) && get_bool(a, p, &d->abort_on_fail, err)) return SB_EINVAL;
    snprintf(p, sizeof(p), "%s.delayAbortEval", path);
    if (dl && !json_is_null(dl) && get_duration(dl, p, &d->delay_abort_eval_ms, err))
      return SB_EINVAL;
  } else {
    return sb_err_set(err, SB_EINVAL,
                      "%s: must be a string or an object {threshold, abortOnFail, delayAbortEval}",
                      path);
  }
  d->metric = xstrdup(key);
  d->expr = xstrdup(json_string_value(v));
  o->nthresholds++;
  if (!d->metric || !d->expr) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  return 0;
}

static int parse_thresholds(sb_options *o, json_t *th, sb_err *err) {
  const char *key;
  json_t *v;
  size_t total = 0;
  char path[512];
  if (!json_is_object(th))
    return sb_err_set(err, SB_EINVAL, "options.thresholds: must be an object of metric -> list");
  json_object_foreach(th, key, v) total += json_is_array(v) ? json_array_size(v) : 1;
  if (!total) return 0;
  if (!(o->thresholds = calloc(total, sizeof(*o->thresholds))))
    return sb_err_set(err, SB_ENOMEM, "options.thresholds: out of memory");
  json_object_foreach(th, key, v) {
    int rc;
    if (!json_is_array(v)) {
      snprintf(path, sizeof(path), "options.thresholds.%s", key);
      if ((rc = add_threshold(o, key, v, path, err))) return rc;
      continue;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
      snprintf(path, sizeof(path), "options.thresholds.%s[%zu]", key, i);
      if ((rc = add_threshold(o, key, json_array_get(v, i), path, err))) return rc;
    }
  }
  return 0;
}

/* A summary stat k6 accepts: avg min med max count p(N) with 0 <= N <= 100. */
static int valid_trend_stat(const char *s) {
  if (!strcmp(s, "avg") || !strcmp(s, "min") || !strcmp(s, "med") || !strcmp(s, "max") ||
      !strcmp(s, "count"))
    return 1;
  if (strncmp(s, "p(", 2)) return 0;
  char *end;
  double n = strtod(s + 2, &end);
  return end != s + 2 && !strcmp(end, ")") && n >= 0 && n <= 100;
}

static int set_trend_stats(sb_options *o, const char *const *stats, size_t n, const char *path,
                           sb_err *err) {
  if (!(o->summary_trend_stats = calloc(n ? n : 1, sizeof(char *))))
    return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  for (size_t i = 0; i < n; i++) {
    if (!valid_trend_stat(stats[i]))
      return sb_err_set(err, SB_EINVAL,
                        "%s: unknown stat '%s' (use avg, min, med, max, count or p(N))", path,
                        stats[i]);
    if (!(o->summary_trend_stats[i] = xstrdup(stats[i])))
      return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
    o->nsummary_trend_stats = i + 1;
  }
  return 0;
}

static int parse_trend_stats(sb_options *o, json_t *root, sb_err *err) {
  const char *tmp[64];
  json_t *v = json_object_get(root, "summaryTrendStats");
  if (!v || json_is_null(v))
    return set_trend_stats(o, default_trend_stats, 6, "options.summaryTrendStats", err);
  if (!json_is_array(v) || json_array_size(v) > 64)
    return sb_err_set(err, SB_EINVAL, "options.summaryTrendStats: must be an array of strings");
  for (size_t i = 0; i < json_array_size(v); i++) {
    if (!json_is_string(json_array_get(v, i)))
      return sb_err_set(err, SB_EINVAL, "options.summaryTrendStats[%zu]: must be a string", i);
    tmp[i] = json_string_value(json_array_get(v, i));
  }
  return set_trend_stats(o, tmp, json_array_size(v), "options.summaryTrendStats", err);
}

/* summaryTimeUnit: k6 accepts s, ms and us (cmd/options.go). */
static int parse_time_unit(sb_options *o, json_t *v, sb_err *err) {
  const char *u = json_is_string(v) ? json_string_value(v) : NULL;
  if (!u || (*u && strcmp(u, "s") && strcmp(u, "ms") && strcmp(u, "us")))
    return sb_err_set(err, SB_EINVAL,
                      "options.summaryTimeUnit: invalid summary time unit; use 's', 'ms' or 'us'");
  if (!*u) return 0; /* k6: "" is the default, each value in its own unit */
  if (!(o->summary_time_unit = xstrdup(u)))
    return sb_err_set(err, SB_ENOMEM, "options.summaryTimeUnit: out of memory");
  return 0;
}

static int parse_flags(sb_options *o, json_t *root, sb_err *err) {
  json_t *v;
  if ((v = json_object_get(root, "discardResponseBodies")) && !json_is_null(v) &&
      get_bool(v, "options.discardResponseBodies", &o->discard_response_bodies, err))
    return SB_EINVAL;
  if ((v = json_object_get(root, "noThresholds")) && !json_is_null(v) &&
      get_bool(v, "options.noThresholds", &o->no_thresholds, err))
    return SB_EINVAL;
  if ((v = json_object_get(root, "noSummary")) && !json_is_null(v) &&
      get_bool(v, "options.noSummary", &o->no_summary, err))
    return SB_EINVAL;
  if ((v = json_object_get(root, "setupTimeout")) && !json_is_null(v) &&
      get_duration(v, "options.setupTimeout", &o->setup_timeout_ms, err))
    return SB_EINVAL;
  if ((v = json_object_get(root, "teardownTimeout")) && !json_is_null(v) &&
      get_duration(v, "options.teardownTimeout", &o->teardown_timeout_ms, err))
    return SB_EINVAL;
  if ((v = json_object_get(root, "linger")) && !json_is_null(v) &&
      get_bool(v, "options.linger", &o->linger, err))
    return SB_EINVAL;
  if (sb_options_limits_parse(root, &o->max_vu_memory, &o->init_timeout_ms, err))
    return SB_EINVAL;
  if ((v = json_object_get(root, "summaryTimeUnit")) && !json_is_null(v))
    return parse_time_unit(o, v, err);
  return 0;
}

static json_t *load_root(const char *json, sb_err *err, int *rc) {
  json_error_t je;
  const char *p = json;
  *rc = 0;
  while (p && isspace((unsigned char)*p))
    p++;
  if (!p || !*p || !strcmp(p, "null")) {
    json_t *o = json_object();
    if (!o) *rc = sb_err_set(err, SB_ENOMEM, "options: out of memory");
    return o;
  }
  json_t *root = json_loads(json, JSON_DECODE_ANY, &je);
  if (!root) {
    *rc = sb_err_set(err, SB_EFORMAT, "options: invalid JSON at line %d: %s", je.line, je.text);
    return NULL;
  }
  if (json_is_null(root)) {
    json_decref(root);
    if (!(root = json_object())) *rc = sb_err_set(err, SB_ENOMEM, "options: out of memory");
    return root;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    *rc = sb_err_set(err, SB_EINVAL, "options: must be an object");
    return NULL;
  }
  return root;
}

/* The execution part: shortcuts and scenarios into o->scenarios. */
static int parse_execution(sb_options *o, json_t *root, sb_err *err) {
  shortcuts sc;
  int rc;
  char names[64];
  json_t *scen = json_object_get(root, "scenarios");
  /* null or {}: as if unset (k6 then runs 1 iteration on 1 VU) */
  if (scen && (json_is_null(scen) || (json_is_object(scen) && !json_object_size(scen))))
    scen = NULL;
  if ((rc = read_shortcuts(&sc, root, err))) goto out;
  /* Within one tier, shortcuts and scenarios exclude each other. */
  if (scen && (sc.has_iterations || sc.has_duration || sc.has_stages)) {
    rc = sb_err_set(err, SB_EINVAL,
                    "options: using an execution configuration shortcut (%s) and \"scenarios\" "
                    "simultaneously is not allowed",
                    shortcut_names(&sc, names, sizeof(names)));
    goto out;
  }
  if (scen && lone_vus(&sc)) {
    fprintf(stderr, "WARN[0000] `vus=%" PRIu64 "` overrides scenarios configuration\n", sc.vus);
    scen = NULL;
  }
  if (scen)
    rc = parse_scenarios(o, scen, err);
  else
    rc = derive_default(o, &sc, err);
  if (rc == 0) rc = sb_options_min_iteration(o, root, err);
out:
  free(sc.stages);
  return rc;
}

/* Parses the merged options object |root| (borrowed) into |*out|. */
static int parse_root(sb_options **out, json_t *root, sb_err *err) {
  int rc;
  json_t *th;
  sb_options *o = calloc(1, sizeof(*o));
  if (!o) return sb_err_set(err, SB_ENOMEM, "options: out of memory");
  sb_http_config_defaults(&o->http);
  if ((rc = parse_execution(o, root, err))) goto fail;
  if ((th = json_object_get(root, "thresholds")) && !json_is_null(th) &&
      (rc = parse_thresholds(o, th, err)))
    goto fail;
  if ((rc = parse_trend_stats(o, root, err))) goto fail;
  if ((rc = parse_flags(o, root, err))) goto fail;
  if ((rc = sb_options_http_parse(&o->http, root, err))) goto fail;
  o->http.discard_response_bodies = o->discard_response_bodies;
  *out = o;
  return 0;
fail:
  sb_options_free(o);
  return rc;
}

int sb_options_parse(sb_options **out, const char *json, const sb_cli_overrides *cli, sb_err *err) {
  int rc;
  if (cli) { /* the flags are a layer over the script's options */
    sb_option_sources src = {.script_json = json, .cli = cli, .no_default_config = 1};
    return sb_options_load(out, NULL, &src, err);
  }
  json_t *root = load_root(json, err, &rc);
  if (!root) return rc;
  rc = parse_root(out, root, err);
  json_decref(root);
  return rc;
}

int sb_options_load(sb_options **out, char **merged_json, const sb_option_sources *src,
                    sb_err *err) {
  sb_config_layers *l;
  sb_options *o = NULL;
  char *copy = NULL;
  int rc = sb_config_layers_load(&l, src, err);
  if (rc) return rc;
  json_t *root = load_root(sb_config_layers_json(l), err, &rc);
  if (root && !(rc = parse_root(&o, root, err)) && merged_json &&
      !(copy = xstrdup(sb_config_layers_json(l)))) {
    sb_options_free(o);
    rc = sb_err_set(err, SB_ENOMEM, "options: out of memory");
  }
  if (rc) {
    sb_config_layers_name_source(l, err);
  } else {
    *out = o;
    if (merged_json) *merged_json = copy;
  }
  json_decref(root);
  sb_config_layers_free(l);
  return rc;
}

void sb_options_free(sb_options *o) {
  if (!o) return;
  for (size_t i = 0; i < o->nscenarios; i++)
    scenario_clear(&o->scenarios[i]);
  free(o->scenarios);
  for (size_t i = 0; i < o->nthresholds; i++) {
    free(o->thresholds[i].metric);
    free(o->thresholds[i].expr);
  }
  free(o->thresholds);
  for (size_t i = 0; i < o->nsummary_trend_stats; i++)
    free(o->summary_trend_stats[i]);
  free(o->summary_trend_stats);
  free(o->summary_time_unit);
  sb_http_config_clear(&o->http);
  free(o);
}

/* ---- derived facts for the banner ---- */

static int64_t stages_ms(const sb_scenario *s) {
  int64_t t = 0;
  for (size_t i = 0; i < s->nstages; i++)
    t += s->stages[i].duration_ms;
  return t;
}

static uint64_t scenario_max_vus(const sb_scenario *s) {
  if (s->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE || s->executor == SB_EXEC_RAMPING_ARRIVAL_RATE)
    return s->max_vus;
  if (s->executor != SB_EXEC_RAMPING_VUS) return s->vus;
  uint64_t m = s->start_vus;
  for (size_t i = 0; i < s->nstages; i++)
    if (s->stages[i].target > m) m = s->stages[i].target;
  return m;
}

/* k6's end offset of a scenario: its regular duration plus gracefulStop (ramping-vus reserves
 * VUs for gracefulRampDown inside that window, it does not extend it: 2 stages of 3m0s with
 * gracefulRampDown 30s and gracefulStop 30s give "3m30s max duration"). */
int64_t sb_options_max_duration_ms(const sb_options *o) {
  int64_t max = 0;
  for (size_t i = 0; i < o->nscenarios; i++) {
    const sb_scenario *s = &o->scenarios[i];
    int64_t d;
    switch (s->executor) {
    case SB_EXEC_CONSTANT_VUS:
    case SB_EXEC_CONSTANT_ARRIVAL_RATE: d = s->duration_ms; break;
    case SB_EXEC_RAMPING_VUS:
    case SB_EXEC_RAMPING_ARRIVAL_RATE: d = stages_ms(s); break;
    default: d = s->max_duration_ms; break;
    }
    d += s->start_time_ms + s->graceful_stop_ms;
    if (d > max) max = d;
  }
  return max;
}

uint64_t sb_options_max_vus(const sb_options *o) {
  uint64_t n = 0;
  for (size_t i = 0; i < o->nscenarios; i++)
    n += scenario_max_vus(&o->scenarios[i]);
  return n;
}

/* k6's getBaseInfo: the executor's own facts, then exec (when not the default), startTime and
 * gracefulStop (when non-zero), in parentheses. */
static void base_info(const sb_scenario *s, const char *fact, char *out, size_t cap) {
  char d[32];
  size_t n = 0;
  out[0] = '\0';
#define ADD(...)                                                                                   \
  do {                                                                                             \
    if (n < cap) n += (size_t)snprintf(out + n, cap - n, "%s", n ? ", " : " (");                   \
    if (n < cap) n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);                             \
  } while (0)
  if (fact) ADD("%s", fact);
  if (s->exec && strcmp(s->exec, "default")) ADD("exec: %s", s->exec);
  if (s->start_time_ms > 0) {
    sb_duration_format_ms(s->start_time_ms, d, sizeof(d));
    ADD("startTime: %s", d);
  }
  if (s->graceful_stop_ms > 0) {
    sb_duration_format_ms(s->graceful_stop_ms, d, sizeof(d));
    ADD("gracefulStop: %s", d);
  }
  if (n && n < cap) snprintf(out + n, cap - n, ")");
#undef ADD
}

void sb_scenario_describe(const sb_scenario *s, char *out, size_t cap) {
  char fact[64], d[32], info[256];
  switch (s->executor) {
  case SB_EXEC_SHARED_ITERATIONS:
  case SB_EXEC_PER_VU_ITERATIONS:
    sb_duration_format_ms(s->max_duration_ms, d, sizeof(d));
    snprintf(fact, sizeof(fact), "maxDuration: %s", d);
    base_info(s, fact, info, sizeof(info));
    if (s->executor == SB_EXEC_SHARED_ITERATIONS)
      snprintf(out, cap, "%" PRIu64 " iterations shared among %" PRIu64 " VUs%s", s->iterations,
               s->vus, info);
    else
      snprintf(out, cap, "%" PRIu64 " iterations for each of %" PRIu64 " VUs%s", s->iterations,
               s->vus, info);
    break;
  case SB_EXEC_CONSTANT_VUS:
    base_info(s, NULL, info, sizeof(info));
    sb_duration_format_ms(s->duration_ms, d, sizeof(d));
    snprintf(out, cap, "%" PRIu64 " looping VUs for %s%s", s->vus, d, info);
    break;
  case SB_EXEC_RAMPING_VUS:
    sb_duration_format_ms(s->graceful_ramp_down_ms, d, sizeof(d));
    snprintf(fact, sizeof(fact), "gracefulRampDown: %s", d);
    base_info(s, fact, info, sizeof(info));
    sb_duration_format_ms(stages_ms(s), d, sizeof(d));
    snprintf(out, cap, "Up to %" PRIu64 " looping VUs for %s over %zu stages%s",
             scenario_max_vus(s), d, s->nstages, info);
    break;
  default:
    if (!sb_scenario_fact_more(s, fact, sizeof(fact))) {
      snprintf(out, cap, "unknown executor");
      break;
    }
    base_info(s, fact, info, sizeof(info));
    sb_scenario_describe_more(s, info, out, cap);
    break;
  }
}

/* options.c's getters, for options_scenario.c. */
int sb_options_get_uint(json_t *v, const char *path, uint64_t *out, sb_err *err) {
  return get_uint(v, path, out, err);
}

int sb_options_get_duration(json_t *v, const char *path, int64_t *ms, sb_err *err) {
  return get_duration(v, path, ms, err);
}

int sb_options_get_stages(json_t *v, const char *path, sb_stage **out, size_t *n, sb_err *err) {
  return get_stages(v, path, out, n, err);
}
