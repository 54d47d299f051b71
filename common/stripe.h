/* Striping: how an endless sequence of iteration indices 0, 1, 2, ... is shared by parties with
 * weights (agents by their share of a scenario's VUs, then an agent's workers by their VU slots),
 * so that every index has exactly one owner, every party owns exactly its weight's share of any
 * `period` consecutive indices, and the owners interleave instead of taking runs.
 *
 * This is k6's execution-segment striping in spirit (each segment of the sequence owns some
 * iteration indices, so the fleet runs exactly the asked rate and its members do not fire in
 * lockstep bursts), with a different rule: index i belongs to the party whose part of [0, period)
 * holds (i * mult) mod period, where the parties lie end to end in order of their weights
 * (reduced by their gcd) and mult is coprime with period, near period / phi, so consecutive
 * indices land far apart (a Weyl sequence). Parties with weight 0 own nothing.
 *
 * A stripe crosses the wire as its four numbers (sb_stripe); a party expands its own into a
 * table (sb_stripe_table) that maps its n-th index to the sequence's in O(1). */
#ifndef SB_STRIPE_H
#define SB_STRIPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb_stripe {
  uint64_t period;              /* 0: the whole sequence (a sole party) */
  uint64_t mult;                /* coprime with period */
  uint64_t from, to;            /* this party's part: [from, to) of [0, period) */
} sb_stripe;

/* Party |i|'s stripe among |n| with |weights| (NULL: all 1), reduced by their gcd. A sole party
 * (or all weight on one) gets the whole sequence; a party of weight 0 gets from == to. */
void sb_stripe_make(sb_stripe *out, const uint64_t *weights, size_t n, size_t i);
/* The same for the party of weight |mine| after parties weighing |before| in all, of |total|
 * (not reduced: every party of one sequence must be made the same way). */
void sb_stripe_part(sb_stripe *out, uint64_t before, uint64_t mine, uint64_t total);

/* Whether index |i| belongs to |s|. */
int sb_stripe_has(const sb_stripe *s, uint64_t i);

typedef struct sb_stripe_table {
  uint64_t period;              /* 0: the whole sequence */
  uint64_t *pos;                /* the party's indices in [0, period), increasing */
  size_t n;                     /* how many (to - from) */
} sb_stripe_table;

/* Expands |s| into |t| (free with sb_stripe_table_clear). Returns 0 or SB_ENOMEM. */
int sb_stripe_table_init(sb_stripe_table *t, const sb_stripe *s);
void sb_stripe_table_clear(sb_stripe_table *t);
/* The sequence index of the party's |k|-th own index (k from 0); UINT64_MAX when it owns none. */
uint64_t sb_stripe_table_at(const sb_stripe_table *t, uint64_t k);

#endif
