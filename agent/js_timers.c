/* The "k6/timers" module and the global timers: setTimeout, clearTimeout, setInterval,
 * clearInterval, on the VU's event loop (agent/vu_loop.h).
 *
 * A timer is a loop task with its own libevent timer. Its callback and arguments are pinned
 * under the task's id as [ fn, args... ] with the C timer behind a hidden key, so clear*() finds
 * the timer by the id the script holds and nothing in C points into the heap. As in k6, the
 * iteration waits for its timers: it ends once every timeout has fired and every interval has
 * been cleared. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <stdlib.h>

#include "agent/js_modules.h"
#include "agent/vu.h"
#include "common/duk_ext.h"
#include "agent/vu_loop.h"
#include "common/clock.h"

#define K_TIMER DUK_HIDDEN_SYMBOL("sbTimer")

typedef struct timer {
  sb_vu_task task;            /* first: the task is the timer */
  struct event ev;
  sb_vu *vu;
  struct timeval every;       /* an interval's period */
  int interval;
  int64_t due_us;             /* when it is due, monotonic */
} timer;

/* Arms |t| for |tv| from now. */
static void timer_arm(timer *t, const struct timeval *tv) {
  t->due_us = sb_clock_mono_us() + (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
  evtimer_add(&t->ev, tv);
}

/* A loop's timer may fire up to a tick of its coarse clock early (4 ms here): the rest is
 * waited out, so that a timer never runs before its delay, as in k6. */
static void on_fire(evutil_socket_t fd, short what, void *arg) {
  timer *t = arg;
  int64_t left = t->due_us - sb_clock_mono_us();
  if (left > 0) {
    struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
    evtimer_add(&t->ev, &tv);
    return;
  }
  sb_vu_task_ready(t->vu, &t->task);
}

static void timer_cancel(sb_vu_task *task) {
  timer *t = (timer *)task;
  event_del(&t->ev);
  free(t);
}

/* Pushes the pinned [ fn, args... ] of timer |t| and calls it. An interval is re-armed first
 * (the callback may clear it); a timeout is finished and freed first. */
static void timer_run(duk_context *ctx, sb_vu_task *task) {
  timer *t = (timer *)task;
  sb_vu_task_pinned(ctx, task->id);          /* -> [ entry ] */
  if (t->interval) {
    timer_arm(t, &t->every);
  } else {
    sb_vu_task_done(ctx, task);
    timer_cancel(task);
  }
  duk_idx_t e = duk_get_top_index(ctx);
  duk_size_t n = duk_get_length(ctx, e);
  duk_require_stack(ctx, (duk_idx_t)n + 1);
  for (duk_size_t i = 0; i < n; i++)
    duk_get_prop_index(ctx, e, (duk_uarridx_t)i);
  duk_call(ctx, (duk_idx_t)n - 1);
  duk_pop_2(ctx);
}

static duk_ret_t set_timer(duk_context *ctx) {
  int interval = duk_get_current_magic(ctx);
  const char *who = interval ? "setInterval" : "setTimeout";
  duk_idx_t nargs = duk_get_top(ctx);
  if (!duk_is_function(ctx, 0))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s: the first argument must be a function", who);
  double ms = nargs > 1 ? duk_to_number(ctx, 1) : 0;
  if (!(ms > 0) || !isfinite(ms)) ms = 0;
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (!vu) return duk_error(ctx, DUK_ERR_ERROR, "%s() is not supported in the init context", who);
  timer *t = calloc(1, sizeof(*t));
  if (!t) return duk_error(ctx, DUK_ERR_ERROR, "%s: out of memory", who);
  t->task.run = timer_run;
  t->task.cancel = timer_cancel;
  if (sb_vu_task_add(vu, &t->task) != 0) {
    free(t);
    return duk_error(ctx, DUK_ERR_ERROR, "%s() is not supported in the init context", who);
  }
  t->vu = vu;
  t->interval = interval;
  t->every.tv_sec = (time_t)(ms / 1000);
  t->every.tv_usec = (suseconds_t)((ms - (double)t->every.tv_sec * 1000) * 1000);
  duk_push_array(ctx);                       /* [ fn ms args... entry ] */
  duk_dup(ctx, 0);
  duk_put_prop_index(ctx, -2, 0);
  for (duk_idx_t i = 2; i < nargs; i++) {
    duk_dup(ctx, i);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)(i - 1));
  }
  duk_push_pointer(ctx, t);
  duk_put_prop_string(ctx, -2, K_TIMER);
  sb_vu_task_pin(ctx, &t->task, -1);
  evtimer_assign(&t->ev, sb_vu_base(vu), on_fire, t);
  timer_arm(t, &t->every);
  duk_push_uint(ctx, t->task.id);
  return 1;
}

/* clearTimeout(id) / clearInterval(id): either clears either kind (as in browsers); an unknown
 * or finished id is ignored. */
static duk_ret_t clear_timer(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  double id = duk_get_number_default(ctx, 0, 0);
  if (!vu || !(id >= 1 && id <= 4294967295.0) || id != floor(id)) return 0;
  if (!sb_vu_task_pinned(ctx, (uint32_t)id) || !duk_is_object(ctx, -1) ||
      !duk_get_prop_string(ctx, -1, K_TIMER))
    return 0;
  timer *t = duk_get_pointer(ctx, -1);
  if (!t) return 0;
  sb_vu_task_done(ctx, &t->task);
  timer_cancel(&t->task);
  return 0;
}

static const duk_function_list_entry FUNCS[] = {
    {"setTimeout", set_timer, DUK_VARARGS},
    {"clearTimeout", clear_timer, 1},
    {"setInterval", set_timer, DUK_VARARGS},
    {"clearInterval", clear_timer, 1},
    {NULL, NULL, 0},
};

static void put_funcs(duk_context *ctx) {
  for (int i = 0; FUNCS[i].key; i++) {
    sb_duk_put_light(ctx, FUNCS[i].key, FUNCS[i].value, FUNCS[i].nargs, i == 2);
  }
}

void sb_js_timers_push(duk_context *ctx) {
  duk_push_object(ctx);
  put_funcs(ctx);
}

void sb_js_timers_register(duk_context *ctx) {
  duk_push_global_object(ctx);
  put_funcs(ctx);
  duk_pop(ctx);
}
