/* The agent's protocol session over a socketpair: the handshake, a wrong token, garbled bytes,
 * a message before hello, a test needing more VUs than --max-vus, and a whole test with setup()
 * and teardown(); what a stranger may send before hello and what an archive may unpack to
 * (agent/limits.h, issue 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/session.h"
#include "common/archive.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/snapshot.h"

typedef struct peer {
  int fd;                 /* our end */
  pthread_t th;
  sb_session_opts o;
  int agent_fd;
  struct evbuffer *in;    /* bytes read but not yet parsed */
  int rc;                 /* what sb_session_serve_fd() returned */
  sb_err why;
  sb_snapshot_dec *dec;   /* the connection's snapshot series ids (made on first snapshot) */
} peer;

static void *serve(void *arg) {
  peer *p = arg;
  p->why.msg[0] = '\0';
  p->rc = sb_session_serve_fd(p->agent_fd, &p->o, &p->why);
  return NULL;
}

/* Serves a socketpair with |o| (NULL: defaults) on a thread. */
static void start_opts(peer *p, const sb_session_opts *o) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  memset(&p->o, 0, sizeof(p->o));
  if (o) p->o = *o;
  p->o.agent_id = "t";
  p->fd = sv[0];
  p->agent_fd = sv[1];
  p->in = evbuffer_new();
  p->dec = NULL;
  assert_int_equal(pthread_create(&p->th, NULL, serve, p), 0);
}

static void start(peer *p, const char *token, uint64_t max_vus) {
  sb_session_opts o = {.token = token, .max_vus = max_vus};
  start_opts(p, &o);
}

