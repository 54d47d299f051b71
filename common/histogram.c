/* Log-linear histogram (see histogram.h).
 *
 * A value v with |v| >= 1e-9 is written m * 2^e with m in [0.5, 1) (frexp); its bucket is
 * (e - EMIN) * 128 + floor((m - 0.5) * 256) + 1, so each power of two is cut into 128 buckets
 * of equal width and the index grows with |v|. Negative values mirror to negative indexes and
 * the tiny ones share bucket 0. The whole double range fits in [-MAX_INDEX, MAX_INDEX].
 *
 * Counts are one dense array over [first, first + n) that grows (doubling, towards the side
 * that needed it) when a value falls outside; a run whose latencies span 1 ms .. 60 s uses
 * about 2,000 buckets. The zero bucket is counted apart (|zero|; its slot in |counts|, when the
 * array spans it, stays 0): phase timings are mostly exact zeros, and 0 next to 1 ms would
 * otherwise cost the ~3,700 buckets between 1e-9 and 1e-3. */
#include "common/histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define SUB (1 << SB_HIST_SUB_BITS)
#define ZERO_LIMIT 1e-9
#define EMIN (-29)                            /* frexp exponent of 1e-9: 1e-9 = 0.537 * 2^-29 */
#define EMAX 1024                             /* frexp exponent of DBL_MAX */
#define MAX_INDEX ((EMAX - EMIN) * SUB + SUB) /* index of the top bucket, infinities too */
#define MIN_ALLOC 64

void sb_hist_init(sb_hist *h) {
  memset(h, 0, sizeof(*h));
}

void sb_hist_clear(sb_hist *h) {
  free(h->counts);
  sb_hist_init(h);
}

void sb_hist_reset(sb_hist *h) {
  if (h->counts) memset(h->counts, 0, h->n * sizeof(*h->counts));
  h->count = 0;
  h->zero = 0;
  h->sum = 0;
  h->min = h->max = 0;
}

int32_t sb_hist_index(double v) {
  double a = fabs(v);
  if (!(a >= ZERO_LIMIT)) return 0; /* tiny, or NaN */
  int32_t idx;
  if (isinf(a)) {
    idx = MAX_INDEX;
  } else {
    /* frexp's e and floor((m - 0.5) * 2 * SUB), read from the bits (|v| >= 1e-9 is a normal
     * double): e is the biased exponent - 1022, the sub-bucket the mantissa's top SUB_BITS. */
    uint64_t bits;
    memcpy(&bits, &a, sizeof(bits));
    int e = (int)(bits >> 52) - 1022;
    int sub = (int)(bits >> (52 - SB_HIST_SUB_BITS)) & (SUB - 1);
    idx = (int32_t)((e - EMIN) * SUB + sub + 1);
  }
  return v < 0 ? -idx : idx;
}

/* Midpoint of the bucket: within 1/256 (0.4%) of any value in it. */
double sb_hist_bucket_value(int32_t index) {
  if (index == 0) return 0;
  int32_t a = index < 0 ? -index : index;
  if (a > MAX_INDEX) a = MAX_INDEX;
  int32_t k = a - 1;
  int e = k / SUB + EMIN;
  int sub = k % SUB;
  double v = ldexp((double)SUB + sub + 0.5, e - (SB_HIST_SUB_BITS + 1));
  if (isinf(v)) v = HUGE_VAL;
  return index < 0 ? -v : v;
}

/* Makes counts cover [lo, hi] (both within +-MAX_INDEX). Grows at least by half, the slack
 * going to the side that needed room, so a slowly widening range costs amortised O(1). Returns
 * 0 or SB_ENOMEM with |h| untouched. */
