/* Prometheus text exposition of the fleet's metrics (controller/prom.h). */
#include "controller/prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends |s| as a metric or label name: invalid characters become '_', a leading digit gets a
 * '_' before it. */
static int put_name(sb_buf *out, const char *s) {
  int rc = 0;
  if (*s >= '0' && *s <= '9') rc |= sb_buf_append(out, "_", 1);
  for (; *s && !rc; s++) {
    char c = *s;
    int ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    rc |= sb_buf_append(out, ok ? s : "_", 1);
  }
  return rc;
}

/* Appends a label value with \\, \" and \n escaped. */
static int put_value(sb_buf *out, const char *s) {
  int rc = 0;
  for (; *s && !rc; s++) {
    if (*s == '\\') rc = sb_buf_append(out, "\\\\", 2);
    else if (*s == '"') rc = sb_buf_append(out, "\\\"", 2);
    else if (*s == '\n') rc = sb_buf_append(out, "\\n", 2);
    else rc = sb_buf_append(out, s, 1);
  }
  return rc;
}

/* Appends "{k="v",...}" for the series' tags plus |extra| (a "quantile" pair, or NULL). */
static int put_labels(sb_buf *out, const sb_tagset *t, const char *ek, const char *ev) {
  const char *const *kv = NULL;
  size_t n = t ? sb_tagset_pairs(t, &kv) : 0;
  if (!n && !ek) return 0;
  int rc = sb_buf_append(out, "{", 1);
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) rc |= sb_buf_append(out, ",", 1);
    rc |= put_name(out, kv[2 * i]);
    rc |= sb_buf_append(out, "=\"", 2);
    rc |= put_value(out, kv[2 * i + 1]);
    rc |= sb_buf_append(out, "\"", 1);
  }
  if (ek && !rc) {
    if (n) rc |= sb_buf_append(out, ",", 1);
    rc |= sb_buf_printf(out, "%s=\"%s\"", ek, ev);
  }
  return rc | sb_buf_append(out, "}", 1);
}

static int put_number(sb_buf *out, double v) {
  if (isnan(v)) return sb_buf_puts(out, "NaN");
  if (isinf(v)) return sb_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
  return sb_buf_printf(out, "%.17g", v);
}

/* One line: <prefix><name><suffix>{labels} value */
static int put_line(sb_buf *out, const char *name, const char *suffix, const sb_series *s,
                    const char *ek, const char *ev, double v) {
  int rc = sb_buf_puts(out, "k6_");
  rc |= put_name(out, name);
  rc |= sb_buf_puts(out, suffix);
  rc |= put_labels(out, s->tags, ek, ev);
  rc |= sb_buf_append(out, " ", 1);
  rc |= put_number(out, v);
  return rc | sb_buf_append(out, "\n", 1);
}

static int put_header(sb_buf *out, const char *name, const char *suffix, const char *type) {
  int rc = sb_buf_puts(out, "# TYPE k6_");
  rc |= put_name(out, name);
  return rc | sb_buf_printf(out, "%s %s\n", suffix, type);
}

static const double QUANTILES[] = {0.5, 0.9, 0.95, 0.99};

/* Every series of metric |id|, as its family (or families, for a rate). */
static int put_metric(sb_buf *out, const sb_metrics *m, int id, sb_series **all, size_t n) {
  const sb_metric_info *mi = sb_metrics_info(m, id);
  int rc = 0, time = mi->contains == SB_VALUE_TIME;
  const char *tsuf = time ? "_seconds" : "";
  double scale = time ? 1e-3 : 1;
  switch (mi->type) {
  case SB_METRIC_COUNTER:
    rc |= put_header(out, mi->name, "_total", "counter");
    for (size_t i = 0; i < n; i++) rc |= put_line(out, mi->name, "_total", all[i], NULL, NULL, all[i]->value);
    break;
  case SB_METRIC_GAUGE:
    rc |= put_header(out, mi->name, "", "gauge");
    for (size_t i = 0; i < n; i++) rc |= put_line(out, mi->name, "", all[i], NULL, NULL, all[i]->value);
    break;
  case SB_METRIC_RATE:
    rc |= put_header(out, mi->name, "_rate", "gauge");
    for (size_t i = 0; i < n; i++)
      rc |= put_line(out, mi->name, "_rate", all[i], NULL, NULL,
                     all[i]->total ? (double)all[i]->trues / (double)all[i]->total : 0);
    rc |= put_header(out, mi->name, "_true_total", "counter");
    for (size_t i = 0; i < n; i++)
      rc |= put_line(out, mi->name, "_true_total", all[i], NULL, NULL, (double)all[i]->trues);
    rc |= put_header(out, mi->name, "_total", "counter");
    for (size_t i = 0; i < n; i++)
      rc |= put_line(out, mi->name, "_total", all[i], NULL, NULL, (double)all[i]->total);
    break;
  case SB_METRIC_TREND:
    rc |= put_header(out, mi->name, tsuf, "summary");
    for (size_t i = 0; i < n && !rc; i++) {
      const sb_hist *h = &all[i]->hist;
      char q[16];
      for (size_t k = 0; k < sizeof(QUANTILES) / sizeof(QUANTILES[0]); k++) {
        snprintf(q, sizeof(q), "%g", QUANTILES[k]);
        rc |= put_line(out, mi->name, tsuf, all[i], "quantile", q,
                       sb_hist_quantile(h, QUANTILES[k]) * scale);
      }
      char sum[32], count[32];
      snprintf(sum, sizeof(sum), "%s_sum", tsuf);
      snprintf(count, sizeof(count), "%s_count", tsuf);
      rc |= put_line(out, mi->name, sum, all[i], NULL, NULL, h->sum * scale);
      rc |= put_line(out, mi->name, count, all[i], NULL, NULL, (double)h->count);
    }
    break;
  }
  return rc;
}

static int by_name(const void *a, const void *b, void *set) {
  return strcmp(sb_metrics_info(set, *(const int *)a)->name,
                sb_metrics_info(set, *(const int *)b)->name);
}

int sb_prom_write(sb_buf *out, const sb_metrics *m) {
  int nm = sb_metrics_count(m), rc = 0;
  size_t ns = 0, it = 0, cap = 64;
  sb_series **all = malloc(cap * sizeof(*all)), *s;
  int *ids = malloc((size_t)(nm > 0 ? nm : 1) * sizeof(*ids));
  if (!all || !ids) rc = SB_ENOMEM;
  while (!rc && (s = sb_metrics_next(m, &it))) {
    if (ns == cap) {
      sb_series **g = realloc(all, 2 * cap * sizeof(*all));
      if (!g) { rc = SB_ENOMEM; break; }
      all = g, cap *= 2;
    }
    all[ns++] = s;
  }
  for (int i = 0; i < nm && ids; i++) ids[i] = i;
  if (!rc) qsort_r(ids, (size_t)nm, sizeof(*ids), by_name, (void *)m);
  sb_series **mine = rc ? NULL : malloc((ns ? ns : 1) * sizeof(*mine));
  if (!rc && !mine) rc = SB_ENOMEM;
  for (int k = 0; k < nm && !rc; k++) {
    size_t n = 0;
    for (size_t i = 0; i < ns; i++)
      if (all[i]->metric == ids[k]) mine[n++] = all[i];
    if (n) rc = put_metric(out, m, ids[k], mine, n) ? SB_ENOMEM : 0;
  }
  free(mine);
  free(all);
  free(ids);
  return rc;
}
