/* Message framing: round trips, partial frames, garbage and oversize lengths, and the limits an
 * agent puts on a peer before and after hello, and a controller on its agents (issue 10). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/frame.h"

static void test_round_trip(void **state) {
  struct evbuffer *b = evbuffer_new();
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.protocol_version = 1;
  h.token = "secret";
  assert_int_equal(sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_HELLO, &h), 0);
  Speedboat__Log l = SPEEDBOAT__LOG__INIT;
  l.text = "hello world";
  assert_int_equal(sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_LOG, &l), 0);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv(b, &e, &err), 1);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_HELLO);
  assert_string_equal(e->hello->token, "secret");
  speedboat__envelope__free_unpacked(e, NULL);
  assert_int_equal(sb_frame_recv(b, &e, &err), 1);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_LOG);
  assert_string_equal(e->log->text, "hello world");
  speedboat__envelope__free_unpacked(e, NULL);
  assert_int_equal(sb_frame_recv(b, &e, &err), 0);
  evbuffer_free(b);
}

/* A frame that arrives a byte at a time is returned only once whole. */
static void test_partial(void **state) {
  struct evbuffer *all = evbuffer_new(), *in = evbuffer_new();
  Speedboat__Start s = SPEEDBOAT__START__INIT;
  s.start_at_unix_us = 1234567;
  sb_frame_send_msg(all, SPEEDBOAT__ENVELOPE__MSG_START, &s);
  size_t n = evbuffer_get_length(all);
  unsigned char *p = evbuffer_pullup(all, -1);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  for (size_t i = 0; i < n - 1; i++) {
    evbuffer_add(in, p + i, 1);
    assert_int_equal(sb_frame_recv(in, &e, &err), 0);
  }
  evbuffer_add(in, p + n - 1, 1);
  assert_int_equal(sb_frame_recv(in, &e, &err), 1);
  assert_int_equal(e->start->start_at_unix_us, 1234567);
  speedboat__envelope__free_unpacked(e, NULL);
  evbuffer_free(all);
  evbuffer_free(in);
}

static void test_oversize(void **state) {
  struct evbuffer *b = evbuffer_new();
  unsigned char hdr[4] = {0xff, 0xff, 0xff, 0xff};
  evbuffer_add(b, hdr, 4);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv(b, &e, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "exceeds"));
  evbuffer_free(b);
}

static void test_garbage(void **state) {
  struct evbuffer *b = evbuffer_new();
  unsigned char junk[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  evbuffer_add(b, junk, sizeof(junk));
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv(b, &e, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "not a valid message"));
  /* An empty envelope (no message set) is refused too. */
  unsigned char empty[] = {0, 0, 0, 0};
  evbuffer_add(b, empty, sizeof(empty));
  assert_int_equal(sb_frame_recv(b, &e, &err), SB_EFORMAT);
  evbuffer_free(b);
}

/* A big message travels zstd-compressed (top bit of the length) and comes back identical; small
 * ones go as they are. */
static void test_compressed(void **state) {
  struct evbuffer *b = evbuffer_new();
  char text[20000];
  for (size_t i = 0; i < sizeof(text) - 1; i++) text[i] = (char)('a' + i % 7);
  text[sizeof(text) - 1] = '\0';
  Speedboat__Log l = SPEEDBOAT__LOG__INIT;
  l.text = text;
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = SPEEDBOAT__ENVELOPE__MSG_LOG;
  env.log = &l;
  size_t len = speedboat__envelope__get_packed_size(&env);
  uint8_t *buf = malloc(len);
  speedboat__envelope__pack(&env, buf);
  assert_int_equal(sb_frame_send_packed_z(b, buf, len), 0);
  unsigned char *hdr = evbuffer_pullup(b, 4);
  assert_true(hdr[0] & 0x80);
  assert_true(evbuffer_get_length(b) < len / 4);
  assert_int_equal(sb_frame_send_packed_z(b, (const uint8_t *)"\x3a\x02\x12\x00", 4), 0);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv(b, &e, &err), 1);
  assert_string_equal(e->log->text, text);
  speedboat__envelope__free_unpacked(e, NULL);
  hdr = evbuffer_pullup(b, 4);
  assert_false(hdr[0] & 0x80); /* 4 bytes: sent plain */
  assert_int_equal(sb_frame_recv(b, &e, &err), 1);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_LOG);
  speedboat__envelope__free_unpacked(e, NULL);
  /* A compressed frame that is not zstd is refused with a sentence. */
  unsigned char junk[] = {0x80, 0, 0, 6, 1, 2, 3, 4, 5, 6};
  evbuffer_add(b, junk, sizeof(junk));
  assert_int_equal(sb_frame_recv(b, &e, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "zstd"));
  free(buf);
  evbuffer_free(b);
}