static int ensure_range(sb_hist *h, int32_t lo, int32_t hi) {
  int64_t cur_lo = h->first, cur_hi = (int64_t)h->first + h->n - 1;
  if (h->n && lo >= cur_lo && hi <= cur_hi) return 0;
  int64_t nlo = lo, nhi = hi;
  if (h->n) {
    if (cur_lo < nlo) nlo = cur_lo;
    if (cur_hi > nhi) nhi = cur_hi;
  }
  int64_t need = nhi - nlo + 1;
  int64_t grown = (int64_t)h->n + h->n / 2; /* 1.5x: amortised, and at most 50% slack */
  int64_t want = grown > need ? grown : need;
  if (want < MIN_ALLOC) want = MIN_ALLOC;
  int64_t slack = want - need;
  if (h->n && lo < cur_lo && hi <= cur_hi) {
    nlo -= slack; /* growing downwards */
  } else if (h->n && hi > cur_hi && lo >= cur_lo) {
    nhi += slack; /* growing upwards */
  } else {
    nlo -= slack / 2;
    nhi += slack - slack / 2;
  }
  if (nlo < -MAX_INDEX) nlo = -MAX_INDEX;
  if (nhi > MAX_INDEX) nhi = MAX_INDEX;
  size_t nn = (size_t)(nhi - nlo + 1);
  uint64_t *c = calloc(nn, sizeof(*c));
  if (!c) return SB_ENOMEM;
  if (h->n) memcpy(c + (cur_lo - nlo), h->counts, h->n * sizeof(*c));
  free(h->counts);
  h->counts = c;
  h->first = (int32_t)nlo;
  h->n = (uint32_t)nn;
  return 0;
}

/* Folds the exact statistics of |count| values into |h|. */
void sb_hist_add_stats(sb_hist *h, uint64_t count, double sum, double min, double max) {
  if (!count) return;
  if (h->count == 0) {
    h->min = min;
    h->max = max;
  } else {
    if (min < h->min) h->min = min;
    if (max > h->max) h->max = max;
  }
  h->count += count;
  h->sum += sum;
}

/* NaN has no place on the axis and would poison sum/min/max: it is ignored. */
int sb_hist_add(sb_hist *h, double v) {
  if (isnan(v)) return 0;
  int32_t idx = sb_hist_index(v);
  if (idx == 0) {
    h->zero++;
  } else {
    if (ensure_range(h, idx, idx)) return SB_ENOMEM;
    h->counts[idx - h->first]++;
  }
  sb_hist_add_stats(h, 1, v, v, v);
  return 0;
}

/* The nonzero buckets of |counts| (covering first .. first + n - 1), the zero bucket's slot
 * left out: [*lo, *hi] offsets, or 0 when there are none. */
static int nonzero_span(const uint64_t *counts, int32_t first, size_t n, size_t *lo, size_t *hi) {
  size_t a = 0, b = n;
  while (a < n && (counts[a] == 0 || first + (int64_t)a == 0))
    a++;
  if (a == n) return 0;
  while (b > a && (counts[b - 1] == 0 || first + (int64_t)b - 1 == 0))
    b--;
  *lo = a;
  *hi = b - 1;
  return 1;
}

/* Adds counts[lo..hi] (buckets first + lo ..) into |dst|, whose range covers them; the zero
 * bucket's slot is skipped (the caller counts it). */
static void add_counts(sb_hist *dst, int32_t first, const uint64_t *counts, size_t lo, size_t hi) {
  uint64_t *d = dst->counts + (first + (int64_t)lo - dst->first);
  for (size_t i = lo; i <= hi; i++, d++)
    if (first + (int64_t)i != 0) *d += counts[i];
}

int sb_hist_merge(sb_hist *dst, const sb_hist *src) {
  size_t lo, hi;
  if (src->count == 0) return 0;
  int span = nonzero_span(src->counts, src->first, src->n, &lo, &hi);
  if (span && ensure_range(dst, src->first + (int32_t)lo, src->first + (int32_t)hi))
    return SB_ENOMEM;
  if (span) add_counts(dst, src->first, src->counts, lo, hi);
  dst->zero += src->zero;
  sb_hist_add_stats(dst, src->count, src->sum, src->min, src->max);
  return 0;
}

