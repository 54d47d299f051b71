/* k6/execution: what the running test knows about itself (agent/js_modules.h).
 *
 * The module object has four accessors, instance, scenario, test and vu; each access builds a
 * fresh object whose fields are accessors too, so a field is read at the moment the script reads
 * it (k6 does the same). The numbers come from the VU's current iteration (sb_vu_iter, filled by
 * the engine) and from the engine's hooks (sb_vu_exec_ops): nothing here keeps state of its own
 * except the parsed test.options, cached in the global stash.
 *
 * exec.vu.tags is a Proxy over the VU's own tags (sb_vu_tag_set): what the script sets there is
 * added to the VU's samples until it deletes it, across iterations, as k6's VU state tags are.
 *
 * Where k6 refuses (its js/modules/k6/execution), we refuse with its words:
 *   exec.vu        in the init context: "getting VU information in the init context is not
 *                  supported"
 *   exec.instance  in the init context: "getting instance information in the init context is
 *                  not supported"
 *   exec.scenario  outside an iteration (init, setup, teardown): "getting scenario information
 *                  outside of the VU context is not supported"
 * exec.test works everywhere; test.abort() in the init context fails the init code (the
 * controller reports a script error, not k6's 108). */
#include <stdio.h>
#include <string.h>

#include "agent/js_modules.h"
#include "agent/vu.h"
#include "common/clock.h"

#define K_OPTIONS DUK_HIDDEN_SYMBOL("sbExecOptions")

enum field {
  VU_ID_LOCAL, VU_ID_TEST, VU_ITER_INSTANCE, VU_ITER_SCENARIO,
  SC_NAME, SC_EXECUTOR, SC_START, SC_PROGRESS, SC_ITER_INSTANCE, SC_ITER_TEST,
  IN_INTERRUPTED, IN_COMPLETED, IN_ACTIVE, IN_INITIALIZED, IN_DURATION,
};

typedef struct field_def {
  const char *name;
  int magic;
} field_def;

static const field_def VU_FIELDS[] = {
    {"idInInstance", VU_ID_LOCAL}, {"idInTest", VU_ID_TEST},
    {"iterationInInstance", VU_ITER_INSTANCE}, {"iterationInScenario", VU_ITER_SCENARIO},
};
static const field_def SCENARIO_FIELDS[] = {
    {"name", SC_NAME}, {"executor", SC_EXECUTOR}, {"startTime", SC_START},
    {"progress", SC_PROGRESS}, {"iterationInInstance", SC_ITER_INSTANCE},
    {"iterationInTest", SC_ITER_TEST},
};
static const field_def INSTANCE_FIELDS[] = {
    {"iterationsInterrupted", IN_INTERRUPTED}, {"iterationsCompleted", IN_COMPLETED},
    {"vusActive", IN_ACTIVE}, {"vusInitialized", IN_INITIALIZED},
    {"currentTestRunDuration", IN_DURATION},
};

static const char NO_VU[] = "getting VU information in the init context is not supported";
static const char NO_INSTANCE[] =
    "getting instance information in the init context is not supported";
static const char NO_SCENARIO[] =
    "getting scenario information outside of the VU context is not supported";

/* The VU of |ctx|, or a throw with |msg| when the heap runs init code (or is no VU's). */
static sb_vu *require_vu(duk_context *ctx, const char *msg) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (!vu || !sb_vu_busy(vu)) (void)duk_error(ctx, DUK_ERR_ERROR, "%s", msg);
  return vu;
}

static const sb_vu_iter *require_iter(duk_context *ctx, sb_vu *vu) {
  const sb_vu_iter *it = sb_vu_current_iter(vu);
  if (!it || !it->scenario) (void)duk_error(ctx, DUK_ERR_ERROR, "%s", NO_SCENARIO);
  return it;
}

static int instance_field(duk_context *ctx, sb_vu *vu, int f) {
  const sb_vu_env *env = sb_vu_get_env(vu);
  sb_vu_instance_info in;
  memset(&in, 0, sizeof(in));
  if (env->exec && env->exec->instance) env->exec->instance(env->exec_ud, &in);
  double v = f == IN_INTERRUPTED ? (double)in.iterations_interrupted
             : f == IN_COMPLETED ? (double)in.iterations_completed
             : f == IN_ACTIVE    ? (double)in.vus_active
             : f == IN_INITIALIZED ? (double)in.vus_initialized
                                   : in.run_ms;
  duk_push_number(ctx, v);
  return 1;
}

