/* Stackful coroutines (agent/coro.h).
 *
 * x86-64: a hand-written switch saving the callee-saved registers (rbx, rbp, r12-r15) on the
 * current stack and swapping rsp; a new stack's first frame "returns" into a trampoline that
 * calls fn and then switches back for good. Elsewhere: ucontext (swapcontext costs a signal-mask
 * syscall per switch, which is why x86-64 does not use it).
 *
 * Stacks are mmap'ed with MAP_NORESERVE and a PROT_NONE guard page at the low end, so a VU pays
 * only for the pages its deepest call touched. Under ASan every switch is announced with the
 * fiber annotations, otherwise ASan sees a foreign stack and reports false positives. */
#include "agent/coro.h"

#include <stdint.h>
#include <stdlib.h>
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
  void *map;              /* mmap'ed region: guard page + stack */
  size_t map_len;
  void *stack_lo;         /* lowest usable byte (above the guard page) */
  size_t stack_len;
  int done;               /* fn has returned */
  int running;            /* between resume and yield */
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

int sb_coro_new(sb_coro **out, size_t stack_size, sb_coro_fn fn, void *arg) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (stack_size == 0) stack_size = SB_CORO_STACK_DEFAULT;
  stack_size = (stack_size + page - 1) & ~(page - 1);
  sb_coro *co = calloc(1, sizeof(*co));
  if (!co) return SB_ENOMEM;
  co->map_len = stack_size + page;
  co->map = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (co->map == MAP_FAILED) goto fail_map;
  if (mprotect(co->map, page, PROT_NONE) != 0) goto fail_guard;
  co->stack_lo = (char *)co->map + page;
  co->stack_len = stack_size;
  co->fn = fn;
  co->arg = arg;
#if SB_CORO_X86
  stack_init(co);
#else
  if (stack_init(co) != 0) goto fail_guard;
#endif
  *out = co;
  return 0;

fail_guard:
  munmap(co->map, co->map_len);
fail_map:
  free(co);
  return SB_ENOMEM;
}

void sb_coro_free(sb_coro *co) {
  if (!co) return;
#if SB_CORO_ASAN
  /* Frames dropped on a suspended stack leave poisoned shadow behind; a later mapping at the same
   * address must not inherit it. */
  ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, co->stack_len);
#endif
  munmap(co->map, co->map_len);
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
