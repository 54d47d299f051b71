/* logfmt lines (see logfmt.h). */
#include "common/logfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

void sb_logfmt(const char *level, const char *fmt, ...) {
  char line[1024], ts[32];
  int64_t now = sb_clock_wall_us();
  time_t secs = (time_t)(now / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  int n = snprintf(line, sizeof(line), "time=%s.%03dZ level=%s ", ts, (int)(now / 1000 % 1000),
                   level);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  strcat(line, "\n");
  fputs(line, stderr);
}
