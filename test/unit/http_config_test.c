/* agent/http_config: defaults, Prepare's HttpConfig to and from the struct (every field through
 * a real pack/unpack), what a bad wire message is refused for, the `hosts` lookup, and the
 * controller's target check honouring `hosts`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* clang-format off: the failing allocator must wrap the module's .c */
#include "test/unit/failalloc.h"
#include "agent/http_config.c"
#include "test/unit/failalloc_off.h"
/* clang-format on */

#include "controller/targets.h"

/* A config with every field set to something other than its default. */
static void fill(sb_http_config *c) {
  sb_http_config_defaults(c);
  c->insecure_skip_tls_verify = 1;
  c->tls_min_version = SB_TLS_1_2;
  c->tls_max_version = SB_TLS_1_3;
  c->tls_ciphers = strdup("ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA");
  c->tls_ciphersuites = strdup("TLS_AES_128_GCM_SHA256");
  c->tls_auth = calloc(2, sizeof(*c->tls_auth));
  c->ntls_auth = 2;
  c->tls_auth[0].domains = calloc(2, sizeof(char *));
  c->tls_auth[0].domains[0] = strdup("a.test");
  c->tls_auth[0].domains[1] = strdup("b.test");
  c->tls_auth[0].ndomains = 2;
  c->tls_auth[0].cert_pem = strdup("CERT0");
  c->tls_auth[0].key_pem = strdup("KEY0");
  c->tls_auth[0].password = strdup("pw");
  c->tls_auth[1].domains = calloc(1, sizeof(char *));
  c->tls_auth[1].domains[0] = strdup("c.test");
  c->tls_auth[1].ndomains = 1;
  c->tls_auth[1].cert_pem = strdup("CERT1");
  c->tls_auth[1].key_pem = strdup("KEY1");
  c->ca_pem = strdup("CA");
  c->hosts = calloc(2, sizeof(*c->hosts));
  c->nhosts = 2;
  c->hosts[0] = (sb_host_override){strdup("test.local"), 0, strdup("127.0.0.1"), 0};
  c->hosts[1] = (sb_host_override){strdup("*.wild.test"), 8443, strdup("::1"), 443};
  c->dns = (sb_dns_options){-1, SB_DNS_SELECT_ROUND_ROBIN, SB_DNS_POLICY_ONLY_IPV6};
  c->max_redirects = 0;
  c->no_connection_reuse = 1;
  c->no_vu_connection_reuse = 1;
  c->throw_errors = 1;
  c->user_agent = strdup("");
  c->batch = 3;
  c->batch_per_host = 0;
  c->discard_response_bodies = 1;
  c->tags = calloc(4, sizeof(char *));
  c->tags[0] = strdup("team");
  c->tags[1] = strdup("a");
  c->tags[2] = strdup("empty");
  c->tags[3] = strdup("");
  c->ntags = 2;
  c->system_tags = SB_TAG_METHOD | SB_TAG_VU;
  c->no_cookies_reset = 1;
  c->block_hostnames = calloc(2, sizeof(char *));
  c->block_hostnames[0] = strdup("*.blocked.test");
  c->block_hostnames[1] = strdup("exact.test");
  c->nblock_hostnames = 2;
}

/* Sends |c| through the wire format and back into |out|. */
static int round_trip(const sb_http_config *c, sb_http_config *out, sb_err *err) {
  Speedboat__HttpConfig m;
  assert_int_equal(sb_http_config_to_proto(c, &m), 0);
  size_t len = speedboat__http_config__get_packed_size(&m);
  uint8_t *buf = malloc(len + 1);
  speedboat__http_config__pack(&m, buf);
  sb_http_config_proto_release(&m);
  Speedboat__HttpConfig *back = speedboat__http_config__unpack(NULL, len, buf);
  free(buf);
  assert_non_null(back);
  int rc = sb_http_config_from_proto(out, back, err);
  speedboat__http_config__free_unpacked(back, NULL);
  return rc;
}

