/* Tests for common/metrics.c. The module is included so that its allocations go through a
 * counting allocator that can fail at the Nth call: the hot path is checked to allocate
 * nothing, and every failure to leave the set usable. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int alloc_calls;   /* allocations asked for by metrics.c */
static int alloc_fail_at; /* fail the allocation with this number (1-based); 0: never */

static int alloc_fails(void) {
  return ++alloc_calls == alloc_fail_at;
}
static void *counting_malloc(size_t sz) {
  return alloc_fails() ? NULL : malloc(sz);
}
static void *counting_calloc(size_t n, size_t sz) {
  return alloc_fails() ? NULL : calloc(n, sz);
}
static void *counting_realloc(void *p, size_t sz) {
  return alloc_fails() ? NULL : realloc(p, sz);
}

#define malloc counting_malloc
#define calloc counting_calloc
#define realloc counting_realloc
#include "common/metrics.c"
#undef malloc
#undef calloc
#undef realloc

static sb_metrics *new_set(void) {
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_non_null(m);
  return m;
}

static void test_builtins(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  static const struct {
    int id;
    const char *name;
    sb_metric_type type;
    sb_value_type contains;
  } want[] = {
      {SB_M_VUS, "vus", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
      {SB_M_VUS_MAX, "vus_max", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
      {SB_M_ITERATIONS, "iterations", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
      {SB_M_ITERATION_DURATION, "iteration_duration", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_DROPPED_ITERATIONS, "dropped_iterations", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
      {SB_M_DATA_SENT, "data_sent", SB_METRIC_COUNTER, SB_VALUE_DATA},
      {SB_M_DATA_RECEIVED, "data_received", SB_METRIC_COUNTER, SB_VALUE_DATA},
      {SB_M_CHECKS, "checks", SB_METRIC_RATE, SB_VALUE_DEFAULT},
      {SB_M_HTTP_REQS, "http_reqs", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
      {SB_M_HTTP_REQ_FAILED, "http_req_failed", SB_METRIC_RATE, SB_VALUE_DEFAULT},
      {SB_M_HTTP_REQ_DURATION, "http_req_duration", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_HTTP_REQ_BLOCKED, "http_req_blocked", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_HTTP_REQ_CONNECTING, "http_req_connecting", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_HTTP_REQ_TLS_HANDSHAKING, "http_req_tls_handshaking", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_HTTP_REQ_SENDING, "http_req_sending", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_HTTP_REQ_WAITING, "http_req_waiting", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_HTTP_REQ_RECEIVING, "http_req_receiving", SB_METRIC_TREND, SB_VALUE_TIME},
      {SB_M_GROUP_DURATION, "group_duration", SB_METRIC_TREND, SB_VALUE_TIME},
  };
  assert_int_equal(sizeof(want) / sizeof(want[0]), SB_M_BUILTIN_COUNT);
  assert_int_equal(sb_metrics_count(m), SB_M_BUILTIN_COUNT);
  for (size_t i = 0; i < SB_M_BUILTIN_COUNT; i++) {
    const sb_metric_info *mi = sb_metrics_info(m, want[i].id);
    assert_non_null(mi);
    assert_string_equal(mi->name, want[i].name);
    assert_int_equal(mi->type, want[i].type);
    assert_int_equal(mi->contains, want[i].contains);
    assert_int_equal(sb_metrics_find(m, want[i].name), want[i].id);
  }
  assert_null(sb_metrics_info(m, -1));
  assert_null(sb_metrics_info(m, SB_M_BUILTIN_COUNT));
  assert_int_equal(sb_metrics_find(m, "nope"), SB_ENOTFOUND);
  sb_metrics_free(m);
  sb_metrics_free(NULL);
}

static void test_register(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  sb_err err = {{0}};
  int id = sb_metrics_register(m, "my_trend", SB_METRIC_TREND, SB_VALUE_TIME, &err);
  assert_int_equal(id, SB_M_BUILTIN_COUNT);
  assert_int_equal(sb_metrics_register(m, "my_trend", SB_METRIC_TREND, SB_VALUE_TIME, &err), id);
  assert_int_equal(sb_metrics_find(m, "my_trend"), id);
  assert_int_equal(sb_metrics_count(m), SB_M_BUILTIN_COUNT + 1);

  assert_int_equal(sb_metrics_register(m, "my_trend", SB_METRIC_COUNTER, SB_VALUE_TIME, &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "my_trend"));
  assert_non_null(strstr(err.msg, "trend"));
  err.msg[0] = 0;
  assert_int_equal(sb_metrics_register(m, "my_trend", SB_METRIC_TREND, SB_VALUE_DATA, &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "my_trend"));
  assert_int_equal(sb_metrics_register(m, "http_reqs", SB_METRIC_GAUGE, 0, &err), SB_EINVAL);
  assert_int_equal(sb_metrics_register(m, "http_reqs", SB_METRIC_COUNTER, 0, &err), SB_M_HTTP_REQS);
  assert_int_equal(sb_metrics_register(m, "x", (sb_metric_type)0, 0, &err), SB_EINVAL);
  assert_int_equal(sb_metrics_register(m, "x", (sb_metric_type)5, 0, &err), SB_EINVAL);
  assert_int_equal(sb_metrics_register(m, "x", SB_METRIC_RATE, (sb_value_type)3, &err), SB_EINVAL);
  assert_int_equal(sb_metrics_register(m, "", SB_METRIC_RATE, 0, &err), SB_EINVAL);
  assert_int_equal(sb_metrics_register(m, "x", SB_METRIC_RATE, 0, NULL), id + 1);

  /* Many metrics: ids stay dense, names found. */
  char name[32];
  for (int i = 0; i < 200; i++) {
    snprintf(name, sizeof(name), "c%d", i);
    assert_int_equal(sb_metrics_register(m, name, SB_METRIC_COUNTER, 0, &err), id + 2 + i);
  }
  assert_int_equal(sb_metrics_find(m, "c199"), id + 201);
  assert_string_equal(sb_metrics_info(m, id + 201)->name, "c199");
  sb_metrics_free(m);
}

static void test_tags_interning(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  const char *a[] = {"status", "200", "method", "GET", "name", "http://x/"};
  const char *b[] = {"name", "http://x/", "status", "200", "method", "GET"};
  const sb_tagset *ta = sb_metrics_tags(m, a, 3);
  assert_non_null(ta);
  int calls = alloc_calls;
  assert_ptr_equal(sb_metrics_tags(m, b, 3), ta);
  assert_ptr_equal(sb_metrics_tags(m, a, 3), ta);
  assert_int_equal(alloc_calls, calls); /* seen: no allocation */

  const char *const *kv;
  assert_int_equal(sb_tagset_pairs(ta, &kv), 3);
  assert_string_equal(kv[0], "method");
  assert_string_equal(kv[1], "GET");
  assert_string_equal(kv[2], "name");
  assert_string_equal(kv[4], "status");
  assert_string_equal(kv[5], "200");
  assert_string_equal(sb_tagset_get(ta, "status"), "200");
  assert_null(sb_tagset_get(ta, "group"));

  const char *c[] = {"status", "404", "method", "GET", "name", "http://x/"};
  assert_true(sb_metrics_tags(m, c, 3) != ta);
  assert_true(sb_metrics_tags(m, a, 2) != ta);
  const char *d1[] = {"a", "b"}, *d2[] = {"ab", ""}, *d3[] = {"a", "", "b", ""};
  const sb_tagset *t1 = sb_metrics_tags(m, d1, 1), *t2 = sb_metrics_tags(m, d2, 1);
  assert_true(t1 != t2);
  assert_true(sb_metrics_tags(m, d3, 2) != t1);
  const sb_tagset *empty = sb_metrics_tags(m, NULL, 0);
  assert_non_null(empty);
  assert_ptr_equal(sb_metrics_tags(m, NULL, 0), empty);
  assert_int_equal(sb_tagset_pairs(empty, &kv), 0);

  /* Duplicate keys: the later value wins. */
  const char *dup[] = {"k", "1", "k", "2"}, *k2[] = {"k", "2"};
  assert_ptr_equal(sb_metrics_tags(m, dup, 2), sb_metrics_tags(m, k2, 1));

  /* Thousands of sets: the table grows, addresses stay. */
  enum { N = 3000 };
  static const sb_tagset *seen[N];
  char vals[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(vals[i], sizeof(vals[i]), "%d", i);
    const char *kvi[] = {"url", vals[i], "method", "GET"};
    seen[i] = sb_metrics_tags(m, kvi, 2);
    assert_non_null(seen[i]);
  }
  calls = alloc_calls;
  for (int i = 0; i < N; i++) {
    const char *kvi[] = {"method", "GET", "url", vals[i]};
    assert_ptr_equal(sb_metrics_tags(m, kvi, 2), seen[i]);
    assert_string_equal(sb_tagset_get(seen[i], "url"), vals[i]);
  }
  assert_int_equal(alloc_calls, calls);
  assert_ptr_equal(sb_metrics_tags(m, b, 3), ta);

  /* Larger than the stack scratch. */
  enum { BIG = 100 };
  const char *big[2 * BIG];
  char keys[BIG][8];
  for (int i = 0; i < BIG; i++) {
    snprintf(keys[i], sizeof(keys[i]), "k%03d", BIG - 1 - i);
    big[2 * i] = keys[i];
    big[2 * i + 1] = "v";
  }
  const sb_tagset *tb = sb_metrics_tags(m, big, BIG);
  assert_non_null(tb);
  assert_ptr_equal(sb_metrics_tags(m, big, BIG), tb);
  assert_int_equal(sb_tagset_pairs(tb, &kv), BIG);
  assert_string_equal(kv[0], "k000");
  sb_metrics_free(m);
}

static void test_series_and_add(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  const char *kv[] = {"scenario", "default"};
  const sb_tagset *t = sb_metrics_tags(m, kv, 1);
  sb_series *dur = sb_metrics_series(m, SB_M_HTTP_REQ_DURATION, t);
  assert_non_null(dur);
  assert_int_equal(dur->metric, SB_M_HTTP_REQ_DURATION);
  assert_ptr_equal(dur->tags, t);
  assert_int_equal(sb_series_add(m, dur, 12.5), 0); /* first bucket allocation */
  int calls = alloc_calls;
  for (int i = 0; i < 1000; i++) {
    assert_ptr_equal(sb_metrics_series(m, SB_M_HTTP_REQ_DURATION, t), dur);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, 12 + (i % 10) * 0.1), 0);
  }
  assert_int_equal(alloc_calls, calls); /* the hot path allocates nothing */
  assert_int_equal(dur->touched, 1001);
  assert_int_equal(dur->hist.count, 1001);
  assert_true(dur->hist.min == 12 && dur->hist.max == 12.9);

  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, 1), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, 2), 0);
  sb_series *reqs = sb_metrics_series(m, SB_M_HTTP_REQS, t);
  assert_true(reqs->value == 3);
  assert_int_equal(reqs->touched, 2);

  assert_int_equal(sb_metrics_add(m, SB_M_VUS, t, 5), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, t, 9), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, t, 2), 0);
  sb_series *vus = sb_metrics_series(m, SB_M_VUS, t);
  assert_true(vus->value == 2);
  assert_true(vus->hist.min == 2 && vus->hist.max == 9);
  assert_int_equal(vus->hist.count, 3);
  assert_null(vus->hist.counts); /* gauges keep no buckets */

  assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, t, 1), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, t, 0), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, t, 0.5), 0);
  sb_series *checks = sb_metrics_series(m, SB_M_CHECKS, t);
  assert_int_equal(checks->trues, 2);
  assert_int_equal(checks->total, 3);

  /* NaN samples are dropped, except by rates (NaN != 0 is a true, as in k6). */
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, t, NAN), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_VUS, t, NAN), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, NAN), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, t, NAN), 0);
  assert_true(reqs->value == 3 && reqs->touched == 2);
  assert_true(vus->value == 2 && vus->hist.count == 3);
  assert_int_equal(dur->hist.count, 1001);
  assert_int_equal(checks->trues, 3);

  /* A metric registered after the tag set was interned. */
  int id = sb_metrics_register(m, "late", SB_METRIC_COUNTER, 0, NULL);
  assert_int_equal(sb_metrics_add(m, id, t, 4), 0);
  assert_true(sb_metrics_series(m, id, t)->value == 4);
  assert_null(sb_metrics_series(m, id + 1, t));
  assert_null(sb_metrics_series(m, -1, t));

  /* Series addresses survive many more series. */
  char v[16];
  for (int i = 0; i < 2000; i++) {
    snprintf(v, sizeof(v), "%d", i);
    const char *kvi[] = {"i", v};
    assert_int_equal(sb_metrics_add(m, SB_M_ITERATIONS, sb_metrics_tags(m, kvi, 1), 1), 0);
  }
  assert_ptr_equal(sb_metrics_series(m, SB_M_HTTP_REQ_DURATION, t), dur);
  assert_int_equal(dur->hist.count, 1001);
  sb_metrics_free(m);
}

