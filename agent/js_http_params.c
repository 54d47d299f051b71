/* k6/http's arguments: params (headers, tags, timeout, redirects, responseType, auth,
 * compression, cookies, jar, responseCallback) read into a C struct once per request, strings
 * borrowed from the value stack; and the response callbacks (expectedStatuses). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/js_http.h"
#include "agent/js_http_cookies.h"
#include "agent/vu.h"
#include "common/duration.h"

static int is_token_char(unsigned char ch) {
  return ch > 32 && ch < 127 && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* Throws unless |h| is a header HTTP can carry (a token name, no CR/LF/NUL in the value). */
static void check_header(duk_context *ctx, const sb_http_header *h) {
  if (h->name_len == 0) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "params.headers: empty header name");
  for (size_t i = 0; i < h->name_len; i++)
    if (!is_token_char((unsigned char)h->name[i]))
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "params.headers: invalid header name '%.*s'",
                      (int)h->name_len, h->name);
  for (size_t i = 0; i < h->value_len; i++)
    if (h->value[i] == '\r' || h->value[i] == '\n' || h->value[i] == '\0')
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                      "params.headers: the value of '%.*s' contains a CR, LF or NUL character",
                      (int)h->name_len, h->name);
}

static void read_headers(duk_context *ctx, sb_js_params *p) {
  duk_enum(ctx, -1, DUK_ENUM_OWN_PROPERTIES_ONLY);
  duk_idx_t e = duk_get_top_index(ctx);
  while (duk_next(ctx, e, 1)) { /* [ h e .. k v ] */
    if (duk_is_undefined(ctx, -1) || duk_is_null(ctx, -1)) {
      duk_pop_2(ctx);
      continue;
    }
    if (p->nheaders == MAX_HEADERS)
      (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "params.headers: more than %d headers", MAX_HEADERS);
    sb_http_header *h = &p->headers[p->nheaders++];
    duk_size_t n;
    h->name = duk_to_lstring(ctx, -2, &n);
    h->name_len = n;
    h->value = duk_to_lstring(ctx, -1, &n);
    h->value_len = n;
    check_header(ctx, h);
    if (h->name_len == 12 && strncasecmp(h->name, "Content-Type", 12) == 0) p->has_ctype = 1;
    if (h->name_len == 13 && strncasecmp(h->name, "Authorization", 13) == 0) p->has_authz = 1;
  }
}

static void read_tags(duk_context *ctx, sb_js_params *p) {
  duk_enum(ctx, -1, DUK_ENUM_OWN_PROPERTIES_ONLY);
  duk_idx_t e = duk_get_top_index(ctx);
  while (p->ntags < 2 * MAX_USER_TAGS && duk_next(ctx, e, 1)) { /* [ t e .. k v ] */
    const char *k = duk_to_string(ctx, -2), *v = duk_to_string(ctx, -1);
    if (strcmp(k, "name") == 0) p->name = v;
    p->tags[p->ntags++] = k;
    p->tags[p->ntags++] = v;
  }
}

/* Reads an expectedStatuses() object at |idx| into |ex|; null -> no callback. Throws otherwise. */
void sb_js_http_read_expect(duk_context *ctx, duk_idx_t idx, sb_js_expect *ex, const char *what) {
  if (duk_is_null(ctx, idx) || duk_is_undefined(ctx, idx)) {
    ex->on = 0;
    return;
  }
  duk_size_t len = 0;
  if (!duk_is_object(ctx, idx) || !duk_get_prop_literal(ctx, idx, RANGES_KEY) ||
      !duk_get_buffer_data(ctx, -1, &len) || len != sizeof(*ex))
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                    "%s: only http.expectedStatuses(...) or null is supported", what);
  memcpy(ex, duk_get_buffer_data(ctx, -1, NULL), sizeof(*ex));
  duk_pop(ctx);
}

