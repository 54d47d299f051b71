/* `speedboat run`: the controller's side of a test.
 *
 *   compile ─► options ─► banner ─► agents: hello ► prepare ► ready ► start ─► snapshots/logs
 *           ─► done from every agent ─► thresholds ─► summary ─► exit code
 *
 * Agents are connections speaking the framed protocol (common/frame.h); the local run's only
 * agent is the in-process engine behind a socketpair. */
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
#include "controller/compile.h"
#include "controller/judge.h"

typedef struct agent {
  struct run *run;
  char name[64];
  struct bufferevent *bev;
  pthread_t th;               /* in-process agent thread */
  int in_process;
  int fd_peer;                /* the session's end of the socketpair, until the thread owns it */
  int state;                  /* A_HELLO, A_PREPARING, A_READY, A_RUNNING, A_DONE */
} agent;

enum { A_HELLO, A_PREPARING, A_READY, A_RUNNING, A_DONE, A_FAILED };

typedef struct run {
  const sb_run_config *cfg;
  sb_options *opts;
  sb_judge *judge;
  uint8_t *archive;           /* packed archive sent in prepare */
  size_t archive_len;
  struct event_base *base;
  struct event *ev_sigint, *ev_progress;
  agent *agents;
  size_t nagents;
  sb_metrics *metrics;        /* merged over the whole run */
  int64_t start_mono_us, end_mono_us;
  uint64_t vus, vus_max;
  int interrupted;            /* Ctrl-C count */
  int failed;                 /* exit code of a fatal error, 0 when none */
  char error[SB_ERR_MAX];
  uint64_t iterations;
  int progress_tty;
} run;

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
  printf("  execution: local\n     script: %s\n     output: -\n\n", r->cfg->script);
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

/* Prints a log line like k6's text logger: INFO[0003] text  source=console */
static void print_log(const run *r, const Speedboat__Log *l) {
  const char *lv = "INFO";
  if (l->level && !strcmp(l->level, "warn")) lv = "WARN";
  else if (l->level && !strcmp(l->level, "error")) lv = "ERRO";
  else if (l->level && !strcmp(l->level, "debug")) lv = "DEBU";
  int64_t secs = r->start_mono_us ? (sb_clock_mono_us() - r->start_mono_us) / 1000000 : 0;
  const char *src = l->source && *l->source ? l->source : "console";
  fprintf(stderr, "%s[%04lld] %s  source=%s\n", lv, (long long)secs, l->text, src);
}

static void on_progress(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  if (!r->start_mono_us || r->cfg->quiet) return;
  double t = (double)(sb_clock_mono_us() - r->start_mono_us) / 1e6;
  int m = (int)(t / 60);
  sb_series it;
  sb_series_init(&it, SB_M_ITERATIONS);
  if (sb_metrics_fold(r->metrics, SB_M_ITERATIONS, NULL, 0, &it) == 0) r->iterations = (uint64_t)it.value;
  sb_series_clear(&it);
  fprintf(stderr, "%srunning (%dm%04.1fs), %03llu/%03llu VUs, %llu complete iterations%s",
          r->progress_tty ? "\r\033[K" : "", m, t - m * 60, (unsigned long long)r->vus,
          (unsigned long long)r->vus_max, (unsigned long long)r->iterations,
          r->progress_tty ? "" : "\n");
  fflush(stderr);
}

/* --- agents --------------------------------------------------------------------------------- */

static void send_to_all(run *r, Speedboat__Envelope__MsgCase c, void *msg) {
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].bev && r->agents[i].state < A_DONE)
      sb_frame_send_msg(bufferevent_get_output(r->agents[i].bev), c, msg);
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
    snprintf(r->error, sizeof(r->error), "%s", msg);
  }
  stop_all(r, 1, msg);
  event_base_loopexit(r->base, NULL);
}

static int all_in(run *r, int state) {
  for (size_t i = 0; i < r->nagents; i++)
    if (r->agents[i].state != state) return 0;
  return 1;
}

static int scenario_to_pb(const sb_scenario *s, Speedboat__Scenario *p, Speedboat__Stage **st,
                          Speedboat__Stage *stv) {
  speedboat__scenario__init(p);
  p->name = s->name;
  p->executor = (Speedboat__Executor)s->executor;
  p->exec = s->exec;
  p->vus = s->vus;
  p->iterations = s->iterations;
  p->duration_ms = s->duration_ms;
  p->max_duration_ms = s->max_duration_ms;
  p->start_time_ms = s->start_time_ms;
  p->graceful_stop_ms = s->graceful_stop_ms;
  p->start_vus = s->start_vus;
  p->graceful_ramp_down_ms = s->graceful_ramp_down_ms;
  for (size_t i = 0; i < s->nstages; i++) {
    speedboat__stage__init(&stv[i]);
    stv[i].duration_ms = s->stages[i].duration_ms;
    stv[i].target = s->stages[i].target;
    st[i] = &stv[i];
  }
  p->n_stages = s->nstages;
  p->stages = st;
  return 0;
}

