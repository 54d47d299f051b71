/* Striping of iteration indices (see stripe.h). */
#include "common/stripe.h"

#include <stdlib.h>

#include "common/err.h"

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* The multiplier for |p|: coprime with it and near p / phi, so that i * mult mod p visits
 * [0, p) in widely spread steps. */
static uint64_t pick_mult(uint64_t p) {
  if (p <= 2) return 1;
  uint64_t k = (uint64_t)((double)p * 0.6180339887498949 + 0.5);
  if (k < 1) k = 1;
  if (k >= p) k = p - 1;
  for (uint64_t d = 0; d < p; d++) { /* nearest coprime, up then down */
    if (k + d < p && gcd(k + d, p) == 1) return k + d;
    if (k > d && gcd(k - d, p) == 1) return k - d;
  }
  return 1;
}

void sb_stripe_part(sb_stripe *out, uint64_t before, uint64_t mine, uint64_t total) {
  *out = (sb_stripe){.period = 1, .mult = 1, .from = 0, .to = 0};
  if (mine == 0) return; /* owns nothing */
  if (mine >= total) {
    out->period = 0; /* the whole sequence */
    return;
  }
  out->period = total;
  out->mult = pick_mult(total);
  out->from = before;
  out->to = before + mine;
}

void sb_stripe_make(sb_stripe *out, const uint64_t *weights, size_t n, size_t i) {
  uint64_t total = 0, g = 0, before = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t w = weights ? weights[k] : 1;
    total += w;
    if (w) g = gcd(g, w);
    if (k < i) before += w;
  }
  uint64_t mine = i < n ? (weights ? weights[i] : 1) : 0;
  if (!g) g = 1;
  sb_stripe_part(out, before / g, mine / g, total / g);
}

int sb_stripe_has(const sb_stripe *s, uint64_t i) {
  if (s->period == 0) return 1;
  uint64_t r = (uint64_t)(((unsigned __int128)(i % s->period) * s->mult) % s->period);
  return r >= s->from && r < s->to;
}

/* The inverse of |a| modulo |m| (gcd(a, m) == 1, m >= 2). */
static uint64_t inverse(uint64_t a, uint64_t m) {
  __int128 t = 0, nt = 1, r = m, nr = a % m;
  while (nr) {
    __int128 q = r / nr, x;
    x = t - q * nt, t = nt, nt = x;
    x = r - q * nr, r = nr, nr = x;
  }
  return (uint64_t)(t < 0 ? t + m : t);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int sb_stripe_table_init(sb_stripe_table *t, const sb_stripe *s) {
  t->period = s->period;
  t->n = s->period ? (size_t)(s->to - s->from) : 0;
  t->pos = NULL;
  if (s->period == 0 || t->n == 0) return 0;
  if (!(t->pos = malloc(t->n * sizeof(*t->pos)))) return SB_ENOMEM;
  /* (j * mult) mod period == p  <=>  j == p * mult^-1 mod period */
  uint64_t inv = s->period > 1 ? inverse(s->mult, s->period) : 0;
  for (size_t k = 0; k < t->n; k++)
    t->pos[k] = (uint64_t)(((unsigned __int128)(s->from + k) * inv) % s->period);
  qsort(t->pos, t->n, sizeof(*t->pos), cmp_u64);
  return 0;
}

void sb_stripe_table_clear(sb_stripe_table *t) {
  free(t->pos);
  t->pos = NULL;
  t->n = 0;
}

uint64_t sb_stripe_table_at(const sb_stripe_table *t, uint64_t k) {
  if (t->period == 0) return k;
  if (t->n == 0) return UINT64_MAX;
  return (k / t->n) * t->period + t->pos[k % t->n];
}
