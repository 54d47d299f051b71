/* Outputs: --out specs, the files, and the fan-out of points to the writers (see output.h).
 *
 * Per-point work is kept to appending bytes: a metric's name is escaped once (JSON and CSV), a tag
 * set is rendered once per agent when its definition arrives (the JSON object and the CSV columns
 * it repeats on every point), and time formatting reuses the second it formatted last. */
#include "controller/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "controller/output_internal.h"
#include "controller/output_prw.h"
#include "controller/run_state.h"
#include "controller/threshold.h"

#define MAX_OUTPUTS 32 /* a metric's "announced" flags are one bit per output */
#define GZ_MODE "wb1"  /* gzip level 1: the controller's loop writes it; k6 files are as valid */

extern char **environ; /* prometheus-rw reads its K6_PROMETHEUS_RW_* settings there */

enum { OUT_JSON, OUT_CSV };

typedef struct writer {
  int kind;
  char *path;
  sb_out_sink sink;
  sb_out_timefmt tf;
} writer;

typedef struct out_metric {
  struct out_metric *next;
  char *name;
  sb_metric_type type;
  sb_value_type contains;
  sb_buf json_name, csv_name; /* escaped once */
  uint32_t announced;         /* JSON outputs that wrote its Metric record, by index */
} out_metric;

typedef struct out_tags {
  sb_buf json, csv;           /* the rendered fragments */
} out_tags;

struct sb_outputs {
  writer w[MAX_OUTPUTS];
  size_t nw;
  int kinds;                  /* 1 << OUT_* of the outputs present */
  char *summary_export;
  sb_buf generator;           /* the summary export's "speedboat_generator" (JSON), or empty */
  sb_prw *prw;                /* --out prometheus-rw (at most one), or NULL */
  out_metric *metrics;
  sb_threshold *t;
  size_t nt;
};

/* ---- sinks ---- */

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

int sb_out_sink_open(sb_out_sink *s, const char *path, sb_err *err) {
  memset(s, 0, sizeof(*s));
  sb_buf_init(&s->buf);
  if (!(s->path = strdup(path))) return sb_err_set(err, SB_ENOMEM, "out of memory");
  if (!strcmp(path, "-")) {
    s->f = stdout;
    return 0;
  }
  if (ends_with(path, ".gz")) s->gz = gzopen(path, GZ_MODE);
  else s->f = fopen(path, "w");
  if (s->f || s->gz) return 0;
  int rc = sb_err_set(err, SB_EIO, "cannot create output file '%s': %s", path, strerror(errno));
  free(s->path);
  s->path = NULL;
  return rc;
}

int sb_out_sink_flush(sb_out_sink *s) {
  if (!s->buf.len || s->failed) {
    sb_buf_reset(&s->buf);
    return s->failed ? SB_EIO : 0;
  }
  int ok = s->gz ? gzwrite(s->gz, s->buf.data, (unsigned)s->buf.len) == (int)s->buf.len
                 : fwrite(s->buf.data, 1, s->buf.len, s->f) == s->buf.len && fflush(s->f) == 0;
  sb_buf_reset(&s->buf);
  if (ok) return 0;
  s->failed = 1;
  return sb_err_set(&s->err, SB_EIO, "writing output file '%s': %s", s->path, strerror(errno));
}

int sb_out_sink_close(sb_out_sink *s, sb_err *err) {
  if (!s->path) return 0;
  sb_out_sink_flush(s);
  if (s->gz && gzclose(s->gz) != Z_OK && !s->failed) {
    s->failed = 1;
    sb_err_set(&s->err, SB_EIO, "closing output file '%s'", s->path);
  }
  if (s->f && s->f != stdout && fclose(s->f) && !s->failed) {
    s->failed = 1;
    sb_err_set(&s->err, SB_EIO, "closing output file '%s': %s", s->path, strerror(errno));
  }
  int rc = s->failed ? SB_EIO : 0;
  if (rc && err) *err = s->err;
  sb_buf_clear(&s->buf);
  free(s->path);
  memset(s, 0, sizeof(*s));
  return rc;
}

