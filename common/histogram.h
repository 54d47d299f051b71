/* Log-linear histogram for trend metrics: exact count/sum/min/max, and buckets whose width is
 * 1/128 of their power of two, so any quantile is within 1% (0.4% at bucket midpoints) of the
 * exact value. Histograms of the same kind merge exactly (bucket-wise sums), so percentiles over
 * many workers or agents are as good as over one. Memory is bounded by the range of values seen
 * (at most a few thousand buckets), never by their count.
 *
 * An open struct embedded in its owner (STYLE.md rule 4): adding a value allocates only when the
 * value falls outside the bucket range seen so far. */
#ifndef SB_HISTOGRAM_H
#define SB_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define SB_HIST_SUB_BITS 7 /* 128 sub-buckets per power of two */

typedef struct sb_hist {
  uint64_t count;    /* values added */
  double sum;        /* their sum (for avg) */
  double min, max;   /* exact extremes; 0 when count == 0 */
  int32_t first;     /* bucket index of counts[0] */
  uint32_t n;        /* buckets allocated in |counts| */
  uint64_t *counts;  /* counts[i] = values in bucket first + i */
  uint64_t zero;     /* values in the zero bucket (index 0): kept out of |counts|, so a trend of
                        zeros and milliseconds (http_req_blocked) needs no 3,700 empty buckets */
} sb_hist;

void sb_hist_init(sb_hist *h);
/* Frees the buckets; |h| is empty and reusable. */
void sb_hist_clear(sb_hist *h);
/* Zeroes the counts but keeps the memory, for the next interval. */
void sb_hist_reset(sb_hist *h);

/* Bucket index of a value (monotonic in |v|; negative values get negative indexes, values with
 * |v| below 1e-9 share the zero bucket), and the representative value of a bucket. */
int32_t sb_hist_index(double v);
double sb_hist_bucket_value(int32_t index);

/* Adds one value. Returns 0 or SB_ENOMEM (then |h| is unchanged). */
int sb_hist_add(sb_hist *h, double v);
/* Adds |count| values' sum and extremes without buckets (count 0: nothing): what a gauge keeps
 * of its interval in its hist, and the stats part of every merge here. */
void sb_hist_add_stats(sb_hist *h, uint64_t count, double sum, double min, double max);
/* Adds every value of |src| to |dst|. Returns 0 or SB_ENOMEM (then |dst| is unchanged). */
int sb_hist_merge(sb_hist *dst, const sb_hist *src);
/* Adds raw dense bucket counts (controller/timeline.c: the difference of two histograms):
 * counts[i] values in bucket first + i, plus the exact count/sum/min/max. Returns 0, SB_ENOMEM
 * or SB_EFORMAT (counts disagree). */
int sb_hist_merge_raw(sb_hist *dst, uint64_t count, double sum, double min, double max,
                      int32_t first, const uint64_t *counts, size_t n);

/* sb_hist_merge_raw() with |zeros| more values in the zero bucket, carried apart from |counts|
 * (which may then be empty). */
int sb_hist_merge_raw_z(sb_hist *dst, uint64_t count, double sum, double min, double max,
                        int32_t first, const uint64_t *counts, size_t n, uint64_t zeros);

/* Adds a sparse histogram as the protocol carries it (proto/speedboat.proto, Trends): its
 * non-empty buckets as |len| bytes of varint pairs (gap, count), bucket i having index
 * first + gap[0] + ... + gap[i] (gap[i] >= 1 for i > 0, never the zero bucket) and count[i] >= 1
 * values; |zeros| values in the zero bucket; the exact count/sum/min/max. The whole is checked
 * (pairs whole, indexes increasing and on the axis, counts adding up to |count|, the lowest and
 * highest non-empty buckets those of min and max) in the one pass that adds the counts; when it
 * is wrong |dst| is left as it was. Returns 0, SB_ENOMEM or SB_EFORMAT. */
int sb_hist_merge_sparse(sb_hist *dst, uint64_t count, double sum, double min, double max,
                         int32_t first, const uint8_t *buckets, size_t len, uint64_t zeros);

#define SB_HIST_SPARSE_MAX 15 /* bytes a bucket takes at most in sb_hist_sparse()'s output */

/* Non-empty buckets of |h|, the zero bucket left out. */
size_t sb_hist_nonzero(const sb_hist *h);
/* Writes the non-empty buckets of |h| (the zero bucket left out: it is h->zero) as
 * sb_hist_merge_sparse() takes them into |out|, which holds SB_HIST_SPARSE_MAX *
 * sb_hist_nonzero(h) bytes; sets |*first| (0 when there are none). Returns the bytes written. */
size_t sb_hist_sparse(const sb_hist *h, int32_t *first, uint8_t *out);

/* The raw buckets of |h| as sb_hist_merge_raw() takes them (the zero bucket included), trimmed of
 * empty buckets at both ends: |*counts| points into |h| when it can, else into |*tmp|, which the
 * caller frees (NULL when unused). Returns 0 or SB_ENOMEM. */
int sb_hist_raw(const sb_hist *h, int32_t *first, const uint64_t **counts, size_t *n,
                uint64_t **tmp);

/* Quantile |q| in [0, 1] with k6's semantics (p(50) is the median; the result is clamped to
 * [min, max], and p(0)/p(100) are exactly min/max). 0 when empty. */
double sb_hist_quantile(const sb_hist *h, double q);
static inline double sb_hist_avg(const sb_hist *h) { return h->count ? h->sum / (double)h->count : 0; }

#endif
