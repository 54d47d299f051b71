/* k6/execution's `exec.test.options`: the consolidated options as k6 marshals its lib.Options,
 * built once by the controller and shipped to every agent in Prepare.options_json.
 *
 * What k6 shows, and so what this writes:
 *   - every key of lib.Options, null when no tier set it (k6's null.* types), except the
 *     shortcuts vus/iterations/duration/stages, which k6 deletes: they live in `scenarios`;
 *   - the script's values for those keys, with the command line's (--max-redirects, --throw,
 *     --dns, --user-agent, --summary-trend-stats, ...) laid over them; keys k6 does not know
 *     are dropped, as k6's JSON decoding drops them;
 *   - durations as Go prints them ("30s", "1m0s", "1.5s", "500ms");
 *   - `scenarios`: each scenario the run executes (the "default" one derived from the shortcuts
 *     and CLI flags, or the script's own), with every field of its executor's config, set where
 *     the script or a flag set it and null elsewhere (k6 does not write its defaults back:
 *     `vus: 2, duration: '1s'` run with `--vus 3` gives {"executor": "constant-vus", "vus": 3,
 *     "duration": "1s", "gracefulStop": null, "startTime": null, ...});
 *   - `thresholds` as k6 marshals them: per metric an array of expressions, an entry with
 *     abortOnFail as {threshold, abortOnFail, delayAbortEval};
 *   - summaryTrendStats and systemTags with their defaults when unset (k6 fills those two). */
#ifndef SB_OPTIONS_JSON_H
#define SB_OPTIONS_JSON_H

#include "common/err.h"
#include "controller/options.h"

/* Writes the JSON of exec.test.options into |*out| (NUL-terminated, free()). |o| is the parsed
 * result of |script_json| (the script's `options` as JSON; NULL, "" or "null" for none) and
 * |cli| (may be NULL): the script says which fields were set, |o| holds their consolidated
 * values. Returns 0, SB_EFORMAT (|script_json| is not a JSON object) or SB_ENOMEM; on failure
 * |*out| is untouched and |err| says why. */
int sb_options_to_json(const sb_options *o, const char *script_json, const sb_cli_overrides *cli,
                       char **out, sb_err *err);

#endif
