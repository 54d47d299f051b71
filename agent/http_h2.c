/* HTTP/2 on one TLS connection (chosen by ALPN), with nghttp2: many exchanges at once, one stream
 * each, so http.batch() to one host runs its requests concurrently over one connection.
 *
 * nghttp2 does the framing; this file moves bytes between it and the bufferevent
 * (nghttp2_session_mem_recv / mem_send) and between its callbacks and the exchanges (the stream's
 * user data). Streams that close during mem_recv are finished only after it returns — finishing
 * wakes the VU, whose script may submit new requests on this very session — and an exchange the
 * VU cancels meanwhile is taken off that list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "agent/http_internal.h"

#define STREAM_WINDOW (16 << 20)
#define CONN_WINDOW (1 << 30)
#define REFUSED (-1) /* a done exchange the server refused unprocessed */

typedef struct h2 {
  nghttp2_session *s;
  sb_conn *k;
  sb_xfer *done;       /* closed during mem_recv, finished after it (through x->next) */
  int in_recv;
  int goaway;
  uint32_t goaway_code;
} h2;

static void push_done(h2 *h, sb_xfer *x, int code) {
  x->err_code = code;
  x->next = h->done;
  h->done = x;
}

/* --- nghttp2 callbacks ------------------------------------------------------------------- */

static sb_xfer *stream_xfer(nghttp2_session *s, int32_t id) {
  return id > 0 ? nghttp2_session_get_stream_user_data(s, id) : NULL;
}

/* A HEADERS block starts: the response's (after any 1xx, which on_frame_recv forgets), or the
 * trailers after it, which must leave the finished header state alone: their fields are ignored
 * (as on HTTP/1.1) by sb_res_header_piece() while hstate is 3. */
static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  sb_xfer *x = stream_xfer(s, f->hd.stream_id);
  if (x && f->hd.type == NGHTTP2_HEADERS && x->hstate != 3) {
    sb_xfer_first_byte(x);
    x->hstate = 0;
  }
  return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
  sb_xfer *x = stream_xfer(s, f->hd.stream_id);
  if (!x || f->hd.type != NGHTTP2_HEADERS) return 0;
  if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
    int st = 0;
    for (size_t i = 0; i < vlen && value[i] >= '0' && value[i] <= '9'; i++)
      st = st * 10 + (value[i] - '0');
    x->res->status = st;
    return 0;
  }
  if (nlen && name[0] == ':') return 0;
  if (sb_res_header_piece(x->res, &x->hstate, 1, (const char *)name, nlen) < 0 ||
      sb_res_header_piece(x->res, &x->hstate, 2, (const char *)value, vlen) < 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  h2 *h = ud;
  if (f->hd.type == NGHTTP2_GOAWAY) {
    h->goaway = 1;
    h->goaway_code = f->goaway.error_code;
    sb_conn_not_reusable(h->k);
    return 0;
  }
  sb_xfer *x = stream_xfer(s, f->hd.stream_id);
  if (!x) return 0;
  x->res->bytes_received += f->hd.length + 9;
  if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_HEADERS) &&
      x->hstate != 3) {
    if (x->res->status / 100 == 1) { /* interim: forget it, the final headers follow */
      x->res->status = 0;
      x->res->nheaders = 0;
      sb_buf_reset(&x->res->head);
      sb_buf_reset(&x->res->hdrs);
      x->got_byte = 0;
      x->t_first = 0;
      return 0;
    }
    sb_res_headers_done(x->res, x->hstate);
    x->hstate = 3;
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  sb_xfer *x = stream_xfer(s, id);
  if (!x || x->discard) return 0;
  return sb_buf_append(&x->res->body, data, len) < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  sb_xfer *x = stream_xfer(s, f->hd.stream_id);
  if (!x) return 0;
  x->res->bytes_sent += f->hd.length + 9;
  if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) sb_xfer_sent(x);
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud) {
  h2 *h = ud;
  sb_xfer *x = stream_xfer(s, id);
  if (!x) return 0;
  nghttp2_session_set_stream_user_data(s, id, NULL);
  x->stream_id = -1;
  int code = 0;
  if (err == NGHTTP2_REFUSED_STREAM && x->hstate == 0)
    code = REFUSED; /* never processed: sent again on a fresh connection after mem_recv */
  else if (err != NGHTTP2_NO_ERROR || x->hstate != 3)
    code = SB_HTTP_ERR_H2_STREAM + 1 + (int)(err <= 13 ? err : 0);
  push_done(h, x, code);
  return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  sb_xfer *x = src->ptr;
  size_t left = x->body.len - x->body_off;
  size_t n = left < len ? left : len;
  if (n) memcpy(buf, x->body.data + x->body_off, n);
  x->body_off += n;
  if (x->body_off == x->body.len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* --- moving bytes ------------------------------------------------------------------------ */

/* Writes everything nghttp2 has to send. Returns 0 or -1 (session error). */
static int flush(h2 *h) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(h->s, &data);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (sb_conn_write(h->k, data, (size_t)n) < 0) return -1;
  }
}

