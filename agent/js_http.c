/* The "k6/http" module: get, head, post, put, patch, del, options, request, batch, the response
 * callback (setResponseCallback, expectedStatuses), the TLS/OCSP constants, and — through their
 * own files — cookie jars (js_http_cookies.c), bodies/file/url (js_http_body.c) and the Response
 * (js_http_res.c).
 *
 * Every call is a set of jobs (one for get, several for batch). A job runs hop after hop on the
 * VU's HTTP client — a redirect or a digest challenge is another hop — and each hop is measured
 * as k6 measures it (http_reqs, http_req_*, data_sent/received). The VU's coroutine sleeps while
 * requests fly; the client's callback only marks the job and wakes the VU, and everything that
 * touches JavaScript (cookies, the next hop, the responses) runs back on the VU's coroutine. Jobs
 * and their buffers live in a per-VU pool behind the global stash (allocated once, freed by a
 * finalizer when the heap goes), so a steady request loop allocates only the JS objects it
 * returns. Strings borrowed from the script (headers, tags) stay on the Duktape value stack, which
 * stays put while the coroutine sleeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/http_auth.h"
#include "agent/http_client.h"
#include "agent/http_url.h"
#include "agent/js_http.h"
#include "agent/js_http_body.h"
#include "agent/js_http_cookies.h"
#include "agent/vu.h"
#include "agent/vu_loop.h"
#include "common/codec.h"
#include "common/duk_ext.h"
#include "common/jsmod.h"

#define STATE_KEY "\377sbHttpState" /* hidden (0xFF-prefixed) keys */
#define PTR_KEY "\377p"

typedef struct job {
  struct http_state *st;
  const char *method;       /* static (METHODS), or a custom one on the value stack */
  const char *name_tpl;     /* http.url template, or NULL */
  duk_idx_t body_idx;
  sb_js_params p;
  sb_buf url;               /* this hop's URL as the script or Location gave it */
  const char *url_req;      /* without userinfo: what the client gets (into url or noauth) */
  size_t url_req_len;
  const char *url_shown;    /* userinfo masked: res.url and the url tag (into url or masked) */
  sb_buf noauth, masked;    /* the two above when the URL carries userinfo */
  sb_buf url0;              /* the first hop's url_req, kept at the first redirect: where the
                               script's credentials belong */
  int foreign;              /* redirected away from url0's host (and its subdomains): the
                               script's Authorization and Cookie headers stay behind (Go) */
  sb_buf body, ctype, tmp, cookie, authz, user, pass;
  sb_http_header hdrs[MAX_HEADERS + 5];
  sb_http_req req;
  sb_http_res res;
  int hop, digest_tried, started, inflight, done, finished;
  uint32_t nc;
  sb_http_done_cb cb;       /* what the client calls back: on_done (a call's jobs) or
                               on_async_done (http.asyncRequest) */
  void *cb_ud;
} job;

/* Per-VU state behind the global stash. */
typedef struct http_state {
  sb_vu *vu;
  job **jobs;               /* the pool: jobs[0..cap) */
  size_t cap;
  int any_done;             /* a callback fired since the VU last looked */
  int waiting;
  sb_js_expect ex;          /* setResponseCallback(); default expectedStatuses({200..399}) */
  sb_cookiejar *jar;        /* the VU's jar (http.cookieJar()), kept by the global stash */
  sb_buf plain_url;         /* the last URL found valid and without userinfo (job_set_url) */
  sb_js_http_rescache rescache; /* the Response's prototype and names, found on first use */
} http_state;

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
enum { M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OPTIONS };

/* --- per-VU state ------------------------------------------------------------------------ */

static void job_free(job *j) {
  sb_buf *bufs[] = {&j->url, &j->noauth, &j->url0, &j->masked, &j->body, &j->ctype, &j->tmp,
                    &j->cookie, &j->authz, &j->user, &j->pass};
  for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
    sb_buf_clear(bufs[i]);
  sb_http_res_clear(&j->res);
  free(j);
}

static duk_ret_t state_finalize(duk_context *ctx) {
  duk_get_prop_literal(ctx, 0, PTR_KEY);
  http_state *st = duk_get_pointer(ctx, -1);
  if (st) {
    for (size_t i = 0; i < st->cap; i++)
      if (st->jobs[i]) job_free(st->jobs[i]);
    free(st->jobs);
    sb_buf_clear(&st->plain_url);
    free(st);
    duk_push_pointer(ctx, NULL); /* a finalizer may run again if the holder is rescued */
    duk_put_prop_literal(ctx, 0, PTR_KEY);
  }
  return 0;
}

/* The VU's state, created on first use (found through the VU's slot afterwards). NULL on
 * SB_ENOMEM. */
static http_state *state_get(duk_context *ctx) {
  http_state *st;
  sb_vu *vu = sb_vu_from_ctx(ctx);
  void **slot = vu ? sb_vu_http_state(vu) : NULL;
  if (slot && *slot) return *slot;
  duk_push_global_stash(ctx);
  if (duk_get_prop_literal(ctx, -1, STATE_KEY)) { /* -> [ stash holder ] */
    duk_get_prop_literal(ctx, -1, PTR_KEY);
    st = duk_get_pointer(ctx, -1);
    duk_pop_3(ctx);
    if (slot) *slot = st;
    return st;
  }
  duk_pop(ctx);
  if (!(st = calloc(1, sizeof(*st)))) {
    duk_pop(ctx);
    return NULL;
  }
  st->ex.on = 1;
  st->ex.n = 1;
  st->ex.min[0] = 200;
  st->ex.max[0] = 399;
  duk_push_object(ctx); /* -> [ stash holder ] */
  duk_push_pointer(ctx, st);
  duk_put_prop_literal(ctx, -2, PTR_KEY);
  duk_push_c_function(ctx, state_finalize, 1);
  duk_set_finalizer(ctx, -2);
  duk_put_prop_literal(ctx, -2, STATE_KEY);
  duk_pop(ctx);
  if (slot) *slot = st;
  st->jar = sb_js_cookies_vu_jar(ctx);
  return st;
}

