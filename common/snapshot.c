/* Metric sets <-> Snapshot messages (see snapshot.h).
 *
 * Encoding borrows what it can from the set: metric names and tag strings are pointed to, not
 * copied; the definitions, the value columns and the sparse buckets are carved from one scratch
 * block that the connection's encoder keeps from one snapshot to the next. Applying trusts
 * nothing: a snapshot comes from another process, maybe another machine, and a bad one must be
 * refused with a sentence naming the series, never crash or poison the run-wide set.
 *
 * Measured with make bench's merge (100 simulated agents, one snapshot a second each, 5,000
 * requests a second per agent): a message per series with dense bucket arrays cost the
 * controller 0.14 ms a snapshot at 40 series and 0.74 ms at 400 (protobuf-c unpacking the
 * arrays ~58%, the three-pass dense merge, strings looked up per series). Sparse buckets, ids
 * per connection and values in columns: ~0.09 and ~0.17 ms. What is left at 400 series is mostly
 * the cache misses of adding each bucket into the run's histograms (megabytes of them), zstd and
 * the socket reads. */
#include "common/snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAG_PAIRS 256 /* per series; k6 scripts use a handful */

/* ---- agent side ---- */

void sb_snapshot_enc_init(sb_snapshot_enc *e) {
  memset(e, 0, sizeof(*e));
}

void sb_snapshot_enc_clear(sb_snapshot_enc *e) {
  free(e->defined);
  free(e->scratch);
  sb_snapshot_enc_init(e);
}

void sb_snapshot_enc_forget(sb_snapshot_enc *e) {
  if (e->defined) memset(e->defined, 0, e->ndefined);
}

/* realloc() that leaves |*p| as it was on failure. */
static int grow(void *pp, size_t n, size_t size) {
  void **p = pp;
  void *np = realloc(*p, (n ? n : 1) * size);
  if (!np) return SB_ENOMEM;
  *p = np;
  return 0;
}

/* What a snapshot holds: series by type, definitions, bucket bytes (at most). */
typedef struct census {
  size_t counters, rates, gauges, trends, defs, bytes;
  size_t top; /* series indexes are below it */
} census;

static census count_series(const sb_snapshot_enc *e, const sb_metrics *m) {
  census c = {0};
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    if (s->index >= c.top) c.top = (size_t)s->index + 1;
    if (s->index >= e->ndefined || !e->defined[s->index]) c.defs++;
    switch (sb_metrics_info(m, s->metric)->type) {
    case SB_METRIC_COUNTER: c.counters++; break;
    case SB_METRIC_RATE: c.rates++; break;
    case SB_METRIC_GAUGE: c.gauges++; break;
    case SB_METRIC_TREND:
      c.trends++;
      c.bytes += SB_HIST_SPARSE_MAX * sb_hist_nonzero(&s->hist);
      break;
    }
  }
  return c;
}

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* Bytes of scratch the census needs (every array rounded up to 8 bytes). */
static size_t scratch_size(const census *c) {
  return ALIGN8(c->defs * sizeof(Speedboat__Series)) + ALIGN8(c->defs * sizeof(void *)) +
         ALIGN8(c->counters * 4) + c->counters * 8 + ALIGN8(c->rates * 4) + c->rates * 16 +
         ALIGN8(c->gauges * 4) + c->gauges * 40 + ALIGN8(c->trends * 4) * 3 + c->trends * 40 +
         c->bytes;
}

/* The next |n| elements of |size| bytes from |*p|. */
static void *carve(uint8_t **p, size_t n, size_t size) {
  void *r = *p;
  *p += ALIGN8(n * size);
  return r;
}

/* The message being built: definitions, the four column messages, and the bucket bytes used. */
typedef struct msg {
  Speedboat__Series *defs, **def_ptrs;
  size_t ndefs;
  Speedboat__Counters c;
  Speedboat__Rates r;
  Speedboat__Gauges g;
  Speedboat__Trends t;
} msg;

