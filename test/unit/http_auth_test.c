/* Basic and Digest authentication: the RFC 7616 / RFC 2617 / RFC 7617 examples, challenge
 * parsing (several challenges, escapes, case), and malformed challenges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/http_auth.h"

static void test_basic(void **state) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_http_auth_basic(&b, "Aladdin", 7, "open sesame", 11), 0); /* RFC 7617 */
  assert_string_equal(b.data, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  sb_buf_reset(&b);
  assert_int_equal(sb_http_auth_basic(&b, "", 0, "", 0), 0);
  assert_string_equal(b.data, "Basic Og==");
  sb_buf_reset(&b);
  assert_int_equal(sb_buf_puts(&b, "x"), 0); /* appends */
  assert_int_equal(sb_http_auth_basic(&b, "ab", 2, "c", 1), 0);
  assert_string_equal(b.data, "xBasic YWI6Yw==");
  sb_buf_clear(&b);
}

static int parse(sb_digest_challenge *c, const char *v, sb_err *err) {
  return sb_digest_parse(c, v, strlen(v), err);
}

#define RFC7616_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC7616_OPAQUE "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
#define RFC7616_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static void rfc7616(const char *alg, const char *response) {
  char hdr[512], want[1024];
  snprintf(hdr, sizeof(hdr),
           "Digest\r\n realm=\"http-auth@example.org\",\r\n qop=\"auth, auth-int\",\r\n"
           " algorithm=%s,\r\n nonce=\"" RFC7616_NONCE "\",\r\n opaque=\"" RFC7616_OPAQUE "\"",
           alg);
  /* header folding is gone from HTTP, but the parser must not choke on CR LF either */
  for (char *p = hdr; *p; p++)
    if (*p == '\r' || *p == '\n') *p = ' ';
  sb_digest_challenge c;
  sb_err err = {{0}};
  assert_int_equal(parse(&c, hdr, &err), 0);
  assert_string_equal(c.realm, "http-auth@example.org");
  assert_string_equal(c.nonce, RFC7616_NONCE);
  assert_string_equal(c.opaque, RFC7616_OPAQUE);
  assert_true(c.qop_auth && c.qop_auth_int);
  sb_digest_request r = {.method = "GET",
                         .uri = "/dir/index.html",
                         .user = "Mufasa",
                         .user_len = 6,
                         .pass = "Circle of Life",
                         .pass_len = 14,
                         .nc = 1,
                         .cnonce = RFC7616_CNONCE};
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_digest_authorization(&b, &c, &r), 0);
  snprintf(want, sizeof(want),
           "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", nonce=\"" RFC7616_NONCE
           "\", uri=\"/dir/index.html\", response=\"%s\", algorithm=%s, cnonce=\"" RFC7616_CNONCE
           "\", opaque=\"" RFC7616_OPAQUE "\", qop=auth, nc=00000001",
           response, alg);
  assert_string_equal(b.data, want);
  sb_buf_clear(&b);
}

/* RFC 7616 §3.9.1: the same exchange with SHA-256 and with MD5; the RFC lists both responses. */
static void test_rfc7616(void **state) {
  rfc7616("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  rfc7616("MD5", "8ca523f5e9506fed4657c9700eebdbec");
}

/* RFC 2617 §3.5: no algorithm named (MD5), so none is echoed. */
static void test_rfc2617(void **state) {
  const char *hdr = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
  sb_digest_challenge c;
  assert_int_equal(parse(&c, hdr, NULL), 0);
  assert_int_equal(c.alg, SB_DIGEST_MD5);
  assert_string_equal(c.alg_name, "");
  sb_digest_request r = {.method = "GET",
                         .uri = "/dir/index.html",
                         .user = "Mufasa",
                         .user_len = 6,
                         .pass = "Circle Of Life",
                         .pass_len = 14,
                         .nc = 1,
                         .cnonce = "0a4f113b"};
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_digest_authorization(&b, &c, &r), 0);
  assert_string_equal(b.data, "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                              "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                              "uri=\"/dir/index.html\", "
                              "response=\"6629fae49393a05397450978507c4ef1\", "
                              "cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", "
                              "qop=auth, nc=00000001");
  sb_buf_clear(&b);
}

