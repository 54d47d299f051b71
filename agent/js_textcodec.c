/* TextEncoder / TextDecoder (see js_textcodec.h for the contract).
 *
 * The decoders are the Encoding Standard's own state machines (section 8.1.1 for UTF-8, 14.2.1
 * for UTF-16), fed one byte at a time, so the number of U+FFFD written for a broken sequence is
 * exactly what a browser writes. Their state lives in a small plain buffer under a hidden key of
 * the TextDecoder object: {stream: true} resumes from it, the next non-streaming call starts
 * afresh. Output is written straight in Duktape's string form (CESU-8) into one scratch buffer,
 * on the C stack when small, and pushed as a string once. */
#include "agent/js_textcodec.h"

#include <stdint.h>
#include <string.h>

#include "agent/js_modules.h"

#define STACK_OUT 512 /* outputs up to this size stay on the C stack */
#define STATE_KEY DUK_HIDDEN_SYMBOL("sbTextDecoder")

typedef enum codec { CODEC_UTF8 = 0, CODEC_UTF16LE, CODEC_UTF16BE } codec;

static const char *const CODEC_NAMES[] = {"utf-8", "utf-16le", "utf-16be"};

/* WHATWG labels of the three encodings k6 decodes (k6 also takes "" for utf-8). */
static const struct {
  const char *label;
  codec c;
} LABELS[] = {
    {"", CODEC_UTF8},
    {"unicode-1-1-utf-8", CODEC_UTF8},
    {"unicode11utf8", CODEC_UTF8},
    {"unicode20utf8", CODEC_UTF8},
    {"utf-8", CODEC_UTF8},
    {"utf8", CODEC_UTF8},
    {"x-unicode20utf8", CODEC_UTF8},
    {"csunicode", CODEC_UTF16LE},
    {"iso-10646-ucs-2", CODEC_UTF16LE},
    {"ucs-2", CODEC_UTF16LE},
    {"unicode", CODEC_UTF16LE},
    {"unicodefeff", CODEC_UTF16LE},
    {"utf-16", CODEC_UTF16LE},
    {"utf-16le", CODEC_UTF16LE},
    {"unicodefffe", CODEC_UTF16BE},
    {"utf-16be", CODEC_UTF16BE},
};

/* A TextDecoder's state between calls (the spec's names where it has them). */
typedef struct dec_state {
  uint8_t codec;           /* enum codec */
  uint8_t fatal;           /* error mode "fatal": throw instead of writing U+FFFD */
  uint8_t ignore_bom;      /* keep a leading BOM */
  uint8_t bom_seen;        /* the first character was already written (or dropped) */
  uint8_t do_not_flush;    /* the last call streamed: carry on from this state */
  uint8_t needed, seen;    /* UTF-8: bytes needed / seen after the lead byte */
  uint8_t lower, upper;    /* UTF-8: bounds of the next continuation byte */
  uint32_t cp;             /* UTF-8: code point so far */
  int16_t lead_byte;       /* UTF-16: first byte of a code unit, -1 when none */
  uint16_t lead_surrogate; /* UTF-16: a high surrogate waiting for its pair, 0 when none */
} dec_state;

/* Where decoded characters go. */
typedef struct sink {
  uint8_t *w; /* next byte to write */
  dec_state *st;
  int failed; /* fatal mode met an error */
} sink;

static void dec_reset(dec_state *s) {
  s->bom_seen = s->do_not_flush = 0;
  s->needed = s->seen = 0;
  s->lower = 0x80, s->upper = 0xBF;
  s->cp = 0;
  s->lead_byte = -1;
  s->lead_surrogate = 0;
}

/* Writes |cp| as Duktape stores it: up to U+FFFF as UTF-8, above as a surrogate pair of two
 * 3-byte sequences. The first character of a stream is dropped if it is a BOM (unless
 * ignoreBOM), the spec's "serialize I/O queue". */
