/* Tests for agent/http_client.c against an in-process evhttp server on 127.0.0.1:0 sharing the
 * client's event_base (and raw sockets for the failure cases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "agent/allow.h"
#include "agent/http_client.h"
#include "common/err.h"

typedef struct fixture {
  struct event_base *base;
  struct evhttp *http;
  int port;
  sb_http_client *client;
  sb_http_res res;
  int done;
  int requests;   /* served by the server */
  int ports[256]; /* distinct client ports seen = connections */
  int nports;
  size_t last_body_len;
} fixture;

static void on_http(struct evhttp_request *req, void *arg) {
  fixture *f = arg;
  struct evkeyvalq q;
  const char *uri = evhttp_request_get_uri(req);
  struct evhttp_uri *u = evhttp_uri_parse(uri);
  const char *query = u ? evhttp_uri_get_query(u) : NULL;
  const char *path = u ? evhttp_uri_get_path(u) : "/";
  char *host;
  ev_uint16_t port;
  f->requests++;
  evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
  int seen = 0;
  for (int i = 0; i < f->nports; i++)
    seen |= f->ports[i] == port;
  if (!seen && f->nports < 256) f->ports[f->nports++] = port;

  q.tqh_first = NULL;
  q.tqh_last = &q.tqh_first;
  if (query) evhttp_parse_query_str(query, &q);
  const char *st = evhttp_find_header(&q, "status");
  const char *size = evhttp_find_header(&q, "size");
  int status = st ? atoi(st) : 200;
  struct evbuffer *out = evbuffer_new();
  evhttp_add_header(evhttp_request_get_output_headers(req), "X-Test", "yes");
  if (path && strcmp(path, "/chunked") == 0) {
    evhttp_send_reply_start(req, 200, "OK");
    for (int i = 0; i < 3; i++) {
      evbuffer_add_printf(out, "chunk%d;", i);
      evhttp_send_reply_chunk(req, out);
    }
    evhttp_send_reply_end(req);
  } else {
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
      f->last_body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
      evbuffer_add_printf(out, "{\"len\":%zu}", f->last_body_len);
    } else if (size) {
      size_t n = strtoul(size, NULL, 10);
      char blk[4096];
      memset(blk, 'x', sizeof(blk));
      for (size_t i = 0; i < n; i += sizeof(blk))
        evbuffer_add(out, blk, n - i < sizeof(blk) ? n - i : sizeof(blk));
    } else {
      evbuffer_add_printf(out, "{\"ok\":true}");
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, status, "X", out);
  }
  evbuffer_free(out);
  evhttp_clear_headers(&q);
  if (u) evhttp_uri_free(u);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  f->base = event_base_new();
  f->http = evhttp_new(f->base);
  evhttp_set_gencb(f->http, on_http, f);
  evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
  assert_non_null(bs);
  struct sockaddr_in sin;
  socklen_t sl = sizeof(sin);
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
  f->port = ntohs(sin.sin_port);
  assert_int_equal(sb_http_client_new(&f->client, f->base, NULL), 0);
  sb_http_res_init(&f->res);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sb_http_client_free(f->client);
  sb_http_res_clear(&f->res);
  evhttp_free(f->http);
  event_base_free(f->base);
  free(f);
  return 0;
}

static void on_done(sb_http_res *res, void *ud) {
  fixture *f = ud;
  f->done = 1;
  event_base_loopbreak(f->base);
}

/* Runs one request to completion; returns the client's return code. */
static int run(fixture *f, const char *method, const char *path, const char *body, double tmo) {
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
  sb_http_header h[1] = {{"X-Req", 5, "1", 1}};
  sb_http_req req = {.method = method,
                     .url = url,
                     .headers = h,
                     .nheaders = 1,
                     .body = body,
                     .body_len = body ? strlen(body) : 0,
                     .timeout_ms = tmo};
  f->done = 0;
  int r = sb_http_client_request(f->client, &req, &f->res, on_done, f);
  if (r < 0) return r;
  assert_int_equal(f->done, 0); /* never synchronous */
  while (!f->done)
    event_base_loop(f->base, EVLOOP_ONCE);
  return 0;
}

