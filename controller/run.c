/* `speedboat run`: the controller's side of a test.
 *
 *   compile ─► options ─► banner ─► every agent: connect ► hello ► clock sync ► prepare ► ready
 *           ─► setup() on one agent ─► start at one instant ─► snapshots/logs/heartbeats
 *           ─► done from every agent ─► teardown() on one agent ─► thresholds ─► summary ─► exit
 *
 * Agents are connections speaking the framed protocol (common/frame.h): remote daemons given by
 * --agents, each running its execution segment (controller/segment.h), or for a local run the
 * in-process engine behind a socketpair — the same code path. An agent that dies or falls
 * silent mid-run is lost: the run goes on with the others (or stops, --on-agent-loss=abort). */
#include "controller/run.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/session.h"
#include "common/archive.h"
#include "common/clock.h"
#include "common/buf.h"
#include "common/duration.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/snapshot.h"
#include "common/tls.h"
#include "controller/agents.h"
#include "controller/compile.h"
#include "controller/handle_summary.h"
#include "controller/config_layers.h"
#include "controller/judge.h"
#include "controller/options_http.h"
#include "controller/options_json.h"
#include "controller/output.h"
#include "controller/scenario_pb.h"
#include "controller/segment.h"
#include "controller/targets.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#define BEAT_US 500000            /* heartbeat period, and of the check that agents speak */
#define LOST_MS 4000              /* an agent silent this long is lost: seen within 5 s */
#define CONNECT_TIMEOUT_US 10000000
#define SYNC_PINGS 3              /* clock samples before prepare */

typedef struct agent {
  struct run *run;
  size_t idx;
  char name[300];
  const sb_agent_addr *addr;  /* NULL for the in-process agent */
  struct bufferevent *bev;
  pthread_t th;               /* in-process agent thread */
  int in_process;
  int fd_peer;                /* the session's end of the socketpair, until the thread owns it */
  int state;                  /* A_* */
  int64_t last_rx_us;         /* monotonic time of its last message */
  int64_t state_us;           /* when it entered its state */
  int nsync;                  /* clock samples taken */
  int64_t rtt_us, offset_us;  /* best round trip; its clock minus ours */
  uint64_t vu_offset;         /* __VU of its first VU, minus 1 */
  uint64_t share_vus;         /* the most VUs its segment of the test runs at once */
  uint64_t vus, vus_max;      /* VUs that looped in its latest interval; its VUs (ready) */
  uint64_t iterations, requests; /* what it reported, added up */
  uint64_t snap_bytes;        /* metric stream bytes received */
  uint64_t nsnap;             /* snapshots received since the start */
  uint32_t cores;             /* its capacity, from welcome */
  uint64_t mem_bytes, max_vus;
  int64_t started_at_us;      /* its actual start (its clock), from done */
  sb_points_dec *pdec;        /* its Points stream's definitions (outputs), made on first use */
  double lost_at_s;           /* seconds into the test when it was lost */
  char lost_why[256];
} agent;

enum { A_CONNECTING, A_HELLO, A_SYNC, A_PREPARING, A_READY, A_RUNNING, A_DONE, A_LOST, A_FAILED };
enum { P_PREPARE, P_SETUP, P_RUNNING, P_TEARDOWN, P_END };

typedef struct run {
  const sb_run_config *cfg;
  sb_options *opts;
  sb_judge *judge;
  uint8_t *archive;           /* packed archive sent in prepare */
  size_t archive_len;
  struct event_base *base;
  struct event *ev_sigint, *ev_progress, *ev_beat;
  agent *agents;
  size_t nagents;
  sb_agent_list list;         /* --agents / --agents-file, resolved */
  uint32_t *weights;          /* one per agent */
  char *token;                /* --agent-token-file / $SPEEDBOAT_AGENT_TOKEN */
  sb_tls *tls;
  sb_targets targets;         /* checked by every agent at prepare (distributed runs) */
  int distributed;
  int phase;                  /* P_* */
  char *setup_data;           /* JSON from setup(), NULL = undefined */
  int setup_ran;              /* setup finished without error: teardown is due */
  struct agent *call_agent;   /* where setup() or teardown() runs now */
  sb_metrics *metrics;        /* merged over the whole run */
  int64_t start_mono_us, end_mono_us;
  int interrupted;            /* Ctrl-C count */
  int failed;                 /* exit code of a fatal error, 0 when none */
  char error[SB_ERR_MAX];
  size_t lost;                /* agents lost mid-run */
  uint64_t iterations;
  int progress_tty;
  char *options_json;         /* the consolidated options (options_json.h), test.options */
  int handle_summary;         /* a module names handleSummary: the end runs it (handle_summary.h) */
  sb_outputs *outputs;        /* --out, --summary-export (controller/output.h) */
} run;

enum { EXIT_SCRIPT_ABORTED = 108 }; /* k6's ScriptAborted: test.abort() (belongs in run.h) */

/* --- banner and logs ------------------------------------------------------------------------ */

static const char logo[] =
    "\n"
    "     ___                   _ _             _\n"
    "    / __|_ __  ___ ___  __| | |__  ___  __| |_\n"
    "    \\__ \\ '_ \\/ -_) -_)/ _` | '_ \\/ _ \\/ _` |  _|\n"
    "    |___/ .__/\\___\\___|\\__,_|_.__/\\___/\\__,_|\\__|\n"
    "        |_|\n\n";

static void print_banner(const run *r) {
  const sb_options *o = r->opts;
  char maxd[32];
  sb_duration_format_ms(sb_options_max_duration_ms(o), maxd, sizeof(maxd));
  fputs(logo, stdout);
  if (r->distributed) {
    printf("  execution: distributed, %zu agent%s", r->list.n, r->list.n == 1 ? "" : "s");
    for (size_t i = 0; i < r->list.n && i < 4; i++) printf("%s%s", i ? ", " : " (", r->list.v[i].name);
    printf("%s\n", r->list.n > 4 ? ", ...)" : ")");
  } else {
    printf("  execution: local\n");
  }
  char outs[512];
  sb_outputs_describe(r->outputs, outs, sizeof(outs));
  printf("     script: %s\n     output: %s\n\n", r->cfg->script, outs);
  printf("  scenarios: (100.00%%) %zu scenario%s, %llu max VUs, %s max duration (incl. graceful stop):\n",
         o->nscenarios, o->nscenarios == 1 ? "" : "s",
         (unsigned long long)sb_options_max_vus(o), maxd);
  for (size_t i = 0; i < o->nscenarios; i++) {
    char d[256];
    sb_scenario_describe(&o->scenarios[i], d, sizeof(d));
    printf("           * %s: %s\n", o->scenarios[i].name, d);
  }
  printf("\n");
  fflush(stdout);
}

static long long elapsed_s(const run *r) {
  int64_t now = sb_clock_mono_us();
  return r->start_mono_us && now > r->start_mono_us ? (now - r->start_mono_us) / 1000000 : 0;
}

