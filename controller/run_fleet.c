/* The fleet's connections: remote agents (--agents, TLS when configured) and the in-process
 * agent of a local run (a session thread behind a socketpair), read frame by frame into
 * run_msgs.c; an agent that dies or falls silent mid-run is lost (the run goes on without it,
 * or stops with --on-agent-loss=abort); heartbeats twice a second; Ctrl-C. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/session.h"
#include "common/clock.h"
#include "common/frame.h"
#include "controller/run_internal.h"

static int alive(const agent *a) { return a->bev && a->pub.state < SB_AGENT_DONE; }

void sb_run_send_to(agent *a, Speedboat__Envelope__MsgCase c, void *msg) {
  if (a->bev) sb_frame_send_msg(bufferevent_get_output(a->bev), c, msg);
}

void sb_run_send_to_all(run *r, Speedboat__Envelope__MsgCase c, void *msg) {
  for (size_t i = 0; i < r->nagents; i++)
    if (alive(&r->agents[i])) sb_run_send_to(&r->agents[i], c, msg);
}

void sb_run_stop_all(run *r, int abort, const char *reason) {
  Speedboat__Stop m = SPEEDBOAT__STOP__INIT;
  m.abort = abort;
  m.reason = (char *)reason;
  sb_run_send_to_all(r, SPEEDBOAT__ENVELOPE__MSG_STOP, &m);
  r->st.stopping = 1;
}

void sb_run_fail(run *r, int code, const char *msg) {
  if (!r->failed) {
    r->failed = code;
    snprintf(r->error, sizeof(r->error), "%.1000s", msg);
  }
  sb_run_stop_all(r, 1, msg);
  r->st.phase = SB_PHASE_ENDED;
  event_base_loopexit(r->base, NULL);
}

void sb_run_set_state(agent *a, sb_agent_state state) {
  a->pub.state = state;
  a->pub.state_us = sb_clock_mono_us();
}

/* Closes the connection of |a| now (safe from its own callbacks). */
void sb_run_drop_conn(agent *a) {
  if (!a->bev) return;
  shutdown(bufferevent_getfd(a->bev), SHUT_RDWR);
  bufferevent_free(a->bev);
  a->bev = NULL;
}

/* |a| died or fell silent. Before the start that fails the run (no load was sent); during it the
 * run goes on without it, or stops with --on-agent-loss=abort. */
void sb_run_agent_lost(run *r, agent *a, const char *why) {
  int was_teardown = r->st.phase == SB_PHASE_TEARDOWN && a == r->call_agent && a->pub.state == SB_AGENT_DONE;
  if (a->pub.state >= SB_AGENT_DONE && !was_teardown) { /* finished its share: nothing is lost */
    sb_run_drop_conn(a);
    return;
  }
  char msg[SB_ERR_MAX];
  if (r->st.phase < SB_PHASE_RUNNING) {
    snprintf(msg, sizeof(msg), "agent %s: %s (before the test started; no load was sent)", a->pub.name, why);
    sb_run_set_state(a, SB_AGENT_FAILED);
    sb_run_drop_conn(a);
    sb_run_fail(r, SB_EXIT_ENGINE, msg);
    return;
  }
  a->pub.lost_at_s = r->st.start_mono_us ? (double)(sb_clock_mono_us() - r->st.start_mono_us) / 1e6 : 0;
  snprintf(a->pub.lost_why, sizeof(a->pub.lost_why), "%s", why);
  if (a->pub.state < SB_AGENT_DONE) r->st.lost++;
  sb_run_set_state(a, SB_AGENT_LOST);
  a->pub.vus = 0;
  sb_run_drop_conn(a);
  sb_run_before_line(r);
  fprintf(stderr, "WARN[%04lld] agent %s lost: %s; it had reported %llu iterations, %llu requests\n",
          sb_run_elapsed_s(r), a->pub.name, why, (unsigned long long)a->pub.iterations,
          (unsigned long long)a->pub.requests);
  if (was_teardown) {
    r->setup_ran = 1;
    r->st.phase = SB_PHASE_RUNNING;
    sb_run_maybe_teardown(r); /* another agent, if any is left */
    return;
  }
  if (r->cfg->abort_on_agent_loss && r->st.phase == SB_PHASE_RUNNING) {
    snprintf(msg, sizeof(msg), "agent %s lost (%s); stopping every agent (--on-agent-loss=abort)",
             a->pub.name, why);
    if (!r->failed) {
      r->failed = SB_EXIT_AGENT_LOST;
      snprintf(r->error, sizeof(r->error), "%s", msg);
    }
    fprintf(stderr, "ERRO[%04lld] %s\n", sb_run_elapsed_s(r), msg);
    sb_run_stop_all(r, 1, "an agent was lost");
  }
  sb_run_check_all_done(r);
}