/* Points the columns of |mm| into |e|'s scratch, sized by |c|, all empty. */
static void msg_init(msg *mm, sb_snapshot_enc *e, const census *c) {
  uint8_t *p = e->scratch;
  *mm = (msg){.c = SPEEDBOAT__COUNTERS__INIT, .r = SPEEDBOAT__RATES__INIT,
              .g = SPEEDBOAT__GAUGES__INIT, .t = SPEEDBOAT__TRENDS__INIT};
  mm->defs = carve(&p, c->defs, sizeof(*mm->defs));
  mm->def_ptrs = carve(&p, c->defs, sizeof(*mm->def_ptrs));
  mm->c.id = carve(&p, c->counters, 4), mm->c.sum = carve(&p, c->counters, 8);
  mm->r.id = carve(&p, c->rates, 4), mm->r.trues = carve(&p, c->rates, 8);
  mm->r.total = carve(&p, c->rates, 8);
  mm->g.id = carve(&p, c->gauges, 4), mm->g.value = carve(&p, c->gauges, 8);
  mm->g.count = carve(&p, c->gauges, 8), mm->g.min = carve(&p, c->gauges, 8);
  mm->g.max = carve(&p, c->gauges, 8), mm->g.sum = carve(&p, c->gauges, 8);
  mm->t.id = carve(&p, c->trends, 4), mm->t.count = carve(&p, c->trends, 8);
  mm->t.sum = carve(&p, c->trends, 8), mm->t.min = carve(&p, c->trends, 8);
  mm->t.max = carve(&p, c->trends, 8), mm->t.first = carve(&p, c->trends, 4);
  mm->t.zero = carve(&p, c->trends, 8), mm->t.size = carve(&p, c->trends, 4);
  mm->t.buckets.data = p;
}

/* The definition of |s|, pointing into |m| (names and tags are not copied). */
static void define_series(msg *mm, const sb_metrics *m, const sb_series *s) {
  const sb_metric_info *mi = sb_metrics_info(m, s->metric);
  Speedboat__Series *ps = &mm->defs[mm->ndefs];
  const char *const *kv;
  *ps = (Speedboat__Series)SPEEDBOAT__SERIES__INIT;
  ps->id = s->index;
  ps->metric = (char *)mi->name;
  ps->type = (Speedboat__MetricType)mi->type;
  ps->contains = (Speedboat__ValueType)mi->contains;
  ps->n_tags = 2 * sb_tagset_pairs(s->tags, &kv);
  ps->tags = (char **)kv;
  mm->def_ptrs[mm->ndefs++] = ps;
}

/* Appends the values of |s| (of metric type |type|) to its type's columns. */
static void add_row(msg *mm, const sb_series *s, sb_metric_type type) {
  const sb_hist *h = &s->hist;
  size_t i;
  switch (type) {
  case SB_METRIC_COUNTER:
    i = mm->c.n_id++;
    mm->c.id[i] = s->index, mm->c.sum[i] = s->value;
    break;
  case SB_METRIC_RATE:
    i = mm->r.n_id++;
    mm->r.id[i] = s->index, mm->r.trues[i] = s->trues, mm->r.total[i] = s->total;
    break;
  case SB_METRIC_GAUGE:
    i = mm->g.n_id++;
    mm->g.id[i] = s->index, mm->g.value[i] = s->value, mm->g.count[i] = h->count;
    mm->g.min[i] = h->min, mm->g.max[i] = h->max, mm->g.sum[i] = h->sum;
    break;
  case SB_METRIC_TREND: {
    i = mm->t.n_id++;
    uint32_t size = (uint32_t)sb_hist_sparse(h, &mm->t.first[i],
                                             mm->t.buckets.data + mm->t.buckets.len);
    mm->t.id[i] = s->index, mm->t.count[i] = h->count, mm->t.sum[i] = h->sum;
    mm->t.min[i] = h->min, mm->t.max[i] = h->max, mm->t.zero[i] = h->zero;
    mm->t.size[i] = size;
    mm->t.buckets.len += size;
    break;
  }
  }
}

/* Every column of a message has as many rows as its ids. */
static void msg_lengths(msg *mm) {
  mm->c.n_sum = mm->c.n_id;
  mm->r.n_trues = mm->r.n_total = mm->r.n_id;
  mm->g.n_value = mm->g.n_count = mm->g.n_min = mm->g.n_max = mm->g.n_sum = mm->g.n_id;
  mm->t.n_count = mm->t.n_sum = mm->t.n_min = mm->t.n_max = mm->t.n_first = mm->t.n_zero =
      mm->t.n_size = mm->t.n_id;
}

