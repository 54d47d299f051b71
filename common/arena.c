/* Bump allocator (see arena.h). Chunks are plain mallocs linked newest first; a block is the
 * next |size| bytes of the newest chunk, rounded up to ALIGN. */
#include "common/arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define SB_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ARENA_ASAN 1
#endif
#endif

#ifdef SB_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define REDZONE 16 /* poisoned bytes after each block: an overrun hits them */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define REDZONE 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN alignof(max_align_t)

struct sb_arena_chunk {
  sb_arena_chunk *prev;  /* the chunk filled before this one, NULL for the first */
  size_t size;           /* bytes of data[] */
  size_t off;            /* bytes of data[] handed out */
  alignas(max_align_t) unsigned char data[];
};

static size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(ALIGN - 1); }

static void *pb_alloc(void *ud, size_t size) { return sb_arena_alloc(ud, size); }

static void pb_free(void *ud, void *p) {
  (void)ud; /* taken back by sb_arena_reset() */
  (void)p;
}

void sb_arena_init(sb_arena *a, size_t keep) {
  a->chunk = NULL;
  a->used = 0;
  a->want = 0;
  a->keep = keep > SB_ARENA_FIRST ? keep : SB_ARENA_FIRST;
  a->pb.alloc = pb_alloc;
  a->pb.free = pb_free;
  a->pb.allocator_data = a;
}

static void free_chunks(sb_arena_chunk *c) {
  while (c) {
    sb_arena_chunk *prev = c->prev;
    UNPOISON(c->data, c->size);
    free(c);
    c = prev;
  }
}

void sb_arena_clear(sb_arena *a) {
  free_chunks(a->chunk);
  a->chunk = NULL;
  a->used = 0;
  a->want = 0;
}

/* Links a new chunk able to hold |need| bytes: the size the last reset asked for, else twice
 * the current chunk (SB_ARENA_FIRST at first), or |need| when that is more. */
static sb_arena_chunk *grow(sb_arena *a, size_t need) {
  size_t size = a->chunk ? 2 * a->chunk->size : a->want ? a->want : SB_ARENA_FIRST;
  if (size < need) size = need;
  if (size > SIZE_MAX - sizeof(sb_arena_chunk)) return NULL;
  sb_arena_chunk *c = malloc(sizeof(*c) + size);
  if (!c) return NULL;
  c->prev = a->chunk;
  c->size = size;
  c->off = 0;
  POISON(c->data, size);
  a->chunk = c;
  a->want = 0;
  return c;
}

/* Hands out |need| bytes (|size| of them unpoisoned) from chunk |c|, which has room. */
static void *bump(sb_arena *a, sb_arena_chunk *c, size_t size, size_t need) {
  void *p = c->data + c->off;
  c->off += need;
  a->used += need;
  UNPOISON(p, size);
  return p;
}

/* sb_arena_alloc() when the chunk is full: apart, so the usual case saves no registers. */
__attribute__((noinline)) static void *alloc_slow(sb_arena *a, size_t size, size_t need) {
  sb_arena_chunk *c = grow(a, need);
  return c ? bump(a, c, size, need) : NULL;
}

void *sb_arena_alloc(sb_arena *a, size_t size) {
  if (size > SIZE_MAX / 2) return NULL;
  size_t need = round_up((size ? size : 1) + REDZONE);
  sb_arena_chunk *c = a->chunk;
  if (!c || c->size - c->off < need) return alloc_slow(a, size, need);
  return bump(a, c, size, need);
}

void sb_arena_reset(sb_arena *a) {
  sb_arena_chunk *c = a->chunk;
  if (!c) return;
  if (c->prev || c->size > a->keep) {
    /* Several chunks (or one too big to keep): free them all; the next alloc makes one chunk
     * for what this round used, a quarter more, when that is within |keep|. */
    size_t want = a->used + a->used / 4;
    free_chunks(c);
    a->chunk = NULL;
    a->want = want <= a->keep ? round_up(want) : 0;
  } else {
    c->off = 0;
    POISON(c->data, c->size);
  }
  a->used = 0;
}

size_t sb_arena_used(const sb_arena *a) { return a->used; }

ProtobufCAllocator *sb_arena_allocator(sb_arena *a) {
  a->pb.allocator_data = a; /* in case |a| was moved since sb_arena_init() */
  return &a->pb;
}
