/* Error codes and the caller-owned error message (STYLE.md rule 5).
 *
 * Functions return 0 or a negative SB_E* code; when they take an |sb_err *|, they fill it with a
 * sentence a person can act on ("script.js:12:5: 'vus' must be > 0"). |err| may be NULL. */
#ifndef SB_ERR_H
#define SB_ERR_H

#include <stddef.h>

enum {
  SB_OK = 0,
  SB_ENOMEM = -1,    /* out of memory */
  SB_EINVAL = -2,    /* bad argument or option */
  SB_EFORMAT = -3,   /* malformed input: archive, message, JSON */
  SB_EIO = -4,       /* file or socket failure */
  SB_ESCRIPT = -5,   /* JavaScript error (syntax, exception) */
  SB_ENOTFOUND = -6, /* missing file, module, export */
  SB_ETIMEDOUT = -7,
  SB_ECLOSED = -8,   /* peer closed the connection */
  SB_ECANCELED = -9,
};

#define SB_ERR_MAX 1024

typedef struct sb_err {
  char msg[SB_ERR_MAX]; /* NUL-terminated; empty when no error was set */
} sb_err;

/* Sets |err| (if not NULL) from a printf format; returns |code| so callers can write
 * `return sb_err_set(err, SB_EINVAL, "...")`. */
int sb_err_set(sb_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in |err| with a printf-formatted context ("loading x.js: "). */
void sb_err_prefix(sb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short static name for a code ("out of memory"). */
const char *sb_strerror(int code);

#endif
