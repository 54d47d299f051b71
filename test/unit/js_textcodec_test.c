/* TextEncoder / TextDecoder on a plain Duktape heap: UTF-8 of 1 to 4 bytes, Duktape's surrogate
 * pairs and lone surrogates, round trips, the spec's U+FFFD counts for broken input, fatal mode,
 * BOMs, labels, views into a larger buffer, streaming, UTF-16 and encodeInto(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/js_textcodec.h"

static duk_context *ctx;

/* hex(bytes): "61 62"; codes(str): its UTF-16 units in hex; thrown(fn): "TypeError: ..." */
static const char HELPERS[] =
    "function hex(a) { return Array.prototype.map.call(a, function (b) {"
    "  return ('0' + b.toString(16)).slice(-2); }).join(' '); }"
    "function codes(s) { var r = []; for (var i = 0; i < s.length; i++)"
    "  r.push(s.charCodeAt(i).toString(16)); return r.join(' '); }"
    "function bytes() { return new Uint8Array(Array.prototype.slice.call(arguments)); }"
    "function thrown(f) { try { f(); return 'no error'; } catch (e) {"
    "  return e.name + (e instanceof TypeError ? '/T' : e instanceof RangeError ? '/R' : '') +"
    "  ': ' + e.message; } }"
    "var enc = new TextEncoder(), dec = new TextDecoder();";

static int setup(void **state) {
  ctx = duk_create_heap_default();
  sb_js_textcodec_register(ctx);
  if (duk_peval_string_noresult(ctx, HELPERS) != 0) return -1;
  return duk_get_top(ctx) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx);
  return 0;
}

#include "duk_eval.h"

/* |js| throws an error of class |cls| ("TypeError/T", "RangeError/R") whose text has |msg|. */
static void expect_class(const char *js, const char *cls, const char *msg) {
  char wrapped[1024];
  snprintf(wrapped, sizeof(wrapped), "thrown(function () { %s; })", js);
  const char *got = eval_str(wrapped);
  if (strncmp(got, cls, strlen(cls)) != 0 || !strstr(got, msg))
    fail_msg("%s\n got '%s'\nwant %s with '%s'", js, got, cls, msg);
}

static void test_encode_widths(void **state) {
  expect("enc.encoding", "utf-8");
  expect("hex(enc.encode('abc'))", "61 62 63");
  expect("enc.encode().length + ',' + enc.encode(undefined).length", "0,0");
  expect("hex(enc.encode(null))", "6e 75 6c 6c"); /* String(null) */
  expect("hex(enc.encode(12))", "31 32");
  expect("hex(enc.encode('\\u00e9'))", "c3 a9");              /* 2 bytes */
  expect("hex(enc.encode('\\u20ac'))", "e2 82 ac");           /* 3 bytes */
  expect("hex(enc.encode('\\uD83D\\uDE00'))", "f0 9f 98 80"); /* 4 bytes, from a pair */
  expect("hex(enc.encode('\\uDBFF\\uDFFF'))", "f4 8f bf bf"); /* U+10FFFF */
  expect("var u = enc.encode('x\\uD83D\\uDE00y');"
         "u.length + ',' + u.byteLength + ',' + u.buffer.byteLength",
         "6,6,6"); /* the buffer is exactly the UTF-8, not the CESU-8 length */
  expect("enc.encode('a') instanceof Uint8Array", "true");
  expect("enc.encode('a') !== enc.encode('a')", "true");
}

/* WHATWG: a lone surrogate is encoded as U+FFFD. */
static void test_encode_lone_surrogates(void **state) {
  expect("hex(enc.encode('\\uD800'))", "ef bf bd");
  expect("hex(enc.encode('a\\uDC00b'))", "61 ef bf bd 62");
  expect("hex(enc.encode('\\uDC00\\uD800'))", "ef bf bd ef bf bd"); /* reversed: no pair */
  expect("hex(enc.encode('\\uD800\\uD800\\uDC00'))", "ef bf bd f0 90 80 80");
  expect("hex(enc.encode('\\uD83D'))", "ef bf bd"); /* a high surrogate at the end */
}

