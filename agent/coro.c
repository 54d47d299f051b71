/* Stackful coroutines (agent/coro.h).
 *
 * x86-64: a hand-written switch saving the callee-saved registers (rbx, rbp, r12-r15) on the
 * current stack and swapping rsp; a new stack's first frame "returns" into a trampoline that
 * calls fn and then switches back for good. Elsewhere: ucontext (swapcontext costs a signal-mask
 * syscall per switch, which is why x86-64 does not use it).
 *
 * Stacks are carved from shared MAP_NORESERVE regions with a guard page at the low end of each,
 * so a VU pays only for the pages its deepest call touched, and 64 stacks cost one kernel
 * mapping where the kernel has guard regions (see "stacks" below). Under ASan every switch is announced with the
 * fiber annotations, otherwise ASan sees a foreign stack and reports false positives. */
#include "agent/coro.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/err.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_CORO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SB_CORO_ASAN 1
#endif

#if SB_CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Under valgrind each stack is registered, so memcheck takes a switch of rsp into it for a stack
 * switch, not a huge frame. Outside valgrind the macros are a few no-op instructions. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SB_CORO_VALGRIND 1
#endif
#endif

#if defined(__x86_64__) && !defined(SB_CORO_UCONTEXT)
#define SB_CORO_X86 1
#else
#include <ucontext.h>
#endif

struct sb_coro {
#if SB_CORO_X86
  void *sp;               /* the coroutine's saved stack pointer while it is suspended */
  void *caller_sp;        /* the resumer's saved stack pointer while the coroutine runs */
#else
  ucontext_t uc;          /* the coroutine's context */
  ucontext_t caller_uc;   /* the resumer's context */
#endif
  sb_coro_fn fn;
  void *arg;
  struct slab *slab;      /* the region its stack is carved from (below) */
  unsigned slot;          /* its stack's index in |slab| */
  void *stack_lo;         /* lowest usable byte (above the guard page) */
  size_t stack_len;
  int done;               /* fn has returned */
  int running;            /* between resume and yield */
#if SB_CORO_VALGRIND
  unsigned vg_stack;      /* valgrind's id of the stack (VALGRIND_STACK_REGISTER) */
#endif
#if SB_CORO_ASAN
  void *fake_stack;       /* ASan's fake stack of the coroutine while switched away */
  void *caller_fake;      /* the resumer's fake stack while the coroutine runs */
  const void *caller_lo;  /* the resumer's stack bounds, learnt at each switch in */
  size_t caller_len;
#endif
};

#if SB_CORO_ASAN
#define ASAN_START(save, lo, len) __sanitizer_start_switch_fiber((save), (lo), (len))
#define ASAN_FINISH(fake, lo, len) __sanitizer_finish_switch_fiber((fake), (lo), (len))
#else
#define ASAN_START(save, lo, len) ((void)0)
#define ASAN_FINISH(fake, lo, len) ((void)0)
#endif

static void coro_main(sb_coro *co);

#if SB_CORO_X86
/* sb_coro__switch(&save_sp, to_sp): pushes the callee-saved registers, stores rsp in *save_sp,
 * loads to_sp and pops the registers saved there; "ret" continues where that stack left off.
 * sb_coro__entry is where a fresh stack first returns to: r12 holds the coroutine. */
