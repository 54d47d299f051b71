/* Tests for common/histogram.c. The module is included so that its allocations go through a
 * counting allocator that can be told to fail. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int alloc_calls;   /* allocations asked for */
static int alloc_fail_at; /* fail the allocation with this number (1-based); 0: never */

static void *counting_calloc(size_t n, size_t sz) {
  alloc_calls++;
  if (alloc_fail_at && alloc_calls == alloc_fail_at) return NULL;
  return calloc(n, sz);
}

#define calloc counting_calloc /* the module's only allocator call */
#include "common/histogram.c"
#undef calloc

/* ---- helpers ---- */

static uint64_t rng_state = 88172645463325252ULL;
static void rng_seed(uint64_t s) {
  rng_state = s ? s : 1;
}
static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double rng_unit(void) {
  return (double)(rng_next() >> 11) / 9007199254740992.0;
} /* [0,1) */
static double rng_normal(void) {
  double u1 = rng_unit(), u2 = rng_unit();
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* k6's TrendSink.P: linear interpolation at q * (n - 1) over the sorted samples. */
static double exact_quantile(const double *sorted, size_t n, double q) {
  if (n == 0) return 0;
  if (n == 1) return sorted[0];
  double i = q * (double)(n - 1);
  double j = sorted[(size_t)floor(i)], k = sorted[(size_t)ceil(i)];
  return j + (k - j) * (i - floor(i));
}

static uint64_t count_at(const sb_hist *h, int32_t idx) {
  if (idx == 0) return h->zero;
  if (h->n == 0 || idx < h->first || idx >= h->first + (int64_t)h->n) return 0;
  return h->counts[idx - h->first];
}

static const double qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

/* Builds a histogram of |v| and checks every quantile within 1% of the exact one. */
static void check_quantiles(double *v, size_t n) {
  sb_hist h;
  sb_hist_init(&h);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(sb_hist_add(&h, v[i]), 0);
  qsort(v, n, sizeof(*v), cmp_double);
  assert_int_equal(h.count, n);
  assert_true(h.min == v[0]);
  assert_true(h.max == v[n - 1]);
  assert_true(sb_hist_quantile(&h, 0) == v[0]);
  assert_true(sb_hist_quantile(&h, 1) == v[n - 1]);
  for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
    double want = exact_quantile(v, n, qs[k]);
    double got = sb_hist_quantile(&h, qs[k]);
    double tol = fabs(want) * 0.01 + 1e-9; /* values below 1e-9 count as 0 */
    if (fabs(got - want) > tol) fail_msg("n=%zu q=%g: got %.9g, want %.9g", n, qs[k], got, want);
    assert_true(got >= v[0] && got <= v[n - 1]);
  }
  sb_hist_clear(&h);
}

/* ---- tests ---- */

static void test_index_monotonic(void **state) {
  (void)state;
  int32_t prev_idx = sb_hist_index(-1e300);
  for (double a = 1e300; a > 1e-12; a /= 1.0007) { /* -a increases */
    int32_t idx = sb_hist_index(-a);
    assert_true(idx >= prev_idx);
    prev_idx = idx;
  }
  assert_int_equal(sb_hist_index(0), 0);
  assert_int_equal(sb_hist_index(-0.0), 0);
  assert_int_equal(sb_hist_index(9.9e-10), 0);
  assert_int_equal(sb_hist_index(-9.9e-10), 0);
  assert_true(sb_hist_index(1e-9) > 0);
  assert_true(sb_hist_index(-1e-9) < 0);
  prev_idx = 0;
  for (double v = 1e-9; v < 1e300; v *= 1.0007) {
    int32_t idx = sb_hist_index(v);
    assert_true(idx >= prev_idx);
    assert_int_equal(sb_hist_index(-v), -idx);
    double b = sb_hist_bucket_value(idx);
    assert_true(fabs(b - v) <= v / 256 * 1.0000001);
    assert_int_equal(sb_hist_index(b), idx);
    prev_idx = idx;
  }
  /* Bucket boundaries at powers of two, and the largest values. */
  for (int e = -20; e < 60; e++) {
    double p = ldexp(1, e);
    assert_true(sb_hist_index(nextafter(p, 0)) < sb_hist_index(p));
    assert_true(sb_hist_index(p) - sb_hist_index(nextafter(p, 0)) == 1);
  }
  assert_true(sb_hist_index(INFINITY) >= sb_hist_index(1.7e308));
  assert_int_equal(sb_hist_index(-INFINITY), -sb_hist_index(INFINITY));
  assert_true(sb_hist_bucket_value(sb_hist_index(1.0)) ==
              sb_hist_bucket_value(sb_hist_index(1.001)));
  assert_true(sb_hist_bucket_value(0) == 0);
}

