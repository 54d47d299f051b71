/* The "k6/encoding" module (b64encode, b64decode) and the byte helpers k6/crypto shares with it
 * (see js_modules.h for the rules, taken from k6's source).
 *
 * Base64 is written here rather than taken from OpenSSL: EVP_EncodeBlock knows neither the URL
 * alphabet nor unpadded output, and EVP_DecodeBlock's leniency (spaces, a short last quantum)
 * differs from Go's decoder, whose exact answers k6 scripts see. Small results are built on the
 * C stack and pushed once; only large ones pass through a temporary Duktape buffer. */
#include "agent/js_modules.h"

#include <string.h>

#include "common/err.h"

#define STACK_OUT 1024 /* results up to this size are built on the C stack */

static const char ALPHA_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char ALPHA_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int padded(sb_b64_variant v) {
  return v == SB_B64_STD || v == SB_B64_URL;
}
static int url_alpha(sb_b64_variant v) {
  return v == SB_B64_URL || v == SB_B64_RAWURL;
}

sb_b64_variant sb_b64_variant_of(const char *name) {
  if (!name) return SB_B64_STD;
  if (strcmp(name, "rawstd") == 0) return SB_B64_RAWSTD;
  if (strcmp(name, "url") == 0) return SB_B64_URL;
  if (strcmp(name, "rawurl") == 0) return SB_B64_RAWURL;
  return SB_B64_STD;
}

size_t sb_b64_encoded_len(size_t n, sb_b64_variant v) {
  return padded(v) ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t sb_b64_encode(char *out, const uint8_t *in, size_t n, sb_b64_variant v) {
  const char *a = url_alpha(v) ? ALPHA_URL : ALPHA_STD;
  char *w = out;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t q = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *w++ = a[q >> 18], *w++ = a[q >> 12 & 63], *w++ = a[q >> 6 & 63], *w++ = a[q & 63];
  }
  if (i < n) {
    uint32_t q = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    *w++ = a[q >> 18], *w++ = a[q >> 12 & 63];
    if (i + 1 < n) *w++ = a[q >> 6 & 63];
    if (padded(v)) {
      if (i + 1 >= n) *w++ = '=';
      *w++ = '=';
    }
  }
  return (size_t)(w - out);
}

