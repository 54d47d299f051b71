/* agent/limits.c: sizes as a person writes them, tokens compared whole, and an archive's unpacked
 * size counted without keeping it (issue 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "agent/limits.h"
#include "common/archive.h"
#include "common/clock.h"

static void test_parse_size(void **state) {
  uint64_t v = 0, most = SB_LIMITS_ARCHIVE_MAX;
  assert_int_equal(sb_limits_parse_size("256MiB", most, &v), 0);
  assert_int_equal(v, 256ull << 20);
  assert_int_equal(sb_limits_parse_size("64M", most, &v), 0);
  assert_int_equal(v, 64ull << 20);
  assert_int_equal(sb_limits_parse_size("1GiB", most, &v), 0);
  assert_int_equal(v, 1ull << 30);
  assert_int_equal(sb_limits_parse_size("512K", most, &v), 0);
  assert_int_equal(v, 512ull << 10);
  assert_int_equal(sb_limits_parse_size("1000", most, &v), 0);
  assert_int_equal(v, 1000);
  const char *bad[] = {"", "0", "0MiB", "2GiB", "1.5G", "-1", "12 MiB", "MiB", "1TiB", "1mib",
                       "99999999999999999999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (sb_limits_parse_size(bad[i], most, &v) != SB_EINVAL) fail_msg("'%s' was taken", bad[i]);
}

static void test_size_str(void **state) {
  char b[32];
  assert_string_equal(sb_limits_size_str(64, b, sizeof(b)), "64 bytes");
  assert_string_equal(sb_limits_size_str(256ull << 20, b, sizeof(b)), "256 MiB");
  assert_string_equal(sb_limits_size_str(3ull << 29, b, sizeof(b)), "1.5 GiB");
  assert_string_equal(sb_limits_size_str(1536, b, sizeof(b)), "1.5 KiB");
}

static void test_token_equal(void **state) {
  assert_true(sb_limits_token_equal("secret", "secret"));
  assert_false(sb_limits_token_equal("secret", "secreT"));
  assert_false(sb_limits_token_equal("secret", "secret2"));
  assert_false(sb_limits_token_equal("", "secret"));
  assert_false(sb_limits_token_equal("secretsecret", "secret")); /* not a prefix nor a repeat */
  assert_true(sb_limits_token_equal("", ""));
}

/* 250 MB of zeros compress to a few KB: the check stops at the limit, quickly, in 128 KiB. */
static void test_archive_bomb(void **state) {
  size_t n = 250000000, cap = ZSTD_compressBound(n);
  uint8_t *zeros = calloc(1, n), *z = malloc(cap);
  assert_non_null(zeros);
  size_t zlen = ZSTD_compress(z, cap, zeros, n, 3);
  free(zeros);
  assert_false(ZSTD_isError(zlen));
  assert_true(zlen < 16000);
  sb_err err = {{0}};
  int64_t t0 = sb_clock_mono_us();
  assert_int_equal(sb_limits_archive_check(z, zlen, 1u << 20, &err), SB_EINVAL);
  assert_true(sb_clock_mono_us() - t0 < 100000);
  assert_non_null(strstr(err.msg, "unpacks to more than 1 MiB, this agent's --max-archive-size"));
  assert_int_equal(sb_limits_archive_check(z, zlen, 256ull << 20, &err), 0); /* it fits */
  assert_int_equal(sb_limits_archive_check(z, zlen, 0, &err), 0);            /* no limit */
  free(z);
}

/* A real archive, compressed and plain: within a limit of its size, refused one byte under. */
static void test_archive_sizes(void **state) {
  sb_archive *a;
  assert_int_equal(sb_archive_new(&a), 0);
  char data[5000];
  memset(data, 'a', sizeof(data));
  assert_int_equal(sb_archive_add(a, "file/t/data.txt", data, sizeof(data)), 0);
  uint8_t *plain, *z;
  size_t plen, zlen;
  sb_err err = {{0}};
  assert_int_equal(sb_archive_write(a, 0, &plain, &plen, &err), 0);
  assert_int_equal(sb_archive_write(a, 3, &z, &zlen, &err), 0);
  assert_true(zlen < plen);
  assert_int_equal(sb_limits_archive_check(plain, plen, plen, &err), 0);
  assert_int_equal(sb_limits_archive_check(plain, plen, plen - 1, &err), SB_EINVAL);
  assert_int_equal(sb_limits_archive_check(z, zlen, plen, &err), 0);
  assert_int_equal(sb_limits_archive_check(z, zlen, plen - 1, &err), SB_EINVAL);
  z[zlen / 2] ^= 0xff; /* corrupt: said so, or left to the parser, never a crash */
  int rc = sb_limits_archive_check(z, zlen, plen, &err);
  assert_true(rc == 0 || rc == SB_EFORMAT);
  free(plain);
  free(z);
  sb_archive_free(a);
}

static void test_frame_limits(void **state) {
  sb_frame_limits l;
  char hint[200];
  sb_limits_frame(&l, 0, 1u << 20, hint, sizeof(hint));
  assert_int_equal(l.max_len, SB_LIMITS_HELLO_FRAME);
  assert_int_equal(l.max_plain, 0);
  assert_string_equal(l.when, "before hello");
  sb_limits_frame(&l, 1, 1u << 20, hint, sizeof(hint));
  assert_int_equal(l.max_len, (1u << 20) + (16u << 20));
  assert_string_equal(l.hint, "this agent's --max-archive-size 1 MiB, plus 16 MiB for the rest of "
                              "the message");
  sb_limits_frame(&l, 1, 0, hint, sizeof(hint));
  assert_int_equal(l.max_len, SB_FRAME_MAX);
  assert_null(l.hint);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_size),    cmocka_unit_test(test_size_str),
      cmocka_unit_test(test_token_equal),   cmocka_unit_test(test_archive_bomb),
      cmocka_unit_test(test_archive_sizes), cmocka_unit_test(test_frame_limits),
  };
  return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
