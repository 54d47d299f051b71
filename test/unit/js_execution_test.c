/* agent/js_execution.c (k6/execution) over real VUs, with the engine's hooks stubbed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "agent/vu.h"
#include "common/archive.h"

static const char META[] = "{\"filename\":\"file:///t/main.js\"}";

static const char MAIN_JS[] =
    "var exec = require('k6/execution');\n"
    "var http = require('k6/http');\n"
    "function err(f) { try { f(); return 'no error'; } catch (e) { return e.message; } }\n"
    "initVu = err(function () { return exec.vu; });\n"
    "initScen = err(function () { return exec.scenario.name; });\n"
    "initInst = err(function () { return exec.instance.vusActive; });\n"
    "initOpts = typeof exec.test.options;\n"
    "exports.fields = function () { var v = exec.vu, s = exec.scenario, i = exec.instance;\n"
    "  got = [v.idInInstance, v.idInTest, v.iterationInInstance, v.iterationInScenario,\n"
    "    s.name, s.executor, s.startTime, s.progress, s.iterationInInstance, s.iterationInTest,\n"
    "    i.iterationsInterrupted, i.iterationsCompleted, i.vusActive, i.vusInitialized,\n"
    "    i.currentTestRunDuration].join(','); };\n"
    "exports.tags = function () { var t = exec.vu.tags; t.mine = 'x'; t.num = 2; t.b = true;\n"
    "  tagJson = JSON.stringify(t); tagScen = t.scenario; same = exec.vu.metrics.tags.mine;\n"
    "  hasMine = 'mine' in t; delete t.b; keys = Object.keys(t).join(',');\n"
    "  badTag = err(function () { t.arr = [1]; }); };\n"
    "exports.untag = function () { delete exec.vu.tags.mine; delete exec.vu.tags.num; };\n"
    "exports.abort = function () { try { exec.test.abort('enough'); } catch (e) { swallowed = 1; }\n"
    "  for (;;) { after = 1; } };\n"
    "exports.options = function () { var o = exec.test.options;\n"
    "  opt = o.vus + ':' + Object.isFrozen(o) + ':' + Object.isFrozen(o.nested) + ':' +\n"
    "    (o === exec.test.options); };\n"
    "exports.setup = function () { return { id: exec.vu.idInTest,\n"
    "  scen: err(function () { return exec.scenario.name; }), n: exec.instance.vusInitialized }; };\n";

typedef struct fixture {
  struct event_base *base;
  sb_metrics *m;
  sb_program *prog;
  sb_vu_env env;
  int done;
  sb_vu_result result;
  char abort_reason[256];
  int aborts;
  const char *options;
} fixture;

static fixture F;

static void x_instance(void *ud, sb_vu_instance_info *out) {
  out->iterations_interrupted = 1;
  out->iterations_completed = 41;
  out->vus_active = 3;
  out->vus_initialized = 5;
  out->run_ms = 1500.5;
}
static double x_progress(void *ud, const void *scen) { return scen == &F ? 0.25 : -1; }
static void x_abort(void *ud, const char *reason) {
  F.aborts++;
  snprintf(F.abort_reason, sizeof(F.abort_reason), "%s", reason);
}
static const char *x_options(void *ud) { return F.options; }
static const sb_vu_exec_ops OPS = {x_instance, x_progress, x_abort, x_options};

static void on_log(const char *level, const char *source, const char *text, size_t len,
                   void *ud) {}

static sb_program *program(const char *src) {
  sb_archive *a;
  sb_program *p;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", src, strlen(src)), 0);
  int rc = sb_program_new(&p, a, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  sb_archive_free(a);
  return p;
}

static int setup(void **state) {
  memset(&F, 0, sizeof(F));
  F.prog = program(MAIN_JS);
  F.base = event_base_new();
  assert_int_equal(sb_metrics_new(&F.m), 0);
  F.env = (sb_vu_env){.base = F.base, .metrics = F.m, .prog = F.prog, .log = on_log,
                      .exec = &OPS, .exec_ud = &F};
  return 0;
}

static int teardown(void **state) {
  sb_metrics_free(F.m);
  event_base_free(F.base);
  sb_program_free(F.prog);
  return 0;
}

static void on_iter(sb_vu *vu, sb_vu_result r, void *ud) {
  F.done++;
  F.result = r;
  event_base_loopbreak(F.base);
}

static sb_vu_result run_it(sb_vu *vu, const sb_vu_iter *it) {
  sb_err err = {{0}};
  int before = F.done;
  assert_int_equal(sb_vu_start_iteration(vu, it, on_iter, &F, &err), 0);
  while (F.done == before) event_base_loop(F.base, EVLOOP_ONCE);
  return F.result;
}

static sb_vu_result iterate(sb_vu *vu, const char *exec) {
  sb_vu_iter it = {.exec = exec, .scenario = "sc", .executor = "shared-iterations"};
  return run_it(vu, &it);
}

static const char *global_str(sb_vu *vu, const char *name, char *buf, size_t cap) {
  duk_context *ctx = sb_vu_ctx(vu);
  duk_get_global_string(ctx, name);
  snprintf(buf, cap, "%s", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return buf;
}

static sb_vu *new_vu(uint64_t id) {
  sb_vu *vu = NULL;
  sb_err err = {{0}};
  int rc = sb_vu_new(&vu, &F.env, id, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  return vu;
}

static void test_init_context_throws_as_k6(void **state) {
  sb_vu *vu = new_vu(7);
  char b[256];
  assert_string_equal(global_str(vu, "initVu", b, sizeof(b)),
                      "getting VU information in the init context is not supported");
  assert_string_equal(global_str(vu, "initScen", b, sizeof(b)),
                      "getting scenario information outside of the VU context is not supported");
  assert_string_equal(global_str(vu, "initInst", b, sizeof(b)),
                      "getting instance information in the init context is not supported");
  assert_string_equal(global_str(vu, "initOpts", b, sizeof(b)), "object");
  sb_vu_free(vu);
}

static void test_fields_of_the_iteration(void **state) {
  sb_vu *vu = new_vu(12);
  char b[512];
  sb_vu_iter it = {.exec = "fields", .scenario = "sc", .iteration = 4, .executor = "per-vu-iterations",
                   .id_in_instance = 2, .scen_iter_instance = 9, .scen_iter_test = 109,
                   .scen_start_unix_ms = 1700000000123, .scen = &F};
  assert_int_equal(run_it(vu, &it), SB_VU_OK);
  assert_string_equal(global_str(vu, "got", b, sizeof(b)),
                      "2,12,0,4,sc,per-vu-iterations,1700000000123,0.25,9,109,1,41,3,5,1500.5");
  it.iteration = 5;
  assert_int_equal(run_it(vu, &it), SB_VU_OK); /* iterationInInstance counts the VU's iterations */
  assert_non_null(strstr(global_str(vu, "got", b, sizeof(b)), "2,12,1,5,"));
  sb_vu_free(vu);
}

