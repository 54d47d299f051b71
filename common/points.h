/* Raw samples ("points") for the outputs that need every one (--out json, --out csv).
 *
 * Off unless the controller asks (Prepare.send_points). Then every metric set of the agent keeps
 * each sample it aggregates as a point (wall time, series, value) in an sb_points buffer of its
 * own (sb_metrics_points_enable()), and sb_metrics_merge() moves the points along with the
 * aggregates: worker set -> engine's pending set -> the session's snapshot set. So points cross
 * threads the way aggregates do, a batch at a time under the lock the merge already takes, never
 * one by one. Once a second the session encodes them as one Points message beside the Snapshot
 * (sb_points_encode()): columns of (time delta, metric id, tag-set id, value), each metric and tag
 * set defined once per connection. The controller decodes them (sb_points_decode()) for its
 * output writers. The Snapshot stream itself is the same size with or without points.
 *
 * Costs: off, one predictable branch per sample; on, a clock read and a 24-byte store per sample
 * (buffers grow by doubling and keep their memory between intervals).
 *
 * Bounded: a set keeps at most SB_POINTS_MAX points between two snapshots (sb_metrics_reset());
 * past that, and when memory runs out, points are counted in |dropped|, which travels with them
 * to the controller (Points.dropped), which warns once at the end with the total. Measured on a
 * 2-core agent at 27,000 requests/s: 15 points a request, 400,000 a second, 16 bytes a point in
 * the Points message (2.7 compressed). So SB_POINTS_MAX is ~130,000 requests a second on one
 * agent, more than a controller writes as JSON lines, and a full set is 48 MB of points and a
 * Points message of at most ~52 MB, inside the controller's SB_FRAME_AGENT_MAX. The cap matters
 * most when the controller reads slowly: the snapshots wait, and the intervals grow. */
#ifndef SB_POINTS_H
#define SB_POINTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/metrics.h"
#include "proto/speedboat.pb-c.h"

typedef struct sb_point {
  int64_t time_us;           /* wall clock */
  const sb_series *s;        /* the series of the owning set that took the sample */
  double value;
} sb_point;

/* A growable array of points, owned by one metric set (one thread at a time). */
#define SB_POINTS_MAX 2000000u /* points a set keeps between two resets (see above) */

typedef struct sb_points {
  sb_point *v;
  size_t n, cap;
  size_t max;                /* at most this many points (SB_POINTS_MAX; tests lower it) */
  uint64_t dropped;          /* points not kept (past |max|, out of memory) since the last
                              * reset; a merge adds them to the destination's */
} sb_points;

/* An empty buffer keeping at most SB_POINTS_MAX points. */
void sb_points_init(sb_points *p);
/* Frees the memory; |p| is empty and reusable (|max| back to SB_POINTS_MAX). */
void sb_points_clear(sb_points *p);
/* Makes room for |extra| more points, never past |max| (the memory never exceeds |max| points).
 * Returns 0, or SB_ENOMEM when memory runs out or |extra| more would pass |max| (|p| unchanged:
 * the caller counts the points it could not keep in |dropped|). */
int sb_points_reserve(sb_points *p, size_t extra);

/* Appends a sample taken now. A point that cannot be stored (past |max|, out of memory) is
 * counted in |dropped|. */
static inline void sb_points_push(sb_points *p, const sb_series *s, double v) {
  if (p->n == p->cap && sb_points_reserve(p, 1)) {
    p->dropped++;
    return;
  }
  sb_point *pt = &p->v[p->n++];
  pt->time_us = sb_clock_wall_us();
  pt->s = s;
  pt->value = v;
}

/* ---- the wire: agent side ---- */

/* What one connection has defined so far, and column buffers reused between messages. */
typedef struct sb_points_enc {
  uint8_t *tags_sent;        /* by tag-set index (sb_tagset_index): 1 once defined */
  size_t tags_cap;
  int metrics_sent;          /* metric ids below this are defined */
  int64_t *dt;               /* the columns, |cap| long */
  uint32_t *metric, *tags;
  double *value;
  size_t cap;
  uint64_t dropped;          /* sent so far (Points.dropped is a running total) */
} sb_points_enc;

void sb_points_enc_init(sb_points_enc *e);
void sb_points_enc_clear(sb_points_enc *e);

/* Serializes the points of |m| (sb_metrics_points(); ids are |m|'s metric ids and tag-set
 * indexes, so |m| must be the same set for the whole connection) as an Envelope{points} into
 * |*out| (malloc'ed; the caller frees). |dropped| is added to the running total of lost points.
 * Does not clear the points (sb_metrics_reset() does). Returns 0 or SB_ENOMEM. */
int sb_points_encode(sb_points_enc *e, const sb_metrics *m, uint64_t seq, uint64_t dropped,
                     uint8_t **out, size_t *len);

/* ---- the wire: controller side ---- */

typedef struct sb_point_metric {
  char *name;
  sb_metric_type type;
  sb_value_type contains;
  void *ud;                  /* what the metric callback returned */
} sb_point_metric;

typedef struct sb_point_tags {
  char **kv;                 /* 2 * n strings, sorted by key */
  size_t n;
  void *ud;                  /* what the tags callback returned */
} sb_point_tags;

/* The decoder's user: |metric| and |tags| are called once per definition and return the |ud|
 * kept beside it (NULL means out of memory); |free_tags| releases a tags |ud| when the decoder
 * goes; |point| is called for every point, in message order, its time in the controller's clock. */
typedef struct sb_points_dec_cbs {
  void *(*metric)(const sb_point_metric *m, void *ud);
  void *(*tags)(const sb_point_tags *t, void *ud);
  void (*free_tags)(void *tags_ud, void *ud);
  void (*point)(const sb_point_metric *m, const sb_point_tags *t, int64_t time_us, double v,
                void *ud);
  void *ud;
} sb_points_dec_cbs;

typedef struct sb_points_dec sb_points_dec; /* one connection's definitions */

int sb_points_dec_new(sb_points_dec **out, const sb_points_dec_cbs *cbs);
void sb_points_dec_free(sb_points_dec *d);
/* Points the agent reported lost so far. */
uint64_t sb_points_dec_dropped(const sb_points_dec *d);

/* Checks |msg| whole (definitions, ids, column lengths), then takes its definitions and calls
 * the point callback for each point, its time less |offset_us| (the agent's clock minus ours).
 * A bad message is SB_EFORMAT with |err| naming what is wrong, and no point is delivered. */
int sb_points_decode(sb_points_dec *d, const Speedboat__Points *msg, int64_t offset_us,
                     sb_err *err);

#endif
