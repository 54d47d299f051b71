/* k6's JSON lines output, record by record (see output_internal.h).
 *
 *   {"type":"Metric","data":{"name":"http_reqs","type":"counter","contains":"default",
 *    "thresholds":["count>10"],"submetrics":null},"metric":"http_reqs"}
 *   {"metric":"http_reqs","type":"Point","data":{"time":"2026-11-30T17:04:05.123456Z","value":1,
 *    "tags":{"method":"GET","status":"200",...}}}
 *
 * Field order, number and time formats are those k6's Go encoder produces (its Point envelope
 * lists metric first, its Metric envelope last), so line-based tools written for k6 files read
 * ours. Numbers and times are formatted by hand: snprintf("%.17g") would print 0.1 as
 * 0.10000000000000001, and strftime per point would cost more than the rest of the line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/duration.h"
#include "controller/output_internal.h"

void sb_out_timefmt_init(sb_out_timefmt *t) {
  memset(t, 0, sizeof(*t));
  t->sec = INT64_MIN;
}

/* Formats second |sec| into |t| (local time, as Go's time.Now()). */
static void timefmt_second(sb_out_timefmt *t, int64_t sec) {
  time_t tt = (time_t)sec;
  struct tm tm;
  localtime_r(&tt, &tm);
  strftime(t->prefix, sizeof(t->prefix), "%Y-%m-%dT%H:%M:%S", &tm);
  long off = tm.tm_gmtoff;
  if (off == 0)
    strcpy(t->zone, "Z");
  else
    snprintf(t->zone, sizeof(t->zone), "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
             labs(off) % 3600 / 60);
  t->sec = sec;
}

int sb_out_json_time(sb_buf *b, sb_out_timefmt *t, int64_t time_us) {
  int64_t sec = time_us / 1000000, us = time_us % 1000000;
  if (us < 0) sec--, us += 1000000;
  if (sec != t->sec) timefmt_second(t, sec);
  char frac[8] = "";
  if (us) {
    snprintf(frac, sizeof(frac), ".%06d", (int)us);
    for (size_t n = strlen(frac); frac[n - 1] == '0'; n--) frac[n - 1] = '\0';
  }
  return sb_buf_printf(b, "\"%s%s%s\"", t->prefix, frac, t->zone);
}

/* The shortest decimal digits that read back as |a| (> 0, finite): |digits| without a dot or
 * trailing zeros, and the decimal exponent of the first digit. */
static size_t shortest_digits(double a, char *digits, int *exp10) {
  char e[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(e, sizeof(e), "%.*e", prec - 1, a);
    if (strtod(e, NULL) == a) break;
  }
  size_t n = 0;
  const char *p = e;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[n++] = *p;
  *exp10 = atoi(p + 1);
  while (n > 1 && digits[n - 1] == '0') n--;
  return n;
}

size_t sb_out_json_number(double v, char *out) {
  if (!isfinite(v)) return (size_t)sprintf(out, "null");
  if (v == 0) return (size_t)sprintf(out, signbit(v) ? "-0" : "0");
  double a = fabs(v);
  if (a < 1e15 && v == (double)(long long)v) return (size_t)sprintf(out, "%lld", (long long)v);
  char d[24];
  int x;
  size_t n = shortest_digits(a, d, &x);
  char *o = out;
  if (v < 0) *o++ = '-';
  if (a < 1e-6 || a >= 1e21) { /* Go's 'e' format, then encoding/json's e-07 -> e-7 */
    *o++ = d[0];
    if (n > 1) {
      *o++ = '.';
      memcpy(o, d + 1, n - 1);
      o += n - 1;
    }
    if (x < 0 && x > -10)
      o += sprintf(o, "e-%d", -x);
    else
      o += sprintf(o, "e%c%02d", x < 0 ? '-' : '+', abs(x));
  } else if (x < 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = -1; i > x; i--) *o++ = '0';
    memcpy(o, d, n);
    o += n;
  } else {
    for (int i = 0; i <= x || (size_t)i < n; i++) {
      if (i == x + 1) *o++ = '.';
      *o++ = (size_t)i < n ? d[i] : '0';
    }
  }
  *o = '\0';
  return (size_t)(o - out);
}

