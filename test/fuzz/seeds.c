/* Writes the seed corpora of frame_fuzz and snapshot_fuzz (test/fuzz/corpus/{frame,snapshot}/)
 * with the project's own encoders, so the seeds are what the controller and the agents really
 * send: one framed session each way (hello .. done), a Prepare carrying a real archive and HTTP
 * options, a compressed snapshot frame, points. Not part of the build; regenerate with
 *   make fuzz-build BUILD=build-fuzz CC=clang FUZZ=1   (the fuzz tree's libraries will do)
 *   clang -fsanitize=fuzzer-no-link,address,undefined -I. -Ibuild-fuzz test/fuzz/seeds.c \
 *     build-fuzz/libsb-{ctl,agent,common}.a (twice) $(pkg-config --libs ...) -lhttp_parser -lm -o seeds
 *   ./seeds ARCHIVE.tar.zst   (from the repository root) */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_config.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/points.h"
#include "common/snapshot.h"
#include "controller/options.h"

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
  char path[256];
  snprintf(path, sizeof(path), "test/fuzz/corpus/%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
    perror(path);
    exit(1);
  }
}

static void write_buf(const char *name, struct evbuffer *b) {
  size_t n = evbuffer_get_length(b);
  write_file("frame", name, evbuffer_pullup(b, -1), n);
  evbuffer_drain(b, n);
}

/* A metric set as an agent's second looks: built-ins and a custom trend, tagged. */
static sb_metrics *sample_metrics(void) {
  sb_metrics *m;
  sb_err err;
  if (sb_metrics_new(&m) < 0 || sb_metrics_points_enable(m) < 0) exit(1);
  const char *kv[] = {"method", "GET", "name", "http://127.0.0.1/", "status", "200"};
  const sb_tagset *t = sb_metrics_tags(m, kv, 3), *none = sb_metrics_tags(m, NULL, 0);
  int custom = sb_metrics_register(m, "my_trend", SB_METRIC_TREND, SB_VALUE_TIME, &err);
  double d[] = {0, 0.12, 1.5, 12.25, 240, 1e5};
  for (size_t i = 0; i < sizeof(d) / sizeof(*d); i++) {
    sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, t, d[i]);
    sb_metrics_add(m, custom, none, d[i] * 3);
  }
  sb_metrics_add(m, SB_M_HTTP_REQS, t, 6);
  sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, 0);
  sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, t, 1);
  sb_metrics_add(m, SB_M_VUS, none, 3);
  sb_metrics_add(m, SB_M_DATA_RECEIVED, none, 4096);
  return m;
}

static void snapshots(struct evbuffer *b) {
  sb_metrics *m = sample_metrics();
  uint8_t *buf;
  size_t len;
  sb_snapshot_enc senc; /* a connection's first snapshot: every series defined */
  sb_snapshot_enc_init(&senc);
  if (sb_snapshot_encode(&senc, m, 7, 1700000000000000, 3, 10, &buf, &len) < 0) exit(1);
  sb_snapshot_enc_clear(&senc);
  Speedboat__Envelope *e = speedboat__envelope__unpack(NULL, len, buf);
  size_t slen = speedboat__snapshot__get_packed_size(e->snapshot);
  uint8_t *s = malloc(slen);
  speedboat__snapshot__pack(e->snapshot, s);
  write_file("snapshot", "agent_second", s, slen);
  free(s);
  speedboat__envelope__free_unpacked(e, NULL);
  sb_frame_send_packed(b, buf, len);
  write_buf("snapshot_plain", b);
  sb_frame_send_packed_z(b, buf, len);
  write_buf("snapshot_zstd", b);
  free(buf);
  sb_points_enc enc;
  sb_points_enc_init(&enc);
  if (sb_points_encode(&enc, m, 7, 0, &buf, &len) < 0) exit(1);
  sb_frame_send_packed_z(b, buf, len);
  write_buf("points", b);
  free(buf);
  sb_points_enc_clear(&enc);
  sb_metrics_free(m);
}

