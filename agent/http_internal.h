/* The HTTP client's parts, as its own modules see each other (not for the rest of the agent):
 * the client (http_client.c) owns requests ("exchanges") and the pool; a connection
 * (http_conn.c) carries bytes over TCP or TLS; a protocol (http_h1.c, http_h2.c) turns exchanges
 * into bytes on a connection and bytes back into responses; http_tls.c holds the TLS contexts.
 *
 * Ownership: the client owns its connections (list |conns|) and exchanges (a free list, reused so
 * a steady loop does not allocate); a connection points at the exchanges it carries through its
 * protocol state; an exchange points at its connection while it is attached. */
#ifndef SB_HTTP_INTERNAL_H
#define SB_HTTP_INTERNAL_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <http_parser.h>
#include <openssl/ssl.h>

#include "agent/dns.h"
#include "agent/h1_parse.h"
#include "agent/http_client.h"

typedef struct sb_conn sb_conn;
typedef struct sb_xfer sb_xfer;

/* A protocol on a ready connection (STYLE.md rule 8: a small vtable chosen once, after ALPN). */
typedef struct sb_http_proto {
  const char *name;                       /* "HTTP/1.1", "HTTP/2.0" */
  int (*attach)(sb_conn *k);              /* set up the protocol state; 0 or SB_ENOMEM */
  void (*detach)(sb_conn *k);             /* free it (exchanges already gone) */
  int (*can_take)(const sb_conn *k);      /* may another exchange start on |k| now? */
  int (*submit)(sb_conn *k, sb_xfer *x);  /* start sending |x|; 0 or < 0 (x not taken) */
  void (*on_read)(sb_conn *k);            /* input is waiting in the bufferevent */
  /* plain connections: |n| bytes just read, the bufferevent's input being empty (NULL: they
   * go through the input buffer and on_read) */
  void (*on_bytes)(sb_conn *k, const char *p, size_t n);
  void (*on_write)(sb_conn *k);           /* the output buffer drained */
  /* the connection broke (|code| 0: EOF; else k6's code and message): finish or fail every
   * exchange on it. The connection is freed by the caller afterwards. */
  void (*on_close)(sb_conn *k, int code, const char *msg);
  void (*cancel)(sb_conn *k, sb_xfer *x); /* drop |x| without finishing it */
} sb_http_proto;

extern const sb_http_proto sb_http_h1;
extern const sb_http_proto sb_http_h2;

enum { CONN_CONNECTING, CONN_HANDSHAKING, CONN_READY };

struct sb_conn {
  sb_conn *next;              /* in the client's list */
  sb_http_client *c;
  struct bufferevent *bev;    /* NULL while the TCP connect is pending */
  SSL *ssl;                   /* TLS connections: owned by |bev| once it exists */
  evutil_socket_t fd;
  struct event connect_ev;    /* the pending non-blocking connect */
  int connect_armed;
  struct event read_ev;       /* plain connections: read here, not by the bufferevent */
  int read_armed;
  int state;                  /* CONN_* */
  int tls;
  int port;
  char host[256];             /* pool key: host as in the URL (lower case, no brackets) */
  char ip[46];
  const sb_http_proto *proto; /* NULL until ready */
  void *ps;                   /* the protocol's state */
  int nactive;                /* exchanges it carries */
  int used;                   /* has carried a request before */
  int reusable;               /* 0: close when it goes idle */
  int maybe_h2;               /* TLS with h2 offered: exchanges may queue for it */
  sb_xfer *queue;             /* exchanges waiting for it to become ready */
  int in_cb;                  /* inside one of its callbacks: freeing waits for the end */
  int dead;                   /* freed while in a callback: the callback's end frees it */
  int conn_err;               /* an immediate connect() failure, reported from the loop */
  int broken;                 /* a socket or TLS error: no orderly TLS shutdown */
  int resumed;                /* the TLS handshake resumed a session of the VU */
  double t_connect, t_connected, t_ready;
  /* Plain connections, while bytes are being delivered: when they reached the socket (the
   * kernel's receive timestamp, on the monotonic clock, ms); 0 otherwise. A response's first
   * and last byte are timed from it, so a busy loop that reads late does not lengthen them. */
  double t_rx;
  const char *tls_version;
  char tls_cipher[64];
  sb_http_ocsp ocsp;
};

struct sb_xfer {
  sb_xfer *next;              /* free list, or a connection's queue / protocol list */
  sb_xfer *inext;             /* the client's in-flight list */
  sb_http_client *c;
  sb_conn *k;                 /* while attached */
  sb_http_res *res;
  sb_http_done_cb cb;
  void *ud;
  /* the request */
  char method[24];
  int tls, port, v6;
  char host[256];
  sb_buf target;              /* "/path?query" */
  sb_buf hdr;                 /* the caller's headers, "name\0value\0" pairs */
  size_t nhdr;
  sb_buf body;
  sb_buf out;                 /* h1: the request bytes (kept for a replay); h2: header strings */
  sb_buf nv;                  /* h2: the nghttp2_nv array */
  int interim;                /* h1: a 1xx response came first */
  int idempotent, head, discard, no_reuse;
  int retried, got_byte, sent;
  double timeout_ms;
  struct event timer;
  struct event defer;         /* delivers an immediate failure from the loop */
  int err_code;
  const char *err_msg;
  sb_dns_req *dns;
  struct sockaddr_storage sa;
  socklen_t salen;
  double t_start, t_write, t_sent, t_first;
  /* h1 */
  sb_h1p parser;              /* the response parser */
  int hstate;                 /* 0 none, 1 in a name, 2 in a value, 3 headers done */
  int leftover;               /* bytes followed the response */
  /* h2 */
  int32_t stream_id;
  size_t body_off;
};

