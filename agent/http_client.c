/* The HTTP client of one VU: exchanges, the connection pool, timeouts (see http_client.h).
 *
 * An exchange (sb_xfer) is one request from sb_http_client_request() to its callback. It goes
 * through: resolve (agent/dns.c) -> a connection (a ready one from the pool whose protocol can
 * take it, a connecting TLS one that may turn out to be HTTP/2, or a new one) -> the protocol
 * (agent/http_h1.c, agent/http_h2.c) -> sb_xfer_finish(). Exchanges and their buffers are reused
 * through a free list, so a steady loop does not allocate. Every completion runs from a loop
 * callback and calls the user's callback as its very last step, so the callback may start the
 * next request or free the client. */
#include "agent/http_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "agent/allow.h"
#include "agent/http_internal.h"
#include "common/codec.h"

#define MAX_IDLE 16      /* idle connections a VU keeps */
#define MAX_BODY (1u << 30)

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* --- responses --------------------------------------------------------------------------- */

void sb_http_res_init(sb_http_res *res) {
  memset(res, 0, sizeof(*res));
  sb_buf_init(&res->head);
  sb_buf_init(&res->hdrs);
  sb_buf_init(&res->body);
  sb_buf_init(&res->scratch);
  res->proto = "HTTP/1.1";
  res->tls_version = "";
}

void sb_http_res_clear(sb_http_res *res) {
  sb_buf_clear(&res->head);
  sb_buf_clear(&res->hdrs);
  sb_buf_clear(&res->body);
  sb_buf_clear(&res->scratch);
  res->headers = NULL;
  res->nheaders = 0;
}

static void res_reset(sb_http_res *res) {
  res->status = 0;
  res->reason[0] = '\0';
  res->proto = "HTTP/1.1";
  res->error = NULL;
  res->error_code = 0;
  sb_buf_reset(&res->head);
  sb_buf_reset(&res->hdrs);
  sb_buf_reset(&res->body);
  res->headers = NULL;
  res->nheaders = 0;
  memset(&res->timings, 0, sizeof(res->timings));
  res->bytes_sent = res->bytes_received = 0;
  res->remote_ip[0] = '\0';
  res->remote_port = 0;
  res->tls_version = "";
  res->tls_cipher_suite[0] = '\0';
  memset(&res->ocsp, 0, sizeof(res->ocsp));
}

const char *sb_http_res_header(const sb_http_res *res, const char *name, size_t *len) {
  size_t n = strlen(name);
  for (size_t i = 0; i < res->nheaders; i++) {
    const sb_http_header *h = &res->headers[i];
    if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
      if (len) *len = h->value_len;
      return h->value;
    }
  }
  return NULL;
}

/* While a header block is parsed, |hdrs| holds sb_http_header entries whose pointers are offsets
 * into |head| (SIZE_MAX: no value yet); sb_res_headers_done() turns them into pointers, since
 * |head| may move as it grows. */
int sb_res_header_piece(sb_http_res *res, int *hstate, int which, const char *at, size_t len) {
  if (*hstate == 3) return 0; /* trailers: ignored */
  sb_http_header *h;
  if (*hstate != which) {
    if (which == 1) {
      if (sb_buf_reserve(&res->hdrs, sizeof(*h)) < 0) return SB_ENOMEM;
      h = (sb_http_header *)(res->hdrs.data + res->hdrs.len);
      res->hdrs.len += sizeof(*h);
      res->nheaders++;
      memset(h, 0, sizeof(*h));
      h->value = (const char *)(uintptr_t)SIZE_MAX;
    } else if (res->nheaders == 0) {
      return 0; /* a value without a name: nothing to attach it to */
    }
    if (res->head.len && sb_buf_append(&res->head, "", 1) < 0) return SB_ENOMEM;
    h = (sb_http_header *)res->hdrs.data + (res->nheaders - 1);
    if (which == 1)
      h->name = (const char *)(uintptr_t)res->head.len;
    else
      h->value = (const char *)(uintptr_t)res->head.len;
    *hstate = which;
  }
  if (res->nheaders == 0) return 0;
  if (sb_buf_append(&res->head, at, len) < 0) return SB_ENOMEM;
  h = (sb_http_header *)res->hdrs.data + (res->nheaders - 1);
  if (which == 1)
    h->name_len += len;
  else
    h->value_len += len;
  return 0;
}

