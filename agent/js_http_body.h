/* k6/http request bodies and URL arguments: http.file(), http.url``, and the bytes a body
 * argument stands for (k6's rules, read from its source: js/modules/k6/http/request.go, file.go,
 * lib/netext/httpext/url.go).
 *
 * Bodies:
 *   string                 its UTF-8 bytes (Duktape's surrogate pairs joined, lone ones U+FFFD)
 *   ArrayBuffer, typed     the bytes of the buffer / the view
 *   array, DataView, plain buffer
 *   plain object           application/x-www-form-urlencoded as Go's url.Values.Encode() writes
 *                          it: keys SORTED bytewise (not insertion order), an array value
 *                          repeating its key ({a:[1,2]} -> a=1&a=2), other values as Go's "%v"
 *                          prints what goja exports: 42, 1.5, 1e-05, true, <nil> for null and
 *                          undefined, [1 2] for a nested array, map[a:1 b:x] for a nested object;
 *                          space as '+', all but [A-Za-z0-9-_.~] %-escaped
 *   object with a file()   multipart/form-data, one part per key in insertion order (Go's map
 *   among its values       order is random; ours is stable), boundary of 60 random hex digits
 *                          like Go's multipart.Writer; a file() part carries
 *                          `Content-Disposition: form-data; name="k"; filename="f"` and its
 *                          Content-Type; other values are "%v"-formatted as above (arrays NOT
 *                          repeated, as in k6)
 *   undefined, null        no body
 *   anything else          SB_EINVAL: "unknown request body type number" (k6 refuses it too)
 *
 * These functions run inside a Duktape call (a binding): a getter in a body object may throw
 * through them, like any JS call. */
#ifndef SB_JS_HTTP_BODY_H
#define SB_JS_HTTP_BODY_H

#include "common/buf.h"
#include "common/err.h"
#include "duktape.h"

/* [ ... exports ] -> [ ... exports ]: adds
 *   file(data, [filename], [contentType]) -> {data, filename, content_type}: data a string or
 *     buffer (else TypeError); filename defaults to the current Unix time in nanoseconds,
 *     contentType to "application/octet-stream" (k6's defaults; undefined/null mean absent);
 *   url`http://x/posts/${id}` -> a frozen {url, name, clean_url}: |url| the concrete string,
 *     |name| the template with "${}" for each substitution ("http://x/posts/${}"; the clean URL
 *     when there is no substitution), |clean_url| the URL with credentials masked. Throws
 *     "invalid URL: parse ..." for a URL Go's url.Parse refuses (another scheme is accepted, as
 *     in k6).
 * Both objects carry a hidden mark, so a look-alike plain object is not mistaken for them. */
void sb_js_http_body_push_api(duk_context *ctx);

/* The body at |body_idx| as bytes: |*data|/|*len| point into the JS value itself (a string
 * without surrogate pairs, a buffer; valid while that value stays on the stack) or into
 * |scratch| (reset here; a form, a multipart body, a converted string). |ctype| is reset, then
 * gets the Content-Type the body kind implies (form or multipart with its boundary) or stays
 * empty. Returns 1 (a body), 0 (undefined or null: no body), SB_EINVAL (a type k6 refuses:
 * |err|) or SB_ENOMEM. */
int sb_js_http_body_view(duk_context *ctx, duk_idx_t body_idx, const char **data, size_t *len,
                         sb_buf *scratch, sb_buf *ctype, sb_err *err);

/* sb_js_http_body_view() copying the bytes into |out| (reset here). Same returns. */
int sb_js_http_body_encode(duk_context *ctx, duk_idx_t body_idx, sb_buf *out, sb_buf *ctype,
                           sb_err *err);

/* Reads the url argument at |idx|: a string (|*name| = NULL), or an http.url`` object (|*url|
 * its concrete URL, |*name| its template; both held by the object, valid while it stays on the
 * stack). Returns 0, or SB_EINVAL for anything else (k6: "invalid URL"); nothing is coerced. */
int sb_js_http_url_arg(duk_context *ctx, duk_idx_t idx, const char **url, const char **name);

/* 1 when the value at |idx| is an object made by http.file(). */
int sb_js_http_is_file(duk_context *ctx, duk_idx_t idx);

#endif
