/* The generator's own health (agent/selfmon.h). */
#include "agent/selfmon.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

static atomic_uint_fast64_t dial_emfile;

void sb_selfmon_dial_emfile(void) {
  atomic_fetch_add_explicit(&dial_emfile, 1, memory_order_relaxed);
}

static int64_t clock_ns(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts)) return -1;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Thread |p|'s busy nanoseconds: on a CPU or runnable, from /proc/self/task/<tid>/schedstat
 * ("run_ns wait_ns slices"); its CPU clock alone when that cannot be read. -1: neither. */
static int64_t busy_ns(const sb_selfmon_probe *p) {
  char path[64], buf[96];
  snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", p->tid);
  int fd = p->tid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
  if (fd >= 0) close(fd);
  unsigned long long run, wait;
  if (n > 0) {
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu", &run, &wait) == 2) return (int64_t)(run + wait);
  }
  return clock_ns(p->cpu);
}

/* --- the worker's side ------------------------------------------------------------------------ */

static void schedule(sb_selfmon_probe *p, int64_t now_us) {
  p->due_us = now_us + SB_SELFMON_TICK_US;
  atomic_store_explicit(&p->due, p->due_us, memory_order_relaxed);
  struct timeval tv = {0, SB_SELFMON_TICK_US};
  evtimer_add(p->ev, &tv);
}

/* A tick: how late it came is the loop's lag. One-shot and re-armed from now, so a loop that
 * was stuck for a second yields one late tick, not ten queued ones. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
  sb_selfmon_probe *p = arg;
  int64_t now = sb_clock_mono_us(), lag = now - p->due_us;
  uint64_t l = lag > 0 ? (uint64_t)lag : 0;
  uint_fast64_t max = atomic_load_explicit(&p->lag_max, memory_order_relaxed);
  while (l > max && !atomic_compare_exchange_weak(&p->lag_max, &max, l)) {}
  atomic_fetch_add_explicit(&p->lag_sum, l, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->lag_n, 1, memory_order_relaxed);
  schedule(p, now);
}

int sb_selfmon_probe_init(sb_selfmon_probe *p, struct event_base *base) {
  if (pthread_getcpuclockid(pthread_self(), &p->cpu)) p->cpu = CLOCK_THREAD_CPUTIME_ID;
  p->tid = (int)syscall(SYS_gettid);
  p->ev = evtimer_new(base, on_tick, p);
  return p->ev ? 0 : SB_ENOMEM;
}

void sb_selfmon_probe_arm(sb_selfmon_probe *p) {
  if (!p->ev || atomic_load(&p->wall0_us)) return;
  int64_t now = sb_clock_mono_us(), cpu = busy_ns(p);
  atomic_store(&p->cpu0_ns, cpu > 0 ? cpu : 1);
  schedule(p, now);
  atomic_store(&p->wall0_us, now); /* last: the reader takes the probe as armed */
}

void sb_selfmon_probe_clear(sb_selfmon_probe *p) {
  atomic_store(&p->due, 0);
  if (p->ev) event_free(p->ev);
  p->ev = NULL;
}

/* --- the reader's side ------------------------------------------------------------------------ */

int sb_selfmon_init(sb_selfmon *m, size_t n) {
  memset(m, 0, sizeof(*m));
  m->probes = calloc(n ? n : 1, sizeof(*m->probes));
  if (!m->probes) return SB_ENOMEM;
  m->n = n;
  m->emfile0 = atomic_load(&dial_emfile);
  return 0;
}

void sb_selfmon_clear(sb_selfmon *m) {
  free(m->probes);
  m->probes = NULL;
  m->n = 0;
}

void sb_selfmon_fds(uint64_t *open, uint64_t *limit) {
  struct rlimit rl;
  *limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 0;
  *open = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    if (errno == EMFILE) *open = *limit; /* every descriptor is taken: the scan needs one */
    return;
  }
  struct dirent *de;
  uint64_t n = 0;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') n++;
  closedir(d);
  *open = n ? n - 1 : 0; /* less the directory's own descriptor */
}

/* Probe |p|'s busy share since the previous read, per mille of wall time; -1: not armed. */
static int64_t probe_cpu(sb_selfmon_probe *p, int64_t now_us) {
  int64_t wall0 = atomic_load(&p->wall0_us);
  if (!wall0) return -1;
  if (!p->last_wall_us) {
    p->last_wall_us = wall0;
    p->last_cpu_ns = atomic_load(&p->cpu0_ns);
  }
  int64_t cpu = busy_ns(p), dw = now_us - p->last_wall_us;
  if (cpu < 0 || dw <= 0) return 0;
  int64_t pm = (cpu - p->last_cpu_ns) / dw; /* ns / us = 1000 x the share: per mille */
  p->last_cpu_ns = cpu;
  p->last_wall_us = now_us;
  return pm < 0 ? 0 : pm > 1000 ? 1000 : pm;
}

void sb_selfmon_read(sb_selfmon *m, int64_t now_us, sb_selfmon_sample *out) {
  memset(out, 0, sizeof(*out));
  uint64_t cpu_sum = 0, lag_sum = 0, lag_n = 0;
  for (size_t i = 0; i < m->n; i++) {
    sb_selfmon_probe *p = &m->probes[i];
    int64_t pm = probe_cpu(p, now_us);
    if (pm < 0) continue;
    out->workers++;
    cpu_sum += (uint64_t)pm;
    if ((uint64_t)pm > out->cpu_max_pm) out->cpu_max_pm = (uint32_t)pm;
    uint64_t max = atomic_exchange(&p->lag_max, 0);
    lag_sum += atomic_exchange(&p->lag_sum, 0);
    lag_n += atomic_exchange(&p->lag_n, 0);
    int64_t due = atomic_load(&p->due); /* a tick still due: the loop has not come back */
    if (due && now_us - due > 0 && (uint64_t)(now_us - due) > max) max = (uint64_t)(now_us - due);
    if (max > out->lag_max_us) out->lag_max_us = max;
  }
  if (out->workers) out->cpu_mean_pm = (uint32_t)(cpu_sum / out->workers);
  out->lag_mean_us = lag_n ? lag_sum / lag_n : out->lag_max_us;
  sb_selfmon_fds(&out->fds_open, &out->fds_limit);
  out->dial_emfile = atomic_load(&dial_emfile) - m->emfile0;
}
