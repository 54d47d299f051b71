/* Metric sets <-> Snapshot messages (see snapshot.h).
 *
 * Encoding borrows everything it can from the set: metric names, tag strings and histogram
 * buckets are pointed to, not copied, and only the message skeleton is allocated for the time
 * of the pack. Applying trusts nothing: a snapshot comes from another process, maybe another
 * machine, and a bad one must be refused with a sentence naming the series, never crash or
 * poison the run-wide set. */
#include "common/snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAG_PAIRS 256 /* per series; k6 scripts use a handful */

/* Fills |ps| (and |ph| when the type carries one) from series |s| of |m|. Buckets are pointed
 * to in place (the zero bucket travels apart, in Histogram.zero); |*tmp| stays NULL.
 * Returns 0 or SB_ENOMEM. */
static int encode_series(const sb_metrics *m, const sb_series *s, Speedboat__Series *ps,
                         Speedboat__Histogram *ph, uint64_t **tmp) {
  const sb_metric_info *mi = sb_metrics_info(m, s->metric);
  const char *const *kv;
  size_t n = sb_tagset_pairs(s->tags, &kv);
  *ps = (Speedboat__Series)SPEEDBOAT__SERIES__INIT;
  ps->metric = (char *)mi->name;
  ps->type = (Speedboat__MetricType)mi->type;
  ps->contains = (Speedboat__ValueType)mi->contains;
  ps->n_tags = 2 * n;
  ps->tags = (char **)kv;
  switch (mi->type) {
  case SB_METRIC_COUNTER: ps->sum = s->value; break;
  case SB_METRIC_RATE:
    ps->trues = s->trues;
    ps->total = s->total;
    break;
  case SB_METRIC_GAUGE:
  case SB_METRIC_TREND: {
    const sb_hist *h = &s->hist;
    *ph = (Speedboat__Histogram)SPEEDBOAT__HISTOGRAM__INIT;
    ph->count = h->count;
    ph->sum = h->sum;
    ph->min = h->min;
    ph->max = h->max;
    ps->sum = s->value;
    ps->hist = ph;
    if (mi->type == SB_METRIC_GAUGE) break; /* no buckets */
    const uint64_t *counts;
    sb_hist_raw_nz(h, &ph->first, &counts, &ph->n_counts, &ph->zero);
    ph->counts = (uint64_t *)counts; /* only read by pack */
    break;
  }
  }
  return 0;
}

int sb_snapshot_encode(const sb_metrics *m, uint64_t seq, int64_t time_us, uint64_t vus,
                       uint64_t vus_max, uint8_t **out, size_t *len) {
  int rc = SB_ENOMEM;
  size_t n = 0, it = 0;
  sb_series *s;
  while (sb_metrics_next(m, &it))
    n++;

  Speedboat__Series *series = calloc(n ? n : 1, sizeof(*series));
  Speedboat__Series **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
  Speedboat__Histogram *hists = calloc(n ? n : 1, sizeof(*hists));
  uint64_t **tmps = calloc(n ? n : 1, sizeof(*tmps));
  if (!series || !ptrs || !hists || !tmps) goto out;
  it = 0;
  for (size_t i = 0; i < n && (s = sb_metrics_next(m, &it)); i++) {
    if (encode_series(m, s, &series[i], &hists[i], &tmps[i])) goto out;
    ptrs[i] = &series[i];
  }

  Speedboat__Snapshot snap = SPEEDBOAT__SNAPSHOT__INIT;
  snap.seq = seq;
  snap.time_us = time_us;
  snap.vus = vus;
  snap.vus_max = vus_max;
  snap.n_series = n;
  snap.series = ptrs;
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT;
  env.snapshot = &snap;
  size_t size = speedboat__envelope__get_packed_size(&env);
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) goto out;
  *len = speedboat__envelope__pack(&env, buf);
  *out = buf;
  rc = 0;

out:
  for (size_t i = 0; tmps && i < n; i++)
    free(tmps[i]);
  free(tmps);
  free(hists);
  free(ptrs);
  free(series);
  return rc;
}

/* Checks the shape of one series before anything is added. */
static int check_series(const Speedboat__Series *ps, size_t i, const char *name, sb_err *err) {
  if (ps->type < SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_COUNTER ||
      ps->type > SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_TREND)
    return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): unknown metric type %d",
                      i, name, (int)ps->type);
  if (ps->contains < SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_DEFAULT ||
      ps->contains > SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_DATA)
    return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): unknown value type %d",
                      i, name, (int)ps->contains);
  if (ps->n_tags % 2)
    return sb_err_set(err, SB_EFORMAT,
                      "snapshot series %zu (metric '%s'): odd tag list (%zu strings)", i, name,
                      ps->n_tags);
  if (ps->n_tags > 2 * MAX_TAG_PAIRS)
    return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): %zu tags, at most %d", i,
                      name, ps->n_tags / 2, MAX_TAG_PAIRS);
  for (size_t k = 0; k < ps->n_tags; k++)
    if (!ps->tags[k])
      return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): missing tag string", i,
                        name);
  const Speedboat__Histogram *h = ps->hist;
  switch ((int)ps->type) {
  case SB_METRIC_COUNTER:
    if (isnan(ps->sum)) goto bad_value;
    break;
  case SB_METRIC_GAUGE:
    if (isnan(ps->sum)) goto bad_value;
    if (h && h->count && (isnan(h->min) || isnan(h->max) || h->min > h->max))
      return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): gauge min > max", i,
                        name);
    break;
  case SB_METRIC_RATE:
    if (ps->trues > ps->total)
      return sb_err_set(err, SB_EFORMAT,
                        "snapshot series %zu (metric '%s'): rate with %llu trues of %llu", i, name,
                        (unsigned long long)ps->trues, (unsigned long long)ps->total);
    break;
  case SB_METRIC_TREND:
    if (!h)
      return sb_err_set(err, SB_EFORMAT,
                        "snapshot series %zu (metric '%s'): trend without a "
                        "histogram",
                        i, name);
    break;
  }
  return 0;

