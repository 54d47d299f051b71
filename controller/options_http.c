/* k6's HTTP, TLS and DNS options into an sb_http_config (see options_http.h). Every message names
 * the option at fault, in the style of options.c; the run turns them into exit code 104. */
#include "controller/options_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/duration.h"
#include "common/tls_names.h"

/* ---- small getters (the same conventions as options.c) ---- */

static int opt_bool(json_t *v, const char *path, int *out, sb_err *err) {
  if (!json_is_boolean(v)) return sb_err_set(err, SB_EINVAL, "%s: must be true or false", path);
  *out = json_is_true(v);
  return 0;
}

/* An integer in [min, INT_MAX]; a JSON real is accepted when it is whole (JavaScript numbers). */
static int opt_int(json_t *v, const char *path, int min, int *out, sb_err *err) {
  double d = json_is_integer(v) ? (double)json_integer_value(v)
             : json_is_real(v)  ? json_real_value(v)
                                : NAN;
  if (!isfinite(d) || d != floor(d) || d < min || d > INT_MAX)
    return sb_err_set(err, SB_EINVAL, "%s: must be an integer >= %d", path, min);
  *out = (int)d;
  return 0;
}

static int set_str(char **dst, const char *s, const char *path, sb_err *err) {
  char *d = strdup(s);
  if (!d) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  free(*dst);
  *dst = d;
  return 0;
}

/* The reason of the earliest error in OpenSSL's queue ("bad decrypt"), or |fallback|. Empties it.
 */
static const char *ossl_reason(char *buf, size_t len, const char *fallback) {
  unsigned long e = ERR_peek_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  snprintf(buf, len, "%s", r ? r : fallback);
  ERR_clear_error();
  return buf;
}

/* ---- tlsVersion, tlsCipherSuites ---- */

static int version_of(json_t *v, const char *path, int *out, sb_err *err) {
  if (!json_is_string(v))
    return sb_err_set(err, SB_EINVAL, "%s: must be a TLS version such as \"tls1.2\"", path);
  const char *s = json_string_value(v);
  *out = *s ? sb_tls_version_from_name(s) : 0; /* k6: "" is any version */
  if (*s && !*out)
    return sb_err_set(err, SB_EINVAL,
                      "%s: unknown TLS version '%s' (use ssl3.0, tls1.0, tls1.1, tls1.2 or tls1.3)",
                      path, s);
  return 0;
}

static int parse_tls_version(sb_http_config *c, json_t *v, sb_err *err) {
  json_t *min = v, *max = v;
  if (json_is_object(v)) {
    min = json_object_get(v, "min");
    max = json_object_get(v, "max");
  } else if (!json_is_string(v)) {
    return sb_err_set(err, SB_EINVAL,
                      "options.tlsVersion: must be a version (\"tls1.2\") or {min: \"tls1.2\", "
                      "max: \"tls1.3\"}");
  }
  if (min && !json_is_null(min) &&
      version_of(min, "options.tlsVersion.min", &c->tls_min_version, err))
    return SB_EINVAL;
  if (max && !json_is_null(max) &&
      version_of(max, "options.tlsVersion.max", &c->tls_max_version, err))
    return SB_EINVAL;
  if (c->tls_min_version && c->tls_max_version && c->tls_min_version > c->tls_max_version)
    return sb_err_set(err, SB_EINVAL, "options.tlsVersion: min (%s) is newer than max (%s)",
                      sb_tls_version_name(c->tls_min_version),
                      sb_tls_version_name(c->tls_max_version));
  return 0;
}

