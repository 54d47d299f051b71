/* --out prometheus-rw (k6's experimental-prometheus-rw): the run's metrics pushed to a Prometheus
 * remote-write endpoint (remote write 1.0: a snappy-compressed protobuf WriteRequest, our own
 * proto/prompb.proto) every push interval, and once more at the end.
 *
 * Configured as k6 configures it, from the environment (k6's names and defaults):
 *   K6_PROMETHEUS_RW_SERVER_URL          endpoint (default http://localhost:9090/api/v1/write);
 *                                        `--out prometheus-rw=URL` takes precedence
 *   K6_PROMETHEUS_RW_PUSH_INTERVAL       k6 duration, default 5s
 *   K6_PROMETHEUS_RW_TREND_STATS         trend series to send, default "p(99)"; of avg, min, max,
 *                                        med, count, sum, p(N)
 *   K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY, K6_PROMETHEUS_RW_STALE_MARKERS   booleans (Go's)
 *   K6_PROMETHEUS_RW_USERNAME, K6_PROMETHEUS_RW_PASSWORD   basic auth (when a user name is set)
 *   K6_PROMETHEUS_RW_HEADERS_<Name>=v    one more request header; K6_PROMETHEUS_RW_HTTP_HEADERS
 *                                        "k1:v1,k2:v2" as well
 * Refused with a clear error (not supported): K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true and
 * K6_PROMETHEUS_RW_CLIENT_CERTIFICATE(_KEY).
 *
 * Naming (k6's mapping): prefix "k6_"; a counter is k6_<name>_total (cumulative), a gauge
 * k6_<name>, a rate k6_<name>_rate (the ratio of trues, 0..1), a trend one gauge per stat,
 * k6_<name>_<stat> ("p(99)" -> "p99", "p(99.9)" -> "p999"), time trends in seconds. Every tag is
 * a label (name made valid for Prometheus), except k6's non-indexable vu and iter; empty values
 * are left out. Labels sorted by name, "__name__" first.
 *
 * Threads: the output has no metrics of its own: it reads the run's merged metric set (the
 * agents' snapshots, merged once a second on the controller's loop) on that loop, every push
 * interval, and encodes it there. One pusher thread owns a private event loop and the project's
 * HTTP client (agent/http_client.h) and posts one body at a time. A body made while one is in
 * flight replaces the one waiting (the values are cumulative: the newest body says it all). */
#ifndef SB_OUTPUT_PRW_H
#define SB_OUTPUT_PRW_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/metrics.h"

#define SB_PRW_DEFAULT_URL "http://localhost:9090/api/v1/write"
#define SB_PRW_DEFAULT_INTERVAL_MS 5000
#define SB_PRW_TIMEOUT_MS 5000.0 /* one push, as k6's remote-write client */
#define SB_PRW_MAX_STATS 16
#define SB_PRW_MAX_HEADERS 32

typedef enum sb_prw_stat_kind {
  SB_PRW_AVG,
  SB_PRW_MIN,
  SB_PRW_MAX,
  SB_PRW_MED,
  SB_PRW_COUNT,
  SB_PRW_SUM,
  SB_PRW_PCT
} sb_prw_stat_kind;

typedef struct sb_prw_stat {
  sb_prw_stat_kind kind;
  double q;        /* SB_PRW_PCT: 0..1 */
  char suffix[24]; /* "p99", "avg" */
} sb_prw_stat;

typedef struct sb_prw_config {
  char *url;
  int64_t push_interval_ms;
  int insecure_skip_tls_verify;
  int stale_markers;
  char *username; /* NULL: no Authorization header */
  char *password;
  char *hname[SB_PRW_MAX_HEADERS], *hvalue[SB_PRW_MAX_HEADERS];
  size_t nheaders;
  sb_prw_stat stats[SB_PRW_MAX_STATS];
  size_t nstats;
} sb_prw_config;

/* Fills |c| from |arg| (what followed "prometheus-rw=", NULL when nothing did) and the NULL-ended
 * environment |env| ("NAME=value" strings, as environ). |opt| is the --out value as given, for
 * messages. Returns 0, SB_ENOMEM, or SB_EINVAL with |err| naming the option or variable and the
 * value ("--out 'prometheus-rw=ftp://x': the URL must be http:// or https://"). On failure |c|
 * owns nothing. */
int sb_prw_config_parse(sb_prw_config *c, const char *opt, const char *arg, const char *const *env,
                        sb_err *err);
void sb_prw_config_clear(sb_prw_config *c);

/* Appends to |out| the snappy-compressed WriteRequest for every series of |m| at |ts_ms| (unix
 * milliseconds). With |stale|, every series has a second sample, Prometheus' stale marker, at
 * |ts_ms| + 1 (the end of a run with K6_PROMETHEUS_RW_STALE_MARKERS). Sets |*nseries| to the
 * number of time series (may be NULL). Returns 0 or SB_ENOMEM. */
int sb_prw_encode(const sb_metrics *m, const sb_prw_config *c, int64_t ts_ms, int stale,
                  sb_buf *out, size_t *nseries);

typedef struct sb_prw sb_prw;
struct event_base;

/* Takes |c| over (|c| owns nothing afterwards, whatever the result) and creates the output.
 * Returns 0, SB_ENOMEM, or SB_EINVAL when the TLS settings cannot be used. */
int sb_prw_new(sb_prw **out, sb_prw_config *c, sb_err *err);
/* Starts the pusher thread. Returns 0 or SB_ENOMEM (|err| set). */
int sb_prw_start(sb_prw *p, sb_err *err);
/* Stops the thread if running (a push in flight is waited for, at most its timeout) and frees. */
void sb_prw_free(sb_prw *p);
const char *sb_prw_url(const sb_prw *p);

/* Hands the output the run's merged metric set |m| and arms a timer on |base| (the loop that
 * writes |m|: the encoding reads it there) that calls sb_prw_tick() every push interval. Keeps
 * both pointers: |m| must outlive the last tick, |base| the output. Returns 0 or SB_ENOMEM. */
int sb_prw_attach(sb_prw *p, struct event_base *base, const sb_metrics *m);
/* One push interval (the timer's work, on the loop thread): reports (WARN on stderr) push
 * failures not reported yet, encodes the attached set and hands the body to the pusher (an
 * empty set sends nothing). */
void sb_prw_tick(sb_prw *p);
/* The end: stops the timer, pushes |final| (NULL: the attached set) with stale markers when
 * configured, waits for it (bounded by the push timeout, after any push in flight) and stops
 * the thread; a failure is a WARN. Returns 0, or SB_EIO when the last push failed. */
int sb_prw_finish(sb_prw *p, const sb_metrics *final);

#endif
