/* The compile step (controller/compile.h).
 *
 * One |compiler| per call. Babel lives in its own Duktape heap, loaded lazily (~0.3 s) the first
 * time a module needs transpiling, so an archive that already holds es5/ never pays for it. The
 * module walk is depth-first from the entry: a module's es5/ entry is added before its imports
 * are visited, which both marks it done and breaks cycles. Imports are taken from Babel's own
 * metadata (import declarations and `export ... from`), resolved with sb_modpath_resolve() exactly
 * as the VUs' require() will resolve them.
 *
 * Remote modules (http://, https://) are fetched with controller/fetch.h, k6's default HTTP
 * settings and the system trust store ($SSL_CERT_FILE), once per compile: the es5/ entry that
 * marks a module done is the cache, so a module imported from ten places is fetched once. They go
 * through the same pipeline as local ones and are archived as k6 does (`https/<host[:port]>/<path>`
 * beside `es5/https/...`); compiling from an archive reads them from it and fetches nothing. A
 * remote module may import remote ones only (k6 refuses file:// from an https:// origin). Import
 * cycles among local files stay allowed (CommonJS semantics: the importer sees the exports filled
 * so far, which scripts in the wild rely on); a cycle with a remote module on it is a compile
 * error naming the modules of the cycle, as the issue asks: a remote library that imports itself
 * back is broken upstream, and a clear message beats a half-initialised module at run time.
 *
 * The init context runs in a second heap on the archive built so far (common/jsmod.h), with
 * init-only stubs for the k6 modules, __ENV, and an open() that reads files (from disk, or from
 * the source archive) and adds them to the archive as file/<abs>. The k6/metrics constructors
 * register each metric in a set of the compiler's (sb_metrics_register(), the VUs' own check),
 * which is how the result learns the custom metrics and their types. */
#include "controller/compile.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/js_modules.h"
#include "agent/js_textcodec.h"
#include "common/buf.h"
#include "common/duk_udata.h"
#include "common/jsmod.h"
#include "common/modpath.h"
#include "controller/fetch.h"
#include "controller/polyfill.h"
#include "duktape.h"

#define URL_MAX 4096
#define NAME_MAX_ (URL_MAX + 16)
#define MAX_DEPTH 200
#define SB_COMPILE_VERSION "speedboat-0.1"

typedef struct compiler {
  sb_duk_udata udata;     /* first: the heaps' user data is the compiler (open() finds it) */
  sb_transform *tf;       /* source -> ES5 (esbuild, Babel); NULL once the walk is done */
  sb_compat_mode mode;    /* base: no transpiling, no polyfills */
  sb_archive *ar;         /* being built */
  const sb_archive *src;  /* archive the sources come from; NULL: the disk */
  const char *entry_arg;  /* the entry as the user typed it: errors quote it */
  char *entry_url;
  char cwd[PATH_MAX];     /* for short names in errors; "" when unknown */
  int depth;              /* import nesting, bounded */
  const char *stack[MAX_DEPTH]; /* the modules being walked, entry first (|depth| of them) */
  sb_fetch *fetch;        /* remote modules' fetcher, made at the first remote import */
  sb_metrics *known;      /* the init context's metrics: built-ins, then those its code created */
  int aborted;            /* the init code called exec.test.abort() */
} compiler;

#define K_STUBS DUK_HIDDEN_SYMBOL("sbStubs")

/* Init-context stand-ins for the built-in modules: what k6 allows at init works (metrics
 * constructors, SharedArray, setResponseCallback, http.file, encoding), the rest throws when
 * called during init — defining functions that call them later is fine. Called with |reg|, the
 * C function that records a metric (name, sb_metric_type, isTime), and |share|, which archives a
 * SharedArray's JSON (name, json): its function runs here once per name, never on the agents
 * (agent/js_data.c). */
