/* HTTP/1.x response parser (h1_parse.h): http-parser's acceptance, in tight loops.
 *
 * The state machine has the same states as http-parser where they matter (every place a
 * response may be cut between two reads), but a state's work runs as a loop over as many bytes
 * as it can take: a header name is one scan of the token table, a value one scan of the value
 * table (plus a small token matcher for the few headers that steer framing), a body span one
 * sink call. Head bytes are counted per run, not per byte, against max_head. */
#include "agent/h1_parse.h"

#include <string.h>

enum {
  /* the head: counted toward max_head */
  S_START, S_VER, S_CODE_SP, S_CODE, S_REASON, S_LINE_LF,
  S_FIELD, S_NAME, S_VWS, S_VWS_LF, S_VWS_LWS, S_VALUE, S_VAL_LF, S_VAL_LWS, S_HEAD_LF,
  /* chunk-size lines: counted too, each from zero (as http-parser) */
  S_CHUNK_START, S_CHUNK_SIZE, S_CHUNK_EXT, S_CHUNK_SIZE_LF,
  /* the body */
  S_BODY_CL, S_BODY_EOF, S_CHUNK_DATA, S_CHUNK_CR, S_CHUNK_LF,
  S_COMPLETE,
};

/* Header-value states: what the header is, and where its token matcher stands. */
enum {
  HG,                                   /* general: nothing to look at */
  H_CONN, H_CL, H_TE,                   /* before the value's first byte */
  CL_NUM, CL_WS,                        /* Content-Length digits, trailing spaces */
  TE_TSTART, TE_MCH, TE_TOK, TE_CH,     /* Transfer-Encoding tokens; "chunked" matched */
  C_TSTART, C_MKA, C_MCL, C_MUP, C_TOK, /* Connection tokens */
  C_KA, C_CL, C_UP,                     /* "keep-alive", "close", "upgrade" matched */
};

enum {
  F_CHUNKED = 1, F_KA = 2, F_CLOSE = 4, F_TE = 8, F_CLEN = 16, F_TRAILING = 32, F_SKIP = 64,
};

/* RFC 7230 token characters (http-parser's STRICT_TOKEN(), used in value token lists). */
static const unsigned char tok[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['a' ... 'z'] = 1, ['|'] = 1, ['~'] = 1,
};

/* Header name bytes: the same plus the space (http-parser's non-strict TOKEN(), as Debian
 * builds it). */
