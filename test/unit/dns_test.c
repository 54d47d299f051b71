/* The per-worker resolver: overrides, literals, localhost, a hosts file of our own, and evdns
 * against an in-process DNS server (libevent's evdns server side on 127.0.0.1:0) whose answers,
 * TTLs and silences the test chooses. A fake clock drives the cache's expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/dns_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/unit/failalloc.h"
#include "agent/dns.c"
#include "test/unit/failalloc_off.h"

/* Fixture ---------------------------------------------------------------------------------- */

#define MAX_HELD 8

typedef struct fake_server {
  struct evdns_server_port *port;
  int fd;
  int portnum;
  int nq_a, nq_aaaa;                /* queries seen */
  struct evdns_server_request *held[MAX_HELD]; /* "hang*" queries, never answered */
  int nheld;
} fake_server;

typedef struct fx {
  struct event_base *base;
  fake_server srv;
  sb_http_config cfg;
  char resolv[64], hosts[64], empty[64];
  sb_dns *d;
} fx;

static int64_t fake_now = 1000000000;
static int64_t fake_clock(void) { return fake_now; }

/* The callback's record of what it was told. */
typedef struct got {
  int calls, err;
  char addr[INET6_ADDRSTRLEN];
  int port;
  sb_dns *free_me;                  /* sb_dns_free() this from the callback */
} got;

static void addr_str(const struct sockaddr *sa, char *buf, size_t cap, int *port) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s->sin_addr, buf, (socklen_t)cap);
    *port = ntohs(s->sin_port);
  } else {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s->sin6_addr, buf, (socklen_t)cap);
    *port = ntohs(s->sin6_port);
  }
}

static int cb_total; /* every callback of every test */

static void on_got(int err, const struct sockaddr *sa, socklen_t salen, void *ud) {
  got *g = ud;
  cb_total++;
  g->calls++;
  g->err = err;
  if (!err) {
    assert_non_null(sa);
    assert_true(salen == sizeof(struct sockaddr_in) || salen == sizeof(struct sockaddr_in6));
    addr_str(sa, g->addr, sizeof(g->addr), &g->port);
  } else {
    assert_null(sa);
  }
  if (g->free_me) sb_dns_free(g->free_me);
}

static void answer_question(fake_server *f, struct evdns_server_request *req) {
  const struct evdns_server_question *q = req->questions[0];
  static const uint8_t v4a[] = {127, 0, 0, 2}, v4b[] = {127, 0, 0, 3}, v4c[] = {127, 0, 0, 4};
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  if (strcmp(q->name, "nx.test") == 0) {
    evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
    return;
  }
  if (strcmp(q->name, "both.test") == 0) {
    if (q->type == EVDNS_TYPE_A) {
      uint8_t two[8];
      memcpy(two, v4a, 4);
      memcpy(two + 4, v4b, 4);
      evdns_server_request_add_a_reply(req, q->name, 2, two, 300);
    } else {
      evdns_server_request_add_aaaa_reply(req, q->name, 1, v6, 300);
    }
  } else if (strcmp(q->name, "short.test") == 0 && q->type == EVDNS_TYPE_A) {
    evdns_server_request_add_a_reply(req, q->name, 1, v4c, 1); /* TTL 1 s */
  } else if (strcmp(q->name, "fail.test") == 0) {
    evdns_server_request_respond(req, DNS_ERR_SERVERFAILED);
    return;
  }
  evdns_server_request_respond(req, DNS_ERR_NONE); /* others: no data */
}

static void on_query(struct evdns_server_request *req, void *ud) {
  fake_server *f = ud;
  assert_int_equal(req->nquestions, 1);
  const struct evdns_server_question *q = req->questions[0];
  /* a machine whose hostname has a domain makes evdns try "x.test.<domain>" after a miss:
   * those are answered "no data" and not counted */
  size_t n = strlen(q->name);
  int ours = n > 5 && strcmp(q->name + n - 5, ".test") == 0;
  if (ours && q->type == EVDNS_TYPE_A) f->nq_a++;
  else if (ours && q->type == EVDNS_TYPE_AAAA) f->nq_aaaa++;
  if (strncmp(q->name, "hang", 4) == 0 && f->nheld < MAX_HELD) {
    f->held[f->nheld++] = req;
    return;
  }
  answer_question(f, req);
}

