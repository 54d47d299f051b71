/* agent/allow.c: parsing --allow-targets, blocks, names, wildcards, `hosts` overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "agent/allow.h"

static struct sockaddr_storage SS;

/* A sockaddr for the numeric address |ip| (v4 or v6). */
static const struct sockaddr *sa_of(const char *ip) {
  memset(&SS, 0, sizeof(SS));
  struct sockaddr_in *in = (struct sockaddr_in *)&SS;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&SS;
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else {
    assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    in6->sin6_family = AF_INET6;
  }
  return (const struct sockaddr *)&SS;
}

static void test_blocks(void **state) {
  sb_allow *a;
  sb_err err = {{0}};
  assert_int_equal(sb_allow_parse(&a, "10.0.0.0/8, 192.168.1.5 ,127.0.0.1/32,fd00::/8,::1,"
                                      "172.16.7.9/12", &err), 0);
  assert_string_equal(sb_allow_describe(a), "10.0.0.0/8, 192.168.1.5/32, 127.0.0.1/32, fd00::/8, "
                                            "::1/128, 172.16.0.0/12");
  assert_true(sb_allow_check(a, "x", sa_of("10.255.1.2"), 1));
  assert_false(sb_allow_check(a, "x", sa_of("11.0.0.1"), 1));
  assert_true(sb_allow_check(a, "x", sa_of("192.168.1.5"), 1));
  assert_false(sb_allow_check(a, "x", sa_of("192.168.1.6"), 1));
  assert_true(sb_allow_check(a, "x", sa_of("127.0.0.1"), 1));
  assert_false(sb_allow_check(a, "x", sa_of("127.0.0.2"), 1)); /* the e2e test's alias */
  assert_true(sb_allow_check(a, "x", sa_of("172.31.255.255"), 1));
  assert_false(sb_allow_check(a, "x", sa_of("172.32.0.0"), 1));
  assert_true(sb_allow_check(a, "x", sa_of("fdab::1"), 1));
  assert_true(sb_allow_check(a, "x", sa_of("::1"), 1));
  assert_false(sb_allow_check(a, "x", sa_of("::2"), 1));
  assert_true(sb_allow_check(a, "x", sa_of("::ffff:10.1.1.1"), 1)); /* mapped: as IPv4 */
  assert_false(sb_allow_check(a, "x", sa_of("::ffff:169.254.169.254"), 1));
  assert_false(sb_allow_check(a, "x", sa_of("169.254.169.254"), 1));
  sb_allow_free(a);
  assert_true(sb_allow_check(NULL, "x", sa_of("169.254.169.254"), 1)); /* no list: everything */
  assert_string_equal(sb_allow_describe(NULL), "every target");
}

static void test_names(void **state) {
  sb_allow *a;
  sb_err err = {{0}};
  assert_int_equal(sb_allow_parse(&a, "API.Example.com.,*.staging.example.org", &err), 0);
  assert_string_equal(sb_allow_describe(a), "api.example.com, *.staging.example.org");
  const struct sockaddr *far = sa_of("203.0.113.9");
  assert_true(sb_allow_check(a, "api.example.com", far, 1));
  assert_true(sb_allow_check(a, "api.example.com.", far, 1));
  assert_false(sb_allow_check(a, "www.example.com", far, 1));
  assert_false(sb_allow_check(a, "xapi.example.com", far, 1));
  assert_true(sb_allow_check(a, "a.staging.example.org", far, 1));
  assert_true(sb_allow_check(a, "a.b.staging.example.org", far, 1));
  assert_false(sb_allow_check(a, "staging.example.org", far, 1)); /* the bare domain: not listed */
  assert_false(sb_allow_check(a, "evilstaging.example.org", far, 1));
  /* an address the test chose through `hosts`: a listed name does not carry it through */
  assert_false(sb_allow_check(a, "api.example.com", sa_of("169.254.169.254"), 0));
  sb_allow_free(a);
}

static void test_bad_entries(void **state) {
  static const char *const bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x",
                                    "exa mple.com", "*.", "*", "http://x.com", "", " , ,"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sb_allow *a = NULL;
    sb_err err = {{0}};
    assert_int_equal(sb_allow_parse(&a, bad[i], &err), SB_EINVAL);
    assert_null(a);
    assert_non_null(strstr(err.msg, "--allow-targets"));
  }
  sb_err err = {{0}};
  sb_allow *a = NULL;
  assert_int_equal(sb_allow_parse(&a, "10.0.0.0/33", &err), SB_EINVAL);
  assert_string_equal(err.msg, "--allow-targets: '10.0.0.0/33': prefix length must be 0..32");
  assert_int_equal(sb_allow_parse(&a, "0.0.0.0/0", &err), 0); /* every IPv4 address: allowed */
  assert_true(sb_allow_check(a, "x", sa_of("8.8.8.8"), 0));
  assert_false(sb_allow_check(a, "x", sa_of("::1"), 0));
  sb_allow_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_bad_entries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
