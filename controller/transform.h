/* One module's source to ES5 CommonJS (DESIGN.md "Compile pipeline for modern JavaScript and
 * TypeScript"), the first half of the compile step (controller/compile.h walks the modules).
 *
 * In the "extended" compatibility mode (k6's default) a module goes through two stages:
 *   1. esbuild (Debian's /usr/bin/esbuild, run as a child process, stdin -> stdout) strips
 *      TypeScript and lowers ES2016+ syntax (?., ??, object spread/rest, class fields, **) to
 *      ES2015, with an inline source map;
 *   2. babel-standalone 6.26 (embedded, in a Duktape heap) lowers ES2015 to ES5 CommonJS with
 *      retainLines, after a plugin has moved every AST node back to the line and column the
 *      source map gives it: the ES5 keeps the user's line numbers, so Duktape's runtime errors
 *      name the user's file:line.
 * Syntax errors name the user's file:line:column (0-based column, as Babel did) with a code frame.
 * async functions and generators fail at compile time with a clear error (VUs have no Promise or
 * regenerator runtime yet). Without esbuild on the machine, .js modules fall back to Babel alone
 * (ES2017 and older syntax) and .ts modules are refused with a hint.
 *
 * In the "base" mode (k6's --compatibility-mode=base) nothing is transpiled: the source must be
 * ES5.1 CommonJS (require(), module.exports); imports are the string literals passed to
 * require(). */
#ifndef SB_TRANSFORM_H
#define SB_TRANSFORM_H

#include "common/buf.h"
#include "common/err.h"

typedef enum sb_compat_mode {
  SB_COMPAT_EXTENDED = 0, /* esbuild + Babel + polyfills (default) */
  SB_COMPAT_BASE = 1,     /* plain ES5.1: no transpiling, no polyfills */
} sb_compat_mode;

/* "extended" / "base" (k6's names, as in metadata.json's "compatibilityMode") into |*out|.
 * Returns 0 or SB_EINVAL ("--compatibility-mode: 'x' is not base or extended"). */
int sb_compat_mode_parse(const char *s, sb_compat_mode *out, sb_err *err);
const char *sb_compat_mode_name(sb_compat_mode m);

typedef struct sb_transform sb_transform;

/* A transformer for one compile. Babel's heap (~0.3 s to load, a few MB) is created the first
 * time a module needs it and freed with the transformer. Returns 0 or SB_ENOMEM. */
int sb_transform_new(sb_transform **out, sb_compat_mode mode);
void sb_transform_free(sb_transform *t);

/* Transforms module |src| into ES5 CommonJS appended to |code|, and returns its import specifiers
 * as a NULL-terminated malloc'ed |*imports| (free with sb_transform_free_imports()). |name| is
 * how errors name the module ("lib/a.ts"); |path| (its URL or path) decides the loader: a name
 * ending in ".ts" is TypeScript. Returns 0, SB_ESCRIPT ("lib/a.ts:3:7: SyntaxError: Expected
 * \";\" but found \"x\"" plus a code frame), SB_ENOTFOUND (.ts without esbuild), SB_EIO (esbuild
 * could not run) or SB_ENOMEM. */
int sb_transform_module(sb_transform *t, const char *name, const char *path, const sb_buf *src,
                        sb_buf *code, char ***imports, sb_err *err);
void sb_transform_free_imports(char **imports);

/* Runs esbuild on |src| (stage 1 alone; for tests and measurements): ES2015 ESM with an inline
 * source map appended to |out|. |ts| selects the TypeScript loader. The binary is $SB_ESBUILD, or
 * `esbuild` on the PATH. Returns 0, SB_ESCRIPT (|err| as above, |src| gives the code frame),
 * SB_ENOTFOUND (no esbuild), SB_EIO or SB_ENOMEM. */
int sb_transform_esbuild(const char *name, int ts, const sb_buf *src, sb_buf *out, sb_err *err);

#endif