/* Before hello an agent takes a few KB, plain: a header announcing 300 MB is refused as soon as
 * its 4 bytes are in, with none of the payload buffered (the 300 MB that made an agent
 * hold 317 MB). */
static const sb_frame_limits PREAUTH = {.max_len = 4096, .max_plain = 0, .when = "before hello"};

static void test_limit_refuses_at_the_header(void **state) {
  struct evbuffer *b = evbuffer_new();
  unsigned char hdr[4] = {0x11, 0xe1, 0xa3, 0x00}; /* 300,000,000 */
  evbuffer_add(b, hdr, 4);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv_limited(b, &PREAUTH, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: frame of 300000000 bytes exceeds the 4096-byte "
                               "limit before hello");
  assert_null(e);
  /* a hello-sized frame passes */
  evbuffer_drain(b, evbuffer_get_length(b));
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.token = "t";
  assert_int_equal(sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_HELLO, &h), 0);
  assert_int_equal(sb_frame_recv_limited(b, &PREAUTH, &e, &err), 1);
  speedboat__envelope__free_unpacked(e, NULL);
  /* the limit is inclusive; one byte more is refused; the hint names the option */
  sb_frame_limits lim = {.max_len = 6, .max_plain = 6, .hint = "--max-archive-size 1 MiB"};
  unsigned char seven[4] = {0, 0, 0, 7};
  evbuffer_add(b, seven, 4);
  assert_int_equal(sb_frame_recv_limited(b, &lim, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: frame of 7 bytes exceeds the 6-byte limit "
                               "(--max-archive-size 1 MiB)");
  evbuffer_free(b);
}

/* A compressed frame before hello is refused from its header: 8 KB of zstd that would inflate
 * to 250 MB costs nothing (the issue measured 0.18 s of CPU and 250 MB each time). */
