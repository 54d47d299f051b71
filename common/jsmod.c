/* Modules inside a Duktape heap (common/jsmod.h).
 *
 * Each es5/ entry of the archive is wrapped as
 *   function (exports, require, module, __filename, __dirname) { <source>\n}
 * with the prefix on the source's first line, so line numbers in errors are the source's, compiled
 * once in a scratch heap with the module URL as file name, and dumped to bytecode. A heap loads a
 * module's bytecode the first time it is required.
 *
 * Per VU the global stash (one per global object) holds the program, the builtin callback and the
 * module cache (url -> module object); the heap stash keeps the loaded module functions. Each
 * loaded module gets its own `require`, a C function carrying the module's URL as a hidden
 * property, so relative specifiers resolve against the requiring module.
 * Like Node, a module is cached before its code runs: a cycle sees the partly filled exports. */
#include "common/jsmod.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duk_ext.h"
#include "common/modpath.h"

#define URL_MAX 4096

typedef struct jsmod {
  char *url;
  void *bc;       /* duk_dump_function() output */
  size_t bc_len;
} jsmod;

struct sb_program {
  jsmod *mods;    /* sorted by url */
  size_t n;
  char *entry;
  jsmod prelude;  /* SB_JSMOD_PRELUDE (bc NULL when absent), run as a function with this = global */
  unsigned long long id; /* unique in the process: keys its loaded functions in a heap */
};

static atomic_ullong next_program_id;

#define K_PROG DUK_HIDDEN_SYMBOL("sbProg")
#define K_CB DUK_HIDDEN_SYMBOL("sbCb")
#define K_UD DUK_HIDDEN_SYMBOL("sbUd")
#define K_CACHE DUK_HIDDEN_SYMBOL("sbMods")
#define K_BASE DUK_HIDDEN_SYMBOL("sbBase")
#define K_FNS DUK_HIDDEN_SYMBOL("sbFns") /* heap stash, + program: url -> loaded function */

static const char WRAP_HEAD[] = "function (exports, require, module, __filename, __dirname) {";
/* The prelude is one expression statement; the function returns its value (the hooks). */
static const char WRAP_PRELUDE[] = "function () {return ";
#define K_HOOKS DUK_HIDDEN_SYMBOL("sbHooks")
static const char WRAP_TAIL[] = "\n}";

static int mod_cmp(const void *a, const void *b) {
  return strcmp(((const jsmod *)a)->url, ((const jsmod *)b)->url);
}

static const jsmod *prog_find(const sb_program *p, const char *url) {
  jsmod key = {.url = (char *)url};
  return bsearch(&key, p->mods, p->n, sizeof(*p->mods), mod_cmp);
}

/* The module URL of an archive entry "es5/file/a/b.js" -> "file:///a/b.js",
 * "es5/https/h/p.js" -> "https://h/p.js". Returns NULL for other entries. */
static char *entry_url(const char *name) {
  const char *scheme, *rest;
  if (strncmp(name, "es5/file/", 9) == 0) {
    scheme = "file:///";
    rest = name + 9;
  } else if (strncmp(name, "es5/https/", 10) == 0) {
    scheme = "https://";
    rest = name + 10;
  } else if (strncmp(name, "es5/http/", 9) == 0) {
    scheme = "http://";
    rest = name + 9;
  } else {
    return NULL;
  }
  size_t ls = strlen(scheme), lr = strlen(rest);
  char *u = malloc(ls + lr + 1);
  if (!u) return NULL;
  memcpy(u, scheme, ls);
  memcpy(u + ls, rest, lr + 1);
  return u;
}

/* duk_safe_call body: [ src filename ] -> [ bytecode ]. */
static duk_ret_t compile_safe(duk_context *ctx, void *udata) {
  duk_compile(ctx, DUK_COMPILE_FUNCTION);
  duk_dump_function(ctx);
  return 1;
}

