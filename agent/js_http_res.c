/* k6's Response object for "k6/http" (see js_http.h).
 *
 * Most scripts read a response's status and maybe its body, rarely its headers, timings, cookies
 * or TLS details; building those as JS objects (a dozen interned strings, several objects) was the
 * largest cost of a request in the VU. So a response keeps them raw — one plain buffer, one
 * allocation and a memcpy: a fixed head, then the headers as [u16 name length][name][u32 value
 * length][value]... — and getters on the shared prototype build each field on first read, then
 * cache it as an own property (so the second read is a plain property read). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "common/duk_ext.h"
#include "agent/gjson.h"
#include "agent/js_http.h"
#include "agent/js_http_cookies.h"
#include "agent/js_modules.h"

#define PROTO_KEY "\377sbHttpResProto"
#define RAW_KEY "\377r"      /* a response's lazy fields, raw (see push_raw()) */
#define REQ_BODY_KEY "\377b" /* the request body, for response.request.body */

typedef struct raw_head {
  double timings[7]; /* blocked, connecting, tls_handshaking, sending, waiting, receiving, duration */
  sb_http_ocsp ocsp;  /* static strings only */
  int32_t status, remote_port;
  uint32_t nheaders;
  uint32_t body_len;  /* the text body follows the headers (lazy `body`); 0 with no body */
  uint32_t req_len;   /* then the request's headers, in the same form (res.request) */
  char method[16];
  char ip[46];
  char tls_version[8];
  char tls_cipher[64];
  char reason[64];
} raw_head;

enum {
  LAZY_HEADERS, LAZY_TIMINGS, LAZY_REQUEST, LAZY_STATUS_TEXT, LAZY_REMOTE_IP, LAZY_REMOTE_PORT,
  LAZY_TLS_VERSION, LAZY_TLS_CIPHER, LAZY_OCSP, LAZY_COOKIES, LAZY_BODY, LAZY_COUNT
};
static const char *const lazy_names[LAZY_COUNT] = {
    "headers",     "timings",          "request", "status_text", "remote_ip", "remote_port",
    "tls_version", "tls_cipher_suite", "ocsp",    "cookies",     "body"};

/* Sets a number property; |key| must be a string literal (Duktape caches literal keys). */
#define put_num(ctx, key, v) (duk_push_number((ctx), (v)), duk_put_prop_literal((ctx), -2, key))
#define put_str(ctx, key, v) (duk_push_string((ctx), (v)), duk_put_prop_literal((ctx), -2, key))

/* --- json(selector) ---------------------------------------------------------------------- */

static duk_ret_t json_decode(duk_context *ctx, void *udata) {
  duk_json_decode(ctx, -1);
  return 1;
}

/* res.json([selector]): JSON.parse of the body, or the gjson |selector| of it (undefined when
 * nothing matches); throws naming the problem when the body is not JSON. */
static duk_ret_t res_json(duk_context *ctx) {
  duk_push_this(ctx);
  duk_get_prop_literal(ctx, -1, "body"); /* -> [ sel this body ] */
  if (duk_is_buffer_data(ctx, -1)) duk_buffer_to_string(ctx, -1);
  if (!duk_is_string(ctx, -1))
    return duk_error(ctx, DUK_ERR_ERROR,
                     "json(): the response has no body (responseType 'none' or a failed request)");
  if (!duk_is_undefined(ctx, 0) && !duk_is_null(ctx, 0)) {
    duk_size_t len;
    const char *body = duk_get_lstring(ctx, -1, &len);
    const char *sel = duk_to_string(ctx, 0);
    sb_buf out;
    sb_buf_init(&out);
    /* k6: a body that is not JSON, a selector gjson cannot read, no match: all undefined */
    int r = sb_gjson_valid(body, len) ? sb_gjson_get(body, len, sel, &out) : 0;
    if (r == 1) duk_push_lstring(ctx, out.data, out.len);
    sb_buf_clear(&out);
    if (r == SB_ENOMEM) return duk_error(ctx, DUK_ERR_ERROR, "json(): out of memory");
    if (r != 1) return 0; /* undefined */
  }
  if (duk_safe_call(ctx, json_decode, NULL, 1, 1) != DUK_EXEC_SUCCESS)
    return duk_error(ctx, DUK_ERR_SYNTAX_ERROR, "json(): the response body is not JSON: %s",
                     duk_safe_to_string(ctx, -1));
  return 1;
}