/* Finishes the exchanges whose streams closed. */
static void finish_done(h2 *h) {
  while (h->done) {
    sb_xfer *x = h->done;
    h->done = x->next;
    x->next = NULL;
    int code = x->err_code;
    if (code == REFUSED) {
      if (sb_xfer_requeue(x)) continue;
      code = h->goaway ? SB_HTTP_ERR_H2_GOAWAY + 1 + (int)(h->goaway_code <= 13 ? h->goaway_code : 0)
                       : SB_HTTP_ERR_H2_STREAM + 1 + NGHTTP2_REFUSED_STREAM;
    }
    if (code >= SB_HTTP_ERR_H2_GOAWAY && code < SB_HTTP_ERR_H2_STREAM)
      snprintf(x->res->errbuf, sizeof(x->res->errbuf), "http2: received GoAway with http2 ErrCode %s",
               nghttp2_http2_strerror((uint32_t)(code - SB_HTTP_ERR_H2_GOAWAY - 1)));
    else if (code)
      snprintf(x->res->errbuf, sizeof(x->res->errbuf), "http2: stream error with http2 ErrCode %s",
               nghttp2_http2_strerror((uint32_t)(code - SB_HTTP_ERR_H2_STREAM - 1)));
    sb_xfer_finish(x, code, code ? x->res->errbuf : NULL);
  }
}

/* Fails every exchange still on the session (the connection is going away). */
static void fail_all(h2 *h, int code, const char *msg) {
  finish_done(h);
  for (;;) {
    sb_xfer *x = NULL;
    for (sb_xfer *i = h->k->c->inflight; i; i = i->inext)
      if (i->k == h->k) x = i;
    if (!x) return;
    if (x->stream_id > 0) nghttp2_session_set_stream_user_data(h->s, x->stream_id, NULL);
    x->stream_id = -1;
    sb_xfer_finish(x, code, msg);
  }
}

/* --- the protocol ------------------------------------------------------------------------ */

static int h_attach(sb_conn *k) {
  h2 *h = calloc(1, sizeof(*h));
  nghttp2_session_callbacks *cbs;
  if (!h) return SB_ENOMEM;
  h->k = k;
  if (nghttp2_session_callbacks_new(&cbs) != 0) goto fail_cbs;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  int r = nghttp2_session_client_new(&h->s, cbs, h);
  nghttp2_session_callbacks_del(cbs);
  if (r != 0) goto fail_cbs;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW}};
  nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, 2);
  nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
  k->ps = h;
  return 0;
fail_cbs:
  free(h);
  return SB_ENOMEM;
}

static void h_detach(sb_conn *k) {
  h2 *h = k->ps;
  if (!h) return;
  nghttp2_session_del(h->s);
  free(h);
  k->ps = NULL;
}