/* Prints a log line like k6's text logger: INFO[0003] text  source=console (agent=NAME when the
 * run is distributed). */
static void print_log(const run *r, const agent *a, const Speedboat__Log *l) {
  const char *lv = "INFO";
  if (l->level && !strcmp(l->level, "debug") && !r->cfg->verbose) return; /* k6: -v shows them */
  if (l->level && !strcmp(l->level, "warn")) lv = "WARN";
  else if (l->level && !strcmp(l->level, "error")) lv = "ERRO";
  else if (l->level && !strcmp(l->level, "debug")) lv = "DEBU";
  const char *src = l->source && *l->source ? l->source : "console";
  if (strcmp(src, "http") == 0) { /* k6's own lines carry their fields in the text */
    if (r->distributed)
      fprintf(stderr, "%s[%04lld] %s agent=%s\n", lv, elapsed_s(r), l->text, a->name);
    else
      fprintf(stderr, "%s[%04lld] %s\n", lv, elapsed_s(r), l->text);
    return;
  }
  if (r->distributed)
    fprintf(stderr, "%s[%04lld] %s  source=%s agent=%s\n", lv, elapsed_s(r), l->text, src, a->name);
  else
    fprintf(stderr, "%s[%04lld] %s  source=%s\n", lv, elapsed_s(r), l->text, src);
}

static uint64_t sum_vus(const run *r, int max) {
  uint64_t n = 0;
  for (size_t i = 0; i < r->nagents; i++) n += max ? r->agents[i].vus_max : r->agents[i].vus;
  return n;
}

static void on_progress(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  if (!r->start_mono_us || r->cfg->quiet || sb_clock_mono_us() < r->start_mono_us) return;
  double t = (double)(sb_clock_mono_us() - r->start_mono_us) / 1e6;
  int m = (int)(t / 60);
  sb_series it;
  sb_series_init(&it, SB_M_ITERATIONS);
  if (sb_metrics_fold(r->metrics, SB_M_ITERATIONS, NULL, 0, &it) == 0) r->iterations = (uint64_t)it.value;
  sb_series_clear(&it);
  fprintf(stderr, "%srunning (%dm%04.1fs), %03llu/%03llu VUs, %llu complete iterations%s",
          r->progress_tty ? "\r\033[K" : "", m, t - m * 60, (unsigned long long)sum_vus(r, 0),
          (unsigned long long)sum_vus(r, 1), (unsigned long long)r->iterations,
          r->progress_tty ? "" : "\n");
  fflush(stderr);
}

/* --- agents --------------------------------------------------------------------------------- */

static int alive(const agent *a) { return a->bev && a->state < A_DONE; }

static void send_to(agent *a, Speedboat__Envelope__MsgCase c, void *msg) {
  if (a->bev) sb_frame_send_msg(bufferevent_get_output(a->bev), c, msg);
}

static void send_to_all(run *r, Speedboat__Envelope__MsgCase c, void *msg) {
  for (size_t i = 0; i < r->nagents; i++)
    if (alive(&r->agents[i])) send_to(&r->agents[i], c, msg);
}

static void stop_all(run *r, int abort, const char *reason) {
  Speedboat__Stop m = SPEEDBOAT__STOP__INIT;
  m.abort = abort;
  m.reason = (char *)reason;
  send_to_all(r, SPEEDBOAT__ENVELOPE__MSG_STOP, &m);
}

static void fail_run(run *r, int code, const char *msg) {
  if (!r->failed) {
    r->failed = code;
    snprintf(r->error, sizeof(r->error), "%.1000s", msg);
  }
  stop_all(r, 1, msg);
  r->phase = P_END;
  event_base_loopexit(r->base, NULL);
}

static void set_state(agent *a, int state) {
  a->state = state;
  a->state_us = sb_clock_mono_us();
}

/* Closes the connection of |a| now (safe from its own callbacks). */
static void drop_conn(agent *a) {
  if (!a->bev) return;
  shutdown(bufferevent_getfd(a->bev), SHUT_RDWR);
  bufferevent_free(a->bev);
  a->bev = NULL;
}

static void maybe_teardown(run *r);
static void record_fleet_vus(run *r);

/* Every agent that started has finished (or was lost): teardown, or the end. */
static void check_all_done(run *r) {
  if (r->phase != P_RUNNING) return;
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].state < A_DONE) return;
  record_fleet_vus(r); /* with every agent's last interval */
  r->end_mono_us = sb_clock_mono_us();
  maybe_teardown(r);
}

/* |a| died or fell silent. Before the start that fails the run (no load was sent); during it the
 * run goes on without it, or stops with --on-agent-loss=abort. */
static void agent_lost(run *r, agent *a, const char *why) {
  int was_teardown = r->phase == P_TEARDOWN && a == r->call_agent && a->state == A_DONE;
  if (a->state >= A_DONE && !was_teardown) { /* finished its share: nothing is lost */
    drop_conn(a);
    return;
  }
  char msg[SB_ERR_MAX];
  if (r->phase < P_RUNNING) {
    snprintf(msg, sizeof(msg), "agent %s: %s (before the test started; no load was sent)", a->name, why);
    set_state(a, A_FAILED);
    drop_conn(a);
    fail_run(r, SB_EXIT_ENGINE, msg);
    return;
  }
  a->lost_at_s = r->start_mono_us ? (double)(sb_clock_mono_us() - r->start_mono_us) / 1e6 : 0;
  snprintf(a->lost_why, sizeof(a->lost_why), "%s", why);
  if (a->state < A_DONE) r->lost++;
  set_state(a, A_LOST);
  a->vus = 0;
  drop_conn(a);
  if (r->progress_tty && !r->cfg->quiet) fputs("\r\033[K", stderr);
  fprintf(stderr, "WARN[%04lld] agent %s lost: %s; it had reported %llu iterations, %llu requests\n",
          elapsed_s(r), a->name, why, (unsigned long long)a->iterations,
          (unsigned long long)a->requests);
  if (was_teardown) {
    r->setup_ran = 1;
    r->phase = P_RUNNING;
    maybe_teardown(r); /* another agent, if any is left */
    return;
  }
  if (r->cfg->abort_on_agent_loss && r->phase == P_RUNNING) {
    snprintf(msg, sizeof(msg), "agent %s lost (%s); stopping every agent (--on-agent-loss=abort)",
             a->name, why);
    if (!r->failed) {
      r->failed = SB_EXIT_AGENT_LOST;
      snprintf(r->error, sizeof(r->error), "%s", msg);
    }
    fprintf(stderr, "ERRO[%04lld] %s\n", elapsed_s(r), msg);
    stop_all(r, 1, "an agent was lost");
  }
  check_all_done(r);
}

/* k6/execution's scenario.iterationInTest on agent |i|: local iteration n is offset + n * stride.
 * The iteration executors know every agent's count ahead, so each agent gets the block after
 * the shares before it; the others interleave the agents. */