static void write_file(char *path, const char *tmpl, const char *text) {
  strcpy(path, tmpl);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static int setup(void **state) {
  fx *x = calloc(1, sizeof(*x));
  x->base = event_base_new();
  x->srv.fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  assert_int_equal(bind(x->srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
  getsockname(x->srv.fd, (struct sockaddr *)&a, &l);
  x->srv.portnum = ntohs(a.sin_port);
  evutil_make_socket_nonblocking(x->srv.fd);
  x->srv.port = evdns_add_server_port_with_base(x->base, x->srv.fd, 0, on_query, &x->srv);
  assert_non_null(x->srv.port);
  char conf[128];
  snprintf(conf, sizeof(conf), "nameserver 127.0.0.1:%d\noptions timeout:2\n", x->srv.portnum);
  write_file(x->resolv, "/tmp/sb-dns-resolv-XXXXXX", conf);
  write_file(x->hosts, "/tmp/sb-dns-hosts-XXXXXX",
             "# a comment\n127.0.0.5  Both.Hosts alias.hosts  # trailing comment\n"
             "2001:db8::5 both.hosts\n127.0.0.6 both.hosts\n"
             "127.0.0.7\tv4.hosts\n\n::1 v6.hosts\nnot-an-address bad.hosts\n");
  write_file(x->empty, "/tmp/sb-dns-empty-XXXXXX", "");
  x->cfg.dns.ttl_ms = 300000; /* k6's default 5m */
  x->cfg.dns.select = SB_DNS_SELECT_FIRST;
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
  *state = x;
  return 0;
}

static int teardown(void **state) {
  fx *x = *state;
  sb_dns_free(x->d);
  event_base_loop(x->base, EVLOOP_NONBLOCK); /* the cancelled queries call back */
  for (int i = 0; i < x->srv.nheld; i++) evdns_server_request_drop(x->srv.held[i]);
  evdns_close_server_port(x->srv.port);
  close(x->srv.fd);
  event_base_free(x->base);
  unlink(x->resolv);
  unlink(x->hosts);
  unlink(x->empty);
  free(x);
  return 0;
}

/* A resolver on the fixture's files (resolv.conf or |resolv|) with the fake clock. */
static sb_dns *mk(fx *x, const char *resolv) {
  sb_dns_free(x->d);
  x->d = NULL;
  assert_int_equal(dns_new(&x->d, x->base, &x->cfg, resolv ? resolv : x->resolv, x->hosts), 0);
  x->d->now_us = fake_clock;
  return x->d;
}

/* Resolves at once (returns 1) and checks the address and port. */
static void sync_is(sb_dns *d, const char *host, int port, const char *addr, int want_port) {
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  sb_dns_req *req = (sb_dns_req *)1;
  got g = {0};
  int rc = sb_dns_resolve(d, host, port, &ss, &sl, on_got, &g, &req);
  if (rc != 1) fail_msg("%s: resolve returned %d, not 1", host, rc);
  assert_null(req);
  char buf[INET6_ADDRSTRLEN];
  int p;
  addr_str((struct sockaddr *)&ss, buf, sizeof(buf), &p);
  assert_int_equal(sl, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                 : sizeof(struct sockaddr_in6));
  if (strcmp(buf, addr) != 0) fail_msg("%s: got %s, want %s", host, buf, addr);
  assert_int_equal(p, want_port);
  assert_int_equal(g.calls, 0);
}

/* Starts an asynchronous lookup (returns 0) and checks that no callback ran yet. */
static sb_dns_req *async(sb_dns *d, const char *host, int port, got *g) {
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  sb_dns_req *req = NULL;
  int rc = sb_dns_resolve(d, host, port, &ss, &sl, on_got, g, &req);
  if (rc != 0) fail_msg("%s: resolve returned %d, not 0", host, rc);
  assert_non_null(req);
  assert_int_equal(g->calls, 0); /* never from inside sb_dns_resolve */
  return req;
}

static int sync_rc(sb_dns *d, const char *host, int port) {
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  sb_dns_req *req = NULL;
  got g = {0};
  int rc = sb_dns_resolve(d, host, port, &ss, &sl, on_got, &g, &req);
  assert_null(req);
  return rc;
}

static void on_deadline(evutil_socket_t fd, short ev, void *ud) { *(int *)ud = 1; }

/* Runs the loop until |*counter| reaches |want| or |ms| pass; returns the time taken (ms). */
static int64_t run_until(fx *x, const int *counter, int want, int ms) {
  int expired = 0;
  struct event *t = evtimer_new(x->base, on_deadline, &expired);
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(t, &tv);
  int64_t t0 = sb_clock_mono_us();
  while (*counter < want && !expired) event_base_loop(x->base, EVLOOP_ONCE);
  event_free(t);
  return (sb_clock_mono_us() - t0) / 1000;
}

/* Tests without evdns ---------------------------------------------------------------------- */

static void test_overrides(void **state) {
  fx *x = *state;
  sb_host_override h[] = {
      {.name = "exact.test", .ip = "127.0.1.1"},
      {.name = "exact.test", .port = 8443, .ip = "127.0.1.2", .to_port = 9443},
      {.name = "*.wild.test", .ip = "127.0.1.3"},
      {.name = "*.deep.wild.test", .ip = "::1", .to_port = 7000},
      {.name = "ported.test", .port = 81, .ip = "127.0.1.4"},
      {.name = "bad.test", .ip = "not-an-ip"},
  };
  x->cfg.hosts = h;
  x->cfg.nhosts = sizeof(h) / sizeof(h[0]);
  sb_dns *d = mk(x, x->empty);
  sync_is(d, "exact.test", 80, "127.0.1.1", 80);
  sync_is(d, "EXACT.Test", 443, "127.0.1.1", 443);
  sync_is(d, "exact.test", 8443, "127.0.1.2", 9443); /* name:port beats name, with its port */
  sync_is(d, "a.wild.test", 80, "127.0.1.3", 80);
  sync_is(d, "b.a.wild.test", 80, "127.0.1.3", 80);
  sync_is(d, "x.deep.wild.test", 80, "::1", 7000); /* the longer wildcard wins */
  sync_is(d, "ported.test", 81, "127.0.1.4", 81);
  /* not matched: the bare wildcard domain, another port, an unparsable override */
  assert_int_equal(sync_rc(d, "wild.test", 80), SB_ENOTFOUND);
  assert_int_equal(sync_rc(d, "ported.test", 80), SB_ENOTFOUND);
  assert_int_equal(sync_rc(d, "bad.test", 80), SB_ENOTFOUND);
  /* an override beats the hosts file and a literal-looking lookup order */
  sb_host_override h2[] = {{.name = "both.hosts", .ip = "127.0.1.9"}};
  x->cfg.hosts = h2;
  x->cfg.nhosts = 1;
  d = mk(x, x->empty);
  sync_is(d, "both.hosts", 80, "127.0.1.9", 80);
  x->cfg.hosts = NULL;
  x->cfg.nhosts = 0;
}

static void test_literals_and_localhost(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, x->empty);
  sync_is(d, "127.0.0.1", 80, "127.0.0.1", 80);
  sync_is(d, "::1", 8080, "::1", 8080);
  sync_is(d, "2001:DB8::7", 1, "2001:db8::7", 1);
  sync_is(d, "localhost", 80, "127.0.0.1", 80);
  sync_is(d, "LocalHost", 80, "127.0.0.1", 80);
  assert_int_equal(sync_rc(d, "", 80), SB_ENOTFOUND);
  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(sync_rc(d, longname, 80), SB_ENOTFOUND);
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV6;
  d = mk(x, x->empty);
  sync_is(d, "localhost", 80, "::1", 80);
  x->cfg.dns.policy = SB_DNS_POLICY_ONLY_IPV6;
  d = mk(x, x->empty);
  sync_is(d, "localhost", 80, "::1", 80);
  /* no hosts file, no resolv.conf at all */
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
  sb_dns_free(x->d);
  x->d = NULL;
  assert_int_equal(dns_new(&x->d, x->base, &x->cfg, "/nonexistent/resolv.conf", NULL), 0);
  sync_is(x->d, "localhost", 80, "127.0.0.1", 80);
  sync_is(x->d, "127.0.0.1", 80, "127.0.0.1", 80);
  assert_int_equal(sync_rc(x->d, "unknown.test", 80), SB_ENOTFOUND);
}

static void test_hosts_policies(void **state) {
  fx *x = *state;
  static const struct {
    sb_dns_policy p;
    const char *both, *v4, *v6;     /* NULL: SB_ENOTFOUND */
  } cases[] = {
      {SB_DNS_POLICY_PREFER_IPV4, "127.0.0.5", "127.0.0.7", "::1"},
      {SB_DNS_POLICY_PREFER_IPV6, "2001:db8::5", "127.0.0.7", "::1"},
      {SB_DNS_POLICY_ONLY_IPV4, "127.0.0.5", "127.0.0.7", NULL},
      {SB_DNS_POLICY_ONLY_IPV6, "2001:db8::5", NULL, "::1"},
      {SB_DNS_POLICY_ANY, "127.0.0.5", "127.0.0.7", "::1"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    x->cfg.dns.policy = cases[i].p;
    sb_dns *d = mk(x, x->empty);
    sync_is(d, "both.hosts", 80, cases[i].both, 80);
    sync_is(d, "BOTH.hosts", 80, cases[i].both, 80); /* again: from the cache */
    if (cases[i].v4) sync_is(d, "v4.hosts", 80, cases[i].v4, 80);
    else assert_int_equal(sync_rc(d, "v4.hosts", 80), SB_ENOTFOUND);
    if (cases[i].v6) sync_is(d, "v6.hosts", 80, cases[i].v6, 80);
    else assert_int_equal(sync_rc(d, "v6.hosts", 80), SB_ENOTFOUND);
  }
  sync_is(x->d, "alias.hosts", 80, "127.0.0.5", 80);
  assert_int_equal(sync_rc(x->d, "bad.hosts", 80), SB_ENOTFOUND);
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
}

static void test_select(void **state) {
  fx *x = *state;
  x->cfg.dns.select = SB_DNS_SELECT_ROUND_ROBIN;
  x->cfg.dns.policy = SB_DNS_POLICY_ANY;
  sb_dns *d = mk(x, x->empty);
  const char *order[] = {"127.0.0.5", "2001:db8::5", "127.0.0.6"};
  for (int i = 0; i < 7; i++) sync_is(d, "both.hosts", 80, order[i % 3], 80);
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
  d = mk(x, x->empty);
  for (int i = 0; i < 4; i++) sync_is(d, "both.hosts", 80, i % 2 ? "127.0.0.6" : "127.0.0.5", 80);
  /* roundRobin survives ttl 0 (nothing cached, the cursor kept) */
  x->cfg.dns.ttl_ms = 0;
  d = mk(x, x->empty);
  for (int i = 0; i < 4; i++) sync_is(d, "both.hosts", 80, i % 2 ? "127.0.0.6" : "127.0.0.5", 80);
  x->cfg.dns.ttl_ms = 300000;
  x->cfg.dns.select = SB_DNS_SELECT_FIRST;
  d = mk(x, x->empty);
  for (int i = 0; i < 3; i++) sync_is(d, "both.hosts", 80, "127.0.0.5", 80);
  x->cfg.dns.select = SB_DNS_SELECT_RANDOM;
  d = mk(x, x->empty);
  int seen5 = 0, seen6 = 0;
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage ss;
    socklen_t sl;
    sb_dns_req *req;
    assert_int_equal(sb_dns_resolve(d, "both.hosts", 80, &ss, &sl, on_got, NULL, &req), 1);
    uint8_t last = ((uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr)[3];
    assert_true(last == 5 || last == 6);
    seen5 += last == 5;
    seen6 += last == 6;
  }
  assert_true(seen5 > 0 && seen6 > 0);
  x->cfg.dns.select = SB_DNS_SELECT_FIRST;
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
}

static void test_cache_bound(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, x->empty);
  d->max_entries = 2;
  sync_is(d, "both.hosts", 80, "127.0.0.5", 80);
  sync_is(d, "v4.hosts", 80, "127.0.0.7", 80);
  sync_is(d, "v6.hosts", 80, "::1", 80);
  assert_int_equal(d->nentries, 2);
  assert_null(cache_find(d, "both.hosts", hash_name("both.hosts"))); /* the oldest went */
  assert_non_null(cache_find(d, "v6.hosts", hash_name("v6.hosts")));
}

static void test_new_nomem(void **state) {
  fx *x = *state;
  sb_host_override h[] = {{.name = "exact.test", .ip = "127.0.1.1"}};
  x->cfg.hosts = h;
  x->cfg.nhosts = 1;
  sb_dns_free(x->d);
  x->d = NULL;
  for (alloc_fail_at = 1;; alloc_fail_at++) {
    alloc_calls = 0;
    sb_dns *d = (sb_dns *)1;
    int rc = dns_new(&d, x->base, &x->cfg, x->resolv, x->hosts);
    if (rc == 0) {
      sb_dns_free(d);
      break;
    }
    assert_int_equal(rc, SB_ENOMEM);
    assert_ptr_equal(d, (sb_dns *)1);
  }
  assert_true(alloc_fail_at > 3); /* it did fail somewhere */
  alloc_fail_at = 0;
  x->cfg.hosts = NULL;
  x->cfg.nhosts = 0;
}

/* Tests through evdns ---------------------------------------------------------------------- */

static void test_async_then_cached(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, NULL);
  got g = {0};
  async(d, "both.test", 443, &g);
  run_until(x, &g.calls, 1, 3000);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.err, 0);
  assert_string_equal(g.addr, "127.0.0.2");
  assert_int_equal(g.port, 443);
  assert_int_equal(x->srv.nq_a, 1);
  assert_int_equal(x->srv.nq_aaaa, 1);
  sync_is(d, "both.test", 80, "127.0.0.2", 80); /* a hit: synchronous, no query */
  sync_is(d, "Both.Test", 8080, "127.0.0.2", 8080);
  assert_int_equal(x->srv.nq_a, 1);
  /* a hosts-file name never reaches the server */
  sync_is(d, "v4.hosts", 80, "127.0.0.7", 80);
  assert_int_equal(x->srv.nq_a, 1);
  /* the other families of the cached answer */
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV6;
  sync_is(d, "both.test", 80, "2001:db8::1", 80);
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
  x->cfg.dns.select = SB_DNS_SELECT_ROUND_ROBIN;
  sync_is(d, "both.test", 80, "127.0.0.2", 80);
  sync_is(d, "both.test", 80, "127.0.0.3", 80);
  sync_is(d, "both.test", 80, "127.0.0.2", 80);
  x->cfg.dns.select = SB_DNS_SELECT_FIRST;
}

