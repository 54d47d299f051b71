/* The "k6/http" module: get, head, post, put, patch, del, options, request.
 *
 * A request suspends the VU's coroutine until the client's callback wakes it; the response lands
 * in a per-VU sb_http_res kept behind the heap stash (allocated once, freed by a finalizer when the
 * heap goes), so a steady request loop allocates only the JS objects it returns. Headers and tags
 * are gathered in stack arrays pointing at strings on the Duktape value stack, which stays put
 * while the coroutine sleeps. Samples follow k6: http_reqs, http_req_* trends and http_req_failed
 * tagged {expected_response, group, method, name, proto, scenario, status, url[, error,
 * error_code]} plus the user's tags; data_sent/data_received with the VU's plain tags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "agent/http_client.h"
#include "agent/vu.h"

#define MAX_USER_TAGS 32
#define MAX_URL 2048
#define MAX_REDIRECTS 10            /* k6's maxRedirects default */
#define STATE_KEY "\377sbHttpState" /* hidden (0xFF-prefixed) keys */
#define PROTO_KEY "\377sbHttpResProto"
#define PTR_KEY "\377p"
#define RAW_KEY "\377r"      /* a response's lazy fields, raw (see push_raw()) */
#define REQ_BODY_KEY "\377b" /* the request body, for response.request.body */

/* Per-VU state behind the heap stash. */
typedef struct http_state {
  sb_http_res res; /* reused by every request of the VU */
  sb_buf form;     /* form-encoded body of an object passed as body */
  int done;        /* set by the client's callback */
  sb_vu *vu;       /* to wake */
} http_state;

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
enum { M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OPTIONS };

/* --- per-VU state ------------------------------------------------------------------------ */

static duk_ret_t state_finalize(duk_context *ctx) {
  duk_get_prop_literal(ctx, 0, PTR_KEY);
  http_state *st = duk_get_pointer(ctx, -1);
  if (st) {
    sb_http_res_clear(&st->res);
    sb_buf_clear(&st->form);
    free(st);
    duk_push_pointer(ctx, NULL); /* a finalizer may run again if the holder is rescued */
    duk_put_prop_literal(ctx, 0, PTR_KEY);
  }
  return 0;
}

/* The VU's state, created on first use. NULL on SB_ENOMEM. */
static http_state *state_get(duk_context *ctx) {
  http_state *st;
  duk_push_heap_stash(ctx);
  if (duk_get_prop_literal(ctx, -1, STATE_KEY)) { /* -> [ stash holder ] */
    duk_get_prop_literal(ctx, -1, PTR_KEY);
    st = duk_get_pointer(ctx, -1);
    duk_pop_3(ctx);
    return st;
  }
  duk_pop(ctx);
  st = calloc(1, sizeof(*st));
  if (!st) {
    duk_pop(ctx);
    return NULL;
  }
  sb_http_res_init(&st->res);
  sb_buf_init(&st->form);
  duk_push_object(ctx); /* -> [ stash holder ] */
  duk_push_pointer(ctx, st);
  duk_put_prop_literal(ctx, -2, PTR_KEY);
  duk_push_c_function(ctx, state_finalize, 1);
  duk_set_finalizer(ctx, -2);
  duk_put_prop_literal(ctx, -2, STATE_KEY);
  duk_pop(ctx);
  return st;
}

/* --- the response prototype -------------------------------------------------------------- */

static duk_ret_t json_decode(duk_context *ctx, void *udata) {
  duk_json_decode(ctx, -1);
  return 1;
}

/* res.json([selector]): JSON.parse of the body; throws naming the problem when it is not JSON. */
static duk_ret_t res_json(duk_context *ctx) {
  if (!duk_is_undefined(ctx, 0))
    return duk_error(ctx, DUK_ERR_ERROR, "json(selector): selectors are not supported yet");
  duk_push_this(ctx);
  duk_get_prop_literal(ctx, -1, "body"); /* -> [ sel this body ] */
  if (!duk_is_string(ctx, -1))
    return duk_error(ctx, DUK_ERR_ERROR,
                     "json(): the response has no body (responseType 'none' or a failed request)");
  if (duk_safe_call(ctx, json_decode, NULL, 1, 1) != DUK_EXEC_SUCCESS)
    return duk_error(ctx, DUK_ERR_SYNTAX_ERROR, "json(): the response body is not JSON: %s",
                     duk_safe_to_string(ctx, -1));
  return 1;
}

