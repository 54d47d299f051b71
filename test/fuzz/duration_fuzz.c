/* Fuzz target: k6 durations (common/duration.c) as scripts, flags and the wire write them:
 * "1m30s", "500ms", "1.5h", a bare number of milliseconds. A parsed duration must format
 * (Go's style) and parse back to the same milliseconds; any double must format as a summary
 * value without fault.
 *
 * Input: the duration text; its first 8 bytes are also read as a double for the summary's
 * formatter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size), out[128];
  int64_t us, ms, again;
  sb_err err;
  if (sb_duration_parse_us(s, &us, &err) == 0) {
    if (us < 0) abort();
    if (sb_duration_parse_ms(s, &ms, &err) != 0 || ms != us / 1000) abort();
    sb_duration_format_ms(ms, out, sizeof(out));
    /* exact while the microseconds fit a double's 53 bits (285 years) */
    if (sb_duration_parse_ms(out, &again, &err) != 0 || (us < (1ll << 53) && again != ms)) abort();
    sb_duration_format_value((double)us / 1000.0, out, sizeof(out));
  }
  if (size >= sizeof(double)) {
    double v;
    memcpy(&v, data, sizeof(v));
    sb_duration_format_value(v, out, sizeof(out));
    if (strlen(out) >= sizeof(out)) abort();
  }
  free(s);
  return 0;
}
