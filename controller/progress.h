/* The terminal view of the run state (controller/run_state.h): k6's live progress.
 *
 *   running (0m05.2s), 10/10 VUs, 95 complete and 0 interrupted iterations
 *   default   [=======>------------------------------] 10 VUs  05.2s/30s
 *   rate    ✓ [======================================] 03/10 VUs  30s  100.00 iters/s
 *
 * One bar per scenario with what its executor counts, as k6's executors write it: "10 VUs" and
 * elapsed/total for constant-vus; "03/10 VUs" (now/most) for ramping-vus; "x/y VUs" (busy/made),
 * the rate and the dropped iterations for the arrival-rate executors; "050/100 shared iters" and
 * "050/100 iters, 10 per VU" for the iteration-based ones. ✓ marks a scenario that finished, ✗ one
 * that was cut short. On a TTY the block is redrawn in place (cursor up, erase) with a 40-column
 * bar; elsewhere it is printed anew each time with "[  34% ]" for the bar, as k6 does in CI logs.
 * Colours (a faint bar, a green ✓, a red ✗) only on a TTY, and never with NO_COLOR/K6_NO_COLOR.
 * With agents (--progress=agents) a compact line per agent follows: state, VUs, req/s, its
 * busiest worker's CPU and loop lag (agent/selfmon.h), the age of its latest metrics and round
 * trip. While an agent limits the load (sb_run_state_generator_now) one more line says so:
 *
 *   generator saturated: agent local worker CPU 98%
 */
#ifndef SB_PROGRESS_H
#define SB_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "controller/run_state.h"

typedef struct sb_progress_opts {
  int tty;                      /* redraw in place, full bars */
  int color;                    /* ANSI colours */
  int agents;                   /* a line per agent under the bars */
} sb_progress_opts;

/* Appends the progress block of |st| at monotonic |now_us| to |out|, each line ending in '\n'.
 * Returns the number of lines (>= 1) or SB_ENOMEM. */
int sb_progress_render(sb_buf *out, const sb_run_state *st, int64_t now_us,
                       const sb_progress_opts *o);

/* A Go-style duration padded to the width of |max_ms|'s ("05.2s" under a minute, "0m05.2s"
 * under an hour, "0h00m05.2s" beyond), rounded to 0.1 s: pb.GetFixedLengthDuration. */
void sb_progress_fixed_duration(double secs, int64_t max_ms, char *out, size_t cap);

/* Whether colours are allowed at all: neither NO_COLOR nor K6_NO_COLOR is set and non-empty. */
int sb_progress_color_allowed(void);

typedef struct sb_progress sb_progress;

/* A view writing to |f| (borrowed). Returns 0 or SB_ENOMEM. */
int sb_progress_new(sb_progress **out, FILE *f, const sb_progress_opts *o);
void sb_progress_free(sb_progress *p);
/* Draws |st| at |now_us|: over the previous block on a TTY, as new lines elsewhere. */
void sb_progress_draw(sb_progress *p, const sb_run_state *st, int64_t now_us);
/* A TTY's block is erased (a log line, the summary, or the end is about to be written); the next
 * draw starts afresh below. No-op elsewhere. */
void sb_progress_erase(sb_progress *p);

#endif