static const char INIT_STUBS[] =
    "(function (reg, share, stop) {\n"
    "  function no(n) { return function () {\n"
    "    throw new Error(n + '() is not supported in the init context'); }; }\n"
    "  function ns(pre, names, o) { o = o || {};\n"
    "    for (var i = 0; i < names.length; i++) o[names[i]] = no(pre + names[i]); return o; }\n"
    "  function metric(kind, type) { var M = function (name, isTime) {\n"
    "      if (!(this instanceof M)) throw new TypeError(kind + ' must be called with new');\n"
    "      if (typeof name !== 'string' || !name) throw new TypeError(kind + ': a name is required');\n"
    "      reg(name, type, !!isTime); this.name = name; };\n"
    "    M.prototype.add = no(kind + '.add'); return M; }\n"
    "  return {\n"
    "    'k6': ns('', ['sleep', 'check', 'group', 'fail'], {randomSeed: function () {}}),\n"
    "    'k6/http': ns('http.', ['get', 'post', 'put', 'patch', 'del', 'head', 'options',\n"
    "        'request', 'batch', 'asyncRequest', 'cookieJar'], {\n"
    "      setResponseCallback: function () {},\n"
    "      expectedStatuses: function () { return {statuses: [].slice.call(arguments)}; },\n"
    "      file: function (data, filename, ct) { return {data: data, filename: filename,\n"
    "        content_type: ct || 'application/octet-stream'}; },\n"
    "      url: function (s) { var r = s[0];\n"
    "        for (var i = 1; i < arguments.length; i++) r += arguments[i] + s[i];\n"
    "        return {url: r}; },\n"
    "      SSL_3_0: 'ssl3.0', TLS_1_0: 'tls1.0', TLS_1_1: 'tls1.1', TLS_1_2: 'tls1.2',\n"
    "      TLS_1_3: 'tls1.3', OCSP_STATUS_GOOD: 'good', OCSP_STATUS_REVOKED: 'revoked',\n"
    "      OCSP_STATUS_UNKNOWN: 'unknown', OCSP_REASON_UNSPECIFIED: 'unspecified',\n"
    "      OCSP_REASON_KEY_COMPROMISE: 'key_compromise', OCSP_REASON_CA_COMPROMISE:\n"
    "      'ca_compromise', OCSP_REASON_AFFILIATION_CHANGED: 'affiliation_changed',\n"
    "      OCSP_REASON_SUPERSEDED: 'superseded', OCSP_REASON_CESSATION_OF_OPERATION:\n"
    "      'cessation_of_operation', OCSP_REASON_CERTIFICATE_HOLD: 'certificate_hold',\n"
    "      OCSP_REASON_REMOVE_FROM_CRL: 'remove_from_crl', OCSP_REASON_PRIVILEGE_WITHDRAWN:\n"
    "      'privilege_withdrawn', OCSP_REASON_AA_COMPROMISE: 'aa_compromise',\n"
    "      CookieJar: function () {}}),\n"
    "    'k6/metrics': {Counter: metric('Counter', 1), Gauge: metric('Gauge', 2),\n"
    "      Rate: metric('Rate', 3), Trend: metric('Trend', 4)},\n"
    "    'k6/data': (function (seen) { return {SharedArray: function (name, fn) {\n"
    "      name = String(name);\n"
    "      if (!name) throw new Error(\"empty name provided to SharedArray's constructor\");\n"
    "      if (typeof fn !== 'function') throw new TypeError(\n"
    "        \"a function is expected as the second argument of SharedArray's constructor\");\n"
    "      if (!seen.hasOwnProperty(name)) { var a = fn(); if (!Array.isArray(a))\n"
    "        throw new TypeError('only arrays can be made into SharedArray');\n"
    "        seen[name] = JSON.stringify(a); share(name, seen[name]); }\n"
    "      return JSON.parse(seen[name]); }}; })({}),\n"
    "    'k6/execution': (function (o) { function g(k, w, c) { Object.defineProperty(o, k, {enumerable: true, get: function () { throw new Error('getting ' + w + ' information ' + c + ' is not supported'); }}); } g('vu', 'VU', 'in the init context'); g('instance', 'instance', 'in the init context'); g('scenario', 'scenario', 'outside of the VU context'); o.test = {options: {}, abort: function (r) { stop(r === undefined ? '' : String(r)); }}; return o; })({}),\n"
    "    'k6/ws': ns('ws.', ['connect']),\n"
    "    'k6/timers': ns('', ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval']),\n"
    "    'k6/experimental/timers': ns('', ['setTimeout', 'clearTimeout', 'setInterval',\n"
    "        'clearInterval'])\n"
    "  };\n"
    "})";

static const char INIT_GLOBALS[] =
    "(function (g) {\n"
    "  var nop = function () {};\n"
    "  g.console = {log: nop, info: nop, warn: nop, error: nop, debug: nop};\n"
    "  g.__VU = 0; g.__ITER = 0;\n"
    "  ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].forEach(function (n) {\n"
    "    g[n] = function () { throw new Error(n + '() is not supported in the init context'); };\n"
    "  });\n"
    "})(this)";

/* --- names ---------------------------------------------------------------------------------- */

/* How errors name module |url|: the entry as the user typed it, other local modules relative to
 * the current directory when below it, else by absolute path; remote ones by URL. */
