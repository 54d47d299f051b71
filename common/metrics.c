/* Metric registry, tag-set interning and per-(metric, tags) aggregates (see metrics.h).
 *
 * Layout, chosen for the per-request path:
 * - a tag set is one malloc'ed block (struct, sorted key/value pointers, the canonical
 *   "key\0value\0..." string) chained in a hash table; its address never changes;
 * - each tag set keeps an array of series pointers indexed by metric id, grown when a metric
 *   is first used with it, so finding the series of a known pair is an index;
 * - series live in fixed pages of SERIES_PAGE, so their addresses never change either and
 *   iteration is a walk over the pages.
 * Looking up a tag set that was seen before sorts the caller's pairs on the stack, hashes them
 * in sorted order and compares: no allocation. */
#include "common/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/points.h"

#define SERIES_PAGE 64
#define TAGS_STACK 64       /* pairs sorted on the stack; more take a malloc'ed scratch */
#define METRIC_NAME_MAX 128 /* k6's limit */

struct sb_tagset {
  struct sb_tagset *next; /* hash chain */
  uint64_t hash;          /* of the canonical string */
  size_t npairs;
  uint32_t index;     /* order of interning in the set (sb_tagset_index) */
  const char **kv;    /* 2 * npairs pointers into str, sorted by key */
  size_t len;         /* of str, NULs included */
  sb_series **series; /* by metric id, NULL when not used yet */
  int nseries;        /* length of |series| */
  char *str;          /* canonical "key\0value\0..." */
};

struct sb_metrics {
  sb_metric_info *metrics;
  int nmetrics, metrics_cap;
  struct sb_tagset **table; /* hash buckets, a power of two */
  size_t nbuckets, ntags;
  sb_series **pages; /* SERIES_PAGE series each */
  size_t npages, pages_cap;
  size_t nseries; /* series in use over all pages */
  sb_points *points; /* raw samples for the outputs; NULL: not recorded (the usual case) */
  struct tags_memo *memo; /* the last lookups of sb_metrics_tags(), made on first use */
};

/* sb_metrics_tags() remembers its last TAGS_MEMO lookups by their pairs as the caller gave them
 * (unsorted): a request's or a check's tags are nearly always those of the previous one, and
 * comparing them string by string costs a tenth of hashing and sorting them again (~2,300
 * instructions per request for k6/http's dozen tags). The strings are copied: the caller's
 * buffers do not live. */
#define TAGS_MEMO 8
#define TAGS_MEMO_BYTES 1024
typedef struct tags_memo_entry {
  const struct sb_tagset *t;   /* NULL: empty */
  size_t n;                    /* pairs */
  size_t len;                  /* bytes of |s| used */
  char s[TAGS_MEMO_BYTES];     /* the 2n strings, each with its NUL */
} tags_memo_entry;

struct tags_memo {
  tags_memo_entry e[TAGS_MEMO];
  unsigned next;               /* the slot the next miss fills (round robin) */
  unsigned hit;                /* the slot that matched last */
};

