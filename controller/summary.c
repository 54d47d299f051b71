/* The end-of-test summary: what its layouts share (rows, values, checks), the classic
 * (legacy) layout of k6's summary-legacy.js, and the mode switch. */
#include "controller/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "controller/summary_internal.h"

#define SUCC_MARK SB_SUM_SUCC
#define FAIL_MARK SB_SUM_FAIL
#define MAX_EXTRAS 2

static const char *const default_stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};
static const char *const expected_response[] = {"expected_response", "true"};

typedef sb_sum_row row;
typedef sb_sum_rows rows;
typedef sb_sum_check check;
#define width sb_sum_width
#define pad sb_sum_pad

static const char *const mode_names[] = {"legacy", "compact", "full", "disabled"};

int sb_summary_mode_parse(const char *s, sb_summary_mode *out, sb_err *err) {
  for (int i = 0; i < 4; i++)
    if (s && !strcmp(s, mode_names[i])) {
      *out = (sb_summary_mode)i;
      return 0;
    }
  return sb_err_set(err, SB_EINVAL, "summary mode '%s': expected compact, full, legacy or disabled",
                    s ? s : "");
}

const char *sb_summary_mode_name(sb_summary_mode m) {
  return (unsigned)m < 4 ? mode_names[m] : "?";
}

/* Display width of UTF-8 text (code points; ✓ and µ are one column, as k6's strWidth). */
size_t sb_sum_width(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* JS's toFixed(prec) then parseFloat().toString(): at most |prec| decimals, no trailing zeros. */
static void fixed_nz(double v, int prec, char *out, size_t cap) {
  snprintf(out, cap, "%.*f", prec, v);
  if (strchr(out, '.')) {
    size_t n = strlen(out);
    while (out[n - 1] == '0')
      out[--n] = '\0';
    if (out[n - 1] == '.') out[--n] = '\0';
  }
  if (!strcmp(out, "-0")) snprintf(out, cap, "0");
}

/* JS Number.prototype.toString for the values a summary meets (shortest round-trip form). */
void sb_sum_js_num(double v, char *out, size_t cap) {
  if (v == floor(v) && fabs(v) < 1e21) {
    snprintf(out, cap, "%.0f", v == 0 ? 0.0 : v);
    return;
  }
  for (int p = 15; p <= 17; p++) {
    snprintf(out, cap, "%.*g", p, v);
    if (strtod(out, NULL) == v) return;
  }
}

static void humanize_bytes(double b, char *out, size_t cap) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  char n[64];
  if (b < 10) {
    sb_sum_js_num(b, n, sizeof(n));
    snprintf(out, cap, "%s B", n);
    return;
  }
  int e = (int)floor(log(b) / log(1000));
  if (e > 8) e = 8;
  double val = floor(b / pow(1000, e) * 10 + 0.5) / 10;
  snprintf(out, cap, "%.*f %s", val < 10 ? 1 : 0, val, units[e]);
}

/* k6's humanizeDuration with a summaryTimeUnit: the value in that unit, two decimals. */
static int fixed_unit(double ms, const char *unit, char *out, size_t cap) {
  static const struct {
    const char *name, *shown;
    double coef;
  } units[] = {{"s", "s", 0.001}, {"ms", "ms", 1}, {"us", "\xc2\xb5s", 1000}};
  for (size_t i = 0; unit && i < sizeof(units) / sizeof(units[0]); i++)
    if (!strcmp(unit, units[i].name)) {
      snprintf(out, cap, "%.2f%s", ms * units[i].coef, units[i].shown);
      return 1;
    }
  return 0;
}

void sb_summary_humanize(double v, sb_metric_type type, sb_value_type contains, char *out,
                         size_t cap) {
  sb_sum_humanize(v, type, contains, NULL, out, cap);
}

