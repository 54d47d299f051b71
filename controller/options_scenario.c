/* Scenario options beyond the closed-model executors (see options_scenario.h). */
#include "controller/options_scenario.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

#define MAX_SCENARIO_TAGS 16 /* a VU's own tags (agent/vu.h SB_VU_MAX_TAGS) */

static int is_arrival(const sb_scenario *s) {
  return s->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE ||
         s->executor == SB_EXEC_RAMPING_ARRIVAL_RATE;
}

/* An object of strings into key, value, ... (|*out| owned by the scenario). */
static int get_pairs(json_t *v, const char *path, size_t most, char ***out, size_t *n,
                     sb_err *err) {
  const char *key;
  json_t *e;
  if (json_is_null(v)) return 0;
  if (!json_is_object(v))
    return sb_err_set(err, SB_EINVAL, "%s: must be an object of \"name\": \"value\"", path);
  size_t cnt = json_object_size(v);
  if (cnt > most) return sb_err_set(err, SB_EINVAL, "%s: at most %zu entries", path, most);
  if (!cnt) return 0;
  if (!(*out = calloc(2 * cnt + 1, sizeof(char *))))
    return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  json_object_foreach(v, key, e) {
    if (!json_is_string(e))
      return sb_err_set(err, SB_EINVAL, "%s.%s: must be a string", path, key);
    (*out)[2 * *n] = strdup(key);
    (*out)[2 * *n + 1] = strdup(json_string_value(e));
    (*n)++;
    if (!(*out)[2 * *n - 2] || !(*out)[2 * *n - 1])
      return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  }
  return 0;
}

/* The arrival-rate fields; |*has_pre| says whether preAllocatedVUs was given. */
static int parse_arrival(sb_scenario *s, json_t *obj, const char *path, sb_err *err) {
  char p[320];
  json_t *v;
  int rc = 0;
#define FIELD(key) (snprintf(p, sizeof(p), "%s.%s", path, key), v = json_object_get(obj, key))
  int has_rate = 0, has_max = 0;
  if (FIELD("timeUnit") && (rc = sb_options_get_duration(v, p, &s->time_unit_ms, err))) return rc;
  if (FIELD("preAllocatedVUs")) {
    if ((rc = sb_options_get_uint(v, p, &s->pre_allocated_vus, err))) return rc;
  } else {
    return sb_err_set(err, SB_EINVAL, "%s: required (the VUs made before the start)", p);
  }
  if (FIELD("maxVUs") && !(rc = sb_options_get_uint(v, p, &s->max_vus, err))) has_max = 1;
  if (rc) return rc;
  if (!has_max) s->max_vus = s->pre_allocated_vus;
  if (s->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE) {
    if (FIELD("rate") && !(rc = sb_options_get_uint(v, p, &s->rate, err))) has_rate = 1;
    if (rc) return rc;
    if (!has_rate) return sb_err_set(err, SB_EINVAL, "%s.rate: required", path);
    if (FIELD("duration") && (rc = sb_options_get_duration(v, p, &s->duration_ms, err))) return rc;
  } else {
    if (FIELD("startRate") && (rc = sb_options_get_uint(v, p, &s->start_rate, err))) return rc;
    if (FIELD("stages") && (rc = sb_options_get_stages(v, p, &s->stages, &s->nstages, err)))
      return rc;
  }
#undef FIELD
  return 0;
}

int sb_scenario_parse_more(sb_scenario *s, json_t *obj, const char *path, sb_err *err) {
  char p[320];
  json_t *v;
  int rc;
  s->time_unit_ms = 1000;
  snprintf(p, sizeof(p), "%s.env", path);
  if ((v = json_object_get(obj, "env")) && (rc = get_pairs(v, p, SIZE_MAX, &s->env, &s->nenv, err)))
    return rc;
  snprintf(p, sizeof(p), "%s.tags", path);
  if ((v = json_object_get(obj, "tags")) &&
      (rc = get_pairs(v, p, MAX_SCENARIO_TAGS, &s->tags, &s->ntags, err)))
    return rc;
  return is_arrival(s) ? parse_arrival(s, obj, path, err) : 0;
}