void sb_res_headers_done(sb_http_res *res, int hstate) {
  sb_http_header *hs = (sb_http_header *)res->hdrs.data;
  if (hstate == 3) return;
  for (size_t i = 0; i < res->nheaders; i++) {
    uintptr_t no = (uintptr_t)hs[i].name, vo = (uintptr_t)hs[i].value;
    hs[i].name = res->head.data + no;
    hs[i].value = vo == (uintptr_t)SIZE_MAX ? "" : res->head.data + vo;
  }
  res->headers = hs;
}

/* --- shared state of a worker ------------------------------------------------------------ */

int sb_tls_shared_init(sb_http_shared *s, sb_err *err);
void sb_tls_shared_clear(sb_http_shared *s);

int sb_http_shared_new(sb_http_shared **out, struct event_base *base, const sb_http_config *cfg,
                       sb_err *err) {
  sb_http_shared *s = calloc(1, sizeof(*s));
  int r = SB_ENOMEM;
  if (!s) return sb_err_set(err, SB_ENOMEM, "out of memory");
  s->base = base;
  sb_http_config_defaults(&s->defaults);
  s->cfg = cfg ? cfg : &s->defaults;
  if ((r = sb_tls_shared_init(s, err)) < 0) goto fail_tls;
  if ((r = sb_dns_new(&s->dns, base, s->cfg)) < 0) {
    sb_err_set(err, r, "cannot create the DNS resolver");
    goto fail_dns;
  }
  *out = s;
  return 0;
fail_dns:
  sb_tls_shared_clear(s);
fail_tls:
  free(s);
  return r;
}

void sb_http_shared_free(sb_http_shared *s) {
  if (!s) return;
  sb_dns_free(s->dns);
  sb_tls_shared_clear(s);
  free(s);
}

#ifndef SB_VERSION
#define SB_VERSION "dev"
#endif

const char *sb_http_user_agent(const sb_http_config *cfg) {
  return cfg && cfg->user_agent ? cfg->user_agent : "speedboat/" SB_VERSION;
}

int sb_http_raise_fd_limit(uint64_t *before, uint64_t *after) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return -1;
  if (before) *before = (uint64_t)r.rlim_cur;
  if (r.rlim_cur < r.rlim_max) {
    rlim_t was = r.rlim_cur;
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
      if (after) *after = (uint64_t)was;
      return -1;
    }
  }
  if (after) *after = (uint64_t)r.rlim_cur;
  return 0;
}

void sb_http_shared_set_allow(sb_http_shared *s, const struct sb_allow *allow) {
  s->allow = allow;
}

const sb_http_config *sb_http_shared_config(const sb_http_shared *s) {
  return s->cfg;
}

sb_http_shared *sb_http_client_shared(sb_http_client *c) {
  return c->shared;
}

/* --- exchanges ---------------------------------------------------------------------------- */

static void on_timeout(evutil_socket_t fd, short what, void *arg);
static void on_defer(evutil_socket_t fd, short what, void *arg);

static sb_xfer *xfer_get(sb_http_client *c) {
  sb_xfer *x = c->free_xfers;
  if (x) {
    c->free_xfers = x->next;
  } else {
    if (!(x = calloc(1, sizeof(*x)))) return NULL;
    x->c = c;
    sb_buf_init(&x->target);
    sb_buf_init(&x->hdr);
    sb_buf_init(&x->body);
    sb_buf_init(&x->out);
    sb_buf_init(&x->nv);
    evtimer_assign(&x->timer, c->base, on_timeout, x);
    evtimer_assign(&x->defer, c->base, on_defer, x);
  }
  x->next = NULL;
  x->inext = c->inflight;
  c->inflight = x;
  return x;
}

static void xfer_free(sb_xfer *x) {
  sb_buf_clear(&x->target);
  sb_buf_clear(&x->hdr);
  sb_buf_clear(&x->body);
  sb_buf_clear(&x->out);
  sb_buf_clear(&x->nv);
  free(x);
}

/* Takes |x| off the in-flight list and puts it on the free list (memory kept). */
static void xfer_release(sb_xfer *x) {
  sb_http_client *c = x->c;
  for (sb_xfer **p = &c->inflight; *p; p = &(*p)->inext)
    if (*p == x) {
      *p = x->inext;
      break;
    }
  evtimer_del(&x->timer);
  evtimer_del(&x->defer);
  if (x->dns) sb_dns_cancel(x->dns);
  x->dns = NULL;
  x->k = NULL;
  x->res = NULL;
  x->cb = NULL;
  x->next = c->free_xfers;
  c->free_xfers = x;
}

