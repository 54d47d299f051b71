/* The built-in modules a script can import, by name: one table for the VUs and for the
 * controller's init context (where only the pure ones run for real; the others are stubs there). */
#include <string.h>

#include "agent/js_modules.h"
#include "agent/vu.h"

static const struct {
  const char *name;
  void (*push)(duk_context *ctx);
  int pure; /* needs no VU: usable as it is in the controller's init context (k6 allows it) */
} MODULES[] = {
    {"k6", sb_js_k6_push, 0},
    {"k6/metrics", sb_js_k6_metrics_push, 0},
    {"k6/http", sb_js_http_push, 0},
    {"k6/encoding", sb_js_encoding_push, 1},
    {"k6/crypto", sb_js_crypto_push, 1},
    {"k6/execution", sb_js_execution_push, 0},
    {"k6/html", sb_js_html_push, 1},
    {"k6/data", sb_js_data_push, 0},
    {"k6/timers", sb_js_timers_push, 0},
    {"k6/experimental/timers", sb_js_timers_push, 0},
};

int sb_js_module_push(duk_context *ctx, const char *name, int pure_only) {
  for (size_t i = 0; i < sizeof(MODULES) / sizeof(MODULES[0]); i++)
    if (strcmp(name, MODULES[i].name) == 0) {
      if (pure_only && !MODULES[i].pure) return 0;
      MODULES[i].push(ctx);
      return 1;
    }
  return 0;
}
