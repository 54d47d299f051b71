#include "duk_udata.h"

#include <sys/random.h>
#include <time.h>

int sb_duk_exec_timeout(void *udata) {
  const sb_duk_udata *u = udata;
  if (u && u->cur) u = u->cur;
  return u != 0 && (u->interrupt || (u->stop && atomic_load_explicit(u->stop, memory_order_relaxed)));
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void sb_duk_seed(sb_duk_udata *u, uint64_t seed) {
  if (u->cur) u = u->cur;
  u->rnd[0] = splitmix64(&seed);
  u->rnd[1] = splitmix64(&seed);
  if (!(u->rnd[0] | u->rnd[1])) u->rnd[1] = 1;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

double sb_duk_random(void *udata) {
  static _Thread_local sb_duk_udata own;
  sb_duk_udata *u = udata ? udata : &own;
  if (u->cur) u = u->cur;
  if (!(u->rnd[0] | u->rnd[1])) {
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)u;
    }
    sb_duk_seed(u, seed);
  }
  uint64_t s0 = u->rnd[0], s1 = u->rnd[1], r = s0 + s1;
  s1 ^= s0;
  u->rnd[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
  u->rnd[1] = rotl(s1, 37);
  return (double)(r >> 11) * 0x1.0p-53;
}