static const char *header(sb_http_res *res, const char *name) {
  for (size_t i = 0; i < res->nheaders; i++)
    if (res->headers[i].name_len == strlen(name) &&
        strncasecmp(res->headers[i].name, name, strlen(name)) == 0)
      return res->headers[i].value;
  return NULL;
}

static void test_get(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "GET", "/x?a=1", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_null(f->res.error);
  assert_int_equal(f->res.error_code, 0);
  assert_string_equal(f->res.body.data, "{\"ok\":true}");
  assert_non_null(header(&f->res, "X-Test"));
  assert_string_equal(header(&f->res, "Content-Type"), "application/json");
  assert_string_equal(f->res.remote_ip, "127.0.0.1");
  assert_int_equal(f->res.remote_port, f->port);
  assert_true(f->res.bytes_sent > 40);
  assert_true(f->res.bytes_received > f->res.body.len);
  assert_true(f->res.timings.connecting > 0);
  assert_true(f->res.timings.duration > 0);
  sb_http_timings *t = &f->res.timings;
  assert_true(t->duration >= t->sending + t->waiting + t->receiving - 1e-9);
}

static void test_keepalive(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_true(f->res.timings.connecting == 0);
  assert_int_equal(f->requests, 2);
  assert_int_equal(f->nports, 1);
}

static void test_post(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "POST", "/p", "hello=world", 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_int_equal(f->last_body_len, 11);
  assert_string_equal(f->res.body.data, "{\"len\":11}");
}

static void test_chunked(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "GET", "/chunked", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_string_equal(f->res.body.data, "chunk0;chunk1;chunk2;");
  /* the connection stays usable */
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_int_equal(f->nports, 1);
}

static void test_status(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "GET", "/?status=404", NULL, 0), 0);
  assert_int_equal(f->res.status, 404);
  assert_int_equal(f->res.error_code, 0);
  assert_int_equal(run(f, "GET", "/?status=500", NULL, 0), 0);
  assert_int_equal(f->res.status, 500);
}

static void test_head(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "HEAD", "/?size=100", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_int_equal(f->res.body.len, 0);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
}

static void test_refused(void **state) {
  fixture *f = *state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sin);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  getsockname(fd, (struct sockaddr *)&sin, &sl);
  close(fd);
  int saved = f->port;
  f->port = ntohs(sin.sin_port);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  f->port = saved;
  assert_int_equal(f->res.status, 0);
  assert_int_equal(f->res.error_code, 1212);
  assert_string_equal(f->res.error, "dial: connection refused");
}

static void test_timeout(void **state) {
  fixture *f = *state;
  /* listening but never accepting: connect succeeds via the backlog, no response comes */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sin);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 8), 0);
  getsockname(fd, (struct sockaddr *)&sin, &sl);
  int saved = f->port;
  f->port = ntohs(sin.sin_port);
  assert_int_equal(run(f, "GET", "/", NULL, 100), 0);
  f->port = saved;
  close(fd);
  assert_int_equal(f->res.status, 0);
  assert_int_equal(f->res.error_code, 1050);
  assert_string_equal(f->res.error, "request timeout");
  assert_true(f->res.timings.duration >= 90);
}

static void test_bad_url(void **state) {
  fixture *f = *state;
  sb_http_req req = {.method = "GET", .url = "not a url"};
  assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), SB_EINVAL);
  assert_non_null(f->res.error);
  req.url = "ftp://127.0.0.1/";
  assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), SB_EINVAL);
  assert_string_equal(f->res.error, "unsupported protocol scheme");
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  event_base_loopbreak(arg);
}

static void test_idle_closed(void **state) {
  fixture *f = *state;
  struct timeval tv = {0, 100000};
  evhttp_set_timeout_tv(f->http, &tv);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  struct timeval wait = {0, 300000};
  event_base_once(f->base, -1, EV_TIMEOUT, on_tick, f->base, &wait);
  event_base_dispatch(f->base);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_true(f->res.timings.connecting > 0);
  assert_int_equal(f->nports, 2);
}

