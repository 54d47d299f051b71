/* Content codings: names, round trips, bodies from other tools (gzip(1), zstd(1), raw deflate),
 * corrupt / truncated / trailing input, the max_out bomb guard, chains and buffer reuse. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "common/codec.h"

static const sb_codec all[] = {SB_CODEC_GZIP, SB_CODEC_DEFLATE, SB_CODEC_BR, SB_CODEC_ZSTD};
#define NALL (sizeof(all) / sizeof(*all))

/* `printf 'hello, speedboat\n' > hello.txt; gzip -c hello.txt`: FNAME and MTIME set. */
static const uint8_t gzip_named[] = {
    0x1f, 0x8b, 0x08, 0x08, 0x00, 0xb9, 0x55, 0x69, 0x00, 0x03, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2e,
    0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28, 0x2e, 0x48, 0x4d, 0x4d,
    0x49, 0xca, 0x4f, 0x2c, 0xe1, 0x02, 0x00, 0x66, 0x17, 0xdc, 0x51, 0x11, 0x00, 0x00, 0x00};
/* `printf 'hello, speedboat\n' | gzip -c -n` */
static const uint8_t gzip_plain[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                                     0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28, 0x2e, 0x48,
                                     0x4d, 0x4d, 0x49, 0xca, 0x4f, 0x2c, 0xe1, 0x02, 0x00, 0x66,
                                     0x17, 0xdc, 0x51, 0x11, 0x00, 0x00, 0x00};
/* `printf 'hi\n' | zstd -c` */
static const uint8_t zstd_hi[] = {0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x19, 0x00,
                                  0x00, 0x68, 0x69, 0x0a, 0x34, 0x3d, 0x50, 0x92};
/* "raw deflate body\n" as raw deflate (no zlib header), as some servers send for "deflate". */
static const uint8_t raw_deflate[] = {0x2b, 0x4a, 0x2c, 0x57, 0x48, 0x49, 0x4d, 0xcb, 0x49, 0x2c,
                                      0x49, 0x55, 0x48, 0xca, 0x4f, 0xa9, 0xe4, 0x02, 0x00};

/* |n| bytes of text-like data: compressible, but not trivially (a few MB stay interesting). */
static char *make_body(size_t n) {
  static const char *words[] = {"speedboat ",   "k6 ",      "load ",    "test ",
                                "GET /api/v1 ", "200 OK\n", "{\"id\":", "42}, "};
  char *b = malloc(n + 1);
  assert_non_null(b);
  uint32_t x = 12345;
  size_t i = 0;
  while (i < n) {
    x = x * 1103515245 + 12345;
    const char *w = (x >> 16) % 5 == 0 ? NULL : words[(x >> 8) % 8];
    if (!w) {
      b[i++] = (char)(x >> 24); /* some binary noise */
      continue;
    }
    for (; *w && i < n; w++)
      b[i++] = *w;
  }
  b[n] = '\0';
  return b;
}

static void round_trip(sb_codec c, const char *body, size_t n) {
  sb_buf enc, dec;
  sb_buf_init(&enc);
  sb_buf_init(&dec);
  sb_err err = {{0}};
  assert_int_equal(sb_codec_encode(c, body, n, &enc, &err), 0);
  assert_true(enc.len > 0 || c == SB_CODEC_IDENTITY);
  assert_int_equal(sb_codec_decode(c, enc.data, enc.len, &dec, 0, &err), 0);
  assert_int_equal(dec.len, n);
  if (n) assert_memory_equal(dec.data, body, n);
  if (dec.data[dec.len] != '\0') fail_msg("%s: %zu bytes: no NUL", sb_codec_name(c), n);
  sb_buf_clear(&enc);
  sb_buf_clear(&dec);
}