static int conn_idle_count(sb_http_client *c) {
  int n = 0;
  for (sb_conn *k = c->conns; k; k = k->next)
    if (k->state == CONN_READY && k->nactive == 0) n++;
  return n;
}

/* Keeps at most MAX_IDLE idle connections: the oldest (last in the list) go first. */
static void pool_trim(sb_http_client *c) {
  for (int excess = conn_idle_count(c) - MAX_IDLE; excess > 0; excess--) {
    sb_conn *last = NULL;
    for (sb_conn *k = c->conns; k; k = k->next)
      if (k->state == CONN_READY && k->nactive == 0 && !k->queue) last = k;
    if (!last) return;
    sb_conn_free(last);
  }
}

/* Detaches |x| from its connection: the connection goes idle, stays busy with others, or closes
 * (not reusable, or asked to). The protocol has already forgotten |x|. */
static void detach(sb_xfer *x) {
  sb_conn *k = x->k;
  if (!k) return;
  x->k = NULL;
  k->nactive--;
  k->used = 1;
  if (k->nactive == 0 && (!k->reusable || x->no_reuse))
    sb_conn_free(k);
  else if (k->nactive == 0)
    pool_trim(x->c);
}

/* Undoes the Content-Encoding of a complete body. Returns 0, or SB_EFORMAT with |x->res->error|
 * set (k6: error_code 1701). */
static int decode_body(sb_http_client *c, sb_http_res *res) {
  size_t elen;
  const char *enc = sb_http_res_header(res, "Content-Encoding", &elen);
  if (!enc || res->body.len == 0) return 0;
  sb_err err;
  err.msg[0] = '\0';
  int r = sb_codec_decode_chain(enc, elen, res->body.data, res->body.len, &res->scratch,
                                &c->scratch, MAX_BODY, &err);
  if (r == SB_EINVAL) return 0; /* a coding we do not know: the body stays as it came (k6) */
  if (r < 0) {
    snprintf(res->errbuf, sizeof(res->errbuf), "error decompressing the response body: %s",
             err.msg);
    return SB_EFORMAT;
  }
  sb_buf swap = res->body; /* the decoded body becomes the body; the old memory the scratch */
  res->body = res->scratch;
  res->scratch = swap;
  return 0;
}

/* When the bytes being handled reached the socket: the kernel's stamp on plain connections
 * (sb_conn.t_rx), now otherwise. */
static double rx_ms(const sb_xfer *x) {
  return x->k && x->k->t_rx > 0 ? x->k->t_rx : now_ms();
}

void sb_xfer_finish(sb_xfer *x, int code, const char *msg) {
  sb_http_res *res = x->res;
  sb_http_done_cb cb = x->cb;
  void *ud = x->ud;
  double end = rx_ms(x);
  sb_http_timings *t = &res->timings;
  if (x->t_first > end) end = x->t_first;

  if (!code && !x->discard && res->status && decode_body(x->c, res) < 0) {
    code = SB_HTTP_ERR_DECOMPRESSION;
    msg = res->errbuf;
  }
  if (code) {
    res->status = 0;
    res->nheaders = 0;
    res->headers = NULL;
    if (msg != res->errbuf) snprintf(res->errbuf, sizeof(res->errbuf), "%s", msg ? msg : "error");
    res->error = res->errbuf;
    res->error_code = code;
  }
  if (x->t_write > 0) {
    double sent = x->t_sent > 0 ? x->t_sent : (x->t_first > 0 ? x->t_first : end);
    t->sending = sent - x->t_write;
    if (x->t_first > 0) {
      t->waiting = x->t_first > sent ? x->t_first - sent : 0; /* k6: 0 when the answer began early */
      t->receiving = end - x->t_first;
    } else {
      t->waiting = end - sent;
    }
  }
  t->duration = t->sending + t->waiting + t->receiving;
  detach(x);
  xfer_release(x);
  if (cb) cb(res, ud);
}

void sb_xfer_first_byte(sb_xfer *x) {
  if (!x->got_byte) {
    x->got_byte = 1;
    x->t_first = rx_ms(x);
  }
}

