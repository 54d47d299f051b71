#include "agent/session.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/allow.h"
#include "agent/coro.h"
#include "agent/engine.h"
#include "agent/http_client.h"
#include "agent/limits.h"
#include "agent/reach.h"
#include "agent/selfmon.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/hostport.h"
#include "common/logfmt.h"
#include "common/points.h"
#include "common/snapshot.h"
#include "common/tls.h"

#define HEARTBEAT_US 500000       /* our heartbeat, and the check that the controller speaks */
#define LOST_US 4000000            /* silence that means the controller is gone: with the check
                                    * period and the last message's age, gone is seen in 5 s */
#define REACH_TIMEOUT_MS 3000
#define OVERRUN_US 3000000          /* past the test's longest run: abort what still runs */

typedef struct logline {
  struct logline *next;
  char level[8];
  char source[16];     /* "console", or the engine's own speaker ("http") */
  int64_t time_us;
  size_t len;
  char text[];
} logline;

/* The outcome of setup()/teardown(), handed from a worker thread to the session loop. */
typedef struct call_result {
  int ready;                  /* filled, waiting for the loop */
  int present, timed_out;
  char *json, *error;         /* malloc'ed; NULL when none */
} call_result;

typedef struct session {
  const sb_session_opts *o;
  struct event_base *base;
  struct bufferevent *bev;
  struct event *ev_snap, *ev_done, *ev_log, *ev_beat, *ev_call;
  sb_engine *engine;          /* prepared test; kept after DONE until teardown ran */
  int ended;                  /* DONE sent for |engine| */
  int drop_when_sent;         /* free |engine| once the output is written (teardown's result) */
  int64_t test_us;            /* the longest the prepared test may run (graceful stops included) */
  int64_t hard_end_us;        /* monotonic time past which the engine is aborted (0: not started) */
  int64_t setup_timeout_ms, teardown_timeout_ms; /* from Prepare */
  int64_t started_at_us;      /* wall clock the scenarios started at (Done.started_at_unix_us) */
  char call_fn[16];           /* the call in flight: "setup" or "teardown" */
  call_result call;           /* guarded by mu */
  sb_metrics *snap;           /* interval aggregate being turned into a snapshot */
  uint64_t seq;
  int send_points;            /* Prepare.send_points: a Points message after each snapshot */
  int send_progress;          /* Prepare.send_progress: a Progress message after each snapshot */
  sb_points_enc penc;         /* what this connection defined so far (ids of |snap|) */
  sb_snapshot_enc senc;       /* the series this connection defined so far (of |snap|) */
  int hello_ok;
  pthread_mutex_t mu;         /* guards the log queue and |call| (filled by worker threads) */
  logline *logs, **logs_tail;
  int closing;                /* flush the output, then stop */
  int holds_busy;             /* took o->busy: give it back at the end */
  int64_t last_rx_us;         /* monotonic time of the controller's last message */
  char why[160];              /* why the session refused or closed the connection ("" = normal) */
  int holds_unauth;           /* counted in o->unauth: give it back at hello or at the end */
  char frame_hint[200];       /* the option that raises the frame limit (sb_frame_limits.hint) */
  size_t log_bytes;           /* text of the queued log lines (guarded by mu) */
  uint64_t log_dropped;       /* lines dropped since the last flush: the queue was full (mu) */
  int deferred;               /* snapshots wait: the controller reads slower than we measure */
} session;

/* One logfmt line on stderr: time=... level=... msg="..." peer=... */
static void slog(const session *s, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void slog(const session *s, const char *level, const char *fmt, ...) {
  if (!s->o->peer) return; /* the in-process agent of a local run keeps quiet */
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++)
    if (*p == '"') *p = '\'';
  sb_logfmt(level, "msg=\"%s\" peer=%s", msg, s->o->peer);
}

static void send_error_code(session *s, const char *code, const char *msg) {
  Speedboat__Error m = SPEEDBOAT__ERROR__INIT;
  m.message = (char *)msg;
  m.code = (char *)code;
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_ERROR, &m);
}

static void send_error(session *s, const char *msg) { send_error_code(s, "", msg); }

/* --- what waits for a slow controller is bounded (agent/limits.h) --------------------------- */

/* The controller has not read SB_LIMITS_OUTPUT_HIGH bytes yet: snapshots and log lines wait
 * (the engine's metrics keep adding up; log lines queue up to SB_LIMITS_LOG_QUEUE). */
static int output_full(session *s) {
  return evbuffer_get_length(bufferevent_get_output(s->bev)) > SB_LIMITS_OUTPUT_HIGH;
}

/* Counts a line of |len| bytes as dropped when the queue holds SB_LIMITS_LOG_QUEUE already. */
static int log_queue_full(session *s, size_t len) {
  pthread_mutex_lock(&s->mu);
  int full = s->log_bytes + len > SB_LIMITS_LOG_QUEUE;
  if (full) s->log_dropped++;
  pthread_mutex_unlock(&s->mu);
  if (full) event_active(s->ev_log, EV_TIMEOUT, 0);
  return full;
}

