/* k6/http bodies and URL arguments on a plain Duktape heap: http.file(), http.url``, form and
 * multipart encoding (the multipart output parsed back), binary and string bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/js_http_body.h"

static duk_context *ctx;
static sb_buf out, ctype;

static int setup(void **state) {
  ctx = duk_create_heap_default();
  duk_push_global_object(ctx);
  duk_push_object(ctx);
  sb_js_http_body_push_api(ctx);
  duk_put_prop_literal(ctx, -2, "http");
  duk_pop(ctx);
  sb_buf_init(&out), sb_buf_init(&ctype);
  return 0;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx);
  sb_buf_clear(&out), sb_buf_clear(&ctype);
  return 0;
}

/* Evaluates |js| and leaves its value on the stack; fails the test on an exception. */
static void eval(const char *js) {
  if (duk_peval_string(ctx, js) != 0) fail_msg("%s: %s", js, duk_safe_to_string(ctx, -1));
}

/* Evaluates |js|, which must throw; checks the message. */
static void eval_throws(const char *js, const char *msg) {
  assert_int_not_equal(duk_peval_string(ctx, js), 0);
  const char *m = duk_safe_to_string(ctx, -1);
  if (!strstr(m, msg)) fail_msg("%s: '%s' lacks '%s'", js, m, msg);
  duk_pop(ctx);
}