/* res.html([selector]): k6/html's parseHTML(body), or its find(selector). */
static duk_ret_t res_html(duk_context *ctx) {
  duk_push_this(ctx);
  duk_get_prop_literal(ctx, -1, "body"); /* -> [ sel this body ] */
  if (duk_is_buffer_data(ctx, -1)) duk_buffer_to_string(ctx, -1);
  if (!duk_is_string(ctx, -1))
    return duk_error(ctx, DUK_ERR_ERROR,
                     "html(): the response has no body (responseType 'none' or a failed request)");
  duk_size_t len;
  const char *body = duk_get_lstring(ctx, -1, &len);
  sb_js_html_push_document(ctx, body, len); /* -> [ sel this body doc ] */
  if (duk_is_undefined(ctx, 0) || duk_is_null(ctx, 0)) return 1;
  duk_push_literal(ctx, "find");
  duk_dup(ctx, 0);
  duk_call_prop(ctx, -3, 1); /* -> [ sel this body doc found ] */
  return 1;
}

/* --- lazy fields ------------------------------------------------------------------------- */

/* Go's http.StatusText for what http-parser's table lacks (HTTP/2 has no reason phrase). */
static const char *status_text(int code) {
  switch (code) {
  case 103: return "Early Hints";
  case 418: return "I'm a teapot";
  case 421: return "Misdirected Request";
  case 425: return "Too Early";
  case 451: return "Unavailable For Legal Reasons";
  default: {
    const char *s = http_status_str((enum http_status)code);
    return strcmp(s, "<unknown>") == 0 ? "" : s;
  }
  }
}

static size_t headers_bytes(const sb_http_header *hs, size_t n) {
  size_t b = 0;
  for (size_t i = 0; i < n; i++)
    b += 6 + (hs[i].name_len > 0xffff ? 0xffff : hs[i].name_len) + hs[i].value_len;
  return b;
}

/* Writes |hs| as [u16 name length][name][u32 value length][value]...; returns the end. */
static uint8_t *put_headers(uint8_t *p, const sb_http_header *hs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint16_t nl = (uint16_t)(hs[i].name_len > 0xffff ? 0xffff : hs[i].name_len);
    uint32_t vl = (uint32_t)hs[i].value_len;
    memcpy(p, &nl, 2);
    memcpy(p + 2, hs[i].name, nl);
    p += 2 + nl;
    memcpy(p, &vl, 4);
    memcpy(p + 4, hs[i].value, vl);
    p += 4 + vl;
  }
  return p;
}

/* |text|: the body goes in too, for the lazy `body` getter; then the request's headers. */
/* Copies at most |cap| - 1 bytes of |src| (NULL: nothing) into the zeroed |dst|. */
static void copy_cstr(char *dst, size_t cap, const char *src) {
  if (!src) return;
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
}

