/* controller/progress: k6's progress block rendered from a hand-made run state: the status line,
 * each executor's columns, TTY bars and plain percentages, marks, colours only when asked, the
 * agents' lines, in-place redraw on a "terminal" (a memory stream). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "controller/progress.h"
#include "test/unit/run_fixture.h"

static const char *MIX =
    "{\"scenarios\": {"
    "\"default\": {\"executor\": \"constant-vus\", \"vus\": 10, \"duration\": \"10s\"},"
    "\"ramp\": {\"executor\": \"ramping-vus\", \"startVUs\": 0, \"stages\": [{\"duration\": "
    "\"20s\","
    "           \"target\": 20}]},"
    "\"rate\": {\"executor\": \"constant-arrival-rate\", \"rate\": 50, \"duration\": \"10s\","
    "           \"preAllocatedVUs\": 5, \"maxVUs\": 10},"
    "\"shared\": {\"executor\": \"shared-iterations\", \"vus\": 2, \"iterations\": 100}}}";

static char *render(fixture *f, sb_progress_opts o) {
  sb_buf b;
  sb_buf_init(&b);
  sb_run_state_tick(&f->st);
  assert_true(sb_progress_render(&b, &f->st, T_NOW, &o) > 0);
  return sb_buf_steal(&b, NULL);
}

static void has(const char *text, const char *want) {
  if (!strstr(text, want)) fail_msg("no '%s' in:\n%s", want, text);
}

static void test_fixed_duration(void **state) {
  char s[32];
  sb_progress_fixed_duration(5.23, 30000, s, sizeof(s));
  assert_string_equal(s, "05.2s");
  sb_progress_fixed_duration(65.0, 90000, s, sizeof(s));
  assert_string_equal(s, "1m05.0s");
  sb_progress_fixed_duration(5.0, 90000, s, sizeof(s));
  assert_string_equal(s, "0m05.0s");
  sb_progress_fixed_duration(3725.0, 7200000, s, sizeof(s));
  assert_string_equal(s, "1h02m05.0s");
}

static void test_plain_block(void **state) {
  fixture f;
  fixture_init(&f, MIX, 1);
  f.agents[0].vus = 17, f.agents[0].vus_max = 32;
  f.scen_vus[0][0] = 10, f.scen_vus[0][1] = 5, f.scen_vus[0][2] = 2, f.scen_vus[0][3] = 0;
  fixture_add(&f, SB_M_ITERATIONS, "shared", NULL, 25);
  fixture_add(&f, SB_M_ITERATIONS, "default", NULL, 75);
  fixture_add(&f, SB_M_DROPPED_ITERATIONS, "rate", NULL, 7);
  f.agents[0].interrupted = 1;
  char *t = render(&f, (sb_progress_opts){0});
  has(t, "running (0m05.0s), 17/32 VUs, 100 complete and 1 interrupted iterations\n");
  has(t, "\ndefault   [  50% ] 10 VUs     05.0s/10s\n");
  has(t, "\nramp      [  25% ] 05/20 VUs  05.0s/20s\n");
  has(t, "\nrate      [  50% ] 02/10 VUs  05.0s/10s      50.00 iters/s         7 dropped\n");
  has(t, "\nshared    [  25% ] 2 VUs      0m05.0s/10m0s  025/100 shared iters\n");
  assert_null(strchr(t, '\033')); /* no colour, no cursor moves */
  free(t);
  f.st.paused = 1;
  t = render(&f, (sb_progress_opts){0});
  has(t, "paused (0m05.0s)");
  free(t);
  fixture_clear(&f);
}

static void test_tty_bars_and_marks(void **state) {
  fixture f;
  fixture_init(&f, "{\"vus\": 2, \"duration\": \"10s\"}", 1);
  char *t = render(&f, (sb_progress_opts){.tty = 1});
  has(t, "default   [==================>-------------------] 2 VUs  05.0s/10s\n");
  free(t);
  t = render(&f, (sb_progress_opts){.tty = 1, .color = 1});
  has(t, ">\033[2m-------------------\033[0m]");
  free(t);
  f.st.start_mono_us = T_NOW - 11000000; /* past its end */
  f.st.phase = SB_PHASE_ENDED;
  t = render(&f, (sb_progress_opts){.tty = 1, .color = 1});
  has(t, "finished (11.0s)");
  has(t, "default \033[32m✓\033[0m [======================================] 2 VUs  10s\n");
  free(t);
  fixture_clear(&f);

  fixture_init(&f, "{\"vus\": 2, \"iterations\": 10}", 1); /* cut short: ✗ */
  fixture_add(&f, SB_M_ITERATIONS, "default", NULL, 4);
  f.st.phase = SB_PHASE_ENDED;
  t = render(&f, (sb_progress_opts){0});
  has(t, "default ✗ [  40% ]");
  free(t);
  fixture_clear(&f);
}

