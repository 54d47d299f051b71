/* HTTP content codings: gzip and deflate through zlib, br through libbrotli, zstd through libzstd.
 *
 * Output goes straight into the caller's sb_buf, grown geometrically, so a buffer reused across
 * requests settles at the largest body and stops allocating. The compressor and decompressor
 * states of zlib and zstd are the expensive part (a deflate state is ~270 KB, a zstd context more
 * than that): they are kept per thread, reset between calls and freed at thread exit. */
#include "common/codec.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define BR_QUALITY 6                   /* k6's brotli writer default; 11 is ~20x slower */
#define ZSTD_LEVEL 3                   /* zstd's default, close to k6's SpeedDefault */
#define ZSTD_WLOG_MAX 23               /* 8 MB: RFC 9659 section 3 caps HTTP zstd windows there */
#define MIN_ROOM 4096                  /* smallest output space handed to a decoder */
#define TRUST_SIZE ((size_t)256 << 20) /* a zstd header's content size believed without max_out */

/* --- per-thread codec states ---------------------------------------------------------------- */

typedef struct codec_states {
  z_stream inflate;    /* reused for gzip, zlib and raw deflate through inflateReset2() */
  int inflate_ready;   /* inflateInit2() succeeded */
  z_stream deflate[2]; /* [0] gzip wrapper, [1] zlib wrapper */
  int deflate_ready[2];
  ZSTD_DCtx *zd;
  ZSTD_CCtx *zc;
  int registered; /* the thread-exit destructor knows this thread */
} codec_states;

static _Thread_local codec_states states;
static pthread_key_t states_key;
static pthread_once_t states_once = PTHREAD_ONCE_INIT;

static void free_states(void *p) {
  codec_states *s = p;
  if (s->inflate_ready) inflateEnd(&s->inflate);
  for (int i = 0; i < 2; i++)
    if (s->deflate_ready[i]) deflateEnd(&s->deflate[i]);
  ZSTD_freeDCtx(s->zd);
  ZSTD_freeCCtx(s->zc);
  memset(s, 0, sizeof(*s));
}

static void make_key(void) {
  pthread_key_create(&states_key, free_states);
}

/* Returns this thread's states, registering them for freeing at thread exit on first use (the
 * main thread's stay reachable through its TLS until exit, which leak checkers accept). */
static codec_states *thread_states(void) {
  if (!states.registered) {
    pthread_once(&states_once, make_key);
    if (pthread_setspecific(states_key, &states) == 0) states.registered = 1;
  }
  return &states;
}

static const char *const names[] = {"identity", "gzip", "deflate", "br", "zstd"};

const char *sb_codec_name(sb_codec c) {
  return (unsigned)c < sizeof(names) / sizeof(*names) ? names[c] : "unknown";
}

int sb_codec_from_name(const char *name, size_t len, sb_codec *out) {
  static const struct {
    const char *name;
    sb_codec c;
  } table[] = {
      {"identity", SB_CODEC_IDENTITY}, {"gzip", SB_CODEC_GZIP}, {"x-gzip", SB_CODEC_GZIP},
      {"deflate", SB_CODEC_DEFLATE},   {"br", SB_CODEC_BR},     {"zstd", SB_CODEC_ZSTD},
  };
  if (!name) return SB_EINVAL;
  for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++) {
    if (strlen(table[i].name) == len && strncasecmp(name, table[i].name, len) == 0) {
      *out = table[i].c;
      return 0;
    }
  }
  return SB_EINVAL;
}

/* --- output space --------------------------------------------------------------------------- */

/* Starts |out| over, keeping its memory and leaving it a valid empty C string. */
static int out_reset(sb_buf *out) {
  out->len = 0;
  if (sb_buf_reserve(out, 0)) return SB_ENOMEM;
  out->data[0] = '\0';
  return 0;
}

static int too_big(const char *name, size_t max_out, sb_err *err) {
  return sb_err_set(err, SB_EFORMAT, "%s: the decoded body exceeds the %zu-byte limit", name,
                    max_out);
}

