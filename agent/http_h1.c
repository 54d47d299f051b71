/* HTTP/1.1 on one connection, responses parsed by agent/h1_parse.c: one exchange at a time (no
 * pipelining, as Go's transport), keep-alive unless either side says close, chunked bodies both ways, 1xx
 * interim responses skipped, HTTP/1.0 replies reported as such.
 *
 * The connection's protocol state is simply the exchange it carries (k->ps), so the protocol
 * allocates nothing of its own. The request bytes are built once into x->out, so a request that
 * dies on a reused connection before any response byte can be replayed on a fresh one, as Go's
 * transport does for idempotent methods. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "agent/http_internal.h"


static int h_attach(sb_conn *k) {
  k->ps = NULL;
  return 0;
}

static void h_detach(sb_conn *k) {
  k->ps = NULL;
}

static int h_can_take(const sb_conn *k) {
  return k->nactive == 0 && k->reusable && !k->ps;
}

/* The value of the caller's header |name| in |x|, or NULL. */
static const char *req_header(const sb_xfer *x, const char *name) {
  const char *p = x->hdr.data;
  for (size_t i = 0; i < x->nhdr; i++) {
    const char *v = p + strlen(p) + 1;
    if (strcasecmp(p, name) == 0) return v;
    p = v + strlen(v) + 1;
  }
  return NULL;
}

/* Appends |v| in decimal (no printf on the per-request path). */
static int put_u(sb_buf *b, size_t v) {
  char d[24];
  int i = (int)sizeof(d);
  do
    d[--i] = (char)('0' + v % 10);
  while ((v /= 10) && i > 0);
  return sb_buf_append(b, d + i, sizeof(d) - (size_t)i);
}

/* Appends "name: value\r\n". */
static int put_header(sb_buf *b, const char *name, const char *value) {
  return sb_buf_puts(b, name) | sb_buf_append(b, ": ", 2) | sb_buf_puts(b, value) |
         sb_buf_append(b, "\r\n", 2);
}

/* Writes the request line, headers and body into x->out. Returns 0 or SB_ENOMEM. */
static int build(sb_xfer *x) {
  sb_buf *b = &x->out;
  const sb_http_config *cfg = sb_http_shared_config(sb_http_client_shared(x->c));
  const char *te = req_header(x, "Transfer-Encoding");
  int chunked = te && strcasecmp(te, "chunked") == 0;
  int r = 0;
  sb_buf_reset(b);
  r |= sb_buf_puts(b, x->method) | sb_buf_append(b, " ", 1) | sb_buf_puts(b, x->target.data) |
       sb_buf_append(b, " HTTP/1.1\r\n", 11);
  if (!req_header(x, "Host")) {
    r |= sb_buf_append(b, "Host: ", 6);
    r |= x->v6 ? sb_buf_append(b, "[", 1) | sb_buf_puts(b, x->host) | sb_buf_append(b, "]", 1)
               : sb_buf_puts(b, x->host);
    if (x->port != (x->tls ? 443 : 80)) r |= sb_buf_append(b, ":", 1) | put_u(b, (size_t)x->port);
    r |= sb_buf_append(b, "\r\n", 2);
  }
  if (!req_header(x, "User-Agent")) {
    const char *ua = sb_http_user_agent(cfg);
    if (*ua) r |= put_header(b, "User-Agent", ua);
  }
  const char *p = x->hdr.data;
  for (size_t i = 0; i < x->nhdr; i++) {
    const char *v = p + strlen(p) + 1;
    r |= put_header(b, p, v);
    p = v + strlen(v) + 1;
  }
  int want_len = x->body.len || !strcmp(x->method, "POST") || !strcmp(x->method, "PUT") ||
                 !strcmp(x->method, "PATCH");
  if (want_len && !chunked && !req_header(x, "Content-Length"))
    r |= sb_buf_append(b, "Content-Length: ", 16) | put_u(b, x->body.len) |
         sb_buf_append(b, "\r\n", 2);
  if (x->no_reuse && !req_header(x, "Connection")) r |= sb_buf_puts(b, "Connection: close\r\n");
  r |= sb_buf_puts(b, "\r\n");
  if (chunked) {
    if (x->body.len) r |= sb_buf_printf(b, "%zx\r\n", x->body.len);
    if (x->body.len) r |= sb_buf_append(b, x->body.data, x->body.len);
    r |= sb_buf_puts(b, x->body.len ? "\r\n0\r\n\r\n" : "0\r\n\r\n");
  } else if (x->body.len) {
    r |= sb_buf_append(b, x->body.data, x->body.len);
  }
  return r ? SB_ENOMEM : 0;
}

/* --- response parsing (agent/h1_parse.h) ------------------------------------------------ */

static int on_begin(void *ud) {
  sb_xfer *x = ud;
  x->hstate = 0;
  x->res->nheaders = 0;
  x->res->reason[0] = '\0';
  sb_buf_reset(&x->res->head);
  sb_buf_reset(&x->res->hdrs);
  sb_buf_reset(&x->res->body);
  if (x->interim) sb_xfer_first_byte(x); /* the final response after a 1xx starts waiting's end */
  return 0;
}

/* The reason phrase, as Go keeps it for k6's status_text (pieces are appended, bounded). */
static int on_reason(void *ud, const char *at, size_t len) {
  sb_xfer *x = ud;
  size_t have = strlen(x->res->reason), room = sizeof(x->res->reason) - 1 - have;
  if (len > room) len = room;
  memcpy(x->res->reason + have, at, len);
  x->res->reason[have + len] = '\0';
  return 0;
}

