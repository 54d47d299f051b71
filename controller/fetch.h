/* Blocking HTTP GET for the controller: the compile step fetches remote modules
 * (`import { x } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js'`) with it.
 *
 * Built on the VUs' own HTTP client (agent/http_client.h), on a private event_base that runs only
 * while a fetch is in progress, so a remote module is fetched with exactly the TLS rules a run
 * applies: the sb_http_config given (insecureSkipTLSVerify, tlsVersion, ca_pem, hosts, ...), or
 * k6's defaults, over the system trust store (OpenSSL's default verify paths, which honour
 * $SSL_CERT_FILE and $SSL_CERT_DIR). Keep-alive connections are reused between the fetches of one
 * sb_fetch.
 *
 * What k6's loader does (loader/loader.go, read for this), and so what this does:
 *   - a plain GET; redirects (301, 302, 303, 307, 308) followed, 9 of them: the 10th is an
 *     error ("stopped after 10 redirects", Go's client);
 *   - one minute for the whole fetch, redirects included;
 *   - only status 200 is a module: 404 is "not found", any other status an error naming it.
 * Not done: k6 first asks for "?_k6=1" appended to the URL and retries without it; we ask once,
 * for the URL as written. */
#ifndef SB_FETCH_H
#define SB_FETCH_H

#include "agent/http_config.h"
#include "common/buf.h"
#include "common/err.h"

#define SB_FETCH_TIMEOUT_MS 60000.0 /* k6's loader: one minute per module */
#define SB_FETCH_MAX_REDIRECTS 10   /* Go's http.Client default, which k6's loader uses */

typedef struct sb_fetch sb_fetch;

/* Creates a fetcher (free with sb_fetch_free()). |cfg| is borrowed and must outlive it (NULL:
 * k6's defaults). |timeout_ms| bounds each sb_fetch_get() call, redirects included (<= 0:
 * SB_FETCH_TIMEOUT_MS). Returns 0, SB_ENOMEM, or SB_EINVAL when the TLS options of |cfg| cannot
 * be applied (|err| says which). On failure |*out| is untouched. */
int sb_fetch_new(sb_fetch **out, const sb_http_config *cfg, double timeout_ms, sb_err *err);

/* Closes the fetcher's connections and frees it. Accepts NULL. */
void sb_fetch_free(sb_fetch *f);

/* GETs the http:// or https:// |url| and appends the body (Content-Encoding undone) to |out|;
 * blocks until done. Returns 0, or with |err| naming the URL (and the last hop's when redirected)
 * and the cause:
 *   SB_ENOTFOUND   status 404 ("https://h/x.js: not found (HTTP 404)")
 *   SB_EIO         another status than 200, a DNS, connection, TLS or protocol failure, too many
 *                  redirects ("https://h/x.js: dial: connection refused")
 *   SB_ETIMEDOUT   no complete answer within the timeout
 *   SB_EINVAL      a URL the client cannot request (scheme, host, syntax, credentials in it)
 *   SB_ENOMEM
 * On failure |out| holds what it held before. */
int sb_fetch_get(sb_fetch *f, const char *url, sb_buf *out, sb_err *err);

#endif
