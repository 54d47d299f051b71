/* Request bodies and URL arguments of k6/http (see js_http_body.h).
 *
 * Bodies are written into a caller-owned buffer that lives as long as the VU, so a steady loop
 * posting forms allocates nothing once the buffer has grown; strings and buffers are not even
 * copied. Form values are formatted straight into the output and then %-escaped in place, from
 * the end backwards, which saves a second buffer. */
#include "agent/js_http_body.h"
#include "agent/js_modules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "agent/http_url.h"

#define FILE_KEY "\377sbHttpFile" /* hidden marks: scripts cannot make these keys */
#define URL_KEY "\377sbHttpUrl"
#define MAX_DEPTH 16      /* nested values formatted before "..." */
#define BOUNDARY_BYTES 30 /* Go's multipart.Writer: 30 random bytes, 60 hex digits */

/* --- strings ------------------------------------------------------------------------------- */

/* Appends Duktape's string |s| as UTF-8 (sb_js_cesu_to_utf8: what Go makes of a JS string).
 * Strings without 0xED bytes, nearly all, are copied as they are. */
static int append_utf8(sb_buf *out, const char *s, size_t n) {
  if (!memchr(s, 0xED, n)) return sb_buf_append(out, s, n);
  if (sb_buf_reserve(out, n)) return SB_ENOMEM; /* the result is never longer */
  out->len += sb_js_cesu_to_utf8((uint8_t *)out->data + out->len, (const uint8_t *)s, n);
  out->data[out->len] = '\0';
  return 0;
}

static int append_value_string(duk_context *ctx, duk_idx_t idx, sb_buf *out) {
  duk_size_t n;
  const char *s = duk_get_lstring(ctx, idx, &n);
  return append_utf8(out, s ? s : "", n);
}

/* --- Go's "%v" ----------------------------------------------------------------------------- */

/* A number as goja exports it and Go prints it: integral values are int64s ("42"), the rest
 * float64s in strconv's shortest 'g' form (exponent when < -4 or >= 6: "1e-05", "1.5e+06"). */
static void go_number(double d, char *buf, size_t cap) {
  if (isnan(d)) {
    snprintf(buf, cap, "NaN");
  } else if (isinf(d)) {
    snprintf(buf, cap, d > 0 ? "+Inf" : "-Inf");
  } else if (d == floor(d) && fabs(d) < 9.2e18 && !(d == 0 && signbit(d))) {
    snprintf(buf, cap, "%lld", (long long)d);
  } else {
    int prec = 1;
    for (; prec < 17; prec++) { /* the fewest digits that read back as |d| */
      snprintf(buf, cap, "%.*e", prec - 1, d);
      if (strtod(buf, NULL) == d) break;
    }
    snprintf(buf, cap, "%.*e", prec - 1, d);
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp >= -4 && exp < 6)
      snprintf(buf, cap, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
  }
}

/* Appends "[b1 b2 ...]", Go's %v of a []byte. */
static int append_bytes(sb_buf *out, const unsigned char *p, size_t n) {
  int rc = sb_buf_append(out, "[", 1);
  for (size_t i = 0; i < n && !rc; i++)
    rc = sb_buf_printf(out, i ? " %u" : "%u", p[i]);
  return rc | sb_buf_append(out, "]", 1);
}

int sb_js_http_is_file(duk_context *ctx, duk_idx_t idx) {
  if (!duk_is_object(ctx, idx)) return 0;
  int is = duk_get_prop_literal(ctx, idx, FILE_KEY);
  duk_pop(ctx);
  return is;
}

static int is_url_object(duk_context *ctx, duk_idx_t idx) {
  if (!duk_is_object(ctx, idx)) return 0;
  int is = duk_get_prop_literal(ctx, idx, URL_KEY);
  duk_pop(ctx);
  return is;
}

typedef struct key_ref {
  const char *p;
  size_t n;
  duk_idx_t idx; /* where the key string sits on the value stack */
} key_ref;

