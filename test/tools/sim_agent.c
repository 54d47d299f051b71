/* sb-sim-agent: many simulated agents in one process, for `make bench` (scripts/bench.sh).
 *
 * Serves --listen-count N agents, each on its own 127.0.0.1 port, from one libevent loop. Every
 * connection speaks the agent's side of the protocol (proto/speedboat.proto, as agent/session.c
 * does): hello -> welcome, prepare -> ready, call -> call_result (present = false), start ->
 * one snapshot a second until the first scenario's duration ends or stop arrives -> done.
 * Heartbeats are answered with an echo and sent once a second. No VU runs: each snapshot is a
 * realistic second of k6 samples (--series series over http_req_* trends, counters and rates,
 * tagged like the real engine's samples, --rps requests per second), built once at start-up with
 * the real metrics code (common/metrics.h) from a fixed-seed PRNG and encoded with the real
 * snapshot code (common/snapshot.h), zstd-framed like the real agent's (sb_frame_send_packed_z).
 * What it measures is the controller: its CPU while merging the snapshots of 50-100 agents.
 * With --merge-bench it listens nowhere and times, in this process, the controller's part alone
 * (inflate, unpack, merge of the same frames), free of sockets and of the VM's noise.
 *
 * Prints "listening 127.0.0.1:PORT" per agent on stdout, then serves until SIGINT/SIGTERM. A
 * controller that disconnects costs only its connection; the others go on. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include "common/clock.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/snapshot.h"

#define SIM_TEMPLATES 8    /* distinct seconds of samples, sent in turn */
#define SIM_LATENCIES 300  /* distinct request durations (ms) in the PRNG's table */
#define SIM_DEFAULT_MS 10000 /* test length when the scenario gives none */

typedef struct sim_config {
  int listen_count;        /* simulated agents (ports) */
  int series;              /* series per snapshot */
  uint64_t rps;            /* simulated requests (= iterations) per second per agent */
  int merge_bench;         /* > 0: no listener; time the controller's receive-and-merge of this
                            * many seconds of listen_count agents in process (merge_bench()) */
  int reps;                /* repetitions of the merge bench (the median is printed) */
  const char *misbehave;   /* NULL, or how to break the protocol (for the controller's tests):
                            * "mute" never answers hello, "version" welcomes with another
                            * protocol version, "garbage" answers hello with bytes that are not
                            * a frame, "bad-snapshot" sends an inconsistent histogram after start,
                            * "huge-frame" announces a 300,000,000-byte frame instead of its second
                            * snapshot (then sends the bytes as fast as they are read), "zstd-bomb"
                            * sends 1 GiB of zeros zstd-compressed (~40 KB) there instead,
                            * "dropped-points" follows each snapshot with a Points message that
                            * holds no point but says 1234567 were dropped (with --out json) */
} sim_config;

typedef struct sim sim;

/* One controller connection to one simulated agent. */
typedef struct sim_conn {
  sim *sim;
  struct sim_conn *prev, *next; /* in sim->conns */
  struct bufferevent *bev;
  struct event *ev_start, *ev_tick, *ev_beat;
  int index;               /* which simulated agent (listener) */
  int hello_ok;
  int prepared, running;
  int64_t duration_us;     /* test length from prepare */
  int64_t started_us;      /* wall clock when the load "started" */
  uint64_t vus;            /* from the first scenario, reported in snapshots */
  uint64_t seq;            /* snapshots sent */
  uint64_t iterations;     /* simulated so far */
  uint64_t huge_left;      /* "huge-frame": bytes of the announced frame still to send */
  sb_snapshot_enc senc;    /* the series ids this connection defined (zeroed: none) */
} sim_conn;

struct sim {
  sim_config cfg;
  struct event_base *base;
  struct event *ev_sigint, *ev_sigterm;
  struct evconnlistener **listeners;
  sim_conn *conns;         /* live connections */
  sb_metrics *tmpl[SIM_TEMPLATES]; /* one simulated second each, read-only after start-up */
};

/* --- the simulated seconds ------------------------------------------------------------------ */

/* xorshift64*: deterministic, so every run sends the same bytes. */
static uint64_t rnd(uint64_t *st) {
  uint64_t x = *st;
  x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
  *st = x;
  return x * 0x2545F4914F6CDD1DULL;
}
static double rnd01(uint64_t *st) { return (double)(rnd(st) >> 11) / 9007199254740992.0; }

/* A request kind: one tag set of k6's http_req_* samples. */
typedef struct endpoint {
  const char *url, *method;
  int status;
  unsigned weight;         /* share of the requests */
} endpoint;

