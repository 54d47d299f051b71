/* k6/http cookies on Duktape (see js_http_cookies.h).
 *
 * A CookieJar object holds its sb_cookiejar as a pointer under a hidden key and has its own
 * finalizer (one shared function, kept on the prototype), which frees the jar only when the
 * pointer is the object's own: an Object.create(jar) inherits both the key and the finalizer,
 * and must not free what it merely sees through its prototype.
 *
 * Name -> [values] objects (cookiesForURL, response.cookies) are built with a prototype-less
 * index beside them, so a cookie named "__proto__" or "constructor" is just a name. */
#include "agent/js_http_cookies.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/vu.h"

#define PROTO_KEY "\377sbCookieJarProto" /* in the global stash: the shared prototype */
#define VU_JAR_KEY "\377sbCookieJarVu"   /* in the global stash: the VU's default jar object */
#define JAR_KEY "\377sbJar"              /* on a jar object: its sb_cookiejar pointer */
#define FIN_KEY "\377sbJarFin"           /* on the prototype: the finalizer of jar objects */

static int64_t now_s(void) {
  return (int64_t)time(NULL);
}

/* --- jar objects ----------------------------------------------------------------------------- */

static duk_ret_t jar_finalize(duk_context *ctx) {
  duk_get_prop_literal(ctx, 0, JAR_KEY); /* -> [ obj heapDestruct ptr ] */
  sb_cookiejar *j = duk_get_pointer(ctx, -1);
  if (!j) return 0;
  if (duk_get_prototype(ctx, 0), duk_is_object(ctx, -1)) { /* -> [ .. ptr proto ] */
    duk_get_prop_literal(ctx, -1, JAR_KEY);
    if (duk_get_pointer(ctx, -1) == j) return 0; /* inherited: not ours to free */
  }
  sb_cookiejar_free(j);
  duk_push_pointer(ctx, NULL); /* a finalizer may run again if the object is rescued */
  duk_put_prop_literal(ctx, 0, JAR_KEY);
  return 0;
}

static duk_ret_t jar_set(duk_context *ctx);
static duk_ret_t jar_cookies_for_url(duk_context *ctx);
static duk_ret_t jar_clear(duk_context *ctx);
static duk_ret_t jar_delete(duk_context *ctx);

static const struct {
  const char *name;
  duk_c_function fn;
  duk_idx_t nargs;
} METHODS[] = {
    {"set", jar_set, 4},
    {"cookiesForURL", jar_cookies_for_url, 1},
    {"clear", jar_clear, 1},
    {"delete", jar_delete, 2},
};

/* Pushes the shared CookieJar prototype (created once per heap): [ ... ] -> [ ... proto ] */
static void push_proto(duk_context *ctx) {
  duk_push_global_stash(ctx);
  if (!duk_get_prop_literal(ctx, -1, PROTO_KEY)) { /* -> [ stash undefined ] */
    duk_pop(ctx);
    duk_push_object(ctx); /* -> [ stash proto ] */
    for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++) {
      duk_push_c_function(ctx, METHODS[i].fn, METHODS[i].nargs);
      duk_put_prop_string(ctx, -2, METHODS[i].name);
    }
    duk_push_c_function(ctx, jar_finalize, 2);
    duk_put_prop_literal(ctx, -2, FIN_KEY);
    duk_dup_top(ctx);
    duk_put_prop_literal(ctx, -3, PROTO_KEY);
  }
  duk_remove(ctx, -2); /* -> [ proto ] */
}

/* Pushes a new CookieJar object owning an empty jar: [ ... ] -> [ ... jar ]. The pointer's slot
 * exists before the jar does, so no throw can come between making the jar and handing it to the
 * object (whose finalizer then owns it). */
static sb_cookiejar *push_jar(duk_context *ctx) {
  duk_push_object(ctx);                   /* -> [ obj ] */
  push_proto(ctx);                        /* -> [ obj proto ] */
  duk_get_prop_literal(ctx, -1, FIN_KEY); /* -> [ obj proto fin ] */
  duk_set_finalizer(ctx, -3);
  duk_set_prototype(ctx, -2); /* -> [ obj ] */
  duk_push_pointer(ctx, NULL);
  duk_put_prop_literal(ctx, -2, JAR_KEY);
  sb_cookiejar *j;
  if (sb_cookiejar_new(&j) < 0)
    (void)duk_error(ctx, DUK_ERR_ERROR, "CookieJar: out of memory creating a cookie jar");
  duk_push_pointer(ctx, j);
  duk_put_prop_literal(ctx, -2, JAR_KEY);
  return j;
}

