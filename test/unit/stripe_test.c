/* common/stripe.c: every index has exactly one owner, shares are exact over every period, and
 * owners interleave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/stripe.h"

/* Owner of index |i| among |n| stripes (-1: none, -2: several). */
static int owner(const sb_stripe *s, size_t n, uint64_t i) {
  int who = -1;
  for (size_t k = 0; k < n; k++)
    if (sb_stripe_has(&s[k], i)) who = who == -1 ? (int)k : -2;
  return who;
}

static void check_partition(const uint64_t *w, size_t n, uint64_t len) {
  sb_stripe s[8];
  uint64_t count[8] = {0}, total = 0;
  for (size_t k = 0; k < n; k++) {
    sb_stripe_make(&s[k], w, n, k);
    total += w ? w[k] : 1;
  }
  for (uint64_t i = 0; i < len; i++) {
    int o = owner(s, n, i);
    assert_true(o >= 0);
    count[o]++;
  }
  /* len is a multiple of every period here: the shares are exact */
  for (size_t k = 0; k < n; k++) assert_true(count[k] * total == len * (w ? w[k] : 1));
}

static void test_partition_exact(void **state) {
  check_partition(NULL, 1, 1000);
  check_partition(NULL, 3, 3000);
  check_partition((const uint64_t[]){33, 34, 33}, 3, 10000);
  check_partition((const uint64_t[]){1, 2}, 2, 3000);
  check_partition((const uint64_t[]){3, 0, 4, 3}, 4, 1000);
  check_partition((const uint64_t[]){5, 5}, 2, 1000); /* reduced by the gcd: period 2 */
  check_partition((const uint64_t[]){1, 1, 1, 1, 1, 1, 1}, 7, 7000);
}

/* Equal weights take turns; unequal ones never give anyone a run longer than needed. */
static void test_interleaved(void **state) {
  sb_stripe s[3];
  for (size_t k = 0; k < 3; k++) sb_stripe_make(&s[k], NULL, 3, k);
  for (uint64_t i = 0; i + 1 < 300; i++) assert_int_not_equal(owner(s, 3, i), owner(s, 3, i + 1));
  /* 3:3:4 over a period of 10: the biggest (4 in 10) never takes 3 in a row */
  const uint64_t w[] = {3, 3, 4};
  for (size_t k = 0; k < 3; k++) sb_stripe_make(&s[k], w, 3, k);
  int run = 0, longest = 0, prev = -1;
  for (uint64_t i = 0; i < 1000; i++) {
    int o = owner(s, 3, i);
    run = o == prev ? run + 1 : 1;
    prev = o;
    if (run > longest) longest = run;
  }
  assert_true(longest <= 2);
}

/* The table lists exactly the stripe's indices, in order. */
static void test_table(void **state) {
  const uint64_t w[] = {2, 7, 3};
  for (size_t k = 0; k < 3; k++) {
    sb_stripe s;
    sb_stripe_table t;
    sb_stripe_make(&s, w, 3, k);
    assert_int_equal(sb_stripe_table_init(&t, &s), 0);
    uint64_t n = 0;
    for (uint64_t i = 0; i < 1200; i++) {
      if (!sb_stripe_has(&s, i)) continue;
      assert_true(sb_stripe_table_at(&t, n) == i);
      n++;
    }
    assert_true(n == 1200 / 12 * w[k]);
    sb_stripe_table_clear(&t);
  }
  /* a sole party owns everything; a weightless one nothing */
  sb_stripe s;
  sb_stripe_table t;
  sb_stripe_make(&s, NULL, 1, 0);
  assert_int_equal(sb_stripe_table_init(&t, &s), 0);
  assert_true(sb_stripe_table_at(&t, 12345) == 12345);
  sb_stripe_table_clear(&t);
  sb_stripe_make(&s, (const uint64_t[]){0, 5}, 2, 0);
  assert_int_equal(sb_stripe_table_init(&t, &s), 0);
  assert_false(sb_stripe_has(&s, 0));
  assert_true(sb_stripe_table_at(&t, 0) == UINT64_MAX);
  sb_stripe_table_clear(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partition_exact),
      cmocka_unit_test(test_interleaved),
      cmocka_unit_test(test_table),
  };
  return cmocka_run_group_tests_name("stripe", tests, NULL, NULL);
}