/* The index is the definition in histogram.c, (e - EMIN) * 128 + floor((m - 0.5) * 256) + 1 with
 * frexp's m and e, for any double >= 1e-9 (the code reads it from the bits instead). */
static int32_t index_by_frexp(double v) {
  int e;
  double m = frexp(fabs(v), &e);
  int32_t idx = (int32_t)((e + 29) * 128 + (int)((m - 0.5) * 256) + 1);
  return v < 0 ? -idx : idx;
}

static void test_index_matches_frexp(void **state) {
  (void)state;
  rng_seed(7);
  for (int i = 0; i < 1000000; i++) {
    uint64_t bits = rng_next() & ~(1ULL << 63);
    double v;
    memcpy(&v, &bits, sizeof(v));
    if (!(v >= 1e-9) || isinf(v)) continue; /* NaN, tiny, infinite: their own rules */
    if (i & 1) v = -v;
    if (sb_hist_index(v) != index_by_frexp(v)) fail_msg("%a: %d, want %d", v, sb_hist_index(v), index_by_frexp(v));
  }
  const double edges[] = {1e-9, 0.001, 0.5, 1, 1.5, 2, 3.999, 1e6, 1.7e308};
  for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
    assert_int_equal(sb_hist_index(edges[i]), index_by_frexp(edges[i]));
    assert_int_equal(sb_hist_index(nextafter(edges[i], INFINITY)), index_by_frexp(nextafter(edges[i], INFINITY)));
  }
}

static void test_quantile_uniform(void **state) {
  (void)state;
  static double v[20000];
  rng_seed(1);
  for (size_t i = 0; i < 20000; i++)
    v[i] = 1 + rng_unit() * 999;
  check_quantiles(v, 20000);
  for (int round = 0; round < 200; round++) { /* small sets, where interpolation matters */
    size_t n = 2 + rng_next() % 30;
    for (size_t i = 0; i < n; i++)
      v[i] = 0.01 + rng_unit() * 5000;
    check_quantiles(v, n);
  }
}

static void test_quantile_lognormal(void **state) {
  (void)state;
  static double v[10000];
  rng_seed(2);
  for (size_t i = 0; i < 10000; i++)
    v[i] = exp(3 + 1.5 * rng_normal());
  check_quantiles(v, 10000);
  for (size_t i = 0; i < 10000; i++)
    v[i] = -exp(1 + rng_normal()); /* all negative */
  check_quantiles(v, 10000);
}

static void test_quantile_small_sets(void **state) {
  (void)state;
  double v[100];
  for (size_t i = 0; i < 100; i++)
    v[i] = 42.5;
  check_quantiles(v, 100);
  v[0] = 7.25;
  check_quantiles(v, 1);
  v[0] = 100;
  v[1] = 1;
  check_quantiles(v, 2);

  sb_hist h;
  sb_hist_init(&h);
  sb_hist_add(&h, 1);
  sb_hist_add(&h, 100);
  assert_true(sb_hist_quantile(&h, 0.5) == 50.5); /* k6: interpolation between the two */
  assert_true(sb_hist_quantile(&h, 0.9) == 1 + 99 * 0.9);
  sb_hist_clear(&h);
}

