/* URLs for the HTTP client: parsing absolute http(s) URLs the way Go's net/url and k6 accept
 * them, resolving redirect Locations (RFC 3986 §5.2), and writing what goes on the wire (the
 * request-target and the Host header) or into metrics (k6's credential-masked URL).
 *
 * Parsing allocates nothing: an sb_url is a set of spans into the caller's string, which must
 * outlive it. The writers append to a caller-owned sb_buf (reset it first to reuse its memory).
 *
 * What k6 does with credentials in a URL ("http://user:pass@host/"), read from its source
 * (lib/netext/httpext/url.go, request.go):
 *   - the `url` and `name` tags carry the URL with the userinfo replaced by "****:****" ("****"
 *     when there is no password) — sb_url_write_clean();
 *   - res.url and res.request.url keep the credentials (Go's URL.String());
 *   - Basic auth comes from the userinfo of the URL being requested; Go puts it on that request
 *     only, so a redirect to a Location without userinfo carries no Authorization made from it.
 *     A user-set Authorization header follows a redirect only to the same host or a subdomain
 *     (sb_url_auth_may_follow(), Go's rule); digest credentials only to the same origin
 *     (sb_url_same_origin(), k6's digest transport). */
#ifndef SB_HTTP_URL_H
#define SB_HTTP_URL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct sb_url {
  const char *src; /* the whole string as given */
  size_t src_len;
  const char *scheme; /* as written ("HTTP" too); compare with strncasecmp */
  size_t scheme_len;
  int https;        /* scheme is https */
  const char *user; /* raw (percent-encoded) userinfo parts; NULL when absent */
  size_t user_len;
  const char *pass; /* NULL when there is no ':' in the userinfo */
  size_t pass_len;
  const char *host; /* without the brackets of an IPv6 literal */
  size_t host_len;
  int ipv6;          /* host was a bracketed IP literal */
  uint16_t port;     /* explicit, or 80 / 443 (0 for another scheme) */
  int port_explicit; /* a non-empty ":port" was written */
  const char *path;  /* "/" (a static string) when absent */
  size_t path_len;
  const char *query; /* after '?', NULL when there is no '?' */
  size_t query_len;
} sb_url;

/* Parses the absolute URL |s| (|len| bytes; the fragment is dropped) into |*u|, pointing into
 * |s|. Returns:
 *   0           an http or https URL the client can request;
 *   SB_EFORMAT  Go's url.Parse would fail (control character, bad port, bad character in the
 *               host, bad %-escape, unclosed '[') — k6 reports these as "invalid URL";
 *   SB_EINVAL   it parses but cannot be requested: another scheme, or none ("unsupported protocol
 *               scheme \"ftp\""), or no host ("http: no Host in request URL"). |*u| is filled
 *               all the same (http.url`` accepts such URLs, as k6 does).
 * |err| gets Go's wording, e.g. `parse "http://a b/": invalid character " " in host name`. */
int sb_url_parse(sb_url *u, const char *s, size_t len, sb_err *err);

/* Appends the percent-decoded user and password (empty when absent) to |user| and |pass|.
 * Returns 0, SB_EFORMAT (bad escape) or SB_ENOMEM. */
int sb_url_userinfo(const sb_url *u, sb_buf *user, sb_buf *pass);

/* Appends the request-target: path and "?query" as written, with bytes HTTP cannot carry in a
 * request line (space, non-ASCII, '"', '<', '>', '\\', '^', '`', '{', '|', '}') percent-encoded
 * as Go's client does; a space in the query becomes %20. Returns 0 or SB_ENOMEM. */
int sb_url_write_target(const sb_url *u, sb_buf *out);

/* Appends the Host header value: "host", "host:port" when a port was written (Go sends the
 * authority as written, even ":80"), "[::1]" / "[::1]:8080" for IPv6. Returns 0 or SB_ENOMEM. */
int sb_url_write_host(const sb_url *u, sb_buf *out);

/* Appends the URL as k6 shows it in tags: the original string with the userinfo replaced by
 * "****:****" (or "****" without a password); unchanged when there is none. Returns 0 or
 * SB_ENOMEM. */
int sb_url_write_clean(const sb_url *u, sb_buf *out);

/* Appends the original string without its "userinfo@" part. Returns 0 or SB_ENOMEM. */
int sb_url_write_stripped(const sb_url *u, sb_buf *out);

/* 1 when |a| and |b| share scheme, host (case-insensitively) and port: where k6 lets digest
 * credentials go. */
int sb_url_same_origin(const sb_url *a, const sb_url *b);

/* 1 when a user-set Authorization (or Cookie) header may follow a redirect from |from| to |to|:
 * |to|'s host equals |from|'s or is a subdomain of it, any scheme or port (Go's
 * shouldCopyHeaderOnRedirect). */
int sb_url_auth_may_follow(const sb_url *from, const sb_url *to);

/* Resolves |ref| (|ref_len| bytes: a Location value) against the absolute URL |base| as RFC 3986
 * §5.2 says — absolute refs of any scheme, "//host/x", "/x", "?q", "x", "../x", "" — removing
 * dot segments, lowercasing the scheme, keeping |ref|'s fragment. Appends the result to |out|;
 * the caller parses it with sb_url_parse() to know whether it can be followed. Returns 0,
 * SB_EFORMAT (|base| has no scheme) or SB_ENOMEM. */
int sb_url_resolve(const char *base, const char *ref, size_t ref_len, sb_buf *out);

/* Appends |s| percent-decoded (no '+' rule). Returns 0, SB_EFORMAT (bad escape) or SB_ENOMEM. */
int sb_url_unescape(const char *s, size_t len, sb_buf *out);

#endif
