/* The agent's log lines: one logfmt line per event on stderr,
 *   time=2026-11-23T12:00:00.123Z level=info msg="listening" addr=127.0.0.1:6566
 * written with one call, so lines from several threads never interleave. */
#ifndef SB_LOGFMT_H
#define SB_LOGFMT_H

/* Writes "time=<UTC, ms> level=|level| " and the printf-formatted rest (the caller's key=value
 * pairs), then a newline. */
void sb_logfmt(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