sb_cookiejar *sb_js_cookies_jar_at(duk_context *ctx, duk_idx_t idx) {
  if (!duk_is_object(ctx, idx)) return NULL;
  duk_require_stack(ctx, 1);
  duk_get_prop_literal(ctx, idx, JAR_KEY);
  sb_cookiejar *j = duk_get_pointer(ctx, -1); /* NULL when not a pointer */
  duk_pop(ctx);
  return j;
}

/* Pushes the VU's default jar object, making it on first use: [ ... ] -> [ ... jar ] */
static void push_vu_jar(duk_context *ctx) {
  duk_push_global_stash(ctx);
  if (!duk_get_prop_literal(ctx, -1, VU_JAR_KEY)) { /* -> [ stash undefined ] */
    duk_pop(ctx);
    push_jar(ctx); /* -> [ stash jar ] */
    duk_dup_top(ctx);
    duk_put_prop_literal(ctx, -3, VU_JAR_KEY);
  }
  duk_remove(ctx, -2); /* -> [ jar ] */
}

sb_cookiejar *sb_js_cookies_vu_jar(duk_context *ctx) {
  duk_require_stack(ctx, 6);
  push_vu_jar(ctx);
  sb_cookiejar *j = sb_js_cookies_jar_at(ctx, -1);
  duk_pop(ctx);
  return j;
}

void sb_js_cookies_reset(duk_context *ctx) {
  duk_require_stack(ctx, 3);
  duk_push_global_stash(ctx);
  duk_get_prop_literal(ctx, -1, VU_JAR_KEY); /* -> [ stash jar|undefined ] */
  sb_cookiejar *j = sb_js_cookies_jar_at(ctx, -1);
  if (j) sb_cookiejar_clear_all(j);
  duk_pop_2(ctx);
}

/* The jar behind `this`, or a TypeError naming the method. */
static sb_cookiejar *this_jar(duk_context *ctx, const char *method) {
  duk_push_this(ctx);
  sb_cookiejar *j = sb_js_cookies_jar_at(ctx, -1);
  duk_pop(ctx);
  if (!j)
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "CookieJar.%s(): 'this' is not a CookieJar", method);
  return j;
}

static duk_ret_t bad_url(duk_context *ctx, const char *what, const char *url) {
  return duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s: '%s' is not an absolute http:// or https:// URL",
                   what, url);
}

/* --- name -> [ ... ] objects ----------------------------------------------------------------- */

/* With [ ... res index ] on top, pushes the array res[name], creating it (an own property of
 * |res| even for "__proto__"): [ ... res index ] -> [ ... res index arr ] */
static void push_named_array(duk_context *ctx, const char *name, size_t len) {
  duk_push_lstring(ctx, name, len); /* -> [ res index name ] */
  duk_dup_top(ctx);
  if (duk_get_prop(ctx, -3)) { /* index has no prototype: only names we put there */
    duk_remove(ctx, -2);
    return;
  }
  duk_pop(ctx);
  duk_push_array(ctx); /* -> [ res index name arr ] */
  duk_dup(ctx, -2);
  duk_dup(ctx, -2);
  duk_put_prop(ctx, -5); /* index[name] = arr */
  duk_dup(ctx, -2);
  duk_dup(ctx, -2);
  duk_def_prop(ctx, -6,
               DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE | DUK_DEFPROP_SET_ENUMERABLE |
                   DUK_DEFPROP_SET_CONFIGURABLE);
  duk_remove(ctx, -2); /* -> [ res index arr ] */
}

/* [ ... arr value ] -> [ ... arr ]: appends value. */
static void array_push(duk_context *ctx) {
  duk_put_prop_index(ctx, -2, (duk_uarridx_t)duk_get_length(ctx, -2));
}

