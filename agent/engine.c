/* The engine: worker threads, VU placement and k6's executors.
 *
 * Time inside the engine is CLOCK_MONOTONIC microseconds. A scenario's life on a worker:
 *
 *   start ── VUs loop ── end (stop starting iterations) ── hard (interrupt what still runs)
 *
 * where "end" is maxDuration for the iteration executors, duration for constant-vus and the sum
 * of the stages for ramping-vus, and "hard" is end + gracefulStop. A scenario is finished on a
 * worker when none of its VUs loops any more (at once when it has no VU there: a small test split
 * over many agents); the engine is done when every scenario is finished on every worker.
 *
 * setup() and teardown() run on worker 0's loop, on a VU of their own (__VU 0) made on the first
 * call; worker 0 flushes its metrics when a call ends, so the call's samples are pending before
 * the callback says it ended. Their timeout is twofold: a timer on worker 0's loop interrupts a
 * call that waits (sleep, http), and a watchdog thread reaches one that never yields the loop. */
#include "agent/engine.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent/http_client.h"
#include "agent/js_modules.h"
#include "agent/vu.h"
#include "common/archive.h"
#include "common/clock.h"
#include "common/jsmod.h"

#define FLUSH_INTERVAL_US 250000
#define RAMP_TICK_US 20000
#define PRECISE_START_MAX_US 1000000

typedef struct scen {            /* one scenario, shared read-only by the workers (+ atomics) */
  char *name, *exec;
  int executor;                  /* SPEEDBOAT__EXECUTOR__* */
  uint64_t vus, iterations, start_vus, max_vus;
  int64_t start_us, end_us, graceful_stop_us, graceful_ramp_down_us; /* relative to test start */
  int64_t *stage_end_us;         /* ramping: cumulative stage ends */
  uint64_t *stage_target;
  size_t nstages;
  uint64_t first_id;             /* __VU of this scenario's first VU */
  atomic_int_fast64_t remaining; /* shared-iterations budget */
  uint64_t first_local_id;       /* k6/execution: idInInstance of the first VU */
  uint64_t iter_offset, iter_stride; /* iterationInTest = offset + local number * stride */
  atomic_uint_fast64_t iter_next;    /* iterations started here (the next local number) */
  atomic_uint_fast64_t iter_done;    /* iterations that ended here, interrupted ones included */
} scen;

struct worker;
struct wscen;

typedef struct wvu {             /* a VU placed on a worker */
  sb_vu *vu;
  struct wscen *ws;
  uint64_t index;                /* in its scenario, 0-based */
  uint64_t iters;                /* iterations started in this scenario (__ITER) */
  int64_t off_at_us;             /* ramping: when it was ramped down (0: active) */
  unsigned active : 1;           /* wanted by the executor */
  unsigned looping : 1;          /* in its iteration loop (an iteration in flight) */
} wvu;

typedef struct wscen {           /* a scenario on one worker */
  scen *sc;
  struct worker *w;
  wvu **vus;
  size_t nvus;
  size_t looping;
  struct event *ev_start, *ev_end, *ev_hard, *ev_tick;
  unsigned started : 1, stopping : 1, finished : 1;
} wscen;

enum { CMD_NONE, CMD_START, CMD_STOP, CMD_ABORT, CMD_QUIT };

typedef struct worker {
  sb_engine *e;
  int idx;
  pthread_t th;
  struct event_base *base;
  sb_metrics *m;
  wvu *vus;                      /* every VU of this worker */
  size_t nvus;
  wscen *ws;                     /* one per scenario */
  struct event *ev_cmd, *ev_flush;
  atomic_int cmd;
  atomic_int stop;               /* abort requested: every VU's script stops at once (vu.h) */
  int64_t t0_us;                 /* monotonic time of the test start */
  size_t unfinished;             /* scenarios not finished on this worker */
  int reported;                  /* told the engine it is finished */
  int init_rc;
  sb_err init_err;
  int started;                   /* CMD_START arrived: may report being finished */
  sb_vu_env env;                 /* what this worker's VUs borrow */
  sb_http_shared *http;          /* TLS contexts, resolver: shared by this worker's VUs */
  sb_vu *call_vu;                /* worker 0: the VU of setup()/teardown(), made on first use */
  struct event *ev_call, *ev_call_timeout;
  atomic_int call_timed_out;     /* set by the loop timer or the watchdog */
  pthread_t call_wd;             /* the watchdog of the call in flight */
  int call_wd_on;                /* |call_wd| runs (joinable) */
  int call_live;                 /* the call has not ended (under e->mu) */
  int64_t call_deadline_us;      /* monotonic */
} worker;

