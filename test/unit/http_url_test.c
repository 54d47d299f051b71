/* URLs: Go/k6 parsing rules, RFC 3986 resolution (its §5.4 examples), wire and tag forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/http_url.h"

static void assert_span(const char *p, size_t n, const char *want) {
  assert_non_null(p);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(p, want, n);
}

static sb_url parse_ok(const char *s) {
  sb_url u;
  sb_err err = {{0}};
  int rc = sb_url_parse(&u, s, strlen(s), &err);
  if (rc) fail_msg("%s: %s", s, err.msg);
  return u;
}

static void test_parse(void **state) {
  sb_url u = parse_ok("http://example.com");
  assert_false(u.https);
  assert_span(u.host, u.host_len, "example.com");
  assert_int_equal(u.port, 80);
  assert_false(u.port_explicit);
  assert_span(u.path, u.path_len, "/");
  assert_null(u.query);
  assert_null(u.user);

  u = parse_ok("HTTPS://us%65r:p%40ss@Example.COM:8443/a/b?x=1&y=2#frag");
  assert_true(u.https);
  assert_span(u.user, u.user_len, "us%65r");
  assert_span(u.pass, u.pass_len, "p%40ss");
  assert_span(u.host, u.host_len, "Example.COM");
  assert_int_equal(u.port, 8443);
  assert_true(u.port_explicit);
  assert_span(u.path, u.path_len, "/a/b");
  assert_span(u.query, u.query_len, "x=1&y=2");
  sb_buf user, pass;
  sb_buf_init(&user), sb_buf_init(&pass);
  assert_int_equal(sb_url_userinfo(&u, &user, &pass), 0);
  assert_string_equal(user.data, "user");
  assert_string_equal(pass.data, "p@ss");
  sb_buf_clear(&user), sb_buf_clear(&pass);

  u = parse_ok("https://h?q");
  assert_int_equal(u.port, 443);
  assert_span(u.path, u.path_len, "/");
  assert_span(u.query, u.query_len, "q");
  u = parse_ok("http://h:/x?"); /* empty port: the default; empty query kept */
  assert_int_equal(u.port, 80);
  assert_false(u.port_explicit);
  assert_span(u.query, u.query_len, "");
  u = parse_ok("http://u@h/"); /* user without password */
  assert_span(u.user, u.user_len, "u");
  assert_null(u.pass);
  u = parse_ok("http://a@b@h/"); /* the last '@' ends the userinfo, as in Go */
  assert_span(u.user, u.user_len, "a@b");
  assert_span(u.host, u.host_len, "h");
  u = parse_ok("http://h/a b"); /* Go accepts a space in the path (and escapes it on the wire) */
  assert_span(u.path, u.path_len, "/a b");
}

static void test_parse_ipv6(void **state) {
  sb_url u = parse_ok("http://[::1]:8080/x");
  assert_true(u.ipv6);
  assert_span(u.host, u.host_len, "::1");
  assert_int_equal(u.port, 8080);
  u = parse_ok("https://[2001:db8::1]");
  assert_span(u.host, u.host_len, "2001:db8::1");
  assert_int_equal(u.port, 443);
  u = parse_ok("http://[fe80::1%25eth0]/");
  assert_span(u.host, u.host_len, "fe80::1%25eth0");
}

static void expect_err(const char *s, int code, const char *msg) {
  sb_url u;
  sb_err err = {{0}};
  assert_int_equal(sb_url_parse(&u, s, strlen(s), &err), code);
  if (!strstr(err.msg, msg)) fail_msg("%s: '%s' lacks '%s'", s, err.msg, msg);
}

