/* The run state (controller/run_state.h): its layout, and the facts every view derives the same
 * way — test time, fleet VUs, per-scenario progress, thresholds' live results, k6's status. */
#include "controller/run_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/segment.h"

int sb_run_state_init(sb_run_state *s, const sb_options *o, size_t nagents, sb_err *err) {
  memset(s, 0, sizeof(*s));
  s->opts = o;
  s->scen = calloc(o->nscenarios ? o->nscenarios : 1, sizeof(*s->scen));
  s->agents = calloc(nagents ? nagents : 1, sizeof(*s->agents));
  if (!s->scen || !s->agents) return sb_err_set(err, SB_ENOMEM, "out of memory");
  s->nscen = o->nscenarios;
  s->nagents = nagents;
  for (size_t i = 0; i < s->nscen; i++) {
    s->scen[i].sc = &o->scenarios[i];
    s->scen[i].max_vus = sb_segment_max_vus(&o->scenarios[i]);
    s->scen[i].scaled_vus = UINT64_MAX;
  }
  if (o->no_thresholds || !o->nthresholds) return 0;
  int rc = sb_thresholds_parse(o, &s->thr, &s->nthr, err);
  if (rc) return rc;
  s->thr_res = calloc(s->nthr ? s->nthr : 1, sizeof(*s->thr_res));
  if (!s->thr_res) return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (size_t i = 0; i < s->nthr; i++)
    s->thr_res[i].ok = 1;
  return 0;
}

void sb_run_state_clear(sb_run_state *s) {
  free(s->scen);
  free(s->agents);
  sb_thresholds_free(s->thr, s->nthr);
  free(s->thr_res);
  memset(s, 0, sizeof(*s));
}

double sb_run_state_elapsed(const sb_run_state *s, int64_t now_us) {
  if (!s->start_mono_us) return 0;
  if (s->end_mono_us && now_us > s->end_mono_us) now_us = s->end_mono_us;
  return now_us > s->start_mono_us ? (double)(now_us - s->start_mono_us) / 1e6 : 0;
}

double sb_run_state_paused_s(const sb_run_state *s, int64_t now_us) {
  int64_t p = s->paused_us;
  if (s->paused_since_us && now_us > s->paused_since_us) p += now_us - s->paused_since_us;
  return (double)p / 1e6;
}

uint64_t sb_run_state_vus(const sb_run_state *s, int max) {
  uint64_t n = 0;
  for (size_t i = 0; i < s->nagents; i++)
    if (s->agents[i]) n += max ? s->agents[i]->vus_max : s->agents[i]->vus;
  return n;
}

/* The sum of |metric| over the series tagged scenario=|name| (every series with |name| NULL). */
static uint64_t fold_count(const sb_metrics *m, int metric, const char *name) {
  const char *filter[2] = {"scenario", name};
  sb_series f;
  sb_series_init(&f, metric);
  uint64_t n = 0;
  if (sb_metrics_fold(m, metric, name ? filter : NULL, name ? 1 : 0, &f) == 0)
    n = (uint64_t)(f.value + 0.5);
  sb_series_clear(&f);
  return n;
}

void sb_run_state_tick(sb_run_state *s) {
  if (s->metrics) s->iterations = fold_count(s->metrics, SB_M_ITERATIONS, NULL);
  s->interrupted_iters = 0;
  for (size_t a = 0; a < s->nagents; a++)
    if (s->agents[a]) s->interrupted_iters += s->agents[a]->interrupted;
  for (size_t i = 0; i < s->nscen; i++) {
    sb_rs_scenario *c = &s->scen[i];
    if (s->metrics) {
      c->iterations = fold_count(s->metrics, SB_M_ITERATIONS, c->sc->name);
      c->dropped = fold_count(s->metrics, SB_M_DROPPED_ITERATIONS, c->sc->name);
    }
    c->vus = 0;
    c->vus_known = s->nagents > 0;
    for (size_t a = 0; a < s->nagents; a++) {
      const sb_rs_agent *ag = s->agents[a];
      if (!ag || ag->state == SB_AGENT_LOST || ag->state == SB_AGENT_FAILED) continue;
      if (!ag->scen_vus)
        c->vus_known = 0;
      else
        c->vus += ag->scen_vus[i];
    }
  }
}

