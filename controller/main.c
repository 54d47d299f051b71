/* speedboat: the command line. main() parses and dispatches; the work is in run.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "controller/api_cli.h"
#include "controller/config_layers.h"
#include "controller/run.h"
#include "controller/summary.h"
#include "controller/transform.h"

static const char usage[] =
    "Usage: speedboat <command> [options]\n"
    "\n"
    "Commands:\n"
    "  run [options] SCRIPT|ARCHIVE   run a load test (k6 script or archive)\n"
    "  archive [options] SCRIPT       compile a script into a self-contained archive\n"
    "  status [-a ADDR]               the running test's status, from its REST API\n"
    "  pause [-a ADDR]                pause the running test (every agent): no iteration starts\n"
    "  resume [-a ADDR]               resume it\n"
    "  scale [-a ADDR] --vus N [--scenario NAME]\n"
    "                                 run N VUs in the running constant-vus or ramping-vus\n"
    "                                 scenario, over the whole fleet\n"
    "  version                        show the version\n"
    "  help                           show this help\n"
    "\n"
    "Run options (override the script's options, as in k6):\n"
    "  -u, --vus N                    number of virtual users\n"
    "  -d, --duration D               test duration (\"30s\", \"1m30s\")\n"
    "  -i, --iterations N             total iterations, shared among the VUs\n"
    "  -s, --stage D:N                add a ramping stage (repeatable), e.g. -s 10s:20\n"
    "  -e, --env KEY=VALUE            set __ENV.KEY for the script (repeatable)\n"
    "      --no-thresholds            do not judge thresholds\n"
    "      --no-summary               do not print the end-of-test summary\n"
    "      --summary-mode MODE        the summary's layout, as k6 v1's: compact (default:\n"
    "                                 thresholds, checks, then the metrics under HTTP,\n"
    "                                 EXECUTION, NETWORK), full (every metric, and a section per\n"
    "                                 group and scenario), legacy (k6's layout before v1) or\n"
    "                                 disabled (= --no-summary); also K6_SUMMARY_MODE. A script\n"
    "                                 exporting handleSummary(data) replaces it, as in k6\n"
    "      --summary-trend-stats L    trend columns, e.g. \"avg,p(99),max\"\n"
    "      --summary-time-unit U      show every time of the summary in s, ms or us\n"
    "  -c, --config FILE              k6's JSON config file (default: $K6_CONFIG, else\n"
    "                                 ~/.config/k6/config.json if it exists)\n"
    "      --tag NAME=VALUE           a tag on every sample (repeatable; also options.tags)\n"
    "      --system-tags LIST         the system tags samples carry, e.g. \"method,status,url\"\n"
    "                                 (default k6's: proto,subproto,status,method,url,name,\n"
    "                                 group,check,error,error_code,tls_version,scenario,service,\n"
    "                                 expected_response; also vu, ip and ocsp_status)\n"
    "      --include-system-env-vars[=BOOL]  __ENV holds this process's environment too\n"
    "                                 (default: true when local, false with --agents and for\n"
    "                                 archive; also K6_INCLUDE_SYSTEM_ENV_VARS)\n"
    "  -l, --linger                   after the summary, keep running until Ctrl+C\n"
    "      --workers N                worker threads (default: one per core)\n"
    "  -o, --out TYPE=FILE            also write every sample, as k6 does (repeatable):\n"
    "                                 json=FILE (k6's JSON lines), csv=FILE (k6's CSV);\n"
    "                                 FILE.gz is gzip-compressed, \"-\" is stdout;\n"
    "                                 prometheus-rw[=URL] (or experimental-prometheus-rw):\n"
    "                                 Prometheus remote write, configured by k6's\n"
    "                                 K6_PROMETHEUS_RW_* variables (SERVER_URL, PUSH_INTERVAL,\n"
    "                                 TREND_STATS, USERNAME, PASSWORD, HEADERS_<Name>,\n"
    "                                 INSECURE_SKIP_TLS_VERIFY, STALE_MARKERS); no native\n"
    "                                 histograms, no client certificates\n"
    "      --summary-export FILE      write the end-of-test summary as k6's legacy JSON\n"
    "  -q, --quiet                    no banner and no progress\n"
    "      --progress MODE            the live progress: scenarios (default: k6's bars, redrawn\n"
    "                                 in place on a terminal, plain lines elsewhere), agents (also\n"
    "                                 a line per agent: VUs, req/s, lag, round trip) or none\n"
    "  -a, --address HOST:PORT        the REST API's address (default " SB_API_DEFAULT_ADDRESS "; a\n"
    "                                 busy default is a warning, a busy --address an error)\n"
    "      --no-api                   no REST API\n"
    "      --dashboard                a live dashboard at http://ADDRESS/dashboard (charts of the\n"
    "                                 request rate, latency percentiles, VUs, errors and data;\n"
    "                                 thresholds, checks, agents; also K6_WEB_DASHBOARD=true)\n"
    "      --report FILE.html         write the run as one self-contained HTML page that opens\n"
    "                                 offline (also K6_WEB_DASHBOARD_EXPORT=FILE)\n"
    "  -v, --verbose                  also print console.debug lines\n"
    "      --compatibility-mode MODE  extended (default: TypeScript and ES2015+ compiled to ES5,\n"
    "                                 built-ins the script needs added) or base (plain ES5.1 as\n"
    "                                 written, the lightest VUs); also K6_COMPATIBILITY_MODE\n"
    "\n"
    "HTTP options (override the script's options of the same name, as in k6):\n"
    "      --insecure-skip-tls-verify skip verification of TLS certificates\n"
    "      --tls-ca-file FILE         also trust the CA certificates of this PEM file (read by\n"
    "                                 the controller, sent to the agents; default: the\n"
    "                                 SSL_CERT_FILE environment variable, if set)\n"
    "      --user-agent UA            User-Agent header (default \"speedboat/" SB_VERSION "\";\n"
    "                                 \"\" sends none)\n"
    "      --max-redirects N          follow at most N redirects (default 10)\n"
    "      --no-connection-reuse      a new connection for every request\n"
    "      --no-vu-connection-reuse   do not keep connections across iterations\n"
    "  -w, --throw                    a failed request throws an exception (default: a\n"
    "                                 warning, and the response carries error and error_code)\n"
    "      --batch N                  max parallel requests of one http.batch() (default 20)\n"
    "      --batch-per-host N         ... of them to one host (default 6, 0 = no limit)\n"
    "      --dns SPEC                 DNS resolution, e.g. \"ttl=1m,select=first,policy=any\"\n"
    "                                 (ttl: duration, inf or 0; select: first, random,\n"
    "                                 roundRobin; policy: preferIPv4, preferIPv6, onlyIPv4,\n"
    "                                 onlyIPv6, any; default ttl=5m,select=random,\n"
    "                                 policy=preferIPv4)\n"
    "      --block-hostnames LIST     requests to these hosts fail (error_code 1111), e.g.\n"
    "                                 \"*.example.com,test.local\" (repeatable)\n"
    "      --discard-response-bodies  read the responses but keep no bodies\n"
    "\n"
    "Options come from, each over the one before (as in k6): the config file, the script's\n"
    "options, K6_* environment variables (K6_VUS, K6_DURATION, K6_ITERATIONS, K6_STAGES,\n"
    "K6_THROW, K6_USER_AGENT, K6_TAGS, K6_SYSTEM_TAGS, ...), then the flags. SPEEDBOAT_WORKERS,\n"
    "SPEEDBOAT_AGENTS, SPEEDBOAT_AGENTS_FILE, SPEEDBOAT_AGENT_TOKEN_FILE, SPEEDBOAT_AGENT_TLS_CERT,\n"
    "SPEEDBOAT_AGENT_TLS_KEY, SPEEDBOAT_AGENT_TLS_CA, SPEEDBOAT_ON_AGENT_LOSS,\n"
    "SPEEDBOAT_NO_TARGET_CHECK and SPEEDBOAT_TLS_CA_FILE set the flags of the same name.\n"
    "\n"
    "Distributed runs (without --agents the test runs in-process on this machine):\n"
    "      --agents LIST              speedboat-agent daemons, HOST:PORT[@WEIGHT],... ([ADDR]:PORT\n"
    "                                 for IPv6); a name with several addresses is one agent each;\n"
    "                                 each agent runs its execution segment, sized by its weight\n"
    "      --agents-file FILE         the same, one entry per line ('#' starts a comment)\n"
    "      --agent-token-file FILE    shared token the agents require (default: the\n"
    "                                 SPEEDBOAT_AGENT_TOKEN environment variable)\n"
    "      --agent-tls-cert FILE      client certificate for mutual TLS with the agents\n"
    "      --agent-tls-key FILE       its private key\n"
    "      --agent-tls-ca FILE        the CA that signed the agents' certificates\n"
    "      --on-agent-loss WHAT       continue (default: the run goes on with the other agents,\n"
    "                                 exit code 111) or abort (stop every agent at once)\n"
    "      --no-target-check          do not have every agent check, before the load, that it can\n"
    "                                 reach the URLs the script writes out and the -e URL values\n"
    "\n"
    "Archive options:\n"
    "  -O, --archive-out FILE         where to write the archive (default archive.tar.zst)\n"
    "\n"
    "Exit codes: 0 passed, 99 thresholds failed, 100 setup timed out, 101 teardown timed out,\n"
    "104 invalid options, 105 interrupted, 106 the REST API cannot listen on --address,\n"
    "107 script error, 108 test.abort(), 111 an agent was\n"
    "lost, 255 other errors.\n";

typedef struct argv_env {
  char **kv;  /* key, value, ..., NULL */
  size_t n;
} argv_env;

