/* sb-target: the project's test target server (libevent evhttp, one thread).
 *
 *   sb-target --listen 127.0.0.1:PORT [--any]
 *
 * Prints "listening 127.0.0.1:<port>" once bound (PORT 0 picks a free port). Any path answers;
 * query parameters: status=N (response status), delay=MS (answer after a timer), size=N (body of
 * N bytes), close=1 (Connection: close). Default: 200 {"ok":true}. POST answers {"len":N} with the
 * body length. GET /stats answers {"requests":N} (requests other than /stats so far). Binds only
 * loopback addresses unless --any. Exits cleanly on SIGTERM/SIGINT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#define MAX_SIZE (256u << 20)
#define MAX_DELAY_MS (3600 * 1000)

typedef struct target {
  struct event_base *base;
  struct evhttp *http;
  unsigned long long requests;
  char blk[4096];
} target;

/* A reply held back by delay=MS; dropped if the client goes away first (evhttp frees the
 * request with its connection, so the timer must not fire after that). */
typedef struct pending {
  target *t;
  struct evhttp_request *req;
  struct event *ev;
  int status;
  size_t size;
  int close;
  int post;
  size_t post_len;
} pending;

static void reply(target *t, struct evhttp_request *req, int status, size_t size, int close,
                  int post, size_t post_len) {
  struct evbuffer *out = evbuffer_new();
  struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
  if (!out) {
    evhttp_send_error(req, 500, "out of memory");
    return;
  }
  if (post) {
    evbuffer_add_printf(out, "{\"len\":%zu}", post_len);
    evhttp_add_header(oh, "Content-Type", "application/json");
  } else if (size != (size_t)-1) {
    for (size_t i = 0; i < size; i += sizeof(t->blk))
      evbuffer_add(out, t->blk, size - i < sizeof(t->blk) ? size - i : sizeof(t->blk));
    evhttp_add_header(oh, "Content-Type", "text/plain");
  } else {
    evbuffer_add_printf(out, "{\"ok\":true}");
    evhttp_add_header(oh, "Content-Type", "application/json");
  }
  if (close) evhttp_add_header(oh, "Connection", "close");
  evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", out);
  evbuffer_free(out);
}

static void pending_free(pending *p) {
  evhttp_connection_set_closecb(evhttp_request_get_connection(p->req), NULL, NULL);
  event_free(p->ev);
  free(p);
}

static void on_delay(evutil_socket_t fd, short what, void *arg) {
  pending *p = arg;
  target *t = p->t;
  struct evhttp_request *req = p->req;
  int status = p->status, close = p->close, post = p->post;
  size_t size = p->size, post_len = p->post_len;
  pending_free(p);
  reply(t, req, status, size, close, post, post_len);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg) {
  pending *p = arg;
  pending_free(p);
}

static long param(struct evkeyvalq *q, const char *name, long def, long max) {
  const char *v = evhttp_find_header(q, name);
  if (!v) return def;
  char *end;
  long n = strtol(v, &end, 10);
  if (end == v || n < 0) return def;
  return n > max ? max : n;
}

static void on_request(struct evhttp_request *req, void *arg) {
  target *t = arg;
  const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
  const char *path = u ? evhttp_uri_get_path(u) : NULL;
  const char *query = u ? evhttp_uri_get_query(u) : NULL;
  struct evkeyvalq q = {0};

  q.tqh_last = &q.tqh_first;
  if (path && strcmp(path, "/stats") == 0) { /* not counted itself */
    struct evbuffer *out = evbuffer_new();
    if (!out) return evhttp_send_error(req, 500, "out of memory");
    evbuffer_add_printf(out, "{\"requests\":%llu}", t->requests);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    return;
  }
  t->requests++;
  if (query) evhttp_parse_query_str(query, &q);
  int status = (int)param(&q, "status", 200, 599);
  if (status < 100) status = 200;
  long delay = param(&q, "delay", 0, MAX_DELAY_MS);
  size_t size = (size_t)param(&q, "size", -1, MAX_SIZE);
  int close = param(&q, "close", 0, 1) == 1;
  evhttp_clear_headers(&q);
  int post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
  size_t post_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
  if (delay <= 0) return reply(t, req, status, size, close, post, post_len);

  pending *p = calloc(1, sizeof(*p));
  if (!p) return evhttp_send_error(req, 500, "out of memory");
  *p = (pending){t, req, NULL, status, size, close, post, post_len};
  p->ev = evtimer_new(t->base, on_delay, p);
  if (!p->ev) {
    free(p);
    return evhttp_send_error(req, 500, "out of memory");
  }
  struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
  evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_conn_close, p);
  evtimer_add(p->ev, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  event_base_loopexit(arg, NULL);
}

