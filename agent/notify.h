/* systemd's service notifications (sd_notify(3)) for the agent daemon's Type=notify unit.
 *
 * Every call is a no-op when the process was not started by systemd (no NOTIFY_SOCKET in the
 * environment), so the daemon calls them unconditionally. The socket is kept in the environment:
 * the notifications come from one thread, the daemon's main loop. */
#ifndef SB_NOTIFY_H
#define SB_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS= line (e.g. "listening on 0.0.0.0:6566"): the listener is bound, so a
 * unit ordered After= this one may connect. */
void sb_notify_ready(const char *status);

/* STOPPING=1 with a STATUS= line: the daemon is shutting down (SIGTERM). */
void sb_notify_stopping(const char *status);

/* WATCHDOG=1: the main loop is alive. Send it every sb_notify_watchdog_usec() / 2. */
void sb_notify_watchdog(void);

/* The watchdog period systemd expects (WatchdogSec=, from WATCHDOG_USEC when WATCHDOG_PID is
 * unset or this process), or 0 when no watchdog is asked for. */
uint64_t sb_notify_watchdog_usec(void);

#endif
