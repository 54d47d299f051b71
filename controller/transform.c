/* One module to ES5 CommonJS (controller/transform.h): esbuild, then Babel.
 *
 * Why two stages: babel-standalone 6.26 is the newest Babel that loads in Duktape (7.x dies on
 * "RangeError: const limit") and its parser stops at ES2017; esbuild parses TypeScript and ES2022
 * but lowers no further than ES2015. Chained, esbuild lowers what Babel cannot parse and Babel
 * lowers what esbuild cannot. esbuild reorders and reformats, so its line numbers are not the
 * user's: the inline source map it appends is decoded (VLQ, in the Babel heap) and a first
 * plugin rewrites every node's loc to the position the map gives it before any other plugin runs;
 * Babel's retainLines then prints each node on that line. esbuild's own helpers (no mapping) land
 * on line 1, where they push nothing down.
 *
 * for-of is lowered in Babel's loose mode: arrays are walked by index (no iterator object per
 * loop on the per-iteration path), anything else through Symbol.iterator (polyfilled). */
#include "controller/transform.h"

#include <stdlib.h>
#include <string.h>

#include "common/duk_udata.h"
#include "duktape.h"

extern const char sb_babel_js[], sb_babel_js_end[];

struct sb_transform {
  sb_duk_udata udata;  /* first: the Babel heap's user data (exec timeout checks read it) */
  sb_compat_mode mode;
  duk_context *babel;  /* NULL until a module needs transpiling */
  int no_esbuild;      /* esbuild was not found: .js through Babel alone */
};

#define K_TRANSFORM DUK_HIDDEN_SYMBOL("sbTransform")

int sb_compat_mode_parse(const char *s, sb_compat_mode *out, sb_err *err) {
  if (s && strcmp(s, "extended") == 0) *out = SB_COMPAT_EXTENDED;
  else if (s && strcmp(s, "base") == 0) *out = SB_COMPAT_BASE;
  else return sb_err_set(err, SB_EINVAL, "--compatibility-mode: '%s' is not base or extended",
                         s ? s : "");
  return 0;
}

const char *sb_compat_mode_name(sb_compat_mode m) {
  return m == SB_COMPAT_BASE ? "base" : "extended";
}

/* Babel's globals. */
static const char BABEL_PRELUDE[] = "var window = this, self = this, global = this;";

/* The transform helper, called as (src, fn, map): never throws; returns {code, imports} or
 * {error: "name.js:3:7: SyntaxError: msg\n<code frame>"} or {error, line, column} (positions in
 * the user's source: C adds the frame). |map| is esbuild's source map (JSON) or undefined.
 *  - sbMapLines: every node's loc from the map (see the file comment).
 *  Async functions become generators (Babel's asyncToGenerator, over the Promise polyfill) and
 *  generators become regenerator state machines (regeneratorRuntime, a polyfill section too).
 *  - sbKeepLines (Babel alone, no esbuild): `export default function () {}` stays an expression
 *    and `export function f` becomes `function f` + `export { f }` at the end, so the CommonJS
 *    transform hoists no `exports.f = f` carrying the declaration's line to the top (a setup() on
 *    line 2 reported its errors on line 8). esbuild already emits that shape. */
