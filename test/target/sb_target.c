/* sb-target: the project's test target server (libevent evhttp, one thread, plain HTTP/1.1).
 *
 *   sb-target --listen 127.0.0.1:PORT [--any]
 *
 * Prints "listening 127.0.0.1:<port>" once bound (PORT 0 picks a free port). Binds only loopback
 * addresses unless --any. Exits cleanly on SIGTERM/SIGINT. Every request but /stats is counted.
 *
 * Any other path answers; query parameters: status=N (response status), delay=MS (answer after a
 * timer), size=N (body of N 'x' bytes), close=1 (Connection: close). Default: 200 {"ok":true}.
 * POST answers {"len":N} with the body length. The endpoints (JSON bodies unless said):
 *
 *   /stats                   {"requests":N}: requests other than /stats so far.
 *   /echo                    what the client sent: {"method","uri" (path+query as sent),"path",
 *                            "query","headers":[[name,value],...] (all, in order, repeats kept),
 *                            "header":{lowercased name: values joined by ", "},"body","len"}.
 *                            Body bytes that are not UTF-8 appear as \u00XX (one per byte).
 *                            With a Content-Encoding (gzip, deflate, br, zstd, identity; a list
 *                            is undone last first) also "decoded" (null if undecodable) and
 *                            "decoded_len".
 *   /redirect?n=N[&to=URL][&code=C][&rel=1]
 *                            a chain of N redirects (status C: 301/302/303/307/308, default 302)
 *                            ending at /echo, or at |to| (a path or any absolute URL, e.g. another
 *                            port or https). Locations are absolute (scheme from X-Forwarded-Proto,
 *                            else http; host from Host) unless rel=1. n=0 answers like /echo.
 *   /redirect-dots[/a/b]     302 to "../../x/./../echo?dots=1", which resolves to /echo (from
 *                            /redirect-dots/a/b without clamping at the root).
 *   /cookies/set?k=v&...     a Set-Cookie per pair; the keys path, domain, max-age, expires,
 *                            samesite (with values) and secure, httponly (flags) are attributes
 *                            added to every cookie; redirect=1 answers 302 to /cookies instead of
 *                            200 {"set":{k:v}}.
 *   /cookies/delete?k&...    Set-Cookie k=; Max-Age=0; Path=/ (expired) for each key.
 *   /cookies                 {"cookies":{name:value},"list":[[name,value],...],"header":"..."}
 *                            from every Cookie header received.
 *   /basic-auth/USER/PASS    401 + WWW-Authenticate: Basic, or 200 {"authenticated":true,"user"}.
 *   /digest-auth/QOP/USER/PASS[/ALGO]
 *                            RFC 7616 digest: QOP auth or auth-int, ALGO MD5 (default), SHA-256 or
 *                            SHA-512. 401 + a challenge (realm "sb-target", a nonce the server
 *                            can check, an opaque) until the Authorization response hash, user,
 *                            realm, uri, nonce, opaque and qop are right; then 200 as above.
 *   /gzip /deflate /br /zstd [?size=N]
 *                            {"encoding":E,"method":M,"data":"xxx..." (N x, default 1000)} with
 *                            that Content-Encoding (deflate is zlib-wrapped, RFC 1950).
 *   /chunked?size=N[&chunk=M] N bytes (default 10000) in chunks of M (default 1000), chunked.
 *   /huge?size=N             N bytes (default 10 MiB, max 256 MiB) with a Content-Length.
 *   /headers?n=N             N response headers X-Sb-1..N (default 200, max 10000).
 *   /slow?ms=N               200 {"ok":true} after N ms (as delay=N).
 *   /hang                    never answers; the connection stays open (idle timeout 1 h).
 *   /status/N                status N (100..599) with {"ok":true} (no body for 204/304).
 *   /continue[?ms=N][&early=1]
 *                            "HTTP/1.1 100 Continue" (or "103 Early Hints" with a Link header
 *                            when early=1) at once, then the real 200 after N ms (default 100).
 *   Raw endpoints (bytes written on the socket, then the connection freed), after ms=N (def. 0):
 *   /reset                   aborts the TCP connection with RST before answering.
 *   /garbage                 answers bytes that are not HTTP, then closes.
 *   /close-after-headers     200 headers with Content-Length: 1000, 10 body bytes, then closes.
 *   /http10[?nolen=1]        "HTTP/1.0 200 OK" {"http10":true} then closes (no Content-Length
 *                            with nolen=1: the body ends at the close). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define MAX_SIZE (256u << 20)
#define MAX_DELAY_MS (3600 * 1000)
#define REALM "sb-target"
#define OPAQUE "5ccc069c403ebaf9f0171e9517f40e41"

typedef struct target {
  struct event_base *base;
  struct evhttp *http;
  struct evbuffer *out;        /* reply body under construction; evhttp drains it */
  unsigned long long requests; /* requests served, /stats not counted */
  unsigned char secret[16];    /* signs digest nonces */
  char blk[4096];              /* filler bytes for sized bodies */
} target;

enum { RAW_NONE, RAW_RESET, RAW_GARBAGE, RAW_CLOSE_HDRS, RAW_HTTP10 };

/* A reply held back by a timer (delay=MS, /slow, /continue, raw endpoints with ms=); dropped if
 * the client goes away first (evhttp frees the request with its connection, so the timer must not
 * fire after that). Raw actions also run from here, outside evhttp's own callbacks, so that
 * freeing the connection cannot pull it from under evhttp. */