static duk_ret_t res_lazy_get(duk_context *ctx);
#define LAZY_COUNT 6
static const char *const lazy_names[LAZY_COUNT];

/* Pushes the shared Response prototype (created once per heap). */
static void push_proto(duk_context *ctx) {
  duk_push_heap_stash(ctx);
  if (!duk_get_prop_literal(ctx, -1, PROTO_KEY)) { /* -> [ stash undefined ] */
    duk_pop(ctx);
    duk_push_object(ctx);
    duk_push_c_function(ctx, res_json, 1);
    duk_put_prop_literal(ctx, -2, "json");
    for (int i = 0; i < LAZY_COUNT; i++) {
      duk_push_string(ctx, lazy_names[i]);
      duk_push_c_function(ctx, res_lazy_get, 0); /* -> [ stash proto name getter ] */
      duk_set_magic(ctx, -1, i);
      duk_def_prop(ctx, -3, DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_SET_CONFIGURABLE |
                                DUK_DEFPROP_SET_ENUMERABLE);
    }
    duk_dup_top(ctx);
    duk_put_prop_literal(ctx, -3, PROTO_KEY);
  }
  duk_remove(ctx, -2); /* -> [ proto ] */
}

/* --- arguments --------------------------------------------------------------------------- */

/* Parses a k6 duration string ("30s", "1m30s", "500ms", "1.5s", "2h", "100us") or a bare number
 * (ms). Returns the milliseconds or -1. */
static double parse_duration(const char *s) {
  double total = 0;
  char *end;
  double v = strtod(s, &end);
  if (end == s) return -1;
  if (!*end) return v;
  while (*s) {
    v = strtod(s, &end);
    if (end == s) return -1;
    s = end;
    if (!strncmp(s, "ms", 2))
      total += v, s += 2;
    else if (!strncmp(s, "us", 2))
      total += v / 1000, s += 2;
    else if (!strncmp(s, "\xc2\xb5s", 3))
      total += v / 1000, s += 3;
    else if (!strncmp(s, "ns", 2))
      total += v / 1e6, s += 2;
    else if (*s == 'h')
      total += v * 3600000, s++;
    else if (*s == 'm')
      total += v * 60000, s++;
    else if (*s == 's')
      total += v * 1000, s++;
    else
      return -1;
  }
  return total;
}

/* Appends |s| percent-encoded as in application/x-www-form-urlencoded. */
static int form_escape(sb_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char e[3];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      if (sb_buf_append(b, s, 1) < 0) return -1;
    } else if (ch == ' ') {
      if (sb_buf_append(b, "+", 1) < 0) return -1;
    } else {
      e[0] = '%', e[1] = hex[ch >> 4], e[2] = hex[ch & 15];
      if (sb_buf_append(b, e, 3) < 0) return -1;
    }
  }
  return 0;
}

/* Form-encodes the object at |idx| into st->form (k6 sends objects that way). */
static int form_encode(duk_context *ctx, duk_idx_t idx, sb_buf *b) {
  sb_buf_reset(b);
  duk_enum(ctx, idx, DUK_ENUM_OWN_PROPERTIES_ONLY | DUK_ENUM_SORT_ARRAY_INDICES);
  int r = 0;
  while (r == 0 && duk_next(ctx, -1, 1)) { /* -> [ ... enum key value ] */
    if (b->len) r |= sb_buf_append(b, "&", 1);
    r |= form_escape(b, duk_to_string(ctx, -2));
    r |= sb_buf_append(b, "=", 1);
    r |= form_escape(b, duk_to_string(ctx, -1));
    duk_pop_2(ctx);
  }
  duk_pop(ctx);
  return r ? SB_ENOMEM : 0;
}

/* What params said. Strings point at values on the value stack (kept until the call returns). */
typedef struct params {
  sb_http_header headers[SB_HTTP_MAX_HEADERS];
  size_t nheaders;
  const char *tags[2 * MAX_USER_TAGS];
  size_t ntags;
  const char *name; /* tags.name */
  double timeout_ms;
  int redirects; /* hops to follow */
  int discard;   /* responseType "none" */
  int has_ctype;
} params;

