/* k6's configuration layers (see config_layers.h): each read into a JSON object of k6 option
 * names, laid over each other in k6's order, every key remembering the layer that set it. */
#include "controller/config_layers.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/duration.h"

/* How an environment variable's text becomes the option's JSON value. */
typedef enum val_type {
  V_NONE = 0, /* no environment variable (the option is read from the other layers only) */
  V_BOOL,     /* Go's strconv.ParseBool */
  V_INT,      /* decimal integer */
  V_STRING,   /* as is (durations too: the parser reads k6 durations from strings) */
  V_LIST,     /* "a,b,c" -> ["a", "b", "c"] */
  V_MAP,      /* "k:v,k2:v2" -> {"k": "v", "k2": "v2"} */
  V_STAGES,   /* "30s:10,1m:0" -> [{duration: "30s", target: 10}, ...] */
  V_DNS,      /* "ttl=1m,select=first" -> {ttl: "1m", select: "first"} */
} val_type;

/* Every top-level key k6 knows (lib.Options and cmd.Config), with its environment variable, the
 * flag that sets it here, and whether speedboat acts on it. Keys not listed are unknown to k6. */
typedef struct known_key {
  const char *key;
  const char *env; /* k6's name, NULL when k6 has none */
  val_type type;
  const char *flag; /* our command-line flag, NULL when none */
  int supported;    /* 0: k6 knows it, speedboat does not implement it: warned about */
} known_key;