int sb_scenario_validate_more(const sb_scenario *s, const char *path, sb_err *err) {
  if (!is_arrival(s)) return 0;
  if (s->time_unit_ms <= 0)
    return sb_err_set(err, SB_EINVAL, "%s.timeUnit: must be more than 0", path);
  if (s->max_vus < s->pre_allocated_vus)
    return sb_err_set(err, SB_EINVAL,
                      "%s.maxVUs: can't be less than preAllocatedVUs (%" PRIu64 " < %" PRIu64 ")",
                      path, s->max_vus, s->pre_allocated_vus);
  if (s->max_vus == 0)
    return sb_err_set(err, SB_EINVAL, "%s.maxVUs: must be more than 0 (no VU to run it)", path);
  if (s->executor == SB_EXEC_RAMPING_ARRIVAL_RATE) {
    if (s->nstages == 0)
      return sb_err_set(err, SB_EINVAL, "%s.stages: at least one stage is required", path);
    return 0;
  }
  if (s->rate == 0) return sb_err_set(err, SB_EINVAL, "%s.rate: must be more than 0", path);
  if (s->duration_ms < 0) return sb_err_set(err, SB_EINVAL, "%s.duration: required", path);
  if (s->duration_ms < 1000)
    return sb_err_set(err, SB_EINVAL, "%s.duration: must be at least 1s", path);
  return 0;
}

static void free_pairs(char **kv, size_t n) {
  for (size_t i = 0; kv && i < 2 * n; i++) free(kv[i]);
  free(kv);
}

void sb_scenario_clear_more(sb_scenario *s) {
  free_pairs(s->env, s->nenv);
  free_pairs(s->tags, s->ntags);
  s->env = s->tags = NULL;
  s->nenv = s->ntags = 0;
}

int sb_scenario_fact_more(const sb_scenario *s, char *fact, size_t cap) {
  if (!is_arrival(s)) return 0;
  if (s->max_vus > s->pre_allocated_vus)
    snprintf(fact, cap, "maxVUs: %" PRIu64 "-%" PRIu64, s->pre_allocated_vus, s->max_vus);
  else
    snprintf(fact, cap, "maxVUs: %" PRIu64, s->pre_allocated_vus);
  return 1;
}

int sb_scenario_describe_more(const sb_scenario *s, const char *info, char *out, size_t cap) {
  char d[32];
  if (!is_arrival(s)) return 0;
  double unit_s = (double)(s->time_unit_ms > 0 ? s->time_unit_ms : 1000) / 1000.0;
  if (s->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE) {
    sb_duration_format_ms(s->duration_ms, d, sizeof(d));
    snprintf(out, cap, "%.2f iterations/s for %s%s", (double)s->rate / unit_s, d, info);
    return 1;
  }
  uint64_t top = s->start_rate;
  int64_t total = 0;
  for (size_t i = 0; i < s->nstages; i++) {
    if (s->stages[i].target > top) top = s->stages[i].target;
    total += s->stages[i].duration_ms;
  }
  sb_duration_format_ms(total, d, sizeof(d));
  snprintf(out, cap, "Up to %.2f iterations/s for %s over %zu stages%s", (double)top / unit_s, d,
           s->nstages, info);
  return 1;
}

int sb_options_min_iteration(sb_options *o, json_t *root, sb_err *err) {
  json_t *v = json_object_get(root, "minIterationDuration");
  int64_t ms = 0;
  if (!v || json_is_null(v)) return 0;
  int rc = sb_options_get_duration(v, "options.minIterationDuration", &ms, err);
  if (rc) return rc;
  for (size_t i = 0; i < o->nscenarios; i++) o->scenarios[i].min_iteration_duration_ms = ms;
  return 0;
}