static const sb_metric_info builtins[SB_M_BUILTIN_COUNT] = {
    [SB_M_VUS] = {"vus", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
    [SB_M_VUS_MAX] = {"vus_max", SB_METRIC_GAUGE, SB_VALUE_DEFAULT},
    [SB_M_ITERATIONS] = {"iterations", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
    [SB_M_ITERATION_DURATION] = {"iteration_duration", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_DROPPED_ITERATIONS] = {"dropped_iterations", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
    [SB_M_DATA_SENT] = {"data_sent", SB_METRIC_COUNTER, SB_VALUE_DATA},
    [SB_M_DATA_RECEIVED] = {"data_received", SB_METRIC_COUNTER, SB_VALUE_DATA},
    [SB_M_CHECKS] = {"checks", SB_METRIC_RATE, SB_VALUE_DEFAULT},
    [SB_M_HTTP_REQS] = {"http_reqs", SB_METRIC_COUNTER, SB_VALUE_DEFAULT},
    [SB_M_HTTP_REQ_FAILED] = {"http_req_failed", SB_METRIC_RATE, SB_VALUE_DEFAULT},
    [SB_M_HTTP_REQ_DURATION] = {"http_req_duration", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_HTTP_REQ_BLOCKED] = {"http_req_blocked", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_HTTP_REQ_CONNECTING] = {"http_req_connecting", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_HTTP_REQ_TLS_HANDSHAKING] = {"http_req_tls_handshaking", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_HTTP_REQ_SENDING] = {"http_req_sending", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_HTTP_REQ_WAITING] = {"http_req_waiting", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_HTTP_REQ_RECEIVING] = {"http_req_receiving", SB_METRIC_TREND, SB_VALUE_TIME},
    [SB_M_GROUP_DURATION] = {"group_duration", SB_METRIC_TREND, SB_VALUE_TIME},
};

int sb_metrics_new(sb_metrics **out) {
  sb_metrics *m = calloc(1, sizeof(*m));
  if (!m) goto fail_set;
  m->metrics_cap = SB_M_BUILTIN_COUNT + 16;
  m->metrics = malloc(m->metrics_cap * sizeof(*m->metrics));
  if (!m->metrics) goto fail_metrics;
  memcpy(m->metrics, builtins, sizeof(builtins));
  m->nmetrics = SB_M_BUILTIN_COUNT;
  m->nbuckets = 64;
  m->table = calloc(m->nbuckets, sizeof(*m->table));
  if (!m->table) goto fail_table;
  *out = m;
  return 0;

fail_table:
  free(m->metrics);
fail_metrics:
  free(m);
fail_set:
  return SB_ENOMEM;
}

void sb_metrics_free(sb_metrics *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nseries; i++)
    sb_hist_clear(&m->pages[i / SERIES_PAGE][i % SERIES_PAGE].hist);
  for (size_t i = 0; i < m->npages; i++)
    free(m->pages[i]);
  free(m->pages);
  for (size_t b = 0; b < m->nbuckets; b++) {
    struct sb_tagset *t = m->table[b], *next;
    for (; t; t = next) {
      next = t->next;
      free(t->series);
      free(t);
    }
  }
  free(m->table);
  free(m->memo);
  for (int i = SB_M_BUILTIN_COUNT; i < m->nmetrics; i++)
    free((char *)m->metrics[i].name);
  free(m->metrics);
  if (m->points) sb_points_clear(m->points);
  free(m->points);
  free(m);
}

/* ---- metrics ---- */

int sb_metrics_find(const sb_metrics *m, const char *name) {
  for (int i = 0; i < m->nmetrics; i++)
    if (strcmp(m->metrics[i].name, name) == 0) return i;
  return SB_ENOTFOUND;
}

static const char *type_name(sb_metric_type t) {
  switch (t) {
  case SB_METRIC_COUNTER: return "counter";
  case SB_METRIC_GAUGE: return "gauge";
  case SB_METRIC_RATE: return "rate";
  case SB_METRIC_TREND: return "trend";
  }
  return "unknown";
}

static const char *contains_name(sb_value_type c) {
  switch (c) {
  case SB_VALUE_DEFAULT: return "default";
  case SB_VALUE_TIME: return "time";
  case SB_VALUE_DATA: return "data";
  }
  return "unknown";
}

/* Like k6's registry: a name comes back with its id as long as type and value type agree. */
int sb_metrics_register(sb_metrics *m, const char *name, sb_metric_type type,
                        sb_value_type contains, sb_err *err) {
  if (type < SB_METRIC_COUNTER || type > SB_METRIC_TREND)
    return sb_err_set(err, SB_EINVAL, "metric '%s': unknown metric type %d", name, (int)type);
  if (contains < SB_VALUE_DEFAULT || contains > SB_VALUE_DATA)
    return sb_err_set(err, SB_EINVAL, "metric '%s': unknown value type %d", name, (int)contains);
  size_t len = strlen(name);
  if (len == 0 || len > METRIC_NAME_MAX)
    return sb_err_set(err, SB_EINVAL, "metric name '%.40s' must be 1 to %d characters long", name,
                      METRIC_NAME_MAX);
  int id = sb_metrics_find(m, name);
  if (id >= 0) {
    const sb_metric_info *mi = &m->metrics[id];
    if (mi->type != type)
      return sb_err_set(err, SB_EINVAL, "metric '%s' already exists as a %s, not a %s", name,
                        type_name(mi->type), type_name(type));
    if (mi->contains != contains)
      return sb_err_set(err, SB_EINVAL, "metric '%s' already exists with value type %s, not %s",
                        name, contains_name(mi->contains), contains_name(contains));
    return id;
  }
  if (m->nmetrics == m->metrics_cap) {
    int cap = m->metrics_cap * 2;
    sb_metric_info *nm = realloc(m->metrics, cap * sizeof(*nm));
    if (!nm) return sb_err_set(err, SB_ENOMEM, "metric '%s': out of memory", name);
    m->metrics = nm;
    m->metrics_cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return sb_err_set(err, SB_ENOMEM, "metric '%s': out of memory", name);
  memcpy(copy, name, len + 1);
  m->metrics[m->nmetrics] = (sb_metric_info){copy, type, contains};
  return m->nmetrics++;
}

const sb_metric_info *sb_metrics_info(const sb_metrics *m, int id) {
  return id >= 0 && id < m->nmetrics ? &m->metrics[id] : NULL;
}

int sb_metrics_count(const sb_metrics *m) {
  return m->nmetrics;
}

/* ---- tag sets ---- */

#define HASH_SEED 0x9E3779B97F4A7C15ULL
#define HASH_MUL 0xFF51AFD7ED558CCDULL

static inline uint64_t read64(const char *p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

static inline uint64_t read32(const char *p) {
  uint32_t w;
  memcpy(&w, p, 4);
  return w;
}

/* Mixes string |s| of |len| bytes (and the length, so "a","b" != "ab","") into |h|, a word at a
 * time; the tail is read as overlapping words, as wyhash does. Tag values are URLs: a byte-wise
 * hash was most of a lookup's cost. */
static uint64_t hash_str(uint64_t h, const char *s, size_t len) {
  h = (h ^ len) * HASH_MUL;
  const char *end = s + len;
  for (; end - s > 8; s += 8) {
    h = (h ^ read64(s)) * HASH_MUL;
    h ^= h >> 32;
  }
  size_t rest = (size_t)(end - s);
  uint64_t w;
  if (rest == 8)
    w = read64(s);
  else if (rest >= 4)
    w = read32(s) << 32 | read32(end - 4);
  else if (rest)
    w = (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[rest / 2] << 8 |
        (unsigned char)end[-1];
  else
    w = 0;
  h = (h ^ w) * HASH_MUL;
  return h ^ (h >> 29);
}

/* Sorts pair indexes by key (stable insertion sort: tag sets are small) and drops duplicate
 * keys, keeping the later one. Returns the number of pairs left in |idx|. */
static size_t sort_pairs(const char *const *kv, size_t n, size_t *idx) {
  for (size_t i = 0; i < n; i++) {
    size_t j = i;
    while (j > 0 && strcmp(kv[2 * idx[j - 1]], kv[2 * i]) > 0) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  size_t out = 0;
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && strcmp(kv[2 * idx[i]], kv[2 * idx[i + 1]]) == 0) continue;
    idx[out++] = idx[i];
  }
  return out;
}

/* The caller's pairs in canonical order: idx[i] is the pair at sorted position i, len[j] the
 * length of string j (key, value, key, ...) in that order, total the canonical string's size. */
typedef struct probe {
  size_t *idx, *len;
  size_t n, total;
  uint64_t hash;
} probe;

static const char *probe_str(const char *const *kv, const probe *p, size_t j) {
  return kv[2 * p->idx[j / 2] + j % 2];
}

/* Sorts, measures and hashes the caller's pairs; no allocation. */
static void probe_fill(probe *p, const char *const *kv, size_t n) {
  p->n = sort_pairs(kv, n, p->idx);
  p->total = 0;
  p->hash = HASH_SEED;
  for (size_t j = 0; j < 2 * p->n; j++) {
    const char *s = probe_str(kv, p, j);
    p->len[j] = strlen(s);
    p->total += p->len[j] + 1;
    p->hash = hash_str(p->hash, s, p->len[j]);
  }
}

/* Compares against the canonical string: once the sizes agree, every memcmp stays inside it
 * (each reads where the previous matching strings end). */
static int same_pairs(const struct sb_tagset *t, const char *const *kv, const probe *p) {
  if (t->npairs != p->n || t->len != p->total) return 0;
  const char *c = t->str;
  for (size_t j = 0; j < 2 * p->n; j++) {
    if (memcmp(c, probe_str(kv, p, j), p->len[j] + 1)) return 0;
    c += p->len[j] + 1;
  }
  return 1;
}

/* Doubles the bucket array; on failure the table stays as it was (only slower). */
static void grow_table(sb_metrics *m) {
  size_t nb = m->nbuckets * 2;
  struct sb_tagset **tab = calloc(nb, sizeof(*tab));
  if (!tab) return;
  for (size_t b = 0; b < m->nbuckets; b++) {
    struct sb_tagset *t = m->table[b], *next;
    for (; t; t = next) {
      next = t->next;
      t->next = tab[t->hash & (nb - 1)];
      tab[t->hash & (nb - 1)] = t;
    }
  }
  free(m->table);
  m->table = tab;
  m->nbuckets = nb;
}

/* Builds the interned block for the probed pairs and links it in. */
static struct sb_tagset *intern(sb_metrics *m, const char *const *kv, const probe *p) {
  size_t n = p->n;
  struct sb_tagset *t = malloc(sizeof(*t) + 2 * n * sizeof(char *) + p->total);
  if (!t) return NULL;
  t->hash = p->hash;
  t->npairs = n;
  t->index = (uint32_t)m->ntags;
  t->kv = (const char **)(t + 1);
  t->str = (char *)(t->kv + 2 * n);
  t->len = p->total;
  t->series = NULL;
  t->nseries = 0;
  char *c = t->str;
  for (size_t j = 0; j < 2 * n; j++) {
    memcpy(c, probe_str(kv, p, j), p->len[j] + 1);
    t->kv[j] = c;
    c += p->len[j] + 1;
  }
  if (m->ntags >= m->nbuckets) grow_table(m);
  size_t b = p->hash & (m->nbuckets - 1);
  t->next = m->table[b];
  m->table[b] = t;
  m->ntags++;
  return t;
}

/* 1 when |e| holds exactly the |n| pairs |kv| in that order. strlen and memcmp (vectorised in
 * libc) instead of a byte loop: a hit compares every byte of a dozen tags, ~150 bytes. */
static int memo_same(const tags_memo_entry *e, const char *const *kv, size_t n) {
  if (e->n != n || !e->t) return 0;
  const char *s = e->s, *end = e->s + e->len;
  for (size_t i = 0; i < 2 * n; i++) {
    size_t l = strlen(kv[i]) + 1;
    if ((size_t)(end - s) < l || memcmp(s, kv[i], l) != 0) return 0;
    s += l;
  }
  return 1;
}

/* The entry that matched last is tried first: callers repeat the same tags in turn. */
static const sb_tagset *memo_find(struct tags_memo *mm, const char *const *kv, size_t n) {
  for (unsigned k = 0; k < TAGS_MEMO; k++) {
    unsigned i = (mm->hit + k) % TAGS_MEMO;
    if (memo_same(&mm->e[i], kv, n)) {
      mm->hit = i;
      return mm->e[i].t;
    }
  }
  return NULL;
}

static void memo_put(struct tags_memo *mm, const char *const *kv, size_t n, const sb_tagset *t) {
  tags_memo_entry *e = &mm->e[mm->next];
  size_t len = 0;
  for (size_t i = 0; i < 2 * n; i++) {
    size_t l = strlen(kv[i]) + 1;
    if (len + l > sizeof(e->s)) return; /* too long to remember: looked up each time */
    memcpy(e->s + len, kv[i], l);
    len += l;
  }
  e->t = t;
  e->n = n;
  e->len = len;
  mm->next = (mm->next + 1) % TAGS_MEMO;
}


const sb_tagset *sb_metrics_tags(sb_metrics *m, const char *const *kv, size_t n) {
  const sb_tagset *t = m->memo ? memo_find(m->memo, kv, n) : NULL;
  if (t) return t;
  t = sb_metrics_tags_lookup(m, kv, n);
  if (t && !m->memo) m->memo = calloc(1, sizeof(*m->memo)); /* NULL: no memo, still right */
  if (t && m->memo) memo_put(m->memo, kv, n, t);
  return t;
}

const sb_tagset *sb_metrics_tags_lookup(sb_metrics *m, const char *const *kv, size_t n) {
  size_t stack[3 * TAGS_STACK];
  probe p = {stack, stack + TAGS_STACK, 0, 0, 0};
  if (n > TAGS_STACK) {
    if (!(p.idx = malloc(3 * n * sizeof(size_t)))) return NULL;
    p.len = p.idx + n;
  }
  probe_fill(&p, kv, n);
  struct sb_tagset *t = m->table[p.hash & (m->nbuckets - 1)];
  for (; t; t = t->next)
    if (t->hash == p.hash && same_pairs(t, kv, &p)) break;
  if (!t) t = intern(m, kv, &p);
  if (p.idx != stack) free(p.idx);
  return t;
}

uint32_t sb_tagset_index(const sb_tagset *t) {
  return t->index;
}

size_t sb_tagset_pairs(const sb_tagset *t, const char *const **kv) {
  *kv = (const char *const *)t->kv;
  return t->npairs;
}

const char *sb_tagset_get(const sb_tagset *t, const char *key) {
  for (size_t i = 0; i < t->npairs; i++)
    if (strcmp(t->kv[2 * i], key) == 0) return t->kv[2 * i + 1];
  return NULL;
}

/* ---- series ---- */

void sb_series_init(sb_series *s, int metric) {
  memset(s, 0, sizeof(*s));
  s->metric = metric;
  sb_hist_init(&s->hist);
}

void sb_series_clear(sb_series *s) {
  uint32_t index = s->index;
  sb_hist_clear(&s->hist);
  sb_series_init(s, s->metric);
  s->index = index;
}

/* A fresh series slot from the pages (a new page every SERIES_PAGE series). */
static sb_series *new_series(sb_metrics *m) {
  size_t page = m->nseries / SERIES_PAGE;
  if (page == m->npages) {
    if (m->npages == m->pages_cap) {
      size_t cap = m->pages_cap ? m->pages_cap * 2 : 8;
      sb_series **np = realloc(m->pages, cap * sizeof(*np));
      if (!np) return NULL;
      m->pages = np;
      m->pages_cap = cap;
    }
    if (!(m->pages[m->npages] = malloc(SERIES_PAGE * sizeof(sb_series)))) return NULL;
    m->npages++;
  }
  return &m->pages[page][m->nseries % SERIES_PAGE];
}

sb_series *sb_metrics_series(sb_metrics *m, int metric, const sb_tagset *ct) {
  struct sb_tagset *t = (struct sb_tagset *)ct; /* owned by |m| */
  if ((unsigned)metric < (unsigned)t->nseries && t->series[metric]) return t->series[metric];
  if (metric < 0 || metric >= m->nmetrics) return NULL;
  if (metric >= t->nseries) {
    int n = m->nmetrics;
    sb_series **ns = realloc(t->series, n * sizeof(*ns));
    if (!ns) return NULL;
    memset(ns + t->nseries, 0, (n - t->nseries) * sizeof(*ns));
    t->series = ns;
    t->nseries = n;
  }
  sb_series *s = new_series(m);
  if (!s) return NULL;
  sb_series_init(s, metric);
  s->index = (uint32_t)m->nseries;
  s->tags = t;
  m->nseries++;
  t->series[metric] = s;
  return s;
}

/* NaN samples are dropped (a rate counts them as true, like k6's v != 0): a sum, a last value or
 * a histogram cannot hold one, and a snapshot carrying one would be refused. */
int sb_series_add(sb_metrics *m, sb_series *s, double v) {
  sb_metric_type type = m->metrics[s->metric].type;
  if (isnan(v) && type != SB_METRIC_RATE) return 0;
  switch (type) {
  case SB_METRIC_COUNTER: s->value += v; break;
  case SB_METRIC_GAUGE:
    s->value = v;
    sb_hist_add_stats(&s->hist, 1, v, v, v); /* a gauge's extremes: no buckets */
    break;
  case SB_METRIC_RATE:
    s->total++;
    if (v != 0) s->trues++;
    break;
  case SB_METRIC_TREND:
    if (sb_hist_add(&s->hist, v)) return SB_ENOMEM;
    break;
  }
  s->touched++;
  if (m->points) sb_points_push(m->points, s, isnan(v) ? 1 : v); /* a NaN rate counts as true */
  return 0;
}

int sb_metrics_add(sb_metrics *m, int metric, const sb_tagset *t, double v) {
  sb_series *s = sb_metrics_series(m, metric, t);
  if (!s) return SB_ENOMEM;
  return sb_series_add(m, s, v);
}

/* Adds |src|'s aggregate into |dst|, both of type |type|. Gauges take |src|'s value. */
static int series_merge(sb_series *dst, const sb_series *src, sb_metric_type type) {
  switch (type) {
  case SB_METRIC_COUNTER: dst->value += src->value; break;
  case SB_METRIC_GAUGE:
    dst->value = src->value;
    sb_hist_add_stats(&dst->hist, src->hist.count, src->hist.sum, src->hist.min, src->hist.max);
    break;
  case SB_METRIC_RATE:
    dst->trues += src->trues;
    dst->total += src->total;
    break;
  case SB_METRIC_TREND:
    if (sb_hist_merge(&dst->hist, &src->hist)) return SB_ENOMEM;
    break;
  }
  dst->touched += src->touched;
  return 0;
}

/* Appends |src|'s points to |dst|'s, each pointing to its series in |dst|: |map| gives the metric
 * ids, |tmap| the tag sets by src index (both filled by the series loop for every touched series,
 * and a point's series is touched). Near |dst|'s cap the first points that fit are kept (as a
 * push keeps the samples before the cap); the rest, and all of them when memory runs out, count
 * as dropped. */
static void merge_points(sb_metrics *dst, const sb_metrics *src, const int *map,
                         const sb_tagset *const *tmap) {
  const sb_points *sp = src->points;
  sb_points *dp = dst->points;
  size_t room = dp->max > dp->n ? dp->max - dp->n : 0;
  size_t keep = sp->n < room ? sp->n : room;
  dp->dropped += sp->dropped + (sp->n - keep);
  if (sb_points_reserve(dp, keep)) {
    dp->dropped += keep;
    return;
  }
  for (size_t i = 0; i < keep; i++) {
    const sb_point *p = &sp->v[i];
    const sb_series *d = sb_metrics_series(dst, map[p->s->metric], tmap[p->s->tags->index]);
    if (!d) {
      dp->dropped++;
      continue;
    }
    dp->v[dp->n++] = (sb_point){p->time_us, d, p->value};
  }
}

/* Metric ids of |src| are mapped to |dst|'s once; each touched series then costs one tag-set
 * lookup in |dst|. Points (when both record them) then cost an index each. */
int sb_metrics_merge(sb_metrics *dst, const sb_metrics *src, sb_err *err) {
  int rc = 0;
  int *map = malloc((size_t)src->nmetrics * sizeof(*map));
  if (!map) return sb_err_set(err, SB_ENOMEM, "merging metrics: out of memory");
  const sb_tagset **tmap = NULL; /* src tag-set index -> dst tag set, when points move */
  if (dst->points && src->points && src->points->n &&
      !(tmap = malloc((src->ntags ? src->ntags : 1) * sizeof(*tmap)))) {
    free(map);
    return sb_err_set(err, SB_ENOMEM, "merging metrics: out of memory");
  }
  for (int i = 0; i < src->nmetrics; i++) {
    const sb_metric_info *mi = &src->metrics[i];
    map[i] = -1;
    if (i < SB_M_BUILTIN_COUNT && i < dst->nmetrics && dst->metrics[i].name == mi->name)
      map[i] = i; /* same static built-in */
  }
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(src, &it))) {
    const sb_metric_info *mi = &src->metrics[s->metric];
    if (map[s->metric] < 0) {
      rc = sb_metrics_register(dst, mi->name, mi->type, mi->contains, err);
      if (rc < 0) goto out;
      map[s->metric] = rc;
      rc = 0;
    }
    const char *const *kv;
    size_t n = sb_tagset_pairs(s->tags, &kv);
    const sb_tagset *t = sb_metrics_tags(dst, kv, n);
    sb_series *d = t ? sb_metrics_series(dst, map[s->metric], t) : NULL;
    if (!d || series_merge(d, s, mi->type)) {
      rc = sb_err_set(err, SB_ENOMEM, "merging metric '%s': out of memory", mi->name);
      goto out;
    }
    if (tmap) tmap[s->tags->index] = t;
  }
  if (tmap) merge_points(dst, src, map, tmap);
  else if (dst->points && src->points) dst->points->dropped += src->points->dropped;
out:
  free(tmap);
  free(map);
  return rc;
}

int sb_metrics_points_enable(sb_metrics *m) {
  if (m->points) return 0;
  if (!(m->points = malloc(sizeof(*m->points)))) return SB_ENOMEM;
  sb_points_init(m->points);
  return 0;
}

const sb_points *sb_metrics_points(const sb_metrics *m) {
  return m->points;
}

void sb_metrics_reset(sb_metrics *m) {
  if (m->points) {
    m->points->n = 0;
    m->points->dropped = 0;
  }
  for (size_t i = 0; i < m->nseries; i++) {
    sb_series *s = &m->pages[i / SERIES_PAGE][i % SERIES_PAGE];
    s->value = 0;
    s->trues = s->total = 0;
    s->touched = 0;
    sb_hist_reset(&s->hist);
  }
}

sb_series *sb_metrics_next(const sb_metrics *m, size_t *it) {
  while (*it < m->nseries) {
    sb_series *s = &m->pages[*it / SERIES_PAGE][*it % SERIES_PAGE];
    (*it)++;
    if (s->touched) return s;
  }
  return NULL;
}

static int tags_match(const sb_tagset *t, const char *const *filter, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *v = sb_tagset_get(t, filter[2 * i]);
    if (!v || strcmp(v, filter[2 * i + 1])) return 0;
  }
  return 1;
}

int sb_metrics_fold(const sb_metrics *m, int metric, const char *const *filter, size_t n,
                    sb_series *out) {
  if (metric < 0 || metric >= m->nmetrics) return SB_EINVAL;
  sb_metric_type type = m->metrics[metric].type;
  size_t it = 0;
  sb_series *s;
  while ((s = sb_metrics_next(m, &it))) {
    if (s->metric != metric || !tags_match(s->tags, filter, n)) continue;
    if (series_merge(out, s, type)) return SB_ENOMEM;
  }
  return 0;
}