/* Makes free space after out->len and returns how much a decoder may fill in |*room|: at most
 * one byte past |max_out|, so that going over the cap shows without decoding much beyond it.
 * |hint| sizes the first allocation. Returns 0, SB_ENOMEM or SB_EFORMAT (over the cap). */
static int out_room(sb_buf *out, size_t hint, size_t max_out, size_t *room, const char *name,
                    sb_err *err) {
  if (max_out && out->len > max_out) return too_big(name, max_out, err);
  size_t avail = out->cap - out->len - 1; /* out_reset() made cap > len */
  if (avail < MIN_ROOM) {
    size_t want = out->len ? out->len : hint;
    if (want < MIN_ROOM) want = MIN_ROOM;
    if (max_out && want > max_out - out->len + 1) want = max_out - out->len + 1;
    if (sb_buf_reserve(out, want))
      return sb_err_set(err, SB_ENOMEM, "%s: out of memory decoding the body", name);
    avail = out->cap - out->len - 1;
  }
  if (max_out && avail > max_out - out->len + 1) avail = max_out - out->len + 1;
  *room = avail;
  return 0;
}

/* A first guess at the decoded size: compressed text is typically 3-5x smaller. */
static size_t size_hint(size_t len, size_t max_out) {
  size_t h = len > SIZE_MAX / 4 ? SIZE_MAX / 4 : len * 4;
  return max_out && h > max_out + 1 ? max_out + 1 : h;
}

/* --- gzip and deflate ----------------------------------------------------------------------- */

/* RFC 1950: CM 8 (deflate), CINFO <= 7, and the two header bytes a multiple of 31. A raw
 * deflate stream can start with such bytes only by a 1-in-~500 chance. */
static int looks_like_zlib(const uint8_t *in, size_t len) {
  return len >= 2 && (in[0] & 0x0f) == 8 && (in[0] >> 4) <= 7 && ((in[0] << 8) | in[1]) % 31 == 0;
}

static int zlib_fail(const char *name, int zr, const z_stream *z, sb_err *err) {
  const char *msg = z->msg ? z->msg : zError(zr);
  if (zr == Z_MEM_ERROR) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", name);
  if (zr == Z_NEED_DICT)
    return sb_err_set(err, SB_EFORMAT,
                      "%s: the stream needs a preset dictionary, which HTTP "
                      "does not define",
                      name);
  if (strstr(msg, "header") || strstr(msg, "compression method"))
    return sb_err_set(err, SB_EFORMAT, "%s: invalid header (%s)", name, msg);
  if (strstr(msg, "check"))
    return sb_err_set(err, SB_EFORMAT, "%s: checksum mismatch (%s)", name, msg);
  return sb_err_set(err, SB_EFORMAT, "%s: corrupt data (%s)", name, msg);
}

/* This thread's inflate state, reset for |wbits| (31 gzip, 15 zlib, -15 raw). */
static int inflate_get(z_stream **zp, int wbits, const char *name, sb_err *err) {
  codec_states *s = thread_states();
  z_stream *z = &s->inflate;
  int zr;
  if (s->inflate_ready) {
    zr = inflateReset2(z, wbits);
  } else {
    memset(z, 0, sizeof(*z));
    zr = inflateInit2(z, wbits);
    s->inflate_ready = zr == Z_OK;
  }
  if (zr != Z_OK) return zlib_fail(name, zr, z, err);
  *zp = z;
  return 0;
}

/* Called at the end of a gzip member or zlib/raw stream with input left: gzip allows another
 * member (RFC 1952 section 2.2, `cat a.gz b.gz`); anything else is trailing garbage. */
static int zlib_next_member(z_stream *z, int gzip, size_t left, const char *name, sb_err *err) {
  const uint8_t *p = z->next_in;
  if (gzip && left >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
    int zr = inflateReset(z);
    return zr == Z_OK ? 0 : zlib_fail(name, zr, z, err);
  }
  return sb_err_set(err, SB_EFORMAT, "%s: %zu bytes of trailing data after the compressed body",
                    name, left);
}