/* each_for callback of cookiesForURL: [ ... res index ] stays as it is. */
static void on_url_cookie(const sb_cookie *c, void *ud) {
  duk_context *ctx = ud;
  push_named_array(ctx, c->name, strlen(c->name));
  duk_push_string(ctx, c->value);
  array_push(ctx);
  duk_pop(ctx);
}

/* --- jar methods ----------------------------------------------------------------------------- */

/* Applies one key of set()'s options, matched case-insensitively as k6 does. The value at -1 is
 * left on the stack (strings in |c| point into it). */
static void set_option(duk_context *ctx, const char *key, sb_cookie_spec *c) {
  duk_size_t n;
  if (duk_is_undefined(ctx, -1) || duk_is_null(ctx, -1)) return;
  if (strcasecmp(key, "path") == 0) {
    c->path = duk_to_lstring(ctx, -1, &n), c->path_len = n;
  } else if (strcasecmp(key, "domain") == 0) {
    c->domain = duk_to_lstring(ctx, -1, &n), c->domain_len = n;
  } else if (strcasecmp(key, "expires") == 0) {
    const char *s = duk_to_lstring(ctx, -1, &n);
    if (n && sb_cookie_parse_date(s, n, &c->expires) < 0)
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                      "CookieJar.set(): unable to parse \"expires\" date string \"%s\" "
                      "(expected RFC 1123, like \"Mon, 02 Jan 2006 15:04:05 GMT\")",
                      s);
    c->has_expires = n > 0;
  } else if (strcasecmp(key, "max_age") == 0) {
    double v = duk_to_number(ctx, -1);
    c->max_age = v != v ? 0 : v > 1e15 ? (int64_t)1e15 : v < -1e15 ? -1 : (int64_t)v;
  } else if (strcasecmp(key, "secure") == 0) {
    c->secure = duk_to_boolean(ctx, -1);
  } else if (strcasecmp(key, "http_only") == 0) {
    c->http_only = duk_to_boolean(ctx, -1);
  }
}

/* jar.set(url, name, value, [options]) -> true. Like k6, a cookie the jar refuses (a domain
 * that does not match the URL's host) is dropped without an error. */
static duk_ret_t jar_set(duk_context *ctx) {
  sb_cookiejar *j = this_jar(ctx, "set");
  const char *url = duk_to_string(ctx, 0);
  sb_cookie_spec c = {0};
  duk_size_t n;
  c.name = duk_to_lstring(ctx, 1, &n), c.name_len = n;
  c.value = duk_to_lstring(ctx, 2, &n), c.value_len = n;
  if (duk_is_object(ctx, 3)) {
    duk_enum(ctx, 3, DUK_ENUM_OWN_PROPERTIES_ONLY); /* -> [ url name value opts enum ] */
    duk_idx_t e = duk_get_top_index(ctx);
    while (duk_require_stack(ctx, 3), duk_next(ctx, e, 1)) { /* -> [ .. enum (kept..) k v ] */
      set_option(ctx, duk_to_string(ctx, -2), &c);
      duk_remove(ctx, -2); /* the value stays: |c| may point into it */
    }
  }
  sb_err err;
  int rc = sb_cookiejar_set(j, url, &c, now_s(), &err);
  if (rc == SB_EINVAL) return bad_url(ctx, "CookieJar.set(url, name, value)", url);
  if (rc == SB_ENOMEM) return duk_error(ctx, DUK_ERR_ERROR, "CookieJar.set(): out of memory");
  duk_push_true(ctx);
  return 1;
}

/* jar.cookiesForURL(url) -> { name: [ value, ... ] }, in sending order. */
static duk_ret_t jar_cookies_for_url(duk_context *ctx) {
  sb_cookiejar *j = this_jar(ctx, "cookiesForURL");
  const char *url = duk_to_string(ctx, 0);
  duk_push_object(ctx);      /* -> [ url res ] */
  duk_push_bare_object(ctx); /* -> [ url res index ] */
  if (sb_cookiejar_each_for(j, url, now_s(), on_url_cookie, ctx) < 0)
    return bad_url(ctx, "CookieJar.cookiesForURL(url)", url);
  duk_pop(ctx);
  return 1;
}

