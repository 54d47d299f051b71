/* Tests for agent/cookiejar.c: RFC 6265 cases as Go's net/http/cookiejar answers them. The module
 * is included so that its allocations go through an allocator that can be told to fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

/* The order matters (see failalloc.h). */
// clang-format off
#include "test/unit/failalloc.h"
#include "agent/cookiejar.c"
#include "test/unit/failalloc_off.h"
// clang-format on

#define NOW 1000000000 /* 2001-09-09, a fixed clock */

static sb_cookiejar *J;

static int setup(void **state) {
  alloc_fail_at = alloc_calls = 0;
  return sb_cookiejar_new(&J);
}

static int teardown(void **state) {
  sb_cookiejar_free(J);
  J = NULL;
  return 0;
}

static int set_hdr(const char *url, const char *v) {
  return sb_cookiejar_set_cookie_header(J, url, v, strlen(v), NOW);
}

static int set_hdr_at(const char *url, const char *v, int64_t now) {
  return sb_cookiejar_set_cookie_header(J, url, v, strlen(v), now);
}

/* The Cookie header for |url| at |now| (a static buffer). */
static const char *hdr_at(const char *url, int64_t now) {
  static char s[65536];
  sb_buf b;
  sb_buf_init(&b);
  int n = sb_cookiejar_header_for(J, url, now, &b);
  if (n < 0)
    snprintf(s, sizeof(s), "<error %d>", n);
  else
    snprintf(s, sizeof(s), "%s", b.data ? b.data : "");
  sb_buf_clear(&b);
  return s;
}

static const char *hdr(const char *url) {
  return hdr_at(url, NOW);
}

/* --- domains ------------------------------------------------------------------------------- */

static void test_host_only(void **state) {
  assert_int_equal(set_hdr("http://example.com/", "a=1"), 0);
  assert_string_equal(hdr("http://example.com/"), "a=1");
  assert_string_equal(hdr("http://EXAMPLE.com./x"), "a=1");
  assert_string_equal(hdr("http://www.example.com/"), "");
  assert_string_equal(hdr("http://com/"), "");
}

static void test_domain_cookie(void **state) {
  assert_int_equal(set_hdr("http://www.example.com/", "b=2; Domain=Example.COM"), 0);
  assert_int_equal(set_hdr("http://www.example.com/", "c=3; domain=.example.com"), 0);
  assert_string_equal(hdr("http://example.com/"), "b=2; c=3");
  assert_string_equal(hdr("http://a.b.example.com/"), "b=2; c=3");
  assert_string_equal(hdr("http://badexample.com/"), "");
  assert_string_equal(hdr("http://other.com/"), "");
  /* a Domain equal to the host is a domain cookie: subdomains get it too */
  assert_int_equal(set_hdr("http://foo.org/", "d=4; Domain=foo.org"), 0);
  assert_string_equal(hdr("http://x.foo.org/"), "d=4");
}

static void test_domain_refused(void **state) {
  sb_cookie_spec c;
  sb_err err = {{0}};
  assert_int_equal(set_hdr("http://example.com/", "a=1; Domain=other.com"), SB_EFORMAT);
  assert_int_equal(set_hdr("http://example.com/", "a=1; Domain=www.example.com"), SB_EFORMAT);
  assert_int_equal(set_hdr("http://example.com/", "a=1; Domain=..example.com"), SB_EFORMAT);
  assert_int_equal(set_hdr("http://example.com/", "a=1; Domain=example.com."), SB_EFORMAT);
  assert_int_equal(set_hdr("http://example.com/", "a=1; Domain=."), SB_EFORMAT);
  assert_int_equal(sb_cookiejar_count(J), 0);
  assert_int_equal(sb_cookie_parse(&c, "a=1; Domain=evil.com", 20), 0);
  assert_int_equal(sb_cookiejar_set(J, "http://example.com/", &c, NOW, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "does not match the host example.com"));
}

/* Without a public-suffix list, Go keys cookies by the setting host's last two labels: a
 * "Domain=com" cookie stays with example.com. */