static void test_parse_refuses(void **state) {
  expect_err("http://a b/", SB_EFORMAT,
             "parse \"http://a b/\": invalid character \" \" in host name");
  expect_err("http://h:abc/", SB_EFORMAT, "invalid port \":abc\" after host");
  expect_err("http://h:99999/", SB_EFORMAT, "invalid port \":99999\" after host");
  expect_err("http://h:8a/", SB_EFORMAT, "invalid port");
  expect_err("http://[::1/", SB_EFORMAT, "missing ']' in host");
  expect_err("http://[::1]x/", SB_EFORMAT, "invalid port \"x\" after host");
  expect_err("http://[]/", SB_EFORMAT, "invalid IP-literal");
  expect_err("http://[zz::1]/", SB_EFORMAT, "invalid IP-literal");
  expect_err("http://h/\x01", SB_EFORMAT, "net/url: invalid control character in URL");
  expect_err("http://h/\x7f", SB_EFORMAT, "invalid control character");
  expect_err("http://h/\tx", SB_EFORMAT, "invalid control character");
  expect_err("http://h/%zz", SB_EFORMAT, "invalid URL escape \"%zz\"");
  expect_err("http://h/%4", SB_EFORMAT, "invalid URL escape \"%4\"");
  expect_err("http://h/#%g1", SB_EFORMAT, "invalid URL escape");
  expect_err("http://h%41/", SB_EFORMAT, "invalid URL escape \"%41\"");
  expect_err("http://h{x}/", SB_EFORMAT, "invalid character \"{\" in host name");
  expect_err("http://us er@h/", SB_EFORMAT, "net/url: invalid userinfo");
  expect_err("http://u:%zz@h/", SB_EFORMAT, "invalid URL escape");
  expect_err("://h", SB_EFORMAT, "missing protocol scheme");
  expect_err("1ab:c/x", SB_EFORMAT, "first path segment in URL cannot contain colon");
  expect_err("ftp://h/", SB_EINVAL, "unsupported protocol scheme \"ftp\"");
  expect_err("ws://h/", SB_EINVAL, "unsupported protocol scheme \"ws\"");
  expect_err("httpx://h/", SB_EINVAL, "unsupported protocol scheme \"httpx\"");
  expect_err("example.com/x", SB_EINVAL, "unsupported protocol scheme \"\"");
  expect_err("localhost:8080/x", SB_EINVAL, "unsupported protocol scheme \"localhost\"");
  expect_err("http:///path", SB_EINVAL, "http: no Host in request URL");
  expect_err("http://", SB_EINVAL, "no Host");
  expect_err("http:x", SB_EINVAL, "no Host");
  expect_err("", SB_EINVAL, "unsupported protocol scheme");
  /* another scheme is still split up (http.url`` accepts it; k6 masks its credentials) */
  sb_url u;
  assert_int_equal(sb_url_parse(&u, "ftp://a:b@h:21/x", 16, NULL), SB_EINVAL);
  assert_span(u.user, u.user_len, "a");
  assert_int_equal(u.port, 21);
  /* a length shorter than the string: nothing past it is read */
  assert_int_equal(sb_url_parse(&u, "http://h/ab cd\x01", 11, NULL), 0);
  assert_span(u.path, u.path_len, "/ab");
}

static void check_writer(int (*fn)(const sb_url *, sb_buf *), const char *url, const char *want) {
  sb_buf b;
  sb_buf_init(&b);
  sb_url u;
  assert_true(sb_url_parse(&u, url, strlen(url), NULL) >= SB_EINVAL);
  assert_int_equal(fn(&u, &b), 0);
  assert_string_equal(b.data, want);
  sb_buf_clear(&b);
}

static void test_write(void **state) {
  check_writer(sb_url_write_target, "http://h", "/");
  check_writer(sb_url_write_target, "http://h?q=1", "/?q=1");
  check_writer(sb_url_write_target, "http://h/a/b?x=1&y=%20#f", "/a/b?x=1&y=%20");
  check_writer(sb_url_write_target, "http://h/a b?c d", "/a%20b?c%20d");
  check_writer(sb_url_write_target, "http://h/\xc3\xa9{x}|\"?\xc3\xa9",
               "/%C3%A9%7Bx%7D%7C%22?\xc3\xa9");
  check_writer(sb_url_write_target, "http://h/%2F;a=b:c@d!$&'()*+,", "/%2F;a=b:c@d!$&'()*+,");
  check_writer(sb_url_write_host, "http://h/x", "h");
  check_writer(sb_url_write_host, "http://Example.com:8080/x", "Example.com:8080");
  check_writer(sb_url_write_host, "http://h:80/", "h:80"); /* as written, like Go */
  check_writer(sb_url_write_host, "http://h:/", "h");
  check_writer(sb_url_write_host, "http://u:p@[::1]:9/", "[::1]:9");
  check_writer(sb_url_write_host, "https://[::1]/", "[::1]");
  check_writer(sb_url_write_clean, "http://h/x", "http://h/x");
  check_writer(sb_url_write_clean, "http://user:pass@h/x?a@b", "http://****:****@h/x?a@b");
  check_writer(sb_url_write_clean, "http://user@h/x", "http://****@h/x");
  check_writer(sb_url_write_clean, "http://:@h/", "http://****:****@h/");
  check_writer(sb_url_write_clean, "ftp://u:p@h/", "ftp://****:****@h/");
  check_writer(sb_url_write_stripped, "http://user:pass@h:1/x#f", "http://h:1/x#f");
  check_writer(sb_url_write_stripped, "http://h/x", "http://h/x");
}

