/* The targets a test names statically, checked by every agent before any load starts.
 *
 * A distributed run should fail at prepare time, with the agent and the target named, when an
 * agent cannot reach what the script tests (wrong network, firewall, typo) — not after every
 * request of a whole run failed. Scripts build URLs at run time, so this can only be a best
 * effort: the host and port of every http(s) URL written as a string literal (or the fixed start
 * of a template literal) in the compiled modules, and of every __ENV value that is a URL. */
#ifndef SB_TARGETS_H
#define SB_TARGETS_H

#include <stddef.h>

#include "agent/http_config.h"
#include "common/archive.h"

#define SB_TARGETS_MAX 32

typedef struct sb_targets {
  char *v[SB_TARGETS_MAX];   /* "host:port", unique; "[v6]:port" for IPv6 */
  size_t n;
} sb_targets;

/* Adds the targets of the string literals in |text| (JavaScript source). Returns 0 or SB_ENOMEM;
 * targets beyond SB_TARGETS_MAX are ignored. */
int sb_targets_scan(sb_targets *t, const char *text, size_t len);
/* Adds the targets of every compiled module of |ar| (es5/...) and of the URL values in |env|
 * (key, value, ..., NULL; may be NULL). */
int sb_targets_collect(sb_targets *t, const sb_archive *ar, const char *const *env);
/* Rewrites every target that an entry of k6's `hosts` option covers into the address (and
 * port) the VUs will really connect to, so the check tests that. Returns 0 or SB_ENOMEM. */
int sb_targets_apply_hosts(sb_targets *t, const sb_http_config *c);
void sb_targets_clear(sb_targets *t);

#endif