/* Compiles one module into |m|. On a syntax error fills |err| from the thrown error. */
static int compile_one(duk_context *ctx, jsmod *m, const char *head, const uint8_t *src,
                       size_t len, sb_err *err) {
  size_t hl = strlen(head), tl = sizeof(WRAP_TAIL) - 1;
  char *buf = duk_push_fixed_buffer(ctx, hl + len + tl);
  memcpy(buf, head, hl);
  memcpy(buf + hl, src, len);
  memcpy(buf + hl + len, WRAP_TAIL, tl);
  duk_buffer_to_string(ctx, -1);                 /* -> [ src ] */
  duk_push_string(ctx, m->url);                  /* -> [ src url ] */
  if (duk_safe_call(ctx, compile_safe, NULL, 2, 1) != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, err);
    duk_pop(ctx);
    return SB_ESCRIPT;
  }
  duk_size_t n;
  void *bc = duk_get_buffer(ctx, -1, &n);        /* -> [ bytecode ] */
  m->bc = malloc(n ? n : 1);
  if (!m->bc) {
    duk_pop(ctx);
    return sb_err_set(err, SB_ENOMEM, "out of memory compiling %s", m->url);
  }
  memcpy(m->bc, bc, n);
  m->bc_len = n;
  duk_pop(ctx);
  return 0;
}

/* The entry URL: metadata.json's "filename". */
static int read_entry(const sb_archive *ar, char **out, sb_err *err) {
  const sb_archive_file *f = sb_archive_get(ar, "metadata.json");
  if (!f) return sb_err_set(err, SB_EFORMAT, "archive: no metadata.json");
  json_error_t je;
  json_t *root = json_loadb((const char *)f->data, f->len, 0, &je);
  if (!root)
    return sb_err_set(err, SB_EFORMAT, "archive: metadata.json:%d: %s", je.line, je.text);
  const char *fn = json_string_value(json_object_get(root, "filename"));
  if (!fn || !*fn) {
    json_decref(root);
    return sb_err_set(err, SB_EFORMAT, "archive: metadata.json: no \"filename\" (entry script)");
  }
  *out = strdup(fn);
  json_decref(root);
  return *out ? 0 : sb_err_set(err, SB_ENOMEM, "out of memory");
}

int sb_program_new(sb_program **out, const sb_archive *ar, sb_err *err) {
  int rc;
  sb_program *p = calloc(1, sizeof(*p));
  if (p) p->id = atomic_fetch_add(&next_program_id, 1) + 1;
  if (!p) return sb_err_set(err, SB_ENOMEM, "out of memory");
  if ((rc = read_entry(ar, &p->entry, err)) != 0) goto fail;
  p->mods = calloc(ar->n ? ar->n : 1, sizeof(*p->mods));
  duk_context *ctx = duk_create_heap_default();
  if (!p->mods || !ctx) {
    if (ctx) duk_destroy_heap(ctx);
    rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < ar->n; i++) {
    const sb_archive_file *f = &ar->files[i];
    if (strcmp(f->name, SB_JSMOD_PRELUDE) == 0 && !p->prelude.url) {
      if (!(p->prelude.url = strdup("polyfills.js")))
        rc = sb_err_set(err, SB_ENOMEM, "out of memory");
      else
        rc = compile_one(ctx, &p->prelude, WRAP_PRELUDE, f->data, f->len, err);
      if (rc) break;
      continue;
    }
    char *url = entry_url(f->name);
    if (!url) continue;
    jsmod *m = &p->mods[p->n++];
    m->url = url;
    if ((rc = compile_one(ctx, m, WRAP_HEAD, f->data, f->len, err)) != 0) break;
  }
  duk_destroy_heap(ctx);
  if (rc) goto fail;
  qsort(p->mods, p->n, sizeof(*p->mods), mod_cmp);
  if (!prog_find(p, p->entry)) {
    rc = sb_err_set(err, SB_EFORMAT, "archive: entry %s has no compiled module (es5/)", p->entry);
    goto fail;
  }
  *out = p;
  return 0;

fail:
  sb_program_free(p);
  return rc;
}

