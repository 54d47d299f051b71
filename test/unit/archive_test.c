/* Archive: round trips, interop with the real tar (zstd and plain, long names), garbled input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/archive.h"
#include "common/buf.h"

static const char *long_name(void) {
  static char n[300];
  snprintf(n, sizeof(n), "file/%s/%s/deep.js",
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  return n;
}

static sb_archive *sample(void) {
  sb_archive *a;
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", "{\"filename\":\"x\"}", 16), 0);
  assert_int_equal(sb_archive_add(a, "data", "export default function(){}", 27), 0);
  assert_int_equal(sb_archive_add(a, "file/s/lib.js", "", 0), 0);
  assert_int_equal(sb_archive_add(a, long_name(), "long", 4), 0);
  static uint8_t blob[1500];
  for (size_t i = 0; i < sizeof(blob); i++) blob[i] = (uint8_t)(i * 7);
  assert_int_equal(sb_archive_add(a, "es5/file/s/blob.bin", blob, sizeof(blob)), 0);
  return a;
}

static void test_add_get(void **state) {
  sb_archive *a = sample();
  assert_int_equal(a->n, 5);
  assert_int_equal(sb_archive_add(a, "data", "v2", 2), 0); /* replaces */
  assert_int_equal(a->n, 5);
  const sb_archive_file *f = sb_archive_get(a, "data");
  assert_non_null(f);
  assert_int_equal(f->len, 2);
  assert_string_equal((char *)f->data, "v2");
  assert_null(sb_archive_get(a, "nope"));
  assert_int_equal(sb_archive_add(a, "", "x", 1), SB_EINVAL);
  assert_int_equal(sb_archive_add(a, "/etc/passwd", "x", 1), SB_EINVAL);
  assert_int_equal(sb_archive_add(a, "file/../x", "x", 1), SB_EINVAL);
  assert_int_equal(sb_archive_add(a, "..", "x", 1), SB_EINVAL);
  assert_int_equal(sb_archive_add(a, "file/..x", "x", 1), 0);
  sb_archive_free(a);
}

static void roundtrip(int level) {
  sb_archive *a = sample(), *b = NULL;
  uint8_t *out = NULL, *out2 = NULL;
  size_t len = 0, len2 = 0;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_write(a, level, &out, &len, &err), 0);
  if (level > 0) assert_int_equal(out[0], 0x28);
  else assert_int_equal(len % 512, 0);
  assert_int_equal(sb_archive_write(a, level, &out2, &len2, &err), 0); /* reproducible */
  assert_int_equal(len, len2);
  assert_memory_equal(out, out2, len);
  int rc = sb_archive_parse(&b, out, len, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(b->n, a->n);
  for (size_t i = 0; i < a->n; i++) {
    assert_string_equal(b->files[i].name, a->files[i].name);
    assert_int_equal(b->files[i].len, a->files[i].len);
    assert_memory_equal(b->files[i].data, a->files[i].data, a->files[i].len);
    assert_int_equal(b->files[i].data[b->files[i].len], 0);
  }
  free(out);
  free(out2);
  sb_archive_free(a);
  sb_archive_free(b);
}

static void test_roundtrip(void **state) {
  roundtrip(0);
  roundtrip(3);
  roundtrip(19);
}

/* 1 MiB of poorly compressible bytes survives plain and zstd round trips */
static void test_big_file(void **state) {
  size_t n = 1 << 20;
  uint8_t *big = malloc(n);
  assert_non_null(big);
  uint32_t x = 12345;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    big[i] = (uint8_t)(x >> 16);
  }
  for (int level = 0; level <= 3; level += 3) {
    sb_archive *a, *b = NULL;
    uint8_t *out;
    size_t len;
    sb_err err = {{0}};
    assert_int_equal(sb_archive_new(&a), 0);
    assert_int_equal(sb_archive_add(a, "file/big.bin", big, n), 0);
    assert_int_equal(sb_archive_write(a, level, &out, &len, &err), 0);
    if (sb_archive_parse(&b, out, len, &err)) fail_msg("level %d: %s", level, err.msg);
    assert_int_equal(b->n, 1);
    assert_int_equal(b->files[0].len, n);
    assert_memory_equal(b->files[0].data, big, n);
    assert_int_equal(b->files[0].data[n], 0);
    free(out);
    sb_archive_free(a);
    sb_archive_free(b);
  }
  free(big);
}

static char *run(const char *cmd) {
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  sb_buf b;
  sb_buf_init(&b);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) assert_int_equal(sb_buf_append(&b, chunk, n), 0);
  int st = pclose(p);
  if (st != 0) fail_msg("'%s' exited with %d", cmd, st);
  return b.data ? sb_buf_steal(&b, NULL) : strdup("");
}

