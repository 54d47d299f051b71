/* Metric sets <-> the protocol's Snapshot message (proto/speedboat.proto).
 *
 * An agent turns its interval aggregate into one Snapshot a second; the controller adds every
 * Snapshot into its run-wide set. Values travel as columns by metric type, and histograms as
 * their non-empty buckets (sparse), so the merge is exact and costs little per series: its cost
 * follows the values of the interval, not the range they span.
 *
 * Series are named per connection: the first Snapshot that carries a series defines its id with
 * the identity (metric, type, value type, tags); later ones send the id and the values. Each side
 * keeps the connection's state (sb_snapshot_enc on the agent, sb_snapshot_dec on the controller)
 * for as long as the connection lives, and no longer: ids mean nothing on another connection. So
 * the controller's merge of a known series is an index, with no string decoded, hashed or
 * compared. An id used before its definition is refused, so a lost snapshot cannot shift values
 * onto another series. */
#ifndef SB_SNAPSHOT_H
#define SB_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/metrics.h"
#include "proto/speedboat.pb-c.h"

#define SB_SNAPSHOT_MAX_ID (1u << 22) /* series ids a connection may use (4M: 32 MB of table) */

/* ---- agent side ---- */

/* What one connection has defined so far, and the memory the message is built in, kept from one
 * snapshot to the next. */
typedef struct sb_snapshot_enc {
  uint8_t *defined;              /* by series index (sb_series.index): 1 once its identity went */
  size_t ndefined;               /* length of |defined| */
  void *scratch;                 /* the definitions, the columns and the buckets of a snapshot */
  size_t scratch_cap;            /* bytes of |scratch| */
} sb_snapshot_enc;

/* An encoder that has defined nothing (a zeroed struct is one too). */
void sb_snapshot_enc_init(sb_snapshot_enc *e);
/* Frees its memory; |e| is as after sb_snapshot_enc_init(). */
void sb_snapshot_enc_clear(sb_snapshot_enc *e);
/* Forgets every definition: the next snapshot defines each of its series again. For a snapshot
 * that was encoded but could not be sent (the controller accepts a definition repeated as the
 * same series). */
void sb_snapshot_enc_forget(sb_snapshot_enc *e);

/* Serializes every touched series of |m| as an Envelope{snapshot} into |*out| (malloc'ed; the
 * caller frees), defining the series this connection has not sent yet. Ids are |m|'s series
 * indexes, so |m| must be the same set for the whole connection (or one whose series have the
 * same indexes). Does not reset |m|. Returns 0 or SB_ENOMEM (then nothing counts as defined). */
int sb_snapshot_encode(sb_snapshot_enc *e, const sb_metrics *m, uint64_t seq, int64_t time_us,
                       uint64_t vus, uint64_t vus_max, uint8_t **out, size_t *len);

/* ---- controller side ---- */

typedef struct sb_snapshot_dec sb_snapshot_dec; /* one connection's ids -> series of one set */

/* Returns 0 or SB_ENOMEM. */
int sb_snapshot_dec_new(sb_snapshot_dec **out);
void sb_snapshot_dec_free(sb_snapshot_dec *d);
/* The series id |id| names on this connection, or NULL when it is not defined. */
sb_series *sb_snapshot_dec_series(const sb_snapshot_dec *d, uint32_t id);

/* Adds the content of a received Snapshot to |m|, |d| being the state of the connection it came
 * on (always with the same |m|). A definition with an unknown type, of a metric whose type
 * disagrees with |m|'s, with an odd tag list, or of a known id as another series; columns of
 * different lengths; an id never defined on this connection or sent as another type; a NaN or an
 * inconsistent histogram: each is SB_EFORMAT, with |err| naming the series, its metric and id;
 * |m| may then hold the series before the bad one. */
int sb_snapshot_apply(sb_snapshot_dec *d, sb_metrics *m, const Speedboat__Snapshot *snap,
                      sb_err *err);

#endif