static void test_only_policy_asks_one_family(void **state) {
  fx *x = *state;
  x->cfg.dns.policy = SB_DNS_POLICY_ONLY_IPV6;
  sb_dns *d = mk(x, NULL);
  got g = {0};
  async(d, "both.test", 80, &g);
  run_until(x, &g.calls, 1, 3000);
  assert_int_equal(g.err, 0);
  assert_string_equal(g.addr, "2001:db8::1");
  assert_int_equal(x->srv.nq_a, 0);
  assert_int_equal(x->srv.nq_aaaa, 1);
  /* a name with A records only: no address of the policy's family */
  got g2 = {0};
  async(d, "short.test", 80, &g2);
  run_until(x, &g2.calls, 1, 3000);
  assert_int_equal(g2.err, SB_ENOTFOUND);
  x->cfg.dns.policy = SB_DNS_POLICY_PREFER_IPV4;
}

static void test_ttl(void **state) {
  fx *x = *state;
  /* the record's TTL (1 s) under dns.ttl 5m */
  sb_dns *d = mk(x, NULL);
  got g = {0};
  async(d, "short.test", 80, &g);
  run_until(x, &g.calls, 1, 3000);
  assert_string_equal(g.addr, "127.0.0.4");
  fake_now += 900000;
  sync_is(d, "short.test", 80, "127.0.0.4", 80);
  fake_now += 200000;
  got g2 = {0};
  async(d, "short.test", 80, &g2); /* expired: asked again */
  run_until(x, &g2.calls, 1, 3000);
  assert_int_equal(x->srv.nq_a, 2);
  /* dns.ttl (100 ms) under the record's TTL (300 s) */
  x->cfg.dns.ttl_ms = 100;
  d = mk(x, NULL);
  got g3 = {0};
  async(d, "both.test", 80, &g3);
  run_until(x, &g3.calls, 1, 3000);
  fake_now += 50000;
  sync_is(d, "both.test", 80, "127.0.0.2", 80);
  fake_now += 60000;
  got g4 = {0};
  async(d, "both.test", 80, &g4);
  run_until(x, &g4.calls, 1, 3000);
  /* ttl 0: never cached */
  x->cfg.dns.ttl_ms = 0;
  d = mk(x, NULL);
  for (int i = 0; i < 2; i++) {
    got g5 = {0};
    async(d, "both.test", 80, &g5);
    run_until(x, &g5.calls, 1, 3000);
    assert_int_equal(g5.err, 0);
  }
  /* ttl < 0: forever, past the record's TTL */
  x->cfg.dns.ttl_ms = -1;
  d = mk(x, NULL);
  got g6 = {0};
  async(d, "short.test", 80, &g6);
  run_until(x, &g6.calls, 1, 3000);
  fake_now += 3600 * 1000000LL;
  sync_is(d, "short.test", 80, "127.0.0.4", 80);
  x->cfg.dns.ttl_ms = 300000;
}

