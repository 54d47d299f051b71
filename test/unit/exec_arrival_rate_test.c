/* agent/exec_arrival_rate.c: the schedule math. Exact counts of starts for a rate over a window,
 * alone and cut over agents and workers (every index once, the fleet's total exact), ramping
 * stages, and the start/drop/grow logic of one worker against stand-ins for the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/exec_arrival_rate.c"

/* --- stand-ins for the engine's side (executor.h) ------------------------------------------- */

static size_t started, dropped, grown, released;
static int grow_ok;

void sb_exec_activate(sb_exec_run *r, sb_exec_vu *v) {
  v->active = 1;
  v->looping = 1;
  r->sc->ex->next(r, v);
}
void sb_exec_interrupt(sb_exec_run *r, sb_exec_vu *v) {}
int sb_exec_start(sb_exec_run *r, sb_exec_vu *v, int64_t due_us, uint64_t index) {
  started++;
  return 0; /* the VU stays busy: it never comes back */
}
void sb_exec_release(sb_exec_run *r, sb_exec_vu *v) { released++; }
void sb_exec_dropped(sb_exec_run *r) { dropped++; }
int sb_exec_grow(sb_exec_run *r) {
  if (!grow_ok) return 0;
  grown++;
  return 1;
}
void sb_exec_log(sb_exec_run *r, const char *level, const char *text) {}
double sb_exec_time_progress(const sb_exec_run *r, int64_t now_us) { return 0; }

/* --- helpers ---------------------------------------------------------------------------------- */

static sb_scenario_cfg constant(uint64_t rate, int64_t unit_us, int64_t duration_us) {
  sb_scenario_cfg c = {.name = "c", .kind = SB_SCEN_CONSTANT_ARRIVAL_RATE,
                       .ex = &sb_exec_constant_arrival_rate, .rate = rate,
                       .time_unit_us = unit_us, .duration_us = duration_us,
                       .pre_allocated_vus = 1, .max_vus = 1};
  return c;
}

/* The test indices worker |worker| of |nworkers| starts, in order (at most |cap|), with their
 * due times from the scenario's start. Returns how many. */
static size_t schedule(const sb_scenario_cfg *sc, size_t worker, size_t nworkers, uint64_t *g,
                       int64_t *due, size_t cap) {
  struct event_base *base = event_base_new();
  sb_exec_run r = {.sc = sc, .base = base, .nslots = 1, .worker = worker, .nworkers = nworkers};
  assert_int_equal(init(&r), 0);
  arrival *a = r.state;
  a->end_us = sc->ex->end_us(sc);
  size_t n = 0;
  for (advance(&r, a); a->due_us != NEVER; advance(&r, a)) {
    assert_true(n < cap);
    if (n && due) assert_true(a->due_us >= due[n - 1]); /* in order */
    if (g) g[n] = a->g;
    if (due) due[n] = a->due_us;
    n++;
  }
  clear(&r);
  event_base_free(base);
  return n;
}

/* --- tests ------------------------------------------------------------------------------------ */

/* 100/s for 30 s: iterations 0..2999, 10 ms apart, the first at once. */
static void test_constant_alone(void **state) {
  static uint64_t g[4000];
  static int64_t due[4000];
  sb_scenario_cfg c = constant(100, 1000000, 30000000);
  assert_int_equal(schedule(&c, 0, 1, g, due, 4000), 3000);
  for (size_t i = 0; i < 3000; i++) {
    assert_true(g[i] == i);
    assert_true(due[i] == (int64_t)i * 10000);
  }
  /* rates that do not divide the unit: 7 per 2 s for 10 s is 35, due at g * 2/7 s */
  c = constant(7, 2000000, 10000000);
  assert_int_equal(schedule(&c, 0, 1, g, due, 4000), 35);
  assert_true(due[34] == 34 * 2000000 / 7);
  c = constant(3, 1000000, 1000000);
  assert_int_equal(schedule(&c, 0, 1, NULL, NULL, 4000), 3);
}

/* The fleet: agents by their maxVUs shares, each agent's workers by their VU slots. Every index
 * is started exactly once, so the total is exactly the rate's; equal agents alternate. */
static void check_fleet(const uint64_t *shares, size_t nagents, size_t nworkers, uint64_t rate) {
  static uint64_t g[20000];
  static unsigned char seen[20000];
  static int owner[20000];
  memset(seen, 0, sizeof(seen));
  uint64_t total = 0, want = rate * 30;
  for (size_t a = 0; a < nagents; a++) {
    sb_scenario_cfg c = constant(rate, 1000000, 30000000);
    c.max_vus = c.pre_allocated_vus = shares[a];
    sb_stripe_make(&c.stripe, shares, nagents, a);
    size_t nw = nworkers < shares[a] ? nworkers : shares[a], mine = 0;
    for (size_t w = 0; w < nw; w++) {
      size_t n = schedule(&c, w, nw, g, NULL, 20000);
      for (size_t i = 0; i < n; i++) {
        assert_true(g[i] < want);
        assert_false(seen[g[i]]);
        seen[g[i]] = 1;
        owner[g[i]] = (int)a;
      }
      mine += n;
    }
    uint64_t sum = 0;
    for (size_t k = 0; k < nagents; k++) sum += shares[k];
    int64_t off = (int64_t)(mine * sum) - (int64_t)(want * shares[a]); /* within a period */
    assert_true(off >= -(int64_t)(sum * shares[a]) && off <= (int64_t)(sum * shares[a]));
    total += mine;
  }
  assert_true(total == want);
  int equal = 1;
  for (size_t a = 1; a < nagents; a++) equal &= shares[a] == shares[0];
  for (uint64_t i = 0; equal && nagents > 1 && i + 1 < want; i++)
    assert_int_not_equal(owner[i], owner[i + 1]);
}

