/* HTTP client of one VU: HTTP/1.1 and HTTP/2 over TCP or TLS, k6's phase timings and error codes.
 *
 * Three layers (DESIGN.md "HTTP client in three layers"), all on the worker's event loop:
 *  - the connection (agent/http_conn.c): socket or TLS (OpenSSL through a libevent bufferevent),
 *    connect and handshake timings, ALPN, a keep-alive pool per VU keyed by scheme, host and port;
 *  - the protocol behind one small vtable (agent/http_h1.c with http-parser, agent/http_h2.c with
 *    nghttp2), chosen after ALPN;
 *  - the resolver (agent/dns.c, one per worker, TTL cache, `hosts` overrides).
 * What the VUs of one worker share read-only (TLS contexts, resolver, options) lives in an
 * sb_http_shared made once per worker.
 *
 * A VU may have several requests in flight (http.batch): each completes through its own callback.
 * The parsed response lives in the caller's |sb_http_res|, reused across requests (its buffers keep
 * their memory), so a steady request loop does not allocate. */
#ifndef SB_HTTP_CLIENT_H
#define SB_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/http_config.h"
#include "common/buf.h"
#include "common/err.h"

struct event_base;

typedef struct sb_http_header {
  const char *name;  /* points into the owner's buffer */
  size_t name_len;
  const char *value;
  size_t value_len;
} sb_http_header;

/* What to send. All pointers are borrowed for the duration of sb_http_client_request() only: the
 * client copies what it needs before returning. */
typedef struct sb_http_req {
  const char *method;        /* "GET", "POST", ... (upper case) */
  const char *url;           /* absolute http:// or https:// URL, no userinfo */
  const sb_http_header *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  double timeout_ms;         /* whole request; 0 = 60 s (k6's default) */
  int discard_body;          /* responseType "none": the body is counted, never stored */
  int no_reuse;              /* noConnectionReuse: a fresh connection, closed afterwards */
} sb_http_req;

/* k6's timings, in milliseconds. */
typedef struct sb_http_timings {
  double blocked;            /* from asking for a connection to having one (DNS, dial, TLS) */
  double connecting;         /* TCP connect (0 on a reused connection) */
  double tls_handshaking;    /* TLS handshake (0 on a reused or plain connection) */
  double sending;
  double waiting;            /* time to first response byte after sending */
  double receiving;
  double duration;           /* sending + waiting + receiving */
} sb_http_timings;

/* k6's error codes (lib/netext/httpext/error_codes.go), in |error_code|. */
enum {
  SB_HTTP_ERR_NONE = 0,
  SB_HTTP_ERR_GENERIC = 1000,
  SB_HTTP_ERR_EOF = 1000,
  SB_HTTP_ERR_NON_TCP = 1010,
  SB_HTTP_ERR_BAD_URL = 1020,
  SB_HTTP_ERR_TIMEOUT = 1050,
  SB_HTTP_ERR_DNS = 1100,
  SB_HTTP_ERR_DNS_NO_HOST = 1101,
  SB_HTTP_ERR_BLOCKED_HOSTNAME = 1111, /* blockHostnames (k6's blockedHostnameErrorCode) */
  SB_HTTP_ERR_NOT_ALLOWED = 1112,   /* the agent's --allow-targets refused the address (ours: k6
                                       has no allowlist; next to its 1110/1111 "blocked" codes) */
  SB_HTTP_ERR_TCP = 1200,
  SB_HTTP_ERR_BROKEN_PIPE = 1201,
  SB_HTTP_ERR_DIAL = 1210,
  SB_HTTP_ERR_DIAL_TIMEOUT = 1211,
  SB_HTTP_ERR_CONN_REFUSED = 1212,
  SB_HTTP_ERR_CONN_RESET = 1220,
  SB_HTTP_ERR_TLS = 1300,
  SB_HTTP_ERR_TLS_HEADER = 1301,
  SB_HTTP_ERR_X509_AUTHORITY = 1310,
  SB_HTTP_ERR_X509_HOSTNAME = 1311,
  SB_HTTP_ERR_H2_GOAWAY = 1610,     /* + 1 + HTTP/2 error code */
  SB_HTTP_ERR_H2_STREAM = 1630,     /* + 1 + HTTP/2 error code */
  SB_HTTP_ERR_H2_CONNECTION = 1650, /* + 1 + HTTP/2 error code */
  SB_HTTP_ERR_DECOMPRESSION = 1701,
  SB_HTTP_ERR_PROTOCOL = 1000,      /* malformed HTTP/1 response: Go reports a generic error */
};

/* The OCSP answer stapled to the server's certificate (k6's response.ocsp). */
typedef struct sb_http_ocsp {
  const char *status;             /* "good", "revoked", "unknown" (static) */
  const char *revocation_reason;  /* k6's names ("key_compromise", ...), "" when none (static) */
  double produced_at, this_update, next_update, revoked_at; /* unix ms; 0 when absent */
} sb_http_ocsp;

