/* Stackful coroutines: each VU runs on its own small stack, so a C binding (http.get, sleep) can
 * suspend the script in the middle of a Duktape call and the worker's loop resume it later.
 *
 * Stacks are carved from shared regions, a guard page below each; only the pages a VU touches
 * become resident, and where the kernel has guard regions (Linux 6.13+) 64 stacks cost one kernel
 * mapping instead of 128 (vm.max_map_count, 65,530 by default, capped VUs at ~32,000). The switch is
 * a few instructions on x86-64 and aarch64 (no signal mask syscall, unlike swapcontext), with a
 * ucontext fallback elsewhere. A coroutine belongs to the thread that created it. */
#ifndef SB_CORO_H
#define SB_CORO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct sb_coro sb_coro;
typedef void (*sb_coro_fn)(sb_coro *co, void *arg);

#define SB_CORO_STACK_DEFAULT (256 * 1024)

/* Mappings kept free for everything else a process maps (libraries, threads, malloc arenas). */
#define SB_CORO_MAPS_RESERVE 4096

/* Creates a suspended coroutine that will run fn(co, arg) on a stack of |stack_size| bytes
 * (reserved, committed lazily). Thread-safe. Returns 0 or SB_ENOMEM, with |err| (may be NULL)
 * naming what ran out: memory, or memory mappings (vm.max_map_count and how to raise it). */
int sb_coro_new(sb_coro **out, size_t stack_size, sb_coro_fn fn, void *arg, sb_err *err);
/* Says in advance whether |n| more coroutines fit under the kernel's vm.max_map_count, given the
 * mappings this process holds now. Returns 0, or SB_ENOMEM with |err| naming the limit, how many
 * fit and the sysctl that raises it. 0 when /proc cannot tell. */
int sb_coro_check_capacity(uint64_t n, sb_err *err);

/* Gives the stack back. |co| must not be running; a suspended coroutine is simply dropped (its stack
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
