/* The cookie side of "k6/http": http.cookieJar(), new http.CookieJar(), the jar methods (set,
 * cookiesForURL, clear, delete), and the helpers js_http.c calls around each request: the Cookie
 * header from a jar plus params.cookies, storing a response's Set-Cookie headers, and the
 * response's `cookies` object.
 *
 * A CookieJar object is a plain JS object on a shared prototype holding a pointer to its
 * sb_cookiejar (malloc'd outside the VU heap); a finalizer on the prototype frees the jar when
 * the object goes, so jars made by `new http.CookieJar()` cost nothing once unreachable. The VU's
 * default jar is one such object kept behind the global stash: http.cookieJar() returns that same
 * object every time, and sb_js_cookies_reset() empties it at each iteration start (k6 gives every
 * iteration a fresh jar). Times are the wall clock in seconds.
 *
 * Functions taking a duk_context run on the VU's own coroutine inside a protected call: they
 * throw JS errors (bad arguments, out of memory) like any binding. */
#ifndef SB_JS_HTTP_COOKIES_H
#define SB_JS_HTTP_COOKIES_H

#include <stddef.h>

#include "agent/cookiejar.h"
#include "agent/http_client.h"
#include "common/buf.h"
#include "duktape.h"

/* With the "k6/http" exports object on top of the stack, adds `cookieJar()` and the `CookieJar`
 * constructor to it: [ ... exports ] -> [ ... exports ]. cookieJar() throws in the init context
 * of a VU (k6: "Making cookie jars in the init context is not supported"); new CookieJar() works
 * anywhere. */
void sb_js_cookies_push_api(duk_context *ctx);

/* The VU's default jar (http.cookieJar()), created on first use; throws when out of memory. */
sb_cookiejar *sb_js_cookies_vu_jar(duk_context *ctx);

/* The jar of the CookieJar object at |idx| (params.jar), or NULL when |idx| holds anything else. */
sb_cookiejar *sb_js_cookies_jar_at(duk_context *ctx, duk_idx_t idx);

/* Empties the VU's default jar, if it was ever made. Call at the start of each iteration. */
void sb_js_cookies_reset(duk_context *ctx);

/* Appends to |out| the Cookie header value for a request to |url|, as k6 builds it: first every
 * cookie of params.cookies (the object at |cookies_idx|; undefined or null for none), in property
 * order, each either `name: 'v'` or `name: { value: 'v', replace: true }`; then the cookies of
 * |jar| (NULL: none) for |url|, except those whose name a `replace: true` cookie took over. Pairs
 * are separated by "; " (also from what |out| already holds). Returns the number of cookies
 * appended; throws a TypeError when |url| is not an absolute http(s) URL and a jar is given.
 * The value stack is left as it was. */
int sb_js_cookies_request_header(duk_context *ctx, duk_idx_t cookies_idx, sb_cookiejar *jar,
                                 const char *url, sb_buf *out);

/* Stores in |jar| the cookies of the Set-Cookie headers among |headers| (names matched case-
 * insensitively; the others are skipped), as received from |url|. Malformed or refused cookies
 * are ignored, as browsers and k6 do. Returns the number of Set-Cookie headers applied. */
int sb_js_cookies_store_response(sb_cookiejar *jar, const char *url, const sb_http_header *headers,
                                 size_t nheaders);

/* Pushes k6's `response.cookies` for the Set-Cookie headers among |headers|:
 * { name: [ { name, value, domain, path, http_only, secure, max_age, expires }, ... ] }, one
 * entry per valid Set-Cookie in order. domain and path are the raw attributes ("" when absent),
 * max_age follows Go (0 absent, -1 for "Max-Age=0" or negative), expires is in unix
 * milliseconds (0 when absent or unparsable). [ ... ] -> [ ... cookies ] */
void sb_js_cookies_push_response_cookies(duk_context *ctx, const sb_http_header *headers,
                                         size_t nheaders);

#endif
