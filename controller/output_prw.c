/* --out prometheus-rw: configuration and the remote-write encoding (controller/output_prw.h).
 * The pusher (thread, HTTP) is in the second half of this file. */
#include "controller/output_prw.h"

#include <ctype.h>
#include <event2/event.h>
#include <math.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_auth.h"
#include "agent/http_client.h"
#include "agent/http_url.h"
#include "common/clock.h"
#include "common/duration.h"
#include "controller/config_layers.h"
#include "proto/prompb.pb-c.h"

#define ENV "K6_PROMETHEUS_RW_"

/* ---- configuration ---- */

static const char *env_get(const char *const *env, const char *name) {
  size_t n = strlen(name);
  for (; env && *env; env++)
    if (!strncmp(*env, name, n) && (*env)[n] == '=') return *env + n + 1;
  return NULL;
}

/* Reads the boolean variable |name| into |*out| (untouched when unset). */
static int env_bool(const char *const *env, const char *name, int *out, sb_err *err) {
  const char *v = env_get(env, name);
  if (!v) return 0;
  int b = sb_config_parse_bool(v);
  if (b < 0) return sb_err_set(err, SB_EINVAL, "%s='%s': not a boolean (true or false)", name, v);
  *out = b;
  return 0;
}

/* Checks the endpoint URL; |what| names where it came from. */
static int check_url(const char *url, const char *what, sb_err *err) {
  sb_url u;
  sb_err e;
  e.msg[0] = '\0';
  if (sb_url_parse(&u, url, strlen(url), &e))
    return sb_err_set(err, SB_EINVAL, "%s: '%s' is not a URL the output can post to%s%s", what, url,
                      e.msg[0] ? ": " : "", e.msg);
  int http = u.scheme_len == 4 && !strncasecmp(u.scheme, "http", 4);
  if (!u.https && !http)
    return sb_err_set(err, SB_EINVAL, "%s: '%s': the URL must be http:// or https://", what, url);
  if (u.user)
    return sb_err_set(err, SB_EINVAL,
                      "%s: '%s': put credentials in " ENV "USERNAME and " ENV
                      "PASSWORD, not in the URL",
                      what, url);
  return 0;
}

/* One K6_PROMETHEUS_RW_TREND_STATS entry ("p(99.9)", "avg") into |s|. */
static int parse_stat(const char *tok, size_t len, sb_prw_stat *s) {
  static const char *const names[] = {"avg", "min", "max", "med", "count", "sum"};
  memset(s, 0, sizeof(*s));
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
    if (len == strlen(names[i]) && !strncmp(tok, names[i], len)) {
      s->kind = (sb_prw_stat_kind)i;
      snprintf(s->suffix, sizeof(s->suffix), "%s", names[i]);
      return 0;
    }
  if (len < 4 || len > 20 || strncmp(tok, "p(", 2) || tok[len - 1] != ')') return SB_EINVAL;
  char num[24], *end;
  memcpy(num, tok + 2, len - 3);
  num[len - 3] = '\0';
  double p = strtod(num, &end);
  if (!num[0] || *end || !(p >= 0 && p <= 100) || !isdigit((unsigned char)num[0])) return SB_EINVAL;
  s->kind = SB_PRW_PCT;
  s->q = p / 100;
  size_t k = 0;
  s->suffix[k++] = 'p';
  for (const char *c = num; *c; c++)
    if (*c != '.') s->suffix[k++] = *c; /* k6: p(99.9) -> p999 */
  s->suffix[k] = '\0';
  return 0;
}