static const char *display(const compiler *c, const char *url) {
  if (c->entry_url && strcmp(url, c->entry_url) == 0) return c->entry_arg;
  const char *p = sb_modpath_file_path(url);
  if (!p) return url;
  size_t n = strlen(c->cwd);
  if (c->entry_arg[0] != '/' && n > 1 && strncmp(p, c->cwd, n) == 0 && p[n] == '/') return p + n + 1;
  return p;
}

/* --- the module walk ------------------------------------------------------------------------ */

/* Reads the source of module |url| into |out|: from the source archive, the disk, or (remote
 * URLs) the network. |from| and |spec| name the import for errors (NULL for the entry). */
static int load_source(compiler *c, const char *url, const char *from, const char *spec,
                       sb_buf *out, sb_err *err) {
  char name[NAME_MAX_];
  const char *path = sb_modpath_file_path(url);
  if (c->src) {
    const sb_archive_file *f = NULL;
    if (sb_modpath_to_archive(url, 0, name, sizeof(name)) == 0) f = sb_archive_get(c->src, name);
    if (!f && strcmp(url, c->entry_url) == 0) f = sb_archive_get(c->src, "data");
    if (!f && from)
      return sb_err_set(err, SB_ENOTFOUND, "%s: import '%s': %s is not in the archive", from,
                        spec, url);
    if (!f) return sb_err_set(err, SB_EFORMAT, "archive: no source for the entry %s", url);
    return sb_buf_append(out, f->data, f->len) ? sb_err_set(err, SB_ENOMEM, "out of memory") : 0;
  }
  if (!path) {
    int rc = c->fetch ? 0 : sb_fetch_new(&c->fetch, NULL, 0, err);
    if (!rc) rc = sb_fetch_get(c->fetch, url, out, err);
    if (rc && from) sb_err_prefix(err, "%s: import '%s': ", from, spec);
    return rc;
  }
  int rc = sb_buf_read_file(out, path, err);
  if (rc == SB_ENOTFOUND && from)
    return sb_err_set(err, rc, "%s: import '%s': file not found: %s", from, spec, path);
  if (rc == SB_ENOTFOUND) return sb_err_set(err, rc, "%s: file not found", c->entry_arg);
  return rc;
}

static int add_buf(compiler *c, const char *name, const sb_buf *b, sb_err *err) {
  int rc = sb_archive_add(c->ar, name, b->data ? b->data : "", b->len);
  if (rc) sb_err_set(err, rc, "archive: cannot add %s (%s)", name, sb_strerror(rc));
  return rc;
}

static int compile_module(compiler *c, const char *url, const char *from, const char *spec,
                          sb_err *err);

/* Visits each import of module |url| (already archived). */
static int compile_imports(compiler *c, const char *url, char **imports, sb_err *err) {
  char dep[URL_MAX];
  const char *from = display(c, url);
  for (size_t i = 0; imports[i]; i++) {
    if (sb_modpath_is_builtin(imports[i])) continue;
    int rc = sb_modpath_resolve(url, imports[i], dep, sizeof(dep), err);
    if (rc) {
      sb_err_prefix(err, "%s: import '%s': ", from, imports[i]);
      return rc;
    }
    if (!sb_modpath_file_path(url) && sb_modpath_file_path(dep))
      return sb_err_set(err, SB_EINVAL, "%s: import '%s': a remote module cannot import a local "
                        "file (%s)", from, imports[i], dep);
    if ((rc = compile_module(c, dep, from, imports[i], err)) != 0) return rc;
  }
  return 0;
}

/* Module |url| is archived already. When it is also on the walk's path, this import closes a
 * cycle: fine between local files, an error (SB_EINVAL, naming the cycle) when a remote module is
 * on it. */
static int check_cycle(compiler *c, const char *url, const char *from, const char *spec,
                       sb_err *err) {
  int i = c->depth, remote = 0;
  while (i-- > 0 && strcmp(c->stack[i], url) != 0) {}
  if (i < 0) return 0;
  for (int k = i; k < c->depth; k++)
    remote |= sb_modpath_file_path(c->stack[k]) == NULL;
  if (!remote) return 0;
  sb_buf b;
  sb_buf_init(&b);
  for (int k = i; k < c->depth; k++)
    sb_buf_printf(&b, "%s -> ", display(c, c->stack[k]));
  sb_buf_puts(&b, display(c, url));
  sb_err_set(err, SB_EINVAL, "%s: import '%s': import cycle through a remote module: %s", from,
             spec, b.data ? b.data : url);
  sb_buf_clear(&b);
  return SB_EINVAL;
}

/* Reads, transpiles and archives module |url| and, depth first, everything it imports. A module
 * whose es5/ entry exists is done (or in progress: a cycle). */
