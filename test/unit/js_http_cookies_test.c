/* Tests for agent/js_http_cookies.c: the k6/http cookie API on a plain Duktape heap, with the
 * exports object as the global `http`.
 *
 * The module asks agent/vu.c only whether a VU runs init code (sb_vu_from_ctx, sb_vu_busy); this
 * file defines both, so the test links without the VU machinery (the linker then never pulls
 * vu.o from the archive) and can play the init context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/js_http_cookies.h"
#include "agent/vu.h"

static int fake_vu, fake_busy; /* fake_vu: sb_vu_from_ctx() returns a VU */

sb_vu *sb_vu_from_ctx(duk_context *ctx) {
  return fake_vu ? (sb_vu *)&fake_vu : NULL;
}
int sb_vu_busy(const sb_vu *vu) {
  return fake_busy;
}

static duk_context *ctx;

static int setup(void **state) {
  fake_vu = fake_busy = 0;
  ctx = duk_create_heap_default();
  if (!ctx) return -1;
  duk_push_object(ctx);
  sb_js_cookies_push_api(ctx);
  duk_put_global_string(ctx, "http");
  return 0;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx); /* runs the finalizers: ASan sees any jar left behind */
  return 0;
}

/* Evaluates |src| and returns its value as a string (a static buffer); errors come back as
 * "ERR: <message>". */