static const unsigned char ntok[256] = {
    [' '] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['.'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['^'] = 1,
    ['_'] = 1, ['`'] = 1, ['a' ... 'z'] = 1, ['|'] = 1, ['~'] = 1,
};

/* Header value bytes: 0 allowed, 1 line end (CR, LF), 2 forbidden (other controls, DEL). */
static const unsigned char vcls[256] = {
    [0 ... 8] = 2, ['\n'] = 1, [11 ... 12] = 2, ['\r'] = 1, [14 ... 31] = 2, [127] = 2,
};

/* A hex digit's value, or -1. Bytes >= 0x80 are 0: http-parser's table has 128 entries and the
 * rest are zero, so they count as the digit 0 in a chunk size. */
static int unhex(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 0x80) return 0;
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static const char *fail(sb_h1p *h, int e) {
  h->err = e;
  return NULL;
}

/* Adds the head bytes [p0, p) to the count; -1 (and the error set) past the limit. */
static int count(sb_h1p *h, const char *p0, const char *p) {
  uint64_t n = (uint64_t)h->nread + (uint64_t)(p - p0);
  if (n > h->max_head) {
    h->err = SB_H1P_E_HEAD_SIZE;
    return -1;
  }
  h->nread = (uint32_t)n;
  return 0;
}

static int needs_eof(const sb_h1p *h) {
  if (h->status / 100 == 1 || h->status == 204 || h->status == 304 || (h->flags & F_SKIP))
    return 0;
  if ((h->flags & F_TE) && !(h->flags & F_CHUNKED)) return 1;
  if ((h->flags & F_CHUNKED) || h->clen != UINT64_MAX) return 0;
  return 1;
}

int sb_h1p_keep_alive(const sb_h1p *h) {
  if (h->major > 0 && h->minor > 0) {
    if (h->flags & F_CLOSE) return 0;
  } else if (!(h->flags & F_KA)) {
    return 0;
  }
  return !needs_eof(h);
}

/* A response ended: a final one completes the parse; a 1xx other than 101 is skipped and the
 * next begins (or, when it did not keep the connection, nothing more may come). */
static int complete(sb_h1p *h) {
  if (h->status / 100 == 1 && h->status != 101) {
    if (h->sink->interim(h->ud, h)) return h->err = SB_H1P_E_SINK;
    h->state = S_START; /* even when not kept alive (non-strict http-parser) */
    return 0;
  }
  h->state = S_COMPLETE;
  return 0;
}

/* --- status line ------------------------------------------------------------------------- */

/* "HTTP/d.d " byte |c| at h->idx (1.. after the 'H'). */
static int version_byte(sb_h1p *h, unsigned char c) {
  int i = h->idx++;
  if (i < 5) return 0; /* "TTP/": not checked by a non-strict http-parser */
  if (i == 6) return c == '.' ? 0 : SB_H1P_E_VERSION;
  if (i == 8) {
    h->state = S_CODE_SP;
    return c == ' ' ? 0 : SB_H1P_E_VERSION;
  }
  if (c < '0' || c > '9') return SB_H1P_E_VERSION;
  if (i == 5)
    h->major = (unsigned char)(c - '0');
  else
    h->minor = (unsigned char)(c - '0');
  return 0;
}

/* Leading CR/LF, then 'H': a response begins. */
static int start_byte(sb_h1p *h, unsigned char c) {
  if (c == '\r' || c == '\n') return 0;
  if (c != 'H') return SB_H1P_E_START;
  h->flags = 0;
  h->clen = UINT64_MAX;
  h->state = S_VER;
  h->idx = 1;
  return h->sink->begin(h->ud) ? SB_H1P_E_SINK : 0;
}

static int code_byte(sb_h1p *h, unsigned char c) {
  if (c >= '0' && c <= '9') {
    h->status = h->state == S_CODE ? h->status * 10 + (c - '0') : c - '0';
    h->state = S_CODE;
    return h->status > 999 ? SB_H1P_E_STATUS : 0;
  }
  if (h->state == S_CODE_SP) return c == ' ' ? 0 : SB_H1P_E_STATUS;
  if (c == ' ')
    h->state = S_REASON;
  else if (c == '\r')
    h->state = S_LINE_LF;
  else if (c == '\n')
    h->state = S_FIELD;
  else
    return SB_H1P_E_STATUS;
  return 0;
}

/* The reason phrase: any bytes up to CR or LF. */
static const char *reason_run(sb_h1p *h, const char *p, const char *end) {
  const char *q = p;
  while (q < end && *q != '\r' && *q != '\n') q++;
  if (q > p && h->sink->reason(h->ud, p, (size_t)(q - p))) return fail(h, SB_H1P_E_SINK);
  if (q == end) return q;
  h->state = *q == '\r' ? S_LINE_LF : S_FIELD;
  return q + 1;
}

#define DIGIT(c) ((unsigned)(unsigned char)(c) - 48u < 10u)

/* The usual "HTTP/d.d ddd " in one piece: taken at once (else by the bytes). */
static const char *status_fast(sb_h1p *h, const char *p, const char *end) {
  if (end - p < 13 || p[0] != 'H' || !DIGIT(p[5]) || p[6] != '.' || !DIGIT(p[7]) ||
      p[8] != ' ' || !DIGIT(p[9]) || !DIGIT(p[10]) || !DIGIT(p[11]) || p[12] != ' ')
    return p;
  int r = start_byte(h, 'H');
  if (r) return fail(h, r);
  h->major = (unsigned char)(p[5] - '0');
  h->minor = (unsigned char)(p[7] - '0');
  h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  h->state = S_REASON;
  return p + 13;
}

/* The status line, from the response's first byte (or leading CR/LF) to its line end. */
static const char *status_run(sb_h1p *h, const char *p, const char *end) {
  if (h->state == S_START && !(p = status_fast(h, p, end))) return NULL;
  while (p < end && h->state < S_FIELD) {
    unsigned char c = (unsigned char)*p;
    int r = 0;
    switch (h->state) {
    case S_START: r = start_byte(h, c); break;
    case S_VER: r = version_byte(h, c); break;
    case S_CODE_SP:
    case S_CODE: r = code_byte(h, c); break;
    case S_REASON:
      if (!(p = reason_run(h, p, end))) return NULL;
      continue;
    case S_LINE_LF: /* any byte after the CR counts as its LF (non-strict) */
      h->state = S_FIELD;
      break;
    }
    if (r) return fail(h, r);
    p++;
  }
  return p;
}

/* --- header lines ------------------------------------------------------------------------ */

static int emit_header(sb_h1p *h, int which, const char *at, size_t len) {
  if (h->flags & F_TRAILING) return 0; /* trailers are checked, not kept */
  if (h->sink->header(h->ud, which, at, len)) return h->err = SB_H1P_E_SINK;
  return 0;
}

/* Whether the name bytes |s| are |lit| (lower case letters and '-') in any case: for token
 * bytes, |0x20 maps exactly the upper case letters onto |lit|'s. */
static int ieq(const char *s, const char *lit, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i]) return 0;
  return 1;
}

