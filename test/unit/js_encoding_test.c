/* k6/encoding on a plain Duktape heap: RFC 4648's base64 vectors in the four variants, binary
 * and Unicode inputs, Go's decoding rules (padding, newlines, the offset of a bad byte), string
 * and ArrayBuffer results, and the errors a script sees. The C codec is checked directly too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/js_modules.h"
#include "common/err.h"

static duk_context *ctx;

static int setup(void **state) {
  ctx = duk_create_heap_default();
  sb_js_encoding_push(ctx);
  duk_put_global_string(ctx, "encoding");
  return 0;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx);
  return 0;
}

#include "duk_eval.h"

/* RFC 4648 section 10, in all four variants. */
static void test_rfc4648_vectors(void **state) {
  static const char *const v[][3] = {
      {"", "", ""},
      {"f", "Zg==", "Zg"},
      {"fo", "Zm8=", "Zm8"},
      {"foo", "Zm9v", "Zm9v"},
      {"foob", "Zm9vYg==", "Zm9vYg"},
      {"fooba", "Zm9vYmE=", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
  };
  char js[256];
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    snprintf(js, sizeof(js), "encoding.b64encode('%s')", v[i][0]);
    expect(js, v[i][1]);
    snprintf(js, sizeof(js), "encoding.b64encode('%s', 'std')", v[i][0]);
    expect(js, v[i][1]);
    snprintf(js, sizeof(js), "encoding.b64encode('%s', 'url')", v[i][0]);
    expect(js, v[i][1]);
    snprintf(js, sizeof(js), "encoding.b64encode('%s', 'rawstd')", v[i][0]);
    expect(js, v[i][2]);
    snprintf(js, sizeof(js), "encoding.b64encode('%s', 'rawurl')", v[i][0]);
    expect(js, v[i][2]);
    snprintf(js, sizeof(js), "encoding.b64decode('%s', 'std', 's')", v[i][1]);
    expect(js, v[i][0]);
    snprintf(js, sizeof(js), "encoding.b64decode('%s', 'rawurl', 's')", v[i][2]);
    expect(js, v[i][0]);
  }
}

/* The two alphabets differ in 62 and 63: bytes fb ff make "+/8=" and "-_8=". */
static void test_alphabets(void **state) {
  expect("var b = new Uint8Array([0xfb, 0xff]).buffer; encoding.b64encode(b)", "+/8=");
  expect("encoding.b64encode(b, 'rawstd')", "+/8");
  expect("encoding.b64encode(b, 'url')", "-_8=");
  expect("encoding.b64encode(b, 'rawurl')", "-_8");
  expect("encoding.b64encode(b, 'no such')", "+/8="); /* k6: any other name is std */
  expect("Array.prototype.join.call(new Uint8Array(encoding.b64decode('-_8=', 'url')))", "251,255");
}

static void test_binary_inputs(void **state) {
  expect("var u = new Uint8Array([104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]);"
         "encoding.b64encode(u.buffer)",
         "aGVsbG8gd29ybGQ=");                              /* k6's doc example */
  expect("encoding.b64encode(u)", "aGVsbG8gd29ybGQ=");     /* typed array */
  expect("encoding.b64encode(u.subarray(6))", "d29ybGQ="); /* a view: its bytes only */
  expect("encoding.b64encode(new DataView(u.buffer, 0, 5))", "aGVsbG8=");
  expect("encoding.b64encode(new ArrayBuffer(0))", "");
  expect("encoding.b64encode(new Uint8Array([0, 0, 0, 255]).buffer)", "AAAA/w==");
}

/* Strings are hashed and encoded as UTF-8, as Go sees a JS string. */
static void test_unicode(void **state) {
  expect("encoding.b64encode('\\u00e9')", "w6k=");
  expect("encoding.b64encode('\\ud83d\\ude00')", "8J+YgA=="); /* U+1F600: one 4-byte sequence */
  expect("encoding.b64encode('\\ud800')", "77+9");            /* lone surrogate: U+FFFD */
  expect("encoding.b64encode('a\\ud83d\\ude00b\\udc00')", "YfCfmIBi77+9");
  expect("var s = encoding.b64decode('8J+YgA==', 'std', 's'); s.length + ' ' + s.charCodeAt(0)"
         " + ' ' + (s === '\\ud83d\\ude00')",
         "2 55357 true");
  expect("encoding.b64decode('w6k=', 'std', 's') === '\\u00e9'", "true");
  /* invalid UTF-8 (a stray continuation byte, a cut sequence): one U+FFFD per bad byte */
  expect("var s = encoding.b64decode(encoding.b64encode(new Uint8Array([0x61, 0x80, 0xe2, 0x82])"
         ".buffer), 'std', 's'); escape(s)",
         "a%uFFFD%uFFFD%uFFFD");
  expect("escape(encoding.b64decode(encoding.b64encode(new Uint8Array([0xed, 0xa0, 0x80])"
         ".buffer), 'std', 's'))",
         "%uFFFD%uFFFD%uFFFD"); /* an encoded surrogate is not UTF-8 */
}

