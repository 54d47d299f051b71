/* speedboat-agent: the daemon that runs a controller's VUs on this machine.
 *
 * The main thread parses the command line once into a read-only sb_session_opts, binds the
 * listener and runs one event_base: accepting, the signals, the health endpoint (agent/health.h)
 * and systemd's watchdog (agent/notify.h). Every controller connection is served by
 * sb_session_serve_fd() on its own detached thread. All sessions share one `busy` flag, so a
 * second controller is told "busy" while a test runs instead of waiting in the accept queue.
 * SIGTERM and SIGINT are blocked in every thread and read by the main loop through a signalfd.
 *
 * Stopping (SIGTERM, as systemd and Kubernetes send it): the listener closes, STOPPING=1 goes to
 * systemd, and the shared `stopping` flag tells every session to abort its test, send the
 * controller its last measurements and the reason, and hang up; the daemon exits once they have
 * (at most DRAIN_MS later). A second signal exits at once.
 *
 * Logs: one logfmt line per event on stderr, `time=... level=... msg="..." key=value...`; the
 * first line is always `msg="listening" addr=HOST:PORT` with the port actually bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/allow.h"
#include "agent/engine.h"
#include "agent/http_client.h"
#include "agent/health.h"
#include "agent/limits.h"
#include "agent/notify.h"
#include "agent/session.h"
#include "agent/watchdog.h"
#include "common/buf.h"
#include "common/hostport.h"
#include "common/logfmt.h"
#include "common/clock.h"
#include "common/tls.h"

#define MAX_CONNS 64    /* concurrent controller connections; extras are closed at once. Of
                         * these, SB_LIMITS_UNAUTH_CONNS may be short of hello (agent/limits.h) */
#define DRAIN_MS 10000  /* after SIGTERM, how long sessions get to tell their controllers */
#define DRAIN_TICK_MS 50
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: stop accepting this long */

static const char usage[] =
    "Usage: speedboat-agent [options]\n"
    "\n"
    "Runs the VUs of a Speedboat controller (speedboat run --agents ...) on this machine.\n"
    "One test at a time: a second controller is told the agent is busy.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ADDR:PORT   address to listen on (default 127.0.0.1:6566; port 0 = any free\n"
    "                           port, logged in the first line; [::1]:PORT for IPv6)\n"
    "      --token-file FILE    require the shared token in FILE from controllers\n"
    "      --tls-cert FILE      this agent's certificate (PEM) for mutual TLS\n"
    "      --tls-key FILE       its private key (PEM, unencrypted)\n"
    "      --tls-ca FILE        the CA (PEM) that signs controllers' certificates; only\n"
    "                           controllers holding one are accepted. The three --tls-*\n"
    "                           options go together (default: no TLS)\n"
    "      --max-vus N          refuse tests that need more than N VUs (default: no limit)\n"
    "      --allow-targets LIST the only targets the VUs may connect to: address blocks and\n"
    "                           host names, comma-separated (10.0.0.0/8,fd00::/8,\n"
    "                           api.example.com,*.example.com); other requests fail with\n"
    "                           error_code 1112 (default: every target)\n"
    "      --max-vu-memory SIZE the most a test may give one VU heap (its maxVUMemory, default\n"
    "                           256MiB, is lowered to this): 64MiB, 1GiB, or bytes\n"
    "      --max-archive-size SIZE\n"
    "                           refuse tests whose archive (scripts and open()ed files)\n"
    "                           unpacks to more than SIZE: 64MiB, 1GiB, or bytes (default\n"
    "                           256MiB, at most 1GiB)\n"
    "      --insecure-plaintext-transport\n"
    "                           allow a non-loopback address without TLS, with a token: the\n"
    "                           token and the scripts then cross the network readable\n"
    "      --id NAME            agent id reported to controllers (default HOSTNAME:PORT)\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version\n"
    "\n"
    "Security: on a non-loopback address the agent requires TLS (--tls-*, with or without\n"
    "--token-file); a token alone only with --insecure-plaintext-transport. Before hello a\n"
    "connection may send 4 KiB, uncompressed, within 10 s, and at most 16 such connections\n"
    "are served at once.\n"
    "Logs go to stderr, one logfmt line per event. Under systemd (Type=notify) it reports\n"
    "READY=1 once listening, WATCHDOG=1 when WatchdogSec= is set, and STOPPING=1. SIGTERM aborts\n"
    "a running test, tells its controller, and exits 0.\n";