static void test_agent_lines(void **state) {
  fixture f;
  fixture_init(&f, "{\"vus\": 6, \"duration\": \"10s\"}", 3);
  f.agents[0].vus = 3, f.agents[0].req_rate = 340.4, f.agents[0].rtt_us = 300;
  f.agents[0].snap_mono_us = T_NOW - 400000;
  f.agents[1].state = SB_AGENT_LOST, f.agents[1].lost_at_s = 3.2;
  snprintf(f.agents[1].lost_why, sizeof(f.agents[1].lost_why), "silent for 4.0 s");
  char *t = render(&f, (sb_progress_opts){.agents = 1});
  has(t, "  agent a1:6566  running   3 VUs  340 req/s  age 0.4s  rtt 0.3ms\n");
  has(t, "  agent a2:6566  lost at 3.2s (silent for 4.0 s)\n");
  has(t, "  agent a3:6566  running   0 VUs  0 req/s  rtt 0.0ms\n");
  free(t);
  t = render(&f, (sb_progress_opts){0});
  assert_null(strstr(t, "agent a1"));
  free(t);
  fixture_clear(&f);
}

/* The generator's health: cpu and loop lag on the agent's line; one "generator saturated" line
 * while an agent is saturated now, whatever the number of saturated agents. */
static void test_generator_saturated(void **state) {
  fixture f;
  fixture_init(&f, "{\"vus\": 6, \"duration\": \"10s\"}", 3);
  f.st.phase = SB_PHASE_RUNNING;
  f.agents[0].gen = (sb_rs_gen){.workers = 2, .cpu_max_pm = 424, .lag_max_us = 3400};
  f.agents[0].snap_mono_us = T_NOW - 400000;
  char *t = render(&f, (sb_progress_opts){.agents = 1});
  has(t, "  agent a1:6566  running   0 VUs  0 req/s  cpu 42%  loop lag 3ms  age 0.4s  rtt 0.0ms\n");
  assert_null(strstr(t, "generator saturated"));
  free(t);
  f.agents[1].gen = (sb_rs_gen){.workers = 1, .cpu_max_pm = 975, .lag_max_us = 120000};
  f.agents[2].gen = (sb_rs_gen){.workers = 1, .fds_open = 60, .fds_limit = 64};
  t = render(&f, (sb_progress_opts){0}); /* without the agents' lines too */
  has(t, "generator saturated: agent a2:6566 worker CPU 98% (and 1 more agents)\n");
  assert_null(strstr(strstr(t, "generator saturated") + 1, "generator saturated")); /* once */
  free(t);
  f.agents[1].gen.cpu_max_pm = 500;
  f.agents[2].state = SB_AGENT_DONE;
  t = render(&f, (sb_progress_opts){.tty = 1, .color = 1});
  has(t, "\033[31mgenerator saturated: agent a2:6566 loop lag 120ms\033[0m\n");
  free(t);
  f.st.phase = SB_PHASE_ENDED; /* the block left above the summary says nothing of it */
  t = render(&f, (sb_progress_opts){0});
  assert_null(strstr(t, "generator saturated"));
  free(t);
  fixture_clear(&f);
}

static void test_redraw_in_place(void **state) {
  fixture f;
  fixture_init(&f, "{\"vus\": 2, \"duration\": \"10s\"}", 1);
  char *mem = NULL;
  size_t len = 0;
  FILE *tty = open_memstream(&mem, &len);
  sb_progress *p;
  assert_int_equal(sb_progress_new(&p, tty, &(sb_progress_opts){.tty = 1}), 0);
  sb_progress_draw(p, &f.st, T_NOW);
  sb_progress_draw(p, &f.st, T_NOW);
  sb_progress_erase(p);
  sb_progress_erase(p); /* nothing drawn: no-op */
  sb_progress_free(p);
  fclose(tty);
  has(mem, "\033[K\n");        /* each line cleared to its end */
  has(mem, "\r\033[2A");       /* the second draw goes back up over the two lines */
  has(mem, "\r\033[2A\033[J"); /* the erase wipes them */
  assert_int_equal(strstr(strstr(mem, "\033[J") + 1, "\033[J"), NULL);
  free(mem);

  FILE *plain = open_memstream(&mem, &len); /* not a TTY: new lines each time, never moves */
  assert_int_equal(sb_progress_new(&p, plain, &(sb_progress_opts){0}), 0);
  sb_progress_draw(p, &f.st, T_NOW);
  sb_progress_draw(p, &f.st, T_NOW);
  sb_progress_erase(p);
  sb_progress_free(p);
  fclose(plain);
  assert_null(strchr(mem, '\033'));
  assert_non_null(strstr(strstr(mem, "running (") + 1, "running ("));
  free(mem);
  fixture_clear(&f);
}

static void test_no_color_env(void **state) {
  setenv("NO_COLOR", "1", 1);
  assert_false(sb_progress_color_allowed());
  setenv("NO_COLOR", "", 1);
  unsetenv("K6_NO_COLOR");
  assert_true(sb_progress_color_allowed());
  setenv("K6_NO_COLOR", "true", 1);
  assert_false(sb_progress_color_allowed());
  unsetenv("K6_NO_COLOR");
  unsetenv("NO_COLOR");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_duration),     cmocka_unit_test(test_plain_block),
      cmocka_unit_test(test_tty_bars_and_marks), cmocka_unit_test(test_agent_lines),
      cmocka_unit_test(test_generator_saturated),
      cmocka_unit_test(test_redraw_in_place),    cmocka_unit_test(test_no_color_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