static int h_can_take(const sb_conn *k) {
  const h2 *h = k->ps;
  if (!h || h->goaway || !k->reusable) return 0;
  uint32_t max = nghttp2_session_get_remote_settings(h->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return (uint32_t)k->nactive < max;
}

/* Appends |s| lower-cased (HTTP/2 header names are). */
static int put_lower(sb_buf *b, const char *s, size_t n) {
  if (sb_buf_reserve(b, n + 1) < 0) return -1;
  for (size_t i = 0; i < n; i++)
    b->data[b->len + i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i];
  b->len += n;
  b->data[b->len++] = '\0';
  return 0;
}

static int skip_header(const char *lname) {
  return !strcmp(lname, "connection") || !strcmp(lname, "keep-alive") ||
         !strcmp(lname, "proxy-connection") || !strcmp(lname, "transfer-encoding") ||
         !strcmp(lname, "upgrade") || !strcmp(lname, "host");
}

/* Builds the header strings into x->out ("name\0value\0" pairs, pseudo-headers first) and
 * returns their count, or -1. */
static int build_strings(sb_xfer *x) {
  sb_buf *b = &x->out;
  const sb_http_config *cfg = sb_http_shared_config(sb_http_client_shared(x->c));
  const char *host_hdr = NULL, *ua_hdr = NULL;
  int n = 4, r = 0;
  const char *p = x->hdr.data;
  for (size_t i = 0; i < x->nhdr; i++, p += strlen(p) + 1, p += strlen(p) + 1) {
    if (!strcasecmp(p, "host")) host_hdr = p + strlen(p) + 1;
    if (!strcasecmp(p, "user-agent")) ua_hdr = p;
  }
  sb_buf_reset(b);
  r |= sb_buf_append(b, ":method", 8) | sb_buf_append(b, x->method, strlen(x->method) + 1);
  r |= sb_buf_append(b, ":scheme", 8) | sb_buf_append(b, "https", 6);
  r |= sb_buf_append(b, ":authority", 11);
  if (host_hdr)
    r |= sb_buf_append(b, host_hdr, strlen(host_hdr) + 1);
  else if (x->port == 443)
    r |= sb_buf_printf(b, x->v6 ? "[%s]" : "%s", x->host) | sb_buf_append(b, "", 1);
  else
    r |= sb_buf_printf(b, x->v6 ? "[%s]:%d" : "%s:%d", x->host, x->port) | sb_buf_append(b, "", 1);
  r |= sb_buf_append(b, ":path", 6) | sb_buf_append(b, x->target.data, x->target.len + 1);
  p = x->hdr.data;
  for (size_t i = 0; i < x->nhdr; i++) {
    const char *v = p + strlen(p) + 1;
    size_t at = b->len;
    r |= put_lower(b, p, strlen(p));
    if (!r && skip_header(b->data + at)) {
      b->len = at;
    } else {
      r |= sb_buf_append(b, v, strlen(v) + 1);
      n++;
    }
    p = v + strlen(v) + 1;
  }
  const char *ua = sb_http_user_agent(cfg);
  if (!ua_hdr && *ua) r |= sb_buf_append(b, "user-agent", 11) | sb_buf_append(b, ua, strlen(ua) + 1), n++;
  return r ? -1 : n;
}

static int h_submit(sb_conn *k, sb_xfer *x) {
  h2 *h = k->ps;
  int n = build_strings(x);
  if (n < 0) return SB_ENOMEM;
  sb_buf_reset(&x->nv);
  if (sb_buf_reserve(&x->nv, (size_t)n * sizeof(nghttp2_nv)) < 0) return SB_ENOMEM;
  nghttp2_nv *nv = (nghttp2_nv *)x->nv.data;
  const char *p = x->out.data;
  for (int i = 0; i < n; i++) {
    size_t nl = strlen(p), vl = strlen(p + nl + 1);
    nv[i] = (nghttp2_nv){(uint8_t *)p, (uint8_t *)p + nl + 1, nl, vl, NGHTTP2_NV_FLAG_NONE};
    p += nl + 1 + vl + 1;
  }
  nghttp2_data_provider dp = {.source.ptr = x, .read_callback = read_body};
  x->body_off = 0;
  x->hstate = 0;
  int32_t id = nghttp2_submit_request(h->s, NULL, nv, (size_t)n, x->body.len ? &dp : NULL, x);
  if (id < 0) return SB_ENOMEM;
  x->stream_id = id;
  if (!h->in_recv && flush(h) < 0) sb_conn_not_reusable(k);
  return 0;
}

static void h_on_read(sb_conn *k) {
  h2 *h = k->ps;
  struct evbuffer *in = bufferevent_get_input(k->bev);
  ssize_t r = 0;
  h->in_recv = 1;
  while (evbuffer_get_length(in) > 0) {
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
    r = nghttp2_session_mem_recv(h->s, v.iov_base, v.iov_len);
    if (r < 0) break;
    evbuffer_drain(in, v.iov_len);
  }
  h->in_recv = 0;
  if (r < 0 || flush(h) < 0) {
    sb_conn_not_reusable(k);
    fail_all(h, SB_HTTP_ERR_H2_CONNECTION + 2, "http2: connection error with http2 ErrCode PROTOCOL_ERROR");
    sb_conn_free(k);
    return;
  }
  finish_done(h);
  if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s) && k->nactive == 0)
    sb_conn_free(k);
}

static void h_on_write(sb_conn *k) {
  h2 *h = k->ps;
  if (h && !h->in_recv && flush(h) < 0) sb_conn_not_reusable(k);
}

static void h_on_close(sb_conn *k, int code, const char *msg) {
  h2 *h = k->ps;
  sb_conn_not_reusable(k);
  fail_all(h, code ? code : SB_HTTP_ERR_EOF, code ? msg : "unexpected EOF");
}

static void h_cancel(sb_conn *k, sb_xfer *x) {
  h2 *h = k->ps;
  for (sb_xfer **p = &h->done; *p; p = &(*p)->next)
    if (*p == x) {
      *p = x->next;
      x->next = NULL;
      return; /* its stream is closed already */
    }
  if (x->stream_id > 0) {
    nghttp2_session_set_stream_user_data(h->s, x->stream_id, NULL);
    nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_CANCEL);
    x->stream_id = -1;
    if (!h->in_recv) flush(h);
  }
}

const sb_http_proto sb_http_h2 = {
    .name = "HTTP/2.0",
    .attach = h_attach,
    .detach = h_detach,
    .can_take = h_can_take,
    .submit = h_submit,
    .on_read = h_on_read,
    .on_write = h_on_write,
    .on_close = h_on_close,
    .cancel = h_cancel,
};
