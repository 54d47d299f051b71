/* The end of a run's reporting, as k6 does it: the script's handleSummary(data) when it exports
 * one, else the default summary in the run's --summary-mode.
 *
 * handleSummary runs on the controller, which holds the merged metrics of every agent (so it
 * works the same in distributed runs), in a Duktape heap of its own: the archive's modules
 * (common/jsmod.h) with the init code run once more, as k6 runs it in a fresh VU; the pure
 * built-in modules for real (k6/encoding, k6/crypto, k6/html; k6/data over the archive's shared
 * arrays); stand-ins for the others — metrics constructors, check(), group() and sleep() work,
 * requests and timers throw (the controller sends no load); open() reads the archive; console
 * lines go to stderr as k6 logs them ("INFO[0012] text  source=console").
 *
 * What it returns, as k6's wrapper (internal/js/summary-wrapper.js) and handleSummaryResult()
 * treat it:
 *   - an object: each key is "stdout", "stderr" or a file path (relative to the current
 *     directory; created or truncated, mode 0666 before umask), each value a string (written as
 *     UTF-8) or an ArrayBuffer / typed array (its bytes); the default summary is not printed. A
 *     value of any other type fails the whole result (nothing written); a file that cannot be
 *     written is reported and the others still are;
 *   - null or undefined: the default summary is printed;
 *   - anything else (a string, an array, a Promise: k6 v1 does not await one) is reported.
 * An exception in handleSummary() (or in the init code, or the handleSummaryTimeout, k6's 2m
 * default, running out) is reported as an error line and the default summary is printed instead,
 * as k6 does for exceptions. The exit code is never changed by handleSummary. */
#ifndef SB_HANDLE_SUMMARY_H
#define SB_HANDLE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/archive.h"
#include "common/err.h"
#include "common/metrics.h"
#include "controller/options.h"
#include "controller/summary.h"

/* Whether any module of |ar| mentions handleSummary (a cheap test before running the init code
 * again: a module that exports it names it). */
int sb_handle_summary_wanted(const sb_archive *ar);

typedef struct sb_handle_summary_opts {
  const sb_archive *archive; /* the test's archive: modules, open()ed files, metadata.json env */
  const char *data_json;     /* the argument, sb_summary_data_json() */
  const char *setup_data;    /* what setup() returned, as JSON; NULL: undefined */
  const char *options_json;  /* exec.test.options (controller/options_json.h); may be NULL */
  int64_t timeout_ms;        /* handleSummaryTimeout; 0: k6's 2 minutes */
  int verbose;               /* console.debug lines are shown too */
  long long log_s;           /* seconds shown in log lines ("INFO[0012]") */
  FILE *out, *err;           /* what the "stdout" and "stderr" keys write to */
} sb_handle_summary_opts;

/* Runs the init code and handleSummary(data), then writes what it returned. Returns 1 when it
 * took over the output (the default summary must not be printed), 0 when the script exports no
 * handleSummary or it returned null/undefined (print the default summary), or a negative code
 * with |err| saying why (SB_ESCRIPT: an exception, the message and stack; SB_ETIMEDOUT; SB_EINVAL:
 * a result of the wrong shape; SB_EIO: a file could not be written, the others were; SB_ENOMEM).
 * On SB_ESCRIPT and SB_ETIMEDOUT nothing was written: print the default summary. */
int sb_handle_summary_run(const sb_handle_summary_opts *o, sb_err *err);

/* What the end of a run needs. */
typedef struct sb_end_summary {
  const sb_options *opts;      /* thresholds (judged again on |metrics|), trend stats */
  const sb_metrics *metrics;   /* merged over every agent */
  double duration_s;           /* test time */
  sb_summary_mode mode;        /* the default summary's layout */
  const uint8_t *archive;      /* the packed archive sent to the agents; NULL when no module
                                  names handleSummary (sb_handle_summary_wanted()) */
  size_t archive_len;
  const char *setup_data;      /* setup()'s JSON, NULL: undefined */
  const char *options_json;    /* the consolidated options (summaryTimeUnit,
                                  handleSummaryTimeout, exec.test.options); may be NULL */
  int verbose;
  long long log_s;
  const struct sb_run_state *run; /* the generators' health (controller/run_state.h: its verdict
                                     follows the summary, and is handleSummary's
                                     data.speedboat_generator); NULL: none */
} sb_end_summary;

/* Writes the run's results: handleSummary() when the script exports it, else (or when it fails:
 * the error goes to stderr first) the default summary in |e->mode| to stdout. Returns 1 when
 * handleSummary() took over stdout (anything else the caller prints belongs on stderr), else 0. */
int sb_end_summary_write(const sb_end_summary *e);

#endif
