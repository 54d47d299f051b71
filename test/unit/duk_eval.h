/* Evaluating JavaScript in a plain Duktape heap from a cmocka test: the file that includes this
 * defines `static duk_context *ctx;` first. Failures name the source that failed. */
#ifndef SB_TEST_DUK_EVAL_H
#define SB_TEST_DUK_EVAL_H

#include <stdio.h>
#include <string.h>

/* Evaluates |js| to a string (fails the test on an exception). The result lives until the next
 * call. */
static inline const char *eval_str(const char *js) {
  static char buf[4096];
  if (duk_peval_string(ctx, js) != 0) fail_msg("%s: %s", js, duk_safe_to_string(ctx, -1));
  snprintf(buf, sizeof(buf), "%s", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  return buf;
}

/* |js| evaluates to the string |want|. */
static inline void expect(const char *js, const char *want) {
  const char *got = eval_str(js);
  if (strcmp(got, want) != 0) fail_msg("%s\n got '%s'\nwant '%s'", js, got, want);
}

/* |js| throws an error whose text holds |msg|. */
static inline void expect_throw(const char *js, const char *msg) {
  if (duk_peval_string(ctx, js) == 0) fail_msg("%s did not throw", js);
  const char *m = duk_safe_to_string(ctx, -1);
  if (!strstr(m, msg)) fail_msg("%s: '%s' lacks '%s'", js, m, msg);
  duk_pop(ctx);
}

#endif