void sb_sum_humanize(double v, sb_metric_type type, sb_value_type contains, const char *unit,
                     char *out, size_t cap) {
  if (!isfinite(v)) { /* JS's spelling; never reaches the unit arithmetic */
    snprintf(out, cap, "%s", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  if (type == SB_METRIC_RATE) {
    snprintf(out, cap, "%.2f%%", trunc(v * 100 * 100) / 100); /* truncated, as k6 */
    return;
  }
  switch (contains) {
  case SB_VALUE_DATA: humanize_bytes(v, out, cap); break;
  case SB_VALUE_TIME:
    if (!fixed_unit(v, unit, out, cap)) sb_duration_format_value(v, out, cap);
    break;
  default: fixed_nz(v, 6, out, cap); break;
  }
}

const char *const *sb_sum_stats(const sb_summary_input *in, size_t *n) {
  *n = in->trend_stats ? in->ntrend_stats : 6;
  return in->trend_stats ? in->trend_stats : default_stats;
}

double sb_sum_trend_stat(const sb_hist *h, const char *stat) {
  if (!strcmp(stat, "avg")) return sb_hist_avg(h);
  if (!strcmp(stat, "min")) return h->count ? h->min : 0;
  if (!strcmp(stat, "max")) return h->count ? h->max : 0;
  if (!strcmp(stat, "med")) return sb_hist_quantile(h, 0.5);
  if (!strcmp(stat, "count")) return (double)h->count;
  if (!strncmp(stat, "p(", 2)) return sb_hist_quantile(h, strtod(stat + 2, NULL) / 100.0);
  return 0;
}

/* Fills a row's cells from its folded series (k6's nonTrendMetricValueForSum and trend cols). */
static int fill_cells(row *r, const sb_metric_info *mi, const sb_series *s,
                      const sb_summary_input *in, const char *const *stats, size_t nstats) {
  char v[96], a[128];
  const char *u = in->time_unit;
  r->trend = mi->type == SB_METRIC_TREND;
  if (!(r->cells = calloc(nstats + 3, sizeof(char *)))) return SB_ENOMEM;
#define CELL(...)                                                                                  \
  (snprintf(a, sizeof(a), __VA_ARGS__),                                                            \
   (r->cells[r->ncells] = strdup(a)) ? (r->ncells++, 0) : SB_ENOMEM)
  switch (mi->type) {
  case SB_METRIC_TREND:
    for (size_t i = 0; i < nstats; i++) {
      double x = sb_sum_trend_stat(&s->hist, stats[i]);
      if (!strcmp(stats[i], "count"))
        sb_sum_js_num(x, v, sizeof(v));
      else
        sb_sum_humanize(x, mi->type, mi->contains, u, v, sizeof(v));
      if (CELL("%s", v)) return SB_ENOMEM;
    }
    break;
  case SB_METRIC_COUNTER: {
    double rate = in->duration_s > 0 ? s->value / in->duration_s : 0;
    sb_sum_humanize(s->value, mi->type, mi->contains, u, v, sizeof(v));
    if (CELL("%s", v)) return SB_ENOMEM;
    sb_sum_humanize(rate, mi->type, mi->contains, u, v, sizeof(v));
    if (CELL("%s/s", v)) return SB_ENOMEM;
    break;
  }
  case SB_METRIC_GAUGE:
    sb_sum_humanize(s->value, mi->type, mi->contains, u, v, sizeof(v));
    if (CELL("%s", v)) return SB_ENOMEM;
    sb_sum_humanize(s->hist.count ? s->hist.min : 0, mi->type, mi->contains, u, v, sizeof(v));
    if (CELL("min=%s", v)) return SB_ENOMEM;
    sb_sum_humanize(s->hist.count ? s->hist.max : 0, mi->type, mi->contains, u, v, sizeof(v));
    if (CELL("max=%s", v)) return SB_ENOMEM;
    break;
  case SB_METRIC_RATE: {
    unsigned long long t = s->trues, f = s->total - s->trues;
    sb_sum_humanize(s->total ? (double)s->trues / (double)s->total : 0, mi->type, mi->contains, u,
                    v, sizeof(v));
    if (CELL("%s", v)) return SB_ENOMEM;
    if (in->mode != SB_SUMMARY_LEGACY) /* k6 v1: "14 out of 1000" */
      return CELL("%llu out of %llu", t, t + f);
    if (CELL(SUCC_MARK " %llu", t) || CELL(FAIL_MARK " %llu", f)) return SB_ENOMEM;
    break;
  }
  }
#undef CELL
  return 0;
}

void sb_sum_rows_free(rows *rs) {
  for (size_t i = 0; i < rs->n; i++) {
    for (size_t j = 0; j < rs->v[i].ncells; j++)
      free(rs->v[i].cells[j]);
    free(rs->v[i].cells);
    free(rs->v[i].key);
  }
  free(rs->v);
  memset(rs, 0, sizeof(*rs));
}

static row *rows_find(rows *rs, const char *key) {
  for (size_t i = 0; i < rs->n; i++)
    if (!strcmp(rs->v[i].key, key)) return &rs->v[i];
  return NULL;
}

row *sb_sum_rows_add(rows *rs, const char *key, int metric, const char *const *f, size_t nf,
                     int sub) {
  if (rs->n == rs->cap) {
    size_t cap = rs->cap ? rs->cap * 2 : 32;
    row *nv = realloc(rs->v, cap * sizeof(*nv));
    if (!nv) return NULL;
    rs->v = nv;
    rs->cap = cap;
  }
  row *r = &rs->v[rs->n];
  memset(r, 0, sizeof(*r));
  if (!(r->key = strdup(key))) return NULL;
  r->metric = metric;
  r->filter = f;
  r->nfilter = nf;
  r->sub = sub;
  rs->n++;
  return r;
}

static int touched(const sb_metrics *m, int id, const char *const *f, size_t nf) {
  sb_series s;
  sb_series_init(&s, id);
  int rc = sb_metrics_fold(m, id, f, nf, &s);
  uint64_t t = s.touched;
  sb_series_clear(&s);
  return rc ? -1 : t > 0;
}

/* Which lines the summary has: metrics with samples or a threshold, threshold sub-metrics, and
 * http_req_duration{expected_response:true} when it has samples. */
int sb_sum_collect_rows(rows *rs, const sb_summary_input *in) {
  const sb_metrics *m = in->metrics;
  for (int id = 0; id < sb_metrics_count(m); id++) {
    const char *name = sb_metrics_info(m, id)->name;
    int t = touched(m, id, NULL, 0), thr = 0;
    if (t < 0) return SB_ENOMEM;
    for (size_t i = 0; i < in->nthresholds; i++)
      thr |= !strcmp(in->thresholds[i].submetric, name);
    if ((t || thr) && !sb_sum_rows_add(rs, name, id, NULL, 0, 0)) return SB_ENOMEM;
  }
  for (size_t i = 0; i < in->nthresholds; i++) {
    const sb_threshold *th = &in->thresholds[i];
    int id = sb_metrics_find(m, th->metric);
    if (!th->nfilter || id < 0 || rows_find(rs, th->submetric)) continue;
    if (!sb_sum_rows_add(rs, th->submetric, id, (const char *const *)th->filter, th->nfilter, 1))
      return SB_ENOMEM;
  }
  const char *er = "http_req_duration{expected_response:true}";
  int t = touched(m, SB_M_HTTP_REQ_DURATION, expected_response, 1);
  if (t < 0) return SB_ENOMEM;
  if (t && !rows_find(rs, er) &&
      !sb_sum_rows_add(rs, er, SB_M_HTTP_REQ_DURATION, expected_response, 1, 1))
    return SB_ENOMEM;
  return 0;
}

/* A primary weight close to JS localeCompare (ICU root collation) for ASCII: punctuation before
 * digits before letters, letters case-blind. */
static int weight(unsigned char c) {
  if (c >= '0' && c <= '9') return 300 + c;
  if (c >= 'a' && c <= 'z') return 400 + c;
  if (c >= 'A' && c <= 'Z') return 400 + c - 'A' + 'a';
  return c; /* punctuation, spaces and non-ASCII bytes keep their order */
}

/* localeCompare on [x, x+nx) and [y, y+ny): by weights, then lowercase before uppercase. */
static int locale_cmp(const char *x, size_t nx, const char *y, size_t ny) {
  size_t n = nx < ny ? nx : ny;
  for (size_t i = 0; i < n; i++) {
    int d = weight((unsigned char)x[i]) - weight((unsigned char)y[i]);
    if (d) return d;
  }
  if (nx != ny) return nx < ny ? -1 : 1;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return (unsigned char)y[i] - (unsigned char)x[i]; /* 'a' before 'A' */
  return 0;
}

int sb_sum_locale_cmp(const char *x, const char *y) {
  return locale_cmp(x, strlen(x), y, strlen(y));
}

/* k6 sorts by parent name, then by the sub-metric part ("" first), both with localeCompare. */
int sb_sum_key_cmp(const char *x, const char *y) {
  size_t px = strcspn(x, "{"), py = strcspn(y, "{");
  int c = locale_cmp(x, px, y, py);
  return c ? c : locale_cmp(x + px, strlen(x + px), y + py, strlen(y + py));
}

int sb_sum_row_cmp(const void *a, const void *b) {
  return sb_sum_key_cmp(((const row *)a)->key, ((const row *)b)->key);
}

void sb_sum_display_name(const row *r, char *out, size_t cap) {
  const char *b = r->sub ? strchr(r->key, '{') : NULL;
  if (!b)
    snprintf(out, cap, "%s", r->key);
  else
    snprintf(out, cap, "{ %.*s }", (int)(strlen(b) - 2), b + 1);
}

int sb_sum_fill_rows(rows *rs, const sb_summary_input *in) {
  size_t nstats;
  const char *const *stats = sb_sum_stats(in, &nstats);
  for (size_t i = 0; i < rs->n; i++) {
    row *r = &rs->v[i];
    sb_series s;
    sb_series_init(&s, r->metric);
    int rc = sb_metrics_fold(in->metrics, r->metric, r->filter, r->nfilter, &s);
    if (!rc) rc = fill_cells(r, sb_metrics_info(in->metrics, r->metric), &s, in, stats, nstats);
    sb_series_clear(&s);
    if (rc) return SB_ENOMEM;
    for (size_t j = 0; j < in->nthresholds; j++) {
      if (strcmp(in->thresholds[j].submetric, r->key)) continue;
      int ok = !in->results || in->results[j].ok;
      if (r->mark != 2) r->mark = ok ? 1 : 2;
    }
  }
  return 0;
}

void sb_sum_pad(sb_buf *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    sb_buf_append(b, " ", 1);
}

/* Lays out the metric lines (k6's summarizeMetrics): names dotted to the longest + 3, every
 * value column padded to its widest cell. */
static int emit_rows(sb_buf *out, const rows *rs, const char *const *stats, size_t nstats) {
  size_t name_max = 0, val_max = 0, extra_max[MAX_EXTRAS] = {0};
  size_t *col_max = calloc(nstats + 1, sizeof(size_t));
  char name[512];
  if (!col_max) return SB_ENOMEM;
  for (size_t i = 0; i < rs->n; i++) {
    const row *r = &rs->v[i];
    sb_sum_display_name(r, name, sizeof(name));
    size_t w = width(name) + (r->sub ? 2 : 0);
    if (w > name_max) name_max = w;
    for (size_t j = 0; j < r->ncells; j++) {
      size_t cw = width(r->cells[j]), *slot = r->trend ? &col_max[j]
                                              : j == 0 ? &val_max
                                                       : &extra_max[j - 1];
      if (cw > *slot) *slot = cw;
    }
  }
  for (size_t i = 0; i < rs->n; i++) {
    const row *r = &rs->v[i];
    size_t start = out->len;
    sb_sum_display_name(r, name, sizeof(name));
    sb_buf_printf(out, "   %s%s %s", r->sub ? "  " : "",
                  r->mark == 1   ? SUCC_MARK
                  : r->mark == 2 ? FAIL_MARK
                                 : " ",
                  name);
    for (size_t d = name_max - width(name) - (r->sub ? 2 : 0) + 3; d; d--)
      sb_buf_append(out, ".", 1);
    sb_buf_puts(out, ": ");
    for (size_t j = 0; j < r->ncells; j++) {
      const char *c = r->cells[j];
      if (r->trend) {
        sb_buf_printf(out, "%s%s=%s", j ? " " : "", stats[j], c);
        pad(out, col_max[j] - width(c));
      } else {
        sb_buf_printf(out, "%s%s", j ? " " : "", c);
        /* a single extra (counters) is not padded; several are */
        if (j == 0)
          pad(out, val_max - width(c));
        else if (r->ncells > 2)
          pad(out, extra_max[j - 1] - width(c));
      }
    }
    while (out->len > start && out->data[out->len - 1] == ' ')
      out->data[--out->len] = '\0';
    sb_buf_puts(out, "\n");
  }
  free(col_max);
  return out->data || rs->n == 0 ? 0 : SB_ENOMEM;
}

/* ---- checks: the group/check tree from the `checks` series ---- */

/* Prints the checks of group |path| then its child groups (k6's summarizeGroup). Checks and
 * groups come in the order they first appeared (the metric set keeps its series in the order
 * they were first recorded), which is the script's order, as k6 prints them. */
static int emit_group(sb_buf *out, const check *cs, size_t n, const char *path, size_t indent,
                      int depth) {
  size_t shown = 0;
  int rc = 0;
  if (depth > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(cs[i].group, path)) continue;
    shown++;
    pad(out, indent);
    if (!cs[i].fails) {
      sb_buf_printf(out, SUCC_MARK " %s\n", cs[i].name);
      continue;
    }
    uint64_t pct = (100 * cs[i].passes) / (cs[i].passes + cs[i].fails);
    sb_buf_printf(out, FAIL_MARK " %s\n", cs[i].name);
    pad(out, indent);
    sb_buf_printf(
        out, " \xe2\x86\xb3  %llu%% \xe2\x80\x94 " SUCC_MARK " %llu / " FAIL_MARK " %llu\n",
        (unsigned long long)pct, (unsigned long long)cs[i].passes, (unsigned long long)cs[i].fails);
  }
  if (shown) sb_buf_puts(out, "\n");
  /* child groups, each once, in order of appearance; a group with only nested checks shows */
  size_t plen = strlen(path), nk = 0;
  char **kids = calloc(n, sizeof(char *));
  if (!kids) return SB_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *g = cs[i].group;
    if (strncmp(g, path, plen) || strncmp(g + plen, "::", 2) || !g[plen + 2]) continue;
    const char *seg = g + plen + 2, *end = strstr(seg, "::");
    size_t len = end ? (size_t)(end - seg) : strlen(seg), k;
    for (k = 0; k < nk; k++)
      if (strlen(kids[k]) == len && !strncmp(kids[k], seg, len)) break;
    if (k == nk) {
      if (!(kids[nk] = strndup(seg, len))) {
        rc = SB_ENOMEM;
        goto out;
      }
      nk++;
    }
  }
  for (size_t k = 0; k < nk && !rc; k++) {
    char child[1024];
    snprintf(child, sizeof(child), "%s::%s", path, kids[k]);
    pad(out, indent);
    sb_buf_printf(out, "\xe2\x96\x88 %s\n\n", kids[k]);
    rc = emit_group(out, cs, n, child, indent + 2, depth + 1);
  }
out:
  for (size_t k = 0; k < nk; k++)
    free(kids[k]);
  free(kids);
  return rc;
}

