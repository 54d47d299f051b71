/* A VU's event loop (agent/vu_loop.h). */
#include "agent/vu_loop.h"

#include "agent/vu.h"
#include "common/jsmod.h"

#define K_TASKS DUK_HIDDEN_SYMBOL("sbTasks") /* stash: task id -> pinned value */

int sb_vu_task_add(sb_vu *vu, sb_vu_task *t) {
  if (!sb_vu_in_call(vu)) return SB_EINVAL;
  sb_vu_loop *l = sb_vu_get_loop(vu);
  if (++l->next_id == 0) l->next_id = 1;
  t->id = l->next_id;
  t->ready = 0;
  t->rnext = NULL;
  t->prev = NULL;
  t->next = l->pending;
  if (l->pending) l->pending->prev = t;
  l->pending = t;
  return 0;
}

void sb_vu_task_ready(sb_vu *vu, sb_vu_task *t) {
  sb_vu_loop *l = sb_vu_get_loop(vu);
  if (t->ready) return;
  t->ready = 1;
  t->rnext = NULL;
  if (l->rtail) l->rtail->rnext = t;
  else l->rhead = t;
  l->rtail = t;
  if (l->waiting) sb_vu_wake(vu);
}

static void unready(sb_vu_loop *l, sb_vu_task *t) {
  if (!t->ready) return;
  sb_vu_task **pp = &l->rhead, *prev = NULL;
  while (*pp && *pp != t) {
    prev = *pp;
    pp = &(*pp)->rnext;
  }
  if (*pp) *pp = t->rnext;
  if (l->rtail == t) l->rtail = prev;
  t->ready = 0;
  t->rnext = NULL;
}

static void unlink_task(sb_vu_loop *l, sb_vu_task *t) {
  unready(l, t);
  if (t->prev) t->prev->next = t->next;
  else if (l->pending == t) l->pending = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
}

/* Pushes the stash's pin table, made on first use. [ ] -> [ table ] */
static void push_table(duk_context *ctx, sb_vu_loop *l) {
  duk_push_global_stash(ctx);
  if (!duk_get_prop_string(ctx, -1, K_TASKS)) {
    duk_pop(ctx);
    duk_push_bare_object(ctx);
    duk_dup_top(ctx);
    duk_put_prop_string(ctx, -3, K_TASKS);
  }
  duk_remove(ctx, -2);
  l->pinned = 1;
}

void sb_vu_task_done(duk_context *ctx, sb_vu_task *t) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  sb_vu_loop *l = sb_vu_get_loop(vu);
  unlink_task(l, t);
  if (!l->pinned) return;
  push_table(ctx, l);
  duk_del_prop_index(ctx, -1, t->id);
  duk_pop(ctx);
}

void sb_vu_task_pin(duk_context *ctx, const sb_vu_task *t, duk_idx_t idx) {
  idx = duk_normalize_index(ctx, idx);
  push_table(ctx, sb_vu_get_loop(sb_vu_from_ctx(ctx)));
  duk_dup(ctx, idx);
  duk_put_prop_index(ctx, -2, t->id);
  duk_pop(ctx);
}

int sb_vu_task_pinned(duk_context *ctx, uint32_t id) {
  sb_vu_loop *l = sb_vu_get_loop(sb_vu_from_ctx(ctx));
  if (!l->pinned || id == 0) {
    duk_push_undefined(ctx);
    return 0;
  }
  push_table(ctx, l);
  int found = duk_get_prop_index(ctx, -1, id);
  duk_remove(ctx, -2);
  return found;
}

/* Runs the queued Promise jobs; throws an uncaught rejection. */
static void drain(duk_context *ctx, sb_vu_loop *l) {
  if (!l->hooks || !sb_jsmod_push_hook(ctx, "drain")) return;
  duk_call(ctx, 0);
  duk_pop(ctx);
}

void sb_vu_loop_init(duk_context *ctx, sb_vu *vu) {
  sb_vu_loop *l = sb_vu_get_loop(vu);
  l->hooks = sb_jsmod_push_hook(ctx, "drain");
  if (l->hooks) duk_pop(ctx);
  drain(ctx, l);
}

void sb_vu_loop_run(duk_context *ctx, sb_vu *vu) {
  sb_vu_loop *l = sb_vu_get_loop(vu);
  duk_idx_t watch = -1;
  l->clean = 0;
  if (l->hooks && sb_jsmod_push_hook(ctx, "watch")) { /* [ result ] -> [ result w ] */
    duk_dup(ctx, -2);
    duk_call(ctx, 1);
    watch = duk_get_top_index(ctx);
  }
  drain(ctx, l);
  while (l->pending) {
    sb_vu_task *t = l->rhead;
    if (!t) {
      l->waiting = 1;
      int rc = sb_vu_wait(vu);
      l->waiting = 0;
      if (rc) (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "interrupted");
      continue;
    }
    l->rhead = t->rnext;
    if (!l->rhead) l->rtail = NULL;
    t->ready = 0;
    t->rnext = NULL;
    t->run(ctx, t);
    drain(ctx, l);
  }
  l->clean = 1; /* drained, every task done (and its pin dropped) */
  if (watch < 0) return;
  duk_get_prop_string(ctx, watch, "st");
  int st = duk_get_int(ctx, -1);
  duk_get_prop_string(ctx, watch, "v");      /* -> [ result w st v ] */
  if (st == 2) (void)duk_throw(ctx);
  duk_replace(ctx, watch - 1);
  duk_pop_2(ctx);                            /* -> [ value ] */
}

void sb_vu_loop_cancel(sb_vu_loop *l) {
  while (l->pending) {
    sb_vu_task *t = l->pending;
    unlink_task(l, t);
    t->cancel(t);
  }
  l->rhead = l->rtail = NULL;
}

static duk_ret_t reset_safe(duk_context *ctx, void *udata) {
  sb_vu_loop *l = udata;
  if (l->pinned) {
    duk_push_global_stash(ctx);
    duk_del_prop_string(ctx, -1, K_TASKS);
    duk_pop(ctx);
    l->pinned = 0;
  }
  if (l->hooks && sb_jsmod_push_hook(ctx, "reset")) {
    duk_call(ctx, 0);
    duk_pop(ctx);
  }
  return 0;
}

void sb_vu_loop_end(duk_context *ctx, sb_vu *vu) {
  sb_vu_loop *l = sb_vu_get_loop(vu);
  sb_vu_loop_cancel(l);
  int clean = l->clean;
  l->clean = 0;
  if (clean || (!l->pinned && !l->hooks)) return; /* the usual end: nothing to forget */
  (void)duk_safe_call(ctx, reset_safe, l, 0, 1);
  duk_pop(ctx);
}