static int key_cmp(const void *a, const void *b) {
  const key_ref *x = a, *y = b;
  int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* [ ... ] -> [ ... keys... refs ]: pushes the own enumerable keys of the object at |obj| and a
 * buffer of key_refs to them (insertion order, or sorted bytewise); returns their count. */
static size_t push_keys(duk_context *ctx, duk_idx_t obj, key_ref **refs, int sorted) {
  duk_idx_t first = duk_get_top(ctx);
  duk_enum(ctx, obj, DUK_ENUM_OWN_PROPERTIES_ONLY);
  size_t n = 0;
  for (;; n++) {
    duk_require_stack(ctx, 4);
    if (!duk_next(ctx, first + (duk_idx_t)n, 0)) break;
    duk_swap_top(ctx, -2); /* keep the enumerator on top */
  }
  duk_pop(ctx); /* -> [ ... keys... ] */
  *refs = duk_push_fixed_buffer(ctx, n ? n * sizeof(key_ref) : 1);
  for (size_t i = 0; i < n; i++) {
    duk_size_t len;
    (*refs)[i].idx = first + (duk_idx_t)i;
    (*refs)[i].p = duk_get_lstring(ctx, (*refs)[i].idx, &len);
    (*refs)[i].n = len;
  }
  if (sorted && n > 1) qsort(*refs, n, sizeof(key_ref), key_cmp);
  return n;
}

static int format_value(duk_context *ctx, duk_idx_t idx, sb_buf *out, int depth);

/* "map[k1:v1 k2:v2]" with sorted keys (Go prints maps so). */
static int format_map(duk_context *ctx, duk_idx_t idx, sb_buf *out, int depth) {
  duk_idx_t top = duk_get_top(ctx);
  key_ref *refs;
  size_t n = push_keys(ctx, idx, &refs, 1);
  int rc = sb_buf_puts(out, "map[");
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) rc |= sb_buf_append(out, " ", 1);
    rc |= append_utf8(out, refs[i].p, refs[i].n);
    rc |= sb_buf_append(out, ":", 1);
    duk_dup(ctx, refs[i].idx);
    duk_get_prop(ctx, idx);
    rc |= format_value(ctx, -1, out, depth + 1);
    duk_pop(ctx);
  }
  duk_set_top(ctx, top);
  return rc | sb_buf_append(out, "]", 1);
}

/* "[v1 v2]" (Go's %v of a []interface{}). */
static int format_array(duk_context *ctx, duk_idx_t idx, sb_buf *out, int depth) {
  duk_size_t n = duk_get_length(ctx, idx);
  int rc = sb_buf_append(out, "[", 1);
  for (duk_size_t i = 0; i < n && !rc; i++) {
    if (i) rc |= sb_buf_append(out, " ", 1);
    duk_get_prop_index(ctx, idx, (duk_uarridx_t)i);
    rc |= format_value(ctx, -1, out, depth + 1);
    duk_pop(ctx);
  }
  return rc | sb_buf_append(out, "]", 1);
}

/* "{[bytes] filename content_type}" (Go's %v of k6's FileData struct). */
static int format_file(duk_context *ctx, duk_idx_t idx, sb_buf *out) {
  duk_size_t n = 0;
  duk_get_prop_literal(ctx, idx, "data");
  const void *p = duk_is_string(ctx, -1) ? (const void *)duk_get_lstring(ctx, -1, &n)
                                         : duk_get_buffer_data(ctx, -1, &n);
  int rc = sb_buf_append(out, "{", 1) | append_bytes(out, p, p ? n : 0);
  duk_get_prop_literal(ctx, idx, "filename");
  duk_get_prop_literal(ctx, idx, "content_type");
  rc |= sb_buf_append(out, " ", 1) | append_value_string(ctx, -2, out);
  rc |= sb_buf_append(out, " ", 1) | append_value_string(ctx, -1, out);
  duk_pop_3(ctx);
  return rc | sb_buf_append(out, "}", 1);
}