static void iteration_numbering(const run *r, const sb_scenario *s, size_t i, Speedboat__Scenario *p) {
  int shared = s->executor == SB_EXEC_SHARED_ITERATIONS;
  p->iteration_offset = i;
  p->iteration_stride = r->nagents;
  if (!shared && s->executor != SB_EXEC_PER_VU_ITERATIONS) return;
  sb_stage *st = calloc(s->nstages + 1, sizeof(*st));
  if (!st) return; /* interleaved: still unique */
  p->iteration_offset = 0;
  p->iteration_stride = 1;
  for (size_t j = 0; j < i; j++) {
    sb_scenario cut;
    sb_segment_cut(s, r->weights, r->nagents, j, &cut, st);
    p->iteration_offset += shared ? cut.iterations : cut.vus * cut.iterations;
  }
  free(st);
}

/* The most VUs agent |i| runs (its segment of every scenario), for __VU numbering. */
static uint64_t agent_max_vus(const run *r, size_t i) {
  uint64_t n = 0;
  const sb_options *o = r->opts;
  for (size_t k = 0; k < o->nscenarios; k++) {
    sb_scenario cut;
    sb_stage *st = calloc(o->scenarios[k].nstages + 1, sizeof(*st));
    if (!st) return 0;
    sb_segment_cut(&o->scenarios[k], r->weights, r->nagents, i, &cut, st);
    n += sb_segment_max_vus(&cut);
    free(st);
  }
  return n;
}

typedef struct prep_bufs {      /* the prepare message's parts, freed together */
  Speedboat__Scenario *sc, **scp;
  size_t nsc;                   /* scenarios filled (sb_scenario_to_pb) */
  Speedboat__EnvVar *ev, **evp;
  sb_stage *cut_st;
  sb_scenario *cut;
} prep_bufs;

static void prep_bufs_free(prep_bufs *b) {
  for (size_t i = 0; i < b->nsc; i++) sb_scenario_pb_release(&b->sc[i]);
  free(b->sc), free(b->scp), free(b->ev), free(b->evp);
  free(b->cut_st), free(b->cut);
}

/* Sends agent |a| its share of the test (its execution segment of every scenario). */
static void send_prepare(run *r, agent *a) {
  const sb_options *o = r->opts;
  size_t nst = 0, nenv = 0;
  for (size_t i = 0; i < o->nscenarios; i++) nst += o->scenarios[i].nstages;
  const char *const *env = r->cfg->env;
  while (env && env[2 * nenv]) nenv++;
  prep_bufs b = {calloc(o->nscenarios + 1, sizeof(*b.sc)), calloc(o->nscenarios + 1, sizeof(*b.scp)),
                 0,
                 calloc(nenv + 1, sizeof(*b.ev)), calloc(nenv + 1, sizeof(*b.evp)),
                 calloc(nst + 1, sizeof(*b.cut_st)), calloc(o->nscenarios + 1, sizeof(*b.cut))};
  if (!b.sc || !b.scp || !b.ev || !b.evp || !b.cut_st || !b.cut) {
    fail_run(r, SB_EXIT_ENGINE, "out of memory");
    goto out;
  }
  size_t k = 0;
  for (size_t i = 0; i < o->nscenarios; i++) {
    sb_segment_cut(&o->scenarios[i], r->weights, r->nagents, a->idx, &b.cut[i], b.cut_st + k);
    if (sb_scenario_to_pb(&b.cut[i], a->vu_offset, &b.sc[i])) {
      fail_run(r, SB_EXIT_ENGINE, "out of memory");
      goto out;
    }
    b.nsc = i + 1;
    iteration_numbering(r, &o->scenarios[i], a->idx, &b.sc[i]);
    k += o->scenarios[i].nstages;
    b.scp[i] = &b.sc[i];
  }
  for (size_t i = 0; i < nenv; i++) {
    speedboat__env_var__init(&b.ev[i]);
    b.ev[i].key = (char *)env[2 * i];
    b.ev[i].value = (char *)env[2 * i + 1];
    b.evp[i] = &b.ev[i];
  }
  char seg[96];
  sb_segment_describe(r->weights, r->nagents, a->idx, seg, sizeof(seg));
  Speedboat__Prepare p = SPEEDBOAT__PREPARE__INIT;
  p.archive.data = r->archive;
  p.archive.len = r->archive_len;
  p.n_scenarios = o->nscenarios;
  p.scenarios = b.scp;
  p.workers = (uint32_t)(r->cfg->workers > 0 ? r->cfg->workers : 0);
  p.n_env = nenv;
  p.env = b.evp;
  p.segment = seg;
  p.discard_response_bodies = o->discard_response_bodies;
  p.setup_timeout_ms = o->setup_timeout_ms;
  p.teardown_timeout_ms = o->teardown_timeout_ms;
  p.agent_name = a->name;
  p.n_targets = r->targets.n;
  p.targets = r->targets.v;
  p.options_json = r->options_json;
  p.send_points = sb_outputs_want_points(r->outputs);
  Speedboat__HttpConfig http; /* points into o->http */
  if (sb_http_config_to_proto(&o->http, &http)) {
    fail_run(r, SB_EXIT_ENGINE, "out of memory");
    goto out;
  }
  p.http = &http;
  send_to(a, SPEEDBOAT__ENVELOPE__MSG_PREPARE, &p);
  sb_http_config_proto_release(&http);
  set_state(a, A_PREPARING);
out:
  prep_bufs_free(&b);
}

static void send_ping(agent *a) {
  Speedboat__Heartbeat m = SPEEDBOAT__HEARTBEAT__INIT;
  m.time_us = sb_clock_wall_us();
  send_to(a, SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &m);
}

/* A heartbeat: an agent's own (nothing to do: receiving it was the point) or the echo of ours,
 * which measures the round trip and the agent's clock offset; the best round trip wins. */
static void on_heartbeat(run *r, agent *a, const Speedboat__Heartbeat *h) {
  if (!h->echo_us) return;
  int64_t now = sb_clock_wall_us(), rtt = now - h->echo_us;
  if (rtt < 0) rtt = 0;
  if (a->nsync == 0 || rtt <= a->rtt_us) {
    a->rtt_us = rtt;
    a->offset_us = h->time_us - (h->echo_us + now) / 2;
  }
  a->nsync++;
  if (a->state != A_SYNC) return;
  if (a->nsync < SYNC_PINGS) send_ping(a);
  else send_prepare(r, a);
}