static void push_raw(duk_context *ctx, const sb_js_http_resinfo *ri, const sb_http_res *res,
                     int text) {
  const char *method = ri->method;
  size_t need = sizeof(raw_head), hdr_bytes = headers_bytes(res->headers, res->nheaders);
  size_t req_bytes = headers_bytes(ri->req_headers, ri->nreq_headers);
  need += hdr_bytes + (text ? res->body.len : 0) + req_bytes;
  uint8_t *p = duk_push_fixed_buffer(ctx, need); /* -> [ ... buf ] (zeroed) */
  raw_head *h = (raw_head *)p;
  const sb_http_timings *t = &res->timings;
  double tv[7] = {t->blocked, t->connecting, t->tls_handshaking, t->sending,
                  t->waiting, t->receiving,  t->duration};
  memcpy(h->timings, tv, sizeof(tv));
  h->status = res->status;
  h->remote_port = res->remote_port;
  h->nheaders = (uint32_t)res->nheaders;
  h->ocsp = res->ocsp;
  /* The buffer is zeroed: copies of at most cap-1 bytes stay terminated (no printf per request). */
  copy_cstr(h->method, sizeof(h->method), method);
  copy_cstr(h->ip, sizeof(h->ip), res->remote_ip);
  copy_cstr(h->tls_version, sizeof(h->tls_version), res->tls_version);
  copy_cstr(h->tls_cipher, sizeof(h->tls_cipher), res->tls_cipher_suite);
  copy_cstr(h->reason, sizeof(h->reason), res->reason);
  p += sizeof(raw_head);
  p = put_headers(p, res->headers, res->nheaders);
  if (text && res->body.len) {
    h->body_len = (uint32_t)res->body.len;
    memcpy(p, res->body.data, res->body.len);
    p += res->body.len;
  }
  h->req_len = (uint32_t)req_bytes;
  put_headers(p, ri->req_headers, ri->nreq_headers);
}

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

/* Walks the raw headers: |fn| gets each; returns the count. */
static size_t raw_headers(const uint8_t *p, const uint8_t *end, sb_http_header *out, size_t max) {
  size_t n = 0;
  while (p + 6 <= end) {
    uint16_t nl;
    uint32_t vl;
    memcpy(&nl, p, 2);
    memcpy(&vl, p + 2 + nl, 4);
    if (n < max) out[n] = (sb_http_header){(const char *)p + 2, nl, (const char *)p + 6 + nl, vl};
    n++;
    p += 6 + nl + vl;
  }
  return n;
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

/* res.cookies: from the Set-Cookie headers. */
static void push_lazy_cookies(duk_context *ctx, const raw_head *h, const uint8_t *p,
                              const uint8_t *end) {
  size_t n = h->nheaders;
  sb_http_header *hs = duk_push_fixed_buffer(ctx, (n ? n : 1) * sizeof(*hs)); /* scratch */
  raw_headers(p, end, hs, n);
  sb_js_cookies_push_response_cookies(ctx, hs, n);
  duk_remove(ctx, -2);
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

static void push_lazy_ocsp(duk_context *ctx, const raw_head *h) {
  duk_push_object(ctx);
  put_num(ctx, "produced_at", h->ocsp.produced_at);
  put_num(ctx, "this_update", h->ocsp.this_update);
  put_num(ctx, "next_update", h->ocsp.next_update);
  put_num(ctx, "revoked_at", h->ocsp.revoked_at);
  put_str(ctx, "revocation_reason", h->ocsp.revocation_reason ? h->ocsp.revocation_reason : "");
  put_str(ctx, "status", h->ocsp.status ? h->ocsp.status : (h->tls_version[0] ? "unknown" : ""));
}

/* Pushes k6's request.cookies from Cookie header values: { name: [{name, value, replace}] }. */
static void add_request_cookies(duk_context *ctx, const char *v, size_t len) {
  const char *end = v + len;
  while (v < end) {
    const char *semi = memchr(v, ';', (size_t)(end - v)), *e = semi ? semi : end;
    while (v < e && *v == ' ')
      v++;
    const char *eq = memchr(v, '=', (size_t)(e - v));
    if (eq && eq > v) { /* -> [ ... cookies ] */
      duk_push_lstring(ctx, v, (size_t)(eq - v));
      duk_dup_top(ctx);
      if (!duk_get_prop(ctx, -3)) { /* -> [ ... cookies name list|undefined ] */
        duk_pop(ctx);
        duk_push_array(ctx);
      }
      duk_push_object(ctx);
      duk_push_lstring(ctx, v, (size_t)(eq - v));
      duk_put_prop_literal(ctx, -2, "name");
      duk_push_lstring(ctx, eq + 1, (size_t)(e - eq - 1));
      duk_put_prop_literal(ctx, -2, "value");
      duk_push_false(ctx);
      duk_put_prop_literal(ctx, -2, "replace");
      duk_put_prop_index(ctx, -2, (duk_uarridx_t)duk_get_length(ctx, -2));
      duk_put_prop(ctx, -3);
    }
    v = e + 1;
  }
}

/* this.request: [ this buf ] -> [ this buf request ]: method, url, body, and the headers sent
 * as k6 shows them ({Name: [values]}), with the cookies they carried. */
static void push_lazy_request(duk_context *ctx, const raw_head *h, const uint8_t *p,
                              const uint8_t *end) {
  duk_push_object(ctx);
  duk_push_string(ctx, h->method);
  duk_put_prop_literal(ctx, -2, "method");
  duk_get_prop_literal(ctx, -3, "url");
  duk_put_prop_literal(ctx, -2, "url");
  if (duk_get_prop_literal(ctx, -3, REQ_BODY_KEY))
    duk_put_prop_literal(ctx, -2, "body");
  else
    duk_pop(ctx);
  duk_push_object(ctx); /* -> [ this buf request headers ] */
  duk_push_object(ctx); /* -> [ this buf request headers cookies ] */
  while (p + 6 <= end) {
    uint16_t nl;
    uint32_t vl;
    memcpy(&nl, p, 2);
    memcpy(&vl, p + 2 + nl, 4);
    const char *name = (const char *)p + 2, *value = (const char *)p + 6 + nl;
    if (nl == 6 && strncasecmp(name, "Cookie", 6) == 0) add_request_cookies(ctx, value, vl);
    push_canonical(ctx, name, nl); /* -> [ ... headers cookies name ] */
    duk_dup_top(ctx);
    if (!duk_get_prop(ctx, -4)) {
      duk_pop(ctx);
      duk_push_array(ctx);
    }
    duk_push_lstring(ctx, value, vl);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)duk_get_length(ctx, -2));
    duk_put_prop(ctx, -4);
    p += 6 + nl + vl;
  }
  duk_put_prop_literal(ctx, -3, "cookies");
  duk_put_prop_literal(ctx, -2, "headers");
}

