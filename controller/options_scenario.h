/* The scenario options beyond the closed-model executors — a part of controller/options (see
 * options.h), kept apart for size: k6's arrival-rate executors and what every scenario may add.
 *
 *   constant-arrival-rate   rate (> 0, required), timeUnit ("1s"), duration (>= 1s, required),
 *                           preAllocatedVUs (required), maxVUs (>= preAllocatedVUs; default it)
 *   ramping-arrival-rate    startRate (0), timeUnit ("1s"), stages [{duration, target: rate}]
 *                           (at least one), preAllocatedVUs (required), maxVUs (as above)
 *   every executor          env {"NAME": "value"} over the test's __ENV for its VUs, tags
 *                           {"name": "value"} on every sample of the scenario (at most 16)
 * and the test-wide minIterationDuration, kept in every scenario for the agents.
 * Errors name the option: "options.scenarios.x.rate: must be more than 0". */
#ifndef SB_OPTIONS_SCENARIO_H
#define SB_OPTIONS_SCENARIO_H

#include <jansson.h>

#include "controller/options.h"

/* Reads the fields above from scenario object |obj| (|path|: "options.scenarios.x") into |s|,
 * which holds the defaults of its executor. Returns 0, SB_EINVAL or SB_ENOMEM (|s| may then own
 * part of them: sb_scenario_clear_more() frees them). */
int sb_scenario_parse_more(sb_scenario *s, json_t *obj, const char *path, sb_err *err);
/* k6's validation of the arrival-rate executors. */
int sb_scenario_validate_more(const sb_scenario *s, const char *path, sb_err *err);
void sb_scenario_clear_more(sb_scenario *s);
/* The banner's line for an arrival-rate scenario, as k6 prints it, |info| being k6's base info
 * of the scenario around |fact| (which sb_scenario_fact_more() gives: "maxVUs: 5-50"):
 *   "10.00 iterations/s for 30s (maxVUs: 5-50, gracefulStop: 30s)"
 *   "Up to 100.00 iterations/s for 1m0s over 2 stages (maxVUs: 10, gracefulStop: 30s)"
 * Both return 0 when |s| is another kind of scenario (nothing written). */
int sb_scenario_fact_more(const sb_scenario *s, char *fact, size_t cap);
int sb_scenario_describe_more(const sb_scenario *s, const char *info, char *out, size_t cap);
/* options.minIterationDuration (test-wide in k6) into every scenario of |o|. */
int sb_options_min_iteration(sb_options *o, json_t *root, sb_err *err);

/* options.c's getters, shared with this file. */
int sb_options_get_uint(json_t *v, const char *path, uint64_t *out, sb_err *err);
int sb_options_get_duration(json_t *v, const char *path, int64_t *ms, sb_err *err);
int sb_options_get_stages(json_t *v, const char *path, sb_stage **out, size_t *n, sb_err *err);

#endif
