/* Tests for common/snapshot.c: encode -> protobuf unpack -> apply reproduces a set, bit for bit
 * as a dense merge of the same samples, over several snapshots of one connection (series defined
 * once, then named by id); two connections numbering their series differently merge into the
 * same series; garbled snapshots (unknown ids, inconsistent sparse histograms) are refused with
 * SB_EFORMAT and a message naming the series. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/snapshot.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double rng_unit(void) {
  return (double)(rng_next() >> 11) / 9007199254740992.0;
}

/* A set with every kind of series, built-in and custom, with and without tags. */
static sb_metrics *sample_set(void) {
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  const char *t200[] = {"status", "200", "method", "GET", "url", "http://127.0.0.1/a"};
  const char *t500[] = {"status", "500", "method", "POST", "url", "http://127.0.0.1/b"};
  const sb_tagset *a = sb_metrics_tags(m, t200, 3), *b = sb_metrics_tags(m, t500, 3);
  const sb_tagset *none = sb_metrics_tags(m, NULL, 0);
  for (int i = 0; i < 500; i++) {
    double d = 0.2 + rng_unit() * 300;
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, i % 5 ? a : b, d), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_BLOCKED, i % 5 ? a : b, i % 50 ? 0 : d), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, i % 5 ? a : b, 1), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, i % 5 ? a : b, i % 5 == 0), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_DATA_RECEIVED, none, 1234), 0);
  }
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, none, 10), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, none, 3), 0);
  int c = sb_metrics_register(m, "my_counter", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL);
  int t = sb_metrics_register(m, "my_trend", SB_METRIC_TREND, SB_VALUE_DATA, NULL);
  assert_true(c >= 0 && t >= 0);
  assert_int_equal(sb_metrics_add(m, c, a, 2.5), 0);
  assert_int_equal(sb_metrics_add(m, t, none, -7), 0);
  assert_int_equal(sb_metrics_add(m, t, none, 1e6), 0);
  assert_int_equal(sb_metrics_add(m, t, none, 0), 0);
  assert_int_equal(sb_metrics_add(m, t, none, NAN), 0); /* dropped */
  int inf = sb_metrics_register(m, "my_inf", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL);
  assert_int_equal(sb_metrics_add(m, inf, none, INFINITY), 0); /* a script may do that */
  return m;
}

static int count_touched(const sb_metrics *m) {
  int n = 0;
  size_t it = 0;
  while (sb_metrics_next(m, &it))
    n++;
  return n;
}

static uint64_t count_at(const sb_hist *h, int32_t idx) {
  if (idx == 0) return h->zero;
  if (h->n == 0 || idx < h->first || idx >= h->first + (int64_t)h->n) return 0;
  return h->counts[idx - h->first];
}

/* Every touched series of |src| is in |dst| with the same aggregate (|times| as much, for the
 * additive parts). */
static void assert_same(const sb_metrics *src, sb_metrics *dst, int times) {
  assert_int_equal(count_touched(src), count_touched(dst));
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(src, &it))) {
    const sb_metric_info *mi = sb_metrics_info(src, s->metric);
    int id = sb_metrics_find(dst, mi->name);
    assert_true(id >= 0);
    const sb_metric_info *di = sb_metrics_info(dst, id);
    assert_int_equal(di->type, mi->type);
    assert_int_equal(di->contains, mi->contains);
    const char *const *kv;
    size_t n = sb_tagset_pairs(s->tags, &kv);
    sb_series *d = sb_metrics_series(dst, id, sb_metrics_tags(dst, kv, n));
    assert_non_null(d);
    assert_true(d->touched > 0);
    switch (mi->type) {
    case SB_METRIC_COUNTER: assert_true(d->value == times * s->value); break;
    case SB_METRIC_GAUGE:
      assert_true(d->value == s->value);
      assert_true(d->hist.min == s->hist.min && d->hist.max == s->hist.max);
      assert_int_equal(d->hist.count, times * s->hist.count);
      break;
    case SB_METRIC_RATE:
      assert_int_equal(d->trues, times * s->trues);
      assert_int_equal(d->total, times * s->total);
      break;
    case SB_METRIC_TREND:
      assert_int_equal(d->hist.count, times * s->hist.count);
      assert_int_equal(d->hist.zero, times * s->hist.zero);
      assert_true(d->hist.sum == times * s->hist.sum);
      assert_true(d->hist.min == s->hist.min && d->hist.max == s->hist.max);
      for (uint32_t i = 0; i < s->hist.n; i++) {
        int32_t idx = s->hist.first + (int32_t)i;
        assert_int_equal(count_at(&d->hist, idx), times * count_at(&s->hist, idx));
      }
      assert_true(sb_hist_quantile(&d->hist, 0.95) == sb_hist_quantile(&s->hist, 0.95) ||
                  times != 1);
      break;
    }
  }
}

