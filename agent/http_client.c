/* HTTP/1.1 client for one VU over libevent bufferevents and http-parser (see http_client.h).
 *
 * One request is in flight per client. Connections live in a short list keyed by host:port; an
 * idle one keeps its read/event callbacks armed so a server close is noticed and the connection
 * dropped before it is reused. The request bytes are built once into |c->req| (memory reused), so
 * a request that dies on a reused connection before any response byte can be replayed on a fresh
 * one, as Go's transport does for idempotent methods. Every completion runs from a loop callback
 * and calls the user's callback as its very last step, so the callback may start the next
 * request (or free the client). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "agent/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <http_parser.h>

#include "common/err.h"
#include "common/hostport.h"

#define USER_AGENT "speedboat/0.1"
#define MAX_IDLE 8
#define DNS_CACHE 8

typedef struct conn {
  struct conn *next;
  sb_http_client *c;
  struct bufferevent *bev;
  char host[256]; /* key: host as written in the URL */
  int port;
  int busy; /* carrying the request in flight */
  int used; /* has carried a request before (reuse) */
  char ip[46];
} conn;

typedef struct dns_entry {
  char host[256];
  struct sockaddr_storage sa; /* port 0; set per request */
  socklen_t salen;
} dns_entry;

struct sb_http_client {
  struct event_base *base;
  conn *conns;
  struct event *timer; /* request timeout */
  struct event *defer; /* delivers an immediate failure from the loop */
  dns_entry dns[DNS_CACHE];
  size_t ndns, dns_next;
  sb_buf req; /* request bytes, kept for a replay */
  /* request in flight */
  conn *cur;
  sb_http_res *res;
  sb_http_done_cb cb;
  void *ud;
  int idempotent, head, retried, got_byte, done, sent, leftover;
  struct sockaddr_storage sa;
  socklen_t salen;
  char host[256];
  int port;
  http_parser parser;
  int hstate; /* 0 none, 1 in a name, 2 in a value, 3 headers done */
  size_t off[SB_HTTP_MAX_HEADERS][2];
  double t_start, t_conn, t_connected, t_write, t_sent, t_first, t_end;
  int err_code; /* pending failure for |defer| */
  const char *err_msg;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sb_http_res_init(sb_http_res *res) {
  memset(res, 0, sizeof(*res));
  sb_buf_init(&res->head);
  sb_buf_init(&res->body);
  res->proto = "HTTP/1.1";
}

void sb_http_res_clear(sb_http_res *res) {
  sb_buf_clear(&res->head);
  sb_buf_clear(&res->body);
  res->nheaders = 0;
}

static void res_reset(sb_http_res *res) {
  res->status = 0;
  res->proto = "HTTP/1.1";
  res->error = NULL;
  res->error_code = 0;
  sb_buf_reset(&res->head);
  sb_buf_reset(&res->body);
  res->nheaders = 0;
  memset(&res->timings, 0, sizeof(res->timings));
  res->bytes_sent = res->bytes_received = 0;
  res->remote_ip[0] = '\0';
  res->remote_port = 0;
}

/* --- connections ------------------------------------------------------------------------- */

static void conn_free(conn *k) {
  sb_http_client *c = k->c;
  for (conn **p = &c->conns; *p; p = &(*p)->next)
    if (*p == k) {
      *p = k->next;
      break;
    }
  if (c->cur == k) c->cur = NULL;
  bufferevent_free(k->bev);
  free(k);
}

/* Keeps at most MAX_IDLE idle connections: drops the idle ones beyond that, oldest last in the
 * list (new connections are pushed at the head). */
static void pool_trim(sb_http_client *c) {
  int n = 0;
  conn *k = c->conns, *next;
  for (; k; k = next) {
    next = k->next;
    if (!k->busy && ++n > MAX_IDLE) conn_free(k);
  }
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* --- completion -------------------------------------------------------------------------- */

/* Ends the request in flight: fills the timings, stops the timer, and calls the callback last. A
 * failed request (|code| != 0) closes its connection; a finished one goes idle or is closed when
 * the server asked for it. */
static void finish(sb_http_client *c, int code, const char *msg) {
  sb_http_res *res = c->res;
  sb_http_done_cb cb = c->cb;
  void *ud = c->ud;
  double end = now_ms();
  conn *k = c->cur;
  sb_http_timings *t = &res->timings;

  evtimer_del(c->timer);
  if (code) {
    res->status = 0;
    res->nheaders = 0;
    res->error = msg;
    res->error_code = code;
  }
  if (c->t_write > 0) {
    double sent = c->t_sent > 0 ? c->t_sent : (c->t_first > 0 ? c->t_first : end);
    t->sending = sent - c->t_write;
    if (c->t_first > 0) {
      t->waiting = c->t_first - sent;
      t->receiving = end - c->t_first;
    } else {
      t->waiting = end - sent;
    }
  }
  t->duration = t->sending + t->waiting + t->receiving;
  if (k) {
    if (code || !http_should_keep_alive(&c->parser)) {
      conn_free(k);
    } else {
      k->busy = 0;
      k->used = 1;
      pool_trim(c);
    }
  }
  c->cur = NULL;
  c->res = NULL;
  c->cb = NULL;
  c->ud = NULL;
  if (cb) cb(res, ud);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
  finish(arg, SB_HTTP_ERR_TIMEOUT, "request timeout");
}

static void on_defer(evutil_socket_t fd, short what, void *arg) {
  sb_http_client *c = arg;
  finish(c, c->err_code, c->err_msg);
}

static void fail_later(sb_http_client *c, int code, const char *msg) {
  struct timeval tv = {0, 0};
  c->err_code = code;
  c->err_msg = msg;
  if (c->cur) conn_free(c->cur);
  evtimer_add(c->defer, &tv);
}

/* --- response parsing -------------------------------------------------------------------- */

static int on_message_begin(http_parser *p) {
  sb_http_client *c = p->data;
  c->hstate = 0;
  c->res->nheaders = 0;
  sb_buf_reset(&c->res->head);
  sb_buf_reset(&c->res->body);
  return 0;
}

/* Appends a name or value piece to res->head, starting a new NUL-separated string when the
 * parser switches between names and values; offsets become pointers in on_headers_complete. */
static int header_piece(sb_http_client *c, int state, const char *at, size_t len) {
  sb_http_res *res = c->res;
  if (c->hstate == 3) return 0; /* trailers: ignored */
  if (c->hstate != state) {
    if (state == 1) res->nheaders++;
    if (res->head.len && sb_buf_append(&res->head, "", 1) < 0) return -1;
    c->hstate = state;
    if (res->nheaders <= SB_HTTP_MAX_HEADERS) {
      size_t i = res->nheaders - 1;
      c->off[i][state - 1] = res->head.len;
      if (state == 1) res->headers[i].name_len = 0;
      res->headers[i].value_len = 0;
    }
  }
  if (res->nheaders == 0 || res->nheaders > SB_HTTP_MAX_HEADERS) return 0;
  if (sb_buf_append(&res->head, at, len) < 0) return -1;
  sb_http_header *h = &res->headers[res->nheaders - 1];
  if (state == 1)
    h->name_len += len;
  else
    h->value_len += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  return header_piece(p->data, 1, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  return header_piece(p->data, 2, at, len);
}

static int on_headers_complete(http_parser *p) {
  sb_http_client *c = p->data;
  sb_http_res *res = c->res;
  if (res->nheaders > SB_HTTP_MAX_HEADERS) res->nheaders = SB_HTTP_MAX_HEADERS;
  for (size_t i = 0; i < res->nheaders; i++) {
    res->headers[i].name = res->head.data + c->off[i][0];
    res->headers[i].value =
        c->hstate == 1 && i == res->nheaders - 1 ? "" : res->head.data + c->off[i][1];
  }
  c->hstate = 3;
  res->status = p->status_code;
  return c->head ? 1 : 0; /* HEAD: no body follows */
}

static int on_body(http_parser *p, const char *at, size_t len) {
  sb_http_client *c = p->data;
  return sb_buf_append(&c->res->body, at, len) < 0 ? -1 : 0;
}

static int on_message_complete(http_parser *p) {
  sb_http_client *c = p->data;
  if (p->status_code / 100 == 1 && p->status_code != 101) return 0; /* 100 Continue: go on */
  c->done = 1;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds |len| bytes (0 = EOF) to the parser. Returns 0 to go on, 1 when the response is done,
 * -1 on a parse error. */
static int feed(sb_http_client *c, const char *data, size_t len) {
  size_t n = http_parser_execute(&c->parser, &settings, data, len);
  if (c->done) {
    c->leftover = n < len;
    return 1;
  }
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || n != len) return -1;
  return 0;
}

/* --- bufferevent callbacks --------------------------------------------------------------- */

static void conn_broken(sb_http_client *c, conn *k, int e);

/* Reads what the socket already holds straight into the parser (libevent's bufferevent reads 4 KB
 * per loop turn, which makes a 100 KB body cost ~25 epoll rounds). Bounded per call so other VUs
 * on the loop get their turn. Returns 1 when it finished the request itself (EOF or error), else
 * 0 with |*r| as from feed(). */
static int drain_socket(sb_http_client *c, conn *k, int *r) {
  static _Thread_local char scratch[65536];
  evutil_socket_t fd = bufferevent_getfd(k->bev);
  for (int i = 0; i < 16 && *r == 0; i++) {
    ssize_t n = recv(fd, scratch, sizeof(scratch), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (n <= 0) {
      conn_broken(c, k, n == 0 ? 0 : errno);
      return 1;
    }
    c->res->bytes_received += (uint64_t)n;
    *r = feed(c, scratch, (size_t)n);
    if (*r == 1 && c->leftover) return 0;
  }
  return 0;
}

static void on_read(struct bufferevent *bev, void *arg) {
  conn *k = arg;
  sb_http_client *c = k->c;
  struct evbuffer *in = bufferevent_get_input(bev);
  if (!k->busy) { /* bytes on an idle connection: the stream is out of step */
    conn_free(k);
    return;
  }
  if (!c->got_byte) {
    c->got_byte = 1;
    c->t_first = now_ms();
  }
  int r = 0;
  while (evbuffer_get_length(in) > 0 && r == 0) {
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
    c->res->bytes_received += v.iov_len;
    r = feed(c, v.iov_base, v.iov_len);
    evbuffer_drain(in, v.iov_len);
  }
  if (r == 0 && drain_socket(c, k, &r)) return; /* finished inside */
  if (r == 1) {
    if (c->leftover || evbuffer_get_length(in) > 0) conn_free(k); /* extra bytes: not reusable */
    finish(c, 0, NULL);
  } else if (r < 0) {
    finish(c, SB_HTTP_ERR_PROTOCOL, "malformed HTTP response");
  }
}

static void on_write(struct bufferevent *bev, void *arg) {
  conn *k = arg;
  sb_http_client *c = k->c;
  if (k->busy && !c->sent) {
    c->sent = 1;
    c->t_sent = now_ms();
  }
}

static int start_conn(sb_http_client *c);

/* Writes the request on the idle connection |k|. A request fits the socket buffer nearly always:
 * send it at once, which spares the two epoll_ctl calls of arming and disarming the bufferevent's
 * write event. What the socket does not take (or an error, which the bufferevent then reports
 * through on_event as usual) goes through the bufferevent. */
static void send_request(sb_http_client *c, conn *k) {
  struct evbuffer *out = bufferevent_get_output(k->bev);
  if (evbuffer_get_length(out) == 0) {
    ssize_t n = send(bufferevent_getfd(k->bev), c->req.data, c->req.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)c->req.len) {
      c->sent = 1;
      c->t_sent = now_ms();
      return;
    }
    if (n > 0) {
      evbuffer_add(out, c->req.data + n, c->req.len - (size_t)n);
      return;
    }
  }
  evbuffer_add(out, c->req.data, c->req.len);
}

/* Retries the request on a new connection when a reused one died before any response byte
 * (the server closed it as we wrote), as Go does for idempotent requests. Returns 1 if retried. */
static int maybe_retry(sb_http_client *c, conn *k) {
  if (!k->used || c->got_byte || c->retried || !c->idempotent) return 0;
  c->retried = 1;
  conn_free(k);
  c->t_write = c->t_sent = 0;
  c->sent = 0;
  c->res->bytes_sent = 0;
  if (start_conn(c) < 0) {
    fail_later(c, SB_HTTP_ERR_GENERIC, "dial: cannot create socket");
  }
  return 1;
}

static void error_of(int e, int connected, int *code, const char **msg) {
  switch (e) {
  case ECONNREFUSED:
    *code = SB_HTTP_ERR_CONN_REFUSED;
    *msg = "dial: connection refused";
    return;
  case ECONNRESET:
    *code = SB_HTTP_ERR_CONN_RESET;
    *msg = "read: connection reset by peer";
    return;
  case EPIPE:
    *code = SB_HTTP_ERR_CONN_RESET;
    *msg = "write: broken pipe";
    return;
  case ETIMEDOUT:
    *code = 1211;
    *msg = "dial: i/o timeout";
    return;
  case ENETUNREACH:
    *code = 1210;
    *msg = "dial: network is unreachable";
    return;
  case EHOSTUNREACH:
    *code = 1210;
    *msg = "dial: no route to host";
    return;
  default:
    *code = connected ? SB_HTTP_ERR_GENERIC : 1210;
    *msg = connected ? "connection error" : "dial: connection failed";
  }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  conn *k = arg;
  sb_http_client *c = k->c;
  if (!k->busy) { /* idle connection closed or broken: forget it */
    conn_free(k);
    return;
  }
  if (what & BEV_EVENT_CONNECTED) {
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->t_connected = c->t_write = now_ms();
    c->res->timings.connecting = c->t_connected - c->t_conn;
    /* k6: blocked runs from asking for a connection to having one (DNS, connect, TLS). */
    if (!c->retried) c->res->timings.blocked = c->t_connected - c->t_start;
    return;
  }
  conn_broken(c, k, (what & BEV_EVENT_EOF) ? 0 : EVUTIL_SOCKET_ERROR());
}

/* The busy connection |k| hit EOF (|e| == 0) or socket error |e|: completes a read-until-close
 * response, replays the request once, or fails it. */
static void conn_broken(sb_http_client *c, conn *k, int e) {
  int code;
  const char *msg;
  if (!c->got_byte && maybe_retry(c, k)) return;
  if (e == 0) {
    int r = c->got_byte ? feed(c, NULL, 0) : -1;
    if (r == 1) {
      finish(c, 0, NULL);
      return;
    }
    code = SB_HTTP_ERR_EOF;
    msg = c->got_byte ? "unexpected EOF" : "EOF";
  } else {
    error_of(e, k->used || c->t_connected > 0, &code, &msg);
  }
  finish(c, code, msg);
}

/* --- starting a request ------------------------------------------------------------------ */

/* Resolves c->host into c->sa (port c->port), from the cache or getaddrinfo (blocking). Returns 0
 * or -1 when the name does not resolve. */
static int resolve(sb_http_client *c) {
  dns_entry *d = NULL;
  for (size_t i = 0; i < c->ndns; i++)
    if (strcmp(c->dns[i].host, c->host) == 0) d = &c->dns[i];
  if (!d) {
    struct addrinfo hints = {0}, *ai = NULL, *pick;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (sb_hostport_lookup(c->host, NULL, &hints, &ai) != 0 || !ai) return -1;
    for (pick = ai; pick && pick->ai_family != AF_INET; pick = pick->ai_next) {}
    if (!pick) pick = ai; /* IPv4 first, as most targets listen there; else what there is */
    d = &c->dns[c->dns_next];
    c->dns_next = (c->dns_next + 1) % DNS_CACHE;
    if (c->ndns < DNS_CACHE) c->ndns++;
    snprintf(d->host, sizeof(d->host), "%s", c->host);
    memcpy(&d->sa, pick->ai_addr, pick->ai_addrlen);
    d->salen = pick->ai_addrlen;
    freeaddrinfo(ai);
  }
  memcpy(&c->sa, &d->sa, d->salen);
  c->salen = d->salen;
  if (c->sa.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&c->sa)->sin6_port = htons(c->port);
  else
    ((struct sockaddr_in *)&c->sa)->sin_port = htons(c->port);
  return 0;
}

static void set_remote(sb_http_client *c, conn *k) {
  snprintf(c->res->remote_ip, sizeof(c->res->remote_ip), "%s", k->ip);
  c->res->remote_port = k->port;
}

/* Opens a new connection for the request in flight and queues the request bytes on it. Returns 0
 * or -1 (a failure the caller reports); a refused connect arrives later through on_event. */
static int start_conn(sb_http_client *c) {
  conn *k = calloc(1, sizeof(*k));
  if (!k) return -1;
  k->c = c;
  k->port = c->port;
  k->busy = 1;
  snprintf(k->host, sizeof(k->host), "%s", c->host);
  if (c->sa.ss_family == AF_INET6)
    evutil_inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c->sa)->sin6_addr, k->ip, sizeof(k->ip));
  else
    evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)&c->sa)->sin_addr, k->ip, sizeof(k->ip));
  k->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!k->bev) {
    free(k);
    return -1;
  }
  bufferevent_setcb(k->bev, on_read, on_write, on_event, k);
  k->next = c->conns;
  c->conns = k;
  c->cur = k;
  set_remote(c, k);
  c->t_conn = now_ms();
  if (!c->retried) c->res->timings.blocked = c->t_conn - c->t_start;
  bufferevent_enable(k->bev, EV_READ | EV_WRITE);
  evbuffer_add(bufferevent_get_output(k->bev), c->req.data, c->req.len);
  c->res->bytes_sent = c->req.len;
  if (bufferevent_socket_connect(k->bev, (struct sockaddr *)&c->sa, (int)c->salen) < 0) {
    int code;
    const char *msg;
    error_of(EVUTIL_SOCKET_ERROR(), 0, &code, &msg);
    fail_later(c, code, msg);
  }
  return 0;
}

