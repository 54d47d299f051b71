/* The "k6/crypto" module: hashes, HMAC, incremental Hashers and random bytes over OpenSSL's
 * libcrypto (rules in js_modules.h, taken from k6's js/modules/k6/crypto).
 *
 * Digests and the HMAC implementation are fetched once per process and shared by every thread
 * (fetched OpenSSL objects are immutable and reference counted). OpenSSL 3 keeps MD4 in its
 * legacy provider only; loading that provider into the default library context would change
 * what the rest of the process (TLS) may negotiate, so it goes into a private library context,
 * opened only when the default one lacks an algorithm, and used for that algorithm alone.
 *
 * A Hasher keeps its OpenSSL context in a "box": a bare object reachable only through a hidden
 * property, carrying the finalizer that frees the context. The box is never anyone's prototype,
 * so the finalizer runs once, when nothing can reach the pointer any more — putting the pointer
 * and finalizer on the Hasher itself would let Object.create(hasher), which inherits both, free
 * the context under a live Hasher. Failed OpenSSL calls clear the thread's error queue, which
 * the TLS code on the same thread reads. */
#include "agent/js_modules.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#define K_BOX DUK_HIDDEN_SYMBOL("sbHasherBox")
#define K_MD DUK_HIDDEN_SYMBOL("sbMdCtx")   /* in a box: EVP_MD_CTX * (createHash) */
#define K_MAC DUK_HIDDEN_SYMBOL("sbMacCtx") /* in a box: EVP_MAC_CTX * (createHMAC) */
#define K_PROTO DUK_HIDDEN_SYMBOL("sbHasherProto")
#define HEX_STACK 512 /* hexEncode() results up to this size are built on the C stack */

typedef struct algo {
  const char *name; /* k6's */
  const char *ossl; /* OpenSSL's */
} algo;

static const algo ALGOS[] = {
    {"md4", "MD4"},
    {"md5", "MD5"},
    {"sha1", "SHA1"},
    {"sha256", "SHA2-256"},
    {"sha384", "SHA2-384"},
    {"sha512", "SHA2-512"},
    {"sha512_224", "SHA2-512/224"},
    {"sha512_256", "SHA2-512/256"},
    {"ripemd160", "RIPEMD-160"},
};
#define N_ALGOS (sizeof(ALGOS) / sizeof(ALGOS[0]))
#define ALGO_LIST "md4, md5, sha1, sha256, sha384, sha512, sha512_224, sha512_256 or ripemd160"

/* Process-wide, written once under |once|, read-only afterwards. */
static struct {
  pthread_once_t once;
  OSSL_LIB_CTX *legacy;  /* private context with the legacy + default providers, or NULL */
  EVP_MAC *hmac_default; /* HMAC from the default context */
  EVP_MAC *hmac_legacy;  /* HMAC from |legacy| */
  EVP_MD *md[N_ALGOS];   /* NULL: not available */
  unsigned char in_legacy[N_ALGOS]; /* md[i] came from |legacy| */
} lib = {.once = PTHREAD_ONCE_INIT};

static void open_legacy(void) {
  OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
  if (!lc) return;
  if (!OSSL_PROVIDER_load(lc, "legacy") || !OSSL_PROVIDER_load(lc, "default")) {
    OSSL_LIB_CTX_free(lc);
    return;
  }
  lib.legacy = lc;
  lib.hmac_legacy = EVP_MAC_fetch(lc, "HMAC", NULL);
}

static void load(void) {
  ERR_set_mark();
  lib.hmac_default = EVP_MAC_fetch(NULL, "HMAC", NULL);
  for (size_t i = 0; i < N_ALGOS; i++) {
    if ((lib.md[i] = EVP_MD_fetch(NULL, ALGOS[i].ossl, NULL)) != NULL) continue;
    if (!lib.legacy) open_legacy();
    if (lib.legacy && (lib.md[i] = EVP_MD_fetch(lib.legacy, ALGOS[i].ossl, NULL)) != NULL)
      lib.in_legacy[i] = 1;
  }
  ERR_pop_to_mark();
}

