/* The engine: worker threads and VU placement; the executors (agent/executor.h) decide when
 * iterations start.
 *
 * Time inside the engine is CLOCK_MONOTONIC microseconds. A scenario's life on a worker:
 *
 *   start ── VUs loop ── end (stop starting iterations) ── hard (interrupt what still runs)
 *
 * where "end" is the executor's (maxDuration for the iteration executors, duration for
 * constant-vus, the sum of the stages for ramping-vus), and "hard" is end + gracefulStop. A
 * scenario is finished on a worker when none of its VUs loops any more and its executor will
 * start nothing more (at once when it has no VU there: a small test split over many agents); the
 * engine is done when every scenario is finished on every worker.
 *
 * setup() and teardown() run on worker 0 (agent/engine_call.c); the types both files share are in
 * agent/engine_internal.h. */
#include "agent/engine.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine_internal.h"
#include "common/clock.h"

#define FLUSH_INTERVAL_US 250000
#define PRECISE_START_MAX_US 1000000

static void set_error(sb_engine *e, const char *msg) {
  pthread_mutex_lock(&e->mu);
  if (!e->error[0]) snprintf(e->error, sizeof(e->error), "%s", msg);
  pthread_mutex_unlock(&e->mu);
}

/* --- iterations ------------------------------------------------------------------------------ */

static void wscen_check_finished(sb_eng_run *ws);
static void vu_next(sb_eng_vu *v);
static void exec_fill(sb_eng_vu *v, sb_vu_iter *it, uint64_t index);

/* The scenario holds |v| (`vus` counts it) until vu_release(). */
static void vu_hold(sb_eng_vu *v) {
  if (v->x.looping) return;
  v->x.looping = 1;
  v->ws->looping++;
  atomic_fetch_add(&v->ws->sc->vus_live, 1);
  sb_engine *e = v->ws->w->e;
  atomic_fetch_add(&e->vus_live, 1);
  atomic_fetch_add(&e->vus_seen, 1);
}

static void vu_release(sb_eng_vu *v) {
  if (!v->x.looping) return;
  v->x.looping = 0;
  v->ws->looping--;
  atomic_fetch_sub(&v->ws->sc->vus_live, 1);
  atomic_fetch_sub(&v->ws->w->e->vus_live, 1);
}

/* minIterationDuration is over for |v|: on to its next iteration. */
static void on_wait(evutil_socket_t fd, short what, void *arg) {
  sb_eng_vu *v = arg;
  v->waiting = 0;
  vu_next(v);
  wscen_check_finished(v->ws);
}

/* A complete iteration shorter than minIterationDuration keeps |v| until it has lasted that
 * long (k6: the VU sleeps the rest). Returns whether |v| now waits. */
static int vu_wait_min(sb_eng_vu *v) {
  sb_eng_run *ws = v->ws;
  int64_t left = ws->sc->cfg->min_iteration_duration_us - (sb_clock_mono_us() - v->iter_us);
  if (left <= 0 || ws->run.stopping) return 0;
  if (!v->ev_wait && !(v->ev_wait = evtimer_new(ws->w->base, on_wait, v))) return 0;
  struct timeval tv = sb_engine_tv(left);
  evtimer_add(v->ev_wait, &tv);
  v->waiting = 1;
  return 1;
}

static void on_iteration(sb_vu *vu, sb_vu_result r, void *ud) {
  sb_eng_vu *v = ud;
  atomic_fetch_add(&v->ws->sc->iter_done, 1);
  if (r != SB_VU_INTERRUPTED) atomic_fetch_add(&v->ws->w->e->iterations, 1);
  else atomic_fetch_add(&v->ws->w->e->iterations_interrupted, 1);
  if (r != SB_VU_INTERRUPTED && v->ws->sc->cfg->min_iteration_duration_us > 0 && vu_wait_min(v))
    return;
  vu_next(v);
  wscen_check_finished(v->ws);
}

/* Starts an iteration on the held |v|, due at |due_us| (0: now), numbered |index| in the test
 * (UINT64_MAX: the scenario's own numbering). A failure stops the scenario on this worker. */
static int vu_iterate(sb_eng_vu *v, int64_t due_us, uint64_t index) {
  sb_eng_run *ws = v->ws;
  sb_eng_scen *sc = ws->sc;
  sb_vu_iter it = {.exec = sc->cfg->exec, .scenario = sc->cfg->name, .iteration = v->x.iters++,
                   .due_ms = (double)due_us / 1000.0};
  exec_fill(v, &it, index);
  v->iter_us = sb_clock_mono_us();
  sb_err err;
  err.msg[0] = '\0';
  int rc = sb_vu_start_iteration(v->vu, &it, on_iteration, v, &err);
  if (rc == 0) return 0;
  set_error(ws->w->e, err.msg);
  sb_engine_cbs *cb = &ws->w->e->cbs;
  if (cb->log) cb->log("error", NULL, err.msg, strlen(err.msg), cb->ud);
  ws->run.stopping = 1;
  vu_release(v);
  return rc;
}