static const char *eval_str(const char *js) {
  eval(js);
  static char buf[512];
  snprintf(buf, sizeof(buf), "%s", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return buf;
}

/* Encodes the body |js| evaluates to; returns the code (the text in |out|, type in |ctype|). */
static int encode(const char *js, sb_err *err) {
  eval(js);
  int rc = sb_js_http_body_encode(ctx, -1, &out, &ctype, err);
  duk_pop(ctx);
  return rc;
}

static void expect_form(const char *js, const char *want) {
  sb_err err = {{0}};
  assert_int_equal(encode(js, &err), 1);
  if (strcmp(out.data, want) != 0) fail_msg("%s\n got %s\nwant %s", js, out.data, want);
  assert_string_equal(ctype.data, "application/x-www-form-urlencoded");
}

static void test_file(void **state) {
  assert_string_equal(eval_str("var f = http.file('abc'); f.data + '|' + f.content_type"),
                      "abc|application/octet-stream");
  const char *name = eval_str("f.filename");
  assert_true(strlen(name) >= 19); /* Unix time in nanoseconds */
  assert_int_equal(strspn(name, "0123456789"), strlen(name));
  assert_string_equal(eval_str("f = http.file(new Uint8Array([1, 2]).buffer, 'a.bin', 'image/png');"
                               "[f.data.byteLength, f.filename, f.content_type].join()"),
                      "2,a.bin,image/png");
  assert_string_equal(eval_str("f = http.file('x', undefined, 'text/plain');"
                               "/^\\d+$/.test(f.filename) + f.content_type"),
                      "truetext/plain");
  assert_string_equal(eval_str("Object.keys(http.file('x', 'n')).join()"),
                      "data,filename,content_type");
  eval_throws("http.file(42)", "invalid type number, expected string, []byte or ArrayBuffer");
  eval_throws("http.file()", "invalid type");
  eval("http.file('x')");
  assert_true(sb_js_http_is_file(ctx, -1));
  duk_pop(ctx);
  eval("({data: 'x', filename: 'f', content_type: 't'})"); /* a look-alike is not a file */
  assert_false(sb_js_http_is_file(ctx, -1));
  duk_pop(ctx);
}

/* Babel turns http.url`http://x/posts/${id}` into http.url(["http://x/posts/", ""], id). */
static void test_url_template(void **state) {
  eval("var u = http.url(['http://x/posts/', '/c?q=', ''], 42, 'a b')");
  duk_pop(ctx);
  assert_string_equal(eval_str("u.url"), "http://x/posts/42/c?q=a b");
  assert_string_equal(eval_str("u.name"), "http://x/posts/${}/c?q=${}");
  assert_string_equal(eval_str("u.clean_url"), "http://x/posts/42/c?q=a b");
  assert_string_equal(eval_str("u.url = 'changed'; u.url"), "http://x/posts/42/c?q=a b");
  assert_string_equal(eval_str("Object.keys(u).join()"), "url,name,clean_url");
  /* credentials: masked in clean_url, and in the name when nothing was substituted (k6) */
  assert_string_equal(eval_str("u = http.url(['http://me:pw@x/', ''], 'a'); u.name + ' ' + "
                               "u.clean_url"),
                      "http://me:pw@x/${} http://****:****@x/a");
  assert_string_equal(eval_str("u = http.url(['http://me:pw@x/']); u.name + ' ' + u.url"),
                      "http://****:****@x/ http://me:pw@x/");
  assert_string_equal(eval_str("http.url(['ftp://x/', ''], 1).url"), "ftp://x/1");
  assert_string_equal(eval_str("http.url('http://x/').name"), "http://x/");
  eval_throws("http.url(['http://a b/', ''], 1)", "invalid URL: parse \"http://a b/1\": invalid "
                                                  "character \" \" in host name");
  eval_throws("http.url(['http://x:port/'])", "invalid URL");
  eval_throws("http.url()", "tagged template");
}

static void test_url_arg(void **state) {
  const char *url = NULL, *name = "x";
  eval("'http://plain/'");
  assert_int_equal(sb_js_http_url_arg(ctx, -1, &url, &name), 0);
  assert_string_equal(url, "http://plain/");
  assert_null(name);
  duk_pop(ctx);
  eval("http.url(['http://x/', '/y'], 7)");
  assert_int_equal(sb_js_http_url_arg(ctx, -1, &url, &name), 0);
  duk_gc(ctx, 0); /* the strings are held by the frozen object */
  assert_string_equal(url, "http://x/7/y");
  assert_string_equal(name, "http://x/${}/y");
  duk_pop(ctx);
  const char *bad[] = {"({url: 'http://x/', name: 'n'})", "42", "undefined", "http.file('x')",
                       "Symbol('http://x/')"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    eval(bad[i]);
    assert_int_equal(sb_js_http_url_arg(ctx, -1, &url, &name), SB_EINVAL);
    duk_pop(ctx);
  }
}

static void test_form(void **state) {
  expect_form("({b: '2', a: 'x y&z=\\u00e9/~-_.'})", "a=x+y%26z%3D%C3%A9%2F~-_.&b=2");
  expect_form("({z: 1, a: [1, 2], m: [], 'k y': ['s p']})", "a=1&a=2&k+y=s+p&z=1");
  expect_form("({2: 'b', 10: 'a', B: 1, a: 2})", "10=a&2=b&B=1&a=2"); /* bytewise, like Go */
  expect_form("({})", "");
  /* values as Go's %v prints what goja exports */
  expect_form("({n: null, u: undefined, t: true, f: 1.5, i: 42, s: 1e-7, big: 1234567.5, "
              "neg: -0, arr: [[1, 'x'], {k: 1}], o: {z: 1, a: [1, 2], m: {q: null}}})",
              "arr=%5B1+x%5D&arr=map%5Bk%3A1%5D&big=1.2345675e%2B06&f=1.5&i=42&n=%3Cnil%3E"
              "&neg=-0&o=map%5Ba%3A%5B1+2%5D+m%3Amap%5Bq%3A%3Cnil%3E%5D+z%3A1%5D&s=1e-07&t=true"
              "&u=%3Cnil%3E");
  expect_form("({a: 1e21, b: 0.1, c: 100000.5, d: 1/0, e: NaN, f: -2.5e-5, g: 123456})",
              "a=1e%2B21&b=0.1&c=100000.5&d=%2BInf&e=NaN&f=-2.5e-05&g=123456");
  /* surrogate pairs become UTF-8; a lone surrogate U+FFFD */
  expect_form("({e: '\\ud83d\\ude00', l: '\\ud83d!'})", "e=%F0%9F%98%80&l=%EF%BF%BD%21");
  /* a file inside an array does not make a multipart body (k6 looks at top-level values) */
  expect_form("({f: [http.file('ab', 'n', 't')]})", "f=%7B%5B97+98%5D+n+t%7D");
  /* the same buffers serve the next body without growing */
  expect_form("({a: 'b'})", "a=b");
  expect_form("({s: Symbol('q')})", "s=%3Csymbol%3E");
}

typedef struct part {
  char head[512];
  const char *data;
  size_t len;
} part;

/* Parses a multipart/form-data body as RFC 7578 frames it. Returns the number of parts, or -1. */
static int parse_multipart(const char *body, size_t len, const char *boundary, part *parts,
                           int max) {
  char delim[128];
  int dn = snprintf(delim, sizeof(delim), "\r\n--%s", boundary), n = 0;
  const char *p = body, *end = body + len;
  if ((size_t)len < (size_t)dn || memcmp(p, delim + 2, (size_t)dn - 2) != 0) return -1;
  p += dn - 2;
  for (;;) {
    if (end - p >= 4 && memcmp(p, "--\r\n", 4) == 0) return p + 4 == end ? n : -1;
    if (end - p < 2 || memcmp(p, "\r\n", 2) != 0 || n == max) return -1;
    p += 2;
    const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!hend || hend - p >= (long)sizeof(parts[n].head)) return -1;
    snprintf(parts[n].head, sizeof(parts[n].head), "%.*s", (int)(hend - p), p);
    parts[n].data = hend + 4;
    const char *next = memmem(parts[n].data, (size_t)(end - parts[n].data), delim, (size_t)dn);
    if (!next) return -1;
    parts[n].len = (size_t)(next - parts[n].data);
    p = next + dn;
    n++;
  }
}

static const char *boundary_of(const char *ct) {
  const char *prefix = "multipart/form-data; boundary=";
  assert_memory_equal(ct, prefix, strlen(prefix));
  const char *b = ct + strlen(prefix);
  assert_int_equal(strlen(b), 60);
  assert_int_equal(strspn(b, "0123456789abcdef"), 60);
  return b;
}