static void test_jar_key_partition(void **state) {
  assert_int_equal(set_hdr("http://www.example.com/", "tld=1; Domain=com"), 0);
  assert_string_equal(hdr("http://other.com/"), "");
  assert_string_equal(hdr("http://x.example.com/"), "tld=1");
  assert_string_equal(jar_key("a.b.example.com", 15), "example.com");
  assert_string_equal(jar_key("localhost", 9), "localhost");
  assert_string_equal(jar_key("10.0.0.1", 8), "10.0.0.1");
}

static void test_ip_hosts(void **state) {
  assert_int_equal(set_hdr("http://127.0.0.1:8080/", "a=1"), 0);
  assert_int_equal(set_hdr("http://127.0.0.1:8080/", "b=2; Domain=127.0.0.1"), 0);
  assert_int_equal(set_hdr("http://127.0.0.1/", "c=3; Domain=0.0.1"), SB_EFORMAT);
  assert_int_equal(set_hdr("http://127.0.0.1/", "d=4; Domain=.127.0.0.1"), SB_EFORMAT);
  assert_string_equal(hdr("http://127.0.0.1:9999/"), "a=1; b=2"); /* ports do not matter */
  assert_string_equal(hdr("http://127.0.0.2/"), "");
  /* b=2 is host-only although it came with a Domain */
  assert_string_equal(hdr("http://1.127.0.0.1/"), "");
}

static void test_ipv6_host(void **state) {
  assert_int_equal(set_hdr("http://[::1]:8080/x", "a=1"), 0);
  assert_int_equal(set_hdr("https://[::1]/", "b=2; Domain=::1; Secure"), 0);
  assert_string_equal(hdr("http://[::1]/"), "a=1");
  assert_string_equal(hdr("https://[::1]:443/y?q"), "a=1; b=2");
  assert_string_equal(hdr("http://[::2]/"), "");
  assert_string_equal(hdr("http://127.0.0.1/"), "");
  assert_int_equal(set_hdr("http://[::1/", "c=1"), SB_EINVAL);
}

/* --- paths --------------------------------------------------------------------------------- */

static void test_default_path(void **state) {
  assert_int_equal(set_hdr("http://h.com/a/b/c?x=/y/z", "d=1"), 0);
  assert_int_equal(set_hdr("http://h.com/a/b/c", "rel=1; Path=nope"), 0); /* not "/": default */
  assert_string_equal(hdr("http://h.com/a/b"), "d=1; rel=1");
  assert_string_equal(hdr("http://h.com/a/b/"), "d=1; rel=1");
  assert_string_equal(hdr("http://h.com/a/b/c/d"), "d=1; rel=1");
  assert_string_equal(hdr("http://h.com/a"), "");
  assert_string_equal(hdr("http://h.com/a/bc"), "");
  assert_int_equal(set_hdr("http://h.com", "root=1"), 0);
  assert_int_equal(set_hdr("http://h.com/top", "root2=1"), 0);
  assert_string_equal(hdr("http://h.com"), "root=1; root2=1");
  assert_int_equal(default_path_len("/", 1), 1);
  assert_int_equal(default_path_len("/a/", 3), 2);
}

static void test_path_attribute(void **state) {
  assert_int_equal(set_hdr("http://h.com/", "p=1; Path=/docs"), 0);
  assert_int_equal(set_hdr("http://h.com/", "q=1; Path=/docs/"), 0);
  assert_string_equal(hdr("http://h.com/docs"), "p=1");
  assert_string_equal(hdr("http://h.com/docs/"), "q=1; p=1");
  assert_string_equal(hdr("http://h.com/docs/web"), "q=1; p=1");
  assert_string_equal(hdr("http://h.com/docsweb"), "");
  assert_string_equal(hdr("http://h.com/"), "");
}

/* --- flags and expiry ---------------------------------------------------------------------- */

static void test_secure(void **state) {
  assert_int_equal(set_hdr("https://s.com/", "s=1; Secure"), 0);
  assert_int_equal(set_hdr("http://s.com/", "p=1"), 0);
  assert_string_equal(hdr("http://s.com/"), "p=1");
  assert_string_equal(hdr("https://s.com/"), "s=1; p=1");
}

