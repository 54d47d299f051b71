/* `speedboat run`'s insides, shared by its files and nothing else:
 *
 *   run.c        the whole run: compile, fleet list, outputs, the loop, the end, archive
 *   run_fleet.c  agent connections (remote and in-process), reading, loss, heartbeats, signals
 *   run_msgs.c   the protocol: what the controller sends and what it does with each answer
 *   run_print.c  the banner, log lines, the agents block after the summary, the progress tick
 *
 * The run's public face is its state (controller/run_state.h), embedded here as |st|: the views
 * (terminal progress, REST API) read it; only these files write it. */
#ifndef SB_RUN_INTERNAL_H
#define SB_RUN_INTERNAL_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>

#include "common/frame.h"
#include "common/points.h"
#include "common/snapshot.h"
#include "common/tls.h"
#include "controller/agents.h"
#include "controller/judge.h"
#include "controller/output.h"
#include "controller/run.h"
#include "controller/run_state.h"
#include "controller/targets.h"
#include "proto/speedboat.pb-c.h"

#define SB_RUN_BEAT_US 500000        /* heartbeat period, and of the check that agents speak */
#define SB_RUN_LOST_MS 4000          /* an agent silent this long is lost: seen within 5 s */
#define SB_RUN_CONNECT_TIMEOUT_US 10000000
#define SB_RUN_SYNC_PINGS 3          /* clock samples before prepare */

enum { SB_EXIT_SCRIPT_ABORTED = 108 }; /* k6's ScriptAborted: test.abort() */

struct run;
struct sb_progress;
struct sb_api;

typedef struct agent {
  sb_rs_agent pub;            /* what the views see (first: run_state points at it) */
  struct run *run;
  size_t idx;
  const sb_agent_addr *addr;  /* NULL for the in-process agent */
  struct bufferevent *bev;
  pthread_t th;               /* in-process agent thread */
  int in_process;
  int fd_peer;                /* the session's end of the socketpair, until the thread owns it */
  int nsync;                  /* clock samples taken */
  uint64_t vu_offset;         /* __VU of its first VU, minus 1 */
  uint64_t share_vus;         /* the most VUs its segment of the test runs at once */
  sb_points_dec *pdec;        /* its Points stream's definitions (outputs), made on first use */
  sb_snapshot_dec *sdec;      /* its Snapshot stream's series ids, made on first use */
  int64_t snap_time_us;       /* its last snapshot's time, its clock (req/s) */
} agent;

typedef struct run {
  const sb_run_config *cfg;
  sb_options *opts;
  sb_judge *judge;
  sb_run_state st;            /* the views' state (controller/run_state.h) */
  uint8_t *archive;           /* packed archive sent in prepare */
  size_t archive_len;
  struct event_base *base;
  struct event *ev_sigint, *ev_progress, *ev_beat;
  agent *agents;
  size_t nagents;
  sb_frame_rx *rx;            /* the agents' frames are unpacked here, one at a time (frame.h) */
  sb_agent_list list;         /* --agents / --agents-file, resolved */
  uint32_t *weights;          /* one per agent */
  char *token;                /* --agent-token-file / $SPEEDBOAT_AGENT_TOKEN */
  sb_tls *tls;
  sb_targets targets;         /* checked by every agent at prepare (distributed runs) */
  int distributed;
  char *setup_data;           /* JSON from setup(), NULL = undefined */
  int setup_ran;              /* setup finished without error: teardown is due */
  agent *call_agent;          /* where setup() or teardown() runs now */
  sb_metrics *metrics;        /* merged over the whole run */
  int interrupted;            /* Ctrl-C count */
  int failed;                 /* exit code of a fatal error, 0 when none */
  char error[SB_ERR_MAX];
  char *options_json;         /* the consolidated options (options_json.h), test.options */
  int handle_summary;         /* a module names handleSummary: the end runs it (handle_summary.h) */
  sb_outputs *outputs;        /* --out, --summary-export (controller/output.h) */
  int progress_tty;           /* stderr is a terminal */
  struct sb_progress *progress; /* the terminal view; NULL with -q or --progress=none */
  struct sb_api *api;         /* the REST API; NULL with --no-api or when it could not bind */
  struct sb_dash *dash;       /* the dashboard view (--dashboard, --report); NULL: neither */
} run;

/* --- run_fleet.c ------------------------------------------------------------------------------ */
int sb_run_start_agents(run *r);           /* connects every agent; returns an exit code */
void sb_run_drop_conn(agent *a);           /* closes |a|'s connection now (safe in callbacks) */
void sb_run_set_state(agent *a, sb_agent_state state);
void sb_run_agent_lost(run *r, agent *a, const char *why);
void sb_run_send_to(agent *a, Speedboat__Envelope__MsgCase c, void *msg);
void sb_run_send_to_all(run *r, Speedboat__Envelope__MsgCase c, void *msg);
void sb_run_stop_all(run *r, int abort, const char *reason);
void sb_run_fail(run *r, int code, const char *msg); /* stops every agent, ends the loop */
void sb_run_on_beat(evutil_socket_t fd, short what, void *arg);
void sb_run_on_sigint(evutil_socket_t fd, short what, void *arg);

/* --- run_msgs.c ------------------------------------------------------------------------------- */
void sb_run_send_hello(run *r, agent *a);
void sb_run_send_ping(agent *a);
void sb_run_dispatch(run *r, agent *a, const Speedboat__Envelope *env);
void sb_run_check_all_done(run *r);
void sb_run_maybe_teardown(run *r);
void sb_run_record_fleet_vus(run *r);
uint64_t sb_run_agent_max_vus(const run *r, size_t i);
/* The REST API's steering (controller/run_state.h's sb_run_control), sent to every agent. */
int sb_run_ctl_pause(void *ud, int paused, sb_err *err);
int sb_run_ctl_scale(void *ud, size_t idx, uint64_t vus, sb_err *err);

/* --- run_print.c ------------------------------------------------------------------------------ */
void sb_run_print_banner(const run *r);
void sb_run_print_log(const run *r, const agent *a, const Speedboat__Log *l);
void sb_run_print_agents(const run *r, FILE *out, double secs);
long long sb_run_elapsed_s(const run *r);
/* stderr is about to get a line: the progress block makes room on a TTY first. */
void sb_run_before_line(const run *r);
void sb_run_on_progress(evutil_socket_t fd, short what, void *arg);

#endif