/* What the header named |s| steers: |len| bytes, |bare| of them before trailing spaces (which
 * the non-strict http-parser allows in a name, and ignores after a known one); the first
 * min(len, 17) are at |s|. A name that merely starts with "Transfer-Encoding" marks the
 * message as using one, as in http-parser. */
static void classify(sb_h1p *h, const char *s, size_t len, size_t bare) {
  h->hs = HG;
  if (bare == 10 && ieq(s, "connection", 10))
    h->hs = H_CONN;
  else if (bare == 16 && ieq(s, "proxy-connection", 16))
    h->hs = H_CONN;
  else if (bare == 14 && ieq(s, "content-length", 14))
    h->hs = H_CL;
  else if (len >= 17 && ieq(s, "transfer-encoding", 17)) {
    h->flags = (unsigned char)((h->flags | F_TE) & ~F_CHUNKED); /* a later one overrides */
    if (bare == 17) h->hs = H_TE;
  }
}

/* A header name up to ':'; a piece cut by the read's end is handed over and its first bytes
 * kept to recognize the name at its ':'. */
static const char *name_run(sb_h1p *h, const char *p, const char *end) {
  const char *q = p;
  while (q < end && ntok[(unsigned char)*q]) q++;
  size_t n = (size_t)(q - p), keep = sizeof(h->name) - h->nlen;
  if (q < end && *q != ':') return fail(h, SB_H1P_E_NAME);
  if (n && emit_header(h, 1, p, n) < 0) return NULL;
  const char *t = q;
  while (t > p && t[-1] == ' ') t--;
  h->nsp = t == p ? h->nsp + (uint32_t)n : (uint32_t)(q - t);
  if (q == end || h->namelen) { /* split: gather the first bytes */
    if (keep > n) keep = n;
    memcpy(h->name + h->nlen, p, keep);
    h->nlen = (unsigned char)(h->nlen + keep);
    h->namelen += (uint32_t)n;
    if (q == end) return q;
    classify(h, h->name, h->namelen, h->namelen - h->nsp);
  } else {
    classify(h, p, n, n - h->nsp);
  }
  h->state = S_VWS;
  return q + 1;
}

/* Matches |c| (lowercased) against |word| at h->idx: |done| when whole, |other| on a miss. */
static void match(sb_h1p *h, unsigned char c, const char *word, size_t len, int done, int other) {
  size_t i = ++h->idx;
  if (i >= len || c != (unsigned char)word[i])
    h->hs = (unsigned char)other;
  else if (i == len - 1)
    h->hs = (unsigned char)done;
}

/* A value's first byte (or an obs-fold's whitespace): picks the matcher. Not checked against
 * the value table, as http-parser does not. */
