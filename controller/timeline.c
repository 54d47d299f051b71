/* The run over time (controller/timeline.h). */
#include "controller/timeline.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void sb_timeline_init(sb_timeline *tl) { memset(tl, 0, sizeof(*tl)); }

void sb_timeline_clear(sb_timeline *tl) {
  free(tl->p);
  sb_hist_clear(&tl->prev_dur);
  sb_timeline_init(tl);
}

/* Sum of a counter's series, trues/total of a rate's. */
static double counter(const sb_metrics *m, int id) {
  sb_series s;
  sb_series_init(&s, id);
  double v = sb_metrics_fold(m, id, NULL, 0, &s) == 0 ? s.value : 0;
  sb_series_clear(&s);
  return v;
}

static void rate(const sb_metrics *m, int id, double *trues, double *falses) {
  sb_series s;
  sb_series_init(&s, id);
  if (sb_metrics_fold(m, id, NULL, 0, &s) == 0) {
    *trues = (double)s.trues;
    *falses = (double)(s.total - s.trues);
  }
  sb_series_clear(&s);
}

static int grow(sb_timeline *tl) {
  if (tl->n < tl->cap) return 0;
  size_t cap = tl->cap ? tl->cap * 2 : 256;
  sb_tl_point *p = realloc(tl->p, cap * sizeof(*p));
  if (!p) return SB_ENOMEM;
  tl->p = p;
  tl->cap = cap;
  return 0;
}

/* The counters of |m| (no percentiles) into |p|. */
static void totals(const sb_metrics *m, sb_tl_point *p) {
  double ok = 0;
  p->reqs = counter(m, SB_M_HTTP_REQS);
  p->iters = counter(m, SB_M_ITERATIONS);
  p->dropped = counter(m, SB_M_DROPPED_ITERATIONS);
  p->sent = counter(m, SB_M_DATA_SENT);
  p->received = counter(m, SB_M_DATA_RECEIVED);
  rate(m, SB_M_HTTP_REQ_FAILED, &p->failed, &ok);
  rate(m, SB_M_CHECKS, &p->checks_ok, &p->checks_fail);
}

/* |cur| minus |prev| (bucket by bucket: both only grow) into |out|. */
static int hist_diff(const sb_hist *cur, const sb_hist *prev, sb_hist *out) {
  if (cur->count <= prev->count) return 0;
  uint64_t *d = calloc(cur->n ? cur->n : 1, sizeof(*d));
  if (!d) return SB_ENOMEM;
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  uint64_t n = cur->zero - prev->zero;
  for (uint32_t i = 0; i < cur->n; i++) {
    int32_t idx = cur->first + (int32_t)i;
    uint64_t pc = idx >= prev->first && idx < prev->first + (int32_t)prev->n
                      ? prev->counts[idx - prev->first] : 0;
    d[i] = cur->counts[i] - pc;
    n += d[i];
    if (d[i] && idx < lo) lo = idx;
    if (d[i] && idx > hi) hi = idx;
  }
  double mn = lo == INT32_MAX ? 0 : sb_hist_bucket_value(lo);
  double mx = hi == INT32_MIN ? 0 : sb_hist_bucket_value(hi);
  if (cur->zero > prev->zero) mn = 0;
  int rc = sb_hist_merge_raw_z(out, n, cur->sum - prev->sum, mn, mx, cur->first, d, cur->n,
                               cur->zero - prev->zero);
  free(d);
  return rc;
}

