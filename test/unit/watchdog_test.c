/* agent/watchdog.c: a deadline sets the flag, a disarm in time keeps it clear, and the thread is
 * stopped and joined by sb_watchdog_shutdown() (at once, with an entry still armed far ahead),
 * after which an arm starts a new one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <unistd.h>

#include "agent/watchdog.h"
#include "common/clock.h"

static void wait_flag(volatile int *flag) {
  for (int i = 0; i < 500 && !*flag; i++)
    usleep(2000);
}

static void test_fires_and_disarms(void **state) {
  (void)state;
  sb_watchdog_shutdown(); /* not started: nothing to do */
  volatile int flag = 0, other = 0;
  sb_watchdog_entry e, f;
  assert_int_equal(sb_watchdog_arm(&e, &flag, 5000), 0);
  assert_int_equal(sb_watchdog_arm(&f, &other, 60000000), 0);
  wait_flag(&flag);
  assert_int_equal(flag, 1);
  assert_int_equal(sb_watchdog_disarm(&e), 1);
  assert_int_equal(sb_watchdog_disarm(&f), 0);
  assert_int_equal(other, 0);
}

static void test_shutdown_joins_at_once(void **state) {
  (void)state;
  volatile int flag = 0;
  sb_watchdog_entry e;
  assert_int_equal(sb_watchdog_arm(&e, &flag, 60000000), 0); /* it sleeps for a minute */
  int64_t t0 = sb_clock_mono_us();
  sb_watchdog_shutdown();
  assert_true(sb_clock_mono_us() - t0 < 1000000);
  assert_int_equal(sb_watchdog_disarm(&e), 0);
  sb_watchdog_shutdown(); /* twice: a no-op */

  assert_int_equal(sb_watchdog_arm(&e, &flag, 1000), 0); /* a new thread */
  wait_flag(&flag);
  assert_int_equal(flag, 1);
  assert_int_equal(sb_watchdog_disarm(&e), 1);
  sb_watchdog_shutdown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fires_and_disarms),
      cmocka_unit_test(test_shutdown_joins_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