static int count_touched(const sb_metrics *m) {
  int n = 0;
  size_t it = 0;
  while (sb_metrics_next(m, &it))
    n++;
  return n;
}

static void test_next_and_reset(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  const char *kv[] = {"k", "v"};
  const sb_tagset *t = sb_metrics_tags(m, kv, 1);
  assert_int_equal(count_touched(m), 0);
  assert_non_null(sb_metrics_series(m, SB_M_DATA_SENT, t)); /* created, not touched */
  assert_int_equal(count_touched(m), 0);
  sb_metrics_add(m, SB_M_DATA_SENT, t, 100);
  sb_metrics_add(m, SB_M_ITERATION_DURATION, t, 100);
  sb_metrics_add(m, SB_M_ITERATION_DURATION, sb_metrics_tags(m, NULL, 0), 3);
  assert_int_equal(count_touched(m), 3);

  sb_series *s = sb_metrics_series(m, SB_M_ITERATION_DURATION, t);
  uint64_t *mem = s->hist.counts;
  sb_metrics_reset(m);
  assert_int_equal(count_touched(m), 0);
  assert_ptr_equal(sb_metrics_series(m, SB_M_ITERATION_DURATION, t), s);
  assert_ptr_equal(s->hist.counts, mem);
  assert_int_equal(s->hist.count, 0);
  assert_true(sb_metrics_series(m, SB_M_DATA_SENT, t)->value == 0);
  int calls = alloc_calls;
  sb_metrics_add(m, SB_M_ITERATION_DURATION, t, 100);
  assert_int_equal(alloc_calls, calls);
  assert_int_equal(count_touched(m), 1);
  sb_metrics_free(m);
}

