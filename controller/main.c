/* speedboat: the command line. main() parses and dispatches; the work is in run.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "controller/run.h"
#include "controller/summary.h"
#include "controller/transform.h"

static const char usage[] =
    "Usage: speedboat <command> [options]\n"
    "\n"
    "Commands:\n"
    "  run [options] SCRIPT|ARCHIVE   run a load test (k6 script or archive)\n"
    "  archive [options] SCRIPT       compile a script into a self-contained archive\n"
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
    "      --workers N                worker threads (default: one per core)\n"
    "  -q, --quiet                    no banner and no progress line\n"
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
    "104 invalid options, 105 interrupted, 107 script error, 108 test.abort(), 111 an agent was\n"
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
  OPT_NO_VU_CONN_REUSE, OPT_BATCH, OPT_BATCH_PER_HOST, OPT_DNS, OPT_THROW
};

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
      {0, 0, 0, 0}};
  sb_run_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  sb_cli_overrides_init(&cfg.cli);
  argv_env env = {0};
  const char *out = "archive.tar.zst";
  int c, bad = 0;
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
  while (!bad && (c = getopt_long(argc, argv, "u:d:i:s:e:qO:hwv", longopts, NULL)) != -1) {
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
    default: bad = 1; break;
    }
  }
  int code = SB_EXIT_USAGE;
  if (bad) goto out;
  if (optind != argc - 1) {
    fprintf(stderr, "speedboat: %s needs exactly one script or archive\n%s",
            archive_only ? "archive" : "run", usage);
    goto out;
  }
  cfg.script = argv[optind];
  cfg.env = (const char *const *)env.kv;
  code = archive_only ? sb_run_archive(cfg.script, cfg.env, cfg.compat, out) : sb_run(&cfg);
out:
  sb_cli_overrides_clear(&cfg.cli);
  env_free(&env);
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
  if (!strcmp(argv[1], "run")) return cmd_run(argc - 1, argv + 1, 0);
  if (!strcmp(argv[1], "archive")) return cmd_run(argc - 1, argv + 1, 1);
  fprintf(stderr, "speedboat: unknown command '%s'\n%s", argv[1], usage);
  return SB_EXIT_USAGE;
}
