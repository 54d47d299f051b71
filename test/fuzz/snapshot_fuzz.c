/* Fuzz target: one Snapshot message (proto/speedboat.proto) as an agent sends it about once a
 * second, applied to the controller's run-wide metric set (common/snapshot.c, histogram merges
 * included). What was accepted must encode again into a snapshot a fresh set accepts whole, and
 * merge and read (quantiles) without fault.
 *
 * Input: a serialized Snapshot (not framed: frame_fuzz covers the framing). */
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "common/snapshot.h"
#include "test/fuzz/fuzz.h"

/* Reads every series of |m| as the summary would. */
static void read_all(const sb_metrics *m) {
  volatile double sink = 0;
  (void)sink;
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    const sb_metric_info *mi = sb_metrics_info(m, s->metric);
    const char *const *kv;
    size_t n = sb_tagset_pairs(s->tags, &kv);
    for (size_t i = 0; i < 2 * n; i++) sink += strlen(kv[i]);
    sink += strlen(mi->name);
    if (mi->type == SB_METRIC_TREND) {
      sink += sb_hist_quantile(&s->hist, 0.5) + sb_hist_quantile(&s->hist, 0.99);
      sink += sb_hist_avg(&s->hist);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Speedboat__Snapshot *snap = speedboat__snapshot__unpack(NULL, size, data);
  if (!snap) return 0;
  sb_metrics *m, *m2, *m3;
  sb_err err;
  if (sb_metrics_new(&m) < 0 || sb_metrics_new(&m2) < 0 || sb_metrics_new(&m3) < 0) abort();
  int ok = sb_snapshot_apply(m, snap, &err) == 0;
  if (ok) ok = sb_snapshot_apply(m, snap, &err) == 0; /* the next second's, merged over */
  read_all(m);
  if (ok) {
    uint8_t *buf;
    size_t len;
    if (sb_snapshot_encode(m, 1, 0, 0, 0, &buf, &len) < 0) abort();
    Speedboat__Envelope *e = speedboat__envelope__unpack(NULL, len, buf);
    if (!e || e->msg_case != SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT) abort();
    if (sb_snapshot_apply(m2, e->snapshot, &err) < 0) abort(); /* ours must be accepted */
    speedboat__envelope__free_unpacked(e, NULL);
    free(buf);
    read_all(m2);
    if (sb_metrics_merge(m3, m2, &err) < 0) abort();
    read_all(m3);
  }
  sb_metrics_free(m3);
  sb_metrics_free(m2);
  sb_metrics_free(m);
  speedboat__snapshot__free_unpacked(snap, NULL);
  return 0;
}