static void assert_defaults(const sb_http_config *c) {
  assert_false(c->insecure_skip_tls_verify);
  assert_int_equal(c->tls_min_version, 0);
  assert_int_equal(c->tls_max_version, 0);
  assert_null(c->tls_ciphers);
  assert_null(c->tls_ciphersuites);
  assert_null(c->tls_auth);
  assert_int_equal(c->ntls_auth, 0);
  assert_null(c->ca_pem);
  assert_null(c->hosts);
  assert_int_equal(c->nhosts, 0);
  assert_true(c->dns.ttl_ms == 300000);
  assert_int_equal(c->dns.select, SB_DNS_SELECT_RANDOM);
  assert_int_equal(c->dns.policy, SB_DNS_POLICY_PREFER_IPV4);
  assert_int_equal(c->max_redirects, 10);
  assert_false(c->no_connection_reuse);
  assert_false(c->no_vu_connection_reuse);
  assert_false(c->throw_errors);
  assert_null(c->user_agent);
  assert_int_equal(c->batch, 20);
  assert_int_equal(c->batch_per_host, 6);
  assert_false(c->discard_response_bodies);
  assert_int_equal(c->ntags, 0);
  assert_int_equal(c->system_tags, SB_TAG_DEFAULTS);
  assert_false(c->no_cookies_reset);
  assert_int_equal(c->nblock_hostnames, 0);
}

static void test_defaults(void **state) {
  sb_http_config c;
  sb_err err = {{0}};
  sb_http_config_defaults(&c);
  assert_defaults(&c);
  memset(&c, 0xff, sizeof(c)); /* from_proto does not read what |out| held */
  assert_int_equal(sb_http_config_from_proto(&c, NULL, &err), 0);
  assert_defaults(&c);
  sb_http_config_clear(&c);

  /* an empty message from a controller that set nothing but batch; dns absent = defaults */
  Speedboat__HttpConfig m = SPEEDBOAT__HTTP_CONFIG__INIT;
  m.batch = 20;
  m.max_redirects = 10;
  m.batch_per_host = 6;
  assert_int_equal(sb_http_config_from_proto(&c, &m, &err), 0);
  assert_defaults(&c);
  sb_http_config_clear(&c);

  /* the defaults survive the wire too (user_agent NULL stays NULL, not "") */
  sb_http_config d;
  sb_http_config_defaults(&d);
  assert_int_equal(round_trip(&d, &c, &err), 0);
  assert_defaults(&c);
  sb_http_config_clear(&c);
}

static void test_every_field(void **state) {
  sb_http_config c, b;
  sb_err err = {{0}};
  fill(&c);
  assert_int_equal(round_trip(&c, &b, &err), 0);
  assert_true(b.insecure_skip_tls_verify);
  assert_int_equal(b.tls_min_version, SB_TLS_1_2);
  assert_int_equal(b.tls_max_version, SB_TLS_1_3);
  assert_string_equal(b.tls_ciphers, c.tls_ciphers);
  assert_string_equal(b.tls_ciphersuites, c.tls_ciphersuites);
  assert_int_equal(b.ntls_auth, 2);
  assert_int_equal(b.tls_auth[0].ndomains, 2);
  assert_string_equal(b.tls_auth[0].domains[1], "b.test");
  assert_string_equal(b.tls_auth[0].cert_pem, "CERT0");
  assert_string_equal(b.tls_auth[0].key_pem, "KEY0");
  assert_string_equal(b.tls_auth[0].password, "pw");
  assert_string_equal(b.tls_auth[1].domains[0], "c.test");
  assert_string_equal(b.tls_auth[1].cert_pem, "CERT1");
  assert_null(b.tls_auth[1].password);
  assert_string_equal(b.ca_pem, "CA");
  assert_int_equal(b.nhosts, 2);
  assert_string_equal(b.hosts[0].name, "test.local");
  assert_int_equal(b.hosts[0].port, 0);
  assert_string_equal(b.hosts[0].ip, "127.0.0.1");
  assert_int_equal(b.hosts[0].to_port, 0);
  assert_string_equal(b.hosts[1].name, "*.wild.test");
  assert_int_equal(b.hosts[1].port, 8443);
  assert_string_equal(b.hosts[1].ip, "::1");
  assert_int_equal(b.hosts[1].to_port, 443);
  assert_true(b.dns.ttl_ms < 0);
  assert_int_equal(b.dns.select, SB_DNS_SELECT_ROUND_ROBIN);
  assert_int_equal(b.dns.policy, SB_DNS_POLICY_ONLY_IPV6);
  assert_int_equal(b.max_redirects, 0);
  assert_true(b.no_connection_reuse);
  assert_true(b.no_vu_connection_reuse);
  assert_true(b.throw_errors);
  assert_non_null(b.user_agent);
  assert_string_equal(b.user_agent, ""); /* "" (send none) is not NULL (the default) */
  assert_int_equal(b.batch, 3);
  assert_int_equal(b.batch_per_host, 0);
  assert_true(b.discard_response_bodies);
  assert_int_equal(b.ntags, 2);
  assert_string_equal(b.tags[0], "team");
  assert_string_equal(b.tags[1], "a");
  assert_string_equal(b.tags[3], "");
  assert_int_equal(b.system_tags, SB_TAG_METHOD | SB_TAG_VU);
  assert_true(b.no_cookies_reset);
  assert_int_equal(b.nblock_hostnames, 2);
  assert_string_equal(b.block_hostnames[1], "exact.test");
  sb_http_config_clear(&b);
  assert_defaults(&b);
  free(c.user_agent);
  c.user_agent = strdup("ua/1");
  c.dns.ttl_ms = 1500;
  assert_int_equal(round_trip(&c, &b, &err), 0);
  assert_string_equal(b.user_agent, "ua/1");
  assert_true(b.dns.ttl_ms == 1500);
  sb_http_config_clear(&b);
  sb_http_config_clear(&c);
}