static void send_dropped_warning(session *s, uint64_t dropped) {
  char text[200];
  snprintf(text, sizeof(text), "%llu log lines dropped: more than %u MiB of them waited for the "
           "controller (a script logging in a loop?)", (unsigned long long)dropped,
           SB_LIMITS_LOG_QUEUE >> 20);
  Speedboat__Log m = SPEEDBOAT__LOG__INIT;
  m.level = "warn";
  m.source = "agent";
  m.text = text;
  m.time_us = sb_clock_wall_us();
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_LOG, &m);
  slog(s, "warn", "%s", text);
}

/* The raw samples of the interval, after its snapshot (common/points.h). */
static void send_points(session *s) {
  const sb_points *p = sb_metrics_points(s->snap);
  uint8_t *buf;
  size_t len;
  if (sb_points_encode(&s->penc, s->snap, s->seq, p ? p->dropped : 0, &buf, &len) == 0) {
    sb_frame_send_packed_z(bufferevent_get_output(s->bev), buf, len);
    free(buf);
  } else {
    fprintf(stderr, "speedboat-agent: out of memory sending %zu points\n", p ? p->n : 0);
  }
}

/* Prepare.send_points: the snapshot set keeps the points the engine's sets hand it. */
static int points_prepare(session *s, const Speedboat__Prepare *p) {
  s->send_points = p->send_points;
  s->send_progress = p->send_progress;
  return p->send_points ? sb_metrics_points_enable(s->snap) : 0;
}

/* Prepare.send_progress: what the controller's live views show beside the metrics. */
static void send_progress(session *s) {
  size_t n = sb_engine_nscenarios(s->engine);
  uint64_t vus[64], *v = n <= 64 ? vus : calloc(n, sizeof(*v));
  if (!v) return;
  for (size_t i = 0; i < n; i++) v[i] = sb_engine_scenario_vus(s->engine, i);
  Speedboat__Progress m = SPEEDBOAT__PROGRESS__INIT;
  m.n_scenario_vus = n;
  m.scenario_vus = v;
  m.iterations_interrupted = sb_engine_iterations_interrupted(s->engine);
  m.paused = sb_engine_paused(s->engine);
  sb_selfmon_sample h; /* the generator's own health (agent/selfmon.h) */
  sb_engine_selfmon(s->engine, &h);
  m.workers = h.workers, m.worker_cpu_max = h.cpu_max_pm, m.worker_cpu_mean = h.cpu_mean_pm;
  m.loop_lag_max_us = h.lag_max_us, m.loop_lag_mean_us = h.lag_mean_us;
  m.fds_open = h.fds_open, m.fds_limit = h.fds_limit, m.dial_emfile = h.dial_emfile;
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_PROGRESS, &m);
  if (v != vus) free(v);
}

/* The operator's pause, resume or new VU count (the controller's REST API). A scale the engine
 * refuses is a warning in the test's log, not the end of the test. */
static void on_control(session *s, const Speedboat__Control *c) {
  if (!s->engine || s->ended) return; /* raced with the end: nothing left to steer */
  if (c->set_paused) sb_engine_pause(s->engine, c->paused);
  for (size_t i = 0; i < c->n_scale; i++) {
    if (sb_engine_scale(s->engine, c->scale[i]->scenario, c->scale[i]->vus) == 0) continue;
    char text[160];
    snprintf(text, sizeof(text), "scenario #%u cannot change its VU count on this agent",
             c->scale[i]->scenario);
    Speedboat__Log m = SPEEDBOAT__LOG__INIT;
    m.level = "warn";
    m.source = "agent";
    m.text = text;
    m.time_us = sb_clock_wall_us();
    sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_LOG, &m);
  }
}

/* Sends what the engine measured since the last snapshot. */
static void send_snapshot(session *s) {
  sb_err err;
  uint64_t vus = 0;
  if (!s->engine) return;
  if (sb_engine_collect(s->engine, s->snap, &vus, &err)) {
    fprintf(stderr, "speedboat-agent: collecting metrics: %s\n", err.msg);
    return;
  }
  uint8_t *buf;
  size_t len;
  if (sb_snapshot_encode(&s->senc, s->snap, ++s->seq, sb_clock_wall_us(), vus,
                         sb_engine_vus_max(s->engine), &buf, &len) == 0) {
    if (sb_frame_send_packed_z(bufferevent_get_output(s->bev), buf, len))
      sb_snapshot_enc_forget(&s->senc); /* its definitions did not go: the next one repeats them */
    free(buf);
  }
  if (s->send_points) send_points(s);
  if (s->send_progress) send_progress(s);
  sb_metrics_reset(s->snap);
}

static void on_snap(evutil_socket_t fd, short what, void *arg) {
  session *s = arg;
  if (output_full(s)) { /* the next tick sends the interval with this one */
    if (!s->deferred)
      slog(s, "warn", "the controller reads slower than this agent measures: %u MiB unsent, "
                      "snapshots wait", SB_LIMITS_OUTPUT_HIGH >> 20);
    s->deferred = 1;
    return;
  }
  s->deferred = 0;
  send_snapshot(s);
}

/* Sends the queued log lines, and a warning when some were dropped (engine_log()). */
static void flush_logs(session *s) {
  pthread_mutex_lock(&s->mu);
  logline *l = s->logs;
  s->logs = NULL;
  s->logs_tail = &s->logs;
  s->log_bytes = 0;
  uint64_t dropped = s->log_dropped;
  s->log_dropped = 0;
  pthread_mutex_unlock(&s->mu);
  if (dropped) send_dropped_warning(s, dropped);
  while (l) {
    logline *next = l->next;
    Speedboat__Log m = SPEEDBOAT__LOG__INIT;
    m.level = l->level;
    m.text = l->text;
    m.time_us = l->time_us;
    m.source = l->source;
    sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_LOG, &m);
    free(l);
    l = next;
  }
}