static const known_key keys[] = {
    {"vus", "K6_VUS", V_INT, "--vus", 1},
    {"duration", "K6_DURATION", V_STRING, "--duration", 1},
    {"iterations", "K6_ITERATIONS", V_INT, "--iterations", 1},
    {"stages", "K6_STAGES", V_STAGES, "--stage", 1},
    {"scenarios", NULL, V_NONE, NULL, 1},
    {"thresholds", NULL, V_NONE, NULL, 1},
    {"setupTimeout", "K6_SETUP_TIMEOUT", V_STRING, NULL, 1},
    {"teardownTimeout", "K6_TEARDOWN_TIMEOUT", V_STRING, NULL, 1},
    {"handleSummaryTimeout", NULL, V_STRING, NULL, 1},
    {"maxVUMemory", NULL, V_STRING, NULL, 1},  /* ours: the heap cap per VU (options_limits.h) */
    {"initTimeout", NULL, V_STRING, NULL, 1},  /* ours: how long one VU's init code may run */
    {"dns", "K6_DNS", V_DNS, "--dns", 1},
    {"maxRedirects", "K6_MAX_REDIRECTS", V_INT, "--max-redirects", 1},
    {"userAgent", "K6_USER_AGENT", V_STRING, "--user-agent", 1},
    {"batch", "K6_BATCH", V_INT, "--batch", 1},
    {"batchPerHost", "K6_BATCH_PER_HOST", V_INT, "--batch-per-host", 1},
    {"insecureSkipTLSVerify", "K6_INSECURE_SKIP_TLS_VERIFY", V_BOOL, "--insecure-skip-tls-verify",
     1},
    {"tlsCipherSuites", "K6_TLS_CIPHER_SUITES", V_LIST, NULL, 1},
    {"tlsVersion", NULL, V_NONE, NULL, 1},
    {"tlsAuth", NULL, V_NONE, NULL, 1},
    {"throw", "K6_THROW", V_BOOL, "--throw", 1},
    {"blockHostnames", "K6_BLOCK_HOSTNAMES", V_LIST, "--block-hostnames", 1},
    {"hosts", "K6_HOSTS", V_MAP, NULL, 1},
    {"noConnectionReuse", "K6_NO_CONNECTION_REUSE", V_BOOL, "--no-connection-reuse", 1},
    {"noVUConnectionReuse", "K6_NO_VU_CONNECTION_REUSE", V_BOOL, "--no-vu-connection-reuse", 1},
    {"minIterationDuration", "K6_MIN_ITERATION_DURATION", V_STRING, NULL, 1},
    {"summaryTrendStats", "K6_SUMMARY_TREND_STATS", V_LIST, "--summary-trend-stats", 1},
    {"summaryTimeUnit", "K6_SUMMARY_TIME_UNIT", V_STRING, "--summary-time-unit", 1},
    {"systemTags", "K6_SYSTEM_TAGS", V_LIST, "--system-tags", 1},
    {"tags", "K6_TAGS", V_MAP, "--tag", 1},
    {"noCookiesReset", "K6_NO_COOKIES_RESET", V_BOOL, NULL, 1},
    {"discardResponseBodies", "K6_DISCARD_RESPONSE_BODIES", V_BOOL, "--discard-response-bodies", 1},
    {"noThresholds", "K6_NO_THRESHOLDS", V_BOOL, "--no-thresholds", 1},
    {"noSummary", "K6_NO_SUMMARY", V_BOOL, "--no-summary", 1},
    {"linger", "K6_LINGER", V_BOOL, "--linger", 1},
    {"ext", NULL, V_NONE, NULL, 1}, /* for outputs and the cloud: nothing to do here */
    {"cloud", NULL, V_NONE, NULL, 1},
    /* known to k6, not implemented here: said so, never silently dropped */
    {"paused", "K6_PAUSED", V_BOOL, NULL, 0},
    {"executionSegment", NULL, V_NONE, NULL, 0},
    {"executionSegmentSequence", NULL, V_NONE, NULL, 0},
    {"noSetup", "K6_NO_SETUP", V_BOOL, NULL, 0},
    {"noTeardown", "K6_NO_TEARDOWN", V_BOOL, NULL, 0},
    {"rps", "K6_RPS", V_INT, NULL, 0},
    {"httpDebug", "K6_HTTP_DEBUG", V_STRING, NULL, 0},
    {"blacklistIPs", "K6_BLACKLIST_IPS", V_LIST, NULL, 0},
    {"metricSamplesBufferSize", "K6_METRIC_SAMPLES_BUFFER_SIZE", V_INT, NULL, 0},
    {"consoleOutput", "K6_CONSOLE_OUTPUT", V_STRING, NULL, 0},
    {"localIPs", "K6_LOCAL_IPS", V_STRING, NULL, 0},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Keys of k6's config file that are no options (cmd.Config): ignored as k6 ignores them for the
 * test; "collectors" may hold a cloud token and must not travel further. */
static const char *const config_only[] = {
    "collectors", "out", "noUsageReport", "webDashboard", "noArchiveUpload", "summaryExport"};

static const char *const exec_keys[] = {"duration", "iterations", "stages", "scenarios"};

struct sb_config_layers {
  json_t *merged; /* the options */
  json_t *layer;  /* key (or "dns.ttl") -> the layer that set it */
  json_t *label;  /* key (or "dns.ttl") -> how to name that source in a message */
  char *json;     /* |merged| as text */
};

static const known_key *find_key(const char *key) {
  for (size_t i = 0; i < NKEYS; i++)
    if (!strcmp(keys[i].key, key)) return &keys[i];
  return NULL;
}

/* ---- values from text (environment variables and flags) ---- */

int sb_config_parse_bool(const char *s) {
  static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (size_t i = 0; i < 6; i++) {
    if (!strcmp(s, t[i])) return 1;
    if (!strcmp(s, f[i])) return 0;
  }
  return -1;
}

/* A copy of |s| without surrounding spaces (free()). */
static char *trimmed(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s))
    s++, n--;
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  return strndup(s, n);
}

/* Calls |fn| for each comma-separated item of |text| (trimmed, empty items skipped). Stops at
 * the first non-zero return. */
static int each_item(const char *text, int (*fn)(const char *item, void *ud), void *ud) {
  const char *p = text;
  while (*p) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    char *item = trimmed(p, n);
    int rc = !item ? SB_ENOMEM : *item ? fn(item, ud) : 0;
    free(item);
    if (rc) return rc;
    p += n + (c ? 1 : 0);
  }
  return 0;
}

typedef struct item_ctx {
  json_t *out;
  const char *label;
  sb_err *err;
} item_ctx;

static int list_item(const char *item, void *ud) {
  item_ctx *x = ud;
  return json_array_append_new(x->out, json_string(item)) ? SB_ENOMEM : 0;
}