static void on_welcome(run *r, agent *a, const Speedboat__Welcome *w) {
  if (a->state != A_HELLO) {
    fail_run(r, SB_EXIT_ENGINE, "protocol error: unexpected welcome");
    return;
  }
  if (w->protocol_version != SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT) {
    char msg[SB_ERR_MAX];
    snprintf(msg, sizeof(msg), "agent %s speaks protocol %u (speedboat %.40s), this controller "
             "protocol %d (speedboat %s): run the same version on both", a->name,
             w->protocol_version, w->version ? w->version : "?",
             SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT, SB_VERSION);
    fail_run(r, SB_EXIT_ENGINE, msg);
    return;
  }
  if (w->max_vus && a->share_vus > w->max_vus) {
    char msg[SB_ERR_MAX];
    snprintf(msg, sizeof(msg), "agent %s: its share of the test needs %llu VUs, more than its "
             "--max-vus %llu", a->name, (unsigned long long)a->share_vus,
             (unsigned long long)w->max_vus);
    fail_run(r, SB_EXIT_INVALID_CONFIG, msg);
    return;
  }
  a->cores = w->cores;
  a->mem_bytes = w->mem_bytes;
  a->max_vus = w->max_vus;
  set_state(a, A_SYNC);
  send_ping(a);
}

/* Every agent is ready: start at one wall-clock instant, each agent's clock offset applied. */
static void send_start(run *r) {
  int64_t lead = 0, max_rtt = 0;
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].rtt_us > max_rtt) max_rtt = r->agents[i].rtt_us;
  if (r->distributed) lead = 250000 + 3 * max_rtt;
  int64_t at = sb_clock_wall_us() + lead;
  for (size_t i = 0; i < r->nagents; i++) {
    agent *a = &r->agents[i];
    Speedboat__Start m = SPEEDBOAT__START__INIT;
    m.start_at_unix_us = lead ? at + a->offset_us : 0;
    m.setup_data = r->setup_data ? r->setup_data : "";
    send_to(a, SPEEDBOAT__ENVELOPE__MSG_START, &m);
    set_state(a, A_RUNNING);
  }
  r->phase = P_RUNNING;
  r->start_mono_us = sb_clock_mono_us() + lead;
  struct timeval tv = {1, 0};
  if (!r->cfg->quiet) event_add(r->ev_progress, &tv);
}

static agent *first_alive(run *r, int state) {
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].bev && r->agents[i].state == state) return &r->agents[i];
  return NULL;
}

static void send_call(agent *a, const char *fn, const char *data) {
  a->run->call_agent = a;
  Speedboat__Call c = SPEEDBOAT__CALL__INIT;
  c.function = (char *)fn;
  c.data = (char *)(data ? data : "");
  send_to(a, SPEEDBOAT__ENVELOPE__MSG_CALL, &c);
}

static void on_ready(run *r, agent *a, const Speedboat__Ready *m) {
  set_state(a, A_READY);
  a->vus_max = m->vus_max;
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].state != A_READY) return;
  r->phase = P_SETUP; /* setup() runs once in the fleet, on the first agent */
  send_call(&r->agents[0], "setup", NULL);
}

/* teardown() runs once, on an agent that is still there, after every agent is done. */
static void maybe_teardown(run *r) {
  agent *a = first_alive(r, A_DONE);
  int fatal = r->failed && r->failed != SB_EXIT_THRESHOLDS_FAILED &&
              r->failed != SB_EXIT_AGENT_LOST && r->failed != EXIT_SCRIPT_ABORTED;
  if (!r->setup_ran || !a || fatal) {
    r->phase = P_END;
    event_base_loopexit(r->base, NULL);
    return;
  }
  r->setup_ran = 0;
  r->phase = P_TEARDOWN;
  send_call(a, "teardown", r->setup_data);
}

static void on_call_result(run *r, agent *a, const Speedboat__CallResult *c) {
  int setup = r->phase == P_SETUP;
  if (r->phase != P_SETUP && r->phase != P_TEARDOWN) {
    fail_run(r, SB_EXIT_ENGINE, "protocol error: unexpected call result");
    return;
  }
  if (c->abort_reason && *c->abort_reason) { /* test.abort() in setup() or teardown() */
    if (setup) {
      fail_run(r, EXIT_SCRIPT_ABORTED, c->abort_reason);
      return;
    }
    if (!r->failed || r->failed == SB_EXIT_AGENT_LOST) {
      r->failed = EXIT_SCRIPT_ABORTED;
      snprintf(r->error, sizeof(r->error), "%s", c->abort_reason);
    }
  } else if (c->error && *c->error) {
    char msg[SB_ERR_MAX];
    snprintf(msg, sizeof(msg), "%s() failed: %s", setup ? "setup" : "teardown", c->error);
    int code = c->timed_out ? (setup ? SB_EXIT_SETUP_TIMEOUT : SB_EXIT_TEARDOWN_TIMEOUT)
                            : SB_EXIT_SCRIPT_EXCEPTION;
    if (setup) {
      fail_run(r, code, msg);
      return;
    }
    if (!r->failed || r->failed == SB_EXIT_AGENT_LOST) {
      r->failed = code;
      snprintf(r->error, sizeof(r->error), "%s", msg);
    }
  }
  if (setup) {
    free(r->setup_data);
    r->setup_data = c->data && *c->data ? strdup(c->data) : NULL;
    r->setup_ran = 1;
    send_start(r);
  } else {
    r->phase = P_END;
    event_base_loopexit(r->base, NULL);
  }
}

static void count_reported(agent *a, const Speedboat__Snapshot *s) {
  for (size_t i = 0; i < s->n_series; i++) {
    const Speedboat__Series *ps = s->series[i];
    if (!ps->metric) continue;
    if (!strcmp(ps->metric, "iterations")) a->iterations += (uint64_t)ps->sum;
    else if (!strcmp(ps->metric, "http_reqs")) a->requests += (uint64_t)ps->sum;
  }
}

/* The `vus` and `vus_max` metrics: sums over the agents of what each reported last (every agent
 * counts the VUs that looped in its interval, see Snapshot.vus). */
static void record_fleet_vus(run *r) {
  sb_metrics_add(r->metrics, SB_M_VUS, sb_metrics_tags(r->metrics, NULL, 0), (double)sum_vus(r, 0));
  sb_metrics_add(r->metrics, SB_M_VUS_MAX, sb_metrics_tags(r->metrics, NULL, 0), (double)sum_vus(r, 1));
  int64_t now = sb_clock_wall_us(); /* the outputs' samples of them */
  sb_outputs_sample(r->outputs, "vus", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL, 0, now, (double)sum_vus(r, 0));
  sb_outputs_sample(r->outputs, "vus_max", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL, 0, now, (double)sum_vus(r, 1));
}

/* An agent's raw samples, for the outputs (common/points.h): decoded with its own definitions,
 * times moved to our clock. */
static void on_points(run *r, agent *a, const Speedboat__Points *p) {
  sb_err err;
  if (!r->outputs) return;
  if (!a->pdec && sb_outputs_decoder(r->outputs, &a->pdec)) {
    fail_run(r, SB_EXIT_ENGINE, "out of memory");
    return;
  }
  if (sb_points_decode(a->pdec, p, a->offset_us, &err)) {
    char msg[SB_ERR_MAX + 128];
    snprintf(msg, sizeof(msg), "agent %s sent bad points: %.700s", a->name, err.msg);
    fail_run(r, SB_EXIT_ENGINE, msg);
    return;
  }
  sb_outputs_flush(r->outputs);
}