/* Job |i| of the pool, made on first use (memory kept for later calls). */
static job *job_at(duk_context *ctx, http_state *st, size_t i) {
  if (i >= st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 4;
    while (cap <= i)
      cap *= 2;
    job **n = realloc(st->jobs, cap * sizeof(*n));
    if (!n) return NULL;
    memset(n + st->cap, 0, (cap - st->cap) * sizeof(*n));
    st->jobs = n;
    st->cap = cap;
  }
  if (!st->jobs[i]) {
    job *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    sb_http_res_init(&j->res);
    st->jobs[i] = j; /* the sb_bufs are zero: initialized */
  }
  st->jobs[i]->st = st;
  return st->jobs[i];
}

void sb_js_http_iteration_start(sb_vu *vu) {
  const sb_vu_env *env = sb_vu_get_env(vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  http_state *st = *sb_vu_http_state(vu);
  if (cfg && cfg->no_cookies_reset) {
    /* k6's noCookiesReset: the jar keeps what earlier iterations received */
  } else if (st && st->jar) {
    if (sb_cookiejar_count(st->jar)) sb_cookiejar_clear_all(st->jar);
  } else {
    sb_js_cookies_reset(sb_vu_ctx(vu)); /* a jar used before any request (jar.set only) */
  }
  sb_http_client *c = sb_vu_http_if_any(vu);
  if (c && cfg && cfg->no_vu_connection_reuse) sb_http_client_close_idle(c);
}

/* --- metrics ----------------------------------------------------------------------------- */

/* Records k6's http_* samples and data_sent/data_received for one finished hop of |j|. */
static void emit(sb_vu *vu, const job *j) {
  sb_metrics *m = sb_vu_metrics(vu);
  const sb_http_res *res = &j->res;
  const sb_js_params *p = &j->p;
  const sb_js_expect *ex = p->has_expect ? &p->ex : &j->st->ex;
  if (!m) return;
  const sb_vu_env *env = sb_vu_get_env(vu);
  unsigned on = env->http ? sb_http_shared_config(env->http)->system_tags : SB_TAG_DEFAULTS;
  const char *kv[2 * (14 + SB_HTTP_MAX_TEST_TAGS + MAX_USER_TAGS + SB_VU_MAX_TAGS)];
  char status[16], code[16];
  size_t n = 0;
  /* k6: with digest auth the first answer is expected to be the 401 challenge */
  int digest_first = p->auth == AUTH_DIGEST && j->hop == 0 && !j->digest_tried;
  int ok = ex->on && (digest_first ? res->status == 401 : sb_js_http_expected(ex, res->status));
  const char *url = j->url_shown;
  { /* the status as text, without printf on the per-request path */
    int sv = res->status < 0 ? 0 : res->status, i = (int)sizeof(status) - 1;
    status[i] = '\0';
    do
      status[--i] = (char)('0' + sv % 10);
    while ((sv /= 10) && i > 0);
    memmove(status, status + i, sizeof(status) - (size_t)i);
  }
  /* the system tags systemTags keeps (k6's default set unless the options say otherwise) */
  if (ex->on && (on & SB_TAG_EXPECTED_RESPONSE))
    kv[n++] = "expected_response", kv[n++] = ok ? "true" : "false";
  if (on & SB_TAG_GROUP) kv[n++] = "group", kv[n++] = sb_vu_group(vu);
  if (on & SB_TAG_METHOD) kv[n++] = "method", kv[n++] = j->req.method;
  if (on & SB_TAG_NAME) kv[n++] = "name", kv[n++] = j->hop == 0 && j->name_tpl ? j->name_tpl : url;
  if (on & SB_TAG_PROTO) kv[n++] = "proto", kv[n++] = res->status && res->proto ? res->proto : "";
  if (on & SB_TAG_SCENARIO) kv[n++] = "scenario", kv[n++] = sb_vu_scenario(vu);
  if (on & SB_TAG_STATUS) kv[n++] = "status", kv[n++] = status;
  if ((on & SB_TAG_TLS_VERSION) && res->tls_version && *res->tls_version)
    kv[n++] = "tls_version", kv[n++] = res->tls_version;
  if (on & SB_TAG_URL) kv[n++] = "url", kv[n++] = url; /* k6: the real URL, the template is
                                                          the name only */
  if ((on & SB_TAG_IP) && res->remote_ip[0]) kv[n++] = "ip", kv[n++] = res->remote_ip;
  if ((on & SB_TAG_OCSP_STATUS) && res->ocsp.status && *res->ocsp.status)
    kv[n++] = "ocsp_status", kv[n++] = res->ocsp.status;
  if (res->error_code) {
    snprintf(code, sizeof(code), "%d", res->error_code);
    if (on & SB_TAG_ERROR_CODE) kv[n++] = "error_code", kv[n++] = code;
    if (on & SB_TAG_ERROR) kv[n++] = "error", kv[n++] = res->error ? res->error : "";
  }
  n = sb_vu_tags_overlay(vu, kv, n, sizeof(kv) / sizeof(kv[0])); /* vu, tags, exec.vu.tags */
  for (size_t i = 0; i < p->ntags; i += 2) { /* the request's tag wins over all, as in k6 */
    size_t k = 0;
    while (k < n && strcmp(kv[k], p->tags[i]) != 0)
      k += 2;
    if (k == n) n += 2;
    kv[k] = p->tags[i];
    kv[k + 1] = p->tags[i + 1];
  }
  const sb_tagset *t = sb_metrics_tags(m, kv, n / 2);
  if (t) {
    const sb_http_timings *tm = &res->timings;
    sb_metrics_add(m, SB_M_HTTP_REQS, t, 1);
    if (ex->on) sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, ok ? 0 : 1);
    sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, tm->duration);
    sb_metrics_add(m, SB_M_HTTP_REQ_BLOCKED, t, tm->blocked);
    sb_metrics_add(m, SB_M_HTTP_REQ_CONNECTING, t, tm->connecting);
    sb_metrics_add(m, SB_M_HTTP_REQ_TLS_HANDSHAKING, t, tm->tls_handshaking);
    sb_metrics_add(m, SB_M_HTTP_REQ_SENDING, t, tm->sending);
    sb_metrics_add(m, SB_M_HTTP_REQ_WAITING, t, tm->waiting);
    sb_metrics_add(m, SB_M_HTTP_REQ_RECEIVING, t, tm->receiving);
  }
  const sb_tagset *plain = sb_vu_tags(vu);
  if (plain) {
    sb_metrics_add(m, SB_M_DATA_SENT, plain, (double)res->bytes_sent);
    sb_metrics_add(m, SB_M_DATA_RECEIVED, plain, (double)res->bytes_received);
  }
}

