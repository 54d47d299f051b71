/* Raw points: the per-set buffer, and the Points message both ways (see points.h).
 *
 * Encoding borrows what it can: tag strings and metric names are pointed to in the set, the
 * columns live in the encoder and are reused, so a message costs the packed buffer and two small
 * arrays of definitions. Decoding trusts nothing: ids are bounded, every definition is checked
 * before it is kept and every point's ids before any point is delivered. */
#include "common/points.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ID (1u << 22)       /* metric and tag-set ids a connection may define */
#define MAX_TAG_PAIRS 256       /* as a Snapshot's series */

void sb_points_init(sb_points *p) {
  memset(p, 0, sizeof(*p));
  p->max = SB_POINTS_MAX;
}

void sb_points_clear(sb_points *p) {
  free(p->v);
  sb_points_init(p);
}

int sb_points_reserve(sb_points *p, size_t extra) {
  if (extra > p->max || p->n > p->max - extra) return SB_ENOMEM;
  if (p->cap - p->n >= extra) return 0;
  size_t cap = p->cap ? p->cap : 256;
  while (cap - p->n < extra) cap *= 2;
  if (cap > p->max) cap = p->max; /* so a push at |max| comes back here and is refused */
  sb_point *v = realloc(p->v, cap * sizeof(*v));
  if (!v) return SB_ENOMEM;
  p->v = v;
  p->cap = cap;
  return 0;
}

/* ---- encoder ---- */

void sb_points_enc_init(sb_points_enc *e) {
  memset(e, 0, sizeof(*e));
}

void sb_points_enc_clear(sb_points_enc *e) {
  free(e->tags_sent);
  free(e->dt);
  free(e->metric);
  free(e->tags);
  free(e->value);
  sb_points_enc_init(e);
}

/* Grows the columns to |n| points and the tag-set marks to |ntags|. */
static int enc_reserve(sb_points_enc *e, size_t n, size_t ntags) {
  if (ntags > e->tags_cap) {
    size_t cap = e->tags_cap ? e->tags_cap : 64;
    while (cap < ntags) cap *= 2;
    uint8_t *t = realloc(e->tags_sent, cap);
    if (!t) return SB_ENOMEM;
    memset(t + e->tags_cap, 0, cap - e->tags_cap);
    e->tags_sent = t;
    e->tags_cap = cap;
  }
  if (n <= e->cap) return 0;
  size_t cap = e->cap ? e->cap : 256;
  while (cap < n) cap *= 2;
  int64_t *dt = realloc(e->dt, cap * sizeof(*dt));
  if (dt) e->dt = dt;
  uint32_t *m = realloc(e->metric, cap * sizeof(*m));
  if (m) e->metric = m;
  uint32_t *t = realloc(e->tags, cap * sizeof(*t));
  if (t) e->tags = t;
  double *v = realloc(e->value, cap * sizeof(*v));
  if (v) e->value = v;
  if (!dt || !m || !t || !v) return SB_ENOMEM;
  e->cap = cap;
  return 0;
}

/* The definitions one message carries, freed together. */
typedef struct defs {
  Speedboat__PointMetric *m, **mp;
  Speedboat__PointTags *t, **tp;
  size_t nm, nt;
} defs;

static void defs_free(defs *d) {
  free(d->m), free(d->mp), free(d->t), free(d->tp);
}

/* Fills the columns and the tag sets used for the first time (marked 2 until sent). */
static int fill_columns(sb_points_enc *e, const sb_points *p, defs *d) {
  size_t ntags = 0;
  for (size_t i = 0; i < p->n; i++) {
    size_t ix = sb_tagset_index(p->v[i].s->tags);
    if (ix + 1 > ntags) ntags = ix + 1;
  }
  if (enc_reserve(e, p->n, ntags)) return SB_ENOMEM;
  int64_t prev = p->n ? p->v[0].time_us : 0;
  for (size_t i = 0; i < p->n; i++) {
    const sb_point *pt = &p->v[i];
    uint32_t ix = sb_tagset_index(pt->s->tags);
    e->dt[i] = pt->time_us - prev;
    prev = pt->time_us;
    e->metric[i] = (uint32_t)pt->s->metric;
    e->tags[i] = ix;
    e->value[i] = pt->value;
    if (e->tags_sent[ix]) continue;
    e->tags_sent[ix] = 2;
    d->nt++;
  }
  d->t = calloc(d->nt + 1, sizeof(*d->t));
  d->tp = calloc(d->nt + 1, sizeof(*d->tp));
  if (!d->t || !d->tp) return SB_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < p->n && k < d->nt; i++) {
    const sb_tagset *ts = p->v[i].s->tags;
    uint32_t ix = sb_tagset_index(ts);
    if (e->tags_sent[ix] != 2) continue;
    e->tags_sent[ix] = 3; /* listed */
    const char *const *kv;
    speedboat__point_tags__init(&d->t[k]);
    d->t[k].id = ix;
    d->t[k].n_tags = 2 * sb_tagset_pairs(ts, &kv);
    d->t[k].tags = (char **)kv;
    d->tp[k] = &d->t[k];
    k++;
  }
  return 0;
}