struct sb_engine {
  sb_engine_cbs cbs;
  sb_program *prog;
  sb_archive *ar;                /* the test's archive (open() reads it), read-only */
  sb_data_store *shared;         /* k6/data's arrays in |ar|, indexed once (read-only) */
  char **env;                    /* key, value, ..., NULL */
  scen *sc;
  size_t nsc;
  worker *w;
  int nw;
  pthread_mutex_t mu;            /* guards pending, ready, error, w[0].call_live */
  pthread_cond_t cond;           /* ready; the end of a call (for its watchdog) */
  int ready;                     /* workers done with init */
  sb_metrics *pending;           /* folded worker metrics, waiting for collect */
  atomic_size_t unfinished;      /* workers with scenarios left */
  atomic_uint_fast64_t vus_live, iterations;
  atomic_int_fast64_t started_wall_us; /* wall clock when the first scenario timer really fired,
                                        * less its startTime (0: none yet) */
  atomic_uint_fast64_t vus_seen;  /* VUs looping at the last collect plus those that started
                                   * looping since: the interval's `vus` (a VU of another worker
                                   * that finished before this one began still ran in it) */
  uint64_t vus_max;
  int done_sent;
  char error[512];
  int discard_bodies;
  sb_http_config http;           /* HTTP/TLS/DNS options (Prepare.http), read-only */
  char *data_json;               /* setup()'s data for every iteration; NULL: undefined */
  atomic_int call_busy;          /* a setup/teardown call is in flight */
  char *call_fn, *call_data;     /* the call in flight: function and argument (JSON) */
  int64_t call_timeout_ms;
  sb_engine_call_cb call_cb;
  void *call_ud;
  atomic_int freeing;            /* sb_engine_free() began: calls end without a callback */
  atomic_uint_fast64_t iterations_interrupted; /* k6/execution's instance counter */
  char *options_json;            /* Prepare.options_json (test.options); NULL: none */
  char abort_reason[512];        /* test.abort()'s reason, "" when none (under mu) */
};

static struct timeval tv_of(int64_t us) {
  if (us < 0) us = 0;
  struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
  return tv;
}

static void set_error(sb_engine *e, const char *msg) {
  pthread_mutex_lock(&e->mu);
  if (!e->error[0]) snprintf(e->error, sizeof(e->error), "%s", msg);
  pthread_mutex_unlock(&e->mu);
}

/* --- executors ------------------------------------------------------------------------------ */

static void wscen_check_finished(wscen *ws);
static void vu_next(wvu *v);
static void exec_fill(wvu *v, sb_vu_iter *it);

/* Ramping-vus: the number of VUs the stages ask for at |t_us| after the scenario's start. */
static uint64_t ramp_target(const scen *sc, int64_t t_us) {
  int64_t prev_end = 0;
  uint64_t prev = sc->start_vus;
  for (size_t i = 0; i < sc->nstages; i++) {
    int64_t end = sc->stage_end_us[i], len = end - prev_end;
    uint64_t tgt = sc->stage_target[i];
    if (t_us < end) {
      double f = len > 0 ? (double)(t_us - prev_end) / (double)len : 1.0;
      double v = (double)prev + ((double)tgt - (double)prev) * f;
      return (uint64_t)(v + 1e-9);
    }
    prev_end = end;
    prev = tgt;
  }
  return prev;
}

static void vu_stop_looping(wvu *v) {
  if (!v->looping) return;
  v->looping = 0;
  v->ws->looping--;
  atomic_fetch_sub(&v->ws->w->e->vus_live, 1);
}

static void on_iteration(sb_vu *vu, sb_vu_result r, void *ud) {
  wvu *v = ud;
  atomic_fetch_add(&v->ws->sc->iter_done, 1);
  if (r != SB_VU_INTERRUPTED) atomic_fetch_add(&v->ws->w->e->iterations, 1);
  else atomic_fetch_add(&v->ws->w->e->iterations_interrupted, 1);
  vu_next(v);
  wscen_check_finished(v->ws);
}

/* Starts the VU's next iteration if its executor wants one; otherwise takes it out of the loop.
 * Called when the VU is activated and after each iteration, always from the loop. */
static void vu_next(wvu *v) {
  wscen *ws = v->ws;
  scen *sc = ws->sc;
  if (ws->stopping || !v->active) {
    vu_stop_looping(v);
    return;
  }
  if (sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_SHARED_ITERATIONS) {
    if (atomic_fetch_sub(&sc->remaining, 1) <= 0) {
      v->active = 0;
      vu_stop_looping(v);
      return;
    }
  } else if (sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_PER_VU_ITERATIONS) {
    if (v->iters >= sc->iterations) {
      v->active = 0;
      vu_stop_looping(v);
      return;
    }
  }
  if (!v->looping) {
    v->looping = 1;
    ws->looping++;
    sb_engine *e = ws->w->e;
    atomic_fetch_add(&e->vus_live, 1);
    atomic_fetch_add(&e->vus_seen, 1);
  }
  sb_vu_iter it = {.exec = sc->exec, .scenario = sc->name, .iteration = v->iters++};
  exec_fill(v, &it);
  sb_err err;
  err.msg[0] = '\0';
  if (sb_vu_start_iteration(v->vu, &it, on_iteration, v, &err) != 0) {
    set_error(ws->w->e, err.msg);
    sb_engine_cbs *cb = &ws->w->e->cbs;
    if (cb->log) cb->log("error", NULL, err.msg, strlen(err.msg), cb->ud);
    ws->stopping = 1;
    vu_stop_looping(v);
  }
}

/* --- k6/execution ----------------------------------------------------------------------------- */

static const char *const EXECUTOR_NAMES[] = {
    [SPEEDBOAT__EXECUTOR__EXECUTOR_SHARED_ITERATIONS] = "shared-iterations",
    [SPEEDBOAT__EXECUTOR__EXECUTOR_PER_VU_ITERATIONS] = "per-vu-iterations",
    [SPEEDBOAT__EXECUTOR__EXECUTOR_CONSTANT_VUS] = "constant-vus",
    [SPEEDBOAT__EXECUTOR__EXECUTOR_RAMPING_VUS] = "ramping-vus",
};