static int parse_stats(sb_prw_config *c, const char *v, sb_err *err) {
  c->nstats = 0;
  for (const char *p = v;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    while (len && isspace((unsigned char)*p))
      p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
      len--;
    sb_prw_stat s;
    if (!len || parse_stat(p, len, &s))
      return sb_err_set(err, SB_EINVAL,
                        ENV "TREND_STATS='%s': '%.*s' is not a trend stat (avg, "
                            "min, max, med, count, sum or p(N) with N in 0..100)",
                        v, (int)len, p);
    int dup = 0;
    for (size_t i = 0; i < c->nstats; i++)
      dup |= !strcmp(c->stats[i].suffix, s.suffix);
    if (!dup && c->nstats == SB_PRW_MAX_STATS)
      return sb_err_set(err, SB_EINVAL, ENV "TREND_STATS: at most %d stats", SB_PRW_MAX_STATS);
    if (!dup) c->stats[c->nstats++] = s;
    if (!comma) return 0;
    p = comma + 1;
  }
}

/* A header name is an HTTP token; a value has no line breaks. */
static int header_ok(const char *name, size_t nlen, const char *value) {
  if (!nlen) return 0;
  for (size_t i = 0; i < nlen; i++)
    if (!isalnum((unsigned char)name[i]) && !strchr("!#$%&'*+-.^_`|~", name[i])) return 0;
  return !strpbrk(value, "\r\n");
}

static int add_header(sb_prw_config *c, const char *name, size_t nlen, const char *value,
                      size_t vlen, const char *what, sb_err *err) {
  char *v = strndup(value, vlen);
  if (!v) return sb_err_set(err, SB_ENOMEM, "out of memory");
  if (!header_ok(name, nlen, v) || c->nheaders == SB_PRW_MAX_HEADERS) {
    free(v);
    return sb_err_set(err, SB_EINVAL,
                      "%s: '%.*s' is not a header this output can send (at most "
                      "%d)",
                      what, (int)nlen, name, SB_PRW_MAX_HEADERS);
  }
  if (!(c->hname[c->nheaders] = strndup(name, nlen))) {
    free(v);
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  }
  c->hvalue[c->nheaders++] = v;
  return 0;
}

/* K6_PROMETHEUS_RW_HEADERS_<Name>=v and K6_PROMETHEUS_RW_HTTP_HEADERS=k:v,k2:v2. */
static int parse_headers(sb_prw_config *c, const char *const *env, sb_err *err) {
  static const char pfx[] = ENV "HEADERS_";
  int rc = 0;
  for (const char *const *e = env; e && *e && !rc; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || strncmp(*e, pfx, sizeof(pfx) - 1)) continue;
    const char *name = *e + sizeof(pfx) - 1;
    rc = add_header(c, name, (size_t)(eq - name), eq + 1, strlen(eq + 1), pfx, err);
  }
  const char *list = env_get(env, ENV "HTTP_HEADERS");
  for (const char *p = list; p && *p && !rc;) {
    const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon)
      return sb_err_set(err, SB_EINVAL, ENV "HTTP_HEADERS: '%.*s' is not key:value", (int)(end - p),
                        p);
    rc = add_header(c, p, (size_t)(colon - p), colon + 1, (size_t)(end - colon - 1),
                    ENV "HTTP_HEADERS", err);
    p = comma ? comma + 1 : end;
  }
  return rc;
}

/* What speedboat does not do: refused rather than ignored. */
static int refuse_unsupported(const char *const *env, sb_err *err) {
  int native = 0, rc = env_bool(env, ENV "TREND_AS_NATIVE_HISTOGRAM", &native, err);
  if (rc) return rc;
  if (native)
    return sb_err_set(err, SB_EINVAL,
                      ENV "TREND_AS_NATIVE_HISTOGRAM: native histograms are not "
                          "supported by speedboat; use " ENV "TREND_STATS");
  const char *cert = env_get(env, ENV "CLIENT_CERTIFICATE");
  const char *key = env_get(env, ENV "CLIENT_CERTIFICATE_KEY");
  if ((cert && *cert) || (key && *key))
    return sb_err_set(err, SB_EINVAL,
                      ENV "CLIENT_CERTIFICATE: client certificates are not "
                          "supported by speedboat's remote-write output");
  return 0;
}