static void test_empty_and_nan(void **state) {
  (void)state;
  sb_hist h;
  sb_hist_init(&h);
  assert_true(sb_hist_quantile(&h, 0.5) == 0);
  assert_true(sb_hist_avg(&h) == 0);
  assert_int_equal(sb_hist_add(&h, NAN), 0);
  assert_int_equal(h.count, 0);
  assert_int_equal(sb_hist_add(&h, 0), 0);
  assert_int_equal(sb_hist_add(&h, 4), 0);
  assert_int_equal(h.count, 2);
  assert_true(sb_hist_avg(&h) == 2);
  assert_true(h.min == 0 && h.max == 4);
  assert_int_equal(count_at(&h, 0), 1);
  sb_hist_clear(&h);
  assert_null(h.counts);
  assert_int_equal(h.n, 0);
}

static void test_merge_equals_single(void **state) {
  (void)state;
  sb_hist a, b, all;
  sb_hist_init(&a);
  sb_hist_init(&b);
  sb_hist_init(&all);
  rng_seed(3);
  for (int i = 0; i < 5000; i++) {
    double v = exp(2 + 2 * rng_normal());
    if (i % 7 == 0) v = -v;
    if (i % 11 == 0) v = 0;
    assert_int_equal(sb_hist_add(i % 3 ? &a : &b, v), 0);
    assert_int_equal(sb_hist_add(&all, v), 0);
  }
  assert_int_equal(sb_hist_merge(&a, &b), 0);
  assert_int_equal(a.count, all.count);
  assert_true(all.zero > 0);
  assert_int_equal(a.zero, all.zero);
  assert_true(a.min == all.min && a.max == all.max);
  assert_true(fabs(a.sum - all.sum) <= 1e-9 * fabs(all.sum) + 1e-9);
  int32_t lo = all.first < a.first ? all.first : a.first;
  int32_t hi = all.first + (int32_t)all.n > a.first + (int32_t)a.n ? all.first + (int32_t)all.n
                                                                   : a.first + (int32_t)a.n;
  for (int32_t i = lo; i < hi; i++)
    assert_int_equal(count_at(&a, i), count_at(&all, i));
  for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
    assert_true(sb_hist_quantile(&a, qs[k]) == sb_hist_quantile(&all, qs[k]));

  /* Merging an empty one changes nothing; merging into an empty one copies. */
  sb_hist empty, copy;
  sb_hist_init(&empty);
  sb_hist_init(&copy);
  assert_int_equal(sb_hist_merge(&a, &empty), 0);
  assert_int_equal(a.count, all.count);
  assert_int_equal(sb_hist_merge(&copy, &all), 0);
  assert_int_equal(copy.count, all.count);
  assert_true(copy.min == all.min && copy.max == all.max && copy.sum == all.sum);
  assert_true(sb_hist_quantile(&copy, 0.99) == sb_hist_quantile(&all, 0.99));
  sb_hist_clear(&a);
  sb_hist_clear(&b);
  sb_hist_clear(&all);
  sb_hist_clear(&copy);
}

static void trimmed(const sb_hist *h, int32_t *first, const uint64_t **counts, size_t *n) {
  size_t lo = 0, hi = h->n;
  while (lo < hi && h->counts[lo] == 0)
    lo++;
  while (hi > lo && h->counts[hi - 1] == 0)
    hi--;
  *first = h->first + (int32_t)lo;
  *counts = h->counts + lo;
  *n = hi - lo;
}