/* jar.clear(url): deletes every cookie a request to |url| would carry. */
static duk_ret_t jar_clear(duk_context *ctx) {
  sb_cookiejar *j = this_jar(ctx, "clear");
  const char *url = duk_to_string(ctx, 0);
  if (sb_cookiejar_clear(j, url) < 0) return bad_url(ctx, "CookieJar.clear(url)", url);
  return 0;
}

/* jar.delete(url, name): deletes the cookies named |name| a request to |url| would carry. */
static duk_ret_t jar_delete(duk_context *ctx) {
  sb_cookiejar *j = this_jar(ctx, "delete");
  const char *url = duk_to_string(ctx, 0);
  if (duk_is_undefined(ctx, 1) || duk_is_null(ctx, 1))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "CookieJar.delete(url, name): name is missing");
  const char *name = duk_to_string(ctx, 1);
  if (!*name)
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "CookieJar.delete(url, name): name is empty");
  if (sb_cookiejar_delete(j, url, name) < 0)
    return bad_url(ctx, "CookieJar.delete(url, name)", url);
  return 0;
}

/* http.cookieJar(): the VU's jar, the same object on every call. */
static duk_ret_t http_cookie_jar(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (vu && !sb_vu_busy(vu))
    return duk_error(ctx, DUK_ERR_ERROR,
                     "cookieJar(): Making cookie jars in the init context is not supported");
  push_vu_jar(ctx);
  return 1;
}

/* new http.CookieJar(): a fresh, independent jar (the returned object replaces `this`). */
static duk_ret_t jar_construct(duk_context *ctx) {
  push_jar(ctx);
  return 1;
}

void sb_js_cookies_push_api(duk_context *ctx) {
  duk_push_c_function(ctx, http_cookie_jar, 0); /* -> [ exports fn ] */
  duk_put_prop_literal(ctx, -2, "cookieJar");
  duk_push_c_function(ctx, jar_construct, 0); /* -> [ exports ctor ] */
  push_proto(ctx);                            /* -> [ exports ctor proto ] */
  duk_put_prop_literal(ctx, -2, "prototype"); /* instanceof http.CookieJar holds */
  duk_put_prop_literal(ctx, -2, "CookieJar");
}

/* --- requests and responses ------------------------------------------------------------------ */

typedef struct hdr_walk {
  duk_context *ctx;
  duk_idx_t replaced; /* a prototype-less object of names, or an undefined slot */
  sb_buf *out;
  int n;
} hdr_walk;

static void oom(duk_context *ctx) {
  (void)duk_error(ctx, DUK_ERR_ERROR, "k6/http: out of memory building the Cookie header");
}

static void on_jar_cookie(const sb_cookie *c, void *ud) {
  hdr_walk *w = ud;
  if (duk_is_object(w->ctx, w->replaced) && duk_has_prop_string(w->ctx, w->replaced, c->name))
    return;
  if (sb_cookie_append_pair(w->out, c->name, strlen(c->name), c->value, strlen(c->value)) < 0)
    oom(w->ctx);
  w->n++;
}

/* Appends one params.cookies entry: [ ... replaced enum key val ] -> the same. */
static void add_param_cookie(duk_context *ctx, hdr_walk *w) {
  duk_size_t klen, vlen;
  const char *k = duk_to_lstring(ctx, -2, &klen), *v;
  int replace = 0;
  if (duk_is_object(ctx, -1) && !duk_is_array(ctx, -1) && !duk_is_function(ctx, -1)) {
    duk_get_prop_literal(ctx, -1, "replace");
    replace = duk_to_boolean(ctx, -1);
    duk_pop(ctx);
    duk_get_prop_literal(ctx, -1, "value"); /* -> [ .. key val value ] */
    v = duk_is_undefined(ctx, -1) ? "" : duk_to_string(ctx, -1);
    vlen = strlen(v);
    duk_replace(ctx, -2); /* -> [ .. key value ] */
  } else {
    v = duk_to_lstring(ctx, -1, &vlen);
  }
  if (sb_cookie_append_pair(w->out, k, klen, v, vlen) < 0) oom(ctx);
  w->n++;
  if (!replace) return;
  if (!duk_is_object(ctx, w->replaced)) {
    duk_push_bare_object(ctx);
    duk_replace(ctx, w->replaced);
  }
  duk_dup(ctx, -2);
  duk_push_true(ctx);
  duk_put_prop(ctx, w->replaced);
}