static int parse_env(sb_prw_config *c, const char *const *env, sb_err *err) {
  const char *v;
  int rc = refuse_unsupported(env, err);
  if (!rc && (v = env_get(env, ENV "PUSH_INTERVAL"))) {
    sb_err e;
    if (sb_duration_parse_ms(v, &c->push_interval_ms, &e) || c->push_interval_ms <= 0)
      rc =
          sb_err_set(err, SB_EINVAL, ENV "PUSH_INTERVAL='%s': not a positive duration (\"5s\")", v);
  }
  if (!rc) rc = env_bool(env, ENV "INSECURE_SKIP_TLS_VERIFY", &c->insecure_skip_tls_verify, err);
  if (!rc) rc = env_bool(env, ENV "STALE_MARKERS", &c->stale_markers, err);
  if (!rc && (v = env_get(env, ENV "TREND_STATS"))) rc = parse_stats(c, v, err);
  if (!rc && (v = env_get(env, ENV "USERNAME")) && !(c->username = strdup(v))) rc = SB_ENOMEM;
  if (!rc && (v = env_get(env, ENV "PASSWORD")) && !(c->password = strdup(v))) rc = SB_ENOMEM;
  if (rc == SB_ENOMEM) sb_err_set(err, rc, "out of memory");
  if (!rc) rc = parse_headers(c, env, err);
  return rc;
}

int sb_prw_config_parse(sb_prw_config *c, const char *opt, const char *arg, const char *const *env,
                        sb_err *err) {
  memset(c, 0, sizeof(*c));
  c->push_interval_ms = SB_PRW_DEFAULT_INTERVAL_MS;
  parse_stats(c, "p(99)", NULL); /* k6's default */
  const char *env_url = env_get(env, ENV "SERVER_URL");
  const char *url = arg && *arg ? arg : env_url && *env_url ? env_url : SB_PRW_DEFAULT_URL;
  char what[SB_ERR_MAX / 2];
  if (arg && *arg)
    snprintf(what, sizeof(what), "--out '%s'", opt);
  else
    snprintf(what, sizeof(what), "%s",
             env_url && *env_url ? ENV "SERVER_URL" : "--out prometheus-rw");
  int rc = check_url(url, what, err);
  if (!rc && !(c->url = strdup(url))) rc = sb_err_set(err, SB_ENOMEM, "out of memory");
  if (!rc) rc = parse_env(c, env, err);
  if (rc) sb_prw_config_clear(c);
  return rc;
}

void sb_prw_config_clear(sb_prw_config *c) {
  free(c->url);
  free(c->username);
  free(c->password);
  for (size_t i = 0; i < c->nheaders; i++) {
    free(c->hname[i]);
    free(c->hvalue[i]);
  }
  memset(c, 0, sizeof(*c));
}

/* ---- encoding ---- */

/* Strings made for one request: chunks never moved, freed together. */
typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  char data[];
} chunk;

typedef struct enc {
  const sb_prw_config *c;
  int64_t ts;
  int stale;
  chunk *strs;
  Prometheus__TimeSeries *ts_arr, **ts_ptr;
  Prometheus__Label *lab, **lab_ptr;
  Prometheus__Sample *smp, **smp_ptr;
  size_t nts, nlab, nsmp;
  Prometheus__Label *tags; /* the current series' kept tags, sorted */
  size_t ntags;
} enc;

/* Room for |n| bytes and a NUL in the request's strings. */
static char *enc_room(enc *e, size_t n) {
  if (!e->strs || e->strs->cap - e->strs->used < n + 1) {
    size_t cap = n + 1 > 8192 ? n + 1 : 8192;
    chunk *k = malloc(sizeof(*k) + cap);
    if (!k) return NULL;
    k->next = e->strs, k->used = 0, k->cap = cap;
    e->strs = k;
  }
  char *p = e->strs->data + e->strs->used;
  p[n] = '\0';
  e->strs->used += n + 1;
  return p;
}

