/* TLS for the HTTP client: one SSL_CTX per worker built from the test's options (verification
 * against the system store plus --tls-ca-file, insecureSkipTLSVerify, tlsVersion, cipher suites,
 * ALPN h2 + http/1.1), client certificates per domain (tlsAuth), a session cache per VU so a VU's
 * later connections resume (as Go's ClientSessionCache in k6), and k6's view of the outcome:
 * tls_version, tls_cipher_suite, ocsp, and its error codes for failed handshakes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "agent/http_internal.h"
#include "common/tls_names.h"

static const unsigned char ALPN[] = "\x02h2\x08http/1.1";

/* --- the VU's session cache -------------------------------------------------------------- */

void sb_tls_session_store(sb_http_client *c, const char *host, int port, SSL_SESSION *s) {
  sb_tls_session *slot = NULL;
  if (!c->sessions && !(c->sessions = calloc(SB_TLS_SESSIONS, sizeof(*c->sessions)))) {
    SSL_SESSION_free(s);
    return;
  }
  for (size_t i = 0; i < SB_TLS_SESSIONS && !slot; i++)
    if (c->sessions[i].sess && c->sessions[i].port == port && !strcmp(c->sessions[i].host, host))
      slot = &c->sessions[i];
  if (!slot) {
    slot = &c->sessions[c->next_session];
    c->next_session = (c->next_session + 1) % SB_TLS_SESSIONS;
  }
  if (slot->sess) SSL_SESSION_free(slot->sess);
  slot->sess = s;
  slot->port = port;
  snprintf(slot->host, sizeof(slot->host), "%s", host);
}

SSL_SESSION *sb_tls_session_find(sb_http_client *c, const char *host, int port) {
  if (!c->sessions) return NULL;
  for (size_t i = 0; i < SB_TLS_SESSIONS; i++)
    if (c->sessions[i].sess && c->sessions[i].port == port && !strcmp(c->sessions[i].host, host))
      return c->sessions[i].sess;
  return NULL;
}

/* OpenSSL hands over a new session (TLS 1.3 sends them after the handshake): keep it for the VU
 * whose connection got it. Returns 1: we took the reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
  sb_conn *k = SSL_get_app_data(ssl);
  if (!k || k->dead) return 0;
  sb_tls_session_store(k->c, k->host, k->port, sess);
  return 1;
}

/* --- the worker's context ---------------------------------------------------------------- */

static int load_ca_pem(SSL_CTX *ctx, const char *pem, sb_err *err) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int n = 0;
  X509 *x;
  if (!b) return sb_err_set(err, SB_ENOMEM, "out of memory");
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
    X509_STORE_add_cert(store, x);
    X509_free(x);
    n++;
  }
  BIO_free(b);
  ERR_clear_error();
  if (n == 0) return sb_err_set(err, SB_EINVAL, "tls CA file: no PEM certificate in it");
  return 0;
}

/* Fails unless |pem| holds at least one certificate (the store is filled on first use). */
static int check_ca_pem(const char *pem, sb_err *err) {
  if (!strstr(pem, "-----BEGIN CERTIFICATE-----"))
    return sb_err_set(err, SB_EINVAL, "tls CA file: no PEM certificate in it");
  return 0;
}

/* The trust store is filled on the first TLS connection of the worker, not before: the system
 * bundle and --tls-ca-file hold hundreds of certificates, and a plain-HTTP test needs none. */
static void load_trust(sb_http_shared *s) {
  if (s->trust_loaded) return;
  s->trust_loaded = 1;
  SSL_CTX_set_default_verify_paths(s->ctx);
  if (s->cfg->ca_pem) load_ca_pem(s->ctx, s->cfg->ca_pem, NULL);
  ERR_clear_error();
}

static int pem_password(char *buf, int size, int rw, void *ud) {
  const char *pw = ud;
  int n = pw ? (int)strlen(pw) : 0;
  if (n > size) n = size;
  if (n) memcpy(buf, pw, (size_t)n);
  return n;
}

