/* Fuzz target: an HTTP/2 server's frames, through the real protocol code (agent/http_h2.c's
 * vtable, nghttp2) and the client's completion (sb_xfer_finish: header block, content decoding),
 * on a fake connection: a bufferevent without a socket, whose input the harness fills as reads
 * would. The client's preface, SETTINGS and requests go to the fake output and are forgotten.
 *
 * Input: one flags byte (bits 0-1: 1 to 3 requests on streams 1, 3, 5; bit 2: discard bodies;
 * bit 3: the last request is a POST with a body; bits 4-6: the reads are 2^n bytes, 0 = all at
 * once), then the server's frames, after a server preface (an empty SETTINGS frame) the harness
 * sends first; EOF follows them. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_internal.h"
#include "test/fuzz/fuzz.h"

#define MAX_REQ 3

static struct event_base *base;
static sb_http_client *client;
static int completed;

static void on_timer(evutil_socket_t fd, short what, void *arg) {}

/* An exchange as the client's xfer_get() makes one (reused through its free list). */
static sb_xfer *xfer_get(sb_http_client *c) {
  sb_xfer *x = c->free_xfers;
  if (x) {
    c->free_xfers = x->next;
  } else {
    if (!(x = calloc(1, sizeof(*x)))) abort();
    x->c = c;
    sb_buf_init(&x->target);
    sb_buf_init(&x->hdr);
    sb_buf_init(&x->body);
    sb_buf_init(&x->out);
    sb_buf_init(&x->nv);
    evtimer_assign(&x->timer, base, on_timer, x);
    evtimer_assign(&x->defer, base, on_timer, x);
  }
  x->next = NULL;
  x->inext = c->inflight;
  c->inflight = x;
  return x;
}

/* Reads every byte the response claims to have, so ASan checks the pointers. */
static void on_done(sb_http_res *res, void *ud) {
  volatile size_t sum = 0;
  (void)sum;
  completed++;
  if (getenv("FUZZ_DEBUG")) /* FUZZ_DEBUG=1 ./h1_fuzz FILE: what the client made of it */
    fprintf(stderr, "status %d, %zu headers, %zu body bytes, error %d %s\n", res->status,
            res->nheaders, res->body.len, res->error_code, res->error ? res->error : "-");
  if (res->error) return;
  for (size_t i = 0; i < res->nheaders; i++) {
    const sb_http_header *h = &res->headers[i];
    for (size_t j = 0; j < h->name_len; j++) sum += (unsigned char)h->name[j];
    for (size_t j = 0; j < h->value_len; j++) sum += (unsigned char)h->value[j];
  }
  for (size_t j = 0; j < res->body.len; j++) sum += (unsigned char)res->body.data[j];
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  base = event_base_new();
  if (!base || sb_http_client_new(&client, base, NULL) < 0) abort();
  return 0;
}

static sb_xfer *request(sb_conn *k, sb_http_res *res, int post, int discard) {
  sb_xfer *x = xfer_get(client);
  x->res = res;
  strcpy(x->method, post ? "POST" : "GET");
  strcpy(x->host, "example.com");
  x->port = 443;
  x->tls = 1;
  sb_buf_reset(&x->target);
  sb_buf_puts(&x->target, "/");
  sb_buf_reset(&x->hdr);
  x->nhdr = 0;
  sb_buf_reset(&x->body);
  if (post) sb_buf_puts(&x->body, "{\"a\":1}");
  x->head = 0;
  x->discard = discard;
  x->idempotent = x->no_reuse = x->got_byte = x->sent = 0;
  x->retried = 3; /* a refused stream fails here: a retry would dial a real connection */
  x->t_write = x->t_sent = x->t_first = 0;
  x->stream_id = -1;
  x->cb = on_done;
  x->k = k;
  k->nactive++;
  if (k->proto->submit(k, x) < 0) abort();
  return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t preface[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0}; /* SETTINGS, empty */
  if (size < 1) return 0;
  uint8_t flags = data[0];
  data++, size--;
  int nreq = 1 + (flags & 3) % MAX_REQ;
  sb_http_res res[MAX_REQ];

  sb_conn *k = calloc(1, sizeof(*k));
  if (!k) abort();
  k->c = client;
  k->fd = -1;
  k->bev = bufferevent_socket_new(base, -1, 0);
  k->state = CONN_READY;
  k->reusable = 1;
  k->proto = &sb_http_h2;
  if (!k->bev || k->proto->attach(k) < 0) abort();
  k->in_cb = 1; /* as in the connection's callbacks: a close only marks it dead */
  completed = 0;
  for (int i = 0; i < nreq; i++) {
    sb_http_res_init(&res[i]);
    request(k, &res[i], (flags & 8) && i == nreq - 1, (flags >> 2) & 1);
  }

  struct evbuffer *in = bufferevent_get_input(k->bev);
  evbuffer_unfreeze(in, 0); /* a socket bufferevent keeps its input closed to others until it reads */
  if (evbuffer_add(in, preface, sizeof(preface)) < 0) abort();
  size_t piece = (flags >> 4) & 7 ? (size_t)1 << ((flags >> 4) & 7) : size;
  for (size_t off = 0; off < size && completed < nreq && !k->dead; off += piece) {
    size_t n = size - off < piece ? size - off : piece;
    if (evbuffer_add(in, data + off, n) < 0) abort();
    k->proto->on_read(k);
  }
  if (completed < nreq && !k->dead) k->proto->on_close(k, 0, NULL);
  if (completed != nreq) abort(); /* every exchange must end exactly once */

  k->in_cb = 0;
  k->dead = 0;
  sb_conn_free(k);
  event_base_loop(base, EVLOOP_NONBLOCK); /* bufferevents are freed from the loop */
  for (int i = 0; i < nreq; i++) sb_http_res_clear(&res[i]);
  return 0;
}