static void test_real_tar_lists_ours(void **state) {
  sb_archive *a = sample();
  uint8_t *out;
  size_t len;
  char path[64], cmd[256];
  snprintf(path, sizeof(path), "/tmp/sb_archive_test_%d.tar.zst", (int)getpid());
  assert_int_equal(sb_archive_write(a, 3, &out, &len, NULL), 0);
  assert_int_equal(sb_write_file(path, out, len, NULL), 0);
  snprintf(cmd, sizeof(cmd), "tar --zstd -tf %s 2>&1", path);
  char *list = run(cmd);
  char want[1024];
  snprintf(want, sizeof(want), "metadata.json\ndata\nfile/s/lib.js\n%s\nes5/file/s/blob.bin\n",
           long_name());
  assert_string_equal(list, want);
  free(list);
  /* contents too, and permissions/mtime as documented */
  snprintf(cmd, sizeof(cmd), "tar --zstd -xOf %s data 2>&1", path);
  list = run(cmd);
  assert_string_equal(list, "export default function(){}");
  free(list);
  snprintf(cmd, sizeof(cmd), "tar --zstd -tvf %s data 2>&1", path);
  list = run(cmd);
  assert_non_null(strstr(list, "-rw-r--r--"));
  assert_non_null(strstr(list, "1970-01-01"));
  free(list);
  unlink(path);
  free(out);
  sb_archive_free(a);
}

static void test_parse_real_tar(void **state) {
  char dir[64], cmd[1024], tarp[96];
  snprintf(dir, sizeof(dir), "/tmp/sb_archive_src_%d", (int)getpid());
  snprintf(tarp, sizeof(tarp), "%s.tar", dir);
  const char *ln = long_name();
  const char *slash = strrchr(ln, '/');
  snprintf(cmd, sizeof(cmd),
           "rm -rf %s && mkdir -p %s/%.*s && printf 'long' > %s/%s && printf '{}' > %s/metadata.json"
           " && printf 'hi' > %s/data",
           dir, dir, (int)(slash - ln), ln, dir, ln, dir, dir);
  assert_int_equal(system(cmd), 0);
  const char *formats[] = {"gnu", "posix", "ustar"};
  for (int i = 0; i < 3; i++) {
    snprintf(cmd, sizeof(cmd), "cd %s && tar --format=%s -cf %s metadata.json data file 2>/dev/null",
             dir, formats[i], tarp);
    int st = system(cmd);
    if (i == 2 && st != 0) continue; /* ustar cannot hold this name when it does not split */
    assert_int_equal(st, 0);
    sb_buf b;
    sb_buf_init(&b);
    assert_int_equal(sb_buf_read_file(&b, tarp, NULL), 0);
    sb_archive *a = NULL;
    sb_err err = {{0}};
    int rc = sb_archive_parse(&a, (uint8_t *)b.data, b.len, &err);
    if (rc) fail_msg("format %s: %s", formats[i], err.msg);
    assert_int_equal(a->n, 3); /* directories skipped */
    const sb_archive_file *f = sb_archive_get(a, ln);
    if (!f) fail_msg("format %s: long name missing", formats[i]);
    assert_string_equal((char *)f->data, "long");
    assert_string_equal((char *)sb_archive_get(a, "data")->data, "hi");
    sb_archive_free(a);
    /* and compressed by zstd itself */
    snprintf(cmd, sizeof(cmd), "zstd -q -f %s -o %s.zst", tarp, tarp);
    if (system(cmd) == 0) {
      sb_buf z;
      sb_buf_init(&z);
      snprintf(cmd, sizeof(cmd), "%s.zst", tarp);
      assert_int_equal(sb_buf_read_file(&z, cmd, NULL), 0);
      assert_int_equal(sb_archive_parse(&a, (uint8_t *)z.data, z.len, &err), 0);
      assert_int_equal(a->n, 3);
      sb_archive_free(a);
      sb_buf_clear(&z);
      unlink(cmd);
    }
    sb_buf_clear(&b);
  }
  snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, tarp);
  assert_int_equal(system(cmd), 0);
}

static void expect_format(const uint8_t *buf, size_t len) {
  sb_archive *a = (sb_archive *)1;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_parse(&a, buf, len, &err), SB_EFORMAT);
  assert_ptr_equal(a, (sb_archive *)1);
  assert_true(strlen(err.msg) > 0);
}