/* The 6-bit value of |c| in the variant's alphabet, or -1. */
static int b64_value(unsigned char c, int url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

static size_t skip_newlines(const char *in, size_t n, size_t i) {
  while (i < n && (in[i] == '\n' || in[i] == '\r'))
    i++;
  return i;
}

/* Go's decoder, one quantum at a time: up to four symbols (newlines skipped), then either the
 * end of input, the next quantum, or padding that must close the input. The reported offsets are
 * the ones Go's CorruptInputError carries. */
int sb_b64_decode(uint8_t *out, size_t *outlen, const char *in, size_t n, sb_b64_variant v,
                  size_t *bad_at) {
  int url = url_alpha(v), pad = padded(v);
  size_t i = 0, w = 0;
  for (;;) {
    uint32_t q = 0;
    int j = 0, end = 0;
    while (j < 4) {
      if (i == n) {
        if (j == 0) goto done;
        if (j == 1 || pad) return *bad_at = i - (size_t)j, SB_EFORMAT;
        end = 1;
        break;
      }
      unsigned char c = (unsigned char)in[i++];
      int val = b64_value(c, url);
      if (val >= 0) {
        q |= (uint32_t)val << (18 - 6 * j++);
        continue;
      }
      if (c == '\n' || c == '\r') continue;
      if (!pad || c != '=' || j < 2) return *bad_at = i - 1, SB_EFORMAT;
      if (j == 2) { /* "==" expected: the second '=' must follow */
        i = skip_newlines(in, n, i);
        if (i == n) return *bad_at = n, SB_EFORMAT;
        if (in[i] != '=') return *bad_at = i - 1, SB_EFORMAT;
        i++;
      }
      i = skip_newlines(in, n, i);
      if (i < n) return *bad_at = i, SB_EFORMAT; /* data after the padding */
      end = 1;
      break;
    }
    out[w++] = (uint8_t)(q >> 16);
    if (j > 2) out[w++] = (uint8_t)(q >> 8);
    if (j > 3) out[w++] = (uint8_t)q;
    if (end) break;
  }
done:
  *outlen = w;
  return 0;
}

void sb_js_push_b64(duk_context *ctx, const uint8_t *in, size_t n, sb_b64_variant v) {
  size_t len = sb_b64_encoded_len(n, v);
  if (len <= STACK_OUT) {
    char buf[STACK_OUT];
    duk_push_lstring(ctx, buf, sb_b64_encode(buf, in, n, v));
    return;
  }
  char *p = duk_push_fixed_buffer(ctx, len); /* -> [ ... buf ] */
  sb_b64_encode(p, in, n, v);
  duk_buffer_to_string(ctx, -1); /* -> [ ... str ] */
}

/* --- strings <-> UTF-8 ------------------------------------------------------------------- */

/* Writes Duktape's string |s| as UTF-8 into |w| (room for |n| bytes: never longer): a surrogate
 * pair (two 3-byte CESU-8 sequences) becomes one 4-byte sequence, a lone surrogate U+FFFD —
 * what Go makes of a JS string. Returns the length written. */
size_t sb_js_cesu_to_utf8(uint8_t *w, const uint8_t *p, size_t n) {
  const uint8_t *end = p + n, *w0 = w;
  while (p < end) {
    if (*p != 0xED || end - p < 3 || p[1] < 0xA0) {
      *w++ = *p++;
      continue;
    }
    unsigned hi = 0xD000u | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    if (hi < 0xDC00 && end - p >= 6 && p[3] == 0xED && p[4] >= 0xB0) {
      unsigned lo = 0xD000u | (p[4] & 0x3Fu) << 6 | (p[5] & 0x3Fu);
      unsigned cp = 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u);
      *w++ = (uint8_t)(0xF0 | cp >> 18), *w++ = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
      *w++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), *w++ = (uint8_t)(0x80 | (cp & 0x3F));
      p += 6;
    } else {
      *w++ = 0xEF, *w++ = 0xBF, *w++ = 0xBD;
      p += 3;
    }
  }
  return (size_t)(w - w0);
}

static const char *type_name(duk_context *ctx, duk_idx_t idx) {
  switch (duk_get_type(ctx, idx)) {
  case DUK_TYPE_NONE:
  case DUK_TYPE_UNDEFINED: return "undefined";
  case DUK_TYPE_NULL: return "null";
  case DUK_TYPE_BOOLEAN: return "boolean";
  case DUK_TYPE_NUMBER: return "number";
  default: break;
  }
  if (duk_is_array(ctx, idx)) return "array";
  return duk_is_function(ctx, idx) ? "function" : "object";
}

const uint8_t *sb_js_require_bytes(duk_context *ctx, duk_idx_t idx, size_t *len, const char *fn,
                                   const char *arg) {
  duk_size_t n = 0;
  idx = duk_normalize_index(ctx, idx);
  if (duk_is_string(ctx, idx)) {
    const uint8_t *s = (const uint8_t *)duk_get_lstring(ctx, idx, &n);
    if (!memchr(s, 0xED, n)) return *len = n, s;
    uint8_t *w = duk_push_fixed_buffer(ctx, n); /* -> [ ... buf ] */
    *len = sb_js_cesu_to_utf8(w, s, n);
    duk_replace(ctx, idx);
    return w;
  }
  if (duk_is_buffer_data(ctx, idx)) {
    const uint8_t *p = duk_get_buffer_data(ctx, idx, &n);
    *len = p ? n : 0;
    return p ? p : (const uint8_t *)"";
  }
  (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s: %s must be a string or ArrayBuffer (got %s)", fn,
                  arg, type_name(ctx, idx));
  return NULL;
}

/* Length of the valid UTF-8 sequence at |p| (Go's utf8.DecodeRune rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. */
static int utf8_seq(const uint8_t *p, const uint8_t *end) {
  size_t left = (size_t)(end - p);
  uint8_t b = p[0], lo = 0x80, hi = 0xBF;
  int n;
  if (b >= 0xC2 && b <= 0xDF)
    n = 2;
  else if (b >= 0xE0 && b <= 0xEF)
    n = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
  else if (b >= 0xF0 && b <= 0xF4)
    n = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (left < (size_t)n || p[1] < lo || p[1] > hi) return 0;
  for (int k = 2; k < n; k++)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return n;
}