/* A copy of |s| made a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*: other characters become
 * '_', a leading digit gets a '_' before it), in the request's strings. */
static char *valid_copy(enc *e, const char *s) {
  size_t n = strlen(s), lead = isdigit((unsigned char)*s) ? 1 : 0;
  char *p = enc_room(e, n + lead);
  if (!p) return NULL;
  if (lead) p[0] = '_';
  for (size_t i = 0; i < n; i++)
    p[lead + i] = s[i] == '_' || isalnum((unsigned char)s[i]) ? s[i] : '_';
  return p;
}

/* |s| itself when it is a valid name already (the usual case), else valid_copy(). */
static char *valid_name(enc *e, const char *s) {
  int ok = *s && !isdigit((unsigned char)*s);
  for (const char *c = s; *c && ok; c++)
    ok = *c == '_' || isalnum((unsigned char)*c);
  return ok ? (char *)s : valid_copy(e, s);
}

static int by_label(const void *a, const void *b) {
  return strcmp(((const Prometheus__Label *)a)->name, ((const Prometheus__Label *)b)->name);
}

/* The series' tags that become labels, into e->tags: valid names, sorted, the first of equal
 * names kept; k6's non-indexable vu and iter, reserved "__" names and empty values left out. */
static int series_tags(enc *e, const sb_tagset *t) {
  const char *const *kv = NULL;
  size_t n = t ? sb_tagset_pairs(t, &kv) : 0;
  e->ntags = 0;
  for (size_t i = 0; i < n; i++) {
    const char *k = kv[2 * i], *v = kv[2 * i + 1];
    if (!*v || !strcmp(k, "vu") || !strcmp(k, "iter") || !strncmp(k, "__", 2)) continue;
    Prometheus__Label *l = &e->tags[e->ntags];
    prometheus__label__init(l);
    if (!(l->name = valid_name(e, k))) return SB_ENOMEM;
    l->value = (char *)v;
    e->ntags++;
  }
  qsort(e->tags, e->ntags, sizeof(*e->tags), by_label);
  size_t w = 0;
  for (size_t i = 0; i < e->ntags; i++)
    if (!w || strcmp(e->tags[w - 1].name, e->tags[i].name)) e->tags[w++] = e->tags[i];
  e->ntags = w;
  return 0;
}

/* One time series: k6_<metric><suffix> with the current tags, value |v| at e->ts. */
static int put_series(enc *e, const char *metric, const char *suffix, double v) {
  char name[512];
  int len = snprintf(name, sizeof(name), "k6_%s%s", metric, suffix);
  Prometheus__TimeSeries *ts = &e->ts_arr[e->nts];
  prometheus__time_series__init(ts);
  ts->labels = &e->lab_ptr[e->nlab];
  Prometheus__Label *nl = &e->lab[e->nlab];
  prometheus__label__init(nl);
  nl->name = "__name__";
  if (len >= (int)sizeof(name) || !(nl->value = valid_copy(e, name))) return SB_ENOMEM;
  size_t k = 0, placed = 0;
  for (size_t i = 0; i < e->ntags; i++) { /* merge __name__ into the sorted tags */
    if (!placed && strcmp(nl->name, e->tags[i].name) < 0) placed = 1, ts->labels[k++] = nl;
    e->lab[e->nlab + 1 + i] = e->tags[i];
    ts->labels[k++] = &e->lab[e->nlab + 1 + i];
  }
  if (!placed) ts->labels[k++] = nl;
  ts->n_labels = k;
  e->nlab += k;
  ts->samples = &e->smp_ptr[e->nsmp];
  for (int i = 0; i <= e->stale; i++) {
    Prometheus__Sample *s = &e->smp[e->nsmp];
    prometheus__sample__init(s);
    union {
      uint64_t u;
      double d;
    } stale = {0x7ff0000000000002ull}; /* Prometheus' StaleNaN */
    s->value = i ? stale.d : v;
    s->timestamp = e->ts + i;
    e->smp_ptr[e->nsmp++] = s;
    ts->n_samples++;
  }
  e->ts_ptr[e->nts++] = ts;
  return 0;
}