static void test_decode_results(void **state) {
  expect("var ab = encoding.b64decode('aGVsbG8gd29ybGQ='); Object.prototype.toString.call(ab)",
         "[object ArrayBuffer]");
  expect("ab.byteLength", "11");
  expect("String.fromCharCode.apply(null, new Uint8Array(ab))", "hello world");
  expect("encoding.b64decode('aGVsbG8gd29ybGQ=', 'std', 'x').byteLength", "11");
  expect("encoding.b64decode('', 'std', 's')", "");
  expect("encoding.b64decode('').byteLength", "0");
  expect("encoding.b64decode('aGVs\\r\\nbG8=', 'std', 's')", "hello"); /* newlines skipped */
  expect("encoding.b64decode('Zh==', 'std', 's')", "f"); /* non-zero trailing bits: accepted */
  expect("encoding.b64decode(new Uint8Array([0x5a, 0x67, 0x3d, 0x3d]), 'std', 's')", "f");
}

static void test_large(void **state) {
  expect("var big = new Uint8Array(3000); for (var i = 0; i < big.length; i++) big[i] = i * 7;"
         "var e = encoding.b64encode(big.buffer); e.length",
         "4000");
  expect("var d = new Uint8Array(encoding.b64decode(e)); var ok = d.length === 3000;"
         "for (i = 0; i < d.length; i++) ok = ok && d[i] === (i * 7 & 255); ok",
         "true");
  expect("encoding.b64encode(big.buffer, 'rawurl') === e.replace(/\\+/g, '-').replace(/\\//g, "
         "'_').replace(/=+$/, '')",
         "true");
}

static void test_decode_errors(void **state) {
  expect_throw("encoding.b64decode('Zm9v!')", "b64decode: illegal base64 data at input byte 4");
  expect_throw("encoding.b64decode('Zg')", "at input byte 0"); /* padding missing */
  expect_throw("encoding.b64decode('+/8')", "at input byte 0");
  expect_throw("encoding.b64decode('Zg=')", "at input byte 3"); /* one '=' of two */
  expect_throw("encoding.b64decode('Zg=x')", "at input byte 2");
  expect_throw("encoding.b64decode('Z===')", "at input byte 1");
  expect_throw("encoding.b64decode('Zg==Zg==')", "at input byte 4"); /* data after padding */
  expect_throw("encoding.b64decode('Zg==', 'rawstd')", "at input byte 2");
  expect_throw("encoding.b64decode('Z', 'rawstd')", "at input byte 0");
  expect_throw("encoding.b64decode('Zm9vY', 'rawurl')", "at input byte 4");
  expect_throw("encoding.b64decode('-_8=')", "at input byte 0"); /* url alphabet under std */
  expect_throw("encoding.b64decode('+/8=', 'url')", "at input byte 0");
  expect_throw("encoding.b64decode('a b=')", "at input byte 1");
}

static void test_type_errors(void **state) {
  expect_throw("encoding.b64encode(123)",
               "TypeError: b64encode: input must be a string or ArrayBuffer (got number)");
  expect_throw("encoding.b64encode()", "(got undefined)");
  expect_throw("encoding.b64encode(null)", "(got null)");
  expect_throw("encoding.b64encode({})", "(got object)");
  expect_throw("encoding.b64encode([1, 2])", "(got array)");
  expect_throw("encoding.b64decode(42)", "b64decode: input must be a string or ArrayBuffer");
}

/* The C codec on its own: lengths and every partial quantum. */
static void test_c_codec(void **state) {
  uint8_t in[5] = {0xde, 0xad, 0xbe, 0xef, 0x01}, out[16];
  char enc[16];
  size_t n, bad = 99;
  for (size_t len = 0; len <= 5; len++) {
    for (int v = SB_B64_STD; v <= SB_B64_RAWURL; v++) {
      size_t e = sb_b64_encode(enc, in, len, (sb_b64_variant)v);
      assert_int_equal(e, sb_b64_encoded_len(len, (sb_b64_variant)v));
      assert_int_equal(sb_b64_decode(out, &n, enc, e, (sb_b64_variant)v, &bad), 0);
      assert_int_equal(n, len);
      assert_memory_equal(out, in, len);
    }
  }
  assert_int_equal(sb_b64_encoded_len(4, SB_B64_STD), 8);
  assert_int_equal(sb_b64_encoded_len(4, SB_B64_RAWURL), 6);
  assert_int_equal(sb_b64_decode(out, &n, "3q2+7w=", 7, SB_B64_STD, &bad), SB_EFORMAT);
  assert_int_equal(bad, 7);
  assert_int_equal(sb_b64_variant_of(NULL), SB_B64_STD);
  assert_int_equal(sb_b64_variant_of("rawurl"), SB_B64_RAWURL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_vectors), cmocka_unit_test(test_alphabets),
      cmocka_unit_test(test_binary_inputs),   cmocka_unit_test(test_unicode),
      cmocka_unit_test(test_decode_results),  cmocka_unit_test(test_large),
      cmocka_unit_test(test_decode_errors),   cmocka_unit_test(test_type_errors),
      cmocka_unit_test(test_c_codec),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