/* [ ... ] -> [ ... str ]: the JS string of the UTF-8 bytes |p|[0..n), as Go hands a string to
 * JS: each invalid byte U+FFFD, a character above U+FFFF a surrogate pair (Duktape's CESU-8, so
 * length and charCodeAt() count UTF-16 units). */
static void push_utf8_string(duk_context *ctx, const uint8_t *p, size_t n) {
  size_t k = 0;
  while (k < n && p[k] < 0x80)
    k++;
  if (k == n) {
    duk_push_lstring(ctx, (const char *)p, n);
    return;
  }
  uint8_t *w0 = duk_push_fixed_buffer(ctx, n * 3), *w = w0; /* -> [ ... buf ] */
  const uint8_t *end = p + n;
  while (p < end) {
    int len = *p < 0x80 ? 1 : utf8_seq(p, end);
    if (len == 0) {
      *w++ = 0xEF, *w++ = 0xBF, *w++ = 0xBD, p++;
    } else if (len < 4) {
      memcpy(w, p, (size_t)len), w += len, p += len;
    } else {
      uint32_t cp = (uint32_t)(p[0] & 7) << 18 | (uint32_t)(p[1] & 63) << 12 |
                    (uint32_t)(p[2] & 63) << 6 | (p[3] & 63);
      uint32_t hs = 0xD800 + ((cp - 0x10000) >> 10), ls = 0xDC00 + ((cp - 0x10000) & 0x3FF);
      *w++ = 0xED, *w++ = (uint8_t)(0x80 | (hs >> 6 & 63)), *w++ = (uint8_t)(0x80 | (hs & 63));
      *w++ = 0xED, *w++ = (uint8_t)(0x80 | (ls >> 6 & 63)), *w++ = (uint8_t)(0x80 | (ls & 63));
      p += 4;
    }
  }
  duk_push_lstring(ctx, (const char *)w0, (size_t)(w - w0)); /* -> [ ... buf str ] */
  duk_remove(ctx, -2);
}

/* --- the module --------------------------------------------------------------------------- */

/* b64encode(input[, encoding]) -> string */
static duk_ret_t enc_b64encode(duk_context *ctx) {
  size_t n;
  const uint8_t *in = sb_js_require_bytes(ctx, 0, &n, "b64encode", "input");
  sb_js_push_b64(ctx, in, n, sb_b64_variant_of(duk_get_string(ctx, 1)));
  return 1;
}

/* b64decode(input[, encoding][, format]) -> ArrayBuffer, or string for format "s" */
static duk_ret_t enc_b64decode(duk_context *ctx) {
  size_t n, len, bad;
  const char *in = (const char *)sb_js_require_bytes(ctx, 0, &n, "b64decode", "input");
  sb_b64_variant v = sb_b64_variant_of(duk_get_string(ctx, 1));
  const char *format = duk_get_string(ctx, 2);
  int as_string = format && strcmp(format, "s") == 0;
  uint8_t stack[STACK_OUT], *out = stack;
  if (n / 4 * 3 + 3 > sizeof(stack)) out = duk_push_fixed_buffer(ctx, n / 4 * 3 + 3);
  if (sb_b64_decode(out, &len, in, n, v, &bad) != 0)
    return duk_error(ctx, DUK_ERR_ERROR, "b64decode: illegal base64 data at input byte %zu", bad);
  if (as_string) {
    push_utf8_string(ctx, out, len);
  } else {
    void *ab = duk_push_fixed_buffer(ctx, len); /* -> [ ... plain ] */
    if (len) memmove(ab, out, len);
    duk_push_buffer_object(ctx, -1, 0, len, DUK_BUFOBJ_ARRAYBUFFER); /* -> [ ... plain ab ] */
  }
  return 1;
}

static const duk_function_list_entry encoding_funcs[] = {
    {"b64encode", enc_b64encode, 2},
    {"b64decode", enc_b64decode, 3},
    {NULL, NULL, 0},
};

void sb_js_encoding_push(duk_context *ctx) {
  duk_push_object(ctx);
  duk_put_function_list(ctx, -1, encoding_funcs);
}