static double stat_value(const sb_prw_stat *st, const sb_hist *h, double scale) {
  switch (st->kind) {
  case SB_PRW_AVG: return sb_hist_avg(h) * scale;
  case SB_PRW_MIN: return h->min * scale;
  case SB_PRW_MAX: return h->max * scale;
  case SB_PRW_MED: return sb_hist_quantile(h, 0.5) * scale;
  case SB_PRW_COUNT: return (double)h->count;
  case SB_PRW_SUM: return h->sum * scale;
  case SB_PRW_PCT: return sb_hist_quantile(h, st->q) * scale;
  }
  return 0;
}

/* Every time series of one k6 series. */
static int put_k6_series(enc *e, const sb_metrics *m, const sb_series *s) {
  const sb_metric_info *mi = sb_metrics_info(m, s->metric);
  int rc = series_tags(e, s->tags);
  if (rc) return rc;
  switch (mi->type) {
  case SB_METRIC_COUNTER: return put_series(e, mi->name, "_total", s->value);
  case SB_METRIC_GAUGE: return put_series(e, mi->name, "", s->value);
  case SB_METRIC_RATE:
    return put_series(e, mi->name, "_rate", s->total ? (double)s->trues / (double)s->total : 0);
  case SB_METRIC_TREND: {
    double scale = mi->contains == SB_VALUE_TIME ? 1e-3 : 1; /* Prometheus' base unit: seconds */
    for (size_t i = 0; i < e->c->nstats && !rc; i++) {
      char suffix[32];
      snprintf(suffix, sizeof(suffix), "_%s", e->c->stats[i].suffix);
      rc = put_series(e, mi->name, suffix, stat_value(&e->c->stats[i], &s->hist, scale));
    }
    return rc;
  }
  }
  return 0;
}

/* Room for everything, counted first: time series, labels (each with __name__), samples. */
static int enc_alloc(enc *e, const sb_metrics *m) {
  size_t it = 0, nts = 0, nlab = 0, maxtags = 0;
  const sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    const char *const *kv;
    size_t nt = s->tags ? sb_tagset_pairs(s->tags, &kv) : 0;
    size_t k = sb_metrics_info(m, s->metric)->type == SB_METRIC_TREND ? e->c->nstats : 1;
    nts += k;
    nlab += k * (nt + 1);
    if (nt > maxtags) maxtags = nt;
  }
  size_t nsmp = nts * (size_t)(e->stale + 1);
  e->ts_arr = calloc(nts + 1, sizeof(*e->ts_arr));
  e->ts_ptr = calloc(nts + 1, sizeof(*e->ts_ptr));
  e->lab = calloc(nlab + 1, sizeof(*e->lab));
  e->lab_ptr = calloc(nlab + 1, sizeof(*e->lab_ptr));
  e->smp = calloc(nsmp + 1, sizeof(*e->smp));
  e->smp_ptr = calloc(nsmp + 1, sizeof(*e->smp_ptr));
  e->tags = calloc(maxtags + 1, sizeof(*e->tags));
  int ok = e->ts_arr && e->ts_ptr && e->lab && e->lab_ptr && e->smp && e->smp_ptr && e->tags;
  return ok ? 0 : SB_ENOMEM;
}

static void enc_clear(enc *e) {
  free(e->ts_arr);
  free(e->ts_ptr);
  free(e->lab);
  free(e->lab_ptr);
  free(e->smp);
  free(e->smp_ptr);
  free(e->tags);
  for (chunk *k = e->strs, *next; k; k = next) {
    next = k->next;
    free(k);
  }
}