/* What k6/execution says about the iteration about to start on |v|. */
static void exec_fill(wvu *v, sb_vu_iter *it) {
  scen *sc = v->ws->sc;
  sb_engine *e = v->ws->w->e;
  uint64_t n = atomic_fetch_add(&sc->iter_next, 1);
  it->executor = EXECUTOR_NAMES[sc->executor];
  it->id_in_instance = sc->first_local_id + v->index;
  it->scen_iter_instance = n;
  it->scen_iter_test = sc->iter_offset + n * sc->iter_stride;
  it->scen_start_unix_ms = (atomic_load(&e->started_wall_us) + sc->start_us) / 1000;
  it->scen = sc;
}

static void exec_instance(void *ud, sb_vu_instance_info *out) {
  worker *w = ud;
  sb_engine *e = w->e;
  int64_t t0 = atomic_load(&e->started_wall_us);
  out->iterations_completed = atomic_load(&e->iterations);
  out->iterations_interrupted = atomic_load(&e->iterations_interrupted);
  out->vus_active = atomic_load(&e->vus_live);
  out->vus_initialized = e->vus_max;
  out->run_ms = t0 ? (double)(sb_clock_wall_us() - t0) / 1000.0 : 0.0;
}

/* k6's progress: the share of the iterations done for the iteration executors, of the time
 * elapsed for the others. */
static double exec_progress(void *ud, const void *scenp) {
  worker *w = ud;
  const scen *sc = scenp;
  double p;
  if (!sc) return 0.0;
  if (sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_SHARED_ITERATIONS ||
      sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_PER_VU_ITERATIONS) {
    uint64_t total = sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_SHARED_ITERATIONS
                         ? sc->iterations : sc->iterations * sc->vus;
    p = total ? (double)atomic_load(&((scen *)sc)->iter_done) / (double)total : 1.0;
  } else {
    int64_t t = sb_clock_mono_us() - (w->t0_us + sc->start_us);
    p = sc->end_us > 0 ? (double)t / (double)sc->end_us : 1.0;
  }
  return p < 0 ? 0.0 : p > 1 ? 1.0 : p;
}

/* test.abort(): the first reason wins; the whole engine stops at once (the controller makes the
 * exit code from sb_engine_abort_reason()). From the aborting VU's worker thread. */
static void exec_abort(void *ud, const char *reason) {
  worker *w = ud;
  sb_engine *e = w->e;
  pthread_mutex_lock(&e->mu);
  int first = !e->abort_reason[0];
  if (first) snprintf(e->abort_reason, sizeof(e->abort_reason), "%s", reason);
  pthread_mutex_unlock(&e->mu);
  if (!first) return;
  if (e->cbs.log) e->cbs.log("error", NULL, reason, strlen(reason), e->cbs.ud);
  if (!e->call_busy) sb_engine_stop(e, 1); /* setup()/teardown(): their call ends by itself */
}

static const char *exec_options(void *ud) { return ((worker *)ud)->e->options_json; }

static const sb_vu_exec_ops EXEC_OPS = {
    .instance = exec_instance, .progress = exec_progress, .abort = exec_abort,
    .options_json = exec_options};

static void vu_activate(wvu *v) {
  v->active = 1;
  v->off_at_us = 0;
  if (!v->looping) vu_next(v);
}

static void wscen_finish(wscen *ws) {
  if (ws->finished) return;
  ws->finished = 1;
  ws->stopping = 1;
  if (ws->ev_end) event_del(ws->ev_end);
  if (ws->ev_hard) event_del(ws->ev_hard);
  if (ws->ev_tick) event_del(ws->ev_tick);
  if (ws->ev_start) event_del(ws->ev_start);
  worker *w = ws->w;
  if (--w->unfinished == 0) {
    /* Hand the last measurements over before saying we are done. */
    event_active(w->ev_flush, EV_TIMEOUT, 0);
  }
}

/* A scenario is finished on this worker when none of its VUs loops and none will start again. */
static void wscen_check_finished(wscen *ws) {
  if (ws->finished || !ws->started || ws->looping) return;
  scen *sc = ws->sc;
  int more = 0;
  if (!ws->stopping && sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_RAMPING_VUS) more = 1;
  if (!ws->stopping && sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_CONSTANT_VUS) more = 1;
  if (!more) wscen_finish(ws);
}

static void on_scen_hard(evutil_socket_t fd, short what, void *arg) {
  wscen *ws = arg;
  ws->stopping = 1;
  for (size_t i = 0; i < ws->nvus; i++)
    if (ws->vus[i]->looping) sb_vu_interrupt(ws->vus[i]->vu);
  wscen_finish(ws);
}

static void on_scen_end(evutil_socket_t fd, short what, void *arg) {
  wscen *ws = arg;
  ws->stopping = 1;
  if (ws->ev_tick) event_del(ws->ev_tick);
  wscen_check_finished(ws);
}