static void put_cp(sink *o, uint32_t cp) {
  uint8_t *w = o->w;
  if (!o->st->bom_seen) {
    o->st->bom_seen = 1;
    if (cp == 0xFEFF && !o->st->ignore_bom) return;
  }
  if (cp < 0x80) {
    *w++ = (uint8_t)cp;
  } else if (cp < 0x800) {
    *w++ = (uint8_t)(0xC0 | cp >> 6), *w++ = (uint8_t)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *w++ = (uint8_t)(0xE0 | cp >> 12), *w++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    *w++ = (uint8_t)(0x80 | (cp & 0x3F));
  } else {
    uint32_t hs = 0xD800 + ((cp - 0x10000) >> 10), ls = 0xDC00 + ((cp - 0x10000) & 0x3FF);
    *w++ = 0xED, *w++ = (uint8_t)(0x80 | (hs >> 6 & 0x3F)), *w++ = (uint8_t)(0x80 | (hs & 0x3F));
    *w++ = 0xED, *w++ = (uint8_t)(0x80 | (ls >> 6 & 0x3F)), *w++ = (uint8_t)(0x80 | (ls & 0x3F));
  }
  o->w = w;
}

/* A decoder error: U+FFFD, or the end of the call in fatal mode. */
static void put_error(sink *o) {
  if (o->st->fatal)
    o->failed = 1;
  else
    put_cp(o, 0xFFFD);
}

/* The UTF-8 decoder's handler for one byte. Returns 1 when the byte must be processed again
 * (it ended a broken sequence without belonging to it), else 0. */
static int utf8_byte(dec_state *s, sink *o, uint8_t b) {
  if (s->needed == 0) {
    if (b < 0x80) {
      put_cp(o, b);
    } else if (b >= 0xC2 && b <= 0xDF) {
      s->needed = 1, s->cp = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (b == 0xE0) s->lower = 0xA0;
      if (b == 0xED) s->upper = 0x9F;
      s->needed = 2, s->cp = b & 0xFu;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (b == 0xF0) s->lower = 0x90;
      if (b == 0xF4) s->upper = 0x8F;
      s->needed = 3, s->cp = b & 0x7u;
    } else {
      put_error(o);
    }
    return 0;
  }
  if (b < s->lower || b > s->upper) {
    s->cp = 0, s->needed = s->seen = 0, s->lower = 0x80, s->upper = 0xBF;
    put_error(o);
    return 1;
  }
  s->lower = 0x80, s->upper = 0xBF;
  s->cp = s->cp << 6 | (b & 0x3Fu);
  if (++s->seen == s->needed) {
    put_cp(o, s->cp);
    s->cp = 0, s->needed = s->seen = 0;
  }
  return 0;
}

/* The UTF-16 decoder's handler for one code unit (after pairing its two bytes). A high surrogate
 * not followed by a low one is an error, and the unit that broke the pair counts again. */
static void utf16_unit(dec_state *s, sink *o, uint16_t cu) {
  if (s->lead_surrogate) {
    uint16_t lead = s->lead_surrogate;
    s->lead_surrogate = 0;
    if (cu >= 0xDC00 && cu <= 0xDFFF) {
      put_cp(o, 0x10000u + ((uint32_t)(lead - 0xD800) << 10) + (uint32_t)(cu - 0xDC00));
      return;
    }
    put_error(o);
  }
  if (cu >= 0xD800 && cu <= 0xDBFF)
    s->lead_surrogate = cu;
  else if (cu >= 0xDC00 && cu <= 0xDFFF)
    put_error(o);
  else
    put_cp(o, cu);
}

/* Runs the decoder over |p|[0..n); stops at the first error in fatal mode, |*at| then the
 * offset of the byte that revealed it. */
static void run_decoder(dec_state *s, sink *o, const uint8_t *p, size_t n, size_t *at) {
  size_t i = 0;
  if (s->codec == CODEC_UTF8) {
    while (i < n) {
      int again = utf8_byte(s, o, p[i]);
      if (o->failed) break;
      if (!again) i++;
    }
  } else {
    for (; i < n; i++) {
      if (s->lead_byte < 0) {
        s->lead_byte = p[i];
        continue;
      }
      uint8_t lead = (uint8_t)s->lead_byte;
      s->lead_byte = -1;
      utf16_unit(s, o,
                 s->codec == CODEC_UTF16BE ? (uint16_t)(lead << 8 | p[i])
                                           : (uint16_t)(p[i] << 8 | lead));
      if (o->failed) break;
    }
  }
  *at = i;
}

