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

#define CHUNK (8u * 1024 * 1024)         /* one mapping: 512 spans */
#define HDR 8u
#define LARGE ((uint64_t)1 << 63)        /* header flag: the block came from malloc */

struct sb_vu_pool {
  sb_vu_mem mem;                         /* the worker's allocator (sb_vu_pool_mem) */
  pthread_mutex_t mu;
  char *cur, *end;                       /* the untouched rest of the newest chunk */
  void **chunks;                         /* every chunk, for the unmap */
  size_t nchunks, cap;
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
  pthread_mutex_init(&p->mu, NULL);
  sb_vu_mem_init(&p->mem, p);
  return p;
}

void sb_vu_pool_free(sb_vu_pool *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nchunks; i++) munmap(p->chunks[i], CHUNK);
  free(p->chunks);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

size_t sb_vu_pool_mapped(const sb_vu_pool *p) { return p->nchunks * (size_t)CHUNK; }

sb_vu_mem *sb_vu_pool_mem(sb_vu_pool *p) { return &p->mem; }

/* Maps one more chunk (the pool's lock held). Returns 0 or -1. */
static int pool_grow(sb_vu_pool *p) {
  if (p->nchunks == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 16;
    void **c = realloc(p->chunks, cap * sizeof(*c));
    if (!c) return -1;
    p->chunks = c;
    p->cap = cap;
  }
  void *c = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (c == MAP_FAILED) return -1;
  p->chunks[p->nchunks++] = c;
  p->cur = c;
  p->end = (char *)c + CHUNK;
  return 0;
}

static void *pool_take(sb_vu_pool *p) {
  void *s = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->cur < p->end || pool_grow(p) == 0) {
    s = p->cur;
    p->cur += SB_VU_SPAN;
  }
  pthread_mutex_unlock(&p->mu);
  return s;
}

/* --- one VU ---------------------------------------------------------------------------------- */

void sb_vu_mem_init(sb_vu_mem *m, sb_vu_pool *pool) {
  memset(m, 0, sizeof(*m));
  m->pool = pool;
}

static inline uint64_t *hdr_of(const void *p) { return (uint64_t *)((char *)p - HDR); }

size_t sb_vu_mem_block_size(const void *p) { return (size_t)(*hdr_of(p) & ~LARGE); }

/* The block size (header included) for |n| bytes: a multiple of 16, at least 16. */
static inline size_t class_size(size_t n) { return (n + HDR + 15) & ~(size_t)15; }

/* Files the free block |blk| of |sz| bytes (header included) under its class. Not counted in
 * |bytes|. */
static inline void push_free(sb_vu_mem *m, void *blk, size_t sz) {
  size_t c = sz / 16 - 1;
  *(void **)blk = m->free[c];
  m->free[c] = blk;
  m->nonempty |= (uint64_t)1 << c;
}

static inline void *pop_free(sb_vu_mem *m, size_t c) {
  void *blk = m->free[c];
  if (!(m->free[c] = *(void **)blk)) m->nonempty &= ~((uint64_t)1 << c);
  return blk;
}

/* Makes the |sz|-byte block at |at| (header first) and returns its payload. */
static inline void *carve(char *at, size_t sz) {
  *(uint64_t *)at = sz;
  return at + HDR;
}

/* Files the rest of the current span under its class, so that a new span wastes nothing. */
static void retire_tail(sb_vu_mem *m) {
  size_t left = (size_t)(m->end - m->cur);
  if (left >= 16) push_free(m, carve(m->cur, left), left);
  m->cur = m->end = NULL;
}

/* A block of class |c| cut from the smallest larger free block, the rest filed; NULL: none. */
static void *split_larger(sb_vu_mem *m, size_t c, size_t sz) {
  uint64_t above = c + 1 < 64 ? m->nonempty & (~(uint64_t)0 << (c + 1)) : 0;
  if (!above) return NULL;
  size_t big = (size_t)__builtin_ctzll(above);
  char *blk = pop_free(m, big);
  size_t rest = (big + 1) * 16 - sz;
  push_free(m, carve(blk - HDR + sz, rest), rest);
  return carve(blk - HDR, sz);
}

static void *alloc_large(sb_vu_mem *m, size_t n) {
  if (n > SIZE_MAX - HDR) return NULL;
  uint64_t *h = malloc(n + HDR);
  if (!h) return NULL;
  *h = (uint64_t)(n + HDR) | LARGE;
  m->bytes += n + HDR;
  return (char *)h + HDR;
}

void *sb_vu_mem_alloc(sb_vu_mem *m, size_t n) {
  if (n > SB_VU_SMALL_MAX - HDR) return alloc_large(m, n);
  size_t sz = class_size(n), c = sz / 16 - 1;
  void *blk;
  if (m->free[c]) {
    blk = pop_free(m, c);
  } else if ((size_t)(m->end - m->cur) >= sz) {
    blk = carve(m->cur, sz);
    m->cur += sz;
  } else if (!(blk = split_larger(m, c, sz))) {
    char *s = pool_take(m->pool);
    if (!s) return NULL;
    retire_tail(m);
    m->cur = s + sz;
    m->end = s + SB_VU_SPAN;
    blk = carve(s, sz);
  }
  m->bytes += sz;
  return blk;
}

void sb_vu_mem_free(sb_vu_mem *m, void *p) {
  if (!p) return;
  uint64_t h = *hdr_of(p);
  if (h & LARGE) {
    m->bytes -= (size_t)(h & ~LARGE);
    free(hdr_of(p));
    return;
  }
  push_free(m, p, (size_t)h);
  m->bytes -= (size_t)h;
}

void *sb_vu_mem_realloc(sb_vu_mem *m, void *p, size_t n) {
  if (!p) return sb_vu_mem_alloc(m, n);
  if (n == 0) {
    sb_vu_mem_free(m, p);
    return NULL;
  }
  uint64_t h = *hdr_of(p);
  size_t old = (size_t)(h & ~LARGE);
  if ((h & LARGE) && n > SB_VU_SMALL_MAX - HDR) { /* large to large: malloc's realloc */
    if (n > SIZE_MAX - HDR) return NULL;
    uint64_t *nh = realloc(hdr_of(p), n + HDR);
    if (!nh) return NULL;
    *nh = (uint64_t)(n + HDR) | LARGE;
    m->bytes = m->bytes - old + n + HDR;
    return (char *)nh + HDR;
  }
  if (!(h & LARGE) && class_size(n) == old) return p;
  void *q = sb_vu_mem_alloc(m, n);
  if (!q) return NULL;
  size_t keep = old - HDR;
  memcpy(q, p, keep < n ? keep : n);
  sb_vu_mem_free(m, p);
  return q;
}
