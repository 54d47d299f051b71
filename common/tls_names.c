/* k6's TLS names and OpenSSL's (see tls_names.h). Tables only; no state. */
#include "common/tls_names.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/err.h"

static const struct {
  const char *name;
  int version;
} versions[] = {
    {"ssl3.0", SB_TLS_SSL3_0}, {"tls1.0", SB_TLS_1_0}, {"tls1.1", SB_TLS_1_1},
    {"tls1.2", SB_TLS_1_2},    {"tls1.3", SB_TLS_1_3},
};

/* Every suite k6 accepts in tlsCipherSuites, by Go's name, with its IANA number and OpenSSL's
 * name. Aliases (Go's older spellings) follow their main entry with the same number. */
static const struct {
  const char *k6;
  uint16_t id;
  const char *openssl;
  int tls13;
} suites[] = {
    {"TLS_RSA_WITH_RC4_128_SHA", 0x0005, "RC4-SHA", 0},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000A, "DES-CBC3-SHA", 0},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, "AES128-SHA", 0},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035, "AES256-SHA", 0},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003C, "AES128-SHA256", 0},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C, "AES128-GCM-SHA256", 0},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009D, "AES256-GCM-SHA384", 0},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 0xC007, "ECDHE-ECDSA-RC4-SHA", 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC009, "ECDHE-ECDSA-AES128-SHA", 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xC00A, "ECDHE-ECDSA-AES256-SHA", 0},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xC011, "ECDHE-RSA-RC4-SHA", 0},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 0xC012, "ECDHE-RSA-DES-CBC3-SHA", 0},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013, "ECDHE-RSA-AES128-SHA", 0},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xC014, "ECDHE-RSA-AES256-SHA", 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC023, "ECDHE-ECDSA-AES128-SHA256", 0},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC027, "ECDHE-RSA-AES128-SHA256", 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", 0},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", 0},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030, "ECDHE-RSA-AES256-GCM-SHA384", 0},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", 0},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", 0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", 0},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", 0},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", 0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", 0},
    {"TLS_AES_128_GCM_SHA256", 0x1301, "TLS_AES_128_GCM_SHA256", 1},
    {"TLS_AES_256_GCM_SHA384", 0x1302, "TLS_AES_256_GCM_SHA384", 1},
    {"TLS_CHACHA20_POLY1305_SHA256", 0x1303, "TLS_CHACHA20_POLY1305_SHA256", 1},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int sb_tls_version_from_name(const char *name) {
  for (size_t i = 0; name && i < COUNT(versions); i++)
    if (!strcmp(name, versions[i].name)) return versions[i].version;
  return 0;
}

const char *sb_tls_version_name(int version) {
  for (size_t i = 0; i < COUNT(versions); i++)
    if (versions[i].version == version) return versions[i].name;
  return NULL;
}

const char *sb_tls_cipher_to_openssl(const char *k6_name, int *tls13) {
  for (size_t i = 0; k6_name && i < COUNT(suites); i++)
    if (!strcmp(k6_name, suites[i].k6)) {
      if (tls13) *tls13 = suites[i].tls13;
      return suites[i].openssl;
    }
  return NULL;
}

const char *sb_tls_cipher_k6_name(uint16_t id) {
  for (size_t i = 0; i < COUNT(suites); i++) /* the main entry comes before its aliases */
    if (suites[i].id == id) return suites[i].k6;
  return NULL;
}

/* Asks a throw-away context: OpenSSL refuses a cipher string that matches nothing it has. The
 * security level is not involved (it filters at handshake time), so this says "compiled in". */
int sb_tls_cipher_available(const char *openssl_name, int tls13) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return SB_ENOMEM;
  int ok = tls13 ? SSL_CTX_set_ciphersuites(ctx, openssl_name)
                 : SSL_CTX_set_cipher_list(ctx, openssl_name);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok == 1;
}