/* Packs |msg| and appends it snappy-compressed to |out|. */
static int pack_snappy(const Prometheus__WriteRequest *msg, sb_buf *out) {
  size_t raw_len = prometheus__write_request__get_packed_size(msg);
  uint8_t *raw = malloc(raw_len ? raw_len : 1);
  size_t zlen = snappy_max_compressed_length(raw_len);
  if (!raw || sb_buf_reserve(out, zlen)) {
    free(raw);
    return SB_ENOMEM;
  }
  prometheus__write_request__pack(msg, raw);
  snappy_status st = snappy_compress((const char *)raw, raw_len, out->data + out->len, &zlen);
  free(raw);
  if (st != SNAPPY_OK) return SB_ENOMEM;
  out->len += zlen;
  return 0;
}

int sb_prw_encode(const sb_metrics *m, const sb_prw_config *c, int64_t ts_ms, int stale,
                  sb_buf *out, size_t *nseries) {
  enc e = {.c = c, .ts = ts_ms, .stale = stale ? 1 : 0};
  int rc = enc_alloc(&e, m);
  size_t it = 0;
  const sb_series *s;
  while (!rc && (s = sb_metrics_next(m, &it)))
    rc = put_k6_series(&e, m, s);
  Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
  wr.timeseries = e.ts_ptr;
  wr.n_timeseries = e.nts;
  if (!rc) rc = pack_snappy(&wr, out);
  if (nseries) *nseries = e.nts;
  enc_clear(&e);
  return rc;
}

/* ---- the pusher ---- */

#define MAX_WARNED 16 /* distinct failures reported; later new ones are reported too, unlisted */

struct sb_prw {
  sb_prw_config c;
  const sb_metrics *run;    /* loop thread: the run's merged metrics (sb_prw_attach) */
  struct event *ev_push;    /* loop thread: every push interval, on the run's loop */
  int64_t last_ts_ms;       /* loop thread: timestamps only go forward */
  sb_buf scratch;           /* loop thread: the body being made */
  char *warned[MAX_WARNED]; /* loop thread: failures already reported */
  size_t nwarned;
  unsigned err_seen; /* loop thread: the failure count it reported up to */

  pthread_t th;
  int started;
  pthread_mutex_t mu; /* guards the fields down to |last_failed| */
  pthread_cond_t cv;
  sb_buf pending; /* the next body to post (replaced by a newer one) */
  int have_pending, quit;
  char errmsg[SB_ERR_MAX]; /* the newest failure */
  unsigned err_seq;        /* failures so far */
  int last_failed;         /* the newest push failed */

  /* pusher thread only, once started */
  struct event_base *base;
  sb_http_config hc;
  sb_http_shared *shared;
  sb_http_client *client;
  sb_http_res res;
  sb_buf sending;
  int done;
  sb_http_header hdrs[SB_PRW_MAX_HEADERS + 4];
  size_t nh;
  sb_buf auth; /* "Basic ..." */
};

static void set_header(sb_prw *p, const char *name, const char *value, size_t vlen) {
  size_t i = 0;
  while (i < p->nh && strcasecmp(p->hdrs[i].name, name))
    i++;
  if (i == p->nh) p->nh++; /* a user's header replaces ours of the same name */
  p->hdrs[i] = (sb_http_header){name, strlen(name), value, vlen};
}

/* The request's headers: the protocol's, then basic auth and the user's. */
static int make_headers(sb_prw *p) {
  set_header(p, "Content-Encoding", "snappy", 6);
  set_header(p, "Content-Type", "application/x-protobuf", 22);
  set_header(p, "X-Prometheus-Remote-Write-Version", "0.1.0", 5);
  if (p->c.username) {
    const char *pw = p->c.password ? p->c.password : "";
    if (sb_http_auth_basic(&p->auth, p->c.username, strlen(p->c.username), pw, strlen(pw)))
      return SB_ENOMEM;
    set_header(p, "Authorization", p->auth.data, p->auth.len);
  }
  for (size_t i = 0; i < p->c.nheaders; i++)
    set_header(p, p->c.hname[i], p->c.hvalue[i], strlen(p->c.hvalue[i]));
  return 0;
}

