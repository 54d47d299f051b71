/* controller/options_limits.c: maxVUMemory and initTimeout, through sb_options_parse(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "controller/options.h"

static void test_values(void **state) {
  sb_options *o;
  sb_err err = {{0}};
  assert_int_equal(sb_options_parse(&o, "{}", NULL, &err), 0);
  assert_int_equal(o->max_vu_memory, 0); /* the agent's default */
  assert_int_equal(o->init_timeout_ms, 0);
  sb_options_free(o);
  assert_int_equal(sb_options_parse(&o, "{\"maxVUMemory\":\"64MiB\",\"initTimeout\":\"90s\"}", NULL,
                                    &err), 0);
  assert_int_equal(o->max_vu_memory, (uint64_t)64 << 20);
  assert_int_equal(o->init_timeout_ms, 90000);
  sb_options_free(o);
  assert_int_equal(sb_options_parse(&o, "{\"maxVUMemory\":16777216,\"initTimeout\":1500}", NULL,
                                    &err), 0);
  assert_int_equal(o->max_vu_memory, (uint64_t)16 << 20);
  assert_int_equal(o->init_timeout_ms, 1500);
  sb_options_free(o);
  assert_int_equal(sb_options_parse(&o, "{\"maxVUMemory\":\"1G\",\"initTimeout\":null}", NULL,
                                    &err), 0);
  assert_int_equal(o->max_vu_memory, (uint64_t)1 << 30);
  sb_options_free(o);
}

static void test_errors(void **state) {
  static const struct {
    const char *json, *msg;
  } bad[] = {
      {"{\"maxVUMemory\":\"12 parsecs\"}", "options.maxVUMemory: '12 parsecs' is not a size"},
      {"{\"maxVUMemory\":1000}", "options.maxVUMemory: must be at least 1MiB"},
      {"{\"maxVUMemory\":-5}", "options.maxVUMemory: must be a positive number of bytes"},
      {"{\"maxVUMemory\":true}", "options.maxVUMemory: '?' is not a size"},
      {"{\"initTimeout\":\"soon\"}", "options.initTimeout: invalid duration 'soon'"},
      {"{\"initTimeout\":0}", "options.initTimeout: must be more than 0"},
      {"{\"initTimeout\":[1]}", "options.initTimeout: must be a duration string"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sb_options *o = NULL;
    sb_err err = {{0}};
    assert_int_equal(sb_options_parse(&o, bad[i].json, NULL, &err), SB_EINVAL);
    assert_null(o);
    if (!strstr(err.msg, bad[i].msg)) fail_msg("%s: got '%s'", bad[i].json, err.msg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