static int tags_have(const sb_tagset *t, const char *const *f, size_t nf) {
  for (size_t i = 0; i < nf; i++) {
    const char *v = sb_tagset_get(t, f[2 * i]);
    if (!v || strcmp(v, f[2 * i + 1])) return 0;
  }
  return 1;
}

int sb_sum_collect_checks(const sb_metrics *m, const char *const *filter, size_t nf, int by_group,
                          check **out, size_t *nout) {
  size_t it = 0, n = 0, cap = 0;
  check *cs = NULL;
  sb_series *s;
  *out = NULL;
  *nout = 0;
  while ((s = sb_metrics_next(m, &it))) {
    if (s->metric != SB_M_CHECKS || !tags_have(s->tags, filter, nf)) continue;
    const char *name = sb_tagset_get(s->tags, "check"), *group = sb_tagset_get(s->tags, "group");
    if (!name) continue;
    if (!group) group = "";
    size_t i;
    for (i = 0; i < n; i++)
      if (!strcmp(cs[i].name, name) && (!by_group || !strcmp(cs[i].group, group))) break;
    if (i == n) {
      if (n == cap) {
        check *nc = realloc(cs, (cap = cap ? cap * 2 : 16) * sizeof(*nc));
        if (!nc) {
          free(cs);
          return SB_ENOMEM;
        }
        cs = nc;
      }
      cs[n++] = (check){group, name, 0, 0};
    }
    cs[i].passes += s->trues;
    cs[i].fails += s->total - s->trues;
  }
  *out = cs;
  *nout = n;
  return 0;
}

