/* The watchdog (agent/watchdog.h).
 *
 * An unsorted list under one mutex: entries are few at any moment (one init in flight per worker
 * thread), so the thread scans them all on each wake. The condition variable runs on the
 * monotonic clock, so a wall-clock jump neither fires nor delays a deadline. The thread lives
 * until sb_watchdog_shutdown() wakes it to quit and joins it (a process that exits with it still
 * running leaves it to the kernel, and valgrind reports its stack as possibly lost). */
#include "agent/watchdog.h"

#include <pthread.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static sb_watchdog_entry *head; /* armed entries */
static int started;             /* the thread runs (under mu) */
static int quit;                /* the thread is to return (under mu) */
static int64_t wake_at;         /* when the thread wakes next (INT64_MAX: when signalled; under
                                   mu): an arm with a later deadline need not wake it (VU inits
                                   arm one each, with the same timeout) */
static pthread_t thread;

/* The thread: sets the flag of every entry whose deadline passed, then sleeps until the next. */
static void *watch(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!quit) {
    int64_t now = sb_clock_mono_us(), next = INT64_MAX;
    for (sb_watchdog_entry *e = head; e; e = e->next) {
      if (!e->fired && e->deadline_us <= now) {
        e->fired = 1;
        *e->flag = 1;
      }
      if (!e->fired && e->deadline_us < next) next = e->deadline_us;
    }
    wake_at = next;
    if (next == INT64_MAX) {
      pthread_cond_wait(&cond, &mu);
      continue;
    }
    struct timespec ts = {.tv_sec = next / 1000000, .tv_nsec = (next % 1000000) * 1000};
    pthread_cond_timedwait(&cond, &mu, &ts);
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* Starts the thread once (under mu). */
static int start(void) {
  if (started) return 0;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 64 * 1024);
  quit = 0;
  wake_at = INT64_MAX;
  int rc = pthread_create(&thread, &at, watch, NULL);
  pthread_attr_destroy(&at);
  if (rc != 0) {
    pthread_cond_destroy(&cond);
    return SB_ENOMEM;
  }
  started = 1;
  return 0;
}

int sb_watchdog_arm(sb_watchdog_entry *e, volatile int *flag, int64_t timeout_us) {
  pthread_mutex_lock(&mu);
  if (start() != 0) {
    pthread_mutex_unlock(&mu);
    return SB_ENOMEM;
  }
  e->flag = flag;
  e->deadline_us = sb_clock_mono_us() + (timeout_us > 0 ? timeout_us : 0);
  e->fired = 0;
  e->armed = 1;
  e->prev = NULL;
  e->next = head;
  if (head) head->prev = e;
  head = e;
  if (e->deadline_us < wake_at) {
    wake_at = e->deadline_us; /* it wakes for this one at the latest; no second signal */
    pthread_cond_signal(&cond);
  }
  pthread_mutex_unlock(&mu);
  return 0;
}

int sb_watchdog_disarm(sb_watchdog_entry *e) {
  pthread_mutex_lock(&mu);
  int fired = e->fired;
  if (e->armed) {
    if (e->prev) e->prev->next = e->next;
    else head = e->next;
    if (e->next) e->next->prev = e->prev;
    e->next = e->prev = NULL;
    e->armed = 0;
  }
  e->fired = 0;
  pthread_mutex_unlock(&mu);
  return fired;
}

void sb_watchdog_shutdown(void) {
  pthread_mutex_lock(&mu);
  if (!started) {
    pthread_mutex_unlock(&mu);
    return;
  }
  quit = 1;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&mu);
  pthread_join(thread, NULL); /* it returns as soon as it holds the mutex again */
  pthread_mutex_lock(&mu);
  started = 0;
  pthread_cond_destroy(&cond);
  pthread_mutex_unlock(&mu);
}