static void on_snapshot(run *r, agent *a, const Speedboat__Snapshot *s) {
  sb_err err;
  if (sb_snapshot_apply(r->metrics, s, &err)) {
    char msg[SB_ERR_MAX + 128];
    snprintf(msg, sizeof(msg), "agent %s sent a bad snapshot: %.700s", a->name, err.msg);
    fail_run(r, SB_EXIT_ENGINE, msg);
    return;
  }
  count_reported(a, s);
  a->vus = s->vus;
  if (s->vus_max > a->vus_max) a->vus_max = s->vus_max;

  if (r->phase != P_RUNNING) return;
  if (sb_judge_check_abort(r->judge, r->metrics, (double)(sb_clock_mono_us() - r->start_mono_us) / 1e6)) {
    if (r->failed) return; /* said already */
    fprintf(stderr, "ERRO[%04lld] thresholds on metrics '%s' were crossed; at least one has "
                    "abortOnFail enabled, stopping test prematurely\n",
            elapsed_s(r), sb_judge_abort_metrics(r->judge));
    r->failed = SB_EXIT_THRESHOLDS_FAILED;
    stop_all(r, 1, "threshold abortOnFail");
  }
}

static void on_done(run *r, agent *a, const Speedboat__Done *d) {
  if (a->state != A_RUNNING) {
    fail_run(r, SB_EXIT_ENGINE, "protocol error: done before start");
    return;
  }
  set_state(a, A_DONE);
  a->started_at_us = d->started_at_unix_us;
  if (d->abort_reason && *d->abort_reason) { /* test.abort() on this agent: stop the others */
    if (!r->failed || r->failed == SB_EXIT_AGENT_LOST) {
      r->failed = EXIT_SCRIPT_ABORTED;
      snprintf(r->error, sizeof(r->error), "%s", d->abort_reason);
    }
    stop_all(r, 1, d->abort_reason);
  }
  if (d->error && *d->error && !r->failed) {
    r->failed = SB_EXIT_SCRIPT_EXCEPTION;
    snprintf(r->error, sizeof(r->error), "%s", d->error);
  }
  check_all_done(r);
}

static void on_agent_error(run *r, agent *a, const Speedboat__Error *e) {
  char msg[SB_ERR_MAX];
  const char *text = e->message && *e->message ? e->message : "agent error";
  if (r->distributed) snprintf(msg, sizeof(msg), "agent %s: %s", a->name, text);
  else snprintf(msg, sizeof(msg), "%s", text);
  /* init code that throws is a script error (k6's 107); anything else an agent refuses is ours */
  int code = a->state == A_PREPARING && (!e->code || !*e->code || !strcmp(e->code, "script"))
                 ? SB_EXIT_SCRIPT_EXCEPTION
                 : SB_EXIT_ENGINE;
  set_state(a, A_FAILED);
  fail_run(r, code, msg);
}

static void dispatch(run *r, agent *a, const Speedboat__Envelope *env) {
  switch (env->msg_case) {
  case SPEEDBOAT__ENVELOPE__MSG_WELCOME: on_welcome(r, a, env->welcome); break;
  case SPEEDBOAT__ENVELOPE__MSG_READY: on_ready(r, a, env->ready); break;
  case SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT: on_snapshot(r, a, env->snapshot); break;
  case SPEEDBOAT__ENVELOPE__MSG_POINTS: on_points(r, a, env->points); break;
  case SPEEDBOAT__ENVELOPE__MSG_LOG: print_log(r, a, env->log); break;
  case SPEEDBOAT__ENVELOPE__MSG_DONE: on_done(r, a, env->done); break;
  case SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT: on_heartbeat(r, a, env->heartbeat); break;
  case SPEEDBOAT__ENVELOPE__MSG_CALL_RESULT: on_call_result(r, a, env->call_result); break;
  case SPEEDBOAT__ENVELOPE__MSG_ERROR: on_agent_error(r, a, env->error); break;
  default: fail_run(r, SB_EXIT_ENGINE, "protocol error: unexpected message from agent"); break;
  }
}

static void on_agent_read(struct bufferevent *bev, void *arg) {
  agent *a = arg;
  run *r = a->run;
  struct evbuffer *in = bufferevent_get_input(bev);
  a->last_rx_us = sb_clock_mono_us();
  while (a->bev == bev && r->phase != P_END) {
    Speedboat__Envelope *env = NULL;
    sb_err err;
    size_t before = evbuffer_get_length(in);
    int rc = sb_frame_recv(in, &env, &err);
    if (rc == 0) break;
    if (rc < 0) {
      char msg[SB_ERR_MAX + 320];
      snprintf(msg, sizeof(msg), "agent %s: %s", a->name, err.msg);
      fail_run(r, SB_EXIT_ENGINE, msg);
      break;
    }
    if (env->msg_case == SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT) {
      a->snap_bytes += before - evbuffer_get_length(in);
      if (r->phase == P_RUNNING) a->nsnap++;
    }
    dispatch(r, a, env);
    speedboat__envelope__free_unpacked(env, NULL);
  }
}

static void send_hello(run *r, agent *a) {
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.protocol_version = SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT;
  h.version = SB_VERSION;
  h.token = r->token ? r->token : "";
  send_to(a, SPEEDBOAT__ENVELOPE__MSG_HELLO, &h);
  set_state(a, A_HELLO);
}

static void on_agent_event(struct bufferevent *bev, short what, void *arg) {
  agent *a = arg;
  run *r = a->run;
  if (what & BEV_EVENT_CONNECTED) {
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    a->last_rx_us = sb_clock_mono_us();
    send_hello(r, a);
    return;
  }
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  char why[300], tls[200];
  const char *sock = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
  if ((what & BEV_EVENT_ERROR) && r->tls) /* TLS 1.3 may report a refused certificate late */
    sock = sb_tls_describe_error(bev, tls, sizeof(tls));
  if (a->state == A_CONNECTING)
    snprintf(why, sizeof(why), "cannot connect: %s", (what & BEV_EVENT_EOF) ? "connection closed" : sock);
  else if (a->state == A_HELLO && !r->tls)
    snprintf(why, sizeof(why), "%s before answering hello (does the agent use TLS? see --agent-tls-*)",
             (what & BEV_EVENT_EOF) ? "connection closed" : sock);
  else if (what & BEV_EVENT_EOF)
    snprintf(why, sizeof(why), "connection closed");
  else
    snprintf(why, sizeof(why), "connection error: %s", sock);
  if (!r->distributed) { /* the in-process agent never closes first unless something broke */
    int early = a->state < A_DONE || r->phase == P_TEARDOWN;
    set_state(a, A_FAILED);
    drop_conn(a);
    if (early) fail_run(r, SB_EXIT_ENGINE, "the local agent closed the connection before the test ended");
    return;
  }
  agent_lost(r, a, why);
}

/* Twice a second: heartbeats to every agent, and the check that each still speaks. An agent busy
 * creating its VUs (prepare) is not expected to answer until it is ready. */
