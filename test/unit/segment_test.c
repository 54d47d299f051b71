/* Execution segments: the agents' shares always add up to the whole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "controller/segment.h"

static void test_shares_add_up(void **state) {
  (void)state;
  static const uint64_t totals[] = {0, 1, 2, 3, 7, 10, 99, 100, 1000, 12345, UINT64_MAX / 3};
  static const uint32_t w[] = {3, 1, 4, 1, 5};
  for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++)
    for (size_t n = 1; n <= 5; n++)
      for (int weighted = 0; weighted < 2; weighted++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) sum += sb_segment_share(totals[t], weighted ? w : NULL, n, i);
        assert_true(sum == totals[t]);
      }
  /* equal weights: shares differ by at most one */
  for (size_t i = 0; i < 3; i++) {
    uint64_t s = sb_segment_share(100, NULL, 3, i);
    assert_true(s == 33 || s == 34);
  }
  assert_int_equal(sb_segment_share(10, (const uint32_t[]){1, 4}, 2, 1), 8);
  assert_int_equal(sb_segment_share(10, (const uint32_t[]){1, 4}, 2, 0), 2);
}

static void test_shared_iterations_follow_vus(void **state) {
  (void)state;
  sb_scenario s = {.name = "x", .executor = SB_EXEC_SHARED_ITERATIONS, .vus = 1, .iterations = 10};
  sb_scenario out;
  uint64_t iters = 0, vus = 0;
  for (size_t i = 0; i < 5; i++) {
    sb_segment_cut(&s, NULL, 5, i, &out, NULL);
    assert_true(out.vus > 0 || out.iterations == 0); /* no iteration without a VU to run it */
    iters += out.iterations;
    vus += out.vus;
  }
  assert_int_equal(iters, 10);
  assert_int_equal(vus, 1);
  s.vus = 100, s.iterations = 1000;
  iters = vus = 0;
  for (size_t i = 0; i < 3; i++) {
    sb_segment_cut(&s, NULL, 3, i, &out, NULL);
    iters += out.iterations;
    vus += out.vus;
    assert_true(out.iterations >= 330 && out.iterations <= 340);
  }
  assert_int_equal(iters, 1000);
  assert_int_equal(vus, 100);
}

static void test_cut_executors(void **state) {
  (void)state;
  sb_stage st[2] = {{1000, 10}, {2000, 3}}, outst[2];
  sb_scenario r = {.name = "r", .executor = SB_EXEC_RAMPING_VUS, .start_vus = 5, .stages = st, .nstages = 2};
  sb_scenario out;
  uint64_t start = 0, t0 = 0, t1 = 0;
  for (size_t i = 0; i < 2; i++) {
    sb_segment_cut(&r, NULL, 2, i, &out, outst);
    assert_int_equal(out.nstages, 2);
    assert_int_equal(outst[0].duration_ms, 1000);
    start += out.start_vus, t0 += outst[0].target, t1 += outst[1].target;
  }
  assert_int_equal(start, 5);
  assert_int_equal(t0, 10);
  assert_int_equal(t1, 3);
  sb_scenario p = {.name = "p", .executor = SB_EXEC_PER_VU_ITERATIONS, .vus = 3, .iterations = 7};
  uint64_t vus = 0;
  for (size_t i = 0; i < 2; i++) {
    sb_segment_cut(&p, NULL, 2, i, &out, NULL);
    assert_int_equal(out.iterations, 7); /* per VU: not cut */
    vus += out.vus;
  }
  assert_int_equal(vus, 3);
  sb_scenario c = {.name = "c", .executor = SB_EXEC_CONSTANT_VUS, .vus = 10, .duration_ms = 5000};
  sb_segment_cut(&c, (const uint32_t[]){1, 1, 3}, 3, 2, &out, NULL);
  assert_int_equal(out.vus, 6);
  assert_int_equal(out.duration_ms, 5000);
  sb_segment_cut(&c, NULL, 1, 0, &out, NULL);
  assert_int_equal(out.vus, 10);
}

static void test_describe(void **state) {
  (void)state;
  char b[64];
  sb_segment_describe(NULL, 1, 0, b, sizeof(b));
  assert_string_equal(b, "0:1");
  sb_segment_describe((const uint32_t[]){1, 2, 1}, 3, 1, b, sizeof(b));
  assert_string_equal(b, "1/4:3/4");
}

/* Arrival rates are never cut: each agent gets its VUs and a stripe of the iteration numbers in
 * proportion to its maxVUs, the stripes together holding every number once. */
static void test_arrival_rate_stripes(void **state) {
  (void)state;
  sb_stage st[1] = {{60000, 100}}, outst[1];
  sb_scenario r = {.name = "r", .executor = SB_EXEC_RAMPING_ARRIVAL_RATE, .stages = st,
                   .nstages = 1, .pre_allocated_vus = 10, .max_vus = 100};
  sb_scenario out[3];
  uint64_t pre = 0, max = 0;
  for (size_t i = 0; i < 3; i++) {
    sb_segment_cut(&r, NULL, 3, i, &out[i], outst);
    assert_int_equal(outst[0].target, 100); /* the fleet's rate */
    pre += out[i].pre_allocated_vus;
    max += out[i].max_vus;
  }
  assert_int_equal(pre, 10);
  assert_int_equal(max, 100);
  for (uint64_t g = 0; g < 1000; g++) {
    int owners = 0;
    for (size_t i = 0; i < 3; i++) owners += sb_stripe_has(&out[i].stripe, g);
    assert_int_equal(owners, 1);
  }
  /* alone: the whole sequence */
  sb_segment_cut(&r, NULL, 1, 0, &out[0], outst);
  assert_int_equal(out[0].stripe.period, 0);
  assert_int_equal(sb_segment_max_vus(&r), 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arrival_rate_stripes),
      cmocka_unit_test(test_shares_add_up),
      cmocka_unit_test(test_shared_iterations_follow_vus),
      cmocka_unit_test(test_cut_executors),
      cmocka_unit_test(test_describe),
  };
  return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
