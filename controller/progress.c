/* The terminal view (controller/progress.h): k6's progress block, rendered from the run state
 * into a buffer (what the unit tests read), then written in place or as plain lines. */
#include "controller/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

#define BAR_WIDTH 40 /* k6's defaultWidth: brackets included */
#define MAX_COLS 4   /* right-hand columns of a bar */
#define COL_MAX 80

#define FAINT "\033[2m"
#define GREEN "\033[32m"
#define RED "\033[31m"
#define RESET "\033[0m"

int sb_progress_color_allowed(void) {
  const char *a = getenv("NO_COLOR"), *b = getenv("K6_NO_COLOR");
  return !(a && *a) && !(b && *b);
}

void sb_progress_fixed_duration(double secs, int64_t max_ms, char *out, size_t cap) {
  if (secs < 0) secs = 0;
  long long tenths = llround(secs * 10.0);
  long long h = tenths / 36000, m = tenths / 600 % 60, s = tenths / 10 % 60, t = tenths % 10;
  if (max_ms >= 3600000 || h)
    snprintf(out, cap, "%lldh%02lldm%02lld.%llds", h, m, s, t);
  else if (max_ms >= 60000 || m)
    snprintf(out, cap, "%lldm%02lld.%llds", m, s, t);
  else
    snprintf(out, cap, "%02lld.%llds", s, t);
}

/* Digits of |n| (at least 1): the width k6 pads counts to (GetFixedLengthIntFormat). */
static int digits(uint64_t n) {
  int d = 1;
  while (n >= 10)
    n /= 10, d++;
  return d;
}

/* ramping-arrival-rate's rate at |t_ms| into the scenario, per time unit. */
static double ramp_rate(const sb_scenario *sc, double t_ms) {
  double prev = (double)sc->start_rate, from = 0;
  for (size_t i = 0; i < sc->nstages; i++) {
    double len = (double)sc->stages[i].duration_ms, tgt = (double)sc->stages[i].target;
    if (t_ms < from + len) return prev + (tgt - prev) * (len > 0 ? (t_ms - from) / len : 1.0);
    from += len;
    prev = tgt;
  }
  return prev;
}

typedef struct bar { /* one scenario's line, before alignment */
  char cols[MAX_COLS][COL_MAX];
  int ncols;
  double progress;
  char mark; /* ' ', 'v' (finished) or 'x' (cut short) */
} bar;

/* Elapsed/total of a time-based scenario, or only the total once it is over. */
static void time_col(char *out, double t_s, int64_t len_ms, int done) {
  char total[24], now[24];
  sb_duration_format_ms(len_ms, total, sizeof(total));
  if (done || t_s * 1000.0 >= (double)len_ms) {
    snprintf(out, COL_MAX, "%s", total);
    return;
  }
  sb_progress_fixed_duration(t_s, len_ms, now, sizeof(now));
  snprintf(out, COL_MAX, "%s/%s", now, total);
}

/* What k6's executor of scenario |i| prints right of its bar. */
static void bar_cols(const sb_run_state *st, size_t i, int64_t now_us, int done, bar *b) {
  const sb_rs_scenario *c = &st->scen[i];
  const sb_scenario *sc = c->sc;
  double t = sb_run_state_elapsed(st, now_us) - (double)sc->start_time_ms / 1000.0;
  int64_t len = sb_run_state_scen_length_ms(st, i);
  int w = digits(c->max_vus);
  uint64_t vus = c->vus_known ? c->vus : c->max_vus;
  if (t < 0) t = 0;
  b->ncols = 2;
  switch (sc->executor) {
  case SB_EXEC_CONSTANT_VUS:
    snprintf(b->cols[0], COL_MAX, "%llu VUs",
             (unsigned long long)(c->scaled_vus != UINT64_MAX ? c->scaled_vus : sc->vus));
    break;
  case SB_EXEC_RAMPING_VUS:
    snprintf(b->cols[0], COL_MAX, "%0*llu/%0*llu VUs", w, (unsigned long long)(done ? 0 : vus), w,
             (unsigned long long)c->max_vus);
    break;
  case SB_EXEC_CONSTANT_ARRIVAL_RATE:
  case SB_EXEC_RAMPING_ARRIVAL_RATE: {
    double unit = sc->time_unit_ms > 0 ? (double)sc->time_unit_ms / 1000.0 : 1.0;
    double rate = sc->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE ? (double)sc->rate
                                                                : ramp_rate(sc, t * 1000.0);
    snprintf(b->cols[0], COL_MAX, "%0*llu/%0*llu VUs", w, (unsigned long long)(done ? 0 : vus), w,
             (unsigned long long)c->max_vus);
    snprintf(b->cols[2], COL_MAX, "%.2f iters/s", rate / unit);
    b->ncols = 3;
    if (c->dropped)
      snprintf(b->cols[b->ncols++], COL_MAX, "%llu dropped", (unsigned long long)c->dropped);
    break;
  }
  default: { /* iteration-based: elapsed/maxDuration, then the iterations */
    uint64_t total =
        sc->executor == SB_EXEC_PER_VU_ITERATIONS ? sc->vus * sc->iterations : sc->iterations;
    int iw = digits(total);
    snprintf(b->cols[0], COL_MAX, "%llu VUs", (unsigned long long)sc->vus);
    if (sc->executor == SB_EXEC_SHARED_ITERATIONS)
      snprintf(b->cols[2], COL_MAX, "%0*llu/%0*llu shared iters", iw,
               (unsigned long long)c->iterations, iw, (unsigned long long)total);
    else
      snprintf(b->cols[2], COL_MAX, "%0*llu/%0*llu iters, %llu per VU", iw,
               (unsigned long long)c->iterations, iw, (unsigned long long)total,
               (unsigned long long)sc->iterations);
    b->ncols = 3;
  }
  }
  time_col(b->cols[1], t, len, done);
}