static void stop(peer *p) {
  close(p->fd);
  pthread_join(p->th, NULL);
  evbuffer_free(p->in);
  sb_snapshot_dec_free(p->dec);
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
  Speedboat__Envelope *e = NULL;
  sb_err err;
  char buf[4096];
  for (;;) {
    int rc = sb_frame_recv(p->in, &e, &err);
    assert_true(rc >= 0);
    if (rc == 1) break;
    ssize_t n = read(p->fd, buf, sizeof(buf));
    if (n <= 0) break;
    evbuffer_add(p->in, buf, (size_t)n);
  }
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

static const char META[] = "{\"filename\":\"file:///t/main.js\"}";
static const char SETUP_JS[] =
    "var metrics = require('k6/metrics');\n"
    "var seenA = new metrics.Counter('seen_a'), inSetup = new metrics.Counter('in_setup');\n"
    "var torn = new metrics.Counter('torn');\n"
    "exports.setup = function () { inSetup.add(1); return { a: 1 }; };\n"
    "exports.default = function (data) { seenA.add(data.a); };\n"
    "exports.teardown = function (data) { torn.add(data.a * 5); };\n";

static int nsnaps; /* snapshots received */

/* The next message that is neither a heartbeat nor a log line; snapshots are added to |m|. */
static Speedboat__Envelope *recv_main(peer *p, sb_metrics *m) {
  for (;;) {
    Speedboat__Envelope *e = recv_env(p);
    assert_non_null(e);
    if (e->msg_case == SPEEDBOAT__ENVELOPE__MSG_SNAPSHOT) {
      sb_err err;
      if (!p->dec) assert_int_equal(sb_snapshot_dec_new(&p->dec), 0);
      assert_int_equal(sb_snapshot_apply(p->dec, m, e->snapshot, &err), 0);
      nsnaps++;
    } else if (e->msg_case != SPEEDBOAT__ENVELOPE__MSG_HEARTBEAT &&
               e->msg_case != SPEEDBOAT__ENVELOPE__MSG_LOG) {
      return e;
    }
    speedboat__envelope__free_unpacked(e, NULL);
  }
}

static double counter(sb_metrics *m, const char *name, const char *key, const char *value) {
  int id = sb_metrics_find(m, name);
  if (id < 0) return 0;
  const char *filter[2] = {key, value};
  sb_series s;
  sb_series_init(&s, id);
  assert_int_equal(sb_metrics_fold(m, id, filter, key ? 1 : 0, &s), 0);
  double v = s.value;
  sb_series_clear(&s);
  return v;
}

static void send_prepare_js(peer *p, const char *js);
static void send_prepare(peer *p) { send_prepare_js(p, SETUP_JS); }

/* A Prepare of |js| as the main module: 2 VUs share 6 iterations. */
static void send_prepare_js(peer *p, const char *js) {
  sb_archive *a;
  sb_err err;
  uint8_t *buf;
  size_t len;
  assert_int_equal(sb_archive_new(&a), 0);
  assert_int_equal(sb_archive_add(a, "metadata.json", META, strlen(META)), 0);
  assert_int_equal(sb_archive_add(a, "es5/file/t/main.js", js, strlen(js)), 0);
  assert_int_equal(sb_archive_write(a, 0, &buf, &len, &err), 0);
  sb_archive_free(a);
  Speedboat__Scenario sc = SPEEDBOAT__SCENARIO__INIT;
  sc.executor = SPEEDBOAT__EXECUTOR__EXECUTOR_SHARED_ITERATIONS;
  sc.vus = 2;
  sc.iterations = 6;
  sc.max_duration_ms = 10000;
  Speedboat__Scenario *scs[] = {&sc};
  Speedboat__Prepare m = SPEEDBOAT__PREPARE__INIT;
  m.archive.data = buf;
  m.archive.len = len;
  m.n_scenarios = 1;
  m.scenarios = scs;
  m.workers = 1;
  m.setup_timeout_ms = 5000;
  send_env(p, SPEEDBOAT__ENVELOPE__MSG_PREPARE, &m);
  free(buf);
}

/* Sends Call{fn, data} and returns the CallResult after the snapshot that precedes it. */
static Speedboat__Envelope *call(peer *p, sb_metrics *m, const char *fn, const char *data) {
  Speedboat__Call c = SPEEDBOAT__CALL__INIT;
  c.function = (char *)fn;
  c.data = (char *)data;
  send_env(p, SPEEDBOAT__ENVELOPE__MSG_CALL, &c);
  int snaps = nsnaps;
  Speedboat__Envelope *e = recv_main(p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_CALL_RESULT);
  assert_true(nsnaps > snaps); /* a snapshot came first */
  assert_string_equal(e->call_result->function, fn);
  return e;
}

static void test_setup_start_done_teardown(void **state) {
  peer p;
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  start(&p, NULL, 0);
  hello(&p, NULL);
  Speedboat__Envelope *e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_WELCOME);
  speedboat__envelope__free_unpacked(e, NULL);
  send_prepare(&p);
  e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_READY);
  speedboat__envelope__free_unpacked(e, NULL);

  e = call(&p, m, "setup", "");
  assert_true(e->call_result->present);
  assert_string_equal(e->call_result->error, "");
  assert_false(e->call_result->timed_out);
  assert_string_equal(e->call_result->data, "{\"a\":1}");
  assert_true(counter(m, "in_setup", "group", "::setup") == 1);
  Speedboat__Start st = SPEEDBOAT__START__INIT;
  st.setup_data = "{\"a\":1}";
  speedboat__envelope__free_unpacked(e, NULL);

  int64_t t0 = sb_clock_wall_us();
  send_env(&p, SPEEDBOAT__ENVELOPE__MSG_START, &st);
  e = recv_main(&p, m);
  int64_t t1 = sb_clock_wall_us();
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_DONE);
  assert_int_equal(e->done->iterations, 6);
  assert_string_equal(e->done->error, "");
  assert_true(e->done->started_at_unix_us >= t0 && e->done->started_at_unix_us <= t1);
  speedboat__envelope__free_unpacked(e, NULL);
  assert_true(counter(m, "seen_a", NULL, NULL) == 6); /* every iteration saw data.a === 1 */
  assert_true(counter(m, "iterations", NULL, NULL) == 6);

  e = call(&p, m, "teardown", "{\"a\":1}");
  assert_true(e->call_result->present);
  assert_string_equal(e->call_result->error, "");
  assert_string_equal(e->call_result->data, "");
  speedboat__envelope__free_unpacked(e, NULL);
  assert_true(counter(m, "torn", "group", "::teardown") == 5);
  assert_true(counter(m, "iterations", NULL, NULL) == 6);

  /* The test is over: the agent takes the next one. */
  send_prepare(&p);
  e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_READY);
  speedboat__envelope__free_unpacked(e, NULL);
  Speedboat__Call c = SPEEDBOAT__CALL__INIT;
  c.function = "main";
  send_env(&p, SPEEDBOAT__ENVELOPE__MSG_CALL, &c);
  expect_error(&p, "must be \"setup\" or \"teardown\"");
  stop(&p);
  sb_metrics_free(m);
}

