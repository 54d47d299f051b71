/* Tests for common/snapshot.c: encode -> protobuf unpack -> apply reproduces a set, and
 * garbled snapshots are refused with SB_EFORMAT and a message naming the series. */
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

static Speedboat__Envelope *encode_unpack(const sb_metrics *m) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(sb_snapshot_encode(m, 7, 1700000000000000LL, 12, 50, &buf, &len), 0);
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
  Speedboat__Envelope *env = encode_unpack(src);
  const Speedboat__Snapshot *snap = env->snapshot;
  assert_int_equal(snap->seq, 7);
  assert_int_equal(snap->time_us, 1700000000000000LL);
  assert_int_equal(snap->vus, 12);
  assert_int_equal(snap->vus_max, 50);
  assert_int_equal(snap->n_series, count_touched(src));
  for (size_t i = 0; i < snap->n_series; i++) { /* buckets travel trimmed, tags sorted */
    const Speedboat__Series *ps = snap->series[i];
    for (size_t k = 2; k < ps->n_tags; k += 2)
      assert_true(strcmp(ps->tags[k - 2], ps->tags[k]) < 0);
    if (ps->type != SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_TREND) continue;
    assert_non_null(ps->hist);
    assert_true(ps->hist->n_counts > 0 || ps->hist->zero > 0);
    if (ps->hist->n_counts) {
      assert_true(ps->hist->counts[0] > 0);
      assert_true(ps->hist->counts[ps->hist->n_counts - 1] > 0);
    }
    /* the zero bucket never travels inside counts: no run of empty buckets up to index 0 */
    if (ps->hist->first <= 0 && ps->hist->first + (int64_t)ps->hist->n_counts > 0)
      assert_int_equal(ps->hist->counts[-ps->hist->first], 0);
  }

  sb_metrics *dst = NULL;
  assert_int_equal(sb_metrics_new(&dst), 0);
  sb_err err = {{0}};
  assert_int_equal(sb_snapshot_apply(dst, snap, &err), 0);
  assert_same(src, dst, 1);
  assert_int_equal(sb_snapshot_apply(dst, snap, &err), 0); /* deltas add up */
  assert_same(src, dst, 2);
  speedboat__envelope__free_unpacked(env, NULL);

  /* Encoding does not reset; an empty set encodes to an empty snapshot. */
  assert_true(count_touched(src) > 0);
  sb_metrics_reset(src);
  env = encode_unpack(src);
  assert_int_equal(env->snapshot->n_series, 0);
  speedboat__envelope__free_unpacked(env, NULL);
  sb_metrics_free(src);
  sb_metrics_free(dst);
}

/* A counter series of metric |name| with |n| tag strings. */
static Speedboat__Series counter(const char *name, const char **tags, size_t n, double v) {
  Speedboat__Series s = SPEEDBOAT__SERIES__INIT;
  s.metric = (char *)name;
  s.type = SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_COUNTER;
  s.tags = (char **)tags;
  s.n_tags = n;
  s.sum = v;
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
      counter("c1", t1, 4, 1),     counter("c2", t1, 4, 2),     counter("c3", t1copy, 4, 4),
      counter("c1", t1b, 4, 8),    counter("c1", t1c, 4, 16),   counter("c1", t1s, 2, 32),
      counter("c1", t1copy, 4, 64), counter("c1", NULL, 0, 128), counter("c2", NULL, 0, 256),
      counter("c1", t1s, 2, 512),
  };
  Speedboat__Series *ptrs[sizeof(s) / sizeof(s[0])];
  for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) ptrs[i] = &s[i];
  Speedboat__Snapshot snap = SPEEDBOAT__SNAPSHOT__INIT;
  snap.series = ptrs;
  snap.n_series = sizeof(s) / sizeof(s[0]);
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_err err = {{0}};
  for (int round = 1; round <= 2; round++) {
    assert_int_equal(sb_snapshot_apply(m, &snap, &err), 0);
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
  sb_metrics_free(m);
}

/* One hand-made series, valid as built; each case spoils one thing. */
typedef struct {
  Speedboat__Snapshot snap;
  Speedboat__Series series, *ptr;
  Speedboat__Histogram hist;
  char *tags[4];
} fixture;

