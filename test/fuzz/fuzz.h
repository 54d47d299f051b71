/* Helpers shared by the libFuzzer targets of test/fuzz/ (one LLVMFuzzerTestOneInput each). */
#ifndef SB_FUZZ_H
#define SB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'ed, NUL-terminated copy of the input (parsers of C strings see exactly these bytes,
 * cut at the first NUL). The harness frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* Splits |s| at its first '\n' (replaced by NUL) and returns what follows, or "" when it has
 * none: two strings from one input. */
static inline char *fuzz_split(char *s) {
  char *nl = strchr(s, '\n');
  if (!nl) return s + strlen(s);
  *nl = '\0';
  return nl + 1;
}

#endif
