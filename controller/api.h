/* The REST API: a view of the run state (controller/run_state.h) served on the controller's
 * own loop (libevent's evhttp), following k6's v1 API and its JSON:API documents:
 *
 *   GET   /v1/status        {"data": {"type": "status", "id": "default", "attributes":
 *                             {"status": 7, "paused": false, "vus": 10, "vus-max": 10,
 *                              "stopped": false, "running": true, "tainted": false}}}
 *   PATCH /v1/status        {"data": {"attributes": {"paused": true}}}   pauses the whole fleet
 *                           {"data": {"attributes": {"paused": false}}}  resumes it
 *                           {"data": {"attributes": {"vus": 20}}}        the VU count of the
 *                             running constant-vus or ramping-vus scenario, over the fleet (with
 *                             several, "scenario": "name" says which: our extension); answers
 *                             the new status
 *   GET   /v1/metrics       {"data": [{"type": "metrics", "id": "http_reqs", "attributes":
 *                             {"type": "counter", "contains": "default", "tainted": false,
 *                              "sample": {"count": 120, "rate": 11.9}}}, ...]}
 *   GET   /v1/metrics/{id}  one of them
 *   GET   /v1/groups        {"data": [{"type": "groups", "id": md5(path), "attributes": {"path",
 *                             "name", "checks": [{"id", "path", "name", "passes", "fails"}]},
 *                             "relationships": {"groups": {"data": [...]}, "parent": {...}}}]}
 *   GET   /v1/groups/{id}   one of them
 *   GET   /v1/setup         {"data": {"type": "setupData", "id": "default",
 *                             "attributes": {"data": <what setup() returned, or null>}}}
 *
 * Samples as k6's sinks format them: counter {count, rate}, gauge {value}, rate {rate, passes,
 * fails}, trend {avg, min, med, max, p(90), p(95)}, over the whole fleet. k6 v2 removed pausing
 * and scaling; here they act on every agent (see proto/speedboat.proto's Control). Errors are
 * k6's documents, {"errors": [{"status": "400", "title": "...", "detail": "..."}]}, with 400 (a
 * bad request), 404 (no such endpoint, metric or group), 405 (method), 409 (not now: the test is
 * not running). */
#ifndef SB_API_H
#define SB_API_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "controller/run_state.h"

struct event_base;

/* Splits "HOST:PORT" ("[::1]:6565" for IPv6; a port alone means localhost) into |host| and
 * |*port|. Returns 0 or SB_EINVAL with |err| saying what is wrong. */
int sb_api_parse_address(const char *address, char *host, size_t cap, int *port, sb_err *err);

/* One request, without HTTP: the handlers the server and the unit tests call. |body| (|len|
 * bytes, may be NULL) is PATCH's. Writes the JSON document to |out| and returns the HTTP status.
 * |st| is read (at monotonic |now_us|); |ctl| (may be NULL: PATCH answers 409) steers the run. */
int sb_api_handle(const sb_run_state *st, const sb_run_control *ctl, const char *method,
                  const char *path, const char *body, size_t len, int64_t now_us, sb_buf *out);

typedef struct sb_api sb_api;

/* Listens on |address| (sb_api_parse_address) on |base|, answering from |st| and |ctl| (both
 * borrowed: they must outlive the API). Returns 0, SB_EINVAL (a bad address) or SB_EIO (cannot
 * listen: |err| names the address and the reason, e.g. "address already in use"). */
int sb_api_new(sb_api **out, struct event_base *base, const char *address,
               const sb_run_state *st, const sb_run_control *ctl, sb_err *err);
/* Where it listens, "127.0.0.1:6565" (the real port when |address| asked for port 0). */
const char *sb_api_address(const sb_api *a);
/* Also serves the dashboard view's paths (controller/dash.h); NULL: none. GET /metrics (the
 * fleet's metrics for Prometheus, controller/prom.h) is always served. */
struct sb_dash;
void sb_api_set_dash(sb_api *a, struct sb_dash *d);
void sb_api_free(sb_api *a);

#endif
