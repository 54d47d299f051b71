/* What the test's options say about HTTP, TLS and DNS, as the agent's HTTP client reads them.
 *
 * The controller parses k6's options (insecureSkipTLSVerify, tlsVersion, tlsCipherSuites, tlsAuth,
 * hosts, dns, maxRedirects, noConnectionReuse, noVUConnectionReuse, userAgent, batch,
 * batchPerHost, discardResponseBodies, and the test-wide tags, systemTags, noCookiesReset and
 * blockHostnames that the VUs read with them) from every layer (controller/config_layers.h),
 * validates them (an unknown cipher suite or TLS version is an options error before any load) and
 * ships them in Prepare's HttpConfig message; the agent turns that message into this struct once per test
 * (sb_http_config_from_proto in agent/http_config.c). Read-only from then on, shared by every
 * worker thread (STYLE.md rule 7). Everything is owned by the struct: free with
 * sb_http_config_clear(). */
#ifndef SB_HTTP_CONFIG_H
#define SB_HTTP_CONFIG_H

#include <stddef.h>

#include "common/err.h"
#include "proto/speedboat.pb-c.h"

/* k6's dns.select */
typedef enum sb_dns_select {
  SB_DNS_SELECT_RANDOM = 0, /* k6's default */
  SB_DNS_SELECT_FIRST,
  SB_DNS_SELECT_ROUND_ROBIN,
} sb_dns_select;

/* k6's dns.policy */
typedef enum sb_dns_policy {
  SB_DNS_POLICY_PREFER_IPV4 = 0, /* k6's default */
  SB_DNS_POLICY_PREFER_IPV6,
  SB_DNS_POLICY_ONLY_IPV4,
  SB_DNS_POLICY_ONLY_IPV6,
  SB_DNS_POLICY_ANY,
} sb_dns_policy;

typedef struct sb_dns_options {
  double ttl_ms;        /* how long an answer is kept: < 0 = forever ("inf"), 0 = never cached,
                           else at most this long (and never past the record's own TTL) */
  sb_dns_select select;
  sb_dns_policy policy;
} sb_dns_options;

/* k6's system tags (the `systemTags` option): which of the tags the engine writes samples carry.
 * One bit each, in k6's order; names as k6 spells them (sb_system_tag_bit). */
enum {
  SB_TAG_PROTO = 1u << 0,
  SB_TAG_SUBPROTO = 1u << 1,
  SB_TAG_STATUS = 1u << 2,
  SB_TAG_METHOD = 1u << 3,
  SB_TAG_URL = 1u << 4,
  SB_TAG_NAME = 1u << 5,
  SB_TAG_GROUP = 1u << 6,
  SB_TAG_CHECK = 1u << 7,
  SB_TAG_ERROR = 1u << 8,
  SB_TAG_ERROR_CODE = 1u << 9,
  SB_TAG_TLS_VERSION = 1u << 10,
  SB_TAG_SCENARIO = 1u << 11,
  SB_TAG_SERVICE = 1u << 12,
  SB_TAG_EXPECTED_RESPONSE = 1u << 13,
  SB_TAG_ITER = 1u << 14, /* not by default, and refused: one series per iteration */
  SB_TAG_VU = 1u << 15,
  SB_TAG_OCSP_STATUS = 1u << 16,
  SB_TAG_IP = 1u << 17,
};
#define SB_TAG_DEFAULTS 0x3fffu  /* k6's default set: proto .. expected_response */
#define SB_TAG_ALL 0x3ffffu
/* At most this many test-wide tags (`tags`, --tag): the engine builds tag sets on the stack. */
#define SB_HTTP_MAX_TEST_TAGS 16

/* The bit of the system tag |name| ("error_code"), or 0 when k6 has no such tag. */
unsigned sb_system_tag_bit(const char *name);
/* The name of the single bit |bit|, or NULL. */
const char *sb_system_tag_name(unsigned bit);

/* One entry of k6's `hosts` option: "name" or "name:port" -> "ip" or "ip:port". */
typedef struct sb_host_override {
  char *name;           /* lower-case host name ("*.example.com" matches any subdomain) */
  int port;             /* 0: any port */
  char *ip;             /* numeric IPv4 or IPv6 address (no brackets) */
  int to_port;          /* 0: keep the request's port */
} sb_host_override;