static void on_log_ev(evutil_socket_t fd, short what, void *arg) {
  session *s = arg;
  if (!output_full(s)) flush_logs(s); /* else on_write() flushes once the controller has read */
}

/* Engine callback, from any worker thread: queue the line for the session loop, unless
 * SB_LIMITS_LOG_QUEUE bytes already wait (a script logging in a loop faster than the controller
 * reads): then the line is dropped and counted, and the controller told how many. */
static void engine_log(const char *level, const char *source, const char *text, size_t len,
                       void *ud) {
  session *s = ud;
  if (log_queue_full(s, len)) return;
  logline *l = malloc(sizeof(*l) + len + 1);
  if (!l) return;
  l->next = NULL;
  snprintf(l->level, sizeof(l->level), "%s", level);
  snprintf(l->source, sizeof(l->source), "%s", source ? source : "console");
  l->time_us = sb_clock_wall_us();
  l->len = len;
  memcpy(l->text, text, len);
  l->text[len] = '\0';
  pthread_mutex_lock(&s->mu);
  *s->logs_tail = l;
  s->logs_tail = &l->next;
  s->log_bytes += len;
  pthread_mutex_unlock(&s->mu);
  event_active(s->ev_log, EV_TIMEOUT, 0);
}

static void engine_done(void *ud) {
  session *s = ud;
  event_active(s->ev_done, EV_TIMEOUT, 0);
}

/* Frees the prepared test (any call in flight ends without a result). */
static void drop_engine(session *s) {
  sb_engine_free(s->engine);
  s->engine = NULL;
  s->ended = 0;
  s->drop_when_sent = 0;
}

/* The scenarios ended: the last snapshot, then DONE. The engine stays (its workers idle) for
 * teardown(); drop_engine() frees it after teardown, a new prepare or the end of the connection. */
static void end_test(session *s) {
  if (!s->engine || s->ended) return;
  event_del(s->ev_snap);
  flush_logs(s);
  send_snapshot(s);
  Speedboat__Done m = SPEEDBOAT__DONE__INIT;
  m.error = (char *)sb_engine_error(s->engine);
  m.iterations = sb_engine_iterations(s->engine);
  m.started_at_unix_us = sb_engine_started_at(s->engine) ? sb_engine_started_at(s->engine) : s->started_at_us;
  m.abort_reason = (char *)sb_engine_abort_reason(s->engine);
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_DONE, &m);
  s->ended = 1;
  flush_logs(s);
}

static void on_done_ev(evutil_socket_t fd, short what, void *arg) { end_test(arg); }

/* Engine callback, from worker 0's thread: keep the call's outcome for the session loop. */
static void engine_call_done(int present, const char *json, const char *error, int timed_out,
                             void *ud) {
  session *s = ud;
  pthread_mutex_lock(&s->mu);
  s->call.ready = 1;
  s->call.present = present;
  s->call.timed_out = timed_out;
  s->call.json = json ? strdup(json) : NULL;
  s->call.error = error ? strdup(error) : NULL;
  if ((json && !s->call.json) || (error && !s->call.error)) {
    free(s->call.json);
    free(s->call.error);
    s->call.json = NULL;
    s->call.error = strdup("out of memory keeping the result");
  }
  pthread_mutex_unlock(&s->mu);
  event_active(s->ev_call, EV_TIMEOUT, 0);
}

static void call_result_clear(call_result *c) {
  free(c->json);
  free(c->error);
  memset(c, 0, sizeof(*c));
}

/* A call ended: a snapshot with what it measured, then CALL_RESULT. After teardown the test is
 * over on this agent and its engine goes. */
static void on_call_ev(evutil_socket_t fd, short what, void *arg) {
  session *s = arg;
  pthread_mutex_lock(&s->mu);
  call_result c = s->call;
  memset(&s->call, 0, sizeof(s->call));
  pthread_mutex_unlock(&s->mu);
  if (!c.ready || !s->engine) {
    call_result_clear(&c);
    return;
  }
  flush_logs(s);
  send_snapshot(s);
  Speedboat__CallResult m = SPEEDBOAT__CALL_RESULT__INIT;
  m.function = s->call_fn;
  m.present = c.present;
  m.data = c.json ? c.json : "";
  m.error = c.error ? c.error : "";
  m.timed_out = c.timed_out;
  m.abort_reason = (char *)sb_engine_abort_reason(s->engine);
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_CALL_RESULT, &m);
  call_result_clear(&c);
  /* Freeing 100,000 VUs takes seconds, and this loop sends nothing meanwhile: the result goes
   * out first (on_write()), or the controller would hear silence instead of the end. */
  if (strcmp(s->call_fn, "teardown") == 0 && s->ended) s->drop_when_sent = 1;
}