static void test_constant_fleet(void **state) {
  check_fleet((const uint64_t[]){10, 10, 10}, 3, 2, 100);
  check_fleet((const uint64_t[]){33, 34, 33}, 3, 2, 100);
  check_fleet((const uint64_t[]){3, 2, 3, 2}, 4, 3, 333);
  check_fleet((const uint64_t[]){1, 0, 5}, 3, 4, 50); /* an agent without VUs starts nothing */
}

/* Ramping: 0 -> 100/s over 10 s is 500 iterations (the area), iteration 125 due at 5 s. */
static void test_ramping(void **state) {
  static int64_t due[3000];
  sb_scen_stage up[] = {{10000000, 100}};
  sb_scenario_cfg c = {.name = "r", .kind = SB_SCEN_RAMPING_ARRIVAL_RATE,
                       .ex = &sb_exec_ramping_arrival_rate, .time_unit_us = 1000000,
                       .stages = up, .nstages = 1, .pre_allocated_vus = 1, .max_vus = 1};
  assert_int_equal(schedule(&c, 0, 1, NULL, due, 3000), 500);
  assert_true(due[0] == 0);
  assert_true(due[125] == 5000000);
  /* a plateau at startRate: 10/s for 10 s, 100 ms apart */
  sb_scen_stage flat[] = {{5000000, 10}, {5000000, 10}};
  c.stages = flat;
  c.nstages = 2;
  c.start_rate = 10;
  assert_int_equal(schedule(&c, 0, 1, NULL, due, 3000), 100);
  assert_true(due[37] == 3700000);
  /* up, hold, down: 500 + 1000 + 500 */
  sb_scen_stage trip[] = {{10000000, 100}, {10000000, 100}, {10000000, 0}};
  c.stages = trip;
  c.nstages = 3;
  c.start_rate = 0;
  assert_int_equal(schedule(&c, 0, 1, NULL, due, 3000), 2000);
  assert_true(due[500] == 10000000 && due[1500] == 20000000);
  /* nothing to do at rate 0; per-minute units */
  sb_scen_stage zero[] = {{10000000, 0}};
  c.stages = zero;
  c.nstages = 1;
  assert_int_equal(schedule(&c, 0, 1, NULL, due, 3000), 0);
  sb_scen_stage perm[] = {{60000000, 60}};
  c.stages = perm;
  c.start_rate = 60;
  c.time_unit_us = 60000000;
  assert_int_equal(schedule(&c, 0, 1, NULL, due, 3000), 60);
}

/* One worker's loop with one VU that never comes back: the first due start takes it, the next
 * ones are dropped, and it asks for one more VU only once while that one is being made. */
static void test_drop_and_grow(void **state) {
  struct event_base *base = event_base_new();
  sb_scenario_cfg c = constant(1000, 1000000, 1000000);
  c.max_vus = 2;
  sb_exec_vu vu = {0}, *vus[] = {&vu};
  sb_exec_run r = {.sc = &c, .base = base, .nslots = 2, .worker = 0, .nworkers = 1,
                   .vus = vus, .nvus = 1, .shared = NULL};
  assert_int_equal(shared_new(&r.shared, &c), 0);
  assert_int_equal(init(&r), 0);
  started = dropped = grown = released = 0;
  grow_ok = 1;
  r.start_us = sb_clock_mono_us() - 50000; /* 50 ms late: 51 starts are due at once */
  start(&r);
  assert_int_equal(started, 1);
  assert_true(dropped >= 50 && dropped <= 51); /* 51 if the clock moved 1 ms meanwhile */
  assert_int_equal(grown, 1);
  sb_exec_vu more = {0};
  added(&r, &more); /* the new VU joins the stack */
  grow_ok = 0;
  arrival *a = r.state; /* 10 ms pass: ten more are due, one starts, nine drop, no slot left */
  size_t before = dropped;
  r.start_us -= 10000, a->due_us -= 10000, a->end_us -= 10000;
  on_due(-1, 0, &r);
  assert_int_equal(started, 2);
  assert_true(dropped - before >= 9 && dropped - before <= 10);
  assert_int_equal(grown, 1);
  r.stopping = 1;
  stop(&r);
  clear(&r);
  shared_free(r.shared);
  event_base_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constant_alone),
      cmocka_unit_test(test_constant_fleet),
      cmocka_unit_test(test_ramping),
      cmocka_unit_test(test_drop_and_grow),
  };
  return cmocka_run_group_tests_name("exec_arrival_rate", tests, NULL, NULL);
}