/* One entry of k6's `tlsAuth`: a client certificate for the listed domains. */
typedef struct sb_tls_auth {
  char **domains;       /* host names the certificate is offered to (exact, lower case) */
  size_t ndomains;
  char *cert_pem;       /* certificate (chain), PEM */
  char *key_pem;        /* private key, PEM */
  char *password;       /* for an encrypted key; NULL when none */
} sb_tls_auth;

typedef struct sb_http_config {
  int insecure_skip_tls_verify;
  int tls_min_version;  /* OpenSSL's TLS1_x_VERSION; 0 = library default (TLS 1.2 as k6) */
  int tls_max_version;  /* 0 = newest */
  char *tls_ciphers;    /* TLS 1.2 suites in OpenSSL's names, ':'-separated; NULL = default */
  char *tls_ciphersuites; /* TLS 1.3 suites in OpenSSL's names, ':'-separated; NULL = default */
  sb_tls_auth *tls_auth;
  size_t ntls_auth;
  char *ca_pem;         /* extra trusted CA certificates (PEM, from --tls-ca-file or
                           SSL_CERT_FILE on the controller); NULL = the system store only */
  sb_host_override *hosts;
  size_t nhosts;
  sb_dns_options dns;
  int max_redirects;    /* default 10 */
  int no_connection_reuse;    /* a new connection for every request */
  int no_vu_connection_reuse; /* connections are not kept across iterations */
  char *user_agent;     /* NULL: the default ("speedboat/<version>"); "" sends none */
  int batch;            /* max parallel requests of one http.batch() call; default 20 */
  int batch_per_host;   /* max parallel requests per host in one batch; default 6; 0 = no limit */
  int discard_response_bodies;
  int throw_errors;     /* k6's `throw`: a failed request throws (else a "Request Failed"
                           warning and a response with error/error_code) */
  /* Test-wide options beside the HTTP ones, shipped in the same message: */
  char **tags;          /* `tags`/--tag on every sample: key, value, ... (2 * ntags strings) */
  size_t ntags;         /* at most SB_HTTP_MAX_TEST_TAGS */
  unsigned system_tags; /* SB_TAG_* bits samples carry; SB_TAG_DEFAULTS unless set */
  int no_cookies_reset; /* noCookiesReset: the VU's jar is kept across iterations */
  char **block_hostnames; /* blockHostnames: lower-case "name" (exact) or "*suffix" (any host
                             ending so; "*" alone: every name). IP addresses are never blocked. */
  size_t nblock_hostnames;
} sb_http_config;

/* Fills |c| with k6's defaults (nothing allocated). */
void sb_http_config_defaults(sb_http_config *c);
/* Frees what |c| owns and leaves it with the defaults. */
void sb_http_config_clear(sb_http_config *c);

/* From and to Prepare's HttpConfig message (proto/speedboat.proto). */

/* Fills |out| (whose old content is not freed) from |m|, or with the defaults when |m| is NULL
 * (a controller that sent none). The wire is not trusted: addresses must parse, ports fit, enums
 * be known, versions be TLS numbers, counts be in range. Returns 0, or SB_EINVAL / SB_ENOMEM with
 * |err| naming the field ("http.hosts[2].ip: 'x' is not an IP address"); on failure |out| holds
 * the defaults and owns nothing. Keeps no pointer into |m|. */
int sb_http_config_from_proto(sb_http_config *out, const Speedboat__HttpConfig *m, sb_err *err);
/* Points |m| at |c|'s values for sending: strings are borrowed (|c| must outlive |m|), the
 * message's arrays are allocated. Returns 0 or SB_ENOMEM (nothing to release then). Release the
 * arrays with sb_http_config_proto_release(). */
int sb_http_config_to_proto(const sb_http_config *c, Speedboat__HttpConfig *m);
void sb_http_config_proto_release(Speedboat__HttpConfig *m);

/* The blockHostnames pattern |host| (|len| bytes, any case, no port) falls under, or NULL (k6:
 * such a request fails with error_code 1111 before any DNS or connection). Numeric addresses are
 * never blocked. The longest matching pattern is returned. */
const char *sb_http_config_blocked(const sb_http_config *c, const char *host, size_t len);

/* The `hosts` entry that applies to |host| (any case) on |port|: "name:port", then "name", then
 * the longest "*.suffix" with the port, then without. NULL when none does. */
const sb_host_override *sb_http_config_match_host(const sb_http_config *c, const char *host,
                                                  int port);

#endif