/* Parses the certificate chain and key of tlsAuth entry |i|. */
static int load_cred(sb_tls_cred *cr, const sb_tls_auth *a, size_t i, sb_err *err) {
  BIO *b = BIO_new_mem_buf(a->cert_pem ? a->cert_pem : "", -1);
  if (!b) return sb_err_set(err, SB_ENOMEM, "out of memory");
  cr->cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
  cr->chain = sk_X509_new_null();
  X509 *x;
  while (cr->chain && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
    sk_X509_push(cr->chain, x);
  BIO_free(b);
  b = BIO_new_mem_buf(a->key_pem ? a->key_pem : "", -1);
  if (b) cr->key = PEM_read_bio_PrivateKey(b, NULL, pem_password, a->password);
  BIO_free(b);
  ERR_clear_error();
  if (!cr->cert) return sb_err_set(err, SB_EINVAL, "tlsAuth[%zu].cert: not a PEM certificate", i);
  if (!cr->key)
    return sb_err_set(err, SB_EINVAL, "tlsAuth[%zu].key: not a PEM private key (or wrong password)", i);
  if (X509_check_private_key(cr->cert, cr->key) != 1) {
    ERR_clear_error();
    return sb_err_set(err, SB_EINVAL, "tlsAuth[%zu]: the key does not match the certificate", i);
  }
  return 0;
}

void sb_tls_shared_clear(sb_http_shared *s) {
  if (s->creds)
    for (size_t i = 0; i < s->cfg->ntls_auth; i++) {
      X509_free(s->creds[i].cert);
      EVP_PKEY_free(s->creds[i].key);
      if (s->creds[i].chain) sk_X509_pop_free(s->creds[i].chain, X509_free);
    }
  free(s->creds);
  s->creds = NULL;
  SSL_CTX_free(s->ctx);
  s->ctx = NULL;
}

int sb_tls_shared_init(sb_http_shared *s, sb_err *err) {
  const sb_http_config *cfg = s->cfg;
  int r = SB_EINVAL;
  if (!(s->ctx = SSL_CTX_new(TLS_client_method()))) return sb_err_set(err, SB_ENOMEM, "out of memory");
  SSL_CTX_set_min_proto_version(s->ctx, cfg->tls_min_version ? cfg->tls_min_version : TLS1_2_VERSION);
  if (cfg->tls_max_version) SSL_CTX_set_max_proto_version(s->ctx, cfg->tls_max_version);
  if (cfg->tls_min_version && cfg->tls_min_version < TLS1_2_VERSION)
    SSL_CTX_set_security_level(s->ctx, 0); /* OpenSSL refuses TLS 1.0/1.1 at level 1 */
  if (cfg->ca_pem && (r = check_ca_pem(cfg->ca_pem, err)) < 0) goto fail;
  SSL_CTX_set_verify(s->ctx, cfg->insecure_skip_tls_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  if (cfg->tls_ciphers && *cfg->tls_ciphers && SSL_CTX_set_cipher_list(s->ctx, cfg->tls_ciphers) != 1) {
    sb_err_set(err, SB_EINVAL, "tlsCipherSuites: OpenSSL accepts none of '%s'", cfg->tls_ciphers);
    goto fail;
  }
  if (cfg->tls_ciphersuites && *cfg->tls_ciphersuites &&
      SSL_CTX_set_ciphersuites(s->ctx, cfg->tls_ciphersuites) != 1) {
    sb_err_set(err, SB_EINVAL, "tlsCipherSuites: OpenSSL accepts none of '%s'", cfg->tls_ciphersuites);
    goto fail;
  }
  SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(s->ctx, on_new_session);
  SSL_CTX_set_mode(s->ctx, SSL_MODE_RELEASE_BUFFERS);
  if (cfg->ntls_auth) {
    if (!(s->creds = calloc(cfg->ntls_auth, sizeof(*s->creds)))) {
      r = sb_err_set(err, SB_ENOMEM, "out of memory");
      goto fail;
    }
    for (size_t i = 0; i < cfg->ntls_auth; i++)
      if ((r = load_cred(&s->creds[i], &cfg->tls_auth[i], i, err)) < 0) goto fail;
  }
  ERR_clear_error();
  return 0;
fail:
  ERR_clear_error();
  sb_tls_shared_clear(s);
  return r;
}

/* --- one connection ---------------------------------------------------------------------- */

static int domain_matches(const char *pattern, const char *host) {
  if (pattern[0] == '*' && pattern[1] == '.') {
    size_t pl = strlen(pattern + 1), hl = strlen(host);
    return hl > pl && strcasecmp(host + hl - pl, pattern + 1) == 0;
  }
  return strcasecmp(pattern, host) == 0;
}

static const sb_tls_cred *cred_for(const sb_http_shared *s, const char *host) {
  for (size_t i = 0; i < s->cfg->ntls_auth; i++)
    for (size_t d = 0; d < s->cfg->tls_auth[i].ndomains; d++)
      if (domain_matches(s->cfg->tls_auth[i].domains[d], host)) return &s->creds[i];
  return NULL;
}

SSL *sb_tls_new_ssl(sb_conn *k) {
  sb_http_shared *s = k->c->shared;
  unsigned char ip[16];
  if (!s->cfg->insecure_skip_tls_verify) load_trust(s);
  SSL *ssl = SSL_new(s->ctx);
  if (!ssl) return NULL;
  int is_ip = inet_pton(AF_INET, k->host, ip) == 1 || inet_pton(AF_INET6, k->host, ip) == 1;
  if (!is_ip) SSL_set_tlsext_host_name(ssl, k->host);
  if (!s->cfg->insecure_skip_tls_verify) {
    if (is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), k->host);
    else
      SSL_set1_host(ssl, k->host);
  }
  SSL_set_alpn_protos(ssl, ALPN, sizeof(ALPN) - 1);
  SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
  const sb_tls_cred *cr = cred_for(s, k->host);
  if (cr) {
    SSL_use_certificate(ssl, cr->cert);
    SSL_use_PrivateKey(ssl, cr->key);
    for (int i = 0; cr->chain && i < sk_X509_num(cr->chain); i++)
      SSL_add1_chain_cert(ssl, sk_X509_value(cr->chain, i));
  }
  SSL_SESSION *sess = sb_tls_session_find(k->c, k->host, k->port);
  if (sess) SSL_set_session(ssl, sess);
  SSL_set_app_data(ssl, k);
  ERR_clear_error();
  return ssl;
}

static const char *const REASONS[] = {"unspecified", "key_compromise", "ca_compromise",
                                      "affiliation_changed", "superseded",
                                      "cessation_of_operation", "certificate_hold", "",
                                      "remove_from_crl", "privilege_withdrawn", "aa_compromise"};

static double gt_ms(const ASN1_GENERALIZEDTIME *t) {
  struct tm tm;
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return (double)timegm(&tm) * 1000;
}

/* Reads the stapled OCSP response, if the server sent one, into |o|. */
static void read_ocsp(SSL *ssl, sb_http_ocsp *o) {
  const unsigned char *p;
  long len = SSL_get_tlsext_status_ocsp_resp(ssl, &p);
  memset(o, 0, sizeof(*o));
  o->status = "unknown";
  o->revocation_reason = "";
  if (len <= 0 || !p) return;
  OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, len);
  OCSP_BASICRESP *basic = resp ? OCSP_response_get1_basic(resp) : NULL;
  OCSP_SINGLERESP *single = basic && OCSP_resp_count(basic) > 0 ? OCSP_resp_get0(basic, 0) : NULL;
  if (single) {
    int reason = -1;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    int st = OCSP_single_get0_status(single, &reason, &rev, &thisu, &nextu);
    o->status = st == V_OCSP_CERTSTATUS_GOOD ? "good"
                : st == V_OCSP_CERTSTATUS_REVOKED ? "revoked" : "unknown";
    if (reason >= 0 && reason < (int)(sizeof(REASONS) / sizeof(REASONS[0])))
      o->revocation_reason = REASONS[reason];
    o->revoked_at = gt_ms(rev);
    o->this_update = gt_ms(thisu);
    o->next_update = gt_ms(nextu);
    o->produced_at = gt_ms(OCSP_resp_get0_produced_at(basic));
  }
  OCSP_BASICRESP_free(basic);
  OCSP_RESPONSE_free(resp);
  ERR_clear_error();
}