static int value_start(sb_h1p *h, unsigned char ch) {
  unsigned char c = ch | 0x20;
  h->idx = 0;
  switch (h->hs) {
  case H_TE: h->hs = c == 'c' ? TE_MCH : TE_TOK; break;
  case H_CL:
    if (ch < '0' || ch > '9') return h->err = SB_H1P_E_CLEN;
    if (h->flags & F_CLEN) return h->err = SB_H1P_E_CLEN_DUP;
    h->flags |= F_CLEN;
    h->clen = (uint64_t)(ch - '0');
    h->hs = CL_NUM;
    break;
  case H_CONN: h->hs = c == 'k' ? C_MKA : c == 'c' ? C_MCL : c == 'u' ? C_MUP : C_TOK; break;
  case TE_TSTART:
  case C_TSTART:
  case CL_WS: break;
  default: h->hs = HG;
  }
  return 0;
}

/* One value byte through the matcher (http-parser's per-header token states, kept exactly:
 * |c| is the byte with 0x20 set, which is what it compares). */
static int value_step(sb_h1p *h, unsigned char ch) {
  unsigned char c = ch | 0x20;
  switch (h->hs) {
  case CL_NUM:
    if (ch == ' ') {
      h->hs = CL_WS;
      break;
    }
    if (ch < '0' || ch > '9' || (UINT64_MAX - 10) / 10 < h->clen) return h->err = SB_H1P_E_CLEN;
    h->clen = h->clen * 10 + (uint64_t)(ch - '0');
    break;
  case CL_WS:
    if (ch != ' ') return h->err = SB_H1P_E_CLEN;
    break;
  case TE_TSTART:
    if (c == 'c')
      h->hs = TE_MCH;
    else if (tok[c])
      h->hs = TE_TOK;
    else if (c != ' ')
      h->hs = HG;
    break;
  case TE_MCH: match(h, c, "chunked", 7, TE_CH, TE_TOK); break;
  case TE_TOK:
    if (ch == ',') h->hs = TE_TSTART, h->idx = 0;
    break;
  case TE_CH:
    if (ch != ' ') h->hs = TE_TOK;
    break;
  case C_TSTART:
    if (c == 'k' || c == 'c' || c == 'u')
      h->hs = c == 'k' ? C_MKA : c == 'c' ? C_MCL : C_MUP;
    else if (tok[c])
      h->hs = C_TOK;
    else if (c != ' ')
      h->hs = HG;
    break;
  case C_MKA: match(h, c, "keep-alive", 10, C_KA, C_TOK); break;
  case C_MCL: match(h, c, "close", 5, C_CL, C_TOK); break;
  case C_MUP: match(h, c, "upgrade", 7, C_UP, C_TOK); break;
  case C_TOK:
    if (ch == ',') h->hs = C_TSTART, h->idx = 0;
    break;
  case C_KA:
  case C_CL:
  case C_UP:
    if (ch == ',') {
      h->flags |= h->hs == C_KA ? F_KA : h->hs == C_CL ? F_CLOSE : 0;
      h->hs = C_TSTART;
      h->idx = 0;
    } else if (ch != ' ') {
      h->hs = C_TOK;
    }
    break;
  }
  return 0;
}

/* The first byte at or after |q| that is not a plain value byte (or |end|): eight at a time
 * while none is below 0x20 or DEL, then by the table (which lets a tab through). */
static const char *value_scan(const char *q, const char *end) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - q >= 8) {
    uint64_t w, d;
    memcpy(&w, q, 8);
    d = w ^ (ones * 0x7f);
    if (((w - ones * 0x20) & ~w & highs) | ((d - ones) & ~d & highs)) break;
    q += 8;
  }
  while (q < end && !vcls[(unsigned char)*q]) q++;
  return q;
}

/* A value's bytes up to its line end: one table scan (and the matcher for the few headers
 * that steer framing); the span goes to the sink. */