typedef struct pending {
  target *t;
  struct evhttp_request *req;
  struct event *ev;
  int raw;         /* RAW_* action, or RAW_NONE for a reply */
  int status;      /* reply status */
  size_t size;     /* reply body size, (size_t)-1 for {"ok":true} */
  int close;       /* Connection: close; for RAW_HTTP10, no Content-Length */
  int post;        /* answer {"len":N} */
  size_t post_len; /* request body length */
} pending;

typedef void handler_fn(target *t, struct evhttp_request *req, const char *path,
                        struct evkeyvalq *q);

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  default: return status < 400 ? "OK" : "Error";
  }
}

/* Sends t->out (left empty) with |status| and Content-Type |ctype| (none if NULL). */
static void send_out(target *t, struct evhttp_request *req, int status, const char *ctype) {
  if (ctype) evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
  evhttp_send_reply(req, status, reason(status), t->out);
}

static void add_filler(target *t, struct evbuffer *b, size_t size) {
  for (size_t i = 0; i < size; i += sizeof(t->blk))
    evbuffer_add(b, t->blk, size - i < sizeof(t->blk) ? size - i : sizeof(t->blk));
}

static void reply(target *t, struct evhttp_request *req, int status, size_t size, int close,
                  int post, size_t post_len) {
  struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
  const char *ctype = "application/json";
  if (post) {
    evbuffer_add_printf(t->out, "{\"len\":%zu}", post_len);
  } else if (size != (size_t)-1) {
    add_filler(t, t->out, size);
    ctype = "text/plain";
  } else {
    evbuffer_add_printf(t->out, "{\"ok\":true}");
  }
  if (close) evhttp_add_header(oh, "Connection", "close");
  send_out(t, req, status, ctype);
}

/* The socket under |req|'s connection. */
static evutil_socket_t req_fd(struct evhttp_request *req) {
  return bufferevent_getfd(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)));
}

/* Writes |s| straight to the socket, waiting up to a second for room. Only for replies evhttp
 * cannot make, while evhttp has nothing of its own queued on the connection. */
static void raw_send(evutil_socket_t fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w > 0) {
      s += w, n -= (size_t)w;
      continue;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    if (w < 0 && errno != EAGAIN && errno != EINTR) return;
    if (poll(&p, 1, 1000) <= 0) return;
  }
}

