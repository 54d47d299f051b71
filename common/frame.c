#include "common/frame.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

#include "common/arena.h"

#define ZSTD_FLAG 0x80000000u
#define ZSTD_MIN_LEN 512          /* smaller frames are not worth compressing */
#define ZSTD_MAX_OUT (256u << 20) /* a compressed frame may not expand beyond this */

int sb_frame_send_packed(struct evbuffer *out, const uint8_t *buf, size_t len) {
  uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  if (evbuffer_add(out, hdr, 4) || evbuffer_add(out, buf, len)) return SB_ENOMEM;
  return 0;
}

int sb_frame_send_packed_z(struct evbuffer *out, const uint8_t *buf, size_t len) {
  if (len < ZSTD_MIN_LEN) return sb_frame_send_packed(out, buf, len);
  size_t cap = ZSTD_compressBound(len);
  uint8_t *z = malloc(cap);
  if (!z) return sb_frame_send_packed(out, buf, len);
  size_t zlen = ZSTD_compress(z, cap, buf, len, 1);
  int rc;
  if (ZSTD_isError(zlen) || zlen >= len) {
    rc = sb_frame_send_packed(out, buf, len);
  } else {
    uint32_t l = (uint32_t)zlen | ZSTD_FLAG;
    uint8_t hdr[4] = {(uint8_t)(l >> 24), (uint8_t)(l >> 16), (uint8_t)(l >> 8), (uint8_t)l};
    rc = evbuffer_add(out, hdr, 4) || evbuffer_add(out, z, zlen) ? SB_ENOMEM : 0;
  }
  free(z);
  return rc;
}

int sb_frame_send(struct evbuffer *out, const Speedboat__Envelope *env) {
  size_t len = speedboat__envelope__get_packed_size(env);
  uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  struct evbuffer_iovec v;
  if (evbuffer_add(out, hdr, 4)) return SB_ENOMEM;
  if (len == 0) return 0;
  /* Serialize straight into the buffer's free space: no intermediate copy. */
  if (evbuffer_reserve_space(out, (ev_ssize_t)len, &v, 1) < 1 || v.iov_len < len) return SB_ENOMEM;
  speedboat__envelope__pack(env, v.iov_base);
  v.iov_len = len;
  return evbuffer_commit_space(out, &v, 1) ? SB_ENOMEM : 0;
}

int sb_frame_send_msg(struct evbuffer *out, Speedboat__Envelope__MsgCase c, void *msg) {
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = c;
  /* Every case of the oneof shares one pointer slot in the generated union. */
  env.hello = msg;
  return sb_frame_send(out, &env);
}

/* " before hello (--max-archive-size ...)": the end of a refusal's sentence. */
static void limit_suffix(const sb_frame_limits *lim, char *buf, size_t size) {
  snprintf(buf, size, "%s%s%s%s%s", lim->when ? " " : "", lim->when ? lim->when : "",
           lim->hint ? " (" : "", lim->hint ? lim->hint : "", lim->hint ? ")" : "");
}

/* A receiver's reusable memory (see frame.h). */
struct sb_frame_rx {
  sb_arena arena;          /* the frame's bytes, inflated, and its unpacked Envelope */
  ZSTD_DCtx *dctx;         /* made on the first compressed frame */
  Speedboat__Envelope *out; /* the Envelope in |arena| not yet sb_frame_rx_done(), or NULL */
};

/* Inflates the |len| bytes at |p| into |*out| (|olen| bytes: from |rx|'s arena, or malloc'ed
 * without |rx|), refusing before any allocation a frame that does not declare its size or
 * declares more than |max|. Returns 0, SB_EFORMAT or SB_ENOMEM. */
static int inflate(sb_frame_rx *rx, const uint8_t *p, size_t len, size_t max, const char *sfx,
                   uint8_t **out, size_t *olen, sb_err *err) {
  unsigned long long n = ZSTD_getFrameContentSize(p, len);
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
    return sb_err_set(err, SB_EFORMAT,
                      "protocol error: a %zu-byte compressed frame is not valid zstd", len);
  if (n > max)
    return sb_err_set(err, SB_EFORMAT,
                      "protocol error: a %zu-byte compressed frame inflates to %llu bytes, over "
                      "the %zu-byte limit%s", len, n, max, sfx);
  if (rx && !rx->dctx) rx->dctx = ZSTD_createDCtx();
  uint8_t *plain = rx ? sb_arena_alloc(&rx->arena, (size_t)n) : malloc(n ? (size_t)n : 1);
  if (!plain || (rx && !rx->dctx))
    return sb_err_set(err, SB_ENOMEM, "out of memory inflating a %zu-byte frame", len);
  size_t got = rx ? ZSTD_decompressDCtx(rx->dctx, plain, (size_t)n, p, len)
                  : ZSTD_decompress(plain, (size_t)n, p, len);
  if (ZSTD_isError(got) || got != n) {
    if (!rx) free(plain);
    return sb_err_set(err, SB_EFORMAT, "protocol error: a %zu-byte compressed frame is corrupt",
                      len);
  }
  *out = plain;
  *olen = got;
  return 0;
}

/* Checks the frame header at the front of |in| against |lim|. Returns the payload's length and
 * sets |*z|, or a negative SB_EFORMAT with |err| set. */