int sb_snapshot_encode(sb_snapshot_enc *e, const sb_metrics *m, uint64_t seq, int64_t time_us,
                       uint64_t vus, uint64_t vus_max, uint8_t **out, size_t *len) {
  census c = count_series(e, m);
  size_t need = scratch_size(&c);
  if (need > e->scratch_cap || !e->scratch) { /* never NULL: the columns are carved from it */
    if (grow(&e->scratch, need, 1)) return SB_ENOMEM;
    e->scratch_cap = need;
  }
  if (c.top > e->ndefined) {
    size_t cap = e->ndefined * 2 > c.top ? e->ndefined * 2 : c.top;
    if (grow(&e->defined, cap, 1)) return SB_ENOMEM;
    memset(e->defined + e->ndefined, 0, cap - e->ndefined);
    e->ndefined = cap;
  }
  msg mm;
  msg_init(&mm, e, &c);
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    if (!e->defined[s->index]) define_series(&mm, m, s);
    add_row(&mm, s, sb_metrics_info(m, s->metric)->type);
  }
  msg_lengths(&mm);

  Speedboat__Snapshot snap = SPEEDBOAT__SNAPSHOT__INIT;
  snap.seq = seq;
  snap.time_us = time_us;
  snap.vus = vus;
  snap.vus_max = vus_max;
  snap.n_series = mm.ndefs;
  snap.series = mm.def_ptrs;
  snap.counters = mm.c.n_id ? &mm.c : NULL;
  snap.rates = mm.r.n_id ? &mm.r : NULL;
  snap.gauges = mm.g.n_id ? &mm.g : NULL;
  snap.trends = mm.t.n_id ? &mm.t : NULL;
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT;
  env.snapshot = &snap;
  size_t size = speedboat__envelope__get_packed_size(&env);
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return SB_ENOMEM;
  *len = speedboat__envelope__pack(&env, buf);
  *out = buf;
  for (size_t i = 0; i < mm.ndefs; i++) e->defined[mm.defs[i].id] = 1;
  return 0;
}

/* ---- controller side ---- */

struct sb_snapshot_dec {
  sb_series **v; /* by id: the series of the set it names, NULL when not defined */
  size_t n;      /* length of |v| */
};

int sb_snapshot_dec_new(sb_snapshot_dec **out) {
  sb_snapshot_dec *d = calloc(1, sizeof(*d));
  if (!d) return SB_ENOMEM;
  *out = d;
  return 0;
}

void sb_snapshot_dec_free(sb_snapshot_dec *d) {
  if (!d) return;
  free(d->v);
  free(d);
}

sb_series *sb_snapshot_dec_series(const sb_snapshot_dec *d, uint32_t id) {
  return id < d->n ? d->v[id] : NULL;
}

/* Makes |d->v| hold index |id| (< SB_SNAPSHOT_MAX_ID). Returns 0 or SB_ENOMEM. */
static int dec_reserve(sb_snapshot_dec *d, uint32_t id) {
  if (id < d->n) return 0;
  size_t n = d->n ? d->n : 64;
  while (n <= id) n *= 2;
  if (n > SB_SNAPSHOT_MAX_ID) n = SB_SNAPSHOT_MAX_ID;
  if (grow(&d->v, n, sizeof(*d->v))) return SB_ENOMEM;
  memset(d->v + d->n, 0, (n - d->n) * sizeof(*d->v));
  d->n = n;
  return 0;
}

/* Checks the identity a definition carries. */
static int check_identity(const Speedboat__Series *ps, size_t i, const char *name, sb_err *err) {
  if (ps->id >= SB_SNAPSHOT_MAX_ID)
    return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'): id %u, at most %u", i,
                      name, ps->id, SB_SNAPSHOT_MAX_ID - 1);
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

/* The definition before, whose tag set a definition with the same tags takes as it is. */
typedef struct prev_def {
  const Speedboat__Series *ps;
  const sb_tagset *t;
} prev_def;

/* Takes definition |i|: finds (or makes) its series in |m| and names it by its id. A definition's tag set is looked up once per run of definitions sharing it: an agent
 * lists a request's http_req_* series one after the other (they were made together), so
 * comparing the strings with the previous definition's is all most cost (about a fifth of a hash
 * lookup). Returns 0, SB_EFORMAT or SB_ENOMEM. */