static void test_names(void **state) {
  struct {
    const char *s;
    sb_codec c;
  } ok[] = {
      {"gzip", SB_CODEC_GZIP},
      {"x-gzip", SB_CODEC_GZIP},
      {"GZip", SB_CODEC_GZIP},
      {"X-GZIP", SB_CODEC_GZIP},
      {"deflate", SB_CODEC_DEFLATE},
      {"DEFLATE", SB_CODEC_DEFLATE},
      {"br", SB_CODEC_BR},
      {"Br", SB_CODEC_BR},
      {"zstd", SB_CODEC_ZSTD},
      {"ZSTD", SB_CODEC_ZSTD},
      {"identity", SB_CODEC_IDENTITY},
      {"Identity", SB_CODEC_IDENTITY},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
    sb_codec c = SB_CODEC_IDENTITY;
    assert_int_equal(sb_codec_from_name(ok[i].s, strlen(ok[i].s), &c), 0);
    assert_int_equal(c, ok[i].c);
  }
  const char *bad[] = {"", "gz", "gzipx", " gzip", "gzip ", "compress", "brotli", "x-br", "zst"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    sb_codec c = SB_CODEC_BR;
    assert_int_equal(sb_codec_from_name(bad[i], strlen(bad[i]), &c), SB_EINVAL);
    assert_int_equal(c, SB_CODEC_BR);
  }
  sb_codec c;
  assert_int_equal(sb_codec_from_name("gzipped", 4, &c), 0); /* |len| bounds the name */
  assert_int_equal(c, SB_CODEC_GZIP);
  assert_int_equal(sb_codec_from_name(NULL, 0, &c), SB_EINVAL);
  assert_string_equal(sb_codec_name(SB_CODEC_GZIP), "gzip");
  assert_string_equal(sb_codec_name(SB_CODEC_DEFLATE), "deflate");
  assert_string_equal(sb_codec_name(SB_CODEC_BR), "br");
  assert_string_equal(sb_codec_name(SB_CODEC_ZSTD), "zstd");
  assert_string_equal(sb_codec_name(SB_CODEC_IDENTITY), "identity");
  assert_string_equal(sb_codec_name((sb_codec)99), "unknown");
}

static void test_round_trips(void **state) {
  size_t sizes[] = {0, 1, 2, 100, 4095, 4096, 65537, 3u << 20};
  char *body = make_body(3u << 20);
  for (size_t i = 0; i < NALL; i++)
    for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++)
      round_trip(all[i], body, sizes[s]);
  round_trip(SB_CODEC_IDENTITY, body, 1000);
  round_trip(SB_CODEC_IDENTITY, "", 0);
  /* Incompressible data grows a little; the encoders must size for it. */
  for (size_t j = 0; j < 200000; j++)
    body[j] = (char)(rand() >> 7);
  for (size_t i = 0; i < NALL; i++)
    round_trip(all[i], body, 200000);
  free(body);
}

static void test_wire_formats(void **state) {
  sb_buf out;
  sb_buf_init(&out);
  assert_int_equal(sb_codec_encode(SB_CODEC_GZIP, "abc", 3, &out, NULL), 0);
  assert_true((uint8_t)out.data[0] == 0x1f && (uint8_t)out.data[1] == 0x8b);
  /* RFC 9110 "deflate" is zlib-wrapped: 0x78 0x9c at the default level. */
  assert_int_equal(sb_codec_encode(SB_CODEC_DEFLATE, "abc", 3, &out, NULL), 0);
  assert_true((uint8_t)out.data[0] == 0x78 && (uint8_t)out.data[1] == 0x9c);
  assert_int_equal(sb_codec_encode(SB_CODEC_ZSTD, "abc", 3, &out, NULL), 0);
  assert_memory_equal(out.data, "\x28\xb5\x2f\xfd", 4);
  /* zlib's own uncompress() reads our deflate output. */
  const char *text = "the same thing twice, the same thing twice";
  assert_int_equal(sb_codec_encode(SB_CODEC_DEFLATE, text, strlen(text), &out, NULL), 0);
  char back[128];
  uLongf blen = sizeof(back);
  assert_int_equal(uncompress((Bytef *)back, &blen, (Bytef *)out.data, out.len), Z_OK);
  assert_int_equal(blen, strlen(text));
  assert_memory_equal(back, text, blen);
  sb_buf_clear(&out);
}

static void expect_decoded(sb_codec c, const void *in, size_t len, const char *want) {
  sb_buf out;
  sb_buf_init(&out);
  sb_err err = {{0}};
  int rc = sb_codec_decode(c, in, len, &out, 0, &err);
  if (rc) fail_msg("%s: %s", sb_codec_name(c), err.msg);
  assert_int_equal(out.len, strlen(want));
  assert_string_equal(out.data, want);
  sb_buf_clear(&out);
}

