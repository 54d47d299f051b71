/* k6 durations: "1m30s", "500ms", "2h", "1.5s", "10us"/"10µs", or a bare number of milliseconds. */
#ifndef SB_DURATION_H
#define SB_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Parses |s| into milliseconds (fractions below 1 ms are rounded down... kept as double in
 * sb_duration_parse_us). Returns 0 or SB_EINVAL with |err| quoting |s|. */
int sb_duration_parse_ms(const char *s, int64_t *ms, sb_err *err);
int sb_duration_parse_us(const char *s, int64_t *us, sb_err *err);

/* Formats like k6/Go's time.Duration for the banner: 630000 -> "10m30s", 30000 -> "30s",
 * 180000 -> "3m0s", 1500 -> "1.5s", 0 -> "0s". */
void sb_duration_format_ms(int64_t ms, char *out, size_t cap);

/* Formats a time value (milliseconds, a double) for the summary like k6: "127.55ms", "520µs",
 * "4.43s", "0s", "1m2s". */
void sb_duration_format_value(double ms, char *out, size_t cap);

#endif