static int emit_checks(sb_buf *out, const sb_metrics *m) {
  size_t n;
  check *cs = NULL;
  int rc = sb_sum_collect_checks(m, NULL, 0, 1, &cs, &n);
  if (!rc && n) rc = emit_group(out, cs, n, "", 5, 0);
  free(cs);
  return rc;
}

/* The classic layout (k6's summary-legacy.js). */
static int format_legacy(sb_buf *out, const sb_summary_input *in) {
  size_t nstats;
  const char *const *stats = sb_sum_stats(in, &nstats);
  rows rs = {0};
  int rc;
  sb_buf_puts(out, "\n");
  if ((rc = emit_checks(out, in->metrics))) goto done;
  if ((rc = sb_sum_collect_rows(&rs, in)) || (rc = sb_sum_fill_rows(&rs, in))) goto done;
  if (rs.n) qsort(rs.v, rs.n, sizeof(*rs.v), sb_sum_row_cmp);
  if ((rc = emit_rows(out, &rs, stats, nstats))) goto done;
  if (sb_buf_puts(out, "\n")) rc = SB_ENOMEM;
done:
  sb_sum_rows_free(&rs);
  return rc;
}

int sb_summary_format(sb_buf *out, const sb_summary_input *in) {
  switch (in->mode) {
  case SB_SUMMARY_LEGACY: return format_legacy(out, in);
  case SB_SUMMARY_COMPACT:
  case SB_SUMMARY_FULL: return sb_sum_format_compact(out, in);
  default: return 0;
  }
}

int sb_summary_print(FILE *out, const sb_summary_input *in) {
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_summary_format(&b, in);
  if (!rc && b.len && fwrite(b.data, 1, b.len, out) != b.len) rc = SB_EIO;
  sb_buf_clear(&b);
  return rc;
}

#undef width
#undef pad