/* Appends the value at |idx| as Go's fmt "%v" prints what goja exports for it. */
static int format_value(duk_context *ctx, duk_idx_t idx, sb_buf *out, int depth) {
  char num[40];
  idx = duk_normalize_index(ctx, idx);
  if (depth > MAX_DEPTH) return sb_buf_puts(out, "...");
  switch (duk_get_type(ctx, idx)) {
  case DUK_TYPE_UNDEFINED:
  case DUK_TYPE_NULL: return sb_buf_puts(out, "<nil>");
  case DUK_TYPE_BOOLEAN: return sb_buf_puts(out, duk_get_boolean(ctx, idx) ? "true" : "false");
  case DUK_TYPE_NUMBER:
    go_number(duk_get_number(ctx, idx), num, sizeof(num));
    return sb_buf_puts(out, num);
  case DUK_TYPE_STRING:
    if (duk_is_symbol(ctx, idx)) return sb_buf_puts(out, "<symbol>");
    return append_value_string(ctx, idx, out);
  default: break;
  }
  duk_require_stack(ctx, 8);
  if (duk_is_buffer_data(ctx, idx)) {
    duk_size_t n = 0;
    const void *p = duk_get_buffer_data(ctx, idx, &n);
    return append_bytes(out, p, p ? n : 0);
  }
  if (duk_is_array(ctx, idx)) return format_array(ctx, idx, out, depth);
  if (sb_js_http_is_file(ctx, idx)) return format_file(ctx, idx, out);
  if (duk_is_object(ctx, idx) && !duk_is_function(ctx, idx))
    return format_map(ctx, idx, out, depth);
  duk_dup(ctx, idx); /* a function or a symbol: Go prints an address, we its source */
  int rc = sb_buf_puts(out, duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return rc;
}

static int form_safe(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

/* %-escapes out[from, len) in place as Go's url.QueryEscape. */
static int escape_tail(sb_buf *out, size_t from) {
  static const char hex[] = "0123456789ABCDEF";
  size_t extra = 0;
  for (size_t i = from; i < out->len; i++) {
    unsigned char c = (unsigned char)out->data[i];
    if (!form_safe(c) && c != ' ') extra += 2;
  }
  if (sb_buf_reserve(out, extra)) return SB_ENOMEM;
  char *r = out->data + out->len, *w = r + extra;
  out->len += extra;
  *w = '\0';
  while (r > out->data + from) {
    unsigned char c = (unsigned char)*--r;
    if (form_safe(c))
      *--w = (char)c;
    else if (c == ' ')
      *--w = '+';
    else
      *--w = hex[c & 15], *--w = hex[c >> 4], *--w = '%';
  }
  return 0;
}

/* \-escapes '"' and '\' in out[from, len) in place (Go's escapeQuotes). */
static int quote_tail(sb_buf *out, size_t from) {
  size_t extra = 0;
  for (size_t i = from; i < out->len; i++)
    extra += out->data[i] == '"' || out->data[i] == '\\';
  if (!extra) return 0;
  if (sb_buf_reserve(out, extra)) return SB_ENOMEM;
  char *r = out->data + out->len, *w = r + extra;
  out->len += extra;
  *w = '\0';
  while (r > out->data + from) {
    char c = *--r;
    *--w = c;
    if (c == '"' || c == '\\') *--w = '\\';
  }
  return 0;
}

/* --- forms and multipart bodies ---------------------------------------------------------- */

/* Appends "key=value", both escaped, preceded by '&' unless it is the first pair. */
static int form_pair(duk_context *ctx, const key_ref *k, duk_idx_t v, sb_buf *out, size_t start) {
  int rc = out->len > start ? sb_buf_append(out, "&", 1) : 0;
  size_t at = out->len;
  rc |= append_utf8(out, k->p, k->n);
  rc |= rc ? rc : escape_tail(out, at);
  rc |= sb_buf_append(out, "=", 1);
  at = out->len;
  rc |= format_value(ctx, v, out, 1);
  return rc ? SB_ENOMEM : escape_tail(out, at);
}

/* Go's url.Values.Encode() of the object at |obj|: sorted keys, array values repeated. */
static int encode_form(duk_context *ctx, duk_idx_t obj, sb_buf *out) {
  duk_idx_t top = duk_get_top(ctx);
  key_ref *refs;
  size_t n = push_keys(ctx, obj, &refs, 1), start = out->len;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    duk_dup(ctx, refs[i].idx);
    duk_get_prop(ctx, obj); /* -> [ ... keys refs value ] */
    if (duk_is_array(ctx, -1)) {
      duk_size_t len = duk_get_length(ctx, -1);
      for (duk_size_t j = 0; j < len && !rc; j++) {
        duk_get_prop_index(ctx, -1, (duk_uarridx_t)j);
        rc = form_pair(ctx, &refs[i], -1, out, start);
        duk_pop(ctx);
      }
    } else {
      rc = form_pair(ctx, &refs[i], -1, out, start);
    }
    duk_pop(ctx);
  }
  duk_set_top(ctx, top);
  return rc;
}

/* Appends the bytes of a file()'s data. */
static int append_file_data(duk_context *ctx, duk_idx_t file, sb_buf *out) {
  duk_get_prop_literal(ctx, file, "data");
  int rc;
  if (duk_is_buffer_data(ctx, -1)) {
    duk_size_t n = 0;
    const void *p = duk_get_buffer_data(ctx, -1, &n);
    rc = sb_buf_append(out, p, p ? n : 0);
  } else {
    duk_to_string(ctx, -1);
    rc = append_value_string(ctx, -1, out);
  }
  duk_pop(ctx);
  return rc;
}

/* One part of a multipart body, as Go's multipart.Writer frames it. */
static int multipart_part(duk_context *ctx, const key_ref *k, duk_idx_t v, const char *boundary,
                          int first, sb_buf *out) {
  int rc = sb_buf_printf(out, "%s--%s\r\nContent-Disposition: form-data; name=\"",
                         first ? "" : "\r\n", boundary);
  size_t at = out->len;
  rc |= append_utf8(out, k->p, k->n);
  rc |= rc ? rc : quote_tail(out, at);
  if (!sb_js_http_is_file(ctx, v)) {
    rc |= sb_buf_puts(out, "\"\r\n\r\n");
    return rc ? SB_ENOMEM : format_value(ctx, v, out, 1);
  }
  rc |= sb_buf_puts(out, "\"; filename=\"");
  duk_get_prop_literal(ctx, v, "filename");
  at = out->len;
  rc |= append_value_string(ctx, -1, out);
  rc |= rc ? rc : quote_tail(out, at);
  duk_get_prop_literal(ctx, v, "content_type");
  rc |= sb_buf_puts(out, "\"\r\nContent-Type: ");
  rc |= append_value_string(ctx, -1, out);
  rc |= sb_buf_puts(out, "\r\n\r\n");
  duk_pop_2(ctx);
  return rc ? SB_ENOMEM : append_file_data(ctx, v, out);
}

/* multipart/form-data of the object at |obj|: one part per key, in insertion order. */
static int encode_multipart(duk_context *ctx, duk_idx_t obj, sb_buf *out, sb_buf *ctype,
                            sb_err *err) {
  static const char hex[] = "0123456789abcdef";
  unsigned char rnd[BOUNDARY_BYTES];
  char boundary[2 * BOUNDARY_BYTES + 1];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1)
    return sb_err_set(err, SB_EINVAL, "multipart body: OpenSSL gave no random boundary");
  for (size_t i = 0; i < sizeof(rnd); i++)
    boundary[2 * i] = hex[rnd[i] >> 4], boundary[2 * i + 1] = hex[rnd[i] & 15];
  boundary[sizeof(boundary) - 1] = '\0';
  duk_idx_t top = duk_get_top(ctx);
  key_ref *refs;
  size_t n = push_keys(ctx, obj, &refs, 0);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    duk_dup(ctx, refs[i].idx);
    duk_get_prop(ctx, obj);
    rc = multipart_part(ctx, &refs[i], duk_get_top_index(ctx), boundary, i == 0, out);
    duk_pop(ctx);
  }
  duk_set_top(ctx, top);
  rc |= sb_buf_printf(out, "\r\n--%s--\r\n", boundary);
  rc |= sb_buf_printf(ctype, "multipart/form-data; boundary=%s", boundary);
  return rc ? SB_ENOMEM : 0;
}

