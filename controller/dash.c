/* The dashboard view of a run (controller/dash.h). */
#include "controller/dash.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "controller/dashboard.h"
#include "controller/timeline.h"

#define MAX_CLIENTS 32

typedef struct client {
  struct evhttp_request *rq;
  struct evhttp_connection *conn; /* as it was when the stream began (the closecb's key) */
  size_t sent;                  /* timeline rows it has */
} client;

struct sb_dash {
  const sb_run_state *st;
  struct event *tick;
  sb_timeline tl;
  client clients[MAX_CLIENTS];
  size_t nclients;
  int finished;
};

/* The generators' health (controller/run_state.h), spliced into the document before its closing
 * brace: "generator": {"now": "generator saturated: ..." or "", "agents": [{"cpu": 0.97,
 * "lag_ms": 12.0}, ...] (the agents' order; null for an agent that does not measure)}. */
static int put_generator(sb_buf *out, size_t at, const sb_run_state *st) {
  if (out->len <= at + 1 || out->data[out->len - 1] != '}') return 0;
  char now[400];
  sb_run_state_generator_now(st, now, sizeof(now));
  out->len--;
  int rc = sb_buf_puts(out, ",\"generator\":{\"now\":\"");
  for (const char *p = now; *p && !rc; p++) /* agent names: JSON-escape quotes and backslashes */
    rc = (*p == '"' || *p == '\\') ? sb_buf_printf(out, "\\%c", *p)
         : (unsigned char)*p < 0x20 ? 0
                                     : sb_buf_append(out, p, 1);
  rc |= sb_buf_puts(out, "\",\"agents\":[");
  for (size_t i = 0; i < st->nagents && i < 256; i++) {
    const sb_rs_gen *g = &st->agents[i]->gen;
    if (g->workers)
      rc |= sb_buf_printf(out, "%s{\"cpu\":%.3f,\"lag_ms\":%.1f}", i ? "," : "",
                          (double)g->cpu_max_pm / 1000.0, (double)g->lag_max_us / 1e3);
    else
      rc |= sb_buf_puts(out, i ? ",null" : "null");
  }
  return rc | sb_buf_puts(out, "]}}");
}

/* The document of rows [from, n): status, timeline, per-name table, thresholds, checks, agents. */
static int document(sb_dash *d, size_t from, sb_buf *out) {
  const sb_run_state *st = d->st;
  sb_dash_threshold th[64];
  sb_dash_agent ag[256];
  size_t nth = 0, nag = 0;
  for (size_t i = 0; i < st->nthr && nth < 64; i++, nth++)
    th[nth] = (sb_dash_threshold){st->thr[i].submetric, st->thr[i].expr,
                                  st->thr_res ? st->thr_res[i].ok : 1};
  for (size_t i = 0; i < st->nagents && nag < 256; i++, nag++) {
    const sb_rs_agent *a = st->agents[i];
    ag[nag] = (sb_dash_agent){a->name, sb_agent_state_name(a->state), a->state == SB_AGENT_LOST,
                              (double)a->vus, (double)a->iterations, (double)a->requests,
                              (double)a->offset_us / 1e3, (double)a->rtt_us / 1e3};
  }
  /* checks: one row per `check` tag value of the checks rate */
  sb_dash_check ck[128];
  size_t nck = 0, it = 0;
  sb_series *s;
  while (st->metrics && (s = sb_metrics_next(st->metrics, &it))) {
    if (s->metric != SB_M_CHECKS || !s->tags) continue;
    const char *name = sb_tagset_get(s->tags, "check");
    if (!name) continue;
    size_t k = 0;
    while (k < nck && strcmp(ck[k].name, name)) k++;
    if (k == nck) {
      if (nck == 128) continue;
      ck[nck++] = (sb_dash_check){name, 0, 0};
    }
    ck[k].passes += (double)s->trues;
    ck[k].fails += (double)(s->total - s->trues);
  }
  sb_dash_input in = {.phase = sb_run_phase_name(st->phase),
                      .elapsed_s = sb_run_state_elapsed(st, sb_clock_mono_us()),
                      .script = st->script, .timeline = &d->tl, .from = from,
                      .total = st->metrics, .thresholds = th, .nthresholds = nth, .checks = ck,
                      .nchecks = nck, .agents = ag, .nagents = nag};
  size_t at = out->len;
  int rc = sb_dashboard_json(out, &in);
  return rc ? rc : put_generator(out, at, st);
}

static void drop_client(sb_dash *d, size_t i) {
  d->clients[i] = d->clients[--d->nclients];
}

/* A stream whose peer went away while its reply was open: libevent detaches the request from
 * the connection and leaves it to us; ending the reply frees it. */
static int gone(sb_dash *d, size_t i) {
  if (evhttp_request_get_connection(d->clients[i].rq)) return 0;
  struct evhttp_request *rq = d->clients[i].rq;
  drop_client(d, i);
  evhttp_send_reply_end(rq);
  return 1;
}