/* Checks that raw buckets describe |count| values between |min| and |max| before touching
 * |dst|: the counts add up exactly, the range lies on the axis, and the first and last nonzero
 * buckets are those of min and max (both sides compute them with sb_hist_index()). */
int sb_hist_merge_raw(sb_hist *dst, uint64_t count, double sum, double min, double max,
                      int32_t first, const uint64_t *counts, size_t n) {
  return sb_hist_merge_raw_z(dst, count, sum, min, max, first, counts, n, 0);
}

int sb_hist_merge_raw_z(sb_hist *dst, uint64_t count, double sum, double min, double max,
                        int32_t first, const uint64_t *counts, size_t n, uint64_t zeros) {
  if (count == 0) {
    for (size_t i = 0; i < n; i++)
      if (counts[i]) return SB_EFORMAT;
    return zeros ? SB_EFORMAT : 0;
  }
  if ((n == 0 && !zeros) || n > 2 * (size_t)MAX_INDEX + 1) return SB_EFORMAT;
  if (n && (first < -MAX_INDEX || (int64_t)first + (int64_t)n - 1 > MAX_INDEX)) return SB_EFORMAT;
  if (isnan(min) || isnan(max) || min > max) return SB_EFORMAT;
  uint64_t total = zeros;
  int64_t blo = zeros ? 0 : INT64_MAX, bhi = zeros ? 0 : INT64_MIN; /* first, last nonzero bucket */
  for (size_t i = 0; i < n; i++) {
    if (counts[i] > UINT64_MAX - total) return SB_EFORMAT;
    total += counts[i];
    if (counts[i] && first + (int64_t)i < blo) blo = first + (int64_t)i;
    if (counts[i] && first + (int64_t)i > bhi) bhi = first + (int64_t)i;
  }
  if (total != count) return SB_EFORMAT;
  if (blo != sb_hist_index(min) || bhi != sb_hist_index(max)) return SB_EFORMAT;
  uint64_t zero = n && first <= 0 && (int64_t)first + (int64_t)n > 0 ? counts[-(int64_t)first] : 0;
  size_t lo, hi;
  int span = n ? nonzero_span(counts, first, n, &lo, &hi) : 0;
  if (span && ensure_range(dst, first + (int32_t)lo, first + (int32_t)hi)) return SB_ENOMEM;
  if (span) add_counts(dst, first, counts, lo, hi);
  dst->zero += zero + zeros;
  sb_hist_add_stats(dst, count, sum, min, max);
  return 0;
}

/* ---- sparse buckets (the protocol's) ---- */

/* Reads one varint at |*p| (before |end|) into |*v|. Returns 0 when it is cut or longer than 64
 * bits. A bucket is mostly one byte of gap and one or two of count: the loop is the fast path. */
static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
    uint8_t b = *(*p)++;
    if (shift == 63 && b > 1) return 0;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 1;
    }
  }
  return 0;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v) {
  for (; v >= 0x80; v >>= 7) *p++ = (uint8_t)(v | 0x80);
  *p++ = (uint8_t)v;
  return p;
}

/* Index of the last sparse bucket, the pairs read without other checks (SB_EFORMAT, as an
 * impossible index, when they are cut): for the rare histogram whose max lies in the zero
 * bucket (every other value negative), where it is not max's. Gaps are bounded by the axis, so
 * the sum stays far inside int64_t. */
static int64_t sparse_last(int32_t first, const uint8_t *p, const uint8_t *end) {
  int64_t idx = first;
  uint64_t gap, count;
  while (p < end) {
    if (!get_varint(&p, end, &gap) || !get_varint(&p, end, &count) || gap > 2 * MAX_INDEX)
      return SB_EFORMAT;
    idx += (int64_t)gap;
  }
  return idx;
}