static int compile_module(compiler *c, const char *url, const char *from, const char *spec,
                          sb_err *err) {
  char es5[NAME_MAX_], srcname[NAME_MAX_];
  if (sb_modpath_to_archive(url, 1, es5, sizeof(es5)) ||
      sb_modpath_to_archive(url, 0, srcname, sizeof(srcname))) {
    sb_err_set(err, SB_EINVAL, "unsupported module URL %s", url);
    if (from) sb_err_prefix(err, "%s: import '%s': ", from, spec);
    return SB_EINVAL;
  }
  if (sb_archive_get(c->ar, es5)) return check_cycle(c, url, from, spec, err);
  if (!c->tf && sb_transform_new(&c->tf, c->mode)) return sb_err_set(err, SB_ENOMEM, "out of memory");
  if (c->depth >= MAX_DEPTH)
    return sb_err_set(err, SB_EINVAL, "%s: imports nested deeper than %d", url, MAX_DEPTH);
  sb_buf src, code;
  sb_buf_init(&src);
  sb_buf_init(&code);
  char **imports = NULL;
  int rc = load_source(c, url, from, spec, &src, err);
  if (rc) goto out;
  rc = sb_transform_module(c->tf, display(c, url), url, &src, &code, &imports, err);
  if (rc) goto out;
  if ((rc = add_buf(c, srcname, &src, err)) != 0) goto out;
  if (strcmp(url, c->entry_url) == 0 && (rc = add_buf(c, "data", &src, err)) != 0) goto out;
  if ((rc = add_buf(c, es5, &code, err)) != 0) goto out;
  c->stack[c->depth++] = url; /* |url| lives in the caller's frame until this returns */
  rc = compile_imports(c, url, imports, err);
  c->depth--;
out:
  sb_transform_free_imports(imports);
  sb_buf_clear(&src);
  sb_buf_clear(&code);
  return rc;
}

/* --- the init context ----------------------------------------------------------------------- */

static int init_builtin(duk_context *ctx, const char *name, void *ud) {
  if (sb_js_module_push(ctx, name, 1)) return 1; /* pure modules work at init as in k6 */
  duk_push_heap_stash(ctx);
  duk_get_prop_string(ctx, -1, K_STUBS);
  if (!duk_get_prop_string(ctx, -1, name)) {         /* -> [ stash stubs mod ] */
    duk_pop_3(ctx);
    return 0;
  }
  duk_replace(ctx, -3);
  duk_pop(ctx);                                      /* -> [ mod ] */
  return 1;
}

/* Finds or reads the file for open() and archives it. Returns the archived entry or NULL. */
static const sb_archive_file *open_file(compiler *c, const char *base, const char *arg,
                                        sb_err *err) {
  char url[URL_MAX], name[NAME_MAX_];
  if (sb_jsmod_open_url(base, arg, url, sizeof(url), err)) return NULL;
  if (sb_modpath_to_archive(url, 0, name, sizeof(name))) {
    sb_err_set(err, SB_EINVAL, "cannot archive %s", url);
    return NULL;
  }
  const sb_archive_file *f = sb_archive_get(c->ar, name);
  if (f) return f;
  if (c->src) {
    if (!(f = sb_archive_get(c->src, name))) {
      sb_err_set(err, SB_ENOTFOUND, "file not in the archive: %s", sb_modpath_file_path(url));
      return NULL;
    }
    if (sb_archive_add(c->ar, name, f->data, f->len)) goto nomem;
    return sb_archive_get(c->ar, name);
  }
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_buf_read_file(&b, sb_modpath_file_path(url), err);
  if (rc == SB_ENOTFOUND) sb_err_set(err, rc, "file not found: %s", sb_modpath_file_path(url));
  if (rc == 0 && sb_archive_add(c->ar, name, b.data, b.len)) rc = SB_ENOMEM;
  sb_buf_clear(&b);
  if (rc == SB_ENOMEM) goto nomem;
  return rc ? NULL : sb_archive_get(c->ar, name);
nomem:
  sb_err_set(err, SB_ENOMEM, "out of memory");
  return NULL;
}

/* open(path[, "b"]): the file's content, a string or (mode "b") an ArrayBuffer. */
static duk_ret_t js_open(duk_context *ctx) {
  const char *arg = duk_require_string(ctx, 0);
  const char *mode = duk_get_string_default(ctx, 1, "");
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  compiler *c = mf.udata;
  char base[URL_MAX];
  sb_err err;
  err.msg[0] = '\0';
  sb_jsmod_caller_url(ctx, base, sizeof(base), c->entry_url);
  const sb_archive_file *f = open_file(c, base, arg, &err);
  if (!f) return duk_error(ctx, DUK_ERR_ERROR, "open(\"%s\"): %s", arg, err.msg);
  if (strchr(mode, 'b')) {
    void *p = duk_push_fixed_buffer(ctx, f->len);
    memcpy(p, f->data, f->len);
    duk_push_buffer_object(ctx, -1, 0, f->len, DUK_BUFOBJ_ARRAYBUFFER);
  } else {
    duk_push_lstring(ctx, (const char *)f->data, f->len);
  }
  return 1;
}