/* Runs a RAW_* action on |req|'s connection and frees the connection. */
static void raw_fire(int raw, int nolen, struct evhttp_request *req) {
  static const char garbage[] = "NOT-HTTP \x01\x02\x03 garbage\r\n\r\n";
  static const char hdrs[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 1000\r\n\r\n0123456789";
  static const char body10[] = "{\"http10\":true}";
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  evutil_socket_t fd = req_fd(req);
  char buf[256];
  if (raw == RAW_RESET) {
    /* connect(AF_UNSPEC) disconnects a TCP socket the abortive way: an RST goes out now, and
     * evhttp's shutdown()+close() afterwards find nothing left to send a FIN on. */
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    connect(fd, &sa, sizeof(sa));
  } else if (raw == RAW_GARBAGE) {
    raw_send(fd, garbage, sizeof(garbage) - 1);
  } else if (raw == RAW_CLOSE_HDRS) {
    raw_send(fd, hdrs, sizeof(hdrs) - 1);
  } else if (raw == RAW_HTTP10) {
    int n = nolen ? snprintf(buf, sizeof(buf),
                             "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n%s", body10)
                  : snprintf(buf, sizeof(buf),
                             "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n\r\n%s",
                             sizeof(body10) - 1, body10);
    raw_send(fd, buf, (size_t)n);
  }
  evhttp_connection_free(evcon);
}

static void pending_free(pending *p) {
  evhttp_connection_set_closecb(evhttp_request_get_connection(p->req), NULL, NULL);
  event_free(p->ev);
  free(p);
}

static void on_delay(evutil_socket_t fd, short what, void *arg) {
  pending *p = arg, c = *p;
  pending_free(p);
  if (c.raw != RAW_NONE) return raw_fire(c.raw, c.close, c.req);
  reply(c.t, c.req, c.status, c.size, c.close, c.post, c.post_len);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg) {
  pending_free(arg);
}

/* Runs |*tmpl| (a reply or a raw action) on |req| after |ms| milliseconds. */
static void defer(target *t, struct evhttp_request *req, long ms, const pending *tmpl) {
  pending *p = calloc(1, sizeof(*p));
  if (!p) return evhttp_send_error(req, 500, "out of memory");
  *p = *tmpl;
  p->t = t, p->req = req;
  p->ev = evtimer_new(t->base, on_delay, p);
  if (!p->ev) {
    free(p);
    return evhttp_send_error(req, 500, "out of memory");
  }
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  if (ms > 30000) evhttp_connection_set_timeout(evcon, (int)(ms / 1000) + 60);
  evhttp_connection_set_closecb(evcon, on_conn_close, p);
  evtimer_add(p->ev, &tv);
}

static long param(struct evkeyvalq *q, const char *name, long def, long max) {
  const char *v = evhttp_find_header(q, name);
  if (!v) return def;
  char *end;
  long n = strtol(v, &end, 10);
  if (end == v || n < 0) return def;
  return n > max ? max : n;
}

/* --- JSON ------------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at |s| (at most |n| bytes), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  size_t l = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
  if (l == 0 || l > n || s[0] >= 0xf5) return 0;
  for (size_t i = 1; i < l; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return l;
}

/* Appends |s| (|n| bytes) escaped for a JSON string, without quotes; bytes outside UTF-8 become
 * \u00XX. */
static void json_inner(struct evbuffer *b, const char *s, size_t n) {
  char tmp[4096 + 16];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    size_t l;
    if (k > 4096) evbuffer_add(b, tmp, k), k = 0;
    if (c == '"' || c == '\\') {
      tmp[k++] = '\\', tmp[k++] = (char)c;
    } else if (c >= 0x20 && c < 0x7f) {
      tmp[k++] = (char)c;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      tmp[k++] = '\\', tmp[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else if (c >= 0x80 && (l = utf8_len((const unsigned char *)s + i, n - i)) > 0) {
      memcpy(tmp + k, s + i, l), k += l, i += l - 1;
    } else {
      k += (size_t)sprintf(tmp + k, "\\u%04x", c);
    }
  }
  evbuffer_add(b, tmp, k);
}

static void json_str(struct evbuffer *b, const char *s, size_t n) {
  evbuffer_add(b, "\"", 1);
  json_inner(b, s, n);
  evbuffer_add(b, "\"", 1);
}

static void json_cstr(struct evbuffer *b, const char *s) {
  json_str(b, s ? s : "", s ? strlen(s) : 0);
}

static const char *method_name(enum evhttp_cmd_type c) {
  switch (c) {
  case EVHTTP_REQ_GET: return "GET";
  case EVHTTP_REQ_POST: return "POST";
  case EVHTTP_REQ_HEAD: return "HEAD";
  case EVHTTP_REQ_PUT: return "PUT";
  case EVHTTP_REQ_DELETE: return "DELETE";
  case EVHTTP_REQ_OPTIONS: return "OPTIONS";
  case EVHTTP_REQ_PATCH: return "PATCH";
  default: return "OTHER";
  }
}

/* --- /echo, /redirect ------------------------------------------------------------------------ */

/* Appends "header":{...}: each name once, lowercased, its values joined by ", ". */
static void echo_header_map(struct evbuffer *b, struct evkeyvalq *in) {
  char name[256];
  const char *sep = "";
  evbuffer_add_printf(b, ",\"header\":{");
  for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) {
    struct evkeyval *e = in->tqh_first;
    while (e != h && strcasecmp(e->key, h->key) != 0)
      e = e->next.tqe_next;
    if (e != h) continue; /* already written with its first occurrence */
    size_t i = 0;
    for (; h->key[i] && i < sizeof(name) - 1; i++)
      name[i] = (char)(h->key[i] | 0x20);
    name[i] = '\0';
    evbuffer_add_printf(b, "%s", sep), sep = ",";
    json_cstr(b, name);
    evbuffer_add_printf(b, ":\"");
    const char *vsep = "";
    for (e = h; e; e = e->next.tqe_next) {
      if (strcasecmp(e->key, h->key) != 0) continue;
      evbuffer_add_printf(b, "%s", vsep), vsep = ", ";
      json_inner(b, e->value, strlen(e->value));
    }
    evbuffer_add_printf(b, "\"");
  }
  evbuffer_add_printf(b, "}");
}

/* Decodes |n| bytes at |in| of content coding |enc| (gzip, x-gzip, deflate (zlib), br or zstd)
 * into a new buffer (the caller frees it) of *outlen bytes, at most 64 MiB. Returns NULL for an
 * unknown coding or bad data. */
static unsigned char *decode_one(const char *enc, const unsigned char *in, size_t n,
                                 size_t *outlen) {
  int zlib = !strcmp(enc, "gzip") || !strcmp(enc, "x-gzip") || !strcmp(enc, "deflate");
  if (!zlib && strcmp(enc, "br") && strcmp(enc, "zstd")) return NULL;
  for (size_t cap = 4 * n + 65536; cap <= (64u << 20); cap *= 2) {
    unsigned char *out = malloc(cap);
    size_t len = cap;
    int r = -1; /* 0 decoded, 1 needs a bigger buffer, -1 bad data */
    if (!out) return NULL;
    if (zlib) {
      z_stream z = {0};
      if (inflateInit2(&z, 32 + 15) == Z_OK) { /* 32: gzip or zlib header, detected */
        z.next_in = (Bytef *)in, z.avail_in = (uInt)n, z.next_out = out, z.avail_out = (uInt)cap;
        int zr = inflate(&z, Z_FINISH);
        r = zr == Z_STREAM_END ? 0 : zr == Z_BUF_ERROR && z.avail_out == 0 ? 1 : -1;
        len = z.total_out;
        inflateEnd(&z);
      }
    } else if (enc[0] == 'b') { /* one-shot brotli cannot tell bad data from a small buffer */
      r = BrotliDecoderDecompress(n, in, &len, out) == BROTLI_DECODER_RESULT_SUCCESS ? 0 : 1;
    } else {
      len = ZSTD_decompress(out, cap, in, n);
      r = !ZSTD_isError(len) ? 0 : ZSTD_getErrorCode(len) == ZSTD_error_dstSize_tooSmall ? 1 : -1;
    }
    if (r == 0) return *outlen = len, out;
    free(out);
    if (r < 0) break;
  }
  return NULL;
}

/* Appends ,"decoded":"..." (the body with every coding of Content-Encoding |ce| undone, last
 * applied first) and ,"decoded_len":N; "decoded":null if a coding is unknown or the data bad. */
static void echo_decoded(struct evbuffer *b, const char *ce, const unsigned char *body, size_t n) {
  char list[256];
  unsigned char *cur = NULL, *next;
  snprintf(list, sizeof(list), "%s", ce);
  for (char *end = list + strlen(list); end > list;) {
    char *tok = end;
    while (tok > list && tok[-1] != ',')
      tok--;
    char *stop = tok > list ? tok - 1 : list;
    while (*tok == ' ')
      tok++;
    while (end > tok && end[-1] == ' ')
      end--;
    *end = '\0';
    if (*tok && strcasecmp(tok, "identity")) {
      next = decode_one(tok, cur ? cur : body, n, &n);
      free(cur);
      if (!(cur = next)) return (void)evbuffer_add_printf(b, ",\"decoded\":null");
    }
    end = stop;
  }
  evbuffer_add_printf(b, ",\"decoded\":");
  json_str(b, (const char *)(cur ? cur : body), n);
  evbuffer_add_printf(b, ",\"decoded_len\":%zu", n);
  free(cur);
}

static void h_echo(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  struct evbuffer *b = t->out, *body = evhttp_request_get_input_buffer(req);
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
  size_t len = evbuffer_get_length(body);
  evbuffer_add_printf(b,
                      "{\"method\":\"%s\",\"uri\":", method_name(evhttp_request_get_command(req)));
  json_cstr(b, evhttp_request_get_uri(req));
  evbuffer_add_printf(b, ",\"path\":");
  json_cstr(b, path);
  evbuffer_add_printf(b, ",\"query\":");
  json_cstr(b, u ? evhttp_uri_get_query(u) : NULL);
  evbuffer_add_printf(b, ",\"headers\":[");
  for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) {
    evbuffer_add_printf(b, h == in->tqh_first ? "[" : ",[");
    json_cstr(b, h->key);
    evbuffer_add_printf(b, ",");
    json_cstr(b, h->value);
    evbuffer_add_printf(b, "]");
  }
  evbuffer_add_printf(b, "]");
  echo_header_map(b, in);
  evbuffer_add_printf(b, ",\"body\":");
  json_str(b, (const char *)evbuffer_pullup(body, -1), len);
  evbuffer_add_printf(b, ",\"len\":%zu", len);
  const char *ce = evhttp_find_header(in, "Content-Encoding");
  if (ce) echo_decoded(b, ce, evbuffer_pullup(body, -1), len);
  evbuffer_add_printf(b, "}");
  send_out(t, req, 200, "application/json");
}