/* The end of the queue: an unfinished character is an error. */
static void flush_decoder(dec_state *s, sink *o) {
  if (s->codec == CODEC_UTF8 ? s->needed != 0 : (s->lead_byte >= 0 || s->lead_surrogate)) {
    s->needed = s->seen = 0, s->cp = 0, s->lower = 0x80, s->upper = 0xBF;
    s->lead_byte = -1, s->lead_surrogate = 0;
    put_error(o);
  }
}

/* ---- TextDecoder ---------------------------------------------------------------------- */

/* The state of `this`, or a TypeError naming |fn|. The pointer lives as long as `this`. */
static dec_state *this_decoder(duk_context *ctx, const char *fn) {
  dec_state *s = NULL;
  duk_push_this(ctx); /* -> [ ... this ] */
  if (duk_is_object(ctx, -1)) {
    duk_get_prop_string(ctx, -1, STATE_KEY); /* -> [ ... this st ] */
    s = duk_get_buffer(ctx, -1, NULL);
    duk_pop(ctx);
  }
  duk_pop(ctx);
  if (!s)
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "TextDecoder.%s: 'this' is not a TextDecoder", fn);
  return s;
}

/* The bytes of decode()'s input at |idx|: nothing (undefined, null), or a buffer source. */
static const uint8_t *decode_input(duk_context *ctx, duk_idx_t idx, size_t *n) {
  duk_size_t len = 0;
  *n = 0;
  if (duk_is_null_or_undefined(ctx, idx)) return (const uint8_t *)"";
  if (!duk_is_buffer_data(ctx, idx))
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                    "TextDecoder.decode: input must be an ArrayBuffer, a typed array or a "
                    "DataView (got %s)",
                    duk_is_string(ctx, idx) ? "a string" : "another type");
  const uint8_t *p = duk_get_buffer_data(ctx, idx, &len);
  *n = p ? len : 0;
  return p ? p : (const uint8_t *)"";
}

/* ToBoolean(|obj|[key]) for a dictionary argument at |idx| (undefined and null: no entries). */
static int dict_bool(duk_context *ctx, duk_idx_t idx, const char *key, const char *what) {
  if (duk_is_null_or_undefined(ctx, idx)) return 0;
  if (!duk_is_object(ctx, idx))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s: options must be an object", what);
  duk_get_prop_string(ctx, idx, key);
  int v = duk_to_boolean(ctx, -1);
  duk_pop(ctx);
  return v;
}

/* decode(input, {stream}) -> string */
static duk_ret_t dec_decode(duk_context *ctx) {
  dec_state *s = this_decoder(ctx, "decode");
  size_t n, at;
  const uint8_t *p = decode_input(ctx, 0, &n);
  int stream = dict_bool(ctx, 1, "stream", "TextDecoder.decode");
  if (!s->do_not_flush) dec_reset(s);
  s->do_not_flush = (uint8_t)stream;
  if (s->codec == CODEC_UTF8 && s->needed == 0) { /* ASCII needs no work */
    size_t k = 0;
    while (k < n && p[k] < 0x80)
      k++;
    if (k == n) {
      if (n) s->bom_seen = 1;
      duk_push_lstring(ctx, (const char *)p, n);
      return 1;
    }
  }
  uint8_t stack[STACK_OUT], *buf = stack; /* 3 bytes per input byte, and a flushed error */
  if (n > (SIZE_MAX - 16) / 3) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "TextDecoder: too long");
  if (3 * n + 16 > sizeof(stack)) buf = duk_push_fixed_buffer(ctx, 3 * n + 16);
  sink o = {buf, s, 0};
  run_decoder(s, &o, p, n, &at);
  if (!stream && !o.failed) {
    flush_decoder(s, &o);
    at = n;
  }
  if (o.failed) {
    dec_reset(s);
    return duk_error(ctx, DUK_ERR_TYPE_ERROR,
                     "TextDecoder.decode: the input is not valid %s (byte %zu; the decoder is "
                     "fatal)",
                     CODEC_NAMES[s->codec], at);
  }
  duk_push_lstring(ctx, (const char *)buf, (size_t)(o.w - buf)); /* -> [ ... str ] */
  return 1;
}

