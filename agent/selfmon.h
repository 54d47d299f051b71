/* The generator's own health: whether the agent, not the target, limits the load.
 *
 * Each worker thread owns a probe: a timer on its loop every SB_SELFMON_TICK_US whose lateness
 * is the loop's lag (a VU hogging the thread, callbacks queued behind each other), and its thread
 * busy time, which the reader samples from outside (a loop that never comes back still shows):
 * the time the thread ran on a CPU plus the time it waited, runnable, for one (the kernel's
 * schedstat; the thread's CPU clock alone where that is missing). On a machine short of cores a
 * worker that always wants to run shows ~100% busy though it got less CPU: it is saturated all
 * the same. The reader (the session thread, once per snapshot) folds every probe into one sample:
 * the busiest and the mean worker's CPU share, the loop lag's max and mean over the interval,
 * the descriptors open against RLIMIT_NOFILE, and the dials that failed with EMFILE or ENFILE.
 *
 * Nothing here runs per request: the probe fires ten times a second per worker, the reader once
 * a second (one getrlimit and one scan of /proc/self/fd), and the dial counter is one relaxed
 * atomic add on a failed dial only.
 *
 *   worker thread:  sb_selfmon_probe_init ─ sb_selfmon_probe_arm (the test starts) ─ ... ─
 *                   sb_selfmon_probe_clear
 *   session thread: sb_selfmon_init ─ sb_selfmon_read, once per snapshot ─ sb_selfmon_clear */
#ifndef SB_SELFMON_H
#define SB_SELFMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SB_SELFMON_TICK_US 100000 /* the lag probe's period */

struct event;
struct event_base;

/* One worker's probe: open, one per worker in the engine (sb_selfmon.probes). Fields marked
 * "worker" are the worker thread's, "reader" the session thread's; the atomics cross. */
typedef struct sb_selfmon_probe {
  struct event *ev;               /* worker: the lag timer (one-shot, re-armed as it fires) */
  int64_t due_us;                 /* worker: when |ev| is due (monotonic) */
  atomic_int_fast64_t due;        /* |due_us| for the reader; 0: not armed */
  atomic_uint_fast64_t lag_max, lag_sum, lag_n; /* fired ticks since the reader's last read */
  atomic_int_fast64_t cpu0_ns, wall0_us; /* busy time and wall clock when armed (0: not yet) */
  clockid_t cpu;                  /* the worker thread's CPU clock (set before it is armed) */
  int tid;                        /* its kernel thread id: /proc/self/task/<tid>/schedstat */
  int64_t last_cpu_ns, last_wall_us; /* reader: the previous read (0: none yet) */
} sb_selfmon_probe;

/* On the worker thread, before its loop runs: makes the timer on |base| and takes the thread's
 * CPU clock. The probe must be zeroed first. Returns 0 or SB_ENOMEM. */
int sb_selfmon_probe_init(sb_selfmon_probe *p, struct event_base *base);
/* On the worker thread when the test starts: the CPU baseline, and the first tick. Measuring
 * from here keeps the VUs' init code (seconds of compiling, before the loop turns) out. */
void sb_selfmon_probe_arm(sb_selfmon_probe *p);
/* On the worker thread: frees the timer. */
void sb_selfmon_probe_clear(sb_selfmon_probe *p);

/* What the reader sends (Progress): one interval of the whole agent. */
typedef struct sb_selfmon_sample {
  uint32_t workers;               /* workers measured (armed); 0: nothing measured yet */
  uint32_t cpu_max_pm;            /* the busiest worker's busy time / wall time, per mille */
  uint32_t cpu_mean_pm;           /* the same, averaged over the workers */
  uint64_t lag_max_us;            /* the latest any worker's tick fired (one still due counts) */
  uint64_t lag_mean_us;           /* mean lateness of the ticks that fired */
  uint64_t fds_open;              /* descriptors open in the process now (0: unknown) */
  uint64_t fds_limit;             /* RLIMIT_NOFILE's soft limit (0: unknown or unlimited) */
  uint64_t dial_emfile;           /* dials failed with EMFILE/ENFILE since sb_selfmon_init */
} sb_selfmon_sample;

typedef struct sb_selfmon {
  sb_selfmon_probe *probes;       /* one per worker, zeroed */
  size_t n;
  uint64_t emfile0;               /* the process's counter at init */
} sb_selfmon;

/* |n| zeroed probes. Returns 0 or SB_ENOMEM. */
int sb_selfmon_init(sb_selfmon *m, size_t n);
void sb_selfmon_clear(sb_selfmon *m);
/* Folds every probe's interval since the previous read into |out| (the probes' interval
 * counters start again), at monotonic |now_us|. Any thread, but one reader at a time. */
void sb_selfmon_read(sb_selfmon *m, int64_t now_us, sb_selfmon_sample *out);

/* A dial failed with EMFILE or ENFILE (agent/http_conn.c). Any thread. */
void sb_selfmon_dial_emfile(void);
/* Descriptors open in this process (a scan of /proc/self/fd) and RLIMIT_NOFILE's soft limit;
 * 0 when unknown. */
void sb_selfmon_fds(uint64_t *open, uint64_t *limit);

struct sb_engine;
/* The engine's sample (agent/engine.c; declared here because only the session, which sends
 * Progress, reads it). From the session thread, while the engine lives. */
void sb_engine_selfmon(struct sb_engine *e, sb_selfmon_sample *out);

#endif
