/* Fuzz target: k6 thresholds (controller/threshold.c): the key ("metric{tag:value,...}") and the
 * expression ("p(99.9)<=1500"), as options.thresholds carries them from any script. What parses
 * is checked against every metric type and evaluated on a set holding that metric with samples.
 *
 * Input: the key, a newline, the expression. */
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "controller/threshold.h"
#include "test/fuzz/fuzz.h"

static void evaluate(const sb_threshold *t) {
  sb_err err;
  for (int type = SB_METRIC_COUNTER; type <= SB_METRIC_TREND; type++) {
    if (sb_threshold_check_type(t, (sb_metric_type)type, &err) != 0) continue;
    sb_metrics *m;
    if (sb_metrics_new(&m) < 0) abort();
    int id = sb_metrics_find(m, t->metric);
    if (id < 0) id = sb_metrics_register(m, t->metric, (sb_metric_type)type, SB_VALUE_DEFAULT, &err);
    if (id >= 0 && (int)sb_metrics_info(m, id)->type == type) {
      const char *kv[] = {"status", "200", "name", "x"};
      const sb_tagset *ts = sb_metrics_tags(m, kv, 2);
      if (ts) {
        sb_metrics_add(m, id, ts, 1.0);
        sb_metrics_add(m, id, ts, 250.0);
      }
      sb_threshold_result res;
      for (int skip = 0; skip < 2; skip++) sb_threshold_eval(t, m, 10.0, skip, &res, &err);
    }
    sb_metrics_free(m);
  }
  sb_threshold_compare(t, 0.0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *key = fuzz_cstr(data, size), *expr = fuzz_split(key);
  sb_threshold t;
  sb_err err;
  memset(&t, 0, sizeof(t));
  if (sb_threshold_parse(&t, key, expr, &err) == 0) {
    evaluate(&t);
    sb_thresholds_validate(&t, 1, NULL, 0, &err);
  }
  sb_threshold_clear(&t);
  free(key);
  return 0;
}
