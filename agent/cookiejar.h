/* A cookie jar: RFC 6265 storage and retrieval the way Go's net/http/cookiejar does it (k6 uses
 * that jar, created without a public-suffix list), so scripts see k6's cookies.
 *
 * What it keeps: host-only cookies (no Domain attribute: sent to that exact host) and domain
 * cookies (sent to the domain and its subdomains); a Domain that does not domain-match the
 * request host is refused, and so is any Domain other than the host itself when the host is an
 * IP address. Path defaults to the request path's directory (RFC 6265 5.1.4). Secure cookies go
 * only over https; HttpOnly and SameSite are parsed and kept as flags. Max-Age wins over
 * Expires; Max-Age <= 0 or an Expires not in the future deletes. A cookie with the same (name,
 * domain, path) replaces the stored one but keeps its creation time. Without a public-suffix
 * list, Go partitions cookies by the last two labels of the host that set them (its "jar key"):
 * we do the same, so "Domain=com" from example.com never reaches other.com.
 *
 * Cookies are sent longest path first, then oldest first. The jar holds at most
 * SB_COOKIEJAR_MAX_COOKIES cookies (the oldest one makes room) of at most SB_COOKIE_MAX_BYTES of
 * name and value each (larger ones are refused), so a hostile server cannot grow a VU without
 * bound. Ports are ignored for matching, as RFC 6265 says.
 *
 * URLs are absolute "http://" or "https://" URLs: userinfo, ports, bracketed IPv6 hosts, queries
 * and fragments are fine; the path is compared as written (not percent-decoded). Times are unix
 * seconds passed in by the caller, so tests can move the clock. A jar belongs to one thread. */
#ifndef SB_COOKIEJAR_H
#define SB_COOKIEJAR_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define SB_COOKIEJAR_MAX_COOKIES 3000 /* per jar (RFC 6265 6.1 asks for at least 3000) */
#define SB_COOKIE_MAX_BYTES 4096      /* name + value of one cookie (RFC 6265 6.1) */

typedef struct sb_cookiejar sb_cookiejar;

typedef enum sb_cookie_same_site {
  SB_SAMESITE_UNSET = 0, /* no SameSite attribute */
  SB_SAMESITE_DEFAULT,   /* SameSite with an unknown value (Go's SameSiteDefaultMode) */
  SB_SAMESITE_LAX,
  SB_SAMESITE_STRICT,
  SB_SAMESITE_NONE,
} sb_cookie_same_site;

/* A stored cookie as sb_cookiejar_each_for() shows it. The strings are NUL-terminated and live
 * until the jar next changes. */
typedef struct sb_cookie {
  const char *name;
  const char *value;
  const char *domain; /* lower case, no leading dot: the host itself for a host-only cookie */
  const char *path;
  int64_t expires;  /* unix seconds when |persistent|; a session cookie never expires */
  int64_t creation; /* unix seconds when first stored (kept by replacements) */
  unsigned persistent : 1, host_only : 1, secure : 1, http_only : 1;
  sb_cookie_same_site same_site;
} sb_cookie;

/* One cookie to store: a parsed Set-Cookie value or k6's jar.set(). The strings are (pointer,
 * length), not NUL-terminated, borrowed for the call only. */
typedef struct sb_cookie_spec {
  const char *name, *value;
  size_t name_len, value_len;
  const char *domain, *path; /* the raw attributes; NULL or length 0 when absent */
  size_t domain_len, path_len;
  int64_t max_age; /* Go's http.Cookie.MaxAge: 0 absent, < 0 delete now, > 0 seconds */
  int64_t expires; /* unix seconds, when |has_expires| */
  int has_expires;
  int secure, http_only;
  sb_cookie_same_site same_site;
} sb_cookie_spec;

