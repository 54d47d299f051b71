/* The agent's protocol session over a socketpair: the handshake, a wrong token, garbled bytes,
 * a message before hello, and a test needing more VUs than --max-vus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/session.h"
#include "common/frame.h"

typedef struct peer {
  int fd;                 /* our end */
  pthread_t th;
  sb_session_opts o;
  int agent_fd;
} peer;

static void *serve(void *arg) {
  peer *p = arg;
  sb_session_serve_fd(p->agent_fd, &p->o);
  return NULL;
}

static void start(peer *p, const char *token, uint64_t max_vus) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  memset(&p->o, 0, sizeof(p->o));
  p->o.token = token;
  p->o.max_vus = max_vus;
  p->o.agent_id = "t";
  p->fd = sv[0];
  p->agent_fd = sv[1];
  assert_int_equal(pthread_create(&p->th, NULL, serve, p), 0);
}

static void stop(peer *p) {
  close(p->fd);
  pthread_join(p->th, NULL);
}

static void send_env(peer *p, Speedboat__Envelope__MsgCase c, void *msg) {
  struct evbuffer *b = evbuffer_new();
  sb_frame_send_msg(b, c, msg);
  size_t n = evbuffer_get_length(b);
  assert_int_equal(write(p->fd, evbuffer_pullup(b, -1), n), (ssize_t)n);
  evbuffer_free(b);
}

/* Reads the next message (blocking); NULL when the agent closed the connection. */
static Speedboat__Envelope *recv_env(peer *p) {
  struct evbuffer *b = evbuffer_new();
  Speedboat__Envelope *e = NULL;
  sb_err err;
  char buf[4096];
  for (;;) {
    int rc = sb_frame_recv(b, &e, &err);
    assert_true(rc >= 0);
    if (rc == 1) break;
    ssize_t n = read(p->fd, buf, sizeof(buf));
    if (n <= 0) break;
    evbuffer_add(b, buf, (size_t)n);
  }
  evbuffer_free(b);
  return e;
}

static void hello(peer *p, const char *token) {
  Speedboat__Hello h = SPEEDBOAT__HELLO__INIT;
  h.protocol_version = SPEEDBOAT__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT;
  h.token = (char *)token;
  send_env(p, SPEEDBOAT__ENVELOPE__MSG_HELLO, &h);
}

static void expect_error(peer *p, const char *needle) {
  Speedboat__Envelope *e = recv_env(p);
  assert_non_null(e);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_ERROR);
  if (!strstr(e->error->message, needle)) fail_msg("error '%s' lacks '%s'", e->error->message, needle);
  speedboat__envelope__free_unpacked(e, NULL);
}

static void test_welcome(void **state) {
  peer p;
  start(&p, "secret", 0);
  hello(&p, "secret");
  Speedboat__Envelope *e = recv_env(&p);
  assert_non_null(e);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_WELCOME);
  assert_string_equal(e->welcome->agent_id, "t");
  assert_true(e->welcome->cores >= 1);
  speedboat__envelope__free_unpacked(e, NULL);
  stop(&p);
}

static void test_wrong_token(void **state) {
  peer p;
  start(&p, "secret", 0);
  hello(&p, "guess");
  expect_error(&p, "authentication failed");
  assert_null(recv_env(&p)); /* and the agent hangs up */
  stop(&p);
}

static void test_prepare_before_hello(void **state) {
  peer p;
  start(&p, NULL, 0);
  Speedboat__Prepare m = SPEEDBOAT__PREPARE__INIT;
  send_env(&p, SPEEDBOAT__ENVELOPE__MSG_PREPARE, &m);
  expect_error(&p, "first message must be hello");
  assert_null(recv_env(&p));
  stop(&p);
}

static void test_garbled_bytes(void **state) {
  peer p;
  start(&p, NULL, 0);
  static const unsigned char junk[] = {0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(write(p.fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
  expect_error(&p, "not a valid message");
  assert_null(recv_env(&p));
  stop(&p);
}

static void test_max_vus(void **state) {
  peer p;
  start(&p, NULL, 5);
  hello(&p, NULL);
  Speedboat__Envelope *e = recv_env(&p);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_WELCOME);
  speedboat__envelope__free_unpacked(e, NULL);
  Speedboat__Scenario sc = SPEEDBOAT__SCENARIO__INIT;
  sc.executor = SPEEDBOAT__EXECUTOR__EXECUTOR_CONSTANT_VUS;
  sc.vus = 10;
  sc.duration_ms = 1000;
  Speedboat__Scenario *scs[] = {&sc};
  Speedboat__Prepare m = SPEEDBOAT__PREPARE__INIT;
  m.n_scenarios = 1;
  m.scenarios = scs;
  send_env(&p, SPEEDBOAT__ENVELOPE__MSG_PREPARE, &m);
  expect_error(&p, "needs 10 VUs on this agent, more than its --max-vus 5");
  stop(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_welcome),
      cmocka_unit_test(test_wrong_token),
      cmocka_unit_test(test_prepare_before_hello),
      cmocka_unit_test(test_garbled_bytes),
      cmocka_unit_test(test_max_vus),
  };
  return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
