/* Fuzz target: module path resolution (common/modpath.c), as the compile step and the VUs'
 * require() both run it on what scripts import. A resolved URL must be a fixed point (resolving
 * it again from anywhere gives itself) and map to an archive entry.
 *
 * Input: the base module URL, a newline, the import specifier. */
#include <stdlib.h>
#include <string.h>

#include "common/modpath.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *raw = fuzz_cstr(data, size), *spec = fuzz_split(raw), *base = NULL;
  char out[512], again[512], entry[600], based[512];
  sb_err err;
  size_t cap = size && data[0] == '#' ? 24 : sizeof(out); /* sometimes a small buffer */
  /* Any bytes as the base must not crash; the invariants hold for a base that is itself a
   * resolved module URL, as every importing module's is. */
  sb_modpath_resolve(*raw ? raw : NULL, spec, out, cap, &err);
  if (*raw && sb_modpath_resolve(NULL, raw, based, sizeof(based), &err) == 0 &&
      !sb_modpath_is_builtin(based))
    base = based;
  if (sb_modpath_resolve(base, spec, out, cap, &err) == 0) {
    if (strlen(out) >= cap) abort();
    if (!sb_modpath_is_builtin(out)) {
      if (sb_modpath_resolve(base, out, again, sizeof(again), &err) != 0 || strcmp(out, again))
        abort();
      sb_modpath_to_archive(out, 0, entry, sizeof(entry));
      sb_modpath_to_archive(out, 1, entry, sizeof(entry));
      sb_modpath_file_path(out);
    }
  }
  free(raw);
  return 0;
}