static void test_merge(void **state) {
  (void)state;
  sb_metrics *a = new_set(), *b = new_set();
  sb_err err = {{0}};
  int ca = sb_metrics_register(a, "only_a", SB_METRIC_COUNTER, 0, &err);
  int ta = sb_metrics_register(a, "shared", SB_METRIC_TREND, SB_VALUE_TIME, &err);
  int tb = sb_metrics_register(b, "shared", SB_METRIC_TREND, SB_VALUE_TIME, &err);
  int gb = sb_metrics_register(b, "only_b", SB_METRIC_GAUGE, 0, &err);
  assert_true(ta != tb);
  const char *x[] = {"x", "1"}, *y[] = {"y", "2"};
  const sb_tagset *ax = sb_metrics_tags(a, x, 1), *bx = sb_metrics_tags(b, x, 1);
  const sb_tagset *by = sb_metrics_tags(b, y, 1);
  sb_metrics_add(a, ca, ax, 5);
  sb_metrics_add(a, ta, ax, 10);
  sb_metrics_add(a, SB_M_CHECKS, ax, 1);
  sb_metrics_add(a, SB_M_VUS, ax, 3);
  sb_metrics_add(b, tb, bx, 20);
  sb_metrics_add(b, tb, by, 30);
  sb_metrics_add(b, SB_M_CHECKS, bx, 0);
  sb_metrics_add(b, SB_M_VUS, bx, 7);
  sb_metrics_add(b, SB_M_VUS, bx, 1);
  sb_metrics_add(b, gb, by, 42);

  assert_int_equal(sb_metrics_merge(a, b, &err), 0);
  int gba = sb_metrics_find(a, "only_b");
  assert_true(gba >= 0);
  assert_int_equal(sb_metrics_info(a, gba)->type, SB_METRIC_GAUGE);
  sb_series *s = sb_metrics_series(a, ta, ax);
  assert_int_equal(s->hist.count, 2);
  assert_true(s->hist.min == 10 && s->hist.max == 20 && s->hist.sum == 30);
  assert_int_equal(s->touched, 2);
  const sb_tagset *ay = sb_metrics_tags(a, y, 1);
  assert_int_equal(sb_metrics_series(a, ta, ay)->hist.count, 1);
  s = sb_metrics_series(a, SB_M_CHECKS, ax);
  assert_int_equal(s->trues, 1);
  assert_int_equal(s->total, 2);
  s = sb_metrics_series(a, SB_M_VUS, ax);
  assert_true(s->value == 1); /* src's last value */
  assert_true(s->hist.min == 1 && s->hist.max == 7);
  assert_int_equal(s->hist.count, 3);
  assert_true(sb_metrics_series(a, gba, ay)->value == 42);
  assert_true(sb_metrics_series(a, ca, ax)->value == 5);
  assert_int_equal(count_touched(a), 6);

  /* A type conflict is refused with the metric named. */
  sb_metrics *c = new_set();
  sb_metrics_register(c, "shared", SB_METRIC_COUNTER, 0, &err);
  assert_int_equal(sb_metrics_merge(c, b, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "shared"));
  sb_metrics_free(a);
  sb_metrics_free(b);
  sb_metrics_free(c);
}