/* Metrics registered in |m| since the last message. */
static int fill_metrics(const sb_points_enc *e, const sb_metrics *m, defs *d) {
  int n = sb_metrics_count(m);
  d->nm = n > e->metrics_sent ? (size_t)(n - e->metrics_sent) : 0;
  d->m = calloc(d->nm + 1, sizeof(*d->m));
  d->mp = calloc(d->nm + 1, sizeof(*d->mp));
  if (!d->m || !d->mp) return SB_ENOMEM;
  for (size_t i = 0; i < d->nm; i++) {
    const sb_metric_info *mi = sb_metrics_info(m, e->metrics_sent + (int)i);
    speedboat__point_metric__init(&d->m[i]);
    d->m[i].id = (uint32_t)(e->metrics_sent + (int)i);
    d->m[i].name = (char *)mi->name;
    d->m[i].type = (Speedboat__MetricType)mi->type;
    d->m[i].contains = (Speedboat__ValueType)mi->contains;
    d->mp[i] = &d->m[i];
  }
  return 0;
}

/* After the pack: marks the listed tag sets as sent (|ok|) or not sent. */
static void settle_tags(sb_points_enc *e, const sb_points *p, int ok) {
  for (size_t i = 0; p && i < p->n; i++) {
    uint8_t *mark = &e->tags_sent[sb_tagset_index(p->v[i].s->tags)];
    if (*mark >= 2) *mark = ok ? 1 : 0;
  }
}

int sb_points_encode(sb_points_enc *e, const sb_metrics *m, uint64_t seq, uint64_t dropped,
                     uint8_t **out, size_t *len) {
  static const sb_points none = {0};
  const sb_points *p = sb_metrics_points(m);
  if (!p) p = &none;
  defs d = {0};
  int rc = SB_ENOMEM;
  if (fill_columns(e, p, &d) || fill_metrics(e, m, &d)) goto out;
  Speedboat__Points msg = SPEEDBOAT__POINTS__INIT;
  msg.seq = seq;
  msg.n_metrics = d.nm;
  msg.metrics = d.mp;
  msg.n_tag_sets = d.nt;
  msg.tag_sets = d.tp;
  msg.base_us = p->n ? p->v[0].time_us : 0;
  msg.n_dt_us = msg.n_metric = msg.n_tags = msg.n_value = p->n;
  msg.dt_us = e->dt;
  msg.metric = e->metric;
  msg.tags = e->tags;
  msg.value = e->value;
  msg.dropped = e->dropped + dropped;
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = SPEEDBOAT__ENVELOPE__MSG_POINTS;
  env.points = &msg;
  size_t size = speedboat__envelope__get_packed_size(&env);
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) goto out;
  *len = speedboat__envelope__pack(&env, buf);
  *out = buf;
  e->metrics_sent += (int)d.nm;
  e->dropped += dropped;
  rc = 0;
out:
  if (e->tags_sent) settle_tags(e, p, rc == 0);
  defs_free(&d);
  return rc;
}

/* ---- decoder ---- */

struct sb_points_dec {
  sb_points_dec_cbs cbs;
  sb_point_metric *metrics; /* by id; name == NULL: not defined */
  size_t nmetrics;
  sb_point_tags *tags;      /* by id; kv == NULL: not defined */
  size_t ntags;
  uint64_t dropped;
};

int sb_points_dec_new(sb_points_dec **out, const sb_points_dec_cbs *cbs) {
  sb_points_dec *d = calloc(1, sizeof(*d));
  if (!d) return SB_ENOMEM;
  d->cbs = *cbs;
  *out = d;
  return 0;
}

void sb_points_dec_free(sb_points_dec *d) {
  if (!d) return;
  for (size_t i = 0; i < d->nmetrics; i++)
    free(d->metrics[i].name);
  for (size_t i = 0; i < d->ntags; i++) {
    if (!d->tags[i].kv) continue;
    if (d->tags[i].ud && d->cbs.free_tags) d->cbs.free_tags(d->tags[i].ud, d->cbs.ud);
    for (size_t k = 0; k < 2 * d->tags[i].n; k++)
      free(d->tags[i].kv[k]);
    free(d->tags[i].kv);
  }
  free(d->metrics);
  free(d->tags);
  free(d);
}

uint64_t sb_points_dec_dropped(const sb_points_dec *d) {
  return d->dropped;
}

/* Grows |*v| (of |*n| elements of |size| bytes, zeroed when new) to hold index |id|. */
static int grow_slots(void **v, size_t *n, size_t size, uint32_t id) {
  if (id < *n) return 0;
  size_t cap = *n ? *n : 32;
  while (cap <= id) cap *= 2;
  char *nv = realloc(*v, cap * size);
  if (!nv) return SB_ENOMEM;
  memset(nv + *n * size, 0, (cap - *n) * size);
  *v = nv;
  *n = cap;
  return 0;
}