bad_value:
  return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): value is NaN", i, name);
}

/* Adds one checked series into |s| (of metric type |type|). */
static int add_series(sb_series *s, const Speedboat__Series *ps, sb_metric_type type) {
  const Speedboat__Histogram *h = ps->hist;
  uint64_t samples = 1;
  switch (type) {
  case SB_METRIC_COUNTER: s->value += ps->sum; break;
  case SB_METRIC_GAUGE:
    s->value = ps->sum;
    if (h && h->count) {
      sb_hist *d = &s->hist;
      if (d->count == 0 || h->min < d->min) d->min = h->min;
      if (d->count == 0 || h->max > d->max) d->max = h->max;
      d->count += h->count;
      d->sum += h->sum;
      samples = h->count;
    }
    break;
  case SB_METRIC_RATE:
    s->trues += ps->trues;
    s->total += ps->total;
    samples = ps->total ? ps->total : 1;
    break;
  case SB_METRIC_TREND: {
    int rc = sb_hist_merge_raw_z(&s->hist, h->count, h->sum, h->min, h->max, h->first, h->counts,
                               h->n_counts, h->zero);
    if (rc) return rc;
    samples = h->count ? h->count : 1;
    break;
  }
  }
  s->touched += samples;
  return 0;
}

/* Finds the series' metric in |m| (registering it when new) and checks that both sides agree
 * on its type. Returns the id or SB_EFORMAT/SB_ENOMEM. */
static int resolve_metric(sb_metrics *m, const Speedboat__Series *ps, size_t i, sb_err *err) {
  const char *name = ps->metric;
  int id = sb_metrics_find(m, name);
  if (id >= 0) {
    const sb_metric_info *mi = sb_metrics_info(m, id);
    if ((int)mi->type != (int)ps->type || (int)mi->contains != (int)ps->contains)
      return sb_err_set(err, SB_EFORMAT,
                        "snapshot series %zu (metric '%s'): type %d/%d disagrees with the "
                        "registered %d/%d",
                        i, name, (int)ps->type, (int)ps->contains, (int)mi->type,
                        (int)mi->contains);
    return id;
  }
  id = sb_metrics_register(m, name, (sb_metric_type)ps->type, (sb_value_type)ps->contains, err);
  if (id == SB_EINVAL) {
    sb_err_prefix(err, "snapshot series %zu: ", i);
    return SB_EFORMAT;
  }
  return id;
}

/* 1 when series |a| and |b| (NULL: none) list the same tag strings in the same order. */
static int same_tags(const Speedboat__Series *a, const Speedboat__Series *b) {
  if (!b || a->n_tags != b->n_tags) return 0;
  for (size_t k = 0; k < a->n_tags; k++)
    if (strcmp(a->tags[k], b->tags[k])) return 0;
  return 1;
}

/* A series' tag set is looked up once per run of series sharing it: an agent lists a request's
 * http_req_* series one after the other (they were made together), so comparing the strings
 * with the previous series' is all most series cost (about a fifth of a hash lookup). The
 * lookup skips sb_metrics_tags()' memo of the last few lookups (a VU repeating its request's
 * tags): a snapshot's dozens of tag sets cycle through it and it would only miss. */
int sb_snapshot_apply(sb_metrics *m, const Speedboat__Snapshot *snap, sb_err *err) {
  const Speedboat__Series *prev = NULL; /* the series before, whose tags are |prev_t| */
  const sb_tagset *prev_t = NULL;
  for (size_t i = 0; i < snap->n_series; i++) {
    const Speedboat__Series *ps = snap->series[i];
    if (!ps) return sb_err_set(err, SB_EFORMAT, "snapshot series %zu: missing", i);
    const char *name = ps->metric ? ps->metric : "";
    if (!*name) return sb_err_set(err, SB_EFORMAT, "snapshot series %zu: no metric name", i);
    int rc = check_series(ps, i, name, err);
    if (rc) return rc;
    int id = resolve_metric(m, ps, i, err);
    if (id < 0) return id;
    const sb_tagset *t = same_tags(ps, prev)
                             ? prev_t
                             : sb_metrics_tags_lookup(m, (const char *const *)ps->tags, ps->n_tags / 2);
    prev = ps;
    prev_t = t;
    sb_series *s = t ? sb_metrics_series(m, id, t) : NULL;
    if (!s)
      return sb_err_set(err, SB_ENOMEM, "snapshot series %zu (metric '%s'): out of memory", i,
                        name);
    rc = add_series(s, ps, (sb_metric_type)ps->type);
    if (rc == SB_EFORMAT) {
      const Speedboat__Histogram *h = ps->hist;
      return sb_err_set(err, rc,
                        "snapshot series %zu (metric '%s'): histogram of %llu values "
                        "disagrees with its %zu buckets or min/max",
                        i, name, (unsigned long long)h->count, h->n_counts);
    }
    if (rc) return sb_err_set(err, rc, "snapshot series %zu (metric '%s'): out of memory", i, name);
  }
  return 0;
}