/* Asks the executor what the free |v| does next: another iteration, leave, or wait in its
 * hands. Called when the VU is activated and after each iteration, always from the loop. */
static void vu_next(sb_eng_vu *v) {
  sb_eng_run *ws = v->ws;
  if (ws->run.stopping || !v->x.active) {
    vu_release(v);
    return;
  }
  if (ws->w->paused) { /* held until the resume asks next() (on_ctl) */
    v->parked = 1;
    return;
  }
  switch (ws->sc->ex->next(&ws->run, &v->x)) {
  case SB_EXEC_RUN: vu_iterate(v, 0, UINT64_MAX); break;
  case SB_EXEC_HOLD: break;
  default:
    v->x.active = 0;
    vu_release(v);
  }
}

/* --- what executors call (executor.h) ------------------------------------------------------- */

void sb_exec_activate(sb_exec_run *r, sb_exec_vu *x) {
  sb_eng_vu *v = (sb_eng_vu *)x;
  x->active = 1;
  x->off_at_us = 0;
  if (x->looping) return; /* busy: asks next() when its iteration ends */
  vu_hold(v);
  vu_next(v);
}

void sb_exec_interrupt(sb_exec_run *r, sb_exec_vu *x) { sb_vu_interrupt(((sb_eng_vu *)x)->vu); }

int sb_exec_start(sb_exec_run *r, sb_exec_vu *x, int64_t due_us, uint64_t index) {
  sb_eng_run *ws = (sb_eng_run *)r;
  sb_worker *w = ws->w;
  if (w->m_start_delay < 0)
    w->m_start_delay =
        sb_metrics_register(w->m, "iteration_start_delay", SB_METRIC_TREND, SB_VALUE_TIME, NULL);
  int64_t late = sb_clock_mono_us() - due_us;
  if (w->m_start_delay >= 0 && ws->tags)
    sb_metrics_add(w->m, w->m_start_delay, ws->tags, late > 0 ? (double)late / 1000.0 : 0.0);
  return vu_iterate((sb_eng_vu *)x, due_us, index);
}

void sb_exec_release(sb_exec_run *r, sb_exec_vu *x) {
  x->active = 0;
  vu_release((sb_eng_vu *)x);
}

void sb_exec_dropped(sb_exec_run *r) {
  sb_eng_run *ws = (sb_eng_run *)r;
  if (ws->tags) sb_metrics_add(ws->w->m, SB_M_DROPPED_ITERATIONS, ws->tags, 1);
}

int sb_exec_grow(sb_exec_run *r) {
  sb_eng_run *ws = (sb_eng_run *)r;
  if (ws->growing || r->stopping || r->nvus >= r->nslots) return 0;
  ws->growing = 1;
  event_active(ws->ev_grow, EV_TIMEOUT, 0);
  return 1;
}

void sb_exec_log(sb_exec_run *r, const char *level, const char *text) {
  sb_engine_cbs *cb = &((sb_eng_run *)r)->w->e->cbs;
  if (cb->log) cb->log(level, "engine", text, strlen(text), cb->ud);
}

/* --- k6/execution ----------------------------------------------------------------------------- */

/* What k6/execution says about the iteration about to start on |v|; |index|: its number in the
 * test when the executor knows it (arrival-rate), else UINT64_MAX. */
static void exec_fill(sb_eng_vu *v, sb_vu_iter *it, uint64_t index) {
  sb_eng_scen *sc = v->ws->sc;
  sb_engine *e = v->ws->w->e;
  uint64_t n = atomic_fetch_add(&sc->iter_next, 1);
  it->executor = sc->ex->name;
  it->id_in_instance = sc->first_local_id + v->x.index;
  it->scen_iter_instance = n;
  it->scen_iter_test =
      index != UINT64_MAX ? index : sc->cfg->iteration_offset + n * sc->cfg->iteration_stride;
  it->scen_start_unix_ms =
      (atomic_load(&e->started_wall_us) + sc->cfg->start_time_us) / 1000;
  it->scen = sc;
}

static void exec_instance(void *ud, sb_vu_instance_info *out) {
  sb_worker *w = ud;
  sb_engine *e = w->e;
  int64_t t0 = atomic_load(&e->started_wall_us);
  out->iterations_completed = atomic_load(&e->iterations);
  out->iterations_interrupted = atomic_load(&e->iterations_interrupted);
  out->vus_active = atomic_load(&e->vus_live);
  out->vus_initialized = atomic_load(&e->vus_max);
  out->run_ms = t0 ? (double)(sb_clock_wall_us() - t0) / 1000.0 : 0.0;
}

/* k6's progress, as the scenario's executor measures it on this worker. */
static double exec_progress(void *ud, const void *scenp) {
  sb_worker *w = ud;
  const sb_eng_scen *sc = scenp;
  if (!sc) return 0.0;
  const sb_eng_run *ws = &w->ws[sc - w->e->sc];
  uint64_t done = atomic_load(&((sb_eng_scen *)sc)->iter_done);
  double p = sc->ex->progress(&ws->run, done, sb_clock_mono_us());
  return p < 0 ? 0.0 : p > 1 ? 1.0 : p;
}

