/* handleSummary()'s argument: the object k6 builds in summarizeMetricsToObject() and
 * exportGroup() (internal/js/summary.go), from the same rows the text summary shows. */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "controller/summary_internal.h"

static const char *const type_names[] = {"", "counter", "gauge", "rate", "trend"};
static const char *const contains_names[] = {"default", "time", "data"};

/* A number as JSON: integers exactly, NaN and infinities (which JSON lacks) as null. */
static json_t *num(double v) {
  if (!isfinite(v)) return json_null();
  if (v == floor(v) && fabs(v) < 9007199254740992.0) return json_integer((json_int_t)v);
  return json_real(v);
}

/* Sets |key| of |o| to |v| (taken); 1 on failure (|v| NULL or out of memory). */
static int set(json_t *o, const char *key, json_t *v) { return !v || json_object_set_new(o, key, v); }

/* k6's group and check id: the hex MD5 of the path. */
static json_t *md5_id(const char *path) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  if (!EVP_Digest(path, strlen(path), d, &n, EVP_md5(), NULL)) return NULL;
  for (unsigned int i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return json_string(hex);
}

/* --- root_group ------------------------------------------------------------------------------ */

typedef struct tree {
  char **paths; /* every group path, ancestors first, in order of appearance */
  size_t n, cap;
  const sb_sum_check *cs;
  size_t ncs;
} tree;

static int add_path(tree *t, const char *g, size_t len) {
  for (size_t i = 0; i < t->n; i++)
    if (strlen(t->paths[i]) == len && !strncmp(t->paths[i], g, len)) return 0;
  if (t->n == t->cap) {
    char **nv = realloc(t->paths, (t->cap = t->cap ? 2 * t->cap : 16) * sizeof(char *));
    if (!nv) return SB_ENOMEM;
    t->paths = nv;
  }
  return (t->paths[t->n] = strndup(g, len)) ? (t->n++, 0) : SB_ENOMEM;
}

static int collect_paths(tree *t, const sb_metrics *m) {
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    const char *g = sb_tagset_get(s->tags, "group");
    if (!g || strncmp(g, "::", 2)) continue;
    for (const char *p = g; p;) {
      p = strstr(p + 2, "::");
      if (add_path(t, g, p ? (size_t)(p - g) : strlen(g))) return SB_ENOMEM;
    }
  }
  return 0;
}

/* exportGroup(): {name, path, id, groups: [...], checks: [...]} of group |path|. */
static json_t *group_json(const tree *t, const char *path, int depth) {
  const char *name = strrchr(path, ':');
  json_t *g = json_object(), *groups = json_array(), *checks = json_array();
  int bad = !g || !groups || !checks;
  size_t plen = strlen(path);
  for (size_t i = 0; i < t->n && !bad && depth < 64; i++) {
    const char *c = t->paths[i];
    if (strncmp(c, path, plen) || strncmp(c + plen, "::", 2) || strstr(c + plen + 2, "::")) continue;
    json_t *sub = group_json(t, c, depth + 1);
    bad = !sub || json_array_append_new(groups, sub);
  }
  for (size_t i = 0; i < t->ncs && !bad; i++) {
    if (strcmp(t->cs[i].group, path)) continue;
    size_t n = plen + 2 + strlen(t->cs[i].name) + 1;
    char *cp = malloc(n);
    json_t *c = json_object();
    if (cp) snprintf(cp, n, "%s::%s", path, t->cs[i].name);
    bad = !cp || !c || set(c, "name", json_string(t->cs[i].name)) || set(c, "path", json_string(cp)) ||
          set(c, "id", md5_id(cp)) || set(c, "passes", json_integer((json_int_t)t->cs[i].passes)) ||
          set(c, "fails", json_integer((json_int_t)t->cs[i].fails));
    free(cp);
    if (bad || json_array_append_new(checks, c)) {
      json_decref(c);
      bad = 1;
    }
  }
  if (!bad)
    bad = set(g, "name", json_string(name ? name + 1 : "")) || set(g, "path", json_string(path)) ||
          set(g, "id", md5_id(path)) || json_object_set(g, "groups", groups) ||
          json_object_set(g, "checks", checks);
  json_decref(groups);
  json_decref(checks);
  if (bad) json_decref(g);
  return bad ? NULL : g;
}

static json_t *root_group(const sb_metrics *m) {
  tree t = {0};
  sb_sum_check *cs = NULL;
  json_t *g = NULL;
  if (!collect_paths(&t, m) && !sb_sum_collect_checks(m, NULL, 0, 1, &cs, &t.ncs)) {
    t.cs = cs;
    g = group_json(&t, "", 0);
  }
  for (size_t i = 0; i < t.n; i++)
    free(t.paths[i]);
  free(t.paths);
  free(cs);
  return g;
}