static const endpoint endpoints[] = {
    {"http://127.0.0.1/", "GET", 200, 30},
    {"http://127.0.0.1/api/items", "GET", 200, 25},
    {"http://127.0.0.1/api/items/${id}", "GET", 200, 15},
    {"http://127.0.0.1/api/login", "POST", 200, 5},
    {"http://127.0.0.1/api/cart", "POST", 201, 8},
    {"http://127.0.0.1/api/items/${id}", "GET", 404, 2},
    {"http://127.0.0.1/static/app.js", "GET", 304, 6},
    {"http://127.0.0.1/api/checkout", "POST", 500, 1},
    {"http://127.0.0.1/api/search", "GET", 200, 4},
    {"http://127.0.0.1/api/profile", "PUT", 200, 2},
    {"http://127.0.0.1/api/cart", "DELETE", 204, 1},
    {"http://127.0.0.1/api/login", "POST", 401, 1},
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

/* Endpoint |e|: from the table, then (for a large --series) "/api/r/N" GETs of weight 1, their
 * url written into |url|. */
static endpoint endpoint_at(size_t e, char *url, size_t cap) {
  if (e < NENDPOINTS) return endpoints[e];
  snprintf(url, cap, "http://127.0.0.1/api/r/%zu", e - NENDPOINTS);
  return (endpoint){url, "GET", 200, 1};
}

/* The http metrics recorded per request, in the order the engine's emit() fills them. */
static const int http_metrics[] = {
    SB_M_HTTP_REQS,     SB_M_HTTP_REQ_FAILED,    SB_M_HTTP_REQ_DURATION,
    SB_M_HTTP_REQ_BLOCKED, SB_M_HTTP_REQ_CONNECTING, SB_M_HTTP_REQ_TLS_HANDSHAKING,
    SB_M_HTTP_REQ_SENDING, SB_M_HTTP_REQ_WAITING,  SB_M_HTTP_REQ_RECEIVING,
};
#define NHTTP (sizeof(http_metrics) / sizeof(http_metrics[0]))
#define NBASE 5 /* iterations, iteration_duration, data_sent, data_received, checks */
#define NPERITER 5 /* the base series sampled per iteration (vus travel in Snapshot.vus) */

/* Series of one template: base[] per iteration (and the two VU gauges), http[e][k] per request of endpoint e (NULL
 * beyond the --series budget). */
typedef struct tmpl_series {
  sb_series *base[NBASE];
  sb_series *(*http)[NHTTP]; /* nendpoints rows (malloc'ed) */
  int *status;             /* status of each endpoint */
  unsigned *weight;        /* share of each endpoint */
  size_t nendpoints;       /* endpoints with at least one series */
} tmpl_series;

static void tmpl_series_clear(tmpl_series *ts) {
  free(ts->http);
  free(ts->status);
  free(ts->weight);
}

static const sb_tagset *endpoint_tags(sb_metrics *m, const endpoint *e) {
  char status[16];
  snprintf(status, sizeof(status), "%d", e->status);
  const char *kv[] = {"expected_response", e->status < 400 ? "true" : "false",
                      "group", "", "method", e->method, "name", e->url, "proto", "HTTP/1.1",
                      "scenario", "default", "status", status, "url", e->url};
  return sb_metrics_tags(m, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

/* Creates the series of one template, |budget| of them at most (at least the base ones). On
 * success |ts| owns arrays freed by tmpl_series_clear(). */
static int tmpl_layout(sb_metrics *m, int budget, tmpl_series *ts) {
  static const int base[NBASE] = {SB_M_ITERATIONS, SB_M_ITERATION_DURATION, SB_M_DATA_SENT,
                                  SB_M_DATA_RECEIVED, SB_M_CHECKS};
  const char *plain_kv[] = {"group", "", "scenario", "default"};
  const char *check_kv[] = {"check", "status is 2xx/3xx", "group", "", "scenario", "default"};
  const sb_tagset *plain = sb_metrics_tags(m, plain_kv, 2);
  const sb_tagset *check = sb_metrics_tags(m, check_kv, 3);
  size_t rows = (size_t)(budget - NBASE + NHTTP - 1) / NHTTP;
  memset(ts, 0, sizeof(*ts));
  ts->http = calloc(rows + 1, sizeof(*ts->http));
  ts->status = calloc(rows + 1, sizeof(*ts->status));
  ts->weight = calloc(rows + 1, sizeof(*ts->weight));
  if (!plain || !check || !ts->http || !ts->status || !ts->weight) return SB_ENOMEM;
  for (int i = 0; i < NBASE; i++) {
    const sb_tagset *t = base[i] == SB_M_CHECKS ? check : plain;
    if (!(ts->base[i] = sb_metrics_series(m, base[i], t))) return SB_ENOMEM;
  }
  int left = budget - NBASE;
  for (size_t e = 0; e < rows && left > 0; e++) {
    char url[64];
    endpoint ep = endpoint_at(e, url, sizeof(url));
    const sb_tagset *t = endpoint_tags(m, &ep);
    if (!t) return SB_ENOMEM;
    ts->status[e] = ep.status;
    ts->weight[e] = ep.weight;
    for (size_t k = 0; k < NHTTP && left > 0; k++, left--)
      if (!(ts->http[e][k] = sb_metrics_series(m, http_metrics[k], t))) return SB_ENOMEM;
    ts->nendpoints = e + 1;
  }
  return 0;
}

/* Adds v to |s| when the series is part of the set. */
static int add(sb_metrics *m, sb_series *s, double v) { return s ? sb_series_add(m, s, v) : 0; }

/* Records one request of endpoint |e| and its iteration: the samples the engine would add. */
static int tmpl_request(sb_metrics *m, tmpl_series *ts, size_t e, const double *lat,
                        uint64_t *st) {
  double dur = lat[rnd(st) % SIM_LATENCIES] * (1.0 + (double)(e % NENDPOINTS) * 0.15);
  double sending = 0.005 + (double)(rnd(st) % 40) * 0.001;
  double receiving = 0.01 + (double)(rnd(st) % 150) * 0.001;
  double blocked = rnd(st) % 1000 == 0 ? 0.05 + rnd01(st) : 0;
  double connecting = blocked > 0 ? blocked * 0.8 : 0;
  sb_series **h = ts->http[e];
  double v[NHTTP] = {1, ts->status[e] >= 400, dur, blocked, connecting, 0, sending,
                     dur - sending - receiving, receiving};
  int rc = 0;
  for (size_t k = 0; k < NHTTP; k++) rc |= add(m, h[k], v[k]);
  rc |= add(m, ts->base[0], 1);
  rc |= add(m, ts->base[1], dur + 0.02 + (double)(rnd(st) % 50) * 0.001);
  rc |= add(m, ts->base[2], 90 + (double)(rnd(st) % 20));
  rc |= add(m, ts->base[3], 800 + (double)(rnd(st) % 200));
  rc |= add(m, ts->base[4], ts->status[e] < 400);
  return rc ? SB_ENOMEM : 0;
}

/* The latency table: SIM_LATENCIES log-normal durations (median ~5 ms), to the microsecond. */
static void latency_table(double *lat, uint64_t *st) {
  for (int i = 0; i < SIM_LATENCIES; i++) {
    double u1 = rnd01(st) + 1e-12, u2 = rnd01(st);
    double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    lat[i] = round(5000.0 * exp(0.6 * z)) / 1000.0 + 0.2;
  }
}

/* Builds template |i|: one second of |rps| requests spread over the endpoints by weight. */
static int tmpl_build(sim *s, int i) {
  tmpl_series ts;
  double lat[SIM_LATENCIES];
  uint64_t st = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
  int rc = SB_ENOMEM;
  if (sb_metrics_new(&s->tmpl[i])) return SB_ENOMEM;
  sb_metrics *m = s->tmpl[i];
  if (tmpl_layout(m, s->cfg.series, &ts)) goto out;
  latency_table(lat, &st);
  unsigned total = 0;
  for (size_t e = 0; e < ts.nendpoints; e++) total += ts.weight[e];
  for (uint64_t r = 0; r < s->cfg.rps; r++) {
    size_t e = 0;
    unsigned w = total ? (unsigned)(rnd(&st) % total) : 0;
    while (e + 1 < ts.nendpoints && w >= ts.weight[e]) w -= ts.weight[e++];
    if (ts.nendpoints == 0) {  /* a budget of base series only: iterations without http */
      double v[NPERITER] = {1, lat[rnd(&st) % SIM_LATENCIES], 100, 900, 1};
      for (int k = 0; k < NPERITER; k++)
        if (add(m, ts.base[k], v[k])) goto out;
      continue;
    }
    if (tmpl_request(m, &ts, e, lat, &st)) goto out;
  }
  rc = 0;
out:
  tmpl_series_clear(&ts);
  return rc;
}

/* --- one connection ------------------------------------------------------------------------- */

static void send_msg(sim_conn *c, Speedboat__Envelope__MsgCase mc, void *msg) {
  sb_frame_send_msg(bufferevent_get_output(c->bev), mc, msg);
}

static void send_error(sim_conn *c, const char *msg, const char *code) {
  Speedboat__Error m = SPEEDBOAT__ERROR__INIT;
  m.message = (char *)msg;
  m.code = (char *)code;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_ERROR, &m);
}

static void conn_free(sim_conn *c) {
  if (!c) return;
  sim *s = c->sim;
  if (c->prev) c->prev->next = c->next;
  else if (s->conns == c) s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->ev_start) event_free(c->ev_start);
  if (c->ev_tick) event_free(c->ev_tick);
  if (c->ev_beat) event_free(c->ev_beat);
  if (c->bev) bufferevent_free(c->bev);
  sb_snapshot_enc_clear(&c->senc);
  free(c);
}

/* A snapshot whose trend says it holds 5 values but has no bucket: the controller must refuse it. */
static void send_bad_snapshot(sim_conn *c) {
  uint32_t id = 0, size = 0;
  uint64_t count = 5, zero = 0;
  double sum = 10, min = 1, max = 3;
  int32_t first = 0;
  Speedboat__Series se = SPEEDBOAT__SERIES__INIT, *sp = &se;
  se.metric = "http_req_duration";
  se.type = SPEEDBOAT__METRIC_TYPE__METRIC_TYPE_TREND;
  se.contains = SPEEDBOAT__VALUE_TYPE__VALUE_TYPE_TIME;
  Speedboat__Trends t = SPEEDBOAT__TRENDS__INIT;
  t.n_id = t.n_count = t.n_sum = t.n_min = t.n_max = t.n_first = t.n_zero = t.n_size = 1;
  t.id = &id, t.count = &count, t.sum = &sum, t.min = &min, t.max = &max, t.first = &first;
  t.zero = &zero, t.size = &size;
  Speedboat__Snapshot m = SPEEDBOAT__SNAPSHOT__INIT;
  m.seq = ++c->seq;
  m.n_series = 1;
  m.series = &sp;
  m.trends = &t;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT, &m);
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

#define HUGE_FRAME 300000000u  /* "huge-frame": what the header announces */
#define BOMB_BYTES (1ull << 30) /* "zstd-bomb": what the frame inflates to */

/* "huge-frame": the output drained, so the next MiB of the announced frame follows. */
static void on_huge_write(struct bufferevent *bev, void *arg) {
  static const uint8_t junk[1 << 20];
  sim_conn *c = arg;
  size_t n = c->huge_left < sizeof(junk) ? (size_t)c->huge_left : sizeof(junk);
  if (n && bufferevent_write(bev, junk, n) == 0) c->huge_left -= n;
}

/* A frame header announcing HUGE_FRAME bytes, then the bytes while the controller reads them:
 * a controller must refuse it from the header, before buffering any. */
static void send_huge_frame(sim_conn *c) {
  uint8_t hdr[4] = {HUGE_FRAME >> 24, (HUGE_FRAME >> 16) & 0xff, (HUGE_FRAME >> 8) & 0xff,
                    HUGE_FRAME & 0xff};
  bufferevent_write(c->bev, hdr, 4);
  c->huge_left = HUGE_FRAME;
  bufferevent_setcb(c->bev, on_read, on_huge_write, on_event, c);
  on_huge_write(c->bev, c);
}

/* A compressed frame that declares (in its zstd header) and really holds BOMB_BYTES of zeros,
 * compressed as a stream so this process never holds them: ~40 KB on the wire. */
static void send_zstd_bomb(sim_conn *c) {
  static const uint8_t zeros[1 << 20];
  struct evbuffer *z = evbuffer_new();
  ZSTD_CCtx *cc = ZSTD_createCCtx();
  uint8_t out[1 << 16];
  if (!z || !cc) goto out;
  ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setPledgedSrcSize(cc, BOMB_BYTES);
  for (uint64_t done = 0; done < BOMB_BYTES; done += sizeof(zeros)) {
    int last = done + sizeof(zeros) >= BOMB_BYTES;
    ZSTD_inBuffer in = {zeros, sizeof(zeros), 0};
    size_t left;
    do {
      ZSTD_outBuffer o = {out, sizeof(out), 0};
      left = ZSTD_compressStream2(cc, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) goto out;
      evbuffer_add(z, out, o.pos);
    } while (in.pos < in.size || (last && left));
  }
  uint32_t l = (uint32_t)evbuffer_get_length(z) | 0x80000000u;
  uint8_t hdr[4] = {l >> 24, (l >> 16) & 0xff, (l >> 8) & 0xff, l & 0xff};
  bufferevent_write(c->bev, hdr, 4);
  bufferevent_write_buffer(c->bev, z);
out:
  ZSTD_freeCCtx(cc);
  if (z) evbuffer_free(z);
}

static void send_snapshot(sim_conn *c) {
  sim *s = c->sim;
  const char *bad = s->cfg.misbehave ? s->cfg.misbehave : "";
  if (!strcmp(bad, "bad-snapshot")) {
    send_bad_snapshot(c);
    return;
  }
  if (c->seq && !strcmp(bad, "huge-frame")) {
    send_huge_frame(c);
    return;
  }
  if (c->seq && !strcmp(bad, "zstd-bomb")) {
    send_zstd_bomb(c);
    return;
  }
  uint8_t *buf;
  size_t len;
  const sb_metrics *m = s->tmpl[c->seq % SIM_TEMPLATES];
  /* The templates are different sets, but tmpl_layout() makes their series in the same order, so
   * a series index names the same (metric, tags) in each: one encoder serves them all. */
  if (sb_snapshot_encode(&c->senc, m, c->seq + 1, sb_clock_wall_us(), c->vus, c->vus, &buf, &len)) {
    fprintf(stderr, "sb-sim-agent: out of memory encoding a snapshot\n");
    return;
  }
  if (sb_frame_send_packed_z(bufferevent_get_output(c->bev), buf, len))
    sb_snapshot_enc_forget(&c->senc);
  free(buf);
  c->seq++;
  c->iterations += s->cfg.rps;
  if (!strcmp(bad, "dropped-points")) {
    Speedboat__Points pm = SPEEDBOAT__POINTS__INIT;
    pm.seq = c->seq;
    pm.base_us = sb_clock_wall_us();
    pm.dropped = 1234567; /* a running total: the same at every message */
    send_msg(c, SPEEDBOAT__ENVELOPE__MSG_POINTS, &pm);
  }
}

/* Ends the test: Done with what was simulated; the connection stays for another test. */
static void end_test(sim_conn *c) {
  if (!c->prepared) return;
  event_del(c->ev_start);
  event_del(c->ev_tick);
  Speedboat__Done m = SPEEDBOAT__DONE__INIT;
  m.iterations = c->iterations;
  m.started_at_unix_us = c->started_us;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_DONE, &m);
  c->prepared = c->running = 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  sim_conn *c = arg;
  send_snapshot(c);
  if (sb_clock_wall_us() - c->started_us >= c->duration_us - 100000) end_test(c);
}

