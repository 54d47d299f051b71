/* agent/coro.c: ping-pong, values through arg, many coroutines, deep recursion, stacks carved
 * from shared regions (mappings, guard pages, reuse). Includes the .c to reach its regions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/coro.c"
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
  assert_int_equal(sb_coro_new(&co, 64 * 1024, ping_fn, &pp, NULL), 0);
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
  assert_int_equal(sb_coro_new(&x, 0, locals_fn, (void *)(uintptr_t)1000, NULL), 0);
  assert_int_equal(sb_coro_new(&y, 0, locals_fn, (void *)(uintptr_t)77777, NULL), 0);
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
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_new(&cos[i], 64 * 1024, count_fn, &n, NULL), 0);
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_resume(cos[i]), 1);
  assert_int_equal(n, N);
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_resume(cos[i]), 0);
  assert_int_equal(n, 2 * N);
  for (int i = 0; i < N; i++) sb_coro_free(cos[i]);
}

static void test_drop_suspended(void **state) {
  sb_coro *co;
  int n = 0;
  assert_int_equal(sb_coro_new(&co, 0, count_fn, &n, NULL), 0);
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
  assert_int_equal(sb_coro_new(&co, SB_CORO_STACK_DEFAULT, deep_fn, &res, NULL), 0);
  assert_int_equal(sb_coro_resume(co), 1);
  assert_int_equal(sb_coro_resume(co), 0);
  assert_int_equal(res, recurse(400, NULL)); /* same result as on the thread's own stack */
  sb_coro_free(co);
}

/* The reason for the regions: 2,000 stacks must not cost 4,000 kernel mappings (vm.max_map_count
 * stopped 100,000 VUs at ~32,000). With guard regions (Linux 6.13+) they cost ~32; without, two
 * each as before, and sb_coro_check_capacity() warns instead. */
static void test_stacks_share_mappings(void **state) {
  enum { N = 2000 };
  static sb_coro *cos[N];
  int n = 0;
  long before = maps_in_use();
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_new(&cos[i], 256 * 1024, count_fn, &n, NULL), 0);
  long grown = maps_in_use() - before;
  printf("# %d stacks: %ld more mappings (guards by %s)\n", N, grown,
         guards_by_madvise() ? "madvise" : "mprotect");
  if (guards_by_madvise())
    assert_true(grown <= N / SLAB_STACKS + 8);
  else
    assert_true(grown <= 2 * N + 8);
  for (int i = 0; i < N; i++) assert_int_equal(sb_coro_resume(cos[i]), 1);
  assert_int_equal(n, N);
  for (int i = 0; i < N; i++) sb_coro_free(cos[i]);
  assert_null(partial); /* every region unmapped once its stacks are back */
  assert_true(maps_in_use() <= before + 2);
  /* the fallback of older kernels: mprotect'ed guards, still working coroutines */
  int mode = guard_mode;
  guard_mode = GUARD_MPROTECT;
  n = 0;
  for (int i = 0; i < 200; i++) assert_int_equal(sb_coro_new(&cos[i], 64 * 1024, count_fn, &n, NULL), 0);
  grown = maps_in_use() - before;
  assert_true(grown >= 200 && grown <= 2 * 256 + 8); /* whole regions of 64: 4 */
  for (int i = 0; i < 200; i++) assert_int_equal(sb_coro_resume(cos[i]), 1);
  for (int i = 0; i < 200; i++) sb_coro_free(cos[i]);
  assert_int_equal(n, 200);
  guard_mode = mode;
}

static void scribble_fn(sb_coro *co, void *arg) {
  volatile char buf[4096];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (char)0xAB;
  sb_coro_yield(co);
  (void)buf[0];
}

/* A stack given back and taken again starts zeroed: nothing of the last VU's frames survives. */
static void test_reused_stack_is_clean(void **state) {
  sb_coro *keep, *a, *b;
  assert_int_equal(sb_coro_new(&keep, 64 * 1024, count_fn, &(int){0}, NULL), 0); /* region stays */
  assert_int_equal(sb_coro_new(&a, 64 * 1024, scribble_fn, NULL, NULL), 0);
  assert_int_equal(sb_coro_resume(a), 1);
  char *lo = a->stack_lo;
  size_t len = a->stack_len;
  int dirty = 0;
#if SB_CORO_ASAN
  ASAN_UNPOISON_MEMORY_REGION(lo, len); /* the suspended frame's redzones: read them all the same */
#endif
  for (size_t i = 0; i < len; i++) dirty += (unsigned char)lo[i] == 0xAB;
  assert_true(dirty >= 4096);
  sb_coro_free(a);
  assert_int_equal(sb_coro_new(&b, 64 * 1024, count_fn, &(int){0}, NULL), 0);
  assert_ptr_equal(b->stack_lo, lo); /* the same slot, handed out again */
  for (size_t i = 0; i < len - 4096; i++) assert_int_equal(lo[i], 0); /* top page: its first frame */
  sb_coro_free(b);
  sb_coro_free(keep);
}

static void overflow_fn(sb_coro *co, void *arg) {
  volatile char *below = (volatile char *)co->stack_lo - 1; /* the guard page */
  *below = 1;
}

/* Writing just below a stack faults instead of landing in the neighbour's stack. */
static void test_guard_page_faults(void **state) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL); /* cmocka's handler would carry on with the next test */
    sb_coro *a, *b;
    if (sb_coro_new(&a, 64 * 1024, count_fn, &(int){0}, NULL) ||
        sb_coro_new(&b, 64 * 1024, overflow_fn, NULL, NULL))
      _exit(41);
    sb_coro_resume(b);
    _exit(42); /* the write went through: no guard */
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  /* a plain build dies of SIGSEGV; ASan reports the SEGV and exits non-zero */
  assert_true((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
              (WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 41 &&
               WEXITSTATUS(st) != 42));
}

static void test_capacity_check(void **state) {
  sb_err err = {{0}};
  assert_int_equal(sb_coro_check_capacity(100, &err), 0);
  assert_int_equal(sb_coro_check_capacity(UINT64_C(1) << 40, &err), SB_ENOMEM);
  printf("# %s\n", err.msg);
  assert_non_null(strstr(err.msg, "vm.max_map_count"));
  assert_non_null(strstr(err.msg, "sysctl -w vm.max_map_count="));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pingpong),       cmocka_unit_test(test_registers_survive),
      cmocka_unit_test(test_many),           cmocka_unit_test(test_drop_suspended),
      cmocka_unit_test(test_deep_recursion), cmocka_unit_test(test_stacks_share_mappings),
      cmocka_unit_test(test_reused_stack_is_clean), cmocka_unit_test(test_guard_page_faults),
      cmocka_unit_test(test_capacity_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