static void test_other_tools(void **state) {
  expect_decoded(SB_CODEC_GZIP, gzip_named, sizeof(gzip_named), "hello, speedboat\n");
  expect_decoded(SB_CODEC_GZIP, gzip_plain, sizeof(gzip_plain), "hello, speedboat\n");
  expect_decoded(SB_CODEC_ZSTD, zstd_hi, sizeof(zstd_hi), "hi\n");
  expect_decoded(SB_CODEC_DEFLATE, raw_deflate, sizeof(raw_deflate), "raw deflate body\n");
  /* `cat a.gz b.gz` is one gzip body of two members (RFC 1952 2.2). */
  uint8_t two[sizeof(gzip_named) + sizeof(gzip_plain)];
  memcpy(two, gzip_named, sizeof(gzip_named));
  memcpy(two + sizeof(gzip_named), gzip_plain, sizeof(gzip_plain));
  expect_decoded(SB_CODEC_GZIP, two, sizeof(two), "hello, speedboat\nhello, speedboat\n");
  /* x-gzip through the chain, as a server would label it. */
  sb_buf out, scratch;
  sb_buf_init(&out);
  sb_buf_init(&scratch);
  assert_int_equal(
      sb_codec_decode_chain("X-Gzip", 6, gzip_plain, sizeof(gzip_plain), &out, &scratch, 0, NULL),
      0);
  assert_string_equal(out.data, "hello, speedboat\n");
  sb_buf_clear(&out);
  sb_buf_clear(&scratch);
}

/* A .gz file written by zlib's gzFile API (what gzip(1) writes) decodes. */
static void test_gzfile(void **state) {
  char path[] = "/tmp/sb-codec-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  gzFile gz = gzdopen(fd, "wb9");
  assert_non_null(gz);
  char *body = make_body(300000);
  assert_int_equal(gzwrite(gz, body, 300000), 300000);
  assert_int_equal(gzclose(gz), Z_OK);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t file[400000];
  size_t n = fread(file, 1, sizeof(file), f);
  fclose(f);
  unlink(path);
  assert_true(n > 20 && n < sizeof(file));
  sb_buf out;
  sb_buf_init(&out);
  assert_int_equal(sb_codec_decode(SB_CODEC_GZIP, file, n, &out, 0, NULL), 0);
  assert_int_equal(out.len, 300000);
  assert_memory_equal(out.data, body, 300000);
  sb_buf_clear(&out);
  free(body);
}

/* Raw deflate made by zlib itself at several sizes, told apart from zlib-wrapped streams. */
static void test_raw_deflate(void **state) {
  char *body = make_body(1 << 20);
  size_t sizes[] = {1, 10, 1000, 1 << 20};
  for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, sizes[s]);
    uint8_t *raw = malloc(cap);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)sizes[s];
    z.next_out = raw;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    sb_buf out;
    sb_buf_init(&out);
    sb_err err = {{0}};
    int rc = sb_codec_decode(SB_CODEC_DEFLATE, raw, n, &out, 0, &err);
    if (rc) fail_msg("%zu bytes: %s", sizes[s], err.msg);
    assert_int_equal(out.len, sizes[s]);
    assert_memory_equal(out.data, body, sizes[s]);
    sb_buf_clear(&out);
    free(raw);
  }
  free(body);
}

static void expect_error_max(sb_codec c, const void *in, size_t len, size_t max_out,
                             const char *what) {
  sb_buf out;
  sb_buf_init(&out);
  sb_err err = {{0}};
  int rc = sb_codec_decode(c, in, len, &out, max_out, &err);
  sb_buf_clear(&out);
  if (rc != SB_EFORMAT) fail_msg("%s: %zu bytes accepted (rc %d)", sb_codec_name(c), len, rc);
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "%s: ", sb_codec_name(c));
  if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || (what && !strstr(err.msg, what)))
    fail_msg("%s: unexpected error '%s' (wanted '%s')", prefix, err.msg, what ? what : "");
}

static void expect_error(sb_codec c, const void *in, size_t len, const char *what) {
  expect_error_max(c, in, len, 0, what);
}

