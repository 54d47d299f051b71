/* Mutual TLS (common/tls.c): a server and a client bufferevent on 127.0.0.1 exchange bytes; a
 * client certificate from another CA, no client certificate, a server from another CA and a
 * wrong peer_host are all refused; missing and garbage files are named in the error; a peer's
 * last records reach the read callback before its EOF. Certificates are made afresh by
 * test/e2e/gencerts.sh (the tests run from the repo root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tls.c" /* for struct sb_tls */

static char dir[64];

/* path("agent.pem") -> "<dir>/agent.pem" (one of a few rotating buffers). */
static const char *path(const char *name) {
  static char bufs[8][128];
  static int i;
  char *b = bufs[i++ % 8];
  snprintf(b, 128, "%s/%s", dir, name);
  return b;
}

static void write_file(const char *p, const char *text) {
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup_certs(void **state) {
  evthread_use_pthreads(); /* the client below asks for BEV_OPT_THREADSAFE, as sessions do */
  snprintf(dir, sizeof(dir), "/tmp/sb-tls-test-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "sh test/e2e/gencerts.sh %s", dir);
  if (system(cmd) != 0) return -1;
  write_file(path("garbage.pem"), "this is not PEM\n");
  return 0;
}

static int teardown_certs(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A TLS bufferevent on |fd| (-1: a client that connects later) with its callbacks set and
 * |events| enabled. */
static struct bufferevent *tls_bev(const sb_tls *t, struct event_base *base, int fd,
                                   const char *host, int opts, bufferevent_data_cb rd,
                                   bufferevent_data_cb wr, bufferevent_event_cb ev, void *ud,
                                   short events) {
  struct bufferevent *bev = sb_tls_bev_new(t, base, fd, host, opts);
  assert_non_null(bev);
  bufferevent_setcb(bev, rd, wr, ev, ud);
  bufferevent_enable(bev, events);
  return bev;
}

/* A listener on 127.0.0.1 at a free port, written into |sin|. */
static struct evconnlistener *listen_loopback(struct event_base *base, evconnlistener_cb cb,
                                              void *ud, struct sockaddr_in *sin) {
  *sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct evconnlistener *lis = evconnlistener_new_bind(base, cb, ud, LEV_OPT_CLOSE_ON_FREE, 8,
                                                       (struct sockaddr *)sin, sizeof(*sin));
  assert_non_null(lis);
  socklen_t sl = sizeof(*sin);
  getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)sin, &sl);
  return lis;
}

/* One TLS connection between an in-process server and client on one event_base. */
typedef struct pair {
  struct event_base *base;
  struct evconnlistener *lis;
  const sb_tls *srv_tls;
  struct bufferevent *srv, *cli;
  int srv_ended, cli_ended;  /* error or EOF seen */
  char srv_err[256], cli_err[256];
  char srv_got[16], cli_got[16];
} pair;

static void maybe_done(pair *p) {
  if ((p->srv_ended && p->cli_ended) || !strcmp(p->cli_got, "pong"))
    event_base_loopbreak(p->base);
}

static void on_event(struct bufferevent *bev, short what, void *ud) {
  pair *p = ud;
  int is_srv = bev == p->srv;
  if (what & BEV_EVENT_CONNECTED) {
    if (!is_srv) bufferevent_write(bev, "ping", 4);
    return;
  }
  if (what & BEV_EVENT_ERROR)
    sb_tls_describe_error(bev, is_srv ? p->srv_err : p->cli_err, sizeof(p->srv_err));
  *(is_srv ? &p->srv_ended : &p->cli_ended) = 1;
  maybe_done(p);
}

static void on_read(struct bufferevent *bev, void *ud) {
  pair *p = ud;
  int is_srv = bev == p->srv;
  char *got = is_srv ? p->srv_got : p->cli_got;
  size_t have = strlen(got);
  have += bufferevent_read(bev, got + have, sizeof(p->srv_got) - 1 - have);
  got[have] = '\0';
  if (is_srv && !strcmp(got, "ping")) bufferevent_write(bev, "pong", 4);
  maybe_done(p);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *ud) {
  pair *p = ud;
  p->srv = tls_bev(p->srv_tls, p->base, fd, NULL, 0, on_read, NULL, on_event, p, EV_READ | EV_WRITE);
}

/* Runs one connection: a server with |srv| and a client with |cli| dialling 127.0.0.1 and
 * checking |host|. Returns when the client got "pong", both sides ended, or after 5 s. */
static void run_pair(pair *p, const sb_tls *srv, const sb_tls *cli, const char *host) {
  memset(p, 0, sizeof(*p));
  p->srv_tls = srv;
  p->base = event_base_new();
  struct sockaddr_in sin;
  p->lis = listen_loopback(p->base, on_accept, p, &sin);
  p->cli = tls_bev(cli, p->base, -1, host, BEV_OPT_THREADSAFE, on_read, NULL, on_event, p,
                   EV_READ | EV_WRITE);
  assert_int_equal(bufferevent_socket_connect(p->cli, (struct sockaddr *)&sin, sizeof(sin)), 0);
  struct timeval tv = {5, 0};
  event_base_loopexit(p->base, &tv);
  event_base_dispatch(p->base);
  if (p->srv) bufferevent_free(p->srv);
  bufferevent_free(p->cli);
  evconnlistener_free(p->lis);
  event_base_free(p->base);
}

static sb_tls *make(int server, const char *cert, const char *key, const char *ca) {
  sb_tls *t = NULL;
  sb_err err = {{0}};
  if (sb_tls_new(&t, server, path(cert), path(key), path(ca), &err))
    fail_msg("sb_tls_new: %s", err.msg);
  return t;
}

static void test_mutual_tls_exchange(void **state) {
  sb_tls *srv = make(1, "agent.pem", "agent.key", "ca.pem");
  sb_tls *cli = make(0, "controller.pem", "controller.key", "ca.pem");
  pair p;
  run_pair(&p, srv, cli, "127.0.0.1");
  assert_string_equal(p.srv_got, "ping");
  assert_string_equal(p.cli_got, "pong");
  run_pair(&p, srv, cli, "localhost"); /* the DNS SAN works too */
  assert_string_equal(p.cli_got, "pong");
  run_pair(&p, srv, cli, NULL); /* no name check: the CA alone */
  assert_string_equal(p.cli_got, "pong");
  sb_tls_free(srv);
  sb_tls_free(cli);
}

/* A peer's last bytes and its close in one read: the server writes three records and hangs up
 * while the client is not reading. The client leaves what it got in its buffer (as a reader
 * waiting for the rest of a frame does), so when it reads again libevent 2.1 reads the short last
 * record into the little space left and the EOF into a second chunk, and reports the EOF before
 * it commits the record. The EOF event must come after the read callback has the last record:
 * an agent's last snapshot and its "shutting down" line arrive so, and the controller called the
 * agent lost without them (CI, t_deploy under ASan). */
static const size_t lw_sizes[] = {1000, 4000, 50};
#define LAST_LEN (1000 + 4000 + 50)
typedef struct {
  struct event_base *base;
  const sb_tls *srv_tls;
  struct bufferevent *srv, *cli;
  struct event *resume;
  int written;        /* how many of lw_sizes the server has written */
  size_t read_seen;   /* the client's input length at its latest read callback */
  long at_eof;        /* the client's input length when the EOF arrived; -1 before */
} last_words;

/* Three writes, each once the one before is sent, so they are three records: two that leave
 * less than 4 KB (libevent's read size) free in the client's buffer, and a short last one. */
static void lw_write(last_words *w, size_t n) {
  char *bytes = malloc(n);
  assert_non_null(bytes);
  memset(bytes, 'x', n);
  bufferevent_write(w->srv, bytes, n);
  free(bytes);
}

static void lw_srv_drained(struct bufferevent *bev, void *ud) {
  last_words *w = ud;
  if (w->written < 3) {
    lw_write(w, lw_sizes[w->written++]);
    return;
  }
  bufferevent_free(w->srv); /* closes the socket: no close_notify, a dirty EOF */
  w->srv = NULL;
}

static void lw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *ud) {
  last_words *w = ud;
  w->srv = tls_bev(w->srv_tls, w->base, fd, NULL, 0, NULL, lw_srv_drained, NULL, w, EV_WRITE);
  lw_write(w, lw_sizes[w->written++]);
}