typedef struct seen {
  int n;
  sb_cookie c[8];
  char names[8][32];
} seen;

static void collect(const sb_cookie *c, void *ud) {
  seen *s = ud;
  if (s->n < 8) {
    s->c[s->n] = *c;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", c->name);
    s->n++;
  }
}

static void test_flags_kept(void **state) {
  seen s = {0};
  assert_int_equal(set_hdr("https://f.com/", "a=1; HttpOnly; SameSite=Strict"), 0);
  assert_int_equal(set_hdr("https://f.com/", "b=1; SameSite=lax; secure"), 0);
  assert_int_equal(set_hdr("https://f.com/", "c=1; SameSite=whatever"), 0);
  assert_int_equal(set_hdr("https://f.com/", "d=1; samesite=None; Max-Age=60"), 0);
  assert_int_equal(sb_cookiejar_each_for(J, "https://f.com/", NOW, collect, &s), 4);
  assert_true(s.c[0].http_only && !s.c[0].secure && s.c[0].same_site == SB_SAMESITE_STRICT);
  assert_true(s.c[0].host_only && !s.c[0].persistent && s.c[0].creation == NOW);
  assert_true(s.c[1].secure && !s.c[1].http_only && s.c[1].same_site == SB_SAMESITE_LAX);
  assert_int_equal(s.c[2].same_site, SB_SAMESITE_DEFAULT);
  assert_int_equal(s.c[3].same_site, SB_SAMESITE_NONE);
  assert_true(s.c[3].persistent && s.c[3].expires == NOW + 60);
  assert_int_equal(sb_cookiejar_each_for(J, "nope", NOW, collect, &s), SB_EINVAL);
}