static int scenario_field(duk_context *ctx, sb_vu *vu, int f) {
  const sb_vu_iter *it = require_iter(ctx, vu);
  const sb_vu_env *env = sb_vu_get_env(vu);
  switch (f) {
  case SC_NAME: duk_push_string(ctx, it->scenario); break;
  case SC_EXECUTOR: duk_push_string(ctx, it->executor ? it->executor : ""); break;
  case SC_START: duk_push_number(ctx, (double)it->scen_start_unix_ms); break;
  case SC_PROGRESS:
    duk_push_number(ctx, env->exec && env->exec->progress
                             ? env->exec->progress(env->exec_ud, it->scen) : 0.0);
    break;
  case SC_ITER_INSTANCE: duk_push_number(ctx, (double)it->scen_iter_instance); break;
  default: duk_push_number(ctx, (double)it->scen_iter_test); break;
  }
  return 1;
}

/* The getter of every numeric or string field; its magic says which (enum field). */
static duk_ret_t field_get(duk_context *ctx) {
  int f = duk_get_current_magic(ctx);
  if (f >= IN_INTERRUPTED) return instance_field(ctx, require_vu(ctx, NO_INSTANCE), f);
  if (f >= SC_NAME) return scenario_field(ctx, require_vu(ctx, NO_SCENARIO), f);
  sb_vu *vu = require_vu(ctx, NO_VU);
  const sb_vu_iter *it = sb_vu_current_iter(vu); /* NULL in setup() and teardown() */
  uint64_t n = sb_vu_iterations(vu);
  switch (f) {
  case VU_ID_LOCAL: duk_push_number(ctx, it ? (double)it->id_in_instance : 0.0); break;
  case VU_ID_TEST: duk_push_number(ctx, (double)sb_vu_id(vu)); break;
  case VU_ITER_INSTANCE: duk_push_number(ctx, it && n ? (double)(n - 1) : 0.0); break;
  default: duk_push_number(ctx, it ? (double)it->iteration : 0.0); break;
  }
  return 1;
}

/* [ ... obj ] -> [ ... obj ]: defines the getter |fn| (with |magic|) as enumerable |name|. */
static void def_getter(duk_context *ctx, const char *name, duk_c_function fn, int magic) {
  duk_push_string(ctx, name);
  duk_push_c_function(ctx, fn, 0);
  duk_set_magic(ctx, -1, magic);
  duk_def_prop(ctx, -3, DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_SET_ENUMERABLE |
                            DUK_DEFPROP_CLEAR_CONFIGURABLE);
}

/* [ ... ] -> [ ... obj ]: an object whose fields are the getters of |defs|. */
static void push_fields(duk_context *ctx, const field_def *defs, size_t n) {
  duk_push_object(ctx);
  for (size_t i = 0; i < n; i++) def_getter(ctx, defs[i].name, field_get, defs[i].magic);
}

/* --- exec.vu.tags: a Proxy over the VU's tags ------------------------------------------------ */

/* The value of tag |key| as the VU's samples see it: its own tags first, then the built-ins. */
static const char *tag_get(sb_vu *vu, const char *key) {
  const char *const *kv;
  size_t n = sb_vu_tag_pairs(vu, &kv);
  for (size_t i = 0; i < n; i++)
    if (strcmp(kv[2 * i], key) == 0) return kv[2 * i + 1];
  if (strcmp(key, "group") == 0) return sb_vu_group(vu);
  const sb_vu_iter *it = sb_vu_current_iter(vu);
  if (strcmp(key, "scenario") == 0 && it && it->scenario) return it->scenario;
  return NULL;
}

static duk_ret_t tags_keys(duk_context *ctx);

/* tags.toJSON(): a plain object of the tags (Duktape's JSON does not consult a Proxy's traps). */
static duk_ret_t tags_to_json(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  duk_push_object(ctx);
  if (!vu) return 1;
  tags_keys(ctx); /* -> [ obj keys ] (no arguments: index 0 is |obj|, harmlessly marked) */
  duk_size_t n = duk_get_length(ctx, -1);
  for (duk_size_t i = 0; i < n; i++) {
    duk_get_prop_index(ctx, -1, (duk_uarridx_t)i);
    const char *k = duk_get_string(ctx, -1);
    duk_push_string(ctx, tag_get(vu, k));
    duk_put_prop_string(ctx, -4, k);
    duk_pop(ctx);
  }
  duk_pop(ctx);
  return 1;
}

/* get(target, key): the tag's value, undefined when absent (symbols included). */
static duk_ret_t tags_get(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (duk_is_string(ctx, 1) && strcmp(duk_get_string(ctx, 1), "toJSON") == 0 &&
      !(vu && tag_get(vu, "toJSON"))) {
    duk_push_c_function(ctx, tags_to_json, 0);
    return 1;
  }
  const char *v = vu && duk_is_string(ctx, 1) ? tag_get(vu, duk_get_string(ctx, 1)) : NULL;
  if (!v) return 0;
  duk_push_string(ctx, v);
  return 1;
}