/* ✓ once a scenario's share is done (its time is up, or its iterations ran); ✗ when the run ended
 * before (stopped, or maxDuration cut the iterations short). */
static void bar_state(const sb_run_state *st, size_t i, int64_t now_us, bar *b) {
  b->progress = sb_run_state_scen_progress(st, i, now_us);
  b->mark = b->progress >= 1.0 ? 'v' : st->phase >= SB_PHASE_TEARDOWN ? 'x' : ' ';
  bar_cols(st, i, now_us, b->mark == 'v', b);
}

/* The bar itself: "[=====>-----]" on a TTY, "[  34% ]" elsewhere. */
static void put_bar(sb_buf *out, double p, const sb_progress_opts *o) {
  if (!o->tty) {
    sb_buf_printf(out, "[ %3.0f%% ]", floor(p * 100.0));
    return;
  }
  int space = BAR_WIDTH - 2, filled = (int)(space * p);
  if (filled > space) filled = space;
  sb_buf_puts(out, "[");
  for (int k = 0; k < filled - (filled < space ? 1 : 0); k++)
    sb_buf_puts(out, "=");
  if (filled > 0 && filled < space) sb_buf_puts(out, ">");
  if (space > filled) {
    if (o->color) sb_buf_puts(out, FAINT);
    for (int k = filled; k < space; k++)
      sb_buf_puts(out, "-");
    if (o->color) sb_buf_puts(out, RESET);
  }
  sb_buf_puts(out, "]");
}

static void put_mark(sb_buf *out, char mark, const sb_progress_opts *o) {
  if (mark == 'v')
    sb_buf_printf(out, "%s✓%s", o->color ? GREEN : "", o->color ? RESET : "");
  else if (mark == 'x')
    sb_buf_printf(out, "%s✗%s", o->color ? RED : "", o->color ? RESET : "");
  else
    sb_buf_puts(out, " ");
}

/* "running (0m05.2s), 10/10 VUs, 95 complete and 0 interrupted iterations" */
static void put_status(sb_buf *out, const sb_run_state *st, int64_t now_us) {
  const char *what = st->phase >= SB_PHASE_TEARDOWN ? "finished"
                     : st->paused                   ? "paused"
                     : st->stopping                 ? "stopping"
                                                    : "running";
  char t[32];
  sb_progress_fixed_duration(sb_run_state_elapsed(st, now_us), sb_options_max_duration_ms(st->opts),
                             t, sizeof(t));
  uint64_t max = sb_run_state_vus(st, 1);
  int w = digits(max);
  sb_buf_printf(out, "%s (%s), %0*llu/%0*llu VUs, %llu complete and %llu interrupted iterations\n",
                what, t, w, (unsigned long long)sb_run_state_vus(st, 0), w, (unsigned long long)max,
                (unsigned long long)st->iterations, (unsigned long long)st->interrupted_iters);
}

/* "  agent 10.0.0.7:6566  running  12 VUs  340 req/s  cpu 97%  loop lag 12ms  age 0.4s  rtt 0.3ms"
 * cpu and loop lag are its busiest worker's in its latest interval (agent/selfmon.h; absent from
 * an agent that does not measure them), age how old its latest metrics are. */
static void put_agent(sb_buf *out, const sb_rs_agent *a, size_t namew, int64_t now_us) {
  sb_buf_printf(out, "  agent %-*s  ", (int)namew, a->name);
  if (a->state == SB_AGENT_LOST) {
    sb_buf_printf(out, "lost at %.1fs (%s)\n", a->lost_at_s, a->lost_why);
    return;
  }
  sb_buf_printf(out, "%-9s %llu VUs  %.0f req/s", sb_agent_state_name(a->state),
                (unsigned long long)a->vus, a->req_rate);
  if (a->gen.workers)
    sb_buf_printf(out, "  cpu %u%%  loop lag %.0fms", (a->gen.cpu_max_pm + 5) / 10,
                  (double)a->gen.lag_max_us / 1e3);
  if (a->snap_mono_us) {
    int64_t age = now_us - a->snap_mono_us;
    sb_buf_printf(out, "  age %.1fs", age > 0 ? (double)age / 1e6 : 0.0);
  }
  sb_buf_printf(out, "  rtt %.1fms\n", (double)a->rtt_us / 1000.0);
}