/* reg(name, type, isTime), the k6/metrics stubs' recorder: registers the metric in the
 * compiler's set, throwing the VUs' TypeError when the name exists with another type or value
 * type (a built-in name included). */
static duk_ret_t js_metric(duk_context *ctx) {
  const char *name = duk_require_string(ctx, 0);
  sb_metric_type type = (sb_metric_type)duk_require_int(ctx, 1);
  sb_value_type contains = duk_to_boolean(ctx, 2) ? SB_VALUE_TIME : SB_VALUE_DEFAULT;
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  compiler *c = mf.udata;
  sb_err err;
  err.msg[0] = '\0';
  if (sb_metrics_register(c->known, name, type, contains, &err) < 0)
    return duk_error(ctx, DUK_ERR_TYPE_ERROR, "%s", err.msg);
  return 0;
}

/* share(name, json), the k6/data stub's recorder: stores a SharedArray's array, as JSON, in the
 * archive under sb_data_archive_name() for the agents (replacing a copy an input archive had). */
static duk_ret_t js_share(duk_context *ctx) {
  char aname[1024];
  size_t nlen, jlen;
  const char *name = duk_require_lstring(ctx, 0, &nlen);
  const char *json = duk_require_lstring(ctx, 1, &jlen);
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  compiler *c = mf.udata;
  if (sb_data_archive_name(name, nlen, aname, sizeof(aname)) != 0)
    return duk_error(ctx, DUK_ERR_RANGE_ERROR, "SharedArray: name too long");
  if (sb_archive_add(c->ar, aname, json, jlen) != 0)
    return duk_error(ctx, DUK_ERR_ERROR, "SharedArray '%s': out of memory archiving it", name);
  return 0;
}

/* stop(reason), k6/execution's test.abort() in the init context: marks the compile aborted (k6's
 * exit 108, not a script error) and throws to end the init code. */
static duk_ret_t js_stop(duk_context *ctx) {
  const char *why = duk_get_string_default(ctx, 0, "");
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  ((compiler *)mf.udata)->aborted = 1;
  return duk_error(ctx, DUK_ERR_ERROR, "test aborted%s%s", *why ? ": " : "", why);
}

/* [ ] -> [ ]: globals and module stubs of the init context. |udata| is the env pairs. */
static duk_ret_t init_setup_safe(duk_context *ctx, void *udata) {
  const char *const *env = udata;
  duk_push_heap_stash(ctx);
  duk_eval_string(ctx, INIT_STUBS);                  /* -> [ stash fn ] */
  duk_push_c_function(ctx, js_metric, 3);
  duk_push_c_function(ctx, js_share, 2);
  duk_push_c_function(ctx, js_stop, 1);
  duk_call(ctx, 3);                                  /* -> [ stash stubs ] */
  duk_put_prop_string(ctx, -2, K_STUBS);
  duk_pop(ctx);
  duk_eval_string_noresult(ctx, INIT_GLOBALS);
  sb_js_textcodec_register(ctx); /* pure: the real ones, as in the VUs */
  duk_push_object(ctx);
  for (size_t i = 0; env && env[i] && env[i + 1]; i += 2) {
    duk_push_string(ctx, env[i + 1]);
    duk_put_prop_string(ctx, -2, env[i]);
  }
  duk_put_global_string(ctx, "__ENV");
  duk_push_c_function(ctx, js_open, DUK_VARARGS);
  duk_put_global_string(ctx, "open");
  return 0;
}

/* [ exports ] -> [ exports json ]: JSON of exports.options, "{}" when absent. */
static duk_ret_t options_safe(duk_context *ctx, void *udata) {
  duk_get_prop_string(ctx, 0, "options");
  if (duk_is_null_or_undefined(ctx, -1)) {
    duk_push_string(ctx, "{}");
  } else {
    if (!duk_is_object(ctx, -1) || duk_is_function(ctx, -1))
      return duk_error(ctx, DUK_ERR_TYPE_ERROR, "exported 'options' must be an object");
    duk_json_encode(ctx, -1);
    duk_dup_top(ctx);
  }
  return 1;
}

/* Runs the entry's init code once on the archive built so far; |*options_json| gets
 * JSON.stringify(exports.options). Files passed to open() join the archive; metrics the code
 * creates join c->known. */