/* ---- the set of outputs ---- */

/* --out prometheus-rw[=URL] (k6's experimental-prometheus-rw). */
static int add_prw(sb_outputs *o, const char *spec, const char *url, sb_err *err) {
  sb_prw_config c;
  if (o->prw)
    return sb_err_set(err, SB_EINVAL, "--out '%s': at most one prometheus-rw output", spec);
  int rc = sb_prw_config_parse(&c, spec, url, (const char *const *)environ, err);
  return rc ? rc : sb_prw_new(&o->prw, &c, err);
}

static int is_type(const char *spec, size_t tlen, const char *name) {
  return tlen == strlen(name) && !strncmp(spec, name, tlen);
}

/* Adds one --out value. */
static int add_spec(sb_outputs *o, const char *spec, sb_err *err) {
  const char *eq = strchr(spec, '=');
  size_t tlen = eq ? (size_t)(eq - spec) : strlen(spec);
  const char *path = eq ? eq + 1 : "-";
  int kind;
  if (is_type(spec, tlen, "prometheus-rw") || is_type(spec, tlen, "experimental-prometheus-rw"))
    return add_prw(o, spec, eq ? eq + 1 : NULL, err);
  if (is_type(spec, tlen, "json")) kind = OUT_JSON;
  else if (is_type(spec, tlen, "csv")) kind = OUT_CSV;
  else
    return sb_err_set(err, SB_EINVAL, "--out '%s': unknown output type '%.*s'; speedboat writes "
                      "json=FILE, csv=FILE and prometheus-rw[=URL]", spec, (int)tlen, spec);
  if (!*path) return sb_err_set(err, SB_EINVAL, "--out '%s': no file name after '='", spec);
  if (o->nw == MAX_OUTPUTS)
    return sb_err_set(err, SB_EINVAL, "--out '%s': at most %d outputs", spec, MAX_OUTPUTS);
  writer *w = &o->w[o->nw];
  if (!(w->path = strdup(path))) return sb_err_set(err, SB_ENOMEM, "out of memory");
  w->kind = kind;
  sb_out_timefmt_init(&w->tf);
  o->kinds |= 1 << kind;
  o->nw++;
  return 0;
}

int sb_outputs_new(sb_outputs **out, const char *const *specs, size_t n,
                   const char *summary_export, sb_err *err) {
  sb_outputs *o = calloc(1, sizeof(*o));
  if (!o) return sb_err_set(err, SB_ENOMEM, "out of memory");
  sb_buf_init(&o->generator);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = add_spec(o, specs[i], err);
  if (!rc && summary_export && !*summary_export)
    rc = sb_err_set(err, SB_EINVAL, "--summary-export needs a file name");
  if (!rc && summary_export && !(o->summary_export = strdup(summary_export)))
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
  if (rc) {
    sb_outputs_free(o);
    return rc;
  }
  *out = o;
  return 0;
}

void sb_outputs_free(sb_outputs *o) {
  if (!o) return;
  for (size_t i = 0; i < o->nw; i++) {
    sb_out_sink_close(&o->w[i].sink, NULL);
    free(o->w[i].path);
  }
  for (out_metric *m = o->metrics, *next; m; m = next) {
    next = m->next;
    free(m->name);
    sb_buf_clear(&m->json_name);
    sb_buf_clear(&m->csv_name);
    free(m);
  }
  sb_thresholds_free(o->t, o->nt);
  sb_prw_free(o->prw);
  sb_buf_clear(&o->generator);
  free(o->summary_export);
  free(o);
}

int sb_outputs_want_points(const sb_outputs *o) {
  return o && o->nw > 0; /* prometheus-rw reads the merged metrics (sb_outputs_attach) */
}

