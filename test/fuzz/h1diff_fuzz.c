/* Differential fuzz target: the same server bytes, cut at the same random points, through
 * Debian's http-parser (as agent/http_h1.c drove it until it moved to agent/h1_parse.c) and
 * through sb_h1p. After every piece both must agree on: error or not, done or not and where;
 * the status, HTTP version, reason, every header name and value (through the client's own
 * sb_res_header_piece), the body, the 1xx responses skipped, and at the end the keep-alive
 * decision, or (when neither ended) whether EOF completes the response.
 *
 * Input: one flags byte (bit 0: a HEAD request; bit 1: a 200-byte head limit for both instead
 * of 80 KiB, so the limit is reached; bits 2-7: the largest piece, 0 = all at once; pieces are
 * drawn from a generator seeded by the second byte), a seed byte, then the server's bytes.
 *
 * Known, deliberate differences (none): a disagreement aborts with both sides printed. */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_internal.h"
#include "test/fuzz/fuzz.h"

/* What one side made of the bytes. */
typedef struct side {
  sb_http_res res;
  sb_buf reason;   /* raw reason bytes (no 63-byte cut) */
  int hstate, status, major, minor, interim, done, head;
  size_t done_at;  /* offset of the response's end in the whole input */
} side;

static void side_begin(side *s) {
  s->hstate = 0;
  s->res.nheaders = 0;
  sb_buf_reset(&s->res.head);
  sb_buf_reset(&s->res.hdrs);
  sb_buf_reset(&s->res.body);
  sb_buf_reset(&s->reason);
}

/* --- http-parser ------------------------------------------------------------------------- */

static int r_begin(http_parser *p) {
  side_begin(p->data);
  return 0;
}
static int r_status(http_parser *p, const char *at, size_t len) {
  side *s = p->data;
  return sb_buf_append(&s->reason, at, len) < 0 ? -1 : 0;
}
static int r_field(http_parser *p, const char *at, size_t len) {
  side *s = p->data;
  return sb_res_header_piece(&s->res, &s->hstate, 1, at, len) < 0 ? -1 : 0;
}
static int r_value(http_parser *p, const char *at, size_t len) {
  side *s = p->data;
  return sb_res_header_piece(&s->res, &s->hstate, 2, at, len) < 0 ? -1 : 0;
}
static int r_headers(http_parser *p) {
  side *s = p->data;
  sb_res_headers_done(&s->res, s->hstate);
  s->hstate = 3;
  s->status = p->status_code;
  s->major = p->http_major;
  s->minor = p->http_minor;
  return s->head ? 1 : 0;
}
static int r_body(http_parser *p, const char *at, size_t len) {
  side *s = p->data;
  return sb_buf_append(&s->res.body, at, len) < 0 ? -1 : 0;
}
static int r_complete(http_parser *p) {
  side *s = p->data;
  if (p->status_code / 100 == 1 && p->status_code != 101) {
    s->interim++;
    return 0;
  }
  s->done = 1;
  http_parser_pause(p, 1);
  return 0;
}
static const http_parser_settings ref_settings = {
    .on_message_begin = r_begin,
    .on_status = r_status,
    .on_header_field = r_field,
    .on_header_value = r_value,
    .on_headers_complete = r_headers,
    .on_body = r_body,
    .on_message_complete = r_complete,
};

/* --- sb_h1p ------------------------------------------------------------------------------ */

static int n_begin(void *ud) {
  side_begin(ud);
  return 0;
}
static int n_reason(void *ud, const char *at, size_t len) {
  side *s = ud;
  return sb_buf_append(&s->reason, at, len) < 0 ? -1 : 0;
}
static int n_header(void *ud, int which, const char *at, size_t len) {
  side *s = ud;
  return sb_res_header_piece(&s->res, &s->hstate, which, at, len) < 0 ? -1 : 0;
}
static int n_head_done(void *ud, const sb_h1p *h) {
  side *s = ud;
  sb_res_headers_done(&s->res, s->hstate);
  s->hstate = 3;
  s->status = h->status;
  s->major = h->major;
  s->minor = h->minor;
  return 0;
}
static int n_body(void *ud, const char *at, size_t len) {
  side *s = ud;
  return sb_buf_append(&s->res.body, at, len) < 0 ? -1 : 0;
}
static int n_interim(void *ud, const sb_h1p *h) {
  side *s = ud;
  s->interim++;
  return 0;
}
static const sb_h1p_sink new_sink = {n_begin, n_reason, n_header, n_head_done, n_body, n_interim};