/* One suite of tlsCipherSuites: known to k6, compiled into our OpenSSL, appended to its list. */
static int add_cipher(sb_buf *l12, sb_buf *l13, json_t *e, size_t i, sb_err *err) {
  int tls13, rc;
  if (!json_is_string(e))
    return sb_err_set(err, SB_EINVAL, "options.tlsCipherSuites[%zu]: must be a string", i);
  const char *name = json_string_value(e), *ossl = sb_tls_cipher_to_openssl(name, &tls13);
  if (!ossl)
    return sb_err_set(err, SB_EINVAL, "options.tlsCipherSuites[%zu]: unknown cipher suite '%s'", i,
                      name);
  if ((rc = sb_tls_cipher_available(ossl, tls13)) < 0)
    return sb_err_set(err, SB_ENOMEM, "options.tlsCipherSuites: out of memory");
  if (rc == 0) { /* k6's examples list RC4 beside modern suites: skip it, say so */
    fprintf(stderr,
            "WARN[0000] options.tlsCipherSuites[%zu]: %s (OpenSSL's %s) is not available in this "
            "build of OpenSSL; skipped\n",
            i, name, ossl);
    return 1;
  }
  sb_buf *l = tls13 ? l13 : l12;
  if ((l->len && sb_buf_puts(l, ":")) || sb_buf_puts(l, ossl))
    return sb_err_set(err, SB_ENOMEM, "options.tlsCipherSuites: out of memory");
  return 0;
}

static int parse_ciphers(sb_http_config *c, json_t *v, sb_err *err) {
  sb_buf l12, l13;
  int rc = 0;
  if (!json_is_array(v))
    return sb_err_set(err, SB_EINVAL,
                      "options.tlsCipherSuites: must be an array of cipher suite "
                      "names such as \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"");
  sb_buf_init(&l12);
  sb_buf_init(&l13);
  size_t skipped = 0;
  for (size_t i = 0; rc >= 0 && i < json_array_size(v); i++)
    if ((rc = add_cipher(&l12, &l13, json_array_get(v, i), i, err)) == 1) skipped++, rc = 0;
  if (!rc && skipped && skipped == json_array_size(v))
    rc = sb_err_set(err, SB_EINVAL,
                    "options.tlsCipherSuites: none of the %zu suites is available in this build "
                    "of OpenSSL",
                    skipped);
  if (!rc) {
    free(c->tls_ciphers);
    free(c->tls_ciphersuites);
    c->tls_ciphers = l12.len ? sb_buf_steal(&l12, NULL) : NULL;
    c->tls_ciphersuites = l13.len ? sb_buf_steal(&l13, NULL) : NULL;
  }
  sb_buf_clear(&l12);
  sb_buf_clear(&l13);
  return rc;
}

/* ---- tlsAuth ---- */

/* Hands OpenSSL the entry's password (|ud|), or none: an encrypted key must never prompt. */
static int pem_password(char *buf, int size, int rwflag, void *ud) {
  (void)rwflag;
  size_t n = ud ? strlen(ud) : 0;
  if (!ud || n > (size_t)size) return 0;
  memcpy(buf, ud, n);
  return (int)n;
}

/* Reads the entry's certificate and key as the agents will, so that a bad one is an options
 * error before any load. */
static int check_pem(const sb_tls_auth *a, const char *path, sb_err *err) {
  char why[256];
  int rc = 0;
  ERR_clear_error();
  BIO *cb = BIO_new_mem_buf(a->cert_pem, -1), *kb = BIO_new_mem_buf(a->key_pem, -1);
  X509 *x = cb ? PEM_read_bio_X509(cb, NULL, pem_password, NULL) : NULL;
  EVP_PKEY *k = x && kb ? PEM_read_bio_PrivateKey(kb, NULL, pem_password, a->password) : NULL;
  if (!cb || !kb)
    rc = sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  else if (!x)
    rc = sb_err_set(err, SB_EINVAL, "%s.cert: not a PEM certificate (%s)", path,
                    ossl_reason(why, sizeof(why), "unreadable"));
  else if (!k)
    rc = sb_err_set(err, SB_EINVAL, "%s.key: not a PEM private key%s (%s)", path,
                    a->password ? ", or a wrong password" : " (an encrypted key needs a password)",
                    ossl_reason(why, sizeof(why), "unreadable"));
  else if (X509_check_private_key(x, k) != 1)
    rc = sb_err_set(err, SB_EINVAL, "%s: the key does not match the certificate", path);
  ERR_clear_error();
  EVP_PKEY_free(k);
  X509_free(x);
  BIO_free(kb);
  BIO_free(cb);
  return rc;
}

/* A tlsAuth domain: a host name, or "*.domain" (what the agents accept, agent/http_config.c). */
static int valid_domain(const char *s) {
  size_t n = strlen(s);
  if (n > 2 && s[0] == '*' && s[1] == '.') s += 2, n -= 2;
  if (!n || n > 253) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("-_.", *s)) return 0;
  return 1;
}