/* Throws "<fn>: <what> failed: <OpenSSL's reason>", clearing OpenSSL's error queue. */
static duk_ret_t throw_openssl(duk_context *ctx, const char *fn, const char *what) {
  unsigned long e = ERR_peek_last_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  char msg[256];
  snprintf(msg, sizeof(msg), "%s", why ? why : "out of memory");
  ERR_clear_error();
  return duk_error(ctx, DUK_ERR_ERROR, "%s: %s failed: %s", fn, what, msg);
}

/* Algorithm |i|'s digest; throws when this OpenSSL cannot provide it (md4 without the legacy
 * provider). */
static const EVP_MD *require_md(duk_context *ctx, size_t i, const char *fn) {
  pthread_once(&lib.once, load);
  if (!lib.md[i])
    (void)duk_error(ctx, DUK_ERR_ERROR,
                    "%s: %s is not available: OpenSSL 3 has it only in its legacy provider, "
                    "which could not be loaded (install libssl3's ossl-modules/legacy.so or set "
                    "OPENSSL_MODULES)",
                    fn, ALGOS[i].name);
  return lib.md[i];
}

/* The index of the available algorithm named by the argument at |idx|. Throws for an unknown
 * name, or one this OpenSSL cannot provide. */
static size_t require_algo(duk_context *ctx, duk_idx_t idx, const char *fn) {
  const char *name = duk_is_string(ctx, idx) ? duk_get_string(ctx, idx) : NULL;
  for (size_t i = 0; name && i < N_ALGOS; i++) {
    if (strcmp(name, ALGOS[i].name) != 0) continue;
    require_md(ctx, i, fn);
    return i;
  }
  (void)duk_error(ctx, DUK_ERR_ERROR, "%s: invalid algorithm '%s' (use " ALGO_LIST ")", fn,
                  name ? name : duk_safe_to_string(ctx, idx));
  return 0;
}

/* --- digests out ----------------------------------------------------------------------------- */

enum { OUT_HEX, OUT_BASE64, OUT_BASE64URL, OUT_BASE64RAWURL, OUT_BINARY };
static const char *const OUT_NAMES[] = {"hex", "base64", "base64url", "base64rawurl", "binary"};

static int require_out(duk_context *ctx, duk_idx_t idx, const char *fn) {
  const char *name = duk_is_string(ctx, idx) ? duk_get_string(ctx, idx) : NULL;
  for (int i = 0; name && i < (int)(sizeof(OUT_NAMES) / sizeof(OUT_NAMES[0])); i++)
    if (strcmp(name, OUT_NAMES[i]) == 0) return i;
  (void)duk_error(ctx, DUK_ERR_ERROR,
                  "%s: invalid output encoding '%s' (use hex, base64, base64url, base64rawurl "
                  "or binary)",
                  fn, name ? name : duk_safe_to_string(ctx, idx));
  return 0;
}

static void hex(char *w, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    *w++ = digits[p[i] >> 4], *w++ = digits[p[i] & 15];
}

/* [ ... ] -> [ ... value ]: pushes the digest |d|[0..n) in the output encoding |out|. */
static void push_digest(duk_context *ctx, const uint8_t *d, size_t n, int out) {
  char buf[2 * EVP_MAX_MD_SIZE];
  switch (out) {
  case OUT_HEX:
    hex(buf, d, n);
    duk_push_lstring(ctx, buf, 2 * n);
    break;
  case OUT_BASE64: sb_js_push_b64(ctx, d, n, SB_B64_STD); break;
  case OUT_BASE64URL: sb_js_push_b64(ctx, d, n, SB_B64_URL); break;
  case OUT_BASE64RAWURL: sb_js_push_b64(ctx, d, n, SB_B64_RAWURL); break;
  default: {
    void *p = duk_push_fixed_buffer(ctx, n); /* -> [ ... plain ] */
    memcpy(p, d, n);
    duk_push_buffer_object(ctx, -1, 0, n, DUK_BUFOBJ_ARRAYBUFFER); /* -> [ ... plain ab ] */
    duk_remove(ctx, -2);
  }
  }
}

