/* Metric samples aggregated per (metric, tag set).
 *
 * A |sb_metrics| belongs to one thread (a worker's loop, the engine, the controller's merge): no
 * locks inside. Samples never cross threads one by one; a worker moves its aggregate into another
 * set with sb_metrics_merge() and resets its own (STYLE.md rule 7).
 *
 * Metrics are known by name; ids are per set. The built-in k6 metrics have fixed ids
 * (SB_M_*), registered by sb_metrics_new() in every set. A tag set is interned once (a canonical
 * string of sorted "key\0value\0" pairs) and then keeps a pointer per metric to its series, so the
 * per-request path is one hash lookup for all http_req_* metrics and no allocation once a
 * (metric, tags) pair has been seen. */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/histogram.h"

typedef enum sb_metric_type {
  SB_METRIC_COUNTER = 1,
  SB_METRIC_GAUGE = 2,
  SB_METRIC_RATE = 3,
  SB_METRIC_TREND = 4,
} sb_metric_type; /* same numbers as the protocol's MetricType */

typedef enum sb_value_type {
  SB_VALUE_DEFAULT = 0,
  SB_VALUE_TIME = 1, /* milliseconds */
  SB_VALUE_DATA = 2, /* bytes */
} sb_value_type; /* same numbers as the protocol's ValueType */

/* Built-in metrics, in the order sb_metrics_new() registers them. */
enum {
  SB_M_VUS,
  SB_M_VUS_MAX,
  SB_M_ITERATIONS,
  SB_M_ITERATION_DURATION,
  SB_M_DROPPED_ITERATIONS,
  SB_M_DATA_SENT,
  SB_M_DATA_RECEIVED,
  SB_M_CHECKS,
  SB_M_HTTP_REQS,
  SB_M_HTTP_REQ_FAILED,
  SB_M_HTTP_REQ_DURATION,
  SB_M_HTTP_REQ_BLOCKED,
  SB_M_HTTP_REQ_CONNECTING,
  SB_M_HTTP_REQ_TLS_HANDSHAKING,
  SB_M_HTTP_REQ_SENDING,
  SB_M_HTTP_REQ_WAITING,
  SB_M_HTTP_REQ_RECEIVING,
  SB_M_GROUP_DURATION,
  SB_M_BUILTIN_COUNT
};

typedef struct sb_metric_info {
  const char *name;       /* owned by the set (or static for built-ins) */
  sb_metric_type type;
  sb_value_type contains;
} sb_metric_info;

/* The aggregate of one (metric, tag set) since the last reset. */
typedef struct sb_series {
  int metric;             /* id in the owning set */
  uint32_t index;         /* order of creation in the owning set (0, 1, ...): stable for the
                             set's life, so a connection can name the series by it */
  const struct sb_tagset *tags;
  double value;           /* counter: sum; gauge: last value */
  uint64_t trues, total;  /* rate */
  sb_hist hist;           /* trend; gauge: min/max via hist.min/hist.max with hist.count samples */
  uint64_t touched;       /* samples since the last reset (0: nothing to report) */
} sb_series;

typedef struct sb_tagset sb_tagset; /* interned, owned by the set, stable address */
typedef struct sb_metrics sb_metrics;

/* Creates a set with the built-in metrics registered. Returns 0 or SB_ENOMEM. */
int sb_metrics_new(sb_metrics **out);
void sb_metrics_free(sb_metrics *m);

/* Finds or registers a metric by name. Registering an existing name with another type is
 * SB_EINVAL (|err| says which). Returns the id (>= 0) or a negative code. */
int sb_metrics_register(sb_metrics *m, const char *name, sb_metric_type type,
                        sb_value_type contains, sb_err *err);
/* Id of a metric by name, or SB_ENOTFOUND. */
int sb_metrics_find(const sb_metrics *m, const char *name);
const sb_metric_info *sb_metrics_info(const sb_metrics *m, int id);
int sb_metrics_count(const sb_metrics *m);

/* Interns a tag set given as |n| key/value pairs (need not be sorted; keys unique). Returns the
 * interned set or NULL on SB_ENOMEM. Looks up without allocating when the set was seen before. */
const sb_tagset *sb_metrics_tags(sb_metrics *m, const char *const *kv, size_t n);
/* The same without the memo of the last lookups sb_metrics_tags() keeps for a VU repeating its
 * request's tags: for callers whose tag sets cycle through more than the memo holds (the
 * controller merging a snapshot's series), where every memo probe would miss. One hash lookup;
 * the memo is neither read nor filled. */
const sb_tagset *sb_metrics_tags_lookup(sb_metrics *m, const char *const *kv, size_t n);
/* The pairs of an interned set, sorted by key: kv[2*i] is a key, kv[2*i+1] its value. */
size_t sb_tagset_pairs(const sb_tagset *t, const char *const **kv);
/* Value of |key| in |t|, or NULL. */
const char *sb_tagset_get(const sb_tagset *t, const char *key);

/* The series of (metric, tags), created on first use. NULL only on SB_ENOMEM. */
sb_series *sb_metrics_series(sb_metrics *m, int metric, const sb_tagset *t);

/* Adds a sample to a series according to its metric's type: counter adds, gauge sets, rate counts
 * (v != 0 is a true), trend records. Returns 0 or SB_ENOMEM. */
int sb_series_add(sb_metrics *m, sb_series *s, double v);
/* Shorthand: intern nothing, look up (metric, t) and add. */
int sb_metrics_add(sb_metrics *m, int metric, const sb_tagset *t, double v);

/* Adds everything |src| aggregated into |dst| (matching metrics by name and tags by content;
 * registering metrics and tag sets in |dst| as needed). Gauges take |src|'s value. */
int sb_metrics_merge(sb_metrics *dst, const sb_metrics *src, sb_err *err);
/* Zeroes every series (keeps metrics, tag sets and memory) for the next interval. */
void sb_metrics_reset(sb_metrics *m);

/* Raw points (common/points.h), for the outputs that need every sample. Once enabled, every
 * sample sb_series_add() takes is also kept as a point until sb_metrics_reset(), and
 * sb_metrics_merge() moves |src|'s points into |dst| when |dst| records points too (else they are
 * dropped with the reset). Returns 0 or SB_ENOMEM. */
int sb_metrics_points_enable(sb_metrics *m);
/* The points since the last reset, or NULL when |m| does not record them. */
const struct sb_points *sb_metrics_points(const sb_metrics *m);
/* The order in which |t| was interned in its set (0, 1, ...): stable for the set's life, so a
 * connection can name a tag set by it. */
uint32_t sb_tagset_index(const sb_tagset *t);

/* Iterates every series with touched > 0, in no particular order; |it| starts at 0.
 * Returns NULL at the end. */
sb_series *sb_metrics_next(const sb_metrics *m, size_t *it);

/* Folds every series of |metric| whose tags contain all |n| pairs of |filter| into |out| (an
 * sb_series the caller sb_series_init()ed; free with sb_series_clear()). Used for the summary's
 * metric lines and sub-metrics ("http_req_duration{expected_response:true}") and thresholds. */
void sb_series_init(sb_series *s, int metric);
void sb_series_clear(sb_series *s);
int sb_metrics_fold(const sb_metrics *m, int metric, const char *const *filter, size_t n,
                    sb_series *out);

#endif