/* Expects |m| to be refused with a message containing |want|, leaving |out| at the defaults. */
static void refused(const Speedboat__HttpConfig *m, const char *want) {
  sb_http_config c;
  sb_err err = {{0}};
  assert_int_equal(sb_http_config_from_proto(&c, m, &err), SB_EINVAL);
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
  assert_defaults(&c);
}

static void test_bad_wire(void **state) {
  Speedboat__HostOverride h = SPEEDBOAT__HOST_OVERRIDE__INIT, *hp = &h;
  Speedboat__TlsAuth a = SPEEDBOAT__TLS_AUTH__INIT, *ap = &a;
  Speedboat__DnsOptions d = SPEEDBOAT__DNS_OPTIONS__INIT;
  char *dom[] = {"ok.test"};
  Speedboat__HttpConfig m = SPEEDBOAT__HTTP_CONFIG__INIT;
  m.batch = 20;
  m.n_hosts = 1;
  m.hosts = &hp;
  h.name = "test.local";
  h.ip = "not-an-ip";
  refused(&m, "http.hosts[0].ip: 'not-an-ip' is not an IP address");
  h.ip = "1.2.3.4:80"; /* ports travel apart: an address with one is not an address */
  refused(&m, "http.hosts[0].ip: '1.2.3.4:80' is not an IP address");
  h.ip = "";
  refused(&m, "http.hosts[0].ip: '' is not an IP address");
  h.ip = "::1";
  h.to_port = 70000;
  refused(&m, "http.hosts[0]: port out of range");
  h.to_port = 0;
  h.port = 65536;
  refused(&m, "http.hosts[0]: port out of range");
  h.port = 0;
  h.name = "bad name";
  refused(&m, "http.hosts[0].name: not a host name");
  h.name = "";
  refused(&m, "http.hosts[0].name: not a host name");
  h.name = "test.local";
  m.n_tls_auth = 1;
  m.tls_auth = &ap;
  a.n_domains = 1;
  a.domains = dom;
  refused(&m, "http.tls_auth[0]: a certificate and a key are required");
  a.cert_pem = "C";
  a.key_pem = "K";
  dom[0] = "a/b";
  refused(&m, "http.tls_auth[0].domains[0]: not a host name");
  dom[0] = "ok.test";
  m.dns = &d;
  d.select = 7;
  refused(&m, "http.dns.select: unknown value 7");
  d.select = 0;
  d.policy = -1;
  refused(&m, "http.dns.policy: unknown value -1");
  d.policy = 0;
  d.ttl_ms = NAN;
  refused(&m, "http.dns.ttl_ms");
  d.ttl_ms = 0;
  m.tls_min_version = 0x0305;
  refused(&m, "http.tls_version: unknown TLS version");
  m.tls_min_version = SB_TLS_1_3;
  m.tls_max_version = SB_TLS_1_2;
  refused(&m, "http.tls_version: min is newer than max");
  m.tls_min_version = m.tls_max_version = 0;
  m.tls_ciphers = "AES128-SHA\nrm";
  refused(&m, "http.tls_ciphers: not a cipher list");
  m.tls_ciphers = "";
  m.batch = 0;
  refused(&m, "http.batch: must be > 0");
  m.batch = 1u << 31;
  refused(&m, "http.batch: must be > 0");
  m.batch = 1;
  m.max_redirects = 1u << 31;
  refused(&m, "http.max_redirects: out of range");
  m.max_redirects = 0;
  m.batch_per_host = 1u << 31;
  refused(&m, "http.batch_per_host: out of range");
  m.batch_per_host = 0;

  sb_http_config c;
  sb_err err = {{0}};
  assert_int_equal(sb_http_config_from_proto(&c, &m, &err), 0); /* all fixed: accepted */
  assert_string_equal(c.hosts[0].ip, "::1");
  assert_string_equal(c.tls_auth[0].domains[0], "ok.test");
  assert_null(c.tls_ciphers);
  sb_http_config_clear(&c);
}

