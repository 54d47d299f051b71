/* Fuzz target: the bytes of one controller<->agent connection, as either end reads them:
 * framing (common/frame.c: lengths, the zstd flag), the protobuf-c decode of every message of
 * proto/speedboat.proto (one Envelope oneof), and the checks that consume what the wire carries
 * whole: snapshots into a metric set (common/snapshot.c), points (common/points.c) and Prepare's
 * HTTP configuration (agent/http_config.c). Every message decoded must pack again and decode to
 * the same bytes.
 *
 * Input: the stream itself, fed in two reads (split at the first byte's value) to exercise
 * partial frames. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_config.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/snapshot.h"
#include "test/fuzz/fuzz.h"
#ifdef SPEEDBOAT__POINTS__INIT /* the Points message (output samples) is on the wire */
#include "common/points.h"
#define HAVE_POINTS 1
#endif

#ifndef HAVE_POINTS
typedef void sb_points_dec;
#else

static void *on_metric(const sb_point_metric *m, void *ud) { return (void *)1; }
static void *on_tags(const sb_point_tags *t, void *ud) {
  volatile size_t sum = 0;
  (void)sum;
  for (size_t i = 0; i < 2 * t->n; i++) sum += strlen(t->kv[i]);
  return (void *)1;
}
static void on_free_tags(void *tags_ud, void *ud) {}
static void on_point(const sb_point_metric *m, const sb_point_tags *t, int64_t time_us, double v,
                     void *ud) {
  volatile size_t sum = strlen(m->name);
  (void)sum;
}

#endif

/* Packs |e| again: as many bytes as announced; once those decode, they pack to the same bytes.
 * (They may not decode: protobuf-c keeps an unknown field numbered 0, which it refuses on the
 * way in. Nothing in Speedboat re-packs a received message.) */
static void round_trip(const Speedboat__Envelope *e) {
  size_t len = speedboat__envelope__get_packed_size(e);
  uint8_t *a = malloc(len ? len : 1), *b;
  if (!a || speedboat__envelope__pack(e, a) != len) abort();
  Speedboat__Envelope *again = speedboat__envelope__unpack(NULL, len, a);
  if (!again) {
    free(a);
    return;
  }
  size_t len2 = speedboat__envelope__get_packed_size(again);
  if (len2 != len || !(b = malloc(len ? len : 1))) abort();
  speedboat__envelope__pack(again, b);
  if (memcmp(a, b, len) != 0) abort();
  speedboat__envelope__free_unpacked(again, NULL);
  free(a);
  free(b);
}

static void consume(const Speedboat__Envelope *e, sb_metrics *m, sb_snapshot_dec *sdec,
                    sb_points_dec *dec) {
  sb_err err;
  switch (e->msg_case) {
  case SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT: sb_snapshot_apply(sdec, m, e->snapshot, &err); break;
#ifdef HAVE_POINTS
  case SPEEDBOAT__ENVELOPE__MSG_POINTS: sb_points_decode(dec, e->points, 0, &err); break;
#endif
  case SPEEDBOAT__ENVELOPE__MSG_PREPARE: {
    sb_http_config cfg;
    sb_http_config_defaults(&cfg);
    if (sb_http_config_from_proto(&cfg, e->prepare->http, &err) == 0) sb_http_config_clear(&cfg);
    break;
  }
  default: break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct evbuffer *in = evbuffer_new();
  sb_metrics *m;
  sb_points_dec *dec = NULL;
#ifdef HAVE_POINTS
  sb_points_dec_cbs cbs = {on_metric, on_tags, on_free_tags, on_point, NULL};
  if (sb_points_dec_new(&dec, &cbs) < 0) abort();
#endif
  sb_snapshot_dec *sdec; /* the connection's snapshot series ids */
  if (!in || sb_metrics_new(&m) < 0 || sb_snapshot_dec_new(&sdec) < 0) abort();
  size_t cut = size ? data[0] % (size + 1) : 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0) evbuffer_add(in, data, cut);
    else evbuffer_add(in, data + cut, size - cut);
    for (;;) {
      Speedboat__Envelope *e = NULL;
      sb_err err;
      int r = sb_frame_recv(in, &e, &err);
      if (r < 0) pass = 2; /* the connection would close */
      if (r <= 0) break;
      round_trip(e);
      consume(e, m, sdec, dec);
      speedboat__envelope__free_unpacked(e, NULL);
    }
  }
#ifdef HAVE_POINTS
  sb_points_dec_free(dec);
#endif
  sb_snapshot_dec_free(sdec);
  sb_metrics_free(m);
  evbuffer_free(in);
  return 0;
}
