/* A VU's event loop: what an iteration waits for after its function returns.
 *
 * k6 runs each iteration to the end of its event loop: the exported function returns (an async
 * one returns a Promise), then the iteration goes on while a timer (k6/timers) or an async request
 * (http.asyncRequest) is pending, running their callbacks one at a time and, after each, the
 * Promise jobs they queued (the microtasks, drained through the prelude's hooks, common/jsmod.h).
 * The iteration ends when nothing is pending; a rejection nobody handled, an exception in a
 * callback, or a returned Promise that rejects ends it as an exception.
 *
 * A task is embedded in its owner's struct (a timer, an async request). The owner registers it
 * with sb_vu_task_add() while the script runs, marks it ready from its loop callback with
 * sb_vu_task_ready(), and its |run| then executes on the VU's coroutine, inside the iteration's
 * protected call. JS values a task needs later (a callback, a promise's resolve) are pinned in
 * the global stash under the task's id (sb_vu_task_pin) so no C pointer into the heap outlives a
 * call. Everything pending when an iteration ends (exception, interruption) is cancelled: |cancel|
 * releases the owner without touching JavaScript, and the pinned values go with the iteration.
 *
 * Nothing here runs unless a script uses timers, async requests or Promises: a plain iteration
 * pays one pointer test. */
#ifndef SB_VU_LOOP_H
#define SB_VU_LOOP_H

#include <stdint.h>

#include "duktape.h"

typedef struct sb_vu sb_vu;
typedef struct sb_vu_task sb_vu_task;

struct sb_vu_task {
  /* Runs the task's callback on the VU's coroutine (JS may run and throw: the iteration ends
   * with the exception). Must call sb_vu_task_done(), or leave the task pending to be readied
   * again (an interval, the next hop of a request). */
  void (*run)(duk_context *ctx, sb_vu_task *t);
  /* Releases the owner of a task still pending when the iteration ends early; no JavaScript
   * (may run on the loop's stack). May free the struct |t| lives in. */
  void (*cancel)(sb_vu_task *t);
  uint32_t id;                 /* set by sb_vu_task_add(): unique in the VU, never 0 */
  /* the loop's own */
  sb_vu_task *prev, *next, *rnext;
  int ready;
};

typedef struct sb_vu_loop {
  sb_vu_task *pending;         /* every added task not yet done (doubly linked) */
  sb_vu_task *rhead, *rtail;   /* ready to run, in order */
  uint32_t next_id;
  int waiting;                 /* suspended in sb_vu_loop_run() until a task is ready */
  int hooks;                   /* the program's prelude has Promise hooks (sb_vu_loop_init) */
  int pinned;                  /* the stash holds pinned values */
  int clean;                   /* the last run ended with nothing queued or pinned: no reset */
} sb_vu_loop;

/* Registers |t| (run and cancel set) as pending; it gets its id. Only while an iteration, setup()
 * or teardown() runs: SB_EINVAL otherwise (init code has no event loop). */
int sb_vu_task_add(sb_vu *vu, sb_vu_task *t);
/* Queues the run of pending task |t| (from a loop callback, or from the script itself); resumes
 * the VU when it waits in its event loop. A ready task is queued once. */
void sb_vu_task_ready(sb_vu *vu, sb_vu_task *t);
/* |t| is finished: no longer pending or ready, its pinned value dropped. On the VU's coroutine. */
void sb_vu_task_done(duk_context *ctx, sb_vu_task *t);
/* Keeps the value at |idx| reachable for task |t| (replacing any before). */
void sb_vu_task_pin(duk_context *ctx, const sb_vu_task *t, duk_idx_t idx);
/* Pushes what task |id| pinned and returns 1, or pushes undefined and returns 0. */
int sb_vu_task_pinned(duk_context *ctx, uint32_t id);

/* --- for agent/vu.c ------------------------------------------------------------------------ */

/* After the init code: notes whether the program has Promise hooks and runs the jobs init code
 * queued. May throw (a rejection nobody handled). */
void sb_vu_loop_init(duk_context *ctx, sb_vu *vu);
/* On the VU's coroutine inside the protected call, after the exported function returned:
 * [ ... result ] -> [ ... value ]. Runs the loop until nothing is pending; |value| is what the
 * returned Promise fulfilled with (or |result| itself). Throws the returned Promise's rejection,
 * a callback's exception, or an uncaught rejection; throws a RangeError when interrupted. */
void sb_vu_loop_run(duk_context *ctx, sb_vu *vu);
/* Cancels every pending task (no JavaScript). */
void sb_vu_loop_cancel(sb_vu_loop *l);
/* After the protected call returned, on the coroutine: cancels what is left and forgets queued
 * Promise jobs and pinned values, so nothing reaches the next iteration. */
void sb_vu_loop_end(duk_context *ctx, sb_vu *vu);

#endif