static void test_garbled(void **state) {
  sb_archive *s = sample();
  uint8_t *tar, *z;
  size_t tl, zl;
  assert_int_equal(sb_archive_write(s, 0, &tar, &tl, NULL), 0);
  assert_int_equal(sb_archive_write(s, 3, &z, &zl, NULL), 0);
  sb_archive_free(s);
  uint8_t *copy = malloc(tl);
  assert_non_null(copy);

  expect_format((const uint8_t *)"", 0);
  expect_format((const uint8_t *)"hello", 5);
  /* truncated: mid-entry, at a block boundary before the end marker, compressed */
  uint8_t *t = malloc(tl + 4096);
  assert_non_null(t);
  for (size_t cut = 1; cut < tl - 1024; cut += 97) {
    memcpy(t, tar, cut);
    expect_format(t, cut);
  }
  memcpy(t, tar, 1024);
  expect_format(t, 1024);
  for (size_t cut = 4; cut < zl; cut += 13) {
    memcpy(t, z, cut);
    expect_format(t, cut);
  }
  /* bad checksum */
  memcpy(copy, tar, tl);
  copy[0] ^= 1;
  sb_err err = {{0}};
  sb_archive *a = NULL;
  assert_int_equal(sb_archive_parse(&a, copy, tl, &err), SB_EFORMAT);
  assert_non_null(strstr(err.msg, "offset 0"));
  /* bad octal size */
  memcpy(copy, tar, tl);
  for (int i = 0; i < 11; i++) copy[124 + i] = (uint8_t)"0000000009x"[i];
  expect_format(copy, tl);
  /* a size pointing past the end, with a valid checksum */
  memcpy(copy, tar, tl);
  snprintf((char *)copy + 124, 12, "%011o", 077777777);
  memset(copy + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++) sum += copy[i];
  snprintf((char *)copy + 148, 8, "%06o", sum);
  expect_format(copy, tl);
  /* garbled pax records (the long name's 'x' header is the 4th entry) */
  size_t off = 0;
  for (int e = 0; e < 3; e++) {
    unsigned long sz = strtoul((char *)tar + off + 124, NULL, 8);
    off += 512 + (sz + 511) / 512 * 512;
  }
  assert_int_equal(tar[off + 156], 'x');
  memcpy(copy, tar, tl);
  copy[off + 512] = '9'; /* record length beyond the record set */
  copy[off + 513] = '9';
  copy[off + 514] = '9';
  expect_format(copy, tl);
  /* random bytes and random flips never crash */
  srand(42);
  for (int round = 0; round < 300; round++) {
    size_t n = (size_t)(rand() % 4096);
    for (size_t i = 0; i < n; i++) t[i] = (uint8_t)rand();
    if (round % 3 == 0 && n >= 4) memcpy(t, "\x28\xb5\x2f\xfd", 4);
    if (round % 3 == 1 && n >= 512) memcpy(t + 257, "ustar", 5);
    a = NULL;
    if (sb_archive_parse(&a, t, n, NULL) == 0) sb_archive_free(a);
    memcpy(copy, tar, tl);
    for (int k = 0; k < 4; k++) copy[rand() % tl] ^= (uint8_t)(1 + rand() % 255);
    a = NULL;
    if (sb_archive_parse(&a, copy, tl, NULL) == 0) sb_archive_free(a);
    memcpy(t, z, zl);
    t[4 + rand() % (zl - 4)] ^= (uint8_t)(1 + rand() % 255);
    a = NULL;
    if (sb_archive_parse(&a, t, zl, NULL) == 0) sb_archive_free(a);
  }
  free(t);
  free(copy);
  free(tar);
  free(z);
}

/* Found by test/fuzz/archive_fuzz: an archive with no file, written as a plain tar (two zero
 * blocks, no "ustar" magic anywhere), was refused as "neither a zstd-compressed nor a plain tar"
 * by the reader of the same module. */
static void test_empty_plain_round_trip(void **state) {
  sb_archive *a, *b = NULL;
  uint8_t *out;
  size_t len;
  sb_err err;
  assert_int_equal(sb_archive_new(&a), 0);
  for (int level = 0; level <= 1; level++) {
    assert_int_equal(sb_archive_write(a, level, &out, &len, &err), 0);
    int rc = sb_archive_parse(&b, out, len, &err);
    if (rc) fail_msg("level %d: %s", level, err.msg);
    assert_int_equal(b->n, 0);
    sb_archive_free(b);
    free(out);
  }
  sb_archive_free(a);
  uint8_t zeros[100] = {0}; /* shorter than a block: still neither */
  assert_int_equal(sb_archive_parse(&b, zeros, sizeof(zeros), &err), SB_EFORMAT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_get),          cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_empty_plain_round_trip),
      cmocka_unit_test(test_big_file),
      cmocka_unit_test(test_real_tar_lists_ours), cmocka_unit_test(test_parse_real_tar),
      cmocka_unit_test(test_garbled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
