/* sb-ar-ref: the open-model reference for `make bench`'s generator overhead (issue 11).
 *
 *   sb-ar-ref HOST:PORT PATH RATE SECONDS
 *
 * Sends GET PATH at RATE requests a second for SECONDS, each at its scheduled instant whether or
 * not the previous answer came (constant arrival rate, as Speedboat's constant-arrival-rate
 * executor), over keep-alive HTTP/1.1 connections (a free one, else a new one), and prints
 * "requests p50_us p99_us late" on stdout. A request's latency is measured as Speedboat measures
 * http_req_duration on plain HTTP/1.1: from just before write() to the kernel's receive stamp
 * (SO_TIMESTAMPNS) of the answer's last bytes. wrk is a closed model: the target never idles
 * between its requests, so it does not wait for the target to wake up from idle, which an
 * open-model client at half its maximum rate does on every request; this client does, and does
 * nothing else, so Speedboat's latency minus this one's is what the generator adds.
 *
 * No JavaScript, no allocation after start: C as lean as the measurement allows. Answers must
 * carry Content-Length (sb-target's and nginx's do). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/rx_stamp.h"

#define MAX_CONNS 1024 /* a stall of the VM of ~100 ms at 10,000/s, as Speedboat's maxVUs allow */
#define BUF_SIZE 16384

typedef struct {
  int fd;
  int busy;           /* a request is out, its answer not whole yet */
  double t_write_ms;  /* monotonic, just before write() */
  size_t have;        /* bytes of the answer read so far */
  char buf[BUF_SIZE];
} ref_conn;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int dial(const struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
  if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The whole answer's length once its head is in |c->buf|, 0 while it is not, -1 if malformed. */
static long answer_len(const ref_conn *c) {
  const char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
  if (!end) return c->have == sizeof(c->buf) ? -1 : 0;
  const char *cl = memmem(c->buf, (size_t)(end - c->buf), "\r\nContent-Length:", 17);
  if (!cl) cl = memmem(c->buf, (size_t)(end - c->buf), "\r\ncontent-length:", 17);
  if (!cl) return -1;
  long body = strtol(cl + 17, NULL, 10);
  long len = (long)(end + 4 - c->buf) + body;
  return len > (long)sizeof(c->buf) ? -1 : len;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: sb-ar-ref HOST:PORT PATH RATE SECONDS\n");
    return 2;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET};
  char host[64];
  const char *colon = strrchr(argv[1], ':');
  if (!colon || (size_t)(colon - argv[1]) >= sizeof(host)) {
    fprintf(stderr, "sb-ar-ref: %s: expected HOST:PORT\n", argv[1]);
    return 2;
  }
  memcpy(host, argv[1], (size_t)(colon - argv[1]));
  host[colon - argv[1]] = '\0';
  sa.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "sb-ar-ref: %s: expected an IPv4 address\n", host);
    return 2;
  }
  double rate = atof(argv[3]), secs = atof(argv[4]);
  if (rate <= 0 || secs <= 0 || rate * secs > 1e8) {
    fprintf(stderr, "sb-ar-ref: RATE and SECONDS must be positive (and their product <= 1e8)\n");
    return 2;
  }
  char req[512];
  int reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sb-ar-ref\r\n\r\n",
                        argv[2], argv[1]);
  if (reqlen <= 0 || reqlen >= (int)sizeof(req)) {
    fprintf(stderr, "sb-ar-ref: the path is too long\n");
    return 2;
  }
  size_t total = (size_t)(rate * secs);
  int64_t *lat = calloc(total, sizeof(*lat));
  ref_conn *conns = calloc(MAX_CONNS, sizeof(*conns));
  if (!lat || !conns) {
    fprintf(stderr, "sb-ar-ref: out of memory\n");
    return 1;
  }
  int nconns = 0;
  size_t sent = 0, done = 0, late = 0;
  int64_t period = (int64_t)(1e9 / rate), t0 = mono_ns() + 10000000, deadline = t0 + (int64_t)(secs * 1e9) + 2000000000;
  struct pollfd pfd[MAX_CONNS];
  while (done < total) {
    int64_t now = mono_ns();
    if (now > deadline) {
      fprintf(stderr, "sb-ar-ref: %zu of %zu answers missing 2 s after the end\n", total - done, total);
      return 1;
    }
    if (sent < total && now >= t0 + (int64_t)sent * period) { /* a request is due */
      ref_conn *c = NULL;
      for (int i = 0; i < nconns && !c; i++)
        if (!conns[i].busy) c = &conns[i];
      if (!c) {
        if (nconns == MAX_CONNS) {
          fprintf(stderr, "sb-ar-ref: %d connections busy: the target does not keep up\n", MAX_CONNS);
          return 1;
        }
        c = &conns[nconns];
        if ((c->fd = dial(&sa)) < 0) {
          fprintf(stderr, "sb-ar-ref: connect %s: %s\n", argv[1], strerror(errno));
          return 1;
        }
        nconns++;
      }
      if (now - (t0 + (int64_t)sent * period) > 1000000) late++; /* over 1 ms behind schedule */
      c->busy = 1;
      c->have = 0;
      c->t_write_ms = mono_ns() / 1e6;
      if (write(c->fd, req, (size_t)reqlen) != reqlen) {
        fprintf(stderr, "sb-ar-ref: write: %s\n", strerror(errno));
        return 1;
      }
      sent++;
      continue;
    }
    for (int i = 0; i < nconns; i++) pfd[i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    int64_t wait = sent < total ? t0 + (int64_t)sent * period - now : 100000000;
    if (wait < 0) wait = 0;
    struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
    int n = ppoll(pfd, (nfds_t)nconns, &ts, NULL);
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "sb-ar-ref: poll: %s\n", strerror(errno));
      return 1;
    }
    for (int i = 0; n > 0 && i < nconns; i++) {
      if (!pfd[i].revents) continue;
      ref_conn *c = &conns[i];
      union {
        char b[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
      } ctl;
      struct iovec iov = {.iov_base = c->buf + c->have, .iov_len = sizeof(c->buf) - c->have};
      struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
      ssize_t r = recvmsg(c->fd, &mh, 0);
      if (r <= 0 || !c->busy) {
        fprintf(stderr, "sb-ar-ref: the target closed a connection or answered unasked\n");
        return 1;
      }
      double t = sb_rx_stamp_ms(&mh);
      c->have += (size_t)r;
      long len = answer_len(c);
      if (len < 0 || (len > 0 && c->have > (size_t)len)) {
        fprintf(stderr, "sb-ar-ref: an answer without Content-Length, too long or pipelined\n");
        return 1;
      }
      if (len > 0 && c->have == (size_t)len) {
        lat[done++] = (int64_t)((t - c->t_write_ms) * 1e6); /* ns */
        c->busy = 0;
      }
    }
  }
  qsort(lat, total, sizeof(*lat), cmp_i64);
  printf("%zu %lld %lld %zu\n", total, (long long)(lat[total / 2] / 1000),
         (long long)(lat[(size_t)(total * 0.99)] / 1000), late);
  for (int i = 0; i < nconns; i++) close(conns[i].fd);
  free(conns);
  free(lat);
  return 0;
}