static void test_big_body(void **state) {
  fixture *f = *state;
  assert_int_equal(run(f, "GET", "/?size=1048576", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_int_equal(f->res.body.len, 1048576);
  assert_true(f->res.bytes_received > 1048576);
  assert_true(f->res.body.data[1048575] == 'x');
}

static void test_many(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 100; i++) {
    assert_int_equal(run(f, i % 2 ? "POST" : "GET", "/", i % 2 ? "abc" : NULL, 0), 0);
    assert_int_equal(f->res.status, 200);
  }
  assert_int_equal(f->requests, 100);
  assert_int_equal(f->nports, 1);
}

/* --- replay: a raw server that answers the first request, then closes the connection when the
 * second arrives (the race of a server closing an idle connection as the client reuses it). --- */

typedef struct raw {
  int served;
  int accepted;
  int mode; /* 0: replay scenario; 1: body until close; 2: short body then EOF; 3: RST mid-body */
} raw;

static void raw_read(struct bufferevent *bev, void *arg) {
  raw *r = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
  if (p.pos < 0) return;
  evbuffer_drain(in, p.pos + 4);
  int n = ++r->served;
  if (r->mode) {
    struct evbuffer *out = bufferevent_get_output(bev);
    const char *head = r->mode == 1 ? "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close"
                                    : "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
    int fd = bufferevent_getfd(bev);
    if (write(fd, head, strlen(head)) < 0) fail();
    (void)out;
    if (r->mode == 3) {
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    bufferevent_free(bev);
    return;
  }
  if (n == 2) { /* second request on the first connection: drop it unanswered */
    bufferevent_free(bev);
    return;
  }
  evbuffer_add_printf(bufferevent_get_output(bev),
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

static void raw_event(struct bufferevent *bev, short what, void *arg) {
  bufferevent_free(bev);
}

static void raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int sl,
                       void *arg) {
  raw *r = arg;
  r->accepted++;
  struct bufferevent *bev =
      bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev, raw_read, NULL, raw_event, r);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void test_replay_on_reused(void **state) {
  fixture *f = *state;
  raw r = {0};
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct evconnlistener *l =
      evconnlistener_new_bind(f->base, raw_accept, &r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                              16, (struct sockaddr *)&sin, sizeof(sin));
  assert_non_null(l);
  socklen_t sl = sizeof(sin);
  getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl);
  int saved = f->port;
  f->port = ntohs(sin.sin_port);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_string_equal(f->res.body.data, "ok");
  assert_int_equal(r.accepted, 2);
  assert_int_equal(r.served, 3);
  /* a POST is not replayed */
  r.served = 1;
  assert_int_equal(run(f, "POST", "/", "x", 0), 0);
  assert_int_equal(f->res.status, 0);
  assert_int_equal(f->res.error_code, 1000);
  f->port = saved;
  evconnlistener_free(l);
}

static int raw_port(fixture *f, raw *r, struct evconnlistener **l) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  *l = evconnlistener_new_bind(f->base, raw_accept, r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                               16, (struct sockaddr *)&sin, sizeof(sin));
  assert_non_null(*l);
  socklen_t sl = sizeof(sin);
  getsockname(evconnlistener_get_fd(*l), (struct sockaddr *)&sin, &sl);
  return ntohs(sin.sin_port);
}

static void test_read_until_close_and_broken_bodies(void **state) {
  fixture *f = *state;
  raw r = {.mode = 1};
  struct evconnlistener *l;
  int saved = f->port;
  f->port = raw_port(f, &r, &l);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
  assert_string_equal(f->res.body.data, "until-close");
  r.mode = 2; /* Content-Length 100, 5 bytes, EOF */
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 0);
  assert_int_equal(f->res.error_code, SB_HTTP_ERR_EOF);
  assert_string_equal(f->res.error, "unexpected EOF");
  r.mode = 3; /* same, then RST */
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 0);
  assert_int_equal(f->res.error_code, SB_HTTP_ERR_CONN_RESET);
  assert_int_equal(r.accepted, 3);
  f->port = saved;
  evconnlistener_free(l);
}

static void test_cancel(void **state) {
  fixture *f = *state;
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->port);
  sb_http_req req = {.method = "GET", .url = url};
  f->done = 0;
  assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), 0);
  sb_http_client_cancel(f->client);
  struct timeval wait = {0, 50000};
  event_base_once(f->base, -1, EV_TIMEOUT, on_tick, f->base, &wait);
  event_base_dispatch(f->base);
  assert_int_equal(f->done, 0);
  assert_int_equal(run(f, "GET", "/", NULL, 0), 0);
  assert_int_equal(f->res.status, 200);
}

