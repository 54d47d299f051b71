#!/bin/sh
# Writes Speedboat's duk_config.h (stdout) from Debian's (the file in $1).
# Changes are listed here so they can be measured one by one (docs/PERFORMANCE.md):
#   - DUK_USE_FASTINT: integer fast path for the numbers scripts mostly use.
#   - DUK_USE_LIGHTFUNC_BUILTINS: the built-ins' methods (Math.max, Array.prototype.push, ...)
#     are light functions (a tagged pointer in the property table) instead of a function object
#     each: a VU's heap 146.6 -> 110.5 KB, RSS per VU 158 -> 118 KiB (build/test/vu_test). What a
#     script can see: such a method has no own properties (its .name is "light_<ptr>_<flags>",
#     its .length is right) and cannot be given any.
#   - DUK_USE_LITCACHE_SIZE 64 (was 256): the cache of C string literals is 16 bytes an entry
#     per heap; the per-request path pushes its names by heap pointer (agent/js_http_res.c), so
#     64 entries do: RSS per VU 119.2 -> 115.8 KiB, instructions per request unchanged.
#   - DUK_USE_STRTAB_MINSIZE 512 (was 1024) and DUK_USE_STRTAB_GROW_LIMIT 40 (was 17, in 1/16:
#     grow at 2.5 strings a slot instead of 1.06): a VU interns ~620 strings, so its table stays
#     at 512 slots, 4 KiB less per VU; chains of 1.2 on average (the per-request path interns
#     few strings: it pushes its keys by heap pointer).
#   - DUK_USE_INTERRUPT_COUNTER + DUK_USE_EXEC_TIMEOUT_CHECK: lets the engine interrupt a runaway
#     VU (gracefulStop) without killing the thread; sb_duk_exec_timeout() decides.
#   - DUK_USE_GET_RANDOM_DOUBLE: Math.random() from the heap's own generator, which k6's
#     randomSeed() can seed (common/duk_udata.h).
set -eu
sed -e 's|^#undef DUK_USE_FASTINT$|#define DUK_USE_FASTINT|' \
    -e 's|^#undef DUK_USE_LIGHTFUNC_BUILTINS$|#define DUK_USE_LIGHTFUNC_BUILTINS|' \
    -e 's|^#define DUK_USE_LITCACHE_SIZE 256$|#define DUK_USE_LITCACHE_SIZE 64|' \
    -e 's|^#define DUK_USE_STRTAB_MINSIZE 1024$|#define DUK_USE_STRTAB_MINSIZE 512|' \
    -e 's|^#define DUK_USE_STRTAB_GROW_LIMIT 17$|#define DUK_USE_STRTAB_GROW_LIMIT 40|' \
    -e 's|^#undef DUK_USE_INTERRUPT_COUNTER$|#define DUK_USE_INTERRUPT_COUNTER|' \
    -e 's|^#undef DUK_USE_EXEC_TIMEOUT_CHECK$|#define DUK_USE_EXEC_TIMEOUT_CHECK(udata) sb_duk_exec_timeout(udata)\nextern int sb_duk_exec_timeout(void *udata);|' \
    -e 's|^#undef DUK_USE_GET_RANDOM_DOUBLE$|#define DUK_USE_GET_RANDOM_DOUBLE(udata) sb_duk_random(udata)\nextern double sb_duk_random(void *udata);|' \
    "$1"