static void test_limit_refuses_compressed(void **state) {
  size_t n = 4u << 20, cap = ZSTD_compressBound(n);
  uint8_t *zeros = calloc(1, n), *z = malloc(cap);
  size_t zlen = ZSTD_compress(z, cap, zeros, n, 1);
  assert_false(ZSTD_isError(zlen));
  assert_true(zlen < 4096);
  struct evbuffer *b = evbuffer_new();
  uint32_t l = (uint32_t)zlen | 0x80000000u;
  unsigned char hdr[4] = {(unsigned char)(l >> 24), (unsigned char)(l >> 16),
                          (unsigned char)(l >> 8), (unsigned char)l};
  evbuffer_add(b, hdr, 4);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv_limited(b, &PREAUTH, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: a compressed frame before hello is refused");
  /* after hello, compressed frames inflate only up to max_plain, checked before allocating */
  evbuffer_add(b, z, zlen);
  sb_frame_limits lim = {.max_len = 1u << 20, .max_plain = 1u << 20};
  assert_int_equal(sb_frame_recv_limited(b, &lim, &e, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "inflates to 4194304 bytes, over the 1048576-byte limit"));
  assert_int_equal(evbuffer_get_length(b), 0); /* the frame is consumed: the stream stays framed */
  free(zeros);
  free(z);
  evbuffer_free(b);
}

/* What a controller takes from an agent: a header announcing 300 MB is refused at once with the
 * agent-facing sentence; 64 MiB is still taken (waiting for its bytes); a compressed frame that
 * would inflate past 256 MiB is refused from its zstd header, before any allocation. */
static void test_agent_limits(void **state) {
  struct evbuffer *b = evbuffer_new();
  unsigned char hdr[4] = {0x11, 0xe1, 0xa3, 0x00}; /* 300,000,000 */
  evbuffer_add(b, hdr, 4);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv_limited(b, &sb_frame_agent_limits, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: frame of 300000000 bytes exceeds the 67108864-byte "
                               "limit of this controller");
  evbuffer_drain(b, evbuffer_get_length(b));
  unsigned char max[4] = {0x04, 0, 0, 0}; /* 64 MiB exactly: more bytes needed */
  evbuffer_add(b, max, 4);
  assert_int_equal(sb_frame_recv_limited(b, &sb_frame_agent_limits, &e, &err), 0);
  evbuffer_drain(b, evbuffer_get_length(b));
  /* 257 MiB of zeros, compressed as a stream (the content size is in the zstd header) */
  static const uint8_t zeros[1 << 20];
  ZSTD_CCtx *cc = ZSTD_createCCtx();
  ZSTD_CCtx_setPledgedSrcSize(cc, 257ull << 20);
  struct evbuffer *z = evbuffer_new();
  uint8_t out[1 << 16];
  for (int i = 0; i < 257; i++) {
    ZSTD_inBuffer in = {zeros, sizeof(zeros), 0};
    size_t left;
    do {
      ZSTD_outBuffer o = {out, sizeof(out), 0};
      left = ZSTD_compressStream2(cc, &o, &in, i == 256 ? ZSTD_e_end : ZSTD_e_continue);
      assert_false(ZSTD_isError(left));
      evbuffer_add(z, out, o.pos);
    } while (in.pos < in.size || (i == 256 && left));
  }
  ZSTD_freeCCtx(cc);
  uint32_t l = (uint32_t)evbuffer_get_length(z) | 0x80000000u;
  unsigned char zh[4] = {(unsigned char)(l >> 24), (unsigned char)(l >> 16),
                         (unsigned char)(l >> 8), (unsigned char)l};
  evbuffer_add(b, zh, 4);
  evbuffer_add_buffer(b, z);
  assert_int_equal(sb_frame_recv_limited(b, &sb_frame_agent_limits, &e, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "inflates to 269484032 bytes, over the 268435456-byte limit of "
                                  "this controller"));
  assert_int_equal(evbuffer_get_length(b), 0);
  evbuffer_free(z);
  evbuffer_free(b);
}

/* Frames of |text| logs: a compressed one (20,000 bytes) and a plain one. */
static void send_logs(struct evbuffer *b, const char *big, const char *small) {
  Speedboat__Log l = SPEEDBOAT__LOG__INIT;
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = SPEEDBOAT__ENVELOPE__MSG_LOG;
  env.log = &l;
  l.text = (char *)big;
  size_t len = speedboat__envelope__get_packed_size(&env);
  uint8_t *buf = malloc(len);
  speedboat__envelope__pack(&env, buf);
  assert_int_equal(sb_frame_send_packed_z(b, buf, len), 0);
  free(buf);
  l.text = (char *)small;
  assert_int_equal(sb_frame_send(b, &env), 0);
}

/* Through a receiver's arena: the same messages come back, frame after frame in the same
 * memory; a frame taken while another is still out is malloc'ed (and freed by rx_done); a NULL
 * receiver is the heap path. */
static void test_rx_round_trip(void **state) {
  static char big[20000];
  for (size_t i = 0; i < sizeof(big) - 1; i++) big[i] = (char)('a' + i % 7);
  struct evbuffer *b = evbuffer_new();
  sb_frame_rx *rx = NULL;
  assert_int_equal(sb_frame_rx_new(&rx), 0);
  Speedboat__Envelope *e = NULL, *e2 = NULL, *first = NULL;
  sb_err err;
  for (int round = 0; round < 3; round++) {
    send_logs(b, big, "small");
    assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
    assert_string_equal(e->log->text, big);
    if (round == 0) first = e;
    assert_ptr_equal(e, first); /* the same arena memory each time */
    sb_frame_rx_done(rx, e);
    assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
    assert_string_equal(e->log->text, "small");
    sb_frame_rx_done(rx, e);
  }
  send_logs(b, big, "second");
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e2, &err), 1); /* e out */
  assert_string_equal(e->log->text, big);
  assert_string_equal(e2->log->text, "second");
  sb_frame_rx_done(rx, e2); /* a heap one: freed (ASan would see a leak otherwise) */
  assert_string_equal(e->log->text, big); /* untouched */
  sb_frame_rx_done(rx, e);
  send_logs(b, big, "heap");
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, NULL, &e, &err), 1);
  assert_string_equal(e->log->text, big);
  sb_frame_rx_done(NULL, e);
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
  assert_string_equal(e->log->text, "heap");
  sb_frame_rx_done(rx, e);
  sb_frame_rx_done(rx, NULL);
  assert_int_equal(evbuffer_get_length(b), 0);
  sb_frame_rx_free(rx);
  sb_frame_rx_free(NULL);
  evbuffer_free(b);
}

