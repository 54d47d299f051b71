/* The run over time, one point per metric interval (a second), for the live dashboard and the
 * HTML report: what each interval's merged snapshot says about load and latency.
 *
 * A point is computed from the interval's own metric set (the fleet's snapshot of that second,
 * not the cumulative one), so rates are per second and percentiles are of that second's
 * requests. Points are kept for the whole run (24 doubles each: ~11 MB for a 16-hour test). */
#ifndef SB_TIMELINE_H
#define SB_TIMELINE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/metrics.h"

typedef struct sb_tl_point {
  double t;                       /* seconds since the test started (end of the interval) */
  double secs;                    /* the interval's length */
  double vus;
  double reqs, failed;            /* http_reqs; http_req_failed trues */
  double iters, dropped;          /* iterations, dropped_iterations */
  double checks_ok, checks_fail;
  double sent, received;          /* bytes */
  double avg, p50, p90, p95, p99, max; /* http_req_duration, ms (0 without requests) */
} sb_tl_point;

typedef struct sb_timeline {
  sb_tl_point *p;
  size_t n, cap;
  sb_tl_point prev;               /* sb_timeline_add_total(): the totals at the last point */
  sb_hist prev_dur;               /* ... and http_req_duration's histogram then */
  double prev_t;
} sb_timeline;

void sb_timeline_init(sb_timeline *tl);
void sb_timeline_clear(sb_timeline *tl);

/* Appends the point for |interval| (|secs| long, ending |t| seconds into the test) with |vus|
 * active VUs. Returns 0 or SB_ENOMEM. */
int sb_timeline_add(sb_timeline *tl, double t, double secs, const sb_metrics *interval, double vus);

/* Appends the point for the interval since the previous call, ending |t| seconds into the test,
 * from the cumulative set |total| (the difference of its counters and of its duration histogram
 * since then: percentiles of that interval's requests). Returns 0 or SB_ENOMEM. */
int sb_timeline_add_total(sb_timeline *tl, double t, const sb_metrics *total, double vus);

/* Appends points [from, n) to |out| as JSON: {"cols":[names...],"rows":[[...],...]} (numbers
 * rounded to 3 decimals). Returns 0 or SB_ENOMEM. */
int sb_timeline_json(const sb_timeline *tl, size_t from, sb_buf *out);

/* Appends a JSON array of the cumulative set |total| per request name (the `name` tag):
 * [{"name","method","reqs","failed","avg","p95","p99"}...], the busiest first, at most |limit|.
 * Returns 0 or SB_ENOMEM. */
int sb_timeline_urls_json(const sb_metrics *total, size_t limit, sb_buf *out);

#endif