void sb_xfer_sent(sb_xfer *x) {
  if (!x->sent) sb_xfer_sent_at(x, now_ms());
}

void sb_xfer_sent_at(sb_xfer *x, double t_ms) {
  if (!x->sent) {
    x->sent = 1;
    x->t_sent = t_ms;
  }
}

double sb_xfer_now_ms(void) { return now_ms(); }

void sb_conn_not_reusable(sb_conn *k) {
  k->reusable = 0;
}

static void fail_later(sb_xfer *x, int code, const char *msg) {
  struct timeval tv = {0, 0};
  x->err_code = code;
  x->err_msg = msg;
  evtimer_add(&x->defer, &tv);
}

static void on_defer(evutil_socket_t fd, short what, void *arg) {
  sb_xfer *x = arg;
  sb_xfer_finish(x, x->err_code, x->err_msg);
}

/* Removes |x| from the queue of the connection it waits for, if any. */
static void unqueue(sb_xfer *x) {
  for (sb_conn *k = x->c->conns; k; k = k->next)
    for (sb_xfer **p = &k->queue; *p; p = &(*p)->next)
      if (*p == x) {
        *p = x->next;
        x->next = NULL;
        return;
      }
}

/* Drops |x| from wherever it is (resolver, queue, connection) without finishing it. */
static void xfer_abandon(sb_xfer *x) {
  if (x->k) {
    sb_conn *k = x->k;
    if (k->proto) k->proto->cancel(k, x); /* h1 closes the connection, h2 resets the stream */
    detach(x);
  } else {
    unqueue(x);
  }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
  sb_xfer *x = arg;
  xfer_abandon(x);
  sb_xfer_finish(x, SB_HTTP_ERR_TIMEOUT, "request timeout");
}

void sb_http_errno(int e, int dialing, int *code, const char **msg) {
  switch (e) {
  case ECONNREFUSED: *code = SB_HTTP_ERR_CONN_REFUSED, *msg = "dial: connection refused"; return;
  case ECONNRESET:
    *code = SB_HTTP_ERR_CONN_RESET;
    *msg = dialing ? "dial: connection reset by peer" : "read: connection reset by peer";
    return;
  case EPIPE: *code = SB_HTTP_ERR_BROKEN_PIPE, *msg = "write: broken pipe"; return;
  case ETIMEDOUT: *code = SB_HTTP_ERR_DIAL_TIMEOUT, *msg = "dial: i/o timeout"; return;
  case ENETUNREACH: *code = SB_HTTP_ERR_DIAL, *msg = "dial: network is unreachable"; return;
  case EHOSTUNREACH: *code = SB_HTTP_ERR_DIAL, *msg = "dial: no route to host"; return;
  case EADDRNOTAVAIL: /* out of local ports for this destination */
    *code = SB_HTTP_ERR_DIAL, *msg = "dial: cannot assign requested address";
    return;
  case EMFILE: /* the process's RLIMIT_NOFILE: the agent raises it to the hard limit at start */
    *code = SB_HTTP_ERR_DIAL, *msg = "dial: too many open files";
    return;
  case ENFILE: *code = SB_HTTP_ERR_DIAL, *msg = "dial: too many open files in system"; return;
  case ENOBUFS:
  case ENOMEM: *code = SB_HTTP_ERR_DIAL, *msg = "dial: no buffer space available"; return;
  default:
    *code = dialing ? SB_HTTP_ERR_DIAL : SB_HTTP_ERR_TCP;
    *msg = dialing ? "dial: connection failed" : "connection error";
  }
}

/* --- dispatch ----------------------------------------------------------------------------- */

static void attach(sb_xfer *x, sb_conn *k) {
  sb_http_res *res = x->res;
  x->k = k;
  k->nactive++;
  snprintf(res->remote_ip, sizeof(res->remote_ip), "%s", k->ip);
  res->remote_port = k->port;
  if (k->tls) {
    res->tls_version = k->tls_version ? k->tls_version : "";
    memcpy(res->tls_cipher_suite, k->tls_cipher, sizeof(res->tls_cipher_suite));
    res->ocsp = k->ocsp;
  }
  res->proto = k->proto->name;
  x->t_write = now_ms();
  if (!x->retried) res->timings.blocked = x->t_write - x->t_start;
  if (k->proto->submit(k, x) < 0) {
    detach(x);
    fail_later(x, SB_HTTP_ERR_GENERIC, "out of memory");
  }
}

