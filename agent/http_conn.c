/* Connections of the HTTP client: a non-blocking TCP connect timed on its own, then a libevent
 * bufferevent over the socket — plain, or OpenSSL's (the handshake timed apart from the connect,
 * as k6's connecting and tls_handshaking are) — and the protocol ALPN chose.
 *
 * The connect is done by hand (socket, connect, one event) rather than through
 * bufferevent_socket_connect(), because a TLS bufferevent reports "connected" only after its
 * handshake: k6 times the two separately. Callbacks into the protocol run inside in_cb brackets,
 * so a connection freed by the code they call (an exchange finishing on a connection that must
 * close) is freed when the callback returns, never under its own feet. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <limits.h>
#include <openssl/err.h>

#include "agent/http_internal.h"
#include "agent/selfmon.h"
#include "common/rx_stamp.h"

#define MAX_SINGLE_READ 65536

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void really_free(sb_conn *k) {
  if (k->connect_armed) event_del(&k->connect_ev);
  if (k->read_armed) event_del(&k->read_ev);
  /* A connection closed without a TLS shutdown makes OpenSSL drop its session as bad; one that
   * ends in good order (idle, or done with) keeps it for the VU's next connection (resumption,
   * as Go does). No close_notify is sent: the socket closes right after. */
  if (k->bev && k->tls && k->state == CONN_READY && !k->broken)
    SSL_set_shutdown(bufferevent_openssl_get_ssl(k->bev), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  if (k->proto) k->proto->detach(k);
  if (k->bev)
    bufferevent_free(k->bev); /* closes the socket and frees the SSL */
  else if (k->fd >= 0)
    close(k->fd);
  if (!k->bev && k->ssl) SSL_free(k->ssl);
  free(k);
}

void sb_conn_free(sb_conn *k) {
  sb_http_client *c = k->c;
  if (k->dead) return;
  for (sb_conn **p = &c->conns; *p; p = &(*p)->next)
    if (*p == k) {
      *p = k->next;
      break;
    }
  k->next = NULL;
  if (k->in_cb) {
    k->dead = 1;
    if (k->bev) bufferevent_disable(k->bev, EV_READ | EV_WRITE);
    if (k->read_armed) event_del(&k->read_ev);
    k->read_armed = 0;
    return;
  }
  really_free(k);
}

/* Ends a callback bracket; returns 1 when |k| is gone. */
static int cb_end(sb_conn *k) {
  if (--k->in_cb == 0 && k->dead) {
    really_free(k);
    return 1;
  }
  return 0;
}

/* Writes what it can of |data| straight to the socket (plain) or through SSL_write (TLS, a ready
 * connection only). Returns the bytes taken, 0 when none. A TLS write the socket refused is
 * retried by the bufferevent with the same bytes first, as OpenSSL requires. */