/* --- limits (agent/limits.h, issue 10) ------------------------------------------------------ */

static void send_raw(peer *p, const void *b, size_t n) {
  assert_int_equal(write(p->fd, b, n), (ssize_t)n);
}

/* Before hello a header announcing 300 MB is refused at once: the agent says why and hangs up,
 * having buffered none of it (it took all 300 MB and held 317 MB before). */
static void test_preauth_frame_limit(void **state) {
  peer p;
  start(&p, "secret", 0);
  static const unsigned char hdr[4] = {0x11, 0xe1, 0xa3, 0x00}; /* 300,000,000 */
  send_raw(&p, hdr, sizeof(hdr));
  expect_error(&p, "frame of 300000000 bytes exceeds the 4096-byte limit before hello");
  assert_null(recv_env(&p));
  stop(&p);
  assert_int_equal(p.rc, SB_EINVAL);
  assert_string_equal(p.why.msg, "protocol error");
}

/* A compressed frame before hello is refused from its header (8 KB of zstd inflated to 250 MB
 * before this). */
static void test_preauth_compressed_refused(void **state) {
  peer p;
  start(&p, NULL, 0);
  static const unsigned char hdr[] = {0x80, 0, 0x1f, 0x40, 0x28, 0xb5, 0x2f, 0xfd};
  send_raw(&p, hdr, sizeof(hdr));
  expect_error(&p, "a compressed frame before hello is refused");
  assert_null(recv_env(&p));
  stop(&p);
}

/* Silence is closed at the handshake timeout, and the connection is counted out of the daemon's
 * unauthenticated ones whether it said hello or not. */
static void test_hello_timeout_and_unauth_count(void **state) {
  atomic_int unauth = 1; /* the daemon counted this connection in */
  sb_session_opts o = {.hello_ms = 200, .unauth = &unauth};
  peer p;
  int64_t t0 = sb_clock_mono_us();
  start_opts(&p, &o);
  assert_null(recv_env(&p)); /* closed without a word */
  int64_t took = sb_clock_mono_us() - t0;
  stop(&p);
  assert_true(took >= 200000 && took < 2000000);
  assert_int_equal(p.rc, SB_EINVAL);
  assert_string_equal(p.why.msg, "no hello within 0.2 s");
  assert_int_equal(atomic_load(&unauth), 0);
  /* a hello counts it out at once, while the connection goes on */
  atomic_store(&unauth, 1);
  start_opts(&p, &o);
  hello(&p, NULL);
  Speedboat__Envelope *e = recv_env(&p);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_WELCOME);
  speedboat__envelope__free_unpacked(e, NULL);
  assert_int_equal(atomic_load(&unauth), 0);
  stop(&p);
  assert_int_equal(atomic_load(&unauth), 0);
}

/* A token of another length, or one byte off at its end, is refused like any wrong one. */
static void test_token_lengths(void **state) {
  const char *wrong[] = {"secre", "secretX", "secreT", "", "secretsecret"};
  for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
    peer p;
    start(&p, "secret", 0);
    hello(&p, wrong[i]);
    expect_error(&p, "authentication failed");
    assert_null(recv_env(&p));
    stop(&p);
  }
}

/* --max-archive-size: an archive unpacking past it is refused before any VU, naming the flag; the
 * connection stays up for a test that fits. A frame past the limit plus the slack closes it. */
