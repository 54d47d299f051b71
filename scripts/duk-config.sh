#!/bin/sh
# Writes Speedboat's duk_config.h (stdout) from Debian's (the file in $1).
# Changes are listed here so they can be measured one by one (docs/PERFORMANCE.md):
#   - DUK_USE_FASTINT: integer fast path for the numbers scripts mostly use.
#   - DUK_USE_INTERRUPT_COUNTER + DUK_USE_EXEC_TIMEOUT_CHECK: lets the engine interrupt a runaway
#     VU (gracefulStop) without killing the thread; sb_duk_exec_timeout() decides.
#   - DUK_USE_GET_RANDOM_DOUBLE: Math.random() from the heap's own generator, which k6's
#     randomSeed() can seed (common/duk_udata.h).
set -eu
sed -e 's|^#undef DUK_USE_FASTINT$|#define DUK_USE_FASTINT|' \
    -e 's|^#undef DUK_USE_INTERRUPT_COUNTER$|#define DUK_USE_INTERRUPT_COUNTER|' \
    -e 's|^#undef DUK_USE_EXEC_TIMEOUT_CHECK$|#define DUK_USE_EXEC_TIMEOUT_CHECK(udata) sb_duk_exec_timeout(udata)\nextern int sb_duk_exec_timeout(void *udata);|' \
    -e 's|^#undef DUK_USE_GET_RANDOM_DOUBLE$|#define DUK_USE_GET_RANDOM_DOUBLE(udata) sb_duk_random(udata)\nextern double sb_duk_random(void *udata);|' \
    "$1"
