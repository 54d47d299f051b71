/* The verdict: thresholds (controller/threshold.h) evaluated on the merged metrics, and the
 * summary (controller/summary.h) that shows them. */
#include "controller/judge.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "controller/summary.h"
#include "controller/threshold.h"

struct sb_judge {
  const sb_options *o;
  sb_threshold *t;
  sb_threshold_result *res;
  size_t n;
  sb_buf failed;          /* "a, b": metric keys with failed thresholds */
  sb_buf aborted;         /* the same for abortOnFail */
  sb_metric_info *custom; /* the init context's metrics (names owned) */
  size_t ncustom;
};

static const char *const default_stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};

/* Copies the |n| metrics of |v| into the judge. */
static int copy_custom(sb_judge *j, const sb_metric_info *v, size_t n) {
  if (!n) return 0;
  if (!(j->custom = calloc(n, sizeof(*j->custom)))) return SB_ENOMEM;
  for (; j->ncustom < n; j->ncustom++) {
    j->custom[j->ncustom] = v[j->ncustom];
    if (!(j->custom[j->ncustom].name = strdup(v[j->ncustom].name))) return SB_ENOMEM;
  }
  return 0;
}

int sb_judge_new(sb_judge **out, const sb_options *o, const sb_metric_info *custom, size_t ncustom,
                 sb_err *err) {
  sb_judge *j = calloc(1, sizeof(*j));
  if (!j) return sb_err_set(err, SB_ENOMEM, "out of memory");
  j->o = o;
  sb_buf_init(&j->failed);
  sb_buf_init(&j->aborted);
  int rc = 0;
  if (copy_custom(j, custom, custom ? ncustom : 0)) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  if (!o->no_thresholds) {
    if ((rc = sb_thresholds_parse(o, &j->t, &j->n, err))) goto fail;
    if ((rc = sb_thresholds_validate(j->t, j->n, j->custom, j->ncustom, err))) goto fail;
  }
  j->res = calloc(j->n ? j->n : 1, sizeof(*j->res));
  if (!j->res) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < j->n; i++)
    j->res[i].ok = 1;
  *out = j;
  return 0;
fail:
  sb_judge_free(j);
  return rc;
}

void sb_judge_free(sb_judge *j) {
  if (!j) return;
  sb_thresholds_free(j->t, j->n);
  free(j->res);
  sb_buf_clear(&j->failed);
  sb_buf_clear(&j->aborted);
  for (size_t i = 0; i < j->ncustom; i++)
    free((char *)j->custom[i].name);
  free(j->custom);
  free(j);
}

int sb_judge_register_metrics(const sb_judge *j, sb_metrics *m, sb_err *err) {
  for (size_t i = 0; i < j->ncustom; i++) {
    const sb_metric_info *mi = &j->custom[i];
    int rc = sb_metrics_register(m, mi->name, mi->type, mi->contains, err);
    if (rc < 0) return rc;
  }
  return 0;
}

/* Adds |key| to a comma-separated list unless it is there already. */
static void list_add(sb_buf *b, const char *key) {
  if (b->data) {
    const char *p = b->data;
    size_t n = strlen(key);
    while ((p = strstr(p, key))) {
      if ((p == b->data || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) return;
      p += n;
    }
  }
  if (b->len) sb_buf_puts(b, ", ");
  sb_buf_puts(b, key);
}

int sb_judge_check_abort(sb_judge *j, const sb_metrics *m, double elapsed_s) {
  int abort = 0;
  for (size_t i = 0; i < j->n; i++) {
    const sb_threshold *t = &j->t[i];
    if (!t->abort_on_fail || elapsed_s * 1000.0 < (double)t->delay_abort_eval_ms) continue;
    sb_threshold_result r;
    if (sb_threshold_eval(t, m, elapsed_s, 1, &r, NULL) == 0 && r.evaluated && !r.ok) {
      j->res[i] = r;
      list_add(&j->aborted, t->submetric);
      abort = 1;
    }
  }
  return abort;
}

const char *sb_judge_abort_metrics(const sb_judge *j) {
  return j->aborted.data ? j->aborted.data : "";
}

int sb_judge_finish(sb_judge *j, const sb_metrics *m, double duration_s) {
  int ok = 1;
  sb_buf_reset(&j->failed);
  for (size_t i = 0; i < j->n; i++) {
    if (sb_threshold_eval(&j->t[i], m, duration_s, 0, &j->res[i], NULL) != 0) j->res[i].ok = 0;
    if (!j->res[i].ok) {
      ok = 0;
      list_add(&j->failed, j->t[i].submetric);
    }
  }
  return ok;
}

const char *sb_judge_failed_metrics(const sb_judge *j) {
  return j->failed.data ? j->failed.data : "";
}

void sb_judge_print_summary(const sb_judge *j, FILE *out, const sb_metrics *m, double duration_s) {
  sb_summary_input in = {
      .metrics = m,
      .trend_stats = (const char *const *)j->o->summary_trend_stats,
      .ntrend_stats = j->o->nsummary_trend_stats,
      .thresholds = j->t,
      .results = j->res,
      .nthresholds = j->n,
      .duration_s = duration_s,
  };
  if (!in.ntrend_stats) {
    in.trend_stats = default_stats;
    in.ntrend_stats = sizeof(default_stats) / sizeof(*default_stats);
  }
  sb_summary_print(out, &in);
}