static void test_decode_widths_and_round_trip(void **state) {
  expect("dec.encoding + ',' + dec.fatal + ',' + dec.ignoreBOM", "utf-8,false,false");
  expect("dec.decode(bytes(0x68, 0x69))", "hi");
  expect("codes(dec.decode(bytes(0xc3, 0xa9, 0xe2, 0x82, 0xac)))", "e9 20ac");
  expect("var s = dec.decode(bytes(0xf0, 0x9f, 0x98, 0x80));"
         "s.length + ' ' + codes(s) + ' ' + (s === '\\uD83D\\uDE00')",
         "2 d83d de00 true");
  expect("var t = 'h\\u00e9llo \\u20ac \\uD83D\\uDE00 \\u4e2d\\u6587 \\uDBFF\\uDFFF';"
         "dec.decode(enc.encode(t)) === t",
         "true");
  expect("dec.decode().length + ',' + dec.decode(undefined).length + ','"
         "+ dec.decode(new ArrayBuffer(0)).length",
         "0,0,0");
  /* a lone surrogate does not survive the trip: it became U+FFFD */
  expect("codes(dec.decode(enc.encode('a\\uD800')))", "61 fffd");
  expect("var big = ''; for (var i = 0; i < 5000; i++) big += '\\u00e9\\uD83D\\uDE00';"
         "var r = dec.decode(enc.encode(big)); r === big && r.length === 15000",
         "true");
}

/* U+FFFD per maximal subpart, as the spec's decoder and browsers count them. */
static void test_decode_invalid(void **state) {
  expect("codes(dec.decode(bytes(0xff)))", "fffd");
  expect("codes(dec.decode(bytes(0x61, 0x80, 0x62)))", "61 fffd 62");
  expect("codes(dec.decode(bytes(0xe0, 0x41)))", "fffd 41");
  expect("codes(dec.decode(bytes(0xe0, 0xa0)))", "fffd"); /* truncated at the end */
  expect("codes(dec.decode(bytes(0xf4, 0x90, 0x80, 0x80)))", "fffd fffd fffd fffd");
  expect("codes(dec.decode(bytes(0xed, 0xa0, 0x80)))", "fffd fffd fffd"); /* a surrogate */
  expect("codes(dec.decode(bytes(0xc0, 0xaf)))", "fffd fffd");            /* overlong */
  expect("codes(dec.decode(bytes(0xf0, 0x9f, 0x98, 0x41)))", "fffd 41");
  expect("codes(dec.decode(bytes(0xc3)))", "fffd");
}

static void test_decode_fatal(void **state) {
  expect("var f = new TextDecoder('utf-8', {fatal: true}); f.fatal", "true");
  expect("f.decode(bytes(0x61, 0xc3, 0xa9))", "a\xc3\xa9");
  expect_class("f.decode(bytes(0x61, 0xff))", "TypeError/T", "byte 1");
  expect_class("f.decode(bytes(0x61, 0xe2, 0x82))", "TypeError/T", "not valid utf-8");
  expect_class("f.decode(bytes(0xed, 0xa0, 0x80))", "TypeError/T", "byte 1");
  /* the decoder is usable after the error, from a clean state */
  expect("f.decode(bytes(0x62))", "b");
  expect("new TextDecoder('utf-8', {fatal: 1}).fatal", "true"); /* ToBoolean */
}

static void test_bom(void **state) {
  expect("codes(dec.decode(bytes(0xef, 0xbb, 0xbf, 0x61)))", "61");
  expect("codes(dec.decode(bytes(0xef, 0xbb, 0xbf)))", "");
  expect("codes(dec.decode(bytes(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf)))", "feff"); /* one only */
  expect("codes(dec.decode(bytes(0x61, 0xef, 0xbb, 0xbf)))", "61 feff");          /* not leading */
  expect("var ib = new TextDecoder('utf-8', {ignoreBOM: true});"
         "ib.ignoreBOM + ' ' + codes(ib.decode(bytes(0xef, 0xbb, 0xbf, 0x61)))",
         "true feff 61");
  /* every call starts a new stream, with its own BOM */
  expect("codes(dec.decode(bytes(0xef, 0xbb, 0xbf, 0x61)) + dec.decode(bytes(0xef, 0xbb, 0xbf)))",
         "61");
  expect("codes(new TextDecoder('utf-16le').decode(bytes(0xff, 0xfe, 0x61, 0x00)))", "61");
  expect("codes(new TextDecoder('utf-16be').decode(bytes(0xfe, 0xff, 0x00, 0x61)))", "61");
  /* the other endianness's BOM is U+FFFE, a character */
  expect("codes(new TextDecoder('utf-16le').decode(bytes(0xfe, 0xff, 0x61, 0x00)))", "fffe 61");
  expect("codes(new TextDecoder('utf-16le', {ignoreBOM: true}).decode(bytes(0xff, 0xfe)))", "feff");
}

