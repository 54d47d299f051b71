/* The compact and full layouts of k6 v1's end-of-test summary (k6's internal/js/summary.js with
 * colors off, and its Go side, internal/output/summary, which decides what goes where).
 *
 * k6 builds the text as a list of items joined by its ReportBuilder.build(): every text item
 * starts a new line, a bare newline item ends a block. Written here the same way: item() puts
 * "\n" then the text, nl() a lone "\n"; the indentation of a render context of level b is
 * (b + 1) * 2 spaces, its lines' (b + 2) * 2. Then, as in the legacy layout, trailing spaces are
 * cut (k6 leaves them after its titles and padded columns; the docs show none).
 *
 * Two quirks of k6 v1.8's summary.js are kept because they decide the layout:
 *   - the dots: every _renderMetrics() call aligns its own lines (its "global" width comes out
 *     NaN — a reduce() without a start value — so each call falls back to its local maximum);
 *     the three checks metrics align among themselves only;
 *   - a failed check's "↳" line is indented by (2b + 3) * 2 spaces (indent() given the level as
 *     the base plus one). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "controller/summary_internal.h"

enum { CAT_CUSTOM, CAT_HTTP, CAT_EXECUTION, CAT_NETWORK, CAT_BROWSER, CAT_WEB_VITALS, CAT_GRPC,
       CAT_WEBSOCKET, NCAT };
static const char *const cat_titles[NCAT] = {"CUSTOM",  "HTTP",       "EXECUTION", "NETWORK",
                                             "BROWSER", "WEB_VITALS", "GRPC",      "WEBSOCKET"};

static int has_prefix(const char *s, const char *const *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strncmp(s, p[i], strlen(p[i]))) return 1;
  return 0;
}

/* k6's isSkippedMetric and its category switch, by name prefix as k6 matches them (so a custom
 * "checks_x" is skipped too). Returns a CAT_* or -1 to leave the metric out. */
static int category(const char *name, sb_summary_mode mode) {
  static const char *const skip_full[] = {"checks", "group_duration"};
  static const char *const skip_compact[] = {
      "checks",           "group_duration",   "http_req_blocked", "http_req_connecting",
      "http_req_receiving", "http_req_sending", "http_req_tls_handshaking", "http_req_waiting"};
  static const char *const http[] = {"http_reqs",           "http_req_failed",
                                     "http_req_duration",   "http_req_blocked",
                                     "http_req_connecting", "http_req_tls_handshaking",
                                     "http_req_sending",    "http_req_waiting",
                                     "http_req_receiving"};
  static const char *const exec[] = {"vus", "vus_max", "iterations", "iteration_duration",
                                     "dropped_iterations"};
  static const char *const net[] = {"data_sent", "data_received"};
  static const char *const web_vital[] = {"browser_web_vital_"}, *const browser[] = {"browser_"};
  static const char *const grpc[] = {"grpc_"}, *const ws[] = {"ws_"};
  if (mode == SB_SUMMARY_COMPACT ? has_prefix(name, skip_compact, 8) : has_prefix(name, skip_full, 2))
    return -1;
  if (has_prefix(name, http, 9)) return CAT_HTTP;
  if (has_prefix(name, exec, 5)) return CAT_EXECUTION;
  if (has_prefix(name, net, 2)) return CAT_NETWORK;
  if (has_prefix(name, web_vital, 1)) return CAT_WEB_VITALS;
  if (has_prefix(name, browser, 1)) return CAT_BROWSER;
  if (has_prefix(name, grpc, 1)) return CAT_GRPC;
  if (has_prefix(name, ws, 1)) return CAT_WEBSOCKET;
  return CAT_CUSTOM;
}

/* A text item: a new line, then the text. */
static void item(sb_buf *out, size_t indent, const char *text) {
  sb_buf_puts(out, "\n");
  sb_sum_pad(out, indent);
  sb_buf_puts(out, text);
}

static void nl(sb_buf *out) { sb_buf_puts(out, "\n"); }

/* renderTitle(): "█ TITLE" at level |b|, or "↳ GROUP: name" for a nested group. */
static void title(sb_buf *out, int b, const char *prefix, const char *what, const char *name) {
  sb_buf_puts(out, "\n");
  sb_sum_pad(out, (size_t)(b + 1) * 2);
  sb_buf_printf(out, "%s %s%s \n", prefix, what, name);
}

