/* `speedboat run`: compile, plan, drive the agents, merge, judge, summarise.
 *
 * A local run is a distributed run with one agent: the engine runs in-process on a thread of its
 * own behind a socketpair, and the controller speaks the same framed protocol to it as to a
 * remote agent. */
#ifndef SB_RUN_H
#define SB_RUN_H

#include "controller/options.h"

/* k6's exit codes. */
enum {
  SB_EXIT_OK = 0,
  SB_EXIT_THRESHOLDS_FAILED = 99,
  SB_EXIT_ENGINE = 255,        /* any other failure (k6: a controlled error without its own code) */
  SB_EXIT_INVALID_CONFIG = 104,
  SB_EXIT_EXTERNAL_ABORT = 105,
  SB_EXIT_CANNOT_START_API = 106, /* --address given and the REST API could not listen there */
  SB_EXIT_SCRIPT_EXCEPTION = 107,
  SB_EXIT_SETUP_TIMEOUT = 100,
  SB_EXIT_TEARDOWN_TIMEOUT = 101,
  SB_EXIT_AGENT_LOST = 111,    /* ours: an agent was lost mid-run (the run went on degraded, or
                                * stopped with --on-agent-loss=abort) */
  SB_EXIT_USAGE = 2,
};

typedef struct sb_run_config {
  const char *script;          /* a script (.js) or an archive (.tar.zst / k6 .tar) */
  sb_cli_overrides cli;
  const char *const *env;      /* -e KEY=VALUE as key, value, ..., NULL */
  int workers;                 /* worker threads of the in-process agent; 0 = one per core */
  int quiet;                   /* no banner, no progress */
  int progress;                /* SB_PROGRESS_*: --progress (scenarios by default) */
  const char *address;         /* --address: the REST API's HOST:PORT; NULL = 127.0.0.1:6565 */
  int no_api;                  /* --no-api */
  int dashboard;               /* --dashboard: the live dashboard at the API's /dashboard */
  const char *report;          /* --report FILE.html: the run as one self-contained page */
  /* Distributed runs: with no agents, the engine runs in-process as the only agent. */
  const char *agents;          /* --agents host:port[@w],... */
  const char *agents_file;     /* --agents-file FILE */
  const char *agent_token_file; /* --agent-token-file; else $SPEEDBOAT_AGENT_TOKEN */
  const char *agent_tls_cert, *agent_tls_key, *agent_tls_ca; /* all three or none */
  int abort_on_agent_loss;     /* --on-agent-loss=abort */
  int agent_lost_ms;           /* silence that means an agent is lost; 0 = 4000 */
  int no_target_check;         /* --no-target-check: agents do not check the script's targets */
  int compat;                  /* sb_compat_mode: --compatibility-mode (extended by default) */
  int verbose;                 /* -v/--verbose: console.debug lines are printed too */
  const char *const *outs;     /* --out values ("json=FILE", "csv=FILE"), |nouts| of them */
  size_t nouts;
  const char *summary_export;  /* --summary-export FILE; NULL = none */
} sb_run_config;

/* --progress: what the live progress shows (controller/progress.h). */
enum { SB_PROGRESS_SCENARIOS = 0, SB_PROGRESS_AGENTS, SB_PROGRESS_NONE };

/* The REST API's address when --address is not given (k6's: localhost:6565). */
#define SB_API_DEFAULT_ADDRESS "127.0.0.1:6565"

/* Runs the test; prints the banner and progress to stderr... as k6 does, the summary to stdout.
 * Returns the process exit code. */
int sb_run(const sb_run_config *cfg);

/* `speedboat archive`: compiles |script| and writes the archive to |out_path|. Returns the exit
 * code. */
int sb_run_archive(const char *script, const char *const *env, int compat, const char *out_path);

#endif