static int define(sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Series *ps, size_t i,
                  prev_def *prev, sb_err *err) {
  if (!ps) return sb_err_set(err, SB_EFORMAT, "snapshot series %zu: missing", i);
  if (!ps->metric || !*ps->metric)
    return sb_err_set(err, SB_EFORMAT, "snapshot series %zu: no metric name", i);
  int rc = check_identity(ps, i, ps->metric, err);
  if (rc) return rc;
  int id = resolve_metric(m, ps, i, err);
  if (id < 0) return id;
  const sb_tagset *t = same_tags(ps, prev->ps)
                           ? prev->t
                           : sb_metrics_tags_lookup(m, (const char *const *)ps->tags,
                                                    ps->n_tags / 2);
  prev->ps = ps;
  prev->t = t;
  sb_series *s = t ? sb_metrics_series(m, id, t) : NULL;
  if (!s || dec_reserve(d, ps->id))
    return sb_err_set(err, SB_ENOMEM, "snapshot series %zu (metric '%s'): out of memory", i,
                      ps->metric);
  sb_series *was = d->v[ps->id];
  if (was && was != s)
    return sb_err_set(err, SB_EFORMAT,
                      "snapshot series %zu: id %u defined again as another series (metric "
                      "'%s'; it was '%s')",
                      i, ps->id, ps->metric, sb_metrics_info(m, was->metric)->name);
  d->v[ps->id] = s;
  return 0;
}

static const char *type_name(sb_metric_type t) {
  static const char *const names[] = {"?", "counter", "gauge", "rate", "trend"};
  return (unsigned)t < 5 ? names[t] : "?";
}

/* The series a row of |type|'s columns names: an id defined on this connection, as that type.
 * NULL (SB_EFORMAT, |err| set) otherwise. Row |i| counts over the four column messages. */
static sb_series *row_series(const sb_snapshot_dec *d, const sb_metrics *m, uint32_t id,
                             sb_metric_type type, size_t i, sb_err *err) {
  sb_series *s = sb_snapshot_dec_series(d, id);
  if (!s) {
    sb_err_set(err, SB_EFORMAT,
               "snapshot series %zu: id %u was never defined on this connection (the snapshot "
               "defining it lost?)", i, id);
    return NULL;
  }
  const sb_metric_info *mi = sb_metrics_info(m, s->metric);
  if (mi->type != type) {
    sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'), id %u: a %s sent as a %s", i,
               mi->name, id, type_name(mi->type), type_name(type));
    return NULL;
  }
  return s;
}

static int bad_row(const sb_metrics *m, const sb_series *s, uint32_t id, size_t i,
                   const char *what, sb_err *err) {
  return sb_err_set(err, SB_EFORMAT, "snapshot series %zu (metric '%s'), id %u: %s", i,
                    sb_metrics_info(m, s->metric)->name, id, what);
}

/* |n| columns of a message: each as long as the first (the ids). */
static int same_lengths(const char *what, const size_t *n, size_t k, sb_err *err) {
  for (size_t j = 1; j < k; j++)
    if (n[j] != n[0])
      return sb_err_set(err, SB_EFORMAT,
                        "snapshot %s: column %zu has %zu rows, the ids %zu", what, j, n[j], n[0]);
  return 0;
}

static int apply_counters(const sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Counters *c,
                          size_t base, sb_err *err) {
  size_t n[] = {c->n_id, c->n_sum};
  if (same_lengths("counters", n, 2, err)) return SB_EFORMAT;
  for (size_t i = 0; i < c->n_id; i++) {
    sb_series *s = row_series(d, m, c->id[i], SB_METRIC_COUNTER, base + i, err);
    if (!s) return SB_EFORMAT;
    if (isnan(c->sum[i])) return bad_row(m, s, c->id[i], base + i, "value is NaN", err);
    s->value += c->sum[i];
    s->touched++;
  }
  return 0;
}

static int apply_rates(const sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Rates *r,
                       size_t base, sb_err *err) {
  size_t n[] = {r->n_id, r->n_trues, r->n_total};
  if (same_lengths("rates", n, 3, err)) return SB_EFORMAT;
  for (size_t i = 0; i < r->n_id; i++) {
    sb_series *s = row_series(d, m, r->id[i], SB_METRIC_RATE, base + i, err);
    if (!s) return SB_EFORMAT;
    if (r->trues[i] > r->total[i]) return bad_row(m, s, r->id[i], base + i, "trues > total", err);
    s->trues += r->trues[i];
    s->total += r->total[i];
    s->touched += r->total[i] ? r->total[i] : 1;
  }
  return 0;
}

