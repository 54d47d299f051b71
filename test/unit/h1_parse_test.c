/* HTTP/1.x response parser (agent/h1_parse.c): framing, every split point, malformed input,
 * the head limit. test/fuzz/h1diff_fuzz.c checks it against http-parser byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/h1_parse.h"

/* What the sink saw, flattened: "|name=value|name=value" and the body. */
typedef struct seen {
  char hdrs[4096];
  size_t hlen;
  char reason[128];
  size_t rlen;
  char body[4096];
  size_t blen;
  int last, begins, heads, interims, status;
} seen;

static void put(char *buf, size_t *len, size_t cap, const char *at, size_t n) {
  assert_true(*len + n < cap);
  memcpy(buf + *len, at, n);
  *len += n;
  buf[*len] = '\0';
}

static int s_begin(void *ud) {
  seen *s = ud;
  s->hlen = s->rlen = s->blen = 0;
  s->hdrs[0] = s->reason[0] = s->body[0] = '\0';
  s->last = 0;
  s->begins++;
  return 0;
}
static int s_reason(void *ud, const char *at, size_t len) {
  seen *s = ud;
  put(s->reason, &s->rlen, sizeof(s->reason), at, len);
  return 0;
}
static int quiet; /* headers too long to keep */

static int s_header(void *ud, int which, const char *at, size_t len) {
  seen *s = ud;
  if (quiet) return 0;
  if (which != s->last) put(s->hdrs, &s->hlen, sizeof(s->hdrs), which == 1 ? "|" : "=", 1);
  s->last = which;
  put(s->hdrs, &s->hlen, sizeof(s->hdrs), at, len);
  return 0;
}
static int s_head_done(void *ud, const sb_h1p *h) {
  seen *s = ud;
  s->heads++;
  s->status = h->status;
  return 0;
}
static int s_body(void *ud, const char *at, size_t len) {
  seen *s = ud;
  put(s->body, &s->blen, sizeof(s->body), at, len);
  return 0;
}
static int s_interim(void *ud, const sb_h1p *h) {
  ((seen *)ud)->interims++;
  return 0;
}
static const sb_h1p_sink sink = {s_begin, s_reason, s_header, s_head_done, s_body, s_interim};

/* Feeds |in| in pieces of |step| bytes (0: whole), then EOF when |eof| and not done. Returns
 * the last result; *used: where the response ended in |in|. */
static int run(sb_h1p *h, seen *s, const char *in, size_t len, size_t step, int head, int eof,
               size_t *used) {
  memset(s, 0, sizeof(*s));
  sb_h1p_init(h, head, &sink, s);
  int r = SB_H1P_MORE;
  size_t off = 0;
  *used = 0;
  while (off < len && r == SB_H1P_MORE) {
    size_t n = step && step < len - off ? step : len - off, u = 0;
    r = sb_h1p_feed(h, in + off, n, &u);
    if (r == SB_H1P_MORE) assert_int_equal(u, n);
    *used = off + u;
    off += n;
  }
  if (r == SB_H1P_MORE && eof) {
    r = sb_h1p_eof(h);
    *used = len;
  }
  return r;
}

static int run_str(sb_h1p *h, seen *s, const char *in, int head, int eof) {
  size_t used;
  return run(h, s, in, strlen(in), 0, head, eof, &used);
}

#define NGINX                                                                                  \
  "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 12:00:00 GMT\r\n"         \
  "Content-Type: text/html\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"

static void test_nginx(void **state) {
  sb_h1p h;
  seen s;
  size_t used;
  assert_int_equal(run(&h, &s, NGINX "extra", strlen(NGINX) + 5, 0, 0, 0, &used), SB_H1P_DONE);
  assert_int_equal(used, strlen(NGINX)); /* the leftover is not taken */
  assert_int_equal(s.status, 200);
  assert_string_equal(s.reason, "OK");
  assert_string_equal(s.hdrs, "|Server=nginx/1.22.1|Date=Mon, 30 Nov 2026 12:00:00 GMT"
                              "|Content-Type=text/html|Content-Length=5|Connection=keep-alive");
  assert_string_equal(s.body, "hello");
  assert_int_equal(h.major, 1);
  assert_int_equal(h.minor, 1);
  assert_true(sb_h1p_keep_alive(&h));
}