static const char *value_run(sb_h1p *h, const char *p, const char *end) {
  const char *q = p;
  if (h->vfirst) {
    h->vfirst = 0;
    if (value_start(h, (unsigned char)*q++) < 0) return NULL;
  }
  if (h->hs == HG) {
    q = value_scan(q, end);
  } else {
    for (; q < end && !vcls[(unsigned char)*q]; q++)
      if (value_step(h, (unsigned char)*q) < 0) return NULL;
  }
  if (q < end && vcls[(unsigned char)*q] == 2) return fail(h, SB_H1P_E_VALUE);
  if (q > p && emit_header(h, 2, p, (size_t)(q - p)) < 0) return NULL;
  if (q == end) return q;
  h->state = *q == '\r' ? S_VAL_LF : S_VAL_LWS;
  return q + 1;
}

/* A header line ended and the next does not continue it: its tokens count. */
static void value_end(sb_h1p *h) {
  if (h->hs == C_KA) h->flags |= F_KA;
  if (h->hs == C_CL) h->flags |= F_CLOSE;
  if (h->hs == TE_CH) h->flags |= F_CHUNKED;
}

/* The usual header line in one piece: "name:" OWS value CRLF, and the next line's first byte
 * there to show it is no continuation. Taken whole (name and value handed over at once);
 * anything else, or a line cut by the read's end, is left to the byte states: returns |p|
 * untouched then, with no trace in |h|. */
static const char *line_fast(sb_h1p *h, const char *p, const char *end) {
  const char *n = p, *v, *q, *t;
  while (n < end && ntok[(unsigned char)*n]) n++;
  if (n == end || *n != ':') return p;
  for (v = n + 1; v < end && (*v == ' ' || *v == '\t'); v++) {}
  if (v == end || vcls[(unsigned char)*v]) return p;
  unsigned char flags0 = h->flags;
  uint64_t clen0 = h->clen;
  for (t = n; t > p && t[-1] == ' '; t--) {}
  classify(h, p, (size_t)(n - p), (size_t)(t - p));
  q = v + 1;
  if (value_start(h, (unsigned char)*v) < 0) goto undo;
  if (h->hs == HG) {
    q = value_scan(q, end);
  } else {
    for (; q < end && !vcls[(unsigned char)*q]; q++)
      if (value_step(h, (unsigned char)*q) < 0) goto undo;
  }
  if (end - q < 3 || q[0] != '\r' || q[1] != '\n' || q[2] == ' ' || q[2] == '\t') goto undo;
  if (emit_header(h, 1, p, (size_t)(n - p)) < 0 || emit_header(h, 2, v, (size_t)(q - v)) < 0)
    return NULL;
  value_end(h);
  return q + 2;
undo:
  h->flags = flags0;
  h->clen = clen0;
  h->err = 0;
  return p;
}

/* A line of the head begins at |p|: the blank line's (CR)LF, or a header (the whole line at
 * once when line_fast can). Returns where to go on, NULL on error; *ended as field_run. */
static const char *line_begin(sb_h1p *h, const char *p, const char *end, int *ended) {
  unsigned char c = (unsigned char)*p;
  if (c == '\n') { /* a bare LF ends the head too */
    *ended = 1;
    return p + 1;
  }
  if (c == '\r') {
    h->state = S_HEAD_LF;
    return p + 1;
  }
  if (!ntok[c]) return fail(h, SB_H1P_E_NAME);
  const char *q = line_fast(h, p, end);
  if (q != p) return q;
  h->state = S_NAME;
  h->nlen = 0;
  h->namelen = h->nsp = 0;
  return p;
}