/* Call: setup() before start, teardown() after DONE, with Prepare's timeouts. */
static void on_call(session *s, const Speedboat__Call *c) {
  const char *fn = c->function ? c->function : "";
  int setup = strcmp(fn, "setup") == 0;
  if (!setup && strcmp(fn, "teardown") != 0) {
    send_error_code(s, "protocol", "protocol error: Call.function must be \"setup\" or \"teardown\"");
    return;
  }
  if (!s->engine) {
    send_error(s, "call before prepare");
    return;
  }
  int64_t timeout = setup ? s->setup_timeout_ms : s->teardown_timeout_ms;
  const char *data = c->data && *c->data ? c->data : NULL;
  int rc = sb_engine_call(s->engine, fn, data, timeout, engine_call_done, s);
  if (rc == SB_EINVAL) {
    send_error(s, "busy: a setup/teardown call is already running");
    return;
  }
  if (rc) {
    send_error(s, "out of memory starting the call");
    return;
  }
  snprintf(s->call_fn, sizeof(s->call_fn), "%s", fn);
}

/* This connection is past hello (or ends): it no longer counts against the daemon's cap on
 * unauthenticated connections. */
static void auth_release(session *s) {
  if (!s->holds_unauth) return;
  s->holds_unauth = 0;
  atomic_fetch_sub(s->o->unauth, 1);
}

static void on_hello(session *s, const Speedboat__Hello *h) {
  if (h->protocol_version != SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT) {
    char msg[160];
    snprintf(msg, sizeof(msg), "protocol version mismatch: controller speaks %u, agent %d",
             h->protocol_version, SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT);
    send_error_code(s, "version", msg);
    slog(s, "warn", "%s", msg);
    snprintf(s->why, sizeof(s->why), "protocol version mismatch");
    s->closing = 1;
    return;
  }
  if (s->o->token && *s->o->token &&
      (!h->token || !sb_limits_token_equal(h->token, s->o->token))) {
    send_error_code(s, "auth", "authentication failed: wrong or missing token");
    slog(s, "warn", "authentication failed: %s token", h->token && *h->token ? "wrong" : "missing");
    snprintf(s->why, sizeof(s->why), "authentication failed");
    s->closing = 1;
    return;
  }
  if (s->o->busy) {
    int free_ = 0;
    if (!atomic_compare_exchange_strong(s->o->busy, &free_, 1)) {
      send_error_code(s, "busy", "busy: this agent is running another controller's test");
      slog(s, "warn", "refused a controller: busy with another test");
      snprintf(s->why, sizeof(s->why), "refused: busy");
      s->closing = 1;
      return;
    }
    s->holds_busy = 1;
  }
  s->hello_ok = 1;
  auth_release(s);
  slog(s, "info", "controller authenticated (version %s)", h->version ? h->version : "?");
  Speedboat__Welcome m = SPEEDBOAT__WELCOME__INIT;
  m.protocol_version = SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT;
  m.version = SB_VERSION;
  m.agent_id = (char *)(s->o->agent_id ? s->o->agent_id : "local");
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  m.cores = cores > 0 ? (uint32_t)cores : 1;
  m.mem_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  m.max_vus = s->o->max_vus;
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_WELCOME, &m);
}

/* --- Prepare -> the engine's configuration: the one place protobuf scenarios are read ------- */

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

static int64_t ms_to_us(int64_t ms) { return ms * 1000; }

/* key, value, ... copies of |n| EnvVars; NULL when none. Returns 0 or SB_ENOMEM. */
static int decode_pairs(char ***out, size_t *nout, Speedboat__EnvVar **v, size_t n) {
  if (!n) return 0;
  if (!(*out = calloc(2 * n + 1, sizeof(char *)))) return SB_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    (*nout)++; /* counted first: a failure below leaves nothing uncounted */
    (*out)[2 * i] = strdup(v[i]->key ? v[i]->key : "");
    (*out)[2 * i + 1] = strdup(v[i]->value ? v[i]->value : "");
    if (!(*out)[2 * i] || !(*out)[2 * i + 1]) return SB_ENOMEM;
  }
  return 0;
}

/* The same for the scenario's tags (a protobuf map). */
static int decode_tags(char ***out, size_t *nout, Speedboat__Scenario__TagsEntry **v, size_t n) {
  if (!n) return 0;
  if (!(*out = calloc(2 * n + 1, sizeof(char *)))) return SB_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    (*nout)++; /* counted first: a failure below leaves nothing uncounted */
    (*out)[2 * i] = strdup(v[i]->key ? v[i]->key : "");
    (*out)[2 * i + 1] = strdup(v[i]->value ? v[i]->value : "");
    if (!(*out)[2 * i] || !(*out)[2 * i + 1]) return SB_ENOMEM;
  }
  return 0;
}

