/* Stackful coroutines: each VU runs on its own small stack, so a C binding (http.get, sleep) can
 * suspend the script in the middle of a Duktape call and the worker's loop resume it later.
 *
 * Stacks are mmap'ed with a guard page; only the pages a VU touches become resident. The switch is
 * a few instructions on x86-64 and aarch64 (no signal mask syscall, unlike swapcontext), with a
 * ucontext fallback elsewhere. A coroutine belongs to the thread that created it. */
#ifndef SB_CORO_H
#define SB_CORO_H

#include <stddef.h>

typedef struct sb_coro sb_coro;
typedef void (*sb_coro_fn)(sb_coro *co, void *arg);

#define SB_CORO_STACK_DEFAULT (256 * 1024)

/* Creates a suspended coroutine that will run fn(co, arg) on a stack of |stack_size| bytes
 * (reserved, committed lazily). Returns 0 or SB_ENOMEM. */
int sb_coro_new(sb_coro **out, size_t stack_size, sb_coro_fn fn, void *arg);
/* Frees the stack. |co| must not be running; a suspended coroutine is simply dropped (its stack
 * frames are discarded without unwinding: callers make sure nothing on it owns resources). */
void sb_coro_free(sb_coro *co);

/* Runs |co| until it yields or |fn| returns. Returns 1 while it can be resumed again, 0 once fn
 * has returned. Must be called from outside any coroutine of this thread (the loop). */
int sb_coro_resume(sb_coro *co);
/* From inside |co|: back to the sb_coro_resume() that started it. */
void sb_coro_yield(sb_coro *co);
/* 1 once fn has returned. */
int sb_coro_done(const sb_coro *co);

#endif