static void on_start_at(evutil_socket_t fd, short what, void *arg) {
  sim_conn *c = arg;
  struct timeval tv = {1, 0};
  c->running = 1;
  c->started_us = sb_clock_wall_us();
  event_add(c->ev_tick, &tv);
}

static void on_beat(evutil_socket_t fd, short what, void *arg) {
  sim_conn *c = arg;
  Speedboat__Heartbeat m = SPEEDBOAT__HEARTBEAT__INIT;
  m.time_us = sb_clock_wall_us();
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &m);
}

static int misbehaving(const sim_conn *c, const char *mode) {
  return c->sim->cfg.misbehave && !strcmp(c->sim->cfg.misbehave, mode);
}

static int on_hello(sim_conn *c, const Speedboat__Hello *h) {
  if (h->protocol_version != SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT) {
    send_error(c, "protocol version mismatch", "version");
    return -1;
  }
  if (misbehaving(c, "mute")) return 0;
  if (misbehaving(c, "garbage")) {
    static const uint8_t junk[] = {0x00, 0x00, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff};
    bufferevent_write(c->bev, junk, sizeof(junk));
    return 0;
  }
  char id[32];
  snprintf(id, sizeof(id), "sim-%d", c->index);
  Speedboat__Welcome m = SPEEDBOAT__WELCOME__INIT;
  m.protocol_version = misbehaving(c, "version") ? 99 : SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT;
  m.version = misbehaving(c, "version") ? "99.0.0-future" : SB_VERSION;
  m.agent_id = id;
  m.cores = 1;
  m.mem_bytes = 1ULL << 30;
  c->hello_ok = 1;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_WELCOME, &m);
  struct timeval tv = {1, 0};
  event_add(c->ev_beat, &tv);
  return 0;
}

