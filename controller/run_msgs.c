/* The protocol as the controller speaks it (proto/speedboat.proto): hello, clock sync,
 * prepare with each agent's execution segment, ready, setup() on one agent, the common start,
 * snapshots merged into the run's metrics, done, teardown() on one agent. Every message changes
 * the run state (controller/run_state.h) that the views read. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/frame.h"
#include "common/snapshot.h"
#include "controller/options_http.h"
#include "controller/scenario_pb.h"
#include "controller/segment.h"
#include "controller/run_internal.h"

/* Every agent that started has finished (or was lost): teardown, or the end. */
void sb_run_check_all_done(run *r) {
  if (r->st.phase != SB_PHASE_RUNNING) return;
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].pub.state < SB_AGENT_DONE) return;
  sb_run_record_fleet_vus(r); /* with every agent's last interval */
  r->st.end_mono_us = sb_clock_mono_us();
  sb_run_maybe_teardown(r);
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
uint64_t sb_run_agent_max_vus(const run *r, size_t i) {
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
    sb_run_fail(r, SB_EXIT_ENGINE, "out of memory");
    goto out;
  }
  size_t k = 0;
  for (size_t i = 0; i < o->nscenarios; i++) {
    sb_segment_cut(&o->scenarios[i], r->weights, r->nagents, a->idx, &b.cut[i], b.cut_st + k);
    if (sb_scenario_to_pb(&b.cut[i], a->vu_offset, &b.sc[i])) {
      sb_run_fail(r, SB_EXIT_ENGINE, "out of memory");
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
  p.max_vu_memory = o->max_vu_memory;
  p.init_timeout_ms = o->init_timeout_ms;
  p.agent_name = a->pub.name;
  p.n_targets = r->targets.n;
  p.targets = r->targets.v;
  p.options_json = r->options_json;
  p.send_points = sb_outputs_want_points(r->outputs);
  p.send_progress = 1; /* the views' per-scenario VUs and interrupted iterations */
  Speedboat__HttpConfig http; /* points into o->http */
  if (sb_http_config_to_proto(&o->http, &http)) {
    sb_run_fail(r, SB_EXIT_ENGINE, "out of memory");
    goto out;
  }
  p.http = &http;
  sb_run_send_to(a, SPEEDBOAT__ENVELOPE__MSG_PREPARE, &p);
  sb_http_config_proto_release(&http);
  sb_run_set_state(a, SB_AGENT_PREPARING);
out:
  prep_bufs_free(&b);
}

void sb_run_send_ping(agent *a) {
  Speedboat__Heartbeat m = SPEEDBOAT__HEARTBEAT__INIT;
  m.time_us = sb_clock_wall_us();
  sb_run_send_to(a, SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT, &m);
}

/* A heartbeat: an agent's own (nothing to do: receiving it was the point) or the echo of ours,
 * which measures the round trip and the agent's clock offset; the best round trip wins. */
static void on_heartbeat(run *r, agent *a, const Speedboat__Heartbeat *h) {
  if (!h->echo_us) return;
  int64_t now = sb_clock_wall_us(), rtt = now - h->echo_us;
  if (rtt < 0) rtt = 0;
  if (a->nsync == 0 || rtt <= a->pub.rtt_us) {
    a->pub.rtt_us = rtt;
    a->pub.offset_us = h->time_us - (h->echo_us + now) / 2;
  }
  a->nsync++;
  if (a->pub.state != SB_AGENT_SYNC) return;
  if (a->nsync < SB_RUN_SYNC_PINGS) sb_run_send_ping(a);
  else send_prepare(r, a);
}

static void on_welcome(run *r, agent *a, const Speedboat__Welcome *w) {
  if (a->pub.state != SB_AGENT_HELLO) {
    sb_run_fail(r, SB_EXIT_ENGINE, "protocol error: unexpected welcome");
    return;
  }
  if (w->protocol_version != SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT) {
    char msg[SB_ERR_MAX];
    snprintf(msg, sizeof(msg), "agent %s speaks protocol %u (speedboat %.40s), this controller "
             "protocol %d (speedboat %s): run the same version on both", a->pub.name,
             w->protocol_version, w->version ? w->version : "?",
             SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT, SB_VERSION);
    sb_run_fail(r, SB_EXIT_ENGINE, msg);
    return;
  }
  if (w->max_vus && a->share_vus > w->max_vus) {
    char msg[SB_ERR_MAX];
    snprintf(msg, sizeof(msg), "agent %s: its share of the test needs %llu VUs, more than its "
             "--max-vus %llu", a->pub.name, (unsigned long long)a->share_vus,
             (unsigned long long)w->max_vus);
    sb_run_fail(r, SB_EXIT_INVALID_CONFIG, msg);
    return;
  }
  a->pub.cores = w->cores;
  a->pub.mem_bytes = w->mem_bytes;
  a->pub.max_vus = w->max_vus;
  sb_run_set_state(a, SB_AGENT_SYNC);
  sb_run_send_ping(a);
}

/* Every agent is ready: start at one wall-clock instant, each agent's clock offset applied. */
static void send_start(run *r) {
  int64_t lead = 0, max_rtt = 0;
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].pub.rtt_us > max_rtt) max_rtt = r->agents[i].pub.rtt_us;
  if (r->distributed) lead = 250000 + 3 * max_rtt;
  int64_t at = sb_clock_wall_us() + lead;
  for (size_t i = 0; i < r->nagents; i++) {
    agent *a = &r->agents[i];
    Speedboat__Start m = SPEEDBOAT__START__INIT;
    m.start_at_unix_us = lead ? at + a->pub.offset_us : 0;
    m.setup_data = r->setup_data ? r->setup_data : "";
    sb_run_send_to(a, SPEEDBOAT__ENVELOPE__MSG_START, &m);
    sb_run_set_state(a, SB_AGENT_RUNNING);
  }
  r->st.phase = SB_PHASE_RUNNING;
  r->st.start_mono_us = sb_clock_mono_us() + lead;
  struct timeval tv = {r->progress_tty ? 0 : 1, r->progress_tty ? 250000 : 0};
  event_add(r->ev_progress, &tv);
}