static void test_dns(void **state) {
  fixture *f = *state;
  char url[64];
  snprintf(url, sizeof(url), "http://localhost:%d/", f->port);
  sb_http_req req = {.method = "GET", .url = url};
  f->done = 0;
  assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), 0);
  while (!f->done)
    event_base_loop(f->base, EVLOOP_ONCE);
  /* localhost is loopback even without an /etc/hosts entry (a bare chroot has none) */
  assert_int_equal(f->res.status, 200);
  req.url = "http://no-such-host.invalid/";
  f->done = 0;
  assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), 0);
  assert_int_equal(f->done, 0);
  while (!f->done)
    event_base_loop(f->base, EVLOOP_ONCE);
  assert_int_equal(f->res.status, 0);
  assert_int_equal(f->res.error_code, 1101); /* k6: lookup: no such host */
}

/* Runs a GET of |url| on |c| to completion. */
static void get_url(fixture *f, sb_http_client *c, const char *url) {
  sb_http_req req = {.method = "GET", .url = url};
  f->done = 0;
  assert_int_equal(sb_http_client_request(c, &req, &f->res, on_done, f), 0);
  assert_int_equal(f->done, 0); /* a refusal too arrives from the loop */
  while (!f->done)
    event_base_loop(f->base, EVLOOP_ONCE);
}

/* issue 10: the agent's --allow-targets, checked on the address each new connection dials. A
 * refused request fails with 1112 and never reaches the server; a `hosts` override cannot carry
 * a listed name to an unlisted address. */
static void test_allow_targets(void **state) {
  fixture *f = *state;
  sb_err err = {{0}};
  sb_allow *allow;
  assert_int_equal(sb_allow_parse(&allow, "127.0.0.1/32,allowed.test", &err), 0);
  sb_http_config cfg;
  sb_http_config_defaults(&cfg);
  sb_host_override ovr[2] = {{.name = "allowed.test", .ip = "127.0.0.2"},
                             {.name = "other.test", .ip = "127.0.0.1"}};
  cfg.hosts = ovr;
  cfg.nhosts = 2;
  sb_http_shared *sh;
  sb_http_client *c;
  assert_int_equal(sb_http_shared_new(&sh, f->base, &cfg, &err), 0);
  sb_http_shared_set_allow(sh, allow);
  assert_int_equal(sb_http_client_new(&c, f->base, sh), 0);
  char url[96];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->port);
  get_url(f, c, url);
  assert_int_equal(f->res.status, 200);
  int served = f->requests;
  static const char *const refused[] = {"http://127.0.0.2:%d/", "http://allowed.test:%d/"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(url, sizeof(url), refused[i], f->port);
    get_url(f, c, url);
    assert_int_equal(f->res.status, 0);
    assert_int_equal(f->res.error_code, SB_HTTP_ERR_NOT_ALLOWED);
    assert_string_equal(f->res.error, "dial: the agent's --allow-targets does not allow this address");
  }
  snprintf(url, sizeof(url), "http://other.test:%d/", f->port); /* unlisted name, listed address */
  get_url(f, c, url);
  assert_int_equal(f->res.status, 200);
  assert_int_equal(f->requests, served + 1);
  sb_http_client_free(c);
  sb_http_shared_free(sh);
  event_base_loop(f->base, EVLOOP_NONBLOCK);
  sb_allow_free(allow);
}

/* A server on its own thread that answers one request when told to (test_late_read). */
typedef struct late_srv {
  int lfd;
  atomic_int got_request, go, answered;
} late_srv;

/* Listens on 127.0.0.1:0 and runs |serve| on a thread of its own for |s|; |url| is its URL. */
static void thread_server(late_srv *s, void *(*serve)(void *), pthread_t *t, char *url,
                          size_t cap) {
  memset(s, 0, sizeof(*s));
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sin);
  assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(s->lfd, 4), 0);
  getsockname(s->lfd, (struct sockaddr *)&sin, &sl);
  assert_int_equal(pthread_create(t, NULL, serve, s), 0);
  snprintf(url, cap, "http://127.0.0.1:%d/", ntohs(sin.sin_port));
}

