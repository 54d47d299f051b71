/* TextEncoder and TextDecoder: the WHATWG Encoding API as k6 exposes it (globals in the init
 * context and in every VU, from grafana/sobek-webapi-encoding), in C over Duktape's strings.
 *
 *   new TextEncoder()             .encoding "utf-8"; encode(input = "") -> Uint8Array of the
 *                                 UTF-8 of String(input); encodeInto(src, u8) -> {read, written}
 *                                 (never writes part of a character; |read| counts UTF-16 units)
 *   new TextDecoder(label, opts)  label "utf-8" (default), "utf-16le" or "utf-16be", or one of
 *                                 their WHATWG aliases ("utf8", "unicode-1-1-utf-8", "utf-16",
 *                                 "unicodefffe", ...: case and ASCII blanks ignored); any other
 *                                 label is a RangeError. opts {fatal, ignoreBOM} (false, false).
 *                                 .encoding, .fatal, .ignoreBOM are read-only.
 *                                 decode(input, {stream}) takes an ArrayBuffer, a typed array or
 *                                 a DataView (a view's bytes only), or nothing ("")
 *
 * Decoding follows the spec's decoders: an ill-formed sequence becomes U+FFFD (one per maximal
 * subpart, as browsers do), or a TypeError with `fatal`; a leading BOM of the decoder's own
 * encoding is dropped unless `ignoreBOM`; with {stream: true} an incomplete character at the end
 * waits for the next call. Strings cross the boundary as Duktape holds them (CESU-8): encoding
 * joins a surrogate pair into one 4-byte sequence and turns a lone surrogate into U+FFFD
 * (EF BF BD), decoding writes a character above U+FFFF as a surrogate pair, so `length` and
 * charCodeAt() count UTF-16 units as in k6. */
#ifndef SB_JS_TEXTCODEC_H
#define SB_JS_TEXTCODEC_H

#include "duktape.h"

/* Defines the TextEncoder and TextDecoder constructors on |ctx|'s global object. Needs no VU:
 * any heap will do. Leaves the value stack as it found it. */
void sb_js_textcodec_register(duk_context *ctx);

#endif