static Speedboat__Envelope *encode_unpack(sb_snapshot_enc *e, const sb_metrics *m) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(sb_snapshot_encode(e, m, 7, 1700000000000000LL, 12, 50, &buf, &len), 0);
  assert_non_null(buf);
  Speedboat__Envelope *env = speedboat__envelope__unpack(NULL, len, buf);
  free(buf);
  assert_non_null(env);
  assert_int_equal(env->msg_case, SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT);
  return env;
}

static void test_round_trip(void **state) {
  (void)state;
  sb_metrics *src = sample_set();
  const char *t500[] = {"status", "500", "method", "POST", "url", "http://127.0.0.1/b"};
  const sb_hist *blocked =
      &sb_metrics_series(src, SB_M_HTTP_REQ_BLOCKED, sb_metrics_tags(src, t500, 3))->hist;
  assert_true(blocked->zero > 0 && blocked->first > 0); /* zeros kept apart, on the wire too */
  sb_snapshot_enc enc;
  sb_snapshot_enc_init(&enc);
  Speedboat__Envelope *env = encode_unpack(&enc, src);
  const Speedboat__Snapshot *snap = env->snapshot;
  assert_int_equal(snap->seq, 7);
  assert_int_equal(snap->time_us, 1700000000000000LL);
  assert_int_equal(snap->vus, 12);
  assert_int_equal(snap->vus_max, 50);
  assert_int_equal(snap->n_series, count_touched(src));
  for (size_t i = 0; i < snap->n_series; i++) { /* every series defined, tags sorted */
    const Speedboat__Series *ps = snap->series[i];
    assert_non_null(ps->metric);
    assert_true(*ps->metric);
    for (size_t k = 2; k < ps->n_tags; k += 2)
      assert_true(strcmp(ps->tags[k - 2], ps->tags[k]) < 0);
  }
  const Speedboat__Trends *tr = snap->trends; /* buckets sparse: a byte of gap and one of count */
  assert_non_null(tr);
  assert_true(tr->buckets.len <= 2 * tr->count[0] + 2 * tr->count[tr->n_id - 1] + 4 * 500);
  for (size_t i = 0; i < tr->n_id; i++) assert_true(tr->size[i] > 0 || tr->zero[i] > 0);

  sb_metrics *dst = NULL;
  sb_snapshot_dec *dec = NULL;
  assert_int_equal(sb_metrics_new(&dst), 0);
  assert_int_equal(sb_snapshot_dec_new(&dec), 0);
  sb_err err = {{0}};
  assert_int_equal(sb_snapshot_apply(dec, dst, snap, &err), 0);
  assert_same(src, dst, 1);
  assert_int_equal(sb_snapshot_apply(dec, dst, snap, &err), 0); /* deltas add up */
  assert_same(src, dst, 2);
  speedboat__envelope__free_unpacked(env, NULL);

  /* The next snapshot of the connection names its series by id only. */
  env = encode_unpack(&enc, src);
  assert_int_equal(env->snapshot->n_series, 0);
  tr = env->snapshot->trends;
  for (size_t i = 0; i < tr->n_id; i++) assert_non_null(sb_snapshot_dec_series(dec, tr->id[i]));
  assert_int_equal(sb_snapshot_apply(dec, dst, env->snapshot, &err), 0);
  assert_same(src, dst, 3);
  speedboat__envelope__free_unpacked(env, NULL);

  /* Encoding does not reset; an empty set encodes to an empty snapshot. */
  assert_true(count_touched(src) > 0);
  sb_metrics_reset(src);
  env = encode_unpack(&enc, src);
  assert_int_equal(env->snapshot->n_series, 0);
  speedboat__envelope__free_unpacked(env, NULL);
  sb_snapshot_enc_clear(&enc);
  sb_snapshot_dec_free(dec);
  sb_metrics_free(src);
  sb_metrics_free(dst);
}

