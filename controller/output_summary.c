/* k6's --summary-export document: the legacy JSON summary k6 writes from handleSummary's data
 * (k6's oldJSONSummary), 4-space indented as JSON.stringify(data, null, 4) prints it:
 *
 *   { "root_group": { "name": "", "path": "", "id": "<md5 of path>", "groups": {...},
 *                     "checks": { "<name>": { "name", "path", "id", "passes", "fails" } } },
 *     "metrics": { "http_reqs": { "count": 10, "rate": 9.9 },
 *                  "checks": { "passes": 10, "fails": 0, "value": 1 },
 *                  "vus": { "value": 1, "min": 1, "max": 1 },
 *                  "http_req_duration": { "avg": ..., "p(95)": ..., "thresholds": { "p(95)<500": false } } } }
 *
 * A rate's "rate" is called "value" there; a threshold maps to true when it FAILED (k6's
 * legacy "tainted" sense). Groups and checks come from the `group` and `check` tags, in the order
 * they first appeared. After "metrics", speedboat adds "speedboat_generator" (the generators'
 * verdict, as handleSummary's data has it; controller/run_state.h). */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "controller/output_internal.h"

/* A pretty printer for JSON.stringify's layout. */
typedef struct pw {
  sb_buf *b;
  int depth;
  int empty[32]; /* nothing written yet at this depth */
  int rc;
} pw;

static void pw_key(pw *w, const char *key) {
  w->rc |= sb_buf_puts(w->b, w->empty[w->depth] ? "\n" : ",\n");
  w->empty[w->depth] = 0;
  for (int i = 0; i < w->depth; i++) w->rc |= sb_buf_puts(w->b, "    ");
  w->rc |= sb_out_json_string(w->b, key);
  w->rc |= sb_buf_puts(w->b, ": ");
}

static void pw_open(pw *w, const char *key) {
  if (key) pw_key(w, key);
  w->rc |= sb_buf_puts(w->b, "{");
  if (w->depth < 30) w->depth++;
  w->empty[w->depth] = 1;
}

static void pw_close(pw *w) {
  int empty = w->empty[w->depth];
  w->depth--;
  if (!empty) {
    w->rc |= sb_buf_puts(w->b, "\n");
    for (int i = 0; i < w->depth; i++) w->rc |= sb_buf_puts(w->b, "    ");
  }
  w->rc |= sb_buf_puts(w->b, "}");
}

static void pw_num(pw *w, const char *key, double v) {
  char n[40];
  pw_key(w, key);
  w->rc |= sb_buf_append(w->b, n, sb_out_json_number(v, n));
}

static void pw_str(pw *w, const char *key, const char *s) {
  pw_key(w, key);
  w->rc |= sb_out_json_string(w->b, s);
}

static void pw_bool(pw *w, const char *key, int v) {
  pw_key(w, key);
  w->rc |= sb_buf_puts(w->b, v ? "true" : "false");
}

static void pw_newline(pw *w) {
  w->rc |= sb_buf_puts(w->b, "\n");
  for (int i = 0; i < w->depth; i++) w->rc |= sb_buf_puts(w->b, "    ");
}

/* Appends the compact JSON |s| (|n| bytes, valid: made by our own writers) laid out as the rest
 * of the document: one member or element a line, 4 more spaces a level, "key": value, and
 * empty objects and arrays as {} and []. */
static void pw_json(pw *w, const char *s, size_t n) {
  int base = w->depth;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '"') { /* a string, escapes and all */
      size_t j = i + 1;
      while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      w->rc |= sb_buf_append(w->b, s + i, (j < n ? j + 1 : n) - i);
      i = j;
    } else if (c == '{' || c == '[') {
      w->rc |= sb_buf_append(w->b, &c, 1);
      if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
        w->rc |= sb_buf_append(w->b, &s[++i], 1);
        continue;
      }
      w->depth++;
      pw_newline(w);
    } else if (c == '}' || c == ']') {
      if (w->depth > base) w->depth--;
      pw_newline(w);
      w->rc |= sb_buf_append(w->b, &c, 1);
    } else if (c == ',') {
      w->rc |= sb_buf_puts(w->b, ",");
      pw_newline(w);
    } else if (c == ':') {
      w->rc |= sb_buf_puts(w->b, ": ");
    } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
      w->rc |= sb_buf_append(w->b, &c, 1);
    }
  }
  w->depth = base;
}

