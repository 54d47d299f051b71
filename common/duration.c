/* k6 durations: parsing "1m30s"-style strings and formatting like Go's time.Duration. */
#include "common/duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *unit;
  double us;
} units[] = {
    {"ms", 1e3}, {"us", 1}, {"\xc2\xb5s", 1}, {"\xce\xbcs", 1}, {"ns", 1e-3},
    {"s", 1e6},  {"m", 6e7}, {"h", 3.6e9}, {"d", 8.64e10},
};

/* Reads one unit at |p| (the longest match first: "ms" before "m"); returns its length. */
static size_t read_unit(const char *p, double *us) {
  for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
    size_t n = strlen(units[i].unit);
    if (strncmp(p, units[i].unit, n) == 0) {
      *us = units[i].us;
      return n;
    }
  }
  return 0;
}

/* Reads "12", "1.5", ".5" or "1." at |p| (Go's syntax: no sign, no exponent). Returns the
 * characters read, 0 when there is no number. */
static size_t read_number(const char *p, double *v) {
  size_t i = 0, digits = 0;
  double r = 0, scale = 1;
  for (; p[i] >= '0' && p[i] <= '9'; i++, digits++) r = r * 10 + (p[i] - '0');
  if (p[i] == '.') {
    for (i++; p[i] >= '0' && p[i] <= '9'; i++, digits++) r += (p[i] - '0') * (scale /= 10);
  }
  *v = r;
  return digits ? i : 0;
}

int sb_duration_parse_us(const char *s, int64_t *us, sb_err *err) {
  if (!s || !*s) return sb_err_set(err, SB_EINVAL, "invalid duration '': empty");
  double v;
  size_t n = read_number(s, &v);
  if (n && s[n] == '\0') { /* a bare number: milliseconds */
    if (v * 1000.0 > 9.2e18) goto bad;
    *us = (int64_t)(v * 1000.0 + 1e-3); /* 0.3 * 1e6 is 299999.99... */
    return 0;
  }
  double total = 0;
  const char *p = s;
  while (*p) {
    n = read_number(p, &v);
    if (!n) goto bad;
    const char *end = p + n;
    double mul;
    size_t un = read_unit(end, &mul);
    if (!un) goto bad;
    total += v * mul;
    p = end + un;
  }
  if (total > 9.2e18) goto bad;
  *us = (int64_t)(total + 1e-3);
  return 0;
bad:
  return sb_err_set(err, SB_EINVAL,
                    "invalid duration '%s': expected e.g. \"30s\", \"1m30s\", \"500ms\" or a "
                    "number of milliseconds", s);
}

int sb_duration_parse_ms(const char *s, int64_t *ms, sb_err *err) {
  int64_t us;
  int rc = sb_duration_parse_us(s, &us, err);
  if (rc) return rc;
  *ms = us / 1000;
  return 0;
}

/* Seconds with up to |prec| decimals, trailing zeros dropped ("1.5", "30", "0.25"). */
static void trim_fixed(double v, int prec, char *out, size_t cap) {
  snprintf(out, cap, "%.*f", prec, v);
  if (strchr(out, '.')) {
    size_t n = strlen(out);
    while (n && out[n - 1] == '0') out[--n] = '\0';
    if (n && out[n - 1] == '.') out[--n] = '\0';
  }
}

void sb_duration_format_ms(int64_t ms, char *out, size_t cap) {
  if (ms == 0) {
    snprintf(out, cap, "0s");
    return;
  }
  const char *sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  if (ms < 1000) {
    snprintf(out, cap, "%s%lldms", sign, (long long)ms);
    return;
  }
  long long h = ms / 3600000, m = ms / 60000 % 60;
  char sec[32];
  trim_fixed((double)(ms % 60000) / 1000.0, 3, sec, sizeof(sec));
  if (h) snprintf(out, cap, "%s%lldh%lldm%ss", sign, h, m, sec);
  else if (m) snprintf(out, cap, "%s%lldm%ss", sign, m, sec);
  else snprintf(out, cap, "%s%ss", sign, sec);
}

/* Truncates |v| to |prec| decimals, then prints it without trailing zeros, as k6's
 * toFixedNoTrailingZerosTrunc, except that a value a rounding error below a decimal (35.16 * 100
 * is 3515.9999999999995) counts as that decimal: k6 prints a 35.16 ms sample as "35.15ms", we
 * print "35.16ms". */
static void trim_trunc(double v, int prec, char *out, size_t cap) {
  double mult = pow(10, prec), x = mult * v;
  trim_fixed(trunc(x + fabs(x) * 1e-12) / mult, prec, out, cap);
}

/* k6's summary (humanizeGenericDuration in its summary.js): below 1 µs whole ns, below 1 ms in
 * µs, below 1 s in ms, below 1 min in s, each truncated (not rounded) to two decimals; above
 * 1 min as "1m2s" (whole seconds, truncated), above 1 h as "1h2m3s". */
void sb_duration_format_value(double ms, char *out, size_t cap) {
  char a[64];
  if (!isfinite(ms)) {
    snprintf(out, cap, "%s", isnan(ms) ? "NaN" : ms > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (ms == 0) {
    snprintf(out, cap, "0s");
    return;
  }
  const char *sign = ms < 0 ? "-" : "";
  double d = fabs(ms);
  if (d < 0.001) {
    snprintf(out, cap, "%s%lldns", sign, (long long)trunc(d * 1000000));
  } else if (d < 1) {
    trim_trunc(d * 1000, 2, a, sizeof(a));
    snprintf(out, cap, "%s%sµs", sign, a);
  } else if (d < 1000) {
    trim_trunc(d, 2, a, sizeof(a));
    snprintf(out, cap, "%s%sms", sign, a);
  } else {
    trim_trunc(fmod(d, 60000) / 1000, d > 60000 ? 0 : 2, a, sizeof(a));
    double mins = trunc(d / 60000); /* a double: a huge value's minutes overflow any integer */
    if (mins < 1) snprintf(out, cap, "%s%ss", sign, a);
    else if (mins < 60) snprintf(out, cap, "%s%.0fm%ss", sign, mins, a);
    else snprintf(out, cap, "%s%.0fh%.0fm%ss", sign, trunc(mins / 60), fmod(mins, 60), a);
  }
}