/* --- comparing --------------------------------------------------------------------------- */

static void differ(const char *what, const uint8_t *data, size_t size) {
  fprintf(stderr, "h1diff: http-parser and sb_h1p differ on %s for %zu bytes:\n", what, size);
  for (size_t i = 0; i < size && i < 600; i++)
    fprintf(stderr, data[i] >= 32 && data[i] < 127 ? "%c" : "\\x%02x", data[i]);
  fprintf(stderr, "\n");
  abort();
}

static int same_buf(const sb_buf *a, const sb_buf *b) {
  return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

/* The parts both sides have seen so far (headers once the head ended). */
static void compare(const side *a, const side *b, const uint8_t *in, size_t n) {
  if (a->interim != b->interim) differ("1xx count", in, n);
  if (a->done != b->done || (a->done && a->done_at != b->done_at)) differ("completion", in, n);
  if (!same_buf(&a->res.body, &b->res.body)) differ("body", in, n);
  if (!same_buf(&a->reason, &b->reason)) differ("reason", in, n);
  if (a->hstate != b->hstate) differ("header state", in, n);
  if (a->hstate != 3) return;
  if (a->status != b->status || a->major != b->major || a->minor != b->minor)
    differ("status line", in, n);
  if (a->res.nheaders != b->res.nheaders) differ("header count", in, n);
  for (size_t i = 0; i < a->res.nheaders; i++) {
    const sb_http_header *x = &a->res.headers[i], *y = &b->res.headers[i];
    if (x->name_len != y->name_len || memcmp(x->name, y->name, x->name_len) ||
        x->value_len != y->value_len || memcmp(x->value, y->value, x->value_len))
      differ("a header", in, n);
  }
}

static void side_init(side *s, int head) {
  memset(s, 0, sizeof(*s));
  sb_http_res_init(&s->res);
  sb_buf_init(&s->reason);
  s->head = head;
}

static void side_clear(side *s) {
  sb_http_res_clear(&s->res);
  sb_buf_clear(&s->reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int head = data[0] & 1, small = (data[0] >> 1) & 1;
  size_t maxpiece = data[0] >> 2;
  uint32_t rng = data[1] * 2654435761u + 1;
  data += 2, size -= 2;
  http_parser_set_max_header_size(small ? 200 : SB_H1P_MAX_HEAD);

  side ref, neu;
  side_init(&ref, head);
  side_init(&neu, head);
  http_parser hp;
  http_parser_init(&hp, HTTP_RESPONSE);
  hp.data = &ref;
  sb_h1p h;
  sb_h1p_init(&h, head, &new_sink, &neu);
  if (small) h.max_head = 200;

  int ref_err = 0, new_err = 0;
  for (size_t off = 0; off < size && !ref.done && !ref_err;) {
    size_t n = size - off;
    if (maxpiece) {
      rng = rng * 1103515245u + 12345u;
      size_t want = 1 + (rng >> 16) % maxpiece;
      if (want < n) n = want;
    }
    const char *p = (const char *)data + off;
    size_t got = http_parser_execute(&hp, &ref_settings, p, n);
    if (ref.done) ref.done_at = off + got;
    else if (HTTP_PARSER_ERRNO(&hp) != HPE_OK || got != n) ref_err = 1;
    size_t used = 0;
    int r = sb_h1p_feed(&h, p, n, &used);
    if (r == SB_H1P_DONE) neu.done = 1, neu.done_at = off + used;
    new_err = r < 0;
    if (ref_err != new_err) differ(ref_err ? "an error (http-parser fails)" : "an error (sb_h1p fails)",
                                   data, size);
    if (!ref_err) compare(&ref, &neu, data, size);
    off += n;
  }
  if (ref.done) {
    if (http_should_keep_alive(&hp) != sb_h1p_keep_alive(&h)) differ("keep-alive", data, size);
  } else if (!ref_err) { /* EOF */
    http_parser_execute(&hp, &ref_settings, NULL, 0);
    int new_done = sb_h1p_eof(&h) == SB_H1P_DONE;
    if (ref.done != new_done) differ("completion at EOF", data, size);
    if (ref.interim != neu.interim) differ("1xx count at EOF", data, size);
  }
  side_clear(&ref);
  side_clear(&neu);
  return 0;
}