int sb_js_cookies_request_header(duk_context *ctx, duk_idx_t cookies_idx, sb_cookiejar *jar,
                                 const char *url, sb_buf *out) {
  duk_idx_t top = duk_get_top(ctx);
  cookies_idx = duk_normalize_index(ctx, cookies_idx);
  duk_require_stack(ctx, 8);
  duk_push_undefined(ctx); /* -> [ ... replaced ] */
  hdr_walk w = {ctx, duk_get_top_index(ctx), out, 0};
  if (cookies_idx >= 0 && duk_is_object(ctx, cookies_idx)) {
    duk_enum(ctx, cookies_idx, DUK_ENUM_OWN_PROPERTIES_ONLY); /* -> [ ... replaced enum ] */
    while (duk_next(ctx, -1, 1)) {                            /* -> [ ... enum key val ] */
      if (!duk_is_undefined(ctx, -1) && !duk_is_null(ctx, -1)) add_param_cookie(ctx, &w);
      duk_pop_2(ctx);
    }
  }
  if (jar && sb_cookiejar_each_for(jar, url, now_s(), on_jar_cookie, &w) < 0)
    (void)bad_url(ctx, "k6/http", url);
  duk_set_top(ctx, top);
  return w.n;
}

static int is_set_cookie(const sb_http_header *h) {
  return h->name_len == 10 && strncasecmp(h->name, "Set-Cookie", 10) == 0;
}

int sb_js_cookies_store_response(sb_cookiejar *jar, const char *url, const sb_http_header *headers,
                                 size_t nheaders) {
  int64_t now = now_s();
  int n = 0;
  for (size_t i = 0; i < nheaders; i++)
    if (is_set_cookie(&headers[i]) &&
        sb_cookiejar_set_cookie_header(jar, url, headers[i].value, headers[i].value_len, now) == 0)
      n++;
  return n;
}

#define put_str(ctx, key, p, n)                                                                    \
  (duk_push_lstring((ctx), (p), (n)), duk_put_prop_literal((ctx), -2, key))

/* Pushes one cookie of response.cookies: [ ... ] -> [ ... cookie ] */
static void push_res_cookie(duk_context *ctx, const sb_cookie_spec *c) {
  duk_push_object(ctx);
  put_str(ctx, "name", c->name, c->name_len);
  put_str(ctx, "value", c->value, c->value_len);
  put_str(ctx, "domain", c->domain ? c->domain : "", c->domain_len);
  put_str(ctx, "path", c->path ? c->path : "", c->path_len);
  duk_push_boolean(ctx, c->http_only);
  duk_put_prop_literal(ctx, -2, "http_only");
  duk_push_boolean(ctx, c->secure);
  duk_put_prop_literal(ctx, -2, "secure");
  duk_push_number(ctx, (double)c->max_age);
  duk_put_prop_literal(ctx, -2, "max_age");
  duk_push_number(ctx, c->has_expires ? (double)c->expires * 1000 : 0);
  duk_put_prop_literal(ctx, -2, "expires");
}

void sb_js_cookies_push_response_cookies(duk_context *ctx, const sb_http_header *headers,
                                         size_t nheaders) {
  duk_require_stack(ctx, 8);
  duk_push_object(ctx); /* -> [ ... res ] */
  int indexed = 0;
  for (size_t i = 0; i < nheaders; i++) {
    sb_cookie_spec c;
    if (!is_set_cookie(&headers[i]) ||
        sb_cookie_parse(&c, headers[i].value, headers[i].value_len) < 0)
      continue;
    if (!indexed++) duk_push_bare_object(ctx); /* -> [ ... res index ] */
    push_named_array(ctx, c.name, c.name_len); /* -> [ ... res index arr ] */
    push_res_cookie(ctx, &c);
    array_push(ctx);
    duk_pop(ctx);
  }
  if (indexed) duk_pop(ctx);
}