static void test_garbage(void **state) {
  const char *junk = "<html>this is not compressed at all</html>";
  expect_error(SB_CODEC_GZIP, junk, strlen(junk), "invalid header");
  expect_error(SB_CODEC_DEFLATE, junk, strlen(junk), NULL);
  expect_error(SB_CODEC_BR, junk, strlen(junk), NULL);
  expect_error(SB_CODEC_ZSTD, junk, strlen(junk), "invalid header");
  expect_error(SB_CODEC_GZIP, "\x1f\x8b\x09\0\0\0\0\0\0\x03\x03\0", 12, "invalid header");
  /* A zlib header asking for a preset dictionary, which HTTP never has. */
  expect_error(SB_CODEC_DEFLATE, "\x78\xbb\x00\x00\x00\x01\x00", 7, "dictionary");
}

/* RFC 9659: HTTP zstd windows stop at 8 MB; a frame asking for 16 MB is refused, not obeyed.
 * (A frame that declares its content size is decoded straight into |out|, which max_out bounds,
 * with no window buffer at all: only a frame without it needs the window.) */
static void test_zstd_window(void **state) {
  size_t n = 17u << 20;
  char *body = make_body(n);
  ZSTD_CCtx *cc = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 24);
  ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
  size_t cap = ZSTD_compressBound(n);
  char *z = malloc(cap);
  size_t zn = ZSTD_compress2(cc, z, cap, body, n);
  assert_false(ZSTD_isError(zn));
  ZSTD_freeCCtx(cc);
  expect_error(SB_CODEC_ZSTD, z, zn, "window over 8 MB");
  free(z);
  free(body);
}

/* A 20-byte frame whose header claims 1 TB: refused at once under a cap, and without one the
 * claim is not believed (no terabyte allocation; the short content is then a format error). */
static void test_zstd_lying_size(void **state) {
  static const uint8_t liar[] = {0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x50, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x01, 0x00, 0x00, 0x19, 0x00, 0x00, 0x61, 0x62, 0x63};
  expect_error_max(SB_CODEC_ZSTD, liar, sizeof(liar), 1 << 20, "exceeds the 1048576-byte limit");
  sb_buf out;
  sb_buf_init(&out);
  sb_err err = {{0}};
  assert_int_equal(sb_codec_decode(SB_CODEC_ZSTD, liar, sizeof(liar), &out, 0, &err), SB_EFORMAT);
  assert_true(out.cap < (1 << 20));
  sb_buf_clear(&out);
}

/* Every strict prefix of a valid body is refused as truncated, for every coding. */
static void test_truncated(void **state) {
  char *body = make_body(5000);
  sb_buf enc;
  sb_buf_init(&enc);
  for (size_t i = 0; i < NALL; i++) {
    assert_int_equal(sb_codec_encode(all[i], body, 5000, &enc, NULL), 0);
    for (size_t n = 1; n < enc.len; n++) {
      uint8_t *copy = malloc(n); /* exact size, so ASan sees any read past the end */
      memcpy(copy, enc.data, n);
      expect_error(all[i], copy, n, NULL);
      free(copy);
    }
    uint8_t *copy = malloc(enc.len - 1);
    memcpy(copy, enc.data, enc.len - 1);
    expect_error(all[i], copy, enc.len - 1, "truncated input");
    free(copy);
  }
  expect_error(SB_CODEC_GZIP, gzip_plain, 1, "truncated input");
  sb_buf_clear(&enc);
  free(body);
}

/* Flipped bits: gzip, deflate and zstd (as we encode it) carry checksums and must refuse; br has
 * none and must either refuse or decode without crashing. */
static void test_corrupt(void **state) {
  char *body = make_body(20000);
  sb_buf enc, out;
  sb_buf_init(&enc);
  sb_buf_init(&out);
  for (size_t i = 0; i < NALL; i++) {
    assert_int_equal(sb_codec_encode(all[i], body, 20000, &enc, NULL), 0);
    for (size_t pos = 0; pos < enc.len; pos += 1 + pos / 7) {
      if (all[i] == SB_CODEC_GZIP && pos >= 4 && pos < 10) continue; /* MTIME, XFL, OS: unchecked */
      enc.data[pos] ^= 0x55;
      sb_err err = {{0}};
      int rc = sb_codec_decode(all[i], enc.data, enc.len, &out, 1 << 20, &err);
      if (all[i] != SB_CODEC_BR) {
        if (rc != SB_EFORMAT) fail_msg("%s: flip at %zu accepted", sb_codec_name(all[i]), pos);
      } else {
        assert_true(rc == 0 || rc == SB_EFORMAT);
      }
      if (rc) assert_int_equal(strncmp(err.msg, sb_codec_name(all[i]), 2), 0);
      enc.data[pos] ^= 0x55;
    }
  }
  sb_buf_clear(&enc);
  sb_buf_clear(&out);
  free(body);
}