static void test_fold(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  const char *ok[] = {"expected_response", "true", "status", "200"};
  const char *bad[] = {"expected_response", "false", "status", "500"};
  const char *ok2[] = {"expected_response", "true", "status", "201", "name", "n"};
  for (int i = 1; i <= 10; i++)
    sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, sb_metrics_tags(m, ok, 2), i);
  for (int i = 1; i <= 5; i++)
    sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, sb_metrics_tags(m, bad, 2), 1000);
  sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, sb_metrics_tags(m, ok2, 3), 11);
  sb_metrics_add(m, SB_M_HTTP_REQ_WAITING, sb_metrics_tags(m, ok, 2), 99999);

  sb_series all, sub, none;
  sb_series_init(&all, SB_M_HTTP_REQ_DURATION);
  sb_series_init(&sub, SB_M_HTTP_REQ_DURATION);
  sb_series_init(&none, SB_M_HTTP_REQ_DURATION);
  assert_int_equal(sb_metrics_fold(m, SB_M_HTTP_REQ_DURATION, NULL, 0, &all), 0);
  assert_int_equal(all.hist.count, 16);
  assert_true(all.hist.max == 1000);
  const char *f[] = {"expected_response", "true"};
  assert_int_equal(sb_metrics_fold(m, SB_M_HTTP_REQ_DURATION, f, 1, &sub), 0);
  assert_int_equal(sub.hist.count, 11);
  assert_true(sub.hist.min == 1 && sub.hist.max == 11);
  assert_true(fabs(sb_hist_quantile(&sub.hist, 0.5) - 6) < 0.06);
  const char *g[] = {"status", "404"};
  assert_int_equal(sb_metrics_fold(m, SB_M_HTTP_REQ_DURATION, g, 1, &none), 0);
  assert_int_equal(none.touched, 0);
  sb_series_clear(&all);
  sb_series_clear(&sub);
  sb_series_clear(&none);
  assert_null(all.hist.counts);

  sb_series rate;
  sb_series_init(&rate, SB_M_CHECKS);
  const char *c1[] = {"check", "a"}, *c2[] = {"check", "b"};
  sb_metrics_add(m, SB_M_CHECKS, sb_metrics_tags(m, c1, 1), 1);
  sb_metrics_add(m, SB_M_CHECKS, sb_metrics_tags(m, c2, 1), 0);
  assert_int_equal(sb_metrics_fold(m, SB_M_CHECKS, NULL, 0, &rate), 0);
  assert_int_equal(rate.trues, 1);
  assert_int_equal(rate.total, 2);
  sb_series_clear(&rate);
  sb_metrics_free(m);
}

