/* controller/output_prw.c: the configuration from k6's environment variables (defaults, the URL
 * from --out or the environment, errors naming the option), the encoding of a metric set into a
 * snappy-compressed WriteRequest decoded back with protobuf-c (names, sorted labels, values,
 * stale markers), and the pusher against an in-process evhttp server on 127.0.0.1:0 (headers, a
 * refusing server, a closed port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "controller/output.h"
#include "controller/output_prw.h"
#include "proto/prompb.pb-c.h"

/* ---- configuration ---- */

static void test_config_defaults(void **state) {
  (void)state;
  const char *env[] = {"PATH=/bin", NULL};
  sb_prw_config c;
  sb_err err;
  assert_int_equal(sb_prw_config_parse(&c, "prometheus-rw", NULL, env, &err), 0);
  assert_string_equal(c.url, SB_PRW_DEFAULT_URL);
  assert_int_equal(c.push_interval_ms, 5000);
  assert_int_equal(c.nstats, 1);
  assert_string_equal(c.stats[0].suffix, "p99");
  assert_true(c.stats[0].q == 0.99);
  assert_int_equal(c.stale_markers, 0);
  assert_int_equal(c.insecure_skip_tls_verify, 0);
  assert_null(c.username);
  assert_int_equal(c.nheaders, 0);
  sb_prw_config_clear(&c);
}

static void test_config_env(void **state) {
  (void)state;
  const char *env[] = {"K6_PROMETHEUS_RW_SERVER_URL=https://prom.example:9443/api/v1/write",
                       "K6_PROMETHEUS_RW_PUSH_INTERVAL=1m30s",
                       "K6_PROMETHEUS_RW_TREND_STATS=p(95), p(99.9),avg,min,max,med,count,sum,avg",
                       "K6_PROMETHEUS_RW_STALE_MARKERS=true",
                       "K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY=1",
                       "K6_PROMETHEUS_RW_USERNAME=u",
                       "K6_PROMETHEUS_RW_PASSWORD=p",
                       "K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID=team1",
                       "K6_PROMETHEUS_RW_HTTP_HEADERS=a:1,b:two",
                       NULL};
  sb_prw_config c;
  sb_err err;
  assert_int_equal(sb_prw_config_parse(&c, "experimental-prometheus-rw", NULL, env, &err), 0);
  assert_string_equal(c.url, "https://prom.example:9443/api/v1/write");
  assert_int_equal(c.push_interval_ms, 90000);
  assert_int_equal(c.nstats, 8); /* the second avg is the same series */
  assert_string_equal(c.stats[0].suffix, "p95");
  assert_string_equal(c.stats[1].suffix, "p999");
  assert_true(fabs(c.stats[1].q - 0.999) < 1e-12);
  assert_string_equal(c.stats[7].suffix, "sum");
  assert_int_equal(c.stale_markers, 1);
  assert_int_equal(c.insecure_skip_tls_verify, 1);
  assert_string_equal(c.username, "u");
  assert_string_equal(c.password, "p");
  assert_int_equal(c.nheaders, 3);
  assert_string_equal(c.hname[0], "X-Scope-OrgID");
  assert_string_equal(c.hvalue[0], "team1");
  assert_string_equal(c.hname[2], "b");
  assert_string_equal(c.hvalue[2], "two");
  sb_prw_config_clear(&c);

  /* --out prometheus-rw=URL wins over the environment */
  assert_int_equal(sb_prw_config_parse(&c, "prometheus-rw=http://127.0.0.1:1/w",
                                       "http://127.0.0.1:1/w", env, &err),
                   0);
  assert_string_equal(c.url, "http://127.0.0.1:1/w");
  sb_prw_config_clear(&c);
}

static void expect_bad(const char *opt, const char *arg, const char *env0, const char *needle) {
  const char *env[] = {env0, NULL};
  sb_prw_config c;
  sb_err err;
  err.msg[0] = '\0';
  assert_int_equal(sb_prw_config_parse(&c, opt, arg, env, &err), SB_EINVAL);
  if (!strstr(err.msg, needle)) fail_msg("'%s' does not name '%s'", err.msg, needle);
  assert_null(c.url);
}

