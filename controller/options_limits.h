/* Speedboat's own limits on a test's VUs (issue 10), beside k6's options; k6 has neither:
 *   maxVUMemory  the most one VU's JavaScript heap may hold: bytes, or "64MiB", "1GiB", "512KiB"
 *                (binary units; at least 1MiB). Default: the agent's, 256 MiB; an agent's
 *                --max-vu-memory lowers it. An allocation past it fails the VU's iteration
 *                ("VU 12: heap limit 64 MiB exceeded (maxVUMemory): ..."), the VU goes on.
 *   initTimeout  how long one VU's init code may run: "60s", or milliseconds. Default 60 s (as
 *                setupTimeout); init code still running then fails the test's start naming it. */
#ifndef SB_OPTIONS_LIMITS_H
#define SB_OPTIONS_LIMITS_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"

#define SB_OPTIONS_VU_MEMORY_MIN ((uint64_t)1 << 20)

/* Reads maxVUMemory and initTimeout from the options object |root| into |*max_vu_memory| (bytes)
 * and |*init_timeout_ms|; an absent or null key leaves its output as it is (0: the default).
 * Returns 0, or SB_EINVAL with |err| naming the option ("options.maxVUMemory: '12 parsecs' is
 * not a size ..."). */
int sb_options_limits_parse(json_t *root, uint64_t *max_vu_memory, int64_t *init_timeout_ms,
                            sb_err *err);

#endif