/* Expected values computed with Python's hashlib. */
static void test_sess_auth_int_userhash(void **state) {
  sb_digest_challenge c;
  assert_int_equal(parse(&c,
                         "digest REALM=r, Nonce=n, QOP=auth-int, ALGORITHM=sha-256-SESS, "
                         "userhash=TRUE, stale=true",
                         NULL),
                   0);
  assert_int_equal(c.alg, SB_DIGEST_SHA256_SESS);
  assert_true(c.userhash && c.stale && c.qop_auth_int && !c.qop_auth && !c.has_opaque);
  sb_digest_request r = {.method = "POST",
                         .uri = "/x",
                         .user = "u",
                         .user_len = 1,
                         .pass = "p",
                         .pass_len = 1,
                         .nc = 10,
                         .cnonce = "c",
                         .body = "body",
                         .body_len = 4};
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_digest_authorization(&b, &c, &r), 0);
  assert_string_equal(
      b.data, "Digest username=\"1d8a03a6e21a4ce775060ea57360329ac750dea5d847297b42f0d46539af8ab2\""
              ", realm=\"r\", nonce=\"n\", uri=\"/x\", "
              "response=\"43fce8251da7fa08552be7b2fec551dcad2702426a02ef5af4568066f5d60af4\", "
              "algorithm=sha-256-SESS, cnonce=\"c\", qop=auth-int, nc=0000000a, userhash=true");
  /* no qop at all (RFC 2069 style): no cnonce, qop or nc */
  assert_int_equal(parse(&c, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5", NULL), 0);
  sb_buf_reset(&b);
  r = (sb_digest_request){
      .method = "GET", .uri = "/", .user = "u", .user_len = 1, .pass = "p", .pass_len = 1};
  assert_int_equal(sb_digest_authorization(&b, &c, &r), 0);
  assert_string_equal(b.data, "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
                              "response=\"f23121ca97143c6b358da620220c83b4\", algorithm=MD5");
  /* a qop without a cnonce is the caller's bug */
  assert_int_equal(parse(&c, "Digest realm=r, nonce=n, qop=auth", NULL), 0);
  assert_int_equal(sb_digest_authorization(&b, &c, &r), SB_EINVAL);
  sb_buf_clear(&b);
}

static void test_parse_several(void **state) {
  sb_digest_challenge c;
  sb_err err = {{0}};
  /* other schemes first, with token68 and quoted commas; escapes in quoted strings */
  assert_int_equal(parse(&c,
                         "Negotiate YII/+a==, Basic realm=\"a, b\", charset=UTF-8, "
                         "Digest realm=\"say \\\"hi\\\" \\\\o/\", nonce=\"n,1\", opaque=o",
                         &err),
                   0);
  assert_string_equal(c.realm, "say \"hi\" \\o/");
  assert_string_equal(c.nonce, "n,1");
  assert_string_equal(c.opaque, "o");
  /* the first usable Digest challenge wins: SHA-512-256 is skipped */
  assert_int_equal(parse(&c,
                         "Digest realm=a, nonce=x, algorithm=SHA-512-256, "
                         "Digest realm=b, nonce=y, algorithm=MD5-sess, Digest realm=c, nonce=z",
                         &err),
                   0);
  assert_string_equal(c.realm, "b");
  assert_int_equal(c.alg, SB_DIGEST_MD5_SESS);
  /* a Digest challenge whose qop offers neither auth nor auth-int is skipped */
  assert_int_equal(
      parse(&c, "Digest realm=a, nonce=x, qop=\"auth-conf\", Digest realm=b, nonce=y", &err), 0);
  assert_string_equal(c.realm, "b");
  /* missing commas between parameters are tolerated */
  assert_int_equal(parse(&c, "Digest realm=\"a\" nonce=\"b\"", &err), 0);
  assert_string_equal(c.nonce, "b");
}

static void expect(const char *hdr, int code, const char *msg) {
  sb_digest_challenge c;
  sb_err err = {{0}};
  assert_int_equal(parse(&c, hdr, &err), code);
  if (!strstr(err.msg, msg)) fail_msg("%s: '%s' lacks '%s'", hdr, err.msg, msg);
}

static void test_malformed(void **state) {
  expect("Digest realm=\"a\", opaque=\"b\"", SB_EFORMAT, "Digest without nonce");
  expect("Digest realm=\"a\", nonce=\"b", SB_EFORMAT, "unterminated quoted string");
  expect("Digest realm=\"a\", nonce=\"b\\\"", SB_EFORMAT, "unterminated quoted string");
  expect("Digest realm=\"a\", nonce=\"b\\", SB_EFORMAT, "unterminated");
  expect("Basic realm=\"oops, Digest nonce=x", SB_EFORMAT, "unterminated");
  expect("Digest realm=a, nonce=@", SB_EFORMAT, "parameter without value");
  expect("realm=a, Digest nonce=x", SB_EFORMAT, "parameter before any scheme");
  expect("Digest realm=a, (nonce=x", SB_EFORMAT, "unexpected '('");
  expect("Digest realm=b, Digest nonce=n", SB_EFORMAT, "Digest without nonce");
  char big[SB_DIGEST_MAX_VALUE + 64];
  snprintf(big, sizeof(big), "Digest realm=a, nonce=\"%0*d\"", SB_DIGEST_MAX_VALUE, 0);
  expect(big, SB_EFORMAT, "Digest nonce longer than");
  expect("", SB_ENOTFOUND, "no Digest challenge");
  expect("Basic realm=\"x\"", SB_ENOTFOUND, "no Digest challenge");
  expect("Digest realm=a, nonce=x, algorithm=SHA-512-256", SB_ENOTFOUND,
         "unsupported algorithm \"SHA-512-256\"");
  expect("Digest realm=a, nonce=x, qop=auth-conf", SB_ENOTFOUND, "unsupported qop");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),         cmocka_unit_test(test_rfc7616),
      cmocka_unit_test(test_rfc2617),       cmocka_unit_test(test_sess_auth_int_userhash),
      cmocka_unit_test(test_parse_several), cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
