/* A virtual user: a Duktape thread of a heap shared with up to 127 other VUs of its worker
 * (agent/vu_heap.h; or a heap of its own: env.heaps NULL), with its own globals, running on its
 * own coroutine over a worker's event loop.
 *
 * The worker creates VUs (init code runs once each, in sb_vu_new), then starts iterations; an
 * iteration calls the exported function of the scenario on the VU's coroutine, and whenever the
 * script waits (http.get, sleep) the coroutine yields to the loop. The iteration callback fires
 * on the loop when the function returns, throws, or is interrupted. Every C->JS call is protected
 * (duk_pcall) on the VU's own stack: a JS error never unwinds through libevent frames.
 *
 * Per-VU globals persist between iterations (seed 001's counter). */
#ifndef SB_VU_H
#define SB_VU_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/jsmod.h"
#include "common/metrics.h"
#include "duktape.h"

struct event_base;
typedef struct sb_vu sb_vu;
typedef struct sb_http_client sb_http_client;
typedef struct sb_vu_exec_ops sb_vu_exec_ops;

/* Log lines from console.* and from script errors. |level| is "debug", "info", "warn", "error";
 * |source| is NULL for the script's own lines (console, errors) or what else speaks ("http": k6's
 * "Request Failed"). */
typedef void (*sb_vu_log_cb)(const char *level, const char *source, const char *text, size_t len,
                             void *ud);

/* What a VU borrows from its worker; everything must outlive the VU. */
typedef struct sb_vu_env {
  struct event_base *base;
  sb_metrics *metrics;          /* the worker's aggregate (same thread) */
  const sb_program *prog;
  const sb_archive *files;      /* the test's archive: what open() reads (NULL: nothing) */
  const struct sb_data_store *shared; /* k6/data's arrays, indexed once per agent (read-only;
                                   NULL: none, SharedArray falls back to calling its fn) */
  const char *const *env;       /* __ENV as key, value, key, value ...; NULL-terminated */
  sb_vu_log_cb log;
  void *log_ud;
  size_t heap_limit;            /* bytes per VU heap; 0 = no cap. An iteration (or init, setup,
                                   teardown) whose allocation it refuses throws a RangeError the
                                   script may catch; uncaught, it is logged as "VU n: heap limit
                                   64 MiB exceeded (...): file:line: RangeError: ..." and the VU
                                   goes on with its next iteration */
  struct sb_vu_pool *mem_pool;  /* where the heap's memory comes from (agent/vu_mem.h; the
                                   worker's); NULL: malloc */
  struct sb_vu_heaps *heaps;    /* the worker's shared heaps (agent/vu_heap.h): the VU is a
                                   thread of one; NULL: a heap of its own */
  int64_t init_timeout_us;      /* init code still running after this long is stopped and
                                   sb_vu_new() fails naming initTimeout; 0 = never */
  int discard_response_bodies;
  struct sb_http_shared *http;  /* the worker's HTTP state: options, TLS, resolver (NULL: the
                                   VU's client makes its own with k6's defaults) */
  char *const *data_json;       /* setup()'s data as JSON, read on the VU's first iteration
                                   (NULL or *NULL: undefined); the owner sets it before then */
  const atomic_int *stop;       /* set by any thread: the running script stops at Duktape's next
                                   interrupt check, even one that never yields (NULL: none) */
  const sb_vu_exec_ops *exec;   /* k6/execution's view of the engine (NULL: none) */
  void *exec_ud;                /* passed to every |exec| hook */
} sb_vu_env;

/* Creates VU number |id| (__VU, 1-based across the whole test): heap, modules, init code.
 * Returns 0, SB_ESCRIPT (init code threw, hit the heap limit or ran past env.init_timeout_us;
 * |err| has file:line and message) or SB_ENOMEM (|err| says what ran out: memory, or memory
 * mappings for its stack). */
int sb_vu_new(sb_vu **out, const sb_vu_env *env, uint64_t id, sb_err *err);
/* Frees the VU (not while an iteration runs on it: interrupt first). Accepts NULL. */
void sb_vu_free(sb_vu *vu);

/* How an iteration ended. */
typedef enum sb_vu_result {
  SB_VU_OK = 0,           /* returned */
  SB_VU_EXCEPTION = 1,    /* threw: logged as an error, still a complete iteration (k6) */
  SB_VU_INTERRUPTED = 2,  /* stopped by sb_vu_interrupt(): not counted */
} sb_vu_result;

typedef void (*sb_vu_iter_cb)(sb_vu *vu, sb_vu_result r, void *ud);

/* Per-iteration context: the scenario it belongs to. Strings must outlive the iteration. */
typedef struct sb_vu_iter {
  const char *exec;             /* exported function name ("default") */
  const char *scenario;         /* "scenario" tag value */
  uint64_t iteration;           /* __ITER: this VU's iteration count in the scenario */
  /* k6/execution (all optional: zero when the owner does not say) */
  const char *executor;         /* k6's executor name ("shared-iterations") */
  uint64_t id_in_instance;      /* the VU's id in this agent, 1-based */
  uint64_t scen_iter_instance;  /* the scenario's iteration number in this agent, 0-based */
  uint64_t scen_iter_test;      /* ... unique over the whole fleet */
  int64_t scen_start_unix_ms;   /* wall clock the scenario started at */
  const void *scen;             /* the owner's scenario, for sb_vu_exec_ops.progress */
  double due_ms;                /* monotonic ms it was due (arrival-rate); iteration_duration
                                   counts from then, so a late start cannot hide (0: now) */
} sb_vu_iter;