static void test_multipart(void **state) {
  sb_err err = {{0}};
  assert_int_equal(encode("({field: 'v\\u00e9', file: http.file('hello', 'h.txt', 'text/plain'),"
                          " bin: http.file(new Uint8Array([0, 13, 10, 45, 45, 255]).buffer, "
                          "'a\"b\\\\c.bin'), n: [1, 2], o: {x: null}})",
                          &err),
                   1);
  part parts[8];
  int n = parse_multipart(out.data, out.len, boundary_of(ctype.data), parts, 8);
  assert_int_equal(n, 5); /* insertion order */
  assert_string_equal(parts[0].head, "Content-Disposition: form-data; name=\"field\"");
  assert_int_equal(parts[0].len, 3);
  assert_memory_equal(parts[0].data, "v\xc3\xa9", 3);
  assert_string_equal(parts[1].head, "Content-Disposition: form-data; name=\"file\"; "
                                     "filename=\"h.txt\"\r\nContent-Type: text/plain");
  assert_int_equal(parts[1].len, 5);
  assert_memory_equal(parts[1].data, "hello", 5);
  assert_string_equal(parts[2].head, "Content-Disposition: form-data; name=\"bin\"; "
                                     "filename=\"a\\\"b\\\\c.bin\"\r\n"
                                     "Content-Type: application/octet-stream");
  assert_int_equal(parts[2].len, 6);
  assert_memory_equal(parts[2].data, "\0\r\n--\xff", 6);
  assert_string_equal(parts[3].head, "Content-Disposition: form-data; name=\"n\"");
  assert_int_equal(parts[3].len, 5); /* arrays are not repeated in multipart bodies (k6) */
  assert_memory_equal(parts[3].data, "[1 2]", 5);
  assert_int_equal(parts[4].len, 12);
  assert_memory_equal(parts[4].data, "map[x:<nil>]", 12);
  /* the framing byte for byte, as Go's multipart.Writer writes it */
  char want[512];
  const char *b = boundary_of(ctype.data);
  assert_int_equal(encode("({k: http.file('d', 'f', 't')})", &err), 1);
  b = boundary_of(ctype.data);
  snprintf(want, sizeof(want),
           "--%s\r\nContent-Disposition: form-data; name=\"k\"; filename=\"f\"\r\n"
           "Content-Type: t\r\n\r\nd\r\n--%s--\r\n",
           b, b);
  assert_string_equal(out.data, want);
  /* a fresh boundary each time */
  char first[61];
  snprintf(first, sizeof(first), "%s", b);
  assert_int_equal(encode("({k: http.file('d')})", &err), 1);
  assert_string_not_equal(first, boundary_of(ctype.data));
}

static void test_binary_and_strings(void **state) {
  const char *data;
  size_t len;
  sb_err err = {{0}};
  eval("new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)");
  assert_int_equal(sb_js_http_body_view(ctx, -1, &data, &len, &out, &ctype, &err), 1);
  duk_size_t n;
  assert_ptr_equal(data, duk_get_buffer_data(ctx, -1, &n)); /* no copy */
  assert_int_equal(len, 3);
  assert_memory_equal(data, "\1\2\3", 3);
  assert_int_equal(ctype.len, 0);
  duk_pop(ctx);
  const char *bufs[] = {"new Uint8Array([1, 2, 3]).buffer",
                        "new DataView(new Uint8Array([1, 2, 3]).buffer)",
                        "var p = Uint8Array.allocPlain(3); p[0] = 1; p[1] = 2; p[2] = 3; p"};
  for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
    assert_int_equal(encode(bufs[i], &err), 1);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\1\2\3", 3);
  }
  eval("'plain \\u00e9'");
  assert_int_equal(sb_js_http_body_view(ctx, -1, &data, &len, &out, &ctype, &err), 1);
  assert_ptr_equal(data, duk_get_string(ctx, -1)); /* no copy */
  assert_int_equal(len, 8);
  duk_pop(ctx);
  assert_int_equal(encode("'a\\ud83d\\ude00b'", &err), 1);
  assert_string_equal(out.data, "a\xf0\x9f\x98\x80"
                                "b");
  assert_int_equal(encode("''", &err), 1);
  assert_int_equal(out.len, 0);
  assert_int_equal(encode("undefined", &err), 0);
  assert_int_equal(encode("null", &err), 0);
  assert_int_equal(out.len, 0);
}

static void test_refused(void **state) {
  const char *cases[][2] = {{"42", "number"},
                            {"true", "boolean"},
                            {"[1, 2]", "array"},
                            {"(function () {})", "function"},
                            {"http.file('x')", "http.file()"},
                            {"http.url(['http://x/'])", "http.url``"},
                            {"Symbol('s')", "symbol"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sb_err err = {{0}};
    assert_int_equal(encode(cases[i][0], &err), SB_EINVAL);
    char want[64];
    snprintf(want, sizeof(want), "unknown request body type %s", cases[i][1]);
    assert_string_equal(err.msg, want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_url_template, setup, teardown),
      cmocka_unit_test_setup_teardown(test_url_arg, setup, teardown),
      cmocka_unit_test_setup_teardown(test_form, setup, teardown),
      cmocka_unit_test_setup_teardown(test_multipart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary_and_strings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
