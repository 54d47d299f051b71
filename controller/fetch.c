/* Blocking HTTP GET for the controller (controller/fetch.h).
 *
 * The HTTP client is asynchronous and lives on an event_base; the compile step is not. So each
 * fetch owns a private event_base and runs it (event_base_dispatch) only until the request's
 * callback breaks the loop. Between fetches nothing runs: the idle keep-alive connections just
 * wait, and sb_fetch_free() closes them. Redirects are followed here, hop by hop, against one
 * deadline for the whole fetch, as Go's client does under k6's one-minute context. */
#include "controller/fetch.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_client.h"
#include "agent/http_url.h"
#include "common/clock.h"

struct sb_fetch {
  struct event_base *base; /* private: runs only inside sb_fetch_get() */
  sb_http_shared *shared;  /* TLS context and resolver of |cfg| */
  sb_http_client *client;
  double timeout_ms;       /* per sb_fetch_get(), redirects included */
  sb_http_res res;         /* the current hop's response, reused */
  sb_buf url;              /* the current hop's URL */
  sb_buf next;             /* scratch: the next hop's URL */
  int done;                /* the current hop's callback ran */
};

int sb_fetch_new(sb_fetch **out, const sb_http_config *cfg, double timeout_ms, sb_err *err) {
  int rc = SB_ENOMEM;
  sb_fetch *f = calloc(1, sizeof(*f));
  if (!f) return sb_err_set(err, SB_ENOMEM, "out of memory");
  f->timeout_ms = timeout_ms > 0 ? timeout_ms : SB_FETCH_TIMEOUT_MS;
  sb_http_res_init(&f->res);
  sb_buf_init(&f->url);
  sb_buf_init(&f->next);
  if (!(f->base = event_base_new())) {
    sb_err_set(err, SB_ENOMEM, "cannot create an event loop for fetching");
    goto fail_base;
  }
  if ((rc = sb_http_shared_new(&f->shared, f->base, cfg, err)) != 0) goto fail_shared;
  if ((rc = sb_http_client_new(&f->client, f->base, f->shared)) != 0) {
    sb_err_set(err, rc, "out of memory");
    goto fail_client;
  }
  *out = f;
  return 0;
fail_client:
  sb_http_shared_free(f->shared);
fail_shared:
  event_base_free(f->base);
fail_base:
  sb_http_res_clear(&f->res);
  free(f);
  return rc;
}

void sb_fetch_free(sb_fetch *f) {
  if (!f) return;
  sb_http_client_free(f->client);
  sb_http_shared_free(f->shared);
  event_base_free(f->base);
  sb_http_res_clear(&f->res);
  sb_buf_clear(&f->url);
  sb_buf_clear(&f->next);
  free(f);
}

static void on_done(sb_http_res *res, void *ud) {
  sb_fetch *f = ud;
  f->done = 1;
  event_base_loopbreak(f->base);
}

/* Sends one GET of f->url with |timeout_ms| left and runs the loop until it completes. Returns 0
 * with f->res holding a status or an error, or SB_EINVAL / SB_ENOMEM / SB_EIO (|err| set) when
 * the request could not start or the loop failed. */
static int one_hop(sb_fetch *f, double timeout_ms, sb_err *err) {
  static const sb_http_header gzip_ok = {"Accept-Encoding", 15, "gzip", 4};
  sb_http_req req = {.method = "GET", .url = f->url.data, .headers = &gzip_ok, .nheaders = 1,
                     .timeout_ms = timeout_ms};
  f->done = 0;
  int rc = sb_http_client_request(f->client, &req, &f->res, on_done, f);
  if (rc == SB_EINVAL)
    return sb_err_set(err, rc, "%s: %s", f->url.data, f->res.error ? f->res.error : "bad URL");
  if (rc) return sb_err_set(err, rc, "out of memory");
  while (!f->done)
    if (event_base_dispatch(f->base) != 0 && !f->done) {
      sb_http_client_cancel(f->client);
      return sb_err_set(err, SB_EIO, "%s: the event loop stopped before the answer", f->url.data);
    }
  return 0;
}

