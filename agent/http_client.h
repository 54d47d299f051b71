/* HTTP/1.1 client for one VU: keep-alive connections per host:port, k6's phase timings.
 *
 * A VU runs one request at a time; the client owns its connections (a small per-VU pool, like
 * k6's), reuses them across requests and iterations, and reports the response through a callback
 * on the worker's event loop. The parsed response lives in the caller's |sb_http_res|, which the
 * client reuses across requests (its buffers keep their memory), so a steady request loop does not
 * allocate. Built on libevent bufferevents (plain TCP now; OpenSSL and nghttp2 plug in behind the
 * same interface) and Debian's http-parser. */
#ifndef SB_HTTP_CLIENT_H
#define SB_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct event_base;

#define SB_HTTP_MAX_HEADERS 64

typedef struct sb_http_header {
  const char *name;  /* points into the owner's buffer */
  size_t name_len;
  const char *value;
  size_t value_len;
} sb_http_header;

/* What to send. All pointers are borrowed for the duration of sb_http_client_request() only: the
 * client copies what it needs into its output buffer before returning. */
typedef struct sb_http_req {
  const char *method;        /* "GET", "POST", ... */
  const char *url;           /* absolute http:// URL */
  const sb_http_header *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  double timeout_ms;         /* whole request; 0 = 60 s (k6's default) */
} sb_http_req;

/* k6's timings, in milliseconds. */
typedef struct sb_http_timings {
  double blocked;            /* waiting for a connection slot + DNS */
  double connecting;         /* TCP connect (0 on a reused connection) */
  double tls_handshaking;
  double sending;
  double waiting;            /* time to first byte after sending */
  double receiving;
  double duration;           /* sending + waiting + receiving */
} sb_http_timings;

/* Error codes as k6 reports them in |error_code| (subset). */
enum {
  SB_HTTP_ERR_NONE = 0,
  SB_HTTP_ERR_GENERIC = 1000,
  SB_HTTP_ERR_DNS = 1100,
  SB_HTTP_ERR_TIMEOUT = 1050,
  SB_HTTP_ERR_CONN_REFUSED = 1212,
  SB_HTTP_ERR_CONN_RESET = 1220,
  SB_HTTP_ERR_EOF = 1000,
  SB_HTTP_ERR_BAD_URL = 1020,
  SB_HTTP_ERR_PROTOCOL = 1650,
};

typedef struct sb_http_res {
  int status;                /* 0 when the request failed */
  const char *proto;         /* "HTTP/1.1" (static) */
  const char *error;         /* static message, NULL on success ("dial: connection refused") */
  int error_code;            /* SB_HTTP_ERR_* */
  sb_buf head;               /* raw header bytes the names/values point into */
  sb_http_header headers[SB_HTTP_MAX_HEADERS];
  size_t nheaders;
  sb_buf body;
  sb_http_timings timings;
  uint64_t bytes_sent;       /* on the wire, for data_sent */
  uint64_t bytes_received;   /* on the wire, for data_received */
  char remote_ip[46];
  int remote_port;
} sb_http_res;

void sb_http_res_init(sb_http_res *res);
void sb_http_res_clear(sb_http_res *res);

typedef struct sb_http_client sb_http_client;

/* Called once per request on the loop thread, after |res| is complete (status or error set). */
typedef void (*sb_http_done_cb)(sb_http_res *res, void *ud);

/* Creates a client whose connections live on |base|. Returns 0 or SB_ENOMEM. */
int sb_http_client_new(sb_http_client **out, struct event_base *base);
/* Closes every connection. A request in flight is dropped without calling its callback. */
void sb_http_client_free(sb_http_client *c);

/* Starts a request; |cb| is called later from the loop, never from inside this call. |res| must
 * stay valid until then; it is reset first (memory kept). Returns 0, or SB_EINVAL for a URL the
 * client cannot handle (then |res->error| says why and |cb| is not called), or SB_ENOMEM. */
int sb_http_client_request(sb_http_client *c, const sb_http_req *req, sb_http_res *res,
                           sb_http_done_cb cb, void *ud);

/* Drops the request in flight (its connection is closed); its callback is not called. */
void sb_http_client_cancel(sb_http_client *c);

#endif