int sb_out_json_string(sb_buf *b, const char *s) {
  if (sb_buf_reserve(b, strlen(s) + 2)) return SB_ENOMEM;
  int rc = sb_buf_append(b, "\"", 1);
  const char *run = s;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    const char *esc = NULL;
    char u[8];
    if (*p == '"') esc = "\\\"";
    else if (*p == '\\') esc = "\\\\";
    else if (*p == '\n') esc = "\\n";
    else if (*p == '\r') esc = "\\r";
    else if (*p == '\t') esc = "\\t";
    else if (*p < 0x20) snprintf(u, sizeof(u), "\\u%04x", *p), esc = u;
    else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) /* U+2028/9 */
      snprintf(u, sizeof(u), "\\u202%c", p[2] == 0xA8 ? '8' : '9'), esc = u;
    if (!esc) continue;
    rc |= sb_buf_append(b, run, (size_t)((const char *)p - run));
    rc |= sb_buf_puts(b, esc);
    if (p[0] == 0xE2) p += 2;
    run = (const char *)p + 1;
  }
  rc |= sb_buf_puts(b, run);
  rc |= sb_buf_append(b, "\"", 1);
  return rc ? SB_ENOMEM : 0;
}

/* k6 keeps vu and iter (non-indexable system tags) as metadata, not tags. */
static int is_metadata(const char *key) {
  return !strcmp(key, "vu") || !strcmp(key, "iter");
}

/* Appends {"k":"v",...} of the pairs whose key is (|meta|) or is not metadata. */
static int tag_object(sb_buf *b, const char *const *kv, size_t n, int meta) {
  int rc = sb_buf_puts(b, "{"), first = 1;
  for (size_t i = 0; i < n; i++) {
    if (is_metadata(kv[2 * i]) != meta) continue;
    if (!first) rc |= sb_buf_puts(b, ",");
    first = 0;
    rc |= sb_out_json_string(b, kv[2 * i]);
    rc |= sb_buf_puts(b, ":");
    rc |= sb_out_json_string(b, kv[2 * i + 1]);
  }
  return (rc | sb_buf_puts(b, "}")) ? SB_ENOMEM : 0;
}

int sb_out_json_tags(sb_buf *b, const char *const *kv, size_t n) {
  int rc = tag_object(b, kv, n, 0);
  for (size_t i = 0; i < n; i++) {
    if (!is_metadata(kv[2 * i])) continue;
    rc |= sb_buf_puts(b, ",\"metadata\":");
    rc |= tag_object(b, kv, n, 1);
    break;
  }
  return rc ? SB_ENOMEM : 0;
}

static const char *type_name(sb_metric_type t) {
  static const char *const names[] = {"", "counter", "gauge", "rate", "trend"};
  return t >= SB_METRIC_COUNTER && t <= SB_METRIC_TREND ? names[t] : "";
}

static const char *contains_name(sb_value_type c) {
  return c == SB_VALUE_TIME ? "time" : c == SB_VALUE_DATA ? "data" : "default";
}

/* k6's thresholds list: the expression, or {"threshold","abortOnFail","delayAbortEval"}. */
static int threshold_json(sb_buf *b, const sb_threshold *t) {
  if (!t->abort_on_fail) return sb_out_json_string(b, t->expr);
  char d[32];
  int rc = sb_buf_puts(b, "{\"threshold\":");
  rc |= sb_out_json_string(b, t->expr);
  rc |= sb_buf_puts(b, ",\"abortOnFail\":true,\"delayAbortEval\":");
  if (t->delay_abort_eval_ms) {
    sb_duration_format_ms(t->delay_abort_eval_ms, d, sizeof(d));
    rc |= sb_out_json_string(b, d);
  } else {
    rc |= sb_buf_puts(b, "null");
  }
  return (rc | sb_buf_puts(b, "}")) ? SB_ENOMEM : 0;
}

