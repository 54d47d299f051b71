/* The head every Duktape heap's user data starts with (VU heaps, the compile heap).
 *
 * Duktape polls sb_duk_exec_timeout() from its bytecode executor (DUK_USE_EXEC_TIMEOUT_CHECK,
 * scripts/duk-config.sh); setting |interrupt| makes the running script throw a RangeError at the
 * next check, which is how a runaway VU is stopped without killing its thread. */
#ifndef SB_DUK_UDATA_H
#define SB_DUK_UDATA_H

#include <stdatomic.h>

typedef struct sb_duk_udata {
  volatile int interrupt; /* set (by the owning thread's loop) to abort the running script */
  const atomic_int *stop; /* set by another thread to abort whatever runs (engine abort: the
                           * owning loop may be stuck in a script that never yields); may be NULL */
} sb_duk_udata;

/* Called by Duktape with the heap's user data; nonzero aborts the current call. */
int sb_duk_exec_timeout(void *udata);

#endif
