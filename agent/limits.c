/* Limits on what an agent takes from the network (see limits.h). */
#include "agent/limits.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SCRATCH (128u << 10) /* inflated bytes are counted here, then thrown away */

void sb_limits_frame(sb_frame_limits *out, int authenticated, uint64_t max_archive, char *hint,
                     size_t size) {
  memset(out, 0, sizeof(*out));
  if (!authenticated) {
    out->max_len = SB_LIMITS_HELLO_FRAME;
    out->when = "before hello";
    return;
  }
  if (!max_archive) {
    out->max_len = SB_FRAME_MAX;
    out->max_plain = SB_FRAME_MAX;
    return;
  }
  char s[32];
  uint64_t a = max_archive;
  out->max_len = out->max_plain = (size_t)(a + SB_LIMITS_ENVELOPE_SLACK);
  snprintf(hint, size, "this agent's --max-archive-size %s, plus %llu MiB for the rest of the "
           "message", sb_limits_size_str(a, s, sizeof(s)), SB_LIMITS_ENVELOPE_SLACK >> 20);
  out->hint = hint;
}

/* SHA-256 of |s| into |md|; a failure leaves a digest no token has (all zero but the first). */
static void digest(const char *s, unsigned char md[EVP_MAX_MD_SIZE]) {
  unsigned int n = 0;
  memset(md, 0, EVP_MAX_MD_SIZE);
  if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL)) md[0] = 1;
}

int sb_limits_token_equal(const char *given, const char *want) {
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  digest(given, a);
  digest(want, b);
  return CRYPTO_memcmp(a, b, 32) == 0;
}

/* Inflates the zstd frames in |buf| into a scratch buffer, counting; stops past |max|. Returns
 * the count (max + 1 when over), or a negative SB_E* with |err| set. */
static long long unzstd_count(const uint8_t *buf, size_t len, uint64_t max, sb_err *err) {
  ZSTD_DStream *ds = ZSTD_createDStream();
  uint8_t *out = malloc(SCRATCH);
  long long rc = 0;
  if (!ds || !out) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory checking the archive's size");
    goto done;
  }
  ZSTD_initDStream(ds);
  ZSTD_inBuffer in = {buf, len, 0};
  uint64_t total = 0;
  for (;;) {
    ZSTD_outBuffer o = {out, SCRATCH, 0};
    size_t r = ZSTD_decompressStream(ds, &o, &in);
    if (ZSTD_isError(r)) {
      rc = sb_err_set(err, SB_EFORMAT, "archive: corrupt zstd data (%s)", ZSTD_getErrorName(r));
      goto done;
    }
    total += o.pos;
    if (total > max) break;
    if (in.pos == in.size && o.pos < SCRATCH) break; /* all in and all out (or truncated: the
                                                       * archive's parser says so) */
  }
  rc = (long long)(total > max ? max + 1 : total);
done:
  ZSTD_freeDStream(ds);
  free(out);
  return rc;
}

int sb_limits_archive_check(const uint8_t *buf, size_t len, uint64_t max, sb_err *err) {
  static const uint8_t magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
  if (!max) return 0;
  long long n = (long long)len;
  if (len >= 4 && memcmp(buf, magic, 4) == 0 && (n = unzstd_count(buf, len, max, err)) < 0)
    return (int)n;
  if ((uint64_t)n <= max) return 0;
  char s[32];
  return sb_err_set(err, SB_EINVAL,
                    "the test's archive unpacks to more than %s, this agent's --max-archive-size; "
                    "start the agent with a larger --max-archive-size, or leave big files out of "
                    "the test", sb_limits_size_str(max, s, sizeof(s)));
}

int sb_limits_parse_size(const char *s, uint64_t most, uint64_t *out) {
  if (!isdigit((unsigned char)s[0])) return SB_EINVAL;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return SB_EINVAL;
  static const struct { const char *unit; int shift; } units[] = {
      {"", 0}, {"B", 0}, {"K", 10}, {"KB", 10}, {"KiB", 10}, {"M", 20}, {"MB", 20},
      {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}};
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcmp(end, units[i].unit) != 0) continue;
    if (v == 0 || v > (most >> units[i].shift)) return SB_EINVAL;
    *out = (uint64_t)v << units[i].shift;
    return 0;
  }
  return SB_EINVAL;
}

const char *sb_limits_size_str(uint64_t n, char *buf, size_t size) {
  static const char *units[] = {"KiB", "MiB", "GiB"};
  if (n < 1024) {
    snprintf(buf, size, "%llu bytes", (unsigned long long)n);
    return buf;
  }
  int u = 0;
  double v = (double)n / 1024;
  while (v >= 1024 && u < 2) v /= 1024, u++;
  if (v == (double)(uint64_t)v)
    snprintf(buf, size, "%llu %s", (unsigned long long)v, units[u]);
  else
    snprintf(buf, size, "%.1f %s", v, units[u]);
  return buf;
}