static void lw_cli_read(struct bufferevent *bev, void *ud) {
  last_words *w = ud;
  w->read_seen = evbuffer_get_length(bufferevent_get_input(bev)); /* left there, like a frame */
}

static void lw_cli_event(struct bufferevent *bev, short what, void *ud) {
  last_words *w = ud;
  if (what & BEV_EVENT_CONNECTED) { /* stop reading until the server has written and closed */
    bufferevent_disable(bev, EV_READ);
    struct timeval tv = {0, 300000};
    event_add(w->resume, &tv);
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    w->at_eof = (long)evbuffer_get_length(bufferevent_get_input(bev));
    event_base_loopbreak(w->base);
  }
}

static void lw_resume(evutil_socket_t fd, short what, void *ud) {
  last_words *w = ud;
  bufferevent_enable(w->cli, EV_READ);
}

static void test_last_words_before_eof(void **state) {
  sb_tls *srv = make(1, "agent.pem", "agent.key", "ca.pem");
  sb_tls *cli = make(0, "controller.pem", "controller.key", "ca.pem");
  last_words w;
  memset(&w, 0, sizeof(w));
  w.at_eof = -1;
  w.srv_tls = srv;
  w.base = event_base_new();
  w.resume = event_new(w.base, -1, 0, lw_resume, &w);
  struct sockaddr_in sin;
  struct evconnlistener *lis = listen_loopback(w.base, lw_accept, &w, &sin);
  w.cli = tls_bev(cli, w.base, -1, "127.0.0.1", 0, lw_cli_read, NULL, lw_cli_event, &w,
                  EV_READ | EV_WRITE);
  assert_int_equal(bufferevent_socket_connect(w.cli, (struct sockaddr *)&sin, sizeof(sin)), 0);
  struct timeval tv = {5, 0};
  event_base_loopexit(w.base, &tv);
  event_base_dispatch(w.base);
  assert_int_equal(w.at_eof, LAST_LEN);
  assert_int_equal(w.read_seen, LAST_LEN);
  if (w.srv) bufferevent_free(w.srv);
  bufferevent_free(w.cli);
  event_free(w.resume);
  evconnlistener_free(lis);
  event_base_free(w.base);
  sb_tls_free(srv);
  sb_tls_free(cli);
}