static void prepare(struct evbuffer *b, const char *archive) {
  static uint8_t arch[1 << 16];
  size_t alen = 0;
  FILE *f = archive ? fopen(archive, "rb") : NULL;
  if (f) alen = fread(arch, 1, sizeof(arch), f), fclose(f);
  sb_options *o;
  sb_err err;
  if (sb_options_parse(&o, "{\"hosts\": {\"test.k6.io\": \"127.0.0.1:8080\"}, \"dns\": {\"ttl\": "
                           "\"1m\", \"select\": \"random\"}, \"maxRedirects\": 3, \"userAgent\": "
                           "\"sb\", \"tlsVersion\": \"tls1.2\", \"blockHostnames\": [\"*.x.org\"]}",
                       NULL, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  Speedboat__HttpConfig http = SPEEDBOAT__HTTP_CONFIG__INIT;
  if (sb_http_config_to_proto(&o->http, &http) < 0) exit(1);
  Speedboat__Stage st[2] = {SPEEDBOAT__STAGE__INIT, SPEEDBOAT__STAGE__INIT}, *stp[] = {&st[0], &st[1]};
  st[0].duration_ms = 5000, st[0].target = 20, st[1].duration_ms = 10000;
  Speedboat__Scenario sc = SPEEDBOAT__SCENARIO__INIT, *scp[] = {&sc};
  sc.name = "default", sc.executor = SPEEDBOAT__EXECUTOR__EXECUTOR_RAMPING_VUS, sc.exec = "default";
  sc.start_vus = 1, sc.stages = stp, sc.n_stages = 2, sc.graceful_ramp_down_ms = 30000;
  sc.graceful_stop_ms = 30000;
  Speedboat__EnvVar ev = SPEEDBOAT__ENV_VAR__INIT, *evp[] = {&ev};
  ev.key = "BASE", ev.value = "http://127.0.0.1:8080";
  Speedboat__Prepare p = SPEEDBOAT__PREPARE__INIT;
  p.archive.data = arch, p.archive.len = alen;
  p.scenarios = scp, p.n_scenarios = 1, p.env = evp, p.n_env = 1, p.segment = "0:1";
  p.agent_name = "agent-1", p.http = &http, p.options_json = "{\"vus\":1}";
  char *targets[] = {"127.0.0.1:8080"};
  p.targets = targets, p.n_targets = 1;
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_PREPARE, &p);
  write_buf("prepare", b);
  sb_http_config_proto_release(&http);
  sb_options_free(o);
}

int main(int argc, char **argv) {
  struct evbuffer *b = evbuffer_new();
  /* controller -> agent */
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.protocol_version = 1, h.version = "v0.9.0", h.token = "s3cret";
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_HELLO, &h);
  write_buf("hello", b);
  prepare(b, argc > 1 ? argv[1] : NULL);
  Speedboat__Start s = SPEEDBOAT__START__INIT;
  s.start_at_unix_us = 1700000000000000, s.setup_data = "{\"token\":\"abc\"}";
  Speedboat__Call c = SPEEDBOAT__CALL__INIT;
  c.function = "teardown", c.data = "{\"token\":\"abc\"}";
  Speedboat__Heartbeat hb = SPEEDBOAT__HEARTBEAT__INIT;
  hb.time_us = 1700000000000000;
  Speedboat__Stop st = SPEEDBOAT__STOP__INIT;
  st.reason = "threshold crossed", st.abort = 1;
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_START, &s);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_CALL, &c);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &hb);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_STOP, &st);
  write_buf("controller_session", b);
  /* agent -> controller */
  Speedboat__Welcome w = SPEEDBOAT__WELCOME__INIT;
  w.protocol_version = 1, w.version = "v0.9.0", w.agent_id = "host-1", w.cores = 2;
  w.mem_bytes = 1ull << 34, w.max_vus = 100000;
  Speedboat__Ready r = SPEEDBOAT__READY__INIT;
  r.vus_max = 20, r.init_seconds = 0.25;
  Speedboat__CallResult cr = SPEEDBOAT__CALL_RESULT__INIT;
  cr.function = "setup", cr.present = 1, cr.data = "{\"token\":\"abc\"}";
  Speedboat__Log l = SPEEDBOAT__LOG__INIT;
  l.level = "warn", l.text = "Request Failed", l.time_us = 1700000000000000, l.source = "console";
  Speedboat__Done d = SPEEDBOAT__DONE__INIT;
  d.iterations = 1234, d.started_at_unix_us = 1700000000000000;
  Speedboat__Error er = SPEEDBOAT__ERROR__INIT;
  er.message = "agent busy", er.code = "busy";
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_WELCOME, &w);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_READY, &r);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_CALL_RESULT, &cr);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_LOG, &l);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_DONE, &d);
  write_buf("agent_session", b);
  sb_frame_send_msg(b, SPEEDBOAT__ENVELOPE__MSG_ERROR, &er);
  write_buf("error", b);
  snapshots(b);
  evbuffer_free(b);
  return 0;
}