static void test_trailing_data(void **state) {
  sb_buf enc;
  sb_buf_init(&enc);
  for (size_t i = 0; i < NALL; i++) {
    assert_int_equal(sb_codec_encode(all[i], "payload", 7, &enc, NULL), 0);
    assert_int_equal(sb_buf_append(&enc, "JUNK", 4), 0);
    expect_error(all[i], enc.data, enc.len, NULL);
  }
  sb_buf_clear(&enc);
  expect_error(SB_CODEC_GZIP,
               "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00"
               "\x00\x00\x00\x00XY",
               22, "2 bytes of trailing data");
}

/* 16 MB of zeros compresses to a few KB; max_out stops it, and early. */
static void test_bomb_guard(void **state) {
  size_t n = 16u << 20, cap = 1u << 20;
  char *zeros = calloc(1, n);
  sb_buf enc, out;
  sb_buf_init(&enc);
  sb_buf_init(&out);
  for (size_t i = 0; i < NALL; i++) {
    assert_int_equal(sb_codec_encode(all[i], zeros, n, &enc, NULL), 0);
    assert_true(enc.len < n / 100);
    sb_buf_clear(&out);
    expect_error_max(all[i], enc.data, enc.len, cap, "exceeds the 1048576-byte limit");
    sb_err err = {{0}};
    assert_int_equal(sb_codec_decode(all[i], enc.data, enc.len, &out, cap, &err), SB_EFORMAT);
    assert_true(out.cap <= 4 * cap); /* did not inflate the whole thing first */
    assert_int_equal(sb_codec_decode(all[i], enc.data, enc.len, &out, n, &err), 0);
    assert_int_equal(out.len, n);
    assert_int_equal(sb_codec_decode(all[i], enc.data, enc.len, &out, n - 1, &err), SB_EFORMAT);
    assert_int_equal(sb_codec_decode(all[i], enc.data, enc.len, &out, n + 1, &err), 0);
  }
  assert_int_equal(sb_codec_decode(SB_CODEC_IDENTITY, zeros, 10, &out, 9, NULL), SB_EFORMAT);
  assert_int_equal(sb_codec_decode(SB_CODEC_IDENTITY, zeros, 10, &out, 10, NULL), 0);
  /* Chains guard every step. */
  assert_int_equal(sb_codec_encode_chain("gzip, br", 8, zeros, n, &enc, &out, NULL), 0);
  sb_buf scratch;
  sb_buf_init(&scratch);
  sb_err err = {{0}};
  assert_int_equal(
      sb_codec_decode_chain("gzip, br", 8, enc.data, enc.len, &out, &scratch, cap, &err),
      SB_EFORMAT);
  assert_non_null(strstr(err.msg, "gzip: the decoded body exceeds"));
  sb_buf_clear(&scratch);
  sb_buf_clear(&enc);
  sb_buf_clear(&out);
  free(zeros);
}

static void test_empty_input(void **state) {
  sb_buf out;
  sb_buf_init(&out);
  for (size_t i = 0; i < NALL; i++) {
    assert_int_equal(sb_codec_decode(all[i], "", 0, &out, 0, NULL), 0);
    assert_int_equal(out.len, 0);
    assert_non_null(out.data);
    assert_int_equal(sb_codec_decode(all[i], NULL, 0, &out, 0, NULL), 0);
    assert_int_equal(sb_codec_encode(all[i], NULL, 0, &out, NULL), 0);
    assert_true(out.len > 0); /* an empty body still makes a valid stream */
  }
  sb_buf_clear(&out);
  sb_err err = {{0}};
  assert_int_equal(sb_codec_decode((sb_codec)42, "x", 1, &out, 0, &err), SB_EINVAL);
  assert_int_equal(sb_codec_encode((sb_codec)42, "x", 1, &out, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "unknown content coding"));
  sb_buf_clear(&out);
}