/* Every allocation of construction and of first use may fail; the set stays usable and
 * nothing leaks (ASan checks the latter). */
static void test_alloc_failures(void **state) {
  (void)state;
  int failed = 0;
  for (int n = 1; n < 10; n++) {
    sb_metrics *m = (sb_metrics *)0x1;
    alloc_calls = 0;
    alloc_fail_at = n;
    int rc = sb_metrics_new(&m);
    alloc_fail_at = 0;
    if (rc == 0) {
      sb_metrics_free(m);
      break;
    }
    assert_int_equal(rc, SB_ENOMEM);
    assert_ptr_equal(m, (sb_metrics *)0x1); /* untouched on failure */
    failed++;
  }
  assert_int_equal(failed, 3); /* set, metrics, table */
  sb_metrics *m = new_set();
  const char *kv[] = {"a", "b"};
  alloc_calls = 0;
  alloc_fail_at = 1;
  assert_null(sb_metrics_tags(m, kv, 1));
  const sb_tagset *t = sb_metrics_tags(m, kv, 1);
  assert_non_null(t);
  failed = 0;
  for (int n = 1; n <= 4; n++) { /* on a fresh set, fail the nth allocation of first use */
    sb_metrics *f = new_set();
    const sb_tagset *ft = sb_metrics_tags(f, kv, 1);
    alloc_calls = 0;
    alloc_fail_at = n;
    int rc = sb_metrics_add(f, SB_M_HTTP_REQ_DURATION, ft, 5);
    alloc_fail_at = 0;
    if (rc == 0) {
      assert_int_equal(sb_metrics_series(f, SB_M_HTTP_REQ_DURATION, ft)->hist.count, 1);
      sb_metrics_free(f);
      break;
    }
    assert_int_equal(rc, SB_ENOMEM);
    assert_int_equal(count_touched(f), 0);
    assert_int_equal(sb_metrics_add(f, SB_M_HTTP_REQ_DURATION, ft, 5), 0); /* usable again */
    sb_metrics_free(f);
    failed++;
  }
  assert_int_equal(failed, 3); /* series array, page list, page */
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, 5), 0);
  sb_series *s = sb_metrics_series(m, SB_M_HTTP_REQ_DURATION, t);
  assert_non_null(s);
  assert_int_equal(s->hist.count, 1);
  alloc_calls = 0;
  alloc_fail_at = 1;
  sb_err err = {{0}};
  assert_int_equal(sb_metrics_register(m, "new", SB_METRIC_COUNTER, 0, &err), SB_ENOMEM);
  alloc_fail_at = 0;
  assert_int_equal(sb_metrics_find(m, "new"), SB_ENOTFOUND);
  assert_true(sb_metrics_register(m, "new", SB_METRIC_COUNTER, 0, &err) >= 0);
  sb_metrics_free(m);
}

