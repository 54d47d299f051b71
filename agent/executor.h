/* Executors: how a scenario starts iterations on its VUs, k6's executors behind one small
 * interface, one file each (agent/exec_<name>.c). A new executor is a new file, an entry in
 * executor_of() (agent/scenario.c) and a number in sb_scen_kind.
 *
 * The engine places a scenario's VUs on its workers (agent/engine.c) and runs the executor once
 * per worker, on that worker's loop and thread:
 *
 *   init ─ start ─ next, next, ... ─ stop ─ (the engine interrupts what still runs at the hard
 *                                            end: stop + gracefulStop) ─ clear
 *
 * start() comes at the scenario's startTime; next() whenever one of its VUs is free (when the
 * executor activates it, and after each of its iterations) and says whether that VU runs another
 * iteration now, leaves, or waits held by the executor until it starts one on it with
 * sb_exec_start() (the arrival-rate executors' pool); stop() at the scenario's end (the engine
 * then starts nothing more; the executor releases the VUs it holds idle); more() asks,
 * when no VU of the scenario is looping on this worker, whether anything may still start
 * (constant-vus: yes until its end; shared-iterations: no, it is finished here). progress() is
 * k6/execution's scenario.progress.
 *
 * The executor acts through the engine calls at the end of this file. State shared by a
 * scenario's workers (the shared-iterations budget) lives in |shared| and must be atomic; the
 * rest is the worker's own. */
#ifndef SB_EXECUTOR_H
#define SB_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "agent/scenario.h"

struct event_base;

typedef struct sb_exec_vu {     /* one VU of the scenario on this worker, as executors see it */
  uint64_t index;               /* in its scenario on this agent, 0-based */
  uint64_t iters;               /* iterations it started in this scenario (its __ITER) */
  int64_t off_at_us;            /* when the executor stopped wanting it (0: wanted) */
  unsigned active : 1;          /* wanted: loops as long as next() says so */
  unsigned looping : 1;         /* held by the scenario: in an iteration, or idle in the
                                 * executor's hands (the engine keeps this; `vus` counts it) */
} sb_exec_vu;

typedef struct sb_exec_run {    /* one scenario on one worker */
  const sb_scenario_cfg *sc;    /* read-only */
  void *shared;                 /* the executor's scenario-wide state (all workers), or NULL */
  void *state;                  /* the executor's state on this worker, or NULL */
  struct event_base *base;      /* the worker's loop, for the executor's own timers */
  int64_t start_us;             /* monotonic time the scenario starts (test start + startTime) */
  sb_exec_vu **vus;             /* this worker's VUs of the scenario, by increasing index */
  size_t nvus;                  /* made so far */
  size_t nslots;                /* the most it may have (VUs made mid-test included) */
  size_t worker, nworkers;      /* this worker among the agent's: VU index i is on worker
                                 * i % nworkers */
  unsigned stopping : 1;        /* past the end (or stopped): no new iteration */
  unsigned paused : 1;          /* the operator paused the test: start nothing (engine parks
                                 * VUs that come free; an executor's own timers must wait) */
  uint64_t scaled_vus;          /* the operator's VU count for this agent (UINT64_MAX: the
                                 * plan's); constant-vus and ramping-vus follow it */
} sb_exec_run;

/* next()'s answers. */
enum { SB_EXEC_LEAVE = 0, SB_EXEC_RUN = 1, SB_EXEC_HOLD = 2 };

