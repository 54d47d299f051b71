/* Cookie jar (see cookiejar.h): RFC 6265 as Go's net/http/cookiejar implements it.
 *
 * The cookies sit in one array kept in sending order (longest path first, then oldest first), so
 * building a Cookie header is a single pass with no sorting and no allocation: a new cookie is
 * inserted after every cookie whose path is as long as its own (those are all older), and a
 * replacement keeps both the slot and the creation time, exactly what Go's sort would give. Each
 * cookie's strings live in one allocation: name, value, domain, path and jar key, NUL-terminated
 * one after another. Jars hold a handful of cookies, so lookups are linear scans. */
#include "agent/cookiejar.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HOST 255
#define MAX_PATH 4096 /* longer Path attributes are refused */

typedef struct entry {
  sb_cookie c;     /* what each_for shows; strings in |mem| */
  const char *key; /* Go's jar key: cookies are only seen by hosts with the same key */
  size_t path_len;
  uint64_t seq; /* creation order, ties of equal creation times */
  char *mem;    /* name\0value\0domain\0path\0key\0 */
} entry;

struct sb_cookiejar {
  entry *v; /* in sending order */
  size_t n, cap;
  uint64_t next_seq;
};

/* What a cookie needs from a URL. */
typedef struct url_parts {
  int https;
  char host[MAX_HOST + 1]; /* lower case, without brackets, port or one trailing dot */
  size_t host_len;
  const char *path; /* into the URL ("/" when it has none), up to '?' or '#' */
  size_t path_len;
} url_parts;

/* --- URLs and hosts -------------------------------------------------------------------------- */

/* Splits an absolute http(s) URL. Returns 0 or SB_EINVAL. */
static int parse_url(const char *url, url_parts *u) {
  const char *p;
  if (!url) return SB_EINVAL;
  if (strncasecmp(url, "http://", 7) == 0)
    u->https = 0, p = url + 7;
  else if (strncasecmp(url, "https://", 8) == 0)
    u->https = 1, p = url + 8;
  else
    return SB_EINVAL;
  const char *aend = p + strcspn(p, "/?#");
  for (const char *s = p; s < aend; s++) /* userinfo: the host follows the last '@' */
    if (*s == '@') p = s + 1;
  const char *h = p, *hend;
  if (*h == '[') {
    hend = memchr(h, ']', (size_t)(aend - h));
    if (!hend || (hend + 1 != aend && hend[1] != ':')) return SB_EINVAL;
    h++;
  } else {
    hend = memchr(h, ':', (size_t)(aend - h));
    if (!hend) hend = aend;
  }
  size_t n = (size_t)(hend - h);
  if (n && h[n - 1] == '.') n--; /* Go drops the dot of a fully qualified name */
  if (n == 0 || n > MAX_HOST) return SB_EINVAL;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)h[i];
    if (ch <= ' ' || ch == 0x7f) return SB_EINVAL;
    u->host[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  }
  u->host[n] = '\0';
  u->host_len = n;
  if (*aend == '/') {
    u->path = aend;
    u->path_len = strcspn(aend, "?#");
  } else {
    u->path = "/";
    u->path_len = 1;
  }
  return 0;
}