static int is_idempotent(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "TRACE") ||
         !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

static int has_header(const sb_http_req *req, const char *name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (strlen(name) == req->headers[i].name_len &&
        strncasecmp(req->headers[i].name, name, req->headers[i].name_len) == 0)
      return 1;
  return 0;
}

/* Writes the request line and headers into c->req. Returns 0 or SB_ENOMEM. */
static int build_request(sb_http_client *c, const sb_http_req *req, const char *url,
                         const struct http_parser_url *u, int v6) {
  sb_buf *b = &c->req;
  const char *path = "/";
  int path_len = 1;
  if (u->field_set & (1 << UF_PATH)) {
    path = url + u->field_data[UF_PATH].off;
    path_len = u->field_data[UF_PATH].len;
  }
  sb_buf_reset(b);
  int r = sb_buf_printf(b, "%s %.*s", req->method, path_len, path);
  if (u->field_set & (1 << UF_QUERY))
    r |= sb_buf_printf(b, "?%.*s", (int)u->field_data[UF_QUERY].len,
                       url + u->field_data[UF_QUERY].off);
  r |= sb_buf_puts(b, " HTTP/1.1\r\n");
  if (!has_header(req, "Host")) {
    r |= sb_buf_printf(b, v6 ? "Host: [%s]" : "Host: %s", c->host);
    r |= c->port != 80 ? sb_buf_printf(b, ":%d\r\n", c->port) : sb_buf_puts(b, "\r\n");
  }
  if (!has_header(req, "User-Agent")) r |= sb_buf_puts(b, "User-Agent: " USER_AGENT "\r\n");
  for (size_t i = 0; i < req->nheaders; i++)
    r |= sb_buf_printf(b, "%.*s: %.*s\r\n", (int)req->headers[i].name_len, req->headers[i].name,
                       (int)req->headers[i].value_len, req->headers[i].value);
  int want_len = req->body || req->body_len || !strcmp(req->method, "POST") ||
                 !strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH");
  if (want_len && !has_header(req, "Content-Length"))
    r |= sb_buf_printf(b, "Content-Length: %zu\r\n", req->body_len);
  r |= sb_buf_puts(b, "\r\n");
  if (req->body_len) r |= sb_buf_append(b, req->body, req->body_len);
  return r ? SB_ENOMEM : 0;
}