static const char BABEL_HELPER[] =
    "(function (src, fn, map) {\n"
    "  function decode(m) {\n"
    "    var B = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', D = {};\n"
    "    for (var i = 0; i < 64; i++) D[B.charAt(i)] = i;\n"
    "    var out = [], cur = [], st = [0, 0, 0, 0, 0], k = 0, v = 0, sh = 0;\n"
    "    for (i = 0; i <= m.length; i++) {\n"
    "      var ch = m.charAt(i);\n"
    "      if (ch === ',' || ch === ';' || ch === '') {\n"
    "        if (k >= 4) cur.push(st[0], st[2], st[3]);\n"
    "        k = 0;\n"
    "        if (ch !== ',') { out.push(cur); cur = []; st[0] = 0; }\n"
    "        continue;\n"
    "      }\n"
    "      var d = D[ch]; v += (d & 31) << sh; sh += 5;\n"
    "      if (!(d & 32)) { st[k++] += v & 1 ? -(v >> 1) : v >> 1; v = 0; sh = 0; }\n"
    "    }\n"
    "    return out;\n"
    "  }\n"
    "  var lines = map ? decode(JSON.parse(map).mappings) : null, TOP = {line: 1, column: 0};\n"
    "  function look(p) {\n"
    "    var s = p && lines[p.line - 1], b = 0;\n"
    "    if (!s || !s.length) return null;\n"
    "    for (var i = 0; i < s.length && s[i] <= p.column; i += 3) b = i;\n"
    "    return {line: s[b + 1] + 1, column: s[b + 2]};\n"
    "  }\n"
    "  function sbMapLines() {\n"
    "    return {visitor: {Program: function (path) {\n"
    "      if (!lines) return;\n"
    "      path.traverse({enter: function (p) {\n"
    "        var l = p.node.loc; if (!l) return;\n"
    "        var s = look(l.start) || TOP, e = look(l.end) || s;\n"
    "        p.node.loc = {start: s, end: e.line < s.line ? s : e};\n"
    "      }});\n"
    "    }}};\n"
    "  }\n"
    "  function sbKeepLines(babel) {\n"
    "    var t = babel.types;\n"
    "    return {visitor: {\n"
    "      ExportDefaultDeclaration: function (path) {\n"
    "        var d = path.node.declaration;\n"
    "        if (d.type !== 'FunctionDeclaration' || d.id) return;\n"
    "        var e = t.functionExpression(null, d.params, d.body, d.generator, d.async);\n"
    "        e.loc = d.loc;\n"
    "        path.get('declaration').replaceWith(e);\n"
    "      },\n"
    "      ExportNamedDeclaration: function (path) {\n"
    "        var d = path.node.declaration;\n"
    "        if (!d || d.type !== 'FunctionDeclaration' || !path.parentPath.isProgram()) return;\n"
    "        var id = t.identifier(d.id.name);\n"
    "        path.parentPath.pushContainer('body',\n"
    "          t.exportNamedDeclaration(null, [t.exportSpecifier(id, t.identifier(d.id.name))]));\n"
    "        path.replaceWith(d);\n"
    "      }\n"
    "    }};\n"
    "  }\n"
    "  var r;\n"
    "  try {\n"
    "    r = Babel.transform(src, {presets: ['latest'], plugins: [sbMapLines, sbKeepLines,\n"
    "      ['transform-es2015-for-of', {loose: true}]], filename: fn,\n"
    "      retainLines: true, comments: false,\n"
    "      compact: false, sourceMaps: false, ast: false, babelrc: false, highlightCode: false});\n"
    "  } catch (e) {\n"
    "    var m = String(e && e.message), p = fn + ': ', nl;\n"
    "    if (m.indexOf(p) === 0) m = m.slice(p.length);\n"
    "    if ((nl = m.indexOf('\\n')) >= 0) m = m.slice(0, nl);\n"
    "    m = m.replace(/ \\(\\d+:\\d+\\)$/, '');\n"
    "    var at = e && e.loc ? fn + ':' + e.loc.line + ':' + e.loc.column + ': ' : fn + ': ';\n"
    "    return {error: at + ((e && e.name) || 'Error') + ': ' + m +\n"
    "      (e && e.codeFrame && !lines ? '\\n' + e.codeFrame : '')};\n"
    "  }\n"
    "  var out = [], md = r.metadata.modules, i;\n"
    "  for (i = 0; i < md.imports.length; i++) out.push(md.imports[i].source);\n"
    "  for (i = 0; i < md.exports.specifiers.length; i++)\n"
    "    if (md.exports.specifiers[i].source) out.push(md.exports.specifiers[i].source);\n"
    "  return {code: r.code, imports: out};\n"
    "})";

int sb_transform_new(sb_transform **out, sb_compat_mode mode) {
  sb_transform *t = calloc(1, sizeof(*t));
  if (!t) return SB_ENOMEM;
  t->mode = mode;
  *out = t;
  return 0;
}

void sb_transform_free(sb_transform *t) {
  if (!t) return;
  if (t->babel) duk_destroy_heap(t->babel);
  free(t);
}

