/* k6/encoding and k6/crypto: base64 and hashing for scripts, in C over OpenSSL's libcrypto.
 *
 * Both modules keep no per-VU state and do not need a VU: they work in any Duktape heap, the
 * init context included (k6 allows them there too). Their behaviour follows k6's own source
 * (js/modules/k6/encoding, js/modules/k6/crypto), whose rules are:
 *
 *   bytes of an argument   a string is its UTF-8 (Duktape's surrogate pairs joined into one
 *                          4-byte sequence, a lone surrogate U+FFFD, as Go converts a JS string);
 *                          an ArrayBuffer, typed array, DataView or plain buffer is its bytes
 *                          (k6 accepts ArrayBuffer and Uint8Array); anything else is a TypeError
 *   base64 variants        "std" (RFC 4648 section 4, padded), "rawstd" (unpadded), "url"
 *                          (section 5, padded), "rawurl" (unpadded); another name, or none, is
 *                          "std" (k6 does not refuse it either). Decoding is Go's: padding
 *                          required exactly when the variant has it, '\r' and '\n' skipped,
 *                          non-zero trailing bits accepted, anything else an error naming the
 *                          offset ("illegal base64 data at input byte 4")
 *   digest encodings       "hex", "base64", "base64url", "base64rawurl", "binary" (an
 *                          ArrayBuffer); any other is an error, as in k6
 *   algorithms             md4 md5 sha1 sha256 sha384 sha512 sha512_224 sha512_256 ripemd160;
 *                          md4 comes from OpenSSL 3's legacy provider (loaded into a private
 *                          library context, so the process's default context is untouched):
 *                          where that provider is missing, md4 throws saying so */
#ifndef SB_JS_MODULES_H
#define SB_JS_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "duktape.h"

/* Module registration (STYLE.md rule 9): each pushes the module's exports object. */

/* "k6/encoding": b64encode(input[, encoding]) -> string; b64decode(input[, encoding][, format])
 * -> ArrayBuffer, or a string when |format| is "s" (UTF-8 decoded, each invalid byte
 * U+FFFD). The input may also be an ArrayBuffer holding the base64 text. */
/* Pushes the exports of built-in module |name| ("k6/http", ...) and returns 1, or returns 0 for
 * a name that is none (or, with |pure_only|, one that needs a VU). */
int sb_js_module_push(duk_context *ctx, const char *name, int pure_only);
void sb_js_encoding_push(duk_context *ctx);
/* Writes Duktape's (CESU-8) string bytes |p|/|n| to |w| as UTF-8: a surrogate pair becomes one
 * 4-byte sequence, a lone surrogate U+FFFD, as Go converts a JS string. |w| needs |n| bytes (the
 * result is never longer). Returns the bytes written. */
size_t sb_js_cesu_to_utf8(uint8_t *w, const uint8_t *p, size_t n);

/* "k6/crypto": md4 md5 sha1 sha256 sha384 sha512 sha512_224 sha512_256 ripemd160 (each
 * (input, outputEncoding)), hmac(algorithm, secret, data, outputEncoding), createHash(algorithm)
 * and createHMAC(algorithm, secret) -> Hasher {update(input), digest(outputEncoding)},
 * randomBytes(size) -> ArrayBuffer, hexEncode(data) -> string. digest() may be called again
 * and update() may follow it: each digest covers everything fed so far (Go's Sum()). A Hasher
 * owns an OpenSSL context freed by its finalizer. */
void sb_js_crypto_push(duk_context *ctx);

/* --- shared by the two modules ------------------------------------------------------------ */

typedef enum sb_b64_variant {
  SB_B64_STD = 0, /* +/ with '=' padding */
  SB_B64_RAWSTD,  /* +/ without padding */
  SB_B64_URL,     /* -_ with '=' padding */
  SB_B64_RAWURL,  /* -_ without padding */
} sb_b64_variant;

/* The variant called |name| (k6's names above); NULL or an unknown name is SB_B64_STD. */
sb_b64_variant sb_b64_variant_of(const char *name);

/* Bytes sb_b64_encode() writes for |n| input bytes. */
size_t sb_b64_encoded_len(size_t n, sb_b64_variant v);
/* Writes the base64 of |in|[0..n) to |out| (room for sb_b64_encoded_len() bytes; no NUL added).
 * Returns the length written. */
size_t sb_b64_encode(char *out, const uint8_t *in, size_t n, sb_b64_variant v);
/* Decodes |in|[0..n) into |out| (room for n / 4 * 3 + 3 bytes suffices); |*outlen| gets the
 * decoded length. Returns 0, or SB_EFORMAT with |*bad_at| the offset of the offending input
 * byte (Go's CorruptInputError). */