void sb_program_free(sb_program *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) {
    free(p->mods[i].url);
    free(p->mods[i].bc);
  }
  free(p->mods);
  free(p->entry);
  free(p->prelude.url);
  free(p->prelude.bc);
  free(p);
}

const char *sb_program_entry(const sb_program *p) { return p->entry; }

/* --- the loader, inside a heap ----------------------------------------------------------- */

static duk_ret_t require_fn(duk_context *ctx);

static const void *stash_ptr(duk_context *ctx, const char *key) {
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, key);
  const void *v = duk_get_pointer(ctx, -1);
  duk_pop_2(ctx);
  return v;
}

/* Pushes a `require` bound to module URL |url|: [ ... ] -> [ ... require ]. */
static void push_require(duk_context *ctx, const char *url) {
  duk_push_c_function(ctx, require_fn, 1);
  duk_push_string(ctx, url);
  duk_put_prop_string(ctx, -2, K_BASE);
}

/* Pushes module |m|'s function over this thread's globals: [ ... ] -> [ ... fn ]. Its bytecode is
 * loaded once per heap (the heap stash keeps it); a VU sharing the heap with one that loaded it
 * gets a closure of that function over its own globals (sb_duk_push_rebound()): the code, its
 * constants and inner function templates exist once. Throws. */
static void push_loaded(duk_context *ctx, const sb_program *p, const jsmod *m) {
  char key[40];
  snprintf(key, sizeof(key), "%s%llu", K_FNS, p->id); /* a heap may see several programs */
  duk_push_heap_stash(ctx);
  if (!duk_get_prop_string(ctx, -1, key)) {      /* -> [ hstash fns ] */
    duk_pop(ctx);
    duk_push_bare_object(ctx);
    duk_dup_top(ctx);
    duk_put_prop_string(ctx, -3, key);
  }
  if (duk_get_prop_string(ctx, -1, m->url)) {    /* -> [ hstash fns fn ] */
    sb_duk_push_rebound(ctx, -1);                 /* -> [ hstash fns fn closure ] */
    duk_replace(ctx, -4);
    duk_pop_2(ctx);
    return;
  }
  duk_pop(ctx);
  void *bc = duk_push_fixed_buffer(ctx, m->bc_len);
  memcpy(bc, m->bc, m->bc_len);
  duk_load_function(ctx);                         /* over this thread's globals already */
  duk_dup_top(ctx);
  duk_put_prop_string(ctx, -3, m->url);           /* -> [ hstash fns fn ] */
  duk_replace(ctx, -3);
  duk_pop(ctx);
}

/* Runs the module |url| (or returns it from the cache) and pushes its exports. Throws. */
static void load_module(duk_context *ctx, const char *url) {
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, K_CACHE);          /* -> [ stash cache ] */
  if (duk_get_prop_string(ctx, -1, url)) {        /* -> [ stash cache module ] */
    duk_get_prop_string(ctx, -1, "exports");
    duk_replace(ctx, -4);
    duk_pop_2(ctx);
    return;
  }
  duk_pop(ctx);
  const sb_program *p = stash_ptr(ctx, K_PROG);
  const jsmod *m = prog_find(p, url);
  if (!m) (void)duk_error(ctx, DUK_ERR_ERROR, "module not found: %s", url);
  duk_push_object(ctx);                           /* -> [ stash cache module ] */
  duk_push_object(ctx);
  duk_put_prop_string(ctx, -2, "exports");
  duk_push_string(ctx, url);
  duk_put_prop_string(ctx, -2, "id");
  duk_dup(ctx, -1);
  duk_put_prop_string(ctx, -3, url);              /* cached before running: cycles */
  push_loaded(ctx, p, m);                         /* -> [ stash cache module fn ] */
  duk_get_prop_string(ctx, -2, "exports");        /* this */
  duk_get_prop_string(ctx, -3, "exports");
  push_require(ctx, url);
  duk_dup(ctx, -5);
  const char *path = sb_modpath_file_path(url);
  if (!path) path = url;
  duk_push_string(ctx, path);                     /* __filename */
  const char *slash = strrchr(path, '/');
  duk_push_lstring(ctx, path, slash ? (size_t)(slash - path) : 0); /* __dirname */
  /* -> [ stash cache module fn this exports require module __filename __dirname ] */
  if (duk_pcall_method(ctx, 5) != DUK_EXEC_SUCCESS) {
    duk_del_prop_string(ctx, -3, url);            /* a failed module is not cached (Node) */
    (void)duk_throw(ctx);
  }
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "exports");        /* -> [ stash cache module exports ] */
  duk_replace(ctx, -4);
  duk_pop_2(ctx);
}

