/* agent/coro.c: ping-pong, values through arg, many coroutines, deep recursion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/coro.h"
#include "common/err.h"

typedef struct pingpong {
  int value;   /* written by both sides */
  int steps;
} pingpong;

static void ping_fn(sb_coro *co, void *arg) {
  pingpong *pp = arg;
  for (int i = 0; i < pp->steps; i++) {
    pp->value = pp->value * 2 + 1; /* depends on what the caller wrote */
    sb_coro_yield(co);
  }
}

static void test_pingpong(void **state) {
  sb_coro *co;
  pingpong pp = {.value = 0, .steps = 5};
  assert_int_equal(sb_coro_new(&co, 64 * 1024, ping_fn, &pp), 0);
  assert_false(sb_coro_done(co));
  for (int i = 0; i < 5; i++) {
    pp.value += 10;
    int before = pp.value;
    assert_int_equal(sb_coro_resume(co), 1);
    assert_int_equal(pp.value, before * 2 + 1);
  }
  assert_int_equal(sb_coro_resume(co), 0); /* fn returns */
  assert_true(sb_coro_done(co));
  assert_int_equal(sb_coro_resume(co), 0); /* resuming a finished coroutine is harmless */
  sb_coro_free(co);
}

/* Locals must survive switches: a callee-saved register clobbered by the switch shows up here. */
static void locals_fn(sb_coro *co, void *arg) {
  volatile double d = 1.5;
  uint64_t a = (uint64_t)(uintptr_t)arg, b = a * 3, c = a ^ 0x5555, e = a + 7, f = a << 2;
  for (int i = 0; i < 100; i++) {
    sb_coro_yield(co);
    a += 1; b += 3; c ^= 1; e += 2; f += 4; d *= 1.0;
  }
  assert_int_equal(b, (a - 100) * 3 + 300);
  assert_int_equal(e, a - 100 + 7 + 200);
  assert_int_equal(f, ((a - 100) << 2) + 400);
  assert_int_equal(c, (a - 100) ^ 0x5555);
  assert_true(d == 1.5);
}

static void test_registers_survive(void **state) {
  sb_coro *x, *y;
  assert_int_equal(sb_coro_new(&x, 0, locals_fn, (void *)(uintptr_t)1000), 0);
  assert_int_equal(sb_coro_new(&y, 0, locals_fn, (void *)(uintptr_t)77777), 0);
  int rx = 1, ry = 1;
  while (rx || ry) {
    if (rx) rx = sb_coro_resume(x);
    if (ry) ry = sb_coro_resume(y);
  }
  sb_coro_free(x);
  sb_coro_free(y);
}

static void count_fn(sb_coro *co, void *arg) {
  int *n = arg;
  (*n)++;
  sb_coro_yield(co);
  (*n)++;
}

static void test_many(void **state) {
  enum { N = 10000 };
  static sb_coro *cos[N];
  int n = 0;
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_new(&cos[i], 64 * 1024, count_fn, &n), 0);
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_resume(cos[i]), 1);
  assert_int_equal(n, N);
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_resume(cos[i]), 0);
  assert_int_equal(n, 2 * N);
  for (int i = 0; i < N; i++) sb_coro_free(cos[i]);
}

static void test_drop_suspended(void **state) {
  sb_coro *co;
  int n = 0;
  assert_int_equal(sb_coro_new(&co, 0, count_fn, &n), 0);
  assert_int_equal(sb_coro_resume(co), 1);
  sb_coro_free(co); /* suspended: frames discarded */
  assert_int_equal(n, 1);
  sb_coro_free(NULL);
}

static int recurse(int depth, volatile char *prev) {
  volatile char buf[256];
  memset((char *)buf, depth & 0xff, sizeof(buf));
  if (depth == 0) return buf[0] + (prev ? prev[0] : 0);
  return recurse(depth - 1, buf) + buf[10];
}

static void deep_fn(sb_coro *co, void *arg) {
  int *res = arg;
  sb_coro_yield(co);
  *res = recurse(400, NULL); /* ~400 * (256 + frame) bytes, well inside 256 KiB */
}

static void test_deep_recursion(void **state) {
  sb_coro *co;
  int res = -1;
  assert_int_equal(sb_coro_new(&co, SB_CORO_STACK_DEFAULT, deep_fn, &res), 0);
  assert_int_equal(sb_coro_resume(co), 1);
  assert_int_equal(sb_coro_resume(co), 0);
  assert_int_equal(res, recurse(400, NULL)); /* same result as on the thread's own stack */
  sb_coro_free(co);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pingpong),       cmocka_unit_test(test_registers_survive),
      cmocka_unit_test(test_many),           cmocka_unit_test(test_drop_suspended),
      cmocka_unit_test(test_deep_recursion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
