/* "host:port" as users write it (agents, --listen, targets) and the lookup of such a host.
 * IPv6 addresses are written in brackets, "[::1]:6566". */
#ifndef SB_HOSTPORT_H
#define SB_HOSTPORT_H

#include <stddef.h>

struct addrinfo;

/* Splits |spec| into |host| (brackets removed; |cap| bytes) and |*port| (points into |spec|).
 * Returns 0, or SB_EINVAL when there is no ":port", the host is empty or too long, or an IPv6
 * address is not in brackets. The port is not checked. */
int sb_hostport_split(const char *spec, char *host, size_t cap, const char **port);

/* getaddrinfo(), except that "localhost" is 127.0.0.1 without asking anyone (RFC 6761): a
 * machine without an /etc/hosts entry for it, or with ::1 listed first, still finds a server on
 * 127.0.0.1. Returns getaddrinfo()'s code. */
int sb_hostport_lookup(const char *host, const char *port, const struct addrinfo *hints,
                       struct addrinfo **res);

#endif
