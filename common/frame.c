#include "common/frame.h"

#include <event2/buffer.h>
#include <stdlib.h>

int sb_frame_send_packed(struct evbuffer *out, const uint8_t *buf, size_t len) {
  uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  if (evbuffer_add(out, hdr, 4) || evbuffer_add(out, buf, len)) return SB_ENOMEM;
  return 0;
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

int sb_frame_recv(struct evbuffer *in, Speedboat__Envelope **env, sb_err *err) {
  uint8_t hdr[4];
  if (evbuffer_copyout(in, hdr, 4) < 4) return 0;
  size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
  if (len > SB_FRAME_MAX)
    return sb_err_set(err, SB_EFORMAT, "protocol error: frame of %zu bytes exceeds the %u-byte limit",
                      len, SB_FRAME_MAX);
  if (evbuffer_get_length(in) < 4 + len) return 0;
  evbuffer_drain(in, 4);
  uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);
  if (!p && len) return sb_err_set(err, SB_ENOMEM, "out of memory reading a %zu-byte frame", len);
  Speedboat__Envelope *e = speedboat__envelope__unpack(NULL, len, p);
  evbuffer_drain(in, len);
  if (!e || e->msg_case == SPEEDBOAT__ENVELOPE__MSG__NOT_SET) {
    if (e) speedboat__envelope__free_unpacked(e, NULL);
    return sb_err_set(err, SB_EFORMAT, "protocol error: a %zu-byte frame is not a valid message", len);
  }
  *env = e;
  return 1;
}