/* |a| and |b| hold the same series with bit-identical aggregates (histograms bucket by bucket). */
static void assert_identical(const sb_metrics *a, sb_metrics *b) {
  assert_int_equal(count_touched(a), count_touched(b));
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(a, &it))) {
    const sb_metric_info *mi = sb_metrics_info(a, s->metric);
    const char *const *kv;
    size_t n = sb_tagset_pairs(s->tags, &kv);
    int id = sb_metrics_find(b, mi->name);
    assert_true(id >= 0);
    sb_series *d = sb_metrics_series(b, id, sb_metrics_tags(b, kv, n));
    assert_true(memcmp(&d->value, &s->value, sizeof(double)) == 0);
    assert_int_equal(d->trues, s->trues);
    assert_int_equal(d->total, s->total);
    assert_true(d->touched > 0 && s->touched > 0); /* a count of samples only in a dense merge */
    const sb_hist *x = &s->hist, *y = &d->hist;
    assert_int_equal(x->count, y->count);
    assert_int_equal(x->zero, y->zero);
    assert_true(memcmp(&x->sum, &y->sum, sizeof(double)) == 0);
    assert_true(memcmp(&x->min, &y->min, sizeof(double)) == 0);
    assert_true(memcmp(&x->max, &y->max, sizeof(double)) == 0);
    const sb_hist *r[2] = {x, y};
    for (int k = 0; k < 2; k++)
      for (int64_t i = r[k]->first; i < r[k]->first + (int64_t)r[k]->n; i++)
        if (count_at(x, (int32_t)i) != count_at(y, (int32_t)i))
          fail_msg("%s: bucket %lld holds %llu, want %llu", mi->name, (long long)i,
                   (unsigned long long)count_at(y, (int32_t)i),
                   (unsigned long long)count_at(x, (int32_t)i));
  }
}

/* Adds one interval of random samples (new series appear in later intervals) to |m|. */
static void interval(sb_metrics *m, int round) {
  char url[32];
  snprintf(url, sizeof(url), "http://x/%d", round % 3);
  const char *kv[] = {"url", url, "status", round % 2 ? "200" : "404"};
  const sb_tagset *t = sb_metrics_tags(m, kv, 2), *none = sb_metrics_tags(m, NULL, 0);
  int tr = sb_metrics_register(m, "neg_trend", SB_METRIC_TREND, SB_VALUE_DEFAULT, NULL);
  int g = sb_metrics_register(m, "my_gauge", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL);
  assert_true(tr >= 0 && g >= 0);
  for (int i = 0; i < 300 + 50 * round; i++) {
    double d = 0.05 + rng_unit() * rng_unit() * 2000;
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, d), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_CONNECTING, t, i % 7 ? 0 : d / 3), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, 1), 0);
    assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, none, i % 3 != 0), 0);
    assert_int_equal(sb_metrics_add(m, tr, none, (rng_unit() - 0.7) * 1e4 * (i % 5 != 0)), 0);
  }
  assert_int_equal(sb_metrics_add(m, g, none, round * 1.5), 0);
  if (round == 3) assert_int_equal(sb_metrics_add(m, tr, t, -1), 0); /* only negatives */
  if (round == 4) { /* negatives and zeros: max is in the zero bucket */
    assert_int_equal(sb_metrics_add(m, tr, t, -2), 0);
    assert_int_equal(sb_metrics_add(m, tr, t, -300), 0);
    assert_int_equal(sb_metrics_add(m, tr, t, 0), 0);
  }
}

/* Several snapshots on one connection, series appearing along the way: the controller's set is
 * bit-identical to a dense merge (sb_metrics_merge) of the same intervals. */
