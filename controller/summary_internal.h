/* What the summary's files share (summary.c: rows, values, checks and the legacy layout;
 * summary_compact.c: compact and full; summary_data.c: handleSummary()'s data). Not for other
 * modules: they use controller/summary.h. */
#ifndef SB_SUMMARY_INTERNAL_H
#define SB_SUMMARY_INTERNAL_H

#include "controller/summary.h"

#define SB_SUM_SUCC "\xe2\x9c\x93" /* ✓ */
#define SB_SUM_FAIL "\xe2\x9c\x97" /* ✗ */

/* One metric line before layout. */
typedef struct sb_sum_row {
  char *key;                 /* "http_req_duration" or "http_req_duration{status:200}" */
  int metric;
  const char *const *filter; /* tag pairs the row folds over (borrowed) */
  size_t nfilter;
  int sub;                   /* a sub-metric row ("{ status:200 }") */
  int mark;                  /* 0 none, 1 ✓, 2 ✗ */
  int trend;
  char **cells;              /* trend: one per stat; else value then extras */
  size_t ncells;
} sb_sum_row;

typedef struct sb_sum_rows {
  sb_sum_row *v;
  size_t n, cap;
} sb_sum_rows;

void sb_sum_rows_free(sb_sum_rows *rs);
/* Adds a row (|key| copied, |f| borrowed; |sub| says how it is displayed). NULL on SB_ENOMEM. */
sb_sum_row *sb_sum_rows_add(sb_sum_rows *rs, const char *key, int metric, const char *const *f,
                            size_t nf, int sub);
/* The rows every layout's totals have (see summary.h, "Which metrics"). */
int sb_sum_collect_rows(sb_sum_rows *rs, const sb_summary_input *in);
/* Folds each row's series and writes its cells: rates as "✓ 1 ✗ 2" in the legacy layout, as
 * "1 out of 3" in the others; marks from the thresholds named like the row. */
int sb_sum_fill_rows(sb_sum_rows *rs, const sb_summary_input *in);
/* k6's sortMetricsByName on two keys (parent, then the sub-metric part, each by localeCompare),
 * and the same as a qsort comparator of rows; sb_sum_locale_cmp() is localeCompare alone (ASCII
 * close to ICU's root collation: punctuation, digits, letters case-blind, lowercase first). */
int sb_sum_key_cmp(const char *x, const char *y);
int sb_sum_row_cmp(const void *a, const void *b);
int sb_sum_locale_cmp(const char *x, const char *y);
/* "{ status:200 }" for a sub-metric row, else the key. */
void sb_sum_display_name(const sb_sum_row *r, char *out, size_t cap);

/* Display width of UTF-8 text (code points, as k6's strWidth). */
size_t sb_sum_width(const char *s);
/* Appends |n| spaces. */
void sb_sum_pad(sb_buf *b, size_t n);
/* The trend columns of |in| (k6's default when it has none). */
const char *const *sb_sum_stats(const sb_summary_input *in, size_t *n);
/* A trend's summary stat ("avg", "min", "med", "max", "count", "p(N)") of |h|. */
double sb_sum_trend_stat(const sb_hist *h, const char *stat);
/* A value as k6's humanizeValue writes it, honouring summaryTimeUnit (|unit| may be NULL). */
void sb_sum_humanize(double v, sb_metric_type type, sb_value_type contains, const char *unit,
                     char *out, size_t cap);
/* JS's Number.prototype.toString for the values a summary meets. */
void sb_sum_js_num(double v, char *out, size_t cap);

/* One check, aggregated. */
typedef struct sb_sum_check {
  const char *group, *name; /* borrowed from interned tag sets */
  uint64_t passes, fails;
} sb_sum_check;

/* The checks of the series whose tags hold every pair of |filter|, in the order they first
 * appeared; keyed by (group, name) when |by_group|, else by name alone (group: where it was
 * first seen). |*out| is free()d by the caller. Returns 0 or SB_ENOMEM. */
int sb_sum_collect_checks(const sb_metrics *m, const char *const *filter, size_t nf, int by_group,
                          sb_sum_check **out, size_t *n);

/* The compact and full layouts (summary_compact.c). */
int sb_sum_format_compact(sb_buf *out, const sb_summary_input *in);

#endif