int sb_tls_handshake_done(sb_conn *k) {
  SSL *ssl = bufferevent_openssl_get_ssl(k->bev);
  const unsigned char *alpn = NULL;
  unsigned alen = 0;
  if (!ssl) return 0;
  const char *v = sb_tls_version_name(SSL_version(ssl));
  k->tls_version = v ? v : "";
  const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
  const char *name = ci ? SSL_CIPHER_standard_name(ci) : NULL;
  snprintf(k->tls_cipher, sizeof(k->tls_cipher), "%s", name ? name : "");
  read_ocsp(ssl, &k->ocsp);
  k->resumed = SSL_session_reused(ssl);
  SSL_get0_alpn_selected(ssl, &alpn, &alen);
  return alen == 2 && memcmp(alpn, "h2", 2) == 0;
}

int sb_tls_error(sb_conn *k, int *code, const char **msg) {
  SSL *ssl = k->bev ? bufferevent_openssl_get_ssl(k->bev) : NULL;
  unsigned long e = 0, next;
  while (k->bev && (next = bufferevent_get_openssl_error(k->bev)))
    e = next; /* the last one is the most specific */
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (v != X509_V_OK && k->state != CONN_READY) {
    switch (v) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      *code = SB_HTTP_ERR_X509_HOSTNAME, *msg = "x509: certificate doesn't match hostname";
      return 1;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      *code = SB_HTTP_ERR_X509_AUTHORITY, *msg = "x509: certificate signed by unknown authority";
      return 1;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      *code = SB_HTTP_ERR_TLS, *msg = "x509: certificate has expired or is not yet valid";
      return 1;
    default:
      *code = SB_HTTP_ERR_TLS, *msg = X509_verify_cert_error_string(v);
      return 1;
    }
  }
  if (!e) return 0;
  int reason = ERR_GET_REASON(e);
  if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG) {
    *code = SB_HTTP_ERR_TLS_HEADER, *msg = "tls: first record does not look like a TLS handshake";
    return 1;
  }
  const char *rs = ERR_reason_error_string(e);
  *code = SB_HTTP_ERR_TLS;
  *msg = rs ? rs : "tls: handshake failure";
  return 1;
}