/* "key:value" (envconfig's maps) or "key=value" (--tag), split at the first |sep|. */
static int pair_item(const char *item, void *ud, char sep) {
  item_ctx *x = ud;
  const char *s = strchr(item, sep);
  if (!s || s == item)
    return sb_err_set(x->err, SB_EINVAL, "%s: '%s': expected name%cvalue", x->label, item, sep);
  char *k = strndup(item, (size_t)(s - item));
  int rc = !k || json_object_set_new(x->out, k, json_string(s + 1)) ? SB_ENOMEM : 0;
  free(k);
  return rc;
}
static int map_item(const char *item, void *ud) {
  return pair_item(item, ud, ':');
}
static int tag_item(const char *item, void *ud) {
  return pair_item(item, ud, '=');
}

/* "30s:10": k6's Stage.UnmarshalText. */
static int stage_item(const char *item, void *ud) {
  item_ctx *x = ud;
  const char *c = strrchr(item, ':');
  char *end;
  if (!c || c == item || !c[1])
    return sb_err_set(x->err, SB_EINVAL, "%s: '%s': expected DURATION:TARGET, e.g. 30s:10",
                      x->label, item);
  long long target = strtoll(c + 1, &end, 10);
  if (*end || target < 0)
    return sb_err_set(x->err, SB_EINVAL, "%s: '%s': the target must be a non-negative integer",
                      x->label, item);
  char *d = strndup(item, (size_t)(c - item));
  json_t *st = d ? json_pack("{s:s, s:I}", "duration", d, "target", (json_int_t)target) : NULL;
  free(d);
  return !st || json_array_append_new(x->out, st) ? SB_ENOMEM : 0;
}

/* "ttl=1m,select=first,policy=any" (any subset) -> {ttl, select, policy}; the values are checked
 * by the parser (controller/options_http.c). */
static int dns_item(const char *item, void *ud) {
  item_ctx *x = ud;
  const char *eq = strchr(item, '=');
  char *k = strndup(item, eq ? (size_t)(eq - item) : strlen(item));
  int rc = 0;
  if (!k) return SB_ENOMEM;
  if (!eq || !eq[1])
    rc = sb_err_set(x->err, SB_EINVAL,
                    "%s: no value for key '%s' (expected ttl=5m,select=random,policy=preferIPv4)",
                    x->label, k);
  else if (strcmp(k, "ttl") && strcmp(k, "select") && strcmp(k, "policy"))
    rc = sb_err_set(x->err, SB_EINVAL,
                    "%s: unknown DNS configuration field '%s' (use ttl, select or policy)",
                    x->label, k);
  else if (json_object_set_new(x->out, k, json_string(eq + 1)))
    rc = SB_ENOMEM;
  free(k);
  return rc;
}

/* The JSON value of |text| read as |type|; NULL with |err| set (named by |label|). */
static json_t *from_text(val_type type, const char *text, const char *label, sb_err *err) {
  item_ctx x = {NULL, label, err};
  int rc = 0, b;
  char *end;
  switch (type) {
  case V_BOOL:
    if ((b = sb_config_parse_bool(text)) < 0) {
      sb_err_set(err, SB_EINVAL, "%s: '%s' is not a boolean (use true or false)", label, text);
      return NULL;
    }
    return json_boolean(b);
  case V_INT: {
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno) {
      sb_err_set(err, SB_EINVAL, "%s: '%s' is not an integer", label, text);
      return NULL;
    }
    return json_integer((json_int_t)v);
  }
  case V_STRING:
    if (!(x.out = json_string(text))) sb_err_set(err, SB_EINVAL, "%s: not UTF-8 text", label);
    return x.out;
  case V_LIST:
    x.out = json_array();
    rc = x.out ? each_item(text, list_item, &x) : 0;
    break;
  case V_MAP:
    x.out = json_object();
    rc = x.out ? each_item(text, map_item, &x) : 0;
    break;
  case V_STAGES:
    x.out = json_array();
    rc = x.out ? each_item(text, stage_item, &x) : 0;
    break;
  case V_DNS:
    x.out = json_object();
    rc = x.out ? each_item(text, dns_item, &x) : 0;
    break;
  default: return NULL;
  }
  if (!x.out || rc) {
    if (rc == SB_ENOMEM || !x.out) sb_err_set(err, SB_ENOMEM, "%s: out of memory", label);
    json_decref(x.out);
    return NULL;
  }
  return x.out;
}

/* ---- the layers ---- */

/* A layer's `dns` in the text form becomes the object form, so that layers merge field by
 * field. */