/* Takes back the buckets of a sparse merge that turned out wrong, those before |stop|. */
static void sparse_undo(sb_hist *dst, int32_t first, const uint8_t *p, const uint8_t *stop) {
  int64_t idx = first;
  uint64_t gap, count;
  while (p < stop && get_varint(&p, stop, &gap) && get_varint(&p, stop, &count)) {
    idx += (int64_t)gap;
    dst->counts[idx - dst->first] -= count;
  }
}

/* The range of the non-empty buckets, [b0, *top], from min and max (the lowest non-empty bucket
 * is min's, the highest max's, the zero bucket sitting between the negative and positive ones).
 * Returns 0 or SB_EFORMAT. */
static int sparse_range(int32_t first, const uint8_t *p, const uint8_t *end, double min,
                        double max, uint64_t zeros, int64_t *b0, int64_t *top) {
  int64_t lo = sb_hist_index(min), hi = sb_hist_index(max);
  uint64_t gap;
  const uint8_t *q = p;
  if (first < -MAX_INDEX || first > MAX_INDEX || !get_varint(&q, end, &gap) || gap > 2 * MAX_INDEX)
    return SB_EFORMAT;
  *b0 = (int64_t)first + (int64_t)gap;
  if (*b0 == 0 || (zeros && *b0 > 0 ? 0 : *b0) != lo) return SB_EFORMAT;
  *top = hi;
  if (hi < 0 && zeros) return SB_EFORMAT; /* the zero bucket would be above max's */
  if (hi == 0 && (!zeros || (*top = sparse_last(first, p, end)) >= 0)) return SB_EFORMAT;
  return *b0 <= *top ? 0 : SB_EFORMAT;
}

/* min and max give the range before any bucket is read, so the range grows once and the
 * buckets are checked while they are added. A wrong histogram (never sent by our agents) costs
 * a second walk to take its counts back. What this costs is the adds' cache misses (each bucket
 * a line of the run's histograms, megabytes of them): checking the whole first and adding in a
 * second walk was slower (perf: 1,053 samples against 713 in make bench's 400-series merge), and
 * so was prefetching the row's range. */
int sb_hist_merge_sparse(sb_hist *dst, uint64_t count, double sum, double min, double max,
                         int32_t first, const uint8_t *buckets, size_t len, uint64_t zeros) {
  if (count == 0) return len || zeros ? SB_EFORMAT : 0;
  if (isnan(min) || isnan(max) || min > max) return SB_EFORMAT;
  if (len == 0) {
    if (zeros != count || sb_hist_index(min) != 0 || sb_hist_index(max) != 0) return SB_EFORMAT;
    dst->zero += zeros;
    sb_hist_add_stats(dst, count, sum, min, max);
    return 0;
  }
  const uint8_t *p = buckets, *end = buckets + len, *at = p;
  int64_t b0, top;
  if (sparse_range(first, p, end, min, max, zeros, &b0, &top)) return SB_EFORMAT;
  if (ensure_range(dst, (int32_t)b0, (int32_t)top)) return SB_ENOMEM;
  uint64_t total = zeros, gap, n;
  uint64_t *c = dst->counts + (b0 - dst->first); /* c[idx - b0]: no reload after each store */
  int64_t idx = first;
  int bad = 0;
  for (int k = 0; p < end; k = 1) {
    at = p;
    if (end - p >= 2 && !((p[0] | p[1]) & 0x80)) { /* a one-byte gap and count: most buckets */
      gap = p[0];
      n = p[1];
      p += 2;
    } else if (!get_varint(&p, end, &gap) || !get_varint(&p, end, &n) || gap > 2 * MAX_INDEX) {
      bad = 1;
      break;
    }
    if ((k && !gap) || (idx += (int64_t)gap) > top || idx == 0 || !n || n > UINT64_MAX - total) {
      bad = 1;
      break;
    }
    total += n;
    c[idx - b0] += n;
  }
  if (bad || idx != top || total != count) {
    sparse_undo(dst, first, buckets, bad ? at : end);
    return SB_EFORMAT;
  }
  dst->zero += zeros;
  sb_hist_add_stats(dst, count, sum, min, max);
  return 0;
}

