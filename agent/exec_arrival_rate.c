/* constant-arrival-rate and ramping-arrival-rate (k6): iterations start on a schedule, whatever
 * the target's latency (an open model); a VU is only the vehicle of one iteration.
 *
 * The schedule is the whole test's: its iterations are numbered 0, 1, 2, ... and iteration g is
 * due at g * timeUnit / rate (constant) or where the area under the stages' rate curve reaches g
 * (ramping; 0 at the start). It is never cut: the controller gives each agent a stripe of the
 * numbers (common/stripe.h), and the agent stripes its own among its workers by their VU slots,
 * so the fleet runs exactly the asked rate and agents and workers interleave instead of firing
 * together.
 *
 * Each worker keeps its idle VUs in a stack. A timer on the worker's loop wakes at the next due
 * time (a monotonic clock) and starts every iteration that is due on an idle VU, measured from
 * when it was due, so a late start (a busy loop) shows in iteration_duration and in
 * iteration_start_delay instead of hiding. With no idle VU the iteration is dropped
 * (dropped_iterations) and, as in k6, one more VU is made in the background while maxVUs allows;
 * a worker that reached its share of maxVUs says so once.
 *
 * While the operator pauses the test nothing starts; on resume the iterations that fell due
 * meanwhile are skipped, not dropped: dropped_iterations measures what the generator could not
 * start, and a pause is nobody's shortfall. The schedule itself does not move (k6's durations are
 * wall time), so a pause takes its share of the scenario's iterations away. */
#include <event2/event.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/executor.h"
#include "common/clock.h"

#define NEVER INT64_MAX

/* When test iteration |g| is due, from the scenario's start, at a constant rate: g * unit / rate
 * (exact integer arithmetic: no drift over long tests). NEVER when the rate is 0. */
static int64_t constant_at(const sb_scenario_cfg *sc, uint64_t g) {
  if (sc->rate == 0) return NEVER;
  unsigned __int128 t = (unsigned __int128)g * (uint64_t)sc->time_unit_us / sc->rate;
  return t >= (unsigned __int128)NEVER ? NEVER : (int64_t)t;
}

/* When test iteration |g| is due under the stages: the time at which the area under the rate
 * curve (iterations, the rate moving linearly from one stage's target to the next, starting at
 * startRate) reaches g. Within a stage of length d going from r0 to r1 (per microsecond), the
 * area after tau is r0 * tau + (r1 - r0) * tau^2 / (2d); solved for tau in the form that stays
 * exact when r1 == r0 and when r0 == 0. NEVER past the last stage. */
static int64_t ramping_at(const sb_scenario_cfg *sc, uint64_t g) {
  double unit = (double)sc->time_unit_us, left = (double)g, r0 = (double)sc->start_rate / unit;
  int64_t from = 0;
  for (size_t i = 0; i < sc->nstages; i++) {
    double d = (double)sc->stages[i].duration_us, r1 = (double)sc->stages[i].target / unit;
    double area = (r0 + r1) / 2 * d;
    if (left < area) {
      double a = (r1 - r0) / (2 * d), tau = 2 * left / (r0 + sqrt(r0 * r0 + 4 * a * left));
      if (left == 0) tau = 0;
      return from + (int64_t)ceil(tau - 1e-6);
    }
    left -= area;
    from += sc->stages[i].duration_us;
    r0 = r1;
  }
  return NEVER;
}

static int64_t due_at(const sb_scenario_cfg *sc, uint64_t g) {
  return sc->kind == SB_SCEN_CONSTANT_ARRIVAL_RATE ? constant_at(sc, g) : ramping_at(sc, g);
}

static uint64_t max_vus(const sb_scenario_cfg *sc) {
  return sc->max_vus > sc->pre_allocated_vus ? sc->max_vus : sc->pre_allocated_vus;
}

static uint64_t initial_vus(const sb_scenario_cfg *sc) { return sc->pre_allocated_vus; }

static int64_t constant_end_us(const sb_scenario_cfg *sc) { return sc->duration_us; }

static int64_t ramping_end_us(const sb_scenario_cfg *sc) {
  int64_t t = 0;
  for (size_t i = 0; i < sc->nstages; i++) t += sc->stages[i].duration_us;
  return t;
}

typedef struct shared {
  atomic_int warned;            /* "insufficient VUs" was said (once per agent) */
} shared;

typedef struct arrival {        /* the executor on one worker */
  struct event *ev;             /* wakes at |due_us| */
  sb_stripe_table agent;        /* the agent's numbers among the test's */
  sb_stripe_table worker;       /* this worker's among the agent's */
  uint64_t k;                   /* this worker's next own number */
  uint64_t g;                   /* the test's number of the next start */
  int64_t due_us;               /* when it is due, monotonic; NEVER: no start left */
  int64_t end_us;               /* monotonic end: nothing starts at or past it */
  sb_exec_vu **idle;            /* VUs free for the next start (a stack) */
  size_t nidle;
  int growing;                  /* a VU is being made */
} arrival;

static int shared_new(void **out, const sb_scenario_cfg *sc) {
  shared *s = calloc(1, sizeof(*s));
  if (!s) return SB_ENOMEM;
  *out = s;
  return 0;
}

static void shared_free(void *s) { free(s); }

/* Moves to this worker's next start. */
static void advance(sb_exec_run *r, arrival *a) {
  a->due_us = NEVER;
  uint64_t local = sb_stripe_table_at(&a->worker, a->k++);
  if (local == UINT64_MAX) return;
  a->g = sb_stripe_table_at(&a->agent, local);
  if (a->g == UINT64_MAX) return;
  int64_t t = due_at(r->sc, a->g);
  if (t != NEVER && r->start_us + t < a->end_us) a->due_us = r->start_us + t;
}