static duk_ret_t res_lazy_get(duk_context *ctx) {
  int which = duk_get_current_magic(ctx);
  duk_push_this(ctx);                         /* -> [ this ] */
  duk_get_prop_literal(ctx, -1, RAW_KEY);     /* -> [ this buf ] */
  duk_size_t len = 0;
  const uint8_t *p = duk_get_buffer_data(ctx, -1, &len);
  if (!p || len < sizeof(raw_head)) return 0; /* not a response: undefined */
  const raw_head *h = (const raw_head *)p;
  const uint8_t *rend = p + len - h->req_len;  /* the request's headers close the buffer */
  const uint8_t *hend = rend - h->body_len;     /* the headers end where the body begins */
  switch (which) {
  case LAZY_HEADERS: push_lazy_headers(ctx, p + sizeof(raw_head), hend); break;
  case LAZY_TIMINGS: push_lazy_timings(ctx, h); break;
  case LAZY_REQUEST: push_lazy_request(ctx, h, rend, p + len); break;
  case LAZY_STATUS_TEXT: /* Go's Response.Status: the server's reason phrase, else Go's text */
    if (h->status)
      duk_push_sprintf(ctx, "%d %s", (int)h->status, h->reason[0] ? h->reason : status_text(h->status));
    else
      duk_push_literal(ctx, "");
    break;
  case LAZY_REMOTE_IP: duk_push_string(ctx, h->ip); break;
  case LAZY_REMOTE_PORT: duk_push_int(ctx, h->remote_port); break;
  case LAZY_TLS_VERSION: duk_push_string(ctx, h->tls_version); break;
  case LAZY_TLS_CIPHER: duk_push_string(ctx, h->tls_cipher); break;
  case LAZY_OCSP: push_lazy_ocsp(ctx, h); break;
  case LAZY_COOKIES: push_lazy_cookies(ctx, h, p + sizeof(raw_head), hend); break;
  default: duk_push_lstring(ctx, (const char *)hend, h->body_len); break;
  }
  /* -> [ this buf value ]: cache as an own data property, later reads skip the getter */
  duk_push_string(ctx, lazy_names[which]);
  duk_dup(ctx, -2);
  duk_def_prop(ctx, -5, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE |
                            DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_SET_CONFIGURABLE);
  return 1;
}

