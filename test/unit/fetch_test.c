/* controller/fetch.c: blocking GETs against an in-process evhttp server on 127.0.0.1:0. The
 * fetcher runs its own private event_base, so the server runs on another one, in a thread of
 * its own: 200, 404, other statuses, redirects (relative, absolute, a loop), gzip, a server that
 * never answers (timeout), a closed port (connection refused), the `hosts` option of the config
 * honoured, keep-alive between fetches, and construction failing at each allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "test/unit/failalloc.h"
#include "controller/fetch.c"
#include "test/unit/failalloc_off.h"

static const char MODULE[] = "export function randomIntBetween(a, b) { return a; }\n";

typedef struct server {
  struct event_base *base;
  struct evhttp *http;
  pthread_t thread;
  int port;
  int requests;           /* served; read by the test only after a fetch returned */
  int conns[64];          /* distinct client ports seen */
  int nconns;
} server;

static server srv;

/* Appends |s| gzip-compressed to |out|. */
static void gzip_into(struct evbuffer *out, const char *s) {
  unsigned char buf[512];
  z_stream z;
  memset(&z, 0, sizeof(z));
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (unsigned char *)s;
  z.avail_in = (uInt)strlen(s);
  z.next_out = buf;
  z.avail_out = sizeof(buf);
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  evbuffer_add(out, buf, sizeof(buf) - z.avail_out);
  deflateEnd(&z);
}

static void count_conn(struct evhttp_request *req) {
  char *host;
  ev_uint16_t port;
  evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
  for (int i = 0; i < srv.nconns; i++)
    if (srv.conns[i] == port) return;
  if (srv.nconns < 64) srv.conns[srv.nconns++] = port;
}

/* /ok 200, /missing 404, /boom 500, /moved 302 to "ok" (relative), /abs 301 to the absolute
 * /ok, /loop 302 to itself, /gone 307 to a missing file, /gz the module gzip-encoded, /hang
 * never answers. */
static void on_http(struct evhttp_request *req, void *arg) {
  const char *uri = evhttp_request_get_uri(req);
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  struct evbuffer *out = evbuffer_new();
  char loc[128];
  srv.requests++;
  count_conn(req);
  if (strcmp(uri, "/hang") == 0) { /* keeps |req| open: evhttp_free() drops it */
    evbuffer_free(out);
    return;
  }
  int status = 200;
  const char *reason = "OK";
  if (strcmp(uri, "/ok") == 0 || strcmp(uri, "/lib/ok") == 0) {
    evbuffer_add(out, MODULE, strlen(MODULE));
  } else if (strcmp(uri, "/gz") == 0) {
    const char *ae = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept-Encoding");
    if (ae && strstr(ae, "gzip")) {
      evhttp_add_header(h, "Content-Encoding", "gzip");
      gzip_into(out, MODULE);
    } else {
      evbuffer_add(out, MODULE, strlen(MODULE));
    }
  } else if (strcmp(uri, "/moved") == 0 || strcmp(uri, "/abs") == 0 || strcmp(uri, "/loop") == 0) {
    status = uri[1] == 'a' ? 301 : 302;
    reason = "Moved";
    if (uri[1] == 'a') snprintf(loc, sizeof(loc), "http://127.0.0.1:%d/ok", srv.port);
    else snprintf(loc, sizeof(loc), "%s", uri[1] == 'm' ? "lib/ok" : "/loop");
    evhttp_add_header(h, "Location", loc);
  } else if (strcmp(uri, "/gone") == 0) {
    status = 307;
    reason = "Temporary Redirect";
    evhttp_add_header(h, "Location", "/elsewhere.js");
  } else if (strcmp(uri, "/boom") == 0) {
    status = 500;
    reason = "Internal Server Error";
  } else {
    status = 404;
    reason = "Not Found";
  }
  evhttp_send_reply(req, status, reason, out);
  evbuffer_free(out);
}