static int same_key(const sb_conn *k, const sb_xfer *x) {
  return k->port == x->port && k->tls == x->tls && strcmp(k->host, x->host) == 0;
}

static void on_resolved(int err, const struct sockaddr *sa, socklen_t salen, void *ud);

/* The agent's allowlist on the address |x| is about to dial: the URL's host name counts unless
 * the test's own `hosts` option chose the address (agent/allow.h). Every new connection passes
 * here (a redirect is a new request; a retry dispatches again); a pooled one was checked when
 * opened, under the same host key. */
static int target_allowed(const sb_xfer *x) {
  const sb_http_shared *s = x->c->shared;
  if (!s->allow) return 1;
  int name_counts = !sb_http_config_match_host(s->cfg, x->host, x->port);
  return sb_allow_check(s->allow, x->host, (const struct sockaddr *)&x->sa, name_counts);
}

/* Finds |x| a connection: a ready one that can take it, a TLS one still connecting that may turn
 * out to be HTTP/2 (queued there), or a new one after resolving the host. */
static void dispatch(sb_xfer *x) {
  sb_http_client *c = x->c;
  if (!x->no_reuse) {
    for (sb_conn *k = c->conns; k; k = k->next) {
      if (!same_key(k, x) || !k->reusable) continue;
      if (k->state == CONN_READY && k->proto->can_take(k)) {
        attach(x, k);
        return;
      }
      if (k->state != CONN_READY && k->maybe_h2) {
        sb_xfer **p = &k->queue; /* behind the exchange that opened it */
        while (*p)
          p = &(*p)->next;
        *p = x;
        return;
      }
    }
  }
  int r = sb_dns_resolve(c->shared->dns, x->host, x->port, &x->sa, &x->salen, on_resolved, x,
                         &x->dns);
  if (r == 1) {
    on_resolved(0, (struct sockaddr *)&x->sa, x->salen, x);
  } else if (r < 0) {
    x->res->timings.blocked = now_ms() - x->t_start;
    if (r == SB_ENOMEM)
      fail_later(x, SB_HTTP_ERR_GENERIC, "out of memory");
    else
      fail_later(x, SB_HTTP_ERR_DNS_NO_HOST, "lookup: no such host");
  }
}

static void on_resolved(int err, const struct sockaddr *sa, socklen_t salen, void *ud) {
  sb_xfer *x = ud;
  x->dns = NULL;
  if (err < 0) {
    x->res->timings.blocked = now_ms() - x->t_start;
    if (err == SB_ENOTFOUND)
      sb_xfer_finish(x, SB_HTTP_ERR_DNS_NO_HOST, "lookup: no such host");
    else
      sb_xfer_finish(x, SB_HTTP_ERR_DNS, "lookup: resolver failure");
    return;
  }
  if (sa != (struct sockaddr *)&x->sa) memcpy(&x->sa, sa, salen);
  x->salen = salen;
  if (!target_allowed(x)) {
    x->res->timings.blocked = now_ms() - x->t_start;
    fail_later(x, SB_HTTP_ERR_NOT_ALLOWED, "dial: the agent's --allow-targets does not allow "
                                           "this address");
    return;
  }
  if (!sb_conn_open(x->c, x)) fail_later(x, SB_HTTP_ERR_GENERIC, "out of memory");
}

/* Called by the connection layer when |k| is ready (TLS done, protocol chosen): the exchanges
 * queued on it start, or look elsewhere when the protocol takes one at a time. */
void sb_conn_ready(sb_conn *k) {
  sb_xfer *q = k->queue, *next;
  k->queue = NULL;
  for (int first = 1; q; q = next, first = 0) {
    next = q->next;
    q->next = NULL;
    if (first) {
      q->res->timings.connecting = k->t_connected - k->t_connect;
      if (k->tls) q->res->timings.tls_handshaking = k->t_ready - k->t_connected;
    }
    if (k->proto->can_take(k))
      attach(q, k);
    else
      dispatch(q);
  }
}

/* Called by the connection layer when |k| could not be established: fails what waited for it
 * and frees it. */