/* Sends the whole test (one agent: all of it) in a prepare message. */
static void send_prepare(run *r, agent *a) {
  const sb_options *o = r->opts;
  size_t nst = 0, nenv = 0;
  for (size_t i = 0; i < o->nscenarios; i++) nst += o->scenarios[i].nstages;
  const char *const *env = r->cfg->env;
  while (env && env[2 * nenv]) nenv++;
  Speedboat__Scenario *sc = calloc(o->nscenarios + 1, sizeof(*sc));
  Speedboat__Scenario **scp = calloc(o->nscenarios + 1, sizeof(*scp));
  Speedboat__Stage *stv = calloc(nst + 1, sizeof(*stv));
  Speedboat__Stage **stp = calloc(nst + 1, sizeof(*stp));
  Speedboat__EnvVar *ev = calloc(nenv + 1, sizeof(*ev));
  Speedboat__EnvVar **evp = calloc(nenv + 1, sizeof(*evp));
  if (!sc || !scp || !stv || !stp || !ev || !evp) {
    fail_run(r, SB_EXIT_ENGINE, "out of memory");
    goto out;
  }
  size_t k = 0;
  for (size_t i = 0; i < o->nscenarios; i++) {
    scenario_to_pb(&o->scenarios[i], &sc[i], stp + k, stv + k);
    k += o->scenarios[i].nstages;
    scp[i] = &sc[i];
  }
  for (size_t i = 0; i < nenv; i++) {
    speedboat__env_var__init(&ev[i]);
    ev[i].key = (char *)env[2 * i];
    ev[i].value = (char *)env[2 * i + 1];
    evp[i] = &ev[i];
  }
  Speedboat__Prepare p = SPEEDBOAT__PREPARE__INIT;
  p.archive.data = r->archive;
  p.archive.len = r->archive_len;
  p.n_scenarios = o->nscenarios;
  p.scenarios = scp;
  p.workers = (uint32_t)(r->cfg->workers > 0 ? r->cfg->workers : 0);
  p.n_env = nenv;
  p.env = evp;
  p.segment = "0:1";
  p.discard_response_bodies = o->discard_response_bodies;
  sb_frame_send_msg(bufferevent_get_output(a->bev), SPEEDBOAT__ENVELOPE__MSG_PREPARE, &p);
  a->state = A_PREPARING;
out:
  free(sc), free(scp), free(stv), free(stp), free(ev), free(evp);
}

static void on_ready(run *r, agent *a) {
  a->state = A_READY;
  if (!all_in(r, A_READY)) return;
  Speedboat__Start m = SPEEDBOAT__START__INIT;
  m.start_at_unix_us = sb_clock_wall_us() + (r->nagents > 1 ? 200000 : 0);
  send_to_all(r, SPEEDBOAT__ENVELOPE__MSG_START, &m);
  for (size_t i = 0; i < r->nagents; i++) r->agents[i].state = A_RUNNING;
  r->start_mono_us = sb_clock_mono_us() + (r->nagents > 1 ? 200000 : 0);
  struct timeval tv = {1, 0};
  event_add(r->ev_progress, &tv);
}

static void on_snapshot(run *r, agent *a, const Speedboat__Snapshot *s) {
  sb_err err;
  if (sb_snapshot_apply(r->metrics, s, &err)) {
    char msg[SB_ERR_MAX + 128];
    snprintf(msg, sizeof(msg), "agent %s sent a bad snapshot: %s", a->name, err.msg);
    fail_run(r, SB_EXIT_ENGINE, msg);
    return;
  }
  r->vus = s->vus;
  r->vus_max = s->vus_max;
  if (sb_judge_check_abort(r->judge, r->metrics, (double)(sb_clock_mono_us() - r->start_mono_us) / 1e6)) {
    fprintf(stderr, "ERRO[%04lld] thresholds on metrics '%s' were crossed; at least one has "
                    "abortOnFail enabled, stopping test prematurely\n",
            (long long)((sb_clock_mono_us() - r->start_mono_us) / 1000000), sb_judge_abort_metrics(r->judge));
    if (!r->failed) r->failed = SB_EXIT_THRESHOLDS_FAILED;
    stop_all(r, 1, "threshold abortOnFail");
  }
}