int sb_prw_new(sb_prw **out, sb_prw_config *c, sb_err *err) {
  int rc = SB_ENOMEM;
  sb_prw *p = calloc(1, sizeof(*p));
  if (!p) {
    sb_prw_config_clear(c);
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  }
  p->c = *c;
  memset(c, 0, sizeof(*c));
  sb_buf_init(&p->scratch);
  sb_buf_init(&p->pending);
  sb_buf_init(&p->sending);
  sb_buf_init(&p->auth);
  sb_http_res_init(&p->res);
  sb_http_config_defaults(&p->hc);
  p->hc.insecure_skip_tls_verify = p->c.insecure_skip_tls_verify;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  if (!(p->base = event_base_new()) || make_headers(p)) goto fail;
  if ((rc = sb_http_shared_new(&p->shared, p->base, &p->hc, err))) goto fail_set;
  if ((rc = sb_http_client_new(&p->client, p->base, p->shared))) goto fail;
  *out = p;
  return 0;
fail:
  sb_err_set(err, SB_ENOMEM, "out of memory");
fail_set:
  sb_prw_free(p);
  return rc;
}

static void on_done(sb_http_res *res, void *ud) {
  sb_prw *p = ud;
  (void)res;
  p->done = 1;
  event_base_loopbreak(p->base);
}

/* Posts p->sending and waits for the answer (pusher thread). |msg| gets "" on a 2xx, else what
 * went wrong: the client's error, or the status and the start of the body. */
static void post(sb_prw *p, char *msg, size_t cap) {
  sb_http_req req = {.method = "POST",
                     .url = p->c.url,
                     .headers = p->hdrs,
                     .nheaders = p->nh,
                     .body = p->sending.data,
                     .body_len = p->sending.len,
                     .timeout_ms = SB_PRW_TIMEOUT_MS,
                     .no_reuse = 1};
  msg[0] = '\0';
  p->done = 0;
  int rc = sb_http_client_request(p->client, &req, &p->res, on_done, p);
  if (rc) {
    snprintf(msg, cap, "%s", rc == SB_EINVAL && p->res.error ? p->res.error : "out of memory");
    return;
  }
  while (!p->done)
    if (event_base_dispatch(p->base) != 0 && !p->done) {
      sb_http_client_cancel(p->client);
      snprintf(msg, cap, "the event loop stopped before the answer");
      return;
    }
  const sb_http_res *r = &p->res;
  if (r->error) {
    snprintf(msg, cap, "%s", r->error);
  } else if (r->status < 200 || r->status > 299) {
    char body[201];
    size_t n = r->body.len < 200 ? r->body.len : 200;
    for (size_t i = 0; i < n; i++)
      body[i] = isprint((unsigned char)r->body.data[i]) ? r->body.data[i] : ' ';
    while (n && body[n - 1] == ' ')
      n--;
    body[n] = '\0';
    snprintf(msg, cap, "HTTP %d%s%s%s%s", r->status, r->reason[0] ? " " : "", r->reason,
             n ? ": " : "", body);
  }
}

/* The pusher thread: posts the newest body whenever there is one, until told to quit (the body
 * waiting then is posted first). */
static void *pusher_main(void *arg) {
  sb_prw *p = arg;
  char msg[SB_ERR_MAX];
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->have_pending && !p->quit)
      pthread_cond_wait(&p->cv, &p->mu);
    if (!p->have_pending) break;
    sb_buf swap = p->pending;
    p->pending = p->sending;
    p->sending = swap;
    p->have_pending = 0;
    pthread_mutex_unlock(&p->mu);
    post(p, msg, sizeof(msg));
    sb_buf_reset(&p->sending);
    pthread_mutex_lock(&p->mu);
    p->last_failed = msg[0] != '\0';
    if (msg[0]) {
      memcpy(p->errmsg, msg, sizeof(msg));
      p->err_seq++;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int sb_prw_start(sb_prw *p, sb_err *err) {
  if (pthread_create(&p->th, NULL, pusher_main, p))
    return sb_err_set(err, SB_ENOMEM, "--out prometheus-rw: cannot start the pusher thread");
  p->started = 1;
  return 0;
}

/* Tells the thread to stop after the body waiting, and waits for it. */
static void stop(sb_prw *p) {
  if (!p->started) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->th, NULL);
  p->started = 0;
}

