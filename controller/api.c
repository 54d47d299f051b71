/* The REST API's handlers (controller/api.h): JSON:API documents built from the run state with
 * jansson, one function per endpoint; the HTTP server around them is in api_http.c. */
#include "controller/api.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct req {
  const sb_run_state *st;
  const sb_run_control *ctl;
  int64_t now_us;
  sb_buf *out;
} req;

/* Writes |doc| (taken) to the response; 200 unless it cannot. */
static int reply(req *q, json_t *doc, int status) {
  char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (!s) {
    sb_buf_puts(q->out, "{\"errors\":[{\"status\":\"500\",\"title\":\"Encoding error\"}]}");
    return 500;
  }
  sb_buf_puts(q->out, s);
  free(s);
  return status;
}

/* k6's error document: {"errors": [{"status", "title", "detail"}]}. */
static int error(req *q, int status, const char *title, const char *detail) {
  char st[8];
  snprintf(st, sizeof(st), "%d", status);
  json_t *e =
      json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "status", st, "title", title, "detail", detail);
  return reply(q, e, status);
}

static int error_code(req *q, int rc, const sb_err *err) {
  if (rc == SB_ECANCELED) return error(q, 409, "Conflict", err->msg);
  if (rc == SB_ENOTFOUND) return error(q, 404, "Not Found", err->msg);
  if (rc == SB_EINVAL) return error(q, 400, "Invalid data", err->msg);
  return error(q, 500, "Internal error", err->msg[0] ? err->msg : "out of memory");
}

/* A number as JSON: integers exactly, NaN and infinities as null. */
static json_t *num(double v) {
  if (!isfinite(v)) return json_null();
  if (v == floor(v) && fabs(v) < 9007199254740992.0) return json_integer((json_int_t)v);
  return json_real(v);
}

/* k6's group and check ids: the hex MD5 of the path. */
static void md5_hex(const char *s, char out[33]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  out[0] = '\0';
  if (!EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL)) return;
  for (unsigned int i = 0; i < n && i < 16; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* --- status ------------------------------------------------------------------------------------
 */

static json_t *status_doc(const sb_run_state *st) {
  int running = st->phase == SB_PHASE_RUNNING;
  return json_pack("{s:{s:s,s:s,s:{s:i,s:b,s:I,s:I,s:b,s:b,s:b}}}", "data", "type", "status", "id",
                   "default", "attributes", "status", sb_run_state_k6_status(st), "paused",
                   st->paused, "vus", (json_int_t)sb_run_state_vus(st, 0), "vus-max",
                   (json_int_t)sb_run_state_vus(st, 1), "stopped",
                   st->phase == SB_PHASE_ENDED || st->stopping, "running", running, "tainted",
                   st->tainted);
}

/* What PATCH asks, checked whole before anything is done. */
typedef struct patch {
  int set_paused, paused;
  int set_vus;
  uint64_t vus;
  const char *scenario;
} patch;

static int parse_patch(req *q, json_t *doc, patch *p, sb_err *err) {
  json_t *data = json_is_object(doc) ? json_object_get(doc, "data") : NULL;
  json_t *type = data ? json_object_get(data, "type") : NULL;
  json_t *a = data ? json_object_get(data, "attributes") : NULL;
  if (!json_is_object(data) || !json_is_object(a))
    return sb_err_set(err, SB_EINVAL,
                      "expected {\"data\": {\"type\": \"status\", \"attributes\": "
                      "{\"paused\": true|false, \"vus\": N}}}");
  if (type && !json_is_null(type) &&
      (!json_is_string(type) || strcmp(json_string_value(type), "status")))
    return sb_err_set(err, SB_EINVAL, "data.type must be \"status\"");
  json_t *v = json_object_get(a, "paused");
  if (v && !json_is_null(v) && !json_is_boolean(v))
    return sb_err_set(err, SB_EINVAL, "attributes.paused must be true, false or null");
  p->set_paused = v && json_is_boolean(v);
  p->paused = p->set_paused && json_is_true(v);
  v = json_object_get(a, "vus");
  if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0))
    return sb_err_set(err, SB_EINVAL, "attributes.vus must be a non-negative integer or null");
  p->set_vus = v && json_is_integer(v);
  p->vus = p->set_vus ? (uint64_t)json_integer_value(v) : 0;
  v = json_object_get(a, "vus-max");
  if (v && !json_is_null(v) &&
      (!json_is_integer(v) || (uint64_t)json_integer_value(v) != sb_run_state_vus(q->st, 1)))
    return sb_err_set(err, SB_EINVAL,
                      "attributes.vus-max cannot change: VUs are made before the "
                      "start (raise the scenario's vus or stage targets instead)");
  v = json_object_get(a, "scenario");
  if (v && !json_is_null(v) && !json_is_string(v))
    return sb_err_set(err, SB_EINVAL, "attributes.scenario must be a scenario's name");
  p->scenario = v && json_is_string(v) ? json_string_value(v) : NULL;
  return 0;
}

