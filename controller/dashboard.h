/* The live dashboard and the HTML report: one self-contained page (controller/dashboard.html,
 * embedded at build time: no CDN, nothing fetched but the controller's own events) and the JSON
 * it draws from.
 *
 * Live, the page follows /dashboard/events (server-sent events, one sb_dashboard_json() document
 * per interval, the timeline's new rows only). As a report, the whole run's document is embedded
 * in the page, which then opens offline. */
#ifndef SB_DASHBOARD_H
#define SB_DASHBOARD_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/metrics.h"
#include "controller/timeline.h"

/* The page (HTML, |*len| bytes; static). */
const char *sb_dashboard_page(size_t *len);

typedef struct sb_dash_threshold {
  const char *metric, *expr;
  int ok;
} sb_dash_threshold;

typedef struct sb_dash_check {
  const char *name;
  double passes, fails;
} sb_dash_check;

typedef struct sb_dash_agent {
  const char *name, *state; /* state: "ok", "lost", ... */
  int lost;
  double vus, iterations, requests, offset_ms, rtt_ms;
} sb_dash_agent;

/* What one document says. Everything optional (NULL / 0). */
typedef struct sb_dash_input {
  const char *phase;             /* "setup", "running", "teardown", "done", ... */
  double elapsed_s;
  const char *script;            /* the entry, for the report's title */
  const sb_timeline *timeline;
  size_t from;                   /* first timeline row to send */
  const sb_metrics *total;       /* cumulative, for the table per request name */
  const sb_dash_threshold *thresholds;
  size_t nthresholds;
  const sb_dash_check *checks;
  size_t nchecks;
  const sb_dash_agent *agents;
  size_t nagents;
} sb_dash_input;

/* Appends the document: {"status":{...},"timeline":{...},"urls":[...],"thresholds":[...],
 * "checks":[...],"agents":[...]}. Returns 0 or SB_ENOMEM. */
int sb_dashboard_json(sb_buf *out, const sb_dash_input *in);

/* Writes the report to |path|: the page with |doc| (an sb_dashboard_json() document of the whole
 * run) embedded. Returns 0, SB_EIO (|err| names the file) or SB_ENOMEM. */
int sb_report_write(const char *path, const char *doc, size_t len, sb_err *err);

#endif