static int define_metric(sb_points_dec *d, const Speedboat__PointMetric *pm, sb_err *err) {
  if (!pm || !pm->name || !*pm->name || pm->id >= MAX_ID)
    return sb_err_set(err, SB_EFORMAT, "points: a metric definition without a name or id");
  if (pm->type < SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_COUNTER ||
      pm->type > SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_TREND ||
      pm->contains < SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_DEFAULT ||
      pm->contains > SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_DATA)
    return sb_err_set(err, SB_EFORMAT, "points: metric '%s' has an unknown type", pm->name);
  if (grow_slots((void **)&d->metrics, &d->nmetrics, sizeof(*d->metrics), pm->id))
    return sb_err_set(err, SB_ENOMEM, "points: out of memory");
  sb_point_metric *m = &d->metrics[pm->id];
  if (m->name)
    return sb_err_set(err, SB_EFORMAT, "points: metric id %u defined twice", pm->id);
  if (!(m->name = strdup(pm->name))) return sb_err_set(err, SB_ENOMEM, "points: out of memory");
  m->type = (sb_metric_type)pm->type;
  m->contains = (sb_value_type)pm->contains;
  m->ud = d->cbs.metric ? d->cbs.metric(m, d->cbs.ud) : NULL;
  if (d->cbs.metric && !m->ud) return sb_err_set(err, SB_ENOMEM, "points: out of memory");
  return 0;
}

/* Copies the pairs of |pt| into |t| (all or nothing). */
static int copy_pairs(sb_point_tags *t, const Speedboat__PointTags *pt) {
  char **kv = calloc(pt->n_tags + 1, sizeof(*kv));
  if (!kv) return SB_ENOMEM;
  for (size_t k = 0; k < pt->n_tags; k++) {
    if ((kv[k] = strdup(pt->tags[k]))) continue;
    while (k--) free(kv[k]);
    free(kv);
    return SB_ENOMEM;
  }
  t->kv = kv;
  t->n = pt->n_tags / 2;
  return 0;
}

static int define_tags(sb_points_dec *d, const Speedboat__PointTags *pt, sb_err *err) {
  if (!pt || pt->id >= MAX_ID)
    return sb_err_set(err, SB_EFORMAT, "points: a tag-set definition without an id");
  if (pt->n_tags % 2 || pt->n_tags > 2 * MAX_TAG_PAIRS)
    return sb_err_set(err, SB_EFORMAT, "points: tag set %u has %zu strings (pairs, at most %d)",
                      pt->id, pt->n_tags, MAX_TAG_PAIRS);
  for (size_t k = 0; k < pt->n_tags; k++)
    if (!pt->tags[k])
      return sb_err_set(err, SB_EFORMAT, "points: tag set %u misses a string", pt->id);
  if (grow_slots((void **)&d->tags, &d->ntags, sizeof(*d->tags), pt->id))
    return sb_err_set(err, SB_ENOMEM, "points: out of memory");
  sb_point_tags *t = &d->tags[pt->id];
  if (t->kv) return sb_err_set(err, SB_EFORMAT, "points: tag set %u defined twice", pt->id);
  if (copy_pairs(t, pt)) return sb_err_set(err, SB_ENOMEM, "points: out of memory");
  t->ud = d->cbs.tags ? d->cbs.tags(t, d->cbs.ud) : NULL;
  if (d->cbs.tags && !t->ud) return sb_err_set(err, SB_ENOMEM, "points: out of memory");
  return 0;
}

int sb_points_decode(sb_points_dec *d, const Speedboat__Points *msg, int64_t offset_us,
                     sb_err *err) {
  size_t n = msg->n_value;
  if (msg->n_dt_us != n || msg->n_metric != n || msg->n_tags != n)
    return sb_err_set(err, SB_EFORMAT, "points: columns of different lengths (%zu, %zu, %zu, %zu)",
                      msg->n_dt_us, msg->n_metric, msg->n_tags, n);
  int rc;
  for (size_t i = 0; i < msg->n_metrics; i++)
    if ((rc = define_metric(d, msg->metrics[i], err))) return rc;
  for (size_t i = 0; i < msg->n_tag_sets; i++)
    if ((rc = define_tags(d, msg->tag_sets[i], err))) return rc;
  for (size_t i = 0; i < n; i++) {
    uint32_t m = msg->metric[i], t = msg->tags[i];
    if (m >= d->nmetrics || !d->metrics[m].name)
      return sb_err_set(err, SB_EFORMAT, "points: point %zu names undefined metric %u", i, m);
    if (t >= d->ntags || !d->tags[t].kv)
      return sb_err_set(err, SB_EFORMAT, "points: point %zu names undefined tag set %u", i, t);
  }
  if (msg->dropped > d->dropped) d->dropped = msg->dropped;
  int64_t time = msg->base_us;
  for (size_t i = 0; i < n && d->cbs.point; i++) {
    time += msg->dt_us[i];
    d->cbs.point(&d->metrics[msg->metric[i]], &d->tags[msg->tags[i]], time - offset_us,
                 msg->value[i], d->cbs.ud);
  }
  return 0;
}