static int on_header(void *ud, int which, const char *at, size_t len) {
  sb_xfer *x = ud;
  return sb_res_header_piece(x->res, &x->hstate, which, at, len) < 0 ? -1 : 0;
}

static int on_head_done(void *ud, const sb_h1p *h) {
  sb_xfer *x = ud;
  sb_res_headers_done(x->res, x->hstate);
  x->hstate = 3;
  x->res->status = h->status;
  x->res->proto = h->major == 1 && h->minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  return 0;
}

static int on_body(void *ud, const char *at, size_t len) {
  sb_xfer *x = ud;
  if (x->discard) return 0;
  return sb_buf_append(&x->res->body, at, len) < 0 ? -1 : 0;
}

/* A 1xx interim response (not 101) is skipped: the final response follows on the same stream,
 * and k6's waiting runs to its first byte, so the interim one does not shorten it. */
static int on_interim(void *ud, const sb_h1p *h) {
  sb_xfer *x = ud;
  x->interim = 1;
  x->t_first = 0;
  x->got_byte = 0;
  return 0;
}

static const sb_h1p_sink sink = {
    .begin = on_begin,
    .reason = on_reason,
    .header = on_header,
    .head_done = on_head_done,
    .body = on_body,
    .interim = on_interim,
};

/* Feeds |len| bytes to the parser. Returns 0 to go on, 1 when the response is done, -1 on a
 * parse error. */
static int feed(sb_xfer *x, const char *data, size_t len) {
  size_t used;
  int r = sb_h1p_feed(&x->parser, data, len, &used);
  if (r == SB_H1P_DONE) {
    x->leftover = used < len;
    return 1;
  }
  return r < 0 ? -1 : 0;
}

/* --- the protocol ------------------------------------------------------------------------ */

static int h_submit(sb_conn *k, sb_xfer *x) {
  if (build(x) < 0) return SB_ENOMEM;
  k->ps = x;
  sb_h1p_init(&x->parser, x->head, &sink, x);
  x->hstate = 0;
  x->res->bytes_sent = x->out.len;
  double t = sb_xfer_now_ms();
  int r = sb_conn_write(k, x->out.data, x->out.len);
  if (r < 0) {
    k->ps = NULL;
    return SB_ENOMEM;
  }
  if (r == 1) sb_xfer_sent_at(x, t); /* written whole at once */
  return 0;
}

static void h_on_write(sb_conn *k) {
  sb_xfer *x = k->ps;
  if (x && evbuffer_get_length(bufferevent_get_output(k->bev)) == 0) sb_xfer_sent(x);
}

/* What feed() said (r: 0 more to come, 1 complete, < 0 malformed) of the bytes read so far;
 * |more|: bytes are left unread after them. */
static void h_read_done(sb_conn *k, sb_xfer *x, int r, int more) {
  if (r == 0) return;
  k->ps = NULL;
  if (r == 1) {
    if (x->leftover || more || !sb_h1p_keep_alive(&x->parser))
      sb_conn_not_reusable(k);
    sb_xfer_finish(x, 0, NULL);
  } else {
    sb_conn_not_reusable(k);
    sb_xfer_finish(x, SB_HTTP_ERR_PROTOCOL, "malformed HTTP response");
  }
}

static void h_on_read(sb_conn *k) {
  sb_xfer *x = k->ps;
  struct evbuffer *in = bufferevent_get_input(k->bev);
  if (!x) { /* bytes on an idle connection: the stream is out of step */
    sb_conn_free(k);
    return;
  }
  sb_xfer_first_byte(x);
  int r = 0;
  while (evbuffer_get_length(in) > 0 && r == 0) {
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
    x->res->bytes_received += v.iov_len;
    r = feed(x, v.iov_base, v.iov_len);
    evbuffer_drain(in, v.iov_len);
  }
  h_read_done(k, x, r, evbuffer_get_length(in) > 0);
}

/* The same for bytes read straight from a plain socket (nothing waits in the input buffer). */
static void h_on_bytes(sb_conn *k, const char *p, size_t n) {
  sb_xfer *x = k->ps;
  if (!x) {
    sb_conn_free(k);
    return;
  }
  sb_xfer_first_byte(x);
  x->res->bytes_received += n;
  h_read_done(k, x, feed(x, p, n), 0);
}

/* The connection hit EOF (|code| == 0) or failed with k6's |code| and |msg|: completes a read-until-close response,
 * replays the request once, or fails it. */
static void h_on_close(sb_conn *k, int code, const char *msg) {
  sb_xfer *x = k->ps;
  sb_conn_not_reusable(k);
  if (!x) return;
  if (!x->got_byte && sb_xfer_retry(x)) {
    k->ps = NULL;
    return;
  }
  k->ps = NULL;
  if (code == 0) {
    if (x->got_byte && sb_h1p_eof(&x->parser) == SB_H1P_DONE) {
      sb_xfer_finish(x, 0, NULL);
      return;
    }
    code = SB_HTTP_ERR_EOF;
    msg = x->got_byte ? "unexpected EOF" : "EOF";
  }
  sb_xfer_finish(x, code, msg);
}

static void h_cancel(sb_conn *k, sb_xfer *x) {
  if (k->ps == x) k->ps = NULL;
  sb_conn_not_reusable(k);
}

const sb_http_proto sb_http_h1 = {
    .name = "HTTP/1.1",
    .attach = h_attach,
    .detach = h_detach,
    .can_take = h_can_take,
    .submit = h_submit,
    .on_read = h_on_read,
    .on_bytes = h_on_bytes,
    .on_write = h_on_write,
    .on_close = h_on_close,
    .cancel = h_cancel,
};