static void test_max_archive_size(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_session_opts o = {.max_archive = 64};
  peer p;
  start_opts(&p, &o);
  hello(&p, NULL);
  Speedboat__Envelope *e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_WELCOME);
  speedboat__envelope__free_unpacked(e, NULL);
  send_prepare(&p); /* a tar of 3 KB or more, compressed to less than 1 KB */
  e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_ERROR);
  assert_string_equal(e->error->code, "prepare");
  assert_string_equal(e->error->message,
                      "the test's archive unpacks to more than 64 bytes, this agent's "
                      "--max-archive-size; start the agent with a larger --max-archive-size, or "
                      "leave big files out of the test");
  speedboat__envelope__free_unpacked(e, NULL);
  uint32_t big = 64 + (16u << 20) + 1;
  unsigned char hdr[4] = {(unsigned char)(big >> 24), (unsigned char)(big >> 16),
                          (unsigned char)(big >> 8), (unsigned char)big};
  send_raw(&p, hdr, sizeof(hdr));
  expect_error(&p, "exceeds the 16777280-byte limit (this agent's --max-archive-size 64 bytes, "
                   "plus 16 MiB for the rest of the message)");
  assert_null(recv_env(&p));
  stop(&p);
  sb_metrics_free(m);
}

/* A script logging faster than its controller reads: past 16 MiB unsent, lines queue up to
 * 4 MiB, then are dropped and counted, and the controller is told how many; the test itself
 * goes on to DONE and the agent's memory stays bounded. */
static const char LOUD_JS[] =
    "var line = new Array(1025).join('x');\n"
    "exports.default = function () { for (var i = 0; i < 5000; i++) console.log(line); };\n";

static void test_log_queue_bounded(void **state) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  peer p;
  start(&p, NULL, 0);
  hello(&p, NULL);
  Speedboat__Envelope *e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_WELCOME);
  speedboat__envelope__free_unpacked(e, NULL);
  send_prepare_js(&p, LOUD_JS);
  e = recv_main(&p, m);
  assert_int_equal(e->msg_case, SPEEDBOAT__ENVELOPE__MSG_READY);
  speedboat__envelope__free_unpacked(e, NULL);
  Speedboat__Start st = SPEEDBOAT__START__INIT;
  send_env(&p, SPEEDBOAT__ENVELOPE__MSG_START, &st);
  struct timespec ts = {2, 0}; /* 30 MB of lines, none read */
  nanosleep(&ts, NULL);
  size_t lines = 0, warned = 0;
  for (;;) {
    e = recv_env(&p);
    assert_non_null(e);
    int done = e->msg_case == SPEEDBOAT__ENVELOPE__MSG_DONE;
    if (e->msg_case == SPEEDBOAT__ENVELOPE__MSG_LOG && strcmp(e->log->source, "agent") == 0) {
      assert_non_null(strstr(e->log->text, "log lines dropped: more than 4 MiB of them waited"));
      warned += strtoull(e->log->text, NULL, 10);
    } else if (e->msg_case == SPEEDBOAT__ENVELOPE__MSG_LOG) {
      lines++;
    }
    speedboat__envelope__free_unpacked(e, NULL);
    if (done) break;
  }
  assert_true(warned > 0);
  assert_int_equal(lines + warned, 30000); /* every line sent or counted */
  assert_true(lines < 25000);
  stop(&p);
  sb_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_welcome),
      cmocka_unit_test(test_wrong_token),
      cmocka_unit_test(test_prepare_before_hello),
      cmocka_unit_test(test_garbled_bytes),
      cmocka_unit_test(test_max_vus),
      cmocka_unit_test(test_setup_start_done_teardown),
      cmocka_unit_test(test_preauth_frame_limit),
      cmocka_unit_test(test_preauth_compressed_refused),
      cmocka_unit_test(test_hello_timeout_and_unauth_count),
      cmocka_unit_test(test_token_lengths),
      cmocka_unit_test(test_max_archive_size),
      cmocka_unit_test(test_log_queue_bounded),
  };
  return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
