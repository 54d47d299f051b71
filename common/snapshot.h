/* Metric sets <-> the protocol's Snapshot message (proto/speedboat.proto).
 *
 * An agent turns its interval aggregate into one Snapshot a second; the controller adds every
 * Snapshot into its run-wide set. Histograms travel as raw buckets, so the merge is exact. */
#ifndef SB_SNAPSHOT_H
#define SB_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/metrics.h"
#include "proto/speedboat.pb-c.h"

/* Serializes every touched series of |m| as an Envelope{snapshot} into |*out| (malloc'ed; the
 * caller frees). Does not reset |m|. Returns 0 or SB_ENOMEM. */
int sb_snapshot_encode(const sb_metrics *m, uint64_t seq, int64_t time_us, uint64_t vus,
                       uint64_t vus_max, uint8_t **out, size_t *len);

/* Adds the content of a received Snapshot to |m|. A series with an unknown type, a metric whose
 * type disagrees with |m|'s, an odd tag list or inconsistent histogram is SB_EFORMAT, with |err|
 * naming the series; |m| may then hold the series before the bad one. */
int sb_snapshot_apply(sb_metrics *m, const Speedboat__Snapshot *snap, sb_err *err);

#endif