static int env_add(argv_env *e, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) {
    fprintf(stderr, "speedboat: --env '%s': expected KEY=VALUE\n", arg);
    return -1;
  }
  char **kv = realloc(e->kv, (2 * e->n + 3) * sizeof(char *));
  if (!kv) return -1;
  e->kv = kv;
  kv[2 * e->n] = strndup(arg, (size_t)(eq - arg));
  kv[2 * e->n + 1] = strdup(eq + 1);
  kv[2 * e->n + 2] = NULL;
  e->n++;
  return 0;
}

/* Adds this process's environment to |e| before what -e added, so that -e wins (k6's
 * --include-system-env-vars). */
static int env_add_system(argv_env *e) {
  extern char **environ;
  argv_env sys = {0};
  for (char **p = environ; p && *p; p++)
    if (strchr(*p, '=') && **p != '=' && env_add(&sys, *p)) return -1;
  for (size_t i = 0; i < e->n; i++) {
    char **kv = realloc(sys.kv, (2 * sys.n + 3) * sizeof(char *));
    if (!kv) return -1;
    sys.kv = kv;
    kv[2 * sys.n] = e->kv[2 * i];
    kv[2 * sys.n + 1] = e->kv[2 * i + 1];
    kv[2 * sys.n + 2] = NULL;
    sys.n++;
  }
  free(e->kv);
  *e = sys;
  return 0;
}

