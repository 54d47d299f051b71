/* The head every Duktape heap's user data starts with (VU heaps, the compile heap).
 *
 * Duktape polls sb_duk_exec_timeout() from its bytecode executor (DUK_USE_EXEC_TIMEOUT_CHECK,
 * scripts/duk-config.sh); setting |interrupt| makes the running script throw a RangeError at the
 * next check, which is how a runaway VU is stopped without killing its thread. */
#ifndef SB_DUK_UDATA_H
#define SB_DUK_UDATA_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct sb_duk_udata {
  volatile int interrupt; /* set (by the owning thread's loop) to abort the running script */
  const atomic_int *stop; /* set by another thread to abort whatever runs (engine abort: the
                           * owning loop may be stuck in a script that never yields); may be NULL */
  uint64_t rnd[2];        /* Math.random's xoroshiro128+ state; zero: seeded on first use */
  struct sb_duk_udata *cur; /* a heap of several VUs (agent/vu_group.c): the running VU's, which
                             * the three functions below use instead; NULL: this one */
} sb_duk_udata;

/* Called by Duktape with the heap's user data; nonzero aborts the current call. */
int sb_duk_exec_timeout(void *udata);

/* Math.random() of the heap (DUK_USE_GET_RANDOM_DOUBLE): [0, 1) from the heap's own generator,
 * seeded from the system's entropy on first use unless sb_duk_seed() said otherwise (a heap
 * without user data uses a per-thread generator). */
double sb_duk_random(void *udata);
/* k6's randomSeed(): makes the heap's (the running VU's) Math.random() sequence a function of
 * |seed|. */
void sb_duk_seed(sb_duk_udata *u, uint64_t seed);

#endif
