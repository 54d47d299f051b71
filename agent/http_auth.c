/* Basic and Digest authentication (see http_auth.h).
 *
 * The challenge parser reads RFC 7235's grammar loosely where servers are sloppy (a missing comma
 * between parameters, token68 blobs of other schemes) and strictly where a guess would be wrong
 * (an unterminated quoted string, a parameter without value, a Digest challenge without nonce):
 * answering a challenge we misread only earns another 401, with nothing telling the user why. */
#include "agent/http_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

int sb_http_auth_basic(sb_buf *out, const char *user, size_t user_len, const char *pass,
                       size_t pass_len) {
  size_t raw = user_len + 1 + pass_len, enc = 4 * ((raw + 2) / 3);
  /* "Basic " + encoded text, then the raw "user:pass" parked one byte behind it: EVP_EncodeBlock
   * reads it while writing ahead of it, and its final NUL lands in the gap. */
  if (sb_buf_reserve(out, 6 + enc + 1 + raw)) return SB_ENOMEM;
  char *dst = out->data + out->len;
  unsigned char *src = (unsigned char *)dst + 6 + enc + 1;
  memcpy(dst, "Basic ", 6);
  memcpy(src, user, user_len);
  src[user_len] = ':';
  memcpy(src + user_len + 1, pass, pass_len);
  EVP_EncodeBlock((unsigned char *)dst + 6, src, (int)raw);
  out->len += 6 + enc;
  out->data[out->len] = '\0';
  return 0;
}

/* --- the challenge ----------------------------------------------------------------------- */

/* RFC 7230 tchar, plus '/' so that token68 blobs ("Negotiate YII/+a==") read as one token. */
static int is_tchar(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~/", c));
}

typedef struct cursor {
  const char *p, *end;
  sb_err *err;
} cursor;

