/* speedboat-agent: the daemon that runs a controller's VUs on this machine.
 * main() only parses the command line and dispatches to the listener. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/session.h"
#include "common/buf.h"

static const char usage[] =
    "Usage: speedboat-agent [options]\n"
    "\n"
    "Runs the VUs of a Speedboat controller (speedboat run --agents ...) on this machine.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ADDR:PORT   address to listen on (default 127.0.0.1:6566)\n"
    "      --token-file FILE    require this shared token from controllers\n"
    "      --max-vus N          refuse tests that need more VUs (default: no limit)\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version\n";

static int is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
  return 0;
}

/* Binds and listens on "host:port" ("[::1]:port" for IPv6). Returns the socket or -1. */
static int listen_on(const char *spec, int *loopback) {
  char host[256];
  const char *colon = strrchr(spec, ':');
  if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host)) {
    fprintf(stderr, "speedboat-agent: --listen '%s': expected ADDR:PORT\n", spec);
    return -1;
  }
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = '\0';
  char *h = host;
  if (h[0] == '[' && h[strlen(h) - 1] == ']') {
    h[strlen(h) - 1] = '\0';
    h++;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
  int rc = getaddrinfo(h, colon + 1, &hints, &ai);
  if (rc) {
    fprintf(stderr, "speedboat-agent: --listen '%s': %s\n", spec, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
  *loopback = is_loopback(ai->ai_addr);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
    fprintf(stderr, "speedboat-agent: --listen '%s': %s\n", spec, strerror(errno));
    freeaddrinfo(ai);
    if (fd >= 0) close(fd);
    return -1;
  }
  freeaddrinfo(ai);
  return fd;
}

static int read_token(const char *path, char **out) {
  sb_buf b;
  sb_err err;
  sb_buf_init(&b);
  if (sb_buf_read_file(&b, path, &err)) {
    fprintf(stderr, "speedboat-agent: --token-file: %s\n", err.msg);
    sb_buf_clear(&b);
    return -1;
  }
  while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r')) b.data[--b.len] = 0;
  if (!b.len) {
    fprintf(stderr, "speedboat-agent: --token-file %s: the file is empty\n", path);
    sb_buf_clear(&b);
    return -1;
  }
  *out = sb_buf_steal(&b, NULL);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"listen", required_argument, 0, 'l'}, {"token-file", required_argument, 0, 't'},
      {"max-vus", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
  const char *listen_spec = "127.0.0.1:6566", *token_file = NULL;
  sb_session_opts o = {.agent_id = NULL};
  int c;
  while ((c = getopt_long(argc, argv, "l:hV", longopts, NULL)) != -1) {
    switch (c) {
    case 'l': listen_spec = optarg; break;
    case 't': token_file = optarg; break;
    case 'm': o.max_vus = strtoull(optarg, NULL, 10); break;
    case 'h': fputs(usage, stdout); return 0;
    case 'V': printf("speedboat-agent %s\n", SB_VERSION); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  char *token = NULL;
  if (token_file && read_token(token_file, &token)) return 2;
  o.token = token;
  signal(SIGPIPE, SIG_IGN);
  sb_engine_global_init();
  int loopback = 0, lfd = listen_on(listen_spec, &loopback);
  if (lfd < 0) return 1;
  if (!loopback && !token) {
    fprintf(stderr, "speedboat-agent: refusing to listen on non-loopback %s without --token-file "
                    "(anyone who can reach it could run load from this machine)\n", listen_spec);
    return 2;
  }
  char id[300];
  gethostname(id, sizeof(id) - 16);
  o.agent_id = id;
  fprintf(stderr, "level=info msg=\"listening\" addr=%s\n", listen_spec);
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "level=error msg=\"accept failed\" error=\"%s\"\n", strerror(errno));
      return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fprintf(stderr, "level=info msg=\"controller connected\"\n");
    int rc = sb_session_serve_fd(fd, &o);
    fprintf(stderr, "level=info msg=\"controller disconnected\" status=%d\n", rc);
  }
}
