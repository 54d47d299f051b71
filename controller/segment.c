/* Execution segments (see segment.h). */
#include "controller/segment.h"

#include <stdio.h>

/* round(total * num / den), exact for any 64-bit total and 32-bit weights. */
static uint64_t cut_at(uint64_t total, uint64_t num, uint64_t den) {
  unsigned __int128 x = (unsigned __int128)total * num * 2 + den;
  return (uint64_t)(x / ((unsigned __int128)den * 2));
}

static void bounds(const uint32_t *weights, size_t n, size_t i, uint64_t *from, uint64_t *to,
                   uint64_t *sum) {
  uint64_t s = 0, f = 0;
  for (size_t k = 0; k < n; k++) {
    if (k == i) f = s;
    s += weights ? weights[k] : 1;
  }
  *from = f;
  *to = f + (weights ? weights[i] : 1);
  *sum = s ? s : 1;
}

uint64_t sb_segment_share(uint64_t total, const uint32_t *weights, size_t n, size_t i) {
  uint64_t from, to, sum;
  if (n <= 1) return total;
  bounds(weights, n, i, &from, &to, &sum);
  return cut_at(total, to, sum) - cut_at(total, from, sum);
}

uint64_t sb_segment_max_vus(const sb_scenario *s) {
  if (s->executor == SB_EXEC_CONSTANT_ARRIVAL_RATE || s->executor == SB_EXEC_RAMPING_ARRIVAL_RATE)
    return s->max_vus > s->pre_allocated_vus ? s->max_vus : s->pre_allocated_vus;
  uint64_t n = s->vus;
  if (s->executor == SB_EXEC_SHARED_ITERATIONS && s->iterations < n) n = s->iterations;
  if (s->executor == SB_EXEC_RAMPING_VUS) {
    n = s->start_vus;
    for (size_t k = 0; k < s->nstages; k++)
      if (s->stages[k].target > n) n = s->stages[k].target;
  }
  return n;
}

/* Agent i's shared iterations: the iterations cut in proportion to the VUs each agent got, so
 * that every iteration lands where a VU can run it. */
static uint64_t shared_iterations(const sb_scenario *s, const uint32_t *weights, size_t n,
                                  size_t i) {
  uint64_t vus = s->vus < s->iterations ? s->vus : s->iterations;
  if (vus == 0) return sb_segment_share(s->iterations, weights, n, i);
  uint64_t before = 0, mine = sb_segment_share(vus, weights, n, i);
  for (size_t k = 0; k < i; k++) before += sb_segment_share(vus, weights, n, k);
  return cut_at(s->iterations, before + mine, vus) - cut_at(s->iterations, before, vus);
}

/* Agent i's part of an arrival-rate scenario: its VUs, and its stripe of the test's iteration
 * numbers, weighted by the maxVUs each agent got (as k6 re-derives the segments from maxVUs), so
 * an agent without VUs starts nothing and the agents' starts interleave. */
static void cut_arrival(const sb_scenario *s, const uint32_t *weights, size_t n, size_t i,
                        sb_scenario *out) {
  uint64_t from, to, sum, max = sb_segment_max_vus(s);
  out->pre_allocated_vus = sb_segment_share(s->pre_allocated_vus, weights, n, i);
  out->max_vus = sb_segment_share(max, weights, n, i);
  bounds(weights, n, i, &from, &to, &sum);
  sb_stripe_part(&out->stripe, cut_at(max, from, sum), out->max_vus, max);
}

void sb_segment_cut(const sb_scenario *s, const uint32_t *weights, size_t n, size_t i,
                    sb_scenario *out, sb_stage *stages) {
  *out = *s;
  out->stages = stages;
  out->stripe = (sb_stripe){0}; /* the whole test */
  for (size_t k = 0; k < s->nstages; k++) {
    stages[k] = s->stages[k];
    if (s->executor == SB_EXEC_RAMPING_VUS) /* VUs are cut; arrival rates never are */
      stages[k].target = sb_segment_share(s->stages[k].target, weights, n, i);
  }
  if (n <= 1) return;
  switch (s->executor) {
  case SB_EXEC_SHARED_ITERATIONS:
    out->iterations = shared_iterations(s, weights, n, i);
    out->vus = sb_segment_share(s->vus < s->iterations ? s->vus : s->iterations, weights, n, i);
    break;
  case SB_EXEC_PER_VU_ITERATIONS:
  case SB_EXEC_CONSTANT_VUS: out->vus = sb_segment_share(s->vus, weights, n, i); break;
  case SB_EXEC_RAMPING_VUS: out->start_vus = sb_segment_share(s->start_vus, weights, n, i); break;
  case SB_EXEC_CONSTANT_ARRIVAL_RATE:
  case SB_EXEC_RAMPING_ARRIVAL_RATE: cut_arrival(s, weights, n, i, out); break;
  }
}

void sb_segment_describe(const uint32_t *weights, size_t n, size_t i, char *out, size_t cap) {
  uint64_t from, to, sum;
  if (n <= 1) {
    snprintf(out, cap, "0:1");
    return;
  }
  bounds(weights, n, i, &from, &to, &sum);
  snprintf(out, cap, "%llu/%llu:%llu/%llu", (unsigned long long)from, (unsigned long long)sum,
           (unsigned long long)to, (unsigned long long)sum);
}
