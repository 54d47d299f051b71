/* Options from everywhere: k6's configuration layers merged into one options object.
 *
 * k6 reads its options from five places and lets each override the one before it
 * (https://grafana.com/docs/k6/latest/using-k6/k6-options/how-to/#order-of-precedence):
 *
 *   defaults < config file (--config FILE, $K6_CONFIG, else ~/.config/k6/config.json if it
 *   exists) < the script's `export const options` < environment (K6_VUS, K6_DURATION, ...)
 *   < command-line flags
 *
 * Each layer becomes a JSON object with k6's option names; they are laid over each other as k6's
 * Options.Apply does: a key a higher layer sets (not null) replaces the lower one's, except that
 *   - setting any of duration, iterations, stages or scenarios clears all four below (k6: an
 *     execution setting of a higher tier replaces the lower tiers' execution settings whole);
 *   - dns merges field by field (ttl, select, policy), the text form "ttl=1m,select=first"
 *     being turned into the object form first;
 *   - an empty `tags` object does not replace the tags below.
 * The result is what controller/options.c parses (sb_options_load), and what exec.test.options
 * is built from. Every key remembers the layer that set it, so that an error of the parser
 * ("options.vus: must be > 0") can name its real source ("K6_VUS: vus: must be > 0",
 * "--config cfg.json: vus: ...", "--vus: vus: ...").
 *
 * Environment variables are read as k6's envconfig reads them: booleans as Go's ParseBool
 * (1/t/T/TRUE/true/True and 0/f/F/FALSE/false/False), integers in decimal, durations as k6
 * durations, lists comma-separated (K6_STAGES "30s:10,1m:0", K6_SYSTEM_TAGS, K6_BLOCK_HOSTNAMES,
 * K6_SUMMARY_TREND_STATS, K6_TLS_CIPHER_SUITES), maps as "key:value,key:value" (K6_TAGS,
 * K6_HOSTS), K6_DNS in the --dns text form. An empty variable counts as set (Go's LookupEnv), as
 * k6 does. The config file is k6's JSON format (the script's keys at the top level; keys k6 keeps
 * there for itself, such as "collectors", are ignored as k6 ignores them). The script's own
 * unknown keys are warned about as k6 warns. */
#ifndef SB_CONFIG_LAYERS_H
#define SB_CONFIG_LAYERS_H

#include "common/err.h"
#include "controller/options.h"

/* The layers, lowest first. */
typedef enum sb_layer {
  SB_LAYER_CONFIG = 0, /* --config FILE */
  SB_LAYER_SCRIPT,     /* export const options */
  SB_LAYER_ENV,        /* K6_* environment variables */
  SB_LAYER_CLI,        /* command-line flags */
  SB_LAYER_COUNT
} sb_layer;

/* Where to read the layers from. Every member may be NULL (that layer is empty). */
typedef struct sb_option_sources {
  const char *script_json;     /* the script's options as JSON ("null", "" or NULL: none) */
  const char *const *environ;  /* "KEY=VALUE" strings, NULL-terminated (usually `environ`) */
  const sb_cli_overrides *cli; /* the flags; cli->config_path is --config */
  int no_default_config;       /* do not look for ~/.config/k6/config.json (tests) */
} sb_option_sources;

typedef struct sb_config_layers sb_config_layers;

/* Reads and merges every layer into |*out| (free with sb_config_layers_free()). Returns 0,
 * SB_ENOMEM, SB_ENOTFOUND / SB_EIO (--config FILE unreadable), or SB_EINVAL / SB_EFORMAT with
 * |err| naming the source: "--config cfg.json: invalid JSON at line 3: ...", "K6_VUS: 'ten' is
 * not an integer", "--dns: unknown DNS configuration field 'x'". Prints the script's unknown keys
 * to stderr as a warning (k6's "There were unknown fields in the options exported in the
 * script"). */
int sb_config_layers_load(sb_config_layers **out, const sb_option_sources *src, sb_err *err);
void sb_config_layers_free(sb_config_layers *l);

/* The merged options as JSON text (an object; owned by |l|). */
const char *sb_config_layers_json(const sb_config_layers *l);

/* Which layer set the top-level option |key| ("vus") in the merged result, or -1 when none did. */
int sb_config_layers_source(const sb_config_layers *l, const char *key);

/* Rewrites an options error whose message starts with "options.<key>" so that it names the
 * layer that set <key> — unchanged when that layer is the script or no layer is known. */
void sb_config_layers_name_source(const sb_config_layers *l, sb_err *err);

/* Go's strconv.ParseBool, as k6 reads its boolean flags and K6_* variables: "1", "t", "T",
 * "TRUE", "true", "True" are 1, their false forms 0, anything else -1. */
int sb_config_parse_bool(const char *s);

#endif