/* The command line, parsed once. */
typedef struct config {
  const char *listen;     /* ADDR:PORT */
  const char *token_file; /* NULL = no token */
  const char *tls_cert, *tls_key, *tls_ca;
  const char *id;         /* NULL = hostname:port */
  const char *health;     /* --health ADDR:PORT; NULL = no health endpoint */
  uint64_t max_vus;       /* 0 = no limit */
  uint64_t max_archive;   /* --max-archive-size, unpacked bytes */
  const char *allow;      /* --allow-targets as given; NULL = every target */
  uint64_t max_vu_memory; /* --max-vu-memory; 0 = the test's own */
  int plaintext;          /* --insecure-plaintext-transport */
} config;

/* The main loop's state: the listener, signals, health endpoint and timers on one base. */
typedef struct daemon_loop {
  struct event_base *base;
  struct event *ev_accept, *ev_signal, *ev_watchdog, *ev_drain, *ev_resume;
  int lfd, sfd;
  const sb_session_opts *o;
  int64_t drain_until_ms; /* 0 = not stopping */
  int rc;                 /* the exit code */
} daemon_loop;

/* One accepted connection, owned by its thread. */
typedef struct conn {
  int fd;
  sb_session_opts o; /* the daemon's options with this connection's peer */
  char peer[INET6_ADDRSTRLEN + 8];
} conn;

static atomic_int busy;     /* shared by all sessions: one test at a time */
static atomic_int active;   /* connections being served */
static atomic_int stopping; /* set once on SIGTERM: sessions abort and hang up */
static atomic_int unauth;   /* connections not yet past hello (the sessions count them out) */

/* "127.0.0.1:6566" or "[::1]:6566" for |sa| into |buf|. */
static const char *addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t size) {
  char host[INET6_ADDRSTRLEN], port[16];
  if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV)) {
    snprintf(buf, size, "unknown");
    return buf;
  }
  snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
  return buf;
}

static int is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
  return 0;
}

/* Resolves "host:port" ("[::1]:port" for IPv6) into |*out| (free with freeaddrinfo()).
 * Returns 0 or -1 after printing why. */
