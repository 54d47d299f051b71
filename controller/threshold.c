/* Thresholds: parse k6's keys and expressions, evaluate them on a metric set. */
#include "controller/threshold.h"

#include "common/buf.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_range(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Trims spaces, then one pair of matching quotes, then spaces again, from [*b, *e). */
static void trim(const char **b, const char **e) {
  while (*b < *e && isspace((unsigned char)**b))
    (*b)++;
  while (*e > *b && isspace((unsigned char)(*e)[-1]))
    (*e)--;
  if (*e - *b >= 2 && (**b == '"' || **b == '\'') && (*e)[-1] == **b) {
    (*b)++;
    (*e)--;
    while (*b < *e && isspace((unsigned char)**b))
      (*b)++;
    while (*e > *b && isspace((unsigned char)(*e)[-1]))
      (*e)--;
  }
}

#define FAIL(...) (rc = sb_err_set(err, SB_EINVAL, __VA_ARGS__))

/* "name{k:v,k2:v2}" -> metric, filter pairs, normalized submetric name. */
static int parse_key(sb_threshold *t, const char *key, sb_err *err) {
  int rc = 0;
  const char *brace = strchr(key, '{'), *end = key + strlen(key), *b = key, *e;
  e = brace ? brace : end;
  trim(&b, &e);
  if (b == e) return FAIL("thresholds: '%s': missing metric name", key);
  if (!(t->metric = dup_range(b, (size_t)(e - b)))) goto nomem;
  if (!brace) {
    if (!(t->submetric = dup_range(b, (size_t)(e - b)))) goto nomem;
    return 0;
  }
  const char *close = end;
  while (close > brace && isspace((unsigned char)close[-1]))
    close--;
  /* as k6: the filter runs from the first '{' to the last '}', so a value may hold braces
   * (http.url's names: "name:http://x/posts/${}") */
  if (close == brace || close[-1] != '}')
    return FAIL("thresholds: '%s': the tag filter must be one {tag:value,...} at the end", key);
  close--; /* at '}' */
  size_t cap = 1;
  for (const char *p = brace + 1; p < close; p++)
    cap += *p == ',';
  if (!(t->filter = calloc(2 * cap, sizeof(char *)))) goto nomem;
  sb_buf norm;
  sb_buf_init(&norm);
  if (sb_buf_printf(&norm, "%s{", t->metric)) goto nomem_buf;
  for (const char *p = brace + 1; p <= close;) {
    const char *q = p;
    while (q < close && *q != ',')
      q++;
    const char *colon = memchr(p, ':', (size_t)(q - p));
    const char *kb = p, *ke = colon ? colon : q, *vb = colon ? colon + 1 : q, *ve = q;
    trim(&kb, &ke);
    trim(&vb, &ve);
    if (!colon || kb == ke) {
      sb_buf_clear(&norm);
      return FAIL("thresholds: '%s': tag filter '%.*s' must be tag:value", key, (int)(q - p), p);
    }
    char *k = dup_range(kb, (size_t)(ke - kb)), *v = dup_range(vb, (size_t)(ve - vb));
    if (!k || !v) {
      free(k);
      free(v);
      goto nomem_buf;
    }
    t->filter[2 * t->nfilter] = k;
    t->filter[2 * t->nfilter + 1] = v;
    if (sb_buf_printf(&norm, "%s%s:%s", t->nfilter ? "," : "", t->filter[2 * t->nfilter],
                      t->filter[2 * t->nfilter + 1]))
      goto nomem_buf;
    t->nfilter++;
    p = q + 1;
  }
  if (sb_buf_puts(&norm, "}")) goto nomem_buf;
  t->submetric = sb_buf_steal(&norm, NULL);
  return 0;
nomem_buf:
  sb_buf_clear(&norm);
nomem:
  return sb_err_set(err, SB_ENOMEM, "thresholds: '%s': out of memory", key);
}

static const struct {
  const char *text;
  sb_threshold_op op;
} ops[] = {{"===", SB_OP_EQ}, {"==", SB_OP_EQ}, {"!=", SB_OP_NE}, {"<=", SB_OP_LE},
           {">=", SB_OP_GE},  {"<", SB_OP_LT},  {">", SB_OP_GT}};

static int parse_agg(sb_threshold *t, const char *b, const char *e) {
  static const struct {
    const char *name;
    sb_threshold_agg agg;
  } aggs[] = {{"avg", SB_AGG_AVG},    {"min", SB_AGG_MIN},     {"max", SB_AGG_MAX},
              {"med", SB_AGG_MED},    {"count", SB_AGG_COUNT}, {"rate", SB_AGG_RATE},
              {"value", SB_AGG_VALUE}};
  size_t n = (size_t)(e - b);
  for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++)
    if (strlen(aggs[i].name) == n && !memcmp(aggs[i].name, b, n)) {
      t->agg = aggs[i].agg;
      return 0;
    }
  /* p(N), spaces allowed inside the parentheses */
  if (n < 4 || b[0] != 'p' || b[1] != '(' || e[-1] != ')') return -1;
  char num[64];
  const char *nb = b + 2, *ne = e - 1;
  trim(&nb, &ne);
  if (ne == nb || (size_t)(ne - nb) >= sizeof(num)) return -1;
  memcpy(num, nb, (size_t)(ne - nb));
  num[ne - nb] = '\0';
  char *end;
  double v = strtod(num, &end);
  if (*end || !(v >= 0 && v <= 100)) return -1;
  t->agg = SB_AGG_PCT;
  t->pct = v;
  return 0;
}

