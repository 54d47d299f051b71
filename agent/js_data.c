/* "k6/data": SharedArray, one read-only copy per agent (agent/js_modules.h).
 *
 * "Memory is per VU, data is per agent". The controller runs each SharedArray's function once, in
 * its init context (controller/compile.c), and ships the array as JSON in the test's archive
 * under shared/<name>.json (sb_data_archive_name()). An agent indexes every such file once, when
 * its engine starts (sb_data_store_new()): the offsets of the top-level elements, kept beside the
 * archive's own bytes, both read-only for the rest of the test and shared by every worker thread
 * without a lock. A VU's `new SharedArray(name, fn)` never calls |fn|: it returns a Proxy whose
 * get trap parses only the element asked for, so each access hands out a fresh copy (k6's JSON
 * round trip) and a VU's heap holds no part of the data.
 *
 * The Proxy's target is an empty array whose prototype is a per-VU object inheriting
 * Array.prototype: Array.isArray() holds, and forEach/map/filter/slice/indexOf/reduce/join/...
 * work through the traps as they do on any array-like; the mutating methods (push, sort, ...) and
 * plain assignment hit the set trap, which refuses: a TypeError in strict code (every ES module),
 * silently ignored in sloppy code, as a frozen array behaves. Iteration (for...of, spread) goes
 * through Symbol.iterator and "@@iterator" (what Babel's helpers look for) on the prototype.
 *
 * Cost per VU: one handler, one prototype, one proxy and target per name (a few hundred bytes);
 * per access: the trap call plus JSON.parse of that element only. Numbers in docs/PERFORMANCE.md.
 *
 * An archive without shared/<name>.json (made by another tool, or an array the controller's init
 * run never created, e.g. one made only when __VU > 0) falls back to calling |fn| in the VU and
 * indexing its JSON in the VU's own heap: the same object and semantics, but a copy per VU. VU 1
 * says so once in the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/js_modules.h"
#include "agent/vu.h"
#include "common/archive.h"

#define K_STATE DUK_HIDDEN_SYMBOL("sbData")   /* stash: {handler, proto, cache} */
#define K_ARR DUK_HIDDEN_SYMBOL("sbArr")      /* target: pointer to its sb_data_array */
#define K_KEEP DUK_HIDDEN_SYMBOL("sbKeep")    /* target: the buffer a fallback array lives in */
#define K_STORE DUK_HIDDEN_SYMBOL("sbStore")  /* constructor: the store pointer */
#define PREFIX "shared/"
#define SUFFIX ".json"

typedef struct sb_data_array {
  const char *json;    /* the array's JSON text (the archive's bytes, or the fallback buffer) */
  size_t len;
  size_t n;            /* elements */
  size_t *off;         /* 2 * n: start and length of each element in |json| */
} sb_data_array;

struct sb_data_store {
  char **names;        /* archive names (shared/<enc>.json), one per array */
  sb_data_array *arr;
  size_t n;
};

/* --- names ---------------------------------------------------------------------------------- */

int sb_data_archive_name(const char *name, size_t len, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  if (cap < sizeof(PREFIX) + sizeof(SUFFIX)) return SB_EINVAL;
  memcpy(out, PREFIX, sizeof(PREFIX) - 1);
  o = sizeof(PREFIX) - 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
    if (o + (plain ? 1 : 3) + sizeof(SUFFIX) > cap) return SB_EINVAL;
    if (plain) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  memcpy(out + o, SUFFIX, sizeof(SUFFIX));
  return 0;
}

/* --- the element index ---------------------------------------------------------------------- */