void sb_run_state_eval_thresholds(sb_run_state *s, double elapsed_s) {
  int tainted = 0;
  for (size_t i = 0; i < s->nthr && s->metrics; i++) {
    sb_threshold_result r;
    if (sb_threshold_eval(&s->thr[i], s->metrics, elapsed_s, 1, &r, NULL) == 0) s->thr_res[i] = r;
    if (s->thr_res[i].evaluated && !s->thr_res[i].ok) tainted = 1;
  }
  s->tainted = tainted;
}

static int64_t stages_ms(const sb_scenario *sc) {
  int64_t t = 0;
  for (size_t i = 0; i < sc->nstages; i++)
    t += sc->stages[i].duration_ms;
  return t;
}

int64_t sb_run_state_scen_length_ms(const sb_run_state *s, size_t i) {
  const sb_scenario *sc = s->scen[i].sc;
  switch (sc->executor) {
  case SB_EXEC_CONSTANT_VUS:
  case SB_EXEC_CONSTANT_ARRIVAL_RATE: return sc->duration_ms;
  case SB_EXEC_RAMPING_VUS:
  case SB_EXEC_RAMPING_ARRIVAL_RATE: return stages_ms(sc);
  default: return sc->max_duration_ms;
  }
}

/* Iterations the iteration-based scenario |sc| runs in all. */
static uint64_t planned_iterations(const sb_scenario *sc) {
  return sc->executor == SB_EXEC_PER_VU_ITERATIONS ? sc->vus * sc->iterations : sc->iterations;
}

double sb_run_state_scen_progress(const sb_run_state *s, size_t i, int64_t now_us) {
  const sb_rs_scenario *c = &s->scen[i];
  const sb_scenario *sc = c->sc;
  if (sc->executor == SB_EXEC_SHARED_ITERATIONS || sc->executor == SB_EXEC_PER_VU_ITERATIONS) {
    uint64_t total = planned_iterations(sc);
    double p = total ? (double)c->iterations / (double)total : 1.0;
    if (p < 1.0 || s->phase < SB_PHASE_TEARDOWN) return p > 1.0 ? 1.0 : p;
    return 1.0;
  }
  double t = sb_run_state_elapsed(s, now_us) * 1000.0 - (double)sc->start_time_ms;
  int64_t len = sb_run_state_scen_length_ms(s, i);
  if (t <= 0) return 0.0;
  if (len <= 0 || t >= (double)len) return 1.0;
  return t / (double)len;
}

int sb_run_state_k6_status(const sb_run_state *s) {
  switch (s->phase) {
  case SB_PHASE_INIT: return 1;
  case SB_PHASE_SETUP: return 6;
  case SB_PHASE_RUNNING: return 7;
  case SB_PHASE_TEARDOWN: return 8;
  default: return s->interrupted ? 10 : 9;
  }
}

const char *sb_run_phase_name(sb_run_phase p) {
  static const char *const n[] = {"init", "setup", "running", "teardown", "ended"};
  return (unsigned)p < sizeof(n) / sizeof(*n) ? n[p] : "?";
}

const char *sb_agent_state_name(sb_agent_state st) {
  static const char *const n[] = {"connecting", "hello", "syncing", "preparing", "ready",
                                  "running",    "done",  "lost",    "failed"};
  return (unsigned)st < sizeof(n) / sizeof(*n) ? n[st] : "?";
}

const char *sb_executor_name(sb_executor e) {
  static const char *const n[] = {"",
                                  "shared-iterations",
                                  "per-vu-iterations",
                                  "constant-vus",
                                  "ramping-vus",
                                  "constant-arrival-rate",
                                  "ramping-arrival-rate"};
  return (unsigned)e < sizeof(n) / sizeof(*n) ? n[e] : "?";
}

static int scalable(const sb_scenario *sc) {
  return sc->executor == SB_EXEC_CONSTANT_VUS || sc->executor == SB_EXEC_RAMPING_VUS;
}

/* The scenario PATCH means: |name|'s, or the only scalable one. */
static int find_scalable(const sb_run_state *s, const char *name, size_t *idx, sb_err *err) {
  size_t n = 0;
  for (size_t i = 0; i < s->nscen; i++) {
    const sb_scenario *sc = s->scen[i].sc;
    if (name ? strcmp(sc->name, name) != 0 : !scalable(sc)) continue;
    if (name && !scalable(sc))
      return sb_err_set(err, SB_EINVAL,
                        "scenario '%s' runs %s: only constant-vus and "
                        "ramping-vus scenarios can change their VU count",
                        name, sb_executor_name(sc->executor));
    *idx = i;
    n++;
  }
  if (n == 1) return 0;
  if (name) return sb_err_set(err, SB_ENOTFOUND, "no scenario named '%s'", name);
  if (!n)
    return sb_err_set(err, SB_ENOTFOUND,
                      "no scenario can change its VU count: only "
                      "constant-vus and ramping-vus scenarios can");
  return sb_err_set(err, SB_EINVAL,
                    "%zu scenarios can change their VU count: name one "
                    "(attributes.scenario, or speedboat scale --scenario)",
                    n);
}

