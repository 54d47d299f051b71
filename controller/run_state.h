/* The run state: what a running test looks like from the controller, in one place.
 *
 * The fleet (controller/run_fleet.c, run_msgs.c) is its only writer, on the controller's loop.
 * Everything that shows or steers the run reads it there and nowhere else: the terminal
 * (controller/progress.h), the REST API (controller/api.h) and, later, a dashboard, a report or a
 * Prometheus endpoint. Each is a view: a function of this state (and the clock), tested on a
 * state built by hand.
 *
 *   scenarios ─ per scenario: plan (options), VUs now, iterations, dropped, scaled VU count
 *   agents    ─ per agent: health (state, rtt, lag), VUs, work, req/s
 *   metrics   ─ the merged metric set (common/metrics.h), folded on demand
 *   thresholds─ every threshold with its live result (sb_run_state_eval_thresholds)
 *   phase     ─ init, setup, running, teardown, ended; paused; times
 *
 * A view that wants history (a chart) keeps its own ring of samples taken from this state once a
 * second (sb_run_state_tick is the moment); the state itself holds only "now". */
#ifndef SB_RUN_STATE_H
#define SB_RUN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/metrics.h"
#include "controller/options.h"
#include "controller/threshold.h"

typedef enum sb_run_phase {
  SB_PHASE_INIT = 0,   /* connecting, preparing: VUs being made */
  SB_PHASE_SETUP,      /* setup() runs on one agent */
  SB_PHASE_RUNNING,    /* the scenarios run (start_mono_us set) */
  SB_PHASE_TEARDOWN,   /* teardown() runs on one agent */
  SB_PHASE_ENDED,
} sb_run_phase;

/* An agent's connection, in the order it goes through them. */
typedef enum sb_agent_state {
  SB_AGENT_CONNECTING = 0, SB_AGENT_HELLO, SB_AGENT_SYNC, SB_AGENT_PREPARING, SB_AGENT_READY,
  SB_AGENT_RUNNING, SB_AGENT_DONE, SB_AGENT_LOST, SB_AGENT_FAILED,
} sb_agent_state;

/* The generator's own health, from an agent's Progress (agent/selfmon.h): the latest interval,
 * and what the run's running phase added up (sb_rs_gen_fold). */
typedef struct sb_rs_gen {
  uint32_t workers;             /* worker threads measured; 0: nothing measured (older agent) */
  uint32_t cpu_max_pm, cpu_mean_pm; /* latest: busiest and mean worker CPU, per mille */
  uint64_t lag_max_us, lag_mean_us; /* latest: its loops' lag */
  uint64_t fds_open, fds_limit; /* latest: descriptors open, RLIMIT_NOFILE (0: unknown) */
  uint64_t dial_emfile;         /* dials failed with EMFILE/ENFILE so far */
  /* over the run (intervals received while the scenarios ran) */
  double measured_s;            /* seconds of intervals measured */
  double hot_s;                 /* of which the busiest worker was at >= SB_GEN_CPU_HOT_PM */
  uint32_t cpu_peak_pm;         /* highest busiest-worker CPU */
  uint64_t lag_peak_us;         /* highest loop lag */
  uint64_t lag_mean_sum_us, nlag; /* sum and count of the intervals' mean lag */
  uint32_t fds_peak_pm;         /* highest fds_open / fds_limit, per mille */
  uint64_t fds_peak_open;       /* fds_open at that peak */
  int64_t last_us;              /* monotonic time of the previous fold (0: none) */
} sb_rs_gen;

/* When a generator counts as saturated (sb_rs_gen_causes): a worker at >= 90% CPU for >= 20% of
 * the measured time or >= 5 s; a loop lag of >= 100 ms at most or >= 20 ms on average;
 * descriptors at >= 90% of the limit, or any dial refused one. Now (the live view): the latest
 * interval's CPU, max lag or descriptors past the same marks. */
#define SB_GEN_CPU_HOT_PM 900
#define SB_GEN_CPU_HOT_SHARE 0.20
#define SB_GEN_CPU_HOT_MIN_S 5.0
#define SB_GEN_LAG_MAX_US 100000
#define SB_GEN_LAG_MEAN_US 20000
#define SB_GEN_FDS_PM 900

enum { SB_GEN_CPU = 1, SB_GEN_LAG = 2, SB_GEN_FDS = 4, SB_GEN_EMFILE = 8 };