/* Writes the absolute base URL of |req| ("http://host:port") into |out|. */
static void base_url(struct evhttp_request *req, char *out, size_t outsz) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const char *scheme = evhttp_find_header(in, "X-Forwarded-Proto");
  const char *host = evhttp_find_header(in, "Host");
  snprintf(out, outsz, "%s://%s", scheme ? scheme : "http", host ? host : "127.0.0.1");
}

static void send_redirect(target *t, struct evhttp_request *req, int code, const char *loc) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
  evbuffer_add_printf(t->out, "redirecting to %s\n", loc);
  send_out(t, req, code, "text/plain");
}

static void h_redirect(target *t, struct evhttp_request *req, const char *path,
                       struct evkeyvalq *q) {
  long n = param(q, "n", 1, 1000), code = param(q, "code", 302, 999), rel = param(q, "rel", 0, 1);
  const char *to = evhttp_find_header(q, "to");
  char tail[2048], loc[4096];
  if (n == 0) return h_echo(t, req, path, q);
  if (code != 301 && code != 303 && code != 307 && code != 308) code = 302;
  if (n > 1) {
    char *enc = to ? evhttp_uriencode(to, -1, 0) : NULL;
    snprintf(tail, sizeof(tail), "/redirect?n=%ld&code=%ld&rel=%ld%s%s", n - 1, code, rel,
             enc ? "&to=" : "", enc ? enc : "");
    free(enc);
  } else {
    snprintf(tail, sizeof(tail), "%s", to ? to : "/echo");
  }
  if (!rel && tail[0] == '/') {
    base_url(req, loc, sizeof(loc));
    strncat(loc, tail, sizeof(loc) - strlen(loc) - 1);
  } else {
    snprintf(loc, sizeof(loc), "%s", tail);
  }
  send_redirect(t, req, (int)code, loc);
}

static void h_redirect_dots(target *t, struct evhttp_request *req, const char *path,
                            struct evkeyvalq *q) {
  send_redirect(t, req, 302, "../../x/./../echo?dots=1");
}

/* --- cookies --------------------------------------------------------------------------------- */

/* The Set-Cookie spelling of attribute key |k|, NULL if |k| names a cookie. *flag is set for
 * attributes written without a value. */
static const char *cookie_attr(const char *k, int *flag) {
  static const char *const names[][2] = {{"path", "Path"},         {"domain", "Domain"},
                                         {"max-age", "Max-Age"},   {"expires", "Expires"},
                                         {"samesite", "SameSite"}, {"secure", "Secure"},
                                         {"httponly", "HttpOnly"}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(k, names[i][0]) == 0) return *flag = i >= 5, names[i][1];
  return NULL;
}

static void h_cookies_set(target *t, struct evhttp_request *req, const char *path,
                          struct evkeyvalq *q) {
  struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
  char attrs[1024] = "", line[4096];
  int flag, redirect = 0;
  const char *a, *sep = "";
  for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
    if ((a = cookie_attr(kv->key, &flag)) == NULL) continue;
    size_t l = strlen(attrs);
    snprintf(attrs + l, sizeof(attrs) - l, flag ? "; %s" : "; %s=%s", a, kv->value);
  }
  evbuffer_add_printf(t->out, "{\"set\":{");
  for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
    if (cookie_attr(kv->key, &flag)) continue;
    if (strcmp(kv->key, "redirect") == 0) {
      redirect = 1;
      continue;
    }
    snprintf(line, sizeof(line), "%s=%s%s", kv->key, kv->value, attrs);
    evhttp_add_header(oh, "Set-Cookie", line);
    evbuffer_add_printf(t->out, "%s", sep), sep = ",";
    json_cstr(t->out, kv->key);
    evbuffer_add_printf(t->out, ":");
    json_cstr(t->out, kv->value);
  }
  evbuffer_add_printf(t->out, "}}");
  if (!redirect) return send_out(t, req, 200, "application/json");
  evbuffer_drain(t->out, evbuffer_get_length(t->out));
  send_redirect(t, req, 302, "/cookies");
}