static void *serve(void *arg) {
  event_base_dispatch(srv.base);
  return NULL;
}

static int setup(void **state) {
  memset(&srv, 0, sizeof(srv));
  srv.base = event_base_new();
  srv.http = evhttp_new(srv.base);
  evhttp_set_gencb(srv.http, on_http, NULL);
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
  if (!bs) return -1;
  struct sockaddr_in sin;
  socklen_t sl = sizeof(sin);
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
  srv.port = ntohs(sin.sin_port);
  return pthread_create(&srv.thread, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  event_base_loopexit(srv.base, NULL);
  pthread_join(srv.thread, NULL);
  evhttp_free(srv.http);
  event_base_free(srv.base);
  return 0;
}

static void url_of(char *out, size_t cap, const char *path) {
  snprintf(out, cap, "http://127.0.0.1:%d%s", srv.port, path);
}

/* Fetches |path| with a fresh fetcher; returns the code, body in |b|, message in |err|. */
static int get(const char *path, double timeout_ms, sb_buf *b, sb_err *err) {
  char url[128];
  sb_fetch *f = NULL;
  url_of(url, sizeof(url), path);
  assert_int_equal(sb_fetch_new(&f, NULL, timeout_ms, err), 0);
  err->msg[0] = '\0';
  int rc = sb_fetch_get(f, url, b, err);
  sb_fetch_free(f);
  return rc;
}

static void test_ok(void **state) {
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  sb_buf_puts(&b, "kept:");
  assert_int_equal(get("/ok", 0, &b, &err), 0);
  assert_string_equal(b.data + 5, MODULE); /* appended */
  assert_string_equal(b.data, "kept:export function randomIntBetween(a, b) { return a; }\n");
  sb_buf_clear(&b);
}

static void test_gzip_decoded(void **state) {
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  assert_int_equal(get("/gz", 0, &b, &err), 0);
  assert_string_equal(b.data, MODULE);
  sb_buf_clear(&b);
}

static void test_not_found(void **state) {
  sb_buf b;
  sb_err err;
  char want[200];
  sb_buf_init(&b);
  sb_buf_puts(&b, "kept");
  assert_int_equal(get("/missing.js", 0, &b, &err), SB_ENOTFOUND);
  snprintf(want, sizeof(want), "http://127.0.0.1:%d/missing.js: not found (HTTP 404 Not Found)",
           srv.port);
  assert_string_equal(err.msg, want);
  assert_string_equal(b.data, "kept"); /* untouched on failure */
  sb_buf_clear(&b);
}

static void test_other_status(void **state) {
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  assert_int_equal(get("/boom", 0, &b, &err), SB_EIO);
  assert_non_null(strstr(err.msg, "/boom: HTTP 500 Internal Server Error"));
  assert_int_equal(b.len, 0);
  sb_buf_clear(&b);
}

static void test_redirects(void **state) {
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  assert_int_equal(get("/moved", 0, &b, &err), 0); /* relative Location */
  assert_string_equal(b.data, MODULE);
  sb_buf_reset(&b);
  assert_int_equal(get("/abs", 0, &b, &err), 0);   /* absolute Location */
  assert_string_equal(b.data, MODULE);
  int before = srv.requests;
  assert_int_equal(get("/loop", 0, &b, &err), SB_EIO);
  assert_non_null(strstr(err.msg, "/loop: stopped after 10 redirects"));
  assert_int_equal(srv.requests - before, 10); /* as Go's client: 10 requests, then the error */
  sb_buf_clear(&b);
}

/* A redirect to a missing module: the message names the URL asked for and where it led. */
static void test_redirect_then_404_names_both(void **state) {
  sb_buf b;
  sb_err err;
  char want[300];
  sb_buf_init(&b);
  assert_int_equal(get("/gone", 0, &b, &err), SB_ENOTFOUND);
  snprintf(want, sizeof(want), "http://127.0.0.1:%d/gone (redirected to http://127.0.0.1:%d/"
           "elsewhere.js): not found (HTTP 404 Not Found)", srv.port, srv.port);
  assert_string_equal(err.msg, want);
  sb_buf_clear(&b);
}

static void test_timeout(void **state) {
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  int64_t t0 = sb_clock_mono_us();
  assert_int_equal(get("/hang", 200, &b, &err), SB_ETIMEDOUT);
  int64_t took = sb_clock_mono_us() - t0;
  assert_true(took >= 150000 && took < 3000000);
  assert_non_null(strstr(err.msg, "/hang: no complete answer within 0.2 s"));
  sb_buf_clear(&b);
}

static void test_connection_refused(void **state) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sin);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  getsockname(fd, (struct sockaddr *)&sin, &sl);
  close(fd); /* nothing listens there now */
  char url[128], want[200];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x.js", ntohs(sin.sin_port));
  sb_fetch *f = NULL;
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  assert_int_equal(sb_fetch_new(&f, NULL, 0, &err), 0);
  assert_int_equal(sb_fetch_get(f, url, &b, &err), SB_EIO);
  snprintf(want, sizeof(want), "%s: dial: connection refused", url);
  assert_string_equal(err.msg, want);
  sb_fetch_free(f);
  sb_buf_clear(&b);
}

