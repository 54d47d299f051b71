/* sb_scenario -> Speedboat__Scenario (see scenario_pb.h). */
#include "controller/scenario_pb.h"

#include <stdlib.h>

static int stages_to_pb(const sb_scenario *s, Speedboat__Scenario *p) {
  if (!s->nstages) return 0;
  Speedboat__Stage *v = calloc(s->nstages, sizeof(*v));
  Speedboat__Stage **pv = calloc(s->nstages, sizeof(*pv));
  if (!v || !pv) {
    free(v);
    free(pv);
    return SB_ENOMEM;
  }
  for (size_t i = 0; i < s->nstages; i++) {
    speedboat__stage__init(&v[i]);
    v[i].duration_ms = s->stages[i].duration_ms;
    v[i].target = s->stages[i].target;
    pv[i] = &v[i];
  }
  p->stages = pv;
  p->n_stages = s->nstages;
  return 0;
}

static int env_to_pb(const sb_scenario *s, Speedboat__Scenario *p) {
  if (!s->nenv) return 0;
  Speedboat__EnvVar *v = calloc(s->nenv, sizeof(*v));
  Speedboat__EnvVar **pv = calloc(s->nenv, sizeof(*pv));
  if (!v || !pv) {
    free(v);
    free(pv);
    return SB_ENOMEM;
  }
  for (size_t i = 0; i < s->nenv; i++) {
    speedboat__env_var__init(&v[i]);
    v[i].key = s->env[2 * i];
    v[i].value = s->env[2 * i + 1];
    pv[i] = &v[i];
  }
  p->env = pv;
  p->n_env = s->nenv;
  return 0;
}

static int tags_to_pb(const sb_scenario *s, Speedboat__Scenario *p) {
  if (!s->ntags) return 0;
  Speedboat__Scenario__TagsEntry *v = calloc(s->ntags, sizeof(*v));
  Speedboat__Scenario__TagsEntry **pv = calloc(s->ntags, sizeof(*pv));
  if (!v || !pv) {
    free(v);
    free(pv);
    return SB_ENOMEM;
  }
  for (size_t i = 0; i < s->ntags; i++) {
    speedboat__scenario__tags_entry__init(&v[i]);
    v[i].key = s->tags[2 * i];
    v[i].value = s->tags[2 * i + 1];
    pv[i] = &v[i];
  }
  p->tags = pv;
  p->n_tags = s->ntags;
  return 0;
}

int sb_scenario_to_pb(const sb_scenario *s, uint64_t vu_offset, Speedboat__Scenario *p) {
  speedboat__scenario__init(p);
  p->name = s->name;
  p->executor = (Speedboat__Executor)s->executor;
  p->exec = s->exec;
  p->vus = s->vus;
  p->iterations = s->iterations;
  p->duration_ms = s->duration_ms;
  p->max_duration_ms = s->max_duration_ms;
  p->start_time_ms = s->start_time_ms;
  p->graceful_stop_ms = s->graceful_stop_ms;
  p->start_vus = s->start_vus;
  p->graceful_ramp_down_ms = s->graceful_ramp_down_ms;
  p->vu_offset = vu_offset;
  p->rate = s->rate;
  p->time_unit_ms = s->time_unit_ms;
  p->pre_allocated_vus = s->pre_allocated_vus;
  p->max_vus = s->max_vus;
  p->start_rate = s->start_rate;
  p->stripe_period = s->stripe.period;
  p->stripe_mult = s->stripe.mult;
  p->stripe_from = s->stripe.from;
  p->stripe_to = s->stripe.to;
  p->min_iteration_duration_ms = s->min_iteration_duration_ms;
  if (stages_to_pb(s, p) || env_to_pb(s, p) || tags_to_pb(s, p)) {
    sb_scenario_pb_release(p);
    return SB_ENOMEM;
  }
  return 0;
}

void sb_scenario_pb_release(Speedboat__Scenario *p) {
  if (p->n_stages) free(p->stages[0]);
  if (p->n_env) free(p->env[0]);
  if (p->n_tags) free(p->tags[0]);
  free(p->stages);
  free(p->env);
  free(p->tags);
  p->stages = NULL;
  p->env = NULL;
  p->tags = NULL;
  p->n_stages = p->n_env = p->n_tags = 0;
}