static int auth_domains(sb_tls_auth *a, json_t *d, const char *path, sb_err *err) {
  if (!json_is_array(d) || !json_array_size(d))
    return sb_err_set(err, SB_EINVAL,
                      "%s.domains: required (an array of the host names to "
                      "present the certificate to)",
                      path);
  if (!(a->domains = calloc(json_array_size(d), sizeof(char *))))
    return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  for (size_t i = 0; i < json_array_size(d); i++) {
    json_t *e = json_array_get(d, i);
    if (!json_is_string(e) || !valid_domain(json_string_value(e)))
      return sb_err_set(err, SB_EINVAL, "%s.domains[%zu]: must be a host name (or *.domain)", path,
                        i);
    if (!(a->domains[i] = strdup(json_string_value(e))))
      return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
    a->ndomains++;
    for (char *p = a->domains[i]; *p; p++)
      *p = (char)tolower((unsigned char)*p);
  }
  return 0;
}

static int auth_entry(sb_tls_auth *a, json_t *e, const char *path, sb_err *err) {
  json_t *cert = json_object_get(e, "cert"), *key = json_object_get(e, "key"),
         *pw = json_object_get(e, "password");
  int rc;
  if (!json_is_object(e))
    return sb_err_set(err, SB_EINVAL, "%s: must be an object {domains, cert, key}", path);
  if ((rc = auth_domains(a, json_object_get(e, "domains"), path, err))) return rc;
  if (!json_is_string(cert) || !*json_string_value(cert))
    return sb_err_set(err, SB_EINVAL, "%s.cert: required (the certificate, PEM)", path);
  if (!json_is_string(key) || !*json_string_value(key))
    return sb_err_set(err, SB_EINVAL, "%s.key: required (the private key, PEM)", path);
  if (pw && !json_is_null(pw) && !json_is_string(pw))
    return sb_err_set(err, SB_EINVAL, "%s.password: must be a string", path);
  if ((rc = set_str(&a->cert_pem, json_string_value(cert), path, err)) ||
      (rc = set_str(&a->key_pem, json_string_value(key), path, err)) ||
      (json_is_string(pw) && *json_string_value(pw) &&
       (rc = set_str(&a->password, json_string_value(pw), path, err))))
    return rc;
  return check_pem(a, path, err);
}

static int parse_tls_auth(sb_http_config *c, json_t *v, sb_err *err) {
  char path[64];
  int rc;
  if (!json_is_array(v))
    return sb_err_set(err, SB_EINVAL,
                      "options.tlsAuth: must be an array of {domains, cert, key, password}");
  size_t n = json_array_size(v);
  if (!n) return 0;
  if (!(c->tls_auth = calloc(n, sizeof(*c->tls_auth))))
    return sb_err_set(err, SB_ENOMEM, "options.tlsAuth: out of memory");
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof(path), "options.tlsAuth[%zu]", i);
    c->ntls_auth++; /* counted first: the clear frees a half-filled entry */
    if ((rc = auth_entry(&c->tls_auth[i], json_array_get(v, i), path, err))) return rc;
  }
  return 0;
}

/* ---- hosts ---- */

/* A port written out: 1..65535, digits only. Returns it, or 0. */
static int port_of(const char *s) {
  long v = 0;
  if (!*s || strlen(s) > 5) return 0;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s)) return 0;
    v = v * 10 + (*s - '0');
  }
  return v >= 1 && v <= 65535 ? (int)v : 0;
}

/* A `hosts` key, k6's pattern: an optional "*." wildcard, dot-separated labels of letters, digits,
 * '-' and '_', an optional ":port". Fills |*name| (lower case, owned) and |*port| (0 = any). */
static int host_key(const char *key, char **name, int *port, const char *path, sb_err *err) {
  const char *colon = strchr(key, ':'), *p = key;
  size_t n = colon ? (size_t)(colon - key) : strlen(key);
  *port = 0;
  if (colon && !(*port = port_of(colon + 1)))
    return sb_err_set(err, SB_EINVAL, "%s: invalid port in host pattern '%s'", path, key);
  if (n > 2 && p[0] == '*' && p[1] == '.') p += 2;
  int ok = n > 0 && n <= 255 && p < key + n && *p != '.' && key[n - 1] != '.';
  for (; ok && p < key + n; p++)
    ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || (*p == '.' && p[1] != '.');
  if (!ok)
    return sb_err_set(err, SB_EINVAL,
                      "%s: invalid host pattern '%s' (expected name, name:port or *.domain)", path,
                      key);
  if (!(*name = strndup(key, n))) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  for (char *q = *name; *q; q++)
    *q = (char)tolower((unsigned char)*q);
  return 0;
}