static agent *first_alive(run *r, sb_agent_state state) {
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].bev && r->agents[i].pub.state == state) return &r->agents[i];
  return NULL;
}

static void send_call(agent *a, const char *fn, const char *data) {
  a->run->call_agent = a;
  Speedboat__Call c = SPEEDBOAT__CALL__INIT;
  c.function = (char *)fn;
  c.data = (char *)(data ? data : "");
  sb_run_send_to(a, SPEEDBOAT__ENVELOPE__MSG_CALL, &c);
}

static void on_ready(run *r, agent *a, const Speedboat__Ready *m) {
  sb_run_set_state(a, SB_AGENT_READY);
  a->pub.vus_max = m->vus_max;
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].pub.state != SB_AGENT_READY) return;
  r->st.phase = SB_PHASE_SETUP; /* setup() runs once in the fleet, on the first agent */
  send_call(&r->agents[0], "setup", NULL);
}

/* teardown() runs once, on an agent that is still there, after every agent is done. */
void sb_run_maybe_teardown(run *r) {
  agent *a = first_alive(r, SB_AGENT_DONE);
  int fatal = r->failed && r->failed != SB_EXIT_THRESHOLDS_FAILED &&
              r->failed != SB_EXIT_AGENT_LOST && r->failed != SB_EXIT_SCRIPT_ABORTED;
  if (!r->setup_ran || !a || fatal) {
    r->st.phase = SB_PHASE_ENDED;
    event_base_loopexit(r->base, NULL);
    return;
  }
  r->setup_ran = 0;
  r->st.phase = SB_PHASE_TEARDOWN;
  send_call(a, "teardown", r->setup_data);
}