/* The names come from the raw query: evhttp refuses to parse "?a&b" (keys without '='). */
static void h_cookies_delete(target *t, struct evhttp_request *req, const char *path,
                             struct evkeyvalq *q) {
  const char *s = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
  char line[1024];
  while (s && *s) {
    int n = (int)strcspn(s, "=&");
    if (n > 0 && n < 512) {
      snprintf(line, sizeof(line),
               "%.*s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/", n, s);
      evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", line);
    }
    s += strcspn(s, "&");
    s += *s == '&';
  }
  evbuffer_add_printf(t->out, "{\"deleted\":true}");
  send_out(t, req, 200, "application/json");
}

/* Appends the name=value pairs of every Cookie header as JSON: |as_list| ? [[n,v],..] : {n:v}. */
static void cookie_pairs(struct evbuffer *b, struct evkeyvalq *in, int as_list) {
  const char *sep = "";
  for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) {
    if (strcasecmp(h->key, "Cookie") != 0) continue;
    for (const char *s = h->value; *s;) {
      while (*s == ' ' || *s == ';')
        s++;
      size_t l = strcspn(s, ";"), nl = strcspn(s, "=;");
      if (l == 0) break;
      evbuffer_add_printf(b, "%s%s", sep, as_list ? "[" : ""), sep = ",";
      json_str(b, s, nl);
      evbuffer_add_printf(b, as_list ? "," : ":");
      json_str(b, s + nl + (nl < l), l - nl - (nl < l));
      if (as_list) evbuffer_add_printf(b, "]");
      s += l;
    }
  }
}

static void h_cookies(target *t, struct evhttp_request *req, const char *path,
                      struct evkeyvalq *q) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  evbuffer_add_printf(t->out, "{\"cookies\":{");
  cookie_pairs(t->out, in, 0);
  evbuffer_add_printf(t->out, "},\"list\":[");
  cookie_pairs(t->out, in, 1);
  evbuffer_add_printf(t->out, "],\"header\":");
  json_cstr(t->out, evhttp_find_header(in, "Cookie"));
  evbuffer_add_printf(t->out, "}");
  send_out(t, req, 200, "application/json");
}

/* --- authentication -------------------------------------------------------------------------- */

/* Splits |s| at '/' into up to |max| segments of at most 127 bytes. Returns the count, -1 if one
 * is empty or too long. */
static int split_path(const char *s, char (*seg)[128], int max) {
  int n = 0;
  while (*s && n < max) {
    size_t l = strcspn(s, "/");
    if (l == 0 || l >= 128) return -1;
    memcpy(seg[n], s, l), seg[n++][l] = '\0';
    s += l + (s[l] == '/');
  }
  return *s ? -1 : n;
}

static void auth_ok(target *t, struct evhttp_request *req, const char *user) {
  evbuffer_add_printf(t->out, "{\"authenticated\":true,\"user\":");
  json_cstr(t->out, user);
  evbuffer_add_printf(t->out, "}");
  send_out(t, req, 200, "application/json");
}

static void auth_refuse(target *t, struct evhttp_request *req, const char *challenge) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", challenge);
  evbuffer_add_printf(t->out, "{\"authenticated\":false}");
  send_out(t, req, 401, "application/json");
}

static void h_basic(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  char seg[2][128], want[300];
  unsigned char got[512];
  if (split_path(path + strlen("/basic-auth/"), seg, 2) != 2)
    return evhttp_send_error(req, 404, NULL);
  const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (h && strncasecmp(h, "Basic ", 6) == 0) {
    const char *b64 = h + 6;
    size_t n = strlen(b64), pad = n > 0 && b64[n - 1] == '=' ? 1 + (n > 1 && b64[n - 2] == '=') : 0;
    int l = n % 4 == 0 && n / 4 * 3 < sizeof(got)
                ? EVP_DecodeBlock(got, (const unsigned char *)b64, (int)n)
                : -1;
    snprintf(want, sizeof(want), "%s:%s", seg[0], seg[1]);
    if (l >= 0 && (size_t)l - pad == strlen(want) && memcmp(got, want, strlen(want)) == 0)
      return auth_ok(t, req, seg[0]);
  }
  auth_refuse(t, req, "Basic realm=\"" REALM "\"");
}

/* Hex digest of |n| bytes at |p| into |out| (129 bytes). */
static void hash_hex(const EVP_MD *md, const void *p, size_t n, char *out) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int dl = 0;
  EVP_Digest(p, n, d, &dl, md, NULL);
  for (unsigned int i = 0; i < dl; i++)
    sprintf(out + 2 * i, "%02x", d[i]);
  out[2 * dl] = '\0';
}