static int patch_status(req *q, const char *body, size_t len) {
  sb_err err = {{0}};
  json_error_t je;
  json_t *doc = json_loadb(body ? body : "", len, 0, &je);
  if (!doc) {
    snprintf(err.msg, sizeof(err.msg), "the body is not JSON: %s (line %d)", je.text, je.line);
    return error(q, 400, "Invalid data", err.msg);
  }
  patch p = {0};
  size_t idx = 0;
  int rc = parse_patch(q, doc, &p, &err);
  if (!rc && !q->ctl) rc = sb_err_set(&err, SB_ECANCELED, "this run cannot be steered");
  if (!rc && p.set_vus)
    rc = sb_run_state_scale_target(q->st, p.scenario, p.vus, q->now_us, &idx, &err);
  if (!rc && p.set_paused && (q->st->phase != SB_PHASE_RUNNING || q->st->stopping))
    rc = sb_err_set(&err, SB_ECANCELED, "the test is not running (%s): nothing to %s",
                    q->st->stopping ? "stopping" : sb_run_phase_name(q->st->phase),
                    p.paused ? "pause" : "resume");
  if (!rc && p.set_paused) rc = q->ctl->pause(q->ctl->ud, p.paused, &err);
  if (!rc && p.set_vus) rc = q->ctl->scale(q->ctl->ud, idx, p.vus, &err);
  json_decref(doc);
  return rc ? error_code(q, rc, &err) : reply(q, status_doc(q->st), 200);
}

/* --- metrics ------------------------------------------------------------------------------------
 */

static const char *const type_names[] = {"", "counter", "gauge", "rate", "trend"};
static const char *const contains_names[] = {"default", "time", "data"};

/* k6's sink formats, over every series of metric |id|. */
static json_t *sample(const sb_run_state *st, int id, int64_t now_us) {
  const sb_metric_info *mi = sb_metrics_info(st->metrics, id);
  sb_series f;
  sb_series_init(&f, id);
  json_t *o = NULL;
  if (sb_metrics_fold(st->metrics, id, NULL, 0, &f) == 0) {
    double secs = sb_run_state_elapsed(st, now_us);
    switch (mi->type) {
    case SB_METRIC_COUNTER:
      o = json_pack("{s:o,s:o}", "count", num(f.value), "rate", num(secs > 0 ? f.value / secs : 0));
      break;
    case SB_METRIC_GAUGE: o = json_pack("{s:o}", "value", num(f.value)); break;
    case SB_METRIC_RATE:
      o = json_pack("{s:o,s:I,s:I}", "rate", num(f.total ? (double)f.trues / (double)f.total : 0),
                    "passes", (json_int_t)f.trues, "fails", (json_int_t)(f.total - f.trues));
      break;
    default: {
      const sb_hist *h = &f.hist;
      o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "avg", num(sb_hist_avg(h)), "min",
                    num(h->count ? h->min : 0), "med", num(sb_hist_quantile(h, 0.5)), "max",
                    num(h->count ? h->max : 0), "p(90)", num(sb_hist_quantile(h, 0.9)), "p(95)",
                    num(sb_hist_quantile(h, 0.95)));
    }
    }
  }
  sb_series_clear(&f);
  return o;
}

/* A failed threshold on |name| (or one of its sub-metrics) at the latest evaluation. */
static int tainted(const sb_run_state *st, const char *name) {
  for (size_t i = 0; i < st->nthr; i++)
    if (!strcmp(st->thr[i].metric, name) && st->thr_res[i].evaluated && !st->thr_res[i].ok)
      return 1;
  return 0;
}

static json_t *metric_data(const sb_run_state *st, int id, int64_t now_us) {
  const sb_metric_info *mi = sb_metrics_info(st->metrics, id);
  return json_pack("{s:s,s:s,s:{s:s,s:s,s:b,s:o}}", "type", "metrics", "id", mi->name, "attributes",
                   "type", type_names[mi->type], "contains", contains_names[mi->contains],
                   "tainted", tainted(st, mi->name), "sample", sample(st, id, now_us));
}