static int is_ip(const char *host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Go's jarKey() without a public-suffix list: the last two labels, or the whole host for an IP
 * address or a single label. Returns a suffix of |host|. */
static const char *jar_key(const char *host, size_t len) {
  if (is_ip(host)) return host;
  const char *last = NULL, *prev = NULL;
  for (size_t i = 0; i < len; i++)
    if (host[i] == '.') prev = last, last = host + i;
  if (!last || last == host) return host;
  /* Go searches host[:i-1] for the previous dot: a dot right before the last one is skipped */
  if (prev && prev == last - 1) {
    prev = NULL;
    for (const char *s = host; s < last - 1; s++)
      if (*s == '.') prev = s;
  }
  return prev ? prev + 1 : host;
}

/* |s| ends with "." + |suffix|. */
static int has_dot_suffix(const char *s, size_t slen, const char *suffix, size_t n) {
  return slen > n && s[slen - n - 1] == '.' && memcmp(s + slen - n, suffix, n) == 0;
}

/* RFC 6265 5.1.4 default-path, as a prefix of |path|: its length. */
static size_t default_path_len(const char *path, size_t len) {
  if (len == 0 || path[0] != '/') return 0; /* caller uses "/" */
  size_t i = len;
  while (i > 0 && path[i - 1] != '/')
    i--;
  return i <= 1 ? 1 : i - 1;
}

static int path_match(const char *req, size_t rlen, const char *cpath, size_t clen) {
  if (rlen < clen || memcmp(req, cpath, clen) != 0) return 0;
  return rlen == clen || cpath[clen - 1] == '/' || req[clen] == '/';
}

/* Go's domainAndType(): the domain to store (written to |dom|) and whether the cookie is
 * host-only, or SB_EFORMAT with |err| saying why the Domain attribute is refused. */
static int domain_and_type(const url_parts *u, const char *d, size_t dlen, char *dom,
                           int *host_only, sb_err *err) {
  if (!d || dlen == 0) {
    memcpy(dom, u->host, u->host_len + 1);
    *host_only = 1;
    return 0;
  }
  if (is_ip(u->host)) { /* only the address itself, and then as a host-only cookie */
    if (dlen != u->host_len || memcmp(d, u->host, dlen) != 0)
      return sb_err_set(err, SB_EFORMAT, "cookie domain '%.*s' is not the IP address %s", (int)dlen,
                        d, u->host);
    memcpy(dom, u->host, u->host_len + 1);
    *host_only = 1;
    return 0;
  }
  const char *d0 = d;
  size_t d0len = dlen;
  if (d[0] == '.') d++, dlen--;
  if (dlen == 0 || dlen > MAX_HOST || d[0] == '.' || d[dlen - 1] == '.')
    return sb_err_set(err, SB_EFORMAT, "cookie domain '%.*s' is malformed", (int)d0len, d0);
  for (size_t i = 0; i < dlen; i++) {
    unsigned char ch = (unsigned char)d[i];
    if (ch >= 0x80 || ch <= ' ')
      return sb_err_set(err, SB_EFORMAT, "cookie domain '%.*s' is malformed", (int)d0len, d0);
    dom[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  }
  dom[dlen] = '\0';
  if (strcmp(dom, u->host) != 0 && !has_dot_suffix(u->host, u->host_len, dom, dlen))
    return sb_err_set(err, SB_EFORMAT, "cookie domain '%.*s' does not match the host %s",
                      (int)d0len, d0, u->host);
  *host_only = 0;
  return 0;
}

/* Whether |e| goes with a request to |u| (whose jar key is |key|). */
static int sends(const entry *e, const url_parts *u, const char *key) {
  if (e->c.secure && !u->https) return 0;
  if (strcmp(e->key, key) != 0) return 0;
  if (strcmp(e->c.domain, u->host) != 0 &&
      (e->c.host_only || !has_dot_suffix(u->host, u->host_len, e->c.domain, strlen(e->c.domain))))
    return 0;
  return path_match(u->path, u->path_len, e->c.path, e->path_len);
}

static int expired(const entry *e, int64_t now) {
  return e->c.persistent && e->c.expires <= now;
}

/* --- the array ------------------------------------------------------------------------------- */

int sb_cookiejar_new(sb_cookiejar **out) {
  sb_cookiejar *j = calloc(1, sizeof(*j));
  if (!j) return SB_ENOMEM;
  *out = j;
  return 0;
}

void sb_cookiejar_clear_all(sb_cookiejar *j) {
  for (size_t i = 0; i < j->n; i++)
    free(j->v[i].mem);
  j->n = 0;
}

void sb_cookiejar_free(sb_cookiejar *j) {
  if (!j) return;
  sb_cookiejar_clear_all(j);
  free(j->v);
  free(j);
}

size_t sb_cookiejar_count(const sb_cookiejar *j) {
  return j->n;
}

static void remove_at(sb_cookiejar *j, size_t i) {
  free(j->v[i].mem);
  memmove(&j->v[i], &j->v[i + 1], (j->n - i - 1) * sizeof(entry));
  j->n--;
}

/* Makes room for one more cookie: grows the array, or at the bound drops the expired cookies
 * and then, if need be, the oldest one. Returns 0 or SB_ENOMEM. */
static int make_room(sb_cookiejar *j, int64_t now) {
  if (j->n >= SB_COOKIEJAR_MAX_COOKIES) {
    for (size_t i = j->n; i-- > 0;)
      if (expired(&j->v[i], now)) remove_at(j, i);
    if (j->n >= SB_COOKIEJAR_MAX_COOKIES) {
      size_t oldest = 0;
      for (size_t i = 1; i < j->n; i++)
        if (j->v[i].seq < j->v[oldest].seq) oldest = i;
      remove_at(j, oldest);
    }
  }
  if (j->n < j->cap) return 0;
  size_t cap = j->cap ? j->cap * 2 : 8;
  entry *v = realloc(j->v, cap * sizeof(entry));
  if (!v) return SB_ENOMEM;
  j->v = v;
  j->cap = cap;
  return 0;
}

/* The stored cookie with this identity, or -1. */
static long find(const sb_cookiejar *j, const char *key, const char *name, size_t nlen,
                 const char *dom, const char *path, size_t plen) {
  for (size_t i = 0; i < j->n; i++) {
    const entry *e = &j->v[i];
    if (e->path_len == plen && strncmp(e->c.name, name, nlen) == 0 && e->c.name[nlen] == '\0' &&
        memcmp(e->c.path, path, plen) == 0 && strcmp(e->c.domain, dom) == 0 &&
        strcmp(e->key, key) == 0)
      return (long)i;
  }
  return -1;
}

/* Copies the strings of a cookie into one allocation and points |e| at them. */
static int fill_strings(entry *e, const sb_cookie_spec *c, const char *dom, const char *path,
                        size_t plen, const char *key) {
  size_t dlen = strlen(dom), klen = strlen(key);
  char *m = malloc(c->name_len + c->value_len + dlen + plen + klen + 5);
  if (!m) return SB_ENOMEM;
  char *p = m;
  e->mem = m;
  e->c.name = p, memcpy(p, c->name, c->name_len), p += c->name_len, *p++ = '\0';
  e->c.value = p, memcpy(p, c->value, c->value_len), p += c->value_len, *p++ = '\0';
  e->c.domain = p, memcpy(p, dom, dlen + 1), p += dlen + 1;
  e->c.path = p, memcpy(p, path, plen), p += plen, *p++ = '\0';
  e->key = p, memcpy(p, key, klen + 1);
  e->path_len = plen;
  return 0;
}

/* Inserts a new cookie after all cookies with a path at least as long (they are older). */
static int insert(sb_cookiejar *j, const entry *e, int64_t now) {
  int rc = make_room(j, now);
  if (rc < 0) return rc;
  size_t i = 0;
  while (i < j->n && j->v[i].path_len >= e->path_len)
    i++;
  memmove(&j->v[i + 1], &j->v[i], (j->n - i) * sizeof(entry));
  j->v[i] = *e;
  j->n++;
  return 0;
}

static int has_nul(const char *s, size_t n) {
  return s && n && memchr(s, '\0', n) != NULL;
}

/* Checks what sb_cookiejar_set() refuses outright. */
static int check_spec(const sb_cookie_spec *c, sb_err *err) {
  if (c->name_len + c->value_len > SB_COOKIE_MAX_BYTES)
    return sb_err_set(err, SB_EFORMAT, "cookie '%.*s' is larger than %d bytes",
                      (int)(c->name_len > 64 ? 64 : c->name_len), c->name, SB_COOKIE_MAX_BYTES);
  if (has_nul(c->name, c->name_len) || has_nul(c->value, c->value_len) ||
      has_nul(c->domain, c->domain_len) || has_nul(c->path, c->path_len))
    return sb_err_set(err, SB_EFORMAT, "cookie '%.*s' contains a NUL byte", (int)c->name_len,
                      c->name);
  if (c->path && c->path_len > MAX_PATH)
    return sb_err_set(err, SB_EFORMAT, "cookie '%.*s': its path is longer than %d bytes",
                      (int)c->name_len, c->name, MAX_PATH);
  return 0;
}

int sb_cookiejar_set(sb_cookiejar *j, const char *url, const sb_cookie_spec *c, int64_t now,
                     sb_err *err) {
  url_parts u;
  if (parse_url(url, &u) < 0)
    return sb_err_set(err, SB_EINVAL, "'%s' is not an absolute http:// or https:// URL",
                      url ? url : "(null)");
  int host_only = 1, rc = check_spec(c, err);
  char dom[MAX_HOST + 1];
  if (rc < 0 || (rc = domain_and_type(&u, c->domain, c->domain_len, dom, &host_only, err)) < 0)
    return rc;
  const char *path = c->path;
  size_t plen = c->path_len;
  if (!path || plen == 0 || path[0] != '/') {
    path = u.path;
    plen = default_path_len(u.path, u.path_len);
  }
  entry e = {.c = {.secure = c->secure != 0,
                   .http_only = c->http_only != 0,
                   .host_only = host_only != 0,
                   .same_site = c->same_site}};
  int remove = 0;
  if (c->max_age < 0)
    remove = 1;
  else if (c->max_age > 0)
    e.c.persistent = 1, e.c.expires = c->max_age > INT64_MAX - now ? INT64_MAX : now + c->max_age;
  else if (c->has_expires && c->expires <= now)
    remove = 1;
  else if (c->has_expires)
    e.c.persistent = 1, e.c.expires = c->expires;
  const char *key = jar_key(u.host, u.host_len);
  long at = find(j, key, c->name, c->name_len, dom, path, plen);
  if (remove) {
    if (at >= 0) remove_at(j, (size_t)at);
    return 0;
  }
  if ((rc = fill_strings(&e, c, dom, path, plen, key)) < 0) return rc;
  if (at >= 0) { /* same slot, same creation */
    entry *old = &j->v[at];
    e.c.creation = old->c.creation;
    e.seq = old->seq;
    free(old->mem);
    *old = e;
    return 0;
  }
  e.c.creation = now;
  e.seq = j->next_seq++;
  if ((rc = insert(j, &e, now)) < 0) free(e.mem);
  return rc;
}

int sb_cookiejar_set_cookie_header(sb_cookiejar *j, const char *url, const char *v, size_t len,
                                   int64_t now) {
  sb_cookie_spec c;
  int rc = sb_cookie_parse(&c, v, len);
  return rc < 0 ? rc : sb_cookiejar_set(j, url, &c, now, NULL);
}

int sb_cookiejar_each_for(const sb_cookiejar *j, const char *url, int64_t now, sb_cookie_cb fn,
                          void *ud) {
  url_parts u;
  if (parse_url(url, &u) < 0) return SB_EINVAL;
  const char *key = jar_key(u.host, u.host_len);
  int n = 0;
  for (size_t i = 0; i < j->n; i++) {
    const entry *e = &j->v[i];
    if (expired(e, now) || !sends(e, &u, key)) continue;
    n++;
    fn(&e->c, ud);
  }
  return n;
}

int sb_cookiejar_header_for(const sb_cookiejar *j, const char *url, int64_t now, sb_buf *out) {
  url_parts u;
  if (parse_url(url, &u) < 0) return SB_EINVAL;
  const char *key = jar_key(u.host, u.host_len);
  int n = 0;
  for (size_t i = 0; i < j->n; i++) {
    const entry *e = &j->v[i];
    if (expired(e, now) || !sends(e, &u, key)) continue;
    if (sb_cookie_append_pair(out, e->c.name, strlen(e->c.name), e->c.value, strlen(e->c.value)) <
        0)
      return SB_ENOMEM;
    n++;
  }
  return n;
}

int sb_cookiejar_delete(sb_cookiejar *j, const char *url, const char *name) {
  url_parts u;
  if (parse_url(url, &u) < 0) return SB_EINVAL;
  const char *key = jar_key(u.host, u.host_len);
  int n = 0;
  for (size_t i = j->n; i-- > 0;) {
    if (!sends(&j->v[i], &u, key) || (name && strcmp(j->v[i].c.name, name) != 0)) continue;
    remove_at(j, i);
    n++;
  }
  return n;
}

int sb_cookiejar_clear(sb_cookiejar *j, const char *url) {
  return sb_cookiejar_delete(j, url, NULL);
}

/* --- Set-Cookie parsing ---------------------------------------------------------------------- */

static int is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static void trim(const char **s, size_t *n) {
  while (*n && is_space(**s))
    (*s)++, (*n)--;
  while (*n && is_space((*s)[*n - 1]))
    (*n)--;
}

static int is_token(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch)) return 0;
  }
  return 1;
}