static void test_merge_raw(void **state) {
  (void)state;
  sb_hist h, r;
  sb_hist_init(&h);
  sb_hist_init(&r);
  rng_seed(4);
  for (int i = 0; i < 3000; i++)
    sb_hist_add(&h, 0.5 + rng_unit() * 200);
  int32_t first;
  const uint64_t *c;
  size_t n;
  trimmed(&h, &first, &c, &n);
  assert_true(n > 0 && n < h.n);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min, h.max, first, c, n), 0);
  assert_int_equal(r.count, h.count);
  assert_true(r.sum == h.sum && r.min == h.min && r.max == h.max);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(count_at(&r, first + (int32_t)i), c[i]);
  assert_true(sb_hist_quantile(&r, 0.95) == sb_hist_quantile(&h, 0.95));

  /* Every inconsistency is refused and leaves |r| as it was. */
  uint64_t before = r.count;
  double sum = r.sum;
  assert_int_equal(sb_hist_merge_raw(&r, h.count + 1, h.sum, h.min, h.max, first, c, n),
                   SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.max, h.min, first, c, n), SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min / 4, h.max, first, c, n),
                   SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min, h.max * 4, first, c, n),
                   SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min, h.max, first + 1, c, n),
                   SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, NAN, h.max, first, c, n), SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min, h.max, INT32_MAX - 2, c, n),
                   SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min, h.max, INT32_MIN, c, n),
                   SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, 0, 0, 0, 0, first, c, n), SB_EFORMAT);
  assert_int_equal(sb_hist_merge_raw(&r, 5, 5, 1, 1, 0, NULL, 0), SB_EFORMAT);
  uint64_t huge[2] = {UINT64_MAX, 2};
  int32_t one = sb_hist_index(1);
  assert_int_equal(sb_hist_merge_raw(&r, 1, 1, 1, 1, one, huge, 2), SB_EFORMAT);
  assert_int_equal(r.count, before);
  assert_true(r.sum == sum);
  assert_int_equal(sb_hist_merge_raw(&r, 0, 0, 0, 0, 0, NULL, 0), 0); /* empty is fine */
  assert_int_equal(r.count, before);
  sb_hist_clear(&h);
  sb_hist_clear(&r);
}

/* |a| and |b| hold the same values: stats bit for bit, and every bucket. */
static void assert_same_hist(const sb_hist *a, const sb_hist *b) {
  assert_int_equal(a->count, b->count);
  assert_int_equal(a->zero, b->zero);
  assert_memory_equal(&a->sum, &b->sum, sizeof(double));
  assert_memory_equal(&a->min, &b->min, sizeof(double));
  assert_memory_equal(&a->max, &b->max, sizeof(double));
  const sb_hist *r[2] = {a, b};
  for (int k = 0; k < 2; k++)
    for (int64_t i = r[k]->first; i < r[k]->first + (int64_t)r[k]->n; i++)
      assert_int_equal(count_at(a, (int32_t)i), count_at(b, (int32_t)i));
}

/* Fills |h| with |n| values of kind |kind|: positive, both signs, with zeros, only zeros, only
 * negatives and zeros, one value, huge and tiny. */
static void fill_kind(sb_hist *h, int kind, int n) {
  for (int i = 0; i < n; i++) {
    double u = rng_unit();
    switch (kind) {
    case 0: sb_hist_add(h, 0.2 + u * u * 3000); break;
    case 1: sb_hist_add(h, (u - 0.5) * 1e5); break;
    case 2: sb_hist_add(h, i % 3 ? u * 50 : 0); break;
    case 3: sb_hist_add(h, 0); break;
    case 4: sb_hist_add(h, i % 2 ? -u * 70 - 1 : 0); break;
    case 5: if (i == 0) sb_hist_add(h, 42.5); break;
    case 6: sb_hist_add(h, i % 2 ? 1e300 * u : 1e-8 * (u + 0.1)); break;
    }
  }
}

/* sb_hist_sparse() -> sb_hist_merge_sparse() into a histogram that holds other values already
 * is the dense merge, bit for bit, for every kind of histogram. */
