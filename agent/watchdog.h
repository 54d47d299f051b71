/* A process-wide watchdog for work that cannot be timed from its own loop: a VU's init code runs
 * on the worker's thread before that worker's loop turns, so a script that never ends there can
 * only be stopped from another thread.
 *
 * One thread (started on first use, joined by sb_watchdog_shutdown()) sleeps until the earliest deadline and then sets that entry's
 * flag (a Duktape heap's interrupt flag: the script throws at its next bytecode check). Entries
 * are embedded in their owner (no allocation); arming and disarming take one mutex, so it is for
 * jobs that run once (init), not for every iteration. */
#ifndef SB_WATCHDOG_H
#define SB_WATCHDOG_H

#include <stdint.h>

typedef struct sb_watchdog_entry {
  struct sb_watchdog_entry *next, *prev; /* in the watchdog's list while armed */
  volatile int *flag;          /* set to 1 when the deadline passes */
  int64_t deadline_us;         /* monotonic (sb_clock_mono_us) */
  int armed;
  int fired;
} sb_watchdog_entry;

/* Sets |*flag| to 1 once |timeout_us| has passed, unless sb_watchdog_disarm() came first. |e|
 * must stay where it is until disarmed. Returns 0, or SB_ENOMEM when the watchdog thread cannot
 * be started (then nothing is armed). */
int sb_watchdog_arm(sb_watchdog_entry *e, volatile int *flag, int64_t timeout_us);
/* Disarms |e| (no-op when not armed). Returns 1 when its flag was set by the watchdog, else 0;
 * after this returns the watchdog no longer touches |e| or its flag. */
int sb_watchdog_disarm(sb_watchdog_entry *e);
/* Stops the thread, if it runs, and waits for it: it wakes at once, so this takes no longer than
 * the thread needs to see the request. For the process's end, when no worker can arm any more:
 * entries still armed never fire (an arm after this starts a new thread). */
void sb_watchdog_shutdown(void);

#endif
