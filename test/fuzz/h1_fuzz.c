/* Fuzz target: an HTTP/1.1 server's bytes, through the real protocol code (agent/http_h1.c's
 * vtable, agent/h1_parse.c) and the client's completion (sb_xfer_finish: header block, content
 * decoding), on a fake connection: a bufferevent without a socket, whose input the harness fills
 * as reads would. No socket, no DNS, no loop run: the request is written to the fake output and
 * forgotten.
 *
 * Input: one flags byte (bit 0: a HEAD request; bit 1: discard the body; bits 4-6: the reads are
 * 2^n bytes, 0 = all at once; bit 7: handed over directly (on_bytes, a plain connection's path)
 * instead of through the input buffer), then the server's bytes; EOF follows them. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_internal.h"
#include "test/fuzz/fuzz.h"

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
  sb_http_res_header(res, "Content-Type", NULL);
  if (strlen(res->reason) >= sizeof(res->reason)) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  base = event_base_new();
  if (!base || sb_http_client_new(&client, base, NULL) < 0) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t flags = data[0];
  data++, size--;
  sb_http_res res;
  sb_http_res_init(&res);

  sb_xfer *x = xfer_get(client);
  x->res = &res;
  strcpy(x->method, flags & 1 ? "HEAD" : "GET");
  strcpy(x->host, "example.com");
  x->port = 80;
  sb_buf_reset(&x->target);
  sb_buf_puts(&x->target, "/");
  sb_buf_reset(&x->hdr);
  x->nhdr = 0;
  sb_buf_reset(&x->body);
  x->head = flags & 1;
  x->discard = (flags >> 1) & 1;
  x->idempotent = x->no_reuse = x->retried = x->got_byte = x->sent = 0;
  x->leftover = x->interim = 0;
  x->t_write = x->t_sent = x->t_first = 0;
  x->cb = on_done;

  sb_conn *k = calloc(1, sizeof(*k));
  if (!k) abort();
  k->c = client;
  k->fd = -1;
  k->bev = bufferevent_socket_new(base, -1, 0);
  k->state = CONN_READY;
  k->reusable = 1;
  k->proto = &sb_http_h1;
  if (!k->bev || k->proto->attach(k) < 0) abort();
  k->in_cb = 1; /* as in the connection's callbacks: a close only marks it dead */
  x->k = k;
  k->nactive = 1;
  completed = 0;
  if (k->proto->submit(k, x) < 0) abort();

  size_t piece = (flags >> 4) & 7 ? (size_t)1 << ((flags >> 4) & 7) : size;
  struct evbuffer *in = bufferevent_get_input(k->bev);
  evbuffer_unfreeze(in, 0); /* a socket bufferevent keeps its input closed to others until it reads */
  int direct = (flags >> 7) & 1; /* bytes handed over as a plain connection's recv() does */
  for (size_t off = 0; off < size && !completed && !k->dead; off += piece) {
    size_t n = size - off < piece ? size - off : piece;
    if (direct) {
      k->proto->on_bytes(k, (const char *)data + off, n);
      continue;
    }
    if (evbuffer_add(in, data + off, n) < 0) abort();
    k->proto->on_read(k);
  }
  if (!completed && !k->dead) k->proto->on_close(k, 0, NULL);
  if (!completed) abort(); /* every exchange must end, one way or another */

  k->in_cb = 0;
  k->dead = 0;
  sb_conn_free(k);
  event_base_loop(base, EVLOOP_NONBLOCK); /* bufferevents are freed from the loop */
  sb_http_res_clear(&res);
  return 0;
}