/* test.abort(): the first reason wins; the whole engine stops at once (the controller makes the
 * exit code from sb_engine_abort_reason()). From the aborting VU's worker thread. */
static void exec_abort(void *ud, const char *reason) {
  sb_worker *w = ud;
  sb_engine *e = w->e;
  pthread_mutex_lock(&e->mu);
  int first = !e->abort_reason[0];
  if (first) snprintf(e->abort_reason, sizeof(e->abort_reason), "%s", reason);
  pthread_mutex_unlock(&e->mu);
  if (!first) return;
  if (e->cbs.log) e->cbs.log("error", NULL, reason, strlen(reason), e->cbs.ud);
  if (!e->call_busy) sb_engine_stop(e, 1); /* setup()/teardown(): their call ends by itself */
}

static const char *exec_options(void *ud) { return ((sb_worker *)ud)->e->cfg.options_json; }

static const sb_vu_exec_ops EXEC_OPS = {
    .instance = exec_instance, .progress = exec_progress, .abort = exec_abort,
    .options_json = exec_options};

/* --- a scenario's life on a worker ----------------------------------------------------------- */

/* Nothing more starts on this worker: the executor lets go of the VUs it holds idle, and VUs
 * waiting out minIterationDuration leave (no iteration follows their wait). */
static void wscen_stop(sb_eng_run *ws) {
  ws->run.stopping = 1;
  if (ws->ex_init && ws->sc->ex->stop) ws->sc->ex->stop(&ws->run);
  for (size_t i = 0; i < ws->run.nvus; i++) {
    sb_eng_vu *v = (sb_eng_vu *)ws->run.vus[i];
    if (v->parked) { /* paused: it leaves without another iteration */
      v->parked = 0;
      v->x.active = 0;
      vu_release(v);
      continue;
    }
    if (!v->waiting) continue;
    event_del(v->ev_wait);
    v->waiting = 0;
    v->x.active = 0;
    vu_release(v);
  }
}

/* Sets the scenario's tags (options.scenarios.x.tags) on a VU just made: every sample it makes
 * carries them, and exec.vu.tags shows them, as in k6. */
static int vu_set_tags(sb_eng_run *ws, sb_eng_vu *v, sb_err *err) {
  const sb_scenario_cfg *c = ws->sc->cfg;
  for (size_t i = 0; i < c->ntags; i++)
    if (sb_vu_tag_set(v->vu, c->tags[2 * i], c->tags[2 * i + 1]))
      return sb_err_set(err, SB_EINVAL, "scenario %s: cannot set tag '%s' (at most %d tags)",
                        c->name, c->tags[2 * i], SB_VU_MAX_TAGS);
  return 0;
}

/* Worker |idx|'s place in scenario |sc|'s order of workers (its VU k sits on place k % nw). */
static int place_of(const sb_eng_scen *sc, int idx, int nw) {
  return (idx - sc->rot % nw + nw) % nw;
}

/* Makes the next VU of slot |k| of |ws| (its init code runs now). */
static int vu_make(sb_eng_run *ws, size_t k, sb_err *err) {
  sb_worker *w = ws->w;
  sb_eng_vu *v = &ws->slots[k];
  v->ws = ws;
  v->x.index = (uint64_t)place_of(ws->sc, w->idx, w->e->nw) + (uint64_t)k * (uint64_t)w->e->nw;
  int rc = sb_vu_new(&v->vu, &ws->env, ws->sc->first_id + v->x.index, err);
  if (rc == 0 && (rc = vu_set_tags(ws, v, err))) {
    sb_vu_free(v->vu);
    v->vu = NULL;
  }
  if (rc) return rc;
  if (ws->sc->ex->warm) sb_vu_warm(v->vu);
  ws->run.vus[ws->run.nvus++] = &v->x;
  return 0;
}

/* An executor asked for one more VU (sb_exec_grow): made here, on the loop, between callbacks. */
static void on_grow(evutil_socket_t fd, short what, void *arg) {
  sb_eng_run *ws = arg;
  const sb_exec *ex = ws->sc->ex;
  ws->growing = 0;
  if (ws->run.stopping) return;
  sb_err err;
  err.msg[0] = '\0';
  if (vu_make(ws, ws->run.nvus, &err)) {
    char msg[SB_ERR_MAX + 64];
    snprintf(msg, sizeof(msg), "initialising a VU for scenario %s: %.900s", ws->sc->cfg->name,
             err.msg);
    sb_exec_log(&ws->run, "error", msg);
    if (ex->added) ex->added(&ws->run, NULL);
    return;
  }
  atomic_fetch_add(&ws->w->e->vus_max, 1);
  sb_exec_vu *x = ws->run.vus[ws->run.nvus - 1];
  if (ex->added) ex->added(&ws->run, x);
  else sb_exec_activate(&ws->run, x);
}