static int normalize_dns(json_t *layer, const char *label, sb_err *err) {
  json_t *d = json_object_get(layer, "dns");
  if (!json_is_string(d)) return 0;
  json_t *o = from_text(V_DNS, json_string_value(d), label, err);
  if (!o) return SB_EINVAL;
  return json_object_set_new(layer, "dns", o) ? sb_err_set(err, SB_ENOMEM, "out of memory") : 0;
}

/* The K6_* variables of |env| that k6 reads as options. */
static json_t *env_layer(const char *const *env, sb_err *err) {
  json_t *o = json_object();
  for (size_t i = 0; o && env && env[i]; i++) {
    const char *eq = strchr(env[i], '=');
    if (!eq || strncmp(env[i], "K6_", 3)) continue;
    for (size_t k = 0; k < NKEYS; k++) {
      if (!keys[k].env || strlen(keys[k].env) != (size_t)(eq - env[i]) ||
          strncmp(keys[k].env, env[i], (size_t)(eq - env[i])))
        continue;
      json_t *v = from_text(keys[k].type, eq + 1, keys[k].env, err);
      if (!v || json_object_set_new(o, keys[k].key, v)) {
        if (!v && !err->msg[0]) sb_err_set(err, SB_ENOMEM, "%s: out of memory", keys[k].env);
        json_decref(o);
        return NULL;
      }
    }
  }
  if (!o) sb_err_set(err, SB_ENOMEM, "environment: out of memory");
  return o;
}

/* The config file to read: --config, else $K6_CONFIG, else k6's default location
 * ($XDG_CONFIG_HOME/k6/config.json or ~/.config/k6/config.json), the last only when it exists. */
static const char *config_path(const sb_option_sources *src, char *buf, size_t cap) {
  const char *p = src->cli ? src->cli->config_path : NULL, *xdg = NULL, *home = NULL;
  struct stat st;
  for (size_t i = 0; src->environ && src->environ[i]; i++) {
    const char *e = src->environ[i];
    if (!strncmp(e, "K6_CONFIG=", 10) && e[10] && !p) p = e + 10;
    if (!strncmp(e, "XDG_CONFIG_HOME=", 16)) xdg = e + 16;
    if (!strncmp(e, "HOME=", 5)) home = e + 5;
  }
  if (p || src->no_default_config) return p;
  if (xdg && *xdg)
    snprintf(buf, cap, "%s/k6/config.json", xdg);
  else if (home && *home)
    snprintf(buf, cap, "%s/.config/k6/config.json", home);
  else
    return NULL;
  return stat(buf, &st) == 0 ? buf : NULL;
}

/* k6's JSON config file as a layer; NULL with |err| set. |*label| gets "--config PATH". */
static json_t *config_layer(const sb_option_sources *src, char *label, size_t cap, int *rc,
                            sb_err *err) {
  char def[4096];
  const char *path = config_path(src, def, sizeof(def));
  json_error_t je;
  sb_buf b;
  if (!path) return json_object();
  snprintf(label, cap, "--config %s", path);
  sb_buf_init(&b);
  if ((*rc = sb_buf_read_file(&b, path, err))) {
    sb_buf_clear(&b);
    sb_err_prefix(err, "%s: ", label);
    return NULL;
  }
  json_t *o = json_loadb(b.data ? b.data : "", b.len, 0, &je);
  sb_buf_clear(&b);
  if (!o) {
    *rc = sb_err_set(err, SB_EFORMAT, "%s: invalid JSON at line %d: %s", label, je.line, je.text);
    return NULL;
  }
  if (!json_is_object(o)) {
    json_decref(o);
    *rc = sb_err_set(err, SB_EFORMAT, "%s: must be a JSON object of options", label);
    return NULL;
  }
  for (size_t i = 0; i < sizeof(config_only) / sizeof(config_only[0]); i++)
    json_object_del(o, config_only[i]);
  return o;
}

/* The script's options; unknown keys are warned about as k6 warns. */
static json_t *script_layer(const char *text, sb_err *err) {
  json_error_t je;
  const char *p = text;
  while (p && isspace((unsigned char)*p))
    p++;
  if (!p || !*p) return json_object();
  json_t *o = json_loads(p, JSON_DECODE_ANY, &je);
  if (!o) {
    sb_err_set(err, SB_EFORMAT, "options: invalid JSON at line %d: %s", je.line, je.text);
    return NULL;
  }
  if (json_is_null(o)) {
    json_decref(o);
    return json_object();
  }
  if (!json_is_object(o)) {
    json_decref(o);
    sb_err_set(err, SB_EINVAL, "options: must be an object");
    return NULL;
  }
  return o;
}