/* Builtins are cached under their name like files. [ ... ] -> [ ... exports ]. Throws. */
static void load_builtin(duk_context *ctx, const char *name) {
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, K_CACHE);
  if (duk_get_prop_string(ctx, -1, name)) {
    duk_replace(ctx, -3);
    duk_pop(ctx);
    return;
  }
  duk_pop(ctx);                                   /* -> [ stash cache ] */
  sb_jsmod_builtin_cb cb = (sb_jsmod_builtin_cb)(uintptr_t)stash_ptr(ctx, K_CB);
  void *ud = (void *)stash_ptr(ctx, K_UD);
  if (!cb || !cb(ctx, name, ud)) (void)duk_error(ctx, DUK_ERR_ERROR, "unknown module: %s", name);
  duk_dup_top(ctx);
  duk_put_prop_string(ctx, -3, name);             /* -> [ stash cache exports ] */
  duk_replace(ctx, -3);
  duk_pop(ctx);
}

/* require(spec): resolves against the URL this require was made for. */
static duk_ret_t require_fn(duk_context *ctx) {
  const char *spec = duk_require_string(ctx, 0);
  if (sb_modpath_is_builtin(spec)) {
    load_builtin(ctx, spec);
    return 1;
  }
  duk_push_current_function(ctx);
  duk_get_prop_string(ctx, -1, K_BASE);
  const char *base = duk_get_string(ctx, -1);
  char url[URL_MAX];
  sb_err err;
  err.msg[0] = '\0';
  if (sb_modpath_resolve(base ? base : "file:///", spec, url, sizeof(url), &err) != 0)
    (void)duk_error(ctx, DUK_ERR_ERROR, "%s", err.msg[0] ? err.msg : "cannot resolve module");
  if (!prog_find(stash_ptr(ctx, K_PROG), url))
    (void)duk_error(ctx, DUK_ERR_ERROR, "cannot find module '%s' (%s) required from %s", spec, url,
                    base ? base : "?");
  load_module(ctx, url);
  return 1;
}

int sb_jsmod_install(duk_context *ctx, const sb_program *p, sb_jsmod_builtin_cb builtin, void *ud) {
  duk_push_global_stash(ctx);
  duk_push_pointer(ctx, (void *)p);
  duk_put_prop_string(ctx, -2, K_PROG);
  duk_push_pointer(ctx, (void *)(uintptr_t)builtin);
  duk_put_prop_string(ctx, -2, K_CB);
  duk_push_pointer(ctx, ud);
  duk_put_prop_string(ctx, -2, K_UD);
  duk_push_bare_object(ctx);
  duk_put_prop_string(ctx, -2, K_CACHE);
  duk_pop(ctx);
  push_require(ctx, p->entry);
  duk_put_global_string(ctx, "require");
  return 0;
}

