/* per-vu-iterations (k6): every VU runs exactly |iterations| iterations (until maxDuration). */
#include "agent/executor.h"

static uint64_t max_vus(const sb_scenario_cfg *sc) { return sc->vus; }

static int64_t end_us(const sb_scenario_cfg *sc) { return sc->max_duration_us; }

static void start(sb_exec_run *r) {
  for (size_t i = 0; i < r->nvus && !r->stopping; i++) sb_exec_activate(r, r->vus[i]);
}

static int next(sb_exec_run *r, sb_exec_vu *v) {
  return v->iters < r->sc->iterations ? SB_EXEC_RUN : SB_EXEC_LEAVE;
}

static int more(const sb_exec_run *r) { return 0; }

static double progress(const sb_exec_run *r, uint64_t done, int64_t now_us) {
  uint64_t total = r->sc->iterations * r->sc->vus;
  double p = total ? (double)done / (double)total : 1.0;
  return p > 1 ? 1.0 : p;
}

const sb_exec sb_exec_per_vu_iterations = {
    .name = "per-vu-iterations", .max_vus = max_vus, .end_us = end_us,
    .start = start, .next = next, .more = more, .progress = progress,
};
