/* Test options: k6's `export const options` (as JSON from the compile step) plus command-line
 * overrides, validated once into a read-only |sb_options| (STYLE.md rule 7).
 *
 * Shortcuts become one scenario named "default", exactly as k6 does:
 *   nothing                 -> per-vu-iterations, 1 VU, 1 iteration
 *   vus alone               -> shared-iterations, as many iterations as VUs (k6 v2; over any
 *                              scenarios, with a warning; not with an explicit empty `stages`)
 *   vus + iterations        -> shared-iterations
 *   iterations only         -> shared-iterations with 1 VU
 *   vus + duration          -> constant-vus (vus defaults to 1)
 *   stages                  -> ramping-vus (startVUs = vus or 1... k6: startVUs = vus, default 1)
 * `scenarios` (shared-iterations, per-vu-iterations, constant-vus, ramping-vus,
 * constant-arrival-rate, ramping-arrival-rate: controller/options_scenario.h) takes precedence
 * over the shortcuts; mixing them with shortcuts in one layer is an error as in k6. A higher layer
 * (controller/config_layers.h) setting duration, iterations, stages or scenarios replaces every
 * execution setting of the layers below: --iterations drops the script's scenarios. */
#ifndef SB_OPTIONS_H
#define SB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/http_config.h"
#include "common/err.h"
#include "common/stripe.h"

typedef enum sb_executor {
  SB_EXEC_SHARED_ITERATIONS = 1,
  SB_EXEC_PER_VU_ITERATIONS = 2,
  SB_EXEC_CONSTANT_VUS = 3,
  SB_EXEC_RAMPING_VUS = 4,
  SB_EXEC_CONSTANT_ARRIVAL_RATE = 5,
  SB_EXEC_RAMPING_ARRIVAL_RATE = 6,
} sb_executor; /* same numbers as the protocol's Executor */

typedef struct sb_stage {
  int64_t duration_ms;
  uint64_t target;
} sb_stage;

typedef struct sb_scenario {
  char *name;
  sb_executor executor;
  char *exec;                 /* exported function, "default" unless set */
  uint64_t vus;               /* shared/per-vu iterations, constant-vus */
  uint64_t iterations;        /* shared: total; per-vu: each */
  int64_t duration_ms;        /* constant-vus */
  int64_t max_duration_ms;    /* iteration executors: default 10m */
  int64_t start_time_ms;      /* default 0 */
  int64_t graceful_stop_ms;   /* default 30s */
  uint64_t start_vus;         /* ramping-vus: default 1 */
  sb_stage *stages;
  size_t nstages;
  int64_t graceful_ramp_down_ms; /* ramping-vus: default 30s */
  /* arrival-rate executors (controller/options_scenario.h); ramping-arrival-rate's stages are
   * rates. The rate is the fleet's: sb_segment_cut() never cuts it, it sets |stripe|. */
  uint64_t rate;              /* constant-arrival-rate: iterations per timeUnit */
  int64_t time_unit_ms;       /* timeUnit: default 1s */
  uint64_t pre_allocated_vus; /* preAllocatedVUs */
  uint64_t max_vus;           /* maxVUs: default preAllocatedVUs */
  uint64_t start_rate;        /* ramping-arrival-rate: startRate, default 0 */
  sb_stripe stripe;           /* an agent's iteration indices (sb_segment_cut); whole test: 0 */
  /* every executor */
  int64_t min_iteration_duration_ms; /* options.minIterationDuration (test-wide in k6) */
  char **env;                 /* scenario env: key, value, ... (nenv pairs) */
  size_t nenv;
  char **tags;                /* scenario tags: key, value, ... (ntags pairs) */
  size_t ntags;
} sb_scenario;

typedef struct sb_threshold_def {
  char *metric;               /* the key as written: "http_req_duration{expected_response:true}" */
  char *expr;                 /* "p(95)<200" */
  int abort_on_fail;
  int64_t delay_abort_eval_ms;
} sb_threshold_def;

typedef struct sb_options {
  sb_scenario *scenarios;
  size_t nscenarios;
  sb_threshold_def *thresholds;
  size_t nthresholds;
  char **summary_trend_stats; /* default: avg min med max p(90) p(95) */
  size_t nsummary_trend_stats;
  int no_summary;             /* --no-summary */
  int discard_response_bodies;
  int no_thresholds;          /* --no-thresholds */
  int64_t setup_timeout_ms;   /* setupTimeout; 0 = the default, 60 s */
  int64_t teardown_timeout_ms; /* teardownTimeout; 0 = 60 s */
  char *summary_time_unit;    /* summaryTimeUnit: "s", "ms" or "us"; NULL = each value's own */
  int linger;                 /* linger: after the summary, wait for Ctrl+C before exiting */
  sb_http_config http;        /* HTTP/TLS/DNS options, as Prepare ships them (options_http.h) */
  uint64_t max_vu_memory;     /* maxVUMemory, bytes per VU heap; 0 = the agent's default
                               * (controller/options_limits.h) */
  int64_t init_timeout_ms;    /* initTimeout; 0 = 60 s */
} sb_options;