/* No VU is free for a start that is due. */
static void drop(sb_exec_run *r, arrival *a) {
  sb_exec_dropped(r);
  if (a->growing) return;
  if (sb_exec_grow(r)) {
    a->growing = 1;
    return;
  }
  shared *s = r->shared;
  if (atomic_exchange(&s->warned, 1)) return;
  char msg[160];
  snprintf(msg, sizeof(msg),
           "Insufficient VUs, reached %llu active VUs and cannot initialize more (scenario %s)",
           (unsigned long long)max_vus(r->sc), r->sc->name);
  sb_exec_log(r, "warn", msg);
}

/* Starts every iteration that is due, then sleeps until the next one. */
static void on_due(evutil_socket_t fd, short what, void *arg) {
  sb_exec_run *r = arg;
  arrival *a = r->state;
  int64_t now = sb_clock_mono_us();
  if (r->paused) return; /* pause(): on_due again on resume */
  while (a->due_us <= now && !r->stopping) {
    if (a->nidle) {
      if (sb_exec_start(r, a->idle[--a->nidle], a->due_us, a->g)) return;
    } else {
      drop(r, a);
    }
    advance(r, a);
  }
  if (a->due_us == NEVER || r->stopping) return;
  int64_t d = a->due_us - now;
  struct timeval tv = {.tv_sec = d / 1000000, .tv_usec = d % 1000000};
  event_add(a->ev, &tv);
}

/* This worker's stripe of the agent's numbers: weighted by each worker's VU slots. */
static int worker_stripe(sb_exec_run *r, arrival *a) {
  uint64_t *w = calloc(r->nworkers ? r->nworkers : 1, sizeof(*w)), n = max_vus(r->sc);
  if (!w) return SB_ENOMEM;
  for (size_t i = 0; i < r->nworkers; i++) w[i] = n / r->nworkers + (i < n % r->nworkers);
  sb_stripe s;
  sb_stripe_make(&s, w, r->nworkers, r->worker);
  free(w);
  return sb_stripe_table_init(&a->worker, &s);
}

static int init(sb_exec_run *r) {
  arrival *a = calloc(1, sizeof(*a));
  if (!a) return SB_ENOMEM;
  r->state = a;
  a->idle = calloc(r->nslots ? r->nslots : 1, sizeof(*a->idle));
  a->ev = event_new(r->base, -1, 0, on_due, r);
  if (!a->idle || !a->ev || sb_stripe_table_init(&a->agent, &r->sc->stripe) ||
      worker_stripe(r, a))
    return SB_ENOMEM;
  return 0;
}

static void clear(sb_exec_run *r) {
  arrival *a = r->state;
  if (!a) return;
  if (a->ev) event_free(a->ev);
  sb_stripe_table_clear(&a->agent);
  sb_stripe_table_clear(&a->worker);
  free(a->idle);
  free(a);
  r->state = NULL;
}

static void start(sb_exec_run *r) {
  arrival *a = r->state;
  a->end_us = r->start_us + r->sc->ex->end_us(r->sc);
  for (size_t i = 0; i < r->nvus && !r->stopping; i++) sb_exec_activate(r, r->vus[i]);
  advance(r, a);
  on_due(-1, 0, r);
}

/* Every VU that is free waits in the stack for the next start. */
static int next(sb_exec_run *r, sb_exec_vu *v) {
  arrival *a = r->state;
  a->idle[a->nidle++] = v;
  return SB_EXEC_HOLD;
}

static void added(sb_exec_run *r, sb_exec_vu *v) {
  arrival *a = r->state;
  a->growing = 0;
  if (v && !r->stopping) sb_exec_activate(r, v);
}

static int more(const sb_exec_run *r) { return 1; }

static void stop(sb_exec_run *r) {
  arrival *a = r->state;
  if (!a) return;
  event_del(a->ev);
  while (a->nidle) sb_exec_release(r, a->idle[--a->nidle]);
}

static double progress(const sb_exec_run *r, uint64_t done, int64_t now_us) {
  return sb_exec_time_progress(r, now_us);
}

/* Paused: the timer stops. Resumed: what fell due meanwhile is skipped, then on with the
 * schedule. */
static void pause(sb_exec_run *r) {
  arrival *a = r->state;
  if (!a || r->stopping) return;
  event_del(a->ev);
  if (r->paused) return;
  int64_t now = sb_clock_mono_us();
  while (a->due_us <= now) advance(r, a);
  on_due(-1, 0, r);
}

const sb_exec sb_exec_constant_arrival_rate = {
    .name = "constant-arrival-rate", .precise = 1, .warm = 1, .max_vus = max_vus,
    .initial_vus = initial_vus, .end_us = constant_end_us, .shared_new = shared_new,
    .shared_free = shared_free,
    .init = init, .clear = clear, .start = start, .next = next, .added = added, .more = more,
    .stop = stop, .progress = progress, .pause = pause,
};

const sb_exec sb_exec_ramping_arrival_rate = {
    .name = "ramping-arrival-rate", .precise = 1, .warm = 1, .max_vus = max_vus,
    .initial_vus = initial_vus, .end_us = ramping_end_us, .shared_new = shared_new,
    .shared_free = shared_free,
    .init = init, .clear = clear, .start = start, .next = next, .added = added, .more = more,
    .stop = stop, .progress = progress, .pause = pause,
};