static void test_connection_matches_dense_merge(void **state) {
  (void)state;
  sb_metrics *agent = NULL, *ctl = NULL, *ref = NULL;
  sb_snapshot_dec *dec = NULL;
  sb_snapshot_enc enc;
  sb_snapshot_enc_init(&enc);
  assert_int_equal(sb_metrics_new(&agent), 0);
  assert_int_equal(sb_metrics_new(&ctl), 0);
  assert_int_equal(sb_metrics_new(&ref), 0);
  assert_int_equal(sb_snapshot_dec_new(&dec), 0);
  sb_err err = {{0}};
  size_t defined = 0;
  for (int round = 0; round < 6; round++) {
    interval(agent, round);
    assert_int_equal(sb_metrics_merge(ref, agent, &err), 0);
    Speedboat__Envelope *env = encode_unpack(&enc, agent);
    defined += env->snapshot->n_series;
    assert_int_equal(sb_snapshot_apply(dec, ctl, env->snapshot, &err), 0);
    speedboat__envelope__free_unpacked(env, NULL);
    sb_metrics_reset(agent);
  }
  size_t it = 0, nseries = 0;
  while (sb_metrics_next(ref, &it)) nseries++;
  assert_int_equal(defined, nseries); /* each series defined once, in its first snapshot */
  assert_identical(ref, ctl);
  sb_snapshot_enc_clear(&enc);
  sb_snapshot_dec_free(dec);
  sb_metrics_free(agent);
  sb_metrics_free(ctl);
  sb_metrics_free(ref);
}

/* Two agents whose sets made their series in other orders (so other ids) merge into the same
 * series of the controller's set. */
static void test_two_connections(void **state) {
  (void)state;
  sb_metrics *a = NULL, *b = NULL, *ctl = NULL, *ref = NULL;
  sb_snapshot_dec *da = NULL, *db = NULL;
  sb_snapshot_enc ea, eb;
  sb_snapshot_enc_init(&ea);
  sb_snapshot_enc_init(&eb);
  assert_int_equal(sb_metrics_new(&a), 0);
  assert_int_equal(sb_metrics_new(&b), 0);
  assert_int_equal(sb_metrics_new(&ctl), 0);
  assert_int_equal(sb_metrics_new(&ref), 0);
  assert_int_equal(sb_snapshot_dec_new(&da), 0);
  assert_int_equal(sb_snapshot_dec_new(&db), 0);
  sb_err err = {{0}};
  for (int round = 0; round < 4; round++) {
    interval(a, round);
    interval(b, 5 - round); /* the same series, first seen in another order */
    assert_int_equal(sb_metrics_merge(ref, a, &err), 0);
    assert_int_equal(sb_metrics_merge(ref, b, &err), 0);
    Speedboat__Envelope *x = encode_unpack(&ea, a), *y = encode_unpack(&eb, b);
    assert_int_equal(sb_snapshot_apply(da, ctl, x->snapshot, &err), 0);
    assert_int_equal(sb_snapshot_apply(db, ctl, y->snapshot, &err), 0);
    speedboat__envelope__free_unpacked(x, NULL);
    speedboat__envelope__free_unpacked(y, NULL);
    sb_metrics_reset(a);
    sb_metrics_reset(b);
  }
  const char *kv[] = {"url", "http://x/0", "status", "404"};
  sb_series *s = sb_metrics_series(ctl, SB_M_HTTP_REQS, sb_metrics_tags(ctl, kv, 2));
  assert_true(s->value > 0);
  int differ = 0; /* the two connections do name that series differently */
  for (uint32_t id = 0; id < 64; id++)
    differ |= sb_snapshot_dec_series(da, id) != sb_snapshot_dec_series(db, id);
  assert_true(differ);
  assert_identical(ref, ctl); /* the gauge's last value is b's in both */
  sb_snapshot_enc_clear(&ea);
  sb_snapshot_enc_clear(&eb);
  sb_snapshot_dec_free(da);
  sb_snapshot_dec_free(db);
  sb_metrics_free(a);
  sb_metrics_free(b);
  sb_metrics_free(ctl);
  sb_metrics_free(ref);
}

/* The definition of a counter of metric |name| with |n| tag strings. */
static Speedboat__Series counter(const char *name, const char **tags, size_t n) {
  Speedboat__Series s = SPEEDBOAT__SERIES__INIT;
  s.metric = (char *)name;
  s.type = SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_COUNTER;
  s.tags = (char **)tags;
  s.n_tags = n;
  return s;
}

/* Runs of series with the same tags share one lookup (the previous series' set): a run, a set
 * that differs from the one before only in its last value or by a missing pair, one seen again
 * after others, and untagged series all land in their own (metric, tags) series. */