static void on_scen_tick(evutil_socket_t fd, short what, void *arg) {
  wscen *ws = arg;
  scen *sc = ws->sc;
  int64_t now = sb_clock_mono_us(), t = now - (ws->w->t0_us + sc->start_us);
  uint64_t target = ramp_target(sc, t);
  for (size_t i = 0; i < ws->nvus; i++) {
    wvu *v = ws->vus[i];
    if (v->index < target) {
      if (!v->active) vu_activate(v);
    } else if (v->active) {
      v->active = 0;          /* finishes its iteration, then leaves the loop */
      v->off_at_us = now;
    } else if (v->looping && v->off_at_us && now - v->off_at_us >= sc->graceful_ramp_down_us) {
      sb_vu_interrupt(v->vu);
    }
  }
}

static void on_scen_start(evutil_socket_t fd, short what, void *arg) {
  wscen *ws = arg;
  scen *sc = ws->sc;
  worker *w = ws->w;
  ws->started = 1;
  int64_t now = sb_clock_mono_us(), base = w->t0_us + sc->start_us;
  int_fast64_t none = 0; /* the first timer to fire says when the test really started */
  atomic_compare_exchange_strong(&w->e->started_wall_us, &none, sb_clock_wall_us() - sc->start_us);
  struct timeval tv = tv_of(base + sc->end_us - now);
  event_add(ws->ev_end, &tv);
  tv = tv_of(base + sc->end_us + sc->graceful_stop_us - now);
  event_add(ws->ev_hard, &tv);
  if (sc->executor == SPEEDBOAT__EXECUTOR__EXECUTOR_RAMPING_VUS) {
    tv = tv_of(RAMP_TICK_US);
    event_add(ws->ev_tick, &tv);
    on_scen_tick(-1, 0, ws);
  } else {
    for (size_t i = 0; i < ws->nvus && !ws->stopping; i++) vu_activate(ws->vus[i]);
  }
  wscen_check_finished(ws);
}

/* --- worker thread -------------------------------------------------------------------------- */

static void flush_metrics(worker *w) {
  sb_engine *e = w->e;
  pthread_mutex_lock(&e->mu);
  int rc = sb_metrics_merge(e->pending, w->m, NULL);
  pthread_mutex_unlock(&e->mu);
  if (rc == 0) sb_metrics_reset(w->m);
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
  worker *w = arg;
  flush_metrics(w);
  if (w->unfinished || w->reported || !w->started) return;
  /* Every scenario ended here and the last samples are handed over: tell the engine once. */
  w->reported = 1;
  sb_engine *e = w->e;
  if (atomic_fetch_sub(&e->unfinished, 1) != 1) return;
  pthread_mutex_lock(&e->mu);
  int send = !e->done_sent;
  e->done_sent = 1;
  pthread_mutex_unlock(&e->mu);
  if (send && e->cbs.done) e->cbs.done(e->cbs.ud);
}

static void stop_all(worker *w, int abort) {
  for (size_t i = 0; i < w->e->nsc; i++) {
    wscen *ws = &w->ws[i];
    if (ws->finished) continue;
    if (!ws->started) {
      ws->started = 1;
      wscen_finish(ws);
    } else if (abort) {
      on_scen_hard(-1, 0, ws);
    } else {
      on_scen_end(-1, 0, ws);
      /* the hard timer already runs; it caps the graceful stop */
    }
  }
}

/* Sleeps this worker until |t0_us| (monotonic) when that is less than a second away. Its VUs are
 * idle until then, and libevent's epoll timers round up to whole milliseconds: sleeping to the
 * microsecond is what lets agents on several machines start together (start skew). */
