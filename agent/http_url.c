/* URL parsing, resolution and writing for the HTTP client (see http_url.h).
 *
 * The parser follows Go's net/url.Parse step by step (cut the fragment, the scheme, the query,
 * then "//authority", then the path), because k6 users meet its rules: which URLs are "invalid"
 * and with what words. Two checks come from Go's HTTP client instead (scheme, empty host) and
 * get their own return code, since http.url`` accepts what the client later refuses. */
#include "agent/http_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char ROOT[] = "/";
static const char HEX[] = "0123456789ABCDEF";

static int is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(int c) {
  return c >= '0' && c <= '9';
}
static int is_hex(int c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int unhex(int c) {
  return is_digit(c) ? c - '0' : (c | 32) - 'a' + 10;
}
static int is_unreserved(int c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Go's error: `parse "<url>": <what>`. */
static int parse_err(sb_err *err, const char *s, size_t len, const char *what) {
  return sb_err_set(err, SB_EFORMAT, "parse \"%.*s\": %s", len > 300 ? 300 : (int)len, s, what);
}

/* Go's EscapeError for the bad escape starting at |p|: `invalid URL escape "%zz"`. */
static int escape_err(sb_err *err, const char *s, size_t len, const char *p, const char *end) {
  char what[64];
  int n = end - p > 3 ? 3 : (int)(end - p);
  snprintf(what, sizeof(what), "invalid URL escape \"%.*s\"", n, p);
  return parse_err(err, s, len, what);
}

/* The first bad %-escape in [p, end), or NULL. */
static const char *bad_escape(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p == '%' && (end - p < 3 || !is_hex(p[1]) || !is_hex(p[2]))) return p;
  return NULL;
}

/* Go's validUserinfo. */
static int valid_userinfo(const char *p, const char *end) {
  for (; p < end; p++)
    if (!is_unreserved((unsigned char)*p) && !strchr("!$&'()*+,;=%@:", *p)) return 0;
  return 1;
}

/* Go's shouldEscape(c, encodeHost) == false, i.e. |c| may appear in a host as is. */
static int host_char_ok(int c) {
  return c >= 0x80 || is_unreserved(c) || (c && strchr("!$&'()*+,;=:[]<>\"", c));
}

/* Parses ":port" (may be empty or absent) into |u|. Returns 0 or -1. */
static int parse_port(sb_url *u, const char *p, const char *end) {
  if (p == end) return 0;
  if (*p != ':') return -1;
  unsigned long v = 0;
  for (const char *q = p + 1; q < end; q++) {
    if (!is_digit(*q)) return -1;
    v = v * 10 + (unsigned long)(*q - '0');
    if (v > 65535) return -1;
  }
  if (end - p > 1) u->port = (uint16_t)v, u->port_explicit = 1;
  return 0;
}

/* Host and port of the authority [p, end) (userinfo already cut), Go's parseHost. */
static int parse_host(sb_url *u, const char *p, const char *end, sb_err *err) {
  const char *colon = NULL, *hend = end;
  char what[96];
  if (p < end && *p == '[') {
    const char *rb = end;
    while (rb > p && rb[-1] != ']')
      rb--;
    if (rb == p) return parse_err(err, u->src, u->src_len, "missing ']' in host");
    colon = rb, hend = rb - 1;
    u->host = p + 1, u->host_len = (size_t)(hend - u->host), u->ipv6 = 1;
    const char *zone = memchr(u->host, '%', u->host_len);
    for (const char *q = u->host; q < (zone ? zone : hend); q++)
      if (!is_hex(*q) && *q != ':' && *q != '.') u->host_len = 0;
    if (zone && (hend - zone < 4 || memcmp(zone, "%25", 3) != 0)) u->host_len = 0;
    if (!u->host_len) return parse_err(err, u->src, u->src_len, "invalid IP-literal in host");
  } else {
    for (const char *q = end; q > p; q--)
      if (q[-1] == ':') {
        colon = hend = q - 1;
        break;
      }
    u->host = p, u->host_len = (size_t)(hend - p);
    for (const char *q = p; q < hend; q++) {
      if (*q == '%') {
        if (hend - q < 3 || !is_hex(q[1]) || !is_hex(q[2]) || unhex(q[1]) < 8)
          return escape_err(err, u->src, u->src_len, q, hend);
      } else if (!host_char_ok((unsigned char)*q) || *q == ':' || *q == '[' || *q == ']') {
        snprintf(what, sizeof(what), "invalid character \"%c\" in host name", *q);
        return parse_err(err, u->src, u->src_len, what);
      }
    }
  }
  if (colon && parse_port(u, colon, end) < 0) {
    snprintf(what, sizeof(what), "invalid port \"%.*s\" after host",
             end - colon > 40 ? 40 : (int)(end - colon), colon);
    return parse_err(err, u->src, u->src_len, what);
  }
  return 0;
}

/* The authority [p, end): "userinfo@" then host and port. */
static int parse_authority(sb_url *u, const char *p, const char *end, sb_err *err) {
  const char *at = NULL;
  for (const char *q = end; q > p; q--)
    if (q[-1] == '@') {
      at = q - 1;
      break;
    }
  if (at) {
    if (!valid_userinfo(p, at))
      return parse_err(err, u->src, u->src_len, "net/url: invalid userinfo");
    const char *bad = bad_escape(p, at);
    if (bad) return escape_err(err, u->src, u->src_len, bad, at);
    const char *colon = memchr(p, ':', (size_t)(at - p));
    u->user = p, u->user_len = (size_t)((colon ? colon : at) - p);
    if (colon) u->pass = colon + 1, u->pass_len = (size_t)(at - colon - 1);
    p = at + 1;
  }
  return parse_host(u, p, end, err);
}

/* Go's getScheme: the scheme's length, 0 when there is none, -1 for a leading ':'. */
static long scheme_len(const char *s, const char *end) {
  for (const char *p = s; p < end; p++) {
    if (is_alpha(*p)) continue;
    if (is_digit(*p) || *p == '+' || *p == '-' || *p == '.') {
      if (p == s) return 0;
      continue;
    }
    if (*p == ':') return p == s ? -1 : p - s;
    return 0;
  }
  return 0;
}

/* The steps after the scheme: query, authority, path; then the client's own checks. */
static int parse_rest(sb_url *u, const char *p, const char *end, sb_err *err) {
  const char *q = memchr(p, '?', (size_t)(end - p));
  if (q) u->query = q + 1, u->query_len = (size_t)(end - q - 1), end = q;
  if (u->scheme && end - p >= 2 && p[0] == '/' && p[1] == '/') {
    const char *slash = memchr(p + 2, '/', (size_t)(end - p - 2));
    const char *aend = slash ? slash : end;
    int rc = parse_authority(u, p + 2, aend, err);
    if (rc) return rc;
    p = aend;
  }
  const char *bad = bad_escape(p, end);
  if (bad) return escape_err(err, u->src, u->src_len, bad, end);
  if (p < end) u->path = p, u->path_len = (size_t)(end - p);
  if (!u->scheme || !(u->scheme_len == 4 || (u->scheme_len == 5 && u->https)) ||
      strncasecmp(u->scheme, "http", 4) != 0)
    return sb_err_set(err, SB_EINVAL, "unsupported protocol scheme \"%.*s\"",
                      (int)(u->scheme_len > 40 ? 40 : u->scheme_len), u->scheme ? u->scheme : "");
  if (!u->host_len) return sb_err_set(err, SB_EINVAL, "http: no Host in request URL");
  return 0;
}

int sb_url_parse(sb_url *u, const char *s, size_t len, sb_err *err) {
  memset(u, 0, sizeof(*u));
  u->src = s, u->src_len = len;
  u->path = ROOT, u->path_len = 1;
  const char *end = s + len;
  for (const char *p = s; p < end; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return parse_err(err, s, len, "net/url: invalid control character in URL");
  const char *hash = memchr(s, '#', len);
  if (hash) {
    const char *bad = bad_escape(hash + 1, end);
    if (bad) return escape_err(err, s, len, bad, end);
    end = hash;
  }
  long n = scheme_len(s, end);
  if (n < 0) return parse_err(err, s, len, "missing protocol scheme");
  const char *p = s;
  if (n > 0) {
    u->scheme = s, u->scheme_len = (size_t)n;
    u->https = n == 5 && strncasecmp(s, "https", 5) == 0;
    if (u->https || (n == 4 && strncasecmp(s, "http", 4) == 0)) u->port = u->https ? 443 : 80;
    p = s + n + 1;
  } else {
    const char *seg = p;
    while (seg < end && *seg != '/' && *seg != '?')
      seg++;
    if (memchr(p, ':', (size_t)(seg - p)))
      return parse_err(err, s, len, "first path segment in URL cannot contain colon");
  }
  return parse_rest(u, p, end, err);
}

int sb_url_unescape(const char *s, size_t len, sb_buf *out) {
  const char *end = s + len;
  if (bad_escape(s, end)) return SB_EFORMAT;
  if (sb_buf_reserve(out, len)) return SB_ENOMEM;
  for (const char *p = s; p < end; p++) {
    char c = *p;
    if (c == '%') c = (char)(unhex(p[1]) << 4 | unhex(p[2])), p += 2;
    out->data[out->len++] = c;
  }
  out->data[out->len] = '\0';
  return 0;
}

int sb_url_userinfo(const sb_url *u, sb_buf *user, sb_buf *pass) {
  int rc = sb_buf_reserve(user, 0) | sb_buf_reserve(pass, 0);
  if (rc) return SB_ENOMEM;
  if (u->user && (rc = sb_url_unescape(u->user, u->user_len, user))) return rc;
  if (u->pass && (rc = sb_url_unescape(u->pass, u->pass_len, pass))) return rc;
  return 0;
}

/* Appends [p, end) with the bytes a request line cannot carry percent-encoded. */
static int append_escaped(sb_buf *out, const char *p, const char *end, int query) {
  if (sb_buf_reserve(out, (size_t)(end - p) * 3)) return SB_ENOMEM;
  char *w = out->data + out->len;
  for (; p < end; p++) {
    unsigned char c = (unsigned char)*p;
    int esc = c == ' ' || (!query && (c >= 0x80 || (c && strchr("\"<>\\^`{|}", c))));
    if (esc)
      *w++ = '%', *w++ = HEX[c >> 4], *w++ = HEX[c & 15];
    else
      *w++ = (char)c;
  }
  out->len = (size_t)(w - out->data);
  *w = '\0';
  return 0;
}

int sb_url_write_target(const sb_url *u, sb_buf *out) {
  if (append_escaped(out, u->path, u->path + u->path_len, 0)) return SB_ENOMEM;
  if (!u->query) return 0;
  if (sb_buf_append(out, "?", 1)) return SB_ENOMEM;
  return append_escaped(out, u->query, u->query + u->query_len, 1);
}

int sb_url_write_host(const sb_url *u, sb_buf *out) {
  int rc = 0;
  if (u->ipv6) rc |= sb_buf_append(out, "[", 1);
  rc |= sb_buf_append(out, u->host, u->host_len);
  if (u->ipv6) rc |= sb_buf_append(out, "]", 1);
  if (u->port_explicit) rc |= sb_buf_printf(out, ":%u", (unsigned)u->port);
  return rc ? SB_ENOMEM : 0;
}

/* Appends the source with "userinfo@" replaced by |mask| (NULL: removed). */
static int write_masked(const sb_url *u, sb_buf *out, int mask) {
  if (!u->user) return sb_buf_append(out, u->src, u->src_len);
  const char *ui = u->user;
  const char *at = (u->pass ? u->pass + u->pass_len : u->user + u->user_len);
  int rc = sb_buf_append(out, u->src, (size_t)(ui - u->src));
  if (mask) rc |= sb_buf_puts(out, u->pass ? "****:****@" : "****@");
  rc |= sb_buf_append(out, at + 1, u->src_len - (size_t)(at + 1 - u->src));
  return rc ? SB_ENOMEM : 0;
}

int sb_url_write_clean(const sb_url *u, sb_buf *out) {
  return write_masked(u, out, 1);
}
int sb_url_write_stripped(const sb_url *u, sb_buf *out) {
  return write_masked(u, out, 0);
}

int sb_url_same_origin(const sb_url *a, const sb_url *b) {
  return a->scheme_len == b->scheme_len && strncasecmp(a->scheme, b->scheme, a->scheme_len) == 0 &&
         a->host_len == b->host_len && strncasecmp(a->host, b->host, a->host_len) == 0 &&
         a->port == b->port;
}

int sb_url_auth_may_follow(const sb_url *from, const sb_url *to) {
  size_t f = from->host_len, t = to->host_len;
  if (t == f) return strncasecmp(from->host, to->host, f) == 0;
  if (from->ipv6 || to->ipv6 || t <= f + 1) return 0;
  return to->host[t - f - 1] == '.' && strncasecmp(from->host, to->host + t - f, f) == 0;
}

/* --- RFC 3986 reference resolution ---------------------------------------------------------- */

/* The five components of a URI reference; a NULL |p| means absent (not empty). */
typedef struct span {
  const char *p;
  size_t n;
} span;
typedef struct uri_ref {
  span scheme, authority, path, query, fragment;
} uri_ref;

/* RFC 3986 appendix B, without a regex. */
static void split_ref(const char *s, size_t len, uri_ref *r) {
  const char *end = s + len, *p = s;
  memset(r, 0, sizeof(*r));
  long n = scheme_len(s, end);
  if (n > 0) r->scheme = (span){s, (size_t)n}, p = s + n + 1;
  if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
    const char *a = p + 2;
    p = a;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
      p++;
    r->authority = (span){a, (size_t)(p - a)};
  }
  const char *ps = p;
  while (p < end && *p != '?' && *p != '#')
    p++;
  r->path = (span){ps, (size_t)(p - ps)};
  if (p < end && *p == '?') {
    const char *qs = ++p;
    while (p < end && *p != '#')
      p++;
    r->query = (span){qs, (size_t)(p - qs)};
  }
  if (p < end && *p == '#') r->fragment = (span){p + 1, (size_t)(end - p - 1)};
}

/* Drops the last segment and its '/' from the output |buf|[0, *w). */
static void pop_segment(const char *buf, size_t *w) {
  while (*w > 0 && buf[*w - 1] != '/')
    (*w)--;
  if (*w > 0) (*w)--;
}

/* RFC 3986 §5.2.4 in place on |buf| (|len| bytes); returns the new length. The output never
 * grows past what was read, so writing behind the read position is safe. */
static size_t remove_dots(char *buf, size_t len) {
  size_t r = 0, w = 0;
#define REST(s) (len - r == sizeof(s) - 1 && memcmp(buf + r, s, sizeof(s) - 1) == 0)
#define PREFIX(s) (len - r >= sizeof(s) - 1 && memcmp(buf + r, s, sizeof(s) - 1) == 0)
  while (r < len) {
    if (PREFIX("../")) {
      r += 3;
    } else if (PREFIX("./")) {
      r += 2;
    } else if (PREFIX("/./")) {
      r += 2;
    } else if (REST("/.")) {
      buf[w++] = '/', r = len;
    } else if (PREFIX("/../")) {
      r += 3, pop_segment(buf, &w);
    } else if (REST("/..")) {
      pop_segment(buf, &w), buf[w++] = '/', r = len;
    } else if (REST(".") || REST("..")) {
      r = len;
    } else {
      size_t n = 1;
      while (r + n < len && buf[r + n] != '/')
        n++;
      memmove(buf + w, buf + r, n);
      w += n, r += n;
    }
  }
#undef REST
#undef PREFIX
  return w;
}

/* Appends |path| with its dot segments removed. */
static int append_path(sb_buf *out, span base_dir, span path) {
  size_t at = out->len;
  if (sb_buf_append(out, base_dir.p, base_dir.n) || sb_buf_append(out, path.p, path.n))
    return SB_ENOMEM;
  out->len = at + remove_dots(out->data + at, out->len - at);
  out->data[out->len] = '\0';
  return 0;
}

/* The target's path per RFC 3986 §5.2.2 for a ref without scheme or authority. */
static int merge_path(sb_buf *out, const uri_ref *b, const uri_ref *r) {
  if (!r->path.n) return append_path(out, (span){"", 0}, b->path);
  if (r->path.p[0] == '/') return append_path(out, (span){"", 0}, r->path);
  if (b->authority.p && !b->path.n) return append_path(out, (span){"/", 1}, r->path);
  size_t keep = b->path.n;
  while (keep > 0 && b->path.p[keep - 1] != '/')
    keep--;
  return append_path(out, (span){b->path.p, keep}, r->path);
}

int sb_url_resolve(const char *base, const char *ref, size_t ref_len, sb_buf *out) {
  uri_ref b, r;
  split_ref(base, strlen(base), &b);
  split_ref(ref, ref_len, &r);
  if (!b.scheme.p) return SB_EFORMAT;
  const uri_ref *auth = r.scheme.p || r.authority.p ? &r : &b;
  span scheme = r.scheme.p ? r.scheme : b.scheme;
  int rc = 0;
  if (sb_buf_reserve(out, scheme.n + 1)) return SB_ENOMEM;
  for (size_t i = 0; i < scheme.n; i++)
    out->data[out->len++] = (char)(scheme.p[i] | (is_alpha(scheme.p[i]) ? 32 : 0));
  rc |= sb_buf_append(out, ":", 1);
  if (auth->authority.p) {
    rc |= sb_buf_append(out, "//", 2);
    rc |= sb_buf_append(out, auth->authority.p, auth->authority.n);
  }
  if (rc) return SB_ENOMEM;
  if (auth == &r)
    rc = append_path(out, (span){"", 0}, r.path);
  else
    rc = merge_path(out, &b, &r);
  if (rc) return rc;
  const span *q = auth == &r || r.path.n || r.query.p ? &r.query : &b.query;
  if (q->p) rc |= sb_buf_append(out, "?", 1) | sb_buf_append(out, q->p, q->n);
  if (r.fragment.p)
    rc |= sb_buf_append(out, "#", 1) | sb_buf_append(out, r.fragment.p, r.fragment.n);
  return rc ? SB_ENOMEM : 0;
}
