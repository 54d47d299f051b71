/* Tests for controller/output.c: --out values, files (plain and gzip), points from an agent's
 * decoder fanned out to every output, the controller's own samples, and the summary export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "controller/output.h"
#include "controller/output_internal.h"

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/sb_output_test.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd);
}

static void test_specs(void **state) {
  sb_outputs *o = NULL;
  sb_err err;
  const char *bad[] = {"influxdb=http://x"};
  assert_int_equal(sb_outputs_new(&o, bad, 1, NULL, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "unknown output type 'influxdb'"));
  const char *empty[] = {"json="};
  assert_int_equal(sb_outputs_new(&o, empty, 1, NULL, &err), SB_EINVAL);
  assert_int_equal(sb_outputs_new(&o, NULL, 0, NULL, &err), 0);
  assert_int_equal(sb_outputs_want_points(o), 0);
  char d[128];
  sb_outputs_describe(o, d, sizeof(d));
  assert_string_equal(d, "-");
  sb_outputs_free(o);
  const char *two[] = {"json=a.json", "csv", "json=b.gz"};
  assert_int_equal(sb_outputs_new(&o, two, 3, "s.json", &err), 0);
  assert_int_equal(sb_outputs_want_points(o), 1);
  sb_outputs_describe(o, d, sizeof(d));
  assert_string_equal(d, "json (a.json), csv (stdout), json (b.gz)");
  sb_outputs_free(o);
}

static void test_open_failure(void **state) {
  sb_outputs *o = NULL;
  sb_err err;
  const char *spec[] = {"csv=/nonexistent/dir/x.csv"};
  assert_int_equal(sb_outputs_new(&o, spec, 1, NULL, &err), 0);
  assert_int_equal(sb_outputs_start(o, NULL, &err), SB_EIO);
  assert_non_null(strstr(err.msg, "cannot create output file '/nonexistent/dir/x.csv'"));
  sb_outputs_free(o);
}

/* Reads a (possibly gzip) file whole. */
static char *slurp(const char *path) {
  gzFile f = gzopen(path, "rb");
  assert_non_null(f);
  size_t cap = 1 << 20;
  char *buf = calloc(1, cap);
  int n = gzread(f, buf, (unsigned)cap - 1);
  assert_true(n >= 0);
  gzclose(f);
  return buf;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
  return n;
}

/* An agent's points through encode -> unpack -> the outputs' decoder. */
static void feed(sb_outputs *o, sb_points_dec *d, sb_metrics *m, sb_points_enc *e) {
  uint8_t *buf;
  size_t len;
  sb_err err;
  assert_int_equal(sb_points_encode(e, m, 1, 0, &buf, &len), 0);
  Speedboat__Envelope *env = speedboat__envelope__unpack(NULL, len, buf);
  assert_non_null(env);
  assert_int_equal(sb_points_decode(d, env->points, 0, &err), 0);
  speedboat__envelope__free_unpacked(env, NULL);
  free(buf);
  sb_outputs_flush(o);
}

static void test_points_to_files(void **state) {
  char json[128], csv[128], sum[128];
  snprintf(json, sizeof(json), "%s/o.json.gz", dir);
  snprintf(csv, sizeof(csv), "%s/o.csv", dir);
  snprintf(sum, sizeof(sum), "%s/sum.json", dir);
  char jspec[160], cspec[160];
  snprintf(jspec, sizeof(jspec), "json=%s", json);
  snprintf(cspec, sizeof(cspec), "csv=%s", csv);
  const char *specs[] = {jspec, cspec};
  sb_outputs *o = NULL;
  sb_err err;
  assert_int_equal(sb_outputs_new(&o, specs, 2, sum, &err), 0);
  assert_int_equal(sb_outputs_start(o, NULL, &err), 0);
  sb_points_dec *d1 = NULL, *d2 = NULL;
  assert_int_equal(sb_outputs_decoder(o, &d1), 0);
  assert_int_equal(sb_outputs_decoder(o, &d2), 0);
  sb_metrics *m1 = NULL, *m2 = NULL, *run = NULL;
  assert_int_equal(sb_metrics_new(&m1), 0);
  assert_int_equal(sb_metrics_new(&m2), 0);
  assert_int_equal(sb_metrics_new(&run), 0);
  sb_metrics_points_enable(m1);
  sb_metrics_points_enable(m2);
  sb_points_enc e1, e2;
  sb_points_enc_init(&e1);
  sb_points_enc_init(&e2);
  const char *kv[] = {"check", "ok", "group", "::g"};
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 10; i++) {
      sb_metrics_add(m1, SB_M_HTTP_REQS, sb_metrics_tags(m1, kv + 2, 1), 1);
      sb_metrics_add(m2, SB_M_CHECKS, sb_metrics_tags(m2, kv, 2), i % 2);
    }
    sb_metrics_merge(run, m1, &err);
    sb_metrics_merge(run, m2, &err);
    feed(o, d1, m1, &e1);
    feed(o, d2, m2, &e2);
    sb_metrics_reset(m1);
    sb_metrics_reset(m2);
  }
  sb_outputs_sample(o, "vus", SB_METRIC_GAUGE, SB_VALUE_DEFAULT, NULL, 0, 1764522245000000, 3);
  sb_points_dec_free(d1);
  sb_points_dec_free(d2);
  assert_int_equal(sb_outputs_finish(o, run, 2.0, NULL, 0, &err), 0);
  sb_outputs_free(o);

  char *j = slurp(json);
  assert_int_equal(count(j, "{\"type\":\"Metric\""), 3); /* http_reqs, checks, vus: once each */
  assert_int_equal(count(j, "{\"metric\":\"http_reqs\",\"type\":\"Point\""), 30);
  assert_int_equal(count(j, "{\"metric\":\"checks\",\"type\":\"Point\""), 30);
  assert_int_equal(count(j, "\"tags\":{\"check\":\"ok\",\"group\":\"::g\"}}}\n"), 30);
  assert_int_equal(count(j, "{\"metric\":\"vus\",\"type\":\"Point\""), 1);
  free(j);
  char *c = slurp(csv);
  assert_int_equal(count(c, "\nhttp_reqs,"), 30);
  assert_int_equal(count(c, "\nchecks,"), 30);
  assert_int_equal(count(c, ",0.000000,ok,,,,::g,"), 15);
  free(c);
  char *s = slurp(sum);
  assert_non_null(strstr(s, "\"http_reqs\": {\n            \"count\": 30,\n            \"rate\": 15\n"));
  assert_non_null(strstr(s, "\"checks\": {\n            \"passes\": 15,\n            \"fails\": 15,\n"
                            "            \"value\": 0.5\n"));
  assert_non_null(strstr(s, "\"g\": {\n                \"name\": \"g\",\n                \"path\": \"::g\""));
  assert_non_null(strstr(s, "\"path\": \"::g::ok\""));
  free(s);
  sb_points_enc_clear(&e1);
  sb_points_enc_clear(&e2);
  sb_metrics_free(m1), sb_metrics_free(m2), sb_metrics_free(run);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_specs),
      cmocka_unit_test(test_open_failure),
      cmocka_unit_test(test_points_to_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