/* Reads params at |idx| (object or undefined). Coerced strings are left on the stack above it. */
static void read_params(duk_context *ctx, duk_idx_t idx, params *p, sb_vu *vu) {
  const sb_vu_env *env = sb_vu_get_env(vu);
  memset(p, 0, sizeof(*p));
  p->redirects = MAX_REDIRECTS;
  p->discard = env && env->discard_response_bodies;
  if (!duk_is_object(ctx, idx)) return;
  duk_require_stack(ctx, 2 * (SB_HTTP_MAX_HEADERS + MAX_USER_TAGS) + 16);
  if (duk_get_prop_literal(ctx, idx, "headers") && duk_is_object(ctx, -1)) {
    duk_enum(ctx, -1, DUK_ENUM_OWN_PROPERTIES_ONLY);
    duk_idx_t e = duk_get_top_index(ctx);
    while (p->nheaders < SB_HTTP_MAX_HEADERS && duk_next(ctx, e, 1)) { /* [ h e .. k v ] */
      sb_http_header *h = &p->headers[p->nheaders++];
      duk_size_t n;
      h->name = duk_to_lstring(ctx, -2, &n);
      h->name_len = n;
      h->value = duk_to_lstring(ctx, -1, &n);
      h->value_len = n;
      if (h->name_len == 12 && strncasecmp(h->name, "Content-Type", 12) == 0) p->has_ctype = 1;
    }
  }
  if (duk_get_prop_literal(ctx, idx, "tags") && duk_is_object(ctx, -1)) {
    duk_enum(ctx, -1, DUK_ENUM_OWN_PROPERTIES_ONLY);
    duk_idx_t e = duk_get_top_index(ctx);
    while (p->ntags < 2 * MAX_USER_TAGS && duk_next(ctx, e, 1)) { /* [ t e .. k v ] */
      const char *k = duk_to_string(ctx, -2), *v = duk_to_string(ctx, -1);
      if (strcmp(k, "name") == 0) p->name = v;
      p->tags[p->ntags++] = k;
      p->tags[p->ntags++] = v;
    }
  }
  if (duk_get_prop_literal(ctx, idx, "timeout")) {
    if (duk_is_number(ctx, -1))
      p->timeout_ms = duk_get_number(ctx, -1);
    else if (duk_is_string(ctx, -1))
      p->timeout_ms = parse_duration(duk_get_string(ctx, -1));
    if (!(p->timeout_ms > 0))
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "params.timeout: '%s' is not a duration",
                      duk_safe_to_string(ctx, -1));
  }
  if (duk_get_prop_literal(ctx, idx, "redirects") && duk_is_number(ctx, -1))
    p->redirects = duk_get_int(ctx, -1) < 0 ? 0 : duk_get_int(ctx, -1);
  if (duk_get_prop_literal(ctx, idx, "responseType") && duk_is_string(ctx, -1)) {
    const char *rt = duk_get_string(ctx, -1);
    if (strcmp(rt, "none") == 0)
      p->discard = 1;
    else if (strcmp(rt, "text") == 0)
      p->discard = 0;
    else
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                      "params.responseType: '%s' is not supported (use 'text' or 'none')", rt);
  }
}

/* --- metrics ----------------------------------------------------------------------------- */

