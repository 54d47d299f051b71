/* HTTP authentication: Basic, and Digest (RFC 7616, RFC 2617) as k6 does it for
 * `auth: "digest"` with the credentials in the URL: send the request without credentials, read
 * the 401's WWW-Authenticate challenge, send it again with an Authorization computed from it.
 *
 * Nothing here allocates but OpenSSL's digest context; a challenge is a fixed-size value the
 * caller keeps on its stack. Hashes come from OpenSSL's EVP. */
#ifndef SB_HTTP_AUTH_H
#define SB_HTTP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Appends "Basic " + base64(user ":" pass). Returns 0 or SB_ENOMEM. */
int sb_http_auth_basic(sb_buf *out, const char *user, size_t user_len, const char *pass,
                       size_t pass_len);

typedef enum sb_digest_alg {
  SB_DIGEST_MD5 = 0, /* also when the challenge names no algorithm */
  SB_DIGEST_MD5_SESS,
  SB_DIGEST_SHA256,
  SB_DIGEST_SHA256_SESS,
} sb_digest_alg;

#define SB_DIGEST_MAX_VALUE 512 /* bytes of realm, nonce or opaque after unquoting */

/* One Digest challenge, unquoted. */
typedef struct sb_digest_challenge {
  char realm[SB_DIGEST_MAX_VALUE];
  char nonce[SB_DIGEST_MAX_VALUE];
  char opaque[SB_DIGEST_MAX_VALUE];
  int has_opaque;
  sb_digest_alg alg;
  char alg_name[24]; /* as the server wrote it, echoed back; "" when it named none */
  int qop_auth;      /* qop list offers "auth" */
  int qop_auth_int;  /* qop list offers "auth-int" */
  int stale;         /* stale=true: the nonce expired, the credentials were fine */
  int userhash;      /* userhash=true (RFC 7616 §3.4.4) */
} sb_digest_challenge;

/* Reads the WWW-Authenticate value |v| (|len| bytes), which may hold several challenges
 * ("Basic realm=\"a\", Digest realm=\"b\", nonce=\"c\""; scheme and parameter names are
 * case-insensitive; quoted strings may hold \-escapes), and keeps in |*c| the first Digest
 * challenge this module can answer: algorithm MD5, MD5-sess, SHA-256 or SHA-256-sess, and a qop
 * list that is absent or offers auth or auth-int. Returns 0; SB_EFORMAT when the value is
 * malformed (unterminated quote, missing '=', a Digest challenge without nonce, a value longer
 * than SB_DIGEST_MAX_VALUE); SB_ENOTFOUND when there is no Digest challenge, or none usable.
 * |err| says which. */
int sb_digest_parse(sb_digest_challenge *c, const char *v, size_t len, sb_err *err);

/* What the Authorization answers. */
typedef struct sb_digest_request {
  const char *method; /* "GET" */
  const char *uri;    /* the request-target, "/dir/index.html?x=1" */
  const char *user;   /* decoded */
  size_t user_len;
  const char *pass;
  size_t pass_len;
  uint32_t nc;        /* nonce count, 1 for the first use of a nonce */
  const char *cnonce; /* client nonce (the caller picks it: fixed in tests, random else) */
  const char *body;   /* the request body, hashed only for qop=auth-int */
  size_t body_len;
} sb_digest_request;

/* Appends the Authorization header value for |r| answering |c|:
 *   Digest username="..", realm="..", nonce="..", uri="..", response="..", algorithm=..,
 *   cnonce="..", opaque="..", qop=auth, nc=00000001
 * (the field order of the Go library k6 uses; algorithm/opaque only when the challenge had them;
 * cnonce/qop/nc only with a qop; qop=auth preferred over auth-int; userhash=true when asked).
 * Returns 0, SB_ENOMEM, or SB_EINVAL (OpenSSL lacks the hash, or a qop without |cnonce|). */
int sb_digest_authorization(sb_buf *out, const sb_digest_challenge *c, const sb_digest_request *r);

#endif
