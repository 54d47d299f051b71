/* `speedboat status|pause|resume|scale` (controller/api_cli.h): one HTTP request to the run's
 * REST API with libevent's evhttp client, its answer printed. */
#include "controller/api_cli.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "controller/api.h"
#include "controller/run.h"

#define TIMEOUT_S 5

typedef struct answer {
  int status; /* HTTP status; 0: no answer */
  sb_buf body;
  struct event_base *base;
} answer;

static void on_answer(struct evhttp_request *rq, void *arg) {
  answer *a = arg;
  if (rq && evhttp_request_get_response_code(rq)) {
    a->status = evhttp_request_get_response_code(rq);
    struct evbuffer *in = evhttp_request_get_input_buffer(rq);
    size_t n = evbuffer_get_length(in);
    if (n) sb_buf_append(&a->body, evbuffer_pullup(in, (ev_ssize_t)n), n);
  }
  event_base_loopbreak(a->base);
}

/* Sends |method| |path| with |body| (may be NULL) to |address|; fills |a|. */
static void request(const char *address, enum evhttp_cmd_type method, const char *body, answer *a) {
  char host[256];
  int port;
  sb_err err;
  if (sb_api_parse_address(address, host, sizeof(host), &port, &err)) {
    fprintf(stderr, "speedboat: %s\n", err.msg);
    return;
  }
  a->base = event_base_new();
  struct evhttp_connection *c =
      a->base ? evhttp_connection_base_new(a->base, NULL, host, (uint16_t)port) : NULL;
  struct evhttp_request *rq = c ? evhttp_request_new(on_answer, a) : NULL;
  if (rq) {
    evhttp_connection_set_timeout(c, TIMEOUT_S);
    struct evkeyvalq *h = evhttp_request_get_output_headers(rq);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Content-Type", "application/json");
    char len[24];
    snprintf(len, sizeof(len), "%zu", body ? strlen(body) : (size_t)0);
    if (body) evhttp_add_header(h, "Content-Length", len);
    if (body) evbuffer_add(evhttp_request_get_output_buffer(rq), body, strlen(body));
    if (evhttp_make_request(c, rq, method, "/v1/status") == 0) event_base_dispatch(a->base);
  }
  if (c) evhttp_connection_free(c);
  if (a->base) event_base_free(a->base);
}

/* The status document as "key: value" lines (k6's `k6 status` prints its YAML). */
static void print_status(json_t *doc) {
  static const char *const names[] = {
      "created", "init VUs", "init executors", "init done", "paused before run", "started",
      "setup",   "running",  "teardown",       "ended",     "interrupted"};
  json_t *at = json_object_get(json_object_get(doc, "data"), "attributes");
  json_int_t st = json_integer_value(json_object_get(at, "status"));
  printf("status: %s (%" JSON_INTEGER_FORMAT ")\n", st >= 0 && st <= 10 ? names[st] : "?", st);
  static const char *const keys[] = {"paused", "running", "stopped", "tainted", "vus", "vus-max"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
    json_t *v = json_object_get(at, keys[i]);
    if (json_is_boolean(v))
      printf("%s: %s\n", keys[i], json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
      printf("%s: %" JSON_INTEGER_FORMAT "\n", keys[i], json_integer_value(v));
  }
}

/* Prints what came back; returns the exit code. */
static int report(const char *address, answer *a) {
  if (!a->status) {
    fprintf(stderr,
            "speedboat: cannot reach the REST API at %s (is a test running there with "
            "its API on? see speedboat run --address)\n",
            address);
    return 255;
  }
  json_t *doc = json_loadb(a->body.data ? a->body.data : "", a->body.len, 0, NULL);
  int code = 0;
  if (a->status == 200 && doc) {
    print_status(doc);
  } else {
    json_t *e = json_array_get(json_object_get(doc, "errors"), 0);
    const char *d = json_string_value(json_object_get(e, "detail"));
    fprintf(stderr, "speedboat: the REST API answered %d: %s\n", a->status, d ? d : "(no detail)");
    code = 1;
  }
  json_decref(doc);
  return code;
}

int sb_api_cli_is_command(const char *cmd) {
  return !strcmp(cmd, "status") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume") ||
         !strcmp(cmd, "scale");
}

/* The PATCH body of |cmd|, or NULL for status (GET). */
static char *patch_body(const char *cmd, long long vus, const char *scenario) {
  json_t *a = json_object();
  if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume"))
    json_object_set_new(a, "paused", json_boolean(!strcmp(cmd, "pause")));
  if (!strcmp(cmd, "scale")) json_object_set_new(a, "vus", json_integer(vus));
  if (scenario) json_object_set_new(a, "scenario", json_string(scenario));
  json_t *doc =
      json_pack("{s:{s:s,s:s,s:o}}", "data", "type", "status", "id", "default", "attributes", a);
  char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  return s;
}

int sb_api_cli(int argc, char **argv) {
  static const struct option longopts[] = {{"address", required_argument, 0, 'a'},
                                           {"vus", required_argument, 0, 'u'},
                                           {"scenario", required_argument, 0, 's'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  const char *cmd = argv[0], *address = SB_API_DEFAULT_ADDRESS, *scenario = NULL;
  long long vus = -1;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "a:u:s:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'a': address = optarg; break;
    case 'u': vus = strtoll(optarg, NULL, 10); break;
    case 's': scenario = optarg; break;
    case 'h':
      printf("Usage: speedboat status|pause|resume [-a ADDR]\n"
             "       speedboat scale [-a ADDR] --vus N [--scenario NAME]\n"
             "ADDR is the run's --address (default " SB_API_DEFAULT_ADDRESS ").\n");
      return 0;
    default: return SB_EXIT_USAGE;
    }
  }
  if (optind != argc || (!strcmp(cmd, "scale") && vus < 0) ||
      (strcmp(cmd, "scale") && (vus >= 0 || scenario))) {
    fprintf(stderr, "speedboat: %s: %s\n", cmd,
            !strcmp(cmd, "scale") ? "expected --vus N (a non-negative integer), and --scenario "
                                    "NAME when several scenarios can scale"
                                  : "expected only -a/--address");
    return SB_EXIT_USAGE;
  }
  char *body = strcmp(cmd, "status") ? patch_body(cmd, vus, scenario) : NULL;
  answer a = {0};
  sb_buf_init(&a.body);
  request(address, body ? EVHTTP_REQ_PATCH : EVHTTP_REQ_GET, body, &a);
  int code = report(address, &a);
  sb_buf_clear(&a.body);
  free(body);
  return code;
}
