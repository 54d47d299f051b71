/* The REST API's HTTP server (controller/api.h): libevent's evhttp on the controller's loop, so
 * a request reads the run state between two of the fleet's messages and never races it. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "controller/api.h"
#include "controller/dash.h"
#include "controller/prom.h"

#define MAX_BODY 65536 /* a PATCH is a few dozen bytes */

struct sb_api {
  struct evhttp *http;
  const sb_run_state *st;
  const sb_run_control *ctl;
  struct sb_dash *dash;
  char address[300];
};

void sb_api_set_dash(sb_api *a, struct sb_dash *d) { a->dash = d; }

/* GET /metrics: Prometheus' text exposition of the merged metrics. */
static void serve_prom(sb_api *a, struct evhttp_request *rq) {
  sb_buf b;
  sb_buf_init(&b);
  int rc = a->st->metrics ? sb_prom_write(&b, a->st->metrics) : 0;
  struct evbuffer *e = evbuffer_new();
  if (e && !rc && b.data) evbuffer_add(e, b.data, b.len);
  evhttp_add_header(evhttp_request_get_output_headers(rq), "Content-Type",
                    "text/plain; version=0.0.4; charset=utf-8");
  evhttp_send_reply(rq, rc ? 500 : 200, rc ? "Internal Server Error" : "OK", e);
  if (e) evbuffer_free(e);
  sb_buf_clear(&b);
}

int sb_api_parse_address(const char *address, char *host, size_t cap, int *port, sb_err *err) {
  const char *colon = strrchr(address, ':');
  const char *h = address;
  size_t hl = colon ? (size_t)(colon - address) : 0;
  if (!colon) colon = address - 1; /* a port alone */
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || p < 0 || p > 65535)
    return sb_err_set(err, SB_EINVAL, "--address '%s': expected HOST:PORT, e.g. 127.0.0.1:6565",
                      address);
  if (hl + 1 > cap) return sb_err_set(err, SB_EINVAL, "--address '%s': host too long", address);
  memcpy(host, h, hl);
  host[hl] = '\0';
  if (!hl || !strcmp(host, "localhost")) snprintf(host, cap, "127.0.0.1");
  *port = (int)p;
  return 0;
}

static const char *method_name(enum evhttp_cmd_type c) {
  switch (c) {
  case EVHTTP_REQ_GET: return "GET";
  case EVHTTP_REQ_HEAD: return "HEAD";
  case EVHTTP_REQ_POST: return "POST";
  case EVHTTP_REQ_PUT: return "PUT";
  case EVHTTP_REQ_PATCH: return "PATCH";
  case EVHTTP_REQ_DELETE: return "DELETE";
  default: return "OTHER";
  }
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  default: return "Internal Server Error";
  }
}

static void on_request(struct evhttp_request *rq, void *arg) {
  sb_api *a = arg;
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(rq);
  const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
  char *path = evhttp_uridecode(raw && *raw ? raw : "/", 0, NULL);
  if (path && !strcmp(path, "/metrics") && evhttp_request_get_command(rq) == EVHTTP_REQ_GET) {
    free(path);
    serve_prom(a, rq);
    return;
  }
  if (path && a->dash && sb_dash_serve(a->dash, rq, path)) {
    free(path);
    return;
  }
  struct evbuffer *in = evhttp_request_get_input_buffer(rq);
  size_t len = evbuffer_get_length(in);
  char *body = len ? (char *)evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
  sb_buf out;
  sb_buf_init(&out);
  int status = sb_api_handle(a->st, a->ctl, method_name(evhttp_request_get_command(rq)),
                             path ? path : "/", body, len, sb_clock_mono_us(), &out);
  free(path);
  struct evbuffer *reply = evbuffer_new();
  if (reply && out.data) evbuffer_add(reply, out.data, out.len);
  evhttp_add_header(evhttp_request_get_output_headers(rq), "Content-Type", "application/json");
  evhttp_send_reply(rq, status, reason(status), reply);
  if (reply) evbuffer_free(reply);
  sb_buf_clear(&out);
}

int sb_api_new(sb_api **out, struct event_base *base, const char *address, const sb_run_state *st,
               const sb_run_control *ctl, sb_err *err) {
  char host[256];
  int port;
  int rc = sb_api_parse_address(address, host, sizeof(host), &port, err);
  if (rc) return rc;
  sb_api *a = calloc(1, sizeof(*a));
  if (!a || !(a->http = evhttp_new(base))) {
    free(a);
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  }
  a->st = st;
  a->ctl = ctl;
  evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH |
                                          EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
  evhttp_set_max_body_size(a->http, MAX_BODY);
  evhttp_set_timeout(a->http, 10);
  evhttp_set_gencb(a->http, on_request, a);
  errno = 0;
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(a->http, host, (uint16_t)port);
  if (!bs) {
    int e = errno;
    sb_api_free(a);
    return sb_err_set(err, SB_EIO, "the REST API cannot listen on %s: %s", address,
                      e ? strerror(e) : "cannot bind");
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char ip[128] = "?";
  int bound = port;
  if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
      bound = ntohs(s6->sin6_port);
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      evutil_inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
      bound = ntohs(s4->sin_port);
    }
  }
  snprintf(a->address, sizeof(a->address), ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip,
           bound);
  *out = a;
  return 0;
}

const char *sb_api_address(const sb_api *a) {
  return a->address;
}

void sb_api_free(sb_api *a) {
  if (!a) return;
  if (a->http) evhttp_free(a->http);
  free(a);
}