static void on_prepare(sim_conn *c, const Speedboat__Prepare *p) {
  if (c->prepared) {
    send_error(c, "busy: a test is already prepared on this agent", "busy");
    return;
  }
  int64_t ms = 0;
  c->vus = 1;
  if (p->n_scenarios) {
    const Speedboat__Scenario *sc = p->scenarios[0];
    ms = sc->duration_ms > 0 ? sc->duration_ms : sc->max_duration_ms;
    if (sc->vus) c->vus = sc->vus;
  }
  c->duration_us = (ms > 0 ? ms : SIM_DEFAULT_MS) * 1000;
  c->seq = c->iterations = 0;
  c->started_us = 0;
  c->prepared = 1;
  Speedboat__Ready m = SPEEDBOAT__READY__INIT;
  m.vus_max = c->vus;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_READY, &m);
}

static void on_start(sim_conn *c, const Speedboat__Start *st) {
  if (!c->prepared || c->running) {
    send_error(c, c->running ? "the test already started" : "start before prepare", "protocol");
    return;
  }
  int64_t wait = st->start_at_unix_us ? st->start_at_unix_us - sb_clock_wall_us() : 0;
  if (wait < 0) wait = 0;
  struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
  c->running = 1; /* scheduled: a second start is refused */
  event_add(c->ev_start, &tv);
}