/* k6's group and check ids: the hex MD5 of the path. */
static void md5_hex(const char *s, char out[33]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL)) n = 0;
  for (unsigned int i = 0; i < n && i < 16; i++) sprintf(out + 2 * i, "%02x", d[i]);
  out[n ? 32 : 0] = '\0';
}

/* ---- the group tree ---- */

/* Every distinct group path of |m|'s series, in order of first appearance ("" first). */
typedef struct paths {
  const char **v;
  size_t n, cap;
} paths;

static int paths_add(paths *p, const char *s) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i], s)) return 0;
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 16;
    const char **v = realloc(p->v, cap * sizeof(*v));
    if (!v) return SB_ENOMEM;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = s;
  return 0;
}

/* The checks of group |path| (from the `checks` series, passes and fails folded by name). */
static void write_checks(pw *w, const sb_metrics *m, const char *path) {
  paths names = {0};
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    const char *g = sb_tagset_get(s->tags, "group"), *c = sb_tagset_get(s->tags, "check");
    if (s->metric == SB_M_CHECKS && c && !strcmp(g ? g : "", path)) w->rc |= paths_add(&names, c);
  }
  pw_open(w, "checks");
  for (size_t i = 0; i < names.n; i++) {
    const char *filter[4] = {"group", path, "check", names.v[i]};
    sb_series f;
    sb_series_init(&f, SB_M_CHECKS);
    w->rc |= sb_metrics_fold(m, SB_M_CHECKS, filter, 2, &f);
    sb_buf cp;
    sb_buf_init(&cp);
    w->rc |= sb_buf_printf(&cp, "%s::%s", path, names.v[i]);
    char id[33];
    md5_hex(cp.data ? cp.data : "", id);
    pw_open(w, names.v[i]);
    pw_str(w, "name", names.v[i]);
    pw_str(w, "path", cp.data ? cp.data : "");
    pw_str(w, "id", id);
    pw_num(w, "passes", (double)f.trues);
    pw_num(w, "fails", (double)(f.total - f.trues));
    pw_close(w);
    sb_buf_clear(&cp);
    sb_series_clear(&f);
  }
  pw_close(w);
  free(names.v);
}

/* Group |path| (named |name|), its child groups (the paths one level below), then its checks. */
static void write_group(pw *w, const sb_metrics *m, const paths *all, const char *path,
                        const char *name, const char *key) {
  char id[33];
  md5_hex(path, id);
  pw_open(w, key);
  pw_str(w, "name", name);
  pw_str(w, "path", path);
  pw_str(w, "id", id);
  pw_open(w, "groups");
  size_t plen = strlen(path);
  for (size_t i = 0; i < all->n; i++) {
    const char *p = all->v[i];
    if (strncmp(p, path, plen) || strncmp(p + plen, "::", 2)) continue;
    const char *child = p + plen + 2;
    if (strstr(child, "::") || !*child) continue; /* deeper, or the root */
    write_group(w, m, all, p, child, child);
  }
  pw_close(w);
  write_checks(w, m, path);
  pw_close(w);
}

/* Every group path seen (a group's own group_duration carries its path, so ancestors too). */
static int collect_groups(const sb_metrics *m, paths *all) {
  size_t it = 0;
  sb_series *s;
  int rc = 0;
  while ((s = sb_metrics_next(m, &it))) {
    const char *g = sb_tagset_get(s->tags, "group");
    if (g && *g) rc |= paths_add(all, g);
  }
  return rc;
}

/* ---- metrics ---- */

static void write_values(pw *w, const sb_metric_info *mi, const sb_series *s,
                         const sb_out_summary_in *in) {
  switch (mi->type) {
  case SB_METRIC_COUNTER:
    pw_num(w, "count", s->value);
    pw_num(w, "rate", in->duration_s > 0 ? s->value / in->duration_s : 0);
    break;
  case SB_METRIC_GAUGE:
    pw_num(w, "value", s->value);
    pw_num(w, "min", s->hist.count ? s->hist.min : 0);
    pw_num(w, "max", s->hist.count ? s->hist.max : 0);
    break;
  case SB_METRIC_RATE:
    pw_num(w, "passes", (double)s->trues);
    pw_num(w, "fails", (double)(s->total - s->trues));
    pw_num(w, "value", s->total ? (double)s->trues / (double)s->total : 0);
    break;
  case SB_METRIC_TREND:
    for (size_t i = 0; i < in->nstats; i++) {
      const char *st = in->stats[i];
      const sb_hist *h = &s->hist;
      double v = !strcmp(st, "avg")   ? sb_hist_avg(h)
                 : !strcmp(st, "min") ? (h->count ? h->min : 0)
                 : !strcmp(st, "max") ? (h->count ? h->max : 0)
                 : !strcmp(st, "med") ? sb_hist_quantile(h, 0.5)
                 : !strcmp(st, "count") ? (double)h->count
                 : !strncmp(st, "p(", 2) ? sb_hist_quantile(h, strtod(st + 2, NULL) / 100.0)
                                         : 0;
      pw_num(w, st, v);
    }
    break;
  }
}