static void test_labels(void **state) {
  expect("new TextDecoder('UTF8').encoding", "utf-8");
  expect("new TextDecoder(' utf-8\\n').encoding", "utf-8");
  expect("new TextDecoder('unicode-1-1-utf-8').encoding", "utf-8");
  expect("new TextDecoder(undefined).encoding", "utf-8");
  expect("new TextDecoder(null).encoding", "utf-8"); /* k6 treats null as the default */
  expect("new TextDecoder('utf-16').encoding", "utf-16le");
  expect("new TextDecoder('UCS-2').encoding", "utf-16le");
  expect("new TextDecoder('utf-16le').encoding", "utf-16le");
  expect("new TextDecoder('unicodeFFFE').encoding", "utf-16be");
  expect("new TextDecoder('utf-16be').encoding", "utf-16be");
  expect_class("new TextDecoder('latin1')", "RangeError/R", "unsupported encoding 'latin1'");
  expect_class("new TextDecoder('utf-32')", "RangeError/R", "utf-16be");
  expect_class("new TextDecoder('a-label-far-longer-than-any-known-one')", "RangeError/R",
               "unsupported");
  expect_class("new TextDecoder('utf-8', 5)", "TypeError/T", "options must be an object");
  expect_class("TextDecoder('utf-8')", "TypeError/T", "new TextDecoder");
  expect_class("TextEncoder()", "TypeError/T", "new TextEncoder");
  /* read-only, as k6 defines them */
  expect("var ro = new TextDecoder(); ro.fatal = true; ro.encoding = 'x'; ro.fatal + ro.encoding",
         "falseutf-8");
  expect("(function () { 'use strict'; try { ro.fatal = 1; return 'set'; }"
         " catch (e) { return e.name; } })()",
         "TypeError");
  expect("Object.keys(new TextDecoder()).sort().join()", "encoding,fatal,ignoreBOM");
  expect("new TextDecoder() instanceof TextDecoder && new TextEncoder() instanceof TextEncoder",
         "true");
  expect("TextDecoder.name + ' ' + TextEncoder.name", "TextDecoder TextEncoder");
}

/* A view decodes its own bytes only: typed arrays at an offset, DataViews, ArrayBuffers. */
static void test_views(void **state) {
  expect("var all = enc.encode('xx\\u20acyy'); dec.decode(all.subarray(2, 5))", "\xe2\x82\xac");
  expect("dec.decode(new DataView(all.buffer, 5, 2))", "yy");
  expect("dec.decode(all.buffer)", "xx\xe2\x82\xacyy");
  expect("dec.decode(new Uint16Array([0x6968]))", "hi"); /* any typed array: its bytes */
  expect("dec.decode(all.subarray(3, 3)).length", "0");
  expect_class("dec.decode('abc')", "TypeError/T", "got a string");
  expect_class("dec.decode({})", "TypeError/T", "ArrayBuffer");
  expect_class("dec.decode(bytes(0x61), 3)", "TypeError/T", "options must be an object");
  expect_class("TextDecoder.prototype.decode.call({}, bytes(0x61))", "TypeError/T",
               "not a TextDecoder");
}

static void test_stream(void **state) {
  expect("var sd = new TextDecoder();"
         "var a = sd.decode(bytes(0xe2, 0x82), {stream: true}), b = sd.decode(bytes(0xac));"
         "a.length + ' ' + codes(b)",
         "0 20ac");
  /* a pair split over three calls */
  expect(
      "codes(sd.decode(bytes(0xf0), {stream: true}) + sd.decode(bytes(0x9f, 0x98), {stream: true})"
      " + sd.decode(bytes(0x80)))",
      "d83d de00");
  /* an unfinished character at the end of the stream */
  expect("codes(sd.decode(bytes(0x61, 0xe2), {stream: true}) + sd.decode())", "61 fffd");
  /* the BOM is only looked for at the start of a stream */
  expect("codes(sd.decode(bytes(0xef, 0xbb), {stream: true}) + sd.decode(bytes(0xbf, 0x61),"
         " {stream: true}) + sd.decode(bytes(0xef, 0xbb, 0xbf)))",
         "61 feff");
  expect_class("var sf = new TextDecoder('utf-8', {fatal: true});"
               "sf.decode(bytes(0xe2), {stream: true}); sf.decode()",
               "TypeError/T", "not valid utf-8");
  expect("codes(new TextDecoder('utf-16le').decode(bytes(0x3d), {stream: true}))", "");
  expect("var s16 = new TextDecoder('utf-16le'); codes(s16.decode(bytes(0x3d, 0xd8, 0x00),"
         " {stream: true}) + s16.decode(bytes(0xde)))",
         "d83d de00");
}

