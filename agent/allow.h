/* The agent's target allowlist (`speedboat-agent --allow-targets`): the only addresses and host
 * names the VUs of this agent may open connections to, whatever the test asks. What makes a
 * shared agent pool safe: a test cannot turn the agents on the metadata service or the office
 * network.
 *
 * The list is the operator's, parsed once at start and read by every worker (read-only). Entries,
 * comma-separated:
 *   10.0.0.0/8, 192.168.1.5, fd00::/8, ::1    an address block (a bare address: that address)
 *   api.example.com                           that host name (any case; a final dot ignored)
 *   *.example.com                             any name ending in ".example.com" (not the bare
 *                                             domain: list it too when wanted)
 * A connection is allowed when its address (after DNS) is in a block, or when the URL's host
 * name is listed and the address came from DNS or the hosts file. An address the test itself
 * chose through k6's `hosts` option must be in a block: a listed name never carries a test's own
 * address past the list. An IPv4-mapped IPv6 address is checked as the IPv4 address. */
#ifndef SB_ALLOW_H
#define SB_ALLOW_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/err.h"

typedef struct sb_allow sb_allow;

/* Parses |spec| into |*out| (free with sb_allow_free()). Returns 0, or SB_EINVAL with |err|
 * naming the bad entry ("--allow-targets: '10.0.0.0/33': prefix length must be 0..32"), or
 * SB_ENOMEM. An empty |spec| is an error: no flag means everything is allowed. */
int sb_allow_parse(sb_allow **out, const char *spec, sb_err *err);
void sb_allow_free(sb_allow *a);

/* 1 when a connection to |sa| for the URL host |host| (lower case, no brackets or port) is
 * allowed, 0 when not. |name_counts| is 0 when the address came from the test's `hosts` option.
 * A NULL |a| allows everything. No allocation: called for every new connection. */
int sb_allow_check(const sb_allow *a, const char *host, const struct sockaddr *sa,
                   int name_counts);

/* The list as it will be enforced, for the agent's start-up line: "10.0.0.0/8, *.example.com". */
const char *sb_allow_describe(const sb_allow *a);

#endif