/* Starts one iteration on the VU's coroutine; returns after the script first waits or finishes
 * (|cb| may already have been called then, from a deferred loop callback — never from inside this
 * function). The function gets the setup data (env.data_json, parsed once per VU on its first
 * iteration and kept for the next ones) as its argument. Records `iterations` and
 * `iteration_duration` (tagged with the scenario) for complete iterations. Returns 0, SB_EINVAL
 * (already running) or SB_ENOTFOUND (no such export: |err|). */
int sb_vu_start_iteration(sb_vu *vu, const sb_vu_iter *it, sb_vu_iter_cb cb, void *ud, sb_err *err);

/* How a call ended: |r| as for iterations. |json|: the function's return value as JSON (NULL when
 * undefined or not OK); |error|: "file:line: message" when |r| is SB_VU_EXCEPTION (a throw, or a
 * return value JSON cannot represent), else NULL. Strings live only during the callback. */
typedef void (*sb_vu_call_cb)(sb_vu *vu, sb_vu_result r, const char *json, const char *error,
                              void *ud);

/* Runs the exported function |fn| once, like an iteration but not counted as one (setup() and
 * teardown()): with |arg_json| parsed as its argument (NULL: undefined), in group "::<fn>", with
 * no scenario tag. Calling back and interrupting work as for iterations (sb_vu_interrupt() ends
 * it with SB_VU_INTERRUPTED). Returns 0, SB_EINVAL (busy), SB_ENOTFOUND (|fn| is not an exported
 * function: nothing ran, no callback) or SB_ENOMEM. */
int sb_vu_call(sb_vu *vu, const char *fn, const char *arg_json, sb_vu_call_cb cb, void *ud,
               sb_err *err);

/* From any thread: makes the running call throw an uncatchable interruption at the script's next
 * bytecode check — the way to stop a call that never waits (a busy loop), which the loop's own
 * timers cannot reach. The call then ends as SB_VU_INTERRUPTED through its callback. A request
 * when no call runs is dropped (it never reaches a later job). A script suspended in sb_vu_wait()
 * stays suspended until woken: the loop still needs sb_vu_interrupt() for that case. */
void sb_vu_call_interrupt_async(sb_vu *vu);

/* Ends the running iteration now: pending I/O and timers are dropped, the script is unwound (it
 * sees an uncatchable interruption), and the callback fires with SB_VU_INTERRUPTED before this
 * returns. No-op when idle. */
void sb_vu_interrupt(sb_vu *vu);

int sb_vu_busy(const sb_vu *vu);
uint64_t sb_vu_id(const sb_vu *vu);
/* Bytes currently allocated by the VU's heap. */
size_t sb_vu_heap_bytes(const sb_vu *vu);

/* --- for the JS modules (js_*.c): the running VU of a heap, and suspending it ------------ */

sb_vu *sb_vu_from_ctx(duk_context *ctx);
duk_context *sb_vu_ctx(sb_vu *vu);
struct event_base *sb_vu_base(sb_vu *vu);
sb_metrics *sb_vu_metrics(sb_vu *vu);
sb_http_client *sb_vu_http(sb_vu *vu);   /* created on first use */
const sb_vu_env *sb_vu_get_env(sb_vu *vu);

/* Tag set of the VU's current context (scenario, group), for samples. Interned in the worker's
 * metrics; valid until the next group change. */
const sb_tagset *sb_vu_tags(sb_vu *vu);
/* Current scenario name and group path ("" or "::a::b"), for building richer tag sets. */
const char *sb_vu_scenario(const sb_vu *vu);
const char *sb_vu_group(const sb_vu *vu);

/* Suspends the running script until sb_vu_wake(). Called from a C binding running on the VU's
 * coroutine. Returns 0 when woken, SB_ECANCELED when the iteration was interrupted meanwhile (the
 * binding must then return to JS at once; the VU throws the interruption for it). */
int sb_vu_wait(sb_vu *vu);
/* Resumes a VU suspended in sb_vu_wait(), from a loop callback (never from the VU itself). */
void sb_vu_wake(sb_vu *vu);

/* The VU's event loop (agent/vu_loop.h: timers, async requests, Promise jobs). */
struct sb_vu_loop *sb_vu_get_loop(sb_vu *vu);
/* 1 while an iteration, setup() or teardown() runs on the VU's coroutine (not init code). */
int sb_vu_in_call(const sb_vu *vu);

/* An operation in flight that sb_vu_interrupt() must cancel (a request, a timer). */
typedef void (*sb_vu_cancel_fn)(void *ud);
void sb_vu_set_cancel(sb_vu *vu, sb_vu_cancel_fn fn, void *ud);

