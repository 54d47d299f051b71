/* An incremental HTTP/1.x RESPONSE parser for the client (agent/http_h1.c), in place of
 * http-parser's http_parser_execute(): the same bytes are accepted and rejected, the same
 * status, headers, body and keep-alive decision come out, but the hot path runs in tight loops
 * over whole lines (a header value is one table-driven scan, a body one memcpy by the sink)
 * instead of a state switch and a callback check per byte.
 *
 * Bytes may arrive split anywhere: the parser keeps a few words of state, never the bytes
 * themselves, and hands each name, value, reason and body span to the sink as it sees it, a
 * piece per read when a read ends inside one (as http-parser did; sb_res_header_piece() joins
 * pieces). No allocation, no per-byte callback; a byte is looked at once (twice at most, when
 * a header line is cut by the end of a read or is out of the ordinary).
 *
 * What it accepts is what Debian's http-parser 2.9.4-5 accepts for a response, and Debian
 * builds it NON-strict (HTTP_PARSER_STRICT=0; test/fuzz/h1diff_fuzz.c holds the two side by
 * side): leading CR/LF, then 'H' and any four bytes (not checked to be "TTP/"), "d.d", one
 * space, optional spaces, a status of 1-3 digits (<= 999), any reason; any byte after a CR in
 * the status line, after an empty value's CR, after the blank line's CR, after a chunk size's
 * CR, and in place of the CRLF after chunk data, counts as the byte expected there. Header
 * names are token characters or spaces (a known name may be followed by spaces: "Connection :"
 * counts) ended by ':'; values of visible characters, tab or bytes >= 0x80 (the value's first
 * byte is not checked), leading SP/HT dropped, trailing kept, obs-fold lines appended with their
 * leading whitespace; a CR after a value must be followed by LF; a bare LF ends a line. Framing:
 * a HEAD request, then chunked, then any other Transfer-Encoding (read until close), then
 * Content-Length (any second one is an error, as is one beside Transfer-Encoding), then no body
 * for 1xx/204/304, else read until close. A chunk size is hex digits where bytes >= 0x80 count
 * as 0 (http-parser's table), then ';' or ' ' and anything up to CR. The head (status line to
 * blank line; counted again from zero for each chunk-size line and for the trailers) may not
 * pass SB_H1P_MAX_HEAD bytes. 1xx responses other than 101 are parsed, handed to the sink as
 * interim, and the next response follows (even when the 1xx did not keep the connection).
 * Quirks kept on purpose (they are http-parser's): a header whose name starts with
 * "Transfer-Encoding" (any suffix) marks the message as using one; "Proxy-Connection" counts
 * as "Connection"; a Connection or Transfer-Encoding token list is matched token by token as
 * http-parser does ("chunked" must be the last token, followed by spaces only); trailers are
 * checked like headers and their Connection/Transfer-Encoding tokens count, but they are not
 * handed to the sink.
 */
#ifndef SB_H1_PARSE_H
#define SB_H1_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* http-parser's HTTP_MAX_HEADER_SIZE, which the client enforced until now. */
#define SB_H1P_MAX_HEAD (80 * 1024)

enum {
  SB_H1P_MORE = 0, /* all bytes taken, the response goes on */
  SB_H1P_DONE = 1, /* a final response ended; *used says where */
};