/* "<agg> <op> <number>", spaces anywhere between the parts. */
static int parse_expr(sb_threshold *t, const char *key, const char *expr, sb_err *err) {
  int rc = 0;
  const char *opp = expr + strcspn(expr, "<>=!"), *b = expr, *e = opp;
  size_t oplen = 0;
  if (!*opp)
    return FAIL("thresholds: '%s': '%s': missing operator (one of < <= > >= == === !=)", key, expr);
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (!strncmp(opp, ops[i].text, strlen(ops[i].text))) {
      t->op = ops[i].op;
      oplen = strlen(ops[i].text);
      break;
    }
  if (!oplen) return FAIL("thresholds: '%s': '%s': unknown operator", key, expr);
  trim(&b, &e);
  if (b == e) return FAIL("thresholds: '%s': '%s': missing aggregation", key, expr);
  if (parse_agg(t, b, e))
    return FAIL("thresholds: '%s': '%s': unknown aggregation '%.*s' (use avg, min, max, med, "
                "p(N), count, rate or value)",
                key, expr, (int)(e - b), b);
  const char *nb = opp + oplen, *ne = nb + strlen(nb);
  trim(&nb, &ne);
  char num[64], *end;
  if (nb == ne || (size_t)(ne - nb) >= sizeof(num))
    return FAIL("thresholds: '%s': '%s': missing number after the operator", key, expr);
  memcpy(num, nb, (size_t)(ne - nb));
  num[ne - nb] = '\0';
  t->limit = strtod(num, &end);
  if (*end || !isfinite(t->limit))
    return FAIL("thresholds: '%s': '%s': '%s' is not a number", key, expr, num);
  return 0;
}

int sb_threshold_parse(sb_threshold *t, const char *key, const char *expr, sb_err *err) {
  int rc;
  memset(t, 0, sizeof(*t));
  if (!(t->key = strdup(key)) || !(t->expr = strdup(expr))) {
    rc = sb_err_set(err, SB_ENOMEM, "thresholds: out of memory");
    goto fail;
  }
  if ((rc = parse_key(t, key, err)) || (rc = parse_expr(t, key, expr, err))) goto fail;
  return 0;
fail:
  sb_threshold_clear(t);
  return rc;
}

void sb_threshold_clear(sb_threshold *t) {
  free(t->key);
  free(t->metric);
  free(t->submetric);
  free(t->expr);
  if (t->filter)
    for (size_t i = 0; i < 2 * t->nfilter; i++)
      free(t->filter[i]);
  free(t->filter);
  memset(t, 0, sizeof(*t));
}

static const char *type_name(sb_metric_type type) {
  switch (type) {
  case SB_METRIC_COUNTER: return "counter";
  case SB_METRIC_GAUGE: return "gauge";
  case SB_METRIC_RATE: return "rate";
  case SB_METRIC_TREND: return "trend";
  }
  return "unknown";
}

/* The aggregation as k6 writes it: "avg", "p(95)". */
static const char *agg_name(const sb_threshold *t, char *buf, size_t cap) {
  switch (t->agg) {
  case SB_AGG_AVG: return "avg";
  case SB_AGG_MIN: return "min";
  case SB_AGG_MAX: return "max";
  case SB_AGG_MED: return "med";
  case SB_AGG_PCT: snprintf(buf, cap, "p(%g)", t->pct); return buf;
  case SB_AGG_COUNT: return "count";
  case SB_AGG_RATE: return "rate";
  case SB_AGG_VALUE: return "value";
  }
  return "?";
}

int sb_threshold_check_type(const sb_threshold *t, sb_metric_type type, sb_err *err) {
  int fits = 0;
  const char *allowed = "";
  switch (type) {
  case SB_METRIC_TREND:
    fits = t->agg == SB_AGG_AVG || t->agg == SB_AGG_MIN || t->agg == SB_AGG_MAX ||
           t->agg == SB_AGG_MED || t->agg == SB_AGG_PCT;
    allowed = "avg, min, max, med or p(N)";
    break;
  case SB_METRIC_COUNTER:
    fits = t->agg == SB_AGG_COUNT || t->agg == SB_AGG_RATE;
    allowed = "count or rate";
    break;
  case SB_METRIC_RATE:
    fits = t->agg == SB_AGG_RATE;
    allowed = "rate";
    break;
  case SB_METRIC_GAUGE:
    fits = t->agg == SB_AGG_VALUE;
    allowed = "value";
    break;
  }
  if (fits) return 0;
  char buf[48];
  return sb_err_set(
      err, SB_EINVAL,
      "thresholds: '%s': '%s': aggregation '%s' does not apply to a %s metric (use %s)", t->key,
      t->expr, agg_name(t, buf, sizeof(buf)), type_name(type), allowed);
}