/* The sub-metrics thresholds created on |name|: {"name","suffix","tags"} each, once. */
static int submetrics_json(sb_buf *b, const char *name, const sb_threshold *t, size_t nt) {
  int rc = 0, any = 0;
  for (size_t i = 0; i < nt; i++) {
    if (strcmp(t[i].metric, name) || !t[i].nfilter) continue;
    size_t k = 0;
    while (k < i && (strcmp(t[k].metric, name) || strcmp(t[k].submetric, t[i].submetric))) k++;
    if (k < i) continue; /* listed already */
    const char *brace = strchr(t[i].submetric, '{');
    char suffix[512];
    snprintf(suffix, sizeof(suffix), "%s", brace ? brace + 1 : "");
    if (*suffix) suffix[strlen(suffix) - 1] = '\0';
    rc |= sb_buf_puts(b, any ? ",{\"name\":" : "[{\"name\":");
    any = 1;
    rc |= sb_out_json_string(b, t[i].submetric);
    rc |= sb_buf_puts(b, ",\"suffix\":");
    rc |= sb_out_json_string(b, suffix);
    rc |= sb_buf_puts(b, ",\"tags\":");
    rc |= tag_object(b, (const char *const *)t[i].filter, t[i].nfilter, 0);
    rc |= sb_buf_puts(b, "}");
  }
  rc |= sb_buf_puts(b, any ? "]" : "null");
  return rc ? SB_ENOMEM : 0;
}

int sb_out_json_metric(sb_buf *b, const char *name, sb_metric_type type, sb_value_type contains,
                       const sb_threshold *t, size_t nt) {
  int rc = sb_buf_puts(b, "{\"type\":\"Metric\",\"data\":{\"name\":");
  rc |= sb_out_json_string(b, name);
  rc |= sb_buf_printf(b, ",\"type\":\"%s\",\"contains\":\"%s\",\"thresholds\":[", type_name(type),
                      contains_name(contains));
  int first = 1;
  for (size_t i = 0; i < nt; i++) {
    if (strcmp(t[i].metric, name) || t[i].nfilter) continue;
    if (!first) rc |= sb_buf_puts(b, ",");
    first = 0;
    rc |= threshold_json(b, &t[i]);
  }
  rc |= sb_buf_puts(b, "],\"submetrics\":");
  rc |= submetrics_json(b, name, t, nt);
  rc |= sb_buf_puts(b, "},\"metric\":");
  rc |= sb_out_json_string(b, name);
  rc |= sb_buf_puts(b, "}\n");
  return rc ? SB_ENOMEM : 0;
}

int sb_out_json_point(sb_buf *b, sb_out_timefmt *tf, const char *name, const char *tags,
                      size_t tags_len, int64_t time_us, double v) {
  char num[40];
  size_t nl = sb_out_json_number(v, num);
  if (sb_buf_reserve(b, strlen(name) + tags_len + nl + 128)) return SB_ENOMEM;
  int rc = sb_buf_puts(b, "{\"metric\":");
  rc |= sb_buf_puts(b, name); /* already a JSON string */
  rc |= sb_buf_puts(b, ",\"type\":\"Point\",\"data\":{\"time\":");
  rc |= sb_out_json_time(b, tf, time_us);
  rc |= sb_buf_puts(b, ",\"value\":");
  rc |= sb_buf_append(b, num, nl);
  rc |= sb_buf_puts(b, ",\"tags\":");
  rc |= sb_buf_append(b, tags, tags_len);
  rc |= sb_buf_puts(b, "}}\n");
  return rc ? SB_ENOMEM : 0;
}