/* Splits "host:port" ("[::1]:port" for IPv6) into |host| and |*port|. Returns 0 or -1. */
static int split_addr(const char *s, char *host, size_t hostsz, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon) return -1;
  const char *h = s;
  size_t hl = (size_t)(colon - s);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
  if (hl == 0 || hl >= hostsz) return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

static int is_loopback(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: sb-target --listen 127.0.0.1:PORT [--any]\n");
  return 2;
}

/* A non-blocking listening socket on host:port with TCP_NODELAY, which Linux passes on to the
 * accepted connections (evhttp has no per-connection hook for it): without it, Nagle holds the
 * tail of a big body until the client's delayed ACK. Returns the fd or -1. */
static evutil_socket_t listen_socket(const char *host, int port) {
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  socklen_t sl;
  int one = 1;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    sl = sizeof(*s4);
  } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    sl = sizeof(*s6);
  } else {
    return -1;
  }
  evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  evutil_make_socket_nonblocking(fd);
  evutil_make_socket_closeonexec(fd);
  evutil_make_listen_socket_reuseable(fd);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
    evutil_closesocket(fd);
    return -1;
  }
  return fd;
}

/* Binds, prints the bound address, and serves until a signal. */
static int serve(const char *host, int port) {
  target t = {0};
  int rc = 1;
  memset(t.blk, 'x', sizeof(t.blk));
  t.base = event_base_new();
  if (!t.base) return 1;
  t.http = evhttp_new(t.base);
  if (!t.http) goto fail_http;
  evhttp_set_gencb(t.http, on_request, &t);
  evhttp_set_allowed_methods(t.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
  evhttp_set_max_body_size(t.http, MAX_SIZE);
  struct evhttp_bound_socket *bs = NULL;
  evutil_socket_t fd = listen_socket(host, port);
  if (fd >= 0 && !(bs = evhttp_accept_socket_with_handle(t.http, fd))) evutil_closesocket(fd);
  if (!bs) {
    fprintf(stderr, "sb-target: cannot bind %s:%d\n", host, port);
    goto fail_bind;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
  int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  struct event *sterm = evsignal_new(t.base, SIGTERM, on_signal, t.base);
  struct event *sint = evsignal_new(t.base, SIGINT, on_signal, t.base);
  if (!sterm || !sint) goto fail_sig;
  evsignal_add(sterm, NULL);
  evsignal_add(sint, NULL);
  signal(SIGPIPE, SIG_IGN);
  printf(strchr(host, ':') ? "listening [%s]:%d\n" : "listening %s:%d\n", host, bound);
  fflush(stdout);
  event_base_dispatch(t.base);
  rc = 0;
fail_sig:
  if (sterm) event_free(sterm);
  if (sint) event_free(sint);
fail_bind:
  evhttp_free(t.http);
fail_http:
  event_base_free(t.base);
  return rc;
}

int main(int argc, char **argv) {
  const char *listen = NULL;
  int any = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
      listen = argv[++i];
    else if (strcmp(argv[i], "--any") == 0)
      any = 1;
    else
      return usage();
  }
  char host[128];
  int port;
  if (!listen || split_addr(listen, host, sizeof(host), &port) < 0) return usage();
  if (!any && !is_loopback(host)) {
    fprintf(stderr, "sb-target: refusing to bind %s (not loopback); pass --any\n", host);
    return 2;
  }
  return serve(host, port);
}
