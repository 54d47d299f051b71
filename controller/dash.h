/* The dashboard view of a run (issue 12): a view of the run state (controller/run_state.h) that
 * samples it once a second into a timeline (controller/timeline.h), serves the dashboard page
 * and its live server-sent events through the REST API's server, and writes the HTML report.
 *
 *   GET /dashboard          the page (controller/dashboard.h), self-contained
 *   GET /dashboard/events   text/event-stream: the whole run so far, then each new second
 *   GET /dashboard/data     the whole run's document, once (JSON) */
#ifndef SB_DASH_H
#define SB_DASH_H

#include "common/err.h"
#include "controller/run_state.h"

struct event_base;
struct evhttp_request;
typedef struct sb_dash sb_dash;

/* Samples |st| (borrowed: it must outlive the view) once a second on |base|. Returns 0 or
 * SB_ENOMEM. */
int sb_dash_new(sb_dash **out, struct event_base *base, const sb_run_state *st);
/* Takes one last sample and stops sampling (the test has ended); open event streams end. */
void sb_dash_finish(sb_dash *d);
void sb_dash_free(sb_dash *d);

/* Answers |rq| when |path| is one of the dashboard's (GET only); returns 1 when it did. */
int sb_dash_serve(sb_dash *d, struct evhttp_request *rq, const char *path);

/* Writes the HTML report of the run so far to |path|. Returns 0, SB_EIO or SB_ENOMEM (|err|). */
int sb_dash_report(sb_dash *d, const char *path, sb_err *err);

#endif