static int value_byte(unsigned char b) {
  return b >= 0x20 && b < 0x7f && b != '"' && b != ';' && b != '\\';
}

/* Go's parseCookieValue(): optionally unquotes, then checks every byte. */
static int cookie_value(const char **s, size_t *n, int unquote) {
  if (unquote && *n > 1 && (*s)[0] == '"' && (*s)[*n - 1] == '"') (*s)++, *n -= 2;
  for (size_t i = 0; i < *n; i++)
    if (!value_byte((unsigned char)(*s)[i])) return 0;
  return 1;
}

/* Go's Max-Age rule: an integer without a leading zero; zero or negative deletes (-1). */
static int parse_max_age(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  int64_t v = 0;
  if (n && (s[0] == '+' || s[0] == '-')) neg = s[0] == '-', i = 1;
  if (i == n || n - i > 18) return -1;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v != 0 && s[0] == '0') return -1;
  *out = neg || v == 0 ? -1 : v;
  return 0;
}

static int same_site(const char *s, size_t n) {
  if (n == 3 && strncasecmp(s, "lax", 3) == 0) return SB_SAMESITE_LAX;
  if (n == 6 && strncasecmp(s, "strict", 6) == 0) return SB_SAMESITE_STRICT;
  if (n == 4 && strncasecmp(s, "none", 4) == 0) return SB_SAMESITE_NONE;
  return SB_SAMESITE_DEFAULT;
}

