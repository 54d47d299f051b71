/* What the run prints beside the summary: the banner, the agents' log lines as k6's text logger
 * writes them, the progress line, and the agents block after the summary of a distributed run. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/duration.h"
#include "controller/api.h"
#include "controller/progress.h"
#include "controller/run_internal.h"

static const char logo[] =
    "\n"
    "     ___                   _ _             _\n"
    "    / __|_ __  ___ ___  __| | |__  ___  __| |_\n"
    "    \\__ \\ '_ \\/ -_) -_)/ _` | '_ \\/ _ \\/ _` |  _|\n"
    "    |___/ .__/\\___\\___|\\__,_|_.__/\\___/\\__,_|\\__|\n"
    "        |_|\n\n";

void sb_run_print_banner(const run *r) {
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
  printf("     script: %s\n     output: %s\n", r->cfg->script, outs);
  if (r->api) printf("   rest api: http://%s/v1/status\n", sb_api_address(r->api));
  if (r->api && r->dash && r->cfg->dashboard)
    printf("  dashboard: http://%s/dashboard\n", sb_api_address(r->api));
  printf("\n");
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

long long sb_run_elapsed_s(const run *r) {
  int64_t now = sb_clock_mono_us();
  return r->st.start_mono_us && now > r->st.start_mono_us ? (now - r->st.start_mono_us) / 1000000 : 0;
}

/* Prints a log line like k6's text logger: INFO[0003] text  source=console (agent=NAME when the
 * run is distributed). */
void sb_run_print_log(const run *r, const agent *a, const Speedboat__Log *l) {
  const char *lv = "INFO";
  if (l->level && !strcmp(l->level, "debug") && !r->cfg->verbose) return; /* k6: -v shows them */
  if (l->level && !strcmp(l->level, "warn")) lv = "WARN";
  else if (l->level && !strcmp(l->level, "error")) lv = "ERRO";
  else if (l->level && !strcmp(l->level, "debug")) lv = "DEBU";
  const char *src = l->source && *l->source ? l->source : "console";
  sb_run_before_line(r);
  if (strcmp(src, "http") == 0) { /* k6's own lines carry their fields in the text */
    if (r->distributed)
      fprintf(stderr, "%s[%04lld] %s agent=%s\n", lv, sb_run_elapsed_s(r), l->text, a->pub.name);
    else
      fprintf(stderr, "%s[%04lld] %s\n", lv, sb_run_elapsed_s(r), l->text);
    return;
  }
  if (r->distributed)
    fprintf(stderr, "%s[%04lld] %s  source=%s agent=%s\n", lv, sb_run_elapsed_s(r), l->text, src, a->pub.name);
  else
    fprintf(stderr, "%s[%04lld] %s  source=%s\n", lv, sb_run_elapsed_s(r), l->text, src);
}

void sb_run_before_line(const run *r) { sb_progress_erase(r->progress); }

/* A few times a second: the run state catches up with the metrics (iterations, thresholds), and
 * the terminal view draws it once the test has started. */
void sb_run_on_progress(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  int64_t now = sb_clock_mono_us();
  sb_run_state_tick(&r->st);
  if (r->st.start_mono_us && now >= r->st.start_mono_us)
    sb_run_state_eval_thresholds(&r->st, sb_run_state_elapsed(&r->st, now));
  if (r->progress && r->st.start_mono_us && now >= r->st.start_mono_us &&
      r->st.phase == SB_PHASE_RUNNING)
    sb_progress_draw(r->progress, &r->st, now);
}

/* The agents block after the summary of a distributed run: each agent's clock offset, round
 * trip, metric stream and work; which were lost, when and what they had reported. */
void sb_run_print_agents(const run *r, FILE *out, double secs) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  size_t n_started = 0;
  for (size_t i = 0; i < r->nagents; i++) {
    const agent *a = &r->agents[i];
    if (!a->pub.started_at_us) continue;
    int64_t t = a->pub.started_at_us - a->pub.offset_us;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
    n_started++;
  }
  fprintf(out, "\n     agents: %zu connected, %zu lost", r->nagents, r->st.lost);
  if (n_started > 1) fprintf(out, ", start skew %.2f ms", (double)(hi - lo) / 1000.0);
  fputc('\n', out);
  for (size_t i = 0; i < r->nagents; i++) {
    const agent *a = &r->agents[i];
    double rate = (double)a->pub.snap_bytes / (secs > 1 ? secs : 1); /* a short test still sent its last snapshot */
    if (a->pub.state == SB_AGENT_LOST)
      fprintf(out, "     ✗ %s  lost at %.1fs (%s): had reported %llu iterations, %llu requests\n",
              a->pub.name, a->pub.lost_at_s, a->pub.lost_why, (unsigned long long)a->pub.iterations,
              (unsigned long long)a->pub.requests);
    else
      fprintf(out, "     ✓ %s  clock offset %+.2f ms, rtt %.2f ms, metric stream %.0f B/s, "
                   "%llu iterations, %llu requests (%llu VU%s; %u cores, %.1f GiB)\n",
              a->pub.name, (double)a->pub.offset_us / 1000.0, (double)a->pub.rtt_us / 1000.0, rate,
              (unsigned long long)a->pub.iterations, (unsigned long long)a->pub.requests,
              (unsigned long long)a->pub.vus_max, a->pub.vus_max == 1 ? "" : "s", a->pub.cores,
              (double)a->pub.mem_bytes / (1 << 30));
  }
}
