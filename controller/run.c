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
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/watchdog.h"
#include "common/archive.h"
#include "common/clock.h"
#include "controller/compile.h"
#include "controller/config_layers.h"
#include "controller/handle_summary.h"
#include "controller/options_http.h"
#include "controller/options_json.h"
#include "controller/api.h"
#include "controller/dash.h"
#include "controller/progress.h"
#include "controller/run_internal.h"

/* The results: the script's handleSummary() or the default summary in the run's mode
 * (controller/handle_summary.h). 1 when handleSummary() took stdout over. */
static int end_summary(const run *r, double secs) {
  sb_summary_mode mode = SB_SUMMARY_COMPACT; /* k6 v1's default */
  const char *env = getenv("K6_SUMMARY_MODE"); /* --summary-mode sets it too (main.c) */
  if (env && *env && sb_summary_mode_parse(env, &mode, NULL)) mode = SB_SUMMARY_COMPACT;
  sb_end_summary e = {r->opts,       r->metrics,      secs,          mode,
                      r->handle_summary ? r->archive : NULL, r->archive_len, r->setup_data,
                      r->options_json, r->cfg->verbose, sb_run_elapsed_s(r), &r->st};
  return sb_end_summary_write(&e);
}

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
    if (rc == SB_ECANCELED) return SB_EXIT_SCRIPT_ABORTED; /* test.abort() in the init code */
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

static const sb_run_control run_control = {sb_run_ctl_pause, sb_run_ctl_scale, NULL};
static sb_run_control run_ctl;

/* The REST API (--address, k6's default localhost:6565, unless --no-api). As k6 does: a busy
 * default address is a warning and the run goes on without the API; an address the user gave
 * that cannot be used ends the run (exit code 106). Returns an exit code. */
static int start_api(run *r) {
  if (r->cfg->no_api) return 0;
  sb_err err;
  err.msg[0] = '\0';
  run_ctl = run_control;
  run_ctl.ud = r;
  const char *addr = r->cfg->address ? r->cfg->address : SB_API_DEFAULT_ADDRESS;
  int rc = sb_api_new(&r->api, r->base, addr, &r->st, &run_ctl, &err);
  if (!rc) return 0;
  if (r->cfg->address) {
    fprintf(stderr, "ERRO %s (--address picks another, --no-api turns it off)\n", err.msg);
    return rc == SB_EINVAL ? SB_EXIT_USAGE : SB_EXIT_CANNOT_START_API;
  }
  fprintf(stderr, "WARN %s; the test runs without it (--address picks another address, --no-api "
                  "turns it off)\n", err.msg);
  return 0;
}

/* The dashboard view (--dashboard, --report): served by the REST API, written at the end. */
static int start_dash(run *r) {
  if (!r->cfg->dashboard && !r->cfg->report) return 0;
  if (sb_dash_new(&r->dash, r->base, &r->st)) return SB_EXIT_ENGINE;
  if (!r->cfg->dashboard) return 0;
  if (r->api) sb_api_set_dash(r->api, r->dash);
  else fprintf(stderr, "WARN --dashboard is served by the REST API, which is off: no dashboard\n");
  return 0;
}

/* --report: the run as one page, written once the test has ended (a failure is reported; the
 * verdict stays the test's). */
static void write_report(run *r) {
  if (!r->dash) return;
  sb_dash_finish(r->dash);
  if (!r->cfg->report) return;
  sb_err err;
  err.msg[0] = '\0';
  if (sb_dash_report(r->dash, r->cfg->report, &err))
    fprintf(stderr, "ERRO --report %s\n", err.msg);
}

/* The terminal view (controller/progress.h), unless -q or --progress=none. */
static int start_progress(run *r) {
  if (r->cfg->quiet || r->cfg->progress == SB_PROGRESS_NONE) return 0;
  sb_progress_opts o = {.tty = r->progress_tty,
                        .color = r->progress_tty && sb_progress_color_allowed(),
                        .agents = r->cfg->progress == SB_PROGRESS_AGENTS};
  return sb_progress_new(&r->progress, stderr, &o) ? SB_EXIT_ENGINE : 0;
}

/* The test is over: the progress block as it ended stays above the summary (k6's), and the run
 * state is final for the API (--linger). */
static void end_views(run *r) {
  int64_t now = sb_clock_mono_us();
  sb_run_state_tick(&r->st);
  sb_run_state_eval_thresholds(&r->st, sb_run_state_elapsed(&r->st, now));
  if (r->progress && r->st.start_mono_us) {
    sb_run_phase p = r->st.phase;
    r->st.phase = SB_PHASE_ENDED;
    sb_progress_draw(r->progress, &r->st, now);
    r->st.phase = p;
  }
  sb_progress_free(r->progress);
  r->progress = NULL;
  r->st.phase = SB_PHASE_ENDED;
}