typedef struct sb_http_res {
  int status;                /* 0 when the request failed */
  char reason[64];           /* the status line's reason phrase (HTTP/1), "" when none */
  const char *proto;         /* "HTTP/1.1", "HTTP/1.0", "HTTP/2.0" (static) */
  const char *error;         /* message, NULL on success; static or in |errbuf| */
  int error_code;            /* SB_HTTP_ERR_* */
  char errbuf[160];          /* room for a message with details */
  sb_buf head;               /* raw header bytes the names/values point into */
  sb_http_header *headers;   /* |nheaders| entries, all of them (no fixed limit) */
  size_t nheaders;
  sb_buf hdrs;               /* the memory behind |headers| and parse-time offsets */
  sb_buf body;               /* decoded body (Content-Encoding undone) unless discarded */
  sb_buf scratch;            /* decoding space, reused */
  sb_http_timings timings;
  uint64_t bytes_sent;       /* on the wire, for data_sent */
  uint64_t bytes_received;   /* on the wire, for data_received */
  char remote_ip[46];
  int remote_port;
  const char *tls_version;   /* "tls1.2", "tls1.3", ... or "" (static) */
  char tls_cipher_suite[64]; /* IANA name ("TLS_AES_128_GCM_SHA256") or "" */
  sb_http_ocsp ocsp;
} sb_http_res;

void sb_http_res_init(sb_http_res *res);
void sb_http_res_clear(sb_http_res *res);
/* The value of the first header named |name| (case-insensitive), or NULL; |*len| gets its length. */
const char *sb_http_res_header(const sb_http_res *res, const char *name, size_t *len);

/* What the VUs of one worker share: the options, the TLS contexts, the resolver. */
typedef struct sb_http_shared sb_http_shared;

/* Creates a worker's shared state on |base|. |cfg| is borrowed (must outlive it; NULL = k6's
 * defaults). Returns 0, SB_ENOMEM, or SB_EINVAL when the TLS options cannot be applied (|err| says
 * which: a bad client certificate, an unusable cipher list). */
int sb_http_shared_new(sb_http_shared **out, struct event_base *base, const sb_http_config *cfg,
                       sb_err *err);
void sb_http_shared_free(sb_http_shared *s);
const sb_http_config *sb_http_shared_config(const sb_http_shared *s);
/* The agent's target allowlist (agent/allow.h), borrowed: checked before every new connection of
 * the worker's VUs, redirects and retries included. NULL (the default): every target. */
struct sb_allow;
void sb_http_shared_set_allow(sb_http_shared *s, const struct sb_allow *allow);

/* Raises this process's open-files soft limit (RLIMIT_NOFILE) to its hard limit: every VU
 * connection is a descriptor, and the usual soft 1,024 would fail requests with "dial: too many
 * open files" long before the machine is busy. Sets |*before| and |*after| (may be NULL). Returns
 * 0, or -1 when the limit cannot be read or set (nothing changes). */
int sb_http_raise_fd_limit(uint64_t *before, uint64_t *after);
/* The User-Agent requests carry: the userAgent option, else "speedboat/<version>"; "" = none.
 * |cfg| may be NULL (the default). */
const char *sb_http_user_agent(const sb_http_config *cfg);

typedef struct sb_http_client sb_http_client;

/* Called once per request on the loop thread, after |res| is complete (status or error set). */
typedef void (*sb_http_done_cb)(sb_http_res *res, void *ud);

/* Creates a client whose connections live on |base|. |shared| is borrowed (NULL: the client makes
 * a private one with k6's defaults). Returns 0 or SB_ENOMEM. */
int sb_http_client_new(sb_http_client **out, struct event_base *base, sb_http_shared *shared);
/* Closes every connection. Requests in flight are dropped without calling their callbacks. */
void sb_http_client_free(sb_http_client *c);

/* Starts a request; |cb| is called later from the loop, never from inside this call. |res| must
 * stay valid until then; it is reset first (memory kept). Other requests may be in flight.
 * Returns 0, or SB_EINVAL for a URL the client cannot handle (then |res->error| says why and |cb|
 * is not called), or SB_ENOMEM. */
int sb_http_client_request(sb_http_client *c, const sb_http_req *req, sb_http_res *res,
                           sb_http_done_cb cb, void *ud);

/* Drops every request in flight (their connections are closed); no callback is called. */
void sb_http_client_cancel(sb_http_client *c);
/* Closes the idle connections (noVUConnectionReuse: called between iterations). */
void sb_http_client_close_idle(sb_http_client *c);
/* Connections currently open (idle or busy), for tests. */
size_t sb_http_client_conns(const sb_http_client *c);

#endif