static const sb_metric_info *find_info(const sb_metric_info *v, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i].name, name)) return &v[i];
  return NULL;
}

int sb_thresholds_validate(const sb_threshold *t, size_t n, const sb_metric_info *custom,
                           size_t ncustom, sb_err *err) {
  sb_metrics *builtin = NULL;
  if (sb_metrics_new(&builtin)) return sb_err_set(err, SB_ENOMEM, "thresholds: out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    int id = sb_metrics_find(builtin, t[i].metric);
    const sb_metric_info *mi = id >= 0 ? sb_metrics_info(builtin, id)
                                       : find_info(custom, custom ? ncustom : 0, t[i].metric);
    if (mi)
      rc = sb_threshold_check_type(&t[i], mi->type, err);
    else
      rc = sb_err_set(err, SB_EINVAL,
                      "thresholds: '%s': no metric name \"%s\" found: neither a built-in metric "
                      "nor one the init code creates with k6/metrics",
                      t[i].key, t[i].metric);
  }
  sb_metrics_free(builtin);
  return rc;
}

int sb_thresholds_parse(const sb_options *o, sb_threshold **out, size_t *n, sb_err *err) {
  sb_threshold *t = calloc(o->nthresholds ? o->nthresholds : 1, sizeof(*t));
  if (!t) return sb_err_set(err, SB_ENOMEM, "thresholds: out of memory");
  for (size_t i = 0; i < o->nthresholds; i++) {
    int rc = sb_threshold_parse(&t[i], o->thresholds[i].metric, o->thresholds[i].expr, err);
    if (rc) {
      sb_thresholds_free(t, i);
      return rc;
    }
    t[i].abort_on_fail = o->thresholds[i].abort_on_fail;
    t[i].delay_abort_eval_ms = o->thresholds[i].delay_abort_eval_ms;
  }
  *out = t;
  *n = o->nthresholds;
  return 0;
}

void sb_thresholds_free(sb_threshold *t, size_t n) {
  if (!t) return;
  for (size_t i = 0; i < n; i++)
    sb_threshold_clear(&t[i]);
  free(t);
}

/* The aggregate of a folded series; empty series give 0 (k6's empty sinks). */
static double aggregate(const sb_threshold *t, const sb_series *s, double duration_s) {
  switch (t->agg) {
  case SB_AGG_AVG: return sb_hist_avg(&s->hist);
  case SB_AGG_MIN: return s->hist.count ? s->hist.min : 0;
  case SB_AGG_MAX: return s->hist.count ? s->hist.max : 0;
  case SB_AGG_MED: return sb_hist_quantile(&s->hist, 0.5);
  case SB_AGG_PCT: return sb_hist_quantile(&s->hist, t->pct / 100.0);
  case SB_AGG_COUNT: return s->value;
  case SB_AGG_RATE:
    if (s->total || s->trues) return s->total ? (double)s->trues / (double)s->total : 0;
    return duration_s > 0 ? s->value / duration_s : 0; /* counter */
  case SB_AGG_VALUE: return s->value;
  }
  return 0;
}

int sb_threshold_value(const sb_threshold *t, const sb_metrics *m, double duration_s, double *value,
                       uint64_t *nsamples, sb_err *err) {
  int id = sb_metrics_find(m, t->metric), rc;
  sb_series s;
  *value = 0;
  *nsamples = 0;
  if (id < 0) return 0;
  const sb_metric_info *mi = sb_metrics_info(m, id);
  if ((rc = sb_threshold_check_type(t, mi->type, err))) return rc;
  sb_series_init(&s, id);
  if (sb_metrics_fold(m, id, (const char *const *)t->filter, t->nfilter, &s)) {
    sb_series_clear(&s);
    return sb_err_set(err, SB_ENOMEM, "thresholds: '%s': out of memory", t->key);
  }
  *nsamples = s.touched;
  *value = aggregate(t, &s, duration_s);
  sb_series_clear(&s);
  return 0;
}

int sb_threshold_compare(const sb_threshold *t, double v) {
  switch (t->op) {
  case SB_OP_LT: return v < t->limit;
  case SB_OP_LE: return v <= t->limit;
  case SB_OP_GT: return v > t->limit;
  case SB_OP_GE: return v >= t->limit;
  case SB_OP_EQ: return v == t->limit;
  case SB_OP_NE: return !isnan(v) && v != t->limit;
  }
  return 0;
}

int sb_threshold_eval(const sb_threshold *t, const sb_metrics *m, double duration_s, int skip_empty,
                      sb_threshold_result *res, sb_err *err) {
  uint64_t n;
  double v;
  int rc = sb_threshold_value(t, m, duration_s, &v, &n, err);
  res->ok = 1;
  res->evaluated = 0;
  res->observed = 0;
  if (rc) return rc;
  res->observed = v;
  if (skip_empty && n == 0) return 0;
  res->evaluated = 1;
  res->ok = sb_threshold_compare(t, v);
  return 0;
}