static long long check_header(const uint8_t hdr[4], const sb_frame_limits *lim, int *z,
                              sb_err *err) {
  size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
  char sfx[200];
  *z = (len & ZSTD_FLAG) != 0;
  len &= ~(size_t)ZSTD_FLAG;
  limit_suffix(lim, sfx, sizeof(sfx));
  if (*z && !lim->max_plain)
    return sb_err_set(err, SB_EFORMAT, "protocol error: a compressed frame%s is refused", sfx);
  if (len > lim->max_len)
    return sb_err_set(err, SB_EFORMAT, "protocol error: frame of %zu bytes exceeds the %zu-byte "
                      "limit%s", len, lim->max_len, sfx);
  return (long long)len;
}

/* The |len| payload bytes at the front of |in| in one piece: in place when they are (no copy),
 * else copied into |rx|'s arena, or pulled up in |in| without |rx|. NULL when out of memory. */
static uint8_t *payload(struct evbuffer *in, size_t len, sb_frame_rx *rx) {
  if (!rx) return evbuffer_pullup(in, (ev_ssize_t)len);
  struct evbuffer_iovec v;
  if (evbuffer_peek(in, (ev_ssize_t)len, NULL, &v, 1) == 1 && v.iov_len >= len) return v.iov_base;
  uint8_t *p = sb_arena_alloc(&rx->arena, len);
  if (p) evbuffer_copyout(in, p, len);
  return p;
}

/* Reads the whole frame of |len| bytes at the front of |in| (header gone), unpacks it into
 * |rx|'s arena or the heap (|rx| NULL), and drains it. Returns 1, SB_EFORMAT or SB_ENOMEM. */
static int unpack_frame(struct evbuffer *in, size_t len, int z, const sb_frame_limits *lim,
                        sb_frame_rx *rx, Speedboat__Envelope **env, sb_err *err) {
  size_t plen = len;
  uint8_t *p = len ? payload(in, len, rx) : NULL, *plain = NULL;
  if (!p && len) return sb_err_set(err, SB_ENOMEM, "out of memory reading a %zu-byte frame", len);
  if (z) {
    char sfx[200];
    limit_suffix(lim, sfx, sizeof(sfx));
    int rc = inflate(rx, p, len, lim->max_plain, sfx, &plain, &plen, err);
    if (rc) {
      evbuffer_drain(in, len);
      return rc;
    }
    p = plain;
  }
  Speedboat__Envelope *e =
      speedboat__envelope__unpack(rx ? sb_arena_allocator(&rx->arena) : NULL, plen, p);
  if (!rx) free(plain);
  evbuffer_drain(in, len);
  if (!e || e->msg_case == SPEEDBOAT__ENVELOPE__MSG__NOT_SET) {
    if (e && !rx) speedboat__envelope__free_unpacked(e, NULL);
    return sb_err_set(err, SB_EFORMAT, "protocol error: a %zu-byte frame is not a valid message",
                      len);
  }
  *env = e;
  return 1;
}

int sb_frame_recv_rx(struct evbuffer *in, const sb_frame_limits *lim, sb_frame_rx *rx,
                     Speedboat__Envelope **env, sb_err *err) {
  uint8_t hdr[4];
  int z;
  if (evbuffer_copyout(in, hdr, 4) < 4) return 0;
  long long l = check_header(hdr, lim, &z, err);
  if (l < 0) return (int)l;
  size_t len = (size_t)l;
  if (evbuffer_get_length(in) < 4 + len) return 0;
  evbuffer_drain(in, 4);
  if (rx && rx->out) rx = NULL; /* its arena still holds an Envelope in use: the heap this time */
  int rc = unpack_frame(in, len, z, lim, rx, env, err);
  if (rx && rc == 1) rx->out = *env;
  else if (rx) sb_arena_reset(&rx->arena);
  return rc;
}

int sb_frame_recv_limited(struct evbuffer *in, const sb_frame_limits *lim,
                          Speedboat__Envelope **env, sb_err *err) {
  return sb_frame_recv_rx(in, lim, NULL, env, err);
}

int sb_frame_rx_new(sb_frame_rx **out) {
  sb_frame_rx *rx = calloc(1, sizeof(*rx));
  if (!rx) return SB_ENOMEM;
  sb_arena_init(&rx->arena, SB_FRAME_RX_KEEP);
  *out = rx;
  return 0;
}

void sb_frame_rx_free(sb_frame_rx *rx) {
  if (!rx) return;
  sb_arena_clear(&rx->arena);
  ZSTD_freeDCtx(rx->dctx);
  free(rx);
}

void sb_frame_rx_done(sb_frame_rx *rx, Speedboat__Envelope *env) {
  if (!env) return;
  if (rx && env == rx->out) {
    rx->out = NULL;
    sb_arena_reset(&rx->arena);
    return;
  }
  speedboat__envelope__free_unpacked(env, NULL);
}

const sb_frame_limits sb_frame_agent_limits = {
    .max_len = SB_FRAME_AGENT_MAX, .max_plain = SB_FRAME_AGENT_PLAIN_MAX, .when = "of this controller"};

int sb_frame_recv(struct evbuffer *in, Speedboat__Envelope **env, sb_err *err) {
  static const sb_frame_limits lim = {.max_len = SB_FRAME_MAX, .max_plain = ZSTD_MAX_OUT};
  return sb_frame_recv_limited(in, &lim, env, err);
}