static void on_call(sim_conn *c, const Speedboat__Call *call) {
  Speedboat__CallResult m = SPEEDBOAT__CALL_RESULT__INIT;
  m.function = call->function;
  m.present = 0;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_CALL_RESULT, &m);
}

static void on_heartbeat(sim_conn *c, const Speedboat__Heartbeat *h) {
  if (h->echo_us) return; /* the controller's answer to ours */
  Speedboat__Heartbeat m = SPEEDBOAT__HEARTBEAT__INIT;
  m.time_us = sb_clock_wall_us();
  m.echo_us = h->time_us;
  send_msg(c, SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &m);
}

/* Handles one message. Returns -1 when the connection must close after its output drains. */
static int dispatch(sim_conn *c, const Speedboat__Envelope *env) {
  if (!c->hello_ok && env->msg_case != SPEEDBOAT__ENVELOPE__MSG_HELLO) {
    send_error(c, "protocol error: the first message must be hello", "protocol");
    return -1;
  }
  switch (env->msg_case) {
  case SPEEDBOAT__ENVELOPE__MSG_HELLO: return on_hello(c, env->hello);
  case SPEEDBOAT__ENVELOPE__MSG_PREPARE: on_prepare(c, env->prepare); break;
  case SPEEDBOAT__ENVELOPE__MSG_START: on_start(c, env->start); break;
  case SPEEDBOAT__ENVELOPE__MSG_CALL: on_call(c, env->call); break;
  case SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT: on_heartbeat(c, env->heartbeat); break;
  case SPEEDBOAT__ENVELOPE__MSG_STOP:
    if (c->running && c->started_us) send_snapshot(c);
    end_test(c);
    break;
  case SPEEDBOAT__ENVELOPE__MSG_ERROR: return -1;
  default: send_error(c, "protocol error: unexpected message", "protocol"); break;
  }
  return 0;
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) conn_free(arg);
}