static void skip_ows(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

static size_t read_token(cursor *c, const char **tok) {
  *tok = c->p;
  while (c->p < c->end && is_tchar((unsigned char)*c->p))
    c->p++;
  return (size_t)(c->p - *tok);
}

/* Reads a token or quoted-string value into |dst| (|cap| bytes with the NUL). Returns its length,
 * or -1 (malformed, |err| set) or -2 (longer than |cap| - 1). */
static long read_value(cursor *c, char *dst, size_t cap) {
  size_t n = 0;
  int over = 0;
  if (c->p < c->end && *c->p == '"') {
    for (c->p++;; c->p++) {
      if (c->p >= c->end)
        return sb_err_set(c->err, SB_EFORMAT, "WWW-Authenticate: unterminated quoted string"), -1;
      char ch = *c->p;
      if (ch == '"') break;
      if (ch == '\\' && ++c->p >= c->end) continue; /* reported on the next turn */
      if (n + 1 < cap)
        dst[n++] = *c->p;
      else
        over = 1;
    }
    c->p++;
  } else {
    const char *tok;
    n = read_token(c, &tok);
    if (!n) return sb_err_set(c->err, SB_EFORMAT, "WWW-Authenticate: parameter without value"), -1;
    if (n >= cap) over = 1, n = cap - 1;
    memcpy(dst, tok, n);
  }
  dst[n] = '\0';
  return over ? -2 : (long)n;
}

static int eq(const char *a, size_t n, const char *lit) {
  return n == strlen(lit) && strncasecmp(a, lit, n) == 0;
}

static int set_algorithm(sb_digest_challenge *d, const char *v) {
  static const struct {
    const char *name;
    sb_digest_alg alg;
  } ALGS[] = {{"MD5", SB_DIGEST_MD5},
              {"MD5-sess", SB_DIGEST_MD5_SESS},
              {"SHA-256", SB_DIGEST_SHA256},
              {"SHA-256-sess", SB_DIGEST_SHA256_SESS}};
  snprintf(d->alg_name, sizeof(d->alg_name), "%.23s", v);
  for (size_t i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++)
    if (strcasecmp(v, ALGS[i].name) == 0) {
      d->alg = ALGS[i].alg;
      return 0;
    }
  return -1;
}

static void set_qop(sb_digest_challenge *d, const char *v) {
  while (*v) {
    while (*v == ' ' || *v == '\t' || *v == ',')
      v++;
    size_t n = strcspn(v, " \t,");
    if (eq(v, n, "auth")) d->qop_auth = 1;
    if (eq(v, n, "auth-int")) d->qop_auth_int = 1;
    v += n;
  }
}

/* State of the challenge being read. */
typedef struct digest_state {
  int in_digest; /* the current challenge is Digest */
  int has_nonce, has_qop, bad_alg;
  char why[96]; /* why the last Digest challenge was not usable */
} digest_state;

/* Stores parameter |name| = |val| of a Digest challenge. Returns 0 or SB_EFORMAT (too long). */
static int digest_param(sb_digest_challenge *d, digest_state *st, const char *name, size_t n,
                        cursor *c) {
  char *dst = NULL, tmp[SB_DIGEST_MAX_VALUE];
  if (eq(name, n, "realm"))
    dst = d->realm;
  else if (eq(name, n, "nonce"))
    dst = d->nonce, st->has_nonce = 1;
  else if (eq(name, n, "opaque"))
    dst = d->opaque, d->has_opaque = 1;
  long r = read_value(c, dst ? dst : tmp, SB_DIGEST_MAX_VALUE);
  if (r == -1) return SB_EFORMAT;
  if (r == -2 && dst)
    return sb_err_set(c->err, SB_EFORMAT, "WWW-Authenticate: Digest %.*s longer than %d bytes",
                      (int)n, name, SB_DIGEST_MAX_VALUE - 1);
  if (dst) return 0;
  if (eq(name, n, "algorithm") && set_algorithm(d, tmp) < 0) {
    st->bad_alg = 1;
    snprintf(st->why, sizeof(st->why), "unsupported algorithm \"%.40s\"", tmp);
  } else if (eq(name, n, "qop")) {
    st->has_qop = 1;
    set_qop(d, tmp);
  } else if (eq(name, n, "stale")) {
    d->stale = strcasecmp(tmp, "true") == 0;
  } else if (eq(name, n, "userhash")) {
    d->userhash = strcasecmp(tmp, "true") == 0;
  }
  return 0;
}

/* Ends the current challenge. Returns 1 when it is a usable Digest challenge, 0 when not, or
 * SB_EFORMAT. */
static int digest_end(const sb_digest_challenge *d, digest_state *st, sb_err *err) {
  if (!st->in_digest) return 0;
  st->in_digest = 0;
  if (!st->has_nonce) return sb_err_set(err, SB_EFORMAT, "WWW-Authenticate: Digest without nonce");
  if (st->bad_alg) return 0;
  if (st->has_qop && !d->qop_auth && !d->qop_auth_int) {
    snprintf(st->why, sizeof(st->why), "unsupported qop");
    return 0;
  }
  return 1;
}

/* One "name=value" or token68 after a token: |tok| is the name. Returns 0 or SB_EFORMAT. */
static int after_equals(sb_digest_challenge *d, digest_state *st, int in_challenge, const char *tok,
                        size_t n, cursor *c) {
  c->p++; /* '=' */
  skip_ows(c);
  if (c->p >= c->end || *c->p == ',' || *c->p == '=') { /* token68 padding: skip it */
    while (c->p < c->end && *c->p == '=')
      c->p++;
    return 0;
  }
  if (!in_challenge)
    return sb_err_set(c->err, SB_EFORMAT, "WWW-Authenticate: parameter before any scheme");
  if (st->in_digest) return digest_param(d, st, tok, n, c);
  char tmp[SB_DIGEST_MAX_VALUE];
  return read_value(c, tmp, sizeof(tmp)) == -1 ? SB_EFORMAT : 0;
}

int sb_digest_parse(sb_digest_challenge *d, const char *v, size_t len, sb_err *err) {
  cursor c = {v, v + len, err};
  digest_state st = {0};
  int in_challenge = 0, seen_digest = 0, rc;
  memset(d, 0, sizeof(*d));
  for (;;) {
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t' || *c.p == ','))
      c.p++;
    if (c.p >= c.end) break;
    const char *tok;
    size_t n = read_token(&c, &tok);
    if (!n) return sb_err_set(err, SB_EFORMAT, "WWW-Authenticate: unexpected '%c'", *c.p);
    skip_ows(&c);
    if (c.p < c.end && *c.p == '=') {
      if ((rc = after_equals(d, &st, in_challenge, tok, n, &c))) return rc;
      continue;
    }
    if ((rc = digest_end(d, &st, err)) != 0) return rc < 0 ? rc : 0; /* a new scheme begins */
    in_challenge = 1;
    if (eq(tok, n, "Digest")) {
      memset(d, 0, sizeof(*d));
      memset(&st, 0, sizeof(st));
      st.in_digest = seen_digest = 1;
    }
  }
  if ((rc = digest_end(d, &st, err)) != 0) return rc < 0 ? rc : 0;
  if (!seen_digest) return sb_err_set(err, SB_ENOTFOUND, "WWW-Authenticate: no Digest challenge");
  return sb_err_set(err, SB_ENOTFOUND, "WWW-Authenticate: Digest challenge not usable: %s",
                    st.why[0] ? st.why : "unsupported");
}

/* --- the answer -------------------------------------------------------------------------- */

typedef struct part {
  const char *p;
  size_t n;
} part;

#define PART(s) ((part){(s), strlen(s)})

/* Writes into |hex| (65 bytes) the lowercase hex hash of |parts| joined with ':'. */
static int hash_join(EVP_MD_CTX *ctx, const EVP_MD *md, char *hex, const part *parts, int n) {
  static const char digits[] = "0123456789abcdef";
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hn = 0;
  if (!EVP_DigestInit_ex(ctx, md, NULL)) return SB_EINVAL;
  for (int i = 0; i < n; i++)
    if ((i && !EVP_DigestUpdate(ctx, ":", 1)) || !EVP_DigestUpdate(ctx, parts[i].p, parts[i].n))
      return SB_EINVAL;
  if (!EVP_DigestFinal_ex(ctx, h, &hn) || hn > 32) return SB_EINVAL;
  for (unsigned int i = 0; i < hn; i++)
    hex[2 * i] = digits[h[i] >> 4], hex[2 * i + 1] = digits[h[i] & 15];
  hex[2 * hn] = '\0';
  return 0;
}

/* The hashes of RFC 7616 §3.4.1: |response| and, for userhash, the hashed |username|. */
static int digest_response(const sb_digest_challenge *c, const sb_digest_request *r,
                           const char *qop, const char *nc, char *response, char *username) {
  int sha = c->alg == SB_DIGEST_SHA256 || c->alg == SB_DIGEST_SHA256_SESS;
  int sess = c->alg == SB_DIGEST_MD5_SESS || c->alg == SB_DIGEST_SHA256_SESS;
  const EVP_MD *md = sha ? EVP_sha256() : EVP_md5();
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  char ha1[65], ha2[65], hbody[65];
  if (!ctx) return SB_ENOMEM;
  int rc = hash_join(ctx, md, ha1,
                     (part[]){{r->user, r->user_len}, PART(c->realm), {r->pass, r->pass_len}}, 3);
  if (!rc && sess)
    rc = hash_join(ctx, md, ha1, (part[]){PART(ha1), PART(c->nonce), PART(r->cnonce)}, 3);
  if (!rc && qop && strcmp(qop, "auth-int") == 0) {
    rc = hash_join(ctx, md, hbody, (part[]){{r->body ? r->body : "", r->body_len}}, 1);
    if (!rc) rc = hash_join(ctx, md, ha2, (part[]){PART(r->method), PART(r->uri), PART(hbody)}, 3);
  } else if (!rc) {
    rc = hash_join(ctx, md, ha2, (part[]){PART(r->method), PART(r->uri)}, 2);
  }
  if (!rc && qop)
    rc = hash_join(
        ctx, md, response,
        (part[]){PART(ha1), PART(c->nonce), PART(nc), PART(r->cnonce), PART(qop), PART(ha2)}, 6);
  else if (!rc)
    rc = hash_join(ctx, md, response, (part[]){PART(ha1), PART(c->nonce), PART(ha2)}, 3);
  if (!rc && c->userhash)
    rc = hash_join(ctx, md, username, (part[]){{r->user, r->user_len}, PART(c->realm)}, 2);
  EVP_MD_CTX_free(ctx);
  return rc;
}

/* Appends `<sep>name="value"`, escaping '"' and '\'. */
static int put_quoted(sb_buf *out, const char *sep, const char *name, const char *v, size_t n) {
  int rc = sb_buf_printf(out, "%s%s=\"", sep, name);
  for (size_t i = 0; i < n && !rc; i++) {
    if (v[i] == '"' || v[i] == '\\') rc |= sb_buf_append(out, "\\", 1);
    rc |= sb_buf_append(out, v + i, 1);
  }
  return rc | sb_buf_append(out, "\"", 1);
}

int sb_digest_authorization(sb_buf *out, const sb_digest_challenge *c, const sb_digest_request *r) {
  const char *qop = c->qop_auth ? "auth" : c->qop_auth_int ? "auth-int" : NULL;
  char nc[9], response[65], username[65];
  if (qop && !r->cnonce) return SB_EINVAL;
  snprintf(nc, sizeof(nc), "%08x", (unsigned)r->nc);
  int rc = digest_response(c, r, qop, nc, response, username);
  if (rc) return rc;
  const char *s = ", ";
  rc |= sb_buf_puts(out, "Digest ");
  if (c->userhash)
    rc |= put_quoted(out, "", "username", username, strlen(username));
  else
    rc |= put_quoted(out, "", "username", r->user, r->user_len);
  rc |= put_quoted(out, s, "realm", c->realm, strlen(c->realm));
  rc |= put_quoted(out, s, "nonce", c->nonce, strlen(c->nonce));
  rc |= put_quoted(out, s, "uri", r->uri, strlen(r->uri));
  rc |= put_quoted(out, s, "response", response, strlen(response));
  if (c->alg_name[0]) rc |= sb_buf_printf(out, ", algorithm=%s", c->alg_name);
  if (qop) rc |= put_quoted(out, s, "cnonce", r->cnonce, strlen(r->cnonce));
  if (c->has_opaque) rc |= put_quoted(out, s, "opaque", c->opaque, strlen(c->opaque));
  if (qop) rc |= sb_buf_printf(out, ", qop=%s, nc=%s", qop, nc);
  if (c->userhash) rc |= sb_buf_puts(out, ", userhash=true");
  return rc ? SB_ENOMEM : 0;
}