int sb_run_state_scale_target(const sb_run_state *s, const char *name, uint64_t vus, int64_t now_us,
                              size_t *idx, sb_err *err) {
  int rc = find_scalable(s, name, idx, err);
  if (rc) return rc;
  const sb_rs_scenario *c = &s->scen[*idx];
  if (vus > c->max_vus)
    return sb_err_set(err, SB_EINVAL,
                      "scenario '%s' can run at most %llu VUs (they are made "
                      "before the start: raise its vus or stage targets to allow more)",
                      c->sc->name, (unsigned long long)c->max_vus);
  if (s->phase != SB_PHASE_RUNNING || s->stopping)
    return sb_err_set(err, SB_ECANCELED, "the test is not running (%s)",
                      s->stopping ? "stopping" : sb_run_phase_name(s->phase));
  double t = sb_run_state_elapsed(s, now_us) * 1000.0 - (double)c->sc->start_time_ms;
  if (t < 0)
    return sb_err_set(err, SB_ECANCELED, "scenario '%s' has not started yet (startTime)",
                      c->sc->name);
  if (t >= (double)sb_run_state_scen_length_ms(s, *idx))
    return sb_err_set(err, SB_ECANCELED, "scenario '%s' has ended", c->sc->name);
  return 0;
}

/* --- the generator's own health ------------------------------------------------------------- */

void sb_rs_gen_fold(sb_rs_gen *g, int64_t now_us, int running) {
  int64_t dt = g->last_us && now_us > g->last_us ? now_us - g->last_us : 1000000;
  g->last_us = now_us;
  if (!running || !g->workers) return;
  double secs = dt > 5000000 ? 5.0 : (double)dt / 1e6;
  g->measured_s += secs;
  if (g->cpu_max_pm >= SB_GEN_CPU_HOT_PM) g->hot_s += secs;
  if (g->cpu_max_pm > g->cpu_peak_pm) g->cpu_peak_pm = g->cpu_max_pm;
  if (g->lag_max_us > g->lag_peak_us) g->lag_peak_us = g->lag_max_us;
  g->lag_mean_sum_us += g->lag_mean_us;
  g->nlag++;
  if (g->fds_limit) {
    uint64_t pm = g->fds_open * 1000 / g->fds_limit;
    if (pm > g->fds_peak_pm) g->fds_peak_pm = (uint32_t)(pm > 1000 ? 1000 : pm);
    if (pm >= g->fds_peak_pm) g->fds_peak_open = g->fds_open;
  }
}

static uint64_t gen_lag_mean(const sb_rs_gen *g) {
  return g->nlag ? g->lag_mean_sum_us / g->nlag : 0;
}

unsigned sb_rs_gen_causes(const sb_rs_gen *g, int now) {
  unsigned c = 0;
  if (now) {
    if (!g->workers) return 0;
    if (g->cpu_max_pm >= SB_GEN_CPU_HOT_PM) c |= SB_GEN_CPU;
    if (g->lag_max_us >= SB_GEN_LAG_MAX_US) c |= SB_GEN_LAG;
    if (g->fds_limit && g->fds_open * 1000 >= g->fds_limit * SB_GEN_FDS_PM) c |= SB_GEN_FDS;
    return c;
  }
  if (g->hot_s > 0 && (g->hot_s >= SB_GEN_CPU_HOT_MIN_S ||
                       g->hot_s >= SB_GEN_CPU_HOT_SHARE * g->measured_s - 1e-9))
    c |= SB_GEN_CPU;
  if (g->nlag && (g->lag_peak_us >= SB_GEN_LAG_MAX_US || gen_lag_mean(g) >= SB_GEN_LAG_MEAN_US))
    c |= SB_GEN_LAG;
  if (g->fds_peak_pm >= SB_GEN_FDS_PM) c |= SB_GEN_FDS;
  if (g->dial_emfile) c |= SB_GEN_EMFILE;
  return c;
}

