/* host:port parsing and lookup (see hostport.h). */
#include "common/hostport.h"

#include <netdb.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

int sb_hostport_split(const char *spec, char *host, size_t cap, const char **port) {
  const char *colon = strrchr(spec, ':');
  if (!colon || colon == spec) return SB_EINVAL;
  const char *h = spec;
  size_t n = (size_t)(colon - spec);
  if (h[0] == '[') {
    if (n < 3 || h[n - 1] != ']') return SB_EINVAL;
    h++;
    n -= 2;
  } else if (memchr(h, ':', n)) {
    return SB_EINVAL; /* a bare IPv6 address needs brackets */
  }
  if (n == 0 || n >= cap) return SB_EINVAL;
  memcpy(host, h, n);
  host[n] = '\0';
  *port = colon + 1;
  return 0;
}

int sb_hostport_lookup(const char *host, const char *port, const struct addrinfo *hints,
                       struct addrinfo **res) {
  return getaddrinfo(host && strcasecmp(host, "localhost") == 0 ? "127.0.0.1" : host, port, hints,
                     res);
}