/* What one _renderMetrics() call aligns its lines to: the names (indent included), the main
 * values, the extras, the trend columns (computeSummaryInfo). */
typedef struct widths {
  size_t name, val, extra[2], *col;
} widths;

static void measure(widths *w, const sb_sum_row *r, size_t indent) {
  char name[512];
  sb_sum_display_name(r, name, sizeof(name));
  size_t nw = indent + sb_sum_width(name) + (r->sub ? 2 : 0);
  if (nw > w->name) w->name = nw;
  for (size_t j = 0; j < r->ncells; j++) {
    size_t cw = sb_sum_width(r->cells[j]);
    size_t *slot = r->trend ? &w->col[j] : j == 0 ? &w->val : j <= 2 ? &w->extra[j - 1] : NULL;
    if (slot && cw > *slot) *slot = cw;
  }
}

/* renderMetricLine(): the dotted name, then the cells as renderTrendData / renderNonTrendData
 * pad them. */
static void line(sb_buf *out, const sb_sum_row *r, const widths *w, size_t indent,
                 const char *const *stats) {
  char name[512];
  sb_sum_display_name(r, name, sizeof(name));
  size_t nw = indent + sb_sum_width(name) + (r->sub ? 2 : 0);
  item(out, indent + (r->sub ? 2 : 0), name);
  for (size_t d = w->name - nw + 3; d; d--)
    sb_buf_append(out, ".", 1);
  sb_buf_puts(out, ": ");
  for (size_t j = 0; j < r->ncells; j++) {
    const char *c = r->cells[j];
    size_t cw = sb_sum_width(c);
    if (r->trend) {
      sb_buf_printf(out, "%s%s=%s", j ? " " : "", stats[j], c);
      sb_sum_pad(out, w->col[j] - cw);
    } else {
      sb_buf_printf(out, "%s%s", j ? " " : "", c);
      if (j == 0) sb_sum_pad(out, w->val - cw);
      else if (r->ncells > 2 && j <= 2) sb_sum_pad(out, w->extra[j - 1] - cw);
    }
  }
}

/* _renderMetrics() at level |b|: the rows of |rs| (filled and sorted) under their category
 * titles, custom metrics first, one alignment for all of them. */
static int emit_metrics(sb_buf *out, const sb_sum_rows *rs, const sb_summary_input *in, int b) {
  size_t nstats, indent = (size_t)(b + 2) * 2;
  const char *const *stats = sb_sum_stats(in, &nstats);
  widths w = {0};
  int *cat = calloc(rs->n + 1, sizeof(int));
  if (!cat || !(w.col = calloc(nstats + 1, sizeof(size_t)))) {
    free(cat);
    return SB_ENOMEM;
  }
  for (size_t i = 0; i < rs->n; i++)
    if ((cat[i] = category(rs->v[i].key, in->mode)) >= 0) measure(&w, &rs->v[i], indent);
  for (int c = 0; c < NCAT; c++) {
    int shown = 0;
    for (size_t i = 0; i < rs->n; i++) {
      if (cat[i] != c) continue;
      if (!shown++) item(out, indent, cat_titles[c]);
      line(out, &rs->v[i], &w, indent, stats);
    }
    if (shown) nl(out);
  }
  free(w.col);
  free(cat);
  return 0;
}

/* The checks of a scope (series with every pair of |f|) at level |b|, as _renderChecks():
 * checks_total, checks_succeeded and checks_failed aligned among themselves, then each check.
 * Nothing when the scope has no check. */