static void test_sparse_round_trip(void **state) {
  (void)state;
  rng_seed(11);
  for (int kind = 0; kind < 7; kind++) {
    sb_hist h, dense, sparse;
    sb_hist_init(&h);
    sb_hist_init(&dense);
    sb_hist_init(&sparse);
    fill_kind(&h, kind, 2000);
    fill_kind(&dense, (kind + 1) % 7, 500);
    assert_int_equal(sb_hist_merge(&sparse, &dense), 0);
    size_t nz = sb_hist_nonzero(&h);
    uint8_t *b = malloc(SB_HIST_SPARSE_MAX * nz + 1);
    int32_t first;
    size_t len = sb_hist_sparse(&h, &first, b);
    assert_true(len >= 2 * nz && len <= SB_HIST_SPARSE_MAX * nz);
    assert_int_equal(sb_hist_merge(&dense, &h), 0);
    assert_int_equal(sb_hist_merge_sparse(&sparse, h.count, h.sum, h.min, h.max, first, b, len,
                                          h.zero), 0);
    assert_same_hist(&dense, &sparse);
    free(b);
    sb_hist_clear(&h);
    sb_hist_clear(&dense);
    sb_hist_clear(&sparse);
  }
}

/* Buckets of one-byte and longer gaps and counts in turn (the merge reads a pair of one-byte
 * varints apart from the others): each bucket gets its count. */
static void test_sparse_varint_widths(void **state) {
  (void)state;
  static const int64_t gap[] = {0, 127, 128, 1, 300, 127};
  static const uint64_t cnt[] = {127, 128, 1, 5000, 127, 1};
  sb_hist h, r;
  sb_hist_init(&h);
  sb_hist_init(&r);
  int32_t idx = sb_hist_index(0.001);
  for (int k = 0; k < 6; k++) {
    idx += (int32_t)gap[k];
    for (uint64_t i = 0; i < cnt[k]; i++)
      assert_int_equal(sb_hist_add(&h, sb_hist_bucket_value(idx)), 0);
  }
  uint8_t b[SB_HIST_SPARSE_MAX * 6];
  int32_t first;
  size_t len = sb_hist_sparse(&h, &first, b);
  /* (gap, count) bytes: 1+1, 1+2, 2+1, 1+2, 2+1, 1+1 */
  assert_int_equal(len, 2 + 3 + 3 + 3 + 3 + 2);
  assert_int_equal(sb_hist_merge_sparse(&r, h.count, h.sum, h.min, h.max, first, b, len, 0), 0);
  assert_same_hist(&h, &r);
  idx = sb_hist_index(0.001);
  for (int k = 0; k < 6; k++) {
    idx += (int32_t)gap[k];
    assert_int_equal(r.counts[idx - r.first], cnt[k]);
  }
  sb_hist_clear(&h);
  sb_hist_clear(&r);
}