static void test_tags_reach_samples_and_persist(void **state) {
  sb_vu *vu = new_vu(1);
  char b[512];
  assert_int_equal(iterate(vu, "tags"), SB_VU_OK);
  assert_string_equal(global_str(vu, "tagJson", b, sizeof(b)),
                      "{\"group\":\"\",\"scenario\":\"sc\",\"mine\":\"x\",\"num\":\"2\",\"b\":\"true\"}");
  assert_string_equal(global_str(vu, "tagScen", b, sizeof(b)), "sc");
  assert_string_equal(global_str(vu, "same", b, sizeof(b)), "x");
  assert_string_equal(global_str(vu, "hasMine", b, sizeof(b)), "true");
  assert_string_equal(global_str(vu, "keys", b, sizeof(b)), "group,scenario,mine,num");
  assert_non_null(strstr(global_str(vu, "badTag", b, sizeof(b)),
                         "only String, Boolean and Number types are accepted"));
  /* the iteration's own sample carries the tags; so does the next iteration's */
  const char *kv[] = {"group", "", "scenario", "sc", "mine", "x", "num", "2"};
  sb_series *s = sb_metrics_series(F.m, SB_M_ITERATIONS, sb_metrics_tags(F.m, kv, 4));
  assert_non_null(s);
  assert_int_equal((int)s->value, 1);
  assert_int_equal(iterate(vu, "fields"), SB_VU_OK);
  assert_int_equal((int)s->value, 2);
  assert_int_equal(iterate(vu, "untag"), SB_VU_OK); /* untagged from its end on */
  const char *plain[] = {"group", "", "scenario", "sc"};
  s = sb_metrics_series(F.m, SB_M_ITERATIONS, sb_metrics_tags(F.m, plain, 2));
  assert_int_equal((int)s->value, 1);
  const char *const *own;
  assert_int_equal(sb_vu_tag_pairs(vu, &own), 0);
  sb_vu_free(vu);
}