static size_t skip_ws(const char *s, size_t i, size_t len) {
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

/* The end of the JSON value starting at |i| (one past it), or 0 when it is cut short. Only the
 * structure is checked (strings, nesting); the element's own syntax is JSON.parse's job when it
 * is read. */
static size_t value_end(const char *s, size_t i, size_t len) {
  size_t depth = 0;
  for (; i < len; i++) {
    char c = s[i];
    if (c == '"') {
      for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\') i++;
      if (i >= len) return 0;
      if (depth == 0) return i + 1;
    } else if (c == '[' || c == '{') {
      depth++;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return i;
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      return i;
    }
  }
  return depth == 0 ? i : 0;
}

/* Finds the top-level elements of the JSON array |s|[0..len): |*n| gets their count and, when
 * |off| is not NULL, off[2k], off[2k+1] the start and length of element k. Returns 0 or
 * SB_EFORMAT (not an array, or cut short). */
static int scan_array(const char *s, size_t len, size_t *off, size_t *n) {
  size_t i = skip_ws(s, 0, len), k = 0;
  if (i >= len || s[i] != '[') return SB_EFORMAT;
  i = skip_ws(s, i + 1, len);
  if (i < len && s[i] == ']') {
    i++;
  } else {
    for (;;) {
      size_t end = value_end(s, i, len);
      if (end <= i) return SB_EFORMAT;
      if (off) {
        off[2 * k] = i;
        off[2 * k + 1] = end - i;
      }
      k++;
      i = skip_ws(s, end, len);
      if (i >= len) return SB_EFORMAT;
      if (s[i++] == ']') break;
      if (s[i - 1] != ',') return SB_EFORMAT;
      i = skip_ws(s, i, len);
    }
  }
  if (skip_ws(s, i, len) != len) return SB_EFORMAT;
  *n = k;
  return 0;
}

/* Indexes |json| into |a| (|a->off| malloc'ed). Returns 0, SB_EFORMAT or SB_ENOMEM. */
static int index_array(sb_data_array *a, const char *json, size_t len) {
  size_t n = 0;
  int rc = scan_array(json, len, NULL, &n);
  if (rc) return rc;
  a->json = json;
  a->len = len;
  a->n = n;
  a->off = malloc((2 * n + 1) * sizeof(size_t));
  if (!a->off) return SB_ENOMEM;
  return scan_array(json, len, a->off, &n);
}

/* --- the store ------------------------------------------------------------------------------ */

static int is_shared(const char *name) {
  size_t n = strlen(name);
  return n > sizeof(PREFIX) + sizeof(SUFFIX) - 2 && strncmp(name, PREFIX, sizeof(PREFIX) - 1) == 0 &&
         strcmp(name + n - (sizeof(SUFFIX) - 1), SUFFIX) == 0;
}

int sb_data_store_new(sb_data_store **out, const sb_archive *ar, sb_err *err) {
  sb_data_store *s = calloc(1, sizeof(*s));
  size_t want = 0;
  if (!s) return sb_err_set(err, SB_ENOMEM, "out of memory");
  for (size_t i = 0; ar && i < ar->n; i++) want += is_shared(ar->files[i].name);
  if (want && (!(s->names = calloc(want, sizeof(char *))) ||
               !(s->arr = calloc(want, sizeof(sb_data_array))))) {
    sb_data_store_free(s);
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  }
  for (size_t i = 0; ar && i < ar->n; i++) {
    const sb_archive_file *f = &ar->files[i];
    if (!is_shared(f->name)) continue;
    int rc = index_array(&s->arr[s->n], (const char *)f->data, f->len);
    if (rc == 0 && !(s->names[s->n] = strdup(f->name))) rc = SB_ENOMEM;
    s->n++; /* counted even on failure: freed with the rest */
    if (rc) {
      sb_err_set(err, rc, rc == SB_EFORMAT ? "archive: %s is not a JSON array" : "out of memory",
                 f->name);
      sb_data_store_free(s);
      return rc;
    }
  }
  *out = s;
  return 0;
}

void sb_data_store_free(sb_data_store *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->names[i]);
    free(s->arr[i].off);
  }
  free(s->names);
  free(s->arr);
  free(s);
}

size_t sb_data_store_count(const sb_data_store *s) { return s ? s->n : 0; }

/* The array archived as |aname|, or NULL. */
static const sb_data_array *store_get(const sb_data_store *s, const char *aname) {
  for (size_t i = 0; s && i < s->n; i++)
    if (strcmp(s->names[i], aname) == 0) return &s->arr[i];
  return NULL;
}

/* --- the proxy ------------------------------------------------------------------------------ */

/* The array of the proxy target at |idx|. */
static const sb_data_array *target_array(duk_context *ctx, duk_idx_t idx) {
  duk_get_prop_string(ctx, idx, K_ARR);
  const sb_data_array *a = duk_get_pointer(ctx, -1);
  duk_pop(ctx);
  return a;
}

/* The element index |key| (at |idx|) names, or -1: a number, or a canonical decimal string. */
static long long key_index(duk_context *ctx, duk_idx_t idx, size_t n) {
  if (duk_is_number(ctx, idx)) {
    double d = duk_get_number(ctx, idx);
    return d >= 0 && d < (double)n && d == (double)(long long)d ? (long long)d : -1;
  }
  size_t len;
  const char *s = duk_is_string(ctx, idx) && !duk_is_symbol(ctx, idx)
                      ? duk_get_lstring(ctx, idx, &len) : NULL;
  if (!s || len == 0 || len > 15 || (len > 1 && s[0] == '0')) return -1;
  long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v < (long long)n ? v : -1;
}

static int is_length(duk_context *ctx, duk_idx_t idx) {
  return duk_is_string(ctx, idx) && !duk_is_symbol(ctx, idx) &&
         strcmp(duk_get_string(ctx, idx), "length") == 0;
}

/* get(target, key, receiver): an element (parsed now: a copy), the length, or what the target
 * and its prototype hold. [ target key recv ] -> [ ... value ] */