/* Header lines (or trailers) up to the blank line; *ended is set when it was taken. */
static const char *field_run(sb_h1p *h, const char *p, const char *end, int *ended) {
  while (p < end) {
    unsigned char c = (unsigned char)*p;
    switch (h->state) {
    case S_FIELD:
      if (!(p = line_begin(h, p, end, ended))) return NULL;
      if (*ended) return p;
      continue;
    case S_HEAD_LF: /* any byte after the CR ends the head (non-strict) */
      *ended = 1;
      return p + 1;
    case S_NAME:
      if (!(p = name_run(h, p, end))) return NULL;
      continue;
    case S_VWS:
      if (c == '\r' || c == '\n') h->state = c == '\r' ? S_VWS_LF : S_VWS_LWS;
      else if (c != ' ' && c != '\t') h->state = S_VALUE, h->vfirst = 1;
      if (h->state == S_VALUE) continue;
      break;
    case S_VWS_LF: /* any byte counts as the LF here (non-strict), not after a value */
      h->state = S_VWS_LWS;
      break;
    case S_VAL_LF:
      if (c != '\n') return fail(h, SB_H1P_E_LF);
      h->state = S_VAL_LWS;
      break;
    case S_VWS_LWS: /* an empty value, unless a fold brings one */
      if (c == ' ' || c == '\t') {
        h->state = S_VWS;
        break;
      }
      if (h->hs == H_CL) return fail(h, SB_H1P_E_CLEN);
      if (emit_header(h, 2, p, 0) < 0) return NULL;
      h->state = S_FIELD;
      continue;
    case S_VALUE:
      if (!(p = value_run(h, p, end))) return NULL;
      continue;
    case S_VAL_LWS:
      if (c == ' ' || c == '\t') { /* obs-fold: the value goes on, whitespace and all */
        if (h->hs == CL_NUM) h->hs = CL_WS;
        h->state = S_VALUE;
        h->vfirst = 1;
      } else {
        value_end(h);
        h->state = S_FIELD;
      }
      continue;
    }
    p++;
  }
  return p;
}

/* The blank line was taken: the framing follows from the head (or the trailers end it). */
static int head_end(sb_h1p *h) {
  if (h->flags & F_TRAILING) return complete(h);
  if ((h->flags & F_TE) && (h->flags & F_CLEN)) return h->err = SB_H1P_E_CLEN_DUP;
  if (h->sink->head_done(h->ud, h)) return h->err = SB_H1P_E_SINK;
  if (h->head) {
    h->flags |= F_SKIP;
    return complete(h);
  }
  if (h->flags & F_CHUNKED)
    h->state = S_CHUNK_START;
  else if (h->flags & F_TE)
    h->state = S_BODY_EOF;
  else if (h->clen == 0)
    return complete(h);
  else if (h->clen != UINT64_MAX)
    h->state = S_BODY_CL;
  else if (needs_eof(h))
    h->state = S_BODY_EOF;
  else
    return complete(h);
  return 0;
}

/* Head bytes: the status line and headers (or trailers) of one response. */
static const char *head_run(sb_h1p *h, const char *p, const char *end) {
  const char *p0 = p;
  int ended = 0;
  while (p < end && !ended) {
    p = h->state < S_FIELD ? status_run(h, p, end) : field_run(h, p, end, &ended);
    if (!p) return NULL;
  }
  if (count(h, p0, p) < 0) return NULL;
  if (ended) {
    h->nread = 0;
    if (head_end(h) < 0) return NULL;
  }
  return p;
}

/* A chunk-size line: hex size, extensions ignored, CRLF. Counted as head bytes. */
static const char *chunk_size_run(sb_h1p *h, const char *p, const char *end) {
  const char *p0 = p, *q;
  int v, ended = 0;
  while (p < end && !ended) {
    unsigned char c = (unsigned char)*p;
    switch (h->state) {
    case S_CHUNK_START:
      if ((v = unhex(c)) < 0) return fail(h, SB_H1P_E_CHUNK);
      h->clen = (uint64_t)v;
      h->state = S_CHUNK_SIZE;
      break;
    case S_CHUNK_SIZE:
      if (c == '\r') {
        h->state = S_CHUNK_SIZE_LF;
      } else if ((v = unhex(c)) >= 0) {
        if ((UINT64_MAX - 16) / 16 < h->clen) return fail(h, SB_H1P_E_CHUNK);
        h->clen = h->clen * 16 + (uint64_t)v;
      } else if (c == ';' || c == ' ') {
        h->state = S_CHUNK_EXT;
      } else {
        return fail(h, SB_H1P_E_CHUNK);
      }
      break;
    case S_CHUNK_EXT:
      q = memchr(p, '\r', (size_t)(end - p));
      if (q) h->state = S_CHUNK_SIZE_LF;
      p = q ? q : end - 1;
      break;
    case S_CHUNK_SIZE_LF: /* any byte after the CR (non-strict) */
      ended = 1;
      if (h->clen == 0)
        h->flags |= F_TRAILING, h->state = S_FIELD;
      else
        h->state = S_CHUNK_DATA;
      break;
    }
    p++;
  }
  if (count(h, p0, p) < 0) return NULL;
  if (ended) h->nread = 0;
  return p;
}

