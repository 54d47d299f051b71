/* Can this agent reach a target? A TCP connect with a deadline, before any VU exists, so that a
 * distributed run fails at prepare time naming the agent and the target (see
 * controller/targets.h) instead of measuring a whole run of failed requests. */
#ifndef SB_REACH_H
#define SB_REACH_H

#include "common/err.h"

/* Resolves |hostport| ("host:port", "[v6]:port") and connects to its first address within
 * |timeout_ms|, then closes. Returns 0, or SB_ENOTFOUND (does not resolve), SB_ETIMEDOUT or SB_EIO
 * (refused, unreachable), with |err| saying "cannot reach 10.0.0.5:80: connection refused". */
int sb_reach_check(const char *hostport, int timeout_ms, sb_err *err);

#endif
