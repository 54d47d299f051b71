/* The "k6" module: sleep, check, group, fail, randomSeed.
 *
 * sleep() suspends the VU's coroutine on the VU's own timer; check() records one `checks` rate
 * sample per condition tagged {check, group, scenario} plus the caller's tags; group() keeps the
 * VU's group path ("::a::b") for the samples recorded inside and records `group_duration`. */
#include <string.h>
#include <time.h>

#include "common/duk_ext.h"
#include "agent/http_config.h"
#include "agent/vu.h"
#include "common/duk_udata.h"

#define CHECK_MAX_TAGS 32

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* sleep(seconds) */
static duk_ret_t k6_sleep(duk_context *ctx) {
  double s = duk_to_number(ctx, 0);
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (vu && s > 0) sb_vu_sleep(vu, s * 1000.0); /* interrupted: the VU throws for us */
  return 0;
}

/* Interns {group, scenario} (+ {check: |name|} when given) + the user tags object at |tags_idx|
 * (may be undefined). The user's values are coerced to strings on the value stack, popped before
 * returning. */
static const sb_tagset *sample_tags(duk_context *ctx, sb_vu *vu, const char *name,
                                    duk_idx_t tags_idx) {
  const char *kv[2 * (3 + CHECK_MAX_TAGS + SB_VU_MAX_TAGS + SB_HTTP_MAX_TEST_TAGS + 1)];
  size_t n = 0;
  if (name) kv[n++] = "check", kv[n++] = name;
  kv[n++] = "group", kv[n++] = sb_vu_group(vu);
  kv[n++] = "scenario", kv[n++] = sb_vu_scenario(vu);
  n = sb_vu_tags_overlay(vu, kv, n, sizeof(kv) / sizeof(kv[0])); /* exec.vu.tags */
  duk_idx_t top = duk_get_top(ctx);
  if (duk_is_object(ctx, tags_idx)) {
    duk_enum(ctx, tags_idx, DUK_ENUM_OWN_PROPERTIES_ONLY);
    duk_idx_t e = duk_get_top_index(ctx);
    while (n < sizeof(kv) / sizeof(kv[0]) && duk_next(ctx, e, 1)) {
      const char *k = duk_to_string(ctx, -2), *v = duk_to_string(ctx, -1);
      size_t i = 0;
      while (i < n && strcmp(kv[i], k) != 0) i += 2;
      if (i < n) {
        kv[i + 1] = v; /* the user's tag wins over ours, as in k6 */
      } else {
        kv[n++] = k;
        kv[n++] = v;
      }
    }
  }
  const sb_tagset *t = sb_metrics_tags(sb_vu_metrics(vu), kv, n / 2);
  duk_set_top(ctx, top);
  return t;
}

/* check(val, sets, tags): true when every condition passed. A throwing condition throws. */
static duk_ret_t k6_check(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  duk_set_top(ctx, 3);
  int all = 1;
  if (!duk_is_object(ctx, 1)) {
    duk_push_true(ctx);
    return 1;
  }
  /* A plain object (the usual literal) is walked in place; anything else through an enumerator.
   * Both in for-in order, as k6 walks the object's keys. */
  duk_uint_t pos = 0;
  int plain = sb_duk_own_next(ctx, 1, &pos) >= 0;     /* -> [ val sets tags (name cond) ] */
  if (plain) {
    if (duk_get_top(ctx) == 3) return duk_push_true(ctx), 1; /* no conditions */
  } else {
    duk_enum(ctx, 1, DUK_ENUM_OWN_PROPERTIES_ONLY);   /* -> [ val sets tags enum ] */
    if (!duk_next(ctx, 3, 1)) return duk_push_true(ctx), 1;
  }
  do {                                                /* -> [ ... name cond ] */
    if (duk_is_function(ctx, -1)) {
      duk_dup(ctx, 0);
      duk_call(ctx, 1);                               /* -> [ ... name result ] */
    }
    int ok = duk_to_boolean(ctx, -1);
    all &= ok;
    if (vu && sb_vu_metrics(vu)) {
      const sb_tagset *t = sample_tags(ctx, vu, duk_to_string(ctx, -2), 2);
      if (t) sb_metrics_add(sb_vu_metrics(vu), SB_M_CHECKS, t, ok ? 1 : 0);
    }
    duk_pop_2(ctx);
  } while (plain ? sb_duk_own_next(ctx, 1, &pos) == 1 : duk_next(ctx, 3, 1));
  duk_push_boolean(ctx, all);
  return 1;
}