static int checks_block(sb_buf *out, const sb_summary_input *in, const char *const *f, size_t nf,
                       int b) {
  sb_series s;
  sb_series_init(&s, SB_M_CHECKS);
  int rc = sb_metrics_fold(in->metrics, SB_M_CHECKS, f, nf, &s);
  uint64_t total = s.total, ok = s.trues;
  sb_series_clear(&s);
  if (rc || !total) return rc ? SB_ENOMEM : 0;
  sb_sum_check *cs;
  size_t n, indent = (size_t)(b + 2) * 2;
  if (sb_sum_collect_checks(in->metrics, f, nf, 0, &cs, &n)) return SB_ENOMEM;
  char v[3][64], x[3][80], tmp[64];
  double rate = in->duration_s > 0 ? (double)total / in->duration_s : 0;
  sb_sum_humanize((double)total, SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL, v[0], 64);
  sb_sum_humanize(rate, SB_METRIC_COUNTER, SB_VALUE_DEFAULT, NULL, tmp, 64);
  snprintf(x[0], 80, "%s/s", tmp);
  sb_sum_humanize((double)ok / (double)total, SB_METRIC_RATE, 0, NULL, v[1], 64);
  snprintf(x[1], 80, "%llu out of %llu", (unsigned long long)ok, (unsigned long long)total);
  sb_sum_humanize((double)(total - ok) / (double)total, SB_METRIC_RATE, 0, NULL, v[2], 64);
  snprintf(x[2], 80, "%llu out of %llu", (unsigned long long)(total - ok),
           (unsigned long long)total);
  static const char *const names[] = {"checks_total", "checks_succeeded", "checks_failed"};
  size_t vmax = 0;
  for (int i = 0; i < 3; i++)
    if (sb_sum_width(v[i]) > vmax) vmax = sb_sum_width(v[i]);
  for (int i = 0; i < 3; i++) {
    item(out, indent, names[i]);
    for (size_t d = strlen("checks_succeeded") - strlen(names[i]) + 3; d; d--)
      sb_buf_append(out, ".", 1);
    sb_buf_printf(out, ": %s", v[i]);
    sb_sum_pad(out, vmax - sb_sum_width(v[i]));
    sb_buf_printf(out, " %s", x[i]);
  }
  nl(out);
  for (size_t i = 0; i < n; i++) {
    item(out, indent, cs[i].fails ? SB_SUM_FAIL " " : SB_SUM_SUCC " ");
    sb_buf_puts(out, cs[i].name);
    if (!cs[i].fails) continue;
    sb_buf_puts(out, "\n");
    sb_sum_pad(out, (size_t)(2 * b + 3) * 2);
    sb_buf_printf(out, "\xe2\x86\xb3  %llu%% \xe2\x80\x94 " SB_SUM_SUCC " %llu / " SB_SUM_FAIL " %llu",
                  (unsigned long long)(100 * cs[i].passes / (cs[i].passes + cs[i].fails)),
                  (unsigned long long)cs[i].passes, (unsigned long long)cs[i].fails);
  }
  nl(out);
  free(cs);
  return 0;
}

/* ---- thresholds --------------------------------------------------------------------------- */

/* The "agg=value" of a threshold line (renderMetricValueForThresholds): the label is the
 * expression up to its operator, trimmed, as k6 splits it; the value what the threshold
 * compares, formatted as the metric's line shows it. */
static void threshold_value(const sb_summary_input *in, const sb_threshold *t, char *out,
                            size_t cap) {
  int id = sb_metrics_find(in->metrics, t->metric);
  const char *e = t->expr;
  while (*e == ' ') e++;
  size_t n = strcspn(e, "=><");
  while (n && e[n - 1] == ' ') n--;
  char v[96] = "0";
  double x = 0;
  uint64_t samples;
  if (id >= 0) {
    const sb_metric_info *mi = sb_metrics_info(in->metrics, id);
    if (sb_threshold_value(t, in->metrics, in->duration_s, &x, &samples, NULL) != 0) x = 0;
    sb_sum_humanize(x, mi->type, mi->contains, in->time_unit, v, sizeof(v));
    if (mi->type == SB_METRIC_COUNTER && t->agg == SB_AGG_RATE) strcat(v, "/s");
  }
  snprintf(out, cap, "%.*s=%s", (int)n, e, v);
}