/* --- one hop ----------------------------------------------------------------------------- */

static sb_cookiejar *job_jar(duk_context *ctx, job *j) {
  return j->p.jar ? j->p.jar : j->st->jar;
}

/* Sets j->url_req / url_shown / user / pass from j->url. Throws on an invalid URL. */
static void job_set_url(duk_context *ctx, job *j) {
  sb_url u;
  sb_err err;
  sb_buf *seen = &j->st->plain_url;
  if (seen->len == j->url.len && seen->len && memcmp(seen->data, j->url.data, seen->len) == 0) {
    sb_buf_reset(&j->user); /* the URL of the previous request: valid, no userinfo */
    sb_buf_reset(&j->pass);
    j->url_req = j->url_shown = j->url.data;
    j->url_req_len = j->url.len;
    return;
  }
  if (sb_url_parse(&u, j->url.data, j->url.len, &err) < 0)
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s %s: %s", j->method, j->url.data, err.msg);
  sb_buf_reset(&j->user);
  sb_buf_reset(&j->pass);
  if (!u.user) { /* nearly always: the URL as written serves all three, no copies */
    j->url_req = j->url_shown = j->url.data;
    j->url_req_len = j->url.len;
    sb_buf_reset(seen);
    if (sb_buf_append(seen, j->url.data, j->url.len) < 0) sb_buf_reset(seen);
    return;
  }
  sb_buf_reset(&j->noauth);
  sb_buf_reset(&j->masked);
  if (sb_url_write_stripped(&u, &j->noauth) < 0 || sb_url_write_clean(&u, &j->masked) < 0 ||
      sb_url_userinfo(&u, &j->user, &j->pass) < 0)
    (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  j->url_req = j->noauth.data;
  j->url_req_len = j->noauth.len;
  j->url_shown = j->masked.data;
}

/* Builds j->req for the next hop: headers (the script's, then what the body, compression,
 * cookies and auth imply) and body. */
static void job_build(duk_context *ctx, job *j, const sb_http_config *cfg) {
  sb_js_params *p = &j->p;
  size_t n = 0;
  sb_buf_reset(&j->cookie);
  for (size_t i = 0; i < p->nheaders; i++) {
    const sb_http_header *h = &p->headers[i];
    if (h->name_len == 6 && strncasecmp(h->name, "Cookie", 6) == 0) {
      if (!j->foreign) sb_buf_append(&j->cookie, h->value, h->value_len); /* the jar joins it */
      continue;
    }
    if (j->foreign && h->name_len == 13 && strncasecmp(h->name, "Authorization", 13) == 0)
      continue;
    j->hdrs[n++] = *h;
  }
  if (j->ctype.len && !p->has_ctype)
    j->hdrs[n++] = (sb_http_header){"Content-Type", 12, j->ctype.data, j->ctype.len};
  if (p->compression && j->body.len)
    j->hdrs[n++] = (sb_http_header){"Content-Encoding", 16, p->compression, strlen(p->compression)};
  sb_cookiejar *jar = job_jar(ctx, j);
  int has_jar_cookies = jar && sb_cookiejar_count(jar);
  if (((p->cookies_idx >= 0 || has_jar_cookies) &&
       sb_js_cookies_request_header(ctx, p->cookies_idx, has_jar_cookies ? jar : NULL,
                                    j->url_req, &j->cookie) > 0) ||
      j->cookie.len)
    j->hdrs[n++] = (sb_http_header){"Cookie", 6, j->cookie.data, j->cookie.len};
  if (j->authz.len && (!p->has_authz || j->foreign))
    j->hdrs[n++] = (sb_http_header){"Authorization", 13, j->authz.data, j->authz.len};
  j->req = (sb_http_req){.method = j->method, .url = j->url_req, .headers = j->hdrs,
                         .nheaders = n, .body = j->body.data, .body_len = j->body.len,
                         .timeout_ms = p->timeout_ms, .discard_body = p->discard,
                         .no_reuse = cfg && cfg->no_connection_reuse};
}

static void on_done(sb_http_res *res, void *ud) {
  job *j = ud;
  j->done = 1;
  j->st->any_done = 1;
  if (j->st->waiting) sb_vu_wake(j->st->vu);
}

/* k6's blockHostnames: a request to a blocked host fails like a dial error (error_code 1111,
 * "hostname (x) is in a blocked pattern (y)") before any lookup or connection. 1 when blocked. */
static int job_blocked(job *j, const sb_http_config *cfg) {
  sb_url u;
  sb_err err;
  const char *pat;
  if (!cfg || !cfg->nblock_hostnames || sb_url_parse(&u, j->url_req, j->url_req_len, &err) < 0 ||
      !(pat = sb_http_config_blocked(cfg, u.host, u.host_len)))
    return 0;
  sb_http_res_clear(&j->res);
  sb_http_res_init(&j->res);
  snprintf(j->res.errbuf, sizeof(j->res.errbuf), "hostname (%.*s) is in a blocked pattern (%s)",
           (int)(u.host_len > 64 ? 64 : u.host_len), u.host, pat);
  j->res.error = j->res.errbuf;
  j->res.error_code = SB_HTTP_ERR_BLOCKED_HOSTNAME;
  return 1;
}

static void job_start(duk_context *ctx, job *j, const sb_http_config *cfg) {
  sb_http_client *client = sb_vu_http(j->st->vu);
  if (!client) (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  job_build(ctx, j, cfg);
  j->started = j->inflight = 1;
  j->done = 0;
  int rc = job_blocked(j, cfg) ? SB_EINVAL
                               : sb_http_client_request(client, &j->req, &j->res, j->cb, j->cb_ud);
  if (rc == SB_ENOMEM) (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  if (rc < 0) { /* refused before anything was sent (another scheme): a failed response */
    j->res.timings = (sb_http_timings){0};
    j->cb(&j->res, j->cb_ud); /* on the VU's own stack: marks, never resumes it */
  }
}

/* Answers a digest challenge in j->res: fills j->authz. Returns 1 to send again. */
static int digest_answer(job *j) {
  size_t len;
  const char *v = sb_http_res_header(&j->res, "WWW-Authenticate", &len);
  sb_digest_challenge ch;
  char cnonce[17];
  if (!v || sb_digest_parse(&ch, v, len, NULL) < 0) return 0;
  snprintf(cnonce, sizeof(cnonce), "%08x%08x", (unsigned)rand(), (unsigned)time(NULL));
  sb_url u;
  sb_buf target;
  sb_buf_init(&target);
  if (sb_url_parse(&u, j->url_req, j->url_req_len, NULL) < 0 ||
      sb_url_write_target(&u, &target) < 0) {
    sb_buf_clear(&target);
    return 0;
  }
  sb_digest_request r = {.method = j->method, .uri = target.data, .user = j->user.data ? j->user.data : "",
                         .user_len = j->user.len, .pass = j->pass.data ? j->pass.data : "",
                         .pass_len = j->pass.len, .nc = ++j->nc, .cnonce = cnonce,
                         .body = j->body.data, .body_len = j->body.len};
  sb_buf_reset(&j->authz);
  int rc = sb_digest_authorization(&j->authz, &ch, &r);
  sb_buf_clear(&target);
  return rc == 0;
}

/* Follows a redirect in j->res: j->url becomes the next hop. Returns 1 to go on. */
static int redirect(duk_context *ctx, job *j) {
  int s = j->res.status;
  size_t len;
  const char *loc;
  if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return 0;
  if (j->hop >= j->p.redirects || !(loc = sb_http_res_header(&j->res, "Location", &len))) return 0;
  sb_buf_reset(&j->tmp);
  if (sb_url_resolve(j->url_req, loc, len, &j->tmp) < 0) return 0;
  sb_url from, to;
  if (sb_url_parse(&to, j->tmp.data, j->tmp.len, NULL) < 0 || !to.port) return 0;
  if (j->hop == 0) { /* the first request's URL: kept only once a redirect needs it */
    sb_buf_reset(&j->url0);
    if (sb_buf_append(&j->url0, j->url_req, j->url_req_len) < 0) return 0;
  }
  sb_url_parse(&from, j->url0.data, j->url0.len, NULL);
  j->foreign = !sb_url_auth_may_follow(&from, &to); /* Go compares with the first request */
  sb_buf_reset(&j->authz); /* credentials from the URL went with that URL only (Go) */
  sb_buf swap = j->url;
  j->url = j->tmp;
  j->tmp = swap;
  job_set_url(ctx, j);
  if (s <= 303 && strcmp(j->method, "HEAD") != 0) {
    j->method = "GET";
    sb_buf_reset(&j->body);
    sb_buf_reset(&j->ctype);
  }
  return 1;
}

/* A hop of |j| ended: measure it, keep its cookies, and start the next hop if there is one.
 * Returns 1 when the job is finished. */
static int job_hop_done(duk_context *ctx, job *j, const sb_http_config *cfg) {
  sb_vu *vu = j->st->vu;
  j->inflight = 0;
  emit(vu, j);
  if (j->res.nheaders && sb_http_res_header(&j->res, "Set-Cookie", NULL) && job_jar(ctx, j))
    sb_js_cookies_store_response(job_jar(ctx, j), j->url_req, j->res.headers, j->res.nheaders);
  if (j->res.status == 401 && j->p.auth == AUTH_DIGEST && !j->digest_tried) {
    j->digest_tried = 1;
    if (digest_answer(j)) {
      job_start(ctx, j, cfg);
      return 0;
    }
  }
  if (redirect(ctx, j)) {
    j->hop++;
    job_start(ctx, j, cfg);
    return 0;
  }
  j->finished = 1;
  return 1;
}

/* --- running jobs ------------------------------------------------------------------------ */

static void on_cancel(void *ud) {
  sb_http_client_cancel(ud);
}

static size_t host_inflight(http_state *st, size_t n, const job *j) {
  size_t k = 0;
  const char *h = strstr(j->url_req, "://");
  size_t hl = h ? strcspn(h + 3, "/?#") : 0;
  for (size_t i = 0; i < n; i++) {
    const job *o = st->jobs[i];
    const char *oh = o->inflight ? strstr(o->url_req, "://") : NULL;
    if (oh && h && strcspn(oh + 3, "/?#") == hl && strncmp(oh + 3, h + 3, hl) == 0) k++;
  }
  return k;
}

/* Runs jobs[0..n) to the end, at most |par| at once and |per_host| per host (0: no limit).
 * Returns 0, or -1 when the VU was interrupted (the caller returns to JS at once). */
static int run_jobs(duk_context *ctx, http_state *st, size_t n, size_t par, size_t per_host) {
  sb_vu *vu = st->vu;
  const sb_vu_env *env = sb_vu_get_env(vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  size_t finished = 0, inflight = 0;
  while (finished < n) {
    for (size_t i = 0; i < n && inflight < par; i++) {
      job *j = st->jobs[i];
      if (j->started || (per_host && host_inflight(st, n, j) >= per_host)) continue;
      job_start(ctx, j, cfg);
      inflight++;
    }
    if (!st->any_done) {
      sb_vu_set_cancel(vu, on_cancel, sb_vu_http(vu));
      st->waiting = 1;
      int rc = sb_vu_wait(vu);
      st->waiting = 0;
      sb_vu_set_cancel(vu, NULL, NULL);
      if (rc == SB_ECANCELED || !st->any_done) {
        sb_http_client_cancel(sb_vu_http(vu)); /* no-op when the VU already did */
        for (size_t i = 0; i < n; i++)
          st->jobs[i]->inflight = 0;
        return -1; /* the VU throws the interruption */
      }
    }
    st->any_done = 0;
    for (size_t i = 0; i < n; i++) {
      job *j = st->jobs[i];
      if (!j->done) continue;
      j->done = 0;
      if (job_hop_done(ctx, j, cfg)) finished++, inflight--;
    }
  }
  return 0;
}

/* Prepares job |j| from the arguments at the given stack indices (body_idx < 0: no body). */
static void job_init(duk_context *ctx, job *j, const char *method, duk_idx_t url_idx,
                     duk_idx_t body_idx, duk_idx_t params_idx) {
  sb_vu *vu = j->st->vu;
  const char *url = NULL;
  sb_err err;
  j->method = method;
  j->name_tpl = NULL;
  j->hop = j->digest_tried = j->started = j->inflight = j->done = j->finished = 0;
  j->nc = 0;
  j->cb = on_done;
  j->cb_ud = j;
  j->body_idx = body_idx;
  if (sb_js_http_url_arg(ctx, url_idx, &url, &j->name_tpl) < 0) {
    url = duk_to_string(ctx, url_idx);
    j->name_tpl = NULL;
  }
  sb_js_http_read_params(ctx, params_idx, &j->p, vu);
  sb_buf_reset(&j->url);
  if (sb_buf_puts(&j->url, url) < 0) (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  job_set_url(ctx, j);
  j->foreign = 0;
  int rc = body_idx >= 0 ? sb_js_http_body_encode(ctx, body_idx, &j->body, &j->ctype, &err) : 0;
  if (body_idx < 0) sb_buf_reset(&j->body), sb_buf_reset(&j->ctype);
  if (rc < 0) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s %s: body: %s", method, url, err.msg);
  if (j->p.compression && j->body.len) {
    sb_buf_reset(&j->tmp);
    sb_buf scratch;
    sb_buf_init(&scratch);
    rc = sb_codec_encode_chain(j->p.compression, strlen(j->p.compression), j->body.data,
                               j->body.len, &j->tmp, &scratch, &err);
    sb_buf_clear(&scratch);
    if (rc < 0) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "params.compression: %s", err.msg);
    sb_buf swap = j->body;
    j->body = j->tmp;
    j->tmp = swap;
  }
  sb_buf_reset(&j->authz);
  if (j->user.len && j->p.auth != AUTH_DIGEST && !j->p.has_authz &&
      sb_http_auth_basic(&j->authz, j->user.data, j->user.len, j->pass.data ? j->pass.data : "",
                         j->pass.len) < 0)
    (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
}

static void push_job_response(duk_context *ctx, job *j) {
  /* res.request.headers shows what went out, the client's default User-Agent included (k6) */
  size_t n = j->req.nheaders;
  int has_ua = 0;
  for (size_t i = 0; i < n; i++)
    if (j->hdrs[i].name_len == 10 && strncasecmp(j->hdrs[i].name, "User-Agent", 10) == 0) has_ua = 1;
  const sb_vu_env *env = sb_vu_get_env(j->st->vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  const char *ua = sb_http_user_agent(cfg);
  if (!has_ua && *ua && n < sizeof(j->hdrs) / sizeof(j->hdrs[0]))
    j->hdrs[n++] = (sb_http_header){"User-Agent", 10, ua, strlen(ua)};
  sb_js_http_resinfo ri = {.cache = &j->st->rescache,
                           .method = j->method, .url = j->url.data ? j->url.data : "",
                           .body_idx = j->body_idx, .req_headers = j->hdrs, .nreq_headers = n,
                           .sent_body = j->p.compression ? NULL : j->body.data,
                           .sent_body_len = j->body.len,
                           .discard = j->p.discard, .binary = j->p.binary};
  sb_js_http_push_response(ctx, &ri, &j->res);
}

/* k6: a failed request logs a "Request Failed" warning, or throws with the `throw` option. */
static void report_failure(duk_context *ctx, job *j) {
  const sb_vu_env *env = sb_vu_get_env(j->st->vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  const char *e = j->res.error ? j->res.error : "";
  const char *u = j->url_shown ? j->url_shown : "";
  if (cfg && cfg->throw_errors) (void)duk_error(ctx, DUK_ERR_ERROR, "%s %s: %s", j->method, u, e);
  if (!env->log) return;
  char line[600];
  int n = snprintf(line, sizeof(line), "Request Failed  error=\"%s \\\"%s\\\": %s\"", j->method, u, e);
  if (n > 0) env->log("warn", "http", line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1, env->log_ud);
}

static http_state *begin(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (!vu || !sb_vu_busy(vu))
    (void)duk_error(ctx, DUK_ERR_ERROR, "Making http requests in the init context is not supported");
  http_state *st = state_get(ctx);
  if (!st) (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  st->vu = vu;
  st->any_done = 0;
  return st;
}

/* Runs one request for the VU of |ctx| and pushes its Response. |body_idx| < 0: no body. */
static duk_ret_t do_request(duk_context *ctx, const char *method, duk_idx_t url_idx,
                            duk_idx_t body_idx, duk_idx_t params_idx) {
  http_state *st = begin(ctx);
  job *j = job_at(ctx, st, 0);
  if (!j) return duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  job_init(ctx, j, method, url_idx, body_idx, params_idx);
  if (run_jobs(ctx, st, 1, 1, 0) < 0) return 0;
  if (j->res.error_code) report_failure(ctx, j);
  push_job_response(ctx, j);
  return 1;
}

/* get(url, params) / head(url, params) */
static duk_ret_t http_nobody(duk_context *ctx) {
  duk_set_top(ctx, 2);
  return do_request(ctx, METHODS[duk_get_current_magic(ctx)], 0, -1, 1);
}

/* post/put/patch/del/options(url, body, params) */
static duk_ret_t http_body(duk_context *ctx) {
  duk_set_top(ctx, 3);
  return do_request(ctx, METHODS[duk_get_current_magic(ctx)], 0, 1, 2);
}

/* The method to send for |m|: a standard one (any case) as its static upper-case name; any other
 * token (TRACE, PROPFIND, ...) as given — |m| lives on the value stack for the whole call; NULL
 * for what is not a method. */
static const char *method_of(const char *m) {
  static const char *const OTHERS[] = {"TRACE", "CONNECT"};
  size_t n = strlen(m);
  for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++)
    if (strcasecmp(m, METHODS[i]) == 0) return METHODS[i];
  for (size_t i = 0; i < sizeof(OTHERS) / sizeof(OTHERS[0]); i++)
    if (strcasecmp(m, OTHERS[i]) == 0) return OTHERS[i];
  if (n == 0 || n > 20) return NULL;
  for (size_t i = 0; i < n; i++)
    if (m[i] <= 32 || m[i] >= 127 || strchr("()<>@,;:\\\"/[]?={}", m[i])) return NULL;
  return m;
}

/* request(method, url, body, params) */
static duk_ret_t http_request(duk_context *ctx) {
  duk_set_top(ctx, 4);
  const char *m = method_of(duk_to_string(ctx, 0));
  if (!m)
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "request(): unsupported method '%s'",
                     duk_get_string(ctx, 0));
  return do_request(ctx, m, 1, 2, 3);
}

/* --- batch ------------------------------------------------------------------------------- */

/* One batch entry at |idx| (a URL string, [method, url, body, params] or {method, url, body,
 * params}) becomes job |i|. */
static void batch_entry(duk_context *ctx, http_state *st, size_t i, duk_idx_t idx) {
  job *j = job_at(ctx, st, i);
  if (!j) (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  if (duk_is_string(ctx, idx) || sb_js_http_url_arg(ctx, idx, &(const char *){0}, &(const char *){0}) == 0) {
    duk_push_undefined(ctx);
    job_init(ctx, j, "GET", idx, -1, duk_get_top_index(ctx));
    return;
  }
  if (!duk_is_object(ctx, idx))
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "batch(): request %zu is not a URL, an array or an object", i);
  int arr = duk_is_array(ctx, idx);
  duk_idx_t base = duk_get_top(ctx);
  if (arr) {
    for (int k = 0; k < 4; k++)
      duk_get_prop_index(ctx, idx, (duk_uarridx_t)k);
  } else {
    duk_get_prop_literal(ctx, idx, "method");
    duk_get_prop_literal(ctx, idx, "url");
    duk_get_prop_literal(ctx, idx, "body");
    duk_get_prop_literal(ctx, idx, "params");
  }
  const char *m = duk_is_undefined(ctx, base) ? "GET" : method_of(duk_to_string(ctx, base));
  if (!m) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "batch(): request %zu: unsupported method", i);
  if (duk_is_undefined(ctx, base + 1))
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "batch(): request %zu has no url", i);
  job_init(ctx, j, m, base + 1, base + 2, base + 3);
}

/* batch(requests): runs them concurrently (batch / batchPerHost limits) and returns their
 * responses in the same shape (array or object). */
static duk_ret_t http_batch(duk_context *ctx) {
  duk_set_top(ctx, 1);
  http_state *st = begin(ctx);
  const sb_vu_env *env = sb_vu_get_env(st->vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  if (!duk_is_object(ctx, 0))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "batch(): expects an array or an object of requests");
  int arr = duk_is_array(ctx, 0);
  duk_idx_t keys = -1;
  size_t n = 0;
  if (arr) {
    n = duk_get_length(ctx, 0);
  } else {
    duk_push_array(ctx);
    keys = duk_get_top_index(ctx);
    duk_enum(ctx, 0, DUK_ENUM_OWN_PROPERTIES_ONLY);
    while (duk_next(ctx, -1, 0)) /* [ reqs keys enum key ] */
      duk_put_prop_index(ctx, keys, (duk_uarridx_t)n++);
    duk_pop(ctx);
  }
  duk_require_stack(ctx, (duk_idx_t)(n * 8 + 16));
  for (size_t i = 0; i < n; i++) {
    if (arr) {
      duk_get_prop_index(ctx, 0, (duk_uarridx_t)i);
    } else {
      duk_get_prop_index(ctx, keys, (duk_uarridx_t)i);
      duk_get_prop(ctx, 0);
    }
    batch_entry(ctx, st, i, duk_get_top_index(ctx));
  }
  size_t par = cfg && cfg->batch > 0 ? (size_t)cfg->batch : 20;
  size_t per_host = cfg ? (size_t)cfg->batch_per_host : 6;
  if (n && run_jobs(ctx, st, n, par, per_host) < 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (st->jobs[i]->res.error_code) report_failure(ctx, st->jobs[i]);
  if (arr) duk_push_array(ctx);
  else duk_push_object(ctx);
  for (size_t i = 0; i < n; i++) {
    push_job_response(ctx, st->jobs[i]);
    if (arr) {
      duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
    } else {
      duk_get_prop_index(ctx, keys, (duk_uarridx_t)i);
      duk_swap_top(ctx, -2);
      duk_put_prop(ctx, -3);
    }
  }
  return 1;
}

/* --- response callbacks ------------------------------------------------------------------ */

/* setResponseCallback(expectedStatuses(...) | null) */
static duk_ret_t http_set_response_callback(duk_context *ctx) {
  duk_set_top(ctx, 1);
  http_state *st = state_get(ctx);
  if (!st) return duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  sb_js_http_read_expect(ctx, 0, &st->ex, "setResponseCallback()");
  return 0;
}

/* --- asyncRequest ------------------------------------------------------------------------ */

/* http.asyncRequest(): a job of its own on the VU's event loop (agent/vu_loop.h). The call's
 * values (arguments, coerced strings, the promise's deferred) are pinned under the task's id:
 * the job's borrowed strings stay valid (Duktape never moves a string), and each hop's
 * completion pushes them back, so body and cookie indices point at them again. */
typedef struct async_job {
  sb_vu_task task;            /* first */
  job *j;
  duk_idx_t body_idx, cookies_idx; /* in the pinned values; < 0: none */
  duk_idx_t deferred;         /* index of the deferred {promise, resolve, reject} */
} async_job;

static void on_async_done(sb_http_res *res, void *ud) {
  async_job *a = ud;
  a->j->done = 1;
  sb_vu_task_ready(a->j->st->vu, &a->task);
}

static void async_free(async_job *a) {
  job_free(a->j);
  free(a);
}

static void async_cancel(sb_vu_task *t) {
  async_job *a = (async_job *)t;
  sb_http_client *c = a->j->inflight ? sb_vu_http_if_any(a->j->st->vu) : NULL;
  if (c) sb_http_client_cancel(c); /* only when the whole loop is cancelled: all go */
  async_free(a);
}

/* duk_safe_call body: [ vals... ] -> [ res | undefined ]: the hop that ended, the next one
 * (undefined: in flight) or the Response. */
static duk_ret_t async_step(duk_context *ctx, void *udata) {
  async_job *a = udata;
  job *j = a->j;
  const sb_vu_env *env = sb_vu_get_env(j->st->vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  j->done = 0;
  if (!job_hop_done(ctx, j, cfg)) {
    duk_push_undefined(ctx);
    return 1;
  }
  if (j->res.error_code) report_failure(ctx, j);
  push_job_response(ctx, j);
  return 1;
}

static void async_run(duk_context *ctx, sb_vu_task *t) {
  async_job *a = (async_job *)t;
  duk_idx_t base = duk_get_top(ctx);
  sb_vu_task_pinned(ctx, t->id);                      /* -> [ vals ] */
  duk_size_t n = duk_get_length(ctx, base);
  duk_require_stack(ctx, (duk_idx_t)n + 8);
  for (duk_size_t i = 0; i < n; i++)
    duk_get_prop_index(ctx, base, (duk_uarridx_t)i); /* -> [ vals v0 v1 ... ] */
  duk_idx_t v0 = base + 1;
  a->j->body_idx = a->body_idx >= 0 ? v0 + a->body_idx : -1;
  a->j->p.cookies_idx = a->cookies_idx >= 0 ? v0 + a->cookies_idx : -1;
  int rc = duk_safe_call(ctx, async_step, a, 0, 1);
  if (rc == DUK_EXEC_SUCCESS && duk_is_undefined(ctx, -1)) { /* the next hop flies */
    duk_set_top(ctx, base);
    return;
  }
  duk_get_prop_string(ctx, v0 + a->deferred, rc == DUK_EXEC_SUCCESS ? "resolve" : "reject");
  duk_swap_top(ctx, -2);
  sb_vu_task_done(ctx, t);
  async_free(a);
  duk_call(ctx, 1); /* settles the promise: its reactions run when the loop drains */
  duk_set_top(ctx, base);
}

/* duk_safe_call body: [ method url body params ] -> [ method url body params vals ]: job_init's
 * checks and coercions, and every value the job borrows from (the call's whole stack, in an
 * array: a safe call sees the caller's indices, and drops what it does not return). */
static duk_ret_t async_init(duk_context *ctx, void *udata) {
  async_job *a = udata;
  job_init(ctx, a->j, duk_get_string(ctx, 0), 1, 2, 3);
  duk_idx_t n = duk_get_top(ctx);
  duk_push_array(ctx);
  for (duk_idx_t i = 0; i < n; i++) {
    duk_dup(ctx, i);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  return 1;
}

/* duk_safe_call body: starts the job's first hop. */
static duk_ret_t async_start(duk_context *ctx, void *udata) {
  async_job *a = udata;
  const sb_vu_env *env = sb_vu_get_env(a->j->st->vu);
  job_start(ctx, a->j, env->http ? sb_http_shared_config(env->http) : NULL);
  return 0;
}

/* asyncRequest(method, url, body, params) -> Promise<Response> */
static duk_ret_t http_async_request(duk_context *ctx) {
  duk_set_top(ctx, 4);
  http_state *st = begin(ctx);
  const char *m = method_of(duk_to_string(ctx, 0));
  if (!m)
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "asyncRequest(): unsupported method '%s'",
                     duk_get_string(ctx, 0));
  duk_push_string(ctx, m);
  duk_replace(ctx, 0);
  async_job *a = calloc(1, sizeof(*a));
  if (!a || !(a->j = calloc(1, sizeof(*a->j)))) {
    free(a);
    return duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  }
  a->j->st = st;
  if (duk_safe_call(ctx, async_init, a, 0, 1) != DUK_EXEC_SUCCESS) { /* k6: a rejection */
    async_free(a);
    if (!sb_jsmod_push_hook(ctx, "deferred")) return duk_throw(ctx);
    duk_call(ctx, 0);                                 /* -> [ ... err deferred ] */
    duk_get_prop_string(ctx, -1, "reject");
    duk_dup(ctx, -3);
    duk_call(ctx, 1);
    duk_pop(ctx);
    duk_get_prop_string(ctx, -1, "promise");
    return 1;
  }                                                   /* -> [ method url body params vals ] */
  a->j->cb = on_async_done;
  a->j->cb_ud = a;
  a->body_idx = 2;
  a->cookies_idx = a->j->p.cookies_idx;
  a->task.run = async_run;
  a->task.cancel = async_cancel;
  if (!sb_jsmod_push_hook(ctx, "deferred") || sb_vu_task_add(st->vu, &a->task) != 0) {
    async_free(a);
    return duk_error(ctx, DUK_ERR_ERROR, "asyncRequest(): this script has no Promise "
                     "(--compatibility-mode=base); use http.request()");
  }
  duk_call(ctx, 0);                                   /* -> [ ... vals deferred ] */
  a->deferred = (duk_idx_t)duk_get_length(ctx, 4);
  duk_dup_top(ctx);
  duk_put_prop_index(ctx, 4, (duk_uarridx_t)a->deferred);
  sb_vu_task_pin(ctx, &a->task, 4);
  if (duk_safe_call(ctx, async_start, a, 0, 1) != DUK_EXEC_SUCCESS) {
    sb_vu_task_done(ctx, &a->task);
    async_free(a);
    return duk_throw(ctx);
  }
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "promise");
  return 1;
}

static const struct {
  const char *name;
  duk_c_function fn;
  duk_idx_t nargs;
  int magic;
} FUNCS[] = {
    {"get", http_nobody, 2, M_GET},       {"head", http_nobody, 2, M_HEAD},
    {"post", http_body, 3, M_POST},       {"put", http_body, 3, M_PUT},
    {"patch", http_body, 3, M_PATCH},     {"del", http_body, 3, M_DELETE},
    {"options", http_body, 3, M_OPTIONS}, {"request", http_request, 4, 0},
    {"batch", http_batch, 1, 0},          {"asyncRequest", http_async_request, DUK_VARARGS, 0},
    {"expectedStatuses", sb_js_http_expected_statuses, DUK_VARARGS, 0},
    {"setResponseCallback", http_set_response_callback, 1, 0},
};

static const char *const CONSTS[][2] = {
    {"SSL_3_0", "ssl3.0"},          {"TLS_1_0", "tls1.0"},
    {"TLS_1_1", "tls1.1"},          {"TLS_1_2", "tls1.2"},
    {"TLS_1_3", "tls1.3"},          {"OCSP_STATUS_GOOD", "good"},
    {"OCSP_STATUS_REVOKED", "revoked"}, {"OCSP_STATUS_UNKNOWN", "unknown"},
    {"OCSP_REASON_UNSPECIFIED", "unspecified"},
    {"OCSP_REASON_KEY_COMPROMISE", "key_compromise"},
    {"OCSP_REASON_CA_COMPROMISE", "ca_compromise"},
    {"OCSP_REASON_AFFILIATION_CHANGED", "affiliation_changed"},
    {"OCSP_REASON_SUPERSEDED", "superseded"},
    {"OCSP_REASON_CESSATION_OF_OPERATION", "cessation_of_operation"},
    {"OCSP_REASON_CERTIFICATE_HOLD", "certificate_hold"},
    {"OCSP_REASON_REMOVE_FROM_CRL", "remove_from_crl"},
    {"OCSP_REASON_PRIVILEGE_WITHDRAWN", "privilege_withdrawn"},
    {"OCSP_REASON_AA_COMPROMISE", "aa_compromise"},
};

void sb_js_http_warm(duk_context *ctx, sb_vu *vu) {
  http_state *st = state_get(ctx);
  if (!st || !job_at(ctx, st, 0)) return;
  sb_js_http_rescache_warm(ctx, &st->rescache);
  sb_vu_http(vu);
}

void sb_js_http_push(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (vu) sb_vu_note_http(vu);
  duk_push_object(ctx); /* -> [ exports ] */
  for (size_t i = 0; i < sizeof(FUNCS) / sizeof(FUNCS[0]); i++) {
    sb_duk_put_light(ctx, FUNCS[i].name, FUNCS[i].fn, FUNCS[i].nargs, FUNCS[i].magic);
  }
  for (size_t i = 0; i < sizeof(CONSTS) / sizeof(CONSTS[0]); i++) {
    duk_push_string(ctx, CONSTS[i][1]);
    duk_put_prop_string(ctx, -2, CONSTS[i][0]);
  }
  sb_js_cookies_push_api(ctx);
  sb_js_http_body_push_api(ctx);
}