/* k6's requestContainsFile: a file() among the object's own values (not nested). */
static int contains_file(duk_context *ctx, duk_idx_t obj) {
  int found = 0;
  duk_enum(ctx, obj, DUK_ENUM_OWN_PROPERTIES_ONLY);
  while (!found && duk_next(ctx, -1, 1)) { /* -> [ ... enum key value ] */
    found = sb_js_http_is_file(ctx, -1);
    duk_pop_2(ctx);
  }
  duk_pop(ctx);
  return found;
}

static const char *type_name(duk_context *ctx, duk_idx_t idx) {
  if (duk_is_number(ctx, idx)) return "number";
  if (duk_is_boolean(ctx, idx)) return "boolean";
  if (duk_is_array(ctx, idx)) return "array";
  if (duk_is_function(ctx, idx)) return "function";
  if (sb_js_http_is_file(ctx, idx)) return "http.file()";
  if (is_url_object(ctx, idx)) return "http.url``";
  return "value";
}

int sb_js_http_body_view(duk_context *ctx, duk_idx_t idx, const char **data, size_t *len,
                         sb_buf *scratch, sb_buf *ctype, sb_err *err) {
  duk_size_t n = 0;
  idx = duk_normalize_index(ctx, idx);
  sb_buf_reset(scratch), sb_buf_reset(ctype);
  *data = "", *len = 0;
  if (duk_is_null_or_undefined(ctx, idx)) return 0;
  if (duk_is_symbol(ctx, idx)) {
    return sb_err_set(err, SB_EINVAL, "unknown request body type symbol");
  } else if (duk_is_string(ctx, idx)) {
    const char *s = duk_get_lstring(ctx, idx, &n);
    if (!memchr(s, 0xED, n)) return *data = s, *len = n, 1;
    if (append_utf8(scratch, s, n)) return SB_ENOMEM;
  } else if (duk_is_buffer_data(ctx, idx)) {
    const char *p = duk_get_buffer_data(ctx, idx, &n);
    if (p) *data = p, *len = n;
    return 1;
  } else if (duk_is_object(ctx, idx) && !duk_is_array(ctx, idx) && !duk_is_function(ctx, idx) &&
             !sb_js_http_is_file(ctx, idx) && !is_url_object(ctx, idx)) {
    int rc = contains_file(ctx, idx) ? encode_multipart(ctx, idx, scratch, ctype, err)
                                     : encode_form(ctx, idx, scratch);
    if (rc) return rc == SB_ENOMEM ? sb_err_set(err, rc, "request body: out of memory") : rc;
    if (!ctype->len && sb_buf_puts(ctype, "application/x-www-form-urlencoded")) return SB_ENOMEM;
  } else {
    return sb_err_set(err, SB_EINVAL, "unknown request body type %s", type_name(ctx, idx));
  }
  if (sb_buf_reserve(scratch, 0)) return SB_ENOMEM;
  *data = scratch->data, *len = scratch->len;
  return 1;
}

