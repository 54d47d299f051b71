/* VU heap memory: see vu_mem.h. */
#include "agent/vu_mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define CHUNK_SHIFT 23
#define CHUNK ((size_t)1 << CHUNK_SHIFT) /* one mapping, aligned to its size: 512 spans */
#define SPAN_HDR 16u                     /* a span's class size and index, before its blocks */
#define LARGE_HDR 16u                    /* a malloc'ed block's size, before it (alignment kept) */
#define ADDR_BITS 47                     /* user-space addresses on x86-64 and aarch64 (4 levels) */
#define BITMAP_BYTES (((size_t)1 << (ADDR_BITS - CHUNK_SHIFT)) / 8)

struct sb_vu_pool {
  sb_vu_mem mem;                         /* the worker's allocator (sb_vu_pool_mem) */
  pthread_mutex_t mu;
  char *cur, *end;                       /* the spans not handed out yet of the newest chunk */
  void **chunks;                         /* every chunk, for the unmap */
  size_t nchunks, cap;
  uint64_t *bits;                        /* bit (address >> CHUNK_SHIFT): one of our chunks;
                                            2 MiB reserved, the pages touched only as needed */
};

int sb_vu_pool_wanted(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  const char *force = getenv("SB_VU_POOL");
  return !RUNNING_ON_VALGRIND || (force && strcmp(force, "1") == 0);
#endif
}