static duk_ret_t tags_has(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  duk_push_boolean(ctx, vu && duk_is_string(ctx, 1) && tag_get(vu, duk_get_string(ctx, 1)));
  return 1;
}

/* set(target, key, value): strings, numbers and booleans become the string k6 would make;
 * anything else is k6's TypeError. */
static duk_ret_t tags_set(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  const char *key = duk_require_string(ctx, 1);
  if (!duk_is_string(ctx, 2) && !duk_is_number(ctx, 2) && !duk_is_boolean(ctx, 2))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR,
                     "invalid value for the tag '%s': only String, Boolean and Number types are "
                     "accepted as a Tag value", key);
  const char *val = duk_to_string(ctx, 2);
  int rc = vu ? sb_vu_tag_set(vu, key, val) : 0;
  if (rc == SB_EINVAL)
    return duk_error(ctx, DUK_ERR_RANGE_ERROR, "exec.vu.tags: at most %d tags per VU",
                     SB_VU_MAX_TAGS);
  if (rc) return duk_error(ctx, DUK_ERR_ERROR, "exec.vu.tags: out of memory");
  duk_push_true(ctx);
  return 1;
}

static duk_ret_t tags_delete(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (vu && duk_is_string(ctx, 1)) sb_vu_tag_del(vu, duk_get_string(ctx, 1));
  duk_push_true(ctx);
  return 1;
}

/* [ target ... keys key ] -> [ target ... keys ]: appends the key; Duktape's Object.keys() and
 * for-in keep only the trap's keys that the target has as enumerable properties, so the target
 * gets a placeholder of each (enumeration reads values through the get trap). */
static void push_key(duk_context *ctx, duk_uarridx_t *n) {
  if (duk_is_object(ctx, 0)) {
    duk_dup_top(ctx);
    duk_push_true(ctx);
    duk_def_prop(ctx, 0, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE |
                             DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_SET_CONFIGURABLE);
  }
  duk_put_prop_index(ctx, -2, (*n)++);
}

/* ownKeys(target): the built-in tags the VU has, then its own. */
static duk_ret_t tags_keys(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  duk_push_array(ctx);
  if (!vu) return 1;
  static const char *const builtin[] = {"group", "scenario"};
  duk_uarridx_t n = 0;
  const char *const *kv;
  size_t own = sb_vu_tag_pairs(vu, &kv);
  for (size_t i = 0; i < 2; i++) {
    size_t k = 0;
    while (k < own && strcmp(kv[2 * k], builtin[i]) != 0) k++;
    if (k == own && tag_get(vu, builtin[i])) {
      duk_push_string(ctx, builtin[i]);
      push_key(ctx, &n);
    }
  }
  for (size_t i = 0; i < own; i++) {
    duk_push_string(ctx, kv[2 * i]);
    push_key(ctx, &n);
  }
  return 1;
}

/* getOwnPropertyDescriptor(target, key): lets Object.keys and JSON.stringify see the tags. */
static duk_ret_t tags_desc(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  const char *v = vu && duk_is_string(ctx, 1) ? tag_get(vu, duk_get_string(ctx, 1)) : NULL;
  if (!v) return 0;
  duk_push_object(ctx);
  duk_push_string(ctx, v);
  duk_put_prop_string(ctx, -2, "value");
  duk_push_true(ctx);
  duk_put_prop_string(ctx, -2, "writable");
  duk_push_true(ctx);
  duk_put_prop_string(ctx, -2, "enumerable");
  duk_push_true(ctx);
  duk_put_prop_string(ctx, -2, "configurable");
  return 1;
}

/* [ ... ] -> [ ... proxy ] */
static void push_tags(duk_context *ctx) {
  static const struct {
    const char *trap;
    duk_c_function fn;
    duk_idx_t nargs;
  } traps[] = {{"get", tags_get, 3}, {"has", tags_has, 2}, {"set", tags_set, 4},
               {"deleteProperty", tags_delete, 2}, {"ownKeys", tags_keys, 1},
               {"getOwnPropertyDescriptor", tags_desc, 2}};
  duk_push_object(ctx); /* target */
  duk_push_object(ctx); /* handler */
  for (size_t i = 0; i < sizeof(traps) / sizeof(traps[0]); i++) {
    duk_push_c_function(ctx, traps[i].fn, traps[i].nargs);
    duk_put_prop_string(ctx, -2, traps[i].trap);
  }
  duk_push_proxy(ctx, 0); /* [ ... target handler ] -> [ ... proxy ] */
}

/* --- exec.test ------------------------------------------------------------------------------ */

/* test.abort([reason]): asks the engine to stop the whole run, then unwinds this VU with an
 * uncatchable interruption (its iteration is not counted). In the init context it throws. */
