/* The parts of the "k6/http" module (js_http.c: requests, batch, params, metrics;
 * js_http_res.c: the Response object; js_http_cookies.c: cookie jars; js_http_body.c: bodies,
 * http.file, http.url) as they call each other. The module's entry point is sb_js_http_push()
 * in agent/vu.h. */
#ifndef SB_JS_HTTP_H
#define SB_JS_HTTP_H

#include "agent/http_client.h"
#include "duktape.h"

#define MAX_USER_TAGS 32
#define MAX_HEADERS 64 /* request headers a script sets; more is a clear error */
#define MAX_RANGES 32
#define RANGES_KEY "\377sbRanges" /* an expectedStatuses() object's ranges */

struct sb_cookiejar;
struct sb_vu;

/* A response callback (k6's expectedStatuses): which statuses count as expected. */
typedef struct sb_js_expect {
  int on;                   /* 0: no response callback (no expected_response, no failed rate) */
  size_t n;
  int min[MAX_RANGES], max[MAX_RANGES];
} sb_js_expect;

enum { AUTH_NONE, AUTH_BASIC, AUTH_DIGEST };

/* What params said. Strings point at values on the value stack (kept until the call returns). */
typedef struct sb_js_params {
  sb_http_header headers[MAX_HEADERS];
  size_t nheaders;
  const char *tags[2 * MAX_USER_TAGS];
  size_t ntags;
  const char *name;         /* tags.name */
  double timeout_ms;
  int redirects;            /* hops to follow */
  int discard, binary;      /* responseType */
  int has_ctype, has_authz;
  int auth;                 /* AUTH_* */
  const char *compression;  /* "gzip", "gzip, br", ... */
  duk_idx_t cookies_idx;    /* params.cookies, or -1 */
  struct sb_cookiejar *jar;
  int has_expect;
  sb_js_expect ex;
} sb_js_params;


/* Reads params at |idx| (object or undefined) into |p|; throws a TypeError naming the field at
 * fault. Coerced strings are left on the stack above |idx| (kept until the call returns). */
void sb_js_http_read_params(duk_context *ctx, duk_idx_t idx, sb_js_params *p, struct sb_vu *vu);
/* Reads an expectedStatuses() object (or null: no callback) at |idx| into |ex|; throws
 * otherwise, naming |what|. */
void sb_js_http_read_expect(duk_context *ctx, duk_idx_t idx, sb_js_expect *ex, const char *what);
/* 1 when |status| is one |ex| expects. */
int sb_js_http_expected(const sb_js_expect *ex, int status);
/* http.expectedStatuses(200, {min: 300, max: 399}, ...) */
duk_ret_t sb_js_http_expected_statuses(duk_context *ctx);

/* What a Response needs besides the client's result. Strings borrowed for the call. */
/* What making a Response needs again and again, found once per VU: the prototype and the
 * property names, by heap pointer (the global stash keeps them alive). Zeroed: not found yet. */
enum { SB_RES_K_STATUS, SB_RES_K_BODY, SB_RES_K_ERROR, SB_RES_K_ERROR_CODE, SB_RES_K_URL,
       SB_RES_K_PROTO, SB_RES_K_RAW, SB_RES_K_REQ_BODY, SB_RES_K_COUNT };
typedef struct sb_js_http_rescache {
  void *proto;
  void *key[SB_RES_K_COUNT];
} sb_js_http_rescache;

typedef struct sb_js_http_resinfo {
  sb_js_http_rescache *cache; /* the VU's, filled on its first response */
  const char *method;
  const char *url;          /* as k6 shows it (userinfo masked) */
  duk_idx_t body_idx;       /* the request body argument, or < 0 */
  const char *sent_body;    /* the encoded body (forms, multipart) before compression, or NULL */
  size_t sent_body_len;
  const sb_http_header *req_headers; /* the headers sent (the last hop's), for res.request */
  size_t nreq_headers;
  int discard;              /* responseType "none" */
  int binary;               /* responseType "binary": body is an ArrayBuffer */
} sb_js_http_resinfo;

/* Pushes the Response for |res|: status, body, error, error_code, url and proto now, the rest
 * (headers, timings, request, cookies, tls_*, ocsp, ...) built on first read. */
void sb_js_http_push_response(duk_context *ctx, const sb_js_http_resinfo *ri,
                              const sb_http_res *res);
/* Fills |rc| now if the VU's first response has not (sb_vu_warm). May throw. */
void sb_js_http_rescache_warm(duk_context *ctx, sb_js_http_rescache *rc);

#endif