static void test_client_from_other_ca_rejected(void **state) {
  sb_tls *srv = make(1, "agent.pem", "agent.key", "ca.pem");
  sb_tls *cli = make(0, "other.pem", "other.key", "ca.pem");
  pair p;
  run_pair(&p, srv, cli, "127.0.0.1");
  assert_string_equal(p.srv_got, ""); /* the server never saw application bytes */
  assert_string_equal(p.cli_got, "");
  assert_true(p.srv_ended);
  if (!strstr(p.srv_err, "certificate verify failed: unable to get local issuer certificate"))
    fail_msg("server error: '%s'", p.srv_err);
  if (!strstr(p.cli_err, "unknown ca")) fail_msg("client error: '%s'", p.cli_err);
  sb_tls_free(srv);
  sb_tls_free(cli);
}

/* A client that presents no certificate: sb_tls_new always loads one, so this context is built
 * by hand (the test includes tls.c for the struct). */
static void test_client_without_cert_rejected(void **state) {
  sb_tls *srv = make(1, "agent.pem", "agent.key", "ca.pem");
  sb_tls bare = {.ctx = SSL_CTX_new(TLS_client_method()), .server = 0};
  assert_non_null(bare.ctx);
  assert_int_equal(SSL_CTX_load_verify_locations(bare.ctx, path("ca.pem"), NULL), 1);
  SSL_CTX_set_verify(bare.ctx, SSL_VERIFY_PEER, NULL);
  pair p;
  run_pair(&p, srv, &bare, "127.0.0.1");
  assert_string_equal(p.srv_got, "");
  assert_string_equal(p.cli_got, "");
  assert_true(p.srv_ended);
  if (!strstr(p.srv_err, "peer did not return a certificate"))
    fail_msg("server error: '%s'", p.srv_err);
  if (!strstr(p.cli_err, "alert")) fail_msg("client error: '%s'", p.cli_err);
  SSL_CTX_free(bare.ctx);
  sb_tls_free(srv);
}