/* Records k6's http_* samples and data_sent/data_received for the finished request. */
static void emit(sb_vu *vu, const char *method, const char *url, const params *p,
                 const sb_http_res *res) {
  sb_metrics *m = sb_vu_metrics(vu);
  if (!m) return;
  const char *kv[2 * (10 + MAX_USER_TAGS)];
  char status[16], code[16];
  size_t n = 0;
  int expected = res->status >= 200 && res->status < 400;
  snprintf(status, sizeof(status), "%d", res->status);
  kv[n++] = "expected_response", kv[n++] = expected ? "true" : "false";
  kv[n++] = "group", kv[n++] = sb_vu_group(vu);
  kv[n++] = "method", kv[n++] = method;
  kv[n++] = "name", kv[n++] = p->name ? p->name : url;
  kv[n++] = "proto", kv[n++] = res->proto ? res->proto : "HTTP/1.1";
  kv[n++] = "scenario", kv[n++] = sb_vu_scenario(vu);
  kv[n++] = "status", kv[n++] = status;
  kv[n++] = "url", kv[n++] = url;
  if (res->error_code) {
    snprintf(code, sizeof(code), "%d", res->error_code);
    kv[n++] = "error_code", kv[n++] = code;
    kv[n++] = "error", kv[n++] = res->error ? res->error : "";
  }
  for (size_t i = 0; i < p->ntags; i += 2) { /* the user's tag wins over ours, as in k6 */
    size_t j = 0;
    while (j < n && strcmp(kv[j], p->tags[i]) != 0)
      j += 2;
    if (j == n) n += 2;
    kv[j] = p->tags[i];
    kv[j + 1] = p->tags[i + 1];
  }
  const sb_tagset *t = sb_metrics_tags(m, kv, n / 2);
  if (t) {
    const sb_http_timings *tm = &res->timings;
    sb_metrics_add(m, SB_M_HTTP_REQS, t, 1);
    sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, expected ? 0 : 1);
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

/* --- the Response object ----------------------------------------------------------------- */

/* Pushes |name| in Go's canonical form ("content-type" -> "Content-Type"). */
static void push_canonical(duk_context *ctx, const char *name, size_t len) {
  char buf[128];
  if (len >= sizeof(buf)) {
    duk_push_lstring(ctx, name, len);
    return;
  }
  int upper = 1;
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    if (ch == ' ' || ch == '\t' || ch == ':') { /* not a token: Go leaves it alone */
      duk_push_lstring(ctx, name, len);
      return;
    }
    if (upper && ch >= 'a' && ch <= 'z')
      ch -= 32;
    else if (!upper && ch >= 'A' && ch <= 'Z')
      ch += 32;
    buf[i] = ch;
    upper = ch == '-';
  }
  duk_push_lstring(ctx, buf, len);
}

/* Sets a number property; |key| must be a string literal (Duktape caches literal keys, so a
 * response's fixed keys are not interned again on every request). */
#define put_num(ctx, key, v) (duk_push_number((ctx), (v)), duk_put_prop_literal((ctx), -2, key))

/* Adds one header to the headers object at the top: [ ... headers ] -> [ ... headers ]. */
static void add_header(duk_context *ctx, const char *name, size_t nlen, const char *value,
                       size_t vlen) {
  push_canonical(ctx, name, nlen); /* -> [ ... headers name ] */
  duk_dup_top(ctx);
  if (duk_get_prop(ctx, -3)) { /* repeated header: "a, b" as Go's Header.Get joins them */
    duk_push_literal(ctx, ", ");
    duk_push_lstring(ctx, value, vlen);
    duk_concat(ctx, 3);
  } else {
    duk_pop(ctx);
    duk_push_lstring(ctx, value, vlen);
  }
  duk_put_prop(ctx, -3);
}

/* Lazy fields. Most scripts read a response's status and maybe its body, rarely its headers,
 * timings or request; building those as JS objects (a dozen interned strings, three objects) was
 * the largest cost of a request in the VU. So a response keeps them raw — one plain buffer, one
 * allocation and a memcpy: a fixed head, then the headers as [u16 name length][name][u32 value
 * length][value]... — and getters on the shared prototype build each field on first read, then
 * cache it as an own property (so the second read is a plain property read). */
typedef struct raw_head {
  double timings[7];  /* blocked, connecting, tls_handshaking, sending, waiting, receiving, duration */
  int32_t status, remote_port;
  char method[16];
  char ip[46];
} raw_head;

enum { LAZY_HEADERS, LAZY_TIMINGS, LAZY_REQUEST, LAZY_STATUS_TEXT, LAZY_REMOTE_IP, LAZY_REMOTE_PORT };
static const char *const lazy_names[LAZY_COUNT] = {"headers",     "timings",   "request",
                                         "status_text", "remote_ip", "remote_port"};