static void test_bad_urls(void **state) {
  sb_fetch *f = NULL;
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  assert_int_equal(sb_fetch_new(&f, NULL, 0, &err), 0);
  assert_int_equal(sb_fetch_get(f, "ftp://127.0.0.1/x.js", &b, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "ftp://127.0.0.1/x.js: "));
  assert_int_equal(sb_fetch_get(f, "https://u:p@127.0.0.1/x.js", &b, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "credentials in a module URL are not supported"));
  sb_fetch_free(f);
  sb_buf_clear(&b);
}

/* The config is the run's: its `hosts` option sends a made-up name to the server, and the
 * fetches of one fetcher share a keep-alive connection. */
static void test_config_hosts_and_keepalive(void **state) {
  sb_http_config cfg;
  sb_host_override ho = {.name = "modules.test", .ip = "127.0.0.1"};
  sb_http_config_defaults(&cfg);
  cfg.hosts = &ho;
  cfg.nhosts = 1;
  sb_fetch *f = NULL;
  sb_buf b;
  sb_err err;
  char url[128];
  sb_buf_init(&b);
  assert_int_equal(sb_fetch_new(&f, &cfg, 0, &err), 0);
  snprintf(url, sizeof(url), "http://modules.test:%d/ok", srv.port);
  int conns = srv.nconns;
  for (int i = 0; i < 3; i++) {
    sb_buf_reset(&b);
    assert_int_equal(sb_fetch_get(f, url, &b, &err), 0);
    assert_string_equal(b.data, MODULE);
  }
  assert_int_equal(srv.nconns - conns, 1);
  sb_fetch_free(f);
  sb_buf_clear(&b);
}

static void test_new_fails_cleanly(void **state) {
  sb_err err;
  sb_fetch *f = (sb_fetch *)0x1;
  alloc_calls = 0;
  alloc_fail_at = 1;
  assert_int_equal(sb_fetch_new(&f, NULL, 0, &err), SB_ENOMEM);
  assert_ptr_equal(f, (sb_fetch *)0x1); /* untouched */
  alloc_fail_at = 0;
  assert_int_equal(sb_fetch_new(&f, NULL, 0, &err), 0);
  sb_fetch_free(f);
  sb_fetch_free(NULL);
}

int main(void) {
  evthread_use_pthreads(); /* the test stops the server's loop from the main thread */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok),
      cmocka_unit_test(test_gzip_decoded),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_other_status),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_redirect_then_404_names_both),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_bad_urls),
      cmocka_unit_test(test_config_hosts_and_keepalive),
      cmocka_unit_test(test_new_fails_cleanly),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