static void precise_wait(int64_t t0_us) {
  int64_t d = t0_us - sb_clock_mono_us();
  if (d <= 0 || d > PRECISE_START_MAX_US) return;
  struct timespec ts = {.tv_sec = t0_us / 1000000, .tv_nsec = (t0_us % 1000000) * 1000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static void on_cmd(evutil_socket_t fd, short what, void *arg) {
  worker *w = arg;
  int cmd = atomic_exchange(&w->cmd, CMD_NONE);
  switch (cmd) {
  case CMD_START:
    w->started = 1;
    precise_wait(w->t0_us);
    for (size_t i = 0; i < w->e->nsc; i++) {
      wscen *ws = &w->ws[i];
      if (ws->nvus == 0) { /* nothing to run here: finished at once */
        ws->started = 1;
        wscen_finish(ws);
        continue;
      }
      struct timeval tv = tv_of(w->t0_us + ws->sc->start_us - sb_clock_mono_us());
      event_add(ws->ev_start, &tv);
    }
    if (w->unfinished == 0) event_active(w->ev_flush, EV_TIMEOUT, 0); /* report done */
    break;
  case CMD_STOP: stop_all(w, 0); break;
  case CMD_ABORT:
    stop_all(w, 1);
    atomic_store(&w->stop, 0); /* every VU is out of its script now */
    break;
  case CMD_QUIT:
    stop_all(w, 1);
    atomic_store(&w->stop, 0);
    event_base_loopbreak(w->base);
    break;
  default: break;
  }
}

/* --- setup() and teardown() ------------------------------------------------------------------ */

/* Watchdog thread of a call: at the deadline, interrupts a call still running even if it never
 * lets worker 0's loop run (its timer then cannot fire). */
static void *call_watchdog(void *arg) {
  worker *w = arg;
  sb_engine *e = w->e;
  struct timespec ts;
  int64_t abs_us = sb_clock_wall_us() + (w->call_deadline_us - sb_clock_mono_us());
  ts.tv_sec = abs_us / 1000000;
  ts.tv_nsec = (long)(abs_us % 1000000) * 1000;
  pthread_mutex_lock(&e->mu);
  int rc = 0;
  while (w->call_live && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&e->cond, &e->mu, &ts);
  if (w->call_live) {
    atomic_store(&w->call_timed_out, 1);
    sb_vu_call_interrupt_async(w->call_vu);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

/* Ends the watchdog of the call (the call has ended, or its VU is about to be freed). */
static void call_watchdog_stop(worker *w) {
  sb_engine *e = w->e;
  pthread_mutex_lock(&e->mu);
  w->call_live = 0;
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->mu);
  if (w->call_wd_on) pthread_join(w->call_wd, NULL);
  w->call_wd_on = 0;
}

/* Ends the call in flight: the engine is free for the next call before |cb| runs. */
static void call_report(worker *w, int present, const char *json, const char *error,
                        int timed_out) {
  sb_engine *e = w->e;
  sb_engine_call_cb cb = e->call_cb;
  void *ud = e->call_ud;
  call_watchdog_stop(w);
  flush_metrics(w); /* the call's samples reach the next collect */
  free(e->call_fn);
  free(e->call_data);
  e->call_fn = e->call_data = NULL;
  atomic_store(&e->call_busy, 0);
  if (cb && !atomic_load(&e->freeing)) cb(present, json, error, timed_out, ud);
}

static void on_call_done(sb_vu *vu, sb_vu_result r, const char *json, const char *error,
                         void *ud) {
  worker *w = ud;
  sb_engine *e = w->e;
  char msg[160];
  event_del(w->ev_call_timeout);
  int timed_out = atomic_load(&w->call_timed_out);
  if (r == SB_VU_INTERRUPTED) {
    if (timed_out)
      snprintf(msg, sizeof(msg), "%s() execution timed out after %g seconds", e->call_fn,
               (double)e->call_timeout_ms / 1000.0);
    else
      snprintf(msg, sizeof(msg), "%s() was interrupted", e->call_fn);
    error = msg;
  }
  call_report(w, 1, json, error, r == SB_VU_INTERRUPTED && timed_out);
}

static void on_call_timeout(evutil_socket_t fd, short what, void *arg) {
  worker *w = arg;
  atomic_store(&w->call_timed_out, 1);
  sb_vu_interrupt(w->call_vu); /* calls on_call_done before returning */
}

/* Arms both timeouts of the call about to start. */
static void call_arm_timeout(worker *w) {
  sb_engine *e = w->e;
  atomic_store(&w->call_timed_out, 0);
  struct timeval tv = tv_of(e->call_timeout_ms * 1000);
  evtimer_add(w->ev_call_timeout, &tv);
  w->call_deadline_us = sb_clock_mono_us() + e->call_timeout_ms * 1000;
  pthread_mutex_lock(&e->mu);
  w->call_live = 1;
  pthread_mutex_unlock(&e->mu);
  /* Without a watchdog only calls that wait can time out; the call still runs. */
  w->call_wd_on = pthread_create(&w->call_wd, NULL, call_watchdog, w) == 0;
}

/* Worker 0: runs the call sb_engine_call() posted, on the call VU (made on first use). The
 * timeouts are armed first: a call that never waits runs inside sb_vu_call(). */
static void on_call(evutil_socket_t fd, short what, void *arg) {
  worker *w = arg;
  sb_engine *e = w->e;
  sb_err err;
  err.msg[0] = '\0';
  int rc = 0;
  if (!w->call_vu) rc = sb_vu_new(&w->call_vu, &w->env, 0, &err);
  if (rc == 0) {
    call_arm_timeout(w);
    rc = sb_vu_call(w->call_vu, e->call_fn, e->call_data, on_call_done, w, &err);
    if (rc) event_del(w->ev_call_timeout);
  }
  if (rc == SB_ENOTFOUND)
    call_report(w, 0, NULL, NULL, 0);
  else if (rc)
    call_report(w, 1, NULL, err.msg[0] ? err.msg : "out of memory", 0);
}

int sb_engine_call(sb_engine *e, const char *fn, const char *data_json, int64_t timeout_ms,
                   sb_engine_call_cb cb, void *ud) {
  if (e->nw == 0) return SB_EINVAL;
  if (atomic_exchange(&e->call_busy, 1)) return SB_EINVAL;
  e->call_fn = strdup(fn);
  e->call_data = data_json ? strdup(data_json) : NULL;
  if (!e->call_fn || (data_json && !e->call_data)) {
    free(e->call_fn);
    free(e->call_data);
    e->call_fn = e->call_data = NULL;
    atomic_store(&e->call_busy, 0);
    return SB_ENOMEM;
  }
  e->call_timeout_ms = timeout_ms > 0 ? timeout_ms : 60000;
  e->call_cb = cb;
  e->call_ud = ud;
  event_active(e->w[0].ev_call, EV_TIMEOUT, 0); /* libevent's lock orders the stores above */
  return 0;
}

int sb_engine_set_data(sb_engine *e, const char *data_json) {
  char *copy = NULL;
  if (data_json && !(copy = strdup(data_json))) return SB_ENOMEM;
  free(e->data_json);
  e->data_json = copy;
  return 0;
}

static void vu_log(const char *level, const char *source, const char *text, size_t len, void *ud) {
  worker *w = ud;
  if (w->e->cbs.log) w->e->cbs.log(level, source, text, len, w->e->cbs.ud);
}

static int worker_init(worker *w) {
  sb_engine *e = w->e;
  w->base = event_base_new();
  if (!w->base || sb_metrics_new(&w->m)) return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  w->ev_cmd = event_new(w->base, -1, 0, on_cmd, w);
  w->ev_flush = event_new(w->base, -1, EV_PERSIST, on_flush, w);
  w->ws = calloc(e->nsc ? e->nsc : 1, sizeof(*w->ws));
  if (!w->ev_cmd || !w->ev_flush || !w->ws) return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  if (sb_http_shared_new(&w->http, w->base, &e->http, &w->init_err) < 0) return SB_EINVAL;
  w->env = (sb_vu_env){.base = w->base, .metrics = w->m, .prog = e->prog, .http = w->http,
                       .files = e->ar, .shared = e->shared,
                       .env = (const char *const *)e->env, .log = vu_log, .log_ud = w,
                       .discard_response_bodies = e->discard_bodies, .data_json = &e->data_json,
                       .stop = &w->stop, .exec = &EXEC_OPS, .exec_ud = w};
  if (w->idx == 0) {
    w->ev_call = event_new(w->base, -1, 0, on_call, w);
    w->ev_call_timeout = evtimer_new(w->base, on_call_timeout, w);
    if (!w->ev_call || !w->ev_call_timeout) return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  }
  size_t n = 0;
  for (size_t s = 0; s < e->nsc; s++)
    for (uint64_t i = 0; i < e->sc[s].max_vus; i++)
      if ((int)(i % (uint64_t)e->nw) == w->idx) n++;
  w->vus = calloc(n ? n : 1, sizeof(*w->vus));
  if (!w->vus) return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  for (size_t s = 0; s < e->nsc; s++) {
    scen *sc = &e->sc[s];
    wscen *ws = &w->ws[s];
    ws->sc = sc;
    ws->w = w;
    ws->ev_start = event_new(w->base, -1, 0, on_scen_start, ws);
    ws->ev_end = event_new(w->base, -1, 0, on_scen_end, ws);
    ws->ev_hard = event_new(w->base, -1, 0, on_scen_hard, ws);
    ws->ev_tick = event_new(w->base, -1, EV_PERSIST, on_scen_tick, ws);
    ws->vus = calloc(sc->max_vus / (uint64_t)e->nw + 1, sizeof(*ws->vus));
    if (!ws->ev_start || !ws->ev_end || !ws->ev_hard || !ws->ev_tick || !ws->vus)
      return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
    for (uint64_t i = (uint64_t)w->idx; i < sc->max_vus; i += (uint64_t)e->nw) {
      wvu *v = &w->vus[w->nvus];
      v->ws = ws;
      v->index = i;
      int rc = sb_vu_new(&v->vu, &w->env, sc->first_id + i, &w->init_err);
      if (rc) return rc;
      w->nvus++;
      ws->vus[ws->nvus++] = v;
    }
  }
  w->unfinished = e->nsc;
  struct timeval tv = tv_of(FLUSH_INTERVAL_US);
  event_add(w->ev_flush, &tv);
  return 0;
}

static void worker_cleanup(worker *w) {
  call_watchdog_stop(w);
  sb_vu_free(w->call_vu); /* a call in flight ends without its callback */
  if (w->ev_call) event_free(w->ev_call);
  if (w->ev_call_timeout) event_free(w->ev_call_timeout);
  for (size_t i = 0; i < w->nvus; i++) sb_vu_free(w->vus[i].vu);
  free(w->vus);
  sb_http_shared_free(w->http); /* after the VUs: their clients borrow it */
  w->http = NULL;
  if (w->base) event_base_loop(w->base, EVLOOP_NONBLOCK); /* evdns ends its orphaned queries */
  if (w->ws) {
    for (size_t s = 0; s < w->e->nsc; s++) {
      wscen *ws = &w->ws[s];
      if (ws->ev_start) event_free(ws->ev_start);
      if (ws->ev_end) event_free(ws->ev_end);
      if (ws->ev_hard) event_free(ws->ev_hard);
      if (ws->ev_tick) event_free(ws->ev_tick);
      free(ws->vus);
    }
    free(w->ws);
  }
  if (w->ev_cmd) event_free(w->ev_cmd);
  if (w->ev_flush) event_free(w->ev_flush);
  sb_metrics_free(w->m);
  if (w->base) event_base_free(w->base);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  sb_engine *e = w->e;
  w->init_rc = worker_init(w);
  pthread_mutex_lock(&e->mu);
  e->ready++;
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->mu);
  if (w->init_rc == 0) event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
  worker_cleanup(w);
  return NULL;
}

static void send_cmd(worker *w, int cmd) {
  atomic_store(&w->cmd, cmd);
  event_active(w->ev_cmd, EV_TIMEOUT, 0);
}

/* --- setup ---------------------------------------------------------------------------------- */

static int64_t ms_to_us(int64_t ms) { return ms * 1000; }

static int scen_init(scen *sc, const Speedboat__Scenario *p, uint64_t first_id, sb_err *err) {
  sc->iter_offset = p->iteration_offset;
  sc->iter_stride = p->iteration_stride ? p->iteration_stride : 1;
  sc->name = strdup(p->name && *p->name ? p->name : "default");
  sc->exec = strdup(p->exec && *p->exec ? p->exec : "default");
  if (!sc->name || !sc->exec) return sb_err_set(err, SB_ENOMEM, "out of memory");
  sc->executor = p->executor;
  sc->vus = p->vus;
  sc->iterations = p->iterations;
  sc->start_us = ms_to_us(p->start_time_ms);
  sc->graceful_stop_us = ms_to_us(p->graceful_stop_ms);
  sc->graceful_ramp_down_us = ms_to_us(p->graceful_ramp_down_ms);
  sc->first_id = first_id;
  switch (p->executor) {
  case SPEEDBOAT__EXECUTOR__EXECUTOR_SHARED_ITERATIONS:
    sc->max_vus = p->vus < p->iterations ? p->vus : p->iterations;
    sc->end_us = ms_to_us(p->max_duration_ms);
    atomic_init(&sc->remaining, (int_fast64_t)p->iterations);
    break;
  case SPEEDBOAT__EXECUTOR__EXECUTOR_PER_VU_ITERATIONS:
    sc->max_vus = p->vus;
    sc->end_us = ms_to_us(p->max_duration_ms);
    break;
  case SPEEDBOAT__EXECUTOR__EXECUTOR_CONSTANT_VUS:
    sc->max_vus = p->vus;
    sc->end_us = ms_to_us(p->duration_ms);
    break;
  case SPEEDBOAT__EXECUTOR__EXECUTOR_RAMPING_VUS: {
    sc->start_vus = p->start_vus;
    sc->max_vus = p->start_vus;
    sc->nstages = p->n_stages;
    sc->stage_end_us = calloc(p->n_stages + 1, sizeof(int64_t));
    sc->stage_target = calloc(p->n_stages + 1, sizeof(uint64_t));
    if (!sc->stage_end_us || !sc->stage_target) return sb_err_set(err, SB_ENOMEM, "out of memory");
    int64_t t = 0;
    for (size_t i = 0; i < p->n_stages; i++) {
      t += ms_to_us(p->stages[i]->duration_ms);
      sc->stage_end_us[i] = t;
      sc->stage_target[i] = p->stages[i]->target;
      if (p->stages[i]->target > sc->max_vus) sc->max_vus = p->stages[i]->target;
    }
    sc->end_us = t;
    break;
  }
  default:
    return sb_err_set(err, SB_EFORMAT, "scenario '%s': unknown executor %d", sc->name, p->executor);
  }
  return 0;
}

static int load_program(sb_engine *e, const Speedboat__Prepare *p, sb_err *err) {
  sb_archive *ar = NULL;
  int rc = sb_archive_parse(&ar, p->archive.data, p->archive.len, err);
  if (rc) {
    sb_err_prefix(err, "archive: ");
    return rc;
  }
  rc = sb_program_new(&e->prog, ar, err);
  e->ar = ar; /* kept: open() in the VUs' init code reads its files */
  if (rc == 0) rc = sb_data_store_new(&e->shared, ar, err); /* SharedArray: once per agent */
  return rc;
}

static int copy_env(sb_engine *e, const Speedboat__Prepare *p) {
  e->env = calloc(2 * p->n_env + 1, sizeof(char *));
  if (!e->env) return SB_ENOMEM;
  for (size_t i = 0; i < p->n_env; i++) {
    e->env[2 * i] = strdup(p->env[i]->key ? p->env[i]->key : "");
    e->env[2 * i + 1] = strdup(p->env[i]->value ? p->env[i]->value : "");
    if (!e->env[2 * i] || !e->env[2 * i + 1]) return SB_ENOMEM;
  }
  return 0;
}

static int start_workers(sb_engine *e, const Speedboat__Prepare *p, sb_err *err) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nw = p->workers ? (int)p->workers : (int)(cores > 0 ? cores : 1);
  uint64_t most = 0;
  for (size_t s = 0; s < e->nsc; s++)
    if (e->sc[s].max_vus > most) most = e->sc[s].max_vus;
  if ((uint64_t)nw > most) nw = most ? (int)most : 1;
  e->nw = nw;
  e->w = calloc((size_t)nw, sizeof(*e->w));
  if (!e->w) return sb_err_set(err, SB_ENOMEM, "out of memory");
  int started = 0;
  for (int i = 0; i < nw; i++) {
    e->w[i].e = e;
    e->w[i].idx = i;
    if (pthread_create(&e->w[i].th, NULL, worker_main, &e->w[i]) != 0) break;
    started++;
  }
  pthread_mutex_lock(&e->mu);
  while (e->ready < started) pthread_cond_wait(&e->cond, &e->mu);
  pthread_mutex_unlock(&e->mu);
  int rc = started < nw ? sb_err_set(err, SB_ENOMEM, "cannot start worker threads") : 0;
  for (int i = 0; i < started && !rc; i++)
    if (e->w[i].init_rc) {
      rc = e->w[i].init_rc;
      if (err) *err = e->w[i].init_err;
    }
  if (rc) {
    for (int i = 0; i < started; i++) {
      if (e->w[i].init_rc == 0) send_cmd(&e->w[i], CMD_QUIT);
      pthread_join(e->w[i].th, NULL);
    }
    e->nw = 0;
  }
  return rc;
}

static void global_init_once(void) { evthread_use_pthreads(); }

void sb_engine_global_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, global_init_once);
}