/* Names arrive lower-cased whatever the wire says (the lookup compares without case anyway). */
static void test_lower_case(void **state) {
  Speedboat__HostOverride h = SPEEDBOAT__HOST_OVERRIDE__INIT, *hp = &h;
  Speedboat__HttpConfig m = SPEEDBOAT__HTTP_CONFIG__INIT;
  m.batch = 1;
  m.n_hosts = 1;
  m.hosts = &hp;
  h.name = "Test.LOCAL";
  h.ip = "10.0.0.1";
  sb_http_config c;
  sb_err err = {{0}};
  assert_int_equal(sb_http_config_from_proto(&c, &m, &err), 0);
  assert_string_equal(c.hosts[0].name, "test.local");
  assert_ptr_equal(sb_http_config_match_host(&c, "TEST.local", 1), &c.hosts[0]);
  sb_http_config_clear(&c);
}

static void test_match_host(void **state) {
  sb_host_override hs[] = {
      {"*.test", 0, "10.0.0.1", 0},      {"*.a.test", 0, "10.0.0.2", 0},
      {"*.a.test", 8080, "10.0.0.3", 0}, {"x.a.test", 0, "10.0.0.4", 0},
      {"x.a.test", 443, "10.0.0.5", 0},
  };
  sb_http_config c;
  sb_http_config_defaults(&c);
  assert_null(sb_http_config_match_host(&c, "x.a.test", 443)); /* no hosts */
  c.hosts = hs;
  c.nhosts = 5;
  assert_string_equal(sb_http_config_match_host(&c, "x.a.test", 443)->ip, "10.0.0.5");
  assert_string_equal(sb_http_config_match_host(&c, "x.a.test", 80)->ip, "10.0.0.4");
  assert_string_equal(sb_http_config_match_host(&c, "y.a.test", 8080)->ip, "10.0.0.3");
  assert_string_equal(sb_http_config_match_host(&c, "y.a.test", 80)->ip, "10.0.0.2");
  assert_string_equal(sb_http_config_match_host(&c, "b.test", 80)->ip, "10.0.0.1");
  assert_string_equal(sb_http_config_match_host(&c, "z.y.b.test", 80)->ip, "10.0.0.1");
  assert_null(sb_http_config_match_host(&c, "test", 80));
  assert_null(sb_http_config_match_host(&c, "atest", 80));
  assert_null(sb_http_config_match_host(&c, "other.org", 80));
}

/* The pre-run reachability check tests where the VUs will really connect. */
static void test_targets_apply_hosts(void **state) {
  sb_host_override hs[] = {
      {"test.local", 0, "127.0.0.1", 0},
      {"api.test", 443, "::1", 8443},
  };
  sb_http_config c;
  sb_http_config_defaults(&c);
  const char js[] = "http.get('http://test.local:8080/x'); http.get(\"https://api.test/\");"
                    "http.get('https://api.test:444/'); http.get('http://other.test/');";
  sb_targets t = {{0}, 0};
  assert_int_equal(sb_targets_scan(&t, js, sizeof(js) - 1), 0);
  assert_int_equal(t.n, 4);
  assert_int_equal(sb_targets_apply_hosts(&t, &c), 0); /* no hosts: nothing changes */
  assert_string_equal(t.v[0], "test.local:8080");
  c.hosts = hs;
  c.nhosts = 2;
  assert_int_equal(sb_targets_apply_hosts(&t, &c), 0);
  assert_string_equal(t.v[0], "127.0.0.1:8080");
  assert_string_equal(t.v[1], "[::1]:8443");
  assert_string_equal(t.v[2], "api.test:444"); /* the entry names port 443 only */
  assert_string_equal(t.v[3], "other.test:80");
  sb_targets_clear(&t);
}

/* Every allocation failure of from_proto unwinds to SB_ENOMEM with nothing leaked (ASan). */
/* systemTags: no tags at all survives the wire (not taken for "unset"); bad bits, odd tag lists
 * and bad patterns are refused. */
static void test_options_on_the_wire(void **state) {
  sb_http_config c, b;
  sb_err err = {{0}};
  sb_http_config_defaults(&c);
  c.system_tags = 0;
  assert_int_equal(round_trip(&c, &b, &err), 0);
  assert_int_equal(b.system_tags, 0);
  sb_http_config_clear(&b);

  Speedboat__HttpConfig m = SPEEDBOAT__HTTP_CONFIG__INIT;
  m.batch = 20;
  m.system_tags_set = 1;
  m.system_tags = 1u << 30;
  refused(&m, "http.system_tags: unknown tag bits");
  m.system_tags_set = 0;
  char *odd[] = {"k"};
  m.tags = odd;
  m.n_tags = 1;
  refused(&m, "http.tags");
  char *noname[] = {"", "v"};
  m.tags = noname;
  m.n_tags = 2;
  refused(&m, "http.tags[0]: a tag needs a name");
  m.n_tags = 0;
  char *pat[] = {"ok.test", "Not Lower"};
  m.block_hostnames = pat;
  m.n_block_hostnames = 2;
  refused(&m, "http.block_hostnames[1]: not a hostname pattern");
}

