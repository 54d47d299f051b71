/* The kernel's receive stamp of socket data, on the monotonic clock: what Speedboat's plain
 * HTTP/1.1 timings end on (agent/http_conn.c) and what make bench's reference client measures
 * alike (test/tools/ar_ref.c). The socket needs SO_TIMESTAMPNS; recvmsg() needs a control buffer
 * of CMSG_SPACE(sizeof(struct timespec)). */
#ifndef SB_RX_STAMP_H
#define SB_RX_STAMP_H

#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* When the bytes of the last recvmsg() reached the socket, on the monotonic clock (ms): the
 * kernel stamps each packet with the wall clock (SO_TIMESTAMPNS) and reports the newest one read,
 * whose age is subtracted from now. Now when there is no stamp (never earlier than |now|'s
 * clocks allow, never later than now). */
static inline double sb_rx_stamp_ms(struct msghdr *mh) {
  struct timespec mono, real;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  double now = mono.tv_sec * 1e3 + mono.tv_nsec / 1e6;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec ts;
    memcpy(&ts, CMSG_DATA(c), sizeof(ts));
    clock_gettime(CLOCK_REALTIME, &real);
    double age = (real.tv_sec - ts.tv_sec) * 1e3 + (real.tv_nsec - ts.tv_nsec) / 1e6;
    if (age > 0 && age < now) return now - age;
    break;
  }
  return now;
}

#endif
