/* Agent lists: entries, weights, IPv6, files, and clear errors for bad ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/agents.h"

static void test_entries(void **state) {
  (void)state;
  sb_agent_list l = {0};
  sb_err err = {{0}};
  assert_int_equal(sb_agents_add(&l, "127.0.0.1:6566,127.0.0.2:7000@3, [::1]:6566", "--agents", &err), 0);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.v[0].name, "127.0.0.1:6566");
  assert_int_equal(l.v[0].weight, 1);
  assert_int_equal(((struct sockaddr_in *)&l.v[0].sa)->sin_port, htons(6566));
  assert_string_equal(l.v[1].name, "127.0.0.2:7000");
  assert_int_equal(l.v[1].weight, 3);
  assert_string_equal(l.v[2].name, "[::1]:6566");
  assert_int_equal(l.v[2].sa.ss_family, AF_INET6);
  /* the same address twice is one agent */
  assert_int_equal(sb_agents_add(&l, "127.0.0.1:6566", "--agents", &err), 0);
  assert_int_equal(l.n, 3);
  /* a name: IPv4 addresses only when it has some */
  assert_int_equal(sb_agents_add(&l, "localhost:6570", "--agents", &err), 0);
  assert_int_equal(l.n, 4);
  assert_string_equal(l.v[3].name, "localhost:6570");
  assert_string_equal(l.v[3].host, "localhost");
  sb_agents_clear(&l);
}

static void test_bad_entries(void **state) {
  (void)state;
  static const char *bad[] = {"127.0.0.1", "127.0.0.1:", ":6566", "127.0.0.1:x", "127.0.0.1:99999",
                              "127.0.0.1:6566@0", "127.0.0.1:6566@x", "::1:6566", "[::1:6566", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sb_agent_list l = {0};
    sb_err err = {{0}};
    assert_int_equal(sb_agents_add(&l, bad[i], "--agents", &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "--agents"));
    sb_agents_clear(&l);
  }
  sb_agent_list l = {0};
  sb_err err = {{0}};
  assert_int_equal(sb_agents_add(&l, "no-such-host.invalid:6566", "--agents", &err), SB_ENOTFOUND);
  assert_non_null(strstr(err.msg, "no-such-host.invalid"));
  sb_agents_clear(&l);
}

static void test_file(void **state) {
  (void)state;
  char path[] = "/tmp/sb-agents-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char text[] = "# fleet\n127.0.0.1:6566\n\n127.0.0.1:6567@2  # big one\r\n127.0.0.1:6568, 127.0.0.1:6569\n";
  assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
  close(fd);
  sb_agent_list l = {0};
  sb_err err = {{0}};
  assert_int_equal(sb_agents_add_file(&l, path, &err), 0);
  assert_int_equal(l.n, 4);
  assert_int_equal(l.v[1].weight, 2);
  sb_agents_clear(&l);
  FILE *f = fopen(path, "w");
  fputs("127.0.0.1:6566\nnonsense\n", f);
  fclose(f);
  assert_int_equal(sb_agents_add_file(&l, path, &err), SB_EINVAL);
  char where[64];
  snprintf(where, sizeof(where), "%s:2", path);
  assert_non_null(strstr(err.msg, where)); /* names the file and line */
  sb_agents_clear(&l);
  f = fopen(path, "w");
  fclose(f);
  assert_int_equal(sb_agents_add_file(&l, path, &err), SB_EINVAL);
  assert_non_null(strstr(err.msg, "no agent"));
  unlink(path);
  assert_int_equal(sb_agents_add_file(&l, path, &err), SB_ENOTFOUND);
  sb_agents_clear(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entries),
      cmocka_unit_test(test_bad_entries),
      cmocka_unit_test(test_file),
  };
  return cmocka_run_group_tests_name("agents", tests, NULL, NULL);
}
