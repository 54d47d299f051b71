/* Mutual TLS for controller <-> agent connections: one OpenSSL context per process, a
 * bufferevent_openssl per connection. See tls.h for the contract.
 *
 * Policy, the same on both sides: TLS 1.2 or later, the peer must present a certificate that
 * chains to the one CA file we were given (the system's trust store is never loaded), and the
 * controller may pin the name or IP address it dialled. No session resumption: connections are
 * few and long, and resumption would skip the client-certificate check on the agent. */
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct sb_tls {
  SSL_CTX *ctx; /* certificate, key, trusted CA and verify mode; read-only after sb_tls_new */
  int server;   /* 1 = agent (accepts), 0 = controller (connects) */
};

/* The reason of the earliest error in OpenSSL's queue for this thread ("no start line"), or
 * |fallback| when the queue is empty. Empties the queue. */
static const char *ossl_reason(char *buf, size_t len, const char *fallback) {
  unsigned long e = ERR_get_error(), next;
  while ((next = ERR_get_error())) (void)next; /* keep the root cause, drop the consequences */
  if (!e) {
    snprintf(buf, len, "%s", fallback);
    return buf;
  }
  const char *r = ERR_reason_error_string(e);
  if (r)
    snprintf(buf, len, "%s", r);
  else
    ERR_error_string_n(e, buf, len);
  return buf;
}

/* Checks that |path| can be opened for reading, so a missing file is told apart from a bad one.
 * Returns 0, SB_ENOTFOUND or SB_EIO with |err| naming the file. */
static int check_readable(const char *path, sb_err *err) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return sb_err_set(err, SB_EIO, "%s: is a directory, expected a PEM file", path);
  FILE *f = fopen(path, "r");
  if (f) {
    fclose(f);
    return 0;
  }
  if (errno == ENOENT) return sb_err_set(err, SB_ENOTFOUND, "%s: no such file", path);
  return sb_err_set(err, SB_EIO, "%s: %s", path, strerror(errno));
}

/* An encrypted key must fail to load, never prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *ud) {
  (void)buf, (void)size, (void)rwflag, (void)ud;
  return 0;
}

/* Loads the certificate chain, the key and the CA into |ctx|. Returns 0 or SB_EFORMAT with |err|
 * naming the file that OpenSSL refused. */
static int load_files(SSL_CTX *ctx, int server, const char *cert, const char *key, const char *ca,
                      sb_err *err) {
  char why[256];
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
    return sb_err_set(err, SB_EFORMAT, "%s: not a PEM certificate (%s)", cert,
                      ossl_reason(why, sizeof(why), "unreadable"));
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    unsigned long e = ERR_peek_error();
    if (!(ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH))
      return sb_err_set(err, SB_EFORMAT, "%s: not an unencrypted PEM private key (%s)", key,
                        ossl_reason(why, sizeof(why), "unreadable"));
    ERR_clear_error();
    return sb_err_set(err, SB_EFORMAT, "%s: the key does not match the certificate %s", key, cert);
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    return sb_err_set(err, SB_EFORMAT, "%s: the key does not match the certificate %s (%s)", key,
                      cert, ossl_reason(why, sizeof(why), "mismatch"));
  if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
    return sb_err_set(err, SB_EFORMAT, "%s: not a PEM CA certificate (%s)", ca,
                      ossl_reason(why, sizeof(why), "no certificate found"));
  if (server) {
    /* Tell clients which CA we accept, so a client holding several certificates can pick. */
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    ERR_clear_error();
  }
  return 0;
}

