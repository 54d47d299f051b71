/* An allocator that fails at the Nth call (alloc_fail_at; 0: never), for the unwinding paths.
 * Include it right before the module's .c, and failalloc_off.h right after, so that the module's
 * allocations — and only those — go through it:
 *
 *   #include "test/unit/failalloc.h"
 *   #include "controller/options.c"
 *   #include "test/unit/failalloc_off.h" */
#ifndef SB_TEST_FAILALLOC_H
#define SB_TEST_FAILALLOC_H

#include <stdlib.h>
#include <string.h>

static long alloc_fail_at, alloc_calls;
static int alloc_fails(void) { return alloc_fail_at && ++alloc_calls == alloc_fail_at; }
__attribute__((unused)) static void *t_malloc(size_t n) { return alloc_fails() ? NULL : malloc(n); }
__attribute__((unused)) static void *t_calloc(size_t a, size_t b) {
  return alloc_fails() ? NULL : calloc(a, b);
}
__attribute__((unused)) static void *t_realloc(void *p, size_t n) {
  return alloc_fails() ? NULL : realloc(p, n);
}
__attribute__((unused)) static char *t_strdup(const char *s) {
  return alloc_fails() ? NULL : strdup(s);
}
__attribute__((unused)) static char *t_strndup(const char *s, size_t n) {
  return alloc_fails() ? NULL : strndup(s, n);
}
#endif

#define malloc t_malloc
#define calloc t_calloc
#define realloc t_realloc
#define strdup t_strdup
#define strndup t_strndup