/* One cause of agent |a|: what was seen and what to do, as a sentence (no newline). */
static void gen_cause_text(const sb_rs_agent *a, unsigned cause, char *out, size_t cap) {
  const sb_rs_gen *g = &a->gen;
  switch (cause) {
  case SB_GEN_CPU:
    snprintf(out, cap, "agent %s: a worker thread was busy (on a CPU or waiting for one) >= 90%% "
             "of the time for %.1f s of %.1f s (peak %u%%): add agents, raise --workers if the "
             "machine has idle cores, or run fewer VUs per agent", a->name, g->hot_s,
             g->measured_s, (g->cpu_peak_pm + 5) / 10);
    break;
  case SB_GEN_LAG:
    snprintf(out, cap, "agent %s: its event loops ran late by up to %.0f ms (%.1f ms on average): "
             "timings include the generator's own delay; add agents or --workers, or run fewer "
             "VUs per agent", a->name, (double)g->lag_peak_us / 1e3, (double)gen_lag_mean(g) / 1e3);
    break;
  case SB_GEN_FDS:
    snprintf(out, cap, "agent %s: %llu of its %llu file descriptors were in use: raise its limit "
             "(`ulimit -n`, LimitNOFILE= under systemd) or spread the VUs over more agents",
             a->name, (unsigned long long)g->fds_peak_open, (unsigned long long)g->fds_limit);
    break;
  default:
    snprintf(out, cap, "agent %s: %llu connections failed with \"too many open files\" (limit "
             "%llu): raise its descriptor limit (`ulimit -n`, LimitNOFILE= under systemd) or "
             "spread the VUs over more agents", a->name, (unsigned long long)g->dial_emfile,
             (unsigned long long)g->fds_limit);
  }
}

/* Arrival-rate scenario |i|'s dropped iterations, from the merged metrics (0 for the others). */
static uint64_t gen_dropped(const sb_run_state *s, size_t i) {
  sb_executor e = s->scen[i].sc->executor;
  if (!s->metrics || (e != SB_EXEC_CONSTANT_ARRIVAL_RATE && e != SB_EXEC_RAMPING_ARRIVAL_RATE))
    return 0;
  return fold_count(s->metrics, SB_M_DROPPED_ITERATIONS, s->scen[i].sc->name);
}

static void gen_dropped_text(const sb_run_state *s, size_t i, uint64_t n, char *out, size_t cap) {
  snprintf(out, cap, "scenario %s: %llu iterations dropped (every VU was busy when one was due): "
           "raise preAllocatedVUs/maxVUs if the agents have CPU to spare, else add agents",
           s->scen[i].sc->name, (unsigned long long)n);
}

static const unsigned GEN_CAUSES[] = {SB_GEN_CPU, SB_GEN_LAG, SB_GEN_FDS, SB_GEN_EMFILE};

int sb_run_state_generator_text(sb_buf *out, const sb_run_state *s) {
  sb_buf body;
  sb_buf_init(&body);
  char line[768];
  int n = 0, rc = 0;
  for (size_t i = 0; i < s->nagents; i++) {
    const sb_rs_agent *a = s->agents[i];
    unsigned c = a ? sb_rs_gen_causes(&a->gen, 0) : 0;
    for (size_t k = 0; k < sizeof(GEN_CAUSES) / sizeof(*GEN_CAUSES); k++) {
      if (!(c & GEN_CAUSES[k])) continue;
      gen_cause_text(a, GEN_CAUSES[k], line, sizeof(line));
      rc |= sb_buf_printf(&body, "  - %s\n", line);
      n++;
    }
  }
  for (size_t i = 0; i < s->nscen; i++) {
    uint64_t d = gen_dropped(s, i);
    if (!d) continue;
    gen_dropped_text(s, i, d, line, sizeof(line));
    rc |= sb_buf_printf(&body, "  - %s\n", line);
    n++;
  }
  if (n && !rc)
    rc = sb_buf_puts(out, "WARN the load generator was saturated \xe2\x80\x94 results may describe "
                          "the generator, not the target:\n") ||
         sb_buf_append(out, body.data, body.len);
  sb_buf_clear(&body);
  return rc ? SB_ENOMEM : n;
}

/* |str| as a JSON string. */
static int json_str(sb_buf *b, const char *str) {
  int rc = sb_buf_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)str; *p && !rc; p++)
    rc = *p == '"' || *p == '\\' ? sb_buf_printf(b, "\\%c", *p)
         : *p < 0x20          ? sb_buf_printf(b, "\\u%04x", *p)
                              : sb_buf_append(b, p, 1);
  return rc || sb_buf_puts(b, "\"");
}

