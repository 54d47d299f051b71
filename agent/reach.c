/* Target reachability (see reach.h). */
#include "agent/reach.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/hostport.h"

int sb_reach_check(const char *hostport, int timeout_ms, sb_err *err) {
  char host[300];
  const char *port;
  if (sb_hostport_split(hostport, host, sizeof(host), &port) || !*port)
    return sb_err_set(err, SB_EINVAL, "target '%s': expected HOST:PORT", hostport);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  int rc = sb_hostport_lookup(host, port, &hints, &ai);
  if (rc) return sb_err_set(err, SB_ENOTFOUND, "cannot resolve %s: %s", hostport, gai_strerror(rc));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    return sb_err_set(err, SB_EIO, "cannot reach %s: %s", hostport, strerror(errno));
  }
  int e = 0;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    e = errno;
    if (e == EINPROGRESS) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int n = poll(&p, 1, timeout_ms);
      socklen_t el = sizeof(e);
      if (n == 0) e = ETIMEDOUT;
      else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el)) e = errno;
    }
  }
  freeaddrinfo(ai);
  close(fd);
  if (!e) return 0;
  return sb_err_set(err, e == ETIMEDOUT ? SB_ETIMEDOUT : SB_EIO, "cannot reach %s: %s", hostport,
                    e == ETIMEDOUT ? "no answer within the deadline" : strerror(e));
}
