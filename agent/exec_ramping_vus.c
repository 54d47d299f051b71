/* ramping-vus (k6): the number of looping VUs follows the stages, linearly from startVUs. A
 * timer on the worker's loop compares every VU's index with the target: VUs below it are wanted,
 * the others finish their iteration and leave, or are interrupted once gracefulRampDown has
 * passed since they were let go. Targets are this agent's share, so the worker's VUs (every
 * nw-th index) follow the same curve. A VU count the operator set (scale()) replaces the stages'
 * target from then on. */
#include <event2/event.h>
#include <stdlib.h>

#include "agent/executor.h"
#include "common/clock.h"

#define TICK_US 20000

static uint64_t max_vus(const sb_scenario_cfg *sc) {
  uint64_t n = sc->start_vus;
  for (size_t i = 0; i < sc->nstages; i++)
    if (sc->stages[i].target > n) n = sc->stages[i].target;
  return n;
}

static int64_t end_us(const sb_scenario_cfg *sc) {
  int64_t t = 0;
  for (size_t i = 0; i < sc->nstages; i++) t += sc->stages[i].duration_us;
  return t;
}

/* The VUs the stages ask for |t_us| after the scenario's start. */
static uint64_t target_at(const sb_scenario_cfg *sc, int64_t t_us) {
  int64_t from = 0;
  uint64_t prev = sc->start_vus;
  for (size_t i = 0; i < sc->nstages; i++) {
    int64_t len = sc->stages[i].duration_us, end = from + len;
    uint64_t tgt = sc->stages[i].target;
    if (t_us < end) {
      double f = len > 0 ? (double)(t_us - from) / (double)len : 1.0;
      double v = (double)prev + ((double)tgt - (double)prev) * f;
      return (uint64_t)(v + 1e-9);
    }
    from = end;
    prev = tgt;
  }
  return prev;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  sb_exec_run *r = arg;
  int64_t now = sb_clock_mono_us();
  uint64_t target =
      r->scaled_vus != UINT64_MAX ? r->scaled_vus : target_at(r->sc, now - r->start_us);
  for (size_t i = 0; i < r->nvus; i++) {
    sb_exec_vu *v = r->vus[i];
    if (v->index < target) {
      if (!v->active) sb_exec_activate(r, v);
    } else if (v->active) {
      v->active = 0; /* finishes its iteration, then leaves the loop */
      v->off_at_us = now;
    } else if (v->looping && v->off_at_us &&
               now - v->off_at_us >= r->sc->graceful_ramp_down_us) {
      sb_exec_interrupt(r, v);
    }
  }
}

static int init(sb_exec_run *r) {
  r->state = event_new(r->base, -1, EV_PERSIST, on_tick, r);
  return r->state ? 0 : SB_ENOMEM;
}

static void clear(sb_exec_run *r) {
  if (r->state) event_free(r->state);
  r->state = NULL;
}

static void start(sb_exec_run *r) {
  struct timeval tv = {0, TICK_US};
  event_add(r->state, &tv);
  on_tick(-1, 0, r);
}

static int next(sb_exec_run *r, sb_exec_vu *v) { return SB_EXEC_RUN; }

static int more(const sb_exec_run *r) { return 1; }

static void stop(sb_exec_run *r) { event_del(r->state); }

static double progress(const sb_exec_run *r, uint64_t done, int64_t now_us) {
  return sb_exec_time_progress(r, now_us);
}

const sb_exec sb_exec_ramping_vus = {
    .name = "ramping-vus", .max_vus = max_vus, .end_us = end_us, .init = init, .clear = clear,
    .start = start, .next = next, .more = more, .stop = stop, .progress = progress,
    .scale = start, /* the next tick follows the new count: take it now */
};