static void wscen_finish(sb_eng_run *ws) {
  if (ws->finished) return;
  ws->finished = 1;
  wscen_stop(ws);
  if (ws->ev_end) event_del(ws->ev_end);
  if (ws->ev_hard) event_del(ws->ev_hard);
  if (ws->ev_start) event_del(ws->ev_start);
  sb_worker *w = ws->w;
  if (--w->unfinished == 0) {
    /* Hand the last measurements over before saying we are done. */
    event_active(w->ev_flush, EV_TIMEOUT, 0);
  }
}

/* A scenario is finished on this worker when none of its VUs loops and none will start again. */
static void wscen_check_finished(sb_eng_run *ws) {
  if (ws->finished || !ws->started || ws->looping) return;
  if (ws->run.stopping || !ws->sc->ex->more(&ws->run)) wscen_finish(ws);
}

static void on_scen_hard(evutil_socket_t fd, short what, void *arg) {
  sb_eng_run *ws = arg;
  wscen_stop(ws);
  for (size_t i = 0; i < ws->run.nvus; i++)
    if (ws->run.vus[i]->looping) sb_vu_interrupt(((sb_eng_vu *)ws->run.vus[i])->vu);
  wscen_finish(ws);
}

static void on_scen_end(evutil_socket_t fd, short what, void *arg) {
  sb_eng_run *ws = arg;
  wscen_stop(ws);
  wscen_check_finished(ws);
}

static void on_scen_start(evutil_socket_t fd, short what, void *arg) {
  sb_eng_run *ws = arg;
  sb_eng_scen *sc = ws->sc;
  sb_worker *w = ws->w;
  ws->started = 1;
  int64_t now = sb_clock_mono_us(), base = w->t0_us + sc->cfg->start_time_us;
  int_fast64_t none = 0; /* the first timer to fire says when the test really started */
  atomic_compare_exchange_strong(&w->e->started_wall_us, &none,
                                 sb_clock_wall_us() - sc->cfg->start_time_us);
  ws->run.start_us = base;
  struct timeval tv = sb_engine_tv(base + sc->end_us - now);
  event_add(ws->ev_end, &tv);
  tv = sb_engine_tv(base + sc->end_us + sc->cfg->graceful_stop_us - now);
  event_add(ws->ev_hard, &tv);
  sc->ex->start(&ws->run);
  wscen_check_finished(ws);
}

/* --- worker thread -------------------------------------------------------------------------- */