/* Each inconsistency is SB_EFORMAT and leaves the destination as it was, counts included. */
static void test_sparse_refused(void **state) {
  (void)state;
  rng_seed(12);
  sb_hist h, r, copy;
  sb_hist_init(&h);
  sb_hist_init(&r);
  sb_hist_init(&copy);
  fill_kind(&h, 0, 3000);
  fill_kind(&r, 0, 3000);
  assert_int_equal(sb_hist_merge(&copy, &r), 0);
  uint8_t b[SB_HIST_SPARSE_MAX * 4096], bad[sizeof(b) + 16];
  int32_t first;
  size_t len = sb_hist_sparse(&h, &first, b);
  if (len < 10 || len > sizeof(b)) {
    fail();
    return;
  }
  assert_true(b[len - 2] < 0x80 && b[len - 1] < 0x80); /* the last pair: two bytes */
#define MERGE(bytes, n, count, min, max, fst, zeros) \
  sb_hist_merge_sparse(&r, (count), h.sum, (min), (max), (fst), (bytes), (n), (zeros))
  assert_int_equal(MERGE(b, len - 1, h.count, h.min, h.max, first, 0), SB_EFORMAT); /* cut */
  assert_int_equal(MERGE(b, len, h.count + 1, h.min, h.max, first, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, h.count - 1, h.min, h.max, first, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, h.count + 1, h.min, h.max, first, 1), SB_EFORMAT); /* zeros */
  assert_int_equal(MERGE(b, len, h.count, h.min, h.max * 2, first, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, h.count, h.min / 2, h.max, first, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, h.count, h.min, h.max, first + 1, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, h.count, h.max, h.min, first, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, h.count, NAN, h.max, first, 0), SB_EFORMAT);
  assert_int_equal(MERGE(b, len, 0, h.min, h.max, first, 0), SB_EFORMAT);
  memcpy(bad, b, len);
  bad[len - 2]++; /* the last bucket one further than max's */
  assert_int_equal(MERGE(bad, len, h.count, h.min, h.max, first, 0), SB_EFORMAT);
  memcpy(bad, b, len);
  bad[len - 1]++; /* one value too many in the last bucket */
  assert_int_equal(MERGE(bad, len, h.count, h.min, h.max, first, 0), SB_EFORMAT);
  memcpy(bad, b, len); /* a count that wraps the total */
  size_t n = len - 1;
  for (int k = 0; k < 9; k++) bad[n++] = 0xff;
  bad[n++] = 0x01;
  assert_int_equal(MERGE(bad, n, h.count, h.min, h.max, first, 0), SB_EFORMAT);
  memcpy(bad, b, len); /* a bucket listed twice (gap 0 after the first) */
  bad[len] = 0, bad[len + 1] = 1;
  assert_int_equal(MERGE(bad, len + 2, h.count + 1, h.min, h.max, first, 0), SB_EFORMAT);
  memcpy(bad, b, len); /* an empty bucket listed */
  bad[len] = 1, bad[len + 1] = 0;
  assert_int_equal(MERGE(bad, len + 2, h.count, h.min, h.max, first, 0), SB_EFORMAT);
  assert_same_hist(&copy, &r);
  uint8_t zero_gap[] = {0, 1};
  int32_t neg = sb_hist_index(-1);
  assert_int_equal(sb_hist_merge_sparse(&r, 2, -1, -1, 0, neg, zero_gap, 2, 0), SB_EFORMAT);
  assert_true(-neg >= 128 && -neg < 16384); /* a two-byte gap up to index 0 */
  uint8_t to_zero[] = {0, 1, (uint8_t)(0x80 | (-neg & 0x7f)), (uint8_t)(-neg >> 7), 1};
  assert_int_equal(sb_hist_merge_sparse(&r, 3, -1, -1, 0, neg, to_zero, 5, 1), SB_EFORMAT);
  to_zero[2]--; /* one short of it: a valid histogram of -1, about -1 and 0 */
  assert_int_equal(sb_hist_merge_sparse(&copy, 3, -1, -1, 0, neg, to_zero, 5, 1), 0);
  assert_int_equal(sb_hist_merge_sparse(&r, 1, 0, 0, 0, 0, NULL, 0, 1), 0); /* zeros only */
  assert_int_equal(sb_hist_merge_sparse(&r, 0, 0, 0, 0, 0, NULL, 0, 0), 0); /* empty */
  assert_int_equal(r.count + 2, copy.count);
#undef MERGE
  sb_hist_clear(&h);
  sb_hist_clear(&r);
  sb_hist_clear(&copy);
}

