/* Tests for common/points.c and the point hook of common/metrics.c: samples become points only
 * when asked, merges carry them (remapped to the destination's series), the Points message
 * round-trips with each metric and tag set defined once, and garbled messages are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The order matters (see failalloc.h). */
#include "test/unit/failalloc.h"
#include "common/points.c"
#include "test/unit/failalloc_off.h"

static const char *tags_a[] = {"status", "200", "method", "GET", "url", "http://127.0.0.1/a"};
static const char *tags_b[] = {"status", "500", "method", "POST"};

static sb_metrics *new_set(int points) {
  sb_metrics *m = NULL;
  assert_int_equal(sb_metrics_new(&m), 0);
  if (points) assert_int_equal(sb_metrics_points_enable(m), 0);
  return m;
}

static void test_off_by_default(void **state) {
  sb_metrics *m = new_set(0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, sb_metrics_tags(m, tags_a, 3), 1), 0);
  assert_null(sb_metrics_points(m));
  sb_metrics_free(m);
}

static void test_samples_become_points(void **state) {
  sb_metrics *m = new_set(1);
  const sb_tagset *a = sb_metrics_tags(m, tags_a, 3);
  int64_t t0 = sb_clock_wall_us();
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, a, 1), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, a, 12.5), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, a, NAN), 0); /* dropped: no point */
  assert_int_equal(sb_metrics_add(m, SB_M_CHECKS, a, NAN), 0);            /* a true */
  const sb_points *p = sb_metrics_points(m);
  assert_int_equal(p->n, 3);
  assert_int_equal(p->v[0].s->metric, SB_M_HTTP_REQS);
  assert_true(p->v[1].value == 12.5 && p->v[2].value == 1);
  assert_true(p->v[0].time_us >= t0 && p->v[2].time_us <= sb_clock_wall_us());
  sb_metrics_reset(m);
  assert_int_equal(sb_metrics_points(m)->n, 0);
  sb_metrics_free(m);
}

/* Two worker sets -> pending -> the session's set, as the engine moves them. */
static void test_merge_moves_points(void **state) {
  sb_metrics *w1 = new_set(1), *w2 = new_set(1), *pending = new_set(1), *snap = new_set(1);
  sb_err err;
  int custom = sb_metrics_register(w2, "my_counter", SB_METRIC_COUNTER, SB_VALUE_DEFAULT, &err);
  assert_true(custom >= 0);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(sb_metrics_add(w1, SB_M_HTTP_REQS, sb_metrics_tags(w1, tags_a, 3), 1), 0);
    assert_int_equal(sb_metrics_add(w2, SB_M_HTTP_REQS, sb_metrics_tags(w2, tags_b, 2), 1), 0);
    assert_int_equal(sb_metrics_add(w2, custom, sb_metrics_tags(w2, NULL, 0), i), 0);
  }
  assert_int_equal(sb_metrics_merge(pending, w1, &err), 0);
  assert_int_equal(sb_metrics_merge(pending, w2, &err), 0);
  sb_metrics_reset(w1);
  sb_metrics_reset(w2);
  assert_int_equal(sb_metrics_merge(snap, pending, &err), 0);
  sb_metrics_reset(pending);
  const sb_points *p = sb_metrics_points(snap);
  assert_int_equal(p->n, 300);
  double sum = 0;
  size_t reqs = 0;
  for (size_t i = 0; i < p->n; i++) {
    const sb_series *s = p->v[i].s;
    assert_ptr_equal(sb_metrics_series(snap, s->metric, s->tags), s); /* snap's own series */
    if (s->metric == SB_M_HTTP_REQS) reqs++;
    else sum += p->v[i].value;
  }
  assert_int_equal(reqs, 200);
  assert_true(sum == 4950);
  assert_string_equal(sb_metrics_info(snap, p->v[299].s->metric)->name, "my_counter");
  assert_int_equal(sb_metrics_points(pending)->n, 0);
  sb_metrics_free(w1), sb_metrics_free(w2), sb_metrics_free(pending), sb_metrics_free(snap);
}

/* A destination that does not record points drops them; the aggregates still merge. */
static void test_merge_into_plain_set(void **state) {
  sb_metrics *w = new_set(1), *plain = new_set(0);
  sb_err err;
  assert_int_equal(sb_metrics_add(w, SB_M_ITERATIONS, sb_metrics_tags(w, NULL, 0), 1), 0);
  assert_int_equal(sb_metrics_merge(plain, w, &err), 0);
  assert_null(sb_metrics_points(plain));
  sb_series f;
  sb_series_init(&f, SB_M_ITERATIONS);
  assert_int_equal(sb_metrics_fold(plain, SB_M_ITERATIONS, NULL, 0, &f), 0);
  assert_true(f.value == 1);
  sb_series_clear(&f);
  sb_metrics_free(w), sb_metrics_free(plain);
}