int sb_js_http_body_encode(duk_context *ctx, duk_idx_t idx, sb_buf *out, sb_buf *ctype,
                           sb_err *err) {
  const char *data;
  size_t len;
  int rc = sb_js_http_body_view(ctx, idx, &data, &len, out, ctype, err);
  if (rc == 1 && data != out->data && sb_buf_append(out, data, len)) return SB_ENOMEM;
  return rc;
}

/* --- http.file() and http.url`` ------------------------------------------------------------ */

/* Pushes arg |i| coerced to a string, or |def| when it is undefined or null. */
static void push_arg_or(duk_context *ctx, duk_idx_t i, const char *def) {
  if (duk_is_null_or_undefined(ctx, i)) {
    duk_push_string(ctx, def);
  } else {
    duk_dup(ctx, i);
    duk_to_string(ctx, -1);
  }
}

/* file(data, [filename], [contentType]) */
static duk_ret_t http_file(duk_context *ctx) {
  duk_set_top(ctx, 3);
  if (!duk_is_string(ctx, 0) && !duk_is_buffer_data(ctx, 0))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR,
                     "http.file: invalid type %s, expected string, []byte or ArrayBuffer",
                     type_name(ctx, 0));
  struct timespec ts;
  char nanos[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(nanos, sizeof(nanos), "%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  duk_push_object(ctx); /* -> [ data name type file ] */
  duk_dup(ctx, 0);
  duk_put_prop_literal(ctx, -2, "data");
  push_arg_or(ctx, 1, nanos);
  duk_put_prop_literal(ctx, -2, "filename");
  push_arg_or(ctx, 2, "application/octet-stream");
  duk_put_prop_literal(ctx, -2, "content_type");
  duk_push_true(ctx);
  duk_put_prop_literal(ctx, -2, FILE_KEY);
  return 1;
}

/* [ ... ] -> [ ... str ]: the template's parts joined, with each substitution (or "${}"). */
static void push_joined(duk_context *ctx, duk_size_t nparts, duk_idx_t nargs, int as_name) {
  duk_require_stack(ctx, (duk_idx_t)(2 * nparts + 4));
  duk_idx_t count = 0;
  for (duk_size_t i = 0; i < nparts; i++) {
    if (duk_is_string(ctx, 0))
      duk_dup(ctx, 0);
    else
      duk_get_prop_index(ctx, 0, (duk_uarridx_t)i);
    duk_to_string(ctx, -1);
    count++;
    if ((duk_idx_t)i + 1 < nargs) {
      if (as_name)
        duk_push_literal(ctx, "${}");
      else
        duk_dup(ctx, (duk_idx_t)i + 1), duk_to_string(ctx, -1);
      count++;
    }
  }
  duk_concat(ctx, count);
}

static void put_readonly(duk_context *ctx, const char *key, duk_idx_t value) {
  duk_push_string(ctx, key);
  duk_dup(ctx, value);
  duk_def_prop(ctx, -3, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_ENUMERABLE);
}

/* url`...`: what Babel makes of a tagged template is url(parts, ...substitutions). */
static duk_ret_t http_url(duk_context *ctx) {
  duk_idx_t nargs = duk_get_top(ctx);
  if (nargs < 1 || !(duk_is_string(ctx, 0) || duk_is_object(ctx, 0)))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "http.url must be used as a tagged template");
  duk_size_t nparts = duk_is_string(ctx, 0) ? 1 : duk_get_length(ctx, 0);
  push_joined(ctx, nparts, nargs, 0); /* -> [ args.. url ] */
  push_joined(ctx, nparts, nargs, 1); /* -> [ args.. url name ] */
  duk_size_t ulen;
  const char *url = duk_get_lstring(ctx, nargs, &ulen);
  sb_url u;
  sb_err err = {{0}};
  if (sb_url_parse(&u, url, ulen, &err) == SB_EFORMAT)
    return duk_error(ctx, DUK_ERR_ERROR, "invalid URL: %s", err.msg);
  if (u.user) { /* -> [ args.. url name clean ] */
    const char *at = u.pass ? u.pass + u.pass_len : u.user + u.user_len;
    duk_push_lstring(ctx, url, (size_t)(u.user - url));
    duk_push_string(ctx, u.pass ? "****:****@" : "****@");
    duk_push_lstring(ctx, at + 1, ulen - (size_t)(at + 1 - url));
    duk_concat(ctx, 3);
  } else {
    duk_dup(ctx, nargs);
  }
  if (duk_strict_equals(ctx, nargs, nargs + 1)) { /* no substitution: the name is the clean URL */
    duk_dup_top(ctx);
    duk_replace(ctx, nargs + 1);
  }
  duk_push_object(ctx); /* -> [ args.. url name clean obj ] */
  put_readonly(ctx, "url", nargs);
  put_readonly(ctx, "name", nargs + 1);
  put_readonly(ctx, "clean_url", nargs + 2);
  duk_push_true(ctx);
  duk_put_prop_literal(ctx, -2, URL_KEY);
  duk_compact(ctx, -1);
  duk_freeze(ctx, -1);
  return 1;
}

void sb_js_http_body_push_api(duk_context *ctx) {
  duk_push_c_function(ctx, http_file, DUK_VARARGS);
  duk_put_prop_literal(ctx, -2, "file");
  duk_push_c_function(ctx, http_url, DUK_VARARGS);
  duk_put_prop_literal(ctx, -2, "url");
}

int sb_js_http_url_arg(duk_context *ctx, duk_idx_t idx, const char **url, const char **name) {
  idx = duk_normalize_index(ctx, idx);
  if (duk_is_string(ctx, idx) && !duk_is_symbol(ctx, idx)) {
    *url = duk_get_string(ctx, idx);
    *name = NULL;
    return 0;
  }
  if (!is_url_object(ctx, idx)) return SB_EINVAL;
  duk_get_prop_literal(ctx, idx, "url"); /* frozen properties: the strings outlive the pops */
  duk_get_prop_literal(ctx, idx, "name");
  *url = duk_get_string(ctx, -2);
  *name = duk_get_string(ctx, -1);
  duk_pop_2(ctx);
  return *url ? 0 : SB_EINVAL;
}