static void test_tag_limit(void **state) {
  sb_vu *vu = new_vu(1);
  char k[16];
  for (int i = 0; i < SB_VU_MAX_TAGS; i++) {
    snprintf(k, sizeof(k), "t%d", i);
    assert_int_equal(sb_vu_tag_set(vu, k, "v"), 0);
  }
  assert_int_equal(sb_vu_tag_set(vu, "one-more", "v"), SB_EINVAL);
  assert_int_equal(sb_vu_tag_set(vu, "t3", "w"), 0); /* replacing is fine */
  sb_vu_tag_del(vu, "t0");
  assert_int_equal(sb_vu_tag_set(vu, "one-more", "v"), 0);
  sb_vu_free(vu);
}

static void test_abort_interrupts_and_reports(void **state) {
  sb_vu *vu = new_vu(1);
  char b[64];
  assert_int_equal(iterate(vu, "abort"), SB_VU_INTERRUPTED); /* neither catch nor loop holds it */
  assert_int_equal(F.aborts, 1);
  assert_string_equal(F.abort_reason, "test aborted: enough");
  assert_string_equal(global_str(vu, "swallowed", b, sizeof(b)), "1"); /* catch ran, loop ended */
  assert_int_equal(iterate(vu, "fields"), SB_VU_OK); /* the VU is usable again */
  sb_vu_free(vu);
}

static void test_abort_in_init_fails_init(void **state) {
  sb_program *p = program("require('k6/execution').test.abort();\n");
  sb_vu_env env = F.env;
  env.prog = p;
  sb_vu *vu = NULL;
  sb_err err = {{0}};
  assert_int_equal(sb_vu_new(&vu, &env, 1, &err), SB_ESCRIPT);
  assert_non_null(strstr(err.msg, "test aborted"));
  assert_int_equal(F.aborts, 1);
  sb_program_free(p);
}

static void test_options_frozen_and_cached(void **state) {
  F.options = "{\"vus\":3,\"nested\":{\"a\":1}}";
  sb_vu *vu = new_vu(1);
  char b[64];
  assert_int_equal(iterate(vu, "options"), SB_VU_OK);
  assert_string_equal(global_str(vu, "opt", b, sizeof(b)), "3:true:true:true");
  sb_vu_free(vu);
}

static void on_call(sb_vu *vu, sb_vu_result r, const char *json, const char *error, void *ud) {
  snprintf(ud, 256, "%d %s", (int)r, json ? json : error ? error : "");
  event_base_loopbreak(F.base);
}

static void test_setup_has_vu_but_no_scenario(void **state) {
  sb_vu *vu = new_vu(0);
  char out[256] = "";
  sb_err err = {{0}};
  assert_int_equal(sb_vu_call(vu, "setup", NULL, on_call, out, &err), 0);
  while (!out[0]) event_base_loop(F.base, EVLOOP_ONCE);
  assert_string_equal(out, "0 {\"id\":0,\"scen\":\"getting scenario information outside of the VU "
                           "context is not supported\",\"n\":5}");
  sb_vu_free(vu);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_context_throws_as_k6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fields_of_the_iteration, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tags_reach_samples_and_persist, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tag_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_interrupts_and_reports, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_in_init_fails_init, setup, teardown),
      cmocka_unit_test_setup_teardown(test_options_frozen_and_cached, setup, teardown),
      cmocka_unit_test_setup_teardown(test_setup_has_vu_but_no_scenario, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