static const char *js(const char *src) {
  static char out[4096];
  int rc = duk_peval_string(ctx, src);
  snprintf(out, sizeof(out), "%s%s", rc ? "ERR: " : "", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return out;
}

/* --- the jar API --------------------------------------------------------------------------- */

static void test_set_then_cookies_for_url(void **state) {
  assert_string_equal(js("var j = http.cookieJar();"
                         "j.set('https://example.com/a/b', 'k', 'v', "
                         "      { path: '/', max_age: 600, secure: true, http_only: true })"),
                      "true");
  assert_string_equal(js("JSON.stringify(j.cookiesForURL('https://example.com/x'))"),
                      "{\"k\":[\"v\"]}");
  assert_string_equal(js("JSON.stringify(j.cookiesForURL('http://example.com/x'))"), "{}");
  /* several values of one name, longest path first */
  assert_string_equal(js("j.set('https://example.com/', 'k', 'deep', { Path: '/deep' });"
                         "JSON.stringify(j.cookiesForURL('https://example.com/deep/er'))"),
                      "{\"k\":[\"deep\",\"v\"]}");
  assert_string_equal(js("http.cookieJar() === j && j instanceof http.CookieJar"), "true");
}

static void test_set_options(void **state) {
  assert_string_equal(js("var j = http.cookieJar();"
                         "j.set('http://www.example.com/', 'd', '1', { domain: 'example.com' });"
                         "j.set('http://www.example.com/', 'bad', '1', { domain: 'other.com' });"
                         "j.set('http://www.example.com/', 'old', '1',"
                         "      { expires: 'Thu, 01 Jan 1970 00:00:00 GMT' });"
                         "j.set('http://www.example.com/', 'future', '1',"
                         "      { expires: 'Fri, 01 Jan 2100 00:00:00 GMT' });"
                         "j.set('http://www.example.com/', 'gone', '1', { max_age: -1 });"
                         "JSON.stringify(j.cookiesForURL('http://a.example.com/'))"),
                      "{\"d\":[\"1\"]}");
  assert_string_equal(js("JSON.stringify(j.cookiesForURL('http://www.example.com/'))"),
                      "{\"d\":[\"1\"],\"future\":[\"1\"]}");
  assert_non_null(strstr(js("j.set('http://x.com/', 'a', '1', { expires: 'tomorrow' })"),
                         "ERR: TypeError: CookieJar.set(): unable to parse \"expires\" date "
                         "string \"tomorrow\""));
  assert_string_equal(js("j.set('x.com', 'a', '1')"),
                      "ERR: TypeError: CookieJar.set(url, name, value): 'x.com' is not an "
                      "absolute http:// or https:// URL");
}

static void test_delete_and_clear(void **state) {
  assert_string_equal(js("var j = http.cookieJar();"
                         "j.set('http://h.com/', 'a', '1'); j.set('http://h.com/', 'b', '2');"
                         "j.set('http://other.com/', 'a', '9');"
                         "j.delete('http://h.com/', 'a');"
                         "JSON.stringify(j.cookiesForURL('http://h.com/'))"),
                      "{\"b\":[\"2\"]}");
  assert_string_equal(
      js("j.clear('http://h.com/'); JSON.stringify(j.cookiesForURL('http://h.com/'))"), "{}");
  assert_string_equal(js("JSON.stringify(j.cookiesForURL('http://other.com/'))"),
                      "{\"a\":[\"9\"]}");
  assert_string_equal(js("j.delete('http://h.com/')"),
                      "ERR: TypeError: CookieJar.delete(url, name): name is missing");
  assert_string_equal(js("j.clear('nope')"),
                      "ERR: TypeError: CookieJar.clear(url): 'nope' is not an absolute http:// "
                      "or https:// URL");
  assert_string_equal(js("j.cookiesForURL()"),
                      "ERR: TypeError: CookieJar.cookiesForURL(url): 'undefined' is not an "
                      "absolute http:// or https:// URL");
  assert_string_equal(js("http.CookieJar.prototype.set.call({}, 'http://h.com/', 'a', '1')"),
                      "ERR: TypeError: CookieJar.set(): 'this' is not a CookieJar");
}

static void test_new_jar_is_independent(void **state) {
  assert_string_equal(
      js("var a = new http.CookieJar(), b = new http.CookieJar();"
         "a.set('http://h.com/', 'only_a', '1');"
         "http.cookieJar().set('http://h.com/', 'vu', '1');"
         "[a !== b, a instanceof http.CookieJar,"
         " JSON.stringify(a.cookiesForURL('http://h.com/')),"
         " JSON.stringify(b.cookiesForURL('http://h.com/')),"
         " JSON.stringify(http.cookieJar().cookiesForURL('http://h.com/'))].join(' ')"),
      "true true {\"only_a\":[\"1\"]} {} {\"vu\":[\"1\"]}");
  /* jar_at() sees both kinds, and nothing else */
  duk_peval_string(ctx, "a");
  sb_cookiejar *ja = sb_js_cookies_jar_at(ctx, -1);
  duk_pop(ctx);
  duk_peval_string(ctx, "http.cookieJar()");
  sb_cookiejar *jv = sb_js_cookies_jar_at(ctx, -1);
  duk_pop(ctx);
  duk_peval_string(ctx, "({})");
  assert_null(sb_js_cookies_jar_at(ctx, -1));
  duk_pop(ctx);
  duk_push_undefined(ctx);
  assert_null(sb_js_cookies_jar_at(ctx, -1));
  duk_pop(ctx);
  assert_non_null(ja);
  assert_ptr_not_equal(ja, jv);
  assert_ptr_equal(jv, sb_js_cookies_vu_jar(ctx));
  assert_int_equal(duk_get_top(ctx), 0);
}

static void test_reset_empties_the_vu_jar(void **state) {
  sb_js_cookies_reset(ctx); /* before any jar exists: nothing to do */
  assert_string_equal(js("var j = http.cookieJar(); j.set('http://h.com/', 'a', '1');"
                         "var mine = new http.CookieJar(); mine.set('http://h.com/', 'm', '1');"
                         "JSON.stringify(j.cookiesForURL('http://h.com/'))"),
                      "{\"a\":[\"1\"]}");
  sb_js_cookies_reset(ctx);
  assert_string_equal(js("JSON.stringify(http.cookieJar().cookiesForURL('http://h.com/'))"), "{}");
  assert_string_equal(js("http.cookieJar() === j"), "true");
  assert_string_equal(js("JSON.stringify(mine.cookiesForURL('http://h.com/'))"), "{\"m\":[\"1\"]}");
  assert_int_equal(duk_get_top(ctx), 0);
}

static void test_init_context(void **state) {
  fake_vu = 1;
  assert_string_equal(js("http.cookieJar()"), "ERR: Error: cookieJar(): Making cookie jars in "
                                              "the init context is not supported");
  assert_string_equal(js("typeof new http.CookieJar()"), "object");
  fake_busy = 1;
  assert_string_equal(js("typeof http.cookieJar()"), "object");
}

static void test_odd_names(void **state) {
  assert_string_equal(js("var j = new http.CookieJar();"
                         "j.set('http://h.com/', '__proto__', 'p');"
                         "j.set('http://h.com/', 'constructor', 'c');"
                         "var r = j.cookiesForURL('http://h.com/');"
                         "Object.keys(r).join(',') + ' ' + r.__proto__[0] + ' ' + "
                         "(Object.getPrototypeOf(r) === Object.prototype)"),
                      "__proto__,constructor p true");
}

/* Many jars, and one seen through a prototype: each freed exactly once (ASan checks). */
static void test_finalizers(void **state) {
  assert_string_equal(js("for (var i = 0; i < 500; i++)"
                         "  new http.CookieJar().set('http://h.com/', 'n' + i, 'v');"
                         "var base = new http.CookieJar(); base.set('http://h.com/', 'b', '1');"
                         "var derived = Object.create(base); derived = null;"
                         "JSON.stringify(base.cookiesForURL('http://h.com/'))"),
                      "{\"b\":[\"1\"]}");
  duk_gc(ctx, 0);
  duk_gc(ctx, 0);
  assert_string_equal(js("JSON.stringify(base.cookiesForURL('http://h.com/'))"), "{\"b\":[\"1\"]}");
  assert_string_equal(js("base = null; Object.setPrototypeOf(http.cookieJar(), null); 1"), "1");
  duk_gc(ctx, 0);
}

/* --- requests and responses ----------------------------------------------------------------- */

typedef struct hdr_call {
  const char *params; /* JS expression for params.cookies */
  sb_cookiejar *jar;
  const char *url;
  sb_buf out;
  int n;
} hdr_call;

static duk_ret_t call_header(duk_context *c, void *ud) {
  hdr_call *h = ud;
  duk_eval_string(c, h->params); /* -> [ cookies ] */
  h->n = sb_js_cookies_request_header(c, -1, h->jar, h->url, &h->out);
  if (duk_get_top(c) != 1) h->n = -100; /* the stack must be left as it was */
  return 0;
}

/* The Cookie header (a static buffer) for |params| and |jar|, or "ERR: ...". */
static const char *req_header(const char *params, sb_cookiejar *jar, const char *url, int *n) {
  static char s[1024];
  hdr_call h = {params, jar, url, {0}, 0};
  sb_buf_init(&h.out);
  if (duk_safe_call(ctx, call_header, &h, 0, 1) != DUK_EXEC_SUCCESS)
    snprintf(s, sizeof(s), "ERR: %s", duk_safe_to_string(ctx, -1));
  else
    snprintf(s, sizeof(s), "%s", h.out.data ? h.out.data : "");
  duk_pop(ctx);
  sb_buf_clear(&h.out);
  if (n) *n = h.n;
  return s;
}

static void test_request_header(void **state) {
  int n;
  sb_cookiejar *jar = sb_js_cookies_vu_jar(ctx);
  assert_string_equal(js("http.cookieJar().set('http://h.com/', 'a', '1');"
                         "http.cookieJar().set('http://h.com/', 'b', '2'); 1"),
                      "1");
  assert_string_equal(req_header("undefined", jar, "http://h.com/x", &n), "a=1; b=2");
  assert_int_equal(n, 2);
  assert_string_equal(req_header("({ b: { value: 'B', replace: true }, c: 'C',"
                                 "   a: { value: 'A2' }, skip: null, n: 5 })",
                                 jar, "http://h.com/", &n),
                      "b=B; c=C; a=A2; n=5; a=1");
  assert_int_equal(n, 5);
  assert_string_equal(req_header("({ sp: 'hello world', obj: {} })", NULL, "nope", &n),
                      "sp=\"hello world\"; obj=");
  assert_int_equal(n, 2);
  assert_string_equal(req_header("null", jar, "http://other.com/", &n), "");
  assert_int_equal(n, 0);
  assert_string_equal(req_header("({})", jar, "nope", &n),
                      "ERR: TypeError: k6/http: 'nope' is not an absolute http:// or https:// URL");
}

static const sb_http_header RES[] = {
    {"Set-Cookie", 10, "sid=1; Path=/; HttpOnly; Max-Age=0", 34},
    {"Content-Type", 12, "text/html", 9},
    {"set-cookie", 10, "sid=2; Domain=.x.com; Secure; Expires=Sun, 06 Nov 1994 08:49:37 GMT", 67},
    {"Set-Cookie", 10, "bad", 3},
    {"SET-COOKIE", 10, "theme=dark; Max-Age=3600; SameSite=Lax", 38},
};

static void test_response_cookies(void **state) {
  sb_js_cookies_push_response_cookies(ctx, RES, sizeof(RES) / sizeof(RES[0]));
  duk_put_global_string(ctx, "rc");
  assert_string_equal(js("JSON.stringify(rc)"),
                      "{\"sid\":[{\"name\":\"sid\",\"value\":\"1\",\"domain\":\"\",\"path\":\"/\","
                      "\"http_only\":true,\"secure\":false,\"max_age\":-1,\"expires\":0},"
                      "{\"name\":\"sid\",\"value\":\"2\",\"domain\":\".x.com\",\"path\":\"\","
                      "\"http_only\":false,\"secure\":true,\"max_age\":0,"
                      "\"expires\":784111777000}],"
                      "\"theme\":[{\"name\":\"theme\",\"value\":\"dark\",\"domain\":\"\","
                      "\"path\":\"\",\"http_only\":false,\"secure\":false,\"max_age\":3600,"
                      "\"expires\":0}]}");
  sb_js_cookies_push_response_cookies(ctx, RES + 1, 1);
  assert_string_equal(duk_json_encode(ctx, -1), "{}");
  duk_pop(ctx);
  assert_int_equal(duk_get_top(ctx), 0);
}

static void test_store_response(void **state) {
  sb_cookiejar *jar = sb_js_cookies_vu_jar(ctx);
  assert_int_equal(
      sb_js_cookies_store_response(jar, "https://www.x.com/a/b", RES, sizeof(RES) / sizeof(RES[0])),
      3); /* sid=1 and the expired sid=2 delete, "bad" is malformed */
  assert_string_equal(js("JSON.stringify(http.cookieJar().cookiesForURL('https://www.x.com/a/'))"),
                      "{\"theme\":[\"dark\"]}");
  assert_string_equal(js("JSON.stringify(http.cookieJar().cookiesForURL('https://www.x.com/b'))"),
                      "{}");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_set_then_cookies_for_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_and_clear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_jar_is_independent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_empties_the_vu_jar, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_odd_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_finalizers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_header, setup, teardown),
      cmocka_unit_test_setup_teardown(test_response_cookies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_response, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