static void on_write_close(struct bufferevent *bev, void *arg) { conn_free(arg); }

static void on_read(struct bufferevent *bev, void *arg) {
  sim_conn *c = arg;
  for (;;) {
    Speedboat__Envelope *env = NULL;
    sb_err err;
    int rc = sb_frame_recv(bufferevent_get_input(bev), &env, &err);
    if (rc == 0) return;
    if (rc > 0) {
      rc = dispatch(c, env);
      speedboat__envelope__free_unpacked(env, NULL);
      if (rc == 0) continue;
    } else {
      send_error(c, err.msg, "protocol");
    }
    /* Close once what we said has been written. */
    event_del(c->ev_beat);
    event_del(c->ev_tick);
    event_del(c->ev_start);
    bufferevent_disable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) conn_free(c);
    else bufferevent_setcb(bev, NULL, on_write_close, on_event, c);
    return;
  }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg) {
  sim *s = arg;
  int one = 1, index = -1;
  for (int i = 0; i < s->cfg.listen_count; i++)
    if (s->listeners[i] == l) index = i;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sim_conn *c = calloc(1, sizeof(*c));
  if (!c) goto fail;
  c->sim = s;
  c->index = index;
  c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!c->bev) goto fail;
  fd = -1;
  c->ev_start = evtimer_new(s->base, on_start_at, c);
  c->ev_tick = event_new(s->base, -1, EV_PERSIST, on_tick, c);
  c->ev_beat = event_new(s->base, -1, EV_PERSIST, on_beat, c);
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  if (!c->ev_start || !c->ev_tick || !c->ev_beat) goto fail;
  bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  return;
fail:
  fprintf(stderr, "sb-sim-agent: out of memory accepting a connection\n");
  if (fd >= 0) close(fd);
  conn_free(c);
}

/* --- the merge, in process ------------------------------------------------------------------ */

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One repetition of the merge bench: every agent's frames (encoded before, |frames[a]|, one a
 * second, the first defining the ids) go through what the controller does with a snapshot frame:
 * sb_frame_recv_rx() into its one receive arena (inflate, unpack), sb_snapshot_apply() with the
 * connection's ids into one run-wide set, agent by agent within a second as they arrive. The
 * first second (definitions, first touches of every histogram) is left out of the time. Returns
 * the thread's CPU seconds, or -1 (message printed). */