/* A `hosts` value: "ip", "ip:port", "[v6]:port" or a bare IPv6 address. Fills |ip| and |*port|
 * (0 = the request's). Returns 0, -1 (not an address) or -2 (bad port). */
static int host_value(const char *v, char *ip, size_t cap, int *port) {
  unsigned char a[sizeof(struct in6_addr)];
  const char *end = NULL, *colon = strchr(v, ':');
  *port = 0;
  if (v[0] == '[') {
    const char *rb = strchr(v, ']');
    if (!rb || rb[1] != ':') return -1; /* brackets go with a port */
    v++, end = rb, colon = rb + 1;
  } else if (colon && !strchr(colon + 1, ':')) {
    end = colon; /* exactly one ':' : IPv4 with a port */
  } else {
    colon = NULL; /* no port: IPv4, or IPv6 without brackets */
  }
  size_t n = end ? (size_t)(end - v) : strlen(v);
  if (n == 0 || n >= cap) return -1;
  memcpy(ip, v, n);
  ip[n] = '\0';
  if (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1) return -1;
  if (colon && !(*port = port_of(colon + 1))) return -2;
  return 0;
}

static int host_entry(sb_host_override *h, const char *key, json_t *v, sb_err *err) {
  char path[300], ip[INET6_ADDRSTRLEN + 1];
  int rc;
  snprintf(path, sizeof(path), "options.hosts.%.255s", key);
  if ((rc = host_key(key, &h->name, &h->port, path, err))) return rc;
  if (!json_is_string(v))
    return sb_err_set(err, SB_EINVAL, "%s: must be a string, \"ip\" or \"ip:port\"", path);
  const char *s = json_string_value(v);
  rc = host_value(s, ip, sizeof(ip), &h->to_port);
  if (rc == -2) return sb_err_set(err, SB_EINVAL, "%s: invalid port in '%s'", path, s);
  if (rc)
    return sb_err_set(err, SB_EINVAL,
                      "%s: '%s' is not an IP address (speedboat needs \"ip\" or \"ip:port\" here; "
                      "a host name as the target of an override is not supported)",
                      path, s);
  if (!(h->ip = strdup(ip))) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  return 0;
}

static int parse_hosts(sb_http_config *c, json_t *v, sb_err *err) {
  const char *key;
  json_t *e;
  int rc;
  if (!json_is_object(v))
    return sb_err_set(err, SB_EINVAL,
                      "options.hosts: must be an object {\"name[:port]\": \"ip[:port]\"}");
  size_t n = json_object_size(v);
  if (!n) return 0;
  if (!(c->hosts = calloc(n, sizeof(*c->hosts))))
    return sb_err_set(err, SB_ENOMEM, "options.hosts: out of memory");
  json_object_foreach(v, key, e) {
    c->nhosts++;
    if ((rc = host_entry(&c->hosts[c->nhosts - 1], key, e, err))) return rc;
  }
  return 0;
}

/* ---- dns ---- */

static int dns_ttl(sb_dns_options *d, const char *s, const char *path, sb_err *err) {
  int64_t ms;
  sb_err e;
  if (!strcmp(s, "inf")) {
    d->ttl_ms = -1;
    return 0;
  }
  if (sb_duration_parse_ms(s, &ms, &e) || ms < 0)
    return sb_err_set(err, SB_EINVAL,
                      "%s.ttl: invalid DNS TTL '%s' (a duration such as \"5m\", \"inf\" or \"0\")",
                      path, s);
  d->ttl_ms = (double)ms;
  return 0;
}

/* Sets one field of |d| from its k6 spelling ("select", "roundRobin"). Returns 0, SB_EINVAL, or
 * 1 for an unknown key (the caller decides whether that is an error). */