/* |a| sent bytes that are not a frame, or one past sb_frame_agent_limits (common/frame.h): the
 * stream is unusable. A remote agent is then lost like one that died, its connection closed (the
 * run goes on without it, or fails before the start); the in-process agent fails the run. */
static void on_bad_frame(run *r, agent *a, const char *why) {
  if (r->distributed) {
    sb_run_agent_lost(r, a, why);
    return;
  }
  char msg[SB_ERR_MAX + 320];
  snprintf(msg, sizeof(msg), "agent %s: %s", a->pub.name, why);
  sb_run_fail(r, SB_EXIT_ENGINE, msg);
}

static void on_agent_read(struct bufferevent *bev, void *arg) {
  agent *a = arg;
  run *r = a->run;
  struct evbuffer *in = bufferevent_get_input(bev);
  a->pub.last_rx_us = sb_clock_mono_us();
  while (a->bev == bev && r->st.phase != SB_PHASE_ENDED) {
    Speedboat__Envelope *env = NULL;
    sb_err err;
    size_t before = evbuffer_get_length(in);
    if (!r->rx) sb_frame_rx_new(&r->rx); /* out of memory: each frame malloc'ed, still right */
    int rc = sb_frame_recv_rx(in, &sb_frame_agent_limits, r->rx, &env, &err);
    if (rc == 0) break;
    if (rc < 0) {
      on_bad_frame(r, a, err.msg);
      break;
    }
    if (env->msg_case == SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT) {
      a->pub.snap_bytes += before - evbuffer_get_length(in);
      if (r->st.phase == SB_PHASE_RUNNING) a->pub.nsnap++;
    }
    sb_run_dispatch(r, a, env);
    sb_frame_rx_done(r->rx, env);
  }
}

static void on_agent_event(struct bufferevent *bev, short what, void *arg) {
  agent *a = arg;
  run *r = a->run;
  if (what & BEV_EVENT_CONNECTED) {
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    a->pub.last_rx_us = sb_clock_mono_us();
    sb_run_send_hello(r, a);
    return;
  }
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  char why[300], tls[200];
  const char *sock = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
  if ((what & BEV_EVENT_ERROR) && r->tls) /* TLS 1.3 may report a refused certificate late */
    sock = sb_tls_describe_error(bev, tls, sizeof(tls));
  if (a->pub.state == SB_AGENT_CONNECTING)
    snprintf(why, sizeof(why), "cannot connect: %s", (what & BEV_EVENT_EOF) ? "connection closed" : sock);
  else if (a->pub.state == SB_AGENT_HELLO && !r->tls)
    snprintf(why, sizeof(why), "%s before answering hello (does the agent use TLS? see --agent-tls-*)",
             (what & BEV_EVENT_EOF) ? "connection closed" : sock);
  else if (what & BEV_EVENT_EOF)
    snprintf(why, sizeof(why), "connection closed");
  else
    snprintf(why, sizeof(why), "connection error: %s", sock);
  if (!r->distributed) { /* the in-process agent never closes first unless something broke */
    int early = a->pub.state < SB_AGENT_DONE || r->st.phase == SB_PHASE_TEARDOWN;
    sb_run_set_state(a, SB_AGENT_FAILED);
    sb_run_drop_conn(a);
    if (early) sb_run_fail(r, SB_EXIT_ENGINE, "the local agent closed the connection before the test ended");
    return;
  }
  sb_run_agent_lost(r, a, why);
}

/* Twice a second: heartbeats to every agent, and the check that each still speaks. An agent busy
 * creating its VUs (prepare) is not expected to answer until it is ready. */
void sb_run_on_beat(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  int64_t now = sb_clock_mono_us();
  int64_t lost_us = (r->cfg->agent_lost_ms > 0 ? r->cfg->agent_lost_ms : SB_RUN_LOST_MS) * (int64_t)1000;
  for (size_t i = 0; i < r->nagents && r->st.phase != SB_PHASE_ENDED; i++) {
    agent *a = &r->agents[i];
    if (!a->bev || a->pub.state == SB_AGENT_LOST || a->pub.state == SB_AGENT_FAILED) continue;
    if (a->pub.state == SB_AGENT_CONNECTING) {
      if (now - a->pub.state_us > SB_RUN_CONNECT_TIMEOUT_US) sb_run_agent_lost(r, a, "cannot connect: timed out after 10 s");
      continue;
    }
    if (a->pub.state != SB_AGENT_PREPARING && now - a->pub.last_rx_us > lost_us) {
      char why[64];
      snprintf(why, sizeof(why), "silent for %.1f s", (double)(now - a->pub.last_rx_us) / 1e6);
      sb_run_agent_lost(r, a, why);
      continue;
    }
    if (a->pub.state >= SB_AGENT_SYNC) sb_run_send_ping(a);
  }
  if (r->st.phase == SB_PHASE_RUNNING) {
    for (size_t i = 0; i < r->nagents; i++) /* sample once every agent has reported */
      if (r->agents[i].pub.state == SB_AGENT_RUNNING && !r->agents[i].pub.nsnap) return;
    sb_run_record_fleet_vus(r);
  }
}