/* Why parsing failed (sb_h1p_feed() returns the negative code, h->err keeps it). */
enum {
  SB_H1P_E_START = -1,    /* the response does not start with 'H' */
  SB_H1P_E_VERSION = -2,  /* not "Hxxxxd.d " */
  SB_H1P_E_STATUS = -3,   /* status code missing, not digits, or > 999 */
  SB_H1P_E_LF = -4,       /* a CR after a header value not followed by LF */
  SB_H1P_E_NAME = -5,     /* a header name with a non-token byte, or without ':' */
  SB_H1P_E_VALUE = -6,    /* a control byte in a header value */
  SB_H1P_E_CLEN = -7,     /* Content-Length empty, not digits, or overflowing */
  SB_H1P_E_CLEN_DUP = -8, /* a second Content-Length, or one beside Transfer-Encoding */
  SB_H1P_E_CHUNK = -9,    /* a chunk size not hex, or overflowing */
  SB_H1P_E_HEAD_SIZE = -10, /* the head passed the limit (SB_H1P_MAX_HEAD) */
  SB_H1P_E_SINK = -11,    /* a sink callback failed (out of memory) */
  SB_H1P_E_EOF = -12,     /* EOF before the response ended (sb_h1p_eof) */
};

typedef struct sb_h1p sb_h1p;

/* Where the parser hands what it finds; |ud| is sb_h1p_init()'s. A callback returning nonzero
 * stops the parser with SB_H1P_E_SINK. */
typedef struct sb_h1p_sink {
  int (*begin)(void *ud);  /* a response starts ("H" seen); after a 1xx: the next one */
  int (*reason)(void *ud, const char *at, size_t len); /* a piece of the reason phrase */
  /* a piece of a header name (|which| 1) or value (2); a header's value always follows its
   * name (an empty value as one empty piece). Trailers are not handed over. */
  int (*header)(void *ud, int which, const char *at, size_t len);
  int (*head_done)(void *ud, const sb_h1p *h); /* status, version and headers are known */
  int (*body)(void *ud, const char *at, size_t len); /* body bytes, de-chunked */
  int (*interim)(void *ud, const sb_h1p *h);   /* a 1xx (not 101) ended; another follows */
} sb_h1p_sink;

struct sb_h1p {
  const sb_h1p_sink *sink;
  void *ud;
  uint64_t clen;      /* Content-Length or the chunk's size left; UINT64_MAX: none */
  uint32_t nread;     /* head bytes counted toward max_head */
  uint32_t max_head;  /* SB_H1P_MAX_HEAD (tests may lower it) */
  int status;         /* 0 until parsed */
  unsigned char major, minor; /* HTTP version digits */
  unsigned char state, hs;    /* parse state and header-value state (h1_parse.c) */
  unsigned char idx;          /* position in a version or token being matched */
  unsigned char flags;        /* F_* of h1_parse.c */
  unsigned char head;         /* the request was HEAD: no body */
  unsigned char vfirst;       /* the next value byte is the value's first */
  unsigned char nlen;         /* bytes of a split header name kept in |name| */
  char name[18];              /* a split name's first bytes (to recognize it at ':') */
  uint32_t namelen;           /* its full length so far */
  uint32_t nsp;               /* spaces at its end so far */
  int err;                    /* SB_H1P_E_* once failed, else 0 */
};

/* Starts a parser for the response to one request (|head|: a HEAD request). Borrows |sink|
 * and |ud| until the response ends. */
void sb_h1p_init(sb_h1p *h, int head, const sb_h1p_sink *sink, void *ud);

/* Parses |len| bytes. Returns SB_H1P_MORE (all taken), SB_H1P_DONE (the final response ended
 * after *used bytes; the rest belongs to no response) or a negative SB_H1P_E_*; once failed
 * or done it stays so (DONE with *used 0). |used| may be NULL. */
int sb_h1p_feed(sb_h1p *h, const char *data, size_t len, size_t *used);

/* The connection reached EOF: SB_H1P_DONE when that ends the response (a body read until
 * close), else SB_H1P_E_EOF (or the earlier error). */
int sb_h1p_eof(sb_h1p *h);

/* After SB_H1P_DONE: whether the connection may carry another request, as
 * http_should_keep_alive() says (HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
 * "Connection: keep-alive"; never after a body read until close). */
int sb_h1p_keep_alive(const sb_h1p *h);

/* A short static description of an SB_H1P_E_* code. */
const char *sb_h1p_strerror(int code);

#endif