/* Body bytes: a Content-Length span, chunk data and its CRLF, or all until close. */
static const char *body_run(sb_h1p *h, const char *p, const char *end) {
  size_t n = (size_t)(end - p);
  switch (h->state) {
  case S_BODY_CL:
  case S_CHUNK_DATA:
    if ((uint64_t)n > h->clen) n = (size_t)h->clen;
    if (h->sink->body(h->ud, p, n)) return fail(h, SB_H1P_E_SINK);
    h->clen -= n;
    if (h->clen == 0) {
      if (h->state == S_CHUNK_DATA)
        h->state = S_CHUNK_CR;
      else if (complete(h) < 0)
        return NULL;
    }
    return p + n;
  case S_CHUNK_CR: /* the CRLF after chunk data: any two bytes (non-strict) */
  case S_CHUNK_LF:
    h->state = h->state == S_CHUNK_CR ? S_CHUNK_LF : S_CHUNK_START;
    h->nread = 0;
    return p + 1;
  }
  if (h->sink->body(h->ud, p, n)) return fail(h, SB_H1P_E_SINK);
  return p + n;
}

/* --- the API ----------------------------------------------------------------------------- */

void sb_h1p_init(sb_h1p *h, int head, const sb_h1p_sink *sink, void *ud) {
  memset(h, 0, sizeof(*h));
  h->sink = sink;
  h->ud = ud;
  h->clen = UINT64_MAX;
  h->max_head = SB_H1P_MAX_HEAD;
  h->head = head != 0;
  h->state = S_START;
}

int sb_h1p_feed(sb_h1p *h, const char *data, size_t len, size_t *used) {
  const char *p = data, *end = data + len;
  if (used) *used = 0;
  if (h->err) return h->err;
  if (h->state == S_COMPLETE) return SB_H1P_DONE;
  while (p < end) {
    if (h->state <= S_HEAD_LF)
      p = head_run(h, p, end);
    else if (h->state <= S_CHUNK_SIZE_LF)
      p = chunk_size_run(h, p, end);
    else
      p = body_run(h, p, end);
    if (!p) return h->err;
    if (h->state == S_COMPLETE) {
      if (used) *used = (size_t)(p - data);
      return SB_H1P_DONE;
    }
  }
  if (used) *used = len;
  return SB_H1P_MORE;
}

int sb_h1p_eof(sb_h1p *h) {
  if (h->err) return h->err;
  if (h->state == S_COMPLETE) return SB_H1P_DONE;
  if (h->state == S_BODY_EOF) { /* a 1xx read until close ends the stream, not the exchange */
    if (complete(h) < 0) return h->err;
    if (h->state == S_COMPLETE) return SB_H1P_DONE;
  }
  return h->err = SB_H1P_E_EOF;
}

const char *sb_h1p_strerror(int code) {
  switch (code) {
  case SB_H1P_E_START: return "response does not start with H";
  case SB_H1P_E_VERSION: return "bad HTTP version in the status line";
  case SB_H1P_E_STATUS: return "bad status code";
  case SB_H1P_E_LF: return "CR after a header value not followed by LF";
  case SB_H1P_E_NAME: return "bad header name";
  case SB_H1P_E_VALUE: return "control character in a header value";
  case SB_H1P_E_CLEN: return "bad Content-Length";
  case SB_H1P_E_CLEN_DUP: return "second Content-Length, or one beside Transfer-Encoding";
  case SB_H1P_E_CHUNK: return "bad chunk size";
  case SB_H1P_E_HEAD_SIZE: return "response head too large";
  case SB_H1P_E_SINK: return "out of memory";
  case SB_H1P_E_EOF: return "unexpected EOF";
  default: return "no error";
  }
}