static int resolve(const char *spec, struct addrinfo **out) {
  char host[256];
  const char *p;
  if (sb_hostport_split(spec, host, sizeof(host), &p) || !*p) {
    fprintf(stderr, "speedboat-agent: --listen '%s': expected ADDR:PORT ([ADDR]:PORT for IPv6)\n", spec);
    return -1;
  }
  char *end;
  long port = strtol(p, &end, 10);
  if (*end || port < 0 || port > 65535) {
    fprintf(stderr, "speedboat-agent: --listen '%s': the port must be 0..65535\n", spec);
    return -1;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  int rc = sb_hostport_lookup(host, p, &hints, out);
  if (rc) {
    fprintf(stderr, "speedboat-agent: --listen '%s': %s\n", spec, gai_strerror(rc));
    return -1;
  }
  return 0;
}

/* Binds and listens on |ai|. Returns the socket, or -1 after printing why. */
static int listen_on(const char *spec, const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
    fprintf(stderr, "speedboat-agent: --listen '%s': %s\n", spec, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* Reads the token, at most SB_LIMITS_TOKEN_MAX bytes (a hello carrying it must fit in the few
 * KB a connection may send before hello). Returns 0 or -1 after printing why. */
static int read_token(const char *path, char **out) {
  sb_err err;
  if (sb_read_secret_file(path, out, &err)) {
    fprintf(stderr, "speedboat-agent: --token-file: %s\n", err.msg);
    return -1;
  }
  size_t n = strlen(*out);
  if (n <= SB_LIMITS_TOKEN_MAX) return 0;
  fprintf(stderr, "speedboat-agent: --token-file: %s: the token is %zu bytes, at most %u "
                  "(openssl rand -hex 32 makes a good one)\n", path, n, SB_LIMITS_TOKEN_MAX);
  free(*out);
  *out = NULL;
  return -1;
}

/* Loads the --tls-* files into |*out| (NULL when none was given). Returns 0 or -1 after printing
 * which option is wrong and why. */
static int load_tls(const config *c, sb_tls **out) {
  *out = NULL;
  int given = !!c->tls_cert + !!c->tls_key + !!c->tls_ca;
  if (!given) return 0;
  if (given < 3) {
    fprintf(stderr, "speedboat-agent: --tls-cert, --tls-key and --tls-ca go together (missing:%s%s%s)\n",
            c->tls_cert ? "" : " --tls-cert", c->tls_key ? "" : " --tls-key",
            c->tls_ca ? "" : " --tls-ca");
    return -1;
  }
  sb_err err = {{0}};
  if (sb_tls_new(out, 1, c->tls_cert, c->tls_key, c->tls_ca, &err) == 0) return 0;
  /* The message starts with the file at fault: name the option that gave it. */
  const char *opt = "--tls-cert", *files[] = {c->tls_cert, c->tls_key, c->tls_ca};
  const char *opts[] = {"--tls-cert", "--tls-key", "--tls-ca"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(files[i]);
    if (!strncmp(err.msg, files[i], n) && err.msg[n] == ':') opt = opts[i];
  }
  fprintf(stderr, "speedboat-agent: %s: %s\n", opt, err.msg);
  return -1;
}

/* Parses a positive integer option value. Returns 0 or -1 after printing why. */
static int parse_positive(const char *opt, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
  if (!v || errno || *end) {
    fprintf(stderr, "speedboat-agent: %s '%s': expected a positive integer\n", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

/* Fills |c| from the command line. Returns -1 to continue, else the exit code (0 after --help or
 * --version, 2 after a bad option). */
static int parse_args(int argc, char **argv, config *c) {
  enum { O_TOKEN = 256, O_CERT, O_KEY, O_CA, O_MAXVUS, O_ID, O_HEALTH, O_MAXARCHIVE, O_PLAIN,
         O_ALLOW, O_MAXVUMEM };
  static const struct option longopts[] = {
      {"listen", required_argument, 0, 'l'},  {"token-file", required_argument, 0, O_TOKEN},
      {"tls-cert", required_argument, 0, O_CERT}, {"tls-key", required_argument, 0, O_KEY},
      {"tls-ca", required_argument, 0, O_CA},  {"max-vus", required_argument, 0, O_MAXVUS},
      {"id", required_argument, 0, O_ID},     {"health", required_argument, 0, O_HEALTH},
      {"max-archive-size", required_argument, 0, O_MAXARCHIVE},
      {"insecure-plaintext-transport", no_argument, 0, O_PLAIN},
      {"allow-targets", required_argument, 0, O_ALLOW},
      {"max-vu-memory", required_argument, 0, O_MAXVUMEM},
      {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},       {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "l:hV", longopts, NULL)) != -1) {
    switch (ch) {
    case 'l': c->listen = optarg; break;
    case O_TOKEN: c->token_file = optarg; break;
    case O_CERT: c->tls_cert = optarg; break;
    case O_KEY: c->tls_key = optarg; break;
    case O_CA: c->tls_ca = optarg; break;
    case O_MAXVUS:
      if (parse_positive("--max-vus", optarg, &c->max_vus)) return 2;
      break;
    case O_ID:
      if (!*optarg) {
        fprintf(stderr, "speedboat-agent: --id must not be empty\n");
        return 2;
      }
      c->id = optarg;
      break;
    case O_HEALTH: c->health = optarg; break;
    case O_MAXARCHIVE:
      if (sb_limits_parse_size(optarg, SB_LIMITS_ARCHIVE_MAX, &c->max_archive)) {
        fprintf(stderr, "speedboat-agent: --max-archive-size '%s': expected a size from 1 to 1GiB "
                        "(64MiB, 512KiB, or bytes)\n", optarg);
        return 2;
      }
      break;
    case O_PLAIN: c->plaintext = 1; break;
    case O_ALLOW: c->allow = optarg; break;
    case O_MAXVUMEM:
      if (sb_limits_parse_size(optarg, UINT64_MAX, &c->max_vu_memory) ||
          c->max_vu_memory < (1u << 20)) {
        fprintf(stderr, "speedboat-agent: --max-vu-memory '%s': expected a size of at least 1MiB "
                        "(64MiB, 1GiB, or bytes)\n", optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage, stdout); return 0;
    case 'V': printf("speedboat-agent %s\n", SB_VERSION); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "speedboat-agent: unexpected argument '%s'\n%s", argv[optind], usage);
    return 2;
  }
  return -1;
}

/* Serves one connection on its own thread, then logs how it ended. */
static void *serve(void *arg) {
  conn *k = arg;
  sb_logfmt("info", "msg=\"controller connected\" peer=%s", k->peer);
  sb_err why;
  why.msg[0] = '\0';
  int rc = sb_session_serve_fd(k->fd, &k->o, &why);
  if (rc)
    sb_logfmt("info", "msg=\"controller disconnected\" peer=%s status=error error=\"%s\"", k->peer,
         why.msg[0] ? why.msg : sb_strerror(rc));
  else
    sb_logfmt("info", "msg=\"controller disconnected\" peer=%s status=ok", k->peer);
  free(k);
  atomic_fetch_sub(&active, 1);
  return NULL;
}

/* Counts a new connection in |active| and |unauth| (its session counts it out of |unauth| at
 * hello). Returns 0, or -1 after logging when MAX_CONNS connections, or SB_LIMITS_UNAUTH_CONNS
 * short of hello, are being served: a stranger opening connections and saying nothing holds
 * each for the handshake timeout at most, and never more than that many. */
static int admit(const char *peer) {
  if (atomic_fetch_add(&active, 1) >= MAX_CONNS) {
    atomic_fetch_sub(&active, 1);
    sb_logfmt("warn", "msg=\"too many connections, closing\" peer=%s limit=%d", peer, MAX_CONNS);
    return -1;
  }
  if (atomic_fetch_add(&unauth, 1) >= SB_LIMITS_UNAUTH_CONNS) {
    atomic_fetch_sub(&unauth, 1);
    atomic_fetch_sub(&active, 1);
    sb_logfmt("warn", "msg=\"too many unauthenticated connections, closing\" peer=%s limit=%d",
              peer, SB_LIMITS_UNAUTH_CONNS);
    return -1;
  }
  return 0;
}

/* Hands |fd| (accepted from |sa|) to a new detached thread, or closes it when admit() says no
 * or no thread can be made. */
static void dispatch(int fd, const struct sockaddr *sa, socklen_t len, const sb_session_opts *o) {
  char peer[INET6_ADDRSTRLEN + 8];
  addr_str(sa, len, peer, sizeof(peer));
  if (admit(peer)) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  conn *k = calloc(1, sizeof(*k));
  pthread_attr_t attr;
  pthread_t th;
  if (k) {
    k->fd = fd;
    k->o = *o;
    memcpy(k->peer, peer, sizeof(peer));
    k->o.peer = k->peer;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, serve, k);
    pthread_attr_destroy(&attr);
    if (rc == 0) return;
    free(k);
  }
  atomic_fetch_sub(&unauth, 1);
  atomic_fetch_sub(&active, 1);
  sb_logfmt("error", "msg=\"cannot serve connection, closing\" peer=%s error=\"%s\"", peer,
       k ? "cannot create a thread" : "out of memory");
  close(fd);
}

static int64_t mono_ms(void) { return sb_clock_mono_us() / 1000; }

static struct timeval ms_tv(int64_t ms) {
  return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
  daemon_loop *d = arg;
  if (!d->drain_until_ms) event_add(d->ev_accept, NULL);
}

/* The listener is readable: accept one connection and hand it to a thread. */
static void on_accept(evutil_socket_t lfd, short what, void *arg) {
  daemon_loop *d = arg;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
  if (fd >= 0) {
    dispatch(fd, (struct sockaddr *)&ss, sl, d->o);
    return;
  }
  if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) return;
  sb_logfmt("error", "msg=\"accept failed\" error=\"%s\"", strerror(errno));
  if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
    struct timeval tv = ms_tv(ACCEPT_PAUSE_MS); /* let sessions end rather than spin */
    event_del(d->ev_accept);
    event_add(d->ev_resume, &tv);
    return;
  }
  d->rc = 1;
  event_base_loopbreak(d->base);
}

/* After SIGTERM: ends the loop once every session has hung up, or at the deadline. */
static void on_drain(evutil_socket_t fd, short what, void *arg) {
  daemon_loop *d = arg;
  int n = atomic_load(&active);
  if (n == 0) {
    event_base_loopbreak(d->base);
  } else if (mono_ms() > d->drain_until_ms) {
    sb_logfmt("warn", "msg=\"sessions still open at the stop deadline, exiting\" active=%d", n);
    event_base_loopbreak(d->base);
  }
}

/* SIGTERM or SIGINT: the first starts a clean stop (see the top of the file), a second exits. */
static void on_signal(evutil_socket_t sfd, short what, void *arg) {
  daemon_loop *d = arg;
  struct signalfd_siginfo si;
  if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si)) return;
  const char *name = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
  if (d->drain_until_ms) {
    sb_logfmt("warn", "msg=\"second signal, exiting now\" signal=%s active=%d", name,
              atomic_load(&active));
    event_base_loopbreak(d->base);
    return;
  }
  int n = atomic_load(&active);
  sb_logfmt("info", "msg=\"shutting down\" signal=%s active=%d", name, n);
  sb_notify_stopping(n ? "stopping: aborting the running test" : "stopping");
  atomic_store(&stopping, 1);
  event_del(d->ev_accept);
  event_del(d->ev_resume);
  close(d->lfd); /* new controllers are refused from now on */
  d->lfd = -1;
  d->drain_until_ms = mono_ms() + DRAIN_MS;
  struct timeval tv = ms_tv(DRAIN_TICK_MS);
  event_add(d->ev_drain, &tv);
  on_drain(-1, 0, d);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg) { sb_notify_watchdog(); }

/* Creates the loop's events; the watchdog ticks at half systemd's WatchdogSec. Returns 0 or -1. */
static int loop_init(daemon_loop *d) {
  if (!(d->base = event_base_new())) return -1;
  d->ev_accept = event_new(d->base, d->lfd, EV_READ | EV_PERSIST, on_accept, d);
  d->ev_signal = event_new(d->base, d->sfd, EV_READ | EV_PERSIST, on_signal, d);
  d->ev_drain = event_new(d->base, -1, EV_PERSIST, on_drain, d);
  d->ev_resume = event_new(d->base, -1, 0, on_resume, d);
  d->ev_watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
  if (!d->ev_accept || !d->ev_signal || !d->ev_drain || !d->ev_resume || !d->ev_watchdog) return -1;
  event_add(d->ev_accept, NULL);
  event_add(d->ev_signal, NULL);
  uint64_t wd = sb_notify_watchdog_usec();
  if (wd) {
    struct timeval tv = {.tv_sec = (time_t)(wd / 2 / 1000000), .tv_usec = (suseconds_t)(wd / 2 % 1000000)};
    event_add(d->ev_watchdog, &tv);
    sb_notify_watchdog();
  }
  return 0;
}

static void loop_clear(daemon_loop *d) {
  struct event *ev[] = {d->ev_accept, d->ev_signal, d->ev_drain, d->ev_resume, d->ev_watchdog};
  for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
    if (ev[i]) event_free(ev[i]);
  if (d->base) event_base_free(d->base);
}

/* Blocks SIGTERM and SIGINT in this thread and every thread made later, and returns a signalfd
 * that reads them (or -1). */
static int signals_fd(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

/* The transport policy (docs/SECURITY.md): on loopback anything goes; off it TLS is required
 * (with client certificates, and the token too when given), or a token over plain TCP when
 * --insecure-plaintext-transport says so; never nothing. Returns 0 or -1 after printing why. */
static int transport_allowed(const config *c, const struct sockaddr *sa, int token, int tls) {
  if (is_loopback(sa) || tls) return 0;
  if (!token) {
    fprintf(stderr, "speedboat-agent: refusing to listen on non-loopback %s without --token-file "
                    "or --tls-cert/--tls-key/--tls-ca (anyone who can reach it could run load "
                    "from this machine): off loopback give the --tls-* options, with "
                    "--token-file if you like\n", c->listen);
    return -1;
  }
  if (c->plaintext) return 0;
  fprintf(stderr, "speedboat-agent: refusing to listen on non-loopback %s in clear text: the "
                  "token and the scripts would cross the network readable. Give "
                  "--tls-cert/--tls-key/--tls-ca, or --insecure-plaintext-transport to accept "
                  "that\n", c->listen);
  return -1;
}

/* Binds |c->listen| if transport_allowed(). Fills |addr| with what was bound. Returns the
 * socket, or -1 with *rc the exit code. */
static int bind_listener(const config *c, const sb_session_opts *o, char *addr, size_t size,
                         int *rc) {
  struct addrinfo *ai;
  *rc = 2;
  if (resolve(c->listen, &ai)) return -1;
  if (transport_allowed(c, ai->ai_addr, o->token != NULL, o->tls != NULL)) {
    freeaddrinfo(ai);
    return -1;
  }
  int lfd = listen_on(c->listen, ai);
  freeaddrinfo(ai);
  *rc = 1;
  if (lfd < 0) return -1;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  getsockname(lfd, (struct sockaddr *)&ss, &sl);
  addr_str((struct sockaddr *)&ss, sl, addr, size);
  return lfd;
}

/* --insecure-plaintext-transport in use: said loudly, after the listening line, every start. */
static void warn_plaintext(const config *c, const sb_session_opts *o, const char *addr) {
  if (o->tls || !c->plaintext || strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]", 5) == 0)
    return;
  sb_logfmt("warn", "msg=\"INSECURE: plain TCP on a non-loopback address "
                    "(--insecure-plaintext-transport): the token and the scripts cross the network "
                    "readable, and whoever reads the token can run load from this machine; use "
                    "--tls-cert/--tls-key/--tls-ca\" addr=%s", addr);
}

/* What the VUs of this agent may do, whatever a test asks: --allow-targets, --max-vu-memory, and
 * as many open files as the hard limit lets (a connection each). Returns 0, or -1 after printing
 * why (a bad list). */
static int vu_policy(const config *c, sb_session_opts *o, sb_allow **allow) {
  sb_err err;
  if (c->allow && sb_allow_parse(allow, c->allow, &err) != 0) {
    fprintf(stderr, "speedboat-agent: %s\n", err.msg);
    return -1;
  }
  o->allow = *allow;
  o->max_vu_memory = c->max_vu_memory;
  return 0;
}

/* Logs the VU policy after the listening line, "every target" included, so an operator sees what
 * is in force; raises the open-files soft limit to the hard one first. */
static void log_vu_policy(const sb_session_opts *o) {
  uint64_t before = 0, after = 0;
  int failed = sb_http_raise_fd_limit(&before, &after);
  char mem[32] = "per test (default 256 MiB)";
  if (o->max_vu_memory) sb_limits_size_str(o->max_vu_memory, mem, sizeof(mem));
  sb_logfmt("info", "msg=\"VU policy\" allow_targets=\"%s\" max_vu_memory=\"%s\" open_files=%llu "
                    "open_files_was=%llu%s", sb_allow_describe(o->allow), mem,
            (unsigned long long)after, (unsigned long long)before,
            failed ? " open_files_note=\"cannot raise the soft limit\"" : "");
  if (after < 65536)
    sb_logfmt("warn", "msg=\"open files limit is %llu: each VU connection takes one; raise "
                      "LimitNOFILE= (systemd) or ulimit -Hn for more\"", (unsigned long long)after);
}

/* Starts the --health endpoint on |d|'s base, if asked for. Returns 0 or -1 after printing why. */
static int start_health(const config *c, daemon_loop *d, sb_health_state *hs, sb_health **out) {
  *out = NULL;
  if (!c->health) return 0;
  sb_err err;
  if (sb_health_new(out, d->base, c->health, hs, &err) == 0) return 0;
  fprintf(stderr, "speedboat-agent: %s\n", err.msg);
  return -1;
}

/* Binds, logs the listening line, tells systemd, then serves until a signal. Returns the exit
 * code. */
static int run(const config *c, sb_session_opts *o, int sfd) {
  char addr[INET6_ADDRSTRLEN + 8], id[320], host[256] = "agent", status[400];
  daemon_loop d = {.sfd = sfd, .o = o};
  int rc;
  if ((d.lfd = bind_listener(c, o, addr, sizeof(addr), &rc)) < 0) return rc;
  if (!c->id) {
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(id, sizeof(id), "%s:%s", host, strrchr(addr, ':') + 1);
  }
  o->agent_id = c->id ? c->id : id;
  sb_health_state hs = {.busy = &busy, .stopping = &stopping, .agent_id = o->agent_id,
                        .max_vus = o->max_vus};
  sb_health *health = NULL;
  rc = 1;
  if (loop_init(&d)) fprintf(stderr, "speedboat-agent: out of memory\n");
  else if (start_health(c, &d, &hs, &health) == 0) rc = -1;
  if (rc < 0) {
    sb_logfmt("info", "msg=\"listening\" addr=%s id=\"%s\" tls=%s token=%s max_vus=%llu health=%s "
              "max_archive_size=%llu", addr, o->agent_id, o->tls ? "on" : "off",
              o->token ? "on" : "off", (unsigned long long)o->max_vus,
              health ? sb_health_addr(health) : "off", (unsigned long long)o->max_archive);
    warn_plaintext(c, o, addr);
    log_vu_policy(o);
    snprintf(status, sizeof(status), "listening on %s", addr);
    sb_notify_ready(status);
    event_base_dispatch(d.base);
    rc = d.rc;
  }
  sb_health_free(health);
  loop_clear(&d);
  if (d.lfd >= 0) close(d.lfd);
  return rc;
}

int main(int argc, char **argv) {
  config c = {.listen = "127.0.0.1:6566"};
  int rc = parse_args(argc, argv, &c);
  if (rc >= 0) return rc;
  char *token = NULL;
  sb_tls *tls = NULL;
  sb_allow *allow = NULL;
  if (c.token_file && read_token(c.token_file, &token)) return 2;
  if (load_tls(&c, &tls)) {
    free(token);
    return 2;
  }
  sb_session_opts o = {.token = token, .max_vus = c.max_vus, .tls = tls, .busy = &busy,
                       .stopping = &stopping, .unauth = &unauth,
                       .max_archive = c.max_archive ? c.max_archive : SB_LIMITS_ARCHIVE_DEFAULT};
  int sfd = signals_fd(); /* before any thread starts, so every thread inherits the mask */
  if (sfd < 0) {
    fprintf(stderr, "speedboat-agent: signalfd: %s\n", strerror(errno));
    rc = 1;
    goto out;
  }
  sb_engine_global_init();
  if (vu_policy(&c, &o, &allow)) {
    rc = 2;
    goto out;
  }
  rc = run(&c, &o, sfd);
  close(sfd);
  if (atomic_load(&active) > 0) {
    /* Sessions still run on other threads: leave without tearing down what they use. */
    fflush(stderr);
    _exit(rc);
  }
out:
  sb_watchdog_shutdown(); /* every session has ended: no init can arm it any more */
  sb_allow_free(allow);
  sb_tls_free(tls);
  free(token);
  return rc;
}