static void test_tag_runs(void **state) {
  (void)state;
  const char *t1[] = {"method", "GET", "url", "http://x/a"};
  const char *t1b[] = {"method", "GET", "url", "http://x/b"};   /* last value differs */
  const char *t1c[] = {"method", "GET", "url", "http://x/aa"}; /* a longer value */
  const char *t1s[] = {"method", "GET"};                         /* a pair fewer */
  char a2[] = "http://x/a"; /* t1's content at other addresses, as an unpacked message has */
  const char *t1copy[] = {"method", "GET", "url", a2};
  Speedboat__Series s[] = {
      counter("c1", t1, 4),     counter("c2", t1, 4),     counter("c3", t1copy, 4),
      counter("c1", t1b, 4),    counter("c1", t1c, 4),    counter("c1", t1s, 2),
      counter("c1", t1copy, 4), counter("c1", NULL, 0),   counter("c2", NULL, 0),
      counter("c1", t1s, 2),
  };
  enum { N = sizeof(s) / sizeof(s[0]) };
  Speedboat__Series *ptrs[N];
  uint32_t ids[N];
  double sums[N];
  for (size_t i = 0; i < N; i++) {
    ptrs[i] = &s[i];
    s[i].id = ids[i] = (uint32_t)(100 - i); /* any numbering; defined again as the same: fine */
    sums[i] = (double)(1 << i);
  }
  sb_snapshot_dec *dec = NULL;
  assert_int_equal(sb_snapshot_dec_new(&dec), 0);
  Speedboat__Counters c = SPEEDBOAT__COUNTERS__INIT;
  c.n_id = c.n_sum = N;
  c.id = ids;
  c.sum = sums;
  Speedboat__Snapshot snap = SPEEDBOAT__SNAPSHOT__INIT;
  snap.series = ptrs;
  snap.n_series = N;
  snap.counters = &c;
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_err err = {{0}};
  for (int round = 1; round <= 2; round++) {
    assert_int_equal(sb_snapshot_apply(dec, m, &snap, &err), 0);
    int c1 = sb_metrics_find(m, "c1"), c2 = sb_metrics_find(m, "c2"), c3 = sb_metrics_find(m, "c3");
    assert_true(c1 >= 0 && c2 >= 0 && c3 >= 0);
#define VAL(id, kv, n) sb_metrics_series(m, (id), sb_metrics_tags(m, (kv), (n)))->value
    assert_true(VAL(c1, t1, 2) == round * 65.0);
    assert_true(VAL(c2, t1, 2) == round * 2.0);
    assert_true(VAL(c3, t1, 2) == round * 4.0);
    assert_true(VAL(c1, t1b, 2) == round * 8.0);
    assert_true(VAL(c1, t1c, 2) == round * 16.0);
    assert_true(VAL(c1, t1s, 1) == round * 544.0);
    assert_true(VAL(c1, NULL, 0) == round * 128.0);
    assert_true(VAL(c2, NULL, 0) == round * 256.0);
#undef VAL
  }
  assert_int_equal(count_touched(m), 8);
  sb_snapshot_dec_free(dec);
  sb_metrics_free(m);
}

/* One hand-made series (its definition and its row), valid as built; each case spoils one
 * thing. */
typedef struct {
  Speedboat__Snapshot snap;
  Speedboat__Series series, *ptr;
  Speedboat__Counters c;
  Speedboat__Rates r;
  Speedboat__Gauges g;
  Speedboat__Trends t;
  uint32_t id, size;
  uint64_t count, zero, trues, total;
  double value, sum, min, max;
  int32_t first;
  char *tags[4];
  uint8_t bytes[16];
} fixture;

/* Two values of 1 and one of 1.1, twelve buckets apart: (gap, count) pairs. */
static const uint8_t wide[4] = {0, 2, 12, 1};

