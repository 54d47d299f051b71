/* HTTP content codings (RFC 9110 section 8.4): gzip, deflate, br and zstd, for response bodies
 * (decoded by their Content-Encoding, as k6 does) and request bodies (k6's `compression` param).
 *
 * Every call replaces the content of its |out| buffer but keeps its memory, so a loop that reuses
 * the same buffers stops allocating once they have grown to the largest body. The zlib and zstd
 * states are also kept per thread and reset between calls (calls never yield, so VU coroutines
 * sharing a thread cannot interleave inside one); brotli's decoder is created per call because
 * libbrotli 1.0 has no reset. Input must not point into |out| or |scratch|. */
#ifndef SB_CODEC_H
#define SB_CODEC_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

typedef enum sb_codec {
  SB_CODEC_IDENTITY,
  SB_CODEC_GZIP,    /* RFC 1952; several members in a row are one body */
  SB_CODEC_DEFLATE, /* zlib-wrapped (RFC 1950) on encode; zlib or raw deflate on decode */
  SB_CODEC_BR,      /* RFC 7932, quality 6 on encode like k6's encoder */
  SB_CODEC_ZSTD,    /* RFC 8878, level 3 with a checksum; streamed windows over 8 MB refused */
} sb_codec;

/* Most codings a Content-Encoding value or a `compression` list may hold (identity not counted). */
#define SB_CODEC_MAX_CHAIN 8

/* Maps a coding name ("gzip", "x-gzip", "deflate", "br", "zstd", "identity"; any case, no
 * surrounding spaces) to |*out|. Returns 0, or SB_EINVAL with |*out| untouched. */
int sb_codec_from_name(const char *name, size_t len, sb_codec *out);

/* The name for a Content-Encoding header ("gzip", "br", ...); a static string. */
const char *sb_codec_name(sb_codec c);

/* Compresses |len| bytes of |in| into |out| (content replaced, memory kept). Identity copies.
 * Returns 0, SB_ENOMEM, or SB_EINVAL for an unknown |c|; |err| names the coding. */
int sb_codec_encode(sb_codec c, const void *in, size_t len, sb_buf *out, sb_err *err);

/* Decompresses |len| bytes of |in| into |out| (content replaced, memory kept). An empty input
 * decodes to an empty body under every coding (HEAD, 204 and 304 responses carry the header but
 * no body). |max_out| caps the decoded size (0: no cap) against decompression bombs.
 * Returns 0, SB_ENOMEM, or SB_EFORMAT for corrupt, truncated or trailing data or a body over
 * |max_out|; |err| then says which coding and why ("gzip: truncated input"). */
int sb_codec_decode(sb_codec c, const void *in, size_t len, sb_buf *out, size_t max_out,
                    sb_err *err);

/* Decodes a body by its Content-Encoding value |enc| ("gzip", "gzip, br": the codings applied
 * in that order, so undone last to first). Empty list elements and "identity" are skipped; an
 * empty |enc| copies |in|. |scratch| holds the intermediate results; |out| the final one. Both
 * keep their memory between calls. |max_out| caps every step. Returns 0, SB_ENOMEM, SB_EFORMAT
 * (see sb_codec_decode()), or SB_EINVAL for an unknown coding or more than SB_CODEC_MAX_CHAIN,
 * with |err| naming it. (k6 leaves a body with an unknown coding as it came; a caller wanting
 * that keeps the raw body on SB_EINVAL.) */
int sb_codec_decode_chain(const char *enc, size_t enc_len, const void *in, size_t len, sb_buf *out,
                          sb_buf *scratch, size_t max_out, sb_err *err);

/* Compresses a request body by k6's `compression` param |enc| ("gzip, br": gzip first, then br;
 * the same value then goes in the Content-Encoding header). Same buffers, skipping and errors
 * as sb_codec_decode_chain(), without SB_EFORMAT. */
int sb_codec_encode_chain(const char *enc, size_t enc_len, const void *in, size_t len, sb_buf *out,
                          sb_buf *scratch, sb_err *err);

#endif