/* Adds the latest interval (the fields above "over the run", just set from a Progress) to the
 * run's figures when |running|, at monotonic |now_us|. An interval is the time since the previous
 * fold (1 s the first time; at most 5 s). */
void sb_rs_gen_fold(sb_rs_gen *g, int64_t now_us, int running);
/* SB_GEN_* bits: why |g| limited the load over the run (|now| 0) or in its latest interval
 * (|now| 1); 0 when it did not, or was never measured. */
unsigned sb_rs_gen_causes(const sb_rs_gen *g, int now);

typedef struct sb_rs_agent {
  char name[300];               /* "host:port", or "local" */
  sb_agent_state state;
  int64_t state_us;             /* monotonic time it entered |state| */
  int64_t last_rx_us;           /* monotonic time of its last message */
  int64_t rtt_us, offset_us;    /* best round trip; its clock minus ours */
  uint64_t vus, vus_max;        /* VUs that looped in its last interval; VUs it made */
  uint64_t *scen_vus;           /* VUs each scenario holds now (its Progress); NULL: none yet */
  uint64_t interrupted;         /* iterations it interrupted (its Progress) */
  uint64_t iterations, requests; /* what it reported, added up */
  double req_rate;              /* requests per second over its last snapshot interval */
  int64_t snap_mono_us;         /* its last snapshot's time, in our monotonic clock (0: none) */
  uint64_t snap_bytes;          /* metric stream bytes received */
  uint64_t nsnap;               /* snapshots received since the start */
  uint32_t cores;               /* its capacity, from welcome */
  uint64_t mem_bytes, max_vus;
  int64_t started_at_us;        /* its actual start (its clock), from done */
  double lost_at_s;             /* seconds into the test when it was lost */
  char lost_why[256];
  sb_rs_gen gen;                /* the generator's health (its Progress) */
} sb_rs_agent;

typedef struct sb_rs_scenario {
  const sb_scenario *sc;        /* the plan (options), read-only */
  uint64_t max_vus;             /* the most VUs it can run at once over the fleet */
  uint64_t vus;                 /* VUs it holds now over the fleet (agents' Progress) */
  int vus_known;                /* every running agent reported |vus| at least once */
  uint64_t scaled_vus;          /* the VU count PATCH /v1/status set; UINT64_MAX: the plan's */
  uint64_t iterations, dropped; /* complete and dropped iterations (merged metrics) */
} sb_rs_scenario;

typedef struct sb_run_state {
  const sb_options *opts;       /* read-only */
  const sb_metrics *metrics;    /* merged over the whole run (NULL before the loop) */
  const char *script;           /* as given on the command line */
  sb_run_phase phase;
  int distributed;
  int paused;                   /* every agent told to pause */
  int stopping;                 /* a stop was asked (Ctrl-C, abortOnFail, test.abort()) */
  int interrupted;              /* the run was interrupted (k6's status Interrupted) */
  int64_t start_mono_us;        /* the scenarios' start (0: not yet) */
  int64_t end_mono_us;          /* the last agent's done (0: not yet) */
  int64_t paused_us;            /* paused time before |paused_since_us| */
  int64_t paused_since_us;      /* monotonic start of the current pause (0: none) */
  sb_rs_scenario *scen;         /* |nscen|, in the options' order */
  size_t nscen;
  sb_rs_agent **agents;         /* |nagents| */
  size_t nagents;
  size_t lost;                  /* agents lost mid-run */
  uint64_t iterations;          /* complete iterations over the fleet (merged metrics) */
  uint64_t interrupted_iters;   /* interrupted iterations (agents' Progress) */
  const char *setup_data;       /* setup()'s JSON; NULL: undefined */
  sb_threshold *thr;            /* every threshold of the options, parsed */
  sb_threshold_result *thr_res; /* parallel: the latest live evaluation */
  size_t nthr;
  int tainted;                  /* a threshold failed at the latest evaluation */
} sb_run_state;

/* Lays out |s| for |o| (kept by pointer) and |nagents| agents (their records are the caller's:
 * set s->agents[i] afterwards). Parses the thresholds unless o->no_thresholds. Returns 0,
 * SB_ENOMEM or SB_EINVAL (a threshold; the judge reports the same error first). */
int sb_run_state_init(sb_run_state *s, const sb_options *o, size_t nagents, sb_err *err);
void sb_run_state_clear(sb_run_state *s);

/* Seconds of test time at monotonic |now_us|: since the start, paused time included (k6's
 * durations are wall time), up to the end. 0 before the start. */