int sb_tls_new(sb_tls **out, int server, const char *cert, const char *key, const char *ca,
               sb_err *err) {
  int rc;
  if ((rc = check_readable(cert, err)) || (rc = check_readable(key, err)) ||
      (rc = check_readable(ca, err)))
    return rc;
  sb_tls *t = calloc(1, sizeof(*t));
  if (!t) return sb_err_set(err, SB_ENOMEM, "TLS context: out of memory");
  t->server = server;
  t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!t->ctx) {
    rc = sb_err_set(err, SB_ENOMEM, "TLS context: out of memory");
    goto fail_ctx;
  }
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(t->ctx, no_passphrase);
  SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
  if (server) SSL_CTX_set_num_tickets(t->ctx, 0);
  SSL_CTX_set_verify(t->ctx,
                     server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                     NULL);
  if ((rc = load_files(t->ctx, server, cert, key, ca, err))) goto fail_load;
  *out = t;
  return 0;

fail_load:
  SSL_CTX_free(t->ctx);
fail_ctx:
  free(t);
  ERR_clear_error();
  return rc;
}

void sb_tls_free(sb_tls *t) {
  if (!t) return;
  SSL_CTX_free(t->ctx);
  free(t);
}

/* Makes the certificate name |host|: an IP literal ("127.0.0.1", "::1", "[::1]") must be in the
 * IP SANs, anything else in the DNS SANs (or the CN when there are none). Also sends |host| as
 * SNI when it is a name. Returns 0 or -1. */
static int pin_host(SSL *ssl, const char *host) {
  char ip[64];
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(ip)) {
    memcpy(ip, host + 1, n - 2);
    ip[n - 2] = '\0';
  } else {
    snprintf(ip, sizeof(ip), "%s", host);
  }
  unsigned char addr[16];
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
  if (inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1)
    return X509_VERIFY_PARAM_set1_ip_asc(param, ip) == 1 ? 0 : -1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) return -1;
  SSL_set_tlsext_host_name(ssl, host);
  return 0;
}

struct bufferevent *sb_tls_bev_new(const sb_tls *t, struct event_base *base, int fd,
                                   const char *peer_host, int bev_opts) {
  SSL *ssl = SSL_new(t->ctx);
  if (!ssl) return NULL;
  if (!t->server && peer_host && *peer_host && pin_host(ssl, peer_host)) {
    SSL_free(ssl);
    return NULL;
  }
  /* Deferred callbacks: libevent 2.1 reports a close read together with a last record before it
   * commits that record to the input, so without them a peer's last words (an agent's final
   * snapshot and "shutting down" line) arrive after its EOF, i.e. never; deferred, the read
   * callback runs first. On failure libevent may or may not have freed |ssl| depending on its
   * version: we leave it (a leak only when already out of memory beats a double free). */
  struct bufferevent *bev = bufferevent_openssl_socket_new(
      base, fd, ssl, t->server ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
      bev_opts | BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  if (!bev) return NULL;
  /* A peer that closes the TCP connection without close_notify is an ordinary EOF to us: the
   * protocol frames its own messages, so truncation is detected above TLS. */
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  return bev;
}

const char *sb_tls_describe_error(struct bufferevent *bev, char *buf, size_t len) {
  /* libevent pops its errors newest first and also records SSL_get_error()'s small result code
   * (library 0) beside OpenSSL's own errors: keep the earliest real OpenSSL error. */
  unsigned long e, first = 0;
  while ((e = bufferevent_get_openssl_error(bev)))
    if (ERR_GET_LIB(e) != 0) first = e;
  SSL *ssl = bufferevent_openssl_get_ssl(bev);
  long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (!first && vr == X509_V_OK) {
    snprintf(buf, len, "connection closed during the TLS handshake");
    return buf;
  }
  char reason[256];
  if (!first) {
    snprintf(reason, sizeof(reason), "certificate verify failed");
  } else if (ERR_reason_error_string(first)) {
    snprintf(reason, sizeof(reason), "%s", ERR_reason_error_string(first));
  } else {
    ERR_error_string_n(first, reason, sizeof(reason));
  }
  if (vr != X509_V_OK)
    snprintf(buf, len, "%s: %s", reason, X509_verify_cert_error_string(vr));
  else
    snprintf(buf, len, "%s", reason);
  return buf;
}