static void chain_trip(const char *enc, const char *body, size_t n) {
  sb_buf out, scratch, back;
  sb_buf_init(&out);
  sb_buf_init(&scratch);
  sb_buf_init(&back);
  sb_err err = {{0}};
  if (sb_codec_encode_chain(enc, strlen(enc), body, n, &out, &scratch, &err))
    fail_msg("encode '%s': %s", enc, err.msg);
  if (sb_codec_decode_chain(enc, strlen(enc), out.data, out.len, &back, &scratch, 0, &err))
    fail_msg("decode '%s': %s", enc, err.msg);
  assert_int_equal(back.len, n);
  if (n) assert_memory_equal(back.data, body, n);
  sb_buf_clear(&out);
  sb_buf_clear(&scratch);
  sb_buf_clear(&back);
}

static void test_chains(void **state) {
  char *body = make_body(1 << 20);
  const char *chains[] = {"gzip",
                          "gzip, br",
                          "br,gzip",
                          "deflate, gzip, zstd",
                          "zstd, br, deflate, gzip",
                          " GZIP ,\tBr ",
                          "gzip,,identity, zstd,",
                          "identity",
                          "",
                          ",",
                          "x-gzip, deflate"};
  size_t sizes[] = {0, 1, 1000, 1 << 20};
  for (size_t i = 0; i < sizeof(chains) / sizeof(*chains); i++)
    for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++)
      chain_trip(chains[i], body, sizes[s]);

  /* "gzip, br": gzip applied first, so br is outermost and undone first. */
  sb_buf out, scratch, step;
  sb_buf_init(&out);
  sb_buf_init(&scratch);
  sb_buf_init(&step);
  assert_int_equal(sb_codec_encode_chain("gzip, br", 8, body, 5000, &out, &scratch, NULL), 0);
  assert_int_equal(sb_codec_decode(SB_CODEC_BR, out.data, out.len, &step, 0, NULL), 0);
  assert_true((uint8_t)step.data[0] == 0x1f && (uint8_t)step.data[1] == 0x8b);
  assert_int_equal(sb_codec_decode(SB_CODEC_GZIP, step.data, step.len, &out, 0, NULL), 0);
  assert_int_equal(out.len, 5000);
  assert_memory_equal(out.data, body, 5000);
  /* The wrong order fails on the outer coding. */
  assert_int_equal(sb_codec_encode_chain("gzip, br", 8, body, 5000, &step, &scratch, NULL), 0);
  sb_err err = {{0}};
  assert_int_equal(
      sb_codec_decode_chain("br, gzip", 8, step.data, step.len, &out, &scratch, 0, &err),
      SB_EFORMAT);
  assert_non_null(strstr(err.msg, "gzip: invalid header"));
  /* Only |enc_len| bytes of |enc| count. */
  assert_int_equal(sb_codec_encode_chain("zstd, br", 4, "abc", 3, &out, &scratch, NULL), 0);
  assert_memory_equal(out.data, "\x28\xb5\x2f\xfd", 4);
  sb_buf_clear(&out);
  sb_buf_clear(&scratch);
  sb_buf_clear(&step);
  free(body);
}

static void test_chain_errors(void **state) {
  sb_buf out, scratch;
  sb_buf_init(&out);
  sb_buf_init(&scratch);
  sb_err err = {{0}};
  assert_int_equal(sb_codec_decode_chain("gzip, compress", 14, "x", 1, &out, &scratch, 0, &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "unknown content coding 'compress'"));
  assert_int_equal(sb_codec_encode_chain("xz", 2, "x", 1, &out, &scratch, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "'xz'"));
  const char *nine = "gzip,gzip,gzip,gzip,gzip,gzip,gzip,gzip,gzip";
  assert_int_equal(sb_codec_encode_chain(nine, strlen(nine), "x", 1, &out, &scratch, &err),
                   SB_EINVAL);
  assert_non_null(strstr(err.msg, "more than 8"));
  assert_int_equal(sb_codec_encode_chain(nine, strlen(nine) - 5, "x", 1, &out, &scratch, &err), 0);
  /* No coding: the body is copied (and max_out still holds). */
  assert_int_equal(sb_codec_decode_chain(NULL, 0, "plain", 5, &out, &scratch, 0, &err), 0);
  assert_string_equal(out.data, "plain");
  assert_int_equal(sb_codec_decode_chain("identity", 8, "plain", 5, &out, &scratch, 4, &err),
                   SB_EFORMAT);
  /* A corrupt inner layer names its coding. */
  sb_buf enc;
  sb_buf_init(&enc);
  assert_int_equal(sb_codec_encode(SB_CODEC_ZSTD, "not gzip inside", 15, &enc, NULL), 0);
  assert_int_equal(
      sb_codec_decode_chain("gzip, zstd", 10, enc.data, enc.len, &out, &scratch, 0, &err),
      SB_EFORMAT);
  assert_non_null(strstr(err.msg, "gzip: invalid header"));
  sb_buf_clear(&enc);
  sb_buf_clear(&out);
  sb_buf_clear(&scratch);
}

