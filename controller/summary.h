/* k6's classic end-of-test summary: the check tree, then one line per metric (sorted by name,
 * sub-metrics right after their parent), names dotted to a common width, values in aligned
 * columns, a ✓/✗ mark before every metric that has thresholds.
 *
 *      ✓ is status 200
 *
 *      data_received..................: 7.8 kB 32 kB/s
 *      http_req_duration..............: avg=115.28ms min=115.28ms med=115.28ms max=115.28ms ...
 *        { expected_response:true }...: avg=115.28ms min=115.28ms ...
 *    ✗ http_req_failed................: 1.40%  ✓ 14        ✗ 986
 *      http_reqs......................: 1000   25.861591/s
 *      vus............................: 8      min=8       max=100
 *
 * Which lines: every metric with samples or with a threshold; the sub-metrics thresholds name;
 * http_req_duration{expected_response:true} when it has samples. Lines carry no trailing spaces
 * and no colors. */
#ifndef SB_SUMMARY_H
#define SB_SUMMARY_H

#include <stdio.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "controller/options.h"
#include "controller/threshold.h"

/* What a summary shows. |results| (parallel to |thresholds|) give the marks; both may be NULL
 * with nthresholds 0. |trend_stats| NULL means k6's default (avg min med max p(90) p(95)). */
typedef struct sb_summary_input {
  const sb_metrics *metrics;
  const char *const *trend_stats;
  size_t ntrend_stats;
  const sb_threshold *thresholds;
  const sb_threshold_result *results;
  size_t nthresholds;
  double duration_s; /* test time, for counters' per-second rates */
} sb_summary_input;

/* Appends the summary text to |out| as k6's default handleSummary writes it to stdout: a blank
 * line, the check tree and the metric lines, then a blank line. Returns 0 or SB_ENOMEM. */
int sb_summary_format(sb_buf *out, const sb_summary_input *in);

/* sb_summary_format() to a stream. Returns 0, SB_ENOMEM or SB_EIO. */
int sb_summary_print(FILE *out, const sb_summary_input *in);

/* k6's value formatting, exposed for outputs that must match the summary:
 * data "7.8 kB", "621 B", "3.2 MB"; rates "1.40%" (truncated); plain numbers with at most 6
 * decimals and no trailing zeros ("25.861591", "1000"); time via sb_duration_format_value(). */
void sb_summary_humanize(double v, sb_metric_type type, sb_value_type contains, char *out,
                         size_t cap);

#endif