static int run_init(compiler *c, const char *const *env, char **options_json, sb_err *err) {
  sb_program *p = NULL;
  int rc = sb_program_new(&p, c->ar, err);
  if (rc) return rc;
  if (sb_metrics_new(&c->known)) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail_heap;
  }
  duk_context *ctx = duk_create_heap(NULL, NULL, NULL, c, NULL);
  if (!ctx) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory creating the init heap");
    goto fail_heap;
  }
  if ((rc = sb_jsmod_install(ctx, p, init_builtin, c)) != 0) {
    sb_err_set(err, rc, "installing the module loader: %s", sb_strerror(rc));
    goto fail;
  }
  if (duk_safe_call(ctx, init_setup_safe, (void *)env, 0, 1) != DUK_EXEC_SUCCESS) {
    rc = sb_err_set(err, SB_ESCRIPT, "init context: %s", duk_safe_to_string(ctx, -1));
    goto fail;
  }
  duk_pop(ctx);
  if ((rc = sb_jsmod_run_entry(ctx, err)) != 0) {             /* -> [ exports ] */
    if (c->aborted) rc = SB_ECANCELED;
    goto fail;
  }
  if (duk_safe_call(ctx, options_safe, NULL, 1, 1) != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, err);
    sb_err_prefix(err, "%s: options: ", c->entry_arg);
    rc = SB_ESCRIPT;
    goto fail;
  }
  if (!(*options_json = strdup(duk_get_string(ctx, -1))))
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
fail:
  duk_destroy_heap(ctx);
fail_heap:
  sb_program_free(p);
  return rc;
}

/* Copies the custom metrics of the init context (the ids past the built-ins) into |out|. */
static int take_metrics(compiler *c, sb_compile_result *out, sb_err *err) {
  int n = c->known ? sb_metrics_count(c->known) - SB_M_BUILTIN_COUNT : 0;
  if (n <= 0) return 0;
  sb_metric_info *v = calloc((size_t)n, sizeof(*v));
  if (!v) return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    v[i] = *sb_metrics_info(c->known, SB_M_BUILTIN_COUNT + i);
    if (!(v[i].name = strdup(v[i].name))) {
      while (i-- > 0) free((char *)v[i].name);
      free(v);
      return sb_err_set(err, SB_ENOMEM, "out of memory");
    }
  }
  out->metrics = v;
  out->nmetrics = (size_t)n;
  return 0;
}

/* --- metadata.json -------------------------------------------------------------------------- */

/* Writes metadata.json: entry, pwd, options (|options_json|, may be NULL), env. */
static int write_metadata(compiler *c, const char *pwd, const char *options_json, json_t *env,
                          sb_err *err) {
  json_t *opts = options_json ? json_loads(options_json, JSON_DECODE_ANY, NULL) : NULL;
  json_t *m = json_pack("{s:s, s:s, s:o, s:O, s:s, s:s, s:s}", "filename", c->entry_url, "pwd",
                        pwd, "options", opts ? opts : json_object(), "env", env,
                        "compatibilityMode", sb_compat_mode_name(c->mode), "k6version", SB_COMPILE_VERSION, "type",
                        "js");
  char *s = m ? json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(m);
  if (!s) return sb_err_set(err, SB_ENOMEM, "out of memory writing metadata.json");
  int rc = sb_archive_add(c->ar, "metadata.json", s, strlen(s));
  free(s);
  return rc ? sb_err_set(err, rc, "archive: cannot add metadata.json") : 0;
}

/* The env object: |base| (may be NULL) overridden by the |env| pairs. New reference. */
static json_t *env_object(json_t *base, const char *const *env) {
  json_t *o = base && json_is_object(base) ? json_deep_copy(base) : json_object();
  for (size_t i = 0; o && env && env[i] && env[i + 1]; i += 2)
    json_object_set_new(o, env[i], json_string(env[i + 1]));
  return o;
}

/* The env as pairs for __ENV (pointers into |o|). Caller frees the array. */
static const char **env_pairs(json_t *o) {
  const char **v = calloc(2 * json_object_size(o) + 1, sizeof(*v));
  const char *k;
  json_t *val;
  size_t n = 0;
  if (!v) return NULL;
  json_object_foreach(o, k, val) {
    if (!json_is_string(val)) continue;
    v[n++] = k;
    v[n++] = json_string_value(val);
  }
  return v;
}

/* Scans the ES5 of every module and stores the polyfills they need as the program's prelude
 * (nothing in base mode, or when none is needed). */