void sb_transform_free_imports(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

static duk_ret_t babel_load_safe(duk_context *ctx, void *udata) {
  duk_eval_string_noresult(ctx, BABEL_PRELUDE);
  duk_push_lstring(ctx, sb_babel_js, (duk_size_t)(sb_babel_js_end - sb_babel_js));
  duk_push_string(ctx, "babel.min.js");
  duk_compile(ctx, DUK_COMPILE_EVAL);
  duk_call(ctx, 0);
  duk_pop(ctx);
  duk_push_heap_stash(ctx);
  duk_eval_string(ctx, BABEL_HELPER);                /* -> [ stash helper ] */
  duk_put_prop_string(ctx, -2, K_TRANSFORM);
  duk_pop(ctx);
  return 0;
}

/* Creates the Babel heap on first use. */
static int babel_ensure(sb_transform *t, sb_err *err) {
  if (t->babel) return 0;
  t->babel = duk_create_heap(NULL, NULL, NULL, &t->udata, NULL);
  if (!t->babel) return sb_err_set(err, SB_ENOMEM, "out of memory creating the Babel heap");
  if (duk_safe_call(t->babel, babel_load_safe, NULL, 0, 1) != DUK_EXEC_SUCCESS) {
    sb_err_set(err, SB_ESCRIPT, "loading Babel: %s", duk_safe_to_string(t->babel, -1));
    duk_destroy_heap(t->babel);
    t->babel = NULL;
    return SB_ESCRIPT;
  }
  duk_pop(t->babel);
  return 0;
}

static duk_ret_t transform_safe(duk_context *ctx, void *udata) {
  /* [ src fn map ] */
  duk_push_heap_stash(ctx);
  duk_get_prop_string(ctx, -1, K_TRANSFORM);         /* -> [ src fn map stash helper ] */
  duk_dup(ctx, 0);
  duk_dup(ctx, 1);
  duk_dup(ctx, 2);
  duk_call(ctx, 3);                                  /* -> [ src fn map stash result ] */
  return 1;
}

/* Copies result.imports ([ result ] stays) into a NULL-terminated array. */
static int take_imports(duk_context *ctx, char ***imports) {
  int rc = 0;
  duk_get_prop_string(ctx, -1, "imports");           /* -> [ result imports ] */
  duk_size_t k = duk_get_length(ctx, -1);
  char **v = calloc(k + 1, sizeof(*v));
  if (!v) rc = SB_ENOMEM;
  for (duk_size_t i = 0; v && i < k; i++) {
    duk_get_prop_index(ctx, -1, (duk_uarridx_t)i);
    v[i] = strdup(duk_safe_to_string(ctx, -1));
    duk_pop(ctx);
    if (!v[i]) rc = SB_ENOMEM;
  }
  duk_pop(ctx);
  *imports = v;
  return rc;
}

/* Babel over |src| (esbuild's output with its source |map|, or the user's source when |map| is
 * NULL). Errors point into |user| (the user's source). */
static int babel(sb_transform *t, const char *name, const char *src, size_t len, const char *map,
                 size_t maplen, sb_buf *code, char ***imports, sb_err *err) {
  int rc = babel_ensure(t, err);
  if (rc) return rc;
  duk_context *ctx = t->babel;
  duk_push_lstring(ctx, src, len);
  duk_push_string(ctx, name);
  if (map) duk_push_lstring(ctx, map, maplen);
  else duk_push_undefined(ctx);
  if (duk_safe_call(ctx, transform_safe, NULL, 3, 1) != DUK_EXEC_SUCCESS) {
    rc = sb_err_set(err, SB_ESCRIPT, "%s: Babel failed: %s", name, duk_safe_to_string(ctx, -1));
    goto out;
  }
  if (duk_get_prop_string(ctx, -1, "error")) {       /* -> [ result error ] */
    rc = sb_err_set(err, SB_ESCRIPT, "%s", duk_safe_to_string(ctx, -1));
    goto out;
  }
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "code");
  duk_size_t n;
  const char *s = duk_get_lstring(ctx, -1, &n);
  rc = sb_buf_append(code, s ? s : "", s ? n : 0);
  duk_pop(ctx);
  if (!rc) rc = take_imports(ctx, imports);
  if (rc) sb_err_set(err, SB_ENOMEM, "out of memory transpiling %s", name);
out:
  duk_set_top(ctx, 0);
  return rc;
}

/* --- base mode: require('x') calls ----------------------------------------------------------- */