/* Parses the URL into c->host/c->port and builds the request. Returns 0 or SB_EINVAL/SB_ENOMEM
 * with res->error set. */
static int prepare(sb_http_client *c, const sb_http_req *req, sb_http_res *res) {
  struct http_parser_url u;
  const char *url = req->url ? req->url : "";
  http_parser_url_init(&u);
  if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 || !(u.field_set & (1 << UF_HOST)) ||
      !(u.field_set & (1 << UF_SCHEMA))) {
    res->error = "invalid URL";
    res->error_code = SB_HTTP_ERR_BAD_URL;
    return SB_EINVAL;
  }
  const char *schema = url + u.field_data[UF_SCHEMA].off;
  if (u.field_data[UF_SCHEMA].len != 4 || strncasecmp(schema, "http", 4) != 0) {
    res->error = "unsupported protocol scheme (only http:// for now)";
    res->error_code = SB_HTTP_ERR_BAD_URL;
    return SB_EINVAL;
  }
  size_t hl = u.field_data[UF_HOST].len;
  if (hl == 0 || hl >= sizeof(c->host)) {
    res->error = "invalid URL host";
    res->error_code = SB_HTTP_ERR_BAD_URL;
    return SB_EINVAL;
  }
  memcpy(c->host, url + u.field_data[UF_HOST].off, hl);
  c->host[hl] = '\0';
  c->port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
  int v6 = strchr(c->host, ':') != NULL;
  return build_request(c, req, url, &u, v6) < 0 ? SB_ENOMEM : 0;
}