static int add_polyfills(compiler *c, sb_err *err) {
  sb_polyfill_mask mask = 0;
  if (c->mode == SB_COMPAT_BASE) return 0;
  for (size_t i = 0; i < c->ar->n; i++) {
    const sb_archive_file *f = &c->ar->files[i];
    if (strncmp(f->name, "es5/", 4) == 0 && strcmp(f->name, SB_JSMOD_PRELUDE) != 0)
      sb_polyfill_scan((const char *)f->data, f->len, &mask);
  }
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_polyfill_build(mask, &b);
  if (!rc && b.len) rc = sb_archive_add(c->ar, SB_JSMOD_PRELUDE, b.data, b.len);
  sb_buf_clear(&b);
  return rc ? sb_err_set(err, rc, "archive: cannot add the polyfills (%s)", sb_strerror(rc)) : 0;
}

/* In base mode a modern script fails in Duktape's parser: say why. */
static void base_hint(compiler *c, int rc, sb_err *err) {
  if (c->mode != SB_COMPAT_BASE || rc != SB_ESCRIPT || !strstr(err->msg, "SyntaxError")) return;
  size_t n = strlen(err->msg);
  snprintf(err->msg + n, sizeof(err->msg) - n, "\n(--compatibility-mode=base runs plain ES5.1 "
           "with require() and module.exports; --compatibility-mode=extended transpiles "
           "import/export, TypeScript and newer syntax)");
}

/* --- entry points --------------------------------------------------------------------------- */

/* Shared tail: init run, metadata, result. |opts| (archives) wins over the init's options when
 * it is a non-empty object. Takes |env|. */
static int finish(compiler *c, const char *pwd, json_t *env, json_t *opts,
                  sb_compile_result *out, sb_err *err) {
  char *json = NULL;
  const char **pairs = env_pairs(env);
  int rc = pairs ? 0 : sb_err_set(err, SB_ENOMEM, "out of memory");
  if (!rc) rc = write_metadata(c, pwd, NULL, env, err);
  if (!rc && (rc = run_init(c, pairs, &json, err)) != 0) base_hint(c, rc, err);
  if (!rc && json_is_object(opts) && json_object_size(opts) > 0) {
    free(json);
    if (!(json = json_dumps(opts, JSON_COMPACT | JSON_PRESERVE_ORDER)))
      rc = sb_err_set(err, SB_ENOMEM, "out of memory");
  }
  if (!rc) rc = write_metadata(c, pwd, json, env, err);
  if (!rc) rc = take_metrics(c, out, err);
  free(pairs);
  json_decref(env);
  if (rc) {
    free(json);
    return rc;
  }
  out->archive = c->ar;
  out->options_json = json;
  out->entry_url = c->entry_url;
  c->ar = NULL;
  c->entry_url = NULL;
  return 0;
}

static int compiler_init(compiler *c, const char *entry_arg, sb_compat_mode mode, sb_err *err) {
  memset(c, 0, sizeof(*c));
  c->entry_arg = entry_arg;
  c->mode = mode;
  if (!getcwd(c->cwd, sizeof(c->cwd))) c->cwd[0] = '\0';
  return sb_archive_new(&c->ar) ? sb_err_set(err, SB_ENOMEM, "out of memory") : 0;
}

static void compiler_clear(compiler *c) {
  sb_transform_free(c->tf);
  sb_archive_free(c->ar);
  sb_metrics_free(c->known);
  sb_fetch_free(c->fetch);
  free(c->entry_url);
}

int sb_compile_script(const char *path, const char *const *env, sb_compile_result *out,
                      sb_err *err) {
  return sb_compile_script_mode(path, env, SB_COMPAT_EXTENDED, out, err);
}

int sb_compile_script_mode(const char *path, const char *const *env, sb_compat_mode mode,
                           sb_compile_result *out, sb_err *err) {
  compiler c;
  char url[URL_MAX], pwd[PATH_MAX + 16];
  memset(out, 0, sizeof(*out));
  int rc = compiler_init(&c, path, mode, err);
  if (rc) return rc;
  if ((rc = sb_modpath_from_file(path, url, sizeof(url), err)) != 0) goto out;
  if (!(c.entry_url = strdup(url))) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(pwd, sizeof(pwd), "file://%s/", strcmp(c.cwd, "/") ? c.cwd : "");
  if ((rc = compile_module(&c, url, NULL, NULL, err)) != 0) goto out;
  sb_transform_free(c.tf);  /* done with Babel: free its ~MBs before the init heap */
  c.tf = NULL;
  if ((rc = add_polyfills(&c, err)) != 0) goto out;
  rc = finish(&c, pwd, env_object(NULL, env), NULL, out, err);
out:
  compiler_clear(&c);
  return rc;
}

