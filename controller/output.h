/* Outputs: where a run's results go besides the terminal, as k6 writes them.
 *
 *   --out json=FILE         k6's JSON lines: a Metric record when a metric first appears, then a
 *                           Point record per sample (FILE.gz: gzip; "-": stdout)
 *   --out csv=FILE          k6's CSV: one line per sample, one column per default system tag
 *   --summary-export FILE   k6's legacy end-of-test summary as JSON, and speedboat's
 *                           "speedboat_generator" (the generators' saturation verdict)
 *   --out prometheus-rw[=URL]   (k6's experimental-prometheus-rw) the metrics pushed to a
 *                           Prometheus remote-write endpoint every push interval and at the end
 *                           (controller/output_prw.h: K6_PROMETHEUS_RW_* settings, naming). It
 *                           encodes the run's merged metrics (sb_outputs_attach) on the loop
 *                           thread: it needs no points; its HTTP client runs on a pusher thread
 *                           of its own; the last push is in sb_outputs_finish() (bounded by the
 *                           push timeout).
 *
 * Several --out at once are fine (each its own file). Samples reach the controller only when an
 * output needs them (json, csv): the run then sets Prepare.send_points, every agent sends a Points message
 * beside each Snapshot (common/points.h), and each agent's decoder calls the writers here, on the
 * controller's loop thread. The `vus` and `vus_max` samples are the controller's own
 * (sb_outputs_sample()). Files are written through a buffer, flushed after every message. */
#ifndef SB_OUTPUT_H
#define SB_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/metrics.h"
#include "common/points.h"
#include "controller/options.h"

typedef struct sb_outputs sb_outputs;
struct event_base;
struct sb_run_state;

/* Parses the |n| --out values ("json=FILE", "csv=FILE"; "json" alone writes to stdout;
 * "prometheus-rw[=URL]", at most one, with its K6_PROMETHEUS_RW_* variables read from the
 * environment) and the --summary-export path (NULL: none). Opens nothing yet. Returns 0,
 * SB_ENOMEM, or SB_EINVAL with |err| naming the bad value ("--out 'influxdb=...': unknown output
 * type; speedboat writes json=FILE, csv=FILE and prometheus-rw[=URL]"). */
int sb_outputs_new(sb_outputs **out, const char *const *specs, size_t n,
                   const char *summary_export, sb_err *err);
/* Closes whatever is still open (use sb_outputs_finish() to learn about write errors). */
void sb_outputs_free(sb_outputs *o);

/* 1 when some output needs every sample (the agents must send points): json or csv, not
 * prometheus-rw. */
int sb_outputs_want_points(const sb_outputs *o);
/* The banner's "output:" value: "json (results.json), csv (results.csv)", or "-". */
void sb_outputs_describe(const sb_outputs *o, char *out, size_t cap);

/* Opens every file and writes headers; |opts| gives the thresholds the Metric records list
 * (kept by pointer: must outlive |o|). Returns 0, SB_EIO (|err| names the file) or SB_ENOMEM. */
int sb_outputs_start(sb_outputs *o, const sb_options *opts, sb_err *err);

/* Hands the outputs that read the run's merged metrics (prometheus-rw) the set |m| and the
 * controller's loop |base| that merges into it; they read |m| on that loop, on timers of their
 * own (freed with |o|, so |base| must outlive |o|). Call once, after sb_outputs_start(). Returns
 * 0 or SB_ENOMEM. */
int sb_outputs_attach(sb_outputs *o, struct event_base *base, const sb_metrics *m);

/* A decoder for one agent's Points messages that writes into |o| (free with
 * sb_points_dec_free() before sb_outputs_free()). Returns 0 or SB_ENOMEM. */
int sb_outputs_decoder(sb_outputs *o, sb_points_dec **out);
/* Writes the buffered records to the files (after each Points message). */
void sb_outputs_flush(sb_outputs *o);

/* One sample the controller itself makes (vus, vus_max): metric |name| of |type|/|contains|,
 * tags |kv| (2 * |n| strings), at wall-clock |time_us|. */
void sb_outputs_sample(sb_outputs *o, const char *name, sb_metric_type type,
                       sb_value_type contains, const char *const *kv, size_t n, int64_t time_us,
                       double v);

/* The generators' verdict for the summary export's "speedboat_generator" key, the object
 * handleSummary's data has (controller/run_state.h's sb_run_state_generator_json), rendered now
 * from |st|. Call after the run, before sb_outputs_finish(); without it the key is left out.
 * Returns 0 or SB_ENOMEM. */
int sb_outputs_set_generator(sb_outputs *o, const struct sb_run_state *st);

/* The end of the run: writes the summary export from the run's merged metrics |m| (thresholds
 * evaluated on them over |duration_s|; |stats| the trend columns, NULL for k6's default), then
 * flushes and closes every file. Returns 0, or the first write error of any output (SB_EIO,
 * |err| naming the file). */
int sb_outputs_finish(sb_outputs *o, const sb_metrics *m, double duration_s,
                      const char *const *stats, size_t nstats, sb_err *err);

#endif