void sb_conn_failed(sb_conn *k, int code, const char *msg) {
  sb_xfer *q = k->queue, *next;
  k->queue = NULL;
  sb_conn_free(k);
  for (; q; q = next) {
    next = q->next;
    q->next = NULL;
    q->res->timings.blocked = now_ms() - q->t_start;
    sb_xfer_finish(q, code, msg);
  }
}

int sb_xfer_retry(sb_xfer *x) {
  sb_conn *k = x->k;
  if (!k || !k->used || x->got_byte || x->retried || !x->idempotent) return 0;
  x->retried = 1;
  sb_conn_not_reusable(k);
  detach(x);
  x->t_write = x->t_sent = 0;
  x->sent = 0;
  x->res->bytes_sent = 0;
  dispatch(x);
  return 1;
}

int sb_xfer_requeue(sb_xfer *x) {
  sb_http_res *res = x->res;
  if (x->retried >= 3) return 0; /* refused again and again: give up (the caller fails it) */
  x->retried++;
  detach(x);
  x->t_write = x->t_sent = x->t_first = 0;
  x->sent = x->got_byte = 0;
  x->hstate = 0;
  x->stream_id = -1;
  res->status = 0;
  res->nheaders = 0;
  res->headers = NULL;
  res->bytes_sent = res->bytes_received = 0;
  sb_buf_reset(&res->head);
  sb_buf_reset(&res->hdrs);
  sb_buf_reset(&res->body);
  dispatch(x);
  return 1;
}

/* --- starting a request ------------------------------------------------------------------ */

static int is_idempotent(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "TRACE") ||
         !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

static int bad_url(sb_http_res *res, const char *msg) {
  res->error = msg;
  res->error_code = SB_HTTP_ERR_BAD_URL;
  return SB_EINVAL;
}

