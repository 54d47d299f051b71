/* The agent's health endpoint: plain HTTP on its own port (--health ADDR:PORT), for systemd
 * checks, load balancers and Kubernetes probes. Off unless asked for.
 *
 *   GET /healthz  200 "ok" while the daemon's main loop runs (liveness)
 *   GET /readyz   200 "idle" when a controller may start a test here, 503 "busy" while one runs
 *                 and 503 "stopping" after SIGTERM (readiness: a busy agent cannot take a test)
 *   GET /status   200 {"state":"idle|busy|stopping","version":...,"id":...,
 *                      "capacity":{"cores":N,"memory_bytes":N,"max_vus":N|null}}
 *
 * It serves from the daemon's main event_base (libevent's evhttp), reads the state from the
 * daemon's atomics and never touches a session. No authentication: it tells only what a port
 * scan would learn plus the version and capacity, and nothing it answers changes the agent. */
#ifndef SB_HEALTH_H
#define SB_HEALTH_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/err.h"

struct event_base;

typedef struct sb_health_state {
  const atomic_int *busy;     /* 1 while a controller holds the agent (NULL = never busy) */
  const atomic_int *stopping; /* 1 once the daemon is shutting down (NULL = never) */
  const char *agent_id;       /* reported in /status; kept, not copied (NULL = none) */
  uint64_t max_vus;           /* --max-vus; 0 = no limit (null in /status) */
} sb_health_state;

typedef struct sb_health sb_health;

/* Listens on |listen| ("ADDR:PORT", "[::1]:PORT"; port 0 = any free port) and serves the paths
 * above from |base|. Keeps |st| (it must outlive the server). Returns 0, SB_EINVAL (a bad
 * address, or it cannot be bound: |err| says which and why) or SB_ENOMEM. */
int sb_health_new(sb_health **out, struct event_base *base, const char *listen,
                  const sb_health_state *st, sb_err *err);

/* The address actually bound, "127.0.0.1:41234" or "[::1]:41234". */
const char *sb_health_addr(const sb_health *h);

/* Closes the listener and every open probe connection. Accepts NULL. */
void sb_health_free(sb_health *h);

/* "idle", "busy" or "stopping" for |st|. */
const char *sb_health_state_name(const sb_health_state *st);

#endif