/* --- metrics --------------------------------------------------------------------------------- */

/* metricValueGetter(): the values object of a folded series. */
static json_t *values(const sb_metric_info *mi, const sb_series *s, const sb_summary_input *in) {
  json_t *v = json_object();
  size_t nstats;
  const char *const *stats = sb_sum_stats(in, &nstats);
  double secs = in->duration_s;
  int bad = !v;
  switch (mi->type) {
  case SB_METRIC_COUNTER:
    bad = bad || set(v, "count", num(s->value)) || set(v, "rate", num(secs > 0 ? s->value / secs : 0));
    break;
  case SB_METRIC_GAUGE:
    bad = bad || set(v, "value", num(s->value)) ||
          set(v, "min", num(s->hist.count ? s->hist.min : 0)) ||
          set(v, "max", num(s->hist.count ? s->hist.max : 0));
    break;
  case SB_METRIC_RATE:
    bad = bad || set(v, "rate", num(s->total ? (double)s->trues / (double)s->total : 0)) ||
          set(v, "passes", num((double)s->trues)) || set(v, "fails", num((double)(s->total - s->trues)));
    break;
  case SB_METRIC_TREND:
    for (size_t i = 0; i < nstats && !bad; i++)
      bad = set(v, stats[i], num(sb_sum_trend_stat(&s->hist, stats[i])));
    break;
  }
  if (bad) json_decref(v);
  return bad ? NULL : v;
}

/* One entry of data.metrics: {type, contains, values[, thresholds: {expr: {ok}}]}. */
static json_t *metric_json(const sb_sum_row *r, const sb_summary_input *in) {
  const sb_metric_info *mi = sb_metrics_info(in->metrics, r->metric);
  sb_series s;
  sb_series_init(&s, r->metric);
  json_t *m = json_object(), *th = NULL;
  int bad = !m || sb_metrics_fold(in->metrics, r->metric, r->filter, r->nfilter, &s) ||
            set(m, "type", json_string(type_names[mi->type])) ||
            set(m, "contains", json_string(contains_names[mi->contains])) ||
            set(m, "values", values(mi, &s, in));
  sb_series_clear(&s);
  for (size_t i = 0; i < in->nthresholds && !bad; i++) {
    if (strcmp(in->thresholds[i].submetric, r->key)) continue;
    if (!th && (bad = set(m, "thresholds", th = json_object()))) break;
    bad = set(th, in->thresholds[i].expr,
              json_pack("{s:b}", "ok", !in->results || in->results[i].ok));
  }
  if (bad) json_decref(m);
  return bad ? NULL : m;
}

static json_t *metrics_json(const sb_summary_input *in) {
  sb_sum_rows rs = {0};
  json_t *o = json_object();
  int bad = !o || sb_sum_collect_rows(&rs, in);
  for (size_t i = 0; i < rs.n && !bad; i++)
    bad = set(o, rs.v[i].key, metric_json(&rs.v[i], in));
  sb_sum_rows_free(&rs);
  if (bad) json_decref(o);
  return bad ? NULL : o;
}

/* --- the whole object ------------------------------------------------------------------------ */

static json_t *options_json(const sb_summary_input *in, const sb_summary_state *st) {
  size_t nstats;
  const char *const *stats = sb_sum_stats(in, &nstats);
  json_t *o = json_object(), *a = json_array();
  int bad = !o || !a;
  for (size_t i = 0; i < nstats && !bad; i++)
    bad = json_array_append_new(a, json_string(stats[i]));
  bad = bad || json_object_set(o, "summaryTrendStats", a) ||
        set(o, "summaryTimeUnit", json_string(in->time_unit ? in->time_unit : "")) ||
        set(o, "noColor", json_boolean(st->no_color));
  json_decref(a);
  if (bad) json_decref(o);
  return bad ? NULL : o;
}

static json_t *state_json(const sb_summary_input *in, const sb_summary_state *st) {
  json_t *o = json_object();
  if (!o || set(o, "isStdOutTTY", json_boolean(st->stdout_tty)) ||
      set(o, "isStdErrTTY", json_boolean(st->stderr_tty)) ||
      set(o, "testRunDurationMs", num(in->duration_s * 1000.0))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int sb_summary_data_json(sb_buf *out, const sb_summary_input *in, const sb_summary_state *st) {
  json_t *d = json_object();
  int bad = !d || set(d, "root_group", root_group(in->metrics)) ||
            set(d, "options", options_json(in, st)) || set(d, "state", state_json(in, st)) ||
            set(d, "metrics", metrics_json(in));
  char *text = bad ? NULL : json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
  json_decref(d);
  int rc = text && !sb_buf_puts(out, text) ? 0 : SB_ENOMEM;
  free(text);
  return rc;
}