static void test_server_from_other_ca_rejected(void **state) {
  sb_tls *srv = make(1, "other.pem", "other.key", "ca.pem");
  sb_tls *cli = make(0, "controller.pem", "controller.key", "ca.pem");
  pair p;
  run_pair(&p, srv, cli, "127.0.0.1");
  assert_string_equal(p.srv_got, "");
  assert_string_equal(p.cli_got, "");
  assert_true(p.cli_ended);
  if (!strstr(p.cli_err, "unable to get local issuer certificate"))
    fail_msg("client error: '%s'", p.cli_err);
  sb_tls_free(srv);
  sb_tls_free(cli);
}

static void test_wrong_peer_host_rejected(void **state) {
  sb_tls *srv = make(1, "agent.pem", "agent.key", "ca.pem");
  sb_tls *cli = make(0, "controller.pem", "controller.key", "ca.pem");
  pair p;
  run_pair(&p, srv, cli, "127.0.0.2");
  assert_string_equal(p.srv_got, "");
  assert_string_equal(p.cli_got, "");
  if (!strstr(p.cli_err, "IP address mismatch")) fail_msg("client error: '%s'", p.cli_err);
  run_pair(&p, srv, cli, "agent.example.com");
  assert_string_equal(p.srv_got, "");
  if (!strstr(p.cli_err, "hostname mismatch")) fail_msg("client error: '%s'", p.cli_err);
  sb_tls_free(srv);
  sb_tls_free(cli);
}

/* sb_tls_new(cert, key, ca) fails with |code| and an error naming |named| (and saying |says|,
 * when not NULL). */
static void expect_new_fails(const char *cert, const char *key, const char *ca, int code,
                             const char *named, const char *says) {
  sb_tls *t = (sb_tls *)0x1;
  sb_err err = {{0}};
  int rc = sb_tls_new(&t, 1, path(cert), path(key), path(ca), &err);
  assert_int_equal(rc, code);
  assert_ptr_equal(t, (sb_tls *)0x1); /* untouched on failure */
  if (!strstr(err.msg, path(named))) fail_msg("error '%s' does not name %s", err.msg, named);
  if (says && !strstr(err.msg, says)) fail_msg("error '%s' does not say '%s'", err.msg, says);
}

static void test_bad_files(void **state) {
  expect_new_fails("nope.pem", "agent.key", "ca.pem", SB_ENOTFOUND, "nope.pem", "no such file");
  expect_new_fails("agent.pem", "nope.key", "ca.pem", SB_ENOTFOUND, "nope.key", "no such file");
  expect_new_fails("agent.pem", "agent.key", "nope.pem", SB_ENOTFOUND, "nope.pem", "no such file");
  expect_new_fails("garbage.pem", "agent.key", "ca.pem", SB_EFORMAT, "garbage.pem", NULL);
  expect_new_fails("agent.pem", "garbage.pem", "ca.pem", SB_EFORMAT, "garbage.pem", NULL);
  expect_new_fails("agent.pem", "agent.key", "garbage.pem", SB_EFORMAT, "garbage.pem", NULL);
  expect_new_fails("agent.pem", "controller.key", "ca.pem", SB_EFORMAT, "controller.key",
                   "does not match the certificate");
  expect_new_fails("agent.key", "agent.key", "ca.pem", SB_EFORMAT, "agent.key", NULL);
  expect_new_fails("agent.pem", "agent.key", "agent.key", SB_EFORMAT, "agent.key", NULL);
  expect_new_fails("agent.pem", "agent.key", ".", SB_EIO, ".", "is a directory");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mutual_tls_exchange),
      cmocka_unit_test(test_last_words_before_eof),
      cmocka_unit_test(test_client_from_other_ca_rejected),
      cmocka_unit_test(test_client_without_cert_rejected),
      cmocka_unit_test(test_server_from_other_ca_rejected),
      cmocka_unit_test(test_wrong_peer_host_rejected),
      cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, setup_certs, teardown_certs);
}