void sb_coro__switch(void **save, void *to);
void sb_coro__entry(void);
__asm__(".text\n"
        ".globl sb_coro__switch\n"
        ".hidden sb_coro__switch\n"
        ".type sb_coro__switch,@function\n"
        "sb_coro__switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size sb_coro__switch,.-sb_coro__switch\n"
        ".globl sb_coro__entry\n"
        ".hidden sb_coro__entry\n"
        ".type sb_coro__entry,@function\n"
        "sb_coro__entry:\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        ".size sb_coro__entry,.-sb_coro__entry\n");

/* Lays out the first frame so that the first switch pops zeroed registers (r12 = co,
 * r13 = coro_main) and returns into sb_coro__entry with rsp 16-byte aligned. */
static void stack_init(sb_coro *co) {
  uintptr_t top = ((uintptr_t)co->stack_lo + co->stack_len) & ~(uintptr_t)15;
  uintptr_t a = top - 16; /* rsp after "ret": 16-aligned, so the call inside is ABI-correct */
  void **s = (void **)a;
  s[-1] = (void *)sb_coro__entry; /* ret address */
  s[-2] = 0;                       /* rbp: ends frame-pointer walks here */
  s[-3] = 0;                       /* rbx */
  s[-4] = co;                      /* r12 */
  s[-5] = (void *)coro_main;       /* r13 */
  s[-6] = 0;                       /* r14 */
  s[-7] = 0;                       /* r15 */
  co->sp = &s[-7];
}

static void switch_in(sb_coro *co) { sb_coro__switch(&co->caller_sp, co->sp); }
static void switch_out(sb_coro *co) { sb_coro__switch(&co->sp, co->caller_sp); }
#else
static void uc_entry(unsigned hi, unsigned lo) {
  coro_main((sb_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}

static int stack_init(sb_coro *co) {
  if (getcontext(&co->uc) != 0) return SB_ENOMEM;
  co->uc.uc_stack.ss_sp = co->stack_lo;
  co->uc.uc_stack.ss_size = co->stack_len;
  co->uc.uc_link = NULL;
  uintptr_t p = (uintptr_t)co;
  makecontext(&co->uc, (void (*)(void))uc_entry, 2, (unsigned)(p >> 32), (unsigned)p);
  return 0;
}

static void switch_in(sb_coro *co) { swapcontext(&co->caller_uc, &co->uc); }
static void switch_out(sb_coro *co) { swapcontext(&co->uc, &co->caller_uc); }
#endif

/* First (and only) frame of the coroutine's stack: runs fn, then leaves for good. */
static void coro_main(sb_coro *co) {
  ASAN_FINISH(NULL, &co->caller_lo, &co->caller_len);
  co->fn(co, co->arg);
  co->done = 1;
  ASAN_START(NULL, co->caller_lo, co->caller_len); /* NULL: this fiber is never resumed */
  switch_out(co);
  abort(); /* unreachable: a finished coroutine is never resumed */
}

/* --- stacks: carved from shared regions ------------------------------------------------------
 *
 * One mmap per stack plus an mprotect'ed guard page costs two kernel mappings (VMAs) per VU, and
 * Linux allows 65,530 per process by default (vm.max_map_count): 100,000 VUs stopped at ~32,000.
 * So stacks are carved SLAB_STACKS at a time from one region, [guard][stack][guard][stack]...,
 * and the guard pages are installed with MADV_GUARD_INSTALL (Linux 6.13+), which marks page
 * table entries and leaves the region one VMA: 100,000 VUs cost ~1,600 mappings. An older kernel
 * (or valgrind) refuses the madvise; then the guards are mprotect'ed as before, two mappings per
 * stack, and sb_coro_check_capacity() says in advance how many VUs that allows.
 *
 * A stack given back is emptied with MADV_DONTNEED (the guard marks survive it) for the next
 * coroutine; a region whose stacks are all free is unmapped. One mutex guards the regions: a stack
 * is taken once per VU, never per iteration. */

#define SLAB_STACKS 64
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };

typedef struct slab {
  struct slab *next, *prev;    /* in |partial| while it has a free stack */
  char *map;                   /* SLAB_STACKS x (guard page + stack) */
  size_t map_len;
  size_t stack_len;
  size_t stride;               /* guard page + stack */
  unsigned used;               /* stacks handed out */
  unsigned nfree;              /* entries of |free_slots| */
  uint16_t free_slots[SLAB_STACKS];
  int linked;                  /* in |partial| */
} slab;

static pthread_mutex_t slab_mu = PTHREAD_MUTEX_INITIALIZER;
static slab *partial;          /* regions with a free stack, most recently freed-into first */
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static int guard_mode;

/* Whether this kernel installs guard regions by madvise: tried once on a scratch mapping. */
static void guard_probe(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  guard_mode = GUARD_MPROTECT;
  if (p == MAP_FAILED) return;
  if (madvise(p, page, MADV_GUARD_INSTALL) == 0) guard_mode = GUARD_MADVISE;
  munmap(p, 2 * page);
}

static int guards_by_madvise(void) {
  pthread_once(&guard_once, guard_probe);
  return guard_mode == GUARD_MADVISE;
}

static long read_long(const char *path) {
  FILE *f = fopen(path, "r");
  long v = -1;
  if (!f) return -1;
  if (fscanf(f, "%ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

/* Mappings this process holds now (lines of /proc/self/maps), or -1. */
static long maps_in_use(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  long n = 0;
  for (int ch; (ch = getc(f)) != EOF;) n += ch == '\n';
  fclose(f);
  return n;
}

/* Fills |err| for a region that could not be mapped or guarded. */
static int map_failed(sb_err *err, int e) {
  long max = read_long("/proc/sys/vm/max_map_count"), used = maps_in_use();
  return sb_err_set(err, SB_ENOMEM,
                    "cannot map a VU stack (%s): out of memory, or out of memory mappings "
                    "(this process holds %ld; vm.max_map_count is %ld: raise it with "
                    "'sysctl -w vm.max_map_count=1048576')",
                    strerror(e), used, max);
}

static void slab_link(slab *s) {
  s->prev = NULL;
  s->next = partial;
  if (partial) partial->prev = s;
  partial = s;
  s->linked = 1;
}

static void slab_unlink(slab *s) {
  if (s->prev) s->prev->next = s->next;
  else partial = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->linked = 0;
}

/* A new region of SLAB_STACKS stacks of |stack_len| bytes, every guard page installed. */
static slab *slab_new(size_t stack_len, size_t page, sb_err *err) {
  slab *s = calloc(1, sizeof(*s));
  if (!s) {
    sb_err_set(err, SB_ENOMEM, "out of memory");
    return NULL;
  }
  s->stack_len = stack_len;
  s->stride = stack_len + page;
  s->map_len = s->stride * SLAB_STACKS;
  s->map = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (s->map == MAP_FAILED) goto fail_map;
  int madv = guards_by_madvise();
  for (unsigned i = 0; i < SLAB_STACKS; i++) {
    char *g = s->map + (size_t)i * s->stride;
    if (madv ? madvise(g, page, MADV_GUARD_INSTALL) : mprotect(g, page, PROT_NONE)) goto fail_guard;
    s->free_slots[i] = (uint16_t)(SLAB_STACKS - 1 - i); /* slot 0 handed out first */
  }
  s->nfree = SLAB_STACKS;
  return s;

fail_guard:
  map_failed(err, errno);
  munmap(s->map, s->map_len);
  free(s);
  return NULL;
fail_map:
  map_failed(err, errno);
  free(s);
  return NULL;
}

/* Gives |co| a stack of |stack_len| bytes from a region with room, or a new region. */
static int stack_take(sb_coro *co, size_t stack_len, size_t page, sb_err *err) {
  pthread_mutex_lock(&slab_mu);
  slab *s = partial;
  while (s && s->stack_len != stack_len) s = s->next;
  if (!s) {
    s = slab_new(stack_len, page, err);
    if (!s) {
      pthread_mutex_unlock(&slab_mu);
      return SB_ENOMEM;
    }
    slab_link(s);
  }
  unsigned slot = s->free_slots[--s->nfree];
  s->used++;
  if (s->nfree == 0) slab_unlink(s);
  pthread_mutex_unlock(&slab_mu);
  co->slab = s;
  co->slot = slot;
  co->stack_lo = s->map + (size_t)slot * s->stride + page;
  co->stack_len = stack_len;
#if SB_CORO_VALGRIND
  co->vg_stack = VALGRIND_STACK_REGISTER(co->stack_lo, (char *)co->stack_lo + stack_len);
#endif
  return 0;
}

/* Returns |co|'s stack: its pages to the kernel, its slot to the region (the region itself once
 * every stack of it is back). */
static void stack_give(sb_coro *co) {
  slab *s = co->slab;
#if SB_CORO_VALGRIND
  VALGRIND_STACK_DEREGISTER(co->vg_stack);
#endif
#if SB_CORO_ASAN
  /* Frames dropped on a suspended stack leave poisoned shadow behind; the next coroutine on this
   * stack must not inherit it. */
  ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, co->stack_len);
#endif
  pthread_mutex_lock(&slab_mu);
  if (--s->used == 0) {
    if (s->linked) slab_unlink(s);
    pthread_mutex_unlock(&slab_mu);
    munmap(s->map, s->map_len);
    free(s);
    return;
  }
  madvise(co->stack_lo, co->stack_len, MADV_DONTNEED); /* under the lock: the slot is not free yet */
  s->free_slots[s->nfree++] = (uint16_t)co->slot;
  if (!s->linked) slab_link(s);
  pthread_mutex_unlock(&slab_mu);
}

int sb_coro_check_capacity(uint64_t n, sb_err *err) {
  long max = read_long("/proc/sys/vm/max_map_count"), used = maps_in_use();
  if (max <= 0 || used < 0) return 0; /* not Linux, or no /proc: nothing to say in advance */
  /* per VU: its stack (2 mappings, or 1/SLAB_STACKS of a region), and a little for its heap's
   * large allocations (glibc maps anything over 128 KiB on its own) */
  double per_vu = guards_by_madvise() ? 1.0 / SLAB_STACKS : 2.0;
  long spare = max - used - SB_CORO_MAPS_RESERVE;
  double need = (double)n * per_vu;
  if (spare > 0 && need <= (double)spare) return 0;
  uint64_t fits = spare > 0 ? (uint64_t)((double)spare / per_vu) : 0;
  long want = (long)need + used + SB_CORO_MAPS_RESERVE;
  if (want < 1048576) want = 1048576;
  return sb_err_set(err, SB_ENOMEM,
                    "%llu VUs need about %.0f more memory mappings, but vm.max_map_count is %ld "
                    "and this process holds %ld: about %llu VUs fit. Raise the limit with "
                    "'sysctl -w vm.max_map_count=%ld' (and in /etc/sysctl.d/ to keep it)%s",
                    (unsigned long long)n, need, max, used, (unsigned long long)fits,
                    want,
                    per_vu > 1 ? "; a Linux 6.13+ kernel needs one mapping per 64 VU stacks" : "");
}

int sb_coro_new(sb_coro **out, size_t stack_size, sb_coro_fn fn, void *arg, sb_err *err) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (stack_size == 0) stack_size = SB_CORO_STACK_DEFAULT;
  stack_size = (stack_size + page - 1) & ~(page - 1);
  sb_coro *co = calloc(1, sizeof(*co));
  if (!co) return sb_err_set(err, SB_ENOMEM, "out of memory");
  int rc = stack_take(co, stack_size, page, err);
  if (rc) {
    free(co);
    return rc;
  }
  co->fn = fn;
  co->arg = arg;
#if SB_CORO_X86
  stack_init(co);
#else
  if (stack_init(co) != 0) {
    stack_give(co);
    free(co);
    return sb_err_set(err, SB_ENOMEM, "cannot make a coroutine context");
  }
#endif
  *out = co;
  return 0;
}

void sb_coro_free(sb_coro *co) {
  if (!co) return;
  stack_give(co);
  free(co);
}

int sb_coro_resume(sb_coro *co) {
  if (co->done || co->running) return !co->done;
  co->running = 1;
#if SB_CORO_ASAN
  ASAN_START(&co->caller_fake, co->stack_lo, co->stack_len);
#endif
  switch_in(co);
#if SB_CORO_ASAN
  ASAN_FINISH(co->caller_fake, NULL, NULL);
#endif
  co->running = 0;
  return !co->done;
}

void sb_coro_yield(sb_coro *co) {
#if SB_CORO_ASAN
  ASAN_START(&co->fake_stack, co->caller_lo, co->caller_len);
#endif
  switch_out(co);
#if SB_CORO_ASAN
  ASAN_FINISH(co->fake_stack, &co->caller_lo, &co->caller_len);
#endif
}

int sb_coro_done(const sb_coro *co) { return co->done; }