int sb_timeline_add_total(sb_timeline *tl, double t, const sb_metrics *total, double vus) {
  if (grow(tl)) return SB_ENOMEM;
  sb_tl_point now, *p = &tl->p[tl->n];
  memset(&now, 0, sizeof(now));
  totals(total, &now);
  memset(p, 0, sizeof(*p));
  p->t = t;
  p->secs = t - tl->prev_t > 0 ? t - tl->prev_t : 1;
  p->vus = vus;
  p->reqs = now.reqs - tl->prev.reqs;
  p->iters = now.iters - tl->prev.iters;
  p->dropped = now.dropped - tl->prev.dropped;
  p->sent = now.sent - tl->prev.sent;
  p->received = now.received - tl->prev.received;
  p->failed = now.failed - tl->prev.failed;
  p->checks_ok = now.checks_ok - tl->prev.checks_ok;
  p->checks_fail = now.checks_fail - tl->prev.checks_fail;
  sb_series d;
  sb_hist iv;
  sb_series_init(&d, SB_M_HTTP_REQ_DURATION);
  sb_hist_init(&iv);
  int rc = sb_metrics_fold(total, SB_M_HTTP_REQ_DURATION, NULL, 0, &d);
  if (!rc) rc = hist_diff(&d.hist, &tl->prev_dur, &iv);
  if (!rc && iv.count) {
    p->avg = sb_hist_avg(&iv);
    p->p50 = sb_hist_quantile(&iv, 0.5);
    p->p90 = sb_hist_quantile(&iv, 0.9);
    p->p95 = sb_hist_quantile(&iv, 0.95);
    p->p99 = sb_hist_quantile(&iv, 0.99);
    p->max = sb_hist_quantile(&iv, 1);
  }
  if (!rc) { /* keep this total for the next interval */
    sb_hist_clear(&tl->prev_dur);
    rc = sb_hist_merge(&tl->prev_dur, &d.hist);
  }
  sb_hist_clear(&iv);
  sb_series_clear(&d);
  if (rc) return SB_ENOMEM;
  tl->prev = now;
  tl->prev_t = t;
  tl->n++;
  return 0;
}

int sb_timeline_add(sb_timeline *tl, double t, double secs, const sb_metrics *interval, double vus) {
  if (tl->n == tl->cap) {
    size_t cap = tl->cap ? tl->cap * 2 : 256;
    sb_tl_point *p = realloc(tl->p, cap * sizeof(*p));
    if (!p) return SB_ENOMEM;
    tl->p = p;
    tl->cap = cap;
  }
  sb_tl_point *p = &tl->p[tl->n];
  memset(p, 0, sizeof(*p));
  p->t = t;
  p->secs = secs;
  p->vus = vus;
  p->reqs = counter(interval, SB_M_HTTP_REQS);
  p->iters = counter(interval, SB_M_ITERATIONS);
  p->dropped = counter(interval, SB_M_DROPPED_ITERATIONS);
  p->sent = counter(interval, SB_M_DATA_SENT);
  p->received = counter(interval, SB_M_DATA_RECEIVED);
  double ok = 0;
  rate(interval, SB_M_HTTP_REQ_FAILED, &p->failed, &ok);
  rate(interval, SB_M_CHECKS, &p->checks_ok, &p->checks_fail);
  sb_series d;
  sb_series_init(&d, SB_M_HTTP_REQ_DURATION);
  if (sb_metrics_fold(interval, SB_M_HTTP_REQ_DURATION, NULL, 0, &d) == 0 && d.hist.count) {
    p->avg = sb_hist_avg(&d.hist);
    p->p50 = sb_hist_quantile(&d.hist, 0.5);
    p->p90 = sb_hist_quantile(&d.hist, 0.9);
    p->p95 = sb_hist_quantile(&d.hist, 0.95);
    p->p99 = sb_hist_quantile(&d.hist, 0.99);
    p->max = d.hist.max;
  }
  sb_series_clear(&d);
  tl->n++;
  return 0;
}

static const char *const COLS[] = {"t",      "secs",      "vus",         "reqs", "failed",
                                   "iters",  "dropped",   "checks_ok",   "checks_fail",
                                   "sent",   "received",  "avg",         "p50",  "p90",
                                   "p95",    "p99",       "max"};
#define NCOLS (sizeof(COLS) / sizeof(COLS[0]))

static int put_num(sb_buf *out, double v) {
  if (!isfinite(v)) return sb_buf_puts(out, "0");
  double r = round(v * 1000) / 1000;
  if (r == floor(r) && fabs(r) < 1e15) return sb_buf_printf(out, "%.0f", r);
  return sb_buf_printf(out, "%.3f", r);
}