void sb_outputs_describe(const sb_outputs *o, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; o && i < o->nw && len < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s%s (%s)", i ? ", " : "",
                            o->w[i].kind == OUT_JSON ? "json" : "csv",
                            strcmp(o->w[i].path, "-") ? o->w[i].path : "stdout");
  if (o && o->prw && len < cap)
    snprintf(out + len, cap - len, "%sprometheus-rw (%s)", len ? ", " : "", sb_prw_url(o->prw));
  if (!out[0]) snprintf(out, cap, "-");
}

int sb_outputs_start(sb_outputs *o, const sb_options *opts, sb_err *err) {
  int rc = 0;
  if (opts && !opts->no_thresholds && (rc = sb_thresholds_parse(opts, &o->t, &o->nt, err)))
    return rc;
  for (size_t i = 0; i < o->nw; i++) {
    writer *w = &o->w[i];
    if ((rc = sb_out_sink_open(&w->sink, w->path, err))) return rc;
    if (w->kind == OUT_CSV && sb_out_csv_header(&w->sink.buf))
      return sb_err_set(err, SB_ENOMEM, "out of memory");
    sb_out_sink_flush(&w->sink);
  }
  return o->prw ? sb_prw_start(o->prw, err) : 0;
}

/* ---- points ---- */

static out_metric *find_metric(sb_outputs *o, const char *name, sb_metric_type type,
                               sb_value_type contains) {
  for (out_metric *m = o->metrics; m; m = m->next)
    if (!strcmp(m->name, name)) return m;
  out_metric *m = calloc(1, sizeof(*m));
  if (!m || !(m->name = strdup(name))) {
    free(m);
    return NULL;
  }
  m->type = type;
  m->contains = contains;
  if (sb_out_json_string(&m->json_name, name) || sb_out_csv_field(&m->csv_name, name) ||
      !m->json_name.data || !m->csv_name.data) {
    sb_buf_clear(&m->json_name);
    sb_buf_clear(&m->csv_name);
    free(m->name);
    free(m);
    return NULL;
  }
  m->next = o->metrics;
  o->metrics = m;
  return m;
}

static void *on_metric(const sb_point_metric *pm, void *ud) {
  return find_metric(ud, pm->name, pm->type, pm->contains);
}

/* Renders a tag set for the formats present. */
static int render_tags(const sb_outputs *o, out_tags *t, const char *const *kv, size_t n) {
  sb_buf_init(&t->json);
  sb_buf_init(&t->csv);
  int rc = 0;
  if (o->kinds & (1 << OUT_JSON)) rc |= sb_out_json_tags(&t->json, kv, n);
  if (o->kinds & (1 << OUT_CSV)) rc |= sb_out_csv_tags(&t->csv, kv, n);
  if (!rc) return 0;
  sb_buf_clear(&t->json);
  sb_buf_clear(&t->csv);
  return SB_ENOMEM;
}

static void *on_tags(const sb_point_tags *pt, void *ud) {
  out_tags *t = malloc(sizeof(*t));
  if (t && render_tags(ud, t, (const char *const *)pt->kv, pt->n)) {
    free(t);
    t = NULL;
  }
  return t;
}

static void free_tags(void *tags_ud, void *ud) {
  out_tags *t = tags_ud;
  sb_buf_clear(&t->json);
  sb_buf_clear(&t->csv);
  free(t);
}

/* Appends one sample to every output. */
static void write_point(sb_outputs *o, out_metric *m, const out_tags *t, int64_t time_us,
                        double v) {
  for (size_t i = 0; i < o->nw; i++) {
    writer *w = &o->w[i];
    sb_buf *b = &w->sink.buf;
    if (w->sink.failed || !w->sink.path) continue;
    if (w->kind == OUT_JSON) {
      if (!(m->announced & (1u << i))) {
        sb_out_json_metric(b, m->name, m->type, m->contains, o->t, o->nt);
        m->announced |= 1u << i;
      }
      sb_out_json_point(b, &w->tf, m->json_name.data, t->json.data ? t->json.data : "{}",
                        t->json.data ? t->json.len : 2, time_us, v);
    } else {
      sb_out_csv_point(b, m->csv_name.data, t->csv.data, t->csv.len, time_us, v);
    }
    if (b->len >= SB_OUT_FLUSH_AT) sb_out_sink_flush(&w->sink);
  }
}

