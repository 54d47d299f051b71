/* k6's CSV output (see output_internal.h):
 *
 *   metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,
 *   proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata
 *   http_reqs,1764522245,1.000000,,,,true,,GET,http://127.0.0.1:8080/,HTTP/1.1,default,,200,,,
 *   http://127.0.0.1:8080/,,
 *
 * One column per default system tag (k6's sorted list), the other tags as "k=v&k2=v2" in
 * extra_tags, vu and iter in metadata; timestamps in unix seconds and values with six decimals
 * (k6's defaults, timeFormat "unix"). Fields are quoted only when they must be, as Go's
 * encoding/csv does. */
#include <stdlib.h>
#include <string.h>

#include "controller/output_internal.h"

static const char *const columns[] = {
    "check", "error",    "error_code", "expected_response", "group",    "method",      "name",
    "proto", "scenario", "service",    "status",            "subproto", "tls_version", "url",
};
#define NCOLUMNS (sizeof(columns) / sizeof(*columns))

int sb_out_csv_header(sb_buf *b) {
  int rc = sb_buf_puts(b, "metric_name,timestamp,metric_value");
  for (size_t i = 0; i < NCOLUMNS; i++) rc |= sb_buf_printf(b, ",%s", columns[i]);
  return (rc | sb_buf_puts(b, ",extra_tags,metadata\n")) ? SB_ENOMEM : 0;
}

/* Go's encoding/csv quotes a field with a comma, a quote, a line break or a leading space, and
 * the field \. (which some readers take as the end of data). */
static int needs_quotes(const char *s) {
  if (!*s) return 0;
  if (!strcmp(s, "\\.")) return 1;
  if (strpbrk(s, ",\"\r\n")) return 1;
  return *s == ' ' || *s == '\t' || *s == '\v' || *s == '\f';
}

int sb_out_csv_field(sb_buf *b, const char *s) {
  if (!needs_quotes(s)) return sb_buf_puts(b, s) ? SB_ENOMEM : 0;
  int rc = sb_buf_append(b, "\"", 1);
  for (const char *q; (q = strchr(s, '"')); s = q + 1) {
    rc |= sb_buf_append(b, s, (size_t)(q - s));
    rc |= sb_buf_append(b, "\"\"", 2);
  }
  rc |= sb_buf_puts(b, s);
  return (rc | sb_buf_append(b, "\"", 1)) ? SB_ENOMEM : 0;
}

static int is_column(const char *key) {
  for (size_t i = 0; i < NCOLUMNS; i++)
    if (!strcmp(columns[i], key)) return 1;
  return 0;
}

static int is_metadata(const char *key) {
  return !strcmp(key, "vu") || !strcmp(key, "iter");
}

/* "k=v&k2=v2" of the pairs that are metadata (|meta|) or neither metadata nor a column, as one
 * field. */
static int joined_field(sb_buf *b, const char *const *kv, size_t n, int meta) {
  sb_buf f;
  sb_buf_init(&f);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    const char *k = kv[2 * i];
    if (meta ? !is_metadata(k) : (is_metadata(k) || is_column(k))) continue;
    rc |= sb_buf_printf(&f, "%s%s=%s", f.len ? "&" : "", k, kv[2 * i + 1]);
  }
  rc |= sb_out_csv_field(b, f.data ? f.data : "");
  sb_buf_clear(&f);
  return rc ? SB_ENOMEM : 0;
}

int sb_out_csv_tags(sb_buf *b, const char *const *kv, size_t n) {
  int rc = 0;
  for (size_t c = 0; c < NCOLUMNS; c++) {
    const char *v = "";
    for (size_t i = 0; i < n; i++)
      if (!strcmp(kv[2 * i], columns[c])) v = kv[2 * i + 1];
    rc |= sb_buf_append(b, ",", 1);
    rc |= sb_out_csv_field(b, v);
  }
  rc |= sb_buf_append(b, ",", 1);
  rc |= joined_field(b, kv, n, 0);
  rc |= sb_buf_append(b, ",", 1);
  rc |= joined_field(b, kv, n, 1);
  return (rc | sb_buf_append(b, "\n", 1)) ? SB_ENOMEM : 0;
}

int sb_out_csv_point(sb_buf *b, const char *name, const char *tags, size_t tags_len,
                     int64_t time_us, double v) {
  int64_t sec = time_us / 1000000;
  if (time_us % 1000000 < 0) sec--;
  if (sb_buf_reserve(b, strlen(name) + tags_len + 64)) return SB_ENOMEM;
  int rc = sb_buf_puts(b, name); /* already a CSV field */
  rc |= sb_buf_printf(b, ",%lld,%f", (long long)sec, v);
  return (rc | sb_buf_append(b, tags, tags_len)) ? SB_ENOMEM : 0;
}