/* group(name, fn): runs fn inside group |name|; returns what fn returns. */
static duk_ret_t k6_group(duk_context *ctx) {
  const char *name = duk_require_string(ctx, 0);
  duk_require_function(ctx, 1);
  if (strstr(name, "::")) (void)duk_error(ctx, DUK_ERR_ERROR, "group and check names may not contain '::'");
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (!vu) {
    duk_dup(ctx, 1);
    duk_call(ctx, 0);
    return 1;
  }
  size_t saved;
  if (sb_vu_group_enter(vu, name, &saved) != 0) (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  double t0 = now_ms();
  duk_dup(ctx, 1);
  if (duk_pcall(ctx, 0) != DUK_EXEC_SUCCESS) {        /* -> [ name fn err ] */
    sb_vu_group_leave(vu, saved);
    (void)duk_throw(ctx);
  }
  const sb_tagset *t = sb_vu_metrics(vu) ? sb_vu_tags(vu) : NULL;
  if (t) sb_metrics_add(sb_vu_metrics(vu), SB_M_GROUP_DURATION, t, now_ms() - t0);
  sb_vu_group_leave(vu, saved);
  return 1;
}

/* fail(msg): throws Error(msg). */
static duk_ret_t k6_fail(duk_context *ctx) {
  const char *msg = duk_is_undefined(ctx, 0) ? "" : duk_safe_to_string(ctx, 0);
  duk_push_error_object(ctx, DUK_ERR_ERROR, "%s", msg);
  return duk_throw(ctx);
}

/* randomSeed(int): Math.random() of this VU repeats the same sequence for the same seed. */
static duk_ret_t k6_random_seed(duk_context *ctx) {
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  if (mf.udata) sb_duk_seed(mf.udata, (uint64_t)(int64_t)duk_to_number(ctx, 0));
  return 0;
}

static const duk_function_list_entry k6_funcs[] = {
    {"sleep", k6_sleep, 1},
    {"check", k6_check, DUK_VARARGS},
    {"group", k6_group, 2},
    {"fail", k6_fail, 1},
    {"randomSeed", k6_random_seed, 1},
    {NULL, NULL, 0},
};

/* --- "k6/metrics": Counter, Gauge, Rate, Trend ------------------------------------------ */

#define K_METRIC_ID DUK_HIDDEN_SYMBOL("metricId")

/* new Counter(name[, isTime]): registers the metric in the worker's set (same name and type on
 * every VU; another type is a TypeError). */
static duk_ret_t metric_ctor(duk_context *ctx) {
  if (!duk_is_constructor_call(ctx)) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "use 'new' to create a metric");
  const char *name = duk_require_string(ctx, 0);
  if (!*name) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "a metric needs a name");
  int is_time = duk_to_boolean(ctx, 1);
  sb_vu *vu = sb_vu_from_ctx(ctx);
  int id = -1;
  if (vu && sb_vu_metrics(vu)) {
    sb_err err;
    err.msg[0] = '\0';
    id = sb_metrics_register(sb_vu_metrics(vu), name, (sb_metric_type)duk_get_current_magic(ctx),
                             is_time ? SB_VALUE_TIME : SB_VALUE_DEFAULT, &err);
    if (id < 0) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s", err.msg[0] ? err.msg : "cannot register metric");
  }
  duk_push_this(ctx);
  duk_push_int(ctx, id);
  duk_put_prop_string(ctx, -2, K_METRIC_ID);
  duk_push_string(ctx, name);
  duk_put_prop_string(ctx, -2, "name");
  return 0;
}

/* metric.add(value[, tags]) */
static duk_ret_t metric_add(duk_context *ctx) {
  duk_set_top(ctx, 2);
  duk_push_this(ctx);
  duk_get_prop_string(ctx, -1, K_METRIC_ID);
  int id = duk_get_int_default(ctx, -1, -1);
  duk_pop_2(ctx);
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (id < 0 || !vu || !sb_vu_metrics(vu)) return 0;
  double v = duk_is_boolean(ctx, 0) ? (double)duk_get_boolean(ctx, 0) : duk_to_number(ctx, 0);
  const sb_tagset *t = sample_tags(ctx, vu, NULL, 1);
  if (t) sb_metrics_add(sb_vu_metrics(vu), id, t, v);
  duk_push_true(ctx);
  return 1;
}

void sb_js_k6_metrics_push(duk_context *ctx) {
  static const struct { const char *name; sb_metric_type type; } kinds[] = {
      {"Counter", SB_METRIC_COUNTER}, {"Gauge", SB_METRIC_GAUGE},
      {"Rate", SB_METRIC_RATE}, {"Trend", SB_METRIC_TREND}};
  duk_push_object(ctx);
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    duk_push_c_function(ctx, metric_ctor, 2);
    duk_set_magic(ctx, -1, (duk_int_t)kinds[i].type);
    duk_push_object(ctx);
    duk_push_c_function(ctx, metric_add, 2);
    duk_put_prop_string(ctx, -2, "add");
    duk_put_prop_string(ctx, -2, "prototype");
    duk_put_prop_string(ctx, -2, kinds[i].name);
  }
}

void sb_js_k6_push(duk_context *ctx) {
  duk_push_object(ctx);
  for (const duk_function_list_entry *f = k6_funcs; f->key; f++)
    sb_duk_put_light(ctx, f->key, f->value, f->nargs, 0);
}
