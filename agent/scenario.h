/* One scenario as the agent runs it: this agent's share of a k6 scenario, decoded once from the
 * protocol's Prepare message at the session edge (agent/session.c) and read-only afterwards.
 * Protobuf types stop at the session; the engine and the executors see only this.
 *
 * Times are microseconds. Which fields matter depends on the executor (agent/executor.h says
 * what each reads); the others are zero. */
#ifndef SB_SCENARIO_H
#define SB_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/stripe.h"

struct sb_exec;

/* k6's executors, numbered as the protocol's Executor enum. */
typedef enum sb_scen_kind {
  SB_SCEN_SHARED_ITERATIONS = 1,
  SB_SCEN_PER_VU_ITERATIONS = 2,
  SB_SCEN_CONSTANT_VUS = 3,
  SB_SCEN_RAMPING_VUS = 4,
  SB_SCEN_CONSTANT_ARRIVAL_RATE = 5,
  SB_SCEN_RAMPING_ARRIVAL_RATE = 6,
} sb_scen_kind;

typedef struct sb_scen_stage {
  int64_t duration_us;
  uint64_t target;              /* VUs (ramping-vus); iterations per time unit (ramping-a.-r.) */
} sb_scen_stage;

typedef struct sb_scenario_cfg {
  char *name;                   /* "scenario" tag and k6/execution name; "default" when unnamed */
  char *exec;                   /* exported function to run; "default" when unset */
  sb_scen_kind kind;
  const struct sb_exec *ex; /* the executor of |kind| (sb_scenario_cfg_resolve() sets it) */
  uint64_t vus;                 /* shared/per-vu iterations, constant-vus */
  uint64_t iterations;          /* shared: this agent's total; per-vu: per VU */
  int64_t duration_us;          /* constant-vus */
  int64_t max_duration_us;      /* iteration executors */
  int64_t start_time_us;        /* startTime, from the test start */
  int64_t graceful_stop_us;
  uint64_t start_vus;           /* ramping-vus */
  sb_scen_stage *stages;        /* ramping-vus */
  size_t nstages;
  int64_t graceful_ramp_down_us; /* ramping-vus */
  uint64_t vu_offset;           /* this agent's first VU in the whole scenario (for __VU) */
  uint64_t iteration_offset;    /* k6/execution iterationInTest of local iteration n: */
  uint64_t iteration_stride;    /* offset + n * stride (stride >= 1), unique in the fleet */
  /* arrival-rate: the fleet's schedule (never cut) and this agent's part of it */
  uint64_t rate;                /* constant-arrival-rate: iterations per time unit */
  uint64_t start_rate;          /* ramping-arrival-rate: before the first stage */
  int64_t time_unit_us;         /* 1 s when the controller sent 0 */
  uint64_t pre_allocated_vus;   /* VUs made before the start */
  uint64_t max_vus;             /* the most VUs it may make (VUs initialised mid-test) */
  sb_stripe stripe;             /* which of the test's iteration indices are this agent's */
  /* every executor */
  int64_t min_iteration_duration_us; /* a shorter iteration keeps its VU this long; 0: none */
  char **env;                   /* __ENV over the test's for the scenario's VUs: key, value, ... */
  size_t nenv;                  /* pairs */
  char **tags;                  /* added to every sample of the scenario: key, value, ... */
  size_t ntags;                 /* pairs */
} sb_scenario_cfg;

/* Completes a decoded scenario: finds the executor of |c->kind|, names an unnamed scenario and
 * an unset exec "default", makes a zero stride 1. Returns 0, SB_EFORMAT (unknown executor: |err|
 * names the scenario) or SB_ENOMEM. An arrival-rate scenario's time unit defaults to 1 s. */
int sb_scenario_cfg_resolve(sb_scenario_cfg *c, sb_err *err);
/* Frees what |c| owns and zeroes it. */
void sb_scenario_cfg_clear(sb_scenario_cfg *c);

/* The most VUs the scenario runs at once on this agent (what the engine creates for it). Needs
 * a resolved |c|. */
uint64_t sb_scenario_cfg_max_vus(const sb_scenario_cfg *c);
/* When it stops starting iterations, from its own start (duration, stages, maxDuration). */
int64_t sb_scenario_cfg_end_us(const sb_scenario_cfg *c);
/* When it is over for sure: startTime + end + gracefulStop, from the test start. */
int64_t sb_scenario_cfg_last_us(const sb_scenario_cfg *c);

#endif