void sb_prw_free(sb_prw *p) {
  if (!p) return;
  stop(p);
  if (p->ev_push) event_free(p->ev_push);
  sb_http_client_free(p->client);
  sb_http_shared_free(p->shared);
  if (p->base) event_base_free(p->base);
  sb_http_config_clear(&p->hc);
  sb_http_res_clear(&p->res);
  sb_buf_clear(&p->scratch);
  sb_buf_clear(&p->pending);
  sb_buf_clear(&p->sending);
  sb_buf_clear(&p->auth);
  for (size_t i = 0; i < p->nwarned; i++)
    free(p->warned[i]);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  sb_prw_config_clear(&p->c);
  free(p);
}

const char *sb_prw_url(const sb_prw *p) {
  return p->c.url;
}


/* A WARN line for the newest failure, unless that one was reported already. */
static void report(sb_prw *p) {
  char msg[SB_ERR_MAX];
  pthread_mutex_lock(&p->mu);
  int fresh = p->err_seq != p->err_seen;
  p->err_seen = p->err_seq;
  if (fresh) memcpy(msg, p->errmsg, sizeof(msg));
  pthread_mutex_unlock(&p->mu);
  if (!fresh) return;
  for (size_t i = 0; i < p->nwarned; i++)
    if (!strcmp(p->warned[i], msg)) return;
  if (p->nwarned < MAX_WARNED && (p->warned[p->nwarned] = strdup(msg))) p->nwarned++;
  fprintf(stderr,
          "WARN prometheus-rw: pushing metrics to %s failed: %s (the test goes on; the "
          "next push sends the totals again)\n",
          p->c.url, msg);
}

/* Encodes |m| and hands the body to the pusher (replacing one still waiting). */
static void push_set(sb_prw *p, const sb_metrics *m, int stale) {
  int64_t ts = sb_clock_wall_us() / 1000;
  if (ts <= p->last_ts_ms) ts = p->last_ts_ms + 1;
  size_t n = 0;
  sb_buf_reset(&p->scratch);
  if (sb_prw_encode(m, &p->c, ts, stale, &p->scratch, &n) || !n) return;
  p->last_ts_ms = ts + 1; /* a stale marker sits 1 ms later */
  pthread_mutex_lock(&p->mu);
  sb_buf swap = p->pending;
  p->pending = p->scratch;
  p->scratch = swap;
  p->have_pending = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void sb_prw_tick(sb_prw *p) {
  if (!p || !p->started) return;
  report(p);
  if (p->run) push_set(p, p->run, 0);
}

static void on_push_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  sb_prw_tick(arg);
}

int sb_prw_attach(sb_prw *p, struct event_base *base, const sb_metrics *m) {
  if (!p) return 0;
  int64_t ms = p->c.push_interval_ms;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  if (p->ev_push) event_free(p->ev_push);
  p->run = m;
  if (!(p->ev_push = event_new(base, -1, EV_PERSIST, on_push_timer, p))) return SB_ENOMEM;
  return event_add(p->ev_push, &tv) ? SB_ENOMEM : 0;
}

int sb_prw_finish(sb_prw *p, const sb_metrics *final) {
  if (!p) return 0;
  if (p->ev_push) event_del(p->ev_push); /* no interval push after the last one */
  if (!p->started) return 0;
  if (final || p->run) push_set(p, final ? final : p->run, p->c.stale_markers);
  stop(p);
  report(p);
  return p->last_failed ? SB_EIO : 0;
}