/* The entry URL of an archive's metadata: k6 writes "file:///abs/x.js" (old versions a bare
 * absolute path). */
static int archive_entry(json_t *meta, char **out, sb_err *err) {
  const char *fn = json_string_value(json_object_get(meta, "filename"));
  if (!fn || !*fn) return sb_err_set(err, SB_EFORMAT, "archive: metadata.json has no \"filename\"");
  size_t n = strlen(fn) + 8;
  if (!(*out = malloc(n))) return sb_err_set(err, SB_ENOMEM, "out of memory");
  snprintf(*out, n, "%s%s", strstr(fn, "://") || fn[0] != '/' ? "" : "file://", fn);
  return 0;
}

/* Copies |src|'s sources (and, when |es5|, compiled modules) into the new archive. */
static int copy_entries(compiler *c, const sb_archive *src, int es5, sb_err *err) {
  for (size_t i = 0; i < src->n; i++) {
    const sb_archive_file *f = &src->files[i];
    if (strcmp(f->name, "metadata.json") == 0 || (!es5 && strncmp(f->name, "es5/", 4) == 0))
      continue;
    int rc = sb_archive_add(c->ar, f->name, f->data, f->len);
    if (rc) return sb_err_set(err, rc, "archive: cannot copy %s", f->name);
  }
  return 0;
}

int sb_compile_archive(const sb_archive *ar, const char *const *env, sb_compile_result *out,
                       sb_err *err) {
  compiler c;
  char es5[NAME_MAX_];
  json_error_t je;
  memset(out, 0, sizeof(*out));
  int rc = compiler_init(&c, "archive", SB_COMPAT_EXTENDED, err);
  if (rc) return rc;
  json_t *meta = NULL;
  const sb_archive_file *mf = sb_archive_get(ar, "metadata.json");
  if (!mf) {
    rc = sb_err_set(err, SB_EFORMAT, "archive: no metadata.json (not a k6 or speedboat archive)");
    goto out;
  }
  if (!(meta = json_loadb((const char *)mf->data, mf->len, 0, &je))) {
    rc = sb_err_set(err, SB_EFORMAT, "archive: metadata.json:%d: %s", je.line, je.text);
    goto out;
  }
  if ((rc = archive_entry(meta, &c.entry_url, err)) != 0) goto out;
  const char *mode = json_string_value(json_object_get(meta, "compatibilityMode"));
  if (mode && *mode && (rc = sb_compat_mode_parse(mode, &c.mode, err)) != 0) {
    sb_err_set(err, SB_EFORMAT, "archive: metadata.json: unknown compatibilityMode '%s'", mode);
    goto out;
  }
  c.entry_arg = c.entry_url;
  c.src = ar;
  int ours = sb_modpath_to_archive(c.entry_url, 1, es5, sizeof(es5)) == 0 &&
             sb_archive_get(ar, es5) != NULL;
  if ((rc = copy_entries(&c, ar, ours, err)) != 0) goto out;
  if (!ours && (rc = compile_module(&c, c.entry_url, NULL, NULL, err)) != 0) goto out;
  sb_transform_free(c.tf);
  c.tf = NULL;
  if (!ours && (rc = add_polyfills(&c, err)) != 0) goto out;
  const char *pwd = json_string_value(json_object_get(meta, "pwd"));
  rc = finish(&c, pwd ? pwd : "file:///", env_object(json_object_get(meta, "env"), env),
              json_object_get(meta, "options"), out, err);
out:
  json_decref(meta);
  compiler_clear(&c);
  return rc;
}

int sb_compile_archive_file(const char *path, const char *const *env, sb_compile_result *out,
                            sb_err *err) {
  sb_buf b;
  sb_archive *ar = NULL;
  memset(out, 0, sizeof(*out));
  sb_buf_init(&b);
  int rc = sb_buf_read_file(&b, path, err);
  if (rc == 0 && (rc = sb_archive_parse(&ar, (const uint8_t *)b.data, b.len, err)) != 0)
    sb_err_prefix(err, "%s: ", path);
  sb_buf_clear(&b);
  if (rc) return rc;
  rc = sb_compile_archive(ar, env, out, err);
  if (rc) sb_err_prefix(err, "%s: ", path);
  sb_archive_free(ar);
  return rc;
}

void sb_compile_result_clear(sb_compile_result *r) {
  if (!r) return;
  sb_archive_free(r->archive);
  free(r->options_json);
  free(r->entry_url);
  for (size_t i = 0; i < r->nmetrics; i++)
    free((char *)r->metrics[i].name);
  free(r->metrics);
  memset(r, 0, sizeof(*r));
}