/* Parses the URL into x->tls/host/port/target. Returns 0 or SB_EINVAL (res->error set). */
static int parse_url(sb_xfer *x, const char *url, sb_http_res *res) {
  struct http_parser_url u;
  sb_http_client *c = x->c;
  size_t len = strlen(url);
  if (c->last_parts && c->last_url.len == len && memcmp(c->last_url.data, url, len) == 0) {
    u = *c->last_parts; /* the URL of the previous request: parsed already */
  } else {
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, len, 0, &u) != 0 || !(u.field_set & (1 << UF_SCHEMA)))
      return bad_url(res, "invalid URL");
    if (!c->last_parts) c->last_parts = malloc(sizeof(*c->last_parts));
    sb_buf_reset(&c->last_url);
    if (c->last_parts && sb_buf_append(&c->last_url, url, len) == 0)
      *c->last_parts = u;
    else
      c->last_url.len = 0, free(c->last_parts), c->last_parts = NULL; /* not remembered */
  }
  const char *schema = url + u.field_data[UF_SCHEMA].off;
  size_t sl = u.field_data[UF_SCHEMA].len;
  if (sl == 4 && strncasecmp(schema, "http", 4) == 0)
    x->tls = 0;
  else if (sl == 5 && strncasecmp(schema, "https", 5) == 0)
    x->tls = 1;
  else
    return bad_url(res, "unsupported protocol scheme");
  size_t hl = u.field_data[UF_HOST].len;
  if (!(u.field_set & (1 << UF_HOST)) || hl == 0 || hl >= sizeof(x->host))
    return bad_url(res, "invalid URL: no host");
  for (size_t i = 0; i < hl; i++) {
    char ch = url[u.field_data[UF_HOST].off + i];
    x->host[i] = ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
  }
  x->host[hl] = '\0';
  x->v6 = strchr(x->host, ':') != NULL;
  x->port = (u.field_set & (1 << UF_PORT)) ? u.port : (x->tls ? 443 : 80);
  sb_buf_reset(&x->target);
  int r = 0;
  if (u.field_set & (1 << UF_PATH))
    r |= sb_buf_append(&x->target, url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  else
    r |= sb_buf_append(&x->target, "/", 1);
  if (u.field_set & (1 << UF_QUERY)) {
    r |= sb_buf_append(&x->target, "?", 1);
    r |= sb_buf_append(&x->target, url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  }
  return r ? SB_ENOMEM : 0;
}

/* Copies the request's headers and body into |x| (the caller's memory is borrowed only for the
 * call). Returns 0 or SB_ENOMEM. */
static int copy_request(sb_xfer *x, const sb_http_req *req) {
  int r = 0;
  sb_buf_reset(&x->hdr);
  sb_buf_reset(&x->body);
  x->nhdr = req->nheaders;
  for (size_t i = 0; i < req->nheaders; i++) {
    r |= sb_buf_append(&x->hdr, req->headers[i].name, req->headers[i].name_len);
    r |= sb_buf_append(&x->hdr, "", 1);
    r |= sb_buf_append(&x->hdr, req->headers[i].value, req->headers[i].value_len);
    r |= sb_buf_append(&x->hdr, "", 1);
  }
  if (req->body_len) r |= sb_buf_append(&x->body, req->body, req->body_len);
  return r ? SB_ENOMEM : 0;
}

int sb_http_client_request(sb_http_client *c, const sb_http_req *req, sb_http_res *res,
                           sb_http_done_cb cb, void *ud) {
  res_reset(res);
  if (!req->method || !*req->method || strlen(req->method) >= sizeof(((sb_xfer *)0)->method)) {
    res->error = "invalid method";
    res->error_code = SB_HTTP_ERR_GENERIC;
    return SB_EINVAL;
  }
  sb_xfer *x = xfer_get(c);
  if (!x) goto fail_nomem;
  x->t_start = now_ms();
  x->res = res;
  int r = parse_url(x, req->url ? req->url : "", res);
  if (r == 0) r = copy_request(x, req);
  if (r < 0) {
    xfer_release(x);
    return r == SB_ENOMEM ? (res->error = "out of memory", SB_ENOMEM) : r;
  }
  memcpy(x->method, req->method, strlen(req->method) + 1); /* its length was checked above */
  x->cb = cb;
  x->ud = ud;
  x->idempotent = is_idempotent(req->method) && !req->body_len;
  x->head = !strcmp(req->method, "HEAD");
  x->discard = req->discard_body;
  x->no_reuse = req->no_reuse;
  x->retried = x->got_byte = x->sent = x->leftover = x->interim = 0;
  x->t_write = x->t_sent = x->t_first = 0;
  x->stream_id = -1;
  x->body_off = 0;
  double tmo = req->timeout_ms > 0 ? req->timeout_ms : 60000;
  struct timeval tv = {(time_t)(tmo / 1000), (suseconds_t)((long long)(tmo * 1000) % 1000000)};
  evtimer_add(&x->timer, &tv);
  dispatch(x);
  return 0;
fail_nomem:
  res->error = "out of memory";
  res->error_code = SB_HTTP_ERR_GENERIC;
  return SB_ENOMEM;
}

void sb_http_client_cancel(sb_http_client *c) {
  while (c->inflight) {
    sb_xfer *x = c->inflight;
    xfer_abandon(x);
    xfer_release(x);
  }
}

void sb_http_client_close_idle(sb_http_client *c) {
  sb_conn *k, *next;
  for (k = c->conns; k; k = next) {
    next = k->next;
    if (k->nactive == 0 && !k->queue) sb_conn_free(k);
  }
}

size_t sb_http_client_conns(const sb_http_client *c) {
  size_t n = 0;
  for (const sb_conn *k = c->conns; k; k = k->next)
    n++;
  return n;
}

int sb_http_client_new(sb_http_client **out, struct event_base *base, sb_http_shared *shared) {
  sb_http_client *c = calloc(1, sizeof(*c));
  if (!c) return SB_ENOMEM;
  c->base = base;
  if (!shared) {
    if (sb_http_shared_new(&c->own, base, NULL, NULL) < 0) {
      free(c);
      return SB_ENOMEM;
    }
    shared = c->own;
  }
  c->shared = shared;
  *out = c;
  return 0;
}

void sb_http_client_free(sb_http_client *c) {
  if (!c) return;
  sb_http_client_cancel(c);
  while (c->conns)
    sb_conn_free(c->conns);
  while (c->free_xfers) {
    sb_xfer *x = c->free_xfers;
    c->free_xfers = x->next;
    xfer_free(x);
  }
  sb_buf_clear(&c->scratch);
  sb_buf_clear(&c->last_url);
  free(c->last_parts);
  for (size_t i = 0; c->sessions && i < SB_TLS_SESSIONS; i++)
    if (c->sessions[i].sess) SSL_SESSION_free(c->sessions[i].sess);
  free(c->sessions);
  sb_http_shared_free(c->own);
  free(c);
}