static void test_config_errors(void **state) {
  (void)state;
  expect_bad("prometheus-rw=ftp://x/w", "ftp://x/w", "A=b", "--out 'prometheus-rw=ftp://x/w'");
  expect_bad("prometheus-rw=ftp://x/w", "ftp://x/w", "A=b", "scheme \"ftp\"");
  expect_bad("prometheus-rw=nope", "nope", "A=b", "--out 'prometheus-rw=nope'");
  expect_bad("prometheus-rw=http://u:p@h/w", "http://u:p@h/w", "A=b", "K6_PROMETHEUS_RW_USERNAME");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_SERVER_URL=localhost:9090",
             "K6_PROMETHEUS_RW_SERVER_URL");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_PUSH_INTERVAL=soon", "PUSH_INTERVAL='soon'");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_PUSH_INTERVAL=0s", "PUSH_INTERVAL");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_TREND_STATS=p99",
             "'p99' is not a trend stat");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_TREND_STATS=p(101)", "p(101)");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_TREND_STATS=avg,,max", "TREND_STATS");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_STALE_MARKERS=yes", "STALE_MARKERS='yes'");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true",
             "native histograms are not supported");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_CLIENT_CERTIFICATE=/c.pem", "not supported");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_HEADERS_Bad Name=x", "HEADERS_");
  expect_bad("prometheus-rw", NULL, "K6_PROMETHEUS_RW_HTTP_HEADERS=novalue", "key:value");
}

/* ---- encoding ---- */

static void test_snappy_round_trip(void **state) {
  (void)state;
  char in[5000], out[5000];
  for (size_t i = 0; i < sizeof(in); i++)
    in[i] = (char)(i % 7 == 0 ? i : 'a' + i % 3);
  size_t zcap = snappy_max_compressed_length(sizeof(in)), olen = sizeof(out);
  char *z = malloc(zcap);
  assert_int_equal(snappy_compress(in, sizeof(in), z, &zcap), SNAPPY_OK);
  assert_true(zcap < sizeof(in));
  assert_int_equal(snappy_uncompress(z, zcap, out, &olen), SNAPPY_OK);
  assert_int_equal(olen, sizeof(in));
  assert_memory_equal(in, out, sizeof(in));
  free(z);
}

/* Undoes snappy and protobuf. */
static Prometheus__WriteRequest *decode(const sb_buf *b) {
  size_t len;
  assert_int_equal(snappy_uncompressed_length(b->data, b->len, &len), SNAPPY_OK);
  char *raw = malloc(len + 1);
  assert_int_equal(snappy_uncompress(b->data, b->len, raw, &len), SNAPPY_OK);
  Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, len, (uint8_t *)raw);
  free(raw);
  assert_non_null(wr);
  return wr;
}

static const char *label(const Prometheus__TimeSeries *ts, const char *name) {
  for (size_t i = 0; i < ts->n_labels; i++)
    if (!strcmp(ts->labels[i]->name, name)) return ts->labels[i]->value;
  return NULL;
}

/* The series named |name| (and, when |k| is set, with label k=v). */
static const Prometheus__TimeSeries *find(const Prometheus__WriteRequest *wr, const char *name,
                                          const char *k, const char *v) {
  for (size_t i = 0; i < wr->n_timeseries; i++) {
    const Prometheus__TimeSeries *ts = wr->timeseries[i];
    const char *n = label(ts, "__name__"), *lv = k ? label(ts, k) : NULL;
    if (n && !strcmp(n, name) && (!k || (lv && !strcmp(lv, v)))) return ts;
  }
  fail_msg("no series %s{%s=%s}", name, k ? k : "", v ? v : "");
  return NULL;
}