/* --- one-shot functions ----------------------------------------------------------------------- */

/* md5(input, outputEncoding) and the others; the magic is the algorithm's index. */
static duk_ret_t crypto_digest(duk_context *ctx) {
  size_t i = (size_t)duk_get_current_magic(ctx), n;
  const char *fn = ALGOS[i].name;
  const EVP_MD *md = require_md(ctx, i, fn);
  const uint8_t *in = sb_js_require_bytes(ctx, 0, &n, fn, "input");
  int out = require_out(ctx, 1, fn);
  uint8_t d[EVP_MAX_MD_SIZE];
  unsigned dn = 0;
  if (!EVP_Digest(in, n, d, &dn, md, NULL)) return throw_openssl(ctx, fn, "digest");
  push_digest(ctx, d, dn, out);
  return 1;
}

/* A new HMAC context for algorithm |i| keyed with |key|; NULL on failure (the error queue is
 * left for throw_openssl()). */
static EVP_MAC_CTX *hmac_new(size_t i, const uint8_t *key, size_t keylen) {
  EVP_MAC *mac = lib.in_legacy[i] ? lib.hmac_legacy : lib.hmac_default;
  EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)ALGOS[i].ossl, 0),
      OSSL_PARAM_construct_end(),
  };
  if (m && EVP_MAC_init(m, key, keylen, params)) return m;
  EVP_MAC_CTX_free(m);
  return NULL;
}

/* hmac(algorithm, secret, data, outputEncoding) */
static duk_ret_t crypto_hmac(duk_context *ctx) {
  size_t kn, dn, outn = 0;
  size_t i = require_algo(ctx, 0, "hmac");
  const uint8_t *key = sb_js_require_bytes(ctx, 1, &kn, "hmac", "secret");
  const uint8_t *data = sb_js_require_bytes(ctx, 2, &dn, "hmac", "data");
  int out = require_out(ctx, 3, "hmac");
  uint8_t d[EVP_MAX_MD_SIZE];
  EVP_MAC_CTX *m = hmac_new(i, key, kn);
  int ok = m && EVP_MAC_update(m, data, dn) && EVP_MAC_final(m, d, &outn, sizeof(d));
  EVP_MAC_CTX_free(m);
  if (!ok) return throw_openssl(ctx, "hmac", "HMAC");
  push_digest(ctx, d, outn, out);
  return 1;
}

/* randomBytes(size) -> ArrayBuffer of |size| bytes from OpenSSL's CSPRNG */
static duk_ret_t crypto_random_bytes(duk_context *ctx) {
  duk_dup(ctx, 0);
  double size = duk_to_number(ctx, -1); /* coerced like k6's int argument ("16" is 16) */
  if (!(size >= 1 && size <= INT_MAX))
    return duk_error(ctx, DUK_ERR_ERROR, "randomBytes: invalid size %s (must be 1 to %d)",
                     duk_safe_to_string(ctx, 0), INT_MAX);
  int n = (int)size;
  void *p = duk_push_fixed_buffer(ctx, (duk_size_t)n); /* -> [ size num plain ] */
  if (RAND_bytes(p, n) != 1) return throw_openssl(ctx, "randomBytes", "RAND_bytes");
  duk_push_buffer_object(ctx, -1, 0, (duk_size_t)n, DUK_BUFOBJ_ARRAYBUFFER);
  return 1;
}

/* hexEncode(data) -> lowercase hex string */
static duk_ret_t crypto_hex_encode(duk_context *ctx) {
  size_t n;
  const uint8_t *in = sb_js_require_bytes(ctx, 0, &n, "hexEncode", "data");
  if (n <= HEX_STACK / 2) {
    char buf[HEX_STACK];
    hex(buf, in, n);
    duk_push_lstring(ctx, buf, 2 * n);
    return 1;
  }
  char *w = duk_push_fixed_buffer(ctx, 2 * n); /* -> [ data plain ] */
  hex(w, in, n);
  duk_buffer_to_string(ctx, -1);
  return 1;
}

