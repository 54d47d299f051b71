/* Per-worker asynchronous resolver (see dns.h).
 *
 * A name goes through, in order: k6's `hosts` overrides, numeric addresses, "localhost", the
 * worker's answer cache, the hosts file, and only then evdns (one A and one AAAA query, or just
 * the one the policy needs). Everything before evdns answers synchronously.
 *
 * Why the hosts file is read here and not through evdns_base_load_hosts(): evdns consults its
 * hosts table only in evdns_getaddrinfo(), and that call neither reports the records' TTL nor
 * lets us ask "hosts file only" without sending a query for a name that is not there. Reading the
 * file ourselves (once per worker) keeps evdns_base_resolve_ipv4/ipv6() for the network, with
 * their TTLs.
 *
 * The cache keeps one entry per lower-case name: every address received (A then AAAA, in the
 * order the answers came), how long they stay fresh, the roundRobin cursor and the lookup that is
 * filling the entry, which later askers for the same name join instead of sending their own
 * queries. An entry outlives its answer (a stale entry keeps the roundRobin cursor, even with
 * ttl 0); the oldest entry with no lookup in flight goes when the cache is full.
 *
 * evdns always calls back, later, from the loop, even after evdns_cancel_request(); so a lookup
 * is freed only once each of its queries has called back. sb_dns_free() detaches ("orphans") the
 * lookups still in flight, cancels their queries, and lets those last callbacks free them. */
#include "agent/dns.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

#define SB_DNS_MAX_ADDRS 32         /* addresses kept per name, both families together */
#define SB_DNS_CACHE_MAX 1024       /* names kept per worker */
#define SB_DNS_BUCKETS 2048         /* hash buckets (a power of two) */
#define SB_DNS_NEG_TTL_US 1000000   /* "no such name" / "no address" is believed for 1 s */
#define SB_DNS_NAME_MAX 254         /* 253 characters and the NUL */

/* One address, without a port. */
typedef struct ip {
  uint8_t family;                   /* AF_INET, AF_INET6; 0 = none */
  uint8_t a[16];
} ip;

/* Every address known for a name. */
typedef struct answer {
  uint8_t n, nv4, nv6;
  ip addrs[SB_DNS_MAX_ADDRS];
} answer;

struct lookup;

typedef struct entry {
  struct entry *hnext;              /* hash chain */
  struct entry *older, *newer;      /* age list, for eviction */
  struct lookup *lk;                /* the lookup filling this entry, or NULL */
  int64_t expires_us;               /* the answer (or |err|) holds while now < this */
  int err;                          /* 0, or SB_ENOTFOUND for a negative answer */
  uint32_t rr;                      /* roundRobin cursor */
  answer ans;
  char name[];                      /* lower case */
} entry;

/* One evdns query (A or AAAA) of a lookup. */
typedef struct query {
  struct lookup *lk;
  struct evdns_request *r;          /* NULL once it called back (evdns frees the handle) */
} query;

typedef struct lookup {
  sb_dns *d;                        /* NULL once orphaned by sb_dns_free() */
  struct lookup *prev, *next;       /* d->lookups */
  entry *e;                         /* the entry it fills (e->lk == this until the answer) */
  sb_dns_req *waiters, *last;       /* askers, first come first served */
  query q[2];                       /* A, AAAA */
  int outstanding;                  /* queries that have not called back */
  int nempty, nfail;                /* queries answered with no address / that failed */
  int delivering;
  uint32_t ttl;                     /* smallest record TTL seen, seconds */
  uint32_t hash;
  answer ans;
  char name[SB_DNS_NAME_MAX];
} lookup;

struct sb_dns_req {
  lookup *lk;
  sb_dns_req *prev, *next;          /* lk->waiters */
  int port;
  sb_dns_cb cb;
  void *ud;
};

/* One name of the hosts file. */
typedef struct hosts_ent {
  const char *name;                 /* into sb_dns.hosts_text, lower case */
  ip addr;
} hosts_ent;

