/* The test's HTTP/TLS/DNS options on the agent side (see http_config.h): defaults, the conversion
 * from and to Prepare's HttpConfig, and the `hosts` lookup.
 *
 * The controller validated everything already, but a bad peer (or a bug) must not be able to
 * crash an agent: every field is checked again here, before any of it is used. */
#include "agent/http_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/tls_names.h"

#define DEFAULT_TTL_MS (5 * 60 * 1000.0) /* k6: ttl=5m */
#define PATH "http"                      /* prefix of every message about the wire */

void sb_http_config_defaults(sb_http_config *c) {
  memset(c, 0, sizeof(*c));
  c->dns.ttl_ms = DEFAULT_TTL_MS;
  c->dns.select = SB_DNS_SELECT_RANDOM;
  c->dns.policy = SB_DNS_POLICY_PREFER_IPV4;
  c->max_redirects = 10;
  c->batch = 20;
  c->batch_per_host = 6;
  c->system_tags = SB_TAG_DEFAULTS;
}

/* k6's names, one per bit, in bit order. */
static const char *const tag_names[] = {
    "proto",    "subproto", "status", "method",      "url",  "name",
    "group",    "check",    "error",  "error_code",  "tls_version", "scenario",
    "service",  "expected_response", "iter", "vu", "ocsp_status", "ip",
};