static void on_done(run *r, agent *a, const Speedboat__Done *d) {
  a->state = A_DONE;
  if (d->error && *d->error && !r->failed) {
    r->failed = SB_EXIT_SCRIPT_EXCEPTION;
    snprintf(r->error, sizeof(r->error), "%s", d->error);
  }
  if (all_in(r, A_DONE)) {
    r->end_mono_us = sb_clock_mono_us();
    event_base_loopexit(r->base, NULL);
  }
}

static void dispatch(run *r, agent *a, const Speedboat__Envelope *env) {
  switch (env->msg_case) {
  case SPEEDBOAT__ENVELOPE__MSG_WELCOME: send_prepare(r, a); break;
  case SPEEDBOAT__ENVELOPE__MSG_READY: on_ready(r, a); break;
  case SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT: on_snapshot(r, a, env->snapshot); break;
  case SPEEDBOAT__ENVELOPE__MSG_LOG: print_log(r, env->log); break;
  case SPEEDBOAT__ENVELOPE__MSG_DONE: on_done(r, a, env->done); break;
  case SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT: break;
  case SPEEDBOAT__ENVELOPE__MSG_ERROR: {
    int code = a->state == A_PREPARING ? SB_EXIT_SCRIPT_EXCEPTION : SB_EXIT_ENGINE;
    a->state = A_FAILED;
    fail_run(r, code, env->error->message ? env->error->message : "agent error");
    break;
  }
  default: fail_run(r, SB_EXIT_ENGINE, "protocol error: unexpected message from agent"); break;
  }
}

static void on_agent_read(struct bufferevent *bev, void *arg) {
  agent *a = arg;
  run *r = a->run;
  for (;;) {
    Speedboat__Envelope *env = NULL;
    sb_err err;
    int rc = sb_frame_recv(bufferevent_get_input(bev), &env, &err);
    if (rc == 0) break;
    if (rc < 0) {
      fail_run(r, SB_EXIT_ENGINE, err.msg);
      break;
    }
    dispatch(r, a, env);
    speedboat__envelope__free_unpacked(env, NULL);
  }
}

static void on_agent_event(struct bufferevent *bev, short what, void *arg) {
  agent *a = arg;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) || a->state >= A_DONE) return;
  char msg[128];
  snprintf(msg, sizeof(msg), "agent %s closed the connection before the test ended", a->name);
  a->state = A_FAILED;
  fail_run(a->run, SB_EXIT_ENGINE, msg);
}

static void *inproc_agent_main(void *arg) {
  agent *a = arg;
  sb_session_opts o = {.agent_id = "local"};
  sb_session_serve_fd(a->fd_peer, &o);
  return NULL;
}

