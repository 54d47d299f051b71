/* The VU heap allocator (agent/vu_mem.h): classes, reuse, large blocks, realloc moves, exact
 * accounting, freed blocks serving the worker's next VU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/vu_mem.h"

static void blocks_are_aligned_and_counted(void **state) {
  (void)state;
  sb_vu_pool *pool = sb_vu_pool_new();
  sb_vu_mem m;
  sb_vu_mem_init(&m, pool);
  size_t want = 0;
  void *p[200];
  for (size_t i = 0; i < 200; i++) {
    p[i] = sb_vu_mem_alloc(&m, i * 7);
    assert_non_null(p[i]);
    assert_int_equal((uintptr_t)p[i] % 8, 0);
    assert_true(sb_vu_mem_block_size(p[i]) >= i * 7 + 8);
    memset(p[i], (int)i, i * 7); /* writable to its end */
    want += sb_vu_mem_block_size(p[i]);
  }
  assert_int_equal(m.bytes, want);
  for (size_t i = 0; i < 200; i++) assert_true(i == 0 || ((unsigned char *)p[i])[0] == (i & 0xff));
  for (size_t i = 0; i < 200; i++) sb_vu_mem_free(&m, p[i]);
  assert_int_equal(m.bytes, 0);
  sb_vu_pool_free(pool);
}

static void freed_blocks_are_reused(void **state) {
  (void)state;
  sb_vu_pool *pool = sb_vu_pool_new();
  sb_vu_mem m;
  sb_vu_mem_init(&m, pool);
  void *a = sb_vu_mem_alloc(&m, 40);
  sb_vu_mem_free(&m, a);
  assert_ptr_equal(sb_vu_mem_alloc(&m, 33), a); /* same 48-byte class */
  /* A steady churn stays in the spans it has. */
  for (int i = 0; i < 100000; i++) sb_vu_mem_free(&m, sb_vu_mem_alloc(&m, (size_t)(i % 500)));
  assert_true(sb_vu_pool_mapped(pool) <= 8u * 1024 * 1024);
  sb_vu_mem_free(&m, a);
  sb_vu_pool_free(pool);
}

static void large_blocks_and_realloc(void **state) {
  (void)state;
  sb_vu_pool *pool = sb_vu_pool_new();
  sb_vu_mem m;
  sb_vu_mem_init(&m, pool);
  char *p = sb_vu_mem_realloc(&m, NULL, 10);
  memcpy(p, "0123456789", 10);
  p = sb_vu_mem_realloc(&m, p, 5000); /* small to large: moved, contents kept */
  assert_memory_equal(p, "0123456789", 10);
  assert_int_equal(m.bytes, 5008);
  p = sb_vu_mem_realloc(&m, p, 100000); /* large to large */
  assert_memory_equal(p, "0123456789", 10);
  assert_int_equal(m.bytes, 100008);
  p = sb_vu_mem_realloc(&m, p, 20); /* back to small */
  assert_memory_equal(p, "0123456789", 10);
  assert_int_equal(m.bytes, 32);
  char *same = sb_vu_mem_realloc(&m, p, 24); /* same class: in place */
  assert_ptr_equal(same, p);
  assert_null(sb_vu_mem_realloc(&m, same, 0));
  assert_int_equal(m.bytes, 0);
  sb_vu_pool_free(pool);
}

/* A worker's VUs share its allocator: what one VU's heap freed (all of it, when it ended) the
 * next one takes without a new chunk. */
static void freed_blocks_serve_the_next_vu(void **state) {
  (void)state;
  sb_vu_pool *pool = sb_vu_pool_new();
  sb_vu_mem *m = sb_vu_pool_mem(pool);
  static void *p[5000];
  for (int i = 0; i < 5000; i++) assert_non_null(p[i] = sb_vu_mem_alloc(m, 100)); /* ~560 KB */
  size_t mapped = sb_vu_pool_mapped(pool);
  assert_true(mapped > 0);
  for (int i = 0; i < 5000; i++) sb_vu_mem_free(m, p[i]); /* the first VU ends */
  assert_int_equal(m->bytes, 0);
  for (int i = 0; i < 5000; i++) assert_non_null(sb_vu_mem_alloc(m, 100));
  assert_int_equal(sb_vu_pool_mapped(pool), mapped); /* no new chunk: the blocks came back */
  sb_vu_pool_free(pool);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(blocks_are_aligned_and_counted),
      cmocka_unit_test(freed_blocks_are_reused),
      cmocka_unit_test(large_blocks_and_realloc),
      cmocka_unit_test(freed_blocks_serve_the_next_vu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