struct sb_dns {
  struct event_base *base;
  struct evdns_base *evdns;
  const sb_http_config *cfg;
  int has_ns;                       /* resolv.conf named at least one nameserver */
  ip *ovr;                          /* cfg->hosts[i]'s address; family 0 when unusable */
  char *hosts_text;                 /* the hosts file, split in place */
  hosts_ent *hosts;
  size_t nhosts;
  entry *buckets[SB_DNS_BUCKETS];
  entry *oldest, *newest;
  size_t nentries, max_entries;
  lookup *lookups;                  /* in flight */
  uint64_t rnd;                     /* xorshift state for dns.select random */
  int64_t (*now_us)(void);          /* monotonic clock (a test may swap it) */
};

/* Small helpers ---------------------------------------------------------------------------- */

static int parse_ip(const char *s, ip *out) {
  memset(out, 0, sizeof(*out));
  if (inet_pton(AF_INET, s, out->a) == 1) {
    out->family = AF_INET;
    return 1;
  }
  if (inet_pton(AF_INET6, s, out->a) == 1) {
    out->family = AF_INET6;
    return 1;
  }
  return 0;
}

static socklen_t ip_to_sa(const ip *a, int port, struct sockaddr_storage *ss) {
  if (a->family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    memcpy(&sin->sin_addr, a->a, 4);
    return sizeof(*sin);
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  memset(sin6, 0, sizeof(*sin6));
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  memcpy(&sin6->sin6_addr, a->a, 16);
  return sizeof(*sin6);
}

static void answer_add(answer *ans, int family, const void *bytes) {
  if (ans->n >= SB_DNS_MAX_ADDRS) return;
  ip *a = &ans->addrs[ans->n++];
  memset(a, 0, sizeof(*a));
  a->family = (uint8_t)family;
  memcpy(a->a, bytes, family == AF_INET ? 4 : 16);
  if (family == AF_INET) ans->nv4++;
  else ans->nv6++;
}

/* FNV-1a */
static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static uint32_t next_random(sb_dns *d) {
  uint64_t x = d->rnd;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  d->rnd = x;
  return (uint32_t)(x >> 32);
}

/* When an answer got at |now| stops being fresh: k6's dns.ttl bounds the record's own TTL
 * (|rec_us| < 0: none, as for the hosts file); dns.ttl < 0 ("inf") keeps it for good, whatever
 * the record says, and 0 not at all. A negative answer (|neg|) holds at most SB_DNS_NEG_TTL_US. */
static int64_t expiry(const sb_dns *d, int64_t now, int64_t rec_us, int neg) {
  double t = d->cfg->dns.ttl_ms;
  if (t == 0) return now;
  if (t < 0 && !neg) return INT64_MAX;
  int64_t lim = t < 0 ? SB_DNS_NEG_TTL_US : (int64_t)(t * 1000);
  if (neg && lim > SB_DNS_NEG_TTL_US) lim = SB_DNS_NEG_TTL_US;
  if (rec_us >= 0 && rec_us < lim) lim = rec_us;
  return now + lim;
}

/* Writes one address of |ans| for |port| to |out|: the family the policy asks for, then the one
 * dns.select picks (|rr|: the name's roundRobin cursor, NULL for none). Returns 0, or
 * SB_ENOTFOUND when no address has the policy's family. */
static int pick(sb_dns *d, const answer *ans, uint32_t *rr, int port,
                struct sockaddr_storage *out, socklen_t *outlen) {
  int fam;
  switch (d->cfg->dns.policy) {
  case SB_DNS_POLICY_PREFER_IPV6: fam = ans->nv6 ? AF_INET6 : AF_INET; break;
  case SB_DNS_POLICY_ONLY_IPV4: fam = AF_INET; break;
  case SB_DNS_POLICY_ONLY_IPV6: fam = AF_INET6; break;
  case SB_DNS_POLICY_ANY: fam = 0; break;
  default: fam = ans->nv4 ? AF_INET : AF_INET6; break;
  }
  unsigned m = fam == 0 ? ans->n : fam == AF_INET ? ans->nv4 : ans->nv6;
  if (m == 0) return SB_ENOTFOUND;
  unsigned k = 0;
  if (d->cfg->dns.select == SB_DNS_SELECT_ROUND_ROBIN) k = rr ? (*rr)++ % m : 0;
  else if (d->cfg->dns.select == SB_DNS_SELECT_RANDOM) k = next_random(d) % m;
  for (unsigned i = 0; i < ans->n; i++) {
    if (fam && ans->addrs[i].family != fam) continue;
    if (k-- == 0) {
      *outlen = ip_to_sa(&ans->addrs[i], port, out);
      return 0;
    }
  }
  return SB_ENOTFOUND; /* not reached: the counts match the addresses */
}

/* Overrides, literals, localhost, hosts file ----------------------------------------------- */

/* The `hosts` entry for |key| (lower case) and |port|, or NULL. An exact name beats a wildcard,
 * a longer wildcard beats a shorter one, and a "name:port" entry beats a plain "name". */
static const sb_host_override *override_find(const sb_dns *d, const char *key, int port,
                                             const ip **addr) {
  const sb_host_override *o = sb_http_config_match_host(d->cfg, key, port);
  if (!o || !d->ovr[o - d->cfg->hosts].family) return NULL; /* none, or an address that did not parse */
  *addr = &d->ovr[o - d->cfg->hosts];
  return o;
}

static int overrides_prepare(sb_dns *d) {
  if (!d->cfg->nhosts) return 0;
  d->ovr = calloc(d->cfg->nhosts, sizeof(*d->ovr));
  if (!d->ovr) return SB_ENOMEM;
  for (size_t i = 0; i < d->cfg->nhosts; i++) {
    const sb_host_override *o = &d->cfg->hosts[i];
    if (!o->name || !o->ip || !parse_ip(o->ip, &d->ovr[i])) d->ovr[i].family = 0;
  }
  return 0;
}

static int hosts_add(sb_dns *d, const char *name, const ip *addr, size_t *cap) {
  if (d->nhosts == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    hosts_ent *h = realloc(d->hosts, ncap * sizeof(*h));
    if (!h) return SB_ENOMEM;
    d->hosts = h;
    *cap = ncap;
  }
  d->hosts[d->nhosts].name = name;
  d->hosts[d->nhosts++].addr = *addr;
  return 0;
}

/* Reads the hosts file at |path| ("address name alias..." lines, '#' comments). A missing or
 * unreadable file adds nothing. Returns 0 or SB_ENOMEM. */
static int hosts_load(sb_dns *d, const char *path) {
  sb_buf b;
  sb_buf_init(&b);
  int rc = path ? sb_buf_read_file(&b, path, NULL) : SB_ENOTFOUND;
  if (rc < 0 || !b.data) {
    sb_buf_clear(&b);
    return rc == SB_ENOMEM ? rc : 0;
  }
  d->hosts_text = sb_buf_steal(&b, NULL);
  size_t cap = 0;
  for (char *line = d->hosts_text, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *save, *tok = strtok_r(line, " \t\r", &save);
    ip addr;
    if (!tok || !parse_ip(tok, &addr)) continue;
    while ((tok = strtok_r(NULL, " \t\r", &save))) {
      for (char *p = tok; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
      if ((rc = hosts_add(d, tok, &addr, &cap)) < 0) return rc;
    }
  }
  return 0;
}

/* Adds every hosts-file address of |key| to |ans| in file order; returns how many. */
static int hosts_find(const sb_dns *d, const char *key, answer *ans) {
  ans->n = ans->nv4 = ans->nv6 = 0;
  for (size_t i = 0; i < d->nhosts; i++)
    if (strcmp(d->hosts[i].name, key) == 0)
      answer_add(ans, d->hosts[i].addr.family, d->hosts[i].addr.a);
  return ans->n;
}

/* Answers |key| without the cache when it is an override, a numeric address or localhost.
 * Returns 1 with |out| set, or 0. */
static int answer_at_hand(sb_dns *d, const char *host, const char *key, size_t klen, int port,
                          struct sockaddr_storage *out, socklen_t *outlen) {
  const ip *a = NULL;
  const sb_host_override *o = override_find(d, key, port, &a);
  if (o) {
    *outlen = ip_to_sa(a, o->to_port ? o->to_port : port, out);
    return 1;
  }
  ip lit;
  if (parse_ip(host, &lit)) {
    *outlen = ip_to_sa(&lit, port, out);
    return 1;
  }
  if (strcmp(key, "localhost") == 0) {
    /* RFC 6761: loopback without asking anyone, so a machine without /etc/hosts works too */
    sb_dns_policy p = d->cfg->dns.policy;
    memset(&lit, 0, sizeof(lit));
    if (p == SB_DNS_POLICY_ONLY_IPV6 || p == SB_DNS_POLICY_PREFER_IPV6) {
      lit.family = AF_INET6;
      lit.a[15] = 1;
    } else {
      lit.family = AF_INET;
      lit.a[0] = 127;
      lit.a[3] = 1;
    }
    *outlen = ip_to_sa(&lit, port, out);
    return 1;
  }
  return 0;
}

/* Cache ------------------------------------------------------------------------------------ */

static entry *cache_find(const sb_dns *d, const char *key, uint32_t h) {
  for (entry *e = d->buckets[h & (SB_DNS_BUCKETS - 1)]; e; e = e->hnext)
    if (strcmp(e->name, key) == 0) return e;
  return NULL;
}

static void age_unlink(sb_dns *d, entry *e) {
  if (e->older) e->older->newer = e->newer;
  else d->oldest = e->newer;
  if (e->newer) e->newer->older = e->older;
  else d->newest = e->older;
  e->older = e->newer = NULL;
}

static void age_push(sb_dns *d, entry *e) {
  e->older = d->newest;
  e->newer = NULL;
  if (d->newest) d->newest->newer = e;
  else d->oldest = e;
  d->newest = e;
}

static void cache_remove(sb_dns *d, entry *e) {
  entry **pp = &d->buckets[hash_name(e->name) & (SB_DNS_BUCKETS - 1)];
  while (*pp != e) pp = &(*pp)->hnext;
  *pp = e->hnext;
  age_unlink(d, e);
  d->nentries--;
  free(e);
}

/* A new, stale entry for |key|; makes room by dropping the oldest entry with no lookup in flight
 * (when every entry has one, the cache grows past its bound for a while). NULL: out of memory. */
static entry *cache_add(sb_dns *d, const char *key, size_t klen, uint32_t h) {
  if (d->nentries >= d->max_entries) {
    entry *v = d->oldest;
    while (v && v->lk) v = v->newer;
    if (v) cache_remove(d, v);
  }
  entry *e = malloc(sizeof(*e) + klen + 1);
  if (!e) return NULL;
  memset(e, 0, sizeof(*e));
  memcpy(e->name, key, klen + 1);
  e->expires_us = INT64_MIN;
  e->hnext = d->buckets[h & (SB_DNS_BUCKETS - 1)];
  d->buckets[h & (SB_DNS_BUCKETS - 1)] = e;
  age_push(d, e);
  d->nentries++;
  return e;
}

static void cache_fill(sb_dns *d, entry *e, const answer *ans, int err, int64_t expires) {
  e->err = err;
  if (ans) e->ans = *ans;
  else e->ans.n = e->ans.nv4 = e->ans.nv6 = 0;
  e->expires_us = expires;
  age_unlink(d, e);
  age_push(d, e);
}

/* evdns lookups ---------------------------------------------------------------------------- */

static void lookup_finish(lookup *L);

/* evdns's callback for one query of a lookup (always from the loop). */
static void on_answer(int result, char type, int count, int ttl, void *addrs, void *arg) {
  query *q = arg;
  lookup *L = q->lk;
  q->r = NULL; /* evdns frees the handle once we return */
  L->outstanding--;
  if (!L->d) { /* orphaned by sb_dns_free() */
    if (!L->outstanding) free(L);
    return;
  }
  if (result == DNS_ERR_NONE && count > 0 && (type == DNS_IPv4_A || type == DNS_IPv6_AAAA)) {
    int fam = type == DNS_IPv4_A ? AF_INET : AF_INET6;
    for (int i = 0; i < count; i++)
      answer_add(&L->ans, fam, (const uint8_t *)addrs + (size_t)i * (fam == AF_INET ? 4 : 16));
    if ((uint32_t)ttl < L->ttl) L->ttl = (uint32_t)ttl;
  } else if (result == DNS_ERR_NONE || result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA) {
    L->nempty++;
  } else {
    L->nfail++;
  }
  if (!L->outstanding) lookup_finish(L);
}

/* Starts the queries for |e| (those the policy needs) and links the lookup to |e|.
 * Returns 0, SB_ENOMEM, or SB_EIO when evdns would not take a single query. */
static int lookup_start(sb_dns *d, entry *e, uint32_t h) {
  lookup *L = calloc(1, sizeof(*L));
  if (!L) return SB_ENOMEM;
  L->d = d;
  L->e = e;
  L->hash = h;
  L->ttl = UINT32_MAX;
  memcpy(L->name, e->name, strlen(e->name) + 1);
  sb_dns_policy p = d->cfg->dns.policy;
  for (int i = 0; i < 2; i++) {
    if ((i == 0 && p == SB_DNS_POLICY_ONLY_IPV6) || (i == 1 && p == SB_DNS_POLICY_ONLY_IPV4))
      continue;
    L->q[i].lk = L;
    L->q[i].r = i == 0 ? evdns_base_resolve_ipv4(d->evdns, L->name, 0, on_answer, &L->q[i])
                       : evdns_base_resolve_ipv6(d->evdns, L->name, 0, on_answer, &L->q[i]);
    if (L->q[i].r) L->outstanding++;
    else L->nfail++;
  }
  if (!L->outstanding) {
    free(L);
    return SB_EIO;
  }
  L->next = d->lookups;
  if (d->lookups) d->lookups->prev = L;
  d->lookups = L;
  e->lk = L;
  return 0;
}

static void lookup_unlink(sb_dns *d, lookup *L) {
  if (L->prev) L->prev->next = L->next;
  else d->lookups = L->next;
  if (L->next) L->next->prev = L->prev;
}

static void waiter_unlink(sb_dns_req *r) {
  if (r->prev) r->prev->next = r->next;
  else r->lk->waiters = r->next;
  if (r->next) r->next->prev = r->prev;
  else r->lk->last = r->prev;
}

/* Every query called back: the answer goes to the cache, then to each waiter in turn. A
 * waiter's callback may resolve, cancel another waiter, or free the resolver: the loop checks
 * after each call. New askers do not join this lookup (e->lk is cleared first). */
static void lookup_finish(lookup *L) {
  sb_dns *d = L->d;
  entry *e = L->e;
  int64_t now = d->now_us();
  int err = L->ans.n ? 0 : L->nfail ? SB_EIO : SB_ENOTFOUND;
  e->lk = NULL;
  if (!err) cache_fill(d, e, &L->ans, 0, expiry(d, now, (int64_t)L->ttl * 1000000, 0));
  else if (err == SB_ENOTFOUND) cache_fill(d, e, NULL, err, expiry(d, now, -1, 1));
  L->delivering = 1;
  sb_dns_req *r;
  while (L->d && (r = L->waiters)) {
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int rc = err;
    if (!rc) {
      entry *cur = cache_find(L->d, L->name, L->hash); /* |e| may be gone by now */
      rc = pick(L->d, &L->ans, cur ? &cur->rr : NULL, r->port, &ss, &sl);
    }
    waiter_unlink(r);
    sb_dns_cb cb = r->cb;
    void *ud = r->ud;
    free(r);
    cb(rc, rc ? NULL : (struct sockaddr *)&ss, sl, ud);
  }
  if (L->d) lookup_unlink(L->d, L);
  free(L);
}

/* Public ----------------------------------------------------------------------------------- */

/* evdns's own log goes to libevent's, which prints everything to stderr, once per worker:
 * "nameserver failed / back up" notes included. Only its warnings are kept. The log function
 * is process-wide, hence set once. */
static void on_evdns_log(int is_warning, const char *msg) {
  if (is_warning) fprintf(stderr, "dns: %s\n", msg);
}

static void quiet_evdns(void) { evdns_set_log_fn(on_evdns_log); }

/* sb_dns_new() with the resolver's files named (the tests point them at their own). */
static int dns_new(sb_dns **out, struct event_base *base, const sb_http_config *cfg,
                   const char *resolv_conf, const char *hosts_file) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, quiet_evdns);
  sb_dns *d = calloc(1, sizeof(*d));
  if (!d) return SB_ENOMEM;
  d->base = base;
  d->cfg = cfg;
  d->max_entries = SB_DNS_CACHE_MAX;
  d->now_us = sb_clock_mono_us;
  d->rnd = ((uint64_t)sb_clock_mono_us() << 1 | 1) ^ (uint64_t)(uintptr_t)d;
  int rc = overrides_prepare(d);
  if (rc < 0 || (rc = hosts_load(d, hosts_file)) < 0) goto fail;
  /* Inactive evdns does not keep the loop running; our timeouts go first so that resolv.conf's
   * own "options timeout:/attempts:" still win; no 127.0.0.1 made up when none is named. */
  d->evdns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  if (!d->evdns) {
    rc = SB_ENOMEM;
    goto fail;
  }
  evdns_base_set_option(d->evdns, "timeout:", "5");
  evdns_base_set_option(d->evdns, "attempts:", "2");
  evdns_base_set_option(d->evdns, "randomize-case:", "0"); /* some forwarders mangle case */
  if (resolv_conf)
    evdns_base_resolv_conf_parse(d->evdns,
                                 DNS_OPTION_NAMESERVERS | DNS_OPTION_SEARCH | DNS_OPTION_MISC |
                                     DNS_OPTION_NAMESERVERS_NO_DEFAULT,
                                 resolv_conf);
  d->has_ns = evdns_base_count_nameservers(d->evdns) > 0;
  *out = d;
  return 0;
fail:
  sb_dns_free(d);
  return rc;
}

