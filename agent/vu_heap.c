/* Shared VU heaps: see vu_heap.h. */
#include "agent/vu_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duk_ext.h"
#include "agent/vu_internal.h"

#define DEFAULT_PER_HEAP 128u
#define HEAP_GC_SLACK (128 * 1024) /* garbage a heap may hold per VU besides 25% of its size,
                                     as a heap of one VU did (agent/vu.c) */

typedef struct sb_vu_heap sb_vu_heap;

struct sb_vu_heap {
  sb_duk_udata udata;   /* first: Duktape's hooks read it; .cur is the running VU's */
  sb_vu_heaps *owner;
  duk_context *ctx;     /* the heap's first thread: its heap stash holds the VU threads */
  sb_vu_mem *mem;       /* the worker's allocator, or NULL: malloc */
  size_t bytes;         /* every live block of the heap */
  size_t gc_at;         /* |bytes| that makes sb_vu_heap_collect() collect */
  sb_vu *cur;           /* the VU whose code runs now (NULL: the loop's own calls) */
  unsigned n;           /* VUs in it */
  unsigned made;        /* slots handed out; it takes VUs until made == owner->per_heap */
  sb_vu **vus;          /* per slot; NULL once that VU left */
};

struct sb_vu_heaps {
  unsigned per_heap;
  sb_vu_pool *pool;
  sb_vu_heap *filling;  /* the heap new VUs join (NULL: none yet, or it filled up) */
};

unsigned sb_vu_heaps_wanted(void) {
  const char *s = getenv("SB_VU_HEAP");
  if (!s || !*s) return DEFAULT_PER_HEAP;
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  return *end || v < 2 ? 1 : v > 4096 ? 4096 : (unsigned)v;
}

sb_vu_heaps *sb_vu_heaps_new(unsigned per_heap, sb_vu_pool *pool) {
  sb_vu_heaps *hs = calloc(1, sizeof(*hs));
  if (!hs) return NULL;
  hs->per_heap = per_heap < 2 ? 2 : per_heap;
  hs->pool = pool;
  return hs;
}

static void heap_destroy(sb_vu_heap *h) {
  if (h->owner && h->owner->filling == h) h->owner->filling = NULL;
  duk_destroy_heap(h->ctx);
  free(h->vus);
  free(h);
}

void sb_vu_heaps_free(sb_vu_heaps *hs) {
  if (!hs) return;
  if (hs->filling) heap_destroy(hs->filling); /* empty: every VU is gone */
  free(hs);
}

/* --- allocator: the heap's blocks, counted against the running VU ------------------------- */

/* A block took |d| bytes (negative: gave them back) while h->cur runs (NULL: nobody's). */
static void count(sb_vu_heap *h, ptrdiff_t d) {
  h->bytes += (size_t)d;
  sb_vu *vu = h->cur;
  if (!vu) return;
  if (d >= 0)
    vu->heap_bytes += (size_t)d;
  else
    vu->heap_bytes = vu->heap_bytes > (size_t)-d ? vu->heap_bytes - (size_t)-d : 0;
}

static void *heap_alloc(void *ud, duk_size_t size) {
  sb_vu_heap *h = ud;
  if (sb_vu_over_limit(h->cur, h->mem, NULL, size)) return NULL;
  ptrdiff_t d;
  void *p = sb_vu_blk_alloc(h->mem, size, &d);
  count(h, d);
  return p;
}

static void *heap_realloc(void *ud, void *ptr, duk_size_t size) {
  sb_vu_heap *h = ud;
  if (sb_vu_over_limit(h->cur, h->mem, ptr, size)) return NULL;
  ptrdiff_t d;
  void *q = sb_vu_blk_realloc(h->mem, ptr, size, &d);
  count(h, d); /* 0 when it failed */
  return q;
}

static void heap_free(void *ud, void *ptr) {
  sb_vu_heap *h = ud;
  ptrdiff_t d;
  sb_vu_blk_free(h->mem, ptr, &d);
  count(h, d);
}

static void heap_fatal(void *ud, const char *msg) {
  sb_vu_heap *h = ud;
  fprintf(stderr, "speedboat: fatal error in the JavaScript engine (VU %llu's heap): %s\n",
          h && h->cur ? (unsigned long long)h->cur->id : 0ULL, msg ? msg : "(no message)");
  abort();
}

/* --- joining and leaving ------------------------------------------------------------------ */