static int str_cmp(const void *a, const void *b) {
  return sb_sum_key_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* The THRESHOLDS section: each metric (sorted) and its thresholds' results; a sub-metric under
 * its parent, one level in, when the parent has thresholds too. */
static int emit_thresholds(sb_buf *out, const sb_summary_input *in) {
  const char **keys = calloc(in->nthresholds + 1, sizeof(char *));
  size_t nk = 0;
  if (!keys) return SB_ENOMEM;
  for (size_t i = 0; i < in->nthresholds; i++) {
    size_t k = 0;
    while (k < nk && strcmp(keys[k], in->thresholds[i].submetric)) k++;
    if (k == nk) keys[nk++] = in->thresholds[i].submetric;
  }
  qsort(keys, nk, sizeof(*keys), str_cmp);
  title(out, 0, "\xe2\x96\x88", "THRESHOLDS", "");
  for (size_t k = 0; k < nk; k++) {
    size_t plen = strcspn(keys[k], "{"), indent = 4;
    for (size_t p = 0; keys[k][plen] && p < nk; p++)
      if (strlen(keys[p]) == plen && !strncmp(keys[p], keys[k], plen)) indent = 6;
    item(out, indent, indent == 6 ? keys[k] + plen : keys[k]);
    for (size_t i = 0; i < in->nthresholds; i++) {
      const sb_threshold *t = &in->thresholds[i];
      if (strcmp(t->submetric, keys[k])) continue;
      char val[160];
      const char *e = t->expr;
      size_t el = strlen(e);
      while (*e == ' ') e++, el--;
      while (el && e[el - 1] == ' ') el--;
      threshold_value(in, t, val, sizeof(val));
      item(out, indent, !in->results || in->results[i].ok ? SB_SUM_SUCC : SB_SUM_FAIL);
      sb_buf_printf(out, " '%.*s' %s", (int)el, e, val);
    }
    nl(out);
  }
  nl(out);
  free(keys);
  return 0;
}

/* ---- scopes: groups and scenarios (full) --------------------------------------------------- */

/* The rows of the parent metrics with samples in a scope (series with every pair of |f|). */
static int scope_rows(sb_sum_rows *rs, const sb_summary_input *in, const char *const *f,
                      size_t nf) {
  for (int id = 0; id < sb_metrics_count(in->metrics); id++) {
    const char *name = sb_metrics_info(in->metrics, id)->name;
    if (category(name, in->mode) < 0) continue;
    sb_series s;
    sb_series_init(&s, id);
    int rc = sb_metrics_fold(in->metrics, id, f, nf, &s);
    uint64_t t = s.touched;
    sb_series_clear(&s);
    if (rc || (t && !sb_sum_rows_add(rs, name, id, f, nf, 0))) return SB_ENOMEM;
  }
  if (sb_sum_fill_rows(rs, in)) return SB_ENOMEM;
  if (rs->n) qsort(rs->v, rs->n, sizeof(*rs->v), sb_sum_row_cmp); /* NULL with none: UB */
  return 0;
}

/* A list of distinct strings (owned), in the order they were added. */
typedef struct strs {
  char **v;
  size_t n, cap;
} strs;

static int strs_add(strs *l, const char *s, size_t len) {
  for (size_t i = 0; i < l->n; i++)
    if (strlen(l->v[i]) == len && !strncmp(l->v[i], s, len)) return 0;
  if (l->n == l->cap) {
    char **nv = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 16) * sizeof(char *));
    if (!nv) return SB_ENOMEM;
    l->v = nv;
  }
  return (l->v[l->n] = strndup(s, len)) ? (l->n++, 0) : SB_ENOMEM;
}

static void strs_free(strs *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

/* Every group path of the series of scenario |scn|, each ancestor before its descendants. */
static int group_paths(const sb_metrics *m, const char *scn, strs *out) {
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    const char *g = sb_tagset_get(s->tags, "group"), *sc = sb_tagset_get(s->tags, "scenario");
    if (!g || strncmp(g, "::", 2) || !sc || strcmp(sc, scn)) continue;
    for (const char *p = g; p;) { /* "::a::b": "::a", then "::a::b" */
      p = strstr(p + 2, "::");
      if (strs_add(out, g, p ? (size_t)(p - g) : strlen(g))) return SB_ENOMEM;
    }
  }
  return 0;
}

static int group_content(sb_buf *out, const sb_summary_input *in, const strs *paths,
                         const char *scn, const char *path, int b);

/* The children of |path| among |paths|, each as "↳ GROUP: name" and its content, at level b. */
static int nested_groups(sb_buf *out, const sb_summary_input *in, const strs *paths,
                         const char *scn, const char *path, int b, int top) {
  size_t plen = strlen(path);
  for (size_t i = 0; i < paths->n; i++) {
    const char *g = paths->v[i];
    if (strncmp(g, path, plen) || strncmp(g + plen, "::", 2) || strstr(g + plen + 2, "::"))
      continue;
    if (top) {
      title(out, 0, "\xe2\x96\x88", "GROUP: ", g + plen + 2);
      if (group_content(out, in, paths, scn, g, 0)) return SB_ENOMEM;
      nl(out);
    } else {
      title(out, b, "\xe2\x86\xb3", "GROUP: ", g + plen + 2);
      if (group_content(out, in, paths, scn, g, b)) return SB_ENOMEM;
    }
  }
  return 0;
}

