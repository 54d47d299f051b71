/* Target reachability: a listening port, a closed one, a name that does not resolve. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/reach.h"

static int listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(fd, 4), 0);
  getsockname(fd, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return fd;
}

static void test_reach(void **state) {
  (void)state;
  int port, fd = listener(&port);
  char hp[64];
  sb_err err = {{0}};
  snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
  assert_int_equal(sb_reach_check(hp, 2000, &err), 0);
  snprintf(hp, sizeof(hp), "localhost:%d", port);
  assert_int_equal(sb_reach_check(hp, 2000, &err), 0);
  close(fd); /* now nothing listens there */
  snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
  assert_int_equal(sb_reach_check(hp, 2000, &err), SB_EIO);
  assert_non_null(strstr(err.msg, "refused"));
  assert_non_null(strstr(err.msg, hp));
  assert_int_equal(sb_reach_check("no-such-host.invalid:80", 2000, &err), SB_ENOTFOUND);
  assert_non_null(strstr(err.msg, "no-such-host.invalid"));
  assert_int_equal(sb_reach_check("nonsense", 2000, &err), SB_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reach)};
  return cmocka_run_group_tests_name("reach", tests, NULL, NULL);
}