static size_t write_now(sb_conn *k, const void *data, size_t len) {
  if (!k->tls) {
    ssize_t n = send(k->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
  }
  if (k->state != CONN_READY || k->broken || len > INT_MAX) return 0;
  SSL *ssl = bufferevent_openssl_get_ssl(k->bev);
  ERR_clear_error();
  int n = SSL_write(ssl, data, (int)len);
  if (n <= 0) ERR_clear_error(); /* the bufferevent's own write will meet the error again */
  return n > 0 ? (size_t)n : 0;
}

int sb_conn_write(sb_conn *k, const void *data, size_t len) {
  struct evbuffer *out = bufferevent_get_output(k->bev);
  if (evbuffer_get_length(out) == 0) {
    /* A request nearly always fits the socket buffer: writing it now spares arming and
     * disarming the write event (two epoll_ctl calls) and a loop round; what does not fit goes
     * through the bufferevent as usual. */
    size_t n = write_now(k, data, len);
    if (n == len) return 1;
    data = (const char *)data + n;
    len -= n;
  }
  return evbuffer_add(out, data, len) < 0 ? -1 : 0;
}

static void on_read(struct bufferevent *bev, void *arg) {
  sb_conn *k = arg;
  if (!k->proto) return;
  k->in_cb++;
  k->proto->on_read(k);
  cb_end(k);
}

static void on_write(struct bufferevent *bev, void *arg) {
  sb_conn *k = arg;
  if (!k->proto) return;
  k->in_cb++;
  k->proto->on_write(k);
  cb_end(k);
}

/* The handshake is done: picks the protocol and hands the connection to the client. */
static void ready(sb_conn *k) {
  int h2 = k->tls && sb_tls_handshake_done(k);
  k->t_ready = now_ms();
  k->proto = h2 ? &sb_http_h2 : &sb_http_h1;
  if (k->proto->attach(k) < 0) {
    k->proto = NULL;
    sb_conn_failed(k, SB_HTTP_ERR_GENERIC, "out of memory");
    return;
  }
  k->state = CONN_READY;
  k->in_cb++;
  sb_conn_ready(k);
  if (cb_end(k)) return;
  if (k->proto == &sb_http_h2 && k->proto->on_write) {
    k->in_cb++;
    k->proto->on_write(k); /* flushes what the queued exchanges submitted */
    cb_end(k);
  }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  sb_conn *k = arg;
  if (what & BEV_EVENT_CONNECTED) {
    ready(k);
    return;
  }
  int e = (what & BEV_EVENT_EOF) ? 0 : EVUTIL_SOCKET_ERROR();
  int code = 0;
  if (what & BEV_EVENT_ERROR) k->broken = 1;
  const char *msg = NULL;
  if (k->tls && sb_tls_error(k, &code, &msg)) {
    /* OpenSSL's own account: a verification failure, an alert */
  } else if (e) {
    sb_http_errno(e, k->state != CONN_READY, &code, &msg);
  } else if (k->state != CONN_READY) {
    code = SB_HTTP_ERR_EOF, msg = "EOF";
  }
  if (k->state != CONN_READY) { /* the TLS handshake failed */
    sb_conn_failed(k, code ? code : SB_HTTP_ERR_TLS, msg ? msg : "tls: handshake failure");
    return;
  }
  k->in_cb++;
  k->proto->on_close(k, code, msg);
  sb_conn_free(k);
  cb_end(k);
}

/* Plain connections read with recv() into the loop's stack and hand the bytes to the protocol
 * directly (on_bytes): libevent's evbuffer_read asks the kernel how much is readable first
 * (an ioctl per read) and grows its buffer by a malloc'ed chain — ~4% of a request in perf.
 * Up to PLAIN_READ_ROUNDS full buffers per wake-up (a body streams at 128 KiB a turn). */
#define PLAIN_READ 32768
#define PLAIN_READ_ROUNDS 4

static void plain_fail(sb_conn *k, short what, int e) {
  if (k->read_armed) event_del(&k->read_ev);
  k->read_armed = 0;
  errno = e; /* on_event reads it as the bufferevent would */
  on_event(k->bev, (short)(BEV_EVENT_READING | what), k);
}

/* Hands |n| bytes that reached the socket at |t_rx| to the protocol; returns 1 when |k| is gone
 * or no longer reading. */
static int plain_deliver(sb_conn *k, const char *buf, size_t n, double t_rx) {
  struct evbuffer *in = bufferevent_get_input(k->bev);
  k->t_rx = t_rx;
  k->in_cb++;
  if (k->proto && k->proto->on_bytes && evbuffer_get_length(in) == 0) {
    k->proto->on_bytes(k, buf, n);
  } else if (evbuffer_add(in, buf, n) < 0) {
    cb_end(k);
    plain_fail(k, BEV_EVENT_ERROR, ENOMEM);
    return 1;
  } else if (k->proto) {
    k->proto->on_read(k);
  }
  k->t_rx = 0;
  if (cb_end(k)) return 1;
  return k->dead || !k->read_armed;
}

static void on_plain_read(evutil_socket_t fd, short what, void *arg) {
  sb_conn *k = arg;
  char buf[PLAIN_READ];
  union { /* aligned for cmsghdr */
    char b[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
  } ctl;
  (void)what;
  for (int round = 0; round < PLAIN_READ_ROUNDS; round++) {
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                        .msg_controllen = sizeof(ctl.b)};
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        plain_fail(k, BEV_EVENT_ERROR, errno);
      return;
    }
    if (n == 0) {
      plain_fail(k, BEV_EVENT_EOF, 0);
      return;
    }
    if (plain_deliver(k, buf, (size_t)n, sb_rx_stamp_ms(&mh)) || (size_t)n < sizeof(buf)) return;
  }
}