static void assert_sorted(const Prometheus__WriteRequest *wr) {
  for (size_t i = 0; i < wr->n_timeseries; i++) {
    const Prometheus__TimeSeries *ts = wr->timeseries[i];
    assert_true(ts->n_labels >= 1);
    for (size_t k = 1; k < ts->n_labels; k++)
      if (strcmp(ts->labels[k - 1]->name, ts->labels[k]->name) >= 0)
        fail_msg("labels out of order: %s, %s", ts->labels[k - 1]->name, ts->labels[k]->name);
  }
}

/* A run's worth of metrics: every type, tags with names Prometheus would refuse. */
static sb_metrics *sample_metrics(void) {
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  const char *get[] = {
      "method", "GET", "status", "200", "name", "http://t/x", "vu", "3", "expected_response",
      "true"};
  const char *post[] = {"method", "POST", "status", "500", "my-tag",   "a\"b",
                        "9lives", "x",    "empty",  "",    "__name__", "evil"};
  const sb_tagset *tg = sb_metrics_tags(m, get, 5), *tp = sb_metrics_tags(m, post, 6);
  for (int i = 0; i < 7; i++)
    sb_metrics_add(m, SB_M_HTTP_REQS, tg, 1);
  sb_metrics_add(m, SB_M_HTTP_REQS, tp, 1);
  for (int i = 1; i <= 100; i++)
    sb_metrics_add(m, SB_M_HTTP_REQ_DURATION, tg, i);
  sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, tg, 0);
  sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, tg, 0);
  sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, tg, 0);
  sb_metrics_add(m, SB_M_HTTP_REQ_FAILED, tg, 1);
  sb_metrics_add(m, SB_M_VUS, sb_metrics_tags(m, NULL, 0), 5);
  int sizes = sb_metrics_register(m, "sizes", SB_METRIC_TREND, SB_VALUE_DEFAULT, NULL);
  assert_true(sizes >= 0);
  sb_metrics_add(m, sizes, sb_metrics_tags(m, NULL, 0), 40);
  return m;
}

static void test_encode(void **state) {
  (void)state;
  const char *env[] = {"K6_PROMETHEUS_RW_TREND_STATS=p(99),avg,count,max", NULL};
  sb_prw_config c;
  sb_err err;
  assert_int_equal(sb_prw_config_parse(&c, "prometheus-rw", NULL, env, &err), 0);
  sb_metrics *m = sample_metrics();
  sb_buf b;
  sb_buf_init(&b);
  size_t n = 0;
  assert_int_equal(sb_prw_encode(m, &c, 1700000000123, 0, &b, &n), 0);
  Prometheus__WriteRequest *wr = decode(&b);
  /* 2 reqs + 4 duration stats + 1 failed + 1 vus + 4 sizes stats */
  assert_int_equal(wr->n_timeseries, 12);
  assert_int_equal(n, 12);
  assert_sorted(wr);

  const Prometheus__TimeSeries *ts = find(wr, "k6_http_reqs_total", "method", "GET");
  assert_string_equal(ts->labels[0]->name, "__name__");
  assert_int_equal(ts->n_labels, 5); /* __name__, expected_response, method, name, status: no vu */
  assert_null(label(ts, "vu"));
  assert_string_equal(label(ts, "name"), "http://t/x");
  assert_int_equal(ts->n_samples, 1);
  assert_true(ts->samples[0]->value == 7);
  assert_int_equal(ts->samples[0]->timestamp, 1700000000123);

  ts = find(wr, "k6_http_reqs_total", "method", "POST");
  assert_true(ts->samples[0]->value == 1);
  assert_string_equal(label(ts, "my_tag"), "a\"b"); /* name made valid, value as it is */
  assert_string_equal(label(ts, "_9lives"), "x");
  assert_null(label(ts, "empty"));                                  /* an empty value is no label */
  assert_string_equal(label(ts, "__name__"), "k6_http_reqs_total"); /* not the tag "evil" */
  assert_int_equal(ts->n_labels, 5);

  ts = find(wr, "k6_http_req_duration_p99", NULL, NULL);
  assert_true(fabs(ts->samples[0]->value - 0.099) < 0.002); /* seconds */
  ts = find(wr, "k6_http_req_duration_avg", NULL, NULL);
  assert_true(fabs(ts->samples[0]->value - 0.0505) < 1e-9);
  ts = find(wr, "k6_http_req_duration_count", NULL, NULL);
  assert_true(ts->samples[0]->value == 100); /* a count, not seconds */
  ts = find(wr, "k6_http_req_duration_max", NULL, NULL);
  assert_true(fabs(ts->samples[0]->value - 0.1) < 1e-9);
  ts = find(wr, "k6_http_req_failed_rate", NULL, NULL);
  assert_true(ts->samples[0]->value == 0.25);
  ts = find(wr, "k6_vus", NULL, NULL);
  assert_true(ts->samples[0]->value == 5);
  assert_int_equal(ts->n_labels, 1);
  ts = find(wr, "k6_sizes_max", NULL, NULL);
  assert_true(ts->samples[0]->value == 40); /* not a time: as it is */

  prometheus__write_request__free_unpacked(wr, NULL);
  sb_buf_clear(&b);
  sb_metrics_free(m);
  sb_prw_config_clear(&c);
}

