/* What the test's options say about HTTP, TLS and DNS, as the agent's HTTP client reads them.
 *
 * The controller parses k6's options (insecureSkipTLSVerify, tlsVersion, tlsCipherSuites, tlsAuth,
 * hosts, dns, maxRedirects, noConnectionReuse, noVUConnectionReuse, userAgent, batch,
 * batchPerHost, discardResponseBodies) and the matching CLI flags, validates them (an unknown
 * cipher suite or TLS version is an options error before any load) and ships them in Prepare's
 * HttpConfig message; the agent turns that message into this struct once per test
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

/* The `hosts` entry that applies to |host| (any case) on |port|: "name:port", then "name", then
 * the longest "*.suffix" with the port, then without. NULL when none does. */
const sb_host_override *sb_http_config_match_host(const sb_http_config *c, const char *host,
                                                  int port);

#endif