static duk_ret_t test_abort(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  char reason[512];
  if (duk_is_undefined(ctx, 0))
    snprintf(reason, sizeof(reason), "test aborted");
  else
    snprintf(reason, sizeof(reason), "test aborted: %s", duk_safe_to_string(ctx, 0));
  if (vu) {
    const sb_vu_env *env = sb_vu_get_env(vu);
    if (env->exec && env->exec->abort) env->exec->abort(env->exec_ud, reason);
    sb_vu_interrupt(vu); /* from inside the VU: the flag makes what follows uncatchable */
  }
  return duk_error(ctx, DUK_ERR_ERROR, "%s", reason);
}

/* duk_safe_call body: [ json ] -> [ frozen ] */
static duk_ret_t parse_safe(duk_context *ctx, void *udata) {
  duk_json_decode(ctx, -1);
  return 1;
}

/* Freezes the object at |idx| and everything under it (k6's options are read-only). */
static void deep_freeze(duk_context *ctx, duk_idx_t idx, int depth) {
  idx = duk_normalize_index(ctx, idx);
  if (!duk_is_object(ctx, idx) || depth > 32) return;
  duk_enum(ctx, idx, DUK_ENUM_OWN_PROPERTIES_ONLY);
  while (duk_next(ctx, -1, 1)) {
    deep_freeze(ctx, -1, depth + 1);
    duk_pop_2(ctx);
  }
  duk_pop(ctx);
  duk_freeze(ctx, idx);
}

/* test.options: the test's options (Prepare.options_json), parsed once per VU and frozen. */
static duk_ret_t test_options(duk_context *ctx) {
  duk_push_global_stash(ctx);
  if (duk_get_prop_string(ctx, -1, K_OPTIONS)) return 1;
  duk_pop(ctx);
  sb_vu *vu = sb_vu_from_ctx(ctx);
  const sb_vu_env *env = vu ? sb_vu_get_env(vu) : NULL;
  const char *json = env && env->exec && env->exec->options_json
                         ? env->exec->options_json(env->exec_ud) : NULL;
  duk_push_string(ctx, json && *json ? json : "{}");
  if (duk_safe_call(ctx, parse_safe, NULL, 1, 1) != DUK_EXEC_SUCCESS || !duk_is_object(ctx, -1)) {
    duk_pop(ctx);
    duk_push_object(ctx);
  }
  deep_freeze(ctx, -1, 0);
  duk_dup_top(ctx);
  duk_put_prop_string(ctx, -3, K_OPTIONS); /* [ stash opts ] */
  return 1;
}

/* --- the module -------------------------------------------------------------------------- */

enum { PART_INSTANCE, PART_SCENARIO, PART_TEST, PART_VU };

static duk_ret_t part_get(duk_context *ctx) {
  switch (duk_get_current_magic(ctx)) {
  case PART_INSTANCE:
    require_vu(ctx, NO_INSTANCE);
    push_fields(ctx, INSTANCE_FIELDS, sizeof(INSTANCE_FIELDS) / sizeof(INSTANCE_FIELDS[0]));
    break;
  case PART_SCENARIO:
    require_iter(ctx, require_vu(ctx, NO_SCENARIO));
    push_fields(ctx, SCENARIO_FIELDS, sizeof(SCENARIO_FIELDS) / sizeof(SCENARIO_FIELDS[0]));
    break;
  case PART_TEST:
    duk_push_object(ctx);
    duk_push_c_function(ctx, test_abort, 1);
    duk_put_prop_string(ctx, -2, "abort");
    def_getter(ctx, "options", test_options, 0);
    break;
  default:
    require_vu(ctx, NO_VU);
    push_fields(ctx, VU_FIELDS, sizeof(VU_FIELDS) / sizeof(VU_FIELDS[0]));
    push_tags(ctx);                        /* -> [ vu tags ] */
    duk_push_object(ctx);                  /* -> [ vu tags metrics ] */
    duk_dup(ctx, -2);
    duk_put_prop_string(ctx, -2, "tags");  /* metrics.tags: the same tags (k6) */
    duk_push_object(ctx);
    duk_put_prop_string(ctx, -2, "metadata");
    duk_put_prop_string(ctx, -3, "metrics");
    duk_put_prop_string(ctx, -2, "tags");
    break;
  }
  return 1;
}

void sb_js_execution_push(duk_context *ctx) {
  duk_push_object(ctx);
  def_getter(ctx, "instance", part_get, PART_INSTANCE);
  def_getter(ctx, "scenario", part_get, PART_SCENARIO);
  def_getter(ctx, "test", part_get, PART_TEST);
  def_getter(ctx, "vu", part_get, PART_VU);
}
