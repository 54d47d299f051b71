/* The fleet's metrics in Prometheus' text exposition format (version 0.0.4), for GET /metrics.
 *
 * One sample family per k6 metric, named as k6's Prometheus remote-write output names them
 * (prefix "k6_"): a counter is `k6_<name>_total` (counter), a gauge `k6_<name>` (gauge), a rate
 * `k6_<name>_rate` (gauge, 0..1) beside `k6_<name>_total` and `k6_<name>_true_total` counters,
 * a trend a summary `k6_<name>[_seconds]` with quantiles 0.5, 0.9, 0.95, 0.99 and `_sum`,
 * `_count` (time trends in seconds, Prometheus' base unit; other trends as they are). Every tag
 * is a label (names made valid: [a-zA-Z_][a-zA-Z0-9_]*, values escaped). Cumulative since the
 * test started, as a scrape expects; families sorted by name, each series once. */
#ifndef SB_PROM_H
#define SB_PROM_H

#include "common/buf.h"
#include "common/metrics.h"

/* Appends the exposition of every series of |m| to |out|. Returns 0 or SB_ENOMEM. */
int sb_prom_write(sb_buf *out, const sb_metrics *m);

#endif