static int decode_scenario(sb_scenario_cfg *c, const Speedboat__Scenario *p, sb_err *err) {
  c->name = dup_or_null(p->name);
  c->exec = dup_or_null(p->exec);
  c->kind = (sb_scen_kind)p->executor;
  c->vus = p->vus;
  c->iterations = p->iterations;
  c->duration_us = ms_to_us(p->duration_ms);
  c->max_duration_us = ms_to_us(p->max_duration_ms);
  c->start_time_us = ms_to_us(p->start_time_ms);
  c->graceful_stop_us = ms_to_us(p->graceful_stop_ms);
  c->start_vus = p->start_vus;
  c->graceful_ramp_down_us = ms_to_us(p->graceful_ramp_down_ms);
  c->vu_offset = p->vu_offset;
  c->iteration_offset = p->iteration_offset;
  c->iteration_stride = p->iteration_stride;
  if (p->n_stages && !(c->stages = calloc(p->n_stages, sizeof(*c->stages))))
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (size_t i = 0; i < p->n_stages; i++, c->nstages++) {
    c->stages[i].duration_us = ms_to_us(p->stages[i]->duration_ms);
    c->stages[i].target = p->stages[i]->target;
  }
  c->rate = p->rate;
  c->start_rate = p->start_rate;
  c->time_unit_us = ms_to_us(p->time_unit_ms);
  c->pre_allocated_vus = p->pre_allocated_vus;
  c->max_vus = p->max_vus;
  c->stripe = (sb_stripe){.period = p->stripe_period, .mult = p->stripe_mult,
                          .from = p->stripe_from, .to = p->stripe_to};
  if (c->stripe.period && (c->stripe.from > c->stripe.to || c->stripe.to > c->stripe.period ||
                           c->stripe.mult == 0))
    return sb_err_set(err, SB_EFORMAT, "scenario '%s': a bad stripe", p->name ? p->name : "");
  c->min_iteration_duration_us = ms_to_us(p->min_iteration_duration_ms);
  if (decode_pairs(&c->env, &c->nenv, p->env, p->n_env) ||
      decode_tags(&c->tags, &c->ntags, p->tags, p->n_tags))
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  return sb_scenario_cfg_resolve(c, err);
}

static int decode_env(sb_engine_cfg *c, const Speedboat__Prepare *p) {
  if (!(c->env = calloc(2 * p->n_env + 1, sizeof(char *)))) return SB_ENOMEM;
  for (size_t i = 0; i < p->n_env; i++) {
    c->env[2 * i] = strdup(p->env[i]->key ? p->env[i]->key : "");
    c->env[2 * i + 1] = strdup(p->env[i]->value ? p->env[i]->value : "");
    if (!c->env[2 * i] || !c->env[2 * i + 1]) return SB_ENOMEM;
  }
  return 0;
}

/* Decodes |p| into |c| (sb_engine_cfg_init()ed; the caller clears it either way). The archive
 * stays in |p|. Returns 0, SB_EFORMAT (a bad scenario or HTTP option: |err|) or SB_ENOMEM. */
static int decode_prepare(sb_engine_cfg *c, const Speedboat__Prepare *p, sb_err *err) {
  c->archive = p->archive.data;
  c->archive_len = p->archive.len;
  c->workers = p->workers;
  c->discard_response_bodies = p->discard_response_bodies;
  int rc = sb_http_config_from_proto(&c->http, p->http, err);
  if (rc < 0) return rc;
  if (decode_env(c, p) ||
      (p->options_json && *p->options_json && !(c->options_json = strdup(p->options_json))))
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  if (p->n_scenarios && !(c->scenarios = calloc(p->n_scenarios, sizeof(*c->scenarios))))
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (size_t i = 0; i < p->n_scenarios; i++) {
    c->nscenarios++;
    if ((rc = decode_scenario(&c->scenarios[i], p->scenarios[i], err))) return rc;
  }
  return 0;
}

/* The most VUs |c| can need at once on this agent: every scenario's maximum, added up. */
static uint64_t cfg_max_vus(const sb_engine_cfg *c) {
  uint64_t total = 0;
  for (size_t i = 0; i < c->nscenarios; i++) total += sb_scenario_cfg_max_vus(&c->scenarios[i]);
  return total;
}

/* The longest |c| can run: every scenario's start, end and graceful stop. */
static int64_t cfg_max_test_us(const sb_engine_cfg *c) {
  int64_t most = 0;
  for (size_t i = 0; i < c->nscenarios; i++) {
    int64_t t = sb_scenario_cfg_last_us(&c->scenarios[i]);
    if (t > most) most = t;
  }
  return most;
}

/* Builds the engine's configuration from |p| and checks this agent can run it (--max-vus, the
 * targets the script names). Sends the error and returns non-zero when not. */
/* The test's maxVUMemory and initTimeout under this agent's --max-vu-memory, its allowlist, and
 * whether |need| VUs fit under vm.max_map_count (agent/coro.h): said now, naming the limit and the
 * sysctl, rather than as "out of memory" at VU 31,325. Sends the error and returns non-zero. */
static int vu_limits(session *s, const Speedboat__Prepare *p, sb_engine_cfg *cfg, uint64_t need) {
  sb_err err;
  if (p->max_vu_memory) cfg->vu_heap_limit = (size_t)p->max_vu_memory;
  if (s->o->max_vu_memory && cfg->vu_heap_limit > s->o->max_vu_memory)
    cfg->vu_heap_limit = (size_t)s->o->max_vu_memory;
  if (p->init_timeout_ms > 0) cfg->init_timeout_us = p->init_timeout_ms * 1000;
  cfg->allow = s->o->allow;
  if (sb_coro_check_capacity(need, &err) == 0) return 0;
  slog(s, "warn", "%s", err.msg);
  send_error_code(s, "prepare", err.msg);
  return SB_ENOMEM;
}

/* A target the script names that this agent's --allow-targets refuses (its first address, as the
 * reach check would dial it, or its listed name): the test is refused before any VU or
 * connection. Sends the error and returns non-zero. */
