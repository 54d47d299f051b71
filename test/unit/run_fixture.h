/* A run state built by hand for the views' unit tests (run_state, progress, api): options from
 * JSON, a metric set with known samples, agents as the fleet would have filled them. */
#ifndef SB_TEST_RUN_FIXTURE_H
#define SB_TEST_RUN_FIXTURE_H

#include <string.h>

#include "controller/run_state.h"

typedef struct fixture {
  sb_options *o;
  sb_metrics *m;
  sb_run_state st;
  sb_rs_agent agents[3];
  uint64_t scen_vus[3][4];
} fixture;

/* Options |json|, |nagents| running agents (named a1.. or "local"), the test started 5 s before
 * monotonic time 100 s. */
static void fixture_init(fixture *f, const char *json, size_t nagents) {
  sb_err err = {{0}};
  memset(f, 0, sizeof(*f));
  if (sb_options_parse(&f->o, json, NULL, &err)) fail_msg("options: %s", err.msg);
  assert_int_equal(sb_metrics_new(&f->m), 0);
  if (sb_run_state_init(&f->st, f->o, nagents, &err)) fail_msg("state: %s", err.msg);
  f->st.metrics = f->m;
  f->st.script = "script.js";
  f->st.phase = SB_PHASE_RUNNING;
  f->st.start_mono_us = 95000000;
  for (size_t i = 0; i < nagents; i++) {
    sb_rs_agent *a = &f->agents[i];
    snprintf(a->name, sizeof(a->name), nagents == 1 ? "local" : "a%zu:6566", i + 1);
    a->state = SB_AGENT_RUNNING;
    a->scen_vus = f->scen_vus[i];
    f->st.agents[i] = a;
  }
}

static void fixture_clear(fixture *f) {
  sb_run_state_clear(&f->st);
  sb_metrics_free(f->m);
  sb_options_free(f->o);
}

/* Adds |v| to |metric| tagged scenario=|scen| (and group=|group| when not NULL). */
static void fixture_add(fixture *f, int metric, const char *scen, const char *group, double v) {
  const char *kv[] = {"scenario", scen, "group", group};
  const sb_tagset *t = sb_metrics_tags(f->m, kv, group ? 2 : 1);
  assert_non_null(t);
  assert_int_equal(sb_metrics_add(f->m, metric, t, v), 0);
}

#define T_NOW 100000000 /* monotonic "now" of the fixture: 5 s into the test */

#endif