int sb_dns_new(sb_dns **out, struct event_base *base, const sb_http_config *cfg) {
  return dns_new(out, base, cfg, "/etc/resolv.conf", "/etc/hosts");
}

void sb_dns_free(sb_dns *d) {
  if (!d) return;
  lookup *L;
  while ((L = d->lookups)) {
    d->lookups = L->next;
    sb_dns_req *r;
    while ((r = L->waiters)) {
      L->waiters = r->next;
      free(r);
    }
    L->d = NULL; /* lookup_finish() or the last on_answer() frees it */
    for (int i = 0; i < 2; i++)
      if (L->q[i].r) evdns_cancel_request(d->evdns, L->q[i].r);
  }
  if (d->evdns) evdns_base_free(d->evdns, 0);
  while (d->oldest) cache_remove(d, d->oldest);
  free(d->hosts);
  free(d->hosts_text);
  free(d->ovr);
  free(d);
}

int sb_dns_resolve(sb_dns *d, const char *host, int port, struct sockaddr_storage *out,
                   socklen_t *outlen, sb_dns_cb cb, void *ud, sb_dns_req **req) {
  *req = NULL;
  char key[SB_DNS_NAME_MAX];
  size_t klen = strlen(host);
  if (klen == 0 || klen >= sizeof(key)) return SB_ENOTFOUND;
  for (size_t i = 0; i <= klen; i++)
    key[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] + 32) : host[i];
  if (answer_at_hand(d, host, key, klen, port, out, outlen)) return 1;

  uint32_t h = hash_name(key);
  int64_t now = d->now_us();
  entry *e = cache_find(d, key, h);
  if (e && now < e->expires_us) {
    if (e->err) return e->err;
    int rc = pick(d, &e->ans, &e->rr, port, out, outlen);
    return rc < 0 ? rc : 1;
  }
  answer hosts;
  if (hosts_find(d, key, &hosts)) {
    if (e || (e = cache_add(d, key, klen, h))) cache_fill(d, e, &hosts, 0, expiry(d, now, -1, 0));
    int rc = pick(d, &hosts, e ? &e->rr : NULL, port, out, outlen);
    return rc < 0 ? rc : 1;
  }
  if (!d->has_ns) return SB_ENOTFOUND;

  sb_dns_req *r = malloc(sizeof(*r));
  if (!r) return SB_ENOMEM;
  int rc = 0;
  if (!e && !(e = cache_add(d, key, klen, h))) rc = SB_ENOMEM;
  if (!rc && !e->lk) rc = lookup_start(d, e, h);
  if (rc < 0) {
    free(r);
    return rc;
  }
  lookup *L = e->lk;
  *r = (sb_dns_req){.lk = L, .prev = L->last, .port = port, .cb = cb, .ud = ud};
  if (L->last) L->last->next = r;
  else L->waiters = r;
  L->last = r;
  *req = r;
  return 0;
}

void sb_dns_cancel(sb_dns_req *req) {
  if (!req) return;
  waiter_unlink(req);
  free(req);
}
