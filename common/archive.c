/* The test archive: ustar (+ pax long names) written by hand, zstd around it. */
#include "common/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/buf.h"

#define BLOCK 512
#define MAX_UNPACKED (1024ull * 1024 * 1024)

int sb_archive_new(sb_archive **out) {
  sb_archive *a = calloc(1, sizeof(*a));
  if (!a) return SB_ENOMEM;
  *out = a;
  return 0;
}

void sb_archive_free(sb_archive *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) {
    free(a->files[i].name);
    free(a->files[i].data);
  }
  free(a->files);
  free(a);
}

static int bad_name(const char *name) {
  if (!name || !*name || name[0] == '/') return 1;
  for (const char *p = name; *p; p++) {
    if (p[0] == '.' && p[1] == '.' && (p == name || p[-1] == '/') && (p[2] == '/' || !p[2]))
      return 1;
  }
  return 0;
}

int sb_archive_add(sb_archive *a, const char *name, const void *data, size_t len) {
  if (bad_name(name)) return SB_EINVAL;
  uint8_t *copy = malloc(len + 1);
  if (!copy) return SB_ENOMEM;
  if (len) memcpy(copy, data, len);
  copy[len] = '\0';
  for (size_t i = 0; i < a->n; i++) {
    if (strcmp(a->files[i].name, name) == 0) {
      free(a->files[i].data);
      a->files[i].data = copy;
      a->files[i].len = len;
      return 0;
    }
  }
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    sb_archive_file *f = realloc(a->files, cap * sizeof(*f));
    if (!f) goto nomem;
    a->files = f;
    a->cap = cap;
  }
  char *n = strdup(name);
  if (!n) goto nomem;
  a->files[a->n++] = (sb_archive_file){.name = n, .data = copy, .len = len};
  return 0;
nomem:
  free(copy);
  return SB_ENOMEM;
}

const sb_archive_file *sb_archive_get(const sb_archive *a, const char *name) {
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->files[i].name, name) == 0) return &a->files[i];
  return NULL;
}

/* --- writing -------------------------------------------------------------------------------- */

static void octal(char *field, size_t width, uint64_t v) {
  snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

static void checksum(uint8_t *h) {
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < BLOCK; i++) sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  h[155] = ' ';
}

/* One header block: |type| '0' for a file, 'x' for a pax record set. */
static int put_header(sb_buf *b, const char *name, uint64_t size, char type) {
  uint8_t h[BLOCK];
  memset(h, 0, sizeof(h));
  snprintf((char *)h, 100, "%s", name);
  octal((char *)h + 100, 8, 0644);
  octal((char *)h + 108, 8, 0);
  octal((char *)h + 116, 8, 0);
  octal((char *)h + 124, 12, size);
  octal((char *)h + 136, 12, 0);
  h[156] = (uint8_t)type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  checksum(h);
  return sb_buf_append(b, h, BLOCK);
}

static int put_padded(sb_buf *b, const void *data, size_t len) {
  static const uint8_t zeros[BLOCK];
  if (sb_buf_append(b, data, len)) return SB_ENOMEM;
  size_t pad = (BLOCK - len % BLOCK) % BLOCK;
  return sb_buf_append(b, zeros, pad);
}

/* A pax record "LEN path=NAME\n", where LEN counts the whole record including itself. */
static int put_pax_path(sb_buf *b, const char *name) {
  char rec[4200];
  size_t body = strlen(" path=\n") + strlen(name), len = body + 1;
  while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len) len++;
  if (len >= sizeof(rec)) return SB_EINVAL;
  snprintf(rec, sizeof(rec), "%zu path=%s\n", len, name);
  if (put_header(b, "PaxHeader", len, 'x')) return SB_ENOMEM;
  return put_padded(b, rec, len);
}

static int write_tar(const sb_archive *a, sb_buf *b) {
  for (size_t i = 0; i < a->n; i++) {
    const sb_archive_file *f = &a->files[i];
    if (strlen(f->name) >= 100 && put_pax_path(b, f->name)) return SB_ENOMEM;
    if (put_header(b, f->name, f->len, '0') || put_padded(b, f->data, f->len)) return SB_ENOMEM;
  }
  uint8_t end[2 * BLOCK];
  memset(end, 0, sizeof(end));
  return sb_buf_append(b, end, sizeof(end));
}