static int same_origin(const char *a, const char *b) {
  sb_url x = parse_ok(a), y = parse_ok(b);
  return sb_url_same_origin(&x, &y);
}

static int may_follow(const char *a, const char *b) {
  sb_url x = parse_ok(a), y = parse_ok(b);
  return sb_url_auth_may_follow(&x, &y);
}

static void test_hosts(void **state) {
  assert_true(same_origin("http://a.com/x", "HTTP://A.COM:80/y"));
  assert_true(same_origin("https://[::1]/", "https://[::1]:443/z"));
  assert_false(same_origin("http://a.com/", "https://a.com/"));
  assert_false(same_origin("http://a.com/", "http://a.com:81/"));
  assert_false(same_origin("http://a.com/", "http://b.a.com/"));
  assert_true(may_follow("http://a.com/", "https://a.com:8443/"));
  assert_true(may_follow("http://a.com/", "http://sub.A.com/"));
  assert_true(may_follow("http://a.com/", "http://x.y.a.com/"));
  assert_false(may_follow("http://a.com/", "http://evila.com/"));
  assert_false(may_follow("http://sub.a.com/", "http://a.com/"));
  assert_false(may_follow("http://a.com/", "http://b.com/"));
  assert_true(may_follow("http://[::1]/", "http://[::1]:81/"));
  assert_false(may_follow("http://[::1]/", "http://[::2]/"));
}

static void check_resolve(const char *base, const char *ref, const char *want) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_url_resolve(base, ref, strlen(ref), &b), 0);
  if (strcmp(b.data, want) != 0) fail_msg("%s + %s = %s, want %s", base, ref, b.data, want);
  sb_buf_clear(&b);
}

/* RFC 3986 §5.4.1 and §5.4.2, all of them. */
static void test_resolve_rfc(void **state) {
  static const char *const cases[][2] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y#s"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
      /* abnormal */
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_resolve("http://a/b/c/d;p?q", cases[i][0], cases[i][1]);
}

static void test_resolve_redirects(void **state) {
  check_resolve("http://h:8080/a/b?x#f", "/login?next=%2Fa", "http://h:8080/login?next=%2Fa");
  check_resolve("http://h/a/b", "HTTPS://Other.com/x/../y", "https://Other.com/y");
  check_resolve("http://h/a/b", "//cdn.h:81/x", "http://cdn.h:81/x");
  check_resolve("https://h/a/b", "//cdn.h/x", "https://cdn.h/x");
  check_resolve("http://h", "c", "http://h/c");
  check_resolve("http://h", "?q", "http://h?q");
  check_resolve("http://h/dir/", "sub/../../x", "http://h/x");
  check_resolve("http://u:p@h/a", "b", "http://u:p@h/b");
  check_resolve("http://h/a", "ftp://x/y", "ftp://x/y");
  check_resolve("http://[::1]:8/a/b", "c", "http://[::1]:8/a/c");
  /* a Location given with its length, not NUL-terminated */
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_url_resolve("http://h/a", "/next garbage", 5, &b), 0);
  assert_string_equal(b.data, "http://h/next");
  sb_buf_reset(&b);
  assert_int_equal(sb_url_resolve("/relative", "x", 1, &b), SB_EFORMAT);
  sb_buf_clear(&b);
}

static void test_unescape(void **state) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_url_unescape("%41b%2fc+d%e2%82%ac", 19, &b), 0);
  assert_string_equal(b.data, "Ab/c+d\xe2\x82\xac");
  sb_buf_reset(&b);
  assert_int_equal(sb_url_unescape("a%4", 3, &b), SB_EFORMAT);
  sb_buf_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_ipv6),
      cmocka_unit_test(test_parse_refuses),
      cmocka_unit_test(test_write),
      cmocka_unit_test(test_hosts),
      cmocka_unit_test(test_resolve_rfc),
      cmocka_unit_test(test_resolve_redirects),
      cmocka_unit_test(test_unescape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