/* One entry of "metrics": |key| is the metric or sub-metric name, |filter| its tag pairs. */
static void write_metric(pw *w, const sb_out_summary_in *in, int id, const char *key,
                         const char *const *filter, size_t nfilter) {
  const sb_metric_info *mi = sb_metrics_info(in->metrics, id);
  sb_series f;
  sb_series_init(&f, id);
  w->rc |= sb_metrics_fold(in->metrics, id, filter, nfilter, &f);
  pw_open(w, key);
  write_values(w, mi, &f, in);
  int any = 0;
  for (size_t i = 0; i < in->nt; i++) {
    if (strcmp(in->t[i].submetric, key)) continue;
    if (!any) pw_open(w, "thresholds");
    any = 1;
    pw_bool(w, in->t[i].expr, in->res ? !in->res[i].ok : 0);
  }
  if (any) pw_close(w);
  pw_close(w);
  sb_series_clear(&f);
}

/* Whether |m| has samples of metric |id| matching |filter|. */
static int has_samples(const sb_metrics *m, int id, const char *const *filter, size_t n) {
  sb_series f;
  sb_series_init(&f, id);
  int yes = sb_metrics_fold(m, id, filter, n, &f) == 0 && f.touched > 0;
  sb_series_clear(&f);
  return yes;
}

/* Metrics with samples or thresholds, by name; each followed by its sub-metrics. */
static void write_metrics(pw *w, const sb_out_summary_in *in) {
  static const char *const expected[] = {"expected_response", "true"};
  const sb_metrics *m = in->metrics;
  int n = sb_metrics_count(m);
  int *order = malloc((size_t)(n ? n : 1) * sizeof(*order));
  if (!order) {
    w->rc |= SB_ENOMEM;
    return;
  }
  for (int i = 0; i < n; i++) order[i] = i;
  for (int i = 1; i < n; i++) /* by name: few metrics */
    for (int j = i; j > 0 && strcmp(sb_metrics_info(m, order[j - 1])->name,
                                    sb_metrics_info(m, order[j])->name) > 0; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  pw_open(w, "metrics");
  for (int k = 0; k < n; k++) {
    int id = order[k];
    const char *name = sb_metrics_info(m, id)->name;
    int thr = 0;
    for (size_t i = 0; i < in->nt; i++) thr |= !strcmp(in->t[i].metric, name);
    if (!thr && !has_samples(m, id, NULL, 0)) continue;
    write_metric(w, in, id, name, NULL, 0);
    if (id == SB_M_HTTP_REQ_DURATION && has_samples(m, id, expected, 1))
      write_metric(w, in, id, "http_req_duration{expected_response:true}", expected, 1);
    for (size_t i = 0; i < in->nt; i++) {
      const sb_threshold *t = &in->t[i];
      if (strcmp(t->metric, name) || !t->nfilter) continue;
      size_t j = 0;
      while (j < i && strcmp(in->t[j].submetric, t->submetric)) j++;
      if (j < i || !strcmp(t->submetric, "http_req_duration{expected_response:true}")) continue;
      write_metric(w, in, id, t->submetric, (const char *const *)t->filter, t->nfilter);
    }
  }
  pw_close(w);
  free(order);
}

int sb_out_summary_format(sb_buf *b, const sb_out_summary_in *in) {
  pw w = {.b = b};
  paths all = {0};
  w.rc |= collect_groups(in->metrics, &all);
  pw_open(&w, NULL);
  write_group(&w, in->metrics, &all, "", "", "root_group");
  write_metrics(&w, in);
  if (in->generator && in->generator_len) { /* speedboat's own: k6's export has no such key */
    pw_key(&w, "speedboat_generator");
    pw_json(&w, in->generator, in->generator_len);
  }
  pw_close(&w);
  w.rc |= sb_buf_puts(b, "\n");
  free(all.v);
  return w.rc ? SB_ENOMEM : 0;
}