/* Suspends the running script for |ms| milliseconds on the VU's own timer (no allocation). Returns
 * 0, or SB_ECANCELED when interrupted (or called outside an iteration, e.g. from init code). */
int sb_vu_sleep(sb_vu *vu, double ms);

/* Enters group |name|: the group path becomes "<path>::<name>" and sb_vu_tags() follows it.
 * |*saved| remembers the outer path for sb_vu_group_leave(). Returns 0 or SB_ENOMEM. */
int sb_vu_group_enter(sb_vu *vu, const char *name, size_t *saved);
void sb_vu_group_leave(sb_vu *vu, size_t saved);

/* --- for k6/execution (js_execution.c) ---------------------------------------------------- */

/* The instance's counters, as k6's exec.instance reports them. */
typedef struct sb_vu_instance_info {
  uint64_t iterations_completed, iterations_interrupted, vus_active, vus_initialized;
  double run_ms;                /* since the test started; 0 before */
} sb_vu_instance_info;

/* What the engine answers k6/execution with; every hook is called on the VU's thread while its
 * script runs, and must be quick (no waiting). */
struct sb_vu_exec_ops {
  void (*instance)(void *ud, sb_vu_instance_info *out);
  double (*progress)(void *ud, const void *scen); /* 0..1, of sb_vu_iter.scen */
  /* test.abort(): the whole run stops (every VU interrupted, exit code 108 at the controller),
   * |reason| ("test aborted: ...") is logged once. */
  void (*abort)(void *ud, const char *reason);
  const char *(*options_json)(void *ud);          /* the test's options as JSON; NULL: "{}" */
};

/* The running iteration (NULL when the VU runs init code, setup() or teardown()). */
const sb_vu_iter *sb_vu_current_iter(const sb_vu *vu);
/* Iterations this VU started, over every scenario (k6's vu.iterationInInstance). */
uint64_t sb_vu_iterations(const sb_vu *vu);

/* The VU's own tags (exec.vu.tags), added to every sample sb_vu_tags() makes and offered to the
 * modules that build richer tag sets: the value of an equal key of theirs wins. At most
 * SB_VU_MAX_TAGS; both strings are copied. Returns 0, SB_ENOMEM or SB_EINVAL (too many). */
#define SB_VU_MAX_TAGS 16
int sb_vu_tag_set(sb_vu *vu, const char *key, const char *value);
void sb_vu_tag_del(sb_vu *vu, const char *key);
/* Sets |*kv| to the VU's tags as key, value, key, value ... and returns the number of pairs. */
size_t sb_vu_tag_pairs(const sb_vu *vu, const char *const **kv);
/* Lays the test's tags over the |n| strings key, value, ... of |kv| (room for |cap|): drops the
 * system tags `systemTags` turns off, adds the `vu` tag when on, then the test-wide tags
 * (options.tags / --tag) and the VU's own (exec.vu.tags), in that order of precedence: a key
 * already there takes the later value, others are appended. Returns the new count. */
size_t sb_vu_tags_overlay(const sb_vu *vu, const char **kv, size_t n, size_t cap);

/* Module registration, one call each (STYLE.md rule 9): pushes the module's exports object. */
void sb_js_k6_push(duk_context *ctx);        /* "k6": sleep, check, group, fail */
void sb_js_k6_metrics_push(duk_context *ctx); /* "k6/metrics": Counter, Gauge, Rate, Trend */
void sb_js_http_push(duk_context *ctx);      /* "k6/http": get, post, put, del, patch, head, request */
void sb_js_console_register(duk_context *ctx); /* global console */
/* console.*'s arguments [ args... ] as one UTF-8 line, as k6 prints it (joined by spaces, objects
 * as JSON): the line is pushed ([ ... line ]) and returned, with its length in |*len|; valid while
 * it stays on the stack. */
const char *sb_js_console_line(duk_context *ctx, size_t *len);
/* Called before each iteration: k6 gives every iteration a fresh cookie jar, and
 * noVUConnectionReuse closes the VU's connections. */
void sb_js_http_iteration_start(sb_vu *vu);
/* A slot for k6/http's per-VU state, so a request finds it without a heap lookup (js_http.c
 * owns what it points to; the heap's finalizer frees it). */
void **sb_vu_http_state(sb_vu *vu);
/* The VU's HTTP client if it has made one (NULL otherwise). */
sb_http_client *sb_vu_http_if_any(sb_vu *vu);
/* k6/http was imported by the VU's init code (the module's push says so). */
void sb_vu_note_http(sb_vu *vu);
/* Makes what a first request of the VU would make on its way (k6/http's per-VU state, the
 * Response prototype, the HTTP client), for executors whose iterations are due the moment they
 * start (arrival rates): a cold VU's first request costs ~100 us more. Nothing when the script
 * does not import k6/http; a failure (out of memory) only leaves it to the first request. */
void sb_vu_warm(sb_vu *vu);
/* k6/http's part of sb_vu_warm (js_http.c). [ ] -> [ ]; may throw (run it in a safe call). */
void sb_js_http_warm(duk_context *ctx, sb_vu *vu);

#endif
