/* setup() and teardown() (see engine.h): one call at a time, on worker 0's loop, on a VU of
 * its own (__VU 0) made on the first call. Worker 0 flushes its metrics when a call ends, so the
 * call's samples are pending before the callback says it ended. The timeout is twofold: a timer
 * on worker 0's loop interrupts a call that waits (sleep, http), and a watchdog thread reaches
 * one that never yields the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine_internal.h"
#include "common/clock.h"

/* Watchdog thread of a call: at the deadline, interrupts a call still running even if it never
 * lets worker 0's loop run (its timer then cannot fire). */
static void *call_watchdog(void *arg) {
  sb_worker *w = arg;
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
static void call_watchdog_stop(sb_worker *w) {
  sb_engine *e = w->e;
  pthread_mutex_lock(&e->mu);
  w->call_live = 0;
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->mu);
  if (w->call_wd_on) pthread_join(w->call_wd, NULL);
  w->call_wd_on = 0;
}

/* Ends the call in flight: the engine is free for the next call before |cb| runs. */
static void call_report(sb_worker *w, int present, const char *json, const char *error,
                        int timed_out) {
  sb_engine *e = w->e;
  sb_engine_call_cb cb = e->call_cb;
  void *ud = e->call_ud;
  call_watchdog_stop(w);
  sb_engine_flush(w); /* the call's samples reach the next collect */
  free(e->call_fn);
  free(e->call_data);
  e->call_fn = e->call_data = NULL;
  atomic_store(&e->call_busy, 0);
  if (cb && !atomic_load(&e->freeing)) cb(present, json, error, timed_out, ud);
}

static void on_call_done(sb_vu *vu, sb_vu_result r, const char *json, const char *error,
                         void *ud) {
  sb_worker *w = ud;
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
  sb_worker *w = arg;
  atomic_store(&w->call_timed_out, 1);
  sb_vu_interrupt(w->call_vu); /* calls on_call_done before returning */
}

/* Arms both timeouts of the call about to start. */
static void call_arm_timeout(sb_worker *w) {
  sb_engine *e = w->e;
  atomic_store(&w->call_timed_out, 0);
  struct timeval tv = sb_engine_tv(e->call_timeout_ms * 1000);
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
  sb_worker *w = arg;
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

int sb_engine_call_init(sb_worker *w) {
  w->ev_call = event_new(w->base, -1, 0, on_call, w);
  w->ev_call_timeout = evtimer_new(w->base, on_call_timeout, w);
  return w->ev_call && w->ev_call_timeout ? 0 : SB_ENOMEM;
}

void sb_engine_call_cleanup(sb_worker *w) {
  call_watchdog_stop(w);
  sb_vu_free(w->call_vu); /* a call in flight ends without its callback */
  w->call_vu = NULL;
  if (w->ev_call) event_free(w->ev_call);
  if (w->ev_call_timeout) event_free(w->ev_call_timeout);
  w->ev_call = w->ev_call_timeout = NULL;
}

void sb_engine_call_interrupt(sb_engine *e) {
  if (!e->nw) return;
  pthread_mutex_lock(&e->mu);
  if (e->w[0].call_live) sb_vu_call_interrupt_async(e->w[0].call_vu);
  pthread_mutex_unlock(&e->mu);
}