static duk_ret_t run_entry_safe(duk_context *ctx, void *udata) {
  const sb_program *p = udata;
  if (p->prelude.bc) {
    push_loaded(ctx, p, &p->prelude);             /* -> [ prelude ] */
    duk_push_global_object(ctx);
    duk_call_method(ctx, 0);                      /* -> [ hooks ] */
    if (duk_is_object(ctx, -1)) {
      duk_push_global_stash(ctx);
      duk_dup(ctx, -2);
      duk_put_prop_string(ctx, -2, K_HOOKS);
      duk_pop(ctx);
    }
    duk_pop(ctx);
  }
  load_module(ctx, p->entry);
  return 1;
}

int sb_jsmod_run_entry(duk_context *ctx, sb_err *err) {
  const sb_program *p = stash_ptr(ctx, K_PROG);
  if (!p) return sb_err_set(err, SB_EINVAL, "no program installed in this heap");
  if (duk_safe_call(ctx, run_entry_safe, (void *)p, 0, 1) != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, err);
    duk_pop(ctx);
    return SB_ESCRIPT;
  }
  return 0;
}

int sb_jsmod_push_hook(duk_context *ctx, const char *name) {
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, K_HOOKS); /* -> [ stash hooks ]; not reachable from scripts */
  if (!duk_is_object(ctx, -1)) {
    duk_pop_2(ctx);
    return 0;
  }
  duk_get_prop_string(ctx, -1, name);    /* -> [ stash hooks fn ] */
  if (!duk_is_function(ctx, -1)) {
    duk_pop_3(ctx);
    return 0;
  }
  duk_replace(ctx, -3);
  duk_pop(ctx);
  return 1;
}

/* duk_safe_call body: [ e ] -> [ e file line name message stack ]. A safe call sees the caller's
 * whole value stack (indices are not rebased), hence the index taken from the top. */
static duk_ret_t error_parts(duk_context *ctx, void *udata) {
  static const char *const keys[] = {"fileName", "lineNumber", "name", "message", "stack"};
  duk_idx_t e = duk_get_top_index(ctx);
  for (size_t i = 0; i < 5; i++) duk_get_prop_string(ctx, e, keys[i]);
  return 5;
}

/* Finds the first "(<url>:<line>)" of a Duktape stack trace, skipping C frames ("jsmod.c:252")
 * so an error thrown by a binding blames the script line that called it. */
static int stack_blame(const char *stack, const char **file, size_t *flen, long *line) {
  const char *first = strchr(stack, '\n'); /* skip "name: message", it may hold anything */
  for (const char *l = first ? first + 1 : NULL; l && *l;
       l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    const char *open = strchr(l, '('), *eol = strchr(l, '\n');
    if (!open || (eol && open > eol)) continue;
    const char *close = strchr(open, ')');
    if (!close || (eol && close > eol)) continue;
    const char *colon = close;
    while (colon > open && *colon != ':') colon--;
    if (colon <= open || !strstr(open, "://") || strstr(open, "://") > colon) continue;
    *file = open + 1;
    *flen = (size_t)(colon - open - 1);
    *line = strtol(colon + 1, NULL, 10);
    return 1;
  }
  return 0;
}

/* Appends the stack's frames that point into scripts (lines with a URL), one per line. */
static void append_frames(char *out, size_t cap, const char *stack) {
  size_t n = strlen(out);
  const char *l = stack ? strchr(stack, '\n') : NULL; /* the first line is "name: message" */
  while (l && *l && n + 1 < cap) {
    l++;
    const char *eol = strchr(l, '\n');
    size_t len = eol ? (size_t)(eol - l) : strlen(l);
    const char *u = strstr(l, "://");
    const char *close = NULL; /* Duktape's frame flags ("strict preventsyield") after ')' go */
    for (const char *c = l; c < l + len; c++)
      if (*c == ')') close = c;
    if (close) len = (size_t)(close + 1 - l);
    if (u && u < l + len) {
      int w = snprintf(out + n, cap - n, "\n%.*s", (int)len, l);
      if (w < 0 || (size_t)w >= cap - n) break;
      n += (size_t)w;
    }
    l = eol;
  }
}