static void test_encode_stale_markers(void **state) {
  (void)state;
  const char *env[] = {NULL};
  sb_prw_config c;
  sb_err err;
  assert_int_equal(sb_prw_config_parse(&c, "prometheus-rw", NULL, env, &err), 0);
  sb_metrics *m = sample_metrics();
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(sb_prw_encode(m, &c, 5000, 1, &b, NULL), 0);
  Prometheus__WriteRequest *wr = decode(&b);
  for (size_t i = 0; i < wr->n_timeseries; i++) {
    const Prometheus__TimeSeries *ts = wr->timeseries[i];
    assert_int_equal(ts->n_samples, 2);
    assert_int_equal(ts->samples[0]->timestamp, 5000);
    assert_false(isnan(ts->samples[0]->value));
    assert_int_equal(ts->samples[1]->timestamp, 5001);
    uint64_t bits;
    memcpy(&bits, &ts->samples[1]->value, 8);
    assert_true(bits == 0x7ff0000000000002ull);
  }
  prometheus__write_request__free_unpacked(wr, NULL);

  /* an empty set is an empty request (the pusher sends none) */
  sb_metrics *empty;
  size_t n = 9;
  assert_int_equal(sb_metrics_new(&empty), 0);
  sb_buf_reset(&b);
  assert_int_equal(sb_prw_encode(empty, &c, 5000, 0, &b, &n), 0);
  assert_int_equal(n, 0);
  sb_metrics_free(empty);
  sb_buf_clear(&b);
  sb_metrics_free(m);
  sb_prw_config_clear(&c);
}

/* ---- the pusher, against an in-process server ---- */

typedef struct server {
  struct event_base *base;
  struct evhttp *http;
  pthread_t thread;
  int port;
  int status; /* what to answer */
  pthread_mutex_t mu;
  int requests;
  char headers[1024]; /* the last request's headers of interest */
  sb_buf body;        /* the last request's body */
} server;

static server srv;

static void on_http(struct evhttp_request *req, void *arg) {
  (void)arg;
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  struct evbuffer *b = evhttp_request_get_input_buffer(req), *out = evbuffer_new();
  pthread_mutex_lock(&srv.mu);
  srv.requests++;
  snprintf(srv.headers, sizeof(srv.headers), "%s %s|%s|%s|%s|%s|%s|%s",
           evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "?",
           evhttp_request_get_uri(req), evhttp_find_header(in, "Content-Encoding"),
           evhttp_find_header(in, "Content-Type"),
           evhttp_find_header(in, "X-Prometheus-Remote-Write-Version"),
           evhttp_find_header(in, "User-Agent"), evhttp_find_header(in, "Authorization"),
           evhttp_find_header(in, "X-Scope-OrgID"));
  sb_buf_reset(&srv.body);
  size_t n = evbuffer_get_length(b);
  sb_buf_reserve(&srv.body, n + 1);
  evbuffer_remove(b, srv.body.data, n);
  srv.body.len = n;
  int status = srv.status;
  pthread_mutex_unlock(&srv.mu);
  if (status != 204) evbuffer_add_printf(out, "out of order sample\n");
  evhttp_send_reply(req, status, status == 204 ? "No Content" : "Bad Request", out);
  evbuffer_free(out);
}