static int dns_set(sb_dns_options *d, const char *key, const char *val, const char *path,
                   sb_err *err) {
  static const char *const selects[] = {"random", "first", "roundRobin"}; /* enum order */
  static const char *const policies[] = {"preferIPv4", "preferIPv6", "onlyIPv4", "onlyIPv6", "any"};
  if (!strcmp(key, "ttl")) return dns_ttl(d, val, path, err);
  if (!strcmp(key, "select")) {
    for (int i = 0; i < 3; i++)
      if (!strcasecmp(val, selects[i])) return d->select = (sb_dns_select)i, 0;
    return sb_err_set(err, SB_EINVAL,
                      "%s.select: unknown value '%s' (use first, random or roundRobin)", path, val);
  }
  if (!strcmp(key, "policy")) {
    for (int i = 0; i < 5; i++)
      if (!strcasecmp(val, policies[i])) return d->policy = (sb_dns_policy)i, 0;
    return sb_err_set(err, SB_EINVAL,
                      "%s.policy: unknown value '%s' (use preferIPv4, preferIPv6, onlyIPv4, "
                      "onlyIPv6 or any)",
                      path, val);
  }
  return 1;
}

/* k6's text form, "ttl=1m,select=first,policy=any" (any subset, any order). */
static int dns_text(sb_dns_options *d, const char *text, const char *path, sb_err *err) {
  char *copy = strdup(text), *save = NULL;
  int rc = 0;
  if (!copy) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", path);
  for (char *kv = strtok_r(copy, ",", &save); kv && !rc; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (eq && !eq[1]) *eq = '\0'; /* "ttl=": name the key alone */
    if (!eq || !eq[1]) {
      rc = sb_err_set(err, SB_EINVAL,
                      "%s: no value for key '%s' (expected ttl=5m,select="
                      "random,policy=preferIPv4)",
                      path, kv);
      break;
    }
    *eq = '\0';
    if ((rc = dns_set(d, kv, eq + 1, path, err)) == 1)
      rc = sb_err_set(err, SB_EINVAL,
                      "%s: unknown DNS configuration field '%s' (use ttl, select or policy)", path,
                      kv);
  }
  free(copy);
  return rc;
}

/* The object form; unknown keys are ignored as k6 ignores them. A number ttl is milliseconds. */
static int parse_dns(sb_dns_options *d, json_t *v, sb_err *err) {
  static const char *const keys[] = {"ttl", "select", "policy"};
  const char *path = "options.dns";
  if (json_is_string(v)) return dns_text(d, json_string_value(v), path, err);
  if (!json_is_object(v))
    return sb_err_set(err, SB_EINVAL,
                      "%s: must be {ttl, select, policy} or \"ttl=5m,select="
                      "random,policy=preferIPv4\"",
                      path);
  for (size_t i = 0; i < 3; i++) {
    json_t *e = json_object_get(v, keys[i]);
    if (!e || json_is_null(e)) continue;
    if (i == 0 && json_is_number(e)) {
      double ms = json_number_value(e);
      if (!isfinite(ms) || ms < 0)
        return sb_err_set(err, SB_EINVAL, "%s.ttl: must not be negative", path);
      d->ttl_ms = ms;
      continue;
    }
    if (!json_is_string(e))
      return sb_err_set(err, SB_EINVAL, "%s.%s: must be a string", path, keys[i]);
    if (dns_set(d, keys[i], json_string_value(e), path, err)) return SB_EINVAL;
  }
  return 0;
}

/* ---- tags, systemTags, blockHostnames ---- */

/* `tags`: {"name": "value"}, string values as k6's map[string]string wants them. */
static int parse_tags(sb_http_config *c, json_t *v, sb_err *err) {
  const char *k;
  json_t *e;
  if (!json_is_object(v))
    return sb_err_set(err, SB_EINVAL, "options.tags: must be an object {\"name\": \"value\"}");
  size_t n = json_object_size(v);
  if (n > SB_HTTP_MAX_TEST_TAGS)
    return sb_err_set(err, SB_EINVAL, "options.tags: %zu tags; speedboat takes at most %d", n,
                      SB_HTTP_MAX_TEST_TAGS);
  if (n && !(c->tags = calloc(2 * n, sizeof(char *))))
    return sb_err_set(err, SB_ENOMEM, "options.tags: out of memory");
  json_object_foreach(v, k, e) {
    if (!*k) return sb_err_set(err, SB_EINVAL, "options.tags: a tag needs a name");
    if (!json_is_string(e))
      return sb_err_set(err, SB_EINVAL, "options.tags.%.200s: must be a string", k);
    c->ntags++; /* counted first: the clear frees a half-made pair */
    if (set_str(&c->tags[2 * c->ntags - 2], k, "options.tags", err) ||
        set_str(&c->tags[2 * c->ntags - 1], json_string_value(e), "options.tags", err))
      return SB_ENOMEM;
  }
  return 0;
}

