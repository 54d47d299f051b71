/* k6/crypto on a plain Duktape heap: every algorithm against its published vector ("abc" from
 * RFC 1320/1321, FIPS 180 and the RIPEMD-160 paper), HMAC against RFC 4231 (SHA-256) and
 * RFC 2286 (RIPEMD-160), the output encodings, binary and Unicode inputs, incremental Hashers
 * (digest twice, update after digest), their finalizers (run under ASan, a leak or a double
 * free fails), random bytes, and the errors a script sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/js_modules.h"

static duk_context *ctx;

static int setup(void **state) {
  ctx = duk_create_heap_default();
  sb_js_crypto_push(ctx);
  duk_put_global_string(ctx, "crypto");
  sb_js_encoding_push(ctx);
  duk_put_global_string(ctx, "encoding");
  return 0;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx);
  return 0;
}

#include "duk_eval.h"

static const char *const ABC[][2] = {
    {"md4", "a448017aaf21d8525fc10ae87aa6729d"},
    {"md5", "900150983cd24fb0d6963f7d28e17f72"},
    {"sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"sha384", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358"
               "baeca134c825a7"},
    {"sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
               "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    {"sha512_224", "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa"},
    {"sha512_256", "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"},
    {"ripemd160", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"},
};

/* Each function and createHash() over "abc", as a string and as bytes. */
static void test_digest_vectors(void **state) {
  char js[256];
  for (size_t i = 0; i < sizeof(ABC) / sizeof(ABC[0]); i++) {
    snprintf(js, sizeof(js), "crypto.%s('abc', 'hex')", ABC[i][0]);
    expect(js, ABC[i][1]);
    snprintf(js, sizeof(js), "crypto.%s(new Uint8Array([97, 98, 99]).buffer, 'hex')", ABC[i][0]);
    expect(js, ABC[i][1]);
    snprintf(js, sizeof(js),
             "var h = crypto.createHash('%s'); h.update('a'); h.update('bc');"
             "h.digest('hex')",
             ABC[i][0]);
    expect(js, ABC[i][1]);
  }
  expect("crypto.md4('', 'hex')", "31d6cfe0d16ae931b73c59d7e0c089c0");
  expect("crypto.md5('', 'hex')", "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_output_encodings(void **state) {
  expect("crypto.sha256('abc', 'base64')", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  expect("crypto.sha256('abc', 'base64url')", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
  expect("crypto.sha256('abc', 'base64rawurl')", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  expect("var b = crypto.sha256('abc', 'binary'); Object.prototype.toString.call(b) + ' ' +"
         "b.byteLength + ' ' + new Uint8Array(b)[0] + ' ' + new Uint8Array(b)[31]",
         "[object ArrayBuffer] 32 186 173");
  expect("crypto.hexEncode(crypto.md5('abc', 'binary'))", "900150983cd24fb0d6963f7d28e17f72");
}

static void test_inputs(void **state) {
  /* typed arrays and views hash their own bytes; strings hash as UTF-8 */
  expect("var u = new Uint8Array([120, 97, 98, 99, 120]); crypto.sha1(u.subarray(1, 4), 'hex')",
         "a9993e364706816aba3e25717850c26c9cd0d89d");
  expect("crypto.sha256('\\u00e9\\ud83d\\ude00', 'hex')",
         "1184d1f608158eea09d297565575892231550c403aaa913008d867a97cfd5c76");
  expect("crypto.sha256('\\ud800', 'hex') === crypto.sha256('\\ufffd', 'hex')", "true");
  expect("var s = ''; for (var i = 0; i < 1000; i++) s += 'abc'; crypto.sha1(s, 'hex')",
         "053b4dd5a9642608cc0b599e96f491154b37b2c6");
  expect("crypto.sha256(encoding.b64decode('YWJj'), 'hex')", ABC[3][1]);
}

static void test_hmac_vectors(void **state) {
  /* RFC 4231 test cases 1, 2 and 6 (key longer than the block) */
  expect("var k = new Uint8Array(20); for (var i = 0; i < 20; i++) k[i] = 0x0b;"
         "crypto.hmac('sha256', k.buffer, 'Hi There', 'hex')",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  expect("crypto.hmac('sha256', 'Jefe', 'what do ya want for nothing?', 'hex')",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  expect("var k6 = new Uint8Array(131); for (i = 0; i < 131; i++) k6[i] = 0xaa;"
         "crypto.hmac('sha256', k6.buffer, 'Test Using Larger Than Block-Size Key - Hash Key "
         "First', 'hex')",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  /* RFC 2286 test cases 1 and 2 (RIPEMD-160) */
  expect("crypto.hmac('ripemd160', k.buffer, 'Hi There', 'hex')",
         "24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668");
  expect("crypto.hmac('ripemd160', 'Jefe', 'what do ya want for nothing?', 'hex')",
         "dda6c0213a485a9e24f4742064a7f033b43c4069");
  /* MD4 (legacy provider), MD5, SHA-512 */
  expect("crypto.hmac('md4', 'Jefe', 'what do ya want for nothing?', 'hex')",
         "be192c588a8e914d8a59b474a828128f");
  expect("crypto.hmac('md5', 'key', 'The quick brown fox jumps over the lazy dog', 'hex')",
         "80070713463e7749b90c2dc24911e275");
  expect("crypto.hmac('sha512', 'key', 'The quick brown fox jumps over the lazy dog', 'hex')",
         "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948a549f7b791a5b4"
         "1915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a");
  expect("crypto.hmac('sha256', '', '', 'hex')",
         "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  /* k6's documentation examples */
  expect("crypto.hmac('sha256', 'mysecret', 'hello world!', 'hex')",
         "893a72d8cab129e5ba85aea4599fd53f59bfe652cff4098a3780313228d8c20f");
  expect("crypto.hmac('sha256', 'mysecret', new Uint8Array([104, 101, 108, 108, 111, 32, 119, "
         "111, 114, 108, 100, 33]).buffer, 'hex')",
         "893a72d8cab129e5ba85aea4599fd53f59bfe652cff4098a3780313228d8c20f");
}

static void test_hashers(void **state) {
  expect("var m = crypto.createHMAC('sha256', 'a secret'); m.update('my '); m.update('data');"
         "m.digest('hex')",
         "82f669c8fde13aef6d6977257588dc4953dfac505428f8fd6b52e19cd96d7ea5");
  /* digest() again gives the same; update() after digest() goes on from all data so far */
  expect("m.digest('hex')", "82f669c8fde13aef6d6977257588dc4953dfac505428f8fd6b52e19cd96d7ea5");
  expect("m.update('!'); m.digest('hex') === crypto.hmac('sha256', 'a secret', 'my data!', "
         "'hex')",
         "true");
  expect("var h = crypto.createHash('sha256'); h.digest('hex')",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  expect("h.update('ab'); h.digest('base64'); h.update(new Uint8Array([99])); h.digest('hex')",
         ABC[3][1]);
  expect("crypto.createHMAC('md4', 'Jefe').digest('hex') === crypto.hmac('md4', 'Jefe', '', "
         "'hex')",
         "true");
  /* an object inheriting from a Hasher works on the same state; collecting it first must not
   * free the Hasher's context (ASan would see a use after free) */
  expect("var g = crypto.createHash('md5'); (function () { var d = Object.create(g);"
         "d.update('abc'); })(); Duktape.gc(); g.digest('hex')",
         "900150983cd24fb0d6963f7d28e17f72");
}

/* Many Hashers dropped unfinished, some left alive at heap destruction: each context is freed
 * exactly once (checked by the ASan build). */
static void test_finalizers(void **state) {
  expect("for (var i = 0; i < 5000; i++) { var x = crypto.createHash('sha1'); x.update('x');"
         "var y = crypto.createHMAC('sha256', 'k'); y.update('y'); } Duktape.gc(); 'ok'",
         "ok");
  expect("var keep = [crypto.createHash('sha512'), crypto.createHMAC('md5', 'k')]; 'ok'", "ok");
}

static void test_random_bytes(void **state) {
  expect("var r = crypto.randomBytes(16); Object.prototype.toString.call(r) + r.byteLength",
         "[object ArrayBuffer]16");
  expect("crypto.hexEncode(crypto.randomBytes(32)) !== crypto.hexEncode(crypto.randomBytes(32))",
         "true");
  expect("crypto.randomBytes(1).byteLength", "1");
  expect_throw("crypto.randomBytes(0)", "randomBytes: invalid size 0");
  expect_throw("crypto.randomBytes(-1)", "invalid size -1");
  expect_throw("crypto.randomBytes()", "invalid size undefined");
}

static void test_hex_encode(void **state) {
  expect("crypto.hexEncode(new Uint8Array([0, 1, 171, 255]).buffer)", "0001abff");
  expect("crypto.hexEncode('AB')", "4142");
  expect("crypto.hexEncode(new ArrayBuffer(0))", "");
  expect("crypto.hexEncode(new Uint8Array(1000)).length", "2000");
}

static void test_errors(void **state) {
  expect_throw("crypto.sha256('abc')", "sha256: invalid output encoding 'undefined' (use hex");
  expect_throw("crypto.sha256('abc', 'HEX')", "invalid output encoding 'HEX'");
  expect_throw("crypto.md5(42, 'hex')", "TypeError: md5: input must be a string or ArrayBuffer");
  expect_throw("crypto.hmac('sha3', 'k', 'd', 'hex')", "hmac: invalid algorithm 'sha3' (use md4");
  expect_throw("crypto.hmac('sha256', null, 'd', 'hex')", "hmac: secret must be a string or");
  expect_throw("crypto.hmac('sha256', 'k', {}, 'hex')", "hmac: data must be a string or");
  expect_throw("crypto.hmac('sha256', 'k', 'd', 'bin')", "hmac: invalid output encoding 'bin'");
  expect_throw("crypto.createHash('whirlpool')", "createHash: invalid algorithm 'whirlpool'");
  expect_throw("crypto.createHash()", "createHash: invalid algorithm 'undefined'");
  expect_throw("crypto.createHMAC('sha1', 7)", "createHMAC: secret must be a string or");
  expect_throw("crypto.createHash('md5').update(1)", "Hasher.update: input must be a string");
  expect_throw("crypto.createHash('md5').digest('b64')", "Hasher.digest: invalid output");
  expect_throw("var p = Object.getPrototypeOf(crypto.createHash('md5')); p.update('x')",
               "Hasher.update: not a Hasher");
  expect_throw("p.digest.call({}, 'hex')", "Hasher.digest: not a Hasher");
}

/* Child mode of test_md4_without_legacy: OpenSSL cannot find its legacy provider, so md4 must
 * throw a clear error while every other algorithm still works. Exit status 0 when so. */
static int no_legacy_child(void) {
  setenv("OPENSSL_MODULES", "/nonexistent-ossl-modules", 1);
  setup(NULL);
  expect_throw("crypto.md4('abc', 'hex')",
               "md4: md4 is not available: OpenSSL 3 has it only in its "
               "legacy provider, which could not be loaded");
  expect_throw("crypto.hmac('md4', 'k', 'd', 'hex')", "hmac: md4 is not available");
  expect_throw("crypto.createHash('md4')", "createHash: md4 is not available");
  expect("crypto.sha256('abc', 'hex')", ABC[3][1]);
  expect("crypto.ripemd160('abc', 'hex')", ABC[8][1]);
  teardown(NULL);
  return 0;
}

/* Runs this binary again in child mode: the provider is loaded once per process, so the
 * missing-provider case needs a process of its own. */
static void test_md4_without_legacy(void **state) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl("/proc/self/exe", "js_crypto_test", "--no-legacy", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--no-legacy") == 0) return no_legacy_child();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digest_vectors), cmocka_unit_test(test_output_encodings),
      cmocka_unit_test(test_inputs),         cmocka_unit_test(test_hmac_vectors),
      cmocka_unit_test(test_hashers),        cmocka_unit_test(test_finalizers),
      cmocka_unit_test(test_random_bytes),   cmocka_unit_test(test_hex_encode),
      cmocka_unit_test(test_errors),         cmocka_unit_test(test_md4_without_legacy),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