/* --- Hashers --------------------------------------------------------------------------------- */

/* Box finalizer: frees whichever context the box holds (and forgets it, should Duktape ever
 * call a finalizer twice). */
static duk_ret_t box_finalize(duk_context *ctx) {
  duk_get_prop_string(ctx, 0, K_MD);
  duk_get_prop_string(ctx, 0, K_MAC); /* -> [ box md mac ] */
  EVP_MD_CTX_free(duk_get_pointer(ctx, -2));
  EVP_MAC_CTX_free(duk_get_pointer(ctx, -1));
  duk_pop_2(ctx);
  if (duk_has_prop_string(ctx, 0, K_MD)) {
    duk_push_pointer(ctx, NULL);
    duk_put_prop_string(ctx, 0, K_MD);
  }
  if (duk_has_prop_string(ctx, 0, K_MAC)) {
    duk_push_pointer(ctx, NULL);
    duk_put_prop_string(ctx, 0, K_MAC);
  }
  return 0;
}

/* [ ... ] -> [ ... hasher box ]: a Hasher (prototype from the running function) and its box,
 * whose |key| slot already holds NULL — so that storing the context, once made, cannot fail
 * (overwriting an existing property allocates nothing) and the context can never leak. */
static void push_hasher(duk_context *ctx, const char *key) {
  duk_push_object(ctx); /* -> [ ... hasher ] */
  duk_push_current_function(ctx);
  duk_get_prop_string(ctx, -1, K_PROTO); /* -> [ ... hasher fn proto ] */
  duk_set_prototype(ctx, -3);
  duk_pop(ctx);              /* -> [ ... hasher ] */
  duk_push_bare_object(ctx); /* -> [ ... hasher box ] */
  duk_push_pointer(ctx, NULL);
  duk_put_prop_string(ctx, -2, key);
  duk_push_c_function(ctx, box_finalize, 1);
  duk_set_finalizer(ctx, -2);
  duk_dup_top(ctx);
  duk_put_prop_string(ctx, -3, K_BOX);
}

/* [ ... hasher box ] -> [ ... hasher ]: stores |p| in the box's |key| slot. */
static void set_box(duk_context *ctx, const char *key, void *p) {
  duk_push_pointer(ctx, p);
  duk_put_prop_string(ctx, -2, key);
  duk_pop(ctx);
}

/* createHash(algorithm) -> Hasher */
static duk_ret_t crypto_create_hash(duk_context *ctx) {
  size_t i = require_algo(ctx, 0, "createHash");
  push_hasher(ctx, K_MD);
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  if (!m || !EVP_DigestInit_ex(m, lib.md[i], NULL)) {
    EVP_MD_CTX_free(m);
    return throw_openssl(ctx, "createHash", "EVP_DigestInit");
  }
  set_box(ctx, K_MD, m);
  return 1;
}

/* createHMAC(algorithm, secret) -> Hasher */
static duk_ret_t crypto_create_hmac(duk_context *ctx) {
  size_t kn;
  size_t i = require_algo(ctx, 0, "createHMAC");
  const uint8_t *key = sb_js_require_bytes(ctx, 1, &kn, "createHMAC", "secret");
  push_hasher(ctx, K_MAC);
  EVP_MAC_CTX *m = hmac_new(i, key, kn);
  if (!m) return throw_openssl(ctx, "createHMAC", "HMAC");
  set_box(ctx, K_MAC, m);
  return 1;
}

/* The context of `this` Hasher: sets one of |*md| / |*mac|. Throws when `this` is no Hasher. */
static void this_hasher(duk_context *ctx, const char *fn, EVP_MD_CTX **md, EVP_MAC_CTX **mac) {
  duk_push_this(ctx);
  if (duk_is_object(ctx, -1) && duk_get_prop_string(ctx, -1, K_BOX)) { /* -> [ this box ] */
    duk_get_prop_string(ctx, -1, K_MD);
    duk_get_prop_string(ctx, -2, K_MAC); /* -> [ this box md mac ] */
    *md = duk_get_pointer(ctx, -2);
    *mac = duk_get_pointer(ctx, -1);
    duk_pop_n(ctx, 4);
    if (*md || *mac) return;
  }
  (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                  "%s: not a Hasher (call it on what createHash() or createHMAC() returned)", fn);
}

