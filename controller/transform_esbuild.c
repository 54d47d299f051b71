/* Stage 1 of controller/transform.h: esbuild as a child process.
 *
 * esbuild is a Go binary (Debian's package `esbuild`, 0.17): ~10 ms a module, against ~70 ms for
 * Babel in Duktape, so spawning it per module costs little and needs no daemon. Its stdin is a
 * socketpair, not a pipe, so that a child dying early gives us EPIPE from send(MSG_NOSIGNAL)
 * instead of a SIGPIPE that would kill the controller. stdout and stderr are drained in the same
 * poll() loop as stdin is fed, so neither side can block the other on a full pipe. Only the
 * compile step runs it; nothing after compile touches the file system or spawns anything. */
#include "controller/transform.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define ESBUILD_TIMEOUT_MS 30000

/* The child's three streams, our ends (-1 once closed). */
typedef struct child {
  pid_t pid;
  int in, out, errfd;
} child;

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Starts esbuild for |name| with our ends of its stdin/stdout/stderr in |ch|. */
static int spawn_esbuild(child *ch, const char *name, int ts, sb_err *err) {
  char sourcefile[1100];
  snprintf(sourcefile, sizeof(sourcefile), "--sourcefile=%s", name);
  const char *bin = getenv("SB_ESBUILD");
  if (!bin || !*bin) bin = "esbuild";
  char *argv[] = {(char *)bin, ts ? "--loader=ts" : "--loader=js", "--target=es2015",
                  "--format=esm", "--sourcemap=inline",
                  "--sources-content=false", "--charset=utf8", "--color=false",
                  "--log-level=error", sourcefile, NULL};
  int in[2], out[2], er[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
    return sb_err_set(err, SB_EIO, "esbuild: socketpair: %s", strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return sb_err_set(err, SB_EIO, "esbuild: pipe: %s", strerror(errno));
  }
  if (pipe2(er, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return sb_err_set(err, SB_EIO, "esbuild: pipe: %s", strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[1], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, er[1], 2);
  int rc = posix_spawnp(&ch->pid, bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[1]), close(out[1]), close(er[1]);
  ch->in = in[0], ch->out = out[0], ch->errfd = er[0];
  if (rc == 0) return 0;
  close_fd(&ch->in), close_fd(&ch->out), close_fd(&ch->errfd);
  if (rc == ENOENT)
    return sb_err_set(err, SB_ENOTFOUND, "esbuild not found (install Debian's package `esbuild`, "
                      "or set SB_ESBUILD to its path)");
  return sb_err_set(err, SB_EIO, "cannot run %s: %s", bin, strerror(rc));
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Feeds |src| to the child and collects its stdout and stderr until both close. */
static int pump(child *ch, const sb_buf *src, sb_buf *out, sb_buf *errout, sb_err *err) {
  size_t off = 0;
  long deadline = now_ms() + ESBUILD_TIMEOUT_MS;
  if (!src->len) close_fd(&ch->in);
  while (ch->out >= 0 || ch->errfd >= 0) {
    struct pollfd p[3] = {{ch->in, POLLOUT, 0}, {ch->out, POLLIN, 0}, {ch->errfd, POLLIN, 0}};
    long left = deadline - now_ms();
    if (left <= 0) return sb_err_set(err, SB_EIO, "esbuild: no answer within %d s",
                                     ESBUILD_TIMEOUT_MS / 1000);
    if (poll(p, 3, (int)left) < 0) {
      if (errno == EINTR) continue;
      return sb_err_set(err, SB_EIO, "esbuild: poll: %s", strerror(errno));
    }
    if (p[0].revents) {
      ssize_t w = send(ch->in, src->data + off, src->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) off += (size_t)w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == src->len) close_fd(&ch->in);
    }
    for (int i = 1; i < 3; i++) {
      if (!p[i].revents) continue;
      int *fd = i == 1 ? &ch->out : &ch->errfd;
      sb_buf *b = i == 1 ? out : errout;
      if (sb_buf_reserve(b, 65536)) return sb_err_set(err, SB_ENOMEM, "out of memory");
      ssize_t r = read(*fd, b->data + b->len, 65536);
      if (r > 0) {
        b->len += (size_t)r;
        b->data[b->len] = '\0';
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(fd);
      }
    }
  }
  return 0;
}

/* Appends a Babel-style code frame for |line| (1-based) and |col| (0-based) of |src|:
 *   > 3 | let x = (;
 *       |          ^ */
static void code_frame(const sb_buf *src, long line, long col, char *out, size_t cap) {
  const char *s = src->data ? src->data : "", *end = s + src->len;
  for (long l = 1; l < line && s < end; s++)
    if (*s == '\n') l++;
  const char *eol = memchr(s, '\n', (size_t)(end - s));
  int len = (int)((eol ? eol : end) - s);
  if (len > 200) len = 200;
  size_t n = strlen(out);
  snprintf(out + n, cap - n, "\n> %ld | %.*s\n  %*s | %*s^", line, len, s,
           (int)snprintf(NULL, 0, "%ld", line), "", (int)(col < 200 ? col : 200), "");
}

/* esbuild's first error ("✘ [ERROR] Unexpected \";\"\n\n    bad.js:3:9:\n ...") as
 * "bad.js:3:9: SyntaxError: Unexpected \";\"" plus a code frame of the user's source. */
static int syntax_error(const char *name, const sb_buf *src, const char *log, sb_err *err) {
  const char *m = strstr(log, "[ERROR] ");
  if (!m) return sb_err_set(err, SB_ESCRIPT, "%s: esbuild failed: %.300s", name, log);
  m += 8;
  const char *eol = strchr(m, '\n');
  int mlen = (int)(eol ? eol - m : (long)strlen(m));
  long line = 0, col = 0;
  size_t nl = strlen(name);
  for (const char *p = eol; p && *p; p = strchr(p + 1, '\n')) {
    const char *q = p + 1;
    while (*q == ' ') q++;
    if (strncmp(q, name, nl) == 0 && sscanf(q + nl, ":%ld:%ld:", &line, &col) == 2) break;
    line = 0;
  }
  if (!line) return sb_err_set(err, SB_ESCRIPT, "%s: SyntaxError: %.*s", name, mlen, m);
  sb_err_set(err, SB_ESCRIPT, "%s:%ld:%ld: SyntaxError: %.*s", name, line, col, mlen, m);
  code_frame(src, line, col, err->msg, sizeof(err->msg));
  return SB_ESCRIPT;
}

int sb_transform_esbuild(const char *name, int ts, const sb_buf *src, sb_buf *out, sb_err *err) {
  child ch = {.pid = -1, .in = -1, .out = -1, .errfd = -1};
  sb_buf log;
  sb_buf_init(&log);
  int rc = spawn_esbuild(&ch, name, ts, err);
  if (rc) return rc;
  rc = pump(&ch, src, out, &log, err);
  close_fd(&ch.in), close_fd(&ch.out), close_fd(&ch.errfd);
  if (rc) kill(ch.pid, SIGKILL);
  int st = 0;
  while (waitpid(ch.pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    if (log.len && strstr(log.data, "[ERROR]")) rc = syntax_error(name, src, log.data, err);
    else rc = sb_err_set(err, SB_EIO, "esbuild failed (status %d): %.300s", st,
                         log.data ? log.data : "");
  }
  sb_buf_clear(&log);
  return rc;
}