/* Every way to cut a response in two, and byte by byte, gives what the whole one gives. */
static void check_splits(const char *in, int head, int eof) {
  sb_h1p h;
  seen whole, part;
  size_t len = strlen(in), u0, u;
  int r0 = run(&h, &whole, in, len, 0, head, eof, &u0), ka0 = sb_h1p_keep_alive(&h);
  assert_int_equal(r0, SB_H1P_DONE);
  for (size_t cut = 1; cut <= len; cut++) {
    memset(&part, 0, sizeof(part));
    sb_h1p_init(&h, head, &sink, &part);
    size_t a = 0, b = 0;
    int r = sb_h1p_feed(&h, in, cut, &a);
    if (r == SB_H1P_MORE && cut < len) r = sb_h1p_feed(&h, in + cut, len - cut, &b);
    if (r == SB_H1P_MORE && eof) r = sb_h1p_eof(&h), b = len - cut;
    assert_int_equal(r, SB_H1P_DONE);
    assert_int_equal(r == SB_H1P_DONE && a < cut ? a : cut + b, u0);
    assert_string_equal(part.hdrs, whole.hdrs);
    assert_string_equal(part.reason, whole.reason);
    assert_int_equal(part.blen, whole.blen);
    assert_memory_equal(part.body, whole.body, whole.blen);
    assert_int_equal(part.interims, whole.interims);
    assert_int_equal(sb_h1p_keep_alive(&h), ka0);
  }
  assert_int_equal(run(&h, &part, in, len, 1, head, eof, &u), SB_H1P_DONE);
  assert_int_equal(u, u0);
  assert_string_equal(part.hdrs, whole.hdrs);
  assert_string_equal(part.body, whole.body);
}

static void test_splits(void **state) {
  check_splits(NGINX, 0, 0);
  check_splits("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n"
               "5;ext=1\r\nhello\r\nA \r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
               0, 0);
  check_splits("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: </a>\r\n\r\n"
               "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
               0, 0);
  check_splits("HTTP/1.0 200 OK\r\nX-Fold: a\r\n  b\r\n\tc\r\nEmpty:\r\n\r\nuntil close", 0, 1);
  check_splits("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", 0, 0);
}

static void test_framing(void **state) {
  sb_h1p h;
  seen s;
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 204 No Content\r\n\r\n", 0, 0), SB_H1P_DONE);
  assert_true(sb_h1p_keep_alive(&h));
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 304 Not Modified\r\n\r\n", 0, 0), SB_H1P_DONE);
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0),
                   SB_H1P_DONE);
  /* HEAD: no body whatever the head says */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 1, 0),
                   SB_H1P_DONE);
  assert_true(sb_h1p_keep_alive(&h));
  /* no length: until close, never keep-alive */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\n\r\nabc", 0, 0), SB_H1P_MORE);
  assert_int_equal(sb_h1p_eof(&h), SB_H1P_DONE);
  assert_string_equal(s.body, "abc");
  assert_false(sb_h1p_keep_alive(&h));
  /* a Transfer-Encoding other than chunked: until close too */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nz", 0, 1),
                   SB_H1P_DONE);
  assert_false(sb_h1p_keep_alive(&h));
  /* "chunked" must be the last coding */
  assert_int_equal(run_str(&h, &s,
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
                           0, 0),
                   SB_H1P_DONE);
  assert_string_equal(s.body, "z");
  /* EOF inside a length-delimited body, or in the head */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 0, 1),
                   SB_H1P_E_EOF);
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\n", 0, 1), SB_H1P_E_EOF);
}

static void test_keep_alive(void **state) {
  sb_h1p h;
  seen s;
  run_str(&h, &s, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0, 0);
  assert_false(sb_h1p_keep_alive(&h));
  run_str(&h, &s, "HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 0\r\n\r\n", 0, 0);
  assert_false(sb_h1p_keep_alive(&h));
  run_str(&h, &s, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0);
  assert_false(sb_h1p_keep_alive(&h));
  run_str(&h, &s, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 0, 0);
  assert_true(sb_h1p_keep_alive(&h));
  run_str(&h, &s, "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n", 0, 0);
  assert_false(sb_h1p_keep_alive(&h));
  /* trailers count, as in http-parser */
  run_str(&h, &s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\n",
          0, 0);
  assert_false(sb_h1p_keep_alive(&h));
  assert_string_equal(s.hdrs, "|Transfer-Encoding=chunked"); /* not handed over */
}

static void test_interim(void **state) {
  sb_h1p h;
  seen s;
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
                           0, 0),
                   SB_H1P_DONE);
  assert_int_equal(s.interims, 1);
  assert_int_equal(s.begins, 2);
  assert_int_equal(s.status, 200);
  /* 101 is final */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 101 Switching\r\nUpgrade: ws\r\n\r\n", 0, 0),
                   SB_H1P_DONE);
  assert_int_equal(s.interims, 0);
  /* an HTTP/1.0 100 does not keep the connection, yet the final response is still read */
  assert_int_equal(run_str(&h, &s, "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 204 OK\r\n\r\n", 0, 0),
                   SB_H1P_DONE);
  assert_int_equal(s.status, 204);
}

