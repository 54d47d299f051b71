/* The target allowlist (agent/allow.h).
 *
 * Two flat arrays, scanned in order: lists are short (a handful of blocks and names), and a scan
 * of a few entries costs less than the connect it guards. Addresses are kept as 16 bytes (IPv4 in
 * the first four) with their family; names in lower case, a wildcard as its ".suffix". */
#include "agent/allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

typedef struct block {
  int family;                  /* AF_INET or AF_INET6 */
  uint8_t addr[16];            /* network address, host bits cleared */
  unsigned prefix;             /* bits that must match */
} block;

typedef struct name {
  char *text;                  /* "api.example.com", or ".example.com" for "*.example.com" */
  size_t len;
  int wildcard;
} name;

struct sb_allow {
  block *blocks;
  size_t nblocks;
  name *names;
  size_t nnames;
  char *describe;              /* the entries as enforced, ", "-separated */
};

/* 1 when the first |prefix| bits of |a| and |b| agree. */
static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix) {
  unsigned full = prefix / 8, rest = prefix % 8;
  if (memcmp(a, b, full) != 0) return 0;
  if (!rest) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

static void clear_host_bits(uint8_t *a, unsigned prefix, unsigned bits) {
  for (unsigned i = prefix; i < bits; i++) a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* "10.0.0.0/8", "::1": fills |b|. Returns 1, 0 when |s| is no address, -1 on a bad prefix. */
static int parse_block(const char *s, block *b, sb_err *err) {
  char ip[64];
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  if (n == 0 || n >= sizeof(ip)) return 0;
  memcpy(ip, s, n);
  ip[n] = '\0';
  memset(b, 0, sizeof(*b));
  if (inet_pton(AF_INET, ip, b->addr) == 1) b->family = AF_INET;
  else if (inet_pton(AF_INET6, ip, b->addr) == 1) b->family = AF_INET6;
  else return 0;
  unsigned bits = b->family == AF_INET ? 32 : 128;
  b->prefix = bits;
  if (slash) {
    char *end;
    unsigned long p = strtoul(slash + 1, &end, 10);
    if (!slash[1] || *end || p > bits) {
      sb_err_set(err, SB_EINVAL, "--allow-targets: '%s': prefix length must be 0..%u", s, bits);
      return -1;
    }
    b->prefix = (unsigned)p;
  }
  clear_host_bits(b->addr, b->prefix, bits);
  return 1;
}

/* "api.example.com", "*.example.com": letters, digits, '-', '.', '_' only. */
static int parse_name(const char *s, name *out, sb_err *err) {
  int wild = strncmp(s, "*.", 2) == 0;
  const char *body = wild ? s + 1 : s; /* keeps the dot: ".example.com" */
  size_t len = strlen(body);
  if (len && body[len - 1] == '.') len--;
  int ok = len > (size_t)wild;
  for (size_t i = wild; ok && i < len; i++) {
    char c = body[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
  }
  if (!ok)
    return sb_err_set(err, SB_EINVAL,
                      "--allow-targets: '%s' is neither an address block (10.0.0.0/8) nor a host "
                      "name (api.example.com, *.example.com)", s);
  if (!(out->text = malloc(len + 1))) return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (size_t i = 0; i < len; i++)
    out->text[i] = body[i] >= 'A' && body[i] <= 'Z' ? (char)(body[i] + 32) : body[i];
  out->text[len] = '\0';
  out->len = len;
  out->wildcard = wild;
  return 0;
}

/* Appends the canonical form of the entry just added to the description. */
static int describe_add(sb_buf *d, const block *b, const name *n) {
  char ip[INET6_ADDRSTRLEN];
  int r = sb_buf_printf(d, "%s", d->len ? ", " : "");
  if (b) {
    inet_ntop(b->family, b->addr, ip, sizeof(ip));
    r |= sb_buf_printf(d, "%s/%u", ip, b->prefix);
  } else {
    r |= sb_buf_printf(d, "%s%s", n->wildcard ? "*" : "", n->text);
  }
  return r ? SB_ENOMEM : 0;
}

/* Parses one entry (trimmed, non-empty) into |a|. */
static int parse_entry(sb_allow *a, const char *s, sb_buf *desc, sb_err *err) {
  block b;
  int r = parse_block(s, &b, err);
  if (r < 0) return SB_EINVAL;
  if (r == 1) {
    a->blocks[a->nblocks++] = b;
    return describe_add(desc, &b, NULL);
  }
  if ((r = parse_name(s, &a->names[a->nnames], err)) < 0) return r;
  a->nnames++;
  return describe_add(desc, NULL, &a->names[a->nnames - 1]);
}

int sb_allow_parse(sb_allow **out, const char *spec, sb_err *err) {
  size_t n = 1;
  for (const char *p = spec; *p; p++) n += *p == ',';
  sb_allow *a = calloc(1, sizeof(*a));
  char *copy = strdup(spec);
  sb_buf desc;
  sb_buf_init(&desc);
  int rc = SB_ENOMEM;
  if (!a || !copy || !(a->blocks = calloc(n, sizeof(*a->blocks))) ||
      !(a->names = calloc(n, sizeof(*a->names)))) {
    sb_err_set(err, rc, "out of memory");
    goto fail;
  }
  rc = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ' || *tok == '\t') tok++;
    char *end = tok + strlen(tok);
    while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = '\0';
    if (*tok) rc = parse_entry(a, tok, &desc, err);
  }
  if (!rc && a->nblocks + a->nnames == 0)
    rc = sb_err_set(err, SB_EINVAL, "--allow-targets: no entry (leave the flag out to allow "
                                    "every target)");
  if (!rc && !(a->describe = sb_buf_steal(&desc, NULL))) rc = sb_err_set(err, SB_ENOMEM, "out of memory");
  if (rc) goto fail;
  free(copy);
  *out = a;
  return 0;

fail:
  sb_buf_clear(&desc);
  free(copy);
  sb_allow_free(a);
  return rc;
}

void sb_allow_free(sb_allow *a) {
  if (!a) return;
  for (size_t i = 0; i < a->nnames; i++) free(a->names[i].text);
  free(a->names);
  free(a->blocks);
  free(a->describe);
  free(a);
}

/* Is |host| one of the listed names? */
static int name_allowed(const sb_allow *a, const char *host) {
  size_t hl = strlen(host);
  if (hl && host[hl - 1] == '.') hl--;
  for (size_t i = 0; i < a->nnames; i++) {
    const name *n = &a->names[i];
    if (!n->wildcard ? hl == n->len && memcmp(host, n->text, hl) == 0
                     : hl > n->len && memcmp(host + hl - n->len, n->text, n->len) == 0)
      return 1;
  }
  return 0;
}

static int addr_allowed(const sb_allow *a, const struct sockaddr *sa) {
  int family = sa->sa_family;
  const uint8_t *ip;
  if (family == AF_INET) {
    ip = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
  } else if (family == AF_INET6) {
    ip = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(ip, mapped, 12) == 0) family = AF_INET, ip += 12;
  } else {
    return 0;
  }
  for (size_t i = 0; i < a->nblocks; i++)
    if (a->blocks[i].family == family && prefix_match(ip, a->blocks[i].addr, a->blocks[i].prefix))
      return 1;
  return 0;
}

int sb_allow_check(const sb_allow *a, const char *host, const struct sockaddr *sa,
                   int name_counts) {
  if (!a) return 1;
  if (addr_allowed(a, sa)) return 1;
  return name_counts && host && name_allowed(a, host);
}

const char *sb_allow_describe(const sb_allow *a) { return a ? a->describe : "every target"; }
