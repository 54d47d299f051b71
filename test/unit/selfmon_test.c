/* agent/selfmon: a worker's probe on a real event loop (lag of a loop held busy, the busy share
 * of its thread, a tick still due when the loop does not come back), the descriptor count and
 * the EMFILE dial counter. The verdict on these numbers is controller/run_state's
 * (test/unit/run_state_test.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "agent/selfmon.h"
#include "common/clock.h"

static void spin_us(int64_t us) {
  int64_t end = sb_clock_mono_us() + us;
  while (sb_clock_mono_us() < end) {}
}

static void on_hog(evutil_socket_t fd, short what, void *arg) { spin_us(*(int64_t *)arg); }

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  event_base_loopbreak((struct event_base *)arg);
}

/* Runs |base| for |ms|, with a callback holding the loop for |hog_us| at |hog_at_ms|. */
static void run_loop(struct event_base *base, int ms, int hog_at_ms, int64_t hog_us) {
  struct event *hog = evtimer_new(base, on_hog, &hog_us);
  struct event *stop = evtimer_new(base, on_stop, base);
  struct timeval h = {0, hog_at_ms * 1000}, s = {ms / 1000, (ms % 1000) * 1000};
  if (hog_us) evtimer_add(hog, &h);
  evtimer_add(stop, &s);
  event_base_dispatch(base);
  event_free(hog);
  event_free(stop);
}

/* Nothing is measured before the probe is armed (the VUs' init code is not load). */
static void test_not_armed(void **state) {
  sb_selfmon m;
  assert_int_equal(sb_selfmon_init(&m, 2), 0);
  struct event_base *base = event_base_new();
  assert_int_equal(sb_selfmon_probe_init(&m.probes[0], base), 0);
  sb_selfmon_sample s;
  sb_selfmon_read(&m, sb_clock_mono_us(), &s);
  assert_int_equal(s.workers, 0);
  assert_int_equal(s.cpu_max_pm, 0);
  assert_int_equal(s.lag_max_us, 0);
  assert_true(s.fds_open > 0);
  sb_selfmon_probe_clear(&m.probes[0]);
  event_base_free(base);
  sb_selfmon_clear(&m);
}

/* A callback holding the loop for 250 ms: the tick due meanwhile fires that late; the thread was
 * busy for most of the interval. A calm interval after it shows the ordinary lag again. */
static void test_busy_loop(void **state) {
  sb_selfmon m;
  assert_int_equal(sb_selfmon_init(&m, 1), 0);
  struct event_base *base = event_base_new();
  assert_int_equal(sb_selfmon_probe_init(&m.probes[0], base), 0);
  sb_selfmon_probe_arm(&m.probes[0]);
  run_loop(base, 400, 50, 250000);
  sb_selfmon_sample s;
  sb_selfmon_read(&m, sb_clock_mono_us(), &s);
  assert_int_equal(s.workers, 1);
  assert_true(s.lag_max_us >= 150000);
  assert_true(s.lag_max_us < 400000);
  assert_true(s.lag_mean_us > 0 && s.lag_mean_us <= s.lag_max_us);
  assert_true(s.cpu_max_pm >= 500); /* 250 of ~400 ms spinning */
  assert_int_equal(s.cpu_mean_pm, s.cpu_max_pm);
  run_loop(base, 350, 0, 0); /* calm: the ticks come on time, the thread sleeps */
  sb_selfmon_read(&m, sb_clock_mono_us(), &s);
  assert_true(s.lag_max_us < 50000);
  assert_true(s.cpu_max_pm < 300);
  sb_selfmon_probe_clear(&m.probes[0]);
  event_base_free(base);
  sb_selfmon_clear(&m);
}

/* A loop that does not come back at all: the reader sees the tick still due. */
static void test_stuck_loop(void **state) {
  sb_selfmon m;
  assert_int_equal(sb_selfmon_init(&m, 1), 0);
  struct event_base *base = event_base_new();
  assert_int_equal(sb_selfmon_probe_init(&m.probes[0], base), 0);
  sb_selfmon_probe_arm(&m.probes[0]);
  spin_us(300000); /* the loop never runs */
  sb_selfmon_sample s;
  sb_selfmon_read(&m, sb_clock_mono_us(), &s);
  assert_true(s.lag_max_us >= 150000);
  assert_true(s.cpu_max_pm >= 800);
  sb_selfmon_probe_clear(&m.probes[0]);
  event_base_free(base);
  sb_selfmon_clear(&m);
}

/* Descriptors: the count follows what the process opens; the limit is RLIMIT_NOFILE's. EMFILE
 * dials are counted from the monitor's start. */
static void test_fds_and_emfile(void **state) {
  uint64_t open0, lim, open1;
  sb_selfmon_fds(&open0, &lim);
  assert_true(open0 >= 3);
  assert_true(lim > 0);
  int fds[10];
  for (int i = 0; i < 10; i++) assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
  sb_selfmon_fds(&open1, &lim);
  assert_int_equal(open1, open0 + 10);
  for (int i = 0; i < 10; i++) close(fds[i]);

  sb_selfmon_dial_emfile(); /* before: not this monitor's */
  sb_selfmon m;
  assert_int_equal(sb_selfmon_init(&m, 1), 0);
  sb_selfmon_dial_emfile();
  sb_selfmon_dial_emfile();
  sb_selfmon_sample s;
  sb_selfmon_read(&m, sb_clock_mono_us(), &s);
  assert_int_equal(s.dial_emfile, 2);
  assert_int_equal(s.fds_limit, lim);
  sb_selfmon_clear(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_not_armed),  cmocka_unit_test(test_busy_loop),
      cmocka_unit_test(test_stuck_loop), cmocka_unit_test(test_fds_and_emfile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