/* Parses one Set-Cookie header value into |*out| as Go's http.Response.Cookies() does: the
 * first "name=value" pair (name a token, value of cookie-octets, optionally quoted), then
 * attributes; an attribute with a bad value or an unknown one is ignored, "Max-Age=0" or a
 * negative Max-Age becomes -1, an unparsable Expires is dropped. |out| points into |v|.
 * Returns 0, or SB_EFORMAT when there is no valid name=value pair (the header is ignored). */
int sb_cookie_parse(sb_cookie_spec *out, const char *v, size_t len);

/* Parses an HTTP date, "Mon, 02 Jan 2006 15:04:05 GMT" (RFC 1123) or the Netscape form
 * "Mon, 02-Jan-2006 15:04:05 GMT", into unix seconds (zone names are taken as UTC). Returns 0 or
 * SB_EFORMAT. */
int sb_cookie_parse_date(const char *s, size_t len, int64_t *out);

/* Appends "name=value" to |out|, preceded by "; " when |out| is not empty, sanitized the way Go's
 * Request.AddCookie does (CR/LF in the name become '-', bytes that cannot be in a cookie value are
 * dropped, a value holding a space or a comma is quoted). Returns 0 or SB_ENOMEM. */
int sb_cookie_append_pair(sb_buf *out, const char *name, size_t name_len, const char *value,
                          size_t value_len);

/* Creates an empty jar. Returns 0 or SB_ENOMEM (|*out| untouched). */
int sb_cookiejar_new(sb_cookiejar **out);
/* Frees the jar and its cookies. Accepts NULL. */
void sb_cookiejar_free(sb_cookiejar *j);
/* Forgets every cookie, keeping the jar's memory for reuse (k6's fresh jar per iteration). */
void sb_cookiejar_clear_all(sb_cookiejar *j);
/* Number of cookies held, expired ones not yet dropped included. */
size_t sb_cookiejar_count(const sb_cookiejar *j);

/* Stores (or, for a past expiry, deletes) the cookie |c| received from |url| at |now|. Returns 0;
 * SB_EINVAL when |url| is not an absolute http(s) URL; SB_EFORMAT when the cookie is refused (a
 * Domain that does not match the host, a malformed Domain, too large); SB_ENOMEM. |err| (may be
 * NULL) says why. */
int sb_cookiejar_set(sb_cookiejar *j, const char *url, const sb_cookie_spec *c, int64_t now,
                     sb_err *err);

/* Parses one Set-Cookie header value received from |url| at |now| and stores it. A malformed
 * value is ignored. Returns 0 when stored or deleted, else the code of sb_cookiejar_set() or
 * SB_EFORMAT. */
int sb_cookiejar_set_cookie_header(sb_cookiejar *j, const char *url, const char *v, size_t len,
                                   int64_t now);

/* Called for each cookie to send; |fn| must not change the jar. Nothing is held during the walk,
 * so |fn| may leave by a longjmp (a Duktape error). */
typedef void (*sb_cookie_cb)(const sb_cookie *c, void *ud);

/* Calls |fn| for each cookie that a request to |url| at |now| would carry, in sending order.
 * Returns how many, or SB_EINVAL for a bad |url|. */
int sb_cookiejar_each_for(const sb_cookiejar *j, const char *url, int64_t now, sb_cookie_cb fn,
                          void *ud);

/* Appends the Cookie header value for |url| at |now| ("a=1; b=2", see sb_cookie_append_pair())
 * to |out|. Allocates only when |out| must grow. Returns the number of cookies appended,
 * SB_EINVAL for a bad |url| or SB_ENOMEM. */
int sb_cookiejar_header_for(const sb_cookiejar *j, const char *url, int64_t now, sb_buf *out);

/* Deletes the cookies named |name| (all of them when |name| is NULL) that a request to |url|
 * would carry (expiry aside). Returns how many were deleted, or SB_EINVAL for a bad |url|. */
int sb_cookiejar_delete(sb_cookiejar *j, const char *url, const char *name);
/* sb_cookiejar_delete(j, url, NULL): k6's jar.clear(url). */
int sb_cookiejar_clear(sb_cookiejar *j, const char *url);

#endif