static void *serve(void *arg) {
  (void)arg;
  event_base_dispatch(srv.base);
  return NULL;
}

static int setup(void **state) {
  (void)state;
  memset(&srv, 0, sizeof(srv));
  pthread_mutex_init(&srv.mu, NULL);
  sb_buf_init(&srv.body);
  srv.status = 204;
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
  (void)state;
  event_base_loopexit(srv.base, NULL);
  pthread_join(srv.thread, NULL);
  evhttp_free(srv.http);
  event_base_free(srv.base);
  sb_buf_clear(&srv.body);
  return 0;
}

static sb_prw *new_prw(const char *url, const char *const *env) {
  sb_prw_config c;
  sb_err err;
  sb_prw *p;
  assert_int_equal(sb_prw_config_parse(&c, "prometheus-rw", url, env, &err), 0);
  assert_int_equal(sb_prw_new(&p, &c, &err), 0);
  assert_int_equal(sb_prw_start(p, &err), 0);
  return p;
}

/* The last body the server got, decoded (free with prometheus__write_request__free_unpacked). */
static Prometheus__WriteRequest *last_body(void) {
  pthread_mutex_lock(&srv.mu);
  Prometheus__WriteRequest *wr = decode(&srv.body);
  pthread_mutex_unlock(&srv.mu);
  return wr;
}

static int requests(void) {
  pthread_mutex_lock(&srv.mu);
  int n = srv.requests;
  pthread_mutex_unlock(&srv.mu);
  return n;
}

static void wait_requests(int n) {
  for (int i = 0; i < 500 && requests() < n; i++)
    usleep(10000);
  assert_int_equal(requests(), n);
}

static double iterations_in(const Prometheus__WriteRequest *wr) {
  return find(wr, "k6_iterations_total", NULL, NULL)->samples[0]->value;
}

/* Each push reads the attached set as it is then (the run's merged metrics, which the loop
 * keeps merging into): the output keeps no metrics of its own. */
static void test_push(void **state) {
  (void)state;
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/write", srv.port);
  const char *env[] = {"K6_PROMETHEUS_RW_USERNAME=alice", "K6_PROMETHEUS_RW_PASSWORD=s3cret",
                       "K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID=t1", NULL};
  srv.requests = 0;
  sb_prw *p = new_prw(url, env);
  struct event_base *base = event_base_new();
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  assert_int_equal(sb_prw_attach(p, base, m), 0);
  sb_prw_tick(p); /* nothing merged yet: nothing sent */
  sb_metrics_add(m, SB_M_ITERATIONS, sb_metrics_tags(m, NULL, 0), 3);
  sb_prw_tick(p);
  wait_requests(1);
  Prometheus__WriteRequest *wr = last_body();
  assert_true(iterations_in(wr) == 3);
  prometheus__write_request__free_unpacked(wr, NULL);

  sb_metrics_add(m, SB_M_ITERATIONS, sb_metrics_tags(m, NULL, 0), 2); /* a later merge */
  sb_prw_tick(p);
  wait_requests(2);
  wr = last_body();
  assert_true(iterations_in(wr) == 5);
  prometheus__write_request__free_unpacked(wr, NULL);

  sb_metrics_add(m, SB_M_ITERATIONS, sb_metrics_tags(m, NULL, 0), 1);
  assert_int_equal(sb_prw_finish(p, NULL), 0); /* the end: the attached set once more */
  assert_int_equal(requests(), 3);
  pthread_mutex_lock(&srv.mu);
  assert_non_null(
      strstr(srv.headers, "POST /api/v1/write|snappy|application/x-protobuf|0.1.0|speedboat/"));
  assert_non_null(strstr(srv.headers, "|Basic YWxpY2U6czNjcmV0|t1"));
  pthread_mutex_unlock(&srv.mu);
  wr = last_body();
  assert_true(iterations_in(wr) == 6);
  prometheus__write_request__free_unpacked(wr, NULL);
  sb_prw_free(p);
  sb_metrics_free(m);
  event_base_free(base);
}