static int target_refused(session *s, const char *hostport) {
  char host[256], msg[SB_ERR_MAX];
  const char *port;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (!s->o->allow || sb_hostport_split(hostport, host, sizeof(host), &port) != 0) return 0;
  for (char *c = host; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
  if (sb_hostport_lookup(host, port, &hints, &ai) != 0) return 0; /* the reach check says why */
  int ok = sb_allow_check(s->o->allow, host, ai->ai_addr, 1);
  freeaddrinfo(ai);
  if (ok) return 0;
  snprintf(msg, sizeof(msg), "the script names %s, which this agent's --allow-targets (%.600s) "
           "does not allow: its requests would fail with error_code %d", hostport,
           sb_allow_describe(s->o->allow), SB_HTTP_ERR_NOT_ALLOWED);
  slog(s, "warn", "%s", msg);
  send_error_code(s, "prepare", msg);
  return SB_EINVAL;
}

static int prepare_cfg(session *s, const Speedboat__Prepare *p, sb_engine_cfg *cfg) {
  sb_err err;
  err.msg[0] = '\0';
  int rc = decode_prepare(cfg, p, &err);
  if (rc) {
    send_error_code(s, "prepare", err.msg[0] ? err.msg : "cannot decode the test");
    return rc;
  }
  uint64_t need = cfg_max_vus(cfg);
  if (s->o->max_vus && need > s->o->max_vus) {
    char msg[160];
    snprintf(msg, sizeof(msg), "the test needs %llu VUs on this agent, more than its --max-vus %llu",
             (unsigned long long)need, (unsigned long long)s->o->max_vus);
    send_error_code(s, "prepare", msg);
    return SB_EINVAL;
  }
  if ((rc = vu_limits(s, p, cfg, need))) return rc;
  for (size_t i = 0; i < p->n_targets; i++) { /* before any VU: a clear error, no load */
    if ((rc = target_refused(s, p->targets[i]))) return rc;
    if (sb_reach_check(p->targets[i], REACH_TIMEOUT_MS, &err) == 0) continue;
    char msg[SB_ERR_MAX + 64];
    snprintf(msg, sizeof(msg), "%.900s (a target the script names; --no-target-check skips this)",
             err.msg);
    slog(s, "warn", "%s", err.msg);
    send_error_code(s, "prepare", msg);
    return SB_EINVAL;
  }
  return 0;
}

/* --max-archive-size: an archive that unpacks past it is refused before any VU, with the error
 * naming the flag. Returns non-zero after sending it. */
static int archive_too_big(session *s, const Speedboat__Prepare *p) {
  sb_err err;
  int rc = sb_limits_archive_check(p->archive.data, p->archive.len, s->o->max_archive, &err);
  if (rc == 0) return 0;
  slog(s, "warn", "%s", err.msg);
  send_error_code(s, "prepare", err.msg);
  return rc;
}

static void on_prepare(session *s, const Speedboat__Prepare *p) {
  sb_err err;
  err.msg[0] = '\0';
  if (s->engine && !s->ended) {
    send_error(s, "busy: a test is already prepared on this agent");
    return;
  }
  if (s->engine) drop_engine(s); /* the last test ended; its teardown never came */
  if (archive_too_big(s, p)) return;
  sb_engine_cfg cfg;
  sb_engine_cfg_init(&cfg);
  if (prepare_cfg(s, p, &cfg)) {
    sb_engine_cfg_clear(&cfg);
    return;
  }
  cfg.points = p->send_points;
  if (points_prepare(s, p)) {
    send_error_code(s, "prepare", "out of memory");
    sb_engine_cfg_clear(&cfg);
    return;
  }
  int64_t test_us = cfg_max_test_us(&cfg);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sb_engine_cbs cbs = {.log = engine_log, .done = engine_done, .ud = s};
  int erc = sb_engine_new(&s->engine, &cfg, &cbs, &err);
  sb_engine_cfg_clear(&cfg); /* empty when the engine took it */
  if (erc != 0) {
    flush_logs(s);
    send_error_code(s, erc == SB_ESCRIPT ? "script" : "prepare",
                    err.msg[0] ? err.msg : "cannot prepare the test");
    s->engine = NULL;
    return;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  s->test_us = test_us;
  s->hard_end_us = 0;
  s->setup_timeout_ms = p->setup_timeout_ms;
  s->teardown_timeout_ms = p->teardown_timeout_ms;
  s->started_at_us = 0;
  flush_logs(s);
  Speedboat__Ready m = SPEEDBOAT__READY__INIT;
  m.vus_max = sb_engine_vus_max(s->engine);
  m.init_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_READY, &m);
}

static void on_start(session *s, const Speedboat__Start *st) {
  if (!s->engine || s->ended) {
    send_error(s, "start before prepare");
    return;
  }
  if (st->setup_data && *st->setup_data && sb_engine_set_data(s->engine, st->setup_data) != 0) {
    send_error(s, "out of memory keeping setup's data");
    return;
  }
  int64_t now = sb_clock_wall_us();
  s->started_at_us = st->start_at_unix_us > now ? st->start_at_unix_us : now;
  sb_engine_start(s->engine, st->start_at_unix_us);
  s->hard_end_us = sb_clock_mono_us() + (s->started_at_us - now) + s->test_us + OVERRUN_US;
  int ms = s->o->snapshot_ms > 0 ? s->o->snapshot_ms : 1000;
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  event_add(s->ev_snap, &tv);
}

/* Answers the controller's heartbeat at once with our clock, so it can measure the round trip
 * and our clock's offset. */
static void on_heartbeat(session *s, const Speedboat__Heartbeat *h) {
  if (h->echo_us) return; /* an answer to ours: receiving it was the point */
  Speedboat__Heartbeat m = SPEEDBOAT__HEARTBEAT__INIT;
  m.time_us = sb_clock_wall_us();
  m.echo_us = h->time_us ? h->time_us : 1;
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &m);
}