void sb_jsmod_format_error(duk_context *ctx, duk_idx_t idx, sb_err *err) {
  if (!err) return;
  idx = duk_normalize_index(ctx, idx);
  duk_dup(ctx, idx);
  if (!duk_is_error(ctx, idx)) {
    snprintf(err->msg, sizeof(err->msg), "%s", duk_safe_to_string(ctx, -1));
    duk_pop(ctx);
    return;
  }
  if (duk_safe_call(ctx, error_parts, NULL, 1, 5) != DUK_EXEC_SUCCESS) {
    snprintf(err->msg, sizeof(err->msg), "%s", duk_safe_to_string(ctx, -5));
    duk_pop_n(ctx, 5);
    return;
  }
  /* -> [ ... file line name message stack ] */
  const char *file = duk_is_string(ctx, -5) ? duk_get_string(ctx, -5) : NULL;
  size_t flen = file ? strlen(file) : 0;
  long line = duk_is_number(ctx, -4) ? (long)duk_get_number(ctx, -4) : 0;
  const char *name = duk_is_string(ctx, -3) ? duk_get_string(ctx, -3) : "Error";
  const char *msg = duk_safe_to_string(ctx, -2);
  const char *stack = duk_is_string(ctx, -1) ? duk_get_string(ctx, -1) : NULL;
  if ((!file || !strstr(file, "://")) && stack) stack_blame(stack, &file, &flen, &line);
  int n = 0;
  if (file && line > 0)
    n = snprintf(err->msg, sizeof(err->msg), "%.*s:%ld: ", (int)flen, file, line);
  else if (file)
    n = snprintf(err->msg, sizeof(err->msg), "%.*s: ", (int)flen, file);
  if (n < 0 || (size_t)n >= sizeof(err->msg)) n = 0;
  snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, "%s: %s", name, msg);
  append_frames(err->msg, sizeof(err->msg), stack);
  duk_pop_n(ctx, 5);
}

/* The file open(|arg|) names: absolute, or relative to the directory of module |base| (k6: the
 * module that calls open()). */
int sb_jsmod_open_url(const char *base, const char *arg, char *out, size_t cap, sb_err *err) {
  char spec[4096];
  int relative = arg[0] != '/' && strncmp(arg, "./", 2) != 0 && strncmp(arg, "../", 3) != 0 &&
                 !strstr(arg, "://");
  if (!*arg) return sb_err_set(err, SB_EINVAL, "an empty file name");
  if ((size_t)snprintf(spec, sizeof(spec), "%s%s", relative ? "./" : "", arg) >= sizeof(spec))
    return sb_err_set(err, SB_EINVAL, "path too long");
  int rc = sb_modpath_resolve(base, spec, out, cap, err);
  if (rc == 0 && !sb_modpath_file_path(out))
    return sb_err_set(err, SB_EINVAL, "only local files can be opened");
  return rc;
}

/* The URL of the module whose code called the running C function (its functions carry the
 * module URL as fileName), or |dflt|. Leaves the stack as it was. */
const char *sb_jsmod_caller_url(duk_context *ctx, char *out, size_t cap, const char *dflt) {
  snprintf(out, cap, "%s", dflt);
  duk_inspect_callstack_entry(ctx, -2);              /* -> [ ... entry|undefined ] */
  if (duk_is_object(ctx, -1)) {
    duk_get_prop_string(ctx, -1, "function");
    if (duk_is_function(ctx, -1)) {
      duk_get_prop_string(ctx, -1, "fileName");
      const char *fn = duk_get_string(ctx, -1);
      if (fn && strstr(fn, "://")) snprintf(out, cap, "%s", fn);
      duk_pop(ctx);
    }
    duk_pop(ctx);
  }
  duk_pop(ctx);
  return out;
}

