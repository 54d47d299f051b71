/* The parts of controller/output.c's writers, for output.c and the unit tests only.
 *
 * A sink is a file (plain, gzip when its name ends in .gz, or stdout for "-") behind a buffer the
 * writers append to; the writers render k6's records into that buffer. Tag sets are rendered once
 * (when first seen) into the fragment each format repeats on every point. */
#ifndef SB_OUTPUT_INTERNAL_H
#define SB_OUTPUT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/metrics.h"
#include "controller/threshold.h"

#define SB_OUT_FLUSH_AT (256 * 1024) /* a sink writes its buffer out past this many bytes */

typedef struct sb_out_sink {
  char *path;
  FILE *f;           /* plain file or stdout */
  void *gz;          /* gzFile when the name ends in .gz */
  sb_buf buf;
  int failed;        /* a write failed: |err| says why, later writes are dropped */
  sb_err err;
} sb_out_sink;

/* Opens |path| for writing ("-" is stdout; a name ending in .gz is gzip-compressed). Returns 0 or
 * SB_EIO with |err| naming the file. */
int sb_out_sink_open(sb_out_sink *s, const char *path, sb_err *err);
/* Writes the buffer out (and through to the file). Returns 0 or SB_EIO (kept in s->err). */
int sb_out_sink_flush(sb_out_sink *s);
/* Flushes, closes and frees; returns the first error of the sink's life (0 when none). */
int sb_out_sink_close(sb_out_sink *s, sb_err *err);

/* Wall-clock seconds already formatted, so a point costs no localtime(). */
typedef struct sb_out_timefmt {
  int64_t sec;       /* the second |prefix| shows; INT64_MIN: none */
  char prefix[24];   /* "2026-11-30T17:04:05" */
  char zone[24];     /* "Z" or "+02:00" */
} sb_out_timefmt;

void sb_out_timefmt_init(sb_out_timefmt *t);
/* Appends |time_us| as Go's time.Time JSON: RFC 3339 in local time, fraction without trailing
 * zeros ("2026-11-30T17:04:05.12345+01:00"). */
int sb_out_json_time(sb_buf *b, sb_out_timefmt *t, int64_t time_us);
/* Formats |v| as Go's encoding/json does (shortest round-trip digits; exponent only below 1e-6 or
 * from 1e21, as "1e-7"). NaN and infinities, which Go refuses, become null. Returns the length;
 * |out| holds 32 bytes. */
size_t sb_out_json_number(double v, char *out);
/* Appends |s| as a JSON string (quotes included; HTML characters not escaped, as k6). */
int sb_out_json_string(sb_buf *b, const char *s);

/* The tags of a point as k6's JSON output writes them: {"k":"v",...} (sorted by key), then, when
 * the set has k6's non-indexable tags vu or iter, those apart as `,"metadata":{...}`, as k6 keeps
 * them out of the tags. |kv| holds 2 * n strings. */
int sb_out_json_tags(sb_buf *b, const char *const *kv, size_t n);
/* One Metric record line. |t| lists the |nt| thresholds of the run (those of this metric and its
 * sub-metrics are picked). */
int sb_out_json_metric(sb_buf *b, const char *name, sb_metric_type type, sb_value_type contains,
                       const sb_threshold *t, size_t nt);
/* One Point record line; |name| is the metric's name as a JSON string (quotes included), |tags|
 * what sb_out_json_tags() rendered for its tag set. */
int sb_out_json_point(sb_buf *b, sb_out_timefmt *tf, const char *name, const char *tags,
                      size_t tags_len, int64_t time_us, double v);

/* k6's CSV header line (default system tags, extra_tags, metadata). */
int sb_out_csv_header(sb_buf *b);
/* The columns after metric_value for a tag set: the system tags' columns, extra_tags
 * ("k=v&k2=v2", other tags), metadata (vu, iter), the line's end. */
int sb_out_csv_tags(sb_buf *b, const char *const *kv, size_t n);
/* One CSV line: name, unix seconds, "%f" value, then the rendered tag columns. */
int sb_out_csv_point(sb_buf *b, const char *name, const char *tags, size_t tags_len,
                     int64_t time_us, double v);
/* Appends |s| as one CSV field (quoted as Go's encoding/csv does when it must be). */
int sb_out_csv_field(sb_buf *b, const char *s);

/* Everything the summary export needs at the end of the run. */
typedef struct sb_out_summary_in {
  const sb_metrics *metrics;
  const sb_threshold *t;
  const sb_threshold_result *res; /* parallel to |t| */
  size_t nt;
  const char *const *stats;       /* trend columns */
  size_t nstats;
  double duration_s;
  const char *generator;          /* a JSON object for "speedboat_generator", or NULL: no key */
  size_t generator_len;
} sb_out_summary_in;

/* k6's --summary-export document (the legacy JSON summary, 4-space indent) into |b|, with
 * speedboat's "speedboat_generator" after "metrics" when |in| has one (re-indented to match).
 * Returns 0 or SB_ENOMEM. */
int sb_out_summary_format(sb_buf *b, const sb_out_summary_in *in);

#endif