double sb_run_state_elapsed(const sb_run_state *s, int64_t now_us);
/* Seconds the test has spent paused up to |now_us|. */
double sb_run_state_paused_s(const sb_run_state *s, int64_t now_us);

/* VUs over the fleet: looping in the agents' last intervals (|max| 0), or made (|max| 1). */
uint64_t sb_run_state_vus(const sb_run_state *s, int max);

/* Once a second and on demand: refolds iterations and dropped iterations (per scenario and in
 * all) from the metrics, and the scenarios' VUs from the agents' Progress. */
void sb_run_state_tick(sb_run_state *s);
/* Evaluates every threshold on the metrics at |elapsed_s| (skipping metrics without samples),
 * setting thr_res and tainted. */
void sb_run_state_eval_thresholds(sb_run_state *s, double elapsed_s);

/* Scenario |i|'s share of the test done at |now_us|, 0..1, as k6's progress bars measure it:
 * time for the duration-based executors, iterations for the iteration-based ones. */
double sb_run_state_scen_progress(const sb_run_state *s, size_t i, int64_t now_us);
/* Milliseconds scenario |i| takes without its graceful stop (duration, stages, maxDuration). */
int64_t sb_run_state_scen_length_ms(const sb_run_state *s, size_t i);

/* k6's ExecutionStatus of the run (lib/execution.go): 1 InitVUs, 6 Setup, 7 Running, 8 Teardown,
 * 9 Ended, 10 Interrupted. */
int sb_run_state_k6_status(const sb_run_state *s);
const char *sb_run_phase_name(sb_run_phase p);
const char *sb_agent_state_name(sb_agent_state st);
/* k6's name of an executor: "constant-vus". */
const char *sb_executor_name(sb_executor e);

/* Which scenario a PATCH of |vus| VUs applies to: the one named |name|, or with |name| NULL the
 * only constant-vus or ramping-vus scenario. Checks it is running now (not before its startTime,
 * not past its end) and that |vus| is within the VUs it was planned with (VUs are made before
 * the start). Returns 0 and |*idx|, or SB_EINVAL (bad count), SB_ENOTFOUND (no such scenario)
 * or SB_ECANCELED (not now: the scenario is not running), with |err| saying what to do. */
int sb_run_state_scale_target(const sb_run_state *s, const char *name, uint64_t vus,
                              int64_t now_us, size_t *idx, sb_err *err);

/* The end-of-test verdict on the generators (every summary mode): when an agent limited the load
 * (sb_rs_gen_causes), or arrival-rate scenarios dropped iterations, appends
 *
 *   WARN the load generator was saturated — results may describe the generator, not the target:
 *     - agent local: worker CPU >= 90% for 3.0 s of 4.0 s (peak 100%): ...what to do
 *
 * one line per cause with its numbers and what to do; nothing when there is nothing to say.
 * Returns the number of causes, or SB_ENOMEM. */
int sb_run_state_generator_text(sb_buf *out, const sb_run_state *s);
/* The same as JSON (an object; handleSummary's data.speedboat_generator):
 *   {"saturated": bool, "causes": [{"agent"|"scenario": name, "cause": "cpu"|"loop_lag"|
 *    "fds"|"dial_emfile"|"dropped_iterations", "message": text}],
 *    "agents": [{"name", "measured_s", "cpu_hot_s", "cpu_peak", "loop_lag_max_ms",
 *                "loop_lag_mean_ms", "fds_peak_open", "fds_limit", "dial_emfile"}]}
 * (cpu_peak as a fraction, 0..1). Returns 0 or SB_ENOMEM. */
int sb_run_state_generator_json(sb_buf *out, const sb_run_state *s);
/* The live marker: "generator saturated: agent local worker CPU 98%" (the first agent saturated
 * in its latest interval, and how many more), or "" when none is. */
void sb_run_state_generator_now(const sb_run_state *s, char *out, size_t cap);

/* What the views may ask the run to do (the REST API's PATCH). The run implements it; tests
 * implement it with a fake. Each returns 0 or a negative SB_E* code with |err| set. */
typedef struct sb_run_control {
  int (*pause)(void *ud, int paused, sb_err *err);
  /* Sets scenario |idx|'s VU count over the fleet (checked with sb_run_state_scale_target). */
  int (*scale)(void *ud, size_t idx, uint64_t vus, sb_err *err);
  void *ud;
} sb_run_control;

#endif
