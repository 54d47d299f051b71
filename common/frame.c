#include "common/frame.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

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

/* Inflates the |len| bytes at |p| into |*out| (malloc'ed, |*olen| bytes), refusing before any
 * allocation a frame that does not declare its size or declares more than |max|. Returns 0,
 * SB_EFORMAT or SB_ENOMEM. */
static int inflate(const uint8_t *p, size_t len, size_t max, const char *sfx, uint8_t **out,
                   size_t *olen, sb_err *err) {
  unsigned long long n = ZSTD_getFrameContentSize(p, len);
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
    return sb_err_set(err, SB_EFORMAT,
                      "protocol error: a %zu-byte compressed frame is not valid zstd", len);
  if (n > max)
    return sb_err_set(err, SB_EFORMAT,
                      "protocol error: a %zu-byte compressed frame inflates to %llu bytes, over "
                      "the %zu-byte limit%s", len, n, max, sfx);
  uint8_t *plain = malloc(n ? (size_t)n : 1);
  if (!plain) return sb_err_set(err, SB_ENOMEM, "out of memory inflating a %zu-byte frame", len);
  size_t got = ZSTD_decompress(plain, (size_t)n, p, len);
  if (ZSTD_isError(got) || got != n) {
    free(plain);
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

int sb_frame_recv_limited(struct evbuffer *in, const sb_frame_limits *lim,
                          Speedboat__Envelope **env, sb_err *err) {
  uint8_t hdr[4];
  int z;
  if (evbuffer_copyout(in, hdr, 4) < 4) return 0;
  long long l = check_header(hdr, lim, &z, err);
  if (l < 0) return (int)l;
  size_t len = (size_t)l, plen = len;
  if (evbuffer_get_length(in) < 4 + len) return 0;
  evbuffer_drain(in, 4);
  uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len), *plain = NULL;
  if (!p && len) return sb_err_set(err, SB_ENOMEM, "out of memory reading a %zu-byte frame", len);
  if (z) {
    char sfx[200];
    limit_suffix(lim, sfx, sizeof(sfx));
    int rc = inflate(p, len, lim->max_plain, sfx, &plain, &plen, err);
    if (rc) {
      evbuffer_drain(in, len);
      return rc;
    }
    p = plain;
  }
  Speedboat__Envelope *e = speedboat__envelope__unpack(NULL, plen, p);
  free(plain);
  evbuffer_drain(in, len);
  if (!e || e->msg_case == SPEEDBOAT__ENVELOPE__MSG__NOT_SET) {
    if (e) speedboat__envelope__free_unpacked(e, NULL);
    return sb_err_set(err, SB_EFORMAT, "protocol error: a %zu-byte frame is not a valid message",
                      len);
  }
  *env = e;
  return 1;
}

const sb_frame_limits sb_frame_agent_limits = {
    .max_len = SB_FRAME_AGENT_MAX, .max_plain = SB_FRAME_AGENT_PLAIN_MAX, .when = "of this controller"};

int sb_frame_recv(struct evbuffer *in, Speedboat__Envelope **env, sb_err *err) {
  static const sb_frame_limits lim = {.max_len = SB_FRAME_MAX, .max_plain = ZSTD_MAX_OUT};
  return sb_frame_recv_limited(in, &lim, env, err);
}
