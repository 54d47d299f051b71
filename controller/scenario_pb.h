/* One agent's part of a scenario as the protocol's Scenario message: the one place the
 * controller turns its scenario type (controller/options.h) into protobuf, so planning code
 * (options, segments) never sees protobuf types. */
#ifndef SB_SCENARIO_PB_H
#define SB_SCENARIO_PB_H

#include "controller/options.h"
#include "proto/speedboat.pb-c.h"

/* Fills |p| from |s| (already cut by sb_segment_cut), |vu_offset| being the agent's first VU in
 * the whole test. Strings point into |s|; the arrays (stages, env, tags) are allocated: release
 * them with sb_scenario_pb_release(). Returns 0 or SB_ENOMEM (|p| then holds nothing to free). */
int sb_scenario_to_pb(const sb_scenario *s, uint64_t vu_offset, Speedboat__Scenario *p);
void sb_scenario_pb_release(Speedboat__Scenario *p);

#endif
