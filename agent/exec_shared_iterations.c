/* shared-iterations (k6): a fixed number of iterations shared by a fixed number of VUs; a VU
 * takes the next iteration as soon as it is free, until none is left or maxDuration passes.
 * The budget is this agent's share (the controller cut it); the agent's workers draw from one
 * atomic counter, so every iteration runs once whichever worker is fastest. */
#include <stdatomic.h>
#include <stdlib.h>

#include "agent/executor.h"

static uint64_t max_vus(const sb_scenario_cfg *sc) {
  return sc->vus < sc->iterations ? sc->vus : sc->iterations;
}

static int64_t end_us(const sb_scenario_cfg *sc) { return sc->max_duration_us; }

static int shared_new(void **out, const sb_scenario_cfg *sc) {
  atomic_int_fast64_t *left = malloc(sizeof(*left));
  if (!left) return SB_ENOMEM;
  atomic_init(left, (int_fast64_t)sc->iterations);
  *out = left;
  return 0;
}

static void shared_free(void *shared) { free(shared); }

static void start(sb_exec_run *r) {
  for (size_t i = 0; i < r->nvus && !r->stopping; i++) sb_exec_activate(r, r->vus[i]);
}

static int next(sb_exec_run *r, sb_exec_vu *v) {
  return atomic_fetch_sub((atomic_int_fast64_t *)r->shared, 1) > 0 ? SB_EXEC_RUN : SB_EXEC_LEAVE;
}

static int more(const sb_exec_run *r) { return 0; }

static double progress(const sb_exec_run *r, uint64_t done, int64_t now_us) {
  uint64_t total = r->sc->iterations;
  double p = total ? (double)done / (double)total : 1.0;
  return p > 1 ? 1.0 : p;
}

const sb_exec sb_exec_shared_iterations = {
    .name = "shared-iterations", .max_vus = max_vus, .end_us = end_us,
    .shared_new = shared_new, .shared_free = shared_free,
    .start = start, .next = next, .more = more, .progress = progress,
};