static void push_raw(duk_context *ctx, const char *method, const sb_http_res *res) {
  size_t need = sizeof(raw_head);
  for (size_t i = 0; i < res->nheaders; i++)
    need += 6 + res->headers[i].name_len + res->headers[i].value_len;
  uint8_t *p = duk_push_fixed_buffer(ctx, need); /* -> [ ... buf ] (zeroed) */
  raw_head *h = (raw_head *)p;
  const sb_http_timings *t = &res->timings;
  double tv[7] = {t->blocked, t->connecting, t->tls_handshaking, t->sending,
                  t->waiting, t->receiving,  t->duration};
  memcpy(h->timings, tv, sizeof(tv));
  h->status = res->status;
  h->remote_port = res->remote_port;
  snprintf(h->method, sizeof(h->method), "%s", method);
  snprintf(h->ip, sizeof(h->ip), "%s", res->remote_ip);
  p += sizeof(raw_head);
  for (size_t i = 0; i < res->nheaders; i++) {
    const sb_http_header *hd = &res->headers[i];
    uint16_t nl = (uint16_t)(hd->name_len > 0xffff ? 0xffff : hd->name_len);
    uint32_t vl = (uint32_t)hd->value_len;
    memcpy(p, &nl, 2);
    memcpy(p + 2, hd->name, nl);
    p += 2 + nl;
    memcpy(p, &vl, 4);
    memcpy(p + 4, hd->value, vl);
    p += 4 + vl;
  }
}

static void push_lazy_headers(duk_context *ctx, const uint8_t *p, const uint8_t *end) {
  duk_push_object(ctx);
  while (p + 6 <= end) {
    uint16_t nl;
    uint32_t vl;
    memcpy(&nl, p, 2);
    memcpy(&vl, p + 2 + nl, 4);
    add_header(ctx, (const char *)p + 2, nl, (const char *)p + 6 + nl, vl);
    p += 6 + nl + vl;
  }
}

static void push_lazy_timings(duk_context *ctx, const raw_head *h) {
  duk_push_object(ctx);
  put_num(ctx, "blocked", h->timings[0]);
  put_num(ctx, "connecting", h->timings[1]);
  put_num(ctx, "tls_handshaking", h->timings[2]);
  put_num(ctx, "sending", h->timings[3]);
  put_num(ctx, "waiting", h->timings[4]);
  put_num(ctx, "receiving", h->timings[5]);
  put_num(ctx, "duration", h->timings[6]);
}

/* this.request: [ this buf ] -> [ this buf request ] */
static void push_lazy_request(duk_context *ctx, const raw_head *h) {
  duk_push_object(ctx);
  duk_push_string(ctx, h->method);
  duk_put_prop_literal(ctx, -2, "method");
  duk_get_prop_literal(ctx, -3, "url");
  duk_put_prop_literal(ctx, -2, "url");
  if (duk_get_prop_literal(ctx, -3, REQ_BODY_KEY))
    duk_put_prop_literal(ctx, -2, "body");
  else
    duk_pop(ctx);
}

static duk_ret_t res_lazy_get(duk_context *ctx) {
  int which = duk_get_current_magic(ctx);
  duk_push_this(ctx);                         /* -> [ this ] */
  duk_get_prop_literal(ctx, -1, RAW_KEY);     /* -> [ this buf ] */
  duk_size_t len = 0;
  const uint8_t *p = duk_get_buffer_data(ctx, -1, &len);
  if (!p || len < sizeof(raw_head)) return 0; /* not a response: undefined */
  const raw_head *h = (const raw_head *)p;
  switch (which) {
  case LAZY_HEADERS: push_lazy_headers(ctx, p + sizeof(raw_head), p + len); break;
  case LAZY_TIMINGS: push_lazy_timings(ctx, h); break;
  case LAZY_REQUEST: push_lazy_request(ctx, h); break;
  case LAZY_STATUS_TEXT:
    if (h->status)
      duk_push_sprintf(ctx, "%d %s", (int)h->status, http_status_str(h->status));
    else
      duk_push_literal(ctx, "");
    break;
  case LAZY_REMOTE_IP: duk_push_string(ctx, h->ip); break;
  default: duk_push_int(ctx, h->remote_port); break;
  }
  /* -> [ this buf value ]: cache as an own data property, later reads skip the getter */
  duk_push_string(ctx, lazy_names[which]);
  duk_dup(ctx, -2);
  duk_def_prop(ctx, -5, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE |
                            DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_SET_CONFIGURABLE);
  return 1;
}

/* Pushes the Response for |res|: status, body, error, error_code, url and proto now, the rest
 * lazily (see push_raw()). */