/* Starts the in-process agent: a session thread on one end of a socketpair. */
static int start_local_agent(run *r, agent *a, sb_err *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    return sb_err_set(err, SB_EIO, "socketpair: %s", strerror(errno));
  a->run = r;
  a->in_process = 1;
  snprintf(a->name, sizeof(a->name), "local");
  a->fd_peer = sv[1];
  a->bev = bufferevent_socket_new(r->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
  if (!a->bev || pthread_create(&a->th, NULL, inproc_agent_main, a)) {
    close(sv[1]);
    if (!a->bev) close(sv[0]);
    return sb_err_set(err, SB_ENOMEM, "cannot start the local agent");
  }
  bufferevent_setcb(a->bev, on_agent_read, NULL, on_agent_event, a);
  bufferevent_enable(a->bev, EV_READ | EV_WRITE);
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.protocol_version = SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT;
  h.version = SB_VERSION;
  sb_frame_send_msg(bufferevent_get_output(a->bev), SPEEDBOAT__ENVELOPE__MSG_HELLO, &h);
  return 0;
}

static void on_sigint(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  r->interrupted++;
  if (r->interrupted == 1) {
    fprintf(stderr, "\nstopping the test (press Ctrl-C again to abort at once)\n");
    stop_all(r, 0, "interrupted");
  } else {
    stop_all(r, 1, "interrupted twice");
  }
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

/* Compiles the script (or reads the archive) and parses the options. Returns an exit code. */
static int prepare_test(run *r, sb_compile_result *cr) {
  sb_err err;
  err.msg[0] = '\0';
  const sb_run_config *cfg = r->cfg;
  int rc = is_archive_file(cfg->script) ? sb_compile_archive_file(cfg->script, cfg->env, cr, &err)
                                        : sb_compile_script(cfg->script, cfg->env, cr, &err);
  if (rc) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    return rc == SB_ESCRIPT ? SB_EXIT_SCRIPT_EXCEPTION : SB_EXIT_INVALID_CONFIG;
  }
  if (sb_options_parse(&r->opts, cr->options_json, &cfg->cli, &err)) {
    fprintf(stderr, "ERRO invalid options: %s\n", err.msg);
    return SB_EXIT_INVALID_CONFIG;
  }
  if (sb_judge_new(&r->judge, r->opts, &err)) {
    fprintf(stderr, "ERRO invalid thresholds: %s\n", err.msg);
    return SB_EXIT_INVALID_CONFIG;
  }
  if (sb_archive_write(cr->archive, 3, &r->archive, &r->archive_len, &err)) {
    fprintf(stderr, "ERRO writing the archive: %s\n", err.msg);
    return SB_EXIT_ENGINE;
  }
  return 0;
}

static int drive(run *r) {
  sb_err err;
  r->base = event_base_new();
  if (!r->base || sb_metrics_new(&r->metrics)) return SB_EXIT_ENGINE;
  r->ev_sigint = evsignal_new(r->base, SIGINT, on_sigint, r);
  r->ev_progress = event_new(r->base, -1, EV_PERSIST, on_progress, r);
  event_add(r->ev_sigint, NULL);
  r->agents = calloc(1, sizeof(*r->agents));
  if (!r->agents) return SB_EXIT_ENGINE;
  r->nagents = 1;
  if (start_local_agent(r, &r->agents[0], &err)) {
    fprintf(stderr, "ERRO %s\n", err.msg);
    r->nagents = 0;
    return SB_EXIT_ENGINE;
  }
  event_base_dispatch(r->base);
  if (!r->end_mono_us) r->end_mono_us = sb_clock_mono_us();
  if (r->progress_tty && !r->cfg->quiet) fputs("\r\033[K", stderr);
  /* Let the in-process agent go: closing our end ends its session. */
  for (size_t i = 0; i < r->nagents; i++) {
    /* shutdown() now: bufferevent_free() may defer the close to a loop turn that never comes. */
    shutdown(bufferevent_getfd(r->agents[i].bev), SHUT_RDWR);
    bufferevent_free(r->agents[i].bev);
    r->agents[i].bev = NULL;
    if (r->agents[i].in_process) pthread_join(r->agents[i].th, NULL);
  }
  return 0;
}

static void run_free(run *r) {
  free(r->agents);
  if (r->ev_sigint) event_free(r->ev_sigint);
  if (r->ev_progress) event_free(r->ev_progress);
  if (r->base) event_base_free(r->base);
  sb_metrics_free(r->metrics);
  sb_judge_free(r->judge);
  sb_options_free(r->opts);
  free(r->archive);
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
  int code = prepare_test(&r, &cr);
  sb_compile_result_clear(&cr);
  if (code) goto out;
  if (!cfg->quiet) print_banner(&r);
  if ((code = drive(&r))) goto out;
  if (r.failed && r.failed != SB_EXIT_THRESHOLDS_FAILED) {
    fprintf(stderr, "ERRO %s\n", r.error);
    code = r.failed;
    if (r.start_mono_us == 0) goto out; /* never started: nothing to summarise */
  }
  double secs = (double)(r.end_mono_us - r.start_mono_us) / 1e6;
  int ok = sb_judge_finish(r.judge, r.metrics, secs);
  if (!r.opts->no_summary) sb_judge_print_summary(r.judge, stdout, r.metrics, secs);
  if (!code && !ok) {
    fprintf(stderr, "ERRO[%04d] thresholds on metrics '%s' have been crossed\n", (int)secs,
            sb_judge_failed_metrics(r.judge));
    code = SB_EXIT_THRESHOLDS_FAILED;
  }
  if (!code && r.interrupted) code = SB_EXIT_EXTERNAL_ABORT;
out:
  run_free(&r);
  return code;
}

int sb_run_archive(const char *script, const char *const *env, const char *out_path) {
  sb_compile_result cr;
  sb_err err;
  memset(&cr, 0, sizeof(cr));
  err.msg[0] = '\0';
  int rc = is_archive_file(script) ? sb_compile_archive_file(script, env, &cr, &err)
                                   : sb_compile_script(script, env, &cr, &err);
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