static void on_beat(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  int64_t now = sb_clock_mono_us();
  int64_t lost_us = (r->cfg->agent_lost_ms > 0 ? r->cfg->agent_lost_ms : LOST_MS) * (int64_t)1000;
  for (size_t i = 0; i < r->nagents && r->phase != P_END; i++) {
    agent *a = &r->agents[i];
    if (!a->bev || a->state == A_LOST || a->state == A_FAILED) continue;
    if (a->state == A_CONNECTING) {
      if (now - a->state_us > CONNECT_TIMEOUT_US) agent_lost(r, a, "cannot connect: timed out after 10 s");
      continue;
    }
    if (a->state != A_PREPARING && now - a->last_rx_us > lost_us) {
      char why[64];
      snprintf(why, sizeof(why), "silent for %.1f s", (double)(now - a->last_rx_us) / 1e6);
      agent_lost(r, a, why);
      continue;
    }
    if (a->state >= A_SYNC) send_ping(a);
  }
  if (r->phase == P_RUNNING) {
    for (size_t i = 0; i < r->nagents; i++) /* sample once every agent has reported */
      if (r->agents[i].state == A_RUNNING && !r->agents[i].nsnap) return;
    record_fleet_vus(r);
  }
}

static void *inproc_agent_main(void *arg) {
  agent *a = arg;
  sb_session_opts o = {.agent_id = "local"};
  sb_session_serve_fd(a->fd_peer, &o, NULL);
  return NULL;
}

/* Starts the in-process agent: a session thread on one end of a socketpair. */
static int start_local_agent(run *r, agent *a, sb_err *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    return sb_err_set(err, SB_EIO, "socketpair: %s", strerror(errno));
  a->in_process = 1;
  snprintf(a->name, sizeof(a->name), "local");
  a->fd_peer = sv[1];
  a->bev = bufferevent_socket_new(r->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
  if (!a->bev || pthread_create(&a->th, NULL, inproc_agent_main, a)) {
    close(sv[1]);
    if (!a->bev) close(sv[0]);
    a->in_process = 0;
    return sb_err_set(err, SB_ENOMEM, "cannot start the local agent");
  }
  bufferevent_setcb(a->bev, on_agent_read, NULL, on_agent_event, a);
  bufferevent_enable(a->bev, EV_READ | EV_WRITE);
  a->last_rx_us = sb_clock_mono_us();
  send_hello(r, a);
  return 0;
}

/* Starts connecting to remote agent |a| (TLS when configured). */
static int connect_agent(run *r, agent *a, sb_err *err) {
  snprintf(a->name, sizeof(a->name), "%s", a->addr->name);
  a->bev = r->tls ? sb_tls_bev_new(r->tls, r->base, -1, a->addr->host, BEV_OPT_CLOSE_ON_FREE)
                  : bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!a->bev) return sb_err_set(err, SB_ENOMEM, "agent %s: out of memory", a->name);
  bufferevent_setcb(a->bev, on_agent_read, NULL, on_agent_event, a);
  bufferevent_enable(a->bev, EV_READ | EV_WRITE);
  set_state(a, A_CONNECTING);
  if (bufferevent_socket_connect(a->bev, (const struct sockaddr *)&a->addr->sa, (int)a->addr->salen)) {
    drop_conn(a);
    return sb_err_set(err, SB_EIO, "agent %s: cannot connect: %s", a->name,
                      evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  }
  return 0;
}

static void on_sigint(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  r->interrupted++;
  if (r->phase < P_RUNNING) {
    fail_run(r, SB_EXIT_EXTERNAL_ABORT, "interrupted before the test started");
    return;
  }
  if (r->interrupted == 1) {
    fprintf(stderr, "\nstopping the test (press Ctrl-C again to abort at once)\n");
    stop_all(r, 0, "interrupted");
  } else {
    stop_all(r, 1, "interrupted twice");
    if (r->interrupted > 2) event_base_loopexit(r->base, NULL);
  }
}

/* The agents block after the summary of a distributed run: each agent's clock offset, round
 * trip, metric stream and work; which were lost, when and what they had reported. */
static void print_agents(const run *r, FILE *out, double secs) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  size_t n_started = 0;
  for (size_t i = 0; i < r->nagents; i++) {
    const agent *a = &r->agents[i];
    if (!a->started_at_us) continue;
    int64_t t = a->started_at_us - a->offset_us;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
    n_started++;
  }
  fprintf(out, "\n     agents: %zu connected, %zu lost", r->nagents, r->lost);
  if (n_started > 1) fprintf(out, ", start skew %.2f ms", (double)(hi - lo) / 1000.0);
  fputc('\n', out);
  for (size_t i = 0; i < r->nagents; i++) {
    const agent *a = &r->agents[i];
    double rate = (double)a->snap_bytes / (secs > 1 ? secs : 1); /* a short test still sent its last snapshot */
    if (a->state == A_LOST)
      fprintf(out, "     ✗ %s  lost at %.1fs (%s): had reported %llu iterations, %llu requests\n",
              a->name, a->lost_at_s, a->lost_why, (unsigned long long)a->iterations,
              (unsigned long long)a->requests);
    else
      fprintf(out, "     ✓ %s  clock offset %+.2f ms, rtt %.2f ms, metric stream %.0f B/s, "
                   "%llu iterations, %llu requests (%llu VU%s; %u cores, %.1f GiB)\n",
              a->name, (double)a->offset_us / 1000.0, (double)a->rtt_us / 1000.0, rate,
              (unsigned long long)a->iterations, (unsigned long long)a->requests,
              (unsigned long long)a->vus_max, a->vus_max == 1 ? "" : "s", a->cores,
              (double)a->mem_bytes / (1 << 30));
  }
}

/* The results: the script's handleSummary() or the default summary in the run's mode
 * (controller/handle_summary.h). 1 when handleSummary() took stdout over. */
static int end_summary(const run *r, double secs) {
  sb_summary_mode mode = SB_SUMMARY_COMPACT; /* k6 v1's default */
  const char *env = getenv("K6_SUMMARY_MODE"); /* --summary-mode sets it too (main.c) */
  if (env && *env && sb_summary_mode_parse(env, &mode, NULL)) mode = SB_SUMMARY_COMPACT;
  sb_end_summary e = {r->opts,       r->metrics,      secs,          mode,
                      r->handle_summary ? r->archive : NULL, r->archive_len, r->setup_data,
                      r->options_json, r->cfg->verbose, elapsed_s(r)};
  return sb_end_summary_write(&e);
}

/* --- the run -------------------------------------------------------------------------------- */

static int is_archive_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char m[512];
  size_t n = fread(m, 1, sizeof(m), f);
  fclose(f);
  if (n >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD) return 1;
  return n >= 262 && memcmp(m + 257, "ustar", 5) == 0;
}

/* --tls-ca-file, else $SSL_CERT_FILE: extra CAs the agents trust, read here so that agents never
 * touch files. A bad --tls-ca-file is an options error; a bad SSL_CERT_FILE (often set for other
 * programs) only a warning. */