static void *late_serve(void *arg) {
  late_srv *s = arg;
  int fd = accept(s->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  char buf[4096];
  size_t n = 0;
  while (n < sizeof(buf) - 1) { /* up to the end of the request's head */
    ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = '\0';
    if (strstr(buf, "\r\n\r\n")) break;
  }
  atomic_store(&s->got_request, 1);
  while (!atomic_load(&s->go)) usleep(1000);
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  if (write(fd, resp, sizeof(resp) - 1) < 0) {}
  atomic_store(&s->answered, 1);
  usleep(200000); /* the client reads and finishes before the close */
  close(fd);
  return NULL;
}

/* A response that waits in the socket while the client's loop is busy elsewhere is timed from
 * when it arrived (the kernel's receive timestamp), not from when the loop read it: the loop
 * here reads 60 ms late, the request took ~0 ms. */
static void test_late_read(void **state) {
  fixture *f = *state;
  late_srv s;
  pthread_t t;
  char url[64];
  thread_server(&s, late_serve, &t, url, sizeof(url));
  sb_http_req req = {.method = "GET", .url = url};
  f->done = 0;
  assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), 0);
  for (int i = 0; i < 5000 && !atomic_load(&s.got_request); i++) {
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    usleep(1000);
  }
  assert_true(atomic_load(&s.got_request));
  atomic_store(&s.go, 1);
  while (!atomic_load(&s.answered)) usleep(1000);
  usleep(60000); /* the loop is busy: the answer waits in the socket */
  while (!f->done) event_base_loop(f->base, EVLOOP_ONCE);
  pthread_join(t, NULL);
  close(s.lfd);
  assert_int_equal(f->res.status, 200);
  const sb_http_timings *tm = &f->res.timings;
  if (tm->duration >= 40 || tm->waiting >= 40 || tm->receiving >= 40)
    fail_msg("timed from the late read: duration %.3f ms (waiting %.3f, receiving %.3f)",
             tm->duration, tm->waiting, tm->receiving);
  assert_true(tm->waiting >= 0 && tm->receiving >= 0);
}

#define QUICK_REQUESTS 300

/* A server thread that answers QUICK_REQUESTS requests of one keep-alive connection at once. */
static void *quick_serve(void *arg) {
  late_srv *s = arg;
  int fd = accept(s->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  char buf[4096];
  size_t n = 0;
  int answered = 0;
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  while (answered < QUICK_REQUESTS) {
    ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = '\0';
    char *e;
    while ((e = strstr(buf, "\r\n\r\n"))) { /* one answer per request head */
      if (write(fd, resp, sizeof(resp) - 1) < 0) {}
      answered++;
      size_t used = (size_t)(e + 4 - buf);
      memmove(buf, buf + used, n - used + 1);
      n -= used;
    }
  }
  close(fd);
  return NULL;
}

/* On loopback a server on another thread can answer before the client's send() returns: the
 * answer's kernel stamp is then earlier than "send() returned". Sending ends when the request
 * was handed to the kernel, so waiting stays > 0 (k6's is never 0 for an answer). */
static void test_waiting_after_quick_answers(void **state) {
  fixture *f = *state;
  late_srv s;
  pthread_t t;
  char url[64];
  thread_server(&s, quick_serve, &t, url, sizeof(url));
  sb_http_req req = {.method = "GET", .url = url};
  int zero = 0;
  for (int i = 0; i < QUICK_REQUESTS; i++) {
    f->done = 0;
    assert_int_equal(sb_http_client_request(f->client, &req, &f->res, on_done, f), 0);
    while (!f->done) event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(f->res.status, 200);
    const sb_http_timings *tm = &f->res.timings;
    if (!(tm->waiting > 0)) zero++;
    assert_true(tm->sending >= 0 && tm->receiving >= 0);
    assert_true(tm->duration >= tm->waiting);
  }
  pthread_join(t, NULL);
  close(s.lfd);
  if (zero) fail_msg("%d of %d answers measured waiting 0", zero, QUICK_REQUESTS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_head, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_closed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_on_reused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_until_close_and_broken_bodies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_allow_targets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_waiting_after_quick_answers, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