void sb_engine_flush(sb_worker *w) {
  sb_engine *e = w->e;
  pthread_mutex_lock(&e->mu);
  int rc = sb_metrics_merge(e->pending, w->m, NULL);
  pthread_mutex_unlock(&e->mu);
  if (rc == 0) sb_metrics_reset(w->m);
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
  sb_worker *w = arg;
  sb_engine_flush(w);
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

static void stop_all(sb_worker *w, int abort) {
  for (size_t i = 0; i < w->e->nsc; i++) {
    sb_eng_run *ws = &w->ws[i];
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

static void run_cmd(sb_worker *w, int cmd) {
  switch (cmd) {
  case CMD_START:
    w->started = 1;
    precise_wait(w->t0_us);
    sb_selfmon_probe_arm(&w->e->mon.probes[w->idx]);
    for (size_t i = 0; i < w->e->nsc; i++) {
      sb_eng_run *ws = &w->ws[i];
      ws->run.start_us = w->t0_us + ws->sc->cfg->start_time_us;
      if (ws->run.nslots == 0) { /* nothing to run here: finished at once */
        ws->started = 1;
        wscen_finish(ws);
        continue;
      }
      struct timeval tv = sb_engine_tv(ws->run.start_us - sb_clock_mono_us());
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

/* Commands are bits in w->cmd: send_cmd() sets one from any thread, and the worker takes them
 * all at once, in the order of a test's life (START, STOP, ABORT, QUIT). A single slot holding
 * the last command let a STOP overwrite a START the worker had not read: that worker never
 * started, so never reported done (engine_test: test_start_then_stop_unread). No lock: one
 * fetch-or per command, one exchange per wake-up. */
static void on_cmd(evutil_socket_t fd, short what, void *arg) {
  sb_worker *w = arg;
  int cmds = atomic_exchange(&w->cmd, 0);
  if (cmds & (1 << CMD_QUIT)) cmds &= ~(1 << CMD_START); /* freed before it started */
  for (int c = CMD_START; c <= CMD_QUIT; c++)
    if (cmds & (1 << c)) run_cmd(w, c);
}

/* --- pause, resume, scale (sb_engine_pause, sb_engine_scale) -------------------------------- */

/* Resumed: the VUs that came free during the pause ask their executor what next. */
static void unpark_all(sb_eng_run *ws) {
  for (size_t i = 0; i < ws->run.nvus; i++) {
    sb_eng_vu *v = (sb_eng_vu *)ws->run.vus[i];
    if (!v->parked) continue;
    v->parked = 0;
    vu_next(v);
  }
  wscen_check_finished(ws);
}

/* The engine's pause flag or a scenario's VU count changed: this worker catches up, on its loop.
 * Reads the state, not a queue of commands, so quick successions cannot be lost or reordered. */
static void on_ctl(evutil_socket_t fd, short what, void *arg) {
  sb_worker *w = arg;
  sb_engine *e = w->e;
  for (size_t s = 0; s < e->nsc; s++) {
    sb_eng_run *ws = &w->ws[s];
    uint64_t want = atomic_load(&ws->sc->scale_vus);
    if (want == ws->run.scaled_vus) continue;
    ws->run.scaled_vus = want;
    if (ws->started && !ws->finished && !ws->run.stopping && ws->sc->ex->scale)
      ws->sc->ex->scale(&ws->run);
  }
  int paused = atomic_load(&e->paused);
  if (paused == w->paused) return;
  w->paused = paused;
  for (size_t s = 0; s < e->nsc; s++) {
    sb_eng_run *ws = &w->ws[s];
    ws->run.paused = (unsigned)paused;
    if (!paused && ws->started && !ws->finished) unpark_all(ws);
    if (ws->ex_init && ws->sc->ex->pause && ws->started && !ws->finished)
      ws->sc->ex->pause(&ws->run);
  }
}

static void vu_log(const char *level, const char *source, const char *text, size_t len, void *ud) {
  sb_worker *w = ud;
  if (w->e->cbs.log) w->e->cbs.log(level, source, text, len, w->e->cbs.ud);
}

/* Scenario |s| on worker |w|: its events, the executor's state and its VUs (every nw-th index,
 * created here: their init code runs now). */
/* VU slots of scenario |sc| on worker |idx| of |nw|: the indices i < max with i % nw == idx. */
static size_t slots_on(const sb_eng_scen *sc, int idx, int nw) {
  uint64_t n = sc->max_vus, p = (uint64_t)place_of(sc, idx, nw);
  return (size_t)(n / (uint64_t)nw + (p < n % (uint64_t)nw));
}

/* The tag set of the executor's own samples (dropped_iterations, iteration_start_delay): the
 * scenario's name and tags. */
static const sb_tagset *run_tags(sb_eng_run *ws) {
  const sb_scenario_cfg *c = ws->sc->cfg;
  const char **kv = calloc(2 * (c->ntags + 1), sizeof(*kv));
  if (!kv) return NULL;
  size_t n = 0;
  kv[n++] = "scenario", kv[n++] = c->name;
  for (size_t i = 0; i < 2 * c->ntags; i += 2)
    if (strcmp(c->tags[i], "scenario")) kv[n++] = c->tags[i], kv[n++] = c->tags[i + 1];
  const sb_tagset *t = sb_metrics_tags(ws->w->m, kv, n / 2);
  free(kv);
  return t;
}

/* Scenario |s| on worker |w|: its events, the executor's state and its VUs (every nw-th index;
 * the first ones made here, their init code running now; the executor may ask for the others). */
static int wscen_init(sb_worker *w, size_t s, size_t *slot) {
  sb_engine *e = w->e;
  sb_eng_scen *sc = &e->sc[s];
  sb_eng_run *ws = &w->ws[s];
  ws->sc = sc;
  ws->w = w;
  ws->run = (sb_exec_run){.sc = sc->cfg, .shared = sc->shared, .base = w->base,
                          .scaled_vus = UINT64_MAX,
                          .nslots = slots_on(sc, w->idx, e->nw),
                          .worker = (size_t)place_of(sc, w->idx, e->nw),
                          .nworkers = (size_t)e->nw};
  ws->slots = &w->vus[*slot];
  *slot += ws->run.nslots;
  ws->env = w->env;
  if (sc->env) ws->env.env = sc->env;
  ws->tags = run_tags(ws);
  ws->ev_start = event_new(w->base, -1, 0, on_scen_start, ws);
  ws->ev_end = event_new(w->base, -1, 0, on_scen_end, ws);
  ws->ev_hard = event_new(w->base, -1, 0, on_scen_hard, ws);
  ws->ev_grow = event_new(w->base, -1, 0, on_grow, ws);
  ws->run.vus = calloc(ws->run.nslots + 1, sizeof(*ws->run.vus));
  if (!ws->ev_start || !ws->ev_end || !ws->ev_hard || !ws->ev_grow || !ws->run.vus || !ws->tags)
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  if (sc->ex->init && sc->ex->init(&ws->run))
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  ws->ex_init = 1;
  for (size_t k = 0; k < ws->run.nslots; k++) {
    if (ws->run.worker + (uint64_t)k * (uint64_t)e->nw >= sc->initial_vus) break;
    int rc = vu_make(ws, k, &w->init_err);
    if (rc) return rc;
  }
  return 0;
}

/* The worker's loop. libevent's epoll backend rounds timeouts up to whole milliseconds unless it
 * is asked to use a timerfd (one more syscall per turn of the loop): asked only when a scenario
 * schedules iterations (arrival-rate), where a millisecond is a late start.
 *
 * An iteration that never waits (a CPU-bound script, or requests that fail at once) finishes
 * inside a callback and activates the next one: without a bound, libevent would run active
 * callbacks for ever and never look at its timers — the end of the test among them. So the loop
 * goes back to its timers and sockets after WORKER_DISPATCH_US of callbacks (one clock read per
 * callback, from the vDSO). */
#define WORKER_DISPATCH_US 5000

static struct event_base *worker_base(const sb_engine *e) {
  int precise = 0;
  for (size_t s = 0; s < e->nsc; s++) precise |= e->sc[s].ex->precise;
  struct event_config *cfg = event_config_new();
  if (!cfg) return NULL;
  if (precise) event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
  /* A timer (sleep(), setTimeout(), a request's timeout) counts from the moment it is set: with
   * libevent's cached loop time it counted from the start of the callback that resumed the VU,
   * so after 30 ms of script a sleep(0.02) returned at once. One clock read per timer set. */
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME);
  struct timeval every = {0, WORKER_DISPATCH_US};
  event_config_set_max_dispatch_interval(cfg, &every, -1, 0);
  struct event_base *b = event_base_new_with_config(cfg);
  event_config_free(cfg);
  return b;
}

static int worker_init(sb_worker *w) {
  sb_engine *e = w->e;
  w->base = worker_base(e);
  if (!w->base || sb_metrics_new(&w->m) || (e->cfg.points && sb_metrics_points_enable(w->m)))
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  w->ev_cmd = event_new(w->base, -1, 0, on_cmd, w);
  w->ev_flush = event_new(w->base, -1, EV_PERSIST, on_flush, w);
  w->ev_ctl = event_new(w->base, -1, 0, on_ctl, w);
  w->ws = calloc(e->nsc ? e->nsc : 1, sizeof(*w->ws));
  if (!w->ev_cmd || !w->ev_flush || !w->ev_ctl || !w->ws ||
      sb_selfmon_probe_init(&e->mon.probes[w->idx], w->base))
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  if (sb_http_shared_new(&w->http, w->base, &e->cfg.http, &w->init_err) < 0) return SB_EINVAL;
  sb_http_shared_set_allow(w->http, e->cfg.allow);
  if (sb_vu_pool_wanted() && !(w->pool = sb_vu_pool_new())) /* else malloc: checkers see all */
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  unsigned per_heap = sb_vu_heaps_wanted();
  if (per_heap > 1 && !(w->heaps = sb_vu_heaps_new(per_heap, w->pool)))
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  w->env = (sb_vu_env){.mem_pool = w->pool, .heaps = w->heaps, .base = w->base, .metrics = w->m, .prog = e->prog, .http = w->http,
                       .files = e->ar, .shared = e->shared,
                       .env = (const char *const *)e->cfg.env, .log = vu_log, .log_ud = w,
                       .discard_response_bodies = e->discard_bodies, .data_json = &e->data_json,
                       .stop = &w->stop, .exec = &EXEC_OPS, .exec_ud = w,
                       .heap_limit = e->cfg.vu_heap_limit,
                       .init_timeout_us = e->cfg.init_timeout_us};
  if (w->idx == 0 && sb_engine_call_init(w))
    return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  size_t n = 0, slot = 0;
  for (size_t s = 0; s < e->nsc; s++) n += slots_on(&e->sc[s], w->idx, e->nw);
  w->vus = calloc(n ? n : 1, sizeof(*w->vus));
  if (!w->vus) return sb_err_set(&w->init_err, SB_ENOMEM, "out of memory");
  w->nvus = n;
  w->m_start_delay = -1;
  for (size_t s = 0; s < e->nsc; s++) {
    int rc = wscen_init(w, s, &slot);
    if (rc) return rc;
  }
  w->unfinished = e->nsc;
  struct timeval tv = sb_engine_tv(FLUSH_INTERVAL_US);
  event_add(w->ev_flush, &tv);
  return 0;
}

static void worker_cleanup(sb_worker *w) {
  sb_engine_call_cleanup(w);
  for (size_t i = 0; w->vus && i < w->nvus; i++) {
    sb_vu_free(w->vus[i].vu);
    if (w->vus[i].ev_wait) event_free(w->vus[i].ev_wait);
  }
  free(w->vus);
  sb_vu_heaps_free(w->heaps); /* after every VU of the worker, the call VU included */
  w->heaps = NULL;
  sb_vu_pool_free(w->pool); /* after the heaps */
  w->pool = NULL;
  sb_http_shared_free(w->http); /* after the VUs: their clients borrow it */
  w->http = NULL;
  if (w->base) event_base_loop(w->base, EVLOOP_NONBLOCK); /* evdns ends its orphaned queries */
  if (w->ws) {
    for (size_t s = 0; s < w->e->nsc; s++) {
      sb_eng_run *ws = &w->ws[s];
      if (ws->ex_init && ws->sc->ex->clear) ws->sc->ex->clear(&ws->run);
      if (ws->ev_start) event_free(ws->ev_start);
      if (ws->ev_end) event_free(ws->ev_end);
      if (ws->ev_hard) event_free(ws->ev_hard);
      if (ws->ev_grow) event_free(ws->ev_grow);
      free(ws->run.vus);
    }
    free(w->ws);
  }
  if (w->ev_cmd) event_free(w->ev_cmd);
  if (w->ev_flush) event_free(w->ev_flush);
  if (w->ev_ctl) event_free(w->ev_ctl);
  sb_selfmon_probe_clear(&w->e->mon.probes[w->idx]);
  sb_metrics_free(w->m);
  if (w->base) event_base_free(w->base);
}

static void *worker_main(void *arg) {
  sb_worker *w = arg;
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

static void send_cmd(sb_worker *w, int cmd) {
  atomic_fetch_or(&w->cmd, 1 << cmd); /* see on_cmd() */
  event_active(w->ev_cmd, EV_TIMEOUT, 0);
}

/* --- setup ---------------------------------------------------------------------------------- */

void sb_engine_cfg_init(sb_engine_cfg *c) {
  memset(c, 0, sizeof(*c));
  sb_http_config_defaults(&c->http);
  c->vu_heap_limit = SB_ENGINE_VU_HEAP_DEFAULT;
  c->init_timeout_us = SB_ENGINE_INIT_TIMEOUT_DEFAULT_US;
}

void sb_engine_cfg_clear(sb_engine_cfg *c) {
  for (size_t i = 0; i < c->nscenarios; i++) sb_scenario_cfg_clear(&c->scenarios[i]);
  free(c->scenarios);
  if (c->env)
    for (size_t i = 0; c->env[i]; i++) free(c->env[i]);
  free(c->env);
  free(c->options_json);
  sb_http_config_clear(&c->http);
  sb_engine_cfg_init(c);
}

static int load_program(sb_engine *e, const sb_engine_cfg *c, sb_err *err) {
  sb_archive *ar = NULL;
  int rc = sb_archive_parse(&ar, c->archive, c->archive_len, err);
  if (rc) {
    sb_err_prefix(err, "archive: ");
    return rc;
  }
  rc = sb_program_new(&e->prog, ar, err);
  e->ar = ar; /* kept: open() in the VUs' init code reads its files */
  if (rc == 0) rc = sb_data_store_new(&e->shared, ar, err); /* SharedArray: once per agent */
  return rc;
}

/* The __ENV of scenario |c|'s VUs: the test's pairs with the scenario's over them (NULL when it
 * has none of its own: the test's). The strings stay in the config. */
static int scen_env(const sb_engine_cfg *cfg, const sb_scenario_cfg *c, const char ***out) {
  size_t n = 0;
  *out = NULL;
  if (!c->nenv) return 0;
  while (cfg->env && cfg->env[n]) n++;
  const char **kv = calloc(n + 2 * c->nenv + 1, sizeof(*kv));
  if (!kv) return SB_ENOMEM;
  memcpy(kv, cfg->env, n * sizeof(*kv));
  for (size_t i = 0; i < 2 * c->nenv; i += 2) {
    size_t k = 0;
    while (k < n && strcmp(kv[k], c->env[i])) k += 2;
    if (k == n) n += 2;
    kv[k] = c->env[i];
    kv[k + 1] = c->env[i + 1];
  }
  *out = kv;
  return 0;
}

/* The engine's view of every scenario: executor, VU numbering, the executor's shared state. */
static int scens_init(sb_engine *e, sb_err *err) {
  e->sc = calloc(e->cfg.nscenarios ? e->cfg.nscenarios : 1, sizeof(*e->sc));
  if (!e->sc) return sb_err_set(err, SB_ENOMEM, "out of memory");
  uint64_t next_id = 1;
  for (size_t i = 0; i < e->cfg.nscenarios; i++) {
    sb_eng_scen *sc = &e->sc[e->nsc++];
    sc->cfg = &e->cfg.scenarios[i];
    sc->ex = sc->cfg->ex;
    if (!sc->ex) return sb_err_set(err, SB_EFORMAT, "scenario %zu: no executor", i);
    if ((sc->ex->shared_new && sc->ex->shared_new(&sc->shared, sc->cfg)) ||
        scen_env(&e->cfg, sc->cfg, &sc->env))
      return sb_err_set(err, SB_ENOMEM, "out of memory");
    sc->max_vus = sc->ex->max_vus(sc->cfg);
    sc->initial_vus = sc->ex->initial_vus ? sc->ex->initial_vus(sc->cfg) : sc->max_vus;
    sc->end_us = sc->ex->end_us(sc->cfg);
    sc->first_id = next_id + sc->cfg->vu_offset;
    sc->first_local_id = next_id;
    atomic_init(&sc->scale_vus, UINT64_MAX);
    next_id += sc->max_vus;
    atomic_fetch_add(&e->vus_max, sc->initial_vus);
  }
  return 0;
}

static int start_workers(sb_engine *e, sb_err *err) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nw = e->cfg.workers ? (int)e->cfg.workers : (int)(cores > 0 ? cores : 1);
  uint64_t all = 0; /* no more workers than VUs: the scenarios' VUs go round the workers */
  for (size_t s = 0; s < e->nsc; s++) all += e->sc[s].max_vus;
  if (nw < 1) nw = 1;
  if ((uint64_t)nw > all) nw = all ? (int)all : 1;
  for (size_t s = 0, before = 0; s < e->nsc; before += e->sc[s].max_vus, s++)
    e->sc[s].rot = (int)(before % (uint64_t)nw);
  e->nw = nw;
  e->w = calloc((size_t)nw, sizeof(*e->w));
  if (!e->w || sb_selfmon_init(&e->mon, (size_t)nw)) {
    e->nw = 0; /* no worker started: sb_engine_free() must not wake any */
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  }
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

int sb_engine_new(sb_engine **out, sb_engine_cfg *cfg, const sb_engine_cbs *cbs, sb_err *err) {
  sb_engine_global_init();
  sb_engine *e = calloc(1, sizeof(*e));
  if (!e) return sb_err_set(err, SB_ENOMEM, "out of memory");
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cond, NULL);
  if (cbs) e->cbs = *cbs;
  e->cfg = *cfg; /* borrowed until success: a failure leaves it to the caller */
  e->discard_bodies = cfg->discard_response_bodies || cfg->http.discard_response_bodies;
  int rc = sb_metrics_new(&e->pending);
  if (!rc && cfg->points) rc = sb_metrics_points_enable(e->pending);
  if (rc) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = load_program(e, cfg, err))) goto fail;
  if ((rc = scens_init(e, err))) goto fail;
  if ((rc = start_workers(e, err))) goto fail;
  atomic_init(&e->unfinished, (size_t)e->nw);
  e->cfg.archive = NULL; /* read; not kept */
  e->cfg.archive_len = 0;
  sb_engine_cfg_init(cfg); /* the engine owns it now */
  *out = e;
  return 0;
fail:
  sb_engine_cfg_init(&e->cfg); /* still the caller's */
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

uint64_t sb_engine_vus_max(const sb_engine *e) {
  return atomic_load(&((sb_engine *)e)->vus_max);
}
int64_t sb_engine_started_at(const sb_engine *e) {
  return atomic_load(&((sb_engine *)e)->started_wall_us);
}
uint64_t sb_engine_iterations(const sb_engine *e) {
  return atomic_load(&((sb_engine *)e)->iterations);
}
const char *sb_engine_error(const sb_engine *e) { return e->error; }

void sb_engine_selfmon(sb_engine *e, sb_selfmon_sample *out) {
  sb_selfmon_read(&e->mon, sb_clock_mono_us(), out);
}

const char *sb_engine_abort_reason(sb_engine *e) {
  pthread_mutex_lock(&e->mu);
  const char *r = e->abort_reason; /* written once, under mu, never changed after */
  pthread_mutex_unlock(&e->mu);
  return r;
}

void sb_engine_free(sb_engine *e) {
  if (!e) return;
  atomic_store(&e->freeing, 1);
  sb_engine_call_interrupt(e); /* a call that never waits would keep worker 0 from CMD_QUIT */
  for (int i = 0; i < e->nw; i++) {
    atomic_store(&e->w[i].stop, 1); /* nor could an iteration that never waits */
    send_cmd(&e->w[i], CMD_QUIT);
  }
  for (int i = 0; i < e->nw; i++) pthread_join(e->w[i].th, NULL);
  free(e->w);
  sb_selfmon_clear(&e->mon);
  for (size_t i = 0; i < e->nsc; i++) {
    if (e->sc[i].shared) e->sc[i].ex->shared_free(e->sc[i].shared);
    free((void *)e->sc[i].env);
  }
  free(e->sc);
  sb_program_free(e->prog);
  sb_data_store_free(e->shared); /* points into |ar| */
  sb_archive_free(e->ar);
  sb_metrics_free(e->pending);
  free(e->data_json);
  free(e->call_fn);
  free(e->call_data);
  sb_engine_cfg_clear(&e->cfg);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cond);
  free(e);
}

/* Wakes every worker's on_ctl(). A worker that failed its init has no loop: the engine is being
 * freed then anyway. */
static void ctl_all(sb_engine *e) {
  for (int i = 0; i < e->nw; i++)
    if (e->w[i].ev_ctl) event_active(e->w[i].ev_ctl, EV_TIMEOUT, 0);
}

void sb_engine_pause(sb_engine *e, int paused) {
  atomic_store(&e->paused, paused ? 1 : 0);
  ctl_all(e);
}

int sb_engine_paused(const sb_engine *e) { return atomic_load(&((sb_engine *)e)->paused); }

int sb_engine_scale(sb_engine *e, size_t idx, uint64_t vus) {
  if (idx >= e->nsc || !e->sc[idx].ex->scale) return SB_EINVAL;
  atomic_store(&e->sc[idx].scale_vus, vus);
  ctl_all(e);
  return 0;
}

uint64_t sb_engine_scenario_vus(const sb_engine *e, size_t idx) {
  return idx < e->nsc ? atomic_load(&((sb_engine *)e)->sc[idx].vus_live) : 0;
}

size_t sb_engine_nscenarios(const sb_engine *e) { return e->nsc; }

uint64_t sb_engine_iterations_interrupted(const sb_engine *e) {
  return atomic_load(&((sb_engine *)e)->iterations_interrupted);
}