/* JSON.stringify(res): every field, the lazy ones built now (they live on the prototype, which
 * JSON does not walk). */
static duk_ret_t res_to_json(duk_context *ctx) {
  static const char *const eager[] = {"status", "error", "error_code", "url", "proto"};
  duk_push_this(ctx);
  duk_push_object(ctx); /* -> [ this out ] */
  for (size_t i = 0; i < sizeof(eager) / sizeof(eager[0]); i++) {
    duk_get_prop_string(ctx, -2, eager[i]);
    duk_put_prop_string(ctx, -2, eager[i]);
  }
  for (int i = 0; i < LAZY_COUNT; i++) {
    duk_get_prop_string(ctx, -2, lazy_names[i]);
    duk_put_prop_string(ctx, -2, lazy_names[i]);
  }
  return 1;
}

/* Assigning a lazy field replaces it with a plain own property, as for any object. */
static duk_ret_t res_lazy_set(duk_context *ctx) {
  duk_push_this(ctx);
  duk_push_string(ctx, lazy_names[duk_get_current_magic(ctx)]);
  duk_dup(ctx, 0); /* -> [ v this name v ] */
  duk_def_prop(ctx, -3, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE |
                            DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_SET_CONFIGURABLE);
  return 0;
}

/* Pushes the shared Response prototype (created once per heap). */
static void push_proto(duk_context *ctx) {
  duk_push_global_stash(ctx);
  if (!duk_get_prop_literal(ctx, -1, PROTO_KEY)) { /* -> [ stash undefined ] */
    duk_pop(ctx);
    duk_push_object(ctx);
    duk_push_c_function(ctx, res_json, 1);
    duk_put_prop_literal(ctx, -2, "json");
    duk_push_c_function(ctx, res_html, 1);
    duk_put_prop_literal(ctx, -2, "html");
    duk_push_c_function(ctx, res_to_json, 1);
    duk_put_prop_literal(ctx, -2, "toJSON");
    for (int i = 0; i < LAZY_COUNT; i++) {
      duk_push_string(ctx, lazy_names[i]);
      duk_push_c_function(ctx, res_lazy_get, 0); /* -> [ stash proto name getter ] */
      duk_set_magic(ctx, -1, i);
      duk_push_c_function(ctx, res_lazy_set, 1);
      duk_set_magic(ctx, -1, i);
      duk_def_prop(ctx, -4, DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_HAVE_SETTER |
                                DUK_DEFPROP_SET_CONFIGURABLE | DUK_DEFPROP_SET_ENUMERABLE);
    }
    duk_dup_top(ctx);
    duk_put_prop_literal(ctx, -3, PROTO_KEY);
  }
  duk_remove(ctx, -2); /* -> [ proto ] */
}

#define RESCACHE_KEY "\377sbHttpResKeys"

/* Fills |rc| on a VU's first response: the prototype (kept by the stash under PROTO_KEY) and the
 * interned names (kept by an array in the stash). */