static int load_ca(run *r, sb_err *err) {
  const char *file = r->cfg->cli.tls_ca_file, *env = getenv("SSL_CERT_FILE");
  if (file) return sb_options_http_load_ca(&r->opts->http, file, "--tls-ca-file", err);
  if (env && *env && sb_options_http_load_ca(&r->opts->http, env, "SSL_CERT_FILE", err))
    fprintf(stderr, "WARN %s: the file is ignored\n", err->msg);
  return 0;
}

/* Compiles the script (or reads the archive) and parses the options. Returns an exit code. */
static int prepare_test(run *r, sb_compile_result *cr) {
  sb_err err;
  err.msg[0] = '\0';
  const sb_run_config *cfg = r->cfg;
  int rc = is_archive_file(cfg->script) ? sb_compile_archive_file(cfg->script, cfg->env, cr, &err)
                                        : sb_compile_script_mode(cfg->script, cfg->env,
                                                                 (sb_compat_mode)cfg->compat, cr, &err);
  if (rc) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    if (rc == SB_ECANCELED) return EXIT_SCRIPT_ABORTED; /* test.abort() in the init code */
    return rc == SB_ESCRIPT ? SB_EXIT_SCRIPT_EXCEPTION : SB_EXIT_INVALID_CONFIG;
  }
  extern char **environ;
  char *merged = NULL;
  sb_option_sources src = {.script_json = cr->options_json,
                           .environ = (const char *const *)environ, .cli = &cfg->cli};
  if (sb_options_load(&r->opts, &merged, &src, &err)) { /* config file, script, K6_*, flags */
    fprintf(stderr, "ERRO invalid options: %s\n", err.msg);
    return SB_EXIT_INVALID_CONFIG;
  }
  int rc_json = sb_options_to_json(r->opts, merged, NULL, &r->options_json, &err);
  free(merged);
  if (rc_json) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    return SB_EXIT_ENGINE;
  }
  if (sb_judge_new(&r->judge, r->opts, cr->metrics, cr->nmetrics, &err)) {
    fprintf(stderr, "ERRO invalid thresholds: %s\n", err.msg);
    return SB_EXIT_INVALID_CONFIG;
  }
  if (load_ca(r, &err)) {
    fprintf(stderr, "ERRO invalid options: %s\n", err.msg);
    return SB_EXIT_INVALID_CONFIG;
  }
  if (r->distributed && !cfg->no_target_check &&
      (sb_targets_collect(&r->targets, cr->archive, cfg->env) ||
       sb_targets_apply_hosts(&r->targets, &r->opts->http))) {
    fprintf(stderr, "ERRO out of memory\n");
    return SB_EXIT_ENGINE;
  }
  if (sb_archive_write(cr->archive, 3, &r->archive, &r->archive_len, &err)) {
    fprintf(stderr, "ERRO writing the archive: %s\n", err.msg);
    return SB_EXIT_ENGINE;
  }
  return 0;
}

/* Reads --agents/--agents-file, the token and the TLS files. Returns an exit code. */
static int load_fleet(run *r) {
  const sb_run_config *cfg = r->cfg;
  sb_err err;
  err.msg[0] = '\0';
  r->distributed = cfg->agents || cfg->agents_file;
  if (!r->distributed) {
    if (cfg->agent_token_file || cfg->agent_tls_cert || cfg->agent_tls_key || cfg->agent_tls_ca) {
      fprintf(stderr, "ERRO --agent-token-file and --agent-tls-* need --agents or --agents-file\n");
      return SB_EXIT_USAGE;
    }
    return 0;
  }
  if ((cfg->agents && sb_agents_add(&r->list, cfg->agents, "--agents", &err)) ||
      (cfg->agents_file && sb_agents_add_file(&r->list, cfg->agents_file, &err))) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    return SB_EXIT_USAGE;
  }
  const char *tok_env = getenv("SPEEDBOAT_AGENT_TOKEN");
  if (cfg->agent_token_file) {
    if (sb_read_secret_file(cfg->agent_token_file, &r->token, &err)) {
      fprintf(stderr, "ERRO --agent-token-file: %s\n", err.msg);
      return SB_EXIT_USAGE;
    }
  } else if (tok_env && *tok_env) {
    r->token = strdup(tok_env);
  }
  int ntls = !!cfg->agent_tls_cert + !!cfg->agent_tls_key + !!cfg->agent_tls_ca;
  if (ntls && ntls != 3) {
    fprintf(stderr, "ERRO --agent-tls-cert, --agent-tls-key and --agent-tls-ca go together\n");
    return SB_EXIT_USAGE;
  }
  if (ntls && sb_tls_new(&r->tls, 0, cfg->agent_tls_cert, cfg->agent_tls_key, cfg->agent_tls_ca, &err)) {
    fprintf(stderr, "ERRO agent TLS: %s\n", err.msg);
    return SB_EXIT_USAGE;
  }
  return 0;
}

static int start_agents(run *r) {
  sb_err err;
  err.msg[0] = '\0';
  size_t n = r->distributed ? r->list.n : 1;
  r->agents = calloc(n, sizeof(*r->agents));
  r->weights = calloc(n, sizeof(*r->weights));
  if (!r->agents || !r->weights) return SB_EXIT_ENGINE;
  r->nagents = n;
  for (size_t i = 0; i < n; i++) {
    r->agents[i].run = r;
    r->agents[i].idx = i;
    r->weights[i] = r->distributed ? r->list.v[i].weight : 1;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < n; i++) {
    r->agents[i].vu_offset = offset;
    r->agents[i].share_vus = agent_max_vus(r, i);
    offset += r->agents[i].share_vus;
  }
  for (size_t i = 0; i < n; i++) {
    agent *a = &r->agents[i];
    if (!r->distributed ? start_local_agent(r, a, &err) : (a->addr = &r->list.v[i], connect_agent(r, a, &err))) {
      fprintf(stderr, "ERRO %s\n", err.msg);
      return SB_EXIT_ENGINE;
    }
  }
  return 0;
}

static int drive(run *r) {
  r->base = event_base_new();
  if (!r->base || sb_metrics_new(&r->metrics) || sb_judge_register_metrics(r->judge, r->metrics, NULL))
    return SB_EXIT_ENGINE;
  r->ev_sigint = evsignal_new(r->base, SIGINT, on_sigint, r);
  r->ev_progress = event_new(r->base, -1, EV_PERSIST, on_progress, r);
  r->ev_beat = event_new(r->base, -1, EV_PERSIST, on_beat, r);
  if (!r->ev_sigint || !r->ev_progress || !r->ev_beat) return SB_EXIT_ENGINE;
  event_add(r->ev_sigint, NULL);
  struct timeval beat = {BEAT_US / 1000000, BEAT_US % 1000000};
  event_add(r->ev_beat, &beat);
  int code = start_agents(r);
  if (!code) event_base_dispatch(r->base);
  if (!r->end_mono_us) r->end_mono_us = sb_clock_mono_us();
  if (r->progress_tty && !r->cfg->quiet) fputs("\r\033[K", stderr);
  /* Let the agents go: closing our end ends their sessions (and the in-process one's thread). */
  for (size_t i = 0; i < r->nagents; i++) {
    drop_conn(&r->agents[i]);
    if (r->agents[i].in_process) pthread_join(r->agents[i].th, NULL);
  }
  return code;
}