/* The timer on the run's loop pushes every interval; finish stops it; an explicit final set
 * (the run's, at the end) is what the last push carries. */
static void test_push_timer(void **state) {
  (void)state;
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/write", srv.port);
  const char *env[] = {"K6_PROMETHEUS_RW_PUSH_INTERVAL=20ms", NULL};
  srv.requests = 0;
  sb_prw *p = new_prw(url, env);
  struct event_base *base = event_base_new();
  sb_metrics *m;
  assert_int_equal(sb_metrics_new(&m), 0);
  sb_metrics_add(m, SB_M_ITERATIONS, sb_metrics_tags(m, NULL, 0), 3);
  assert_int_equal(sb_prw_attach(p, base, m), 0);
  struct timeval tv = {0, 150000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
  usleep(50000);
  int n = requests();
  assert_true(n >= 2); /* 7 intervals: some may have been replaced while one was in flight */

  sb_metrics *final = sample_metrics();
  assert_int_equal(sb_prw_finish(p, final), 0);
  assert_int_equal(requests(), n + 1);
  Prometheus__WriteRequest *wr = last_body();
  assert_true(find(wr, "k6_http_reqs_total", "method", "GET")->samples[0]->value == 7);
  prometheus__write_request__free_unpacked(wr, NULL);
  assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0); /* timer off */
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
  usleep(20000);
  assert_int_equal(requests(), n + 1);
  sb_metrics_free(final);
  sb_prw_free(p);
  sb_metrics_free(m);
  event_base_free(base);
}

/* prometheus-rw reads the merged metrics: alone, it asks the agents for no points. */
static void test_outputs_no_points(void **state) {
  (void)state;
  const char *rw[] = {"prometheus-rw=http://127.0.0.1:1/w", "json=/dev/null"};
  sb_outputs *o;
  sb_err err;
  assert_int_equal(sb_outputs_new(&o, rw, 1, NULL, &err), 0);
  assert_int_equal(sb_outputs_want_points(o), 0);
  sb_outputs_free(o);
  assert_int_equal(sb_outputs_new(&o, rw, 2, NULL, &err), 0);
  assert_int_equal(sb_outputs_want_points(o), 1); /* json still needs every sample */
  sb_outputs_free(o);
}

static void test_push_refused(void **state) {
  (void)state;
  char url[64];
  const char *env[] = {NULL};
  sb_metrics *m = sample_metrics();

  srv.status = 400; /* the server refuses: WARN (on stderr), finish says so, nothing else */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/write", srv.port);
  sb_prw *p = new_prw(url, env);
  assert_int_equal(sb_prw_finish(p, m), SB_EIO);
  sb_prw_free(p);
  srv.status = 204;

  /* a closed port */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sin);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  getsockname(fd, (struct sockaddr *)&sin, &sl);
  close(fd);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/write", ntohs(sin.sin_port));
  p = new_prw(url, env);
  assert_int_equal(sb_prw_finish(p, m), SB_EIO);
  sb_prw_free(p);

  /* freed without a finish: the thread stops */
  p = new_prw(url, env);
  sb_prw_free(p);
  sb_prw_free(NULL);
  sb_metrics_free(m);
}

int main(void) {
  evthread_use_pthreads(); /* the test stops the server's loop from the main thread */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults),
      cmocka_unit_test(test_config_env),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_snappy_round_trip),
      cmocka_unit_test(test_encode),
      cmocka_unit_test(test_encode_stale_markers),
      cmocka_unit_test(test_push),
      cmocka_unit_test(test_push_timer),
      cmocka_unit_test(test_outputs_no_points),
      cmocka_unit_test(test_push_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