/* What Debian's http-parser (built non-strict) lets through, and so do we. */
static void test_lenient_like_http_parser(void **state) {
  sb_h1p h;
  seen s;
  /* "TTP/" unchecked; any byte after a CR in the status line, after the blank line's CR, and
   * around chunk data */
  assert_int_equal(run_str(&h, &s, "HXYZ/1.1 200 OK\rXContent-Length: 0\r\n\rX", 0, 0),
                   SB_H1P_DONE);
  assert_string_equal(s.hdrs, "|Content-Length=0");
  /* spaces inside and at the end of a name; a known name with trailing spaces still counts */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nA b : c\r\nContent-Length  : 2\r\n\r\nokX",
                           0, 0),
                   SB_H1P_DONE);
  assert_string_equal(s.hdrs, "|A b =c|Content-Length  =2");
  assert_string_equal(s.body, "ok");
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "2\r\nokXY0\r\n\r\n", 0, 0),
                   SB_H1P_DONE);
  assert_string_equal(s.body, "ok");
  /* bytes >= 0x80 are the digit 0 in a chunk size */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "\x80" "1\r\nz\r\n0\r\n\r\n", 0, 0),
                   SB_H1P_DONE);
  assert_string_equal(s.body, "z");
  /* a name that starts with Transfer-Encoding counts as one: read until close */
  assert_int_equal(run_str(&h, &s, "HTTP/1.1 200 OK\r\nTransfer-Encodings: x\r\n\r\nabc", 0, 1),
                   SB_H1P_DONE);
  assert_false(sb_h1p_keep_alive(&h));
}

static void expect_err(const char *in, int code) {
  sb_h1p h;
  seen s;
  int r = run_str(&h, &s, in, 0, 0);
  if (r != code) fail_msg("%s: got %d (%s), want %d", in, r, sb_h1p_strerror(r), code);
  assert_int_equal(h.err, code);
  assert_int_equal(sb_h1p_feed(&h, "x", 1, NULL), code); /* stays failed */
}

static void test_malformed(void **state) {
  expect_err("XTTP/1.1 200 OK\r\n\r\n", SB_H1P_E_START);
  expect_err("HTTP/1.x 200 OK\r\n\r\n", SB_H1P_E_VERSION);
  expect_err("HTTP/11 200 OK\r\n\r\n", SB_H1P_E_VERSION);
  expect_err("HTTP/1.1  OK\r\n\r\n", SB_H1P_E_STATUS);
  expect_err("HTTP/1.1 1000 OK\r\n\r\n", SB_H1P_E_STATUS);
  expect_err("HTTP/1.1 20x OK\r\n\r\n", SB_H1P_E_STATUS);
  expect_err("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", SB_H1P_E_NAME);
  expect_err("HTTP/1.1 200 OK\r\nName\t: v\r\n\r\n", SB_H1P_E_NAME);
  expect_err("HTTP/1.1 200 OK\r\n: v\r\n\r\n", SB_H1P_E_NAME);
  expect_err("HTTP/1.1 200 OK\r\nNa\x01me: v\r\n\r\n", SB_H1P_E_NAME);
  expect_err("HTTP/1.1 200 OK\r\nName: a\x01z\r\n\r\n", SB_H1P_E_VALUE);
  expect_err("HTTP/1.1 200 OK\r\nName: a\x7fz\r\n\r\n", SB_H1P_E_VALUE);
  expect_err("HTTP/1.1 200 OK\r\nName: a\rz\r\n\r\n", SB_H1P_E_LF);
  expect_err("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", SB_H1P_E_CLEN);
  expect_err("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", SB_H1P_E_CLEN);
  expect_err("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", SB_H1P_E_CLEN);
  expect_err("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", SB_H1P_E_CLEN);
  expect_err("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
             SB_H1P_E_CLEN_DUP);
  expect_err("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
             SB_H1P_E_CLEN_DUP);
  expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", SB_H1P_E_CHUNK);
  expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", SB_H1P_E_CHUNK);
  expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
             SB_H1P_E_CHUNK);
  expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
             SB_H1P_E_NAME);
}

/* The head may reach SB_H1P_MAX_HEAD bytes, not one more, however it is cut; a long line fed
 * byte by byte costs linear time. */
static void test_head_limit(void **state) {
  size_t max = SB_H1P_MAX_HEAD, len;
  char *in = malloc(max + 64);
  assert_non_null(in);
  const char *pre = "HTTP/1.1 200 OK\r\nX: ", *post = "\r\nContent-Length: 0\r\n\r\n";
  for (int over = 0; over <= 1; over++) {
    size_t fill = max - strlen(pre) - strlen(post) + (size_t)over;
    strcpy(in, pre);
    memset(in + strlen(pre), 'a', fill);
    strcpy(in + strlen(pre) + fill, post);
    len = strlen(in);
    assert_int_equal(len, max + (size_t)over);
    for (size_t step = 0; step <= 1; step++) {
      seen *s = malloc(sizeof(*s));
      sb_h1p h;
      size_t used;
      assert_non_null(s);
      quiet = 1;
      int r = run(&h, s, in, len, step, 0, 0, &used);
      quiet = 0;
      assert_int_equal(r, over ? SB_H1P_E_HEAD_SIZE : SB_H1P_DONE);
      free(s);
    }
  }
  free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nginx),      cmocka_unit_test(test_splits),
      cmocka_unit_test(test_framing),    cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_interim),    cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_head_limit), cmocka_unit_test(test_lenient_like_http_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