/* ---- the wire ---- */

typedef struct got {
  size_t n, nmetric_defs, ntag_defs;
  char line[64][160];
  int64_t time[64];
} got;

static void *on_metric(const sb_point_metric *m, void *ud) {
  ((got *)ud)->nmetric_defs++;
  return (void *)m->name;
}

static void *on_tags(const sb_point_tags *t, void *ud) {
  ((got *)ud)->ntag_defs++;
  return (void *)t;
}

static void on_point(const sb_point_metric *m, const sb_point_tags *t, int64_t time_us, double v,
                     void *ud) {
  got *g = ud;
  if (g->n == 64) return;
  int len = snprintf(g->line[g->n], 160, "%s=%g", (const char *)m->ud, v);
  for (size_t i = 0; i < t->n; i++)
    len += snprintf(g->line[g->n] + len, 160 - (size_t)len, " %s:%s", t->kv[2 * i], t->kv[2 * i + 1]);
  g->time[g->n++] = time_us;
}

/* Encodes |m|'s points with |e|, unpacks and decodes with |d|. */
static int roundtrip(sb_points_enc *e, sb_metrics *m, sb_points_dec *d, int64_t offset) {
  uint8_t *buf;
  size_t len;
  assert_int_equal(sb_points_encode(e, m, 1, 0, &buf, &len), 0);
  Speedboat__Envelope *env = speedboat__envelope__unpack(NULL, len, buf);
  free(buf);
  assert_non_null(env);
  assert_int_equal(env->msg_case, SPEEDBOAT__ENVELOPE__MSG_POINTS);
  sb_err err;
  int rc = sb_points_decode(d, env->points, offset, &err);
  speedboat__envelope__free_unpacked(env, NULL);
  sb_metrics_reset(m);
  return rc;
}

static void test_roundtrip_defines_once(void **state) {
  got g = {0};
  sb_points_dec_cbs cbs = {on_metric, on_tags, NULL, on_point, &g};
  sb_points_dec *d = NULL;
  assert_int_equal(sb_points_dec_new(&d, &cbs), 0);
  sb_points_enc e;
  sb_points_enc_init(&e);
  sb_metrics *m = new_set(1);
  const sb_tagset *a = sb_metrics_tags(m, tags_a, 3);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, a, 1), 0);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, a, 0.25), 0);
  int64_t t1 = sb_metrics_points(m)->v[1].time_us;
  assert_int_equal(roundtrip(&e, m, d, 1000), 0);
  assert_int_equal(g.n, 2);
  assert_string_equal(g.line[0], "http_reqs=1 method:GET status:200 url:http://127.0.0.1/a");
  assert_string_equal(g.line[1], "http_req_duration=0.25 method:GET status:200 url:http://127.0.0.1/a");
  assert_true(g.time[1] == t1 - 1000); /* in the controller's clock */
  assert_int_equal(g.ntag_defs, 1);
  size_t builtins = g.nmetric_defs;
  /* Again with the same tag set and a new one, and a new metric: only the new ones defined. */
  sb_err err;
  int c = sb_metrics_register(m, "mine", SB_METRIC_GAUGE, SB_VALUE_DATA, &err);
  assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, a, 1), 0);
  assert_int_equal(sb_metrics_add(m, c, sb_metrics_tags(m, tags_b, 2), 7), 0);
  assert_int_equal(roundtrip(&e, m, d, 0), 0);
  assert_int_equal(g.n, 4);
  assert_string_equal(g.line[3], "mine=7 method:POST status:500");
  assert_int_equal(g.ntag_defs, 2);
  assert_int_equal(g.nmetric_defs, builtins + 1);
  /* An interval without points still works. */
  assert_int_equal(roundtrip(&e, m, d, 0), 0);
  assert_int_equal(g.n, 4);
  sb_metrics_free(m);
  sb_points_enc_clear(&e);
  sb_points_dec_free(d);
}