static void test_shared_query(void **state) {
  fx *x = *state;
  x->cfg.dns.select = SB_DNS_SELECT_ROUND_ROBIN;
  sb_dns *d = mk(x, NULL);
  got g[3] = {{0}};
  for (int i = 0; i < 3; i++) async(d, "both.test", 1000 + i, &g[i]);
  int total = 0;
  while (total < 3) {
    run_until(x, &g[total].calls, 1, 3000);
    assert_int_equal(g[total].calls, 1);
    total++;
  }
  for (int i = 0; i < 3; i++) {
    assert_int_equal(g[i].err, 0);
    assert_int_equal(g[i].port, 1000 + i); /* each its own port */
  }
  /* answered in the order asked, the cursor turning for each */
  assert_string_equal(g[0].addr, "127.0.0.2");
  assert_string_equal(g[1].addr, "127.0.0.3");
  assert_string_equal(g[2].addr, "127.0.0.2");
  assert_int_equal(x->srv.nq_a, 1);
  assert_int_equal(x->srv.nq_aaaa, 1);
  x->cfg.dns.select = SB_DNS_SELECT_FIRST;
}

/* The public constructor, on this machine's own files: what needs no nameserver answers. */
static void test_public_new(void **state) {
  fx *x = *state;
  sb_dns *d = NULL;
  assert_int_equal(sb_dns_new(&d, x->base, &x->cfg), 0);
  sync_is(d, "localhost", 80, "127.0.0.1", 80);
  sync_is(d, "127.0.0.1", 81, "127.0.0.1", 81);
  sync_is(d, "::1", 82, "::1", 82);
  sb_dns_free(d);
}