/* A gauge's interval extremes live in hist's count/min/max/sum, without buckets. */
static int apply_gauges(const sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Gauges *g,
                        size_t base, sb_err *err) {
  size_t n[] = {g->n_id, g->n_value, g->n_count, g->n_min, g->n_max, g->n_sum};
  if (same_lengths("gauges", n, 6, err)) return SB_EFORMAT;
  for (size_t i = 0; i < g->n_id; i++) {
    sb_series *s = row_series(d, m, g->id[i], SB_METRIC_GAUGE, base + i, err);
    if (!s) return SB_EFORMAT;
    uint64_t count = g->count[i];
    double mn = g->min[i], mx = g->max[i];
    if (isnan(g->value[i])) return bad_row(m, s, g->id[i], base + i, "value is NaN", err);
    if (count && (isnan(mn) || isnan(mx) || mn > mx))
      return bad_row(m, s, g->id[i], base + i, "gauge min > max", err);
    s->value = g->value[i];
    sb_hist_add_stats(&s->hist, count, g->sum[i], mn, mx);
    s->touched += count ? count : 1;
  }
  return 0;
}

/* Each row's buckets merge in one pass (sb_hist_merge_sparse()), after the sizes were checked
 * to cover |buckets| exactly. */
static int apply_trends(const sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Trends *t,
                        size_t base, sb_err *err) {
  size_t n[] = {t->n_id, t->n_count, t->n_sum, t->n_min, t->n_max, t->n_first, t->n_zero,
                t->n_size};
  if (same_lengths("trends", n, 8, err)) return SB_EFORMAT;
  uint64_t bytes = 0;
  for (size_t i = 0; i < t->n_id; i++) bytes += t->size[i];
  if (bytes != t->buckets.len)
    return sb_err_set(err, SB_EFORMAT,
                      "snapshot trends: the rows take %llu bytes of buckets, there are %zu",
                      (unsigned long long)bytes, t->buckets.len);
  const uint8_t *b = t->buckets.data;
  for (size_t i = 0; i < t->n_id; i++) {
    sb_series *s = row_series(d, m, t->id[i], SB_METRIC_TREND, base + i, err);
    if (!s) return SB_EFORMAT;
    int rc = sb_hist_merge_sparse(&s->hist, t->count[i], t->sum[i], t->min[i], t->max[i],
                                  t->first[i], b, t->size[i], t->zero[i]);
    if (rc == SB_EFORMAT)
      return sb_err_set(err, rc,
                        "snapshot series %zu (metric '%s'), id %u: histogram of %llu values "
                        "disagrees with its buckets (%u bytes) or min/max",
                        base + i, sb_metrics_info(m, s->metric)->name, t->id[i],
                        (unsigned long long)t->count[i], t->size[i]);
    if (rc)
      return sb_err_set(err, rc, "snapshot series %zu (metric '%s'), id %u: out of memory",
                        base + i, sb_metrics_info(m, s->metric)->name, t->id[i]);
    s->touched += t->count[i] ? t->count[i] : 1;
    b += t->size[i];
  }
  return 0;
}

/* The definitions first (the rows may name them), then the rows, type by type: a known series
 * costs an index and its values, no string. Rows are numbered across the four messages. */
int sb_snapshot_apply(sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Snapshot *snap,
                      sb_err *err) {
  prev_def prev = {NULL, NULL};
  int rc;
  for (size_t i = 0; i < snap->n_series; i++)
    if ((rc = define(d, m, snap->series[i], i, &prev, err))) return rc;
  size_t base = 0;
  if (snap->counters) {
    if ((rc = apply_counters(d, m, snap->counters, base, err))) return rc;
    base += snap->counters->n_id;
  }
  if (snap->rates) {
    if ((rc = apply_rates(d, m, snap->rates, base, err))) return rc;
    base += snap->rates->n_id;
  }
  if (snap->gauges) {
    if ((rc = apply_gauges(d, m, snap->gauges, base, err))) return rc;
    base += snap->gauges->n_id;
  }
  return snap->trends ? apply_trends(d, m, snap->trends, base, err) : 0;
}