/* hasher.update(input): feeds |input|; returns undefined. */
static duk_ret_t hasher_update(duk_context *ctx) {
  EVP_MD_CTX *md;
  EVP_MAC_CTX *mac;
  size_t n;
  const uint8_t *in = sb_js_require_bytes(ctx, 0, &n, "Hasher.update", "input");
  this_hasher(ctx, "Hasher.update", &md, &mac);
  if (!(md ? EVP_DigestUpdate(md, in, n) : EVP_MAC_update(mac, in, n)))
    return throw_openssl(ctx, "Hasher.update", "update");
  return 0;
}

/* hasher.digest(outputEncoding): the digest of everything fed so far, finishing a copy of the
 * context so that the Hasher can go on (Go's Sum()). */
static duk_ret_t hasher_digest(duk_context *ctx) {
  EVP_MD_CTX *md;
  EVP_MAC_CTX *mac;
  uint8_t d[EVP_MAX_MD_SIZE];
  size_t dn = 0;
  int ok, out = require_out(ctx, 0, "Hasher.digest");
  this_hasher(ctx, "Hasher.digest", &md, &mac);
  if (md) {
    EVP_MD_CTX *t = EVP_MD_CTX_new();
    unsigned u = 0;
    ok = t && EVP_MD_CTX_copy_ex(t, md) && EVP_DigestFinal_ex(t, d, &u);
    dn = u;
    EVP_MD_CTX_free(t);
  } else {
    EVP_MAC_CTX *t = EVP_MAC_CTX_dup(mac);
    ok = t && EVP_MAC_final(t, d, &dn, sizeof(d));
    EVP_MAC_CTX_free(t);
  }
  if (!ok) return throw_openssl(ctx, "Hasher.digest", "digest");
  push_digest(ctx, d, dn, out);
  return 1;
}

static const duk_function_list_entry crypto_funcs[] = {
    {"hmac", crypto_hmac, 4},
    {"randomBytes", crypto_random_bytes, 1},
    {"hexEncode", crypto_hex_encode, 1},
    {NULL, NULL, 0},
};

static const duk_function_list_entry hasher_funcs[] = {
    {"update", hasher_update, 1},
    {"digest", hasher_digest, 1},
    {NULL, NULL, 0},
};

/* [ exports proto ] -> [ exports proto ]: exports[name] = fn, which knows the Hasher proto. */
static void put_factory(duk_context *ctx, const char *name, duk_c_function fn, duk_idx_t nargs) {
  duk_push_c_function(ctx, fn, nargs);
  duk_dup(ctx, -2);
  duk_put_prop_string(ctx, -2, K_PROTO);
  duk_put_prop_string(ctx, -3, name);
}

void sb_js_crypto_push(duk_context *ctx) {
  pthread_once(&lib.once, load); /* the first VU pays for the fetches, not its first iteration */
  duk_push_object(ctx);          /* -> [ exports ] */
  for (size_t i = 0; i < N_ALGOS; i++) {
    duk_push_c_function(ctx, crypto_digest, 2);
    duk_set_magic(ctx, -1, (duk_int_t)i);
    duk_put_prop_string(ctx, -2, ALGOS[i].name);
  }
  duk_put_function_list(ctx, -1, crypto_funcs);
  duk_push_object(ctx); /* -> [ exports proto ] */
  duk_put_function_list(ctx, -1, hasher_funcs);
  put_factory(ctx, "createHash", crypto_create_hash, 1);
  put_factory(ctx, "createHMAC", crypto_create_hmac, 2);
  duk_pop(ctx); /* -> [ exports ] */
}