/* The codec a label names (trimmed of ASCII blanks, any case), or -1. */
static int codec_of_label(const char *label) {
  static const char blanks[] = "\t\n\f\r ";
  char low[24];
  size_t n = strlen(label);
  while (n && strchr(blanks, label[n - 1]))
    n--;
  while (n && strchr(blanks, *label))
    label++, n--;
  if (n >= sizeof(low)) return -1;
  for (size_t i = 0; i < n; i++)
    low[i] = (char)(label[i] >= 'A' && label[i] <= 'Z' ? label[i] + 32 : label[i]);
  low[n] = '\0';
  for (size_t i = 0; i < sizeof(LABELS) / sizeof(LABELS[0]); i++)
    if (!strcmp(low, LABELS[i].label)) return (int)LABELS[i].c;
  return -1;
}

/* Defines |key| on the object at |obj| as k6 does: enumerable, read-only, not configurable.
 * [ ... val ] -> [ ... ] */
static void put_readonly(duk_context *ctx, duk_idx_t obj, const char *key) {
  obj = duk_normalize_index(ctx, obj);
  duk_push_string(ctx, key);
  duk_insert(ctx, -2); /* -> [ ... key val ] */
  duk_def_prop(ctx, obj,
               DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WRITABLE |
                   DUK_DEFPROP_CLEAR_CONFIGURABLE | DUK_DEFPROP_SET_ENUMERABLE);
}

/* new TextDecoder(label = "utf-8", {fatal, ignoreBOM}) */
static duk_ret_t dec_ctor(duk_context *ctx) {
  int c = CODEC_UTF8;
  if (!duk_is_constructor_call(ctx))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "TextDecoder: use 'new TextDecoder(...)'");
  if (!duk_is_null_or_undefined(ctx, 0)) {
    const char *label = duk_to_string(ctx, 0);
    if ((c = codec_of_label(label)) < 0)
      return duk_error(ctx, DUK_ERR_RANGE_ERROR,
                       "TextDecoder: unsupported encoding '%.64s' (k6 decodes utf-8, utf-16le "
                       "and utf-16be)",
                       label);
  }
  int fatal = dict_bool(ctx, 1, "fatal", "TextDecoder");
  int ignore_bom = dict_bool(ctx, 1, "ignoreBOM", "TextDecoder");
  duk_push_this(ctx);                                    /* -> [ label opts this ] */
  dec_state *s = duk_push_fixed_buffer(ctx, sizeof(*s)); /* -> [ label opts this st ] */
  dec_reset(s);
  s->codec = (uint8_t)c, s->fatal = (uint8_t)fatal, s->ignore_bom = (uint8_t)ignore_bom;
  duk_put_prop_string(ctx, 2, STATE_KEY); /* -> [ label opts this ] */
  duk_push_string(ctx, CODEC_NAMES[c]);
  put_readonly(ctx, 2, "encoding");
  duk_push_boolean(ctx, fatal);
  put_readonly(ctx, 2, "fatal");
  duk_push_boolean(ctx, ignore_bom);
  put_readonly(ctx, 2, "ignoreBOM");
  return 0;
}

/* ---- TextEncoder ---------------------------------------------------------------------- */

/* encode(input = "") -> Uint8Array of the UTF-8 of String(input) */
static duk_ret_t enc_encode(duk_context *ctx) {
  duk_size_t n = 0;
  const uint8_t *s = (const uint8_t *)"", *src;
  if (!duk_is_undefined(ctx, 0)) s = (const uint8_t *)duk_to_lstring(ctx, 0, &n);
  size_t len = n;
  src = s;
  if (memchr(s, 0xED, n)) {                       /* surrogates: the UTF-8 is shorter */
    uint8_t *tmp = duk_push_fixed_buffer(ctx, n); /* -> [ in opts tmp ] */
    len = sb_js_cesu_to_utf8(tmp, s, n);
    src = tmp;
  }
  uint8_t *ab = duk_push_fixed_buffer(ctx, len); /* -> [ ... plain ] */
  if (len) memcpy(ab, src, len);
  duk_push_buffer_object(ctx, -1, 0, len, DUK_BUFOBJ_UINT8ARRAY); /* -> [ ... plain u8 ] */
  return 1;
}