static void test_utf16(void **state) {
  expect("var le = new TextDecoder('utf-16le'), be = new TextDecoder('utf-16be');"
         "codes(le.decode(bytes(0x61, 0x00, 0x3d, 0xd8, 0x00, 0xde)))",
         "61 d83d de00");
  expect("codes(be.decode(bytes(0x00, 0x61, 0xd8, 0x3d, 0xde, 0x00)))", "61 d83d de00");
  expect("codes(le.decode(bytes(0x61, 0x00, 0x62)))", "61 fffd");       /* odd length */
  expect("codes(le.decode(bytes(0x00, 0xdc, 0x61, 0x00)))", "fffd 61"); /* lone low */
  expect("codes(le.decode(bytes(0x00, 0xd8, 0x61, 0x00)))", "fffd 61"); /* high, no low */
  expect("codes(le.decode(bytes(0x00, 0xd8, 0x00, 0xd8, 0x00, 0xdc)))", "fffd d800 dc00");
  expect("codes(le.decode(bytes(0x00, 0xd8)))", "fffd"); /* high at the end */
  expect("codes(le.decode(bytes(0xac, 0x20, 0xe9, 0x00)))", "20ac e9");
  expect_class("new TextDecoder('utf-16le', {fatal: true}).decode(bytes(0x00, 0xdc))",
               "TypeError/T", "not valid utf-16le");
  expect_class("new TextDecoder('utf-16be', {fatal: true}).decode(bytes(0x00))", "TypeError/T",
               "utf-16be");
}

static void test_encode_into(void **state) {
  expect("var d4 = new Uint8Array(4), r = enc.encodeInto('a\\u20acb', d4);"
         "r.read + ' ' + r.written + ' ' + hex(d4)",
         "2 4 61 e2 82 ac");
  expect("var d3 = new Uint8Array(3); r = enc.encodeInto('\\uD83D\\uDE00', d3);"
         "r.read + ' ' + r.written + ' ' + hex(d3)",
         "0 0 00 00 00"); /* never half a character */
  expect("var d8 = new Uint8Array(8); r = enc.encodeInto('\\uD83D\\uDE00!', d8);"
         "r.read + ' ' + r.written + ' ' + hex(d8.subarray(0, r.written))",
         "3 5 f0 9f 98 80 21");
  expect("r = enc.encodeInto('\\uDC00z', d8); r.read + ' ' + r.written", "2 4");
  expect("var big = new Uint8Array(6); r = enc.encodeInto('hi', big.subarray(2));"
         "r.read + ' ' + r.written + ' ' + hex(big)",
         "2 2 00 00 68 69 00 00");
  expect("r = enc.encodeInto('', new Uint8Array(0)); r.read + ' ' + r.written", "0 0");
  expect("r = enc.encodeInto('abc', new Uint8Array(0)); r.read + ' ' + r.written", "0 0");
  expect_class("enc.encodeInto('a', new ArrayBuffer(4))", "TypeError/T", "Uint8Array");
  expect_class("enc.encodeInto('a', new Uint16Array(4))", "TypeError/T", "Uint8Array");
  expect_class("enc.encodeInto('a', [0, 0])", "TypeError/T", "Uint8Array");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_widths),
      cmocka_unit_test(test_encode_lone_surrogates),
      cmocka_unit_test(test_decode_widths_and_round_trip),
      cmocka_unit_test(test_decode_invalid),
      cmocka_unit_test(test_decode_fatal),
      cmocka_unit_test(test_bom),
      cmocka_unit_test(test_labels),
      cmocka_unit_test(test_views),
      cmocka_unit_test(test_stream),
      cmocka_unit_test(test_utf16),
      cmocka_unit_test(test_encode_into),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