/* Warns about keys k6 does not know (|layer| is the script: k6's warning) and about keys k6
 * knows that speedboat does not implement (any layer). */
static void warn_keys(json_t *o, sb_layer layer, const char *label) {
  const char *key;
  json_t *v;
  sb_buf unknown;
  sb_buf_init(&unknown);
  json_object_foreach(o, key, v) {
    const known_key *k = find_key(key);
    if (json_is_null(v)) continue;
    if (!k && layer == SB_LAYER_SCRIPT)
      (void)sb_buf_printf(&unknown, "%s\"%s\"", unknown.len ? ", " : "", key);
    else if (k && !k->supported && layer == SB_LAYER_ENV)
      fprintf(stderr, "WARN[0000] %s: speedboat does not implement this k6 option; ignored\n",
              k->env);
    else if (k && !k->supported)
      fprintf(stderr, "WARN[0000] %s%s: speedboat does not implement this k6 option; ignored\n",
              layer == SB_LAYER_SCRIPT ? "options." : label, key);
  }
  if (unknown.len)
    fprintf(stderr,
            "WARN[0000] There were unknown fields in the options exported in the script: %s\n",
            unknown.data);
  sb_buf_clear(&unknown);
}

/* ---- the command line ---- */

/* Sets |key| of |o| to |v| (taken); SB_ENOMEM when either fails. */
static int put(json_t *o, const char *key, json_t *v) {
  return v && !json_object_set_new(o, key, v) ? 0 : SB_ENOMEM;
}

