/* k6's names for TLS versions and cipher suites, and OpenSSL's.
 *
 * k6 scripts name versions "ssl3.0" ... "tls1.3" and cipher suites by Go's constants
 * ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"); OpenSSL wants
 * "ECDHE-RSA-AES128-GCM-SHA256" in SSL_CTX_set_cipher_list() for TLS <= 1.2 and the IANA name
 * in SSL_CTX_set_ciphersuites() for TLS 1.3. One table holds the three names and the IANA number,
 * so the controller maps options once and the agent can report res.tls_cipher_suite in k6's
 * words. Versions are TLS protocol numbers (0x0303 = TLS 1.2), which are OpenSSL's
 * TLS1_2_VERSION etc. */
#ifndef SB_TLS_NAMES_H
#define SB_TLS_NAMES_H

#include <stdint.h>

#define SB_TLS_SSL3_0 0x0300
#define SB_TLS_1_0 0x0301
#define SB_TLS_1_1 0x0302
#define SB_TLS_1_2 0x0303
#define SB_TLS_1_3 0x0304

/* "tls1.2" -> SB_TLS_1_2 (k6's names: ssl3.0, tls1.0, tls1.1, tls1.2, tls1.3). Returns 0 for any
 * other name. */
int sb_tls_version_from_name(const char *name);
/* SB_TLS_1_2 -> "tls1.2", as k6 writes res.tls_version; NULL for any other number. */
const char *sb_tls_version_name(int version);

/* A k6/Go cipher suite name -> OpenSSL's name; |*tls13| (may be NULL) is set to 1 for a TLS 1.3
 * suite (goes to SSL_CTX_set_ciphersuites), 0 otherwise (SSL_CTX_set_cipher_list). Go's two
 * spellings of the ECDHE ChaCha20 suites (with and without "_SHA256") are both known. Returns
 * NULL for an unknown name. */
const char *sb_tls_cipher_to_openssl(const char *k6_name, int *tls13);
/* IANA cipher suite number (SSL_CIPHER_get_protocol_id) -> k6's name; NULL when not in k6's list.
 */
const char *sb_tls_cipher_k6_name(uint16_t id);
/* Whether this process's OpenSSL can negotiate |openssl_name| at all (weak suites such as RC4 and
 * 3DES are often compiled out). Returns 1, 0, or SB_ENOMEM. */
int sb_tls_cipher_available(const char *openssl_name, int tls13);

#endif