/* What the command line set (0 / NULL / -1 = not given). */
typedef struct sb_cli_overrides {
  int64_t vus;                /* -1 = not given */
  int64_t iterations;         /* -1 */
  int64_t duration_ms;        /* -1 */
  sb_stage *stages;           /* --stage 30s:10 (repeatable) */
  size_t nstages;
  int no_thresholds;
  int no_summary;
  char **summary_trend_stats; /* --summary-trend-stats avg,p(99) */
  size_t nsummary_trend_stats;
  /* HTTP/TLS/DNS flags (k6's names); the strings are owned (free()d by the clear) */
  int insecure_skip_tls_verify; /* --insecure-skip-tls-verify */
  int no_connection_reuse;    /* --no-connection-reuse */
  int no_vu_connection_reuse; /* --no-vu-connection-reuse */
  int throw_errors;           /* -w, --throw */
  int64_t max_redirects;      /* --max-redirects; -1 */
  int64_t batch;              /* --batch; -1 */
  int64_t batch_per_host;     /* --batch-per-host; -1 */
  char *user_agent;           /* --user-agent ("" = send none); NULL = not given */
  char *dns;                  /* --dns "ttl=1m,select=first,policy=any" (any subset) */
  char *tls_ca_file;          /* --tls-ca-file: read by the run (sb_options_http_load_ca) */
  /* Options from everywhere (controller/config_layers.h) */
  char *config_path;          /* -c, --config FILE: k6's JSON config file */
  char **tags;                /* --tag NAME=VALUE[,NAME=VALUE] as given (repeatable) */
  size_t ntags;
  char **system_tags;         /* --system-tags a,b as given (repeatable; "" = none at all) */
  size_t nsystem_tags;
  char **block_hostnames;     /* --block-hostnames "*.example.com,x.org" as given (repeatable) */
  size_t nblock_hostnames;
  char *summary_time_unit;    /* --summary-time-unit s|ms|us */
  int discard_response_bodies; /* --discard-response-bodies */
  int linger;                 /* -l, --linger */
} sb_cli_overrides;

void sb_cli_overrides_init(sb_cli_overrides *o);
void sb_cli_overrides_clear(sb_cli_overrides *o);

/* Builds |*out| (free with sb_options_free()) from the options JSON (an object, or "null"/empty
 * for none) and |cli| (may be NULL), the flags laid over the JSON as k6 lays its layers
 * (controller/config_layers.h). Returns 0, SB_EINVAL or SB_EFORMAT with |err| naming the option
 * at fault ("options.scenarios.login.vus: must be > 0", "--vus: vus: ..."). Thresholds are only
 * split into (metric, expression) pairs here; controller/threshold.h parses the expressions. */
int sb_options_parse(sb_options **out, const char *json, const sb_cli_overrides *cli, sb_err *err);

/* Every layer at once — config file, script, K6_* environment, flags — as `speedboat run`
 * reads them (controller/config_layers.h). |*merged_json| (may be NULL) gets the merged options
 * as JSON (free()), what sb_options_to_json() builds exec.test.options from (with cli NULL).
 * Errors name the layer at fault ("K6_VUS: vus: must be a non-negative integer"). */
struct sb_option_sources;
int sb_options_load(sb_options **out, char **merged_json, const struct sb_option_sources *src,
                    sb_err *err);
void sb_options_free(sb_options *o);

/* The longest the test can run including graceful stops (for the banner's "max duration"). */
int64_t sb_options_max_duration_ms(const sb_options *o);
/* Sum of every scenario's maximum VUs (for "max VUs" and vus_max). */
uint64_t sb_options_max_vus(const sb_options *o);

/* The banner's description of a scenario, as k6 prints it:
 *   "1000 iterations shared among 100 VUs (maxDuration: 10m0s, gracefulStop: 30s)"
 *   "Up to 200 looping VUs for 3m0s over 2 stages (gracefulRampDown: 30s, gracefulStop: 30s)"
 *   "10 looping VUs for 30s (gracefulStop: 30s)"
 *   "5 iterations for each of 2 VUs (maxDuration: 10m0s, gracefulStop: 30s)" */
void sb_scenario_describe(const sb_scenario *s, char *out, size_t cap);

#endif
