/* The parts of the "k6/http" module (js_http.c: requests, batch, params, metrics;
 * js_http_res.c: the Response object; js_http_cookies.c: cookie jars; js_http_body.c: bodies,
 * http.file, http.url) as they call each other. The module's entry point is sb_js_http_push()
 * in agent/vu.h. */
#ifndef SB_JS_HTTP_H
#define SB_JS_HTTP_H

#include "agent/http_client.h"
#include "duktape.h"

/* What a Response needs besides the client's result. Strings borrowed for the call. */
typedef struct sb_js_http_resinfo {
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

#endif