static void test_zero_bucket(void **state) {
  (void)state;
  sb_hist h;
  sb_hist_init(&h);
  for (int i = 0; i < 100; i++)
    assert_int_equal(sb_hist_add(&h, i % 4 ? 0 : 0.3 + i), 0);
  assert_int_equal(h.zero, 75);
  assert_int_equal(h.count, 100);
  assert_true(h.n < 2 * 1100); /* 0.3 .. 96 ms: ~1,100 buckets, not the 3,700 below 0.3 */
  assert_true(h.first > 0);
  assert_true(sb_hist_quantile(&h, 0.5) == 0);
  assert_true(sb_hist_quantile(&h, 0) == 0);
  sb_hist_reset(&h);
  assert_int_equal(h.zero, 0);
  sb_hist_clear(&h);

  static double v[6000];
  rng_seed(5);
  for (size_t i = 0; i < 6000; i++)
    v[i] = i % 3 ? exp(rng_normal()) : 0; /* zeros and positives */
  check_quantiles(v, 6000);
  for (size_t i = 0; i < 6000; i++)
    v[i] = i % 2 ? -exp(rng_normal()) : 0; /* negatives, zeros */
  check_quantiles(v, 6000);
  for (size_t i = 0; i < 6000; i++)
    v[i] = i % 2 ? -5 : 1e-12; /* tiny values count as zero */
  check_quantiles(v, 6000);
}

/* sb_hist_raw() -> sb_hist_merge_raw() reproduces a histogram, with and without zeros. */
static void test_raw_round_trip(void **state) {
  (void)state;
  static const double sets[][5] = {
      {1, 2, 3, 4, 5}, {0, 0, 7, 8, 9}, {-3, -2, 0, 0, 0}, {-3, 0, 3, 0, 1e6}, {0, 0, 0, 0, 0},
  };
  for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
    sb_hist h, r;
    sb_hist_init(&h);
    sb_hist_init(&r);
    for (int i = 0; i < 5; i++)
      sb_hist_add(&h, sets[k][i]);
    int32_t first;
    const uint64_t *c;
    size_t n;
    uint64_t *tmp;
    assert_int_equal(sb_hist_raw(&h, &first, &c, &n, &tmp), 0);
    assert_true(n > 0 && c[0] > 0 && c[n - 1] > 0); /* trimmed */
    assert_true(h.zero ? tmp != NULL : tmp == NULL);
    if (h.zero) assert_int_equal(c[-first], h.zero);
    assert_int_equal(sb_hist_merge_raw(&r, h.count, h.sum, h.min, h.max, first, c, n), 0);
    free(tmp);
    assert_int_equal(r.count, 5);
    assert_int_equal(r.zero, h.zero);
    for (int32_t i = first; i < first + (int32_t)n; i++)
      assert_int_equal(count_at(&r, i), count_at(&h, i));
    for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++)
      assert_true(sb_hist_quantile(&r, qs[q]) == sb_hist_quantile(&h, qs[q]));
    if (r.n && r.first <= 0 && r.first + (int64_t)r.n > 0) assert_int_equal(r.counts[-r.first], 0);
    sb_hist_clear(&h);
    sb_hist_clear(&r);
  }
  sb_hist e;
  sb_hist_init(&e);
  int32_t first;
  const uint64_t *c;
  size_t n;
  uint64_t *tmp;
  assert_int_equal(sb_hist_raw(&e, &first, &c, &n, &tmp), 0);
  assert_int_equal(n, 0);
  assert_null(tmp);
  sb_hist_add(&e, 0);
  sb_hist_add(&e, 5);
  alloc_fail_at = alloc_calls + 1;
  assert_int_equal(sb_hist_raw(&e, &first, &c, &n, &tmp), SB_ENOMEM);
  alloc_fail_at = 0;
  sb_hist_clear(&e);
}

