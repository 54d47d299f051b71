/* The bump arena: alignment, growth past a chunk, one chunk sized for the last round after a
 * reset, the |keep| bound, running out of memory, and protobuf-c unpacking through it (the
 * controller's use: frame.c), a truncated message included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.c" /* statics and the chunk layout */
#include "proto/speedboat.pb-c.h"

static size_t nchunks(const sb_arena *a) {
  size_t n = 0;
  for (const sb_arena_chunk *c = a->chunk; c; c = c->prev)
    n++;
  return n;
}

static void test_aligned_and_distinct(void **state) {
  sb_arena a;
  sb_arena_init(&a, 0);
  assert_null(a.chunk); /* nothing until the first block */
  char *prev = NULL;
  for (size_t size = 0; size < 100; size++) {
    char *p = sb_arena_alloc(&a, size);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
    if (prev) assert_true(p > prev);
    memset(p, 0xab, size);
    prev = p;
  }
  assert_int_equal(nchunks(&a), 1);
  assert_true(sb_arena_used(&a) >= 99 * 100 / 2);
  sb_arena_clear(&a);
}

static void test_grows_then_one_chunk(void **state) {
  sb_arena a;
  sb_arena_init(&a, 8u << 20);
  for (int i = 0; i < 1000; i++) /* ~1 MB: several chunks */
    memset(sb_arena_alloc(&a, 1000), i, 1000);
  assert_true(nchunks(&a) > 1);
  size_t used = sb_arena_used(&a);
  sb_arena_reset(&a);
  assert_int_equal(sb_arena_used(&a), 0);
  assert_null(a.chunk); /* freed; the next alloc makes one chunk for all of it */
  assert_true(a.want >= used);
  for (int i = 0; i < 1000; i++)
    memset(sb_arena_alloc(&a, 1000), i, 1000);
  assert_int_equal(nchunks(&a), 1);
  sb_arena_chunk *c = a.chunk;
  sb_arena_reset(&a);
  assert_ptr_equal(a.chunk, c); /* kept, reused in place */
  assert_int_equal(c->off, 0);
  char *p = sb_arena_alloc(&a, 10);
  assert_ptr_equal(p, (char *)c->data);
  sb_arena_clear(&a);
}

/* A round bigger than |keep| is not held after its reset. */
static void test_keep_bound(void **state) {
  sb_arena a;
  sb_arena_init(&a, 0); /* keep = SB_ARENA_FIRST */
  assert_int_equal(a.keep, SB_ARENA_FIRST);
  assert_non_null(sb_arena_alloc(&a, 3 * SB_ARENA_FIRST)); /* one chunk, too big to keep */
  assert_int_equal(nchunks(&a), 1);
  sb_arena_reset(&a);
  assert_null(a.chunk);
  assert_int_equal(a.want, 0);
  for (int i = 0; i < 200; i++) /* several chunks, more than |keep| in all */
    assert_non_null(sb_arena_alloc(&a, 1024));
  sb_arena_reset(&a);
  assert_null(a.chunk);
  assert_int_equal(a.want, 0); /* back to SB_ARENA_FIRST, not the round's size */
  assert_non_null(sb_arena_alloc(&a, 1));
  assert_int_equal(a.chunk->size, SB_ARENA_FIRST);
  sb_arena_clear(&a);
  sb_arena_clear(&a); /* twice is fine */
}

static void test_out_of_memory(void **state) {
  sb_arena a;
  sb_arena_init(&a, 0);
  assert_non_null(sb_arena_alloc(&a, 16));
  size_t used = sb_arena_used(&a);
  assert_null(sb_arena_alloc(&a, SIZE_MAX - 8));
  assert_null(sb_arena_alloc(&a, SIZE_MAX / 2 + 1));
  assert_int_equal(sb_arena_used(&a), used); /* unchanged */
  assert_int_equal(nchunks(&a), 1);
  sb_arena_clear(&a);
}

/* An Envelope{log} packed, then unpacked into the arena and dropped by a reset; a truncated copy
 * is refused (protobuf-c frees its partial message through our no-op free). */
static void test_protobuf_unpack(void **state) {
  Speedboat__Log l = SPEEDBOAT__LOG__INIT;
  l.text = "hello from the arena";
  l.level = "info";
  Speedboat__Envelope env = SPEEDBOAT__ENVELOPE__INIT;
  env.msg_case = SPEEDBOAT__ENVELOPE__MSG_LOG;
  env.log = &l;
  uint8_t buf[256];
  size_t len = speedboat__envelope__pack(&env, buf);
  sb_arena a;
  sb_arena_init(&a, 0);
  for (int round = 0; round < 3; round++) {
    Speedboat__Envelope *e = speedboat__envelope__unpack(sb_arena_allocator(&a), len, buf);
    assert_non_null(e);
    assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_LOG);
    assert_string_equal(e->log->text, "hello from the arena");
    assert_string_equal(e->log->level, "info");
    assert_true((char *)e >= (char *)a.chunk->data &&
                (char *)e < (char *)a.chunk->data + a.chunk->size);
    assert_true(sb_arena_used(&a) > 0);
    sb_arena_reset(&a);
  }
  assert_null(speedboat__envelope__unpack(sb_arena_allocator(&a), len - 3, buf));
  sb_arena_reset(&a);
  assert_int_equal(sb_arena_used(&a), 0);
  sb_arena_clear(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aligned_and_distinct),
      cmocka_unit_test(test_grows_then_one_chunk),
      cmocka_unit_test(test_keep_bound),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_protobuf_unpack),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
