#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#include <errno.h>

void sb_buf_init(sb_buf *b) { memset(b, 0, sizeof(*b)); }

void sb_buf_clear(sb_buf *b) {
  free(b->data);
  sb_buf_init(b);
}

int sb_buf_reserve(sb_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return SB_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sb_buf_append_grow(sb_buf *b, const void *p, size_t n) {
  if (sb_buf_reserve(b, n)) return SB_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sb_buf_puts(sb_buf *b, const char *s) { return sb_buf_append(b, s, strlen(s)); }

int sb_buf_vprintf(sb_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
  va_end(ap2);
  if (n < 0) return SB_EINVAL;
  if ((size_t)n < sizeof(tmp)) return sb_buf_append(b, tmp, (size_t)n);
  if (sb_buf_reserve(b, (size_t)n)) return SB_ENOMEM;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int sb_buf_printf(sb_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = sb_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *sb_buf_steal(sb_buf *b, size_t *len) {
  if (!b->data && sb_buf_reserve(b, 0)) return NULL;
  b->data[b->len] = '\0';
  char *p = b->data;
  if (len) *len = b->len;
  sb_buf_init(b);
  return p;
}

int sb_read_secret_file(const char *path, char **out, sb_err *err) {
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_buf_read_file(&b, path, err);
  while (!rc && b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
    b.data[--b.len] = '\0';
  if (!rc && !b.len) rc = sb_err_set(err, SB_EINVAL, "%s: the file is empty", path);
  if (rc) {
    sb_buf_clear(&b);
    return rc;
  }
  *out = sb_buf_steal(&b, NULL);
  return 0;
}

int sb_buf_read_file(sb_buf *b, const char *path, sb_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return sb_err_set(err, errno == ENOENT ? SB_ENOTFOUND : SB_EIO, "%s: %s", path, strerror(errno));
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (sb_buf_append(b, chunk, n)) {
      fclose(f);
      return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return sb_err_set(err, SB_EIO, "%s: read error", path);
  if (!b->data && sb_buf_reserve(b, 0)) return SB_ENOMEM;
  b->data[b->len] = '\0'; /* an empty file reads as "" */
  return 0;
}

int sb_write_file(const char *path, const void *data, size_t len, sb_err *err) {
  FILE *f = fopen(path, "wb");
  if (!f) return sb_err_set(err, SB_EIO, "%s: %s", path, strerror(errno));
  size_t n = fwrite(data, 1, len, f);
  if (fclose(f) != 0 || n != len) return sb_err_set(err, SB_EIO, "%s: write error", path);
  return 0;
}