static void test_system_tag_names(void **state) {
  assert_int_equal(sb_system_tag_bit("proto"), SB_TAG_PROTO);
  assert_int_equal(sb_system_tag_bit("expected_response"), SB_TAG_EXPECTED_RESPONSE);
  assert_int_equal(sb_system_tag_bit("ip"), SB_TAG_IP);
  assert_int_equal(sb_system_tag_bit("nope"), 0);
  assert_int_equal(sb_system_tag_bit(NULL), 0);
  assert_string_equal(sb_system_tag_name(SB_TAG_ERROR_CODE), "error_code");
  assert_null(sb_system_tag_name(SB_TAG_URL | SB_TAG_VU));
  /* k6's default set: every tag up to expected_response, none of iter, vu, ocsp_status, ip */
  assert_int_equal(SB_TAG_DEFAULTS & SB_TAG_EXPECTED_RESPONSE, SB_TAG_EXPECTED_RESPONSE);
  assert_int_equal(SB_TAG_DEFAULTS & (SB_TAG_ITER | SB_TAG_VU | SB_TAG_OCSP_STATUS | SB_TAG_IP),
                   0);
}

/* k6's HostnameTrie: exact names, "*suffix" wildcards, any case, never an IP address. */
static void test_blocked(void **state) {
  sb_http_config c;
  sb_http_config_defaults(&c);
  assert_null(sb_http_config_blocked(&c, "any.test", 8));
  char *pats[] = {"*.io", "exact.test", "*.deep.k6.io"};
  c.block_hostnames = pats;
  c.nblock_hostnames = 3;
  assert_string_equal(sb_http_config_blocked(&c, "k6.io", 5), "*.io");
  assert_string_equal(sb_http_config_blocked(&c, "K6.IO", 5), "*.io");
  assert_string_equal(sb_http_config_blocked(&c, "a.deep.k6.io", 12), "*.deep.k6.io");
  assert_null(sb_http_config_blocked(&c, "io", 2));
  assert_string_equal(sb_http_config_blocked(&c, "Exact.Test", 10), "exact.test");
  assert_null(sb_http_config_blocked(&c, "x.exact.test", 12));
  assert_null(sb_http_config_blocked(&c, "exact.test.org", 14));
  char *all[] = {"*"};
  c.block_hostnames = all;
  c.nblock_hostnames = 1;
  assert_string_equal(sb_http_config_blocked(&c, "localhost", 9), "*");
  assert_null(sb_http_config_blocked(&c, "127.0.0.1", 9));
  assert_null(sb_http_config_blocked(&c, "::1", 3));
  assert_null(sb_http_config_blocked(&c, "[::1]", 5));
}

static void test_alloc_failures(void **state) {
  sb_http_config c, b;
  fill(&c);
  Speedboat__HttpConfig m;
  assert_int_equal(sb_http_config_to_proto(&c, &m), 0);
  long n;
  for (n = 1; n < 200; n++) {
    sb_err err;
    alloc_fail_at = n;
    alloc_calls = 0;
    int rc = sb_http_config_from_proto(&b, &m, &err);
    alloc_fail_at = 0;
    if (rc == 0) break;
    assert_int_equal(rc, SB_ENOMEM);
    assert_defaults(&b);
  }
  assert_true(n > 10 && n < 200);
  sb_http_config_clear(&b);
  sb_http_config_proto_release(&m);
  for (n = 1; n < 5; n++) { /* to_proto: nothing to release on failure */
    alloc_fail_at = n;
    alloc_calls = 0;
    int rc = sb_http_config_to_proto(&c, &m);
    alloc_fail_at = 0;
    if (rc == 0) break;
    assert_int_equal(rc, SB_ENOMEM);
  }
  sb_http_config_proto_release(&m);
  sb_http_config_clear(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),       cmocka_unit_test(test_every_field),
      cmocka_unit_test(test_bad_wire),       cmocka_unit_test(test_lower_case),
      cmocka_unit_test(test_match_host),     cmocka_unit_test(test_targets_apply_hosts),
      cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_options_on_the_wire),
      cmocka_unit_test(test_system_tag_names), cmocka_unit_test(test_blocked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