/* _renderGroupContent(): the checks, metrics and nested groups of group |path| of scenario
 * |scn| at level |b| (a group's own samples only, as k6's full summary keeps them). */
static int group_content(sb_buf *out, const sb_summary_input *in, const strs *paths,
                         const char *scn, const char *path, int b) {
  const char *f[] = {"group", path, "scenario", scn};
  sb_sum_rows rs = {0};
  int rc = checks_block(out, in, f, 2, b);
  if (!rc) rc = scope_rows(&rs, in, f, 2);
  if (!rc) rc = emit_metrics(out, &rs, in, b);
  sb_sum_rows_free(&rs);
  if (!rc && b < 32) rc = nested_groups(out, in, paths, scn, path, b + 1, 0);
  return rc;
}

/* The full layout's GROUP sections (the default scenario's top-level groups) and SCENARIO
 * sections (every other scenario, by name: its checks and metrics, then its groups). */
static int emit_scopes(sb_buf *out, const sb_summary_input *in) {
  strs scns = {0}, paths = {0};
  int rc = group_paths(in->metrics, "default", &paths);
  if (!rc) rc = nested_groups(out, in, &paths, "default", "", 0, 1);
  strs_free(&paths);
  size_t it = 0;
  sb_series *s;
  while (!rc && (s = sb_metrics_next(in->metrics, &it))) {
    const char *sc = sb_tagset_get(s->tags, "scenario");
    if (sc && strcmp(sc, "default")) rc = strs_add(&scns, sc, strlen(sc));
  }
  if (!rc && scns.n) qsort(scns.v, scns.n, sizeof(char *), str_cmp);
  for (size_t i = 0; i < scns.n && !rc; i++) {
    const char *f[] = {"scenario", scns.v[i]};
    sb_sum_rows rs = {0};
    title(out, 0, "\xe2\x96\x88", "SCENARIO: ", scns.v[i]);
    rc = checks_block(out, in, f, 1, 0);
    if (!rc) rc = scope_rows(&rs, in, f, 1);
    if (!rc) rc = emit_metrics(out, &rs, in, 0);
    sb_sum_rows_free(&rs);
    if (!rc) rc = group_paths(in->metrics, scns.v[i], &paths);
    if (!rc) rc = nested_groups(out, in, &paths, scns.v[i], "", 1, 0);
    strs_free(&paths);
    nl(out);
  }
  strs_free(&scns);
  return rc;
}

/* Cuts the spaces before every newline from |from| on. */
static void trim_lines(sb_buf *out, size_t from) {
  size_t w = from;
  for (size_t r = from; r < out->len; r++) {
    if (out->data[r] == '\n')
      while (w > from && out->data[w - 1] == ' ') w--;
    out->data[w++] = out->data[r];
  }
  out->len = w;
  if (out->data) out->data[w] = '\0';
}

int sb_sum_format_compact(sb_buf *out, const sb_summary_input *in) {
  size_t start = out->len;
  sb_sum_rows rs = {0};
  sb_buf_puts(out, "\n"); /* k6's wrapper: "\n" + textSummary() + "\n\n" */
  int rc = in->nthresholds ? emit_thresholds(out, in) : 0;
  if (!rc) {
    title(out, 0, "\xe2\x96\x88", "TOTAL RESULTS", "");
    rc = checks_block(out, in, NULL, 0, 0);
  }
  if (!rc) rc = sb_sum_collect_rows(&rs, in);
  if (!rc) rc = sb_sum_fill_rows(&rs, in);
  if (!rc) {
    if (rs.n) qsort(rs.v, rs.n, sizeof(*rs.v), sb_sum_row_cmp);
    rc = emit_metrics(out, &rs, in, 0);
    nl(out);
  }
  sb_sum_rows_free(&rs);
  if (!rc && in->mode == SB_SUMMARY_FULL) rc = emit_scopes(out, in);
  sb_buf_puts(out, "\n\n");
  if (!out->data) return SB_ENOMEM;
  trim_lines(out, start);
  return rc;
}