/* The controller is gone (connection closed, or silent too long): stop all load at once and free
 * the VUs, so the agent is ready for the next test. */
static void controller_lost(session *s, const char *why) {
  slog(s, "warn", "controller lost: %s; stopping the load", why);
  if (s->engine) {
    sb_engine_stop(s->engine, 1);
    drop_engine(s);
  }
  event_base_loopbreak(s->base);
}

/* The daemon is stopping (SIGTERM): abort a running test, send what it measured and a warning
 * saying why, then hang up. The controller prints the warning and counts this agent as lost (its
 * numbers so far kept) instead of guessing at a dropped connection. */
static void agent_stopping(session *s) {
  slog(s, "warn", "agent shutting down: %s", s->engine && !s->ended ? "aborting the test" : "closing");
  if (s->hello_ok) {
    if (s->engine && !s->ended) send_snapshot(s);
    Speedboat__Log m = SPEEDBOAT__LOG__INIT;
    m.level = "warn";
    m.source = "agent";
    m.time_us = sb_clock_wall_us();
    m.text = s->engine && !s->ended ? "the agent is shutting down (SIGTERM): its test was aborted"
                                    : "the agent is shutting down (SIGTERM)";
    sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_LOG, &m);
  }
  if (s->engine) {
    sb_engine_stop(s->engine, 1);
    drop_engine(s);
  }
  snprintf(s->why, sizeof(s->why), "agent shutting down");
  s->closing = 1;
  bufferevent_disable(s->bev, EV_READ);
  if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) event_base_loopbreak(s->base);
}

static int hello_ms(const session *s) {
  return s->o->hello_ms > 0 ? s->o->hello_ms : SB_LIMITS_HELLO_MS;
}

/* No hello within the handshake timeout: a stranger (or a port scanner) holding a connection
 * open. Closed without a word; logged. */
static void hello_timeout(session *s) {
  slog(s, "warn", "no hello within %g s (handshake timeout); closing", hello_ms(s) / 1000.0);
  snprintf(s->why, sizeof(s->why), "no hello within %g s", hello_ms(s) / 1000.0);
  s->closing = 1;
  event_base_loopbreak(s->base);
}

/* Twice a second: our heartbeat, and the check that the controller still speaks. */
static void on_beat(evutil_socket_t fd, short what, void *arg) {
  session *s = arg;
  if (s->o->stopping && atomic_load(s->o->stopping)) {
    if (!s->closing) agent_stopping(s);
    return;
  }
  int64_t silent = sb_clock_mono_us() - s->last_rx_us;
  int64_t lost = s->o->lost_ms > 0 ? (int64_t)s->o->lost_ms * 1000 : LOST_US;
  if (!s->hello_ok && silent > (int64_t)hello_ms(s) * 1000) {
    hello_timeout(s);
    return;
  }
  if (s->hello_ok && silent > lost) {
    char why[64];
    snprintf(why, sizeof(why), "silent for %.1f s", (double)silent / 1e6);
    controller_lost(s, why);
    return;
  }
  if (!s->hello_ok) return;
  if (s->engine && !s->ended && s->hard_end_us && sb_clock_mono_us() > s->hard_end_us) {
    /* A script that never yields keeps its worker from its own gracefulStop timer. */
    slog(s, "warn", "the test overran its longest duration; interrupting its iterations");
    s->hard_end_us = 0;
    sb_engine_stop(s->engine, 1);
  }
  Speedboat__Heartbeat m = SPEEDBOAT__HEARTBEAT__INIT;
  m.time_us = sb_clock_wall_us();
  sb_frame_send_msg(bufferevent_get_output(s->bev), SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &m);
}

static void dispatch(session *s, const Speedboat__Envelope *env) {
  if (!s->hello_ok && env->msg_case != SPEEDBOAT__ENVELOPE__MSG_HELLO) {
    send_error_code(s, "protocol", "protocol error: the first message must be hello");
    slog(s, "warn", "protocol error: the first message was not hello");
    snprintf(s->why, sizeof(s->why), "protocol error");
    s->closing = 1;
    return;
  }
  switch (env->msg_case) {
  case SPEEDBOAT__ENVELOPE__MSG_HELLO: on_hello(s, env->hello); break;
  case SPEEDBOAT__ENVELOPE__MSG_PREPARE: on_prepare(s, env->prepare); break;
  case SPEEDBOAT__ENVELOPE__MSG_START: on_start(s, env->start); break;
  case SPEEDBOAT__ENVELOPE__MSG_STOP:
    if (s->engine) sb_engine_stop(s->engine, env->stop->abort);
    break;
  case SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT: on_heartbeat(s, env->heartbeat); break;
  case SPEEDBOAT__ENVELOPE__MSG_CALL: on_call(s, env->call); break;
  case SPEEDBOAT__ENVELOPE__MSG_CONTROL: on_control(s, env->control); break;
  default: send_error_code(s, "protocol", "protocol error: unexpected message"); break;
  }
}