static int drive(run *r) {
  r->base = event_base_new();
  if (!r->base || sb_metrics_new(&r->metrics) || sb_judge_register_metrics(r->judge, r->metrics, NULL))
    return SB_EXIT_ENGINE;
  if (sb_outputs_attach(r->outputs, r->base, r->metrics)) return SB_EXIT_ENGINE; /* prometheus-rw */
  r->ev_sigint = evsignal_new(r->base, SIGINT, sb_run_on_sigint, r);
  r->ev_progress = event_new(r->base, -1, EV_PERSIST, sb_run_on_progress, r);
  r->ev_beat = event_new(r->base, -1, EV_PERSIST, sb_run_on_beat, r);
  if (!r->ev_sigint || !r->ev_progress || !r->ev_beat) return SB_EXIT_ENGINE;
  event_add(r->ev_sigint, NULL);
  struct timeval beat = {SB_RUN_BEAT_US / 1000000, SB_RUN_BEAT_US % 1000000};
  event_add(r->ev_beat, &beat);
  int code = start_api(r);
  if (!code) code = start_dash(r);
  if (!code) code = start_progress(r);
  if (!code && !r->cfg->quiet) sb_run_print_banner(r);
  if (!code) code = sb_run_start_agents(r);
  if (!code) event_base_dispatch(r->base);
  if (!r->st.end_mono_us) r->st.end_mono_us = sb_clock_mono_us();
  sb_run_before_line(r);
  end_views(r);
  write_report(r);
  /* Let the agents go: closing our end ends their sessions (and the in-process one's thread). */
  for (size_t i = 0; i < r->nagents; i++) {
    sb_run_drop_conn(&r->agents[i]);
    if (r->agents[i].in_process) pthread_join(r->agents[i].th, NULL);
  }
  sb_watchdog_shutdown(); /* the in-process engine's init watchdog, if it ran: no thread left */
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
      fprintf(stderr, "WARN agent %s dropped %llu samples of the --out outputs: more than %u "
                      "between two snapshots (or out of memory); the output files miss them, the "
                      "summary and thresholds count them all\n", a->pub.name,
              (unsigned long long)lost, SB_POINTS_MAX);
  }
  if (sb_outputs_set_generator(r->outputs, &r->st)) fprintf(stderr, "ERRO out of memory\n");
  if (sb_outputs_finish(r->outputs, r->metrics, secs,
                        (const char *const *)r->opts->summary_trend_stats,
                        r->opts->nsummary_trend_stats, &err))
    fprintf(stderr, "ERRO %s\n", err.msg);
}

static void run_free(run *r) {
  for (size_t i = 0; r->agents && i < r->nagents; i++) {
    sb_points_dec_free(r->agents[i].pdec);
    sb_snapshot_dec_free(r->agents[i].sdec);
    free(r->agents[i].pub.scen_vus);
  }
  sb_run_state_clear(&r->st);
  sb_outputs_free(r->outputs); /* after the decoders: they hold its tag renderings */
  free(r->agents);
  sb_frame_rx_free(r->rx);
  free(r->weights);
  free(r->token);
  free(r->setup_data);
  free(r->options_json);
  sb_tls_free(r->tls);
  sb_agents_clear(&r->list);
  sb_targets_clear(&r->targets);
  sb_api_free(r->api);
  sb_dash_free(r->dash); /* after the API: its event streams end with it */
  sb_progress_free(r->progress);
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

static void on_linger_fd(evutil_socket_t fd, short what, void *arg) {
  event_base_loopbreak(arg);
}

/* Waits for the signal; with the REST API up, its loop keeps answering meanwhile (k6 lingers
 * for that: the API after the test). */
static void linger_wait(run *r) {
  char c;
  struct event *ev = r->api ? event_new(r->base, linger_fd[0], EV_READ, on_linger_fd, r->base)
                            : NULL;
  if (ev && event_add(ev, NULL) == 0) {
    event_base_dispatch(r->base);
  } else {
    while (read(linger_fd[0], &c, 1) < 0 && errno == EINTR) {
    }
  }
  if (ev) event_free(ev);
}

static void linger(run *r) {
  struct sigaction sa, old_int, old_term;
  if (pipe(linger_fd)) return;
  event_del(r->ev_beat); /* the loop only answers the API now; libevent gives SIGINT back */
  event_del(r->ev_progress);
  event_del(r->ev_sigint);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_linger_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  fprintf(stderr, "Linger set; waiting for Ctrl+C to fully exit...\n");
  linger_wait(r);
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
  if ((code = drive(&r))) goto out;
  if (r.failed && r.failed != SB_EXIT_THRESHOLDS_FAILED && r.failed != SB_EXIT_AGENT_LOST) {
    fprintf(stderr, "ERRO %s\n", r.error);
    code = r.failed;
    if (r.st.start_mono_us == 0) goto out; /* never started: nothing to summarise */
  }
  double secs = (double)(r.st.end_mono_us - r.st.start_mono_us) / 1e6;
  if (secs < 0) secs = 0;
  int ok = sb_judge_finish(r.judge, r.metrics, secs);
  if (!r.opts->no_summary) {
    FILE *agents_out = end_summary(&r, secs) ? stderr : stdout; /* handleSummary owns stdout */
    if (r.distributed) sb_run_print_agents(&r, agents_out, secs);
  }
  fflush(stdout);
  finish_outputs(&r, secs);
  if (!code && !ok) {
    fprintf(stderr, "ERRO[%04d] thresholds on metrics '%s' have been crossed\n", (int)secs,
            sb_judge_failed_metrics(r.judge));
    code = SB_EXIT_THRESHOLDS_FAILED;
  }
  if (!code && r.st.lost) {
    fprintf(stderr, "ERRO %zu of %zu agents lost: the run was degraded\n", r.st.lost, r.nagents);
    code = SB_EXIT_AGENT_LOST;
  }
  if (!code && r.interrupted) code = SB_EXIT_EXTERNAL_ABORT;
  if (r.opts->linger && !r.interrupted) linger(&r);
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
