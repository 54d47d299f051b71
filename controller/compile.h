/* The compile step (DESIGN.md "The data path", 1-2): a user's k6 script becomes one
 * self-contained archive plus its options.
 *
 * The entry script and every module it imports (transitively; cycles allowed between local files,
 * an error through a remote module) are read or fetched (controller/fetch.h: http(s) URLs, once per
 * compile, stored as `https/<host>/<path>`) once,
 * transpiled to ES5 CommonJS by controller/transform.h (esbuild for TypeScript and ES2016+ syntax,
 * then babel-standalone 6.26 in a Duktape heap, keeping the user's lines so runtime errors point
 * at them) and stored beside their sources: `data` (entry source), `file/<abs>` (sources, and
 * files read by open() in init code), `es5/file/<abs>` (compiled), and `es5/polyfills.js`, the
 * polyfills the compiled code needs (controller/polyfill.h; every heap runs it before the entry).
 * The init context then runs once, with stub k6 modules, to read
 * `export const options`, collect the files passed to open() and learn the custom metrics the
 * init code creates (new Counter/Gauge/Rate/Trend(name[, isTime]) of k6/metrics, so thresholds
 * on them can be checked before the run); metadata.json gets the entry URL, options, env and
 * version. Nothing is read from disk after this step. */
#ifndef SB_COMPILE_H
#define SB_COMPILE_H

#include "common/archive.h"
#include "common/err.h"
#include "common/metrics.h"
#include "controller/transform.h"

typedef struct sb_compile_result {
  sb_archive *archive; /* owned: metadata.json, data, file/..., es5/... */
  char *options_json;  /* owned: JSON.stringify(options) of the init context, "{}" when absent */
  char *entry_url;     /* owned: "file:///abs/script.js" */
  sb_metric_info *metrics; /* owned, names too: the custom metrics the init code created, in
                              creation order (a built-in name re-created is not listed) */
  size_t nmetrics;
} sb_compile_result;

/* Compiles the script at |path| (as the user typed it; errors quote it so). |env| is
 * key, value, ..., NULL pairs for __ENV (may be NULL). Fills |*out| (release with
 * sb_compile_result_clear(); on failure |*out| is left zeroed). Returns 0, or:
 *   SB_ESCRIPT     syntax error ("script.js:3:7: SyntaxError: Unexpected token") or an exception
 *                  in init code ("file:///abs/script.js:12: Error: msg"), among them a metric
 *                  created again with another type or value type ("...:4: TypeError: metric 'x'
 *                  already exists as a counter, not a rate"), as the VUs would throw
 *   SB_ECANCELED   the init code called exec.test.abort() (k6's exit 108; |err| has the reason)
 *   SB_ENOTFOUND   missing script, import or open()ed file
 *   SB_EINVAL      unsupported import (unknown bare name, a cycle through a remote module)
 *   SB_EIO, SB_ETIMEDOUT  a remote module could not be fetched (|err| names the importing file)
 *   SB_ENOMEM */
int sb_compile_script(const char *path, const char *const *env, sb_compile_result *out,
                      sb_err *err);

/* Same in compatibility mode |mode| (k6's --compatibility-mode): SB_COMPAT_EXTENDED is
 * sb_compile_script(); SB_COMPAT_BASE archives the sources as their own ES5 (no esbuild, no Babel,
 * no polyfills; imports are the require('...') literals), records "compatibilityMode": "base" in
 * metadata.json, and a script the ES5.1 parser rejects fails with SB_ESCRIPT and a hint. */
int sb_compile_script_mode(const char *path, const char *const *env, sb_compat_mode mode,
                           sb_compile_result *out, sb_err *err);

/* Same from an archive file: ours (zstd tar with es5/, used as is) or a plain `k6 archive` tar
 * (metadata.json + data/file/...; its sources are transpiled from the archive, never from disk,
 * in the archive's "compatibilityMode").
 * |env| overrides the archive's env. Options are the archive's metadata.json "options" when set,
 * else those of the init context. Same codes as sb_compile_script(), SB_EFORMAT for a bad
 * archive. */
int sb_compile_archive_file(const char *path, const char *const *env, sb_compile_result *out,
                            sb_err *err);

/* Same from an archive already in memory (not taken over; |ar| is only read). */
int sb_compile_archive(const sb_archive *ar, const char *const *env, sb_compile_result *out,
                       sb_err *err);

/* Frees what |r| owns; |r| is zeroed and reusable. Accepts a zeroed result. */
void sb_compile_result_clear(sb_compile_result *r);

#endif