static double merge_rep(const sim *s, struct evbuffer *const *frames, int seconds) {
  int n = s->cfg.listen_count, rc = -1;
  double t0 = 0, t1 = 0;
  sb_metrics *m = NULL;
  sb_frame_rx *rx = NULL;
  sb_snapshot_dec **dec = calloc((size_t)n, sizeof(*dec));
  struct evbuffer **in = calloc((size_t)n, sizeof(*in));
  if (!dec || !in || sb_metrics_new(&m) || sb_frame_rx_new(&rx)) goto out;
  for (int a = 0; a < n; a++) {
    if (sb_snapshot_dec_new(&dec[a]) || !(in[a] = evbuffer_new())) goto out;
    /* By reference: the encoded frames serve every repetition. */
    if (evbuffer_add_buffer_reference(in[a], frames[a])) goto out;
  }
  for (int sec = 0; sec < seconds; sec++) {
    if (sec == 1) t0 = thread_cpu_s();
    for (int a = 0; a < n; a++) {
      Speedboat__Envelope *env = NULL;
      sb_err err;
      if (sb_frame_recv_rx(in[a], &sb_frame_agent_limits, rx, &env, &err) != 1 ||
          !env->snapshot || sb_snapshot_apply(dec[a], m, env->snapshot, &err)) {
        fprintf(stderr, "sb-sim-agent: merge bench: agent %d second %d: %s\n", a, sec,
                env ? err.msg : "no frame");
        goto out;
      }
      sb_frame_rx_done(rx, env);
    }
  }
  t1 = thread_cpu_s();
  rc = 0;
out:
  for (int a = 0; a < n; a++) {
    if (dec) sb_snapshot_dec_free(dec[a]);
    if (in && in[a]) evbuffer_free(in[a]);
  }
  free(dec);
  free(in);
  sb_frame_rx_free(rx);
  sb_metrics_free(m);
  if (rc) fprintf(stderr, "sb-sim-agent: merge bench failed\n");
  return rc ? -1 : t1 - t0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* --merge-bench: encodes |seconds| snapshots of every agent as sim_conn would send them, then
 * times merge_rep() --reps times and prints the median CPU per snapshot. Returns 0 or 1. */
static int merge_bench(sim *s) {
  int n = s->cfg.listen_count, seconds = s->cfg.merge_bench, rc = 1;
  double *t = calloc((size_t)s->cfg.reps, sizeof(*t));
  struct evbuffer **frames = calloc((size_t)n, sizeof(*frames));
  if (!t || !frames) goto out;
  for (int a = 0; a < n; a++) {
    sb_snapshot_enc enc;
    sb_snapshot_enc_init(&enc);
    if (!(frames[a] = evbuffer_new())) goto out;
    for (int sec = 0; sec < seconds; sec++) {
      uint8_t *buf;
      size_t len;
      const sb_metrics *m = s->tmpl[(a + sec) % SIM_TEMPLATES];
      if (sb_snapshot_encode(&enc, m, (uint64_t)sec + 1, sb_clock_wall_us(), 100, 100, &buf,
                             &len)) {
        sb_snapshot_enc_clear(&enc);
        goto out;
      }
      int bad = sb_frame_send_packed_z(frames[a], buf, len);
      free(buf);
      if (bad) {
        sb_snapshot_enc_clear(&enc);
        goto out;
      }
    }
    sb_snapshot_enc_clear(&enc);
  }
  for (int r = 0; r < s->cfg.reps; r++)
    if ((t[r] = merge_rep(s, frames, seconds)) < 0) goto out;
  qsort(t, (size_t)s->cfg.reps, sizeof(*t), cmp_double);
  size_t bytes = evbuffer_get_length(frames[0]);
  double ms = 1000 / ((double)n * (seconds - 1)); /* CPU seconds -> ms per timed snapshot */
  printf("merge-bench: %d agents x %d s, %d series: %.4f ms per snapshot (median of %d, "
         "%.4f .. %.4f), %zu B per snapshot\n", n, seconds, s->cfg.series, t[s->cfg.reps / 2] * ms,
         s->cfg.reps, t[0] * ms, t[s->cfg.reps - 1] * ms, bytes / (size_t)seconds);
  rc = 0;
out:
  for (int a = 0; frames && a < n; a++)
    if (frames[a]) evbuffer_free(frames[a]);
  free(frames);
  free(t);
  if (rc) fprintf(stderr, "sb-sim-agent: merge bench: out of memory\n");
  return rc;
}

/* --- the process ---------------------------------------------------------------------------- */

static const char usage[] =
    "Usage: sb-sim-agent [--listen-count N] [--series S] [--rps R] [--misbehave MODE]\n"
    "\n"
    "Simulates N Speedboat agents (one 127.0.0.1 port each, printed as 'listening 127.0.0.1:PORT')\n"
    "that send one realistic snapshot a second of S series (default 40, at least 7) as if each ran\n"
    "R requests per second (default 5000). For measuring the controller (make bench).\n"
    "--misbehave mute|version|garbage|bad-snapshot|huge-frame|zstd-bomb|dropped-points breaks\n"
    "the protocol on purpose, for the controller's tests.\n"
    "--merge-bench SECONDS [--reps R] listens nowhere: it times, in this process, what the\n"
    "controller does with N agents' snapshot frames (inflate, unpack, merge) over SECONDS seconds\n"
    "(the first left out), R times (default 5), and prints the median CPU per snapshot.\n";

static void on_signal(evutil_socket_t fd, short what, void *arg) {
  event_base_loopexit(((sim *)arg)->base, NULL);
}

/* Opens the listeners and prints their ports. Returns 0 or -1 (message printed). */
static int open_listeners(sim *s) {
  s->listeners = calloc((size_t)s->cfg.listen_count, sizeof(*s->listeners));
  if (!s->listeners) return -1;
  for (int i = 0; i < s->cfg.listen_count; i++) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    s->listeners[i] = evconnlistener_new_bind(
        s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
        (struct sockaddr *)&sin, sizeof(sin));
    socklen_t sl = sizeof(sin);
    if (!s->listeners[i] ||
        getsockname(evconnlistener_get_fd(s->listeners[i]), (struct sockaddr *)&sin, &sl)) {
      fprintf(stderr, "sb-sim-agent: cannot listen on 127.0.0.1 (agent %d)\n", i);
      return -1;
    }
    printf("listening 127.0.0.1:%d\n", ntohs(sin.sin_port));
  }
  fflush(stdout);
  return 0;
}