static void test_negative_cache(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, NULL);
  got g = {0};
  async(d, "nx.test", 80, &g);
  run_until(x, &g.calls, 1, 3000);
  assert_int_equal(g.err, SB_ENOTFOUND);
  assert_int_equal(sync_rc(d, "nx.test", 80), SB_ENOTFOUND); /* believed for 1 s */
  int asked = x->srv.nq_a;
  fake_now += 1100000;
  got g2 = {0};
  async(d, "nx.test", 80, &g2);
  run_until(x, &g2.calls, 1, 3000);
  assert_int_equal(g2.err, SB_ENOTFOUND);
  assert_int_equal(x->srv.nq_a, asked + 1);
  /* a server failure is SB_EIO and is not cached */
  got g3 = {0};
  async(d, "fail.test", 80, &g3);
  run_until(x, &g3.calls, 1, 3000);
  assert_int_equal(g3.err, SB_EIO);
  got g4 = {0};
  async(d, "fail.test", 80, &g4);
  run_until(x, &g4.calls, 1, 3000);
  assert_int_equal(g4.err, SB_EIO);
}

static void test_cancel(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, NULL);
  got g = {0}, g2 = {0};
  sb_dns_req *r = async(d, "both.test", 80, &g);
  async(d, "both.test", 81, &g2);
  sb_dns_cancel(r);
  run_until(x, &g2.calls, 1, 3000);
  assert_int_equal(g2.calls, 1);
  assert_int_equal(g.calls, 0);
  /* a lookup whose every asker cancelled still fills the cache */
  got g3 = {0};
  sb_dns_cancel(async(d, "short.test", 80, &g3));
  entry *e = cache_find(d, "short.test", hash_name("short.test"));
  for (int i = 0; i < 3000 && e->lk; i++) {
    event_base_loop(x->base, EVLOOP_NONBLOCK);
    usleep(1000);
  }
  assert_null(e->lk);
  assert_int_equal(g3.calls, 0);
  int a = x->srv.nq_a;
  sync_is(d, "short.test", 80, "127.0.0.4", 80);
  assert_int_equal(x->srv.nq_a, a);
  sb_dns_cancel(NULL);
}

