/* The engine: runs one test's share of VUs on worker threads, as its configuration (decoded from
 * the protocol's Prepare message by agent/session.c) describes it, and hands out what they
 * measured.
 *
 * Each worker thread owns an event_base, a metrics set and its VUs (STYLE.md rule 7). The engine
 * splits every scenario's VUs round-robin over the workers; executors (agent/executor.h) run per
 * worker on that worker's loop, sharing only atomics (the shared-iterations budget, the live VU count). Workers
 * fold their metrics into the engine's pending set a few times a second under one mutex; the
 * session thread collects that into one snapshot a second. The same engine serves a local run
 * (in-process agent) and a remote agent. */
#ifndef SB_ENGINE_H
#define SB_ENGINE_H

#include <stdint.h>

#include "agent/http_config.h"
#include "agent/scenario.h"
#include "common/err.h"
#include "common/metrics.h"

typedef struct sb_engine sb_engine;

struct sb_allow;

/* One test's share on this agent. sb_engine_cfg_init() gives the defaults; sb_engine_cfg_clear()
 * frees what the struct owns. */
typedef struct sb_engine_cfg {
  const uint8_t *archive;       /* zstd tar (common/archive.h); borrowed, read by sb_engine_new() */
  size_t archive_len;
  sb_scenario_cfg *scenarios;   /* owned, each resolved (sb_scenario_cfg_resolve) */
  size_t nscenarios;
  uint32_t workers;             /* worker threads; 0 = one per core */
  char **env;                   /* owned: __ENV as key, value, ..., NULL; NULL = empty */
  int discard_response_bodies;
  sb_http_config http;          /* owned: HTTP/TLS/DNS options */
  char *options_json;           /* owned: k6/execution's test.options; NULL = none */
  int points;                   /* keep raw samples for outputs (common/points.h) */
  size_t vu_heap_limit;         /* bytes per VU heap (maxVUMemory; agent/vu.h); 0 = no cap */
  int64_t init_timeout_us;      /* one VU's init code (initTimeout); 0 = never stopped */
  const struct sb_allow *allow; /* borrowed: the agent's --allow-targets (agent/allow.h), enforced
                                   on every connection the VUs open; NULL = every target */
} sb_engine_cfg;

/* What sb_engine_cfg_init() sets: a VU heap may grow to 256 MiB (a typical one holds ~150 KB; a
 * script that allocates without bound fails its iteration instead of taking the machine), and
 * init code may run for 60 s per VU (as setupTimeout's default). */
#define SB_ENGINE_VU_HEAP_DEFAULT ((size_t)256 << 20)
#define SB_ENGINE_INIT_TIMEOUT_DEFAULT_US ((int64_t)60 * 1000000)

void sb_engine_cfg_init(sb_engine_cfg *c);
void sb_engine_cfg_clear(sb_engine_cfg *c);

/* Called from any worker thread: a console line or an error of the script. Must be thread-safe. */
typedef void (*sb_engine_log_cb)(const char *level, const char *source, const char *text,
                                 size_t len, void *ud); /* |source|: as sb_vu_log_cb's */
/* Called once, from a worker thread, when every scenario has finished on every worker. */
typedef void (*sb_engine_done_cb)(void *ud);

typedef struct sb_engine_cbs {
  sb_engine_log_cb log;
  sb_engine_done_cb done;
  void *ud;
} sb_engine_cbs;

/* Makes libevent thread-safe (once per process); call before creating any event_base whose
 * events other threads will activate. */
void sb_engine_global_init(void);

/* Prepares a test: parses the archive, compiles its modules once, starts the worker threads and
 * creates every VU (running its init code). On success the engine owns what |*cfg| owned and
 * |*cfg| is left empty (as after sb_engine_cfg_init); on failure |*cfg| is untouched. Returns 0
 * when all VUs are ready; otherwise SB_EFORMAT (bad archive), SB_ESCRIPT (init code failed: |err|
 * has file:line) or SB_ENOMEM, with no thread left running. */
int sb_engine_new(sb_engine **out, sb_engine_cfg *cfg, const sb_engine_cbs *cbs, sb_err *err);
/* Stops the workers (interrupting anything still running) and frees everything. Accepts NULL. */
void sb_engine_free(sb_engine *e);