int sb_archive_write(const sb_archive *a, int level, uint8_t **out, size_t *len, sb_err *err) {
  sb_buf tar;
  sb_buf_init(&tar);
  if (write_tar(a, &tar)) {
    sb_buf_clear(&tar);
    return sb_err_set(err, SB_ENOMEM, "out of memory writing the archive");
  }
  if (level <= 0) {
    *out = (uint8_t *)sb_buf_steal(&tar, len);
    return *out ? 0 : SB_ENOMEM;
  }
  size_t cap = ZSTD_compressBound(tar.len);
  uint8_t *z = malloc(cap);
  if (!z) {
    sb_buf_clear(&tar);
    return sb_err_set(err, SB_ENOMEM, "out of memory compressing the archive");
  }
  size_t n = ZSTD_compress(z, cap, tar.data, tar.len, level);
  sb_buf_clear(&tar);
  if (ZSTD_isError(n)) {
    free(z);
    return sb_err_set(err, SB_ENOMEM, "zstd: %s", ZSTD_getErrorName(n));
  }
  *out = z;
  *len = n;
  return 0;
}

/* --- reading -------------------------------------------------------------------------------- */

static int unzstd(const uint8_t *buf, size_t len, sb_buf *out, sb_err *err) {
  unsigned long long size = ZSTD_getFrameContentSize(buf, len);
  if (size == ZSTD_CONTENTSIZE_ERROR)
    return sb_err_set(err, SB_EFORMAT, "archive: a garbled zstd frame header");
  if (size != ZSTD_CONTENTSIZE_UNKNOWN && size > MAX_UNPACKED)
    return sb_err_set(err, SB_EFORMAT, "archive: more than 1 GiB once decompressed");
  if (size != ZSTD_CONTENTSIZE_UNKNOWN && sb_buf_reserve(out, (size_t)size))
    return sb_err_set(err, SB_ENOMEM, "out of memory decompressing the archive");
  ZSTD_DStream *ds = ZSTD_createDStream();
  if (!ds) return sb_err_set(err, SB_ENOMEM, "out of memory");
  ZSTD_initDStream(ds);
  ZSTD_inBuffer in = {buf, len, 0};
  size_t rc = 1;
  while (in.pos < in.size || rc != 0) {
    if (sb_buf_reserve(out, 1 << 16)) {
      ZSTD_freeDStream(ds);
      return sb_err_set(err, SB_ENOMEM, "out of memory decompressing the archive");
    }
    ZSTD_outBuffer o = {out->data + out->len, out->cap - out->len - 1, 0};
    size_t before = in.pos;
    rc = ZSTD_decompressStream(ds, &o, &in);
    out->len += o.pos;
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      return sb_err_set(err, SB_EFORMAT, "archive: zstd: %s", ZSTD_getErrorName(rc));
    }
    if (out->len > MAX_UNPACKED) {
      ZSTD_freeDStream(ds);
      return sb_err_set(err, SB_EFORMAT, "archive: more than 1 GiB once decompressed");
    }
    if (rc != 0 && in.pos == in.size && o.pos == 0 && before == in.pos) {
      ZSTD_freeDStream(ds);
      return sb_err_set(err, SB_EFORMAT, "archive: the zstd stream is truncated");
    }
  }
  ZSTD_freeDStream(ds);
  return 0;
}

static int parse_octal(const uint8_t *f, size_t width, uint64_t *v) {
  uint64_t r = 0;
  size_t i = 0;
  while (i < width && (f[i] == ' ' || f[i] == '\0')) i++;
  if (i == width) {
    *v = 0;
    return 0;
  }
  for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) r = r * 8 + (uint64_t)(f[i] - '0');
  for (; i < width; i++)
    if (f[i] != ' ' && f[i] != '\0') return -1;
  *v = r;
  return 0;
}

static int header_ok(const uint8_t *h) {
  uint64_t want;
  if (parse_octal(h + 148, 8, &want)) return 0;
  unsigned sum = 0;
  for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
  return sum == want;
}

/* Finds "path=" in a pax record set ("LEN key=value\n" records, LEN counting the whole record).
 * Returns a malloc'ed name, NULL when there is none; *|bad| is set when the records are
 * garbled. */
