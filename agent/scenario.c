/* The agent's scenario type (see scenario.h) and the table of executors. */
#include "agent/scenario.h"

#include <stdlib.h>
#include <string.h>

#include "agent/executor.h"

/* The executor of |kind|, or NULL. The one place that lists them. */
static const sb_exec *executor_of(sb_scen_kind kind) {
  switch (kind) {
  case SB_SCEN_SHARED_ITERATIONS: return &sb_exec_shared_iterations;
  case SB_SCEN_PER_VU_ITERATIONS: return &sb_exec_per_vu_iterations;
  case SB_SCEN_CONSTANT_VUS: return &sb_exec_constant_vus;
  case SB_SCEN_RAMPING_VUS: return &sb_exec_ramping_vus;
  case SB_SCEN_CONSTANT_ARRIVAL_RATE: return &sb_exec_constant_arrival_rate;
  case SB_SCEN_RAMPING_ARRIVAL_RATE: return &sb_exec_ramping_arrival_rate;
  }
  return NULL;
}

static int default_name(char **s) {
  if (*s && **s) return 0;
  free(*s);
  *s = strdup("default");
  return *s ? 0 : SB_ENOMEM;
}

int sb_scenario_cfg_resolve(sb_scenario_cfg *c, sb_err *err) {
  if (default_name(&c->name) || default_name(&c->exec))
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  c->ex = executor_of(c->kind);
  if (!c->ex)
    return sb_err_set(err, SB_EFORMAT, "scenario '%s': unknown executor %d", c->name, (int)c->kind);
  if (c->iteration_stride == 0) c->iteration_stride = 1;
  if (c->time_unit_us <= 0) c->time_unit_us = 1000000;
  return 0;
}

static void free_pairs(char **kv, size_t n) {
  for (size_t i = 0; kv && i < 2 * n; i++) free(kv[i]);
  free(kv);
}

void sb_scenario_cfg_clear(sb_scenario_cfg *c) {
  free(c->name);
  free(c->exec);
  free(c->stages);
  free_pairs(c->env, c->nenv);
  free_pairs(c->tags, c->ntags);
  memset(c, 0, sizeof(*c));
}

uint64_t sb_scenario_cfg_max_vus(const sb_scenario_cfg *c) { return c->ex->max_vus(c); }

int64_t sb_scenario_cfg_end_us(const sb_scenario_cfg *c) { return c->ex->end_us(c); }

int64_t sb_scenario_cfg_last_us(const sb_scenario_cfg *c) {
  return c->start_time_us + c->ex->end_us(c) + c->graceful_stop_us;
}

double sb_exec_time_progress(const sb_exec_run *r, int64_t now_us) {
  int64_t end = r->sc->ex->end_us(r->sc), t = now_us - r->start_us;
  double p = end > 0 ? (double)t / (double)end : 1.0;
  return p < 0 ? 0.0 : p > 1 ? 1.0 : p;
}