/* The one-row column message of type |type| (none for an unknown type), pointing into |f|. */
static void fixture_row(fixture *f, int type) {
  f->snap.counters = NULL, f->snap.rates = NULL, f->snap.gauges = NULL, f->snap.trends = NULL;
  switch (type) {
  case SB_METRIC_COUNTER:
    f->c = (Speedboat__Counters)SPEEDBOAT__COUNTERS__INIT;
    f->c.n_id = f->c.n_sum = 1, f->c.id = &f->id, f->c.sum = &f->value;
    f->snap.counters = &f->c;
    break;
  case SB_METRIC_RATE:
    f->r = (Speedboat__Rates)SPEEDBOAT__RATES__INIT;
    f->r.n_id = f->r.n_trues = f->r.n_total = 1;
    f->r.id = &f->id, f->r.trues = &f->trues, f->r.total = &f->total;
    f->snap.rates = &f->r;
    break;
  case SB_METRIC_GAUGE:
    f->g = (Speedboat__Gauges)SPEEDBOAT__GAUGES__INIT;
    f->g.n_id = f->g.n_value = f->g.n_count = f->g.n_min = f->g.n_max = f->g.n_sum = 1;
    f->g.id = &f->id, f->g.value = &f->value, f->g.count = &f->count;
    f->g.min = &f->min, f->g.max = &f->max, f->g.sum = &f->sum;
    f->snap.gauges = &f->g;
    break;
  case SB_METRIC_TREND:
    f->t = (Speedboat__Trends)SPEEDBOAT__TRENDS__INIT;
    f->t.n_id = f->t.n_count = f->t.n_sum = f->t.n_min = f->t.n_max = f->t.n_first =
        f->t.n_zero = f->t.n_size = 1;
    f->t.id = &f->id, f->t.count = &f->count, f->t.sum = &f->sum, f->t.min = &f->min;
    f->t.max = &f->max, f->t.first = &f->first, f->t.zero = &f->zero, f->t.size = &f->size;
    f->t.buckets.data = f->bytes;
    f->t.buckets.len = f->size;
    f->snap.trends = &f->t;
    break;
  }
}

static void fixture_init(fixture *f, const char *metric, int type) {
  f->snap = (Speedboat__Snapshot)SPEEDBOAT__SNAPSHOT__INIT;
  f->series = (Speedboat__Series)SPEEDBOAT__SERIES__INIT;
  f->ptr = &f->series;
  f->snap.n_series = 1;
  f->snap.series = &f->ptr;
  f->series.metric = (char *)metric;
  f->series.type = (Speedboat__MetricType)type;
  f->series.contains = SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_TIME;
  f->tags[0] = "a";
  f->tags[1] = "1";
  f->tags[2] = "b";
  f->tags[3] = "2";
  f->series.tags = f->tags;
  f->series.n_tags = 4;
  f->id = f->series.id = 0;
  f->value = 3;
  f->trues = 1;
  f->total = 2;
  f->count = 3;
  f->zero = 0;
  f->sum = 1 + 1 + 1.1;
  f->min = 1;
  f->max = 1.1;
  f->first = sb_hist_index(1);
  memcpy(f->bytes, wide, sizeof(wide));
  f->size = sizeof(wide);
  assert_int_equal(sb_hist_index(1.1), sb_hist_index(1) + 12);
  fixture_row(f, type);
}

/* Applies |f| on a connection that knows |dec| (NULL: a new one); it must be refused with a
 * message naming the series, its metric when the series says it, and |needle|. */
static void expect_refused_on(fixture *f, sb_snapshot_dec *dec, sb_metrics *m, const char *what,
                              const char *needle) {
  sb_metrics *own = NULL;
  sb_snapshot_dec *fresh = NULL;
  if (!m) assert_int_equal(sb_metrics_new(&own), 0);
  if (!dec) assert_int_equal(sb_snapshot_dec_new(&fresh), 0);
  sb_err err = {{0}};
  int rc = sb_snapshot_apply(dec ? dec : fresh, m ? m : own, &f->snap, &err);
  if (rc != SB_EFORMAT) fail_msg("%s: got %d, want SB_EFORMAT", what, rc);
  if (f->ptr && f->series.metric && *f->series.metric && !strstr(err.msg, f->series.metric))
    fail_msg("%s: message '%s' does not name the metric", what, err.msg);
  if (needle && !strstr(err.msg, needle))
    fail_msg("%s: message '%s' does not say '%s'", what, err.msg, needle);
  /* a row or a definition is named by its number; a column message by its type */
  assert_true(strstr(err.msg, "snapshot series 0") || strstr(err.msg, "snapshot trends:"));
  sb_snapshot_dec_free(fresh);
  sb_metrics_free(own);
}