/* An encode that fails on memory defines nothing: the next message defines the tag set again. */
static void test_encode_failure_keeps_definitions_due(void **state) {
  for (long fail = 1; fail < 12; fail++) {
    got g = {0};
    sb_points_dec_cbs cbs = {on_metric, on_tags, NULL, on_point, &g};
    sb_points_dec *d = NULL;
    assert_int_equal(sb_points_dec_new(&d, &cbs), 0);
    sb_points_enc e;
    sb_points_enc_init(&e);
    sb_metrics *m = new_set(1);
    assert_int_equal(sb_metrics_add(m, SB_M_HTTP_REQS, sb_metrics_tags(m, tags_b, 2), 1), 0);
    uint8_t *buf = NULL;
    size_t len;
    alloc_calls = 0;
    alloc_fail_at = fail;
    int rc = sb_points_encode(&e, m, 1, 0, &buf, &len);
    alloc_fail_at = 0;
    if (rc == 0) free(buf);
    assert_true(rc == 0 || rc == SB_ENOMEM);
    if (rc) assert_int_equal(roundtrip(&e, m, d, 0), 0); /* all defined again: decodes */
    sb_metrics_free(m);
    sb_points_enc_clear(&e);
    sb_points_dec_free(d);
  }
}

static void test_decode_refuses_garbage(void **state) {
  got g = {0};
  sb_points_dec_cbs cbs = {on_metric, on_tags, NULL, on_point, &g};
  sb_points_dec *d = NULL;
  assert_int_equal(sb_points_dec_new(&d, &cbs), 0);
  sb_err err;
  int64_t dt[1] = {0};
  uint32_t mid[1] = {0}, tid[1] = {0};
  double v[1] = {1};
  Speedboat__Points p = SPEEDBOAT__POINTS__INIT;
  p.n_dt_us = p.n_metric = p.n_tags = p.n_value = 1;
  p.dt_us = dt, p.metric = mid, p.tags = tid, p.value = v;
  assert_int_equal(sb_points_decode(d, &p, 0, &err), SB_EFORMAT); /* undefined metric */
  assert_non_null(strstr(err.msg, "undefined metric 0"));
  Speedboat__PointMetric pm = SPEEDBOAT__POINT_METRIC__INIT, *pmp = &pm;
  pm.name = "x", pm.type = SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_COUNTER;
  p.n_metrics = 1, p.metrics = &pmp;
  assert_int_equal(sb_points_decode(d, &p, 0, &err), SB_EFORMAT); /* undefined tag set */
  assert_non_null(strstr(err.msg, "undefined tag set 0"));
  assert_int_equal(sb_points_decode(d, &p, 0, &err), SB_EFORMAT); /* metric 0 again */
  assert_non_null(strstr(err.msg, "defined twice"));
  p.n_metrics = 0;
  char *odd[] = {"k", "v", "k2"};
  Speedboat__PointTags pt = SPEEDBOAT__POINT_TAGS__INIT, *ptp = &pt;
  pt.n_tags = 3, pt.tags = odd;
  p.n_tag_sets = 1, p.tag_sets = &ptp;
  assert_int_equal(sb_points_decode(d, &p, 0, &err), SB_EFORMAT);
  pt.n_tags = 2;
  pt.id = 1u << 30;
  assert_int_equal(sb_points_decode(d, &p, 0, &err), SB_EFORMAT); /* id out of bounds */
  pt.id = 0;
  p.n_tags = 0; /* columns of different lengths */
  assert_int_equal(sb_points_decode(d, &p, 0, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "different lengths"));
  p.n_tags = 1;
  assert_int_equal(g.n, 0); /* no point of a refused message was delivered */
  assert_int_equal(sb_points_decode(d, &p, 0, &err), 0);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.line[0], "x=1 k:v");
  sb_points_dec_free(d);
}

static void test_push_counts_what_it_cannot_keep(void **state) {
  sb_points p;
  sb_points_init(&p);
  sb_series s;
  sb_series_init(&s, 0);
  alloc_calls = 0;
  alloc_fail_at = 1;
  sb_points_push(&p, &s, 1);
  alloc_fail_at = 0;
  assert_int_equal(p.n, 0);
  assert_int_equal(p.dropped, 1);
  sb_points_push(&p, &s, 2);
  assert_int_equal(p.n, 1);
  sb_points_clear(&p);
}

/* A set keeps at most |max| points between two resets: the rest are counted in |dropped| (at
 * push and at merge), its memory stops growing at |max|, and a reset makes room again. */