static void read_misc(duk_context *ctx, duk_idx_t idx, sb_js_params *p) {
  if (duk_get_prop_literal(ctx, idx, "redirects") && !duk_is_undefined(ctx, -1))
    p->redirects = duk_to_int(ctx, -1) < 0 ? 0 : duk_to_int(ctx, -1);
  if (duk_get_prop_literal(ctx, idx, "responseType") && duk_is_string(ctx, -1)) {
    const char *rt = duk_get_string(ctx, -1);
    p->discard = !strcmp(rt, "none");
    p->binary = !strcmp(rt, "binary");
    if (!p->discard && !p->binary && strcmp(rt, "text") != 0)
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                      "params.responseType: '%s' is not one of 'text', 'binary', 'none'", rt);
  }
  if (duk_get_prop_literal(ctx, idx, "auth") && duk_is_string(ctx, -1)) {
    const char *a = duk_get_string(ctx, -1);
    if (!strcmp(a, "digest"))
      p->auth = AUTH_DIGEST;
    else if (!strcmp(a, "basic"))
      p->auth = AUTH_BASIC;
    else
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                      "params.auth: '%s' is not supported (use 'basic' or 'digest')", a);
  }
  if (duk_get_prop_literal(ctx, idx, "compression") && duk_is_string(ctx, -1) &&
      *duk_get_string(ctx, -1))
    p->compression = duk_get_string(ctx, -1);
  if (duk_get_prop_literal(ctx, idx, "cookies") && duk_is_object(ctx, -1))
    p->cookies_idx = duk_get_top_index(ctx);
  if (duk_get_prop_literal(ctx, idx, "jar") && !duk_is_undefined(ctx, -1) && !duk_is_null(ctx, -1)) {
    p->jar = sb_js_cookies_jar_at(ctx, -1);
    if (!p->jar) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "params.jar: not an http.CookieJar");
  }
  if (duk_has_prop_literal(ctx, idx, "responseCallback")) {
    duk_get_prop_literal(ctx, idx, "responseCallback");
    sb_js_http_read_expect(ctx, duk_get_top_index(ctx), &p->ex, "params.responseCallback");
    p->has_expect = 1;
  }
}

/* Reads params at |idx| (object or undefined). Coerced strings are left on the stack above it. */
void sb_js_http_read_params(duk_context *ctx, duk_idx_t idx, sb_js_params *p, sb_vu *vu) {
  const sb_vu_env *env = sb_vu_get_env(vu);
  const sb_http_config *cfg = env->http ? sb_http_shared_config(env->http) : NULL;
  /* field by field: the header and tag arrays (4 KB) need no clearing, only their counts */
  p->nheaders = p->ntags = 0;
  p->name = p->compression = NULL;
  p->timeout_ms = 0;
  p->binary = p->has_ctype = p->has_authz = p->auth = p->has_expect = 0;
  p->jar = NULL;
  p->redirects = cfg ? cfg->max_redirects : 10;
  p->discard = env->discard_response_bodies;
  p->cookies_idx = -1;
  if (!duk_is_object(ctx, idx)) return;
  duk_require_stack(ctx, 2 * (MAX_HEADERS + MAX_USER_TAGS) + 32);
  if (duk_get_prop_literal(ctx, idx, "headers") && duk_is_object(ctx, -1)) read_headers(ctx, p);
  if (duk_get_prop_literal(ctx, idx, "tags") && duk_is_object(ctx, -1)) read_tags(ctx, p);
  if (duk_get_prop_literal(ctx, idx, "timeout") && !duk_is_undefined(ctx, -1)) {
    int64_t us;
    if (duk_is_number(ctx, -1))
      p->timeout_ms = duk_get_number(ctx, -1);
    else if (duk_is_string(ctx, -1))
      p->timeout_ms = sb_duration_parse_us(duk_get_string(ctx, -1), &us, NULL) ? -1 : us / 1e3;
    if (!(p->timeout_ms > 0))
      (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "params.timeout: '%s' is not a duration",
                      duk_safe_to_string(ctx, -1));
  }
  read_misc(ctx, idx, p);
}

int sb_js_http_expected(const sb_js_expect *ex, int status) {
  for (size_t i = 0; i < ex->n; i++)
    if (status >= ex->min[i] && status <= ex->max[i]) return 1;
  return 0;
}

/* expectedStatuses(200, {min: 300, max: 399}, ...) */
duk_ret_t sb_js_http_expected_statuses(duk_context *ctx) {
  duk_idx_t n = duk_get_top(ctx);
  sb_js_expect ex = {.on = 1};
  if (n > MAX_RANGES) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "expectedStatuses(): too many arguments");
  for (duk_idx_t i = 0; i < n; i++) {
    if (duk_is_number(ctx, i) && duk_get_number(ctx, i) == (double)duk_get_int(ctx, i)) {
      ex.min[ex.n] = ex.max[ex.n] = duk_get_int(ctx, i);
    } else if (duk_is_object(ctx, i) && duk_get_prop_literal(ctx, i, "min") &&
               duk_get_prop_literal(ctx, i, "max") && duk_is_number(ctx, -1) &&
               duk_is_number(ctx, -2)) {
      ex.min[ex.n] = duk_get_int(ctx, -2);
      ex.max[ex.n] = duk_get_int(ctx, -1);
    } else {
      return duk_error(ctx, DUK_ERR_TYPE_ERROR,
                       "expectedStatuses(): argument %d must be an integer or {min, max}", (int)i + 1);
    }
    ex.n++;
  }
  duk_push_object(ctx);
  void *b = duk_push_fixed_buffer(ctx, sizeof(ex));
  memcpy(b, &ex, sizeof(ex));
  duk_put_prop_literal(ctx, -2, RANGES_KEY);
  return 1;
}

