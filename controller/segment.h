/* Execution segments: how one test is cut over several agents (k6's --execution-segment idea).
 *
 * The agents are laid end to end on [0, 1), agent i owning [W_i / W, W_{i+1} / W) where W_i is
 * the sum of the weights before it. Every whole number of the test (VUs, iterations, a stage's
 * target) is cut at the rounded boundaries, share_i = round(N * W_{i+1} / W) - round(N * W_i / W),
 * so the shares always add up to exactly N, whatever the weights. Shared iterations follow the VU
 * cut (an agent without VUs gets no iterations), per-VU iterations stay per VU, durations and
 * times are not cut. Arrival rates are not cut either: the test's iterations are numbered on one
 * schedule and each agent gets a stripe of the numbers (common/stripe.h) in proportion to its
 * share of maxVUs, so the fleet's rate is exactly the asked one and the agents interleave. */
#ifndef SB_SEGMENT_H
#define SB_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "controller/options.h"

/* Agent |i|'s share of |total| cut by |weights| (|n| of them, each > 0; NULL = all equal). */
uint64_t sb_segment_share(uint64_t total, const uint32_t *weights, size_t n, size_t i);

/* Agent |i|'s part of scenario |s|: a shallow copy of |s| (strings borrowed) with its counts cut,
 * its stages written into |stages| (room for s->nstages), its stripe set (arrival-rate). */
void sb_segment_cut(const sb_scenario *s, const uint32_t *weights, size_t n, size_t i,
                    sb_scenario *out, sb_stage *stages);

/* The most VUs agent |i| runs at once in |s| (as the engine counts them). */
uint64_t sb_segment_max_vus(const sb_scenario *s);

/* "a/b:c/d" for agent |i| (the segment, for logs and the protocol's informational field). */
void sb_segment_describe(const uint32_t *weights, size_t n, size_t i, char *out, size_t cap);

#endif