static void expect_refused(fixture *f, const char *what) {
  expect_refused_on(f, NULL, NULL, what, NULL);
}

/* |f| with its buckets replaced by the |n| bytes |b|. */
static void set_buckets(fixture *f, const uint8_t *b, size_t n) {
  assert_true(n <= sizeof(f->bytes));
  memcpy(f->bytes, b, n);
  f->size = (uint32_t)n;
  f->t.buckets.len = n;
}

static void test_valid_fixture(void **state) {
  (void)state;
  fixture f;
  sb_metrics *m = NULL;
  sb_snapshot_dec *dec = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_int_equal(sb_snapshot_dec_new(&dec), 0);
  sb_err err = {{0}};
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.series.id = f.id = 7;
  assert_int_equal(sb_snapshot_apply(dec, m, &f.snap, &err), 0);
  int id = sb_metrics_find(m, "t");
  assert_true(id >= 0);
  assert_int_equal(sb_metrics_info(m, id)->type, SB_METRIC_TREND);
  assert_int_equal(sb_metrics_info(m, id)->contains, SB_VALUE_TIME);
  const char *kv[] = {"b", "2", "a", "1"};
  sb_series *s = sb_metrics_series(m, id, sb_metrics_tags(m, kv, 2));
  assert_int_equal(s->hist.count, 3);
  assert_true(s->hist.max == 1.1);
  assert_ptr_equal(sb_snapshot_dec_series(dec, 7), s);
  f.snap.n_series = 0; /* the next second: the id alone */
  assert_int_equal(sb_snapshot_apply(dec, m, &f.snap, &err), 0);
  assert_int_equal(s->hist.count, 6);
  assert_int_equal(count_at(&s->hist, sb_hist_index(1.1)), 2);

  /* Refused on this connection: an id it never defined, and 7 defined again as another series
   * (the same metric with other tags, then another metric). */
  f.id = 8;
  expect_refused_on(&f, dec, m, "unknown id", "id 8 was never defined");
  f.id = 7;
  fixture_row(&f, SB_METRIC_COUNTER);
  expect_refused_on(&f, dec, m, "a trend's id in the counters", "a trend sent as a counter");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.series.id = f.id = 7;
  f.series.n_tags = 2;
  expect_refused_on(&f, dec, m, "redefined with other tags", "id 7 defined again");
  fixture_init(&f, "t2", SB_METRIC_TREND);
  f.series.id = f.id = 7;
  expect_refused_on(&f, dec, m, "redefined as another metric", "id 7 defined again");
  assert_int_equal(s->hist.count, 6);
  sb_snapshot_dec_free(dec);
  sb_metrics_free(m);
}

