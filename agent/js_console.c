/* The global `console`: log, info, warn, error, debug -> the VU's log callback, arguments joined
 * by spaces, objects as JSON (like k6), as UTF-8 (characters beyond U+FFFF, which Duktape keeps as
 * surrogate pairs, become one 4-byte sequence). Outside a VU heap the line goes to stderr. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/js_modules.h"
#include "agent/vu.h"
#include "common/duk_ext.h"

static const char *const LEVELS[] = {"info", "info", "warn", "error", "debug"};

/* duk_safe_call body: [ v ] -> [ JSON text ]. Throws on cycles, hence protected. (A safe call
 * sees the caller's whole value stack: the argument is at the top, not at index 0.) */
static duk_ret_t json_safe(duk_context *ctx, void *udata) {
  duk_json_encode(ctx, -1);
  return 1;
}

/* Replaces the value at |i| by its text: strings as is, plain objects and arrays as JSON. */
static void to_text(duk_context *ctx, duk_idx_t i) {
  if (duk_is_string(ctx, i)) return;
  if (duk_is_object(ctx, i) && !duk_is_function(ctx, i) && !duk_is_error(ctx, i)) {
    duk_dup(ctx, i);
    if (duk_safe_call(ctx, json_safe, NULL, 1, 1) == DUK_EXEC_SUCCESS && duk_is_string(ctx, -1)) {
      duk_replace(ctx, i);
      return;
    }
    duk_pop(ctx);
  }
  duk_safe_to_string(ctx, i);
}

const char *sb_js_console_line(duk_context *ctx, size_t *len) {
  duk_idx_t n = duk_get_top(ctx);
  for (duk_idx_t i = 0; i < n; i++) to_text(ctx, i);
  duk_push_string(ctx, " ");
  duk_insert(ctx, 0);
  duk_join(ctx, n);                                  /* -> [ line ] */
  duk_size_t l;
  const char *s = duk_get_lstring(ctx, -1, &l);
  if (memchr(s, 0xed, l)) { /* surrogates (CESU-8, as Duktape keeps astral characters) */
    uint8_t *w = duk_push_fixed_buffer(ctx, l);
    l = sb_js_cesu_to_utf8(w, (const uint8_t *)s, l);
    s = (const char *)w;
  }
  *len = l;
  return s;
}

static duk_ret_t console_out(duk_context *ctx) {
  int magic = duk_get_current_magic(ctx);
  const char *level = LEVELS[magic >= 0 && magic < 5 ? magic : 0];
  size_t len;
  const char *s = sb_js_console_line(ctx, &len);
  sb_vu *vu = sb_vu_from_ctx(ctx);
  const sb_vu_env *env = vu ? sb_vu_get_env(vu) : NULL;
  if (env && env->log)
    env->log(level, NULL, s, len, env->log_ud);
  else
    fprintf(stderr, "%s: %.*s\n", level, (int)len, s);
  return 0;
}

void sb_js_console_register(duk_context *ctx) {
  static const char *const names[] = {"log", "info", "warn", "error", "debug"};
  duk_push_object(ctx);
  for (int i = 0; i < 5; i++) {
    sb_duk_put_light(ctx, names[i], console_out, DUK_VARARGS, i);
  }
  duk_put_global_string(ctx, "console");
}
