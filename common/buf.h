/* Growable byte buffer, embedded in its owner (STYLE.md rule 4). Always NUL-terminated after the
 * first append, so text can be used as a C string; |len| excludes the NUL. */
#ifndef SB_BUF_H
#define SB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct sb_buf {
  char *data;  /* NULL until the first append */
  size_t len;  /* bytes used */
  size_t cap;  /* bytes allocated */
} sb_buf;

void sb_buf_init(sb_buf *b);
/* Frees the memory; |b| is empty and reusable afterwards. */
void sb_buf_clear(sb_buf *b);
/* Forgets the content but keeps the memory (no allocation when refilled to the same size). */
static inline void sb_buf_reset(sb_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}
/* Makes room for |extra| more bytes (+ NUL). Returns 0 or SB_ENOMEM. */
int sb_buf_reserve(sb_buf *b, size_t extra);
/* Appends |n| bytes (and keeps a NUL after them). Returns 0 or SB_ENOMEM. Inline when they fit:
 * the per-request path appends a few dozen small pieces (headers, the request line). */
int sb_buf_append_grow(sb_buf *b, const void *p, size_t n);
static inline int sb_buf_append(sb_buf *b, const void *p, size_t n) {
  if (b->cap - b->len <= n) return sb_buf_append_grow(b, p, n); /* also the NULL buffer */
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}
int sb_buf_puts(sb_buf *b, const char *s);
int sb_buf_printf(sb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_buf_vprintf(sb_buf *b, const char *fmt, va_list ap);
/* Hands the memory to the caller (free() it); |b| is empty afterwards. */
char *sb_buf_steal(sb_buf *b, size_t *len);

struct sb_err;
/* Appends the whole file at |path|. Returns 0, SB_ENOTFOUND, SB_EIO or SB_ENOMEM; |err| names
 * the file and the reason. */
int sb_buf_read_file(sb_buf *b, const char *path, struct sb_err *err);
/* Reads a one-line secret (a shared token) from |path| into |*out| (free() it), trailing newlines
 * dropped. Returns 0, or SB_ENOTFOUND / SB_EIO / SB_ENOMEM, or SB_EINVAL for an empty file, with
 * |err| naming the file. */
int sb_read_secret_file(const char *path, char **out, struct sb_err *err);
/* Writes |len| bytes to |path| (created or truncated). Returns 0 or SB_EIO. */
int sb_write_file(const char *path, const void *data, size_t len, struct sb_err *err);

#endif