static int zlib_decode(sb_codec c, const uint8_t *in, size_t len, sb_buf *out, size_t max_out,
                       sb_err *err) {
  const char *name = names[c];
  int gzip = c == SB_CODEC_GZIP;
  int wbits = gzip ? 16 + MAX_WBITS : looks_like_zlib(in, len) ? MAX_WBITS : -MAX_WBITS;
  z_stream *z;
  int rc = inflate_get(&z, wbits, name, err);
  if (rc) return rc;
  size_t hint = size_hint(len, max_out), left = len; /* |left|: bytes not yet in avail_in */
  z->next_in = (Bytef *)in;
  z->avail_in = 0;
  for (;;) {
    if (z->avail_in == 0 && left) {
      z->avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
      left -= z->avail_in;
    }
    size_t room;
    if ((rc = out_room(out, hint, max_out, &room, name, err))) return rc;
    z->next_out = (Bytef *)out->data + out->len;
    z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
    uInt before = z->avail_out;
    int zr = inflate(z, Z_NO_FLUSH);
    out->len += before - z->avail_out;
    out->data[out->len] = '\0';
    if (max_out && out->len > max_out) return too_big(name, max_out, err);
    if (zr == Z_STREAM_END) {
      size_t rest = z->avail_in + left;
      if (!rest) return 0;
      if ((rc = zlib_next_member(z, gzip, rest, name, err))) return rc;
    } else if (zr == Z_OK || zr == Z_BUF_ERROR) {
      /* Space left to write and nothing left to read, yet no end of stream. */
      if (z->avail_out && z->avail_in == 0 && !left)
        return sb_err_set(err, SB_EFORMAT, "%s: truncated input", name);
      if (zr == Z_BUF_ERROR && z->avail_out) /* no progress with room on both sides */
        return sb_err_set(err, SB_EFORMAT, "%s: corrupt data (the decoder stalled)", name);
    } else {
      return zlib_fail(name, zr, z, err);
    }
  }
}

static int zlib_encode(sb_codec c, const uint8_t *in, size_t len, sb_buf *out, sb_err *err) {
  const char *name = names[c];
  codec_states *s = thread_states();
  int i = c == SB_CODEC_GZIP ? 0 : 1;
  z_stream *z = &s->deflate[i];
  int zr;
  if (s->deflate_ready[i]) {
    zr = deflateReset(z);
  } else {
    memset(z, 0, sizeof(*z));
    zr = deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, i ? MAX_WBITS : 16 + MAX_WBITS, 8,
                      Z_DEFAULT_STRATEGY);
    s->deflate_ready[i] = zr == Z_OK;
  }
  if (zr != Z_OK) return zlib_fail(name, zr, z, err);
  if (sb_buf_reserve(out, deflateBound(z, len)))
    return sb_err_set(err, SB_ENOMEM, "%s: out of memory compressing the body", name);
  size_t left = len;
  z->next_in = (Bytef *)in;
  z->avail_in = 0;
  do {
    if (z->avail_in == 0 && left) {
      z->avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
      left -= z->avail_in;
    }
    if (out->cap - out->len - 1 < MIN_ROOM && sb_buf_reserve(out, out->len))
      return sb_err_set(err, SB_ENOMEM, "%s: out of memory compressing the body", name);
    size_t room = out->cap - out->len - 1;
    z->next_out = (Bytef *)out->data + out->len;
    z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
    uInt before = z->avail_out;
    zr = deflate(z, left ? Z_NO_FLUSH : Z_FINISH);
    out->len += before - z->avail_out;
    if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) return zlib_fail(name, zr, z, err);
  } while (zr != Z_STREAM_END);
  out->data[out->len] = '\0';
  return 0;
}

/* --- brotli --------------------------------------------------------------------------------- */