/* A steady loop over same-sized bodies reuses the buffers' memory. */
static void test_buffer_reuse(void **state) {
  char *body = make_body(200000);
  sb_buf enc, out, scratch;
  sb_buf_init(&enc);
  sb_buf_init(&out);
  sb_buf_init(&scratch);
  for (size_t i = 0; i < NALL; i++) {
    assert_int_equal(sb_codec_encode(all[i], body, 200000, &enc, NULL), 0);
    assert_int_equal(sb_codec_decode(all[i], enc.data, enc.len, &out, 0, NULL), 0);
    char *ed = enc.data, *od = out.data;
    size_t ec = enc.cap, oc = out.cap;
    for (int k = 0; k < 3; k++) {
      assert_int_equal(sb_codec_encode(all[i], body, 200000, &enc, NULL), 0);
      assert_int_equal(sb_codec_decode(all[i], enc.data, enc.len, &out, 0, NULL), 0);
      assert_ptr_equal(enc.data, ed);
      assert_ptr_equal(out.data, od);
      assert_int_equal(enc.cap, ec);
      assert_int_equal(out.cap, oc);
      assert_memory_equal(out.data, body, 200000);
    }
  }
  sb_buf_clear(&enc);
  assert_int_equal(sb_codec_encode_chain("gzip, br", 8, body, 200000, &enc, &scratch, NULL), 0);
  assert_int_equal(sb_codec_decode_chain("gzip, br", 8, enc.data, enc.len, &out, &scratch, 0, NULL),
                   0);
  char *sd = scratch.data, *od = out.data;
  assert_int_equal(sb_codec_decode_chain("gzip, br", 8, enc.data, enc.len, &out, &scratch, 0, NULL),
                   0);
  assert_ptr_equal(scratch.data, sd);
  assert_ptr_equal(out.data, od);
  sb_buf_clear(&enc);
  sb_buf_clear(&out);
  sb_buf_clear(&scratch);
  free(body);
}

/* Per-thread states: threads work side by side, and their states are freed at thread exit (ASan's
 * leak checker fails this test otherwise). */
static void *thread_main(void *arg) {
  char *body = arg;
  sb_buf enc, out;
  sb_buf_init(&enc);
  sb_buf_init(&out);
  for (int k = 0; k < 20; k++) {
    for (size_t i = 0; i < NALL; i++) {
      if (sb_codec_encode(all[i], body, 100000, &enc, NULL) ||
          sb_codec_decode(all[i], enc.data, enc.len, &out, 0, NULL) || out.len != 100000 ||
          memcmp(out.data, body, 100000) != 0)
        return (void *)1;
    }
  }
  sb_buf_clear(&enc);
  sb_buf_clear(&out);
  return NULL;
}

static void test_threads(void **state) {
  char *body = make_body(100000);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, thread_main, body), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    assert_int_equal(pthread_join(t[i], &r), 0);
    assert_null(r);
  }
  free(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),        cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_wire_formats), cmocka_unit_test(test_other_tools),
      cmocka_unit_test(test_gzfile),       cmocka_unit_test(test_raw_deflate),
      cmocka_unit_test(test_garbage),      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_corrupt),      cmocka_unit_test(test_trailing_data),
      cmocka_unit_test(test_bomb_guard),   cmocka_unit_test(test_empty_input),
      cmocka_unit_test(test_zstd_window),  cmocka_unit_test(test_zstd_lying_size),
      cmocka_unit_test(test_chains),       cmocka_unit_test(test_chain_errors),
      cmocka_unit_test(test_buffer_reuse), cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
