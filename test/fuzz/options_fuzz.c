/* Fuzz target: the options JSON as the compile step hands it over from any script's
 * `export const options` (controller/options.c sb_options_parse: shortcuts, scenarios, stages,
 * thresholds, HTTP options), then what the banner and the run read from the result.
 *
 * Input: the JSON text. */
#include <stdlib.h>
#include <string.h>

#include "controller/options.h"
#include "controller/threshold.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *json = fuzz_cstr(data, size), line[512];
  sb_options *o;
  sb_err err;
  if (sb_options_parse(&o, json, NULL, &err) == 0) {
    sb_options_max_duration_ms(o);
    sb_options_max_vus(o);
    for (size_t i = 0; i < o->nscenarios; i++) sb_scenario_describe(&o->scenarios[i], line, sizeof(line));
    sb_threshold *t;
    size_t n;
    if (sb_thresholds_parse(o, &t, &n, &err) == 0) sb_thresholds_free(t, n);
    sb_options_free(o);
  }
  free(json);
  return 0;
}