unsigned sb_system_tag_bit(const char *name) {
  for (size_t i = 0; name && i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
    if (!strcmp(name, tag_names[i])) return 1u << i;
  return 0;
}

const char *sb_system_tag_name(unsigned bit) {
  for (size_t i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
    if (bit == 1u << i) return tag_names[i];
  return NULL;
}

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void tls_auth_clear(sb_tls_auth *a) {
  for (size_t i = 0; i < a->ndomains; i++)
    free(a->domains[i]);
  free(a->domains);
  free(a->cert_pem);
  free(a->key_pem);
  free(a->password);
}

void sb_http_config_clear(sb_http_config *c) {
  free(c->tls_ciphers);
  free(c->tls_ciphersuites);
  for (size_t i = 0; i < c->ntls_auth; i++)
    tls_auth_clear(&c->tls_auth[i]);
  free(c->tls_auth);
  free(c->ca_pem);
  for (size_t i = 0; i < c->nhosts; i++) {
    free(c->hosts[i].name);
    free(c->hosts[i].ip);
  }
  free(c->hosts);
  free(c->user_agent);
  free_strv(c->tags, 2 * c->ntags);
  free_strv(c->block_hostnames, c->nblock_hostnames);
  sb_http_config_defaults(c);
}

/* ---- from the wire ---- */

/* A copy of |s|, or NULL for NULL/"" when |empty_is_null|. Sets |*oom| on failure. */
static char *dup_str(const char *s, int empty_is_null, int *oom) {
  if (!s || (empty_is_null && !*s)) return NULL;
  char *d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

/* A lower-case copy of a host name as `hosts` and tlsAuth write them: letters, digits, '-', '_',
 * '.', and an optional leading "*." (a wildcard). NULL (|*bad| set) for anything else. */
static char *dup_host_name(const char *s, int *bad, int *oom) {
  size_t n = s ? strlen(s) : 0;
  const char *p = s;
  if (n > 2 && p[0] == '*' && p[1] == '.') p += 2;
  if (!n || n > 255 || !*p) {
    *bad = 1;
    return NULL;
  }
  for (; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) {
      *bad = 1;
      return NULL;
    }
  char *d = dup_str(s, 0, oom);
  for (char *q = d; q && *q; q++)
    *q = (char)tolower((unsigned char)*q);
  return d;
}

static int is_ip(const char *s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

static int tls_version_ok(uint32_t v) {
  return v == 0 || sb_tls_version_name((int)v) != NULL;
}

/* Cipher strings go to OpenSSL as they are: printable, no spaces, of a sane length. */
static int cipher_string_ok(const char *s) {
  if (!s) return 1;
  size_t n = 0;
  for (; s[n]; n++)
    if (!isgraph((unsigned char)s[n])) return 0;
  return n < 4096;
}

static int auth_from_proto(sb_tls_auth *a, const Speedboat__TlsAuth *m, size_t idx, sb_err *err) {
  int oom = 0, bad = 0;
  if (!m->cert_pem || !*m->cert_pem || !m->key_pem || !*m->key_pem)
    return sb_err_set(err, SB_EINVAL, PATH ".tls_auth[%zu]: a certificate and a key are required",
                      idx);
  if (m->n_domains && !(a->domains = calloc(m->n_domains, sizeof(char *)))) return SB_ENOMEM;
  for (size_t i = 0; i < m->n_domains; i++) {
    a->domains[i] = dup_host_name(m->domains[i], &bad, &oom);
    if (bad)
      return sb_err_set(err, SB_EINVAL, PATH ".tls_auth[%zu].domains[%zu]: not a host name", idx,
                        i);
    if (oom) return SB_ENOMEM;
    a->ndomains++;
  }
  a->cert_pem = dup_str(m->cert_pem, 0, &oom);
  a->key_pem = dup_str(m->key_pem, 0, &oom);
  a->password = dup_str(m->password, 1, &oom);
  return oom ? SB_ENOMEM : 0;
}

static int host_from_proto(sb_host_override *h, const Speedboat__HostOverride *m, size_t idx,
                           sb_err *err) {
  int oom = 0, bad = 0;
  if (m->port > 65535 || m->to_port > 65535)
    return sb_err_set(err, SB_EINVAL, PATH ".hosts[%zu]: port out of range", idx);
  if (!is_ip(m->ip))
    return sb_err_set(err, SB_EINVAL, PATH ".hosts[%zu].ip: '%.64s' is not an IP address", idx,
                      m->ip ? m->ip : "");
  h->name = dup_host_name(m->name, &bad, &oom);
  if (bad) return sb_err_set(err, SB_EINVAL, PATH ".hosts[%zu].name: not a host name", idx);
  h->ip = dup_str(m->ip, 0, &oom);
  h->port = (int)m->port;
  h->to_port = (int)m->to_port;
  return oom ? SB_ENOMEM : 0;
}

static int dns_from_proto(sb_dns_options *d, const Speedboat__DnsOptions *m, sb_err *err) {
  if (!m) return 0; /* the defaults */
  if (!isfinite(m->ttl_ms))
    return sb_err_set(err, SB_EINVAL, PATH ".dns.ttl_ms: not a number of milliseconds");
  if ((unsigned)m->select > SB_DNS_SELECT_ROUND_ROBIN)
    return sb_err_set(err, SB_EINVAL, PATH ".dns.select: unknown value %d", (int)m->select);
  if ((unsigned)m->policy > SB_DNS_POLICY_ANY)
    return sb_err_set(err, SB_EINVAL, PATH ".dns.policy: unknown value %d", (int)m->policy);
  d->ttl_ms = m->ttl_ms < 0 ? -1 : m->ttl_ms;
  d->select = (sb_dns_select)m->select;
  d->policy = (sb_dns_policy)m->policy;
  return 0;
}

/* The scalar fields: checked before anything is allocated. */
static int scalars_from_proto(sb_http_config *c, const Speedboat__HttpConfig *m, sb_err *err) {
  if (!tls_version_ok(m->tls_min_version) || !tls_version_ok(m->tls_max_version))
    return sb_err_set(err, SB_EINVAL, PATH ".tls_version: unknown TLS version 0x%x-0x%x",
                      m->tls_min_version, m->tls_max_version);
  if (m->tls_min_version && m->tls_max_version && m->tls_min_version > m->tls_max_version)
    return sb_err_set(err, SB_EINVAL, PATH ".tls_version: min is newer than max");
  if (!cipher_string_ok(m->tls_ciphers) || !cipher_string_ok(m->tls_ciphersuites))
    return sb_err_set(err, SB_EINVAL, PATH ".tls_ciphers: not a cipher list");
  if (m->max_redirects > INT_MAX)
    return sb_err_set(err, SB_EINVAL, PATH ".max_redirects: out of range");
  if (m->batch == 0 || m->batch > INT_MAX)
    return sb_err_set(err, SB_EINVAL, PATH ".batch: must be > 0");
  if (m->batch_per_host > INT_MAX)
    return sb_err_set(err, SB_EINVAL, PATH ".batch_per_host: out of range");
  c->insecure_skip_tls_verify = !!m->insecure_skip_tls_verify;
  c->tls_min_version = (int)m->tls_min_version;
  c->tls_max_version = (int)m->tls_max_version;
  c->max_redirects = (int)m->max_redirects;
  c->no_connection_reuse = !!m->no_connection_reuse;
  c->no_vu_connection_reuse = !!m->no_vu_connection_reuse;
  c->throw_errors = !!m->throw_errors;
  c->batch = (int)m->batch;
  c->batch_per_host = (int)m->batch_per_host;
  c->discard_response_bodies = !!m->discard_response_bodies;
  if (m->system_tags_set && (m->system_tags & ~SB_TAG_ALL))
    return sb_err_set(err, SB_EINVAL, PATH ".system_tags: unknown tag bits 0x%x", m->system_tags);
  c->system_tags = m->system_tags_set ? m->system_tags : SB_TAG_DEFAULTS;
  c->no_cookies_reset = !!m->no_cookies_reset;
  if (m->n_tags % 2 || m->n_tags > 2 * SB_HTTP_MAX_TEST_TAGS)
    return sb_err_set(err, SB_EINVAL, PATH ".tags: expected at most %d key, value pairs",
                      SB_HTTP_MAX_TEST_TAGS);
  return dns_from_proto(&c->dns, m->dns, err);
}

/* A blockHostnames pattern as the controller writes it: "*" alone, or an optional leading '*'
 * then lower-case letters, digits, '-', '_' and '.'. */
static int block_pattern_ok(const char *s) {
  if (!s || !*s || strlen(s) > 255) return 0;
  if (*s == '*') s++;
  for (; *s; s++)
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || strchr("-_.", *s))) return 0;
  return 1;
}

/* The test-wide tags (any strings but an empty key) and the blockHostnames patterns. */
static int lists_from_proto(sb_http_config *c, const Speedboat__HttpConfig *m, sb_err *err) {
  int oom = 0;
  if (m->n_tags && !(c->tags = calloc(m->n_tags, sizeof(char *)))) return SB_ENOMEM;
  for (size_t i = 0; i < m->n_tags; i += 2) {
    if (!m->tags[i] || !*m->tags[i] || !m->tags[i + 1])
      return sb_err_set(err, SB_EINVAL, PATH ".tags[%zu]: a tag needs a name", i / 2);
    c->tags[i] = dup_str(m->tags[i], 0, &oom);
    c->tags[i + 1] = dup_str(m->tags[i + 1], 0, &oom);
    c->ntags++;
    if (oom) return SB_ENOMEM;
  }
  if (m->n_block_hostnames &&
      !(c->block_hostnames = calloc(m->n_block_hostnames, sizeof(char *))))
    return SB_ENOMEM;
  for (size_t i = 0; i < m->n_block_hostnames; i++) {
    if (!block_pattern_ok(m->block_hostnames[i]))
      return sb_err_set(err, SB_EINVAL, PATH ".block_hostnames[%zu]: not a hostname pattern", i);
    c->block_hostnames[i] = dup_str(m->block_hostnames[i], 0, &oom);
    if (oom) return SB_ENOMEM;
    c->nblock_hostnames++;
  }
  return 0;
}

/* The owned parts: strings, tlsAuth entries and host overrides. */
static int owned_from_proto(sb_http_config *c, const Speedboat__HttpConfig *m, sb_err *err) {
  int oom = 0, rc;
  c->tls_ciphers = dup_str(m->tls_ciphers, 1, &oom);
  c->tls_ciphersuites = dup_str(m->tls_ciphersuites, 1, &oom);
  c->ca_pem = dup_str(m->ca_pem, 1, &oom);
  if (m->user_agent_set) c->user_agent = dup_str(m->user_agent ? m->user_agent : "", 0, &oom);
  if (oom) return SB_ENOMEM;
  if (m->n_tls_auth && !(c->tls_auth = calloc(m->n_tls_auth, sizeof(*c->tls_auth))))
    return SB_ENOMEM;
  for (size_t i = 0; i < m->n_tls_auth; i++) {
    c->ntls_auth++; /* counted first: a half-filled entry is freed by the clear */
    if ((rc = auth_from_proto(&c->tls_auth[i], m->tls_auth[i], i, err))) return rc;
  }
  if (m->n_hosts && !(c->hosts = calloc(m->n_hosts, sizeof(*c->hosts)))) return SB_ENOMEM;
  for (size_t i = 0; i < m->n_hosts; i++) {
    c->nhosts++;
    if ((rc = host_from_proto(&c->hosts[i], m->hosts[i], i, err))) return rc;
  }
  return lists_from_proto(c, m, err);
}

int sb_http_config_from_proto(sb_http_config *out, const Speedboat__HttpConfig *m, sb_err *err) {
  sb_http_config c;
  int rc;
  sb_http_config_defaults(&c);
  if (m && ((rc = scalars_from_proto(&c, m, err)) || (rc = owned_from_proto(&c, m, err)))) {
    if (rc == SB_ENOMEM) sb_err_set(err, SB_ENOMEM, PATH ": out of memory");
    sb_http_config_clear(&c);
    sb_http_config_defaults(out);
    return rc;
  }
  *out = c;
  return 0;
}

/* ---- to the wire ---- */

int sb_http_config_to_proto(const sb_http_config *c, Speedboat__HttpConfig *m) {
  speedboat__http_config__init(m);
  Speedboat__DnsOptions *dns = malloc(sizeof(*dns));
  /* one block each: the pointer array, then the messages it points at */
  void *auth =
      malloc(c->ntls_auth * (sizeof(Speedboat__TlsAuth *) + sizeof(Speedboat__TlsAuth)) + 1);
  void *hosts =
      malloc(c->nhosts * (sizeof(Speedboat__HostOverride *) + sizeof(Speedboat__HostOverride)) + 1);
  if (!dns || !auth || !hosts) {
    free(dns), free(auth), free(hosts);
    return SB_ENOMEM;
  }
  speedboat__dns_options__init(dns);
  dns->ttl_ms = c->dns.ttl_ms;
  dns->select = (Speedboat__DnsSelect)c->dns.select;
  dns->policy = (Speedboat__DnsPolicy)c->dns.policy;
  m->dns = dns;
  m->tls_auth = auth;
  Speedboat__TlsAuth *a = (Speedboat__TlsAuth *)(m->tls_auth + c->ntls_auth);
  for (size_t i = 0; i < c->ntls_auth; i++, a++) {
    speedboat__tls_auth__init(a);
    a->n_domains = c->tls_auth[i].ndomains;
    a->domains = c->tls_auth[i].domains;
    a->cert_pem = c->tls_auth[i].cert_pem;
    a->key_pem = c->tls_auth[i].key_pem;
    if (c->tls_auth[i].password) a->password = c->tls_auth[i].password;
    m->tls_auth[i] = a;
  }
  m->n_tls_auth = c->ntls_auth;
  m->hosts = hosts;
  Speedboat__HostOverride *h = (Speedboat__HostOverride *)(m->hosts + c->nhosts);
  for (size_t i = 0; i < c->nhosts; i++, h++) {
    speedboat__host_override__init(h);
    h->name = c->hosts[i].name;
    h->port = (uint32_t)c->hosts[i].port;
    h->ip = c->hosts[i].ip;
    h->to_port = (uint32_t)c->hosts[i].to_port;
    m->hosts[i] = h;
  }
  m->n_hosts = c->nhosts;
  m->insecure_skip_tls_verify = !!c->insecure_skip_tls_verify;
  m->tls_min_version = (uint32_t)c->tls_min_version;
  m->tls_max_version = (uint32_t)c->tls_max_version;
  if (c->tls_ciphers) m->tls_ciphers = c->tls_ciphers;
  if (c->tls_ciphersuites) m->tls_ciphersuites = c->tls_ciphersuites;
  if (c->ca_pem) m->ca_pem = c->ca_pem;
  m->max_redirects = (uint32_t)c->max_redirects;
  m->no_connection_reuse = !!c->no_connection_reuse;
  m->no_vu_connection_reuse = !!c->no_vu_connection_reuse;
  m->throw_errors = !!c->throw_errors;
  m->user_agent_set = c->user_agent != NULL;
  if (c->user_agent) m->user_agent = c->user_agent;
  m->batch = (uint32_t)c->batch;
  m->batch_per_host = (uint32_t)c->batch_per_host;
  m->discard_response_bodies = !!c->discard_response_bodies;
  m->n_tags = 2 * c->ntags;
  m->tags = c->tags;
  m->system_tags = c->system_tags;
  m->system_tags_set = 1;
  m->no_cookies_reset = !!c->no_cookies_reset;
  m->n_block_hostnames = c->nblock_hostnames;
  m->block_hostnames = c->block_hostnames;
  return 0;
}

void sb_http_config_proto_release(Speedboat__HttpConfig *m) {
  free(m->dns);
  free(m->tls_auth);
  free(m->hosts);
  m->dns = NULL;
  m->tls_auth = NULL;
  m->hosts = NULL;
  m->n_tls_auth = m->n_hosts = 0;
}

/* ---- the `hosts` lookup ---- */

/* How well |h| matches |host|:|port|: 0 none; else higher is better (exact beats wildcard, a
 * longer wildcard beats a shorter one, a port beats none). */
static size_t match_score(const sb_host_override *h, const char *host, size_t hlen, int port) {
  if (h->port && h->port != port) return 0;
  size_t bonus = h->port ? 1 : 0;
  if (h->name[0] != '*') return strcasecmp(h->name, host) ? 0 : 4096 + bonus;
  size_t slen = strlen(h->name) - 1; /* ".suffix" */
  if (hlen <= slen || strcasecmp(host + hlen - slen, h->name + 1)) return 0;
  return 2 * slen + bonus;
}

const sb_host_override *sb_http_config_match_host(const sb_http_config *c, const char *host,
                                                  int port) {
  const sb_host_override *best = NULL;
  size_t best_score = 0, hlen = strlen(host);
  for (size_t i = 0; i < c->nhosts; i++) {
    size_t s = match_score(&c->hosts[i], host, hlen, port);
    if (s > best_score) {
      best_score = s;
      best = &c->hosts[i];
    }
  }
  return best;
}

/* ---- blockHostnames ---- */

static int is_numeric_host(const char *host, size_t len) {
  char buf[INET6_ADDRSTRLEN + 2];
  unsigned char a[sizeof(struct in6_addr)];
  if (len && host[0] == '[' && host[len - 1] == ']') host++, len -= 2;
  if (len >= sizeof(buf)) return 0;
  memcpy(buf, host, len);
  buf[len] = '\0';
  return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
}

const char *sb_http_config_blocked(const sb_http_config *c, const char *host, size_t len) {
  const char *best = NULL;
  size_t best_len = 0;
  if (!c->nblock_hostnames || is_numeric_host(host, len)) return NULL;
  for (size_t i = 0; i < c->nblock_hostnames; i++) {
    const char *p = c->block_hostnames[i];
    size_t plen = strlen(p);
    int hit = p[0] == '*' ? len >= plen - 1 && !strncasecmp(host + len - (plen - 1), p + 1, plen - 1)
                          : len == plen && !strncasecmp(host, p, len);
    if (hit && (!best || plen > best_len)) best = p, best_len = plen;
  }
  return best;
}