static void on_point(const sb_point_metric *pm, const sb_point_tags *pt, int64_t time_us,
                     double v, void *ud) {
  write_point(ud, pm->ud, pt->ud, time_us, v);
}

int sb_outputs_decoder(sb_outputs *o, sb_points_dec **out) {
  sb_points_dec_cbs cbs = {on_metric, on_tags, free_tags, on_point, o};
  return sb_points_dec_new(out, &cbs);
}

void sb_outputs_flush(sb_outputs *o) {
  for (size_t i = 0; o && i < o->nw; i++)
    if (o->w[i].sink.path) sb_out_sink_flush(&o->w[i].sink);
}

int sb_outputs_attach(sb_outputs *o, struct event_base *base, const sb_metrics *m) {
  return o && o->prw ? sb_prw_attach(o->prw, base, m) : 0;
}

void sb_outputs_sample(sb_outputs *o, const char *name, sb_metric_type type,
                       sb_value_type contains, const char *const *kv, size_t n, int64_t time_us,
                       double v) {
  if (!o || !o->nw) return;
  out_metric *m = find_metric(o, name, type, contains);
  out_tags t;
  if (!m || render_tags(o, &t, kv, n)) return;
  write_point(o, m, &t, time_us, v);
  sb_buf_clear(&t.json);
  sb_buf_clear(&t.csv);
}

/* ---- the end ---- */

static int write_summary_export(sb_outputs *o, const sb_metrics *m, double duration_s,
                                const char *const *stats, size_t nstats, sb_err *err) {
  static const char *const default_stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};
  sb_threshold_result *res = calloc(o->nt ? o->nt : 1, sizeof(*res));
  if (!res) return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (size_t i = 0; i < o->nt; i++)
    if (sb_threshold_eval(&o->t[i], m, duration_s, 0, &res[i], NULL)) res[i].ok = 0;
  sb_out_summary_in in = {.metrics = m, .t = o->t, .res = res, .nt = o->nt, .stats = stats,
                          .nstats = nstats, .duration_s = duration_s,
                          .generator = o->generator.data, .generator_len = o->generator.len};
  if (!stats || !nstats) {
    in.stats = default_stats;
    in.nstats = sizeof(default_stats) / sizeof(*default_stats);
  }
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_out_summary_format(&b, &in);
  if (rc) rc = sb_err_set(err, rc, "--summary-export: out of memory");
  else if (sb_write_file(o->summary_export, b.data, b.len, err)) rc = SB_EIO;
  sb_buf_clear(&b);
  free(res);
  return rc;
}

int sb_outputs_set_generator(sb_outputs *o, const sb_run_state *st) {
  if (!o || !o->summary_export) return 0;
  sb_buf_reset(&o->generator);
  return sb_run_state_generator_json(&o->generator, st);
}

int sb_outputs_finish(sb_outputs *o, const sb_metrics *m, double duration_s,
                      const char *const *stats, size_t nstats, sb_err *err) {
  int rc = 0;
  if (!o) return 0;
  if (o->summary_export && m) rc = write_summary_export(o, m, duration_s, stats, nstats, err);
  sb_prw_finish(o->prw, m); /* a failed push is a WARN (printed): the verdict stays the test's */
  for (size_t i = 0; i < o->nw; i++) {
    sb_err e;
    if (sb_out_sink_close(&o->w[i].sink, &e) && !rc) {
      rc = SB_EIO;
      if (err) *err = e;
    }
  }
  return rc;
}
