/* Thresholds: k6's "metric{tag:value}" keys and "<agg> <op> <number>" expressions, parsed once
 * and evaluated on a metric set (the controller's merged metrics).
 *
 *   key:  http_req_duration            checks{my_tag:a b}       http_req_duration{status:200,x:y}
 *   expr: avg<200   p(99.9) <= 1500   count>0   rate<0.01   value==3   med != 2
 *
 * Aggregations by metric type (sb_threshold_check_type):
 *   trend: avg min max med p(N)    counter: count rate    rate: rate    gauge: value
 * Before a run, every key must name a metric the run will have, built-in or custom (created in
 * the init context with k6/metrics), and fit its type (sb_thresholds_validate), as k6 checks.
 * A metric without samples is still evaluated at the end of the run, on zeros (k6 >= 0.38):
 * "p(95)<200" passes, "count>0" fails, an empty rate is 0. */
#ifndef SB_THRESHOLD_H
#define SB_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/metrics.h"
#include "controller/options.h"

typedef enum sb_threshold_agg {
  SB_AGG_AVG = 1,
  SB_AGG_MIN,
  SB_AGG_MAX,
  SB_AGG_MED,
  SB_AGG_PCT, /* p(N) */
  SB_AGG_COUNT,
  SB_AGG_RATE,
  SB_AGG_VALUE,
} sb_threshold_agg;

typedef enum sb_threshold_op {
  SB_OP_LT = 1, /* <  */
  SB_OP_LE,     /* <= */
  SB_OP_GT,     /* >  */
  SB_OP_GE,     /* >= */
  SB_OP_EQ,     /* == and === */
  SB_OP_NE,     /* != */
} sb_threshold_op;

typedef struct sb_threshold {
  char *key;       /* as written: "http_req_duration{ status : 200 }" */
  char *metric;    /* "http_req_duration" */
  char *submetric; /* normalized key, the summary's row: "http_req_duration{status:200}"
                      (equals |metric| when there is no tag filter) */
  char **filter;   /* tag pairs: filter[2*i] key, filter[2*i+1] value (trimmed) */
  size_t nfilter;
  char *expr; /* as written: "p(95)<200" */
  sb_threshold_agg agg;
  double pct; /* p(N): N, in [0, 100] */
  sb_threshold_op op;
  double limit;
  int abort_on_fail;
  int64_t delay_abort_eval_ms;
} sb_threshold;

typedef struct sb_threshold_result {
  int ok;          /* 1: passed (or not evaluated yet) */
  int evaluated;   /* 0: skipped (no samples and skip_empty was asked) */
  double observed; /* the aggregate compared with the limit */
} sb_threshold_result;

/* Parses |key| and |expr| into |t| (free with sb_threshold_clear()). Returns 0, SB_EINVAL or
 * SB_ENOMEM; |err| reads "thresholds: 'http_req_duration': 'p95<200': unknown aggregation 'p95'".
 */
int sb_threshold_parse(sb_threshold *t, const char *key, const char *expr, sb_err *err);
void sb_threshold_clear(sb_threshold *t);

/* Whether |t|'s aggregation fits a metric of |type|. Returns 0 or SB_EINVAL; |err| reads
 * "thresholds: 'my_rate': 'value<3': aggregation 'value' does not apply to a rate metric (use
 * rate)". */
int sb_threshold_check_type(const sb_threshold *t, sb_metric_type type, sb_err *err);

/* Checks each of the |n| thresholds of |t| against the metrics a run has: the built-ins and the
 * |ncustom| metrics of |custom| (the init context's, sb_compile_result.metrics; may be NULL).
 * Returns 0, SB_ENOMEM or SB_EINVAL for the first threshold at fault: a metric that is neither
 * ("thresholds: 'nope': no metric name \"nope\" found: ...", k6's reason) or an aggregation its
 * type lacks (sb_threshold_check_type()). A tag filter is not checked: any sub-metric is valid. */
int sb_thresholds_validate(const sb_threshold *t, size_t n, const sb_metric_info *custom,
                           size_t ncustom, sb_err *err);

/* Parses every threshold of |o| into a fresh array |*out| of |*n| (free with
 * sb_thresholds_free()). Returns 0, SB_EINVAL or SB_ENOMEM. */
int sb_thresholds_parse(const sb_options *o, sb_threshold **out, size_t *n, sb_err *err);
void sb_thresholds_free(sb_threshold *t, size_t n);

/* The aggregate |t| compares, folded over the series of its metric matching its tag filter;
 * |duration_s| is the test time (a counter's rate is count / duration_s). Sets |*nsamples| to the
 * samples seen. Returns 0, SB_EINVAL (aggregation does not fit the metric's type) or SB_ENOMEM.
 * A metric |m| does not know has no samples. */
int sb_threshold_value(const sb_threshold *t, const sb_metrics *m, double duration_s, double *value,
                       uint64_t *nsamples, sb_err *err);

/* Evaluates |t| into |*res|. With |skip_empty| (mid-run checks), a threshold whose metric has no
 * samples yet is not evaluated (res->evaluated = 0, ok = 1). Returns as sb_threshold_value(). */
int sb_threshold_eval(const sb_threshold *t, const sb_metrics *m, double duration_s, int skip_empty,
                      sb_threshold_result *res, sb_err *err);

/* Whether |observed| satisfies |t| (comparison only; NaN never does). */
int sb_threshold_compare(const sb_threshold *t, double observed);

#endif