/* sb_metrics_tags() remembers recent lookups by content: a caller that reuses its buffers with
 * other values gets the other set, the same pairs in another order the same set, and pairs too
 * long to remember are still interned right. */
static void test_tags_memo(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  char status[8] = "200";
  const char *kv[] = {"method", "GET", "status", status};
  const sb_tagset *t200 = sb_metrics_tags(m, kv, 2);
  assert_ptr_equal(sb_metrics_tags(m, kv, 2), t200);
  strcpy(status, "404"); /* same pointers, other content */
  const sb_tagset *t404 = sb_metrics_tags(m, kv, 2);
  assert_ptr_not_equal(t404, t200);
  assert_string_equal(sb_tagset_get(t404, "status"), "404");
  strcpy(status, "20"); /* a prefix of a remembered value */
  const sb_tagset *t20 = sb_metrics_tags(m, kv, 2);
  assert_string_equal(sb_tagset_get(t20, "status"), "20");
  strcpy(status, "200");
  assert_ptr_equal(sb_metrics_tags(m, kv, 2), t200);
  const char *rev[] = {"status", "200", "method", "GET"};
  assert_ptr_equal(sb_metrics_tags(m, rev, 2), t200);
  assert_int_equal(sb_tagset_pairs(t200, &(const char *const *){NULL}), 2);
  const char *one[] = {"method", "GET"}; /* fewer pairs: another set */
  assert_ptr_not_equal(sb_metrics_tags(m, one, 1), t200);
  static char big[3000];
  memset(big, 'x', sizeof(big) - 1);
  const char *long_kv[] = {"url", big};
  const sb_tagset *tl = sb_metrics_tags(m, long_kv, 1);
  assert_ptr_equal(sb_metrics_tags(m, long_kv, 1), tl);
  big[5] = 'y';
  assert_ptr_not_equal(sb_metrics_tags(m, long_kv, 1), tl);
  /* More distinct sets than the memo holds, in a cycle: each is still found */
  char name[16];
  const char *nk[] = {"name", name};
  const sb_tagset *seen[20];
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 20; i++) {
      snprintf(name, sizeof(name), "n%d", i);
      const sb_tagset *t = sb_metrics_tags(m, nk, 1);
      if (round == 0) seen[i] = t;
      assert_ptr_equal(t, seen[i]);
      assert_string_equal(sb_tagset_get(t, "name"), name);
    }
  sb_metrics_free(m);
}