/* `systemTags`: k6's names (agent/http_config.h). Unlike k6, which drops a name it does not know,
 * an unknown name is an error here: a typo would silently change what the samples carry. */
static int parse_system_tags(sb_http_config *c, json_t *v, sb_err *err) {
  unsigned set = 0, bit;
  if (!json_is_array(v))
    return sb_err_set(err, SB_EINVAL, "options.systemTags: must be an array of tag names");
  for (size_t i = 0; i < json_array_size(v); i++) {
    json_t *e = json_array_get(v, i);
    const char *name = json_is_string(e) ? json_string_value(e) : NULL;
    if (!(bit = sb_system_tag_bit(name)))
      return sb_err_set(err, SB_EINVAL,
                        "options.systemTags[%zu]: unknown system tag '%.64s' (k6's are proto, "
                        "subproto, status, method, url, name, group, check, error, error_code, "
                        "tls_version, scenario, service, expected_response, vu, iter, ip, "
                        "ocsp_status)",
                        i, name ? name : "");
    if (bit == SB_TAG_ITER)
      return sb_err_set(err, SB_EINVAL,
                        "options.systemTags[%zu]: 'iter' is not supported: speedboat aggregates "
                        "samples per tag set, and a tag per iteration would make one series each",
                        i);
    set |= bit;
  }
  c->system_tags = set;
  return 0;
}

/* A blockHostnames pattern, k6's rule: an optional leading "*" or "*.", then dot-separated
 * labels of letters, digits and inner '-'. */
static int valid_block_pattern(const char *s) {
  if (*s == '*') s += s[1] == '.' ? 2 : 1;
  while (*s) {
    const char *l = s;
    while (isalnum((unsigned char)*s) || *s == '-')
      s++;
    if (s == l || *l == '-' || s[-1] == '-' || (*s && (*s != '.' || !s[1]))) return 0;
    if (*s) s++;
  }
  return 1;
}

static int parse_block_hostnames(sb_http_config *c, json_t *v, sb_err *err) {
  if (!json_is_array(v))
    return sb_err_set(err, SB_EINVAL,
                      "options.blockHostnames: must be an array of hostname patterns, such as "
                      "[\"*.example.com\", \"test.k6.io\"]");
  size_t n = json_array_size(v);
  if (n && !(c->block_hostnames = calloc(n, sizeof(char *))))
    return sb_err_set(err, SB_ENOMEM, "options.blockHostnames: out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    const char *p = json_is_string(e) ? json_string_value(e) : NULL;
    if (!p || !valid_block_pattern(p) || strlen(p) > 255)
      return sb_err_set(err, SB_EINVAL,
                        "options.blockHostnames[%zu]: invalid hostname pattern '%.64s' (a host "
                        "name, optionally starting with '*' or '*.')",
                        i, p ? p : "");
    c->nblock_hostnames++;
    if (set_str(&c->block_hostnames[i], p, "options.blockHostnames", err)) return SB_ENOMEM;
    for (char *q = c->block_hostnames[i]; *q; q++)
      *q = (char)tolower((unsigned char)*q);
  }
  return 0;
}

/* ---- the whole set ---- */