static char *pax_path(const uint8_t *p, size_t len, int *bad) {
  size_t off = 0;
  *bad = 0;
  while (off < len) {
    size_t n = 0, i = off;
    for (; i < len && p[i] >= '0' && p[i] <= '9' && n < len; i++) n = n * 10 + (p[i] - '0');
    if (i == off || i >= len || p[i] != ' ' || n <= i - off + 1 || n > len - off ||
        p[off + n - 1] != '\n') {
      *bad = 1;
      return NULL;
    }
    const char *kv = (const char *)p + i + 1;
    size_t kvlen = off + n - 1 - (i + 1); /* without the '\n' */
    if (kvlen > 5 && strncmp(kv, "path=", 5) == 0) return strndup(kv + 5, kvlen - 5);
    off += n;
  }
  return NULL;
}

static int parse_tar(sb_archive *a, const uint8_t *buf, size_t len, sb_err *err) {
  size_t off = 0;
  char *long_name = NULL;
  int rc = 0;
  int ended = 0;
  while (off + BLOCK <= len) {
    const uint8_t *h = buf + off;
    int zero = 1;
    for (int i = 0; i < BLOCK && zero; i++) zero = h[i] == 0;
    if (zero) {
      ended = 1;
      break;
    }
    uint64_t size;
    if (!header_ok(h) || parse_octal(h + 124, 12, &size)) {
      rc = sb_err_set(err, SB_EFORMAT, "archive: bad tar header at offset %zu", off);
      break;
    }
    size_t data = off + BLOCK;
    if (size > len - data) {
      rc = sb_err_set(err, SB_EFORMAT, "archive: entry at offset %zu is truncated", off);
      break;
    }
    char type = (char)h[156];
    if (type == 'x' || type == 'L') {
      int bad = 0;
      free(long_name);
      long_name = type == 'x' ? pax_path(buf + data, size, &bad)
                              : strndup((const char *)buf + data, size);
      if (bad) {
        rc = sb_err_set(err, SB_EFORMAT, "archive: garbled pax header at offset %zu", off);
        break;
      }
      if (type == 'L' && !long_name) {
        rc = sb_err_set(err, SB_ENOMEM, "out of memory reading the archive");
        break;
      }
    } else if (type == '0' || type == '\0' || type == '7') {
      char name[260];
      if (h[345] && memcmp(h + 257, "ustar\0", 6) == 0) /* POSIX prefix, not GNU's atime */
        snprintf(name, sizeof(name), "%.155s/%.100s", h + 345, h);
      else snprintf(name, sizeof(name), "%.100s", h);
      const char *nm = long_name ? long_name : name;
      while (nm[0] == '.' && nm[1] == '/') nm += 2;
      rc = sb_archive_add(a, nm, buf + data, size);
      if (rc) {
        rc = rc == SB_ENOMEM ? sb_err_set(err, SB_ENOMEM, "out of memory reading the archive")
                             : sb_err_set(err, SB_EFORMAT, "archive: unsafe entry name '%s'", nm);
        break;
      }
      free(long_name);
      long_name = NULL;
    } else {
      free(long_name); /* directories, links and the like are skipped */
      long_name = NULL;
    }
    off = data + (size + BLOCK - 1) / BLOCK * BLOCK;
  }
  free(long_name);
  if (!rc && !ended)
    rc = sb_err_set(err, SB_EFORMAT, "archive: truncated at offset %zu (no end-of-archive block)",
                    off);
  return rc;
}

static int is_zero_block(const uint8_t *h) {
  for (int i = 0; i < BLOCK; i++)
    if (h[i]) return 0;
  return 1;
}

/* A plain tar is told by its first header's magic; a tar of no file (end blocks only, as
 * sb_archive_write() makes one) has none, and is read as the empty archive it is. */
int sb_archive_parse(sb_archive **out, const uint8_t *buf, size_t len, sb_err *err) {
  sb_archive *a;
  if (sb_archive_new(&a)) return sb_err_set(err, SB_ENOMEM, "out of memory");
  int rc;
  if (len >= 4 && buf[0] == 0x28 && buf[1] == 0xB5 && buf[2] == 0x2F && buf[3] == 0xFD) {
    sb_buf tar;
    sb_buf_init(&tar);
    rc = unzstd(buf, len, &tar, err);
    if (!rc) rc = parse_tar(a, (const uint8_t *)tar.data, tar.len, err);
    sb_buf_clear(&tar);
  } else if (len >= BLOCK && (memcmp(buf + 257, "ustar", 5) == 0 || is_zero_block(buf))) {
    rc = parse_tar(a, buf, len, err);
  } else {
    rc = sb_err_set(err, SB_EFORMAT, "archive: neither a zstd-compressed nor a plain tar");
  }
  if (rc) {
    sb_archive_free(a);
    return rc;
  }
  *out = a;
  return 0;
}
