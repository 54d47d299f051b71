/* Module names: how an import specifier becomes a module URL, and a URL a path in the archive.
 *
 * Modules are identified by URL: "file:///abs/dir/lib.js" for local files, "https://host/p.js"
 * for remote ones, and the bare name for built-ins ("k6", "k6/http", "k6/metrics", ...). The
 * compile step (controller) and the module loader (VUs) resolve with the same function, so a
 * `require('./lib.js')` finds at run time exactly what the compile step archived. */
#ifndef SB_MODPATH_H
#define SB_MODPATH_H

#include <stddef.h>

#include "common/err.h"

/* 1 when |spec| names a built-in module ("k6", or "k6/..."). */
int sb_modpath_is_builtin(const char *spec);

/* Resolves |spec| (as written in an import) relative to the module URL |base|:
 *   "./a.js", "../a.js"    relative to base's directory
 *   "/abs/a.js"            file:///abs/a.js (or host-relative for a remote base)
 *   "file:///..", "https://.." as is (normalised: "." and ".." segments removed)
 *   "k6/http"              as is (built-in)
 * Writes the URL to |out| (|cap| bytes). Returns 0, or SB_EINVAL (unsupported scheme, bare
 * module name that is not a built-in, too long) with |err| quoting |spec|. */
int sb_modpath_resolve(const char *base, const char *spec, char *out, size_t cap, sb_err *err);

/* Module URL of a local path (made absolute against the current directory). */
int sb_modpath_from_file(const char *path, char *out, size_t cap, sb_err *err);

/* Archive entry of a URL's source: "file:///a/b.js" -> "file/a/b.js", "https://h/p" ->
 * "https/h/p". With |es5| set, the compiled module: "es5/file/a/b.js". Returns 0 or SB_EINVAL. */
int sb_modpath_to_archive(const char *url, int es5, char *out, size_t cap);

/* The local file path of a file:// URL ("/a/b.js"), or NULL for other schemes. Points into
 * |url|. */
const char *sb_modpath_file_path(const char *url);

#endif