/* Each string of |v| split at commas into one array (k6's StringSlice flags). */
static json_t *joined_list(char *const *v, size_t n, const char *label, sb_err *err) {
  json_t *a = json_array();
  item_ctx x = {a, label, err};
  for (size_t i = 0; a && i < n; i++)
    if (each_item(v[i], list_item, &x)) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static json_t *cli_stages(const sb_cli_overrides *cli) {
  json_t *a = json_array();
  char d[32];
  for (size_t i = 0; a && i < cli->nstages; i++) {
    sb_duration_format_ms(cli->stages[i].duration_ms, d, sizeof(d));
    if (json_array_append_new(a, json_pack("{s:s, s:I}", "duration", d, "target",
                                           (json_int_t)cli->stages[i].target))) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* The scalar flags: set only when given. */
static int cli_scalars(json_t *o, const sb_cli_overrides *c) {
  char d[32];
  int rc = 0;
  if (c->vus >= 0) rc |= put(o, "vus", json_integer(c->vus));
  if (c->iterations >= 0) rc |= put(o, "iterations", json_integer(c->iterations));
  if (c->duration_ms >= 0) {
    sb_duration_format_ms(c->duration_ms, d, sizeof(d));
    rc |= put(o, "duration", json_string(d));
  }
  if (c->nstages) rc |= put(o, "stages", cli_stages(c));
  if (c->no_thresholds) rc |= put(o, "noThresholds", json_true());
  if (c->no_summary) rc |= put(o, "noSummary", json_true());
  if (c->insecure_skip_tls_verify) rc |= put(o, "insecureSkipTLSVerify", json_true());
  if (c->no_connection_reuse) rc |= put(o, "noConnectionReuse", json_true());
  if (c->no_vu_connection_reuse) rc |= put(o, "noVUConnectionReuse", json_true());
  if (c->throw_errors) rc |= put(o, "throw", json_true());
  if (c->discard_response_bodies) rc |= put(o, "discardResponseBodies", json_true());
  if (c->linger) rc |= put(o, "linger", json_true());
  if (c->max_redirects >= 0) rc |= put(o, "maxRedirects", json_integer(c->max_redirects));
  if (c->batch >= 0) rc |= put(o, "batch", json_integer(c->batch));
  if (c->batch_per_host >= 0) rc |= put(o, "batchPerHost", json_integer(c->batch_per_host));
  if (c->user_agent) rc |= put(o, "userAgent", json_string(c->user_agent));
  if (c->summary_time_unit) rc |= put(o, "summaryTimeUnit", json_string(c->summary_time_unit));
  return rc ? SB_ENOMEM : 0;
}

/* The list flags; errors name the flag. */
static int cli_lists(json_t *o, const sb_cli_overrides *c, sb_err *err) {
  json_t *v;
  if (c->nsummary_trend_stats && put(o, "summaryTrendStats",
                                     joined_list(c->summary_trend_stats, c->nsummary_trend_stats,
                                                 "--summary-trend-stats", err)))
    return SB_ENOMEM;
  if (c->nsystem_tags &&
      put(o, "systemTags", joined_list(c->system_tags, c->nsystem_tags, "--system-tags", err)))
    return SB_ENOMEM;
  if (c->nblock_hostnames &&
      put(o, "blockHostnames",
          joined_list(c->block_hostnames, c->nblock_hostnames, "--block-hostnames", err)))
    return SB_ENOMEM;
  if (c->ntags) {
    item_ctx x = {json_object(), "--tag", err};
    for (size_t i = 0; x.out && i < c->ntags; i++)
      if (each_item(c->tags[i], tag_item, &x)) {
        json_decref(x.out);
        return SB_EINVAL;
      }
    if (put(o, "tags", x.out)) return SB_ENOMEM;
  }
  if (c->dns) {
    if (!(v = from_text(V_DNS, c->dns, "--dns", err))) return SB_EINVAL;
    if (put(o, "dns", v)) return SB_ENOMEM;
  }
  return 0;
}

/* The command-line flags as a layer; NULL with |err| set ("--dns: no value for key 'ttl'"). */
static json_t *cli_layer(const sb_cli_overrides *cli, sb_err *err) {
  json_t *o = json_object();
  int rc = o ? 0 : SB_ENOMEM;
  err->msg[0] = '\0';
  if (!rc && cli) rc = cli_scalars(o, cli);
  if (!rc && cli) rc = cli_lists(o, cli, err);
  if (rc) {
    if (!err->msg[0]) sb_err_set(err, SB_ENOMEM, "command line: out of memory");
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ---- merging ---- */

/* Records that |layer| (named |label|) set |key|. */
static void mark(sb_config_layers *l, const char *key, sb_layer layer, const char *label) {
  if (!l) return;
  json_object_set_new(l->layer, key, json_integer(layer));
  json_object_set_new(l->label, key, json_string(label));
}

static void unmark(sb_config_layers *l, const char *key) {
  if (!l) return;
  json_object_del(l->layer, key);
  json_object_del(l->label, key);
}

/* The label of |key| set by |layer|: the env var, the flag, or the config file. */
static const char *label_of(const char *key, sb_layer layer, const char *config_label) {
  const known_key *k = find_key(key);
  if (layer == SB_LAYER_ENV && k && k->env) return k->env;
  if (layer == SB_LAYER_CLI && k && k->flag) return k->flag;
  if (layer == SB_LAYER_CONFIG) return config_label;
  return "options";
}

/* k6's Options.Apply of |upper| over |lower|, recording provenance in |l| (may be NULL). */
static int apply(json_t *lower, json_t *upper, sb_config_layers *l, sb_layer layer,
                 const char *config_label) {
  const char *key;
  json_t *v;
  int execution = 0;
  for (size_t i = 0; i < 4; i++) {
    v = json_object_get(upper, exec_keys[i]);
    execution |= v && !json_is_null(v);
  }
  for (size_t i = 0; execution && i < 4; i++) {
    json_object_del(lower, exec_keys[i]);
    unmark(l, exec_keys[i]);
  }
  json_object_foreach(upper, key, v) {
    const char *label = label_of(key, layer, config_label);
    char sub[64];
    if (json_is_null(v) || (!strcmp(key, "tags") && json_is_object(v) && !json_object_size(v)))
      continue;
    if (!strcmp(key, "dns") && json_is_object(v) && json_is_object(json_object_get(lower, key))) {
      const char *f;
      json_t *fv;
      json_object_foreach(v, f, fv) {
        if (json_is_null(fv)) continue;
        if (json_object_set(json_object_get(lower, key), f, fv)) return SB_ENOMEM;
        snprintf(sub, sizeof(sub), "dns.%.40s", f);
        mark(l, sub, layer, label);
      }
      mark(l, key, layer, label);
      continue;
    }
    if (json_object_set(lower, key, v)) return SB_ENOMEM;
    mark(l, key, layer, label);
    if (!strcmp(key, "dns") && json_is_object(v)) {
      const char *f;
      json_t *fv;
      json_object_foreach(v, f, fv) {
        snprintf(sub, sizeof(sub), "dns.%.40s", f);
        mark(l, sub, layer, label);
      }
    }
  }
  return 0;
}

/* ---- the whole stack ---- */

void sb_config_layers_free(sb_config_layers *l) {
  if (!l) return;
  json_decref(l->merged);
  json_decref(l->layer);
  json_decref(l->label);
  free(l->json);
  free(l);
}

/* Reads layer |i| into |*o|. |label| gets the config file's name. Returns 0 or an SB_E* code
 * (|err| set). */
static int read_layer(sb_layer i, const sb_option_sources *src, char *label, size_t cap, json_t **o,
                      sb_err *err) {
  int rc = 0;
  switch (i) {
  case SB_LAYER_CONFIG: *o = config_layer(src, label, cap, &rc, err); break;
  case SB_LAYER_SCRIPT: *o = script_layer(src->script_json, err); break;
  case SB_LAYER_ENV: *o = env_layer(src->environ, err); break;
  default: *o = cli_layer(src->cli, err); break;
  }
  if (*o) return 0;
  if (rc) return rc;
  return err->msg[0] ? SB_EINVAL : sb_err_set(err, SB_ENOMEM, "options: out of memory");
}

int sb_config_layers_load(sb_config_layers **out, const sb_option_sources *src, sb_err *err) {
  char label[4200] = "", prefix[4300];
  int rc = 0;
  sb_config_layers *l = calloc(1, sizeof(*l));
  err->msg[0] = '\0';
  if (!l || !(l->merged = json_object()) || !(l->layer = json_object()) ||
      !(l->label = json_object())) {
    sb_config_layers_free(l);
    return sb_err_set(err, SB_ENOMEM, "options: out of memory");
  }
  for (int i = 0; i < SB_LAYER_COUNT && !rc; i++) {
    json_t *o;
    if ((rc = read_layer((sb_layer)i, src, label, sizeof(label), &o, err))) break;
    snprintf(prefix, sizeof(prefix), "%s: ", label);
    warn_keys(o, (sb_layer)i, prefix);
    if (!(rc = normalize_dns(o,
                             i == SB_LAYER_SCRIPT   ? "options.dns"
                             : i == SB_LAYER_CONFIG ? label
                                                    : "K6_DNS",
                             err)))
      rc = apply(l->merged, o, l, (sb_layer)i, label);
    json_decref(o);
  }
  if (!rc && !(l->json = json_dumps(l->merged, JSON_COMPACT)))
    rc = sb_err_set(err, SB_ENOMEM, "options: out of memory");
  if (rc) {
    sb_config_layers_free(l);
    return rc;
  }
  *out = l;
  return 0;
}

const char *sb_config_layers_json(const sb_config_layers *l) {
  return l->json;
}

int sb_config_layers_source(const sb_config_layers *l, const char *key) {
  json_t *v = json_object_get(l->layer, key);
  return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

/* "options.dns.ttl: bad" -> "K6_DNS: dns.ttl: bad" when K6_DNS set dns.ttl. */
void sb_config_layers_name_source(const sb_config_layers *l, sb_err *err) {
  char key[128], msg[SB_ERR_MAX];
  const char *p = err->msg + 8;
  size_t n = strcspn(p, ".[:");
  if (strncmp(err->msg, "options.", 8) || n == 0 || n >= 64) return;
  snprintf(key, sizeof(key), "%.*s", (int)n, p);
  if (!strcmp(key, "dns") && p[n] == '.') { /* dns merges field by field */
    size_t f = strcspn(p + n + 1, ".[:");
    char sub[128];
    snprintf(sub, sizeof(sub), "dns.%.*s", (int)(f < 40 ? f : 40), p + n + 1);
    if (json_object_get(l->label, sub)) snprintf(key, sizeof(key), "%s", sub);
  }
  json_t *lab = json_object_get(l->label, key), *lay = json_object_get(l->layer, key);
  if (!json_is_string(lab) || !json_is_integer(lay) || json_integer_value(lay) == SB_LAYER_SCRIPT)
    return;
  snprintf(msg, sizeof(msg), "%s: %s", json_string_value(lab), p);
  snprintf(err->msg, sizeof(err->msg), "%s", msg);
}
