/* The script's modules inside a Duktape heap: compiled once, loaded into many heaps.
 *
 * An |sb_program| holds every ES5 module of an archive (the es5/ entries) compiled to Duktape
 * bytecode once; it is read-only afterwards and shared by every VU heap of every worker thread.
 * sb_jsmod_install() gives a heap a CommonJS `require` that resolves specifiers with
 * sb_modpath_resolve() against the requiring module, loads each module's bytecode once per heap,
 * caches its exports, and hands built-in names ("k6", "k6/http", ...) to a callback, so the
 * controller (init-only stubs) and VUs (real modules) share one loader. */
#ifndef SB_JSMOD_H
#define SB_JSMOD_H

#include <stddef.h>

#include "common/archive.h"
#include "common/err.h"
#include "duktape.h"

typedef struct sb_program sb_program;

/* The archive entry of the program's prelude: an ES5 script (the polyfills the compile step chose,
 * controller/polyfill.h) that sb_jsmod_run_entry() runs in the heap's global scope before the
 * entry module. Optional; compiled to bytecode once like the modules. */
#define SB_JSMOD_PRELUDE "es5/polyfills.js"

/* Compiles every es5/ module of |ar| (entry URL from metadata.json's "filename") to bytecode in a
 * scratch heap. Keeps no pointer into |ar|. Returns 0, SB_ESCRIPT (|err|: "file:///x.js:3:7:
 * SyntaxError: ..."), SB_EFORMAT (no metadata/entry) or SB_ENOMEM. */
int sb_program_new(sb_program **out, const sb_archive *ar, sb_err *err);
void sb_program_free(sb_program *p);
/* URL of the entry module. */
const char *sb_program_entry(const sb_program *p);

/* Pushes the exports object of built-in module |name| and returns 1; returns 0 when unknown
 * (then `require` throws "unknown module"). Must not throw except for real errors. */
typedef int (*sb_jsmod_builtin_cb)(duk_context *ctx, const char *name, void *ud);

/* Installs the loader into |ctx| (global `require` for the entry, module cache in the heap
 * stash). |p| must outlive the heap. Returns 0 or SB_ENOMEM. */
int sb_jsmod_install(duk_context *ctx, const sb_program *p, sb_jsmod_builtin_cb builtin, void *ud);

/* Runs the prelude (if the program has one), then the entry module (its init code), and pushes its exports object: [ ... ] -> [ ... exports ].
 * On a JS error returns SB_ESCRIPT with |err| holding "file:///x.js:12:5: Error: msg" and the
 * stack trace, and pushes nothing. */
int sb_jsmod_run_entry(duk_context *ctx, sb_err *err);

/* Pushes the prelude's hook function |name| ("drain", "reset", "watch", "deferred": the Promise
 * job queue, controller/polyfills.js) and returns 1; returns 0 and pushes nothing when the program
 * has no such hook (no Promise in it). Call after sb_jsmod_run_entry(). Never throws. */
int sb_jsmod_push_hook(duk_context *ctx, const char *name);

/* Formats the error at the top of the stack (an Error or any value) into |err| as
 * "<file>:<line>: <name>: <message>" plus the stack, without popping it. */
void sb_jsmod_format_error(duk_context *ctx, duk_idx_t idx, sb_err *err);

/* The file URL open(|arg|) names: absolute, or relative to the directory of module |base| (k6:
 * the module that calls open()). Returns 0, or SB_EINVAL with |err| (not a local file, too long). */
int sb_jsmod_open_url(const char *base, const char *arg, char *out, size_t cap, sb_err *err);
/* The URL of the module whose code called the running C function (its functions carry the module
 * URL as fileName), or |dflt|; written into |out|. Leaves the stack as it was. */
const char *sb_jsmod_caller_url(duk_context *ctx, char *out, size_t cap, const char *dflt);

#endif