/* The next character of Duktape's string at |p| (before |end|), as sb_js_cesu_to_utf8() reads
 * it: its UTF-8 into |u| (returns the length), the bytes it took in |*in| and the UTF-16 units
 * it counts for in |*units|. */
static size_t next_char(const uint8_t *p, const uint8_t *end, size_t *in, uint8_t u[4],
                        int *units) {
  size_t left = (size_t)(end - p), len;
  *units = 1;
  if (*p == 0xED && left >= 3 && p[1] >= 0xA0) {
    *in = left >= 6 && p[1] < 0xB0 && p[3] == 0xED && p[4] >= 0xB0 ? 6 : 3;
    *units = (int)(*in / 3);
    return sb_js_cesu_to_utf8(u, p, *in);
  }
  len = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 1;
  if (len > left) len = left;
  if (len == 4) *units = 2; /* a character above U+FFFF held whole */
  memcpy(u, p, len);
  return *in = len;
}

/* encodeInto(src, dest) -> {read, written}: as much of src as fits whole into the Uint8Array */
static duk_ret_t enc_encode_into(duk_context *ctx) {
  duk_size_t n, cap = 0;
  const uint8_t *p = (const uint8_t *)duk_to_lstring(ctx, 0, &n), *end = p + n;
  duk_get_global_string(ctx, "Uint8Array"); /* -> [ src dest Uint8Array ] */
  if (!duk_is_buffer_data(ctx, 1) || !duk_instanceof(ctx, 1, -1))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR,
                     "TextEncoder.encodeInto: the destination must be a Uint8Array");
  duk_pop(ctx);
  uint8_t *d = duk_get_buffer_data(ctx, 1, &cap), u[4];
  size_t written = 0, in;
  double read = 0;
  int units;
  while (p < end) {
    size_t len = next_char(p, end, &in, u, &units);
    if (len > cap - written) break;
    memcpy(d + written, u, len);
    written += len, read += units, p += in;
  }
  duk_push_object(ctx);
  duk_push_number(ctx, read);
  duk_put_prop_string(ctx, -2, "read");
  duk_push_number(ctx, (double)written);
  duk_put_prop_string(ctx, -2, "written");
  return 1;
}

/* new TextEncoder() */
static duk_ret_t enc_ctor(duk_context *ctx) {
  if (!duk_is_constructor_call(ctx))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "TextEncoder: use 'new TextEncoder()'");
  duk_push_this(ctx);
  duk_push_string(ctx, "utf-8");
  put_readonly(ctx, -2, "encoding");
  return 0;
}

/* ---- registration --------------------------------------------------------------------- */

static const duk_function_list_entry ENCODER_METHODS[] = {
    {"encode", enc_encode, 1},
    {"encodeInto", enc_encode_into, 2},
    {NULL, NULL, 0},
};

static const duk_function_list_entry DECODER_METHODS[] = {
    {"decode", dec_decode, 2},
    {NULL, NULL, 0},
};

/* Defines global |name| as a constructor whose prototype holds |methods|. */
static void put_class(duk_context *ctx, const char *name, duk_c_function ctor, duk_idx_t nargs,
                      const duk_function_list_entry *methods) {
  duk_push_c_function(ctx, ctor, nargs); /* -> [ ... ctor ] */
  duk_push_string(ctx, name);
  put_readonly(ctx, -2, "name");
  duk_push_object(ctx); /* -> [ ... ctor proto ] */
  duk_put_function_list(ctx, -1, methods);
  duk_push_string(ctx, "constructor");
  duk_dup(ctx, -3);
  duk_def_prop(ctx, -3,
               DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE | DUK_DEFPROP_SET_CONFIGURABLE |
                   DUK_DEFPROP_CLEAR_ENUMERABLE);
  duk_put_prop_string(ctx, -2, "prototype"); /* -> [ ... ctor ] */
  duk_put_global_string(ctx, name);          /* -> [ ... ] */
}

void sb_js_textcodec_register(duk_context *ctx) {
  put_class(ctx, "TextEncoder", enc_ctor, 0, ENCODER_METHODS);
  put_class(ctx, "TextDecoder", dec_ctor, 2, DECODER_METHODS);
}