int sb_http_client_request(sb_http_client *c, const sb_http_req *req, sb_http_res *res,
                           sb_http_done_cb cb, void *ud) {
  if (c->res) sb_http_client_cancel(c);
  res_reset(res);
  c->t_start = now_ms();
  if (!req->method || !*req->method) {
    res->error = "missing method";
    res->error_code = SB_HTTP_ERR_GENERIC;
    return SB_EINVAL;
  }
  int r = prepare(c, req, res);
  if (r < 0) return r;
  c->res = res;
  c->cb = cb;
  c->ud = ud;
  c->idempotent = is_idempotent(req->method) && !req->body_len;
  c->head = !strcmp(req->method, "HEAD");
  c->retried = c->got_byte = c->done = c->sent = c->leftover = 0;
  c->t_conn = c->t_connected = c->t_write = c->t_sent = c->t_first = 0;
  c->cur = NULL;
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  c->hstate = 0;
  double tmo = req->timeout_ms > 0 ? req->timeout_ms : 60000;
  struct timeval tv = {(time_t)(tmo / 1000), (suseconds_t)((long)(tmo * 1000) % 1000000)};
  evtimer_add(c->timer, &tv);

  for (conn *k = c->conns; k; k = k->next)
    if (!k->busy && k->port == c->port && strcmp(k->host, c->host) == 0) {
      k->busy = 1;
      c->cur = k;
      set_remote(c, k);
      c->t_write = now_ms();
      res->timings.blocked = c->t_write - c->t_start;
      send_request(c, k);
      res->bytes_sent = c->req.len;
      return 0;
    }
  if (resolve(c) < 0) {
    res->timings.blocked = now_ms() - c->t_start;
    fail_later(c, SB_HTTP_ERR_DNS, "lookup: no such host");
    return 0;
  }
  if (start_conn(c) < 0) {
    c->res = NULL;
    c->cb = NULL;
    evtimer_del(c->timer);
    res->error = "out of memory";
    res->error_code = SB_HTTP_ERR_GENERIC;
    return SB_ENOMEM;
  }
  return 0;
}

void sb_http_client_cancel(sb_http_client *c) {
  if (!c->res) return;
  evtimer_del(c->timer);
  evtimer_del(c->defer);
  if (c->cur) conn_free(c->cur);
  c->res = NULL;
  c->cb = NULL;
  c->ud = NULL;
}

int sb_http_client_new(sb_http_client **out, struct event_base *base) {
  sb_http_client *c = calloc(1, sizeof(*c));
  if (!c) return SB_ENOMEM;
  c->base = base;
  sb_buf_init(&c->req);
  c->timer = evtimer_new(base, on_timeout, c);
  if (!c->timer) goto fail_timer;
  c->defer = evtimer_new(base, on_defer, c);
  if (!c->defer) goto fail_defer;
  *out = c;
  return 0;
fail_defer:
  event_free(c->timer);
fail_timer:
  free(c);
  return SB_ENOMEM;
}

void sb_http_client_free(sb_http_client *c) {
  if (!c) return;
  sb_http_client_cancel(c);
  while (c->conns)
    conn_free(c->conns);
  event_free(c->timer);
  event_free(c->defer);
  sb_buf_clear(&c->req);
  free(c);
}