static duk_ret_t trap_get(duk_context *ctx) {
  const sb_data_array *a = target_array(ctx, 0);
  long long i = a ? key_index(ctx, 1, a->n) : -1;
  if (i >= 0) {
    duk_push_lstring(ctx, a->json + a->off[2 * i], a->off[2 * i + 1]);
    duk_json_decode(ctx, -1);
  } else if (a && is_length(ctx, 1)) {
    duk_push_number(ctx, (double)a->n);
  } else {
    duk_dup(ctx, 1);
    duk_get_prop(ctx, 0);
  }
  return 1;
}

/* has(target, key): the elements, the length, and what the target's chain holds. */
static duk_ret_t trap_has(duk_context *ctx) {
  const sb_data_array *a = target_array(ctx, 0);
  if ((a && key_index(ctx, 1, a->n) >= 0) || is_length(ctx, 1)) {
    duk_push_true(ctx);
  } else {
    duk_dup(ctx, 1);
    duk_push_boolean(ctx, duk_has_prop(ctx, 0));
  }
  return 1;
}

/* set, deleteProperty: refused (a TypeError in strict code, ignored in sloppy code). */
static duk_ret_t trap_refuse(duk_context *ctx) {
  duk_push_false(ctx);
  return 1;
}

/* ownKeys(target): "0" .. "n-1" and "length", as Object.keys() and for...in see an array. */
static duk_ret_t trap_own_keys(duk_context *ctx) {
  const sb_data_array *a = target_array(ctx, 0);
  char num[24];
  duk_push_array(ctx);
  for (size_t i = 0; a && i < a->n; i++) {
    snprintf(num, sizeof(num), "%zu", i);
    duk_push_string(ctx, num);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  return 1;
}

/* The prototype of every SharedArray of a VU: Array.prototype's methods (generic over
 * array-likes), iteration, and a toString that names the type. */
static const char PROTO_JS[] =
    "(function () {\n"
    "  var p = Object.create(Array.prototype);\n"
    "  function iter() { var a = this, i = 0; return { next: function () {\n"
    "    return i < a.length ? {value: a[i++], done: false} : {value: undefined, done: true}; } }; }\n"
    "  if (typeof Symbol === 'function' && Symbol.iterator)\n"
    "    Object.defineProperty(p, Symbol.iterator, {value: iter});\n"
    "  Object.defineProperty(p, '@@iterator', {value: iter});\n"
    "  Object.defineProperty(p, 'toJSON', {value: function () { return Array.prototype.slice.call(this); }});\n"
    "  return p;\n"
    "})()";

static void put_trap(duk_context *ctx, const char *name, duk_c_function fn, duk_idx_t nargs) {
  duk_push_c_function(ctx, fn, nargs);
  duk_put_prop_string(ctx, -2, name);
}

/* [ ... ] -> [ ... state ]: the VU's {handler, proto, cache}, made on first use. */
static void push_state(duk_context *ctx) {
  duk_push_global_stash(ctx);
  if (duk_get_prop_string(ctx, -1, K_STATE)) {
    duk_remove(ctx, -2);
    return;
  }
  duk_pop(ctx);
  duk_push_object(ctx);                              /* -> [ stash state ] */
  duk_push_object(ctx);
  put_trap(ctx, "get", trap_get, 3);
  put_trap(ctx, "has", trap_has, 2);
  put_trap(ctx, "set", trap_refuse, 4);
  put_trap(ctx, "deleteProperty", trap_refuse, 2);
  put_trap(ctx, "ownKeys", trap_own_keys, 1);
  duk_put_prop_string(ctx, -2, "handler");
  duk_eval_string(ctx, PROTO_JS);
  duk_put_prop_string(ctx, -2, "proto");
  duk_push_bare_object(ctx);
  duk_put_prop_string(ctx, -2, "cache");
  duk_dup_top(ctx);
  duk_put_prop_string(ctx, -3, K_STATE);
  duk_remove(ctx, -2);                               /* -> [ state ] */
}

/* [ ... state ] -> [ ... state proxy ]: a SharedArray over |a|; |keep| (a stack index, or 0 for
 * none) is a value the proxy's target must keep alive. */
static void push_proxy(duk_context *ctx, const sb_data_array *a, duk_idx_t keep) {
  duk_idx_t st = duk_get_top_index(ctx);
  duk_push_array(ctx);                               /* -> [ state target ] */
  duk_get_prop_string(ctx, st, "proto");
  duk_set_prototype(ctx, -2);
  duk_push_pointer(ctx, (void *)a);
  duk_put_prop_string(ctx, -2, K_ARR);
  if (keep) {
    duk_dup(ctx, keep);
    duk_put_prop_string(ctx, -2, K_KEEP);
  }
  duk_get_prop_string(ctx, st, "handler");
  duk_push_proxy(ctx, 0);                            /* -> [ state proxy ] */
}

/* The fallback: [ ... fn ] -> [ ... json ]: fn() as JSON, checked to be an array. */
static void call_fn_json(duk_context *ctx) {
  duk_dup_top(ctx);
  duk_call(ctx, 0);
  if (!duk_is_array(ctx, -1))
    (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "only arrays can be made into SharedArray");
  duk_json_encode(ctx, -1);
  duk_remove(ctx, -2);
}

/* [ ... state fn ] -> [ ... state proxy ]: the fallback when the archive lacks the array: fn()
 * indexed in a buffer of this heap, [ sb_data_array | offsets | JSON ]. */
static void push_fallback(duk_context *ctx, const char *name) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (vu && sb_vu_id(vu) == 1 && sb_vu_get_env(vu)->log) {
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "SharedArray '%s' is not in the test's archive: its "
                     "function runs in every VU, each keeping its own copy", name);
    sb_vu_get_env(vu)->log("warn", NULL, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
                           sb_vu_get_env(vu)->log_ud);
  }
  call_fn_json(ctx);                                 /* -> [ state json ] */
  size_t len, n = 0;
  const char *json = duk_get_lstring(ctx, -1, &len);
  if (scan_array(json, len, NULL, &n))
    (void)duk_error(ctx, DUK_ERR_ERROR, "SharedArray '%s': cannot index its JSON", name);
  size_t head = sizeof(sb_data_array) + 2 * n * sizeof(size_t);
  char *buf = duk_push_fixed_buffer(ctx, head + len + 1); /* -> [ state json buf ] */
  sb_data_array *a = (sb_data_array *)buf;
  a->off = (size_t *)(buf + sizeof(*a));
  memcpy(buf + head, json, len);
  a->json = buf + head;
  a->len = len;
  scan_array(a->json, len, a->off, &a->n);
  duk_idx_t keep = duk_get_top_index(ctx);
  duk_dup(ctx, -3);                                  /* -> [ state json buf state ] */
  push_proxy(ctx, a, keep);                          /* -> [ ... buf state proxy ] */
  duk_replace(ctx, -4);
  duk_pop_2(ctx);                                    /* -> [ state proxy ] */
}