/* Two values of 1 and one of 1.1, twelve buckets apart. */
static uint64_t wide[13] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void fixture_init(fixture *f, const char *metric, int type) {
  f->snap = (Speedboat__Snapshot)SPEEDBOAT__SNAPSHOT__INIT;
  f->series = (Speedboat__Series)SPEEDBOAT__SERIES__INIT;
  f->hist = (Speedboat__Histogram)SPEEDBOAT__HISTOGRAM__INIT;
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
  f->series.sum = 3;
  f->series.trues = 1;
  f->series.total = 2;
  f->hist.count = 3;
  f->hist.sum = 1 + 1 + 1.1;
  f->hist.min = 1;
  f->hist.max = 1.1;
  f->hist.first = sb_hist_index(1);
  f->hist.counts = wide;
  f->hist.n_counts = 13;
  assert_int_equal(sb_hist_index(1.1), sb_hist_index(1) + 12);
  f->series.hist = &f->hist;
}

static void expect_refused(fixture *f, const char *what) {
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_err err = {{0}};
  int rc = sb_snapshot_apply(m, &f->snap, &err);
  if (rc != SB_EFORMAT) fail_msg("%s: got %d, want SB_EFORMAT", what, rc);
  if (f->series.metric && *f->series.metric && !strstr(err.msg, f->series.metric))
    fail_msg("%s: message '%s' does not name the metric", what, err.msg);
  assert_true(strstr(err.msg, "series 0") != NULL);
  sb_metrics_free(m);
}

static void test_valid_fixture(void **state) {
  (void)state;
  fixture f;
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_err err = {{0}};
  fixture_init(&f, "t", SB_METRIC_TREND);
  assert_int_equal(sb_snapshot_apply(m, &f.snap, &err), 0);
  int id = sb_metrics_find(m, "t");
  assert_true(id >= 0);
  assert_int_equal(sb_metrics_info(m, id)->type, SB_METRIC_TREND);
  assert_int_equal(sb_metrics_info(m, id)->contains, SB_VALUE_TIME);
  const char *kv[] = {"b", "2", "a", "1"};
  sb_series *s = sb_metrics_series(m, id, sb_metrics_tags(m, kv, 2));
  assert_int_equal(s->hist.count, 3);
  assert_true(s->hist.max == 1.1);
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
  f.series.sum = NAN;
  expect_refused(&f, "NaN counter");
  fixture_init(&f, "t", SB_METRIC_GAUGE);
  f.series.sum = NAN;
  expect_refused(&f, "NaN gauge");
  fixture_init(&f, "t", SB_METRIC_GAUGE);
  f.hist.min = 5;
  expect_refused(&f, "gauge min > max");
  fixture_init(&f, "t", SB_METRIC_RATE);
  f.series.trues = 3;
  expect_refused(&f, "rate trues > total");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.series.hist = NULL;
  expect_refused(&f, "trend without histogram");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.hist.count = 4;
  expect_refused(&f, "counts do not add up");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.hist.min = 0.5;
  expect_refused(&f, "min outside the buckets");
  fixture_init(&f, "t", SB_METRIC_TREND);
  f.hist.first = INT32_MAX - 5;
  expect_refused(&f, "buckets off the axis");
  fixture_init(&f, "http_reqs", SB_METRIC_TREND);
  expect_refused(&f, "built-in counter sent as a trend");
  fixture_init(&f, "http_req_duration", SB_METRIC_TREND);
  f.series.contains = SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_DATA;
  expect_refused(&f, "built-in with another value type");
  fixture_init(&f, "", SB_METRIC_COUNTER);
  expect_refused(&f, "no metric name");
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
  assert_int_equal(sb_snapshot_encode(src, 1, 2, 3, 4, &buf, &len), 0);
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
      assert_int_equal(sb_metrics_new(&m), 0);
      sb_err err = {{0}};
      int rc = sb_snapshot_apply(m, env->snapshot, &err);
      assert_true(rc == 0 || rc == SB_EFORMAT);
      if (rc == SB_EFORMAT) {
        assert_true(err.msg[0] != 0);
        refused++;
      } else {
        accepted++;
      }
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
      cmocka_unit_test(test_tag_runs),
      cmocka_unit_test(test_valid_fixture),
      cmocka_unit_test(test_refuses_garbled),
      cmocka_unit_test(test_garbled_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