/* sb_metrics_tags_lookup(): the same interned sets as sb_metrics_tags(), in any order, without
 * reading or filling the memo (the controller's merge). */
static void test_tags_lookup(void **state) {
  (void)state;
  sb_metrics *m = new_set();
  const char *kv[] = {"status", "200", "method", "GET"};
  const char *sorted[] = {"method", "GET", "status", "200"};
  const sb_tagset *t = sb_metrics_tags_lookup(m, kv, 2);
  assert_non_null(t);
  assert_null(m->memo); /* not made */
  assert_ptr_equal(sb_metrics_tags_lookup(m, sorted, 2), t);
  assert_ptr_equal(sb_metrics_tags(m, sorted, 2), t);
  assert_non_null(m->memo);
  const char *other[] = {"method", "GET", "status", "201"};
  const sb_tagset *t2 = sb_metrics_tags_lookup(m, other, 2);
  assert_ptr_not_equal(t2, t);
  for (int i = 0; i < TAGS_MEMO; i++) /* the memo holds only what sb_metrics_tags() put there */
    assert_true(m->memo->e[i].t != t2);
  assert_ptr_equal(sb_metrics_tags(m, other, 2), t2);
  assert_ptr_equal(sb_metrics_tags_lookup(m, NULL, 0), sb_metrics_tags(m, NULL, 0));
  sb_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tags_memo),
      cmocka_unit_test(test_tags_lookup),
      cmocka_unit_test(test_builtins),       cmocka_unit_test(test_register),
      cmocka_unit_test(test_tags_interning), cmocka_unit_test(test_series_and_add),
      cmocka_unit_test(test_next_and_reset), cmocka_unit_test(test_merge),
      cmocka_unit_test(test_fold),           cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