/* BrotliDecoderErrorString() gives "_ERROR_FORMAT_PADDING_1"; people read "padding 1". */
static int br_fail(BrotliDecoderState *d, sb_err *err) {
  const char *s = BrotliDecoderErrorString(BrotliDecoderGetErrorCode(d));
  if (strncmp(s, "_ERROR_ALLOC_", 13) == 0) return sb_err_set(err, SB_ENOMEM, "br: out of memory");
  char what[64];
  size_t n = 0;
  if (strncmp(s, "_ERROR_FORMAT_", 14) == 0)
    s += 14;
  else if (*s == '_')
    s++;
  for (; *s && n < sizeof(what) - 1; s++)
    what[n++] = *s == '_' ? ' ' : (char)(*s | 0x20);
  what[n] = '\0';
  return sb_err_set(err, SB_EFORMAT, "br: corrupt data (%s)", what);
}

static int br_decode(const uint8_t *in, size_t len, sb_buf *out, size_t max_out, sb_err *err) {
  BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
  if (!d) return sb_err_set(err, SB_ENOMEM, "br: out of memory");
  size_t hint = size_hint(len, max_out), avail_in = len;
  const uint8_t *next_in = in;
  int rc = 0;
  for (;;) {
    size_t room;
    if ((rc = out_room(out, hint, max_out, &room, "br", err))) break;
    size_t avail_out = room;
    uint8_t *next_out = (uint8_t *)out->data + out->len;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(d, &avail_in, &next_in, &avail_out, &next_out, NULL);
    out->len += room - avail_out;
    out->data[out->len] = '\0';
    if (max_out && out->len > max_out) {
      rc = too_big("br", max_out, err);
    } else if (r == BROTLI_DECODER_RESULT_SUCCESS) {
      if (avail_in)
        rc = sb_err_set(err, SB_EFORMAT,
                        "br: %zu bytes of trailing data after the compressed "
                        "body",
                        avail_in);
    } else if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
      rc = sb_err_set(err, SB_EFORMAT, "br: truncated input");
    } else if (r == BROTLI_DECODER_RESULT_ERROR) {
      rc = br_fail(d, err);
    } else {
      continue; /* NEEDS_MORE_OUTPUT */
    }
    break;
  }
  BrotliDecoderDestroyInstance(d);
  return rc;
}

static int br_encode(const uint8_t *in, size_t len, sb_buf *out, sb_err *err) {
  size_t bound = BrotliEncoderMaxCompressedSize(len);
  if (!bound) return sb_err_set(err, SB_ENOMEM, "br: a %zu-byte body is too large", len);
  if (sb_buf_reserve(out, bound))
    return sb_err_set(err, SB_ENOMEM, "br: out of memory compressing the body");
  size_t n = bound;
  if (!BrotliEncoderCompress(BR_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, len, in, &n,
                             (uint8_t *)out->data))
    return sb_err_set(err, SB_ENOMEM, "br: the encoder failed (out of memory?)");
  out->len = n;
  out->data[n] = '\0';
  return 0;
}

/* --- zstd ----------------------------------------------------------------------------------- */

static int zstd_fail(size_t r, sb_err *err) {
  ZSTD_ErrorCode code = ZSTD_getErrorCode(r);
  if (code == ZSTD_error_memory_allocation)
    return sb_err_set(err, SB_ENOMEM, "zstd: out of memory");
  if (code == ZSTD_error_frameParameter_windowTooLarge)
    return sb_err_set(err, SB_EFORMAT,
                      "zstd: the frame needs a window over 8 MB, more than HTTP "
                      "allows (RFC 9659)");
  if (code == ZSTD_error_prefix_unknown)
    return sb_err_set(err, SB_EFORMAT, "zstd: invalid header (not a zstd frame)");
  return sb_err_set(err, SB_EFORMAT, "zstd: corrupt data (%s)", ZSTD_getErrorName(r));
}

