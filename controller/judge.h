/* The verdict of a run: the thresholds of the options, evaluated on the merged metrics while the
 * test runs (abortOnFail) and at its end, and the end-of-test summary that shows them. */
#ifndef SB_JUDGE_H
#define SB_JUDGE_H

#include <stdio.h>

#include "common/err.h"
#include "common/metrics.h"
#include "controller/options.h"

typedef struct sb_judge sb_judge;

/* Parses every threshold of |o| (kept by pointer: |o| must outlive the judge) and validates it
 * against the built-in metrics and the |ncustom| custom metrics of |custom| (the init context's,
 * sb_compile_result.metrics; copied, may be NULL). Returns 0, SB_ENOMEM or SB_EINVAL with |err|
 * naming the metric and expression at fault (sb_thresholds_validate()). */
int sb_judge_new(sb_judge **out, const sb_options *o, const sb_metric_info *custom, size_t ncustom,
                 sb_err *err);
void sb_judge_free(sb_judge *j);

/* Registers the custom metrics of sb_judge_new() in |m| (the set the run merges into), so that
 * a threshold on one that never gets a sample still has its line in the summary, and the agents'
 * samples of it meet the same type. Returns 0, SB_ENOMEM or SB_EINVAL (|m| knows a name with
 * another type). */
int sb_judge_register_metrics(const sb_judge *j, sb_metrics *m, sb_err *err);

/* Evaluates the abortOnFail thresholds whose delayAbortEval has passed; 1 when one failed (the
 * run must stop), else 0. |elapsed_s| is the test time so far. */
int sb_judge_check_abort(sb_judge *j, const sb_metrics *m, double elapsed_s);
/* Comma-separated metric keys whose abortOnFail thresholds failed. */
const char *sb_judge_abort_metrics(const sb_judge *j);

/* Evaluates every threshold at the end of the run; 1 when all passed (or none), 0 otherwise. */
int sb_judge_finish(sb_judge *j, const sb_metrics *m, double duration_s);
/* Comma-separated metric keys with failed thresholds. */
const char *sb_judge_failed_metrics(const sb_judge *j);

/* Prints k6's end-of-test summary with the threshold marks of the last evaluation. */
void sb_judge_print_summary(const sb_judge *j, FILE *out, const sb_metrics *m, double duration_s);

#endif