/* The TCP connect finished (or failed): on to TLS, or straight to HTTP/1.1. */
static void on_connected(evutil_socket_t fd, short what, void *arg) {
  sb_conn *k = arg;
  int e = k->conn_err;
  socklen_t len = sizeof(e);
  k->connect_armed = 0;
  if (!e && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) e = errno;
  if (e) {
    int code;
    const char *msg;
    if (e == EMFILE || e == ENFILE) sb_selfmon_dial_emfile(); /* the generator's own limit */
    sb_http_errno(e, 1, &code, &msg);
    sb_conn_failed(k, code, msg);
    return;
  }
  k->t_connected = now_ms();
  if (k->tls) {
    k->ssl = sb_tls_new_ssl(k);
    if (k->ssl)
      k->bev = bufferevent_openssl_socket_new(k->c->base, fd, k->ssl, BUFFEREVENT_SSL_CONNECTING,
                                              BEV_OPT_CLOSE_ON_FREE);
    if (k->bev) bufferevent_openssl_set_allow_dirty_shutdown(k->bev, 1);
  } else {
    k->bev = bufferevent_socket_new(k->c->base, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (!k->bev) {
    sb_conn_failed(k, SB_HTTP_ERR_GENERIC, k->tls && !k->ssl ? "tls: cannot set up" : "out of memory");
    return;
  }
  k->fd = fd;
  bufferevent_set_max_single_read(k->bev, MAX_SINGLE_READ);
  bufferevent_setcb(k->bev, on_read, on_write, on_event, k);
  if (k->tls) {
    bufferevent_enable(k->bev, EV_READ | EV_WRITE);
  } else {
    bufferevent_enable(k->bev, EV_WRITE);
    int one = 1; /* receive timestamps (on_plain_read); without them bytes are timed when read */
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    event_assign(&k->read_ev, k->c->base, fd, EV_READ | EV_PERSIST, on_plain_read, k);
    event_add(&k->read_ev, NULL);
    k->read_armed = 1;
  }
  if (k->tls)
    k->state = CONN_HANDSHAKING; /* on_event(CONNECTED) follows */
  else
    ready(k);
}

sb_conn *sb_conn_open(sb_http_client *c, sb_xfer *x) {
  sb_conn *k = calloc(1, sizeof(*k));
  if (!k) return NULL;
  k->c = c;
  k->fd = -1;
  k->tls = x->tls;
  k->port = x->port;
  k->reusable = 1;
  k->maybe_h2 = x->tls;
  snprintf(k->host, sizeof(k->host), "%s", x->host);
  if (x->sa.ss_family == AF_INET6)
    evutil_inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&x->sa)->sin6_addr, k->ip, sizeof(k->ip));
  else
    evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)&x->sa)->sin_addr, k->ip, sizeof(k->ip));
  int fd = socket(x->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    k->conn_err = errno;
  } else {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    k->fd = fd;
  }
  k->next = c->conns;
  c->conns = k;
  x->next = NULL;
  k->queue = x;
  k->state = CONN_CONNECTING;
  k->t_connect = now_ms();
  event_assign(&k->connect_ev, c->base, fd, EV_WRITE, on_connected, k);
  k->connect_armed = 1;
  if (fd >= 0 && connect(fd, (struct sockaddr *)&x->sa, x->salen) < 0 && errno != EINPROGRESS)
    k->conn_err = errno;
  if (k->conn_err || fd < 0)
    event_active(&k->connect_ev, EV_WRITE, 0); /* reported from the loop, as any dial error */
  else
    event_add(&k->connect_ev, NULL);
  return k;
}