static sb_vu_heap *heap_new(sb_vu_heaps *hs, const sb_vu_env *env) {
  sb_vu_heap *h = calloc(1, sizeof(*h));
  if (!h) return NULL;
  h->owner = hs;
  h->udata.stop = env->stop;
  h->mem = hs->pool ? sb_vu_pool_mem(hs->pool) : NULL;
  h->vus = calloc(hs->per_heap, sizeof(*h->vus));
  if (h->vus) h->ctx = duk_create_heap(heap_alloc, heap_realloc, heap_free, h, heap_fatal);
  if (!h->ctx) {
    free(h->vus);
    free(h);
    return NULL;
  }
  /* Duktape's two non-standard globals go for every VU of the heap at once. */
  duk_push_global_object(h->ctx);
  duk_del_prop_string(h->ctx, -1, "print");
  duk_del_prop_string(h->ctx, -1, "alert");
  duk_pop(h->ctx);
  h->gc_at = h->bytes + HEAP_GC_SLACK;
  return h;
}

/* duk_safe_call body: [ ] -> [ thread ], kept in the heap stash under slot |*ud|. */
static duk_ret_t push_thread_safe(duk_context *ctx, void *ud) {
  duk_push_heap_stash(ctx);
  sb_duk_push_vu_thread(ctx);
  duk_dup_top(ctx);
  duk_put_prop_index(ctx, -3, *(unsigned *)ud);
  return 1;
}

int sb_vu_heap_join(sb_vu_heaps *hs, sb_vu *vu) {
  sb_vu_heap *h = hs->filling;
  if (!h && !(h = hs->filling = heap_new(hs, &vu->env))) return SB_ENOMEM;
  unsigned slot = h->made;
  if (duk_safe_call(h->ctx, push_thread_safe, &slot, 0, 1) != DUK_EXEC_SUCCESS) {
    duk_pop(h->ctx);
    if (h->n == 0) heap_destroy(h);
    return SB_ENOMEM;
  }
  vu->ctx = duk_get_context(h->ctx, -1);
  duk_pop(h->ctx); /* the stash keeps it */
  vu->heap = h;
  vu->heap_slot = slot;
  h->vus[slot] = vu;
  h->n++;
  if (++h->made == hs->per_heap) hs->filling = NULL; /* full: the next VU starts a heap */
  return 0;
}

void sb_vu_heap_leave(sb_vu *vu) {
  sb_vu_heap *h = vu->heap;
  if (!h) return;
  vu->heap = NULL;
  vu->ctx = NULL;
  h->vus[vu->heap_slot] = NULL;
  if (--h->n == 0 && h->owner->filling != h) { /* full once, now empty: nothing will join */
    heap_destroy(h);
    return;
  }
  duk_push_heap_stash(h->ctx);
  duk_del_prop_index(h->ctx, -1, vu->heap_slot); /* its globals' cycles wait for a collection */
  duk_pop(h->ctx);
}

/* --- running ------------------------------------------------------------------------------ */

void sb_vu_heap_enter(sb_vu *vu, sb_vu **prev) {
  sb_vu_heap *h = vu->heap;
  *prev = h->cur;
  h->cur = vu;
  h->udata.cur = &vu->udata;
  sb_duk_exec_swap(h->ctx, &vu->chain);
}

void sb_vu_heap_exit(sb_vu *vu, sb_vu *prev) {
  sb_vu_heap *h = vu->heap;
  sb_duk_exec_swap(h->ctx, &vu->chain);
  h->cur = prev;
  h->udata.cur = prev ? &prev->udata : NULL;
}

sb_vu *sb_vu_heap_vu_of(const duk_memory_functions *mf, duk_context *ctx) {
  if (mf->alloc_func != heap_alloc) return NULL;
  sb_vu_heap *h = mf->udata;
  if (h->cur && h->cur->ctx == ctx) return h->cur;
  for (unsigned i = 0; i < h->made; i++)
    if (h->vus[i] && h->vus[i]->ctx == ctx) return h->vus[i];
  return NULL;
}

void sb_vu_heap_collect(sb_vu *vu, int always) {
  sb_vu_heap *h = vu->heap;
  if (!always && h->bytes <= h->gc_at) return;
  sb_vu *cur = h->cur;
  h->cur = NULL; /* what the collection frees was made by any of the VUs */
  duk_gc(vu->ctx, 0);
  h->cur = cur;
  size_t sum = 0;
  for (unsigned i = 0; i < h->made; i++)
    if (h->vus[i]) sum += h->vus[i]->heap_bytes;
  if (sum > h->bytes) { /* each VU's count becomes its share of what is left */
    double f = (double)h->bytes / (double)sum;
    for (unsigned i = 0; i < h->made; i++)
      if (h->vus[i]) h->vus[i]->heap_bytes = (size_t)((double)h->vus[i]->heap_bytes * f);
  }
  h->gc_at = h->bytes + h->bytes / 4 + HEAP_GC_SLACK * (h->n ? h->n : 1);
}