/* A payload split over several of the evbuffer's chunks is copied into the arena whole. */
static void test_rx_split_payload(void **state) {
  struct evbuffer *all = evbuffer_new(), *b = evbuffer_new();
  static char big[50000];
  for (size_t i = 0; i < sizeof(big) - 1; i++) big[i] = (char)('0' + i * 7919 % 43);
  Speedboat__Log l = SPEEDBOAT__LOG__INIT;
  l.text = big;
  assert_int_equal(sb_frame_send_msg(all, SPEEDBOAT__ENVELOPE__MSG_LOG, &l), 0); /* plain */
  send_logs(all, big, "tail");
  size_t n = evbuffer_get_length(all);
  uint8_t *bytes = malloc(n);
  evbuffer_remove(all, bytes, n);
  for (size_t off = 0; off < n; off += 1000) /* separate chunks */
    evbuffer_add_reference(b, bytes + off, off + 1000 < n ? 1000 : n - off, NULL, NULL);
  struct evbuffer_iovec v[2];
  assert_int_equal(evbuffer_peek(b, 4 + 50000, NULL, v, 2), 51); /* in 1,000-byte pieces */
  sb_frame_rx *rx = NULL;
  assert_int_equal(sb_frame_rx_new(&rx), 0);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
  assert_string_equal(e->log->text, big);
  sb_frame_rx_done(rx, e);
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
  assert_string_equal(e->log->text, big); /* the compressed one */
  sb_frame_rx_done(rx, e);
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
  assert_string_equal(e->log->text, "tail");
  sb_frame_rx_done(rx, e);
  sb_frame_rx_free(rx);
  evbuffer_free(b);
  evbuffer_free(all);
  free(bytes);
}

/* The refusals through a receiver: the same sentences as sb_frame_recv_limited(), the stream
 * consumed the same way, and the receiver usable afterwards. */
static void test_rx_refusals(void **state) {
  struct evbuffer *b = evbuffer_new();
  sb_frame_rx *rx = NULL;
  assert_int_equal(sb_frame_rx_new(&rx), 0);
  Speedboat__Envelope *e = NULL;
  sb_err err;
  unsigned char hdr[4] = {0x11, 0xe1, 0xa3, 0x00}; /* 300,000,000 */
  evbuffer_add(b, hdr, 4);
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: frame of 300000000 bytes exceeds the 67108864-byte "
                               "limit of this controller");
  evbuffer_drain(b, evbuffer_get_length(b));
  unsigned char junk[] = {0x80, 0, 0, 6, 1, 2, 3, 4, 5, 6};
  evbuffer_add(b, junk, sizeof(junk));
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: a 6-byte compressed frame is not valid zstd");
  assert_int_equal(evbuffer_get_length(b), 0);
  unsigned char garbage[] = {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};
  evbuffer_add(b, garbage, sizeof(garbage));
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: a 5-byte frame is not a valid message");
  unsigned char empty[] = {0, 0, 0, 0};
  evbuffer_add(b, empty, sizeof(empty));
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), SB_EFORMAT);
  assert_string_equal(err.msg, "protocol error: a 0-byte frame is not a valid message");
  assert_int_equal(evbuffer_get_length(b), 0);
  send_logs(b, "x", "after");
  assert_int_equal(sb_frame_recv_rx(b, &sb_frame_agent_limits, rx, &e, &err), 1);
  assert_string_equal(e->log->text, "x");
  sb_frame_rx_done(rx, e);
  sb_frame_rx_free(rx);
  evbuffer_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_partial),
      cmocka_unit_test(test_oversize),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_compressed),
      cmocka_unit_test(test_limit_refuses_at_the_header),
      cmocka_unit_test(test_limit_refuses_compressed),
      cmocka_unit_test(test_agent_limits),
      cmocka_unit_test(test_rx_round_trip),
      cmocka_unit_test(test_rx_split_payload),
      cmocka_unit_test(test_rx_refusals),
  };
  return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