/* Marks in |seen| (one per metric id) the metrics with samples. */
static char *metrics_seen(const sb_metrics *m) {
  char *seen = calloc((size_t)sb_metrics_count(m) + 1, 1);
  size_t it = 0;
  sb_series *s;
  while (seen && (s = sb_metrics_next(m, &it)))
    if (s->metric >= 0 && s->metric < sb_metrics_count(m)) seen[s->metric] = 1;
  return seen;
}

static int get_metrics(req *q, const char *id) {
  if (!q->st->metrics)
    return id ? error(q, 404, "Not Found", "no metric with that id was found")
              : reply(q, json_pack("{s:[]}", "data"), 200);
  char *seen = metrics_seen(q->st->metrics);
  if (!seen) return error(q, 500, "Internal error", "out of memory");
  int status;
  if (id) {
    int mid = sb_metrics_find(q->st->metrics, id);
    status = mid >= 0 && seen[mid]
                 ? reply(q, json_pack("{s:o}", "data", metric_data(q->st, mid, q->now_us)), 200)
                 : error(q, 404, "Not Found", "no metric with that id was found");
  } else {
    json_t *list = json_array();
    for (int i = 0; list && i < sb_metrics_count(q->st->metrics); i++)
      if (seen[i]) json_array_append_new(list, metric_data(q->st, i, q->now_us));
    status = reply(q, json_pack("{s:o}", "data", list), 200);
  }
  free(seen);
  return status;
}

/* --- groups -------------------------------------------------------------------------------------
 */

typedef struct groups {
  char **paths; /* "" first, then every group path, parents before children */
  size_t n;
  json_t **checks; /* per path: an array of its checks */
} groups;

static long path_index(const groups *g, const char *p, size_t len) {
  for (size_t i = 0; i < g->n; i++)
    if (strlen(g->paths[i]) == len && !strncmp(g->paths[i], p, len)) return (long)i;
  return -1;
}

/* Adds |p| (|len| bytes) and its ancestors. */
static int add_path(groups *g, const char *p, size_t len) {
  if (path_index(g, p, len) >= 0) return 0;
  const char *up = NULL;
  for (const char *s = p; (s = strstr(s, "::")) && s < p + len; s += 2)
    up = s;
  if (up && up > p && add_path(g, p, (size_t)(up - p))) return SB_ENOMEM;
  char **v = realloc(g->paths, (g->n + 1) * sizeof(*v));
  json_t **c = realloc(g->checks, (g->n + 1) * sizeof(*c));
  if (v) g->paths = v;
  if (c) g->checks = c;
  if (!v || !c || !(v[g->n] = strndup(p, len))) return SB_ENOMEM;
  c[g->n++] = json_array();
  return 0;
}

/* Every group the metrics name, and the checks of each (passes and fails from `checks`). */
static int collect_groups(const sb_metrics *m, groups *g) {
  if (add_path(g, "", 0)) return SB_ENOMEM;
  size_t it = 0;
  sb_series *s;
  while (m && (s = sb_metrics_next(m, &it))) {
    const char *path = sb_tagset_get(s->tags, "group");
    if (!path) path = "";
    if (add_path(g, path, strlen(path))) return SB_ENOMEM;
    const char *name = sb_tagset_get(s->tags, "check");
    if (s->metric != SB_M_CHECKS || !name) continue;
    json_t *arr = g->checks[path_index(g, path, strlen(path))];
    size_t cl = strlen(path) + strlen(name) + 3;
    char *cp = malloc(cl), id[33];
    if (!cp) return SB_ENOMEM;
    snprintf(cp, cl, "%s::%s", path, name);
    md5_hex(cp, id);
    json_t *c = NULL;
    for (size_t k = 0; k < json_array_size(arr) && !c; k++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(arr, k), "id")), id))
        c = json_array_get(arr, k);
    if (!c)
      json_array_append_new(arr, c = json_pack("{s:s,s:s,s:s,s:I,s:I}", "id", id, "path", cp,
                                               "name", name, "passes", 0, "fails", 0));
    free(cp);
    if (!c) return SB_ENOMEM;
    json_int_t p = json_integer_value(json_object_get(c, "passes"));
    json_int_t f = json_integer_value(json_object_get(c, "fails"));
    json_object_set_new(c, "passes", json_integer(p + (json_int_t)s->trues));
    json_object_set_new(c, "fails", json_integer(f + (json_int_t)(s->total - s->trues)));
  }
  return 0;
}

static void groups_clear(groups *g) {
  for (size_t i = 0; i < g->n; i++) {
    free(g->paths[i]);
    json_decref(g->checks[i]);
  }
  free(g->paths);
  free(g->checks);
}