static int zstd_decode(const uint8_t *in, size_t len, sb_buf *out, size_t max_out, sb_err *err) {
  codec_states *s = thread_states();
  if (!s->zd) {
    if (!(s->zd = ZSTD_createDCtx())) return sb_err_set(err, SB_ENOMEM, "zstd: out of memory");
    ZSTD_DCtx_setParameter(s->zd, ZSTD_d_windowLogMax, ZSTD_WLOG_MAX);
  }
  ZSTD_DCtx_reset(s->zd, ZSTD_reset_session_only);
  /* A declared content size over the cap fails now; one we can trust sizes |out| so that libzstd
   * decodes straight into it, without a window buffer. A hostile header may claim terabytes:
   * without a cap, sizes over TRUST_SIZE grow the buffer as the data really arrives. */
  unsigned long long size = ZSTD_getFrameContentSize(in, len);
  size_t hint = size_hint(len, max_out);
  if (size != ZSTD_CONTENTSIZE_UNKNOWN && size != ZSTD_CONTENTSIZE_ERROR) {
    if (max_out && size > max_out) return too_big("zstd", max_out, err);
    if (size <= (max_out ? max_out : TRUST_SIZE)) hint = (size_t)size + 1; /* +1 shows the end */
  }
  ZSTD_inBuffer ib = {in, len, 0};
  for (;;) {
    size_t room;
    int rc = out_room(out, hint, max_out, &room, "zstd", err);
    if (rc) return rc;
    ZSTD_outBuffer ob = {out->data + out->len, room, 0};
    size_t r = ZSTD_decompressStream(s->zd, &ob, &ib);
    out->len += ob.pos;
    out->data[out->len] = '\0';
    if (ZSTD_isError(r)) return zstd_fail(r, err);
    if (max_out && out->len > max_out) return too_big("zstd", max_out, err);
    if (ib.pos == ib.size && (r == 0 || ob.pos < ob.size)) {
      if (r != 0) return sb_err_set(err, SB_EFORMAT, "zstd: truncated input");
      return 0;
    }
  }
}

static int zstd_encode(const uint8_t *in, size_t len, sb_buf *out, sb_err *err) {
  codec_states *s = thread_states();
  if (!s->zc) {
    if (!(s->zc = ZSTD_createCCtx())) return sb_err_set(err, SB_ENOMEM, "zstd: out of memory");
    ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1); /* as k6's encoder: corruption shows */
  }
  size_t bound = ZSTD_compressBound(len);
  if (ZSTD_isError(bound) || sb_buf_reserve(out, bound))
    return sb_err_set(err, SB_ENOMEM, "zstd: out of memory compressing the body");
  size_t n = ZSTD_compress2(s->zc, out->data, bound, in, len);
  if (ZSTD_isError(n)) return zstd_fail(n, err);
  out->len = n;
  out->data[n] = '\0';
  return 0;
}

/* --- one coding ----------------------------------------------------------------------------- */

int sb_codec_encode(sb_codec c, const void *in, size_t len, sb_buf *out, sb_err *err) {
  if (out_reset(out)) return sb_err_set(err, SB_ENOMEM, "out of memory");
  if (!in) in = "", len = 0;
  switch (c) {
  case SB_CODEC_IDENTITY:
    return sb_buf_append(out, in, len) ? sb_err_set(err, SB_ENOMEM, "out of memory") : 0;
  case SB_CODEC_GZIP:
  case SB_CODEC_DEFLATE: return zlib_encode(c, in, len, out, err);
  case SB_CODEC_BR: return br_encode(in, len, out, err);
  case SB_CODEC_ZSTD: return zstd_encode(in, len, out, err);
  }
  return sb_err_set(err, SB_EINVAL, "unknown content coding %d", (int)c);
}

