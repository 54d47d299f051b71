/* The VU's insides, shared by its files: agent/vu.c (heap, coroutine, jobs, waiting) and
 * agent/vu_tags.c (group path, tag sets, exec.vu.tags). Nothing else includes it. */
#ifndef SB_VU_INTERNAL_H
#define SB_VU_INTERNAL_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>

#include "agent/coro.h"
#include "common/duk_ext.h"
#include "agent/vu.h"
#include "agent/vu_loop.h"
#include "agent/vu_mem.h"
#include "agent/watchdog.h"
#include "common/duk_udata.h"

enum { JOB_NONE, JOB_INIT, JOB_ITER, JOB_CALL };

struct sb_vu {
  sb_duk_udata udata;          /* first: Duktape's exec-timeout check reads the heap udata */
  duk_context *ctx;
  sb_vu_env env;               /* copied; what it points to is borrowed */
  uint64_t id;
  size_t heap_bytes;           /* bytes of every live heap allocation (their blocks) */
  sb_vu_mem *mem;              /* the heap's allocator (the worker's) when env.mem_pool is set */
  int64_t sleep_due_us;        /* sleep(): when it ends, monotonic (its timer may fire early) */
  size_t limit;                /* env.heap_limit once the heap exists (0 = none) */
  size_t gc_at;                /* heap_bytes that triggers a collection after an iteration */
  int hit_limit;               /* an allocation was refused for |limit| during the current job */
  sb_watchdog_entry wd;        /* interrupts init code that outlives env.init_timeout_us */
  sb_coro *co;
  int job;                     /* JOB_*: what the coroutine runs next or is running */
  int job_done;                /* the job returned; the coroutine sits at the end of its loop */
  int busy;                    /* an iteration started and its callback has not fired */
  int waiting;                 /* suspended in sb_vu_wait() */
  int in_coro;                 /* the coroutine is running right now */
  int init_rc;                 /* result of the init job */
  sb_err *init_err;
  sb_vu_result result;         /* of the last finished iteration */
  sb_vu_iter it;               /* the running iteration */
  sb_vu_iter_cb cb;
  void *cb_ud;
  double t0_ms;                /* iteration start, monotonic */
  char *exec;                  /* export name whose function sits at value stack index 1 */
  struct event ev_done;        /* fires the iteration callback from the loop */
  struct event ev_timer;       /* sleep() */
  int timer_on;
  sb_vu_cancel_fn cancel;      /* the operation sb_vu_wait() waits for */
  void *cancel_ud;
  sb_http_client *http;        /* created on first use */
  void *http_state;            /* k6/http's per-VU state (js_http.c owns it) */
  int http_imported;           /* the init code imported k6/http (sb_vu_warm warms it) */
  char *group;                 /* "" or "::a::b" */
  size_t group_len, group_cap;
  const sb_tagset *tags;       /* {group, scenario}, NULL when stale */
  const char *tags_scenario;   /* the scenario pointer |tags| was made for */
  int data_ready;              /* env.data_json has been parsed into value stack index 2 */
  sb_vu_call_cb call_cb;       /* the running call's callback (JOB_CALL) */
  char *call_fn;               /* the running call's function name */
  char *call_arg;              /* its argument as JSON, NULL: undefined */
  char *call_json;             /* what it returned, as JSON; NULL: undefined */
  size_t call_group;           /* the group path to restore after the call */
  sb_err *call_err;            /* its exception, when result is SB_VU_EXCEPTION (made with the
                                  first call: 1 KiB most VUs never need) */
  pthread_mutex_t call_mu;     /* orders sb_vu_call_interrupt_async() with the call's end */
  int call_running;            /* a call's pcall has not returned yet (under call_mu) */
  uint64_t iters_started;      /* iterations started over every scenario */
  char *utags[2 * SB_VU_MAX_TAGS]; /* exec.vu.tags: key, value, ... (malloc'ed) */
  size_t nutags;               /* pairs in |utags| */
  char vu_tag[24];             /* the "vu" system tag's value (__VU as text) */
  sb_vu_loop loop;             /* timers, async requests, Promise jobs (agent/vu_loop.h) */
  struct sb_vu_heap *heap;     /* the shared heap it is a thread of (agent/vu_heap.h); NULL: its
                                  own heap (ctx is that heap's) */
  unsigned heap_slot;          /* its index in |heap| */
  sb_duk_exec chain;           /* the shared heap's chain state while the coroutine is suspended */
};

/* maxVUMemory, for both heap allocators (vu.c's own heap, vu_heap.c's shared one): 1, and
 * vu->hit_limit set, when making |ptr| (NULL: a new block) |size| bytes of |m| would take |vu|
 * (NULL: nobody's) past its limit. The block's size is looked up only near the limit. */
static inline int sb_vu_over_limit(sb_vu *vu, const sb_vu_mem *m, void *ptr, size_t size) {
  if (!vu || !vu->limit || vu->heap_bytes + size <= vu->limit) return 0;
  size_t was = sb_vu_blk_size(m, ptr);
  if (size <= was || vu->heap_bytes + (size - was) <= vu->limit) return 0;
  vu->hit_limit = 1;
  return 1;
}

/* agent/vu_heap.c, for vu.c. */
/* Makes |vu| a thread of a shared heap of |hs| (vu->ctx, vu->heap). 0 or SB_ENOMEM. */
int sb_vu_heap_join(struct sb_vu_heaps *hs, sb_vu *vu);
/* Drops |vu|'s thread (the heap goes with its last VU). No-op without a shared heap. */
void sb_vu_heap_leave(sb_vu *vu);
/* Around a resume of |vu|'s coroutine: its chain state in, the running VU noted; and back. */
void sb_vu_heap_enter(sb_vu *vu, sb_vu **prev);
void sb_vu_heap_exit(sb_vu *vu, sb_vu *prev);
/* The VU whose thread |ctx| is, or NULL (not a shared heap's); |mf| are ctx's heap's. */
sb_vu *sb_vu_heap_vu_of(const duk_memory_functions *mf, duk_context *ctx);
/* Collects |vu|'s shared heap when it outgrew its last collection (or |always|). */
void sb_vu_heap_collect(sb_vu *vu, int always);

#endif