int sb_progress_render(sb_buf *out, const sb_run_state *st, int64_t now_us,
                       const sb_progress_opts *o) {
  size_t before = out->len;
  int lines = 1;
  put_status(out, st, now_us);
  bar *bars = calloc(st->nscen ? st->nscen : 1, sizeof(*bars));
  if (!bars) return SB_ENOMEM;
  size_t namew = 0, colw[MAX_COLS] = {0};
  for (size_t i = 0; i < st->nscen; i++) {
    bar_state(st, i, now_us, &bars[i]);
    if (strlen(st->scen[i].sc->name) > namew) namew = strlen(st->scen[i].sc->name);
    for (int k = 0; k < bars[i].ncols; k++)
      if (strlen(bars[i].cols[k]) > colw[k]) colw[k] = strlen(bars[i].cols[k]);
  }
  for (size_t i = 0; i < st->nscen; i++, lines++) {
    sb_buf_printf(out, "%-*s ", (int)namew, st->scen[i].sc->name);
    put_mark(out, bars[i].mark, o);
    sb_buf_puts(out, " ");
    put_bar(out, bars[i].progress, o);
    for (int k = 0; k < bars[i].ncols; k++)
      if (k + 1 < bars[i].ncols)
        sb_buf_printf(out, " %-*s ", (int)colw[k], bars[i].cols[k]);
      else
        sb_buf_printf(out, " %s", bars[i].cols[k]);
    sb_buf_puts(out, "\n");
  }
  free(bars);
  size_t aw = 0;
  for (size_t i = 0; o->agents && i < st->nagents; i++)
    if (strlen(st->agents[i]->name) > aw) aw = strlen(st->agents[i]->name);
  for (size_t i = 0; o->agents && i < st->nagents; i++, lines++)
    put_agent(out, st->agents[i], aw, now_us);
  char sat[400]; /* the generator limits the load now: one line, whatever the agents' number */
  sb_run_state_generator_now(st, sat, sizeof(sat));
  if (sat[0] && st->phase == SB_PHASE_RUNNING) {
    sb_buf_printf(out, "%s%s%s\n", o->color ? RED : "", sat, o->color ? RESET : "");
    lines++;
  }
  if (!out->data || out->len == before) return SB_ENOMEM;
  return lines;
}

/* --- drawing ---------------------------------------------------------------------------------- */

struct sb_progress {
  FILE *f;
  sb_progress_opts o;
  int drawn; /* lines of the block on screen (TTY) */
  sb_buf buf;
};

int sb_progress_new(sb_progress **out, FILE *f, const sb_progress_opts *o) {
  sb_progress *p = calloc(1, sizeof(*p));
  if (!p) return SB_ENOMEM;
  p->f = f;
  p->o = *o;
  sb_buf_init(&p->buf);
  *out = p;
  return 0;
}

void sb_progress_free(sb_progress *p) {
  if (!p) return;
  sb_buf_clear(&p->buf);
  free(p);
}

void sb_progress_erase(sb_progress *p) {
  if (!p || !p->o.tty || !p->drawn) return;
  fprintf(p->f, "\r\033[%dA\033[J", p->drawn); /* up to the block's first line, erase below */
  p->drawn = 0;
  fflush(p->f);
}

void sb_progress_draw(sb_progress *p, const sb_run_state *st, int64_t now_us) {
  sb_buf_reset(&p->buf);
  if (p->o.tty && p->drawn) sb_buf_printf(&p->buf, "\r\033[%dA", p->drawn);
  size_t at = p->buf.len;
  int n = sb_progress_render(&p->buf, st, now_us, &p->o);
  if (n < 0) return;
  if (p->o.tty) { /* erase what the previous, longer lines left: \033[K before each newline */
    sb_buf b2;
    sb_buf_init(&b2);
    sb_buf_append(&b2, p->buf.data, at);
    for (size_t i = at; i < p->buf.len; i++) {
      if (p->buf.data[i] == '\n') sb_buf_puts(&b2, "\033[K");
      sb_buf_append(&b2, &p->buf.data[i], 1);
    }
    if (b2.data) fwrite(b2.data, 1, b2.len, p->f);
    sb_buf_clear(&b2);
    p->drawn = n;
  } else {
    fwrite(p->buf.data, 1, p->buf.len, p->f);
  }
  fflush(p->f);
}