static void sim_free(sim *s) {
  while (s->conns) conn_free(s->conns);
  for (int i = 0; s->listeners && i < s->cfg.listen_count; i++)
    if (s->listeners[i]) evconnlistener_free(s->listeners[i]);
  free(s->listeners);
  for (int i = 0; i < SIM_TEMPLATES; i++) sb_metrics_free(s->tmpl[i]);
  if (s->ev_sigint) event_free(s->ev_sigint);
  if (s->ev_sigterm) event_free(s->ev_sigterm);
  if (s->base) event_base_free(s->base);
}

static int parse_args(int argc, char **argv, sim_config *cfg) {
  static const struct option longopts[] = {{"listen-count", required_argument, 0, 'n'},
                                           {"series", required_argument, 0, 's'},
                                           {"rps", required_argument, 0, 'r'},
                                           {"misbehave", required_argument, 0, 'm'},
                                           {"merge-bench", required_argument, 0, 'b'},
                                           {"reps", required_argument, 0, 'R'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int c;
  *cfg = (sim_config){.listen_count = 1, .series = 40, .rps = 5000, .reps = 5};
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'n': cfg->listen_count = atoi(optarg); break;
    case 's': cfg->series = atoi(optarg); break;
    case 'r': cfg->rps = strtoull(optarg, NULL, 10); break;
    case 'm': cfg->misbehave = optarg; break;
    case 'b': cfg->merge_bench = atoi(optarg); break;
    case 'R': cfg->reps = atoi(optarg); break;
    case 'h': fputs(usage, stdout); exit(0);
    default: fputs(usage, stderr); return -1;
    }
  }
  if (cfg->listen_count < 1 || cfg->listen_count > 10000 || cfg->series < NBASE) {
    fprintf(stderr, "sb-sim-agent: --listen-count must be 1..10000 and --series >= %d\n", NBASE);
    return -1;
  }
  if (cfg->merge_bench < 0 || cfg->merge_bench == 1 || cfg->reps < 1) {
    fprintf(stderr, "sb-sim-agent: --merge-bench takes 2 seconds or more, --reps 1 or more\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  sim s;
  memset(&s, 0, sizeof(s));
  if (parse_args(argc, argv, &s.cfg)) return 2;
  signal(SIGPIPE, SIG_IGN);
  int rc = 1;
  for (int i = 0; i < SIM_TEMPLATES; i++)
    if (tmpl_build(&s, i)) {
      fprintf(stderr, "sb-sim-agent: out of memory building the snapshots\n");
      goto out;
    }
  if (s.cfg.merge_bench) {
    rc = merge_bench(&s);
    goto out;
  }
  s.base = event_base_new();
  if (!s.base) goto out;
  s.ev_sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
  s.ev_sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
  if (!s.ev_sigint || !s.ev_sigterm || open_listeners(&s)) goto out;
  event_add(s.ev_sigint, NULL);
  event_add(s.ev_sigterm, NULL);
  event_base_dispatch(s.base);
  rc = 0;
out:
  sim_free(&s);
  return rc;
}