static void env_free(argv_env *e) {
  for (size_t i = 0; i < 2 * e->n; i++) free(e->kv[i]);
  free(e->kv);
}

static int parse_count(const char *opt, const char *s, int64_t *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < 0) {
    fprintf(stderr, "speedboat: %s '%s': expected a non-negative integer\n", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_stage(sb_cli_overrides *cli, const char *s) {
  const char *colon = strrchr(s, ':');
  sb_err err;
  int64_t ms, target;
  char dur[64];
  if (!colon || (size_t)(colon - s) >= sizeof(dur)) {
    fprintf(stderr, "speedboat: --stage '%s': expected DURATION:TARGET, e.g. 30s:10\n", s);
    return -1;
  }
  memcpy(dur, s, (size_t)(colon - s));
  dur[colon - s] = '\0';
  if (sb_duration_parse_ms(dur, &ms, &err)) {
    fprintf(stderr, "speedboat: --stage '%s': %s\n", s, err.msg);
    return -1;
  }
  if (parse_count("--stage", colon + 1, &target)) return -1;
  sb_stage *st = realloc(cli->stages, (cli->nstages + 1) * sizeof(*st));
  if (!st) return -1;
  cli->stages = st;
  st[cli->nstages].duration_ms = ms;
  st[cli->nstages].target = (uint64_t)target;
  cli->nstages++;
  return 0;
}

static int parse_trend_stats(sb_cli_overrides *cli, const char *s) {
  char *copy = strdup(s), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char **v = realloc(cli->summary_trend_stats, (cli->nsummary_trend_stats + 1) * sizeof(char *));
    if (!v) break;
    cli->summary_trend_stats = v;
    v[cli->nsummary_trend_stats++] = strdup(tok);
  }
  free(copy);
  return 0;
}

enum {
  OPT_NO_THRESHOLDS = 256, OPT_NO_SUMMARY, OPT_TREND_STATS, OPT_WORKERS, OPT_AGENTS, OPT_AGENTS_FILE,
  OPT_AGENT_TOKEN_FILE, OPT_AGENT_TLS_CERT, OPT_AGENT_TLS_KEY, OPT_AGENT_TLS_CA, OPT_ON_AGENT_LOSS, OPT_NO_TARGET_CHECK, OPT_COMPAT,
  OPT_INSECURE, OPT_TLS_CA_FILE, OPT_USER_AGENT, OPT_MAX_REDIRECTS, OPT_NO_CONN_REUSE,
  OPT_NO_VU_CONN_REUSE, OPT_BATCH, OPT_BATCH_PER_HOST, OPT_DNS, OPT_THROW,
  OPT_SUMMARY_EXPORT, OPT_PROGRESS, OPT_NO_API, OPT_DASHBOARD, OPT_REPORT
};

/* The flags of the layered options (controller/config_layers.h). */
enum {
  OPT_TAG = 400, OPT_SYSTEM_TAGS, OPT_BLOCK_HOSTNAMES, OPT_SUMMARY_TIME_UNIT, OPT_DISCARD_BODIES,
  OPT_INCLUDE_SYSENV
};

/* Appends a copy of |s| to the string list |*v| (|*n| entries). */
static int strv_push(char ***v, size_t *n, const char *s) {
  char **nv = realloc(*v, (*n + 1) * sizeof(char *));
  if (!nv) return -1;
  *v = nv;
  return (nv[*n] = strdup(s)) ? ((*n)++, 0) : -1;
}

/* The flags of the layered options; their values are checked with the other layers' by
 * sb_options_load. */
static int parse_layer_flag(sb_cli_overrides *cli, int c, const char *arg) {
  char **str = NULL;
  switch (c) {
  case 'c': str = &cli->config_path; break;
  case 'l': cli->linger = 1; return 0;
  case OPT_DISCARD_BODIES: cli->discard_response_bodies = 1; return 0;
  case OPT_SUMMARY_TIME_UNIT: str = &cli->summary_time_unit; break;
  case OPT_TAG:
    if (!strchr(arg, '=') || *arg == '=') {
      fprintf(stderr, "speedboat: --tag '%s': expected NAME=VALUE\n", arg);
      return -1;
    }
    return strv_push(&cli->tags, &cli->ntags, arg);
  case OPT_SYSTEM_TAGS: return strv_push(&cli->system_tags, &cli->nsystem_tags, arg);
  case OPT_BLOCK_HOSTNAMES: return strv_push(&cli->block_hostnames, &cli->nblock_hostnames, arg);
  default: return -1;
  }
  free(*str);
  return (*str = strdup(arg)) ? 0 : -1;
}

/* Our own flags from the environment: SPEEDBOAT_<NAME> is --<name>, as k6 reads K6_* for its
 * options. They go before the command line's arguments, so that a flag given there wins. */
static const struct {
  const char *env, *flag;
  int is_bool;
} env_flags[] = {
    {"SPEEDBOAT_WORKERS", "--workers", 0},
    {"SPEEDBOAT_AGENTS", "--agents", 0},
    {"SPEEDBOAT_AGENTS_FILE", "--agents-file", 0},
    {"SPEEDBOAT_AGENT_TOKEN_FILE", "--agent-token-file", 0},
    {"SPEEDBOAT_AGENT_TLS_CERT", "--agent-tls-cert", 0},
    {"SPEEDBOAT_AGENT_TLS_KEY", "--agent-tls-key", 0},
    {"SPEEDBOAT_AGENT_TLS_CA", "--agent-tls-ca", 0},
    {"SPEEDBOAT_ON_AGENT_LOSS", "--on-agent-loss", 0},
    {"SPEEDBOAT_NO_TARGET_CHECK", "--no-target-check", 1},
    {"SPEEDBOAT_TLS_CA_FILE", "--tls-ca-file", 0},
};
#define NENV_FLAGS (sizeof(env_flags) / sizeof(env_flags[0]))
static const char *env_flag_src[NENV_FLAGS]; /* the variable behind argv[1 + i] */
static size_t env_flag_n;

/* Frees what env_argv() made: |v| and its |n| synthesized flags after v[0]. */
static void free_env_argv_n(char **v, size_t n) {
  for (size_t i = 1; v && i <= n; i++)
    free(v[i]);
  free(v);
}

/* Builds |*out| = argv[0], the flags SPEEDBOAT_* set, argv[1..]. Returns the new argc, or -1
 * (a message printed). Free with free_env_argv(). */
static int env_argv(int argc, char **argv, char ***out) {
  char **v = calloc((size_t)argc + NENV_FLAGS + 1, sizeof(char *));
  int n = 0, b = 1;
  if (!v) return -1;
  v[n++] = argv[0];
  env_flag_n = 0;
  for (size_t i = 0; i < NENV_FLAGS; i++) {
    const char *val = getenv(env_flags[i].env);
    if (!val || (env_flags[i].is_bool && (b = sb_config_parse_bool(val)) == 0)) continue;
    if (b < 0) {
      fprintf(stderr, "speedboat: %s: '%s' is not a boolean (use true or false)\n",
              env_flags[i].env, val);
      free_env_argv_n(v, (size_t)n - 1);
      return -1;
    }
    size_t len = strlen(env_flags[i].flag) + strlen(val) + 2;
    if (!(v[n] = malloc(len))) break;
    snprintf(v[n], len, env_flags[i].is_bool ? "%s" : "%s=%s", env_flags[i].flag, val);
    env_flag_src[env_flag_n++] = env_flags[i].env;
    n++;
  }
  for (int i = 1; i < argc; i++)
    v[n++] = argv[i];
  *out = v;
  return n;
}

/* --out values, kept as the argv strings they are. */
static int add_out(sb_run_config *cfg, const char ***outs, const char *arg) {
  const char **v = realloc(*outs, (cfg->nouts + 1) * sizeof(*v));
  if (!v) return -1;
  v[cfg->nouts++] = arg;
  *outs = v;
  cfg->outs = v;
  return 0;
}

enum { OPT_SUMMARY_MODE = 500 };

/* --summary-mode or K6_SUMMARY_MODE (|what| names it in errors). The run reads the mode from
 * K6_SUMMARY_MODE, which the flag overwrites (the flag wins over the variable, as in k6);
 * "disabled" is --no-summary. */
static int set_summary_mode(sb_run_config *cfg, const char *v, const char *what) {
  sb_summary_mode m;
  sb_err err;
  if (sb_summary_mode_parse(v, &m, &err)) {
    fprintf(stderr, "speedboat: %s: %s\n", what, err.msg);
    return -1;
  }
  if (m == SB_SUMMARY_DISABLED) cfg->cli.no_summary = 1;
  return setenv("K6_SUMMARY_MODE", sb_summary_mode_name(m), 1) ? -1 : 0;
}

/* --progress MODE (controller/progress.h). */
static int set_progress(sb_run_config *cfg, const char *v) {
  static const char *const modes[] = {"scenarios", "agents", "none"};
  for (int i = 0; i < 3; i++)
    if (!strcmp(v, modes[i])) return (cfg->progress = i), 0;
  fprintf(stderr, "speedboat: --progress '%s': expected scenarios, agents or none\n", v);
  return -1;
}

/* The HTTP flags (k6's); values are checked again, with the script's, by sb_options_parse. */
static int parse_http_flag(sb_cli_overrides *cli, int c, const char *arg) {
  char **str = NULL;
  switch (c) {
  case OPT_INSECURE: cli->insecure_skip_tls_verify = 1; return 0;
  case OPT_NO_CONN_REUSE: cli->no_connection_reuse = 1; return 0;
  case OPT_NO_VU_CONN_REUSE: cli->no_vu_connection_reuse = 1; return 0;
  case OPT_THROW: cli->throw_errors = 1; return 0;
  case OPT_MAX_REDIRECTS: return parse_count("--max-redirects", arg, &cli->max_redirects);
  case OPT_BATCH: return parse_count("--batch", arg, &cli->batch);
  case OPT_BATCH_PER_HOST: return parse_count("--batch-per-host", arg, &cli->batch_per_host);
  case OPT_USER_AGENT: str = &cli->user_agent; break;
  case OPT_DNS: str = &cli->dns; break;
  case OPT_TLS_CA_FILE: str = &cli->tls_ca_file; break;
  default: return -1;
  }
  free(*str);
  return (*str = strdup(arg)) ? 0 : -1;
}

static int cmd_run(int argc, char **argv, int archive_only) {
  static const struct option longopts[] = {
      {"vus", required_argument, 0, 'u'},         {"duration", required_argument, 0, 'd'},
      {"iterations", required_argument, 0, 'i'},  {"stage", required_argument, 0, 's'},
      {"env", required_argument, 0, 'e'},         {"quiet", no_argument, 0, 'q'},
      {"archive-out", required_argument, 0, 'O'}, {"no-thresholds", no_argument, 0, OPT_NO_THRESHOLDS},
      {"no-summary", no_argument, 0, OPT_NO_SUMMARY},
      {"summary-trend-stats", required_argument, 0, OPT_TREND_STATS},
      {"workers", required_argument, 0, OPT_WORKERS}, {"help", no_argument, 0, 'h'},
      {"agents", required_argument, 0, OPT_AGENTS},
      {"agents-file", required_argument, 0, OPT_AGENTS_FILE},
      {"agent-token-file", required_argument, 0, OPT_AGENT_TOKEN_FILE},
      {"agent-tls-cert", required_argument, 0, OPT_AGENT_TLS_CERT},
      {"agent-tls-key", required_argument, 0, OPT_AGENT_TLS_KEY},
      {"agent-tls-ca", required_argument, 0, OPT_AGENT_TLS_CA},
      {"on-agent-loss", required_argument, 0, OPT_ON_AGENT_LOSS},
      {"no-target-check", no_argument, 0, OPT_NO_TARGET_CHECK},
      {"compatibility-mode", required_argument, 0, OPT_COMPAT},
      {"verbose", no_argument, 0, 'v'},
      {"insecure-skip-tls-verify", no_argument, 0, OPT_INSECURE},
      {"tls-ca-file", required_argument, 0, OPT_TLS_CA_FILE},
      {"user-agent", required_argument, 0, OPT_USER_AGENT},
      {"max-redirects", required_argument, 0, OPT_MAX_REDIRECTS},
      {"no-connection-reuse", no_argument, 0, OPT_NO_CONN_REUSE},
      {"no-vu-connection-reuse", no_argument, 0, OPT_NO_VU_CONN_REUSE},
      {"throw", no_argument, 0, OPT_THROW},
      {"batch", required_argument, 0, OPT_BATCH},
      {"batch-per-host", required_argument, 0, OPT_BATCH_PER_HOST},
      {"dns", required_argument, 0, OPT_DNS},
      {"summary-mode", required_argument, 0, OPT_SUMMARY_MODE},
      {"config", required_argument, 0, 'c'},
      {"linger", no_argument, 0, 'l'},
      {"tag", required_argument, 0, OPT_TAG},
      {"system-tags", required_argument, 0, OPT_SYSTEM_TAGS},
      {"block-hostnames", required_argument, 0, OPT_BLOCK_HOSTNAMES},
      {"summary-time-unit", required_argument, 0, OPT_SUMMARY_TIME_UNIT},
      {"discard-response-bodies", no_argument, 0, OPT_DISCARD_BODIES},
      {"include-system-env-vars", optional_argument, 0, OPT_INCLUDE_SYSENV},
      {"out", required_argument, 0, 'o'},
      {"summary-export", required_argument, 0, OPT_SUMMARY_EXPORT},
      {"address", required_argument, 0, 'a'},
      {"no-api", no_argument, 0, OPT_NO_API},
      {"dashboard", no_argument, 0, OPT_DASHBOARD},
      {"report", required_argument, 0, OPT_REPORT},
      {"progress", required_argument, 0, OPT_PROGRESS},
      {0, 0, 0, 0}};
  const char **outs = NULL;
  sb_run_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  sb_cli_overrides_init(&cfg.cli);
  argv_env env = {0};
  const char *out = "archive.tar.zst";
  int c, bad = 0, sysenv = -1; /* --include-system-env-vars; -1: not given */
  int64_t v;
  const char *mode_env = getenv("K6_COMPATIBILITY_MODE"); /* k6's variable; the flag wins */
  if (mode_env && *mode_env) {
    sb_compat_mode m;
    sb_err e;
    if (sb_compat_mode_parse(mode_env, &m, &e) < 0) {
      fprintf(stderr, "speedboat: K6_COMPATIBILITY_MODE: %s\n", e.msg);
      return 2;
    }
    cfg.compat = (int)m;
  }
  const char *summary_env = getenv("K6_SUMMARY_MODE");
  if (summary_env && *summary_env && set_summary_mode(&cfg, summary_env, "K6_SUMMARY_MODE")) {
    sb_cli_overrides_clear(&cfg.cli);
    return SB_EXIT_USAGE;
  }
  optind = 1;
  while (!bad && (c = getopt_long(argc, argv, "u:d:i:s:e:qO:hwvo:c:la:", longopts, NULL)) != -1) {
    switch (c) {
    case 'u': bad = parse_count("--vus", optarg, &cfg.cli.vus); break;
    case 'i': bad = parse_count("--iterations", optarg, &cfg.cli.iterations); break;
    case 'd': {
      sb_err err;
      if (sb_duration_parse_ms(optarg, &cfg.cli.duration_ms, &err)) {
        fprintf(stderr, "speedboat: --duration: %s\n", err.msg);
        bad = 1;
      }
      break;
    }
    case 's': bad = parse_stage(&cfg.cli, optarg); break;
    case 'e': bad = env_add(&env, optarg); break;
    case 'q': cfg.quiet = 1; break;
    case 'a': cfg.address = optarg; break;
    case OPT_NO_API: cfg.no_api = 1; break;
    case OPT_DASHBOARD: cfg.dashboard = 1; break;
    case OPT_REPORT: cfg.report = optarg; break;
    case OPT_PROGRESS: bad = set_progress(&cfg, optarg); break;
    case 'o': bad = add_out(&cfg, &outs, optarg); break;
    case OPT_SUMMARY_EXPORT: cfg.summary_export = optarg; break;
    case 'O': out = optarg; break;
    case OPT_NO_THRESHOLDS: cfg.cli.no_thresholds = 1; break;
    case OPT_NO_SUMMARY: cfg.cli.no_summary = 1; break;
    case OPT_SUMMARY_MODE: bad = set_summary_mode(&cfg, optarg, "--summary-mode"); break;
    case OPT_TREND_STATS: bad = parse_trend_stats(&cfg.cli, optarg); break;
    case OPT_WORKERS:
      bad = parse_count("--workers", optarg, &v);
      cfg.workers = (int)v;
      break;
    case OPT_AGENTS: cfg.agents = optarg; break;
    case OPT_NO_TARGET_CHECK: cfg.no_target_check = 1; break;
    case 'v': cfg.verbose = 1; break;
    case OPT_COMPAT: {
      sb_compat_mode m;
      sb_err e;
      if (sb_compat_mode_parse(optarg, &m, &e) < 0) {
        fprintf(stderr, "speedboat: --compatibility-mode: %s\n", e.msg);
        bad = 1;
      }
      cfg.compat = (int)m;
      break;
    }
    case OPT_AGENTS_FILE: cfg.agents_file = optarg; break;
    case OPT_AGENT_TOKEN_FILE: cfg.agent_token_file = optarg; break;
    case OPT_AGENT_TLS_CERT: cfg.agent_tls_cert = optarg; break;
    case OPT_AGENT_TLS_KEY: cfg.agent_tls_key = optarg; break;
    case OPT_AGENT_TLS_CA: cfg.agent_tls_ca = optarg; break;
    case OPT_ON_AGENT_LOSS:
      if (!strcmp(optarg, "abort")) cfg.abort_on_agent_loss = 1;
      else if (strcmp(optarg, "continue")) {
        fprintf(stderr, "speedboat: --on-agent-loss '%s': expected continue or abort\n", optarg);
        bad = 1;
      }
      break;
    case 'h':
      fputs(usage, stdout);
      sb_cli_overrides_clear(&cfg.cli);
      env_free(&env);
      free(outs);
      return 0;
    case 'w':
      bad = parse_http_flag(&cfg.cli, OPT_THROW, optarg);
      break;
    case OPT_INSECURE: case OPT_TLS_CA_FILE: case OPT_USER_AGENT: case OPT_MAX_REDIRECTS:
    case OPT_THROW:
    case OPT_NO_CONN_REUSE: case OPT_NO_VU_CONN_REUSE: case OPT_BATCH: case OPT_BATCH_PER_HOST:
    case OPT_DNS:
      bad = parse_http_flag(&cfg.cli, c, optarg);
      break;
    case 'c': case 'l': case OPT_TAG: case OPT_SYSTEM_TAGS: case OPT_BLOCK_HOSTNAMES:
    case OPT_SUMMARY_TIME_UNIT: case OPT_DISCARD_BODIES:
      bad = parse_layer_flag(&cfg.cli, c, optarg);
      break;
    case OPT_INCLUDE_SYSENV:
      if ((sysenv = optarg ? sb_config_parse_bool(optarg) : 1) < 0) {
        fprintf(stderr, "speedboat: --include-system-env-vars=%s: expected true or false\n", optarg);
        bad = 1;
      }
      break;
    default: bad = 1; break;
    }
  }
  int code = SB_EXIT_USAGE;
  if (bad && optind >= 2 && (size_t)optind - 2 < env_flag_n)
    fprintf(stderr, "speedboat: (that flag came from %s)\n", env_flag_src[optind - 2]);
  if (bad) goto out;
  if (sysenv < 0 && getenv("K6_INCLUDE_SYSTEM_ENV_VARS") &&
      (sysenv = sb_config_parse_bool(getenv("K6_INCLUDE_SYSTEM_ENV_VARS"))) < 0) {
    fprintf(stderr, "speedboat: K6_INCLUDE_SYSTEM_ENV_VARS: '%s' is not a boolean\n",
            getenv("K6_INCLUDE_SYSTEM_ENV_VARS"));
    goto out;
  }
  /* k6: `run` passes the system environment to __ENV, `archive` and `cloud` do not; a run on
   * agents is the cloud's case (the environment would travel to other machines). */
  if (sysenv < 0) sysenv = !archive_only && !cfg.agents && !cfg.agents_file;
  if (sysenv && env_add_system(&env)) goto out;
  if (optind != argc - 1) {
    fprintf(stderr, "speedboat: %s needs exactly one script or archive\n%s",
            archive_only ? "archive" : "run", usage);
    goto out;
  }
  cfg.script = argv[optind];
  cfg.env = (const char *const *)env.kv;
  { /* k6's web dashboard variables, for users who set them */
    const char *wd = getenv("K6_WEB_DASHBOARD"), *we = getenv("K6_WEB_DASHBOARD_EXPORT");
    if (wd && (!strcmp(wd, "true") || !strcmp(wd, "1"))) cfg.dashboard = 1;
    if (!cfg.report && we && *we) cfg.report = we;
  }
  code = archive_only ? sb_run_archive(cfg.script, cfg.env, cfg.compat, out) : sb_run(&cfg);
out:
  sb_cli_overrides_clear(&cfg.cli);
  env_free(&env);
  free(outs);
  return code;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? SB_EXIT_USAGE : 0;
  }
  if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
    printf("speedboat %s\n", SB_VERSION);
    return 0;
  }
  if (!strcmp(argv[1], "run") || !strcmp(argv[1], "archive")) {
    char **av;
    int ac = env_argv(argc - 1, argv + 1, &av);
    if (ac < 0) return SB_EXIT_USAGE;
    int code = cmd_run(ac, av, !strcmp(argv[1], "archive"));
    free_env_argv_n(av, env_flag_n);
    return code;
  }
  if (sb_api_cli_is_command(argv[1])) return sb_api_cli(argc - 1, argv + 1);
  fprintf(stderr, "speedboat: unknown command '%s'\n%s", argv[1], usage);
  return SB_EXIT_USAGE;
}