static void test_free_pending(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, NULL);
  got g = {0}, g2 = {0};
  async(d, "hang.test", 80, &g);
  async(d, "hang.test", 81, &g2);
  run_until(x, &x->srv.nheld, 2, 3000); /* the queries reach the server, which keeps silent */
  assert_int_equal(x->srv.nheld, 2);
  sb_dns_free(d);
  x->d = NULL;
  got dummy = {0};
  run_until(x, &dummy.calls, 1, 100);
  assert_int_equal(g.calls + g2.calls, 0);
}

/* sb_dns_free() at every step of a lookup: queries sent and unanswered, answered but not read,
 * read but not yet handed over by evdns (its deferred callbacks), handed over. The server runs on
 * a loop of its own here, so that the client's loop can be stepped one turn at a time. No
 * callback may run after the free, nothing may leak or be touched after. */
static void test_free_at_every_step(void **state) {
  fx *x = *state;
  fake_server srv = {0};
  struct event_base *sbase = event_base_new();
  srv.fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  assert_int_equal(bind(srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
  getsockname(srv.fd, (struct sockaddr *)&a, &l);
  evutil_make_socket_nonblocking(srv.fd);
  srv.port = evdns_add_server_port_with_base(sbase, srv.fd, 0, on_query, &srv);
  char conf[64], path[64];
  snprintf(conf, sizeof(conf), "nameserver 127.0.0.1:%d\n", ntohs(a.sin_port));
  write_file(path, "/tmp/sb-dns-step-XXXXXX", conf);
  int completed = 0;
  for (int answered = 0; answered < 2; answered++) {
    for (int steps = 0; steps < 8; steps++) {
      sb_dns *d = mk(x, path);
      got g = {0};
      srv.nq_a = srv.nq_aaaa = 0;
      async(d, "both.test", 80, &g);
      for (int i = 0; answered && i < 2000 && srv.nq_a + srv.nq_aaaa < 2; i++) {
        event_base_loop(sbase, EVLOOP_NONBLOCK);
        usleep(500);
      }
      usleep(1000); /* the answers are in the client's socket */
      for (int i = 0; i < steps; i++) event_base_loop(x->base, EVLOOP_NONBLOCK);
      int before = g.calls;
      completed |= before;
      sb_dns_free(d);
      x->d = NULL;
      for (int i = 0; i < 5; i++) event_base_loop(x->base, EVLOOP_NONBLOCK);
      assert_int_equal(g.calls, before);
      if (!answered) assert_int_equal(before, 0);
      event_base_loop(sbase, EVLOOP_NONBLOCK); /* the server drains what is left */
      if (before) break;
    }
  }
  assert_true(completed); /* the sweep reached the end of a lookup */
  evdns_close_server_port(srv.port);
  close(srv.fd);
  event_base_free(sbase);
  unlink(path);
}

static void test_free_from_callback(void **state) {
  fx *x = *state;
  sb_dns *d = mk(x, NULL);
  got g = {0}, g2 = {0}, g3 = {0};
  async(d, "both.test", 80, &g);
  async(d, "both.test", 81, &g2);
  async(d, "short.test", 82, &g3); /* another lookup, maybe half answered by then */
  g.free_me = g2.free_me = g3.free_me = d; /* whichever runs first frees the resolver */
  x->d = NULL;
  int before = cb_total;
  run_until(x, &cb_total, before + 1, 3000);
  run_until(x, &cb_total, before + 2, 50); /* the others must not come */
  assert_int_equal(g.calls + g2.calls + g3.calls, 1);
}

static void test_no_nameserver(void **state) {
  fx *x = *state;
  const char *files[] = {x->empty, "/nonexistent/resolv.conf"};
  for (int i = 0; i < 2; i++) {
    sb_dns *d = mk(x, files[i]);
    assert_int_equal(d->has_ns, 0);
    sync_is(d, "both.hosts", 80, "127.0.0.5", 80);
    sync_is(d, "localhost", 80, "127.0.0.1", 80);
    sync_is(d, "::1", 80, "::1", 80);
    assert_int_equal(sync_rc(d, "unknown.test", 80), SB_ENOTFOUND); /* at once */
  }
}

static void test_unreachable_nameserver(void **state) {
  fx *x = *state;
  /* a port nobody listens on: evdns waits out its timeout (shortened here) and fails */
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  char conf[64], path[64];
  snprintf(conf, sizeof(conf), "nameserver 127.0.0.1:%d\n", ntohs(a.sin_port));
  write_file(path, "/tmp/sb-dns-dead-XXXXXX", conf);
  sb_dns *d = mk(x, path);
  unlink(path);
  evdns_base_set_option(d->evdns, "timeout:", "0.2");
  got g = {0};
  async(d, "unknown.test", 80, &g);
  int64_t ms = run_until(x, &g.calls, 1, 5000);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.err, SB_EIO);
  assert_true(ms < 2000);
  sync_is(d, "v4.hosts", 80, "127.0.0.7", 80); /* hosts names do not need the server */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
      cmocka_unit_test_setup_teardown(test_literals_and_localhost, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hosts_policies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_select, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_nomem, setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_then_cached, setup, teardown),
      cmocka_unit_test_setup_teardown(test_only_policy_asks_one_family, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_negative_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_at_every_step, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_nameserver, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreachable_nameserver, setup, teardown),
      cmocka_unit_test_setup_teardown(test_public_new, setup, teardown),
  };
  return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