int sb_b64_decode(uint8_t *out, size_t *outlen, const char *in, size_t n, sb_b64_variant v,
                  size_t *bad_at);

/* [ ... ] -> [ ... str ]: pushes the base64 of |in|[0..n). */
void sb_js_push_b64(duk_context *ctx, const uint8_t *in, size_t n, sb_b64_variant v);

/* The bytes the argument at |idx| stands for (rules above). A string holding surrogates is
 * converted: the value at |idx| is then replaced by a buffer of its UTF-8. The pointer is valid
 * while that stack slot is untouched. Throws a TypeError "<fn>: <arg> must be a string or
 * ArrayBuffer (got <type>)" for any other value. Never NULL (an empty input gives "" and 0). */
const uint8_t *sb_js_require_bytes(duk_context *ctx, duk_idx_t idx, size_t *len, const char *fn,
                                   const char *arg);

#endif

/* "k6/execution" (js_execution.c): exec.vu {idInInstance, idInTest, iterationInInstance,
 * iterationInScenario, tags, metrics.tags}, exec.scenario {name, executor, startTime, progress,
 * iterationInInstance, iterationInTest}, exec.instance {iterationsInterrupted,
 * iterationsCompleted, vusActive, vusInitialized, currentTestRunDuration}, exec.test {abort,
 * options}, every field read when accessed (sb_vu_exec_ops). As in k6, exec.vu and
 * exec.instance throw in the init context, exec.scenario outside an iteration. Outside the
 * include guard on purpose (appended; repeating a prototype is harmless). */
void sb_js_execution_push(duk_context *ctx);

/* "k6/html" (agent/js_html.c): parseHTML(src) -> Selection (goquery's jQuery-like API) and
 * Element, over libxml2's HTML parser and agent/html's CSS selectors. The DOM lives outside the
 * Duktape heap, freed when the last Selection/Element of a document is finalized. Outside the
 * include guard on purpose (appended; repeating a prototype is harmless). */
void sb_js_html_push(duk_context *ctx);
/* [ ... ] -> [ ... Selection ]: the Selection of the document parsed from |html|[0..len), as
 * parseHTML() returns it (for Response.html()). Throws on out of memory. */
void sb_js_html_push_document(duk_context *ctx, const char *html, size_t len);

/* "k6/data" (agent/js_data.c): SharedArray, one read-only copy per agent. The controller stores
 * each array as JSON under sb_data_archive_name(); the agent's engine indexes them once
 * (sb_data_store_new()) and every VU reads through that index: `new SharedArray(name, fn)` does
 * not call |fn| but returns a read-only array-like (length, [i], for...of, forEach/map/filter/
 * slice and the other non-mutating Array methods) whose elements are parsed on each access (a
 * copy, as in k6). An array missing from the archive falls back to calling |fn| in the VU (its
 * own copy; VU 1 logs a warning). Outside the include guard on purpose (appended). */
struct sb_archive;
struct sb_err;
typedef struct sb_data_store sb_data_store;
/* Indexes every shared/<name>.json of |ar| (which must outlive the store and stay unchanged:
 * the store points into its bytes). Read-only afterwards: any thread may use it without a lock.
 * Returns 0, SB_EFORMAT (a file is not a JSON array: |err| names it) or SB_ENOMEM. */
int sb_data_store_new(sb_data_store **out, const struct sb_archive *ar, struct sb_err *err);
void sb_data_store_free(sb_data_store *s); /* accepts NULL */
size_t sb_data_store_count(const sb_data_store *s); /* arrays indexed */
/* The archive name of SharedArray |name|[0..len): "shared/<name>.json", bytes outside
 * [A-Za-z0-9_-] percent-encoded. Returns 0 or SB_EINVAL (|cap| too small). */
int sb_data_archive_name(const char *name, size_t len, char *out, size_t cap);
/* Pushes the exports of "k6/data" for the running VU (its env's |shared| store; a heap that is
 * not a VU's gets an empty store, i.e. the fallback). */
void sb_js_data_push(duk_context *ctx);
/* The same over |store| (may be NULL), for any heap: tests, tools. */
void sb_js_data_push_store(duk_context *ctx, const sb_data_store *store);

/* "k6/timers" (agent/js_timers.c): setTimeout(fn, ms, ...args), clearTimeout(id),
 * setInterval(fn, ms, ...args), clearInterval(id) on the VU's event loop (agent/vu_loop.h): the
 * iteration waits for pending timers, as k6's does. Also k6/experimental/timers, and globals
 * (sb_js_timers_register). Not available in init code (a clear error). Outside the include
 * guard on purpose (appended). */
void sb_js_timers_push(duk_context *ctx);
void sb_js_timers_register(duk_context *ctx); /* the four functions on the global object */
