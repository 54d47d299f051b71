/* Memory for the VUs' Duktape heaps: size classes over spans from a pool, one per worker.
 *
 * A Duktape heap makes and frees small blocks all the time (strings, objects, property tables,
 * ~100 KB of them per VU after its built-ins). glibc served them with a lock-free cache but
 * paid a malloc_usable_size() per block for the heap-limit accounting, grew each worker's arena
 * a page at a time (an mprotect per 4 KiB: 2.7 million of them for 100,000 VUs) and freed the
 * whole heap block by block when a VU ended. Here:
 *
 *   sb_vu_pool  spans of SB_VU_SPAN bytes carved from big mmap'ed chunks (a mutex guards them:
 *               a span is taken every 16 KiB of growth, so the lock is cold), and the worker's
 *               allocator over them (sb_vu_pool_mem), which every VU of the worker shares: what
 *               one VU frees (its init's leftovers, a VU that ended) the next one reuses.
 *   sb_vu_mem   an allocator: blocks of 8-byte classes up to SB_VU_FINE_MAX bytes, then
 *               SB_VU_MEDIUM classes up to SB_VU_SMALL_MAX (each the largest that fits k times
 *               in a span, k = 15 down to 2: ~1.4-4 KiB tables, a dozen per VU, were malloc's
 *               and touched its arena's pages one 4 KiB fault at a time), each class in spans
 *               of its own (bumped from the class's current span, reused through one free list
 *               per class), larger blocks from malloc. Blocks carry no
 *               header: a small block's size is its span's class (the span's first 16 bytes),
 *               found by aligning the pointer down; whether a pointer is small at all, by one
 *               bit per chunk (chunks are 8 MiB-aligned). A VU's heap is ~1,200 blocks of 8 to
 *               200 bytes: the 8-byte header and 16-byte rounding this replaces cost ~15 bytes
 *               of each (~14 KiB per VU). Not thread-safe: the VUs of a worker run on its
 *               thread only (made, iterated, called and freed there).
 *
 * Blocks are 8-byte aligned (what Duktape asks for on 64-bit platforms). */
#ifndef SB_VU_MEM_H
#define SB_VU_MEM_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define SB_VU_SPAN (16u * 1024)          /* bytes a class takes from its pool at a time */
#define SB_VU_FINE_MAX 1024u            /* largest block of the 8-byte classes */
#define SB_VU_MEDIUM 14u                /* classes above it: (SB_VU_SPAN - 16) / k, k = 15..2 */
#define SB_VU_SMALL_MAX 8184u           /* largest block served from spans: (16384 - 16) / 2 */
#define SB_VU_FINE_CLASSES (SB_VU_FINE_MAX / 8)
#define SB_VU_CLASSES (SB_VU_FINE_CLASSES + SB_VU_MEDIUM)

typedef struct sb_vu_pool sb_vu_pool;

/* Returns a new pool or NULL (out of memory). */
sb_vu_pool *sb_vu_pool_new(void);
/* 0 when the heaps should stay on malloc so that a memory checker sees every block: a build
 * with AddressSanitizer, or a run under valgrind (unless SB_VU_POOL=1 in the environment, as
 * scripts/bench-callgrind.sh sets: callgrind counts, it does not check). 1 otherwise. */
int sb_vu_pool_wanted(void);
/* Unmaps every chunk (spans are never handed back before: a worker's VUs share the freed blocks).
 * Every VU using it must be gone. Accepts NULL. */
void sb_vu_pool_free(sb_vu_pool *p);
/* Bytes of chunks mapped so far (not all of them touched). */
size_t sb_vu_pool_mapped(const sb_vu_pool *p);

typedef struct sb_vu_mem {
  sb_vu_pool *pool;
  const uint64_t *chunk_bits;      /* the pool's: bit (address >> 23) set for its chunks */
  char *cur[SB_VU_CLASSES];        /* per class: the free tail of its current span */
  char *end[SB_VU_CLASSES];
  void *free[SB_VU_CLASSES];       /* freed blocks per class, linked through their payload */
  size_t bytes;                    /* bytes in use (the heap-limit count) */
} sb_vu_mem;

/* Starts an empty allocator drawing spans from |pool| (kept, not owned). */
void sb_vu_mem_init(sb_vu_mem *m, sb_vu_pool *pool);
/* A block of at least |n| bytes, or NULL (out of memory). n == 0 gives a minimal block. */
void *sb_vu_mem_alloc(sb_vu_mem *m, size_t n);
/* Duktape's realloc: p NULL allocates, n 0 frees (NULL), else the block grows or shrinks, moved
 * when its class changes. NULL (p untouched) when out of memory. */
void *sb_vu_mem_realloc(sb_vu_mem *m, void *p, size_t n);
/* Frees a block of |m|. Accepts NULL. */
void sb_vu_mem_free(sb_vu_mem *m, void *p);
/* The bytes block |p| of |m| takes (what sb_vu_mem.bytes counts for it). */
size_t sb_vu_mem_block_size(const sb_vu_mem *m, const void *p);
/* The pool's own allocator, for the VUs of its worker (same thread). */
sb_vu_mem *sb_vu_pool_mem(sb_vu_pool *p);

/* --- counted blocks: |m|'s, or malloc's when |m| is NULL ----------------------------------
 * What a Duktape heap's allocator (agent/vu.c's own heap, agent/vu_heap.c's shared one) does
 * with a block, on either: each returns what the call returns and sets *|delta| to the bytes it
 * took (negative: gave back), which the caller counts against a VU. A malloc'ed block counts
 * malloc_usable_size(). With a pool (every engine VU) |m| is the worker's; malloc serves the
 * tests, the controller's handleSummary and the builds a memory checker watches. */
static inline size_t sb_vu_blk_size(const sb_vu_mem *m, void *p) {
  return !p ? 0 : m ? sb_vu_mem_block_size(m, p) : malloc_usable_size(p);
}

static inline void *sb_vu_blk_alloc(sb_vu_mem *m, size_t n, ptrdiff_t *delta) {
  if (m) {
    size_t before = m->bytes;
    void *q = sb_vu_mem_alloc(m, n);
    *delta = (ptrdiff_t)(m->bytes - before);
    return q;
  }
  void *p = malloc(n);
  *delta = p ? (ptrdiff_t)malloc_usable_size(p) : 0;
  return p;
}

/* Duktape's realloc (p NULL allocates, n 0 frees); *delta is 0 when it failed. */
static inline void *sb_vu_blk_realloc(sb_vu_mem *m, void *p, size_t n, ptrdiff_t *delta) {
  if (m) {
    size_t before = m->bytes;
    void *q = sb_vu_mem_realloc(m, p, n);
    *delta = (ptrdiff_t)(m->bytes - before);
    return q;
  }
  ptrdiff_t old = p ? (ptrdiff_t)malloc_usable_size(p) : 0;
  if (n == 0) {
    free(p);
    *delta = -old;
    return NULL;
  }
  void *q = realloc(p, n);
  *delta = q ? (ptrdiff_t)malloc_usable_size(q) - old : 0;
  return q;
}

static inline void sb_vu_blk_free(sb_vu_mem *m, void *p, ptrdiff_t *delta) {
  *delta = 0;
  if (!p) return;
  if (m) {
    size_t before = m->bytes;
    sb_vu_mem_free(m, p);
    *delta = (ptrdiff_t)(m->bytes - before);
    return;
  }
  *delta = -(ptrdiff_t)malloc_usable_size(p);
  free(p);
}

#endif