typedef struct sb_exec {
  const char *name;             /* k6's name: "shared-iterations" */
  int precise;                  /* needs sub-millisecond timers on its worker's loop */
  int warm;                     /* its VUs are made ready for a first request when they are made
                                 * (sb_vu_warm): a start is due at once, and a cold one is late */
  /* The most VUs the scenario runs at once on this agent. */
  uint64_t (*max_vus)(const sb_scenario_cfg *sc);
  /* The VUs made before the start (NULL: max_vus); the others come from sb_exec_grow(). */
  uint64_t (*initial_vus)(const sb_scenario_cfg *sc);
  /* When it stops starting iterations, from its own start. */
  int64_t (*end_us)(const sb_scenario_cfg *sc);
  /* Scenario-wide state, made once before the workers start (NULL: none). Returns 0 or
   * SB_ENOMEM. */
  int (*shared_new)(void **out, const sb_scenario_cfg *sc);
  void (*shared_free)(void *shared);
  /* Per worker, on its thread, before the test starts: may set r->state and make timers on
   * r->base (NULL: nothing). Returns 0 or SB_ENOMEM. clear() undoes it, started or not. */
  int (*init)(sb_exec_run *r);
  void (*clear)(sb_exec_run *r);
  void (*start)(sb_exec_run *r);
  /* |v| is free: SB_EXEC_RUN = start another iteration on it now, SB_EXEC_LEAVE = it leaves the
   * loop, SB_EXEC_HOLD = it stays, idle, until the executor calls sb_exec_start() or
   * sb_exec_release() on it. Never called once r->stopping is set or while |v| is inactive. */
  int (*next)(sb_exec_run *r, sb_exec_vu *v);
  /* A VU sb_exec_grow() asked for is made (NULL: making it failed, the engine logged why).
   * NULL hook: the engine activates it. */
  void (*added)(sb_exec_run *r, sb_exec_vu *v);
  int (*more)(const sb_exec_run *r);
  void (*stop)(sb_exec_run *r); /* NULL: nothing to do */
  /* 0..1; |done| counts the scenario's ended iterations on this agent (all workers). */
  double (*progress)(const sb_exec_run *r, uint64_t done, int64_t now_us);
  /* The test was paused or resumed (r->paused says which); NULL: nothing to do. An executor
   * with its own schedule stops it, and on resume skips what fell due meanwhile. */
  void (*pause)(sb_exec_run *r);
  /* r->scaled_vus changed while the scenario runs; NULL: it cannot change its VU count. */
  void (*scale)(sb_exec_run *r);
} sb_exec;

extern const sb_exec sb_exec_shared_iterations;
extern const sb_exec sb_exec_per_vu_iterations;
extern const sb_exec sb_exec_constant_vus;
extern const sb_exec sb_exec_ramping_vus;
extern const sb_exec sb_exec_constant_arrival_rate;
extern const sb_exec sb_exec_ramping_arrival_rate;

/* --- what the engine offers executors (agent/engine.c), all on the worker's thread ---------- */

/* Wants |v|: it loops from now on, as long as next() says so (starts at once if idle). */
void sb_exec_activate(sb_exec_run *r, sb_exec_vu *v);
/* Ends |v|'s running iteration now (not counted as complete). No-op when it is idle. */
void sb_exec_interrupt(sb_exec_run *r, sb_exec_vu *v);
/* Starts one iteration on |v|, a VU the executor holds idle (SB_EXEC_HOLD), due at monotonic
 * |due_us|: iteration_duration counts from then, and the delay to now is recorded in
 * `iteration_start_delay`. |index| is its number in the whole test (k6/execution's
 * scenario.iterationInTest). next() follows when it ends. Returns 0, or an error after which the
 * engine stops the scenario (the error is logged). */
int sb_exec_start(sb_exec_run *r, sb_exec_vu *v, int64_t due_us, uint64_t index);
/* Lets go of |v|, a VU the executor holds idle. */
void sb_exec_release(sb_exec_run *r, sb_exec_vu *v);
/* Counts one iteration that could not start (`dropped_iterations`, k6's). */
void sb_exec_dropped(sb_exec_run *r);
/* Asks for one more VU on this worker, made on the loop after the current callback (its init
 * code runs then); added() follows. Returns 1 when one is coming, 0 when every slot is used. */
int sb_exec_grow(sb_exec_run *r);
/* A line in the test's log, once per call ("warn", "error"). */
void sb_exec_log(sb_exec_run *r, const char *level, const char *text);

/* Shared by the executors whose progress is the time elapsed over their end: 0..1. */
double sb_exec_time_progress(const sb_exec_run *r, int64_t now_us);

#endif
