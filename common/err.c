#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sb_err_set(sb_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
  }
  return code;
}

void sb_err_prefix(sb_err *err, const char *fmt, ...) {
  if (!err) return;
  char pre[SB_ERR_MAX], old[SB_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof(pre), fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof(old));
  size_t n = strlen(pre);
  memcpy(err->msg, pre, n + 1);
  if (n < sizeof(err->msg) - 1) {
    size_t room = sizeof(err->msg) - 1 - n, m = strnlen(old, room);
    memcpy(err->msg + n, old, m);
    err->msg[n + m] = '\0';
  }
}

const char *sb_strerror(int code) {
  switch (code) {
  case SB_OK: return "success";
  case SB_ENOMEM: return "out of memory";
  case SB_EINVAL: return "invalid argument";
  case SB_EFORMAT: return "malformed input";
  case SB_EIO: return "input/output error";
  case SB_ESCRIPT: return "script error";
  case SB_ENOTFOUND: return "not found";
  case SB_ETIMEDOUT: return "timed out";
  case SB_ECLOSED: return "connection closed";
  case SB_ECANCELED: return "canceled";
  default: return "unknown error";
  }
}