static void test_expiry(void **state) {
  assert_int_equal(set_hdr("http://e.com/", "m=1; Max-Age=10"), 0);
  assert_int_equal(set_hdr("http://e.com/", "x=1; Expires=Sun, 09 Sep 2001 05:46:40 GMT"), 0);
  assert_string_equal(hdr_at("http://e.com/", NOW + 9), "m=1; x=1");
  assert_string_equal(hdr_at("http://e.com/", NOW + 10), "x=1");
  assert_string_equal(hdr_at("http://e.com/", NOW + 9 * 3600), "");
  /* an Expires in the past deletes the stored cookie, and stores nothing */
  assert_int_equal(set_hdr("http://e.com/", "x=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  assert_int_equal(set_hdr("http://e.com/", "y=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  assert_string_equal(hdr("http://e.com/"), "m=1");
  /* a session cookie lives for ever */
  assert_int_equal(set_hdr("http://e.com/", "s=1"), 0);
  assert_string_equal(hdr_at("http://e.com/", INT64_MAX), "s=1");
  /* an unparsable Expires is ignored: a session cookie */
  assert_int_equal(set_hdr("http://e.com/", "u=1; Expires=tomorrow"), 0);
  assert_string_equal(hdr_at("http://e.com/", NOW + 100), "s=1; u=1");
}

static void test_max_age_wins(void **state) {
  assert_int_equal(set_hdr("http://e.com/", "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                                            "Max-Age=100"),
                   0);
  assert_string_equal(hdr_at("http://e.com/", NOW + 99), "a=1");
  assert_int_equal(
      set_hdr("http://e.com/", "a=1; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT"), 0);
  assert_string_equal(hdr("http://e.com/"), "");
  assert_int_equal(set_hdr("http://e.com/", "b=1"), 0);
  assert_int_equal(set_hdr("http://e.com/", "b=1; Max-Age=-5"), 0);
  assert_int_equal(sb_cookiejar_count(J), 0);
  /* a Max-Age with a leading zero is ignored, as Go does */
  assert_int_equal(set_hdr("http://e.com/", "c=1; Max-Age=05"), 0);
  assert_string_equal(hdr_at("http://e.com/", NOW + 1000000), "c=1");
}

/* --- replacement, order, delete ------------------------------------------------------------- */

static void test_replacement(void **state) {
  assert_int_equal(set_hdr_at("http://r.com/", "x=1", NOW), 0);
  assert_int_equal(set_hdr_at("http://r.com/", "y=1", NOW + 1), 0);
  assert_int_equal(set_hdr_at("http://r.com/", "x=2; HttpOnly", NOW + 2), 0);
  assert_int_equal(sb_cookiejar_count(J), 2);
  assert_string_equal(hdr("http://r.com/"), "x=2; y=1"); /* x keeps its creation time */
  seen s = {0};
  sb_cookiejar_each_for(J, "http://r.com/", NOW, collect, &s);
  assert_true(s.c[0].http_only && s.c[0].creation == NOW);
  /* a domain cookie of the same name, domain and path replaces the host-only one */
  assert_int_equal(set_hdr("http://r.com/", "x=3; Domain=r.com"), 0);
  assert_int_equal(sb_cookiejar_count(J), 2);
  assert_string_equal(hdr("http://w.r.com/"), "x=3");
  /* another path is another cookie */
  assert_int_equal(set_hdr("http://r.com/", "x=4; Path=/p"), 0);
  assert_string_equal(hdr("http://r.com/p"), "x=4; x=3; y=1");
}

static void test_order(void **state) {
  assert_int_equal(set_hdr_at("http://o.com/", "short=1; Path=/", NOW), 0);
  assert_int_equal(set_hdr_at("http://o.com/", "long=1; Path=/a/b", NOW + 1), 0);
  assert_int_equal(set_hdr_at("http://o.com/", "mid1=1; Path=/a", NOW + 2), 0);
  assert_int_equal(set_hdr_at("http://o.com/", "mid2=1; Path=/a", NOW + 3), 0);
  assert_int_equal(set_hdr_at("http://o.com/", "first=1; Path=/a/b", NOW + 4), 0);
  assert_string_equal(hdr("http://o.com/a/b/c"), "long=1; first=1; mid1=1; mid2=1; short=1");
}

static void test_delete_and_clear(void **state) {
  assert_int_equal(set_hdr("http://d.com/", "a=1"), 0);
  assert_int_equal(set_hdr("http://d.com/", "a=2; Path=/x"), 0);
  assert_int_equal(set_hdr("http://d.com/", "b=1"), 0);
  assert_int_equal(set_hdr("https://d.com/", "s=1; Secure"), 0);
  assert_int_equal(set_hdr("http://other.com/", "a=9"), 0);
  assert_int_equal(sb_cookiejar_delete(J, "http://d.com/", "zzz"), 0);
  assert_int_equal(sb_cookiejar_delete(J, "http://d.com/x", "a"), 2);
  assert_string_equal(hdr("http://d.com/x"), "b=1");
  assert_int_equal(sb_cookiejar_clear(J, "http://d.com/"), 1); /* not the Secure one */
  assert_string_equal(hdr("https://d.com/"), "s=1");
  assert_int_equal(sb_cookiejar_clear(J, "https://d.com/"), 1);
  assert_string_equal(hdr("http://other.com/"), "a=9");
  assert_int_equal(sb_cookiejar_delete(J, "mailto:x", "a"), SB_EINVAL);
  sb_cookiejar_clear_all(J);
  assert_int_equal(sb_cookiejar_count(J), 0);
  assert_string_equal(hdr("http://other.com/"), "");
}

/* --- parsing ------------------------------------------------------------------------------- */

static void test_malformed_ignored(void **state) {
  static const char *const bad[] = {"",      "   ",    "novalue", "=v",    "a b=c",
                                    "a=\"x", "a=x\\y", "a=x\"y",  "(a)=1", "a=1\x01"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(set_hdr("http://m.com/", bad[i]), SB_EFORMAT);
  assert_int_equal(sb_cookiejar_count(J), 0);
  /* bad attributes are skipped, the cookie stays */
  assert_int_equal(set_hdr("http://m.com/", "q=\"quoted\" ;;Path=/\"x; Max-Age=z; bad attr"), 0);
  assert_string_equal(hdr("http://m.com/"), "q=quoted");
  assert_int_equal(set_hdr("http://m.com/", "empty="), 0);
  assert_string_equal(hdr("http://m.com/"), "q=quoted; empty=");
}

static void test_parse_fields(void **state) {
  sb_cookie_spec c;
  const char *v = "sid=abc; Domain=.x.com; Path=/p; Max-Age=0; Secure; HttpOnly; "
                  "Expires=Wed, 21-Oct-2015 07:28:00 GMT";
  assert_int_equal(sb_cookie_parse(&c, v, strlen(v)), 0);
  assert_int_equal(c.name_len, 3);
  assert_memory_equal(c.value, "abc", 3);
  assert_int_equal(c.domain_len, 6);
  assert_memory_equal(c.domain, ".x.com", 6);
  assert_memory_equal(c.path, "/p", 2);
  assert_int_equal(c.max_age, -1);
  assert_true(c.secure && c.http_only && c.has_expires);
  assert_int_equal(c.expires, 1445412480);
  assert_int_equal(c.same_site, SB_SAMESITE_UNSET);
}

static void test_dates(void **state) {
  int64_t t;
  const char *ok1 = "Sun, 06 Nov 1994 08:49:37 GMT", *ok2 = "sun, 06-nov-1994 8:49:37 UTC";
  assert_int_equal(sb_cookie_parse_date(ok1, strlen(ok1), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(sb_cookie_parse_date(ok2, strlen(ok2), &t), 0);
  assert_int_equal(t, 784111777);
  const char *leap = "Tue, 29 Feb 2000 00:00:00 GMT";
  assert_int_equal(sb_cookie_parse_date(leap, strlen(leap), &t), 0);
  assert_int_equal(t, 951782400);
  static const char *const bad[] = {
      "Sun, 6 Nov 1994 08:49:37 GMT",    "Sun, 06 Nov 94 08:49:37 GMT",
      "Xyz, 06 Nov 1994 08:49:37 GMT",   "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",   "Mon, 29 Feb 1900 00:00:00 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",   "Sun, 06 Nov 1994 08:49:37",
      "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 06-Nov 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 GMT"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(sb_cookie_parse_date(bad[i], strlen(bad[i]), &t), SB_EFORMAT);
}

static void test_urls(void **state) {
  url_parts u;
  assert_int_equal(parse_url("HTTPS://user:p@ss@Example.COM:81/a/b?q=/c#f", &u), 0);
  assert_true(u.https);
  assert_string_equal(u.host, "example.com");
  assert_int_equal(u.path_len, 4);
  assert_memory_equal(u.path, "/a/b", 4);
  assert_int_equal(parse_url("http://h?x=/y", &u), 0);
  assert_int_equal(u.path_len, 1);
  assert_memory_equal(u.path, "/", 1);
  static const char *const bad[] = {"ftp://h/",    "h.com/",         "http://",     "http:///x",
                                    "http://:80/", "http://[::1]x/", "http://a b/", "/rel"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(parse_url(bad[i], &u), SB_EINVAL);
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_cookiejar_header_for(J, "ftp://x/", NOW, &b), SB_EINVAL);
  sb_err err = {{0}};
  sb_cookie_spec c = {.name = "a", .name_len = 1, .value = "1", .value_len = 1};
  assert_int_equal(sb_cookiejar_set(J, "x", &c, NOW, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "'x' is not an absolute http:// or https:// URL"));
  sb_buf_clear(&b);
}

/* --- the Cookie header --------------------------------------------------------------------- */

static void test_append_pair(void **state) {
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_cookie_append_pair(&b, "a", 1, "hello world", 11), 0);
  assert_int_equal(sb_cookie_append_pair(&b, "b\r\n", 3, "x;\"y\\z", 6), 0);
  assert_int_equal(sb_cookie_append_pair(&b, "c", 1, "1,2", 3), 0);
  assert_int_equal(sb_cookie_append_pair(&b, "d", 1, "", 0), 0);
  assert_string_equal(b.data, "a=\"hello world\"; b--=xyz; c=\"1,2\"; d=");
  assert_int_equal(b.len, strlen(b.data));
  sb_buf_clear(&b);
}

static void test_jar_set_spec(void **state) {
  /* k6's jar.set: a raw value with a space is stored as is and quoted when sent */
  sb_cookie_spec c = {.name = "my_cookie",
                      .name_len = 9,
                      .value = "hello world",
                      .value_len = 11,
                      .domain = "k6.io",
                      .domain_len = 5,
                      .path = "/cookies",
                      .path_len = 8,
                      .max_age = 600,
                      .secure = 1};
  assert_int_equal(sb_cookiejar_set(J, "https://test.k6.io/x", &c, NOW, NULL), 0);
  assert_string_equal(hdr("https://test.k6.io/cookies"), "my_cookie=\"hello world\"");
  assert_string_equal(hdr("http://test.k6.io/cookies"), "");
  c.value_len = SB_COOKIE_MAX_BYTES;
  assert_int_equal(sb_cookiejar_set(J, "https://test.k6.io/", &c, NOW, NULL), SB_EFORMAT);
  c.value = "a\0b", c.value_len = 3;
  assert_int_equal(sb_cookiejar_set(J, "https://test.k6.io/", &c, NOW, NULL), SB_EFORMAT);
}

/* --- bounds and allocation failures -------------------------------------------------------- */

static void test_bound(void **state) {
  char v[64];
  for (int i = 0; i <= SB_COOKIEJAR_MAX_COOKIES; i++) {
    snprintf(v, sizeof(v), "c%d=%d", i, i);
    assert_int_equal(set_hdr("http://b.com/", v), 0);
  }
  assert_int_equal(sb_cookiejar_count(J), SB_COOKIEJAR_MAX_COOKIES);
  const char *h = hdr("http://b.com/");
  assert_null(strstr(h, "c0=0;")); /* the oldest made room */
  assert_int_equal(strncmp(h, "c1=1; c2=2", 10), 0);
  assert_non_null(strstr(h, "c3000=3000"));
  /* expired cookies go first */
  sb_cookiejar_clear_all(J);
  for (int i = 0; i < SB_COOKIEJAR_MAX_COOKIES; i++) {
    snprintf(v, sizeof(v), "c%d=%d%s", i, i, i == 5 ? "; Max-Age=1" : "");
    assert_int_equal(set_hdr("http://b.com/", v), 0);
  }
  assert_int_equal(set_hdr_at("http://b.com/", "late=1", NOW + 5), 0);
  h = hdr_at("http://b.com/", NOW + 5);
  assert_int_equal(strncmp(h, "c0=0; c1=1", 10), 0);
  assert_null(strstr(h, "c5=5"));
}

static void test_alloc_failures(void **state) {
  int failures = 0;
  for (long at = 1; at < 40; at++) {
    sb_cookiejar *j = NULL;
    alloc_calls = 0;
    alloc_fail_at = at;
    int rc = sb_cookiejar_new(&j);
    for (int i = 0; rc == 0 && i < 12; i++) {
      char v[32];
      snprintf(v, sizeof(v), "n%d=v%d", i, i);
      rc = sb_cookiejar_set_cookie_header(j, "http://a.com/", v, strlen(v), NOW);
    }
    alloc_fail_at = 0;
    if (rc != 0) {
      assert_int_equal(rc, SB_ENOMEM);
      failures++;
      if (j) assert_true(sb_cookiejar_count(j) < 12);
    }
    sb_cookiejar_free(j);
  }
  assert_true(failures > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_host_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_domain_cookie, setup, teardown),
      cmocka_unit_test_setup_teardown(test_domain_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jar_key_partition, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ip_hosts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ipv6_host, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_path_attribute, setup, teardown),
      cmocka_unit_test_setup_teardown(test_secure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flags_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_age_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replacement, setup, teardown),
      cmocka_unit_test_setup_teardown(test_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_and_clear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_pair, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jar_set_spec, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