/* When f->res is a redirect to follow, puts its target in f->url and returns 1; returns 0 when
 * it is not one (no Location: the 3xx is the answer, as in Go), or a negative code with |err|
 * set (a Location the client cannot request, out of memory). */
static int follow(sb_fetch *f, sb_err *err) {
  int s = f->res.status;
  size_t len;
  const char *loc;
  sb_url u;
  if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return 0;
  if (!(loc = sb_http_res_header(&f->res, "Location", &len))) return 0;
  sb_buf_reset(&f->next);
  if (sb_url_resolve(f->url.data, loc, len, &f->next) == SB_ENOMEM)
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  if (!f->next.data || sb_url_parse(&u, f->next.data, f->next.len, NULL) != 0)
    return sb_err_set(err, SB_EIO, "%s: redirected (HTTP %d) to '%.*s', which cannot be fetched",
                      f->url.data, s, (int)len, loc);
  sb_buf swap = f->url;
  f->url = f->next;
  f->next = swap;
  return 1;
}

/* Fills |err| for the failed or refused answer in f->res; |url| is the URL asked for. */
static int answer_error(sb_fetch *f, const char *url, sb_err *err) {
  const sb_http_res *r = &f->res;
  char via[1200] = "";
  if (strcmp(url, f->url.data) != 0) snprintf(via, sizeof(via), " (redirected to %.1024s)", f->url.data);
  if (r->error && r->error_code == SB_HTTP_ERR_TIMEOUT)
    return sb_err_set(err, SB_ETIMEDOUT, "%s%s: no complete answer within %g s", url, via,
                      f->timeout_ms / 1000);
  if (r->error) {
    const char *hint = r->error_code == SB_HTTP_ERR_X509_AUTHORITY
                           ? " (point SSL_CERT_FILE at a PEM bundle holding the server's CA)"
                           : "";
    return sb_err_set(err, SB_EIO, "%s%s: %s%s", url, via, r->error, hint);
  }
  const char *sep = r->reason[0] ? " " : "";
  if (r->status == 404)
    return sb_err_set(err, SB_ENOTFOUND, "%s%s: not found (HTTP 404%s%s)", url, via, sep, r->reason);
  return sb_err_set(err, SB_EIO, "%s%s: HTTP %d%s%s (a module needs status 200)", url, via,
                    r->status, sep, r->reason);
}

int sb_fetch_get(sb_fetch *f, const char *url, sb_buf *out, sb_err *err) {
  sb_url u;
  if (sb_url_parse(&u, url, strlen(url), NULL) == 0 && u.user)
    return sb_err_set(err, SB_EINVAL, "%s: credentials in a module URL are not supported", url);
  sb_buf_reset(&f->url);
  if (sb_buf_puts(&f->url, url)) return sb_err_set(err, SB_ENOMEM, "out of memory");
  int64_t deadline = sb_clock_mono_us() + (int64_t)(f->timeout_ms * 1000);
  for (int hop = 0;; hop++) {
    double left_ms = (double)(deadline - sb_clock_mono_us()) / 1000;
    if (left_ms <= 0)
      return sb_err_set(err, SB_ETIMEDOUT, "%s: no complete answer within %g s", url,
                        f->timeout_ms / 1000);
    int rc = one_hop(f, left_ms, err);
    if (rc) return rc;
    if (f->res.error) return answer_error(f, url, err);
    if ((rc = follow(f, err)) < 0) return rc;
    if (rc == 0) break;
    if (hop + 1 >= SB_FETCH_MAX_REDIRECTS) /* Go: the 10th redirect is not followed */
      return sb_err_set(err, SB_EIO, "%s: stopped after %d redirects", url, SB_FETCH_MAX_REDIRECTS);
  }
  if (f->res.status != 200) return answer_error(f, url, err);
  if (sb_buf_append(out, f->res.body.data ? f->res.body.data : "", f->res.body.len))
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  return 0;
}
