/* The agent's side of the protocol: serves one controller connection.
 *
 * hello -> welcome, prepare -> (engine: VUs created) -> ready, start -> snapshots every second and
 * log lines as they come -> done; stop ends the test early. The connection's own event_base runs
 * in the calling thread; the engine's workers run beside it. Used by the agent daemon for a TCP
 * connection and by `speedboat run` for its in-process agent (one end of a socketpair). */
#ifndef SB_SESSION_H
#define SB_SESSION_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/tls.h"

struct sb_allow;

typedef struct sb_session_opts {
  const char *token;        /* required token; NULL or "" = none */
  uint64_t max_vus;         /* 0 = no limit */
  const char *agent_id;     /* reported in welcome */
  int snapshot_ms;          /* metric snapshot interval; 0 = 1000 */
  const sb_tls *tls;        /* server TLS context: the connection is TLS; NULL = plain */
  atomic_int *busy;         /* shared by the daemon's sessions: one test at a time. A session
                             * takes it (0 -> 1) after a valid hello and gives it back when it
                             * ends; a session that cannot take it answers "busy". NULL = none */
  int lost_ms;              /* controller silent this long = gone (stop the load); 0 = 4000 */
  const char *peer;         /* the controller's address, for the agent's log lines */
  const atomic_int *stopping; /* the daemon is shutting down (SIGTERM): abort the test, tell the
                               * controller and hang up, within a heartbeat. NULL = never */
  uint64_t max_archive;     /* --max-archive-size: the most a test's archive may unpack to, and
                             * with SB_LIMITS_ENVELOPE_SLACK the largest frame after hello
                             * (agent/limits.h); 0 = no limit (the in-process agent) */
  atomic_int *unauth;       /* connections not yet past hello: the daemon counts one in when it
                             * accepts, the session takes it off once (at hello, or at its end).
                             * NULL = not counted */
  int hello_ms;             /* handshake timeout: no hello within this closes; 0 = 10000 */
  const struct sb_allow *allow; /* --allow-targets (agent/allow.h): the only targets the VUs may
                                 * connect to; NULL = every target */
  uint64_t max_vu_memory;   /* --max-vu-memory: the most a test's maxVUMemory may give a VU heap;
                             * 0 = what the test says (default 256 MiB) */
} sb_session_opts;

/* Serves the connection on |fd| until the controller closes it or the test ends and the
 * controller hangs up. Takes ownership of |fd|. Returns 0, or SB_EINVAL when the session refused
 * or dropped the controller (version, token, busy, protocol error), with |why| (may be NULL)
 * saying which, or SB_ENOMEM. */
int sb_session_serve_fd(int fd, const sb_session_opts *o, sb_err *why);

#endif