/* Starts every scenario at wall-clock |start_at_us| (0 = now) plus its startTime. */
int sb_engine_start(sb_engine *e, int64_t start_at_us);
/* Ends the test early: |abort| = 0 stops starting iterations and lets running ones finish within
 * their gracefulStop; |abort| = 1 interrupts them at once. The done callback follows. */
void sb_engine_stop(sb_engine *e, int abort);

/* Moves what the workers measured since the last call into |into| (adding), and sets |*vus| to
 * the VUs that looped since the last call (the controller makes the `vus` metric of the whole
 * fleet from every agent's figure). Call from one thread. Returns 0 or SB_ENOMEM. */
int sb_engine_collect(sb_engine *e, sb_metrics *into, uint64_t *vus, sb_err *err);

/* setup() and teardown() (k6 semantics): the result of sb_engine_call(), from a worker thread.
 * |present| = 0: the script does not export the function (nothing ran). |json|: what setup
 * returned, as JSON (NULL when undefined, and for teardown). |error|: NULL when the function
 * returned, else the error line (file:line: message) or the timeout. Strings live only during the
 * callback. */
typedef void (*sb_engine_call_cb)(int present, const char *json, const char *error,
                                  int timed_out, void *ud);

/* Runs the exported function |fn| ("setup" or "teardown") once, on a VU of its own (__VU 0, tag
 * group "::setup" / "::teardown", not counted in `iterations`), with |data_json| parsed as its
 * argument (NULL: undefined). Its samples go into the next sb_engine_collect(). Interrupted after
 * |timeout_ms| (0 = 60 s). Call setup before sb_engine_start() and teardown after the done
 * callback. Returns 0 (|cb| follows, once) or SB_EINVAL (another call in flight) / SB_ENOMEM. */
int sb_engine_call(sb_engine *e, const char *fn, const char *data_json, int64_t timeout_ms,
                   sb_engine_call_cb cb, void *ud);

/* The value every iteration gets as its first argument: setup's JSON (NULL = undefined). Each VU
 * parses it once, on its first iteration. Call before sb_engine_start(). Returns 0 or SB_ENOMEM. */
int sb_engine_set_data(sb_engine *e, const char *data_json);

uint64_t sb_engine_vus_max(const sb_engine *e);
/* Wall-clock microseconds at which the test actually started: when the first scenario's start
 * timer fired (less its startTime), late wake-ups included; 0 before. */
int64_t sb_engine_started_at(const sb_engine *e);
/* Complete iterations so far, over all scenarios. */
uint64_t sb_engine_iterations(const sb_engine *e);
/* The first fatal error of the run ("" when none), e.g. a missing exported function. */
const char *sb_engine_error(const sb_engine *e);
/* The reason of the script's test.abort() ("test aborted[: why]"), "" when it did not call it.
 * The engine stops itself at once on an abort during the load; one in setup()/teardown() ends
 * that call as interrupted. Any thread. */
const char *sb_engine_abort_reason(sb_engine *e);

/* The operator's steering (the controller's REST API), from any thread; each worker applies it
 * on its own loop. Paused: no iteration starts — VUs that come free wait, held, and the
 * arrival-rate executors skip what falls due meanwhile (not counted as dropped); running
 * iterations finish; the scenarios' clocks keep running. */
void sb_engine_pause(sb_engine *e, int paused);
int sb_engine_paused(const sb_engine *e);
/* Scenario |idx| (the config's order) runs |vus| VUs on this agent from now on: VUs above leave
 * after their iteration (ramping-vus: interrupted after gracefulRampDown), VUs below up to the
 * ones made before the start join. Returns 0, or SB_EINVAL when |idx| is out of range or its
 * executor cannot change its VU count (only constant-vus and ramping-vus can). */
int sb_engine_scale(sb_engine *e, size_t idx, uint64_t vus);
/* VUs scenario |idx| holds now (looping, or idle in its executor's hands); 0 past the end. */
uint64_t sb_engine_scenario_vus(const sb_engine *e, size_t idx);
size_t sb_engine_nscenarios(const sb_engine *e);
/* Iterations interrupted so far (k6's "interrupted iterations"). */
uint64_t sb_engine_iterations_interrupted(const sb_engine *e);

#endif