int sb_engine_new(sb_engine **out, const Speedboat__Prepare *p, const sb_engine_cbs *cbs,
                  sb_err *err) {
  sb_engine_global_init();
  sb_engine *e = calloc(1, sizeof(*e));
  if (!e) return sb_err_set(err, SB_ENOMEM, "out of memory");
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cond, NULL);
  if (cbs) e->cbs = *cbs;
  e->discard_bodies = p->discard_response_bodies;
  int rc = sb_http_config_from_proto(&e->http, p->http, err);
  if (rc < 0) goto fail;
  if (e->http.discard_response_bodies) e->discard_bodies = 1;
  rc = sb_metrics_new(&e->pending);
  if (rc || copy_env(e, p)) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = load_program(e, p, err))) goto fail;
  if (p->options_json && *p->options_json && !(e->options_json = strdup(p->options_json))) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  e->sc = calloc(p->n_scenarios ? p->n_scenarios : 1, sizeof(*e->sc));
  if (!e->sc) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  uint64_t next_id = 1;
  for (size_t i = 0; i < p->n_scenarios; i++, e->nsc++) {
    if ((rc = scen_init(&e->sc[i], p->scenarios[i], next_id + p->scenarios[i]->vu_offset, err)))
      goto fail;
    e->sc[i].first_local_id = next_id;
    next_id += e->sc[i].max_vus;
    e->vus_max += e->sc[i].max_vus;
  }
  if ((rc = start_workers(e, p, err))) goto fail;
  atomic_init(&e->unfinished, (size_t)e->nw);
  *out = e;
  return 0;
