/* sd_notify(3) for the agent daemon (agent/notify.h), through Debian's libsystemd. Failures to
 * notify are ignored on purpose: systemd treats a missing READY=1 as a failed start (after
 * TimeoutStartSec) and a missing WATCHDOG=1 as a hang, which is the right outcome for a daemon
 * that cannot reach its supervisor. */
#include "agent/notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

void sb_notify_ready(const char *status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "ready");
}

void sb_notify_stopping(const char *status) {
  sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status ? status : "stopping");
}

void sb_notify_watchdog(void) { sd_notify(0, "WATCHDOG=1"); }

uint64_t sb_notify_watchdog_usec(void) {
  uint64_t usec = 0;
  return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
