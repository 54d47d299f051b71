/* Module names: import specifiers -> module URLs -> archive paths. */
#include "common/modpath.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sb_modpath_is_builtin(const char *spec) {
  return strcmp(spec, "k6") == 0 || strncmp(spec, "k6/", 3) == 0;
}

/* Length of "scheme://authority" of |url| (0 when it has no "://"). */
static size_t origin_len(const char *url) {
  const char *p = strstr(url, "://");
  if (!p) return 0;
  p += 3;
  if (strncmp(url, "file://", 7) == 0) return 7; /* file:// has an empty authority */
  const char *slash = strchr(p, '/');
  return slash ? (size_t)(slash - url) : strlen(url);
}

/* Removes "." and ".." segments from the path that starts at |path| (which begins with '/'),
 * in place. ".." above the root stays at the root, as browsers and Go's path.Clean do. */
static void clean_path(char *path) {
  char *out = path, *p = path;
  while (*p) {
    while (*p == '/') p++;
    char *seg = p;
    while (*p && *p != '/') p++;
    size_t n = (size_t)(p - seg);
    if (n == 0 || (n == 1 && seg[0] == '.')) continue;
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
      while (out > path && *--out != '/') {}
      continue;
    }
    *out++ = '/';
    memmove(out, seg, n);
    out += n;
  }
  if (out == path) *out++ = '/';
  *out = '\0';
}

static int put(char *out, size_t cap, const char *spec, sb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int put(char *out, size_t cap, const char *spec, sb_err *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap)
    return sb_err_set(err, SB_EINVAL, "module '%s': the resolved name is too long", spec);
  return 0;
}

int sb_modpath_resolve(const char *base, const char *spec, char *out, size_t cap, sb_err *err) {
  if (!spec || !*spec) return sb_err_set(err, SB_EINVAL, "an empty module name");
  if (sb_modpath_is_builtin(spec)) return put(out, cap, spec, err, "%s", spec);
  size_t ol;
  int rc;
  if (strncmp(spec, "file://", 7) == 0 || strncmp(spec, "https://", 8) == 0 ||
      strncmp(spec, "http://", 7) == 0) {
    rc = put(out, cap, spec, err, "%s", spec);
    ol = origin_len(out);
  } else if (strstr(spec, "://")) {
    return sb_err_set(err, SB_EINVAL, "module '%s': unsupported scheme (use file://, http:// or "
                                      "https://)", spec);
  } else if (spec[0] == '/') {
    ol = base ? origin_len(base) : 0;
    if (!ol) {
      rc = put(out, cap, spec, err, "file://%s", spec);
      ol = 7;
    } else {
      rc = put(out, cap, spec, err, "%.*s%s", (int)ol, base, spec);
    }
  } else if (strncmp(spec, "./", 2) == 0 || strncmp(spec, "../", 3) == 0) {
    if (!base || !(ol = origin_len(base)))
      return sb_err_set(err, SB_EINVAL, "module '%s': relative import without a base module", spec);
    const char *dir_end = strrchr(base + ol, '/');
    size_t dl = dir_end ? (size_t)(dir_end - base) + 1 : ol;
    rc = put(out, cap, spec, err, "%.*s%s%s", (int)dl, base, dir_end ? "" : "/", spec);
  } else {
    return sb_err_set(err, SB_EINVAL,
                      "unknown module '%s': only the built-in k6 modules and paths (\"./lib.js\", "
                      "\"/abs/lib.js\") or URLs can be imported", spec);
  }
  if (rc) return rc;
  char *q = strpbrk(out + ol, "?#"); /* keep the query out of path cleaning */
  char tail[1024] = "";
  if (q) {
    snprintf(tail, sizeof(tail), "%s", q);
    *q = '\0';
  }
  if (out[ol] != '/') return sb_err_set(err, SB_EINVAL, "module '%s': no path", spec);
  clean_path(out + ol);
  if (strlen(out) + strlen(tail) >= cap)
    return sb_err_set(err, SB_EINVAL, "module '%s': the resolved name is too long", spec);
  strcat(out, tail);
  return 0;
}

int sb_modpath_from_file(const char *path, char *out, size_t cap, sb_err *err) {
  char cwd[PATH_MAX];
  int rc;
  if (path[0] == '/') {
    rc = put(out, cap, path, err, "file://%s", path);
  } else {
    if (!getcwd(cwd, sizeof(cwd)))
      return sb_err_set(err, SB_EIO, "%s: cannot read the current directory", path);
    rc = put(out, cap, path, err, "file://%s/%s", strcmp(cwd, "/") ? cwd : "", path);
  }
  if (rc) return rc;
  clean_path(out + 7);
  return 0;
}

int sb_modpath_to_archive(const char *url, int es5, char *out, size_t cap) {
  const char *pre = es5 ? "es5/" : "";
  int n;
  if (strncmp(url, "file://", 7) == 0) n = snprintf(out, cap, "%sfile%s", pre, url + 7);
  else if (strncmp(url, "https://", 8) == 0) n = snprintf(out, cap, "%shttps/%s", pre, url + 8);
  else if (strncmp(url, "http://", 7) == 0) n = snprintf(out, cap, "%shttp/%s", pre, url + 7);
  else return SB_EINVAL;
  return n < 0 || (size_t)n >= cap ? SB_EINVAL : 0;
}

const char *sb_modpath_file_path(const char *url) {
  return strncmp(url, "file://", 7) == 0 ? url + 7 : NULL;
}