fail:
  sb_engine_free(e);
  return rc;
}

int sb_engine_start(sb_engine *e, int64_t start_at_us) {
  int64_t delay = start_at_us ? start_at_us - sb_clock_wall_us() : 0;
  int64_t t0 = sb_clock_mono_us() + (delay > 0 ? delay : 0);
  for (int i = 0; i < e->nw; i++) {
    e->w[i].t0_us = t0;
    send_cmd(&e->w[i], CMD_START);
  }
  return 0;
}

void sb_engine_stop(sb_engine *e, int abort) {
  for (int i = 0; i < e->nw; i++) {
    if (abort) atomic_store(&e->w[i].stop, 1); /* reaches a VU that never yields the loop */
    send_cmd(&e->w[i], abort ? CMD_ABORT : CMD_STOP);
  }
}

int sb_engine_collect(sb_engine *e, sb_metrics *into, uint64_t *vus, sb_err *err) {
  pthread_mutex_lock(&e->mu);
  int rc = sb_metrics_merge(into, e->pending, err);
  sb_metrics_reset(e->pending);
  pthread_mutex_unlock(&e->mu);
  if (rc) return rc;
  /* Every VU that looped in the interval, so a test shorter than a snapshot still shows its VUs
   * whatever the timing of its workers. */
  *vus = atomic_exchange(&e->vus_seen, atomic_load(&e->vus_live));
  return 0;
}

