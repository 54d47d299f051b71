/* `speedboat status|pause|resume|scale`: the REST API (controller/api.h) of a running test,
 * driven from the command line, as k6's commands of the same names did:
 *
 *   speedboat status [-a ADDR]                      GET /v1/status, printed as "key: value"
 *   speedboat pause  [-a ADDR]                      PATCH {"paused": true}
 *   speedboat resume [-a ADDR]                      PATCH {"paused": false}
 *   speedboat scale  [-a ADDR] --vus N [--scenario NAME]   PATCH {"vus": N, "scenario": NAME}
 *
 * ADDR is the run's --address (default 127.0.0.1:6565). Exit codes: 0 done, 1 the API refused
 * (its reason printed), 255 the API cannot be reached (is a test running with its API on?). */
#ifndef SB_API_CLI_H
#define SB_API_CLI_H

/* Runs the command argv[0] ("status", "pause", "resume" or "scale") with its flags. Returns the
 * exit code. */
int sb_api_cli(int argc, char **argv);

/* Whether |cmd| is one of them. */
int sb_api_cli_is_command(const char *cmd);

#endif
