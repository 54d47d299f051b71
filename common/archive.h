/* The test archive: a tar (ustar, with pax headers for long names) compressed with zstd, in k6's
 * layout, so `tar --zstd -tf test.tar.zst` lists it and a plain k6 archive (uncompressed tar from
 * `k6 archive`) is read too.
 *
 * Layout (k6's, plus es5/):
 *   metadata.json              options, filename (entry URL), env, compatibilityMode, ...
 *   data                       the entry script's source
 *   file/<abs path>            sources of local modules and files passed to open()
 *   https/<host/path>          sources of remote modules
 *   es5/file/<abs path>, es5/https/<host/path>
 *                              every module compiled to ES5 CommonJS by the controller
 * The archive lives in memory only: agents never write it to disk. */
#ifndef SB_ARCHIVE_H
#define SB_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct sb_archive_file {
  char *name;     /* path inside the tar, no leading "/" */
  uint8_t *data;  /* owned; NUL-terminated (not counted in len) for convenience */
  size_t len;
} sb_archive_file;

typedef struct sb_archive {
  sb_archive_file *files; /* in insertion order */
  size_t n, cap;
} sb_archive;

/* Creates an empty archive. Returns 0 or SB_ENOMEM. */
int sb_archive_new(sb_archive **out);
void sb_archive_free(sb_archive *a);

/* Adds a copy of |data| as |name|, replacing a file of the same name. Returns 0, SB_EINVAL (empty
 * or absolute name, "..") or SB_ENOMEM. */
int sb_archive_add(sb_archive *a, const char *name, const void *data, size_t len);
/* The file named |name|, or NULL. */
const sb_archive_file *sb_archive_get(const sb_archive *a, const char *name);

/* Serializes to a tar, compressed with zstd at |level| (1..19; 0 = plain tar). |*out| is
 * malloc'ed (caller frees). Returns 0 or SB_ENOMEM. */
int sb_archive_write(const sb_archive *a, int level, uint8_t **out, size_t *len, sb_err *err);

/* Parses a zstd-compressed or plain tar (detected by magic) into |*out| (free with
 * sb_archive_free()). Keeps no pointer into |buf|. Returns 0, SB_EFORMAT or SB_ENOMEM; on failure
 * |err| names the bad entry or offset. Only regular files are kept; directories are skipped. */
int sb_archive_parse(sb_archive **out, const uint8_t *buf, size_t len, sb_err *err);

#endif