static void rescache_fill(duk_context *ctx, sb_js_http_rescache *rc) {
  static const char *const names[SB_RES_K_COUNT] = {
      [SB_RES_K_STATUS] = "status", [SB_RES_K_BODY] = "body",     [SB_RES_K_ERROR] = "error",
      [SB_RES_K_ERROR_CODE] = "error_code", [SB_RES_K_URL] = "url", [SB_RES_K_PROTO] = "proto",
      [SB_RES_K_RAW] = RAW_KEY,      [SB_RES_K_REQ_BODY] = REQ_BODY_KEY};
  push_proto(ctx);
  rc->proto = duk_get_heapptr(ctx, -1);
  duk_pop(ctx);
  duk_push_global_stash(ctx);
  duk_push_array(ctx); /* -> [ stash keys ] */
  for (int i = 0; i < SB_RES_K_COUNT; i++) {
    duk_push_string(ctx, names[i]);
    rc->key[i] = duk_get_heapptr(ctx, -1);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  duk_put_prop_literal(ctx, -2, RESCACHE_KEY);
  duk_pop(ctx);
}

/* [ ... res value ] -> [ ... res ]: res[key] = value as an own property, the key by heap pointer
 * (no interning). Defined, not assigned: a fresh Response has none of its own yet, and the lazy
 * fields' setters on the prototype do the same define (res_lazy_set). */
static inline void put_cached(duk_context *ctx, void *key) {
  duk_push_heapptr(ctx, key);
  duk_swap_top(ctx, -2);
  sb_duk_put_own(ctx, -3);
}

void sb_js_http_rescache_warm(duk_context *ctx, sb_js_http_rescache *rc) {
  if (!rc->proto) rescache_fill(ctx, rc);
}

void sb_js_http_push_response(duk_context *ctx, const sb_js_http_resinfo *ri,
                              const sb_http_res *res) {
  sb_js_http_rescache *rc = ri->cache;
  if (!rc->proto) rescache_fill(ctx, rc);
  sb_duk_push_object_sized(ctx, 8); /* -> [ ... res ]: its 6 to 8 properties */
  duk_push_heapptr(ctx, rc->proto);
  duk_set_prototype(ctx, -2);
  duk_push_number(ctx, res->status);
  put_cached(ctx, rc->key[SB_RES_K_STATUS]);
  int text = !(ri->discard || res->status == 0 || ri->binary);
  if (!text) { /* a text body is built on first read (most scripts look at status only) */
    if (ri->binary) {
      void *b = duk_push_fixed_buffer(ctx, res->body.len);
      if (res->body.len) memcpy(b, res->body.data, res->body.len);
      duk_push_buffer_object(ctx, -1, 0, res->body.len, DUK_BUFOBJ_ARRAYBUFFER);
      duk_remove(ctx, -2);
    } else {
      duk_push_null(ctx);
    }
    put_cached(ctx, rc->key[SB_RES_K_BODY]);
  }
  if (res->error)
    duk_push_string(ctx, res->error);
  else
    duk_push_literal(ctx, "");
  put_cached(ctx, rc->key[SB_RES_K_ERROR]);
  duk_push_number(ctx, res->error_code);
  put_cached(ctx, rc->key[SB_RES_K_ERROR_CODE]);
  duk_push_string(ctx, ri->url);
  put_cached(ctx, rc->key[SB_RES_K_URL]);
  if (res->status && res->proto)
    duk_push_string(ctx, res->proto);
  else
    duk_push_literal(ctx, "");
  put_cached(ctx, rc->key[SB_RES_K_PROTO]);
  push_raw(ctx, ri, res, text);
  put_cached(ctx, rc->key[SB_RES_K_RAW]);
  if (ri->body_idx >= 0 && !duk_is_undefined(ctx, ri->body_idx) && !duk_is_null(ctx, ri->body_idx)) {
    /* k6: the body as sent, before compression (a form object shows as "a=1&b=2") */
    if (ri->sent_body && !duk_is_string(ctx, ri->body_idx))
      duk_push_lstring(ctx, ri->sent_body, ri->sent_body_len);
    else
      duk_dup(ctx, ri->body_idx);
    put_cached(ctx, rc->key[SB_RES_K_REQ_BODY]);
  }
}