int sb_codec_decode(sb_codec c, const void *in, size_t len, sb_buf *out, size_t max_out,
                    sb_err *err) {
  if (out_reset(out)) return sb_err_set(err, SB_ENOMEM, "out of memory");
  if ((unsigned)c > SB_CODEC_ZSTD)
    return sb_err_set(err, SB_EINVAL, "unknown content coding %d", (int)c);
  if (!in || !len) return 0;
  switch (c) {
  case SB_CODEC_GZIP:
  case SB_CODEC_DEFLATE: return zlib_decode(c, in, len, out, max_out, err);
  case SB_CODEC_BR: return br_decode(in, len, out, max_out, err);
  case SB_CODEC_ZSTD: return zstd_decode(in, len, out, max_out, err);
  case SB_CODEC_IDENTITY: break;
  }
  if (max_out && len > max_out) return too_big("identity", max_out, err);
  return sb_buf_append(out, in, len) ? sb_err_set(err, SB_ENOMEM, "out of memory") : 0;
}

/* --- chains --------------------------------------------------------------------------------- */

/* Splits a Content-Encoding / `compression` list into |list| (in written order), skipping empty
 * elements and identity. Returns 0 or SB_EINVAL naming the unknown coding. */
static int parse_chain(const char *enc, size_t enc_len, sb_codec *list, size_t *n, sb_err *err) {
  size_t i = 0;
  *n = 0;
  while (i < enc_len) {
    size_t start = i, end;
    while (i < enc_len && enc[i] != ',')
      i++;
    end = i++;
    while (start < end && (enc[start] == ' ' || enc[start] == '\t'))
      start++;
    while (end > start && (enc[end - 1] == ' ' || enc[end - 1] == '\t'))
      end--;
    if (start == end) continue;
    sb_codec c;
    if (sb_codec_from_name(enc + start, end - start, &c))
      return sb_err_set(err, SB_EINVAL,
                        "unknown content coding '%.*s' (supported: gzip, "
                        "deflate, br, zstd, identity)",
                        (int)(end - start > 64 ? 64 : end - start), enc + start);
    if (c == SB_CODEC_IDENTITY) continue;
    if (*n == SB_CODEC_MAX_CHAIN)
      return sb_err_set(err, SB_EINVAL, "more than %d content codings in '%.*s'",
                        SB_CODEC_MAX_CHAIN, (int)(enc_len > 200 ? 200 : enc_len), enc);
    list[(*n)++] = c;
  }
  return 0;
}

/* Runs |n| steps from |in|, alternating between |out| and |scratch| so the last lands in |out|.
 * |decode|: undo list[n-1] first; otherwise apply list[0] first. */
static int run_chain(const sb_codec *list, size_t n, int decode, const void *in, size_t len,
                     sb_buf *out, sb_buf *scratch, size_t max_out, sb_err *err) {
  if (n == 0)
    return decode ? sb_codec_decode(SB_CODEC_IDENTITY, in, len, out, max_out, err)
                  : sb_codec_encode(SB_CODEC_IDENTITY, in, len, out, err);
  const void *src = in;
  size_t src_len = len;
  for (size_t k = 0; k < n; k++) {
    sb_buf *dst = (n - 1 - k) % 2 == 0 ? out : scratch;
    int rc = decode ? sb_codec_decode(list[n - 1 - k], src, src_len, dst, max_out, err)
                    : sb_codec_encode(list[k], src, src_len, dst, err);
    if (rc) return rc;
    src = dst->data;
    src_len = dst->len;
  }
  return 0;
}

int sb_codec_decode_chain(const char *enc, size_t enc_len, const void *in, size_t len, sb_buf *out,
                          sb_buf *scratch, size_t max_out, sb_err *err) {
  sb_codec list[SB_CODEC_MAX_CHAIN];
  size_t n;
  int rc = parse_chain(enc ? enc : "", enc ? enc_len : 0, list, &n, err);
  return rc ? rc : run_chain(list, n, 1, in, len, out, scratch, max_out, err);
}

int sb_codec_encode_chain(const char *enc, size_t enc_len, const void *in, size_t len, sb_buf *out,
                          sb_buf *scratch, sb_err *err) {
  sb_codec list[SB_CODEC_MAX_CHAIN];
  size_t n;
  int rc = parse_chain(enc ? enc : "", enc ? enc_len : 0, list, &n, err);
  return rc ? rc : run_chain(list, n, 0, in, len, out, scratch, 0, err);
}