/* --out and --summary-export: checked, and their files created, before the test starts. */
static int start_outputs(run *r) {
  sb_err err;
  err.msg[0] = '\0';
  int rc = sb_outputs_new(&r->outputs, r->cfg->outs, r->cfg->nouts, r->cfg->summary_export, &err);
  if (!rc) rc = sb_outputs_start(r->outputs, r->opts, &err);
  if (!rc) return 0;
  fprintf(stderr, "ERRO %s\n", err.msg);
  return rc == SB_EINVAL ? SB_EXIT_INVALID_CONFIG : SB_EXIT_ENGINE;
}

/* The summary export, and every output file closed; a write error is reported, the verdict
 * stays the test's. */
static void finish_outputs(run *r, double secs) {
  sb_err err;
  err.msg[0] = '\0';
  for (size_t i = 0; i < r->nagents; i++) {
    agent *a = &r->agents[i];
    uint64_t lost = a->pdec ? sb_points_dec_dropped(a->pdec) : 0;
    if (lost)
      fprintf(stderr, "WARN agent %s could not keep %llu samples (out of memory): the outputs miss "
                      "them\n", a->name, (unsigned long long)lost);
  }
  if (sb_outputs_finish(r->outputs, r->metrics, secs,
                        (const char *const *)r->opts->summary_trend_stats,
                        r->opts->nsummary_trend_stats, &err))
    fprintf(stderr, "ERRO %s\n", err.msg);
}

static void run_free(run *r) {
  for (size_t i = 0; r->agents && i < r->nagents; i++) sb_points_dec_free(r->agents[i].pdec);
  sb_outputs_free(r->outputs); /* after the decoders: they hold its tag renderings */
  free(r->agents);
  free(r->weights);
  free(r->token);
  free(r->setup_data);
  free(r->options_json);
  sb_tls_free(r->tls);
  sb_agents_clear(&r->list);
  sb_targets_clear(&r->targets);
  if (r->ev_sigint) event_free(r->ev_sigint);
  if (r->ev_progress) event_free(r->ev_progress);
  if (r->ev_beat) event_free(r->ev_beat);
  if (r->base) event_base_free(r->base);
  sb_metrics_free(r->metrics);
  sb_judge_free(r->judge);
  sb_options_free(r->opts);
  free(r->archive);
}

/* k6's --linger: the test is over, the process stays until Ctrl+C (or SIGTERM). A self-pipe,
 * because any thread may take the signal. */
static int linger_fd[2] = {-1, -1};
static void on_linger_signal(int sig) {
  (void)sig;
  ssize_t w = write(linger_fd[1], "x", 1);
  (void)w;
}

static void linger(void) {
  struct sigaction sa, old_int, old_term;
  char c;
  if (pipe(linger_fd)) return;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_linger_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  fprintf(stderr, "Linger set; waiting for Ctrl+C to fully exit...\n");
  while (read(linger_fd[0], &c, 1) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  close(linger_fd[0]);
  close(linger_fd[1]);
}

int sb_run(const sb_run_config *cfg) {
  run r;
  memset(&r, 0, sizeof(r));
  r.cfg = cfg;
  r.progress_tty = isatty(2);
  signal(SIGPIPE, SIG_IGN);
  sb_engine_global_init();
  sb_compile_result cr;
  memset(&cr, 0, sizeof(cr));
  int code = load_fleet(&r);
  if (code) goto out;
  code = prepare_test(&r, &cr);
  r.handle_summary = cr.archive && sb_handle_summary_wanted(cr.archive);
  sb_compile_result_clear(&cr);
  if (code) goto out;
  if ((code = start_outputs(&r))) goto out;
  if (!cfg->quiet) print_banner(&r);
  if ((code = drive(&r))) goto out;
  if (r.failed && r.failed != SB_EXIT_THRESHOLDS_FAILED && r.failed != SB_EXIT_AGENT_LOST) {
    fprintf(stderr, "ERRO %s\n", r.error);
    code = r.failed;
    if (r.start_mono_us == 0) goto out; /* never started: nothing to summarise */
  }
  double secs = (double)(r.end_mono_us - r.start_mono_us) / 1e6;
  if (secs < 0) secs = 0;
  int ok = sb_judge_finish(r.judge, r.metrics, secs);
  if (!r.opts->no_summary) {
    FILE *agents_out = end_summary(&r, secs) ? stderr : stdout; /* handleSummary owns stdout */
    if (r.distributed) print_agents(&r, agents_out, secs);
  }
  fflush(stdout);
  finish_outputs(&r, secs);
  if (!code && !ok) {
    fprintf(stderr, "ERRO[%04d] thresholds on metrics '%s' have been crossed\n", (int)secs,
            sb_judge_failed_metrics(r.judge));
    code = SB_EXIT_THRESHOLDS_FAILED;
  }
  if (!code && r.lost) {
    fprintf(stderr, "ERRO %zu of %zu agents lost: the run was degraded\n", r.lost, r.nagents);
    code = SB_EXIT_AGENT_LOST;
  }
  if (!code && r.interrupted) code = SB_EXIT_EXTERNAL_ABORT;
  if (r.opts->linger && !r.interrupted) linger();
out:
  run_free(&r);
  return code;
}

int sb_run_archive(const char *script, const char *const *env, int compat, const char *out_path) {
  sb_compile_result cr;
  sb_err err;
  memset(&cr, 0, sizeof(cr));
  err.msg[0] = '\0';
  int rc = is_archive_file(script) ? sb_compile_archive_file(script, env, &cr, &err)
                                   : sb_compile_script_mode(script, env, (sb_compat_mode)compat,
                                                            &cr, &err);
  if (rc) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    sb_compile_result_clear(&cr);
    return rc == SB_ESCRIPT ? SB_EXIT_SCRIPT_EXCEPTION : SB_EXIT_INVALID_CONFIG;
  }
  sb_options *o = NULL;
  uint8_t *buf = NULL;
  size_t len = 0;
  int code = 0;
  if (sb_options_parse(&o, cr.options_json, NULL, &err)) {
    fprintf(stderr, "ERRO invalid options: %s\n", err.msg);
    code = SB_EXIT_INVALID_CONFIG;
  } else if (sb_archive_write(cr.archive, 19, &buf, &len, &err) ||
             sb_write_file(out_path, buf, len, &err)) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    code = SB_EXIT_ENGINE;
  }
  free(buf);
  sb_options_free(o);
  sb_compile_result_clear(&cr);
  return code;
}