static void on_call_result(run *r, agent *a, const Speedboat__CallResult *c) {
  int setup = r->st.phase == SB_PHASE_SETUP;
  if (r->st.phase != SB_PHASE_SETUP && r->st.phase != SB_PHASE_TEARDOWN) {
    sb_run_fail(r, SB_EXIT_ENGINE, "protocol error: unexpected call result");
    return;
  }
  if (c->abort_reason && *c->abort_reason) { /* test.abort() in setup() or teardown() */
    if (setup) {
      sb_run_fail(r, SB_EXIT_SCRIPT_ABORTED, c->abort_reason);
      return;
    }
    if (!r->failed || r->failed == SB_EXIT_AGENT_LOST) {
      r->failed = SB_EXIT_SCRIPT_ABORTED;
      snprintf(r->error, sizeof(r->error), "%s", c->abort_reason);
    }
  } else if (c->error && *c->error) {
    char msg[SB_ERR_MAX];
    snprintf(msg, sizeof(msg), "%s() failed: %s", setup ? "setup" : "teardown", c->error);
    int code = c->timed_out ? (setup ? SB_EXIT_SETUP_TIMEOUT : SB_EXIT_TEARDOWN_TIMEOUT)
                            : SB_EXIT_SCRIPT_EXCEPTION;
    if (setup) {
      sb_run_fail(r, code, msg);
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
    r->st.setup_data = r->setup_data;
    r->setup_ran = 1;
    send_start(r);
  } else {
    r->st.phase = SB_PHASE_ENDED;
    event_base_loopexit(r->base, NULL);
  }
}

/* Adds up what |a| reported, and its request rate over the interval since its last snapshot
 * (its own clock), and when the snapshot was taken in ours (the views' lag). */
static void count_reported(agent *a, const Speedboat__Snapshot *s) {
  uint64_t reqs = 0;
  const Speedboat__Counters *c = s->counters;
  for (size_t i = 0; c && i < c->n_id; i++) { /* applied: every id is defined */
    int metric = sb_snapshot_dec_series(a->sdec, c->id[i])->metric;
    if (metric == SB_M_ITERATIONS) a->pub.iterations += (uint64_t)c->sum[i];
    else if (metric == SB_M_HTTP_REQS) reqs += (uint64_t)c->sum[i];
  }
  a->pub.requests += reqs;
  if (a->snap_time_us && s->time_us > a->snap_time_us)
    a->pub.req_rate = (double)reqs * 1e6 / (double)(s->time_us - a->snap_time_us);
  a->snap_time_us = s->time_us;
  a->pub.snap_mono_us = sb_clock_mono_us() - (sb_clock_wall_us() - (s->time_us - a->pub.offset_us));
}

/* What |a| holds per scenario now, for the views (Prepare.send_progress). */
static void on_progress_msg(run *r, agent *a, const Speedboat__Progress *p) {
  if (!a->pub.scen_vus && !(a->pub.scen_vus = calloc(r->st.nscen + 1, sizeof(uint64_t)))) return;
  for (size_t i = 0; i < r->st.nscen; i++)
    a->pub.scen_vus[i] = i < p->n_scenario_vus ? p->scenario_vus[i] : 0;
  a->pub.interrupted = p->iterations_interrupted;
  sb_rs_gen *g = &a->pub.gen; /* the generator's own health (agent/selfmon.h) */
  g->workers = p->workers, g->cpu_max_pm = p->worker_cpu_max, g->cpu_mean_pm = p->worker_cpu_mean;
  g->lag_max_us = p->loop_lag_max_us, g->lag_mean_us = p->loop_lag_mean_us;
  g->fds_open = p->fds_open, g->fds_limit = p->fds_limit, g->dial_emfile = p->dial_emfile;
  sb_rs_gen_fold(g, sb_clock_mono_us(), r->st.phase == SB_PHASE_RUNNING);
}

/* The `vus` and `vus_max` metrics: sums over the agents of what each reported last (every agent
 * counts the VUs that looped in its interval, see Snapshot.vus). */
void sb_run_record_fleet_vus(run *r) {
  sb_metrics_add(r->metrics, SB_M_VUS, sb_metrics_tags(r->metrics, NULL, 0), (double)sb_run_state_vus(&r->st, 0));
  sb_metrics_add(r->metrics, SB_M_VUS_MAX, sb_metrics_tags(r->metrics, NULL, 0), (double)sb_run_state_vus(&r->st, 1));
  int64_t now = sb_clock_wall_us(); /* the outputs' samples of them */
  sb_outputs_sample(r->outputs, "vus", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL, 0, now, (double)sb_run_state_vus(&r->st, 0));
  sb_outputs_sample(r->outputs, "vus_max", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL, 0, now, (double)sb_run_state_vus(&r->st, 1));
}

/* An agent's raw samples, for the outputs (common/points.h): decoded with its own definitions,
 * times moved to our clock. */
static void on_points(run *r, agent *a, const Speedboat__Points *p) {
  sb_err err;
  if (!r->outputs) return;
  if (!a->pdec && sb_outputs_decoder(r->outputs, &a->pdec)) {
    sb_run_fail(r, SB_EXIT_ENGINE, "out of memory");
    return;
  }
  if (sb_points_decode(a->pdec, p, a->pub.offset_us, &err)) {
    char msg[SB_ERR_MAX + 128];
    snprintf(msg, sizeof(msg), "agent %s sent bad points: %.700s", a->pub.name, err.msg);
    sb_run_fail(r, SB_EXIT_ENGINE, msg);
    return;
  }
  sb_outputs_flush(r->outputs);
}

static void on_snapshot(run *r, agent *a, const Speedboat__Snapshot *s) {
  sb_err err;
  if (!a->sdec && sb_snapshot_dec_new(&a->sdec)) {
    sb_run_fail(r, SB_EXIT_ENGINE, "out of memory");
    return;
  }
  if (sb_snapshot_apply(a->sdec, r->metrics, s, &err)) {
    char msg[SB_ERR_MAX + 128];
    snprintf(msg, sizeof(msg), "agent %s sent a bad snapshot: %.700s", a->pub.name, err.msg);
    sb_run_fail(r, SB_EXIT_ENGINE, msg);
    return;
  }
  count_reported(a, s);
  a->pub.vus = s->vus;
  if (s->vus_max > a->pub.vus_max) a->pub.vus_max = s->vus_max;

  if (r->st.phase != SB_PHASE_RUNNING) return;
  if (sb_judge_check_abort(r->judge, r->metrics, (double)(sb_clock_mono_us() - r->st.start_mono_us) / 1e6)) {
    if (r->failed) return; /* said already */
    fprintf(stderr, "ERRO[%04lld] thresholds on metrics '%s' were crossed; at least one has "
                    "abortOnFail enabled, stopping test prematurely\n",
            sb_run_elapsed_s(r), sb_judge_abort_metrics(r->judge));
    r->failed = SB_EXIT_THRESHOLDS_FAILED;
    sb_run_stop_all(r, 1, "threshold abortOnFail");
  }
}

static void on_done(run *r, agent *a, const Speedboat__Done *d) {
  if (a->pub.state != SB_AGENT_RUNNING) {
    sb_run_fail(r, SB_EXIT_ENGINE, "protocol error: done before start");
    return;
  }
  sb_run_set_state(a, SB_AGENT_DONE);
  a->pub.started_at_us = d->started_at_unix_us;
  if (d->abort_reason && *d->abort_reason) { /* test.abort() on this agent: stop the others */
    if (!r->failed || r->failed == SB_EXIT_AGENT_LOST) {
      r->failed = SB_EXIT_SCRIPT_ABORTED;
      snprintf(r->error, sizeof(r->error), "%s", d->abort_reason);
    }
    sb_run_stop_all(r, 1, d->abort_reason);
  }
  if (d->error && *d->error && !r->failed) {
    r->failed = SB_EXIT_SCRIPT_EXCEPTION;
    snprintf(r->error, sizeof(r->error), "%s", d->error);
  }
  sb_run_check_all_done(r);
}

static void on_agent_error(run *r, agent *a, const Speedboat__Error *e) {
  char msg[SB_ERR_MAX];
  const char *text = e->message && *e->message ? e->message : "agent error";
  if (r->distributed) snprintf(msg, sizeof(msg), "agent %s: %s", a->pub.name, text);
  else snprintf(msg, sizeof(msg), "%s", text);
  /* init code that throws is a script error (k6's 107); anything else an agent refuses is ours */
  int code = a->pub.state == SB_AGENT_PREPARING && (!e->code || !*e->code || !strcmp(e->code, "script"))
                 ? SB_EXIT_SCRIPT_EXCEPTION
                 : SB_EXIT_ENGINE;
  sb_run_set_state(a, SB_AGENT_FAILED);
  sb_run_fail(r, code, msg);
}

void sb_run_dispatch(run *r, agent *a, const Speedboat__Envelope *env) {
  switch (env->msg_case) {
  case SPEEDBOAT__ENVELOPE__MSG_WELCOME: on_welcome(r, a, env->welcome); break;
  case SPEEDBOAT__ENVELOPE__MSG_READY: on_ready(r, a, env->ready); break;
  case SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT: on_snapshot(r, a, env->snapshot); break;
  case SPEEDBOAT__ENVELOPE__MSG_POINTS: on_points(r, a, env->points); break;
  case SPEEDBOAT__ENVELOPE__MSG_PROGRESS: on_progress_msg(r, a, env->progress); break;
  case SPEEDBOAT__ENVELOPE__MSG_LOG: sb_run_print_log(r, a, env->log); break;
  case SPEEDBOAT__ENVELOPE__MSG_DONE: on_done(r, a, env->done); break;
  case SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT: on_heartbeat(r, a, env->heartbeat); break;
  case SPEEDBOAT__ENVELOPE__MSG_CALL_RESULT: on_call_result(r, a, env->call_result); break;
  case SPEEDBOAT__ENVELOPE__MSG_ERROR: on_agent_error(r, a, env->error); break;
  default: sb_run_fail(r, SB_EXIT_ENGINE, "protocol error: unexpected message from agent"); break;
  }
}

void sb_run_send_hello(run *r, agent *a) {
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.protocol_version = SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT;
  h.version = SB_VERSION;
  h.token = r->token ? r->token : "";
  sb_run_send_to(a, SPEEDBOAT__ENVELOPE__MSG_HELLO, &h);
  sb_run_set_state(a, SB_AGENT_HELLO);
}

/* --- the operator's steering (REST API) ------------------------------------------------------- */

int sb_run_ctl_pause(void *ud, int paused, sb_err *err) {
  run *r = ud;
  if (r->st.phase != SB_PHASE_RUNNING || r->st.stopping)
    return sb_err_set(err, SB_ECANCELED, "the test is not running (%s)",
                      r->st.stopping ? "stopping" : sb_run_phase_name(r->st.phase));
  paused = !!paused;
  if (paused == r->st.paused) return 0;
  Speedboat__Control m = SPEEDBOAT__CONTROL__INIT;
  m.set_paused = 1;
  m.paused = paused;
  sb_run_send_to_all(r, SPEEDBOAT__ENVELOPE__MSG_CONTROL, &m);
  int64_t now = sb_clock_mono_us();
  if (paused) {
    r->st.paused_since_us = now;
  } else {
    r->st.paused_us += now - r->st.paused_since_us;
    r->st.paused_since_us = 0;
  }
  r->st.paused = paused;
  sb_run_before_line(r);
  fprintf(stderr, "INFO[%04lld] %s\n", sb_run_elapsed_s(r),
          paused ? "test paused by the REST API: no iteration starts until it is resumed"
                 : "test resumed by the REST API");
  return 0;
}

/* Each agent gets its share of |vus|, cut as its VUs were (controller/segment.h). An agent lost
 * meanwhile keeps its share: the fleet runs short of it, as it runs short of its load. */
int sb_run_ctl_scale(void *ud, size_t idx, uint64_t vus, sb_err *err) {
  run *r = ud;
  if (idx >= r->st.nscen) return sb_err_set(err, SB_EINVAL, "no scenario #%zu", idx);
  for (size_t i = 0; i < r->nagents; i++) {
    Speedboat__ScenarioVus sv = SPEEDBOAT__SCENARIO_VUS__INIT, *svp = &sv;
    sv.scenario = (uint32_t)idx;
    sv.vus = sb_segment_share(vus, r->weights, r->nagents, i);
    Speedboat__Control m = SPEEDBOAT__CONTROL__INIT;
    m.n_scale = 1;
    m.scale = &svp;
    if (r->agents[i].bev && r->agents[i].pub.state == SB_AGENT_RUNNING)
      sb_run_send_to(&r->agents[i], SPEEDBOAT__ENVELOPE__MSG_CONTROL, &m);
  }
  r->st.scen[idx].scaled_vus = vus;
  sb_run_before_line(r);
  fprintf(stderr, "INFO[%04lld] scenario %s scaled to %llu VUs by the REST API\n",
          sb_run_elapsed_s(r), r->st.scen[idx].sc->name, (unsigned long long)vus);
  return 0;
}