/* What a worker's VUs share (sb_http_shared in http_client.h). */
typedef struct sb_tls_cred {
  X509 *cert;
  STACK_OF(X509) *chain;
  EVP_PKEY *key;
} sb_tls_cred;

struct sb_http_shared {
  struct event_base *base;
  const sb_http_config *cfg;
  sb_http_config defaults;    /* |cfg| points here when none was given */
  SSL_CTX *ctx;               /* verification, versions, ciphers, ALPN */
  int trust_loaded;           /* the CA store is filled (on the first TLS connection) */
  sb_tls_cred *creds;         /* one per cfg->tls_auth entry */
  sb_dns *dns;
  const struct sb_allow *allow; /* the agent's --allow-targets; NULL: every target */
};

#define SB_TLS_SESSIONS 8

typedef struct sb_tls_session {
  char host[256];
  int port;
  SSL_SESSION *sess;
} sb_tls_session;

struct sb_http_client {
  struct event_base *base;
  sb_http_shared *shared;
  sb_http_shared *own;        /* made by the client when none was given */
  sb_conn *conns;
  sb_xfer *free_xfers;        /* finished exchanges, memory kept */
  sb_xfer *inflight;          /* exchanges in flight, through |inext| */
  sb_tls_session *sessions;   /* SB_TLS_SESSIONS slots, made by the first TLS session */
  sb_buf scratch;             /* decoding a chain of content codings */
  size_t next_session;
  sb_buf last_url;            /* the last URL parsed, and what the parser found in it: a VU */
  struct http_parser_url *last_parts; /* requests the same URL over and over (NULL: none yet) */
};

/* --- client (http_client.c), for the protocols ------------------------------------------- */

/* Ends |x|: fills its timings, detaches it from its connection (which goes idle, stays busy with
 * others, or closes) and calls the user's callback last. |code| != 0 fails it with |msg|. */
void sb_xfer_finish(sb_xfer *x, int code, const char *msg);
/* A response byte arrived for |x| (first one: the waiting phase ends). */
void sb_xfer_first_byte(sb_xfer *x);
/* The request of |x| is fully written. */
void sb_xfer_sent(sb_xfer *x);
/* The request was handed to the kernel whole by a write that started at |t_ms| (sb_xfer_now_ms):
 * sending ends there, not when the write returned, because on loopback the answer can reach the
 * socket (its kernel stamp, sb_conn.t_rx) before send() returns. */
void sb_xfer_sent_at(sb_xfer *x, double t_ms);
double sb_xfer_now_ms(void); /* the clock of the exchanges' timings (monotonic, ms) */
/* Header bookkeeping shared by h1 and h2: appends a name or value piece, and turns offsets
 * into pointers when the header block ends. Return 0 or SB_ENOMEM. */
int sb_res_header_piece(sb_http_res *res, int *hstate, int which, const char *at, size_t len);
void sb_res_headers_done(sb_http_res *res, int hstate);
/* Whether the pool may keep |k| after its exchanges end. */
void sb_conn_not_reusable(sb_conn *k);
/* Replays |x| on a fresh connection after its reused one died before any response byte. Returns 1
 * when it did (|x| detached from its old connection), 0 when |x| must fail instead. */
int sb_xfer_retry(sb_xfer *x);
/* Sends |x| again on another connection because the server refused it unprocessed (an HTTP/2
 * stream above a GOAWAY's last stream, or REFUSED_STREAM): safe for any method, as Go's
 * transport does. Returns 1 when it did, 0 when |x| was refused too often and must fail. */
int sb_xfer_requeue(sb_xfer *x);
/* Maps an errno to k6's code and message. |dialing|: the connection was never established. */
void sb_http_errno(int e, int dialing, int *code, const char **msg);

/* --- connections (http_conn.c) ----------------------------------------------------------- */

/* Starts a connection to |x|'s host for |x| (queued on it) at address x->sa. Returns the
 * connection (in c->conns) or NULL on SB_ENOMEM. A failed dial arrives later through |x|. */
sb_conn *sb_conn_open(sb_http_client *c, sb_xfer *x);
/* Closes |k| and frees it; exchanges still on it must be finished or cancelled before. */
void sb_conn_free(sb_conn *k);
/* For the client: |k| is ready (protocol chosen): queued exchanges start; or it failed. */
void sb_conn_ready(sb_conn *k);
void sb_conn_failed(sb_conn *k, int code, const char *msg);
/* Writes |len| bytes; on a plain socket with nothing queued, straight to the socket. 0 or -1. */
int sb_conn_write(sb_conn *k, const void *data, size_t len);

/* --- TLS (http_tls.c) -------------------------------------------------------------------- */

/* A new SSL for the connection |k| (SNI, verification, ALPN, client certificate, a resumed
 * session when the VU has one). NULL on failure. */
SSL *sb_tls_new_ssl(sb_conn *k);
/* After a handshake: records version, cipher suite, ALPN choice, OCSP into |k|. Returns 1 when
 * ALPN chose h2. */
int sb_tls_handshake_done(sb_conn *k);
/* Maps a TLS failure on |k| (handshake, or a later alert) to k6's code and message (static).
 * Returns 0 when OpenSSL recorded no error. */
int sb_tls_error(sb_conn *k, int *code, const char **msg);
/* The worker's shared state of a client, for the TLS module. */
sb_http_shared *sb_http_client_shared(sb_http_client *c);
/* The VU's TLS session cache (resumption across its connections). */
void sb_tls_session_store(sb_http_client *c, const char *host, int port, SSL_SESSION *s);
SSL_SESSION *sb_tls_session_find(sb_http_client *c, const char *host, int port);

#endif
