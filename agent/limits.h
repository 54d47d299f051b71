/* What an agent takes from the network, and from whom (issue 10; the table of limits and what a
 * user sees for each is in docs/SECURITY.md).
 *
 * Before a valid hello a peer is a stranger: it may send one plain frame of a few KB, within
 * SB_LIMITS_HELLO_MS, on one of at most SB_LIMITS_UNAUTH_CONNS connections. After it, a frame may
 * carry the test's archive: up to --max-archive-size unpacked (SB_LIMITS_ARCHIVE_DEFAULT) plus
 * SB_LIMITS_ENVELOPE_SLACK for the rest of the Prepare. What the agent queues for a controller
 * that reads slowly is bounded too (SB_LIMITS_LOG_QUEUE, SB_LIMITS_OUTPUT_HIGH). */
#ifndef SB_LIMITS_H
#define SB_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/frame.h"

#define SB_LIMITS_HELLO_FRAME 4096u            /* largest frame before hello (a hello is ~100 B
                                                * plus the token) */
#define SB_LIMITS_TOKEN_MAX 1024u              /* longest token a hello may carry */
#define SB_LIMITS_HELLO_MS 10000               /* a connection must say hello within this */
#define SB_LIMITS_UNAUTH_CONNS 16              /* connections not yet past hello, at once */
#define SB_LIMITS_ARCHIVE_DEFAULT (256ull << 20) /* --max-archive-size: unpacked bytes */
#define SB_LIMITS_ARCHIVE_MAX (1ull << 30)     /* the most --max-archive-size may be */
#define SB_LIMITS_ENVELOPE_SLACK (16ull << 20) /* a Prepare's options, env and scenarios */
#define SB_LIMITS_LOG_QUEUE (4u << 20)         /* bytes of log lines waiting for the controller */
#define SB_LIMITS_OUTPUT_HIGH (16u << 20)      /* unsent bytes past which snapshots and log lines
                                                * wait (the metrics keep adding up meanwhile) */

/* The frame limits of a connection: before hello (|authenticated| 0) SB_LIMITS_HELLO_FRAME and
 * no compressed frame; after it |max_archive| plus the slack, compressed or not (|max_archive| 0:
 * SB_FRAME_MAX, as for the in-process agent of a local run, whose user is the one it serves).
 * |hint| (|size| bytes, kept by the caller as long as |*out|) receives the option that raises
 * the limit. */
void sb_limits_frame(sb_frame_limits *out, int authenticated, uint64_t max_archive, char *hint,
                     size_t size);

/* Whether the token a controller sent equals |want|, in time that depends on neither where they
 * differ nor their lengths (both are hashed, then compared with CRYPTO_memcmp). */
int sb_limits_token_equal(const char *given, const char *want);

/* Checks that the archive in |buf| (zstd-compressed or plain tar) unpacks to at most |max|
 * bytes (0 = no limit: returns 0 at once), inflating into a small scratch buffer and stopping
 * at the limit, so a small archive that would unpack to gigabytes costs neither the memory nor
 * more than |max| bytes of work. Returns 0, SB_EINVAL with |err| naming --max-archive-size, SB_EFORMAT (not
 * zstd) / SB_ENOMEM. */
int sb_limits_archive_check(const uint8_t *buf, size_t len, uint64_t max, sb_err *err);

/* Parses a size: "268435456", "256M", "256MiB", "1G", "512K" (binary units; the B is
 * optional). Returns 0 or SB_EINVAL (not a size, 0, or more than |most|). */
int sb_limits_parse_size(const char *s, uint64_t most, uint64_t *out);

/* "256 MiB", "1.5 GiB", "700 bytes": |n| for a person, into |buf|. Returns |buf|. */
const char *sb_limits_size_str(uint64_t n, char *buf, size_t size);

#endif