static void test_reset_keeps_memory(void **state) {
  (void)state;
  sb_hist h;
  sb_hist_init(&h);
  for (double v = 1; v < 1e5; v *= 1.01)
    sb_hist_add(&h, v);
  uint64_t *mem = h.counts;
  uint32_t n = h.n;
  int32_t first = h.first;
  sb_hist_reset(&h);
  assert_ptr_equal(h.counts, mem);
  assert_int_equal(h.n, n);
  assert_int_equal(h.first, first);
  assert_int_equal(h.count, 0);
  assert_true(h.sum == 0 && h.min == 0 && h.max == 0);
  for (uint32_t i = 0; i < h.n; i++)
    assert_int_equal(h.counts[i], 0);
  assert_true(sb_hist_quantile(&h, 0.5) == 0);
  int calls = alloc_calls;
  for (double v = 1; v < 1e5; v *= 1.01)
    assert_int_equal(sb_hist_add(&h, v), 0);
  assert_int_equal(alloc_calls, calls); /* same range: no allocation */
  assert_true(h.min == 1);
  sb_hist_clear(&h);
}

static void test_growth_amortised(void **state) {
  (void)state;
  sb_hist h;
  sb_hist_init(&h);
  int calls = alloc_calls;
  for (double v = 1e-3; v < 1e9; v *= 1.001)
    assert_int_equal(sb_hist_add(&h, v), 0);
  for (double v = -1e-3; v > -1e6; v *= 1.001)
    assert_int_equal(sb_hist_add(&h, v), 0);
  assert_true(alloc_calls - calls < 40);
  assert_true(h.n < 4 * (uint32_t)(sb_hist_index(1e9) - sb_hist_index(-1e6)));
  sb_hist_clear(&h);
}

static void test_enomem_leaves_state(void **state) {
  (void)state;
  sb_hist h, src;
  sb_hist_init(&h);
  sb_hist_init(&src);
  for (int i = 1; i <= 100; i++)
    sb_hist_add(&h, i);
  sb_hist_add(&src, 1e6);
  sb_hist saved = h;
  uint64_t copy[4096];
  assert_true(h.n <= 4096);
  memcpy(copy, h.counts, h.n * sizeof(uint64_t));

  alloc_fail_at = alloc_calls + 1;
  assert_int_equal(sb_hist_add(&h, 1e7), SB_ENOMEM);
  alloc_fail_at = alloc_calls + 1;
  assert_int_equal(sb_hist_merge(&h, &src), SB_ENOMEM);
  alloc_fail_at = alloc_calls + 1;
  uint64_t one = 1;
  assert_int_equal(sb_hist_merge_raw(&h, 1, 1e6, 1e6, 1e6, sb_hist_index(1e6), &one, 1), SB_ENOMEM);
  alloc_fail_at = 0;
  assert_memory_equal(&h, &saved, sizeof(h));
  assert_memory_equal(h.counts, copy, h.n * sizeof(uint64_t));

  sb_hist empty;
  sb_hist_init(&empty);
  alloc_fail_at = alloc_calls + 1;
  assert_int_equal(sb_hist_add(&empty, 3), SB_ENOMEM);
  alloc_fail_at = 0;
  assert_int_equal(empty.count, 0);
  assert_null(empty.counts);
  /* And it works again once memory is back. */
  assert_int_equal(sb_hist_add(&h, 1e7), 0);
  assert_int_equal(h.count, 101);
  sb_hist_clear(&h);
  sb_hist_clear(&src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_index_monotonic),    cmocka_unit_test(test_index_matches_frexp),
      cmocka_unit_test(test_quantile_uniform),
      cmocka_unit_test(test_quantile_lognormal), cmocka_unit_test(test_quantile_small_sets),
      cmocka_unit_test(test_empty_and_nan),      cmocka_unit_test(test_merge_equals_single),
      cmocka_unit_test(test_merge_raw),          cmocka_unit_test(test_reset_keeps_memory),
      cmocka_unit_test(test_growth_amortised),   cmocka_unit_test(test_enomem_leaves_state),
      cmocka_unit_test(test_zero_bucket),        cmocka_unit_test(test_raw_round_trip),
      cmocka_unit_test(test_sparse_round_trip),  cmocka_unit_test(test_sparse_refused),
      cmocka_unit_test(test_sparse_varint_widths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