static void push_response(duk_context *ctx, const char *method, const char *url, duk_idx_t body_idx,
                          const params *p, const sb_http_res *res) {
  duk_push_object(ctx); /* -> [ ... res ] */
  push_proto(ctx);
  duk_set_prototype(ctx, -2);
  put_num(ctx, "status", res->status);
  if (p->discard || res->status == 0)
    duk_push_null(ctx);
  else
    duk_push_lstring(ctx, res->body.data ? res->body.data : "", res->body.len);
  duk_put_prop_literal(ctx, -2, "body");
  if (res->error)
    duk_push_string(ctx, res->error);
  else
    duk_push_literal(ctx, "");
  duk_put_prop_literal(ctx, -2, "error");
  put_num(ctx, "error_code", res->error_code);
  duk_push_string(ctx, url);
  duk_put_prop_literal(ctx, -2, "url");
  if (res->status && res->proto)
    duk_push_string(ctx, res->proto);
  else
    duk_push_literal(ctx, "");
  duk_put_prop_literal(ctx, -2, "proto");
  push_raw(ctx, method, res);
  duk_put_prop_literal(ctx, -2, RAW_KEY);
  if (body_idx >= 0 && !duk_is_undefined(ctx, body_idx) && !duk_is_null(ctx, body_idx)) {
    duk_dup(ctx, body_idx);
    duk_put_prop_literal(ctx, -2, REQ_BODY_KEY);
  }
}

/* --- requests ---------------------------------------------------------------------------- */

/* From the loop: no Duktape calls here, the VU's coroutine is suspended. */
static void on_done(sb_http_res *res, void *ud) {
  http_state *st = ud;
  st->done = 1;
  sb_vu_wake(st->vu);
}

static void on_cancel(void *ud) {
  sb_http_client_cancel(ud);
}

/* Resolves the body at |idx| into |*body|/|*len| (string, buffer, or object form-encoded).
 * Returns 1 when the body is a form (needs a Content-Type), 0 otherwise. */