static void *inproc_agent_main(void *arg) {
  agent *a = arg;
  sb_session_opts o = {.agent_id = "local"};
  sb_session_serve_fd(a->fd_peer, &o, NULL);
  return NULL;
}

/* Starts the in-process agent: a session thread on one end of a socketpair. */
static int start_local_agent(run *r, agent *a, sb_err *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    return sb_err_set(err, SB_EIO, "socketpair: %s", strerror(errno));
  a->in_process = 1;
  snprintf(a->pub.name, sizeof(a->pub.name), "local");
  a->fd_peer = sv[1];
  a->bev = bufferevent_socket_new(r->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
  if (!a->bev || pthread_create(&a->th, NULL, inproc_agent_main, a)) {
    close(sv[1]);
    if (!a->bev) close(sv[0]);
    a->in_process = 0;
    return sb_err_set(err, SB_ENOMEM, "cannot start the local agent");
  }
  bufferevent_setcb(a->bev, on_agent_read, NULL, on_agent_event, a);
  bufferevent_enable(a->bev, EV_READ | EV_WRITE);
  a->pub.last_rx_us = sb_clock_mono_us();
  sb_run_send_hello(r, a);
  return 0;
}

/* Starts connecting to remote agent |a| (TLS when configured). */
static int connect_agent(run *r, agent *a, sb_err *err) {
  snprintf(a->pub.name, sizeof(a->pub.name), "%s", a->addr->name);
  a->bev = r->tls ? sb_tls_bev_new(r->tls, r->base, -1, a->addr->host, BEV_OPT_CLOSE_ON_FREE)
                  : bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!a->bev) return sb_err_set(err, SB_ENOMEM, "agent %s: out of memory", a->pub.name);
  bufferevent_setcb(a->bev, on_agent_read, NULL, on_agent_event, a);
  bufferevent_enable(a->bev, EV_READ | EV_WRITE);
  sb_run_set_state(a, SB_AGENT_CONNECTING);
  if (bufferevent_socket_connect(a->bev, (const struct sockaddr *)&a->addr->sa, (int)a->addr->salen)) {
    sb_run_drop_conn(a);
    return sb_err_set(err, SB_EIO, "agent %s: cannot connect: %s", a->pub.name,
                      evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  }
  return 0;
}

void sb_run_on_sigint(evutil_socket_t fd, short what, void *arg) {
  run *r = arg;
  r->interrupted++;
  r->st.interrupted = 1;
  sb_run_before_line(r);
  if (r->st.phase < SB_PHASE_RUNNING) {
    sb_run_fail(r, SB_EXIT_EXTERNAL_ABORT, "interrupted before the test started");
    return;
  }
  if (r->interrupted == 1) {
    fprintf(stderr, "\nstopping the test (press Ctrl-C again to abort at once)\n");
    sb_run_stop_all(r, 0, "interrupted");
  } else {
    sb_run_stop_all(r, 1, "interrupted twice");
    if (r->interrupted > 2) event_base_loopexit(r->base, NULL);
  }
}

int sb_run_start_agents(run *r) {
  sb_err err;
  err.msg[0] = '\0';
  size_t n = r->distributed ? r->list.n : 1;
  r->agents = calloc(n, sizeof(*r->agents));
  r->weights = calloc(n, sizeof(*r->weights));
  if (!r->agents || !r->weights || sb_run_state_init(&r->st, r->opts, n, &err)) {
    fprintf(stderr, "ERRO %s\n", err.msg[0] ? err.msg : "out of memory");
    return SB_EXIT_ENGINE;
  }
  r->nagents = n;
  r->st.metrics = r->metrics;
  r->st.script = r->cfg->script;
  r->st.distributed = r->distributed;
  for (size_t i = 0; i < n; i++) {
    r->agents[i].run = r;
    r->agents[i].idx = i;
    r->st.agents[i] = &r->agents[i].pub;
    r->weights[i] = r->distributed ? r->list.v[i].weight : 1;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < n; i++) {
    r->agents[i].vu_offset = offset;
    r->agents[i].share_vus = sb_run_agent_max_vus(r, i);
    offset += r->agents[i].share_vus;
  }
  for (size_t i = 0; i < n; i++) {
    agent *a = &r->agents[i];
    if (!r->distributed ? start_local_agent(r, a, &err) : (a->addr = &r->list.v[i], connect_agent(r, a, &err))) {
      fprintf(stderr, "ERRO %s\n", err.msg);
      return SB_EXIT_ENGINE;
    }
  }
  return 0;
}