sb_vu_pool *sb_vu_pool_new(void) {
  sb_vu_pool *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->bits = mmap(NULL, BITMAP_BYTES, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p->bits == MAP_FAILED) {
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  sb_vu_mem_init(&p->mem, p);
  return p;
}

void sb_vu_pool_free(sb_vu_pool *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nchunks; i++) munmap(p->chunks[i], CHUNK);
  free(p->chunks);
  munmap(p->bits, BITMAP_BYTES);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

size_t sb_vu_pool_mapped(const sb_vu_pool *p) { return p->nchunks * CHUNK; }

sb_vu_mem *sb_vu_pool_mem(sb_vu_pool *p) { return &p->mem; }

/* A CHUNK-aligned mapping of CHUNK bytes: twice the size mapped, the ends unmapped. Transparent
 * huge pages are asked for (MADV_HUGEPAGE; refused quietly where THP is off): the VUs fill their
 * chunks' spans densely from the start (99% of the chunks' bytes resident at 20,000 VUs), so
 * 2 MiB pages cost no memory, and one fault per 2 MiB instead of 512 is what start-up needs on a
 * VM, where a 4 KiB first touch was measured at ~17 us (20,000 VUs: 7.3 / 8.3 s -> 5.6 / 5.2 s to
 * setup()). */
static char *map_aligned_chunk(void) {
  char *m = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return NULL;
  char *c = (char *)(((uintptr_t)m + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
  if (c > m) munmap(m, (size_t)(c - m));
  if (c + CHUNK < m + 2 * CHUNK) munmap(c + CHUNK, (size_t)(m + 2 * CHUNK - (c + CHUNK)));
#ifdef MADV_HUGEPAGE
  (void)madvise(c, CHUNK, MADV_HUGEPAGE);
#endif
  return c;
}

/* Maps one more chunk and marks it ours (the pool's lock held). Returns 0 or -1. */
static int pool_grow(sb_vu_pool *p) {
  if (p->nchunks == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 16;
    void **c = realloc(p->chunks, cap * sizeof(*c));
    if (!c) return -1;
    p->chunks = c;
    p->cap = cap;
  }
  char *c = map_aligned_chunk();
  if (!c) return -1;
  uintptr_t bit = (uintptr_t)c >> CHUNK_SHIFT;
  if (bit >= BITMAP_BYTES * 8) { /* an address beyond 47 bits (5-level paging): not ours to map */
    munmap(c, CHUNK);
    return -1;
  }
  p->bits[bit / 64] |= (uint64_t)1 << (bit % 64);
  p->chunks[p->nchunks++] = c;
  p->cur = c;
  p->end = c + CHUNK;
  return 0;
}

static char *pool_take(sb_vu_pool *p) {
  char *s = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->cur < p->end || pool_grow(p) == 0) {
    s = p->cur;
    p->cur += SB_VU_SPAN;
  }
  pthread_mutex_unlock(&p->mu);
  return s;
}

/* --- the allocator ------------------------------------------------------------------------- */

void sb_vu_mem_init(sb_vu_mem *m, sb_vu_pool *pool) {
  memset(m, 0, sizeof(*m));
  m->pool = pool;
  m->chunk_bits = pool->bits;
}

/* 1 when |p| lies in one of the pool's chunks (a small block). */
static inline int is_small(const sb_vu_mem *m, const void *p) {
  uintptr_t bit = (uintptr_t)p >> CHUNK_SHIFT;
  return bit < BITMAP_BYTES * 8 && (m->chunk_bits[bit / 64] >> (bit % 64)) & 1;
}

/* The header of the span holding the small block |p|: [0] its class's size, [1] the class. */
static inline const uint32_t *span_hdr(const void *p) {
  return (const uint32_t *)((uintptr_t)p & ~(uintptr_t)(SB_VU_SPAN - 1));
}
static inline size_t span_class(const void *p) { return span_hdr(p)[0]; }

/* The medium classes' sizes: the largest multiple of 8 that fits k times in a span, k = 15..2. */
#define MEDIUM(k) ((((SB_VU_SPAN - SPAN_HDR) / (k)) & ~7u))
static const uint32_t medium_size[SB_VU_MEDIUM] = {
    MEDIUM(15), MEDIUM(14), MEDIUM(13), MEDIUM(12), MEDIUM(11), MEDIUM(10), MEDIUM(9),
    MEDIUM(8),  MEDIUM(7),  MEDIUM(6),  MEDIUM(5),  MEDIUM(4),  MEDIUM(3),  MEDIUM(2)};
_Static_assert(MEDIUM(15) > SB_VU_FINE_MAX && MEDIUM(2) == SB_VU_SMALL_MAX, "medium classes");

/* The class of a small block of |n| bytes (n <= SB_VU_SMALL_MAX), its size in |*sz|. */
static inline size_t class_of(size_t n, size_t *sz) {
  if (n <= SB_VU_FINE_MAX) {
    *sz = n ? (n + 7) & ~(size_t)7 : 8;
    return *sz / 8 - 1;
  }
  size_t i = 0;
  while (medium_size[i] < n) i++; /* rare: a dozen blocks a VU */
  *sz = medium_size[i];
  return SB_VU_FINE_CLASSES + i;
}

static inline size_t *large_hdr(const void *p) { return (size_t *)((char *)p - LARGE_HDR); }

size_t sb_vu_mem_block_size(const sb_vu_mem *m, const void *p) {
  return is_small(m, p) ? span_class(p) : *large_hdr(p);
}

static void *alloc_large(sb_vu_mem *m, size_t n) {
  if (n > SIZE_MAX - LARGE_HDR) return NULL;
  char *h = malloc(n + LARGE_HDR);
  if (!h) return NULL;
  *(size_t *)h = n + LARGE_HDR;
  m->bytes += n + LARGE_HDR;
  return h + LARGE_HDR;
}

/* A new span for class |c| (blocks of |sz| bytes). Returns its first block or NULL. */
static void *new_span(sb_vu_mem *m, size_t c, size_t sz) {
  char *s = pool_take(m->pool);
  if (!s) return NULL;
  ((uint32_t *)s)[0] = (uint32_t)sz;
  ((uint32_t *)s)[1] = (uint32_t)c;
  m->cur[c] = s + SPAN_HDR + sz;
  m->end[c] = s + SB_VU_SPAN;
  return s + SPAN_HDR;
}

void *sb_vu_mem_alloc(sb_vu_mem *m, size_t n) {
  if (n > SB_VU_SMALL_MAX) return alloc_large(m, n);
  size_t sz, c = class_of(n, &sz);
  void *blk = m->free[c];
  if (blk) {
    m->free[c] = *(void **)blk;
  } else if ((size_t)(m->end[c] - m->cur[c]) >= sz) {
    blk = m->cur[c];
    m->cur[c] += sz;
  } else if (!(blk = new_span(m, c, sz))) {
    return NULL;
  }
  m->bytes += sz;
  return blk;
}

void sb_vu_mem_free(sb_vu_mem *m, void *p) {
  if (!p) return;
  if (!is_small(m, p)) {
    m->bytes -= *large_hdr(p);
    free(large_hdr(p));
    return;
  }
  const uint32_t *h = span_hdr(p);
  size_t sz = h[0], c = h[1];
  *(void **)p = m->free[c];
  m->free[c] = p;
  m->bytes -= sz;
}

void *sb_vu_mem_realloc(sb_vu_mem *m, void *p, size_t n) {
  if (!p) return sb_vu_mem_alloc(m, n);
  if (n == 0) {
    sb_vu_mem_free(m, p);
    return NULL;
  }
  int small = is_small(m, p);
  size_t old = small ? span_class(p) : *large_hdr(p);
  if (!small && n > SB_VU_SMALL_MAX) { /* large to large: malloc's realloc */
    if (n > SIZE_MAX - LARGE_HDR) return NULL;
    char *h = realloc(large_hdr(p), n + LARGE_HDR);
    if (!h) return NULL;
    *(size_t *)h = n + LARGE_HDR;
    m->bytes = m->bytes - old + n + LARGE_HDR;
    return h + LARGE_HDR;
  }
  if (small && n <= old) { /* the same class: kept in place */
    size_t sz;
    if (class_of(n, &sz) == span_hdr(p)[1]) return p;
  }
  void *q = sb_vu_mem_alloc(m, n);
  if (!q) return NULL;
  size_t keep = small ? old : old - LARGE_HDR;
  memcpy(q, p, keep < n ? keep : n);
  sb_vu_mem_free(m, p);
  return q;
}