static int get_body(duk_context *ctx, duk_idx_t idx, http_state *st, const char **body,
                    size_t *len) {
  *body = NULL;
  *len = 0;
  if (idx < 0 || duk_is_undefined(ctx, idx) || duk_is_null(ctx, idx)) return 0;
  if (duk_is_buffer_data(ctx, idx)) {
    duk_size_t n;
    *body = duk_get_buffer_data(ctx, idx, &n);
    *len = n;
    if (!*body) *body = "";
    return 0;
  }
  if (duk_is_object(ctx, idx) && !duk_is_function(ctx, idx)) {
    if (form_encode(ctx, idx, &st->form) < 0)
      (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory encoding the body");
    *body = st->form.data ? st->form.data : "";
    *len = st->form.len;
    return 1;
  }
  duk_size_t n;
  *body = duk_to_lstring(ctx, idx, &n);
  *len = n;
  return 0;
}

/* Writes into |out| the http:// URL that |loc| (a Location value) names relative to |base|.
 * Returns 0, or -1 for what the client cannot follow (https, too long). */
static int resolve_location(const char *base, const char *loc, size_t loc_len, char *out) {
  if (loc_len >= 7 && strncasecmp(loc, "http://", 7) == 0) {
    if (loc_len >= MAX_URL) return -1;
    memcpy(out, loc, loc_len);
    out[loc_len] = '\0';
    return 0;
  }
  for (size_t i = 0; i < loc_len && !strchr("/?#", loc[i]); i++)
    if (loc[i] == ':') return -1; /* another scheme (https:, ...) */
  const char *host = strstr(base, "://");
  if (!host) return -1;
  host += 3;
  size_t keep;
  if (loc_len >= 2 && loc[0] == '/' && loc[1] == '/') {
    keep = (size_t)(host - base) - 2; /* "http:" */
  } else if (loc_len && loc[0] == '/') {
    keep = (size_t)(host - base) + strcspn(host, "/?#");
  } else {
    size_t pathend = (size_t)(host - base) + strcspn(host, "?#");
    keep = pathend;
    while (keep > (size_t)(host - base) && base[keep - 1] != '/')
      keep--;
    if (keep == (size_t)(host - base)) { /* no path: relative to "/" */
      int n = snprintf(out, MAX_URL, "%.*s/%.*s", (int)pathend, base, (int)loc_len, loc);
      return n > 0 && n < MAX_URL ? 0 : -1;
    }
  }
  int n = snprintf(out, MAX_URL, "%.*s%.*s", (int)keep, base, (int)loc_len, loc);
  return n > 0 && n < MAX_URL ? 0 : -1;
}

/* After a redirect response, points |req| at the next hop (URL written into |buf|), as Go's
 * client does: 301/302/303 turn into a GET without body (HEAD stays HEAD), 307/308 keep method
 * and body. Returns 0, or -1 when |res| is not a redirect to follow. */
static int next_hop(sb_http_req *req, const sb_http_res *res, char *buf) {
  int s = res->status;
  if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return -1;
  for (size_t i = 0; i < res->nheaders; i++) {
    const sb_http_header *h = &res->headers[i];
    if (h->name_len != 8 || strncasecmp(h->name, "Location", 8) != 0) continue;
    if (resolve_location(req->url, h->value, h->value_len, buf) < 0) return -1;
    req->url = buf;
    if (s <= 303 && strcmp(req->method, "HEAD") != 0) {
      req->method = "GET";
      req->body = NULL;
      req->body_len = 0;
    }
    return 0;
  }
  return -1;
}

/* Runs one request for the VU of |ctx| and pushes its Response. |body_idx| < 0: no body. */
static duk_ret_t do_request(duk_context *ctx, const char *method, duk_idx_t url_idx,
                            duk_idx_t body_idx, duk_idx_t params_idx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (!vu || !sb_vu_busy(vu))
    return duk_error(ctx, DUK_ERR_ERROR,
                     "Making http requests in the init context is not supported");
  sb_http_client *client = sb_vu_http(vu);
  http_state *st = state_get(ctx);
  if (!client || !st) return duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
  const char *url = duk_to_string(ctx, url_idx);
  char hops[2][MAX_URL];
  params p;
  read_params(ctx, params_idx, &p, vu);
  sb_http_req req = {.method = method, .url = url, .timeout_ms = p.timeout_ms};
  if (get_body(ctx, body_idx, st, &req.body, &req.body_len) && !p.has_ctype &&
      p.nheaders < SB_HTTP_MAX_HEADERS)
    p.headers[p.nheaders++] =
        (sb_http_header){"Content-Type", 12, "application/x-www-form-urlencoded", 33};
  req.headers = p.headers;
  req.nheaders = p.nheaders;
  for (int hop = 0;; hop++) {
    st->done = 0;
    st->vu = vu;
    int rc = sb_http_client_request(client, &req, &st->res, on_done, st);
    if (rc == SB_EINVAL)
      return duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s %s: %s", req.method, req.url,
                       st->res.error ? st->res.error : "invalid request");
    if (rc < 0) return duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory");
    sb_vu_set_cancel(vu, on_cancel, client);
    rc = sb_vu_wait(vu);
    sb_vu_set_cancel(vu, NULL, NULL);
    if (rc == SB_ECANCELED || !st->done) {
      sb_http_client_cancel(client); /* no-op when the VU already did */
      return 0;                      /* the VU throws the interruption */
    }
    emit(vu, req.method, req.url, &p, &st->res);
    if (hop >= p.redirects || next_hop(&req, &st->res, hops[hop & 1]) < 0) break;
  }
  push_response(ctx, req.method, req.url, body_idx, &p, &st->res);
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

/* request(method, url, body, params) */
static duk_ret_t http_request(duk_context *ctx) {
  duk_set_top(ctx, 4);
  duk_to_string(ctx, 0);
  char method[16];
  snprintf(method, sizeof(method), "%s", duk_get_string(ctx, 0));
  for (char *s = method; *s; s++)
    if (*s >= 'a' && *s <= 'z') *s -= 32;
  for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++)
    if (strcmp(method, METHODS[i]) == 0)
      return do_request(ctx, METHODS[i], 1, 2, 3); /* static string: survives the wait */
  return duk_error(ctx, DUK_ERR_TYPE_ERROR, "request(): unsupported method '%s'", method);
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
};

void sb_js_http_push(duk_context *ctx) {
  duk_push_object(ctx); /* -> [ exports ] */
  for (size_t i = 0; i < sizeof(FUNCS) / sizeof(FUNCS[0]); i++) {
    duk_push_c_function(ctx, FUNCS[i].fn, FUNCS[i].nargs);
    duk_set_magic(ctx, -1, FUNCS[i].magic);
    duk_put_prop_string(ctx, -2, FUNCS[i].name);
  }
}