/* hash_hex of a printf-formatted string; an empty |out| if it does not fit. */
static void hash_fmt(const EVP_MD *md, char *out, const char *fmt, ...) {
  char s[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(s, sizeof(s), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(s)) return (void)(out[0] = '\0');
  hash_hex(md, s, (size_t)n, out);
}

/* A nonce "<time hex>-<signature>" this process can recognise as its own, into |out| (80 B). */
static void make_nonce(target *t, unsigned long ts, char *out) {
  char sig[129];
  hash_fmt(EVP_sha256(), sig, "%lx:%02x%02x%02x%02x%02x%02x%02x%02x", ts, t->secret[0],
           t->secret[1], t->secret[2], t->secret[3], t->secret[4], t->secret[5], t->secret[6],
           t->secret[7]);
  snprintf(out, 80, "%lx-%.32s", ts, sig);
}

/* Copies the value of |key| from an auth header's "k=v, k=\"v\"" list into |out|. Returns 0, or
 * -1 when the key is missing or its value does not fit. */
static int auth_param(const char *s, const char *key, char *out, size_t outsz) {
  size_t kl = strlen(key);
  while (*s) {
    while (*s == ' ' || *s == ',' || *s == '\t')
      s++;
    const char *k = s;
    s += strcspn(s, "=, ");
    int match = (size_t)(s - k) == kl && strncasecmp(k, key, kl) == 0;
    if (*s != '=') continue;
    int quoted = *++s == '"';
    size_t n = 0;
    s += quoted;
    for (; *s && (quoted ? *s != '"' : *s != ',' && *s != ' '); s++) {
      if (quoted && *s == '\\' && s[1]) s++;
      if (match && n + 1 < outsz)
        out[n++] = *s;
      else if (match)
        return -1;
    }
    s += quoted && *s == '"';
    if (match) return out[n] = '\0', 0;
  }
  return -1;
}

/* Checks a Digest Authorization header |h| for user |seg[1]|, password |seg[2]|, qop |seg[0]|. */
static int digest_ok(target *t, struct evhttp_request *req, const char *h, char (*seg)[128],
                     const EVP_MD *md, const char *algo) {
  char user[128], realm[64], nonce[80], uri[2048], resp[129], qop[16], nc[16], cnonce[128];
  char alg[16] = "", opaque[64], ha1[129], ha2[129], want[129], body[129], ok_nonce[80];
  unsigned long ts;
  if (strncasecmp(h, "Digest ", 7) != 0) return 0;
  h += 7;
  if (auth_param(h, "username", user, sizeof(user)) ||
      auth_param(h, "realm", realm, sizeof(realm)) ||
      auth_param(h, "nonce", nonce, sizeof(nonce)) || auth_param(h, "uri", uri, sizeof(uri)) ||
      auth_param(h, "response", resp, sizeof(resp)) || auth_param(h, "qop", qop, sizeof(qop)) ||
      auth_param(h, "nc", nc, sizeof(nc)) || auth_param(h, "cnonce", cnonce, sizeof(cnonce)) ||
      auth_param(h, "opaque", opaque, sizeof(opaque)))
    return 0;
  auth_param(h, "algorithm", alg, sizeof(alg));
  if (sscanf(nonce, "%lx-", &ts) != 1) return 0;
  make_nonce(t, ts, ok_nonce);
  if (strcmp(user, seg[1]) || strcmp(realm, REALM) || strcmp(nonce, ok_nonce) ||
      strcmp(uri, evhttp_request_get_uri(req)) || strcmp(qop, seg[0]) || strcmp(opaque, OPAQUE) ||
      (alg[0] && strcasecmp(alg, algo)))
    return 0;
  hash_fmt(md, ha1, "%s:%s:%s", user, REALM, seg[2]);
  const char *m = method_name(evhttp_request_get_command(req));
  if (strcmp(qop, "auth-int") == 0) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    hash_hex(md, evbuffer_pullup(in, -1), evbuffer_get_length(in), body);
    hash_fmt(md, ha2, "%s:%s:%s", m, uri, body);
  } else {
    hash_fmt(md, ha2, "%s:%s", m, uri);
  }
  hash_fmt(md, want, "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2);
  return want[0] && strcasecmp(want, resp) == 0;
}

static void h_digest(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  char seg[4][128], nonce[80], challenge[512];
  int n = split_path(path + strlen("/digest-auth/"), seg, 4);
  if (n < 3) return evhttp_send_error(req, 404, NULL);
  if (n == 3) strcpy(seg[3], "MD5");
  const EVP_MD *md = strcasecmp(seg[3], "MD5") == 0       ? EVP_md5()
                     : strcasecmp(seg[3], "SHA-256") == 0 ? EVP_sha256()
                     : strcasecmp(seg[3], "SHA-512") == 0 ? EVP_sha512()
                                                          : NULL;
  if (!md || (strcmp(seg[0], "auth") && strcmp(seg[0], "auth-int")))
    return evhttp_send_error(req, 404, NULL);
  const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (h && digest_ok(t, req, h, seg, md, seg[3])) return auth_ok(t, req, seg[1]);
  make_nonce(t, (unsigned long)time(NULL), nonce);
  snprintf(challenge, sizeof(challenge),
           "Digest realm=\"" REALM "\", qop=\"%s\", nonce=\"%s\", opaque=\"" OPAQUE
           "\", algorithm=%s, stale=FALSE",
           seg[0], nonce, seg[3]);
  auth_refuse(t, req, challenge);
}

/* --- bodies: compressed, chunked, huge, many headers ----------------------------------------- */

/* Compresses |n| bytes at |in| with Content-Encoding |enc| into |out|. Returns 0 or -1. */
static int compress_to(const char *enc, const char *in, size_t n, struct evbuffer *out) {
  size_t cap = n + n / 2 + 1024, len = cap;
  unsigned char *buf = malloc(cap);
  int ok = 0;
  if (!buf) return -1;
  if (strcmp(enc, "gzip") == 0 || strcmp(enc, "deflate") == 0) {
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, enc[0] == 'g' ? 31 : 15, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
      z.next_in = (unsigned char *)in, z.avail_in = (uInt)n;
      z.next_out = buf, z.avail_out = (uInt)cap;
      ok = deflate(&z, Z_FINISH) == Z_STREAM_END;
      len = z.total_out;
      deflateEnd(&z);
    }
  } else if (strcmp(enc, "br") == 0) {
    ok = BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, (const uint8_t *)in,
                               &len, buf);
  } else {
    len = ZSTD_compress(buf, cap, in, n, 3);
    ok = !ZSTD_isError(len);
  }
  if (ok) evbuffer_add(out, buf, len);
  free(buf);
  return ok ? 0 : -1;
}