static void on_read(struct bufferevent *bev, void *arg) {
  session *s = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  while (!s->closing) {
    Speedboat__Envelope *env = NULL;
    sb_err err;
    sb_frame_limits lim; /* a stranger's, until hello; then what a test may need */
    sb_limits_frame(&lim, s->hello_ok, s->o->max_archive, s->frame_hint, sizeof(s->frame_hint));
    int rc = sb_frame_recv_limited(in, &lim, &env, &err);
    if (rc == 0) break;
    if (rc < 0) {
      slog(s, "warn", "%s", err.msg);
      snprintf(s->why, sizeof(s->why), "protocol error");
      send_error_code(s, "protocol", err.msg);
      s->closing = 1;
      break;
    }
    dispatch(s, env);
    speedboat__envelope__free_unpacked(env, NULL);
    s->last_rx_us = sb_clock_mono_us(); /* after: a long prepare is not silence */
  }
  if (s->closing) {
    bufferevent_disable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) event_base_loopbreak(s->base);
  }
}

/* The controller has read everything we sent (the write low-watermark is 0). */
static void on_write(struct bufferevent *bev, void *arg) {
  session *s = arg;
  if (s->drop_when_sent) drop_engine(s);
  if (s->closing) event_base_loopbreak(s->base);
  else flush_logs(s); /* lines that waited for a slow controller (on_log_ev) */
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  session *s = arg;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    char why[300];
    if (s->o->tls && !s->hello_ok && (what & BEV_EVENT_ERROR))
      sb_tls_describe_error(bev, why, sizeof(why));
    else
      snprintf(why, sizeof(why), "%s", (what & BEV_EVENT_EOF) ? "connection closed" : "connection error");
    if (s->hello_ok && s->engine) controller_lost(s, why);
    else {
      if (!s->hello_ok && (what & BEV_EVENT_ERROR)) {
        slog(s, "warn", "connection failed: %s", why);
        snprintf(s->why, sizeof(s->why), "connection failed: %.120s", why);
        s->closing = 1;
      }
      event_base_loopbreak(s->base);
    }
  }
}

int sb_session_serve_fd(int fd, const sb_session_opts *o, sb_err *why) {
  session s;
  memset(&s, 0, sizeof(s));
  s.o = o;
  s.holds_unauth = o->unauth != NULL; /* the daemon counted this connection in */
  s.logs_tail = &s.logs;
  pthread_mutex_init(&s.mu, NULL);
  int rc = SB_ENOMEM;
  sb_engine_global_init();
  sb_http_raise_fd_limit(NULL, NULL); /* the in-process agent too: a VU connection is an fd */
  s.base = event_base_new();
  if (!s.base || sb_metrics_new(&s.snap)) goto out;
  s.bev = o->tls ? sb_tls_bev_new(o->tls, s.base, fd, NULL, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE)
               : bufferevent_socket_new(s.base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE);
  if (s.bev) fd = -1;
  s.last_rx_us = sb_clock_mono_us();
  s.ev_beat = event_new(s.base, -1, EV_PERSIST, on_beat, &s);
  s.ev_snap = event_new(s.base, -1, EV_PERSIST, on_snap, &s);
  s.ev_done = event_new(s.base, -1, 0, on_done_ev, &s);
  s.ev_log = event_new(s.base, -1, 0, on_log_ev, &s);
  s.ev_call = event_new(s.base, -1, 0, on_call_ev, &s);
  if (!s.bev || !s.ev_snap || !s.ev_done || !s.ev_log || !s.ev_beat || !s.ev_call) goto out;
  bufferevent_setcb(s.bev, on_read, on_write, on_event, &s);
  bufferevent_enable(s.bev, EV_READ | EV_WRITE);
  struct timeval beat = {0, HEARTBEAT_US};
  beat.tv_sec = HEARTBEAT_US / 1000000, beat.tv_usec = HEARTBEAT_US % 1000000;
  event_add(s.ev_beat, &beat);
  event_base_loop(s.base, EVLOOP_NO_EXIT_ON_EMPTY);
  rc = s.closing ? SB_EINVAL : 0;
  if (rc) sb_err_set(why, rc, "%s", s.why[0] ? s.why : "refused");
out:
  if (s.engine) sb_engine_free(s.engine);
  flush_logs(&s); /* frees the queue; nothing is sent after the loop */
  call_result_clear(&s.call);
  if (s.bev) bufferevent_free(s.bev);
  if (s.ev_snap) event_free(s.ev_snap);
  if (s.ev_done) event_free(s.ev_done);
  if (s.ev_log) event_free(s.ev_log);
  if (s.ev_beat) event_free(s.ev_beat);
  if (s.ev_call) event_free(s.ev_call);
  if (s.holds_busy) atomic_store(o->busy, 0);
  auth_release(&s);
  sb_metrics_free(s.snap);
  sb_points_enc_clear(&s.penc);
  sb_snapshot_enc_clear(&s.senc);
  if (s.base) event_base_free(s.base);
  if (fd >= 0) close(fd);
  pthread_mutex_destroy(&s.mu);
  return rc;
}
