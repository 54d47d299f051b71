/* Fuzz target: the test archive as an agent receives it in Prepare (common/archive.c: zstd,
 * ustar, pax and GNU long names). What parses must write again (plain and compressed) and parse
 * back to the same files.
 *
 * Input: the archive bytes (a zstd frame or a plain tar). */
#include <stdlib.h>
#include <string.h>

#include "common/archive.h"
#include "test/fuzz/fuzz.h"

static void same(const sb_archive *a, const sb_archive *b) {
  if (a->n != b->n) abort();
  for (size_t i = 0; i < a->n; i++) {
    const sb_archive_file *f = &a->files[i], *g = sb_archive_get(b, f->name);
    if (!g || g->len != f->len || memcmp(g->data, f->data, f->len) || g->data[g->len]) abort();
  }
}

static void round_trip(const sb_archive *a, int level) {
  uint8_t *buf;
  size_t len;
  sb_err err;
  sb_archive *b;
  if (sb_archive_write(a, level, &buf, &len, &err) < 0) return; /* e.g. a 5,000-byte name */
  if (sb_archive_parse(&b, buf, len, &err) < 0) abort();
  same(a, b);
  sb_archive_free(b);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sb_archive *a;
  sb_err err;
  if (sb_archive_parse(&a, data, size, &err) < 0) return 0;
  round_trip(a, 0);
  round_trip(a, 1);
  sb_archive_free(a);
  return 0;
}