/* Applies one attribute ("Path=/x") to |c|; bad or unknown ones are ignored. */
static void apply_attr(sb_cookie_spec *c, const char *a, size_t n) {
  const char *eq = memchr(a, '=', n);
  size_t alen = eq ? (size_t)(eq - a) : n;
  const char *v = eq ? eq + 1 : a + n;
  size_t vlen = eq ? n - alen - 1 : 0;
  if (!is_token(a, alen) || !cookie_value(&v, &vlen, 0)) return;
#define ATTR(lit) (alen == sizeof(lit) - 1 && strncasecmp(a, lit, alen) == 0)
  if (ATTR("samesite"))
    c->same_site = same_site(v, vlen);
  else if (ATTR("secure"))
    c->secure = 1;
  else if (ATTR("httponly"))
    c->http_only = 1;
  else if (ATTR("domain"))
    c->domain = v, c->domain_len = vlen;
  else if (ATTR("path"))
    c->path = v, c->path_len = vlen;
  else if (ATTR("max-age"))
    (void)parse_max_age(v, vlen, &c->max_age);
  else if (ATTR("expires"))
    c->has_expires = sb_cookie_parse_date(v, vlen, &c->expires) == 0;
#undef ATTR
}

int sb_cookie_parse(sb_cookie_spec *out, const char *v, size_t len) {
  memset(out, 0, sizeof(*out));
  const char *end = v + len, *semi = memchr(v, ';', len);
  const char *p = v;
  size_t n = semi ? (size_t)(semi - v) : len;
  trim(&p, &n);
  const char *eq = memchr(p, '=', n);
  if (!eq) return SB_EFORMAT;
  const char *name = p, *val = eq + 1;
  size_t nlen = (size_t)(eq - p), vlen = n - nlen - 1;
  trim(&name, &nlen);
  if (!is_token(name, nlen) || !cookie_value(&val, &vlen, 1)) return SB_EFORMAT;
  out->name = name, out->name_len = nlen;
  out->value = val, out->value_len = vlen;
  while (semi) {
    p = semi + 1;
    semi = memchr(p, ';', (size_t)(end - p));
    n = semi ? (size_t)(semi - p) : (size_t)(end - p);
    trim(&p, &n);
    if (n) apply_attr(out, p, n);
  }
  return 0;
}