uint64_t sb_engine_vus_max(const sb_engine *e) { return e->vus_max; }
int64_t sb_engine_started_at(const sb_engine *e) {
  return atomic_load(&((sb_engine *)e)->started_wall_us);
}
uint64_t sb_engine_iterations(const sb_engine *e) { return atomic_load(&((sb_engine *)e)->iterations); }
const char *sb_engine_error(const sb_engine *e) { return e->error; }

const char *sb_engine_abort_reason(sb_engine *e) {
  pthread_mutex_lock(&e->mu);
  const char *r = e->abort_reason; /* written once, under mu, never changed after */
  pthread_mutex_unlock(&e->mu);
  return r;
}

void sb_engine_free(sb_engine *e) {
  if (!e) return;
  atomic_store(&e->freeing, 1);
  if (e->nw) { /* a call that never waits would keep worker 0 from seeing CMD_QUIT */
    pthread_mutex_lock(&e->mu);
    if (e->w[0].call_live) sb_vu_call_interrupt_async(e->w[0].call_vu);
    pthread_mutex_unlock(&e->mu);
  }
  for (int i = 0; i < e->nw; i++) {
    atomic_store(&e->w[i].stop, 1); /* nor could an iteration that never waits */
    send_cmd(&e->w[i], CMD_QUIT);
  }
  for (int i = 0; i < e->nw; i++) pthread_join(e->w[i].th, NULL);
  free(e->w);
  for (size_t i = 0; i < e->nsc; i++) {
    free(e->sc[i].name);
    free(e->sc[i].exec);
    free(e->sc[i].stage_end_us);
    free(e->sc[i].stage_target);
  }
  free(e->sc);
  if (e->env)
    for (size_t i = 0; e->env[i]; i++) free(e->env[i]);
  free(e->env);
  sb_program_free(e->prog);
  sb_data_store_free(e->shared); /* points into |ar| */
  sb_archive_free(e->ar);
  sb_metrics_free(e->pending);
  free(e->data_json);
  free(e->options_json);
  free(e->call_fn);
  free(e->call_data);
  sb_http_config_clear(&e->http);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cond);
  free(e);
}