/* new SharedArray(name, fn): the archived array called |name| (fn is not called), the same object
 * for the same name in one VU. [ name fn ] -> [ proxy ] */
static duk_ret_t js_shared_array(duk_context *ctx) {
  char aname[1024];
  sb_vu *vu = sb_vu_from_ctx(ctx);
  if (vu && sb_vu_busy(vu))
    return duk_error(ctx, DUK_ERR_ERROR, "new SharedArray must be called in the init context");
  size_t len;
  const char *name = duk_safe_to_lstring(ctx, 0, &len);
  if (len == 0)
    return duk_error(ctx, DUK_ERR_ERROR, "empty name provided to SharedArray's constructor");
  if (!duk_is_function(ctx, 1))
    return duk_error(ctx, DUK_ERR_TYPE_ERROR,
                     "a function is expected as the second argument of SharedArray's constructor");
  if (sb_data_archive_name(name, len, aname, sizeof(aname)) != 0)
    return duk_error(ctx, DUK_ERR_RANGE_ERROR, "SharedArray: name too long");
  duk_push_current_function(ctx);
  duk_get_prop_string(ctx, -1, K_STORE);
  const sb_data_store *store = duk_get_pointer(ctx, -1);
  duk_pop_2(ctx);
  duk_set_top(ctx, 2);
  push_state(ctx);                                   /* -> [ name fn state ] */
  duk_get_prop_string(ctx, 2, "cache");
  if (duk_get_prop_string(ctx, -1, aname)) return 1;
  duk_pop_2(ctx);
  const sb_data_array *a = store_get(store, aname);
  if (a) {
    push_proxy(ctx, a, 0);                           /* -> [ name fn state proxy ] */
  } else {
    duk_dup(ctx, 1);
    push_fallback(ctx, name);
  }
  duk_get_prop_string(ctx, 2, "cache");
  duk_dup(ctx, -2);
  duk_put_prop_string(ctx, -2, aname);
  duk_pop(ctx);
  return 1;
}

void sb_js_data_push_store(duk_context *ctx, const sb_data_store *store) {
  duk_push_object(ctx);
  duk_push_c_function(ctx, js_shared_array, 2);
  duk_push_pointer(ctx, (void *)store);
  duk_put_prop_string(ctx, -2, K_STORE);
  duk_put_prop_string(ctx, -2, "SharedArray");
}

void sb_js_data_push(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  sb_js_data_push_store(ctx, vu ? sb_vu_get_env(vu)->shared : NULL);
}
