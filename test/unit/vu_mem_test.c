/* The VU heap allocator (agent/vu_mem.h): classes, reuse, large blocks, realloc moves, exact
 * accounting without headers, freed blocks serving the worker's next VU. */
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
    assert_true(sb_vu_mem_block_size(&m, p[i]) >= i * 7);
    if (i * 7 <= SB_VU_FINE_MAX) /* small: no header, 8-byte classes */
      assert_true(sb_vu_mem_block_size(&m, p[i]) < i * 7 + 8 || i == 0);
    memset(p[i], (int)i, i * 7); /* writable to its end */
    want += sb_vu_mem_block_size(&m, p[i]);
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
  assert_ptr_equal(sb_vu_mem_alloc(&m, 33), a); /* same 40-byte class */
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
  p = sb_vu_mem_realloc(&m, p, 9000); /* small to large: moved, contents kept */
  assert_memory_equal(p, "0123456789", 10);
  assert_int_equal(m.bytes, 9016); /* a large block keeps a 16-byte header */
  p = sb_vu_mem_realloc(&m, p, 100000); /* large to large */
  assert_memory_equal(p, "0123456789", 10);
  assert_int_equal(m.bytes, 100016);
  p = sb_vu_mem_realloc(&m, p, 20); /* back to small */
  assert_memory_equal(p, "0123456789", 10);
  assert_int_equal(m.bytes, 24);
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

/* Small blocks are told from malloc's by their chunk, whatever the bytes before them hold: a
 * small block of each class, a large one, and blocks packed back to back, each freed with its own
 * size. */
static void sizes_without_headers(void **state) {
  (void)state;
  sb_vu_pool *pool = sb_vu_pool_new();
  sb_vu_mem m;
  sb_vu_mem_init(&m, pool);
  static void *p[SB_VU_CLASSES + 1];
  static const size_t medium[SB_VU_MEDIUM] = {1088, 1168, 1256, 1360, 1488, 1632, 1816,
                                              2040, 2336, 2728, 3272, 4088, 5456, 8184};
  for (size_t c = 0; c < SB_VU_CLASSES; c++) {
    size_t n = c < SB_VU_FINE_CLASSES ? (c + 1) * 8 : medium[c - SB_VU_FINE_CLASSES];
    assert_non_null(p[c] = sb_vu_mem_alloc(&m, n));
    assert_int_equal(sb_vu_mem_block_size(&m, p[c]), n);
    memset(p[c], 0xff, n); /* fills to the end: the next block's first bytes are not its size */
  }
  assert_non_null(p[SB_VU_CLASSES] = sb_vu_mem_alloc(&m, SB_VU_SMALL_MAX + 1));
  assert_int_equal(sb_vu_mem_block_size(&m, p[SB_VU_CLASSES]), SB_VU_SMALL_MAX + 1 + 16);
  char *a = sb_vu_mem_alloc(&m, 16), *b = sb_vu_mem_alloc(&m, 16);
  assert_ptr_equal(b, a + 16); /* back to back, nothing between */
  memset(a, 0xee, 32);
  sb_vu_mem_free(&m, a);
  assert_int_equal(sb_vu_mem_block_size(&m, b), 16);
  sb_vu_mem_free(&m, b);
  for (size_t c = 0; c <= SB_VU_CLASSES; c++) sb_vu_mem_free(&m, p[c]);
  assert_int_equal(m.bytes, 0);
  sb_vu_pool_free(pool);
}

/* Blocks of 1 to 8 KiB come from spans too (not malloc), in classes that fill a span: 1,025
 * bytes takes 1,088; 4,096 takes 5,456 (three to a span); each class's blocks lie back to back;
 * a realloc within a class stays in place, one across classes moves with its bytes. */
static void medium_classes(void **state) {
  (void)state;
  sb_vu_pool *pool = sb_vu_pool_new();
  sb_vu_mem m;
  sb_vu_mem_init(&m, pool);
  char *a = sb_vu_mem_alloc(&m, 1025), *b = sb_vu_mem_alloc(&m, 1088);
  assert_int_equal(sb_vu_mem_block_size(&m, a), 1088);
  assert_ptr_equal(b, a + 1088);
  char *c[3];
  for (int i = 0; i < 3; i++) {
    assert_non_null(c[i] = sb_vu_mem_alloc(&m, 4096));
    assert_int_equal(sb_vu_mem_block_size(&m, c[i]), 5456);
    memset(c[i], i, 5456); /* writable to its end, the span's last byte for the third */
  }
  assert_ptr_equal(c[1], c[0] + 5456);
  assert_ptr_equal(c[2], c[1] + 5456);
  assert_int_equal(((uintptr_t)c[2] + 5456) % SB_VU_SPAN, 0);
  char *d = sb_vu_mem_alloc(&m, 4096); /* a fourth: a new span */
  assert_int_equal(((uintptr_t)d - 16) % SB_VU_SPAN, 0);
  assert_int_equal(m.bytes, 2 * 1088 + 4 * 5456);
  memcpy(a, "medium", 6);
  assert_ptr_equal(sb_vu_mem_realloc(&m, a, 1030), a); /* same class */
  char *g = sb_vu_mem_realloc(&m, a, 3000);            /* 3,272 class: moved */
  assert_ptr_not_equal(g, a);
  assert_memory_equal(g, "medium", 6);
  assert_int_equal(sb_vu_mem_block_size(&m, g), 3272);
  assert_ptr_equal(sb_vu_mem_alloc(&m, 1050), a); /* the freed 1,088 block, reused */
  sb_vu_mem_free(&m, a);
  sb_vu_mem_free(&m, b);
  sb_vu_mem_free(&m, g);
  sb_vu_mem_free(&m, d);
  for (int i = 0; i < 3; i++) sb_vu_mem_free(&m, c[i]);
  assert_int_equal(m.bytes, 0);
  char *e = sb_vu_mem_alloc(&m, 8184), *f = sb_vu_mem_alloc(&m, 8184); /* the largest: 2 a span */
  assert_ptr_equal(f, e + 8184);
  assert_int_equal(((uintptr_t)f + 8184) % SB_VU_SPAN, 0);
  sb_vu_pool_free(pool);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(blocks_are_aligned_and_counted),
      cmocka_unit_test(freed_blocks_are_reused),
      cmocka_unit_test(large_blocks_and_realloc),
      cmocka_unit_test(freed_blocks_serve_the_next_vu),
      cmocka_unit_test(sizes_without_headers),
      cmocka_unit_test(medium_classes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