static json_t *group_data(const groups *g, size_t i) {
  const char *p = g->paths[i], *name = strrchr(p, ':');
  char id[33], pid[33];
  md5_hex(p, id);
  json_t *kids = json_array(), *parent = json_null();
  for (size_t k = 0; k < g->n; k++) {
    const char *c = g->paths[k];
    size_t pl = strlen(p);
    if (k == i || strncmp(c, p, pl) || strncmp(c + pl, "::", 2) || strstr(c + pl + 2, "::"))
      continue;
    char cid[33];
    md5_hex(c, cid);
    json_array_append_new(kids, json_pack("{s:s,s:s}", "type", "groups", "id", cid));
  }
  if (*p) {
    const char *up = strrchr(p, ':') - 1;
    char *pp = strndup(p, (size_t)(up - p));
    md5_hex(pp ? pp : "", pid);
    free(pp);
    json_decref(parent);
    parent = json_pack("{s:s,s:s}", "type", "groups", "id", pid);
  }
  return json_pack("{s:s,s:s,s:{s:s,s:s,s:O},s:{s:{s:o},s:{s:o}}}", "type", "groups", "id", id,
                   "attributes", "path", p, "name", name ? name + 1 : "", "checks", g->checks[i],
                   "relationships", "groups", "data", kids, "parent", "data", parent);
}

static int get_groups(req *q, const char *id) {
  groups g = {0};
  int status;
  if (collect_groups(q->st->metrics, &g)) {
    groups_clear(&g);
    return error(q, 500, "Internal error", "out of memory");
  }
  if (id) {
    status = -1;
    for (size_t i = 0; i < g.n && status < 0; i++) {
      char gid[33];
      md5_hex(g.paths[i], gid);
      if (!strcmp(gid, id)) status = reply(q, json_pack("{s:o}", "data", group_data(&g, i)), 200);
    }
    if (status < 0) status = error(q, 404, "Not Found", "no group with that id was found");
  } else {
    json_t *list = json_array();
    for (size_t i = 0; list && i < g.n; i++)
      json_array_append_new(list, group_data(&g, i));
    status = reply(q, json_pack("{s:o}", "data", list), 200);
  }
  groups_clear(&g);
  return status;
}

/* --- setup ---------------------------------------------------------------------------------------
 */

static int get_setup(req *q) {
  json_t *data = q->st->setup_data ? json_loads(q->st->setup_data, JSON_DECODE_ANY, NULL) : NULL;
  return reply(q,
               json_pack("{s:{s:s,s:s,s:{s:o}}}", "data", "type", "setupData", "id", "default",
                         "attributes", "data", data ? data : json_null()),
               200);
}

/* --- routing -------------------------------------------------------------------------------------
 */

static int method_not_allowed(req *q, const char *method, const char *path, const char *allowed) {
  char d[300];
  snprintf(d, sizeof(d), "%s is not allowed on %s (allowed: %s)", method, path, allowed);
  return error(q, 405, "Method Not Allowed", d);
}

int sb_api_handle(const sb_run_state *st, const sb_run_control *ctl, const char *method,
                  const char *path, const char *body, size_t len, int64_t now_us, sb_buf *out) {
  req q = {st, ctl, now_us, out};
  char p[512];
  snprintf(p, sizeof(p), "%s", path);
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/')
    p[--n] = '\0';
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  if (!strcmp(p, "/v1/status")) {
    if (get) return reply(&q, status_doc(st), 200);
    if (!strcmp(method, "PATCH")) return patch_status(&q, body, len);
    return method_not_allowed(&q, method, p, "GET, PATCH");
  }
  const char *id = NULL;
  if (!strncmp(p, "/v1/metrics/", 12) || !strncmp(p, "/v1/groups/", 11))
    id = strchr(p + 4, '/') + 1;
  if (!strcmp(p, "/v1/metrics") || !strncmp(p, "/v1/metrics/", 12))
    return get ? get_metrics(&q, id) : method_not_allowed(&q, method, p, "GET");
  if (!strcmp(p, "/v1/groups") || !strncmp(p, "/v1/groups/", 11))
    return get ? get_groups(&q, id) : method_not_allowed(&q, method, p, "GET");
  if (!strcmp(p, "/v1/setup"))
    return get ? get_setup(&q)
               : method_not_allowed(&q, method, p,
                                    "GET (setup data is read-only "
                                    "here: setup() ran on an agent)");
  char d[700];
  snprintf(d, sizeof(d),
           "no endpoint %.500s: the API has /v1/status, /v1/metrics, "
           "/v1/metrics/{id}, /v1/groups, /v1/groups/{id} and /v1/setup",
           p);
  return error(&q, 404, "Not Found", d);
}