static void push(sb_dash *d) {
  for (size_t i = 0; i < d->nclients; i++) {
    if (gone(d, i)) {
      i--;
      continue;
    }
    client *c = &d->clients[i];
    sb_buf b;
    sb_buf_init(&b);
    struct evbuffer *e = evbuffer_new();
    if (e && !sb_buf_puts(&b, "data: ") && !document(d, c->sent, &b) &&
        !sb_buf_puts(&b, "\n\n")) {
      evbuffer_add(e, b.data, b.len);
      evhttp_send_reply_chunk(c->rq, e);
      c->sent = d->tl.n;
    }
    if (e) evbuffer_free(e);
    sb_buf_clear(&b);
  }
}

static void sample(sb_dash *d) {
  const sb_run_state *st = d->st;
  if (!st->metrics || !st->start_mono_us) return;
  double t = sb_run_state_elapsed(st, sb_clock_mono_us());
  if (d->tl.n && t <= d->tl.p[d->tl.n - 1].t) return;
  (void)sb_timeline_add_total(&d->tl, t, st->metrics, (double)sb_run_state_vus(st, 0));
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  sb_dash *d = arg;
  sample(d);
  push(d);
}

int sb_dash_new(sb_dash **out, struct event_base *base, const sb_run_state *st) {
  sb_dash *d = calloc(1, sizeof(*d));
  if (!d) return SB_ENOMEM;
  d->st = st;
  sb_timeline_init(&d->tl);
  d->tick = event_new(base, -1, EV_PERSIST, on_tick, d);
  if (!d->tick) {
    free(d);
    return SB_ENOMEM;
  }
  struct timeval sec = {1, 0};
  event_add(d->tick, &sec);
  *out = d;
  return 0;
}

static void on_client_close(struct evhttp_connection *conn, void *arg) {
  sb_dash *d = arg;
  for (size_t i = 0; i < d->nclients; i++)
    if (d->clients[i].conn == conn) {
      struct evhttp_request *rq = d->clients[i].rq;
      drop_client(d, i);
      /* the peer left mid-reply: libevent detached the request before closing the connection,
       * and it is ours to free (a request still attached goes with the connection) */
      if (!evhttp_request_get_connection(rq)) evhttp_send_reply_end(rq);
      return;
    }
}

void sb_dash_finish(sb_dash *d) {
  if (!d || d->finished) return;
  d->finished = 1;
  event_del(d->tick);
  sample(d);
  push(d);
  while (d->nclients) {
    struct evhttp_request *rq = d->clients[0].rq;
    struct evhttp_connection *conn = evhttp_request_get_connection(rq);
    if (conn) evhttp_connection_set_closecb(conn, NULL, NULL);
    drop_client(d, 0);
    evhttp_send_reply_end(rq); /* frees a request whose peer is gone too */
  }
}

/* Free after the server (sb_api_free): closing its connections drops the streams left. */
void sb_dash_free(sb_dash *d) {
  if (!d) return;
  if (d->tick) event_free(d->tick);
  sb_timeline_clear(&d->tl);
  free(d);
}

static void reply(struct evhttp_request *rq, int status, const char *type, const char *body,
                  size_t len) {
  struct evbuffer *e = evbuffer_new();
  if (e) evbuffer_add(e, body, len);
  evhttp_add_header(evhttp_request_get_output_headers(rq), "Content-Type", type);
  evhttp_add_header(evhttp_request_get_output_headers(rq), "Cache-Control", "no-store");
  evhttp_send_reply(rq, status, status == 200 ? "OK" : "Service Unavailable", e);
  if (e) evbuffer_free(e);
}

int sb_dash_serve(sb_dash *d, struct evhttp_request *rq, const char *path) {
  if (strncmp(path, "/dashboard", 10) != 0 || evhttp_request_get_command(rq) != EVHTTP_REQ_GET)
    return 0;
  const char *rest = path + 10;
  if (!*rest || !strcmp(rest, "/")) {
    size_t len;
    const char *page = sb_dashboard_page(&len);
    reply(rq, 200, "text/html; charset=utf-8", page, len);
    return 1;
  }
  if (!strcmp(rest, "/data")) {
    sb_buf b;
    sb_buf_init(&b);
    if (document(d, 0, &b)) reply(rq, 503, "text/plain", "out of memory\n", 14);
    else reply(rq, 200, "application/json", b.data, b.len);
    sb_buf_clear(&b);
    return 1;
  }
  if (strcmp(rest, "/events")) return 0;
  if (d->finished || d->nclients == MAX_CLIENTS) {
    reply(rq, 503, "text/plain", "no more event streams\n", 22);
    return 1;
  }
  struct evkeyvalq *h = evhttp_request_get_output_headers(rq);
  evhttp_add_header(h, "Content-Type", "text/event-stream");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evhttp_send_reply_start(rq, 200, "OK");
  struct evhttp_connection *conn = evhttp_request_get_connection(rq);
  d->clients[d->nclients++] = (client){rq, conn, 0};
  evhttp_connection_set_closecb(conn, on_client_close, d);
  push(d); /* the run so far at once */
  return 1;
}

int sb_dash_report(sb_dash *d, const char *path, sb_err *err) {
  sb_buf b;
  sb_buf_init(&b);
  if (document(d, 0, &b)) {
    sb_buf_clear(&b);
    return sb_err_set(err, SB_ENOMEM, "--report: out of memory");
  }
  int rc = sb_report_write(path, b.data, b.len, err);
  sb_buf_clear(&b);
  return rc;
}
