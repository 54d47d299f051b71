/* Fuzz target: Snapshot messages (proto/speedboat.proto) as an agent sends them about once a
 * second, applied on one connection (its series ids) to the controller's run-wide metric set
 * (common/snapshot.c, sparse histogram merges included). What was accepted must encode again,
 * over a connection of its own, into snapshots a fresh set accepts whole, and merge and read
 * (quantiles) without fault.
 *
 * Input: a serialized Snapshot (not framed: frame_fuzz covers the framing), applied twice on the
 * same connection: the second time its definitions repeat and its ids are known. */
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

/* Encodes |m| twice over one new connection (definitions, then ids alone) into |m2|. */
static void reencode(const sb_metrics *m, sb_metrics *m2) {
  sb_snapshot_enc enc;
  sb_snapshot_dec *dec;
  sb_err err;
  sb_snapshot_enc_init(&enc);
  if (sb_snapshot_dec_new(&dec) < 0) abort();
  for (int round = 0; round < 2; round++) {
    uint8_t *buf;
    size_t len;
    if (sb_snapshot_encode(&enc, m, 1, 0, 0, 0, &buf, &len) < 0) abort();
    Speedboat__Envelope *e = speedboat__envelope__unpack(NULL, len, buf);
    if (!e || e->msg_case != SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT) abort();
    if (sb_snapshot_apply(dec, m2, e->snapshot, &err) < 0) abort(); /* ours must be accepted */
    speedboat__envelope__free_unpacked(e, NULL);
    free(buf);
  }
  sb_snapshot_dec_free(dec);
  sb_snapshot_enc_clear(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Speedboat__Snapshot *snap = speedboat__snapshot__unpack(NULL, size, data);
  if (!snap) return 0;
  sb_metrics *m, *m2, *m3;
  sb_snapshot_dec *dec;
  sb_err err;
  if (sb_metrics_new(&m) < 0 || sb_metrics_new(&m2) < 0 || sb_metrics_new(&m3) < 0) abort();
  if (sb_snapshot_dec_new(&dec) < 0) abort();
  int ok = sb_snapshot_apply(dec, m, snap, &err) == 0;
  if (ok) ok = sb_snapshot_apply(dec, m, snap, &err) == 0; /* the next second's, merged over */
  read_all(m);
  if (ok) {
    reencode(m, m2);
    read_all(m2);
    if (sb_metrics_merge(m3, m2, &err) < 0) abort();
    read_all(m3);
  }
  sb_snapshot_dec_free(dec);
  sb_metrics_free(m3);
  sb_metrics_free(m2);
  sb_metrics_free(m);
  speedboat__snapshot__free_unpacked(snap, NULL);
  return 0;
}