static void h_encoded(target *t, struct evhttp_request *req, const char *path,
                      struct evkeyvalq *q) {
  const char *enc = strcmp(path, "/zstd") == 0 ? "zstd" : path + 1;
  struct evbuffer *plain = evbuffer_new();
  size_t size = (size_t)param(q, "size", 1000, 64u << 20);
  if (!plain) return evhttp_send_error(req, 500, "out of memory");
  evbuffer_add_printf(plain, "{\"encoding\":\"%s\",\"method\":\"%s\",\"data\":\"", enc,
                      method_name(evhttp_request_get_command(req)));
  add_filler(t, plain, size);
  evbuffer_add_printf(plain, "\"}");
  size_t n = evbuffer_get_length(plain);
  int rc = compress_to(enc, (const char *)evbuffer_pullup(plain, -1), n, t->out);
  evbuffer_free(plain);
  if (rc < 0) return evhttp_send_error(req, 500, "compression failed");
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Encoding", enc);
  send_out(t, req, 200, "application/json");
}

static void h_chunked(target *t, struct evhttp_request *req, const char *path,
                      struct evkeyvalq *q) {
  size_t size = (size_t)param(q, "size", 10000, MAX_SIZE);
  size_t chunk = (size_t)param(q, "chunk", 1000, MAX_SIZE);
  if (chunk == 0) chunk = 1000;
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
  evhttp_send_reply_start(req, 200, "OK");
  for (size_t i = 0; i < size; i += chunk) {
    add_filler(t, t->out, size - i < chunk ? size - i : chunk);
    evhttp_send_reply_chunk(req, t->out);
  }
  evhttp_send_reply_end(req);
}

static void h_huge(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  reply(t, req, 200, (size_t)param(q, "size", 10u << 20, MAX_SIZE), 0, 0, 0);
}

static void h_headers(target *t, struct evhttp_request *req, const char *path,
                      struct evkeyvalq *q) {
  long n = param(q, "n", 200, 10000);
  char name[32], value[32];
  for (long i = 1; i <= n; i++) {
    snprintf(name, sizeof(name), "X-Sb-%ld", i);
    snprintf(value, sizeof(value), "value-%ld", i);
    evhttp_add_header(evhttp_request_get_output_headers(req), name, value);
  }
  evbuffer_add_printf(t->out, "{\"headers\":%ld}", n);
  send_out(t, req, 200, "application/json");
}

/* --- timing and broken replies --------------------------------------------------------------- */

static void h_slow(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  long ms = param(q, "ms", param(q, "delay", 0, MAX_DELAY_MS), MAX_DELAY_MS);
  defer(t, req, ms, &(pending){.status = 200, .size = (size_t)-1});
}

static void h_hang(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  evhttp_connection_set_timeout(evhttp_request_get_connection(req), 3600);
}

static void h_status(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  long s = strtol(path + strlen("/status/"), NULL, 10);
  reply(t, req, s >= 100 && s <= 599 ? (int)s : 200, (size_t)-1, 0, 0, 0);
}

static void h_continue(target *t, struct evhttp_request *req, const char *path,
                       struct evkeyvalq *q) {
  static const char c100[] = "HTTP/1.1 100 Continue\r\n\r\n";
  static const char c103[] = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
  int early = param(q, "early", 0, 1) == 1;
  raw_send(req_fd(req), early ? c103 : c100, early ? sizeof(c103) - 1 : sizeof(c100) - 1);
  defer(t, req, param(q, "ms", 100, MAX_DELAY_MS), &(pending){.status = 200, .size = (size_t)-1});
}

static void h_raw(target *t, struct evhttp_request *req, const char *path, struct evkeyvalq *q) {
  int raw = strcmp(path, "/reset") == 0     ? RAW_RESET
            : strcmp(path, "/garbage") == 0 ? RAW_GARBAGE
            : strcmp(path, "/http10") == 0  ? RAW_HTTP10
                                            : RAW_CLOSE_HDRS;
  defer(t, req, param(q, "ms", 0, MAX_DELAY_MS),
        &(pending){.raw = raw, .close = param(q, "nolen", 0, 1) == 1});
}

static const struct route {
  const char *path;
  int prefix; /* matches paths starting with |path| */
  handler_fn *fn;
} routes[] = {
    {"/echo", 0, h_echo},
    {"/redirect", 0, h_redirect},
    {"/redirect-dots", 1, h_redirect_dots},
    {"/cookies", 0, h_cookies},
    {"/cookies/set", 0, h_cookies_set},
    {"/cookies/delete", 0, h_cookies_delete},
    {"/basic-auth/", 1, h_basic},
    {"/digest-auth/", 1, h_digest},
    {"/gzip", 0, h_encoded},
    {"/deflate", 0, h_encoded},
    {"/br", 0, h_encoded},
    {"/zstd", 0, h_encoded},
    {"/chunked", 0, h_chunked},
    {"/huge", 0, h_huge},
    {"/headers", 0, h_headers},
    {"/slow", 0, h_slow},
    {"/hang", 0, h_hang},
    {"/status/", 1, h_status},
    {"/continue", 0, h_continue},
    {"/reset", 0, h_raw},
    {"/garbage", 0, h_raw},
    {"/close-after-headers", 0, h_raw},
    {"/http10", 0, h_raw},
};

