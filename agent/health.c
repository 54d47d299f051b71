/* The agent's health endpoint (agent/health.h): evhttp on the daemon's main loop.
 *
 * Kubernetes reads readiness as "may receive new work": an agent runs one test at a time and
 * refuses a second controller, so /readyz answers 503 while busy. A headless Service then leaves
 * a busy pod out of its DNS answer, and a second controller's --agents finds only free agents,
 * while the running test keeps its connections (they go to the pod address, not through the
 * Service). Liveness (/healthz) must not depend on that state, or a long test would get its agent
 * restarted: it says only that the main loop answers. */
#include "agent/health.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/hostport.h"

#define HEALTH_TIMEOUT_S 5    /* a probe connection idle this long is closed */
#define HEALTH_MAX_HEADERS 8192

struct sb_health {
  struct evhttp *http;
  const sb_health_state *st;
  char addr[300];       /* the address bound, for the log and tests */
};

const char *sb_health_state_name(const sb_health_state *st) {
  if (st->stopping && atomic_load(st->stopping)) return "stopping";
  if (st->busy && atomic_load(st->busy)) return "busy";
  return "idle";
}

/* |s| into |b| as a JSON string (quotes included); control characters become \u00XX. */
static void json_str(struct evbuffer *b, const char *s) {
  evbuffer_add(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') evbuffer_add_printf(b, "\\%c", c);
    else if (c < 0x20) evbuffer_add_printf(b, "\\u%04x", c);
    else evbuffer_add(b, s, 1);
  }
  evbuffer_add(b, "\"", 1);
}

/* /status: the state and what the agent can run, as one JSON object. */
static void status_body(const sb_health *h, struct evbuffer *b) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES);
  unsigned long long mem = pages > 0 ? (unsigned long long)pages * (unsigned long long)sysconf(_SC_PAGESIZE) : 0;
  evbuffer_add_printf(b, "{\"state\":\"%s\",\"version\":", sb_health_state_name(h->st));
  json_str(b, SB_VERSION);
  evbuffer_add_printf(b, ",\"id\":");
  if (h->st->agent_id) json_str(b, h->st->agent_id);
  else evbuffer_add_printf(b, "null");
  evbuffer_add_printf(b, ",\"capacity\":{\"cores\":%ld,\"memory_bytes\":%llu,\"max_vus\":",
                      cores > 0 ? cores : 1, mem);
  if (h->st->max_vus) evbuffer_add_printf(b, "%llu}}\n", (unsigned long long)h->st->max_vus);
  else evbuffer_add_printf(b, "null}}\n");
}

static void on_request(struct evhttp_request *req, void *arg) {
  sb_health *h = arg;
  const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  struct evbuffer *b = evbuffer_new();
  if (!b) {
    evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
    return;
  }
  struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
  evhttp_add_header(hdr, "Cache-Control", "no-store");
  int code = 200;
  const char *reason = "OK", *type = "text/plain; charset=utf-8";
  if (path && !strcmp(path, "/healthz")) {
    evbuffer_add_printf(b, "ok\n");
  } else if (path && !strcmp(path, "/readyz")) {
    const char *state = sb_health_state_name(h->st);
    if (strcmp(state, "idle")) code = 503, reason = "Service Unavailable";
    evbuffer_add_printf(b, "%s\n", state);
  } else if (path && !strcmp(path, "/status")) {
    type = "application/json";
    status_body(h, b);
  } else {
    code = 404, reason = "Not Found";
    evbuffer_add_printf(b, "not found: try /healthz, /readyz or /status\n");
  }
  evhttp_add_header(hdr, "Content-Type", type);
  evhttp_send_reply(req, code, reason, b);
  evbuffer_free(b);
}

/* Binds a listening, non-blocking socket for |spec|. Returns it, or -1 with |err| set. */
static int bind_spec(const char *spec, sb_err *err) {
  char host[256];
  const char *port;
  char *end = NULL;
  long p = -1;
  if (!sb_hostport_split(spec, host, sizeof(host), &port) && *port) p = strtol(port, &end, 10);
  if (p < 0 || p > 65535 || *end) {
    sb_err_set(err, SB_EINVAL, "--health '%s': expected ADDR:PORT ([ADDR]:PORT for IPv6)", spec);
    return -1;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
  int rc = sb_hostport_lookup(host, port, &hints, &ai);
  if (rc) {
    sb_err_set(err, SB_EINVAL, "--health '%s': %s", spec, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
    sb_err_set(err, SB_EINVAL, "--health '%s': %s", spec, strerror(errno));
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

/* "127.0.0.1:PORT" or "[::1]:PORT" of the socket |fd| into |buf|. */
static void bound_addr(int fd, char *buf, size_t size) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char host[INET6_ADDRSTRLEN + 1], port[16];
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
      getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV)) {
    snprintf(buf, size, "unknown");
    return;
  }
  snprintf(buf, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

int sb_health_new(sb_health **out, struct event_base *base, const char *listen,
                  const sb_health_state *st, sb_err *err) {
  sb_health *h = calloc(1, sizeof(*h));
  if (!h) return sb_err_set(err, SB_ENOMEM, "out of memory");
  h->st = st;
  int fd = bind_spec(listen, err);
  if (fd < 0) {
    free(h);
    return SB_EINVAL;
  }
  bound_addr(fd, h->addr, sizeof(h->addr));
  if (!(h->http = evhttp_new(base))) goto fail_http;
  evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_timeout(h->http, HEALTH_TIMEOUT_S);
  evhttp_set_max_headers_size(h->http, HEALTH_MAX_HEADERS);
  evhttp_set_max_body_size(h->http, 1024); /* probes send none */
  evhttp_set_gencb(h->http, on_request, h);
  if (!evhttp_accept_socket_with_handle(h->http, fd)) goto fail_accept; /* owns fd from here */
  *out = h;
  return 0;

fail_accept:
  evhttp_free(h->http);
fail_http:
  close(fd);
  free(h);
  return sb_err_set(err, SB_ENOMEM, "out of memory");
}

const char *sb_health_addr(const sb_health *h) { return h->addr; }

void sb_health_free(sb_health *h) {
  if (!h) return;
  evhttp_free(h->http);
  free(h);
}