int sb_options_http_parse(sb_http_config *c, json_t *root, sb_err *err) {
  json_t *v;
  int rc = 0;
#define OPT(key) ((v = json_object_get(root, key)) && !json_is_null(v))
  if ((OPT("insecureSkipTLSVerify") &&
       (rc = opt_bool(v, "options.insecureSkipTLSVerify", &c->insecure_skip_tls_verify, err))) ||
      (OPT("tlsVersion") && (rc = parse_tls_version(c, v, err))) ||
      (OPT("tlsCipherSuites") && (rc = parse_ciphers(c, v, err))) ||
      (OPT("tlsAuth") && (rc = parse_tls_auth(c, v, err))) ||
      (OPT("hosts") && (rc = parse_hosts(c, v, err))) ||
      (OPT("dns") && (rc = parse_dns(&c->dns, v, err))) ||
      (OPT("maxRedirects") &&
       (rc = opt_int(v, "options.maxRedirects", 0, &c->max_redirects, err))) ||
      (OPT("noConnectionReuse") &&
       (rc = opt_bool(v, "options.noConnectionReuse", &c->no_connection_reuse, err))) ||
      (OPT("throw") && (rc = opt_bool(v, "options.throw", &c->throw_errors, err))) ||
      (OPT("noVUConnectionReuse") &&
       (rc = opt_bool(v, "options.noVUConnectionReuse", &c->no_vu_connection_reuse, err))) ||
      (OPT("batch") && (rc = opt_int(v, "options.batch", 1, &c->batch, err))) ||
      (OPT("batchPerHost") &&
       (rc = opt_int(v, "options.batchPerHost", 0, &c->batch_per_host, err))) ||
      (OPT("tags") && (rc = parse_tags(c, v, err))) ||
      (OPT("systemTags") && (rc = parse_system_tags(c, v, err))) ||
      (OPT("blockHostnames") && (rc = parse_block_hostnames(c, v, err))) ||
      (OPT("noCookiesReset") &&
       (rc = opt_bool(v, "options.noCookiesReset", &c->no_cookies_reset, err))))
    return rc;
  if (OPT("userAgent")) {
    if (!json_is_string(v))
      return sb_err_set(err, SB_EINVAL, "options.userAgent: must be a string");
    if ((rc = set_str(&c->user_agent, json_string_value(v), "options.userAgent", err))) return rc;
  }
#undef OPT
  return 0;
}

/* ---- extra CA certificates ---- */

/* Counts the certificates of |pem|; SB_EFORMAT names the first that does not parse. */
static int count_certs(const char *pem, size_t len, const char *what, const char *path, size_t *n,
                       sb_err *err) {
  char why[256];
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  X509 *x;
  if (!b) return sb_err_set(err, SB_ENOMEM, "%s: out of memory", what);
  ERR_clear_error();
  for (*n = 0; (x = PEM_read_bio_X509(b, NULL, pem_password, NULL)); (*n)++)
    X509_free(x);
  unsigned long e = ERR_peek_last_error();
  BIO_free(b);
  if (*n && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) { /* the end of the file */
    ERR_clear_error();
    return 0;
  }
  if (!*n)
    return sb_err_set(err, SB_EFORMAT, "%s: %s: no PEM certificate in the file (%s)", what, path,
                      ossl_reason(why, sizeof(why), "unreadable"));
  return sb_err_set(err, SB_EFORMAT, "%s: %s: certificate %zu does not parse (%s)", what, path,
                    *n + 1, ossl_reason(why, sizeof(why), "unreadable"));
}

int sb_options_http_load_ca(sb_http_config *c, const char *path, const char *what, sb_err *err) {
  sb_buf b;
  size_t n;
  int rc;
  sb_buf_init(&b);
  if ((rc = sb_buf_read_file(&b, path, err))) {
    sb_err_prefix(err, "%s: ", what);
    goto out;
  }
  if (b.len > INT_MAX) {
    rc = sb_err_set(err, SB_EFORMAT, "%s: %s: too large for a CA file", what, path);
    goto out;
  }
  if ((rc = count_certs(b.data ? b.data : "", b.len, what, path, &n, err))) goto out;
  if (c->ca_pem) { /* a second file: keep both */
    sb_buf all;
    sb_buf_init(&all);
    if (sb_buf_printf(&all, "%s\n%s", c->ca_pem, b.data)) {
      rc = sb_err_set(err, SB_ENOMEM, "%s: out of memory", what);
      goto out;
    }
    sb_buf_clear(&b);
    b = all;
  }
  free(c->ca_pem);
  c->ca_pem = sb_buf_steal(&b, NULL);
out:
  sb_buf_clear(&b);
  return rc;
}