static void test_refuses_garbled(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f, "t", 0);
  expect_refused(&f, "type 0");
  fixture_init(&f, "t", 9);
  expect_refused(&f, "type 9");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.series.contains = (Speedboat__ValueType)5;
  expect_refused(&f, "value type 5");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.series.n_tags = 3;
  expect_refused(&f, "odd tags");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.tags[2] = NULL;
  expect_refused(&f, "NULL tag");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.value = NAN;
  expect_refused(&f, "NaN counter");
  fixture_init(&f, "t", SB_METRIC_GAUGE);
  f.value = NAN;
  expect_refused(&f, "NaN gauge");
  fixture_init(&f, "t", SB_METRIC_GAUGE);
  f.min = 5;
  expect_refused(&f, "gauge min > max");
  fixture_init(&f, "t", SB_METRIC_RATE);
  f.trues = 3;
  expect_refused(&f, "rate trues > total");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.t.n_zero = 0;
  expect_refused_on(&f, NULL, NULL, "columns of different lengths", "column 6 has 0 rows");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.t.buckets.len = 3;
  expect_refused_on(&f, NULL, NULL, "sizes that do not cover the buckets", "take 4 bytes");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.count = 4;
  expect_refused(&f, "counts do not add up");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.min = 0.5;
  expect_refused(&f, "min outside the buckets");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.first = INT32_MAX - 5;
  expect_refused(&f, "buckets off the axis");
  fixture_init(&f, "http_reqs", SB_METRIC_TREND);
  expect_refused(&f, "built-in counter sent as a trend");
  fixture_init(&f, "http_req_duration", SB_METRIC_TREND);
  f.series.contains = SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_DATA;
  expect_refused(&f, "built-in with another value type");
  fixture_init(&f, "", SB_METRIC_COUNTER);
  expect_refused_on(&f, NULL, NULL, "a definition without a name", "no metric name");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.snap.n_series = 0;
  expect_refused_on(&f, NULL, NULL, "no definition on a new connection", "id 0 was never defined");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.series.id = SB_SNAPSHOT_MAX_ID;
  expect_refused(&f, "id past the limit");
  /* sparse histograms that do not hold together */
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 12}, 3);
  expect_refused_on(&f, NULL, NULL, "a gap without its count", "disagrees with its buckets");
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 12, 0x81}, 4);
  expect_refused(&f, "a varint cut short");
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0x7f}, 13);
  expect_refused(&f, "a count over 64 bits");
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 12, 1, 0, 1}, 6);
  f.count = 4;
  expect_refused(&f, "a gap of 0: the same bucket twice");
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 5, 0, 7, 1}, 6);
  expect_refused(&f, "an empty bucket listed");
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 6, 1}, 4);
  expect_refused(&f, "last bucket short of max's");
  fixture_init(&f, "t", SB_METRIC_TREND);
  set_buckets(&f, (const uint8_t[]){0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1}, 8);
  expect_refused(&f, "a gap past the axis (index overflow)");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.count = 2;
  expect_refused(&f, "counts add up to more than count");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.first = INT32_MIN;
  expect_refused(&f, "first off the axis");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.first = -sb_hist_index(1); /* the mirror: buckets of negative values */
  expect_refused(&f, "buckets that are not min's");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.zero = 1;
  f.count = 4;
  expect_refused(&f, "zeros below a min of 1");
  fixture_init(&f, "t", SB_METRIC_COUNTER);
  f.ptr = NULL;
  expect_refused(&f, "missing series");
}

/* Bytes flipped or cut anywhere: unpack refuses or apply refuses or the result is sane; never
 * a crash (ASan watches). */
static void test_garbled_bytes(void **state) {
  (void)state;
  sb_metrics *src = sample_set();
  uint8_t *buf = NULL;
  size_t len = 0;
  sb_snapshot_enc enc;
  sb_snapshot_enc_init(&enc);
  assert_int_equal(sb_snapshot_encode(&enc, src, 1, 2, 3, 4, &buf, &len), 0);
  sb_snapshot_enc_clear(&enc);
  assert_null(speedboat__envelope__unpack(NULL, len / 2, buf)); /* cut in the middle */
  uint8_t *copy = malloc(len);
  int refused = 0, accepted = 0;
  for (int round = 0; round < 2000; round++) {
    memcpy(copy, buf, len);
    int flips = 1 + (int)(rng_next() % 4);
    for (int k = 0; k < flips; k++)
      copy[rng_next() % len] ^= (uint8_t)(1 + rng_next() % 255);
    Speedboat__Envelope *env = speedboat__envelope__unpack(NULL, len, copy);
    if (!env) {
      refused++;
      continue;
    }
    if (env->msg_case == SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT) {
      sb_metrics *m = NULL;
      sb_snapshot_dec *dec = NULL;
      assert_int_equal(sb_metrics_new(&m), 0);
      assert_int_equal(sb_snapshot_dec_new(&dec), 0);
      sb_err err = {{0}};
      int rc = sb_snapshot_apply(dec, m, env->snapshot, &err);
      assert_true(rc == 0 || rc == SB_EFORMAT);
      if (rc == SB_EFORMAT) {
        assert_true(err.msg[0] != 0);
        refused++;
      } else {
        accepted++;
      }
      sb_snapshot_dec_free(dec);
      sb_metrics_free(m);
    }
    speedboat__envelope__free_unpacked(env, NULL);
  }
  assert_true(refused > 0);
  assert_true(accepted > 0);
  free(copy);
  free(buf);
  sb_metrics_free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_connection_matches_dense_merge),
      cmocka_unit_test(test_two_connections),
      cmocka_unit_test(test_tag_runs),
      cmocka_unit_test(test_valid_fixture),
      cmocka_unit_test(test_refuses_garbled),
      cmocka_unit_test(test_garbled_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