static handler_fn *route(const char *path) {
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    size_t l = strlen(routes[i].path);
    if (routes[i].prefix ? strncmp(path, routes[i].path, l) == 0
                         : strcmp(path, routes[i].path) == 0)
      return routes[i].fn;
  }
  return NULL;
}

/* The catch-all: status=, delay=, size=, close= on any other path. */
static void h_default(target *t, struct evhttp_request *req, const char *path,
                      struct evkeyvalq *q) {
  int status = (int)param(q, "status", 200, 599);
  if (status < 100) status = 200;
  long delay = param(q, "delay", 0, MAX_DELAY_MS);
  size_t size = (size_t)param(q, "size", -1, MAX_SIZE);
  int close = param(q, "close", 0, 1) == 1;
  int post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
  size_t post_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
  if (delay <= 0) return reply(t, req, status, size, close, post, post_len);
  defer(t, req, delay,
        &(pending){
            .status = status, .size = size, .close = close, .post = post, .post_len = post_len});
}

static void on_request(struct evhttp_request *req, void *arg) {
  target *t = arg;
  const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
  const char *path = u ? evhttp_uri_get_path(u) : NULL;
  const char *query = u ? evhttp_uri_get_query(u) : NULL;
  struct evkeyvalq q = {0};

  q.tqh_last = &q.tqh_first;
  evbuffer_drain(t->out, evbuffer_get_length(t->out));
  if (path && strcmp(path, "/stats") == 0) { /* not counted itself */
    evbuffer_add_printf(t->out, "{\"requests\":%llu}", t->requests);
    return send_out(t, req, 200, "application/json");
  }
  t->requests++;
  if (query) evhttp_parse_query_str(query, &q);
  handler_fn *fn = path ? route(path) : NULL;
  (fn ? fn : h_default)(t, req, path ? path : "/", &q);
  evhttp_clear_headers(&q);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  event_base_loopexit(arg, NULL);
}

/* Splits "host:port" ("[::1]:port" for IPv6) into |host| and |*port|. Returns 0 or -1. */
static int split_addr(const char *s, char *host, size_t hostsz, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon) return -1;
  const char *h = s;
  size_t hl = (size_t)(colon - s);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
  if (hl == 0 || hl >= hostsz) return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

static int is_loopback(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: sb-target --listen 127.0.0.1:PORT [--any]\n");
  return 2;
}

/* A non-blocking listening socket on host:port with TCP_NODELAY, which Linux passes on to the
 * accepted connections (evhttp has no per-connection hook for it): without it, Nagle holds the
 * tail of a big body until the client's delayed ACK. Returns the fd or -1. */
static evutil_socket_t listen_socket(const char *host, int port) {
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  socklen_t sl;
  int one = 1;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    sl = sizeof(*s4);
  } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    sl = sizeof(*s6);
  } else {
    return -1;
  }
  evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  evutil_make_socket_nonblocking(fd);
  evutil_make_socket_closeonexec(fd);
  evutil_make_listen_socket_reuseable(fd);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
    evutil_closesocket(fd);
    return -1;
  }
  return fd;
}

/* Binds, prints the bound address, and serves until a signal. */
static int serve(const char *host, int port) {
  target t = {0};
  int rc = 1;
  memset(t.blk, 'x', sizeof(t.blk));
  if (RAND_bytes(t.secret, sizeof(t.secret)) != 1) return 1;
  t.base = event_base_new();
  if (!t.base) return 1;
  t.out = evbuffer_new();
  if (!t.out) goto fail_out;
  t.http = evhttp_new(t.base);
  if (!t.http) goto fail_http;
  evhttp_set_gencb(t.http, on_request, &t);
  evhttp_set_allowed_methods(t.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
  evhttp_set_max_body_size(t.http, MAX_SIZE);
  struct evhttp_bound_socket *bs = NULL;
  evutil_socket_t fd = listen_socket(host, port);
  if (fd >= 0 && !(bs = evhttp_accept_socket_with_handle(t.http, fd))) evutil_closesocket(fd);
  if (!bs) {
    fprintf(stderr, "sb-target: cannot bind %s:%d\n", host, port);
    goto fail_bind;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
  int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  struct event *sterm = evsignal_new(t.base, SIGTERM, on_signal, t.base);
  struct event *sint = evsignal_new(t.base, SIGINT, on_signal, t.base);
  if (!sterm || !sint) goto fail_sig;
  evsignal_add(sterm, NULL);
  evsignal_add(sint, NULL);
  signal(SIGPIPE, SIG_IGN);
  printf(strchr(host, ':') ? "listening [%s]:%d\n" : "listening %s:%d\n", host, bound);
  fflush(stdout);
  event_base_dispatch(t.base);
  rc = 0;
fail_sig:
  if (sterm) event_free(sterm);
  if (sint) event_free(sint);
fail_bind:
  evhttp_free(t.http);
fail_http:
  evbuffer_free(t.out);
fail_out:
  event_base_free(t.base);
  return rc;
}

int main(int argc, char **argv) {
  const char *listen = NULL;
  int any = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
      listen = argv[++i];
    else if (strcmp(argv[i], "--any") == 0)
      any = 1;
    else
      return usage();
  }
  char host[128];
  int port;
  if (!listen || split_addr(listen, host, sizeof(host), &port) < 0) return usage();
  if (!any && !is_loopback(host)) {
    fprintf(stderr, "sb-target: refusing to bind %s (not loopback); pass --any\n", host);
    return 2;
  }
  return serve(host, port);
}