int sb_timeline_json(const sb_timeline *tl, size_t from, sb_buf *out) {
  int rc = sb_buf_puts(out, "{\"cols\":[");
  for (size_t i = 0; i < NCOLS; i++) rc |= sb_buf_printf(out, "%s\"%s\"", i ? "," : "", COLS[i]);
  rc |= sb_buf_puts(out, "],\"rows\":[");
  for (size_t k = from; k < tl->n && !rc; k++) {
    const sb_tl_point *p = &tl->p[k];
    const double v[NCOLS] = {p->t,        p->secs,       p->vus,      p->reqs,     p->failed,
                             p->iters,    p->dropped,    p->checks_ok, p->checks_fail,
                             p->sent,     p->received,   p->avg,      p->p50,      p->p90,
                             p->p95,      p->p99,        p->max};
    rc |= sb_buf_puts(out, k > from ? ",[" : "[");
    for (size_t i = 0; i < NCOLS; i++) {
      if (i) rc |= sb_buf_append(out, ",", 1);
      rc |= put_num(out, v[i]);
    }
    rc |= sb_buf_append(out, "]", 1);
  }
  rc |= sb_buf_puts(out, "]}");
  return rc ? SB_ENOMEM : 0;
}

/* --- per request name ----------------------------------------------------------------------- */

typedef struct url_row {
  const char *name, *method;
  double reqs, failed;
  sb_hist dur;
} url_row;

static url_row *row_for(url_row **rows, size_t *n, size_t *cap, const char *name, const char *method) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp((*rows)[i].name, name) && !strcmp((*rows)[i].method, method)) return &(*rows)[i];
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 32;
    url_row *r = realloc(*rows, c * sizeof(*r));
    if (!r) return NULL;
    *rows = r;
    *cap = c;
  }
  url_row *r = &(*rows)[(*n)++];
  memset(r, 0, sizeof(*r));
  r->name = name;
  r->method = method;
  sb_hist_init(&r->dur);
  return r;
}

static int by_reqs(const void *a, const void *b) {
  double x = ((const url_row *)a)->reqs, y = ((const url_row *)b)->reqs;
  return x < y ? 1 : x > y ? -1 : strcmp(((const url_row *)a)->name, ((const url_row *)b)->name);
}

static int put_str(sb_buf *out, const char *s) {
  int rc = sb_buf_append(out, "\"", 1);
  for (; *s && !rc; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') rc = sb_buf_printf(out, "\\%c", c);
    else if (c < 0x20) rc = sb_buf_printf(out, "\\u%04x", c);
    else rc = sb_buf_append(out, s, 1);
  }
  return rc | sb_buf_append(out, "\"", 1);
}

int sb_timeline_urls_json(const sb_metrics *total, size_t limit, sb_buf *out) {
  url_row *rows = NULL;
  size_t n = 0, cap = 0, it = 0;
  int rc = 0;
  sb_series *s;
  while (!rc && (s = sb_metrics_next(total, &it))) {
    int m = s->metric;
    if (m != SB_M_HTTP_REQS && m != SB_M_HTTP_REQ_FAILED && m != SB_M_HTTP_REQ_DURATION) continue;
    const char *name = s->tags ? sb_tagset_get(s->tags, "name") : NULL;
    const char *method = s->tags ? sb_tagset_get(s->tags, "method") : NULL;
    url_row *r = row_for(&rows, &n, &cap, name ? name : "", method ? method : "");
    if (!r) { rc = SB_ENOMEM; break; }
    if (m == SB_M_HTTP_REQS) r->reqs += s->value;
    else if (m == SB_M_HTTP_REQ_FAILED) r->failed += (double)s->trues;
    else if (sb_hist_merge(&r->dur, &s->hist)) rc = SB_ENOMEM;
  }
  if (n) qsort(rows, n, sizeof(*rows), by_reqs);
  rc |= sb_buf_append(out, "[", 1);
  for (size_t i = 0; i < n && i < limit && !rc; i++) {
    url_row *r = &rows[i];
    rc |= sb_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
    rc |= put_str(out, r->name);
    rc |= sb_buf_puts(out, ",\"method\":");
    rc |= put_str(out, r->method);
    rc |= sb_buf_printf(out, ",\"reqs\":%.0f,\"failed\":%.0f,\"avg\":", r->reqs, r->failed);
    rc |= put_num(out, sb_hist_avg(&r->dur));
    rc |= sb_buf_puts(out, ",\"p95\":");
    rc |= put_num(out, sb_hist_quantile(&r->dur, 0.95));
    rc |= sb_buf_puts(out, ",\"p99\":");
    rc |= put_num(out, sb_hist_quantile(&r->dur, 0.99));
    rc |= sb_buf_append(out, "}", 1);
  }
  rc |= sb_buf_append(out, "]", 1);
  for (size_t i = 0; i < n; i++) sb_hist_clear(&rows[i].dur);
  free(rows);
  return rc ? SB_ENOMEM : 0;
}