/* --- dates ----------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Reads |min|..|max| digits at *s. Returns the number or -1. */
static int digits(const char **s, const char *end, int min, int max) {
  int v = 0, k = 0;
  while (*s < end && k < max && **s >= '0' && **s <= '9')
    v = v * 10 + (*(*s)++ - '0'), k++;
  return k >= min ? v : -1;
}

static int month_of(const char *s) {
  static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  for (int i = 0; i < 12; i++)
    if (strncasecmp(s, names + 3 * i, 3) == 0) return i + 1;
  return 0;
}

static int weekday_ok(const char *s) {
  static const char names[] = "montuewedthufrisatsun";
  for (int i = 0; i < 7; i++)
    if (strncasecmp(s, names + 3 * i, 3) == 0) return 1;
  return 0;
}

int sb_cookie_parse_date(const char *s, size_t len, int64_t *out) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const char *end = s + len;
  if (len < 28 || !weekday_ok(s) || s[3] != ',' || s[4] != ' ') return SB_EFORMAT;
  const char *p = s + 5;
  int day = digits(&p, end, 2, 2);
  if (day < 1 || end - p < 5 || (*p != ' ' && *p != '-') || p[4] != *p) return SB_EFORMAT;
  int mon = month_of(p + 1);
  p += 5;
  int year = digits(&p, end, 4, 4);
  if (!mon || year < 0 || p == end || *p++ != ' ') return SB_EFORMAT;
  int hh = digits(&p, end, 1, 2);
  if (hh < 0 || p == end || *p++ != ':') return SB_EFORMAT;
  int mm = digits(&p, end, 2, 2);
  if (mm < 0 || p == end || *p++ != ':') return SB_EFORMAT;
  int ss = digits(&p, end, 2, 2);
  if (ss < 0 || p == end || *p++ != ' ') return SB_EFORMAT;
  size_t zlen = (size_t)(end - p);
  if (zlen < 3 || zlen > 5) return SB_EFORMAT;
  for (size_t i = 0; i < zlen; i++)
    if (p[i] < 'A' || p[i] > 'Z') return SB_EFORMAT;
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > mdays[mon - 1] || (mon == 2 && day == 29 && !leap) || hh > 23 || mm > 59 || ss > 59)
    return SB_EFORMAT;
  *out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
  return 0;
}

/* --- Cookie header --------------------------------------------------------------------------- */

int sb_cookie_append_pair(sb_buf *out, const char *name, size_t name_len, const char *value,
                          size_t value_len) {
  if (sb_buf_reserve(out, name_len + value_len + 5) < 0) return SB_ENOMEM;
  char *p = out->data + out->len;
  if (out->len) *p++ = ';', *p++ = ' ';
  for (size_t i = 0; i < name_len; i++)
    *p++ = name[i] == '\r' || name[i] == '\n' ? '-' : name[i];
  *p++ = '=';
  char *v = p;
  int quote = 0;
  *p++ = '"'; /* kept only if the value needs quoting */
  for (size_t i = 0; i < value_len; i++) {
    unsigned char b = (unsigned char)value[i];
    if (!value_byte(b)) continue;
    quote |= b == ' ' || b == ',';
    *p++ = (char)b;
  }
  if (quote)
    *p++ = '"';
  else
    memmove(v, v + 1, (size_t)(--p - v));
  *p = '\0';
  out->len = (size_t)(p - out->data);
  return 0;
}