static void test_cap_counts_the_rest(void **state) {
  sb_points p;
  sb_points_init(&p);
  assert_int_equal(p.max, SB_POINTS_MAX);
  p.max = 1000;
  sb_series s;
  sb_series_init(&s, 0);
  for (int i = 0; i < 1500; i++) sb_points_push(&p, &s, i);
  assert_int_equal(p.n, 1000);
  assert_int_equal(p.dropped, 500);
  assert_int_equal(p.cap, 1000); /* not the 1024 of doubling */
  assert_true(p.v[999].value == 999);
  assert_int_equal(sb_points_reserve(&p, 1), SB_ENOMEM);
  p.n = 0;
  assert_int_equal(sb_points_reserve(&p, 1000), 0);
  assert_int_equal(sb_points_reserve(&p, 1001), SB_ENOMEM);
  assert_int_equal(sb_points_reserve(&p, SIZE_MAX), SB_ENOMEM); /* no overflow */
  sb_points_clear(&p);
  assert_int_equal(p.max, SB_POINTS_MAX);

  /* merges: a worker's points beyond the session set's cap are counted, none lost unseen */
  sb_metrics *w = new_set(1), *snap = new_set(1);
  sb_err err;
  ((sb_points *)sb_metrics_points(w))->max = 300;
  ((sb_points *)sb_metrics_points(snap))->max = 500;
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 400; i++)
      assert_int_equal(sb_metrics_add(w, SB_M_HTTP_REQS, sb_metrics_tags(w, tags_a, 3), 1), 0);
    assert_int_equal(sb_metrics_points(w)->n, 300);
    assert_int_equal(sb_metrics_points(w)->dropped, 100);
    assert_int_equal(sb_metrics_merge(snap, w, &err), 0);
    sb_metrics_reset(w);
  }
  const sb_points *sp = sb_metrics_points(snap);
  assert_int_equal(sp->n, 500); /* the second batch filled the set up to its cap */
  assert_int_equal(sp->n + sp->dropped, 800); /* every sample kept or counted */
  /* the encoder sends the count; the controller's decoder totals it */
  uint8_t *buf;
  size_t len;
  sb_points_enc e;
  sb_points_enc_init(&e);
  assert_int_equal(sb_points_encode(&e, snap, 1, sp->dropped, &buf, &len), 0);
  Speedboat__Envelope *env = speedboat__envelope__unpack(NULL, len, buf);
  assert_non_null(env);
  assert_int_equal(env->points->dropped, sp->dropped);
  speedboat__envelope__free_unpacked(env, NULL);
  free(buf);
  sb_points_enc_clear(&e);
  sb_metrics_free(w), sb_metrics_free(snap);
}

/* Regression: a merge into a set near its cap dropped the whole incoming batch; it keeps the
 * first points that fit (in order, each on its series) and counts only the rest. */
static void test_merge_near_cap_keeps_what_fits(void **state) {
  (void)state;
  sb_metrics *w = new_set(1), *snap = new_set(1);
  sb_err err;
  ((sb_points *)sb_metrics_points(snap))->max = 10;
  for (int i = 0; i < 7; i++)
    assert_int_equal(sb_metrics_add(w, SB_M_HTTP_REQS, sb_metrics_tags(w, tags_a, 3), i), 0);
  assert_int_equal(sb_metrics_merge(snap, w, &err), 0);
  sb_metrics_reset(w);
  for (int i = 0; i < 6; i++)
    assert_int_equal(sb_metrics_add(w, SB_M_VUS, sb_metrics_tags(w, NULL, 0), 100 + i), 0);
  ((sb_points *)sb_metrics_points(w))->dropped = 2; /* the worker's own losses travel too */
  assert_int_equal(sb_metrics_merge(snap, w, &err), 0);
  const sb_points *sp = sb_metrics_points(snap);
  assert_int_equal(sp->n, 10);       /* 7 + the 3 that fit */
  assert_int_equal(sp->dropped, 5);  /* 3 past the cap + the worker's 2 */
  for (int i = 0; i < 3; i++) {
    assert_true(sp->v[7 + i].value == 100 + i);
    assert_int_equal(sp->v[7 + i].s->metric, SB_M_VUS);
  }
  /* full: a further batch is counted whole, nothing stored */
  sb_metrics_reset(w);
  assert_int_equal(sb_metrics_add(w, SB_M_VUS, sb_metrics_tags(w, NULL, 0), 1), 0);
  assert_int_equal(sb_metrics_merge(snap, w, &err), 0);
  assert_int_equal(sp->n, 10);
  assert_int_equal(sp->dropped, 6);
  sb_metrics_free(w), sb_metrics_free(snap);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_off_by_default),
      cmocka_unit_test(test_samples_become_points),
      cmocka_unit_test(test_merge_moves_points),
      cmocka_unit_test(test_merge_into_plain_set),
      cmocka_unit_test(test_merge_near_cap_keeps_what_fits),
      cmocka_unit_test(test_roundtrip_defines_once),
      cmocka_unit_test(test_encode_failure_keeps_definitions_due),
      cmocka_unit_test(test_decode_refuses_garbage),
      cmocka_unit_test(test_push_counts_what_it_cannot_keep),
      cmocka_unit_test(test_cap_counts_the_rest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