/* The string literals passed to require() in |src| (ES5 CommonJS), as a NULL-terminated array.
 * A textual scan: a require() in a comment or string counts too, which at worst archives a file
 * the script does not load. */
static int scan_requires(const char *s, size_t len, char ***imports) {
  size_t n = 0, cap = 8;
  char **v = calloc(cap + 1, sizeof(*v));
  const char *end = s + len;
  for (const char *p = s; v && (p = memmem(p, (size_t)(end - p), "require", 7)) != NULL; p += 7) {
    if (p > s && (p[-1] == '_' || p[-1] == '$' || p[-1] == '.' || (unsigned)((p[-1] | 32) - 'a') < 26u ||
                  (unsigned)(p[-1] - '0') < 10u))
      continue;
    const char *q = p + 7;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q >= end || *q++ != '(') continue;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q >= end || (*q != '\'' && *q != '"')) continue;
    const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
    if (!close || memchr(q + 1, '\n', (size_t)(close - q - 1))) continue;
    if (n == cap) {
      char **w = realloc(v, (2 * cap + 1) * sizeof(*v));
      if (!w) break;
      v = w, cap *= 2;
    }
    if (!(v[n] = strndup(q + 1, (size_t)(close - q - 1)))) break;
    v[++n] = NULL;
  }
  if (v && (n == 0 || v[n - 1])) {
    v[n] = NULL;
    *imports = v;
    return 0;
  }
  sb_transform_free_imports(v);
  return SB_ENOMEM;
}

/* --- one module ------------------------------------------------------------------------------ */

static int is_ts(const char *path) {
  size_t n = strlen(path);
  return n > 3 && strcmp(path + n - 3, ".ts") == 0;
}

/* Splits esbuild's output at its "//# sourceMappingURL=data:...;base64," line and decodes the
 * map into |map|. Returns the length of the code before it. */
static size_t split_map(const sb_buf *out, sb_buf *map) {
  static const char TAG[] = "//# sourceMappingURL=data:application/json;base64,";
  const char *p = out->data ? strstr(out->data, TAG) : NULL;
  if (!p) return out->len;
  const char *b = p + sizeof(TAG) - 1;
  unsigned acc = 0;
  int bits = 0;
  for (; *b && *b != '\n' && *b != '='; b++) {
    const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *k = strchr(A, *b);
    if (!k) break;
    acc = (acc << 6) | (unsigned)(k - A);
    if ((bits += 6) >= 8) {
      char c = (char)(acc >> (bits -= 8));
      if (sb_buf_append(map, &c, 1)) break;
    }
  }
  return (size_t)(p - out->data);
}

int sb_transform_module(sb_transform *t, const char *name, const char *path, const sb_buf *src,
                        sb_buf *code, char ***imports, sb_err *err) {
  *imports = NULL;
  const char *s = src->data ? src->data : "";
  if (t->mode == SB_COMPAT_BASE) {
    if (sb_buf_append(code, s, src->len) || scan_requires(s, src->len, imports))
      return sb_err_set(err, SB_ENOMEM, "out of memory");
    return 0;
  }
  int ts = is_ts(path), rc = SB_ENOTFOUND;
  sb_buf es, map;
  sb_buf_init(&es);
  sb_buf_init(&map);
  if (!t->no_esbuild) rc = sb_transform_esbuild(name, ts, src, &es, err);
  if (rc == SB_ENOTFOUND) {
    t->no_esbuild = 1;
    if (ts) {
      rc = sb_err_set(err, SB_ENOTFOUND, "%s: TypeScript needs esbuild, which was not found "
                      "(install Debian's package `esbuild`, or set SB_ESBUILD)", name);
      goto out;
    }
    rc = babel(t, name, s, src->len, NULL, 0, code, imports, err);
    if (rc == SB_ESCRIPT)
      sb_err_prefix(err, "(esbuild not found: only ES2017 syntax is understood) ");
    goto out;
  }
  if (rc) goto out;
  size_t n = split_map(&es, &map);
  rc = babel(t, name, es.data ? es.data : "", n, map.len ? map.data : NULL, map.len, code,
             imports, err);
out:
  sb_buf_clear(&es);
  sb_buf_clear(&map);
  return rc;
}