size_t sb_hist_nonzero(const sb_hist *h) {
  size_t lo, hi, k = 0;
  if (!nonzero_span(h->counts, h->first, h->n, &lo, &hi)) return 0;
  for (size_t i = lo; i <= hi; i++) k += h->counts[i] != 0 && h->first + (int64_t)i != 0;
  return k;
}

size_t sb_hist_sparse(const sb_hist *h, int32_t *first, uint8_t *out) {
  size_t lo, hi;
  uint8_t *p = out;
  *first = 0;
  if (!nonzero_span(h->counts, h->first, h->n, &lo, &hi)) return 0;
  int64_t prev = h->first + (int64_t)lo;
  *first = (int32_t)prev;
  for (size_t i = lo; i <= hi; i++) {
    int64_t idx = h->first + (int64_t)i;
    if (!h->counts[i] || idx == 0) continue;
    p = put_varint(p, (uint64_t)(idx - prev));
    p = put_varint(p, h->counts[i]);
    prev = idx;
  }
  return (size_t)(p - out);
}

int sb_hist_raw(const sb_hist *h, int32_t *first, const uint64_t **counts, size_t *n,
                uint64_t **tmp) {
  size_t lo, hi;
  int span = nonzero_span(h->counts, h->first, h->n, &lo, &hi);
  *tmp = NULL;
  if (!span && !h->zero) { /* empty */
    *first = 0;
    *counts = NULL;
    *n = 0;
    return 0;
  }
  int64_t a = span ? h->first + (int64_t)lo : 0, b = span ? h->first + (int64_t)hi : 0;
  if (h->zero == 0) {
    *first = (int32_t)a; /* the counts as they are */
    *counts = h->counts + lo;
    *n = (size_t)(b - a + 1);
    return 0;
  }
  if (a > 0) a = 0;
  if (b < 0) b = 0;
  uint64_t *c = calloc((size_t)(b - a + 1), sizeof(*c));
  if (!c) return SB_ENOMEM;
  if (span) memcpy(c + (h->first + (int64_t)lo - a), h->counts + lo, (hi - lo + 1) * sizeof(*c));
  c[-a] = h->zero;
  *first = (int32_t)a;
  *counts = c;
  *n = (size_t)(b - a + 1);
  *tmp = c;
  return 0;
}

/* Value of the sample of rank |r| (0-based, sorted), approximated by its bucket's midpoint
 * and kept within [min, max]; the extreme ranks are exact. */
static double clamp(const sb_hist *h, double v) {
  return v < h->min ? h->min : v > h->max ? h->max : v;
}

static double rank_value(const sb_hist *h, uint64_t r) {
  if (r == 0) return h->min;
  if (r >= h->count - 1) return h->max;
  uint64_t seen = 0;
  int zero_done = 0; /* the zero bucket sits between the negative and positive indexes */
  for (uint32_t i = 0; i < h->n; i++) {
    int32_t idx = h->first + (int32_t)i;
    if (!zero_done && idx >= 0) {
      zero_done = 1;
      if ((seen += h->zero) > r) return clamp(h, 0);
    }
    if ((seen += h->counts[i]) > r) return clamp(h, sb_hist_bucket_value(idx));
  }
  if (!zero_done && seen + h->zero > r) return clamp(h, 0);
  return h->max;
}

/* k6 sorts the samples and interpolates linearly at position q * (n - 1); here the two
 * neighbouring ranks come from the buckets. */
double sb_hist_quantile(const sb_hist *h, double q) {
  if (h->count == 0) return 0;
  if (!(q > 0)) return h->min;
  if (q >= 1) return h->max;
  double pos = q * (double)(h->count - 1);
  double fl = floor(pos);
  uint64_t lo = (uint64_t)fl;
  uint64_t hi = (uint64_t)ceil(pos);
  double a = rank_value(h, lo);
  if (hi == lo) return a;
  double b = rank_value(h, hi);
  return a + (b - a) * (pos - fl);
}
