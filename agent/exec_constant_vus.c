/* constant-vus (k6): a fixed number of VUs loop for a duration. The operator may change the
 * number while it runs (scale(): the VUs below it loop, the others finish their iteration and
 * leave), within the VUs made before the start. */
#include "agent/executor.h"
#include "common/clock.h"

static uint64_t max_vus(const sb_scenario_cfg *sc) { return sc->vus; }

static int64_t end_us(const sb_scenario_cfg *sc) { return sc->duration_us; }

static void start(sb_exec_run *r) {
  for (size_t i = 0; i < r->nvus && !r->stopping; i++) sb_exec_activate(r, r->vus[i]);
}

static int next(sb_exec_run *r, sb_exec_vu *v) { return SB_EXEC_RUN; }

/* A VU whose iteration failed to start leaves the loop; the others still run until the end. */
static int more(const sb_exec_run *r) { return 1; }

static double progress(const sb_exec_run *r, uint64_t done, int64_t now_us) {
  return sb_exec_time_progress(r, now_us);
}

static void scale(sb_exec_run *r) {
  int64_t now = sb_clock_mono_us();
  for (size_t i = 0; i < r->nvus; i++) {
    sb_exec_vu *v = r->vus[i];
    if (v->index < r->scaled_vus) {
      if (!v->active) sb_exec_activate(r, v);
    } else if (v->active) {
      v->active = 0; /* finishes its iteration, then leaves the loop */
      v->off_at_us = now;
    }
  }
}

const sb_exec sb_exec_constant_vus = {
    .name = "constant-vus", .max_vus = max_vus, .end_us = end_us,
    .start = start, .next = next, .more = more, .progress = progress, .scale = scale,
};