static int gen_json_cause(sb_buf *b, int *first, const char *kind, const char *name,
                          const char *cause, const char *text) {
  int rc = sb_buf_puts(b, *first ? "{\"" : ",{\"") || sb_buf_puts(b, kind) ||
           sb_buf_puts(b, "\":") || json_str(b, name) ||
           sb_buf_printf(b, ",\"cause\":\"%s\",\"message\":", cause) || json_str(b, text) ||
           sb_buf_puts(b, "}");
  *first = 0;
  return rc;
}

static int gen_json_agent(sb_buf *b, const sb_rs_agent *a, int first) {
  const sb_rs_gen *g = &a->gen;
  return sb_buf_puts(b, first ? "{\"name\":" : ",{\"name\":") || json_str(b, a->name) ||
         sb_buf_printf(b, ",\"measured_s\":%.1f,\"cpu_hot_s\":%.1f,\"cpu_peak\":%.3f,"
                       "\"loop_lag_max_ms\":%.1f,\"loop_lag_mean_ms\":%.1f,\"fds_peak_open\":%llu,"
                       "\"fds_limit\":%llu,\"dial_emfile\":%llu}",
                       g->measured_s, g->hot_s, (double)g->cpu_peak_pm / 1000.0,
                       (double)g->lag_peak_us / 1e3, (double)gen_lag_mean(g) / 1e3,
                       (unsigned long long)g->fds_peak_open, (unsigned long long)g->fds_limit,
                       (unsigned long long)g->dial_emfile);
}

int sb_run_state_generator_json(sb_buf *out, const sb_run_state *s) {
  static const char *const names[] = {"cpu", "loop_lag", "fds", "dial_emfile"};
  char line[768];
  int first = 1, rc = 0;
  sb_buf causes;
  sb_buf_init(&causes);
  for (size_t i = 0; i < s->nagents; i++) {
    const sb_rs_agent *a = s->agents[i];
    unsigned c = a ? sb_rs_gen_causes(&a->gen, 0) : 0;
    for (size_t k = 0; k < sizeof(GEN_CAUSES) / sizeof(*GEN_CAUSES); k++) {
      if (!(c & GEN_CAUSES[k])) continue;
      gen_cause_text(a, GEN_CAUSES[k], line, sizeof(line));
      rc |= gen_json_cause(&causes, &first, "agent", a->name, names[k], line);
    }
  }
  for (size_t i = 0; i < s->nscen; i++) {
    uint64_t d = gen_dropped(s, i);
    if (!d) continue;
    gen_dropped_text(s, i, d, line, sizeof(line));
    rc |= gen_json_cause(&causes, &first, "scenario", s->scen[i].sc->name, "dropped_iterations",
                         line);
  }
  rc |= sb_buf_printf(out, "{\"saturated\":%s,\"causes\":[", first ? "false" : "true");
  if (causes.len) rc |= sb_buf_append(out, causes.data, causes.len);
  rc |= sb_buf_puts(out, "],\"agents\":[");
  for (size_t i = 0, n = 0; i < s->nagents; i++)
    if (s->agents[i]) rc |= gen_json_agent(out, s->agents[i], n++ == 0);
  rc |= sb_buf_puts(out, "]}");
  sb_buf_clear(&causes);
  return rc ? SB_ENOMEM : 0;
}

void sb_run_state_generator_now(const sb_run_state *s, char *out, size_t cap) {
  size_t more = 0;
  out[0] = '\0';
  for (size_t i = 0; i < s->nagents; i++) {
    const sb_rs_agent *a = s->agents[i];
    unsigned c = a && a->state == SB_AGENT_RUNNING ? sb_rs_gen_causes(&a->gen, 1) : 0;
    if (!c) continue;
    if (out[0]) {
      more++;
      continue;
    }
    const sb_rs_gen *g = &a->gen;
    if (c & SB_GEN_CPU)
      snprintf(out, cap, "generator saturated: agent %s worker CPU %u%%", a->name,
               (g->cpu_max_pm + 5) / 10);
    else if (c & SB_GEN_LAG)
      snprintf(out, cap, "generator saturated: agent %s loop lag %.0fms", a->name,
               (double)g->lag_max_us / 1e3);
    else
      snprintf(out, cap, "generator saturated: agent %s %llu/%llu file descriptors", a->name,
               (unsigned long long)g->fds_open, (unsigned long long)g->fds_limit);
  }
  size_t len = strlen(out);
  if (more && len < cap) snprintf(out + len, cap - len, " (and %zu more agents)", more);
}
