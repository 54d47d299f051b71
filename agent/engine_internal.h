/* The engine's insides, shared by its two files: agent/engine.c (workers, VU placement, the
 * scenarios' life) and agent/engine_call.c (setup() and teardown()). Nothing else includes it. */
#ifndef SB_ENGINE_INTERNAL_H
#define SB_ENGINE_INTERNAL_H

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "agent/engine.h"
#include "agent/executor.h"
#include "agent/http_client.h"
#include "agent/js_modules.h"
#include "agent/selfmon.h"
#include "agent/vu.h"
#include "agent/vu_heap.h"
#include "agent/vu_mem.h"
#include "common/archive.h"
#include "common/jsmod.h"

typedef struct sb_eng_scen {     /* one scenario, shared read-only by the workers (+ atomics) */
  const sb_scenario_cfg *cfg;    /* in the engine's config */
  const sb_exec *ex;
  void *shared;                  /* the executor's scenario-wide state */
  uint64_t max_vus;              /* VU slots (VUs made mid-test included) */
  int rot;                       /* the worker holding its first VU: each scenario starts where
                                  * the previous one's VUs ended, so the first VU of every
                                  * scenario is not on worker 0 (a VU hogging its worker would
                                  * starve them all) */
  uint64_t initial_vus;          /* VUs made before the start */
  int64_t end_us;                /* the executor's end, from the scenario's start */
  const char **env;              /* __ENV of its VUs (the test's with the scenario's over it):
                                  * key, value, ..., NULL; strings in the config */
  uint64_t first_id;             /* __VU of this scenario's first VU */
  uint64_t first_local_id;       /* k6/execution: idInInstance of the first VU */
  atomic_uint_fast64_t iter_next;    /* iterations started here (the next local number) */
  atomic_uint_fast64_t iter_done;    /* iterations that ended here, interrupted ones included */
  atomic_uint_fast64_t vus_live;     /* VUs it holds now (the controller's progress view) */
  atomic_uint_fast64_t scale_vus;    /* the operator's VU count here; UINT64_MAX: the plan's */
} sb_eng_scen;

struct sb_worker;
struct sb_eng_run;

typedef struct sb_eng_vu {       /* a VU placed on a worker */
  sb_exec_vu x;                  /* what the executor sees (first: the executor's pointers are
                                  * this struct's) */
  sb_vu *vu;                     /* NULL: a slot not made yet */
  struct sb_eng_run *ws;
  int64_t iter_us;               /* when its iteration really started (monotonic) */
  struct event *ev_wait;         /* minIterationDuration: ends its wait (made on first use) */
  unsigned waiting : 1;          /* waiting out minIterationDuration, held */
  unsigned parked : 1;           /* came free while the test is paused: held, next() on resume */
} sb_eng_vu;

typedef struct sb_eng_run {      /* a scenario on one worker */
  sb_exec_run run;               /* the executor's view (first: sb_exec_run * is a sb_eng_run *) */
  sb_eng_scen *sc;
  struct sb_worker *w;
  sb_eng_vu *slots;              /* its VU slots in the worker's array (run.nslots) */
  sb_vu_env env;                 /* what its VUs borrow: the worker's, with the scenario's __ENV */
  const sb_tagset *tags;         /* scenario (and its tags): for the executor's own samples */
  size_t looping;                /* VUs held (x.looping) */
  struct event *ev_start, *ev_end, *ev_hard, *ev_grow;
  unsigned started : 1, finished : 1, ex_init : 1, growing : 1;
} sb_eng_run;

enum { CMD_NONE, CMD_START, CMD_STOP, CMD_ABORT, CMD_QUIT };

typedef struct sb_worker {
  sb_engine *e;
  int idx;
  pthread_t th;
  struct event_base *base;
  sb_metrics *m;
  sb_eng_vu *vus;                /* every VU slot of this worker, scenario after scenario */
  size_t nvus;
  int m_start_delay;             /* id of iteration_start_delay in |m| (-1: not yet) */
  sb_eng_run *ws;                /* one per scenario */
  struct event *ev_cmd, *ev_flush;
  struct event *ev_ctl;          /* pause/resume/scale: reads the engine's |paused| and each
                                  * scenario's |scale_vus| (sb_engine_pause, sb_engine_scale) */
  int paused;                    /* this worker's view of the engine's |paused| */
  atomic_int cmd;
  atomic_int stop;               /* abort requested: every VU's script stops at once (vu.h) */
  int64_t t0_us;                 /* monotonic time of the test start */
  size_t unfinished;             /* scenarios not finished on this worker */
  int reported;                  /* told the engine it is finished */
  int init_rc;
  sb_err init_err;
  int started;                   /* CMD_START arrived: may report being finished */
  sb_vu_env env;                 /* what this worker's VUs borrow */
  struct sb_vu_pool *pool;       /* their heaps' memory (agent/vu_mem.h) */
  sb_vu_heaps *heaps;            /* the heaps they share (agent/vu_heap.h); NULL: one each */
  sb_http_shared *http;          /* TLS contexts, resolver: shared by this worker's VUs */
  sb_vu *call_vu;                /* worker 0: the VU of setup()/teardown(), made on first use */
  struct event *ev_call, *ev_call_timeout;
  atomic_int call_timed_out;     /* set by the loop timer or the watchdog */
  pthread_t call_wd;             /* the watchdog of the call in flight */
  int call_wd_on;                /* |call_wd| runs (joinable) */
  int call_live;                 /* the call has not ended (under e->mu) */
  int64_t call_deadline_us;      /* monotonic */
} sb_worker;

struct sb_engine {
  sb_engine_cbs cbs;
  sb_engine_cfg cfg;             /* read-only after sb_engine_new() */
  sb_program *prog;
  sb_archive *ar;                /* the test's archive (open() reads it), read-only */
  sb_data_store *shared;         /* k6/data's arrays in |ar|, indexed once (read-only) */
  sb_eng_scen *sc;
  size_t nsc;
  sb_worker *w;
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
  atomic_uint_fast64_t vus_max;  /* VUs made: before the start, and mid-test */
  int done_sent;
  char error[512];
  int discard_bodies;
  char *data_json;               /* setup()'s data for every iteration; NULL: undefined */
  atomic_int call_busy;          /* a setup/teardown call is in flight */
  char *call_fn, *call_data;     /* the call in flight: function and argument (JSON) */
  int64_t call_timeout_ms;
  sb_engine_call_cb call_cb;
  void *call_ud;
  atomic_int freeing;            /* sb_engine_free() began: calls end without a callback */
  atomic_uint_fast64_t iterations_interrupted; /* k6/execution's instance counter */
  atomic_int paused;             /* the operator paused the test (sb_engine_pause) */
  char abort_reason[512];        /* test.abort()'s reason, "" when none (under mu) */
  sb_selfmon mon;                /* the workers' CPU and loop lag probes (agent/selfmon.h) */
};

static inline struct timeval sb_engine_tv(int64_t us) {
  if (us < 0) us = 0;
  struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
  return tv;
}

/* Moves worker |w|'s metrics into the engine's pending set (any time, on |w|'s thread). */
void sb_engine_flush(sb_worker *w);

/* setup()/teardown() (engine_call.c), on worker 0: its events, made by worker_init(); the end of
 * what a call left behind, by worker_cleanup(); a running call stopped from any thread, by
 * sb_engine_free(). */
int sb_engine_call_init(sb_worker *w);
void sb_engine_call_cleanup(sb_worker *w);
void sb_engine_call_interrupt(sb_engine *e);

#endif
