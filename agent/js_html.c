/* "k6/html": parseHTML(src) -> Selection, the jQuery-like API k6 takes from goquery, and
 * Element (from Selection.get() and each()), over agent/html's DOM and selector engine.
 *
 * A Selection is a plain object whose prototype holds the methods and whose hidden property
 * points to a malloc'd {doc, n, nodes[]}: the DOM stays out of the VU's Duktape heap, and every
 * Selection or Element holds one reference to its document, dropped by the finalizer the two
 * prototypes carry — the last one to go frees the DOM. An Element is the same record with one
 * node and the Element prototype.
 *
 * No Duktape call that can throw runs while a temporary malloc'd node list is alive: a method
 * first pushes its (empty) result object, then computes its nodes in C, then hands the list to
 * the result (fill()), so an out-of-memory error never leaks. An invalid selector matches
 * nothing, as in k6 (goquery ignores cascadia's compile error). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "agent/html.h"
#include "agent/js_modules.h"

#define K_SEL DUK_HIDDEN_SYMBOL("sbHtmlSel")         /* jsel * of a Selection or Element */
#define K_SEL_PROTO DUK_HIDDEN_SYMBOL("sbHtmlSelProto") /* in the global stash */
#define K_EL_PROTO DUK_HIDDEN_SYMBOL("sbHtmlElProto")

typedef struct jsel {
  sb_html_doc *doc; /* one reference held */
  size_t n;
  sb_html_node *v[]; /* in document order (as computed) */
} jsel;

static duk_ret_t sel_finalize(duk_context *ctx) {
  duk_get_prop_string(ctx, 0, K_SEL);
  jsel *s = duk_get_pointer(ctx, -1);
  if (s) {
    duk_push_pointer(ctx, NULL);
    duk_put_prop_string(ctx, 0, K_SEL);
    sb_html_doc_unref(s->doc);
    free(s);
  }
  return 0;
}

static jsel *get_sel(duk_context *ctx, duk_idx_t idx) {
  duk_get_prop_string(ctx, idx, K_SEL);
  jsel *s = duk_get_pointer(ctx, -1);
  duk_pop(ctx);
  return s;
}

static jsel *this_sel(duk_context *ctx) {
  duk_push_this(ctx);
  jsel *s = duk_is_object(ctx, -1) ? get_sel(ctx, -1) : NULL;
  duk_pop(ctx);
  if (!s) (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "not a Selection or Element");
  return s;
}

static void ensure_protos(duk_context *ctx);

/* [ ... ] -> [ ... obj ]: an empty Selection (or Element) for fill(); its property slots exist
 * already, so fill() allocates nothing in the heap. */
static void push_result(duk_context *ctx, int element) {
  ensure_protos(ctx);
  duk_push_object(ctx);
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, element ? K_EL_PROTO : K_SEL_PROTO);
  duk_set_prototype(ctx, -3);
  duk_pop(ctx);
  duk_push_pointer(ctx, NULL);
  duk_put_prop_string(ctx, -2, K_SEL);
}

/* Moves the nodes of |l| (cleared afterwards) into the result on top of the stack; the result
 * takes a reference to |doc|. Returns 0 or SB_ENOMEM (the result then stays empty). */
static int fill_rc(duk_context *ctx, sb_html_doc *doc, sb_html_nodes *l) {
  jsel *s = malloc(sizeof(*s) + l->n * sizeof(s->v[0]));
  if (s) {
    s->doc = doc;
    s->n = l->n;
    if (l->n) memcpy(s->v, l->v, l->n * sizeof(s->v[0]));
    sb_html_doc_ref(doc);
  }
  sb_html_nodes_clear(l);
  if (!s) return SB_ENOMEM;
  duk_push_pointer(ctx, s);
  duk_put_prop_string(ctx, -2, K_SEL); /* overwrites the slot push_result() made */
  return 0;
}

static void fill(duk_context *ctx, sb_html_doc *doc, sb_html_nodes *l) {
  if (fill_rc(ctx, doc, l) != 0) (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory in k6/html");
}

static void fill_one(duk_context *ctx, sb_html_doc *doc, sb_html_node *n) {
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  if (n && sb_html_nodes_add(&l, n) != 0) (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  fill(ctx, doc, &l);
}

/* [ ... ] -> [ ... sel-or-undefined ] */
static void push_node(duk_context *ctx, sb_html_doc *doc, sb_html_node *n, int element) {
  if (!n) {
    duk_push_undefined(ctx);
    return;
  }
  push_result(ctx, element);
  fill_one(ctx, doc, n);
}

/* The selector string at |idx|, or NULL when absent. */
static const char *opt_str(duk_context *ctx, duk_idx_t idx) {
  return duk_is_undefined(ctx, idx) || duk_is_null(ctx, idx) ? NULL : duk_to_string(ctx, idx);
}

/* Compiles |src|; NULL with |*none| set when it does not compile (it then matches nothing). */
static sb_html_sel *compile(const char *src, int *none) {
  sb_html_sel *s = NULL;
  *none = src && sb_html_sel_compile(&s, src, NULL) != 0;
  return s;
}

static int matches(const sb_html_sel *s, int none, const sb_html_node *n) {
  return !none && (!s || sb_html_sel_match(s, n));
}

static void push_string_buf(duk_context *ctx, sb_buf *b, int rc) {
  if (rc != 0) {
    sb_buf_clear(b);
    (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory in k6/html");
  }
  duk_push_lstring(ctx, b->data ? b->data : "", b->len); /* may throw: b is leaked then only on OOM */
  sb_buf_clear(b);
}

/* --- Selection: finding and walking -------------------------------------------------------- */

/* find(selector) */
static duk_ret_t sel_find(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  const char *src = duk_require_string(ctx, 0);
  push_result(ctx, 0);
  int none;
  sb_html_sel *sel = compile(src, &none);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  sb_html_nodes_begin(&l, s->doc);
  int rc = 0;
  for (size_t i = 0; sel && rc == 0 && i < s->n; i++) rc = sb_html_sel_find(sel, s->v[i], &l);
  sb_html_sel_free(sel);
  if (rc != 0) l.n = 0;
  fill(ctx, s->doc, &l);
  return 1;
}

enum walk { W_CHILDREN, W_CONTENTS, W_PARENT, W_PARENTS, W_NEXT, W_NEXT_ALL, W_PREV, W_PREV_ALL,
            W_CLOSEST };

static sb_html_node *first_el_child(const sb_html_node *n) {
  for (sb_html_node *c = n->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) return c;
  return NULL;
}

static sb_html_node *walk_first(sb_html_node *n, int w) {
  int kids = n->type == XML_ELEMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE;
  switch (w) {
  case W_CHILDREN: return kids ? first_el_child(n) : NULL;
  case W_CONTENTS: return kids ? n->children : NULL;
  case W_PARENT: case W_PARENTS: return sb_html_parent_el(n);
  case W_NEXT: case W_NEXT_ALL: return sb_html_next_el(n);
  case W_PREV: case W_PREV_ALL: return sb_html_prev_el(n);
  default: return sb_html_is_element(n) ? n : NULL;
  }
}

static sb_html_node *walk_step(sb_html_node *c, int w) {
  switch (w) {
  case W_CHILDREN: case W_NEXT_ALL: return sb_html_next_el(c);
  case W_CONTENTS: return c->next;
  case W_PARENTS: case W_CLOSEST: return sb_html_parent_el(c);
  case W_PREV_ALL: return sb_html_prev_el(c);
  default: return NULL;
  }
}

/* Every walk: the nodes reached from each node of this Selection by |w|, kept when they match
 * the filter at |fidx| (none: all), stopping before one matching the selector at |uidx| (the
 * *Until methods; -1: none). closest() keeps the first match of each walk only. */
static duk_ret_t walk(duk_context *ctx, int w, duk_idx_t fidx, duk_idx_t uidx) {
  jsel *s = this_sel(ctx);
  const char *fsrc = opt_str(ctx, fidx), *usrc = uidx >= 0 ? opt_str(ctx, uidx) : NULL;
  push_result(ctx, 0);
  int fnone, unone;
  sb_html_sel *f = compile(fsrc, &fnone), *u = compile(usrc, &unone);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  sb_html_nodes_begin(&l, s->doc);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < s->n; i++) {
    for (sb_html_node *c = walk_first(s->v[i], w); c && rc == 0; c = walk_step(c, w)) {
      if (u && sb_html_sel_match(u, c)) break;
      if (!matches(f, fnone, c)) continue;
      rc = sb_html_nodes_add(&l, c);
      if (w == W_CLOSEST) break;
    }
  }
  sb_html_sel_free(f);
  sb_html_sel_free(u);
  if (rc != 0) l.n = 0;
  fill(ctx, s->doc, &l);
  return 1;
}

static duk_ret_t sel_children(duk_context *ctx) { return walk(ctx, W_CHILDREN, 0, -1); }
static duk_ret_t sel_contents(duk_context *ctx) { return walk(ctx, W_CONTENTS, 0, -1); }
static duk_ret_t sel_parent(duk_context *ctx) { return walk(ctx, W_PARENT, 0, -1); }
static duk_ret_t sel_parents(duk_context *ctx) { return walk(ctx, W_PARENTS, 0, -1); }
static duk_ret_t sel_parents_until(duk_context *ctx) { return walk(ctx, W_PARENTS, 1, 0); }
static duk_ret_t sel_next(duk_context *ctx) { return walk(ctx, W_NEXT, 0, -1); }
static duk_ret_t sel_next_all(duk_context *ctx) { return walk(ctx, W_NEXT_ALL, 0, -1); }
static duk_ret_t sel_next_until(duk_context *ctx) { return walk(ctx, W_NEXT_ALL, 1, 0); }
static duk_ret_t sel_prev(duk_context *ctx) { return walk(ctx, W_PREV, 0, -1); }
static duk_ret_t sel_prev_all(duk_context *ctx) { return walk(ctx, W_PREV_ALL, 0, -1); }
static duk_ret_t sel_prev_until(duk_context *ctx) { return walk(ctx, W_PREV_ALL, 1, 0); }

static duk_ret_t sel_closest(duk_context *ctx) {
  duk_require_string(ctx, 0);
  return walk(ctx, W_CLOSEST, 0, -1);
}

/* --- Selection: filtering ------------------------------------------------------------------ */

enum keep { KEEP_MATCH, KEEP_OTHERS, KEEP_HAS };

/* filter / not / is / has: which nodes of this Selection match the selector or the function
 * (fn(index, Selection) truthy) at index 0. Returns the flags in a heap buffer (GC'd, so a
 * throwing callback leaks nothing), pushed on the stack. */
static unsigned char *test_each(duk_context *ctx, jsel *s, int has) {
  unsigned char *hit = duk_push_fixed_buffer(ctx, s->n ? s->n : 1);
  if (duk_is_function(ctx, 0)) {
    for (size_t i = 0; i < s->n; i++) {
      duk_dup(ctx, 0);
      duk_push_number(ctx, (double)i);
      push_node(ctx, s->doc, s->v[i], 0);
      duk_call(ctx, 2);
      hit[i] = (unsigned char)duk_to_boolean(ctx, -1);
      duk_pop(ctx);
    }
    return hit;
  }
  int none;
  sb_html_sel *sel = compile(duk_to_string(ctx, 0), &none);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  for (size_t i = 0; i < s->n; i++) {
    if (!has) {
      hit[i] = (unsigned char)matches(sel, none, s->v[i]);
    } else if (sel) {
      l.n = 0;
      hit[i] = sb_html_sel_find(sel, s->v[i], &l) == 0 && l.n > 0;
    }
  }
  sb_html_nodes_clear(&l);
  sb_html_sel_free(sel);
  return hit;
}

static duk_ret_t keep(duk_context *ctx, int how) {
  jsel *s = this_sel(ctx);
  duk_set_top(ctx, 1);
  unsigned char *hit = test_each(ctx, s, how == KEEP_HAS);
  push_result(ctx, 0);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  for (size_t i = 0; i < s->n; i++)
    if ((hit[i] != 0) != (how == KEEP_OTHERS) && sb_html_nodes_add(&l, s->v[i]) != 0) l.n = 0;
  fill(ctx, s->doc, &l);
  return 1;
}

static duk_ret_t sel_filter(duk_context *ctx) { return keep(ctx, KEEP_MATCH); }
static duk_ret_t sel_not(duk_context *ctx) { return keep(ctx, KEEP_OTHERS); }
static duk_ret_t sel_has(duk_context *ctx) { return keep(ctx, KEEP_HAS); }

static duk_ret_t sel_is(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  duk_set_top(ctx, 1);
  unsigned char *hit = test_each(ctx, s, 0);
  int any = 0;
  for (size_t i = 0; i < s->n; i++) any |= hit[i];
  duk_push_boolean(ctx, any);
  return 1;
}

/* --- Selection: picking -------------------------------------------------------------------- */

/* |i| counted from the end when negative; -1 when out of range. */
static long index_of(duk_context *ctx, duk_idx_t idx, size_t n) {
  long i = (long)duk_to_int(ctx, idx);
  if (i < 0) i += (long)n;
  return i >= 0 && (size_t)i < n ? i : -1;
}

static duk_ret_t pick(duk_context *ctx, jsel *s, long i) {
  push_result(ctx, 0);
  fill_one(ctx, s->doc, i >= 0 && (size_t)i < s->n ? s->v[i] : NULL);
  return 1;
}

static duk_ret_t sel_eq(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  return pick(ctx, s, index_of(ctx, 0, s->n));
}
static duk_ret_t sel_first(duk_context *ctx) { return pick(ctx, this_sel(ctx), 0); }
static duk_ret_t sel_last(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  return pick(ctx, s, (long)s->n - 1);
}

static duk_ret_t sel_size(duk_context *ctx) {
  duk_push_number(ctx, (double)this_sel(ctx)->n);
  return 1;
}

/* slice(start[, end]), negative counts from the end, as Array.prototype.slice */
static duk_ret_t sel_slice(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  long n = (long)s->n, a = duk_to_int(ctx, 0), b = duk_is_undefined(ctx, 1) ? n : duk_to_int(ctx, 1);
  if (a < 0) a = a + n < 0 ? 0 : a + n;
  if (b < 0) b = b + n < 0 ? 0 : b + n;
  if (a > n) a = n;
  if (b > n) b = n;
  push_result(ctx, 0);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  for (long i = a; i < b; i++)
    if (sb_html_nodes_add(&l, s->v[i]) != 0) l.n = 0;
  fill(ctx, s->doc, &l);
  return 1;
}

/* get(i) -> Element or undefined; get() -> [Element] */
static duk_ret_t sel_get(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  if (!duk_is_undefined(ctx, 0)) {
    long i = index_of(ctx, 0, s->n);
    push_node(ctx, s->doc, i >= 0 ? s->v[i] : NULL, 1);
    return 1;
  }
  duk_push_array(ctx);
  for (size_t i = 0; i < s->n; i++) {
    push_node(ctx, s->doc, s->v[i], 1);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  return 1;
}

/* toArray() -> [Selection] */
static duk_ret_t sel_to_array(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  duk_push_array(ctx);
  for (size_t i = 0; i < s->n; i++) {
    push_node(ctx, s->doc, s->v[i], 0);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  return 1;
}

/* each(fn(index, Element)) -> this */
static duk_ret_t sel_each(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  duk_require_function(ctx, 0);
  for (size_t i = 0; i < s->n; i++) {
    duk_dup(ctx, 0);
    duk_push_number(ctx, (double)i);
    push_node(ctx, s->doc, s->v[i], 1);
    duk_call(ctx, 2);
    duk_pop(ctx);
  }
  duk_push_this(ctx);
  return 1;
}

/* map(fn(index, Selection)) -> [results], undefined and null left out */
static duk_ret_t sel_map(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  duk_require_function(ctx, 0);
  duk_push_array(ctx);
  duk_uarridx_t k = 0;
  for (size_t i = 0; i < s->n; i++) {
    duk_dup(ctx, 0);
    duk_push_number(ctx, (double)i);
    push_node(ctx, s->doc, s->v[i], 0);
    duk_call(ctx, 2);
    if (duk_is_null_or_undefined(ctx, -1)) duk_pop(ctx);
    else duk_put_prop_index(ctx, -2, k++);
  }
  return 1;
}

/* --- Selection: reading ------------------------------------------------------------------- */

/* text(): the text of every node, concatenated */
static duk_ret_t sel_text(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_buf_reserve(&b, 0);
  for (size_t i = 0; rc == 0 && i < s->n; i++) rc = sb_html_text(s->v[i], &b);
  push_string_buf(ctx, &b, rc);
  return 1;
}

/* html(): the markup inside the first node ("" when empty) */
static duk_ret_t sel_html(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  sb_buf b;
  sb_buf_init(&b);
  push_string_buf(ctx, &b, s->n ? sb_html_inner(s->v[0], &b) : sb_buf_reserve(&b, 0));
  return 1;
}

/* attr(name[, default]) of the first node: undefined (or |default|) when missing */
static duk_ret_t sel_attr(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  const char *v = s->n ? sb_html_attr(s->v[0], duk_require_string(ctx, 0)) : NULL;
  if (v) duk_push_string(ctx, v);
  else duk_dup(ctx, 1);
  return 1;
}

static int is_tag(const sb_html_node *n, const char *tag) {
  return sb_html_is_element(n) && strcasecmp((const char *)n->name, tag) == 0;
}

/* [ ... ] -> [ ... value ]: an <option>'s value (its text when it has no value attribute). */
static void push_option_value(duk_context *ctx, const sb_html_node *o) {
  const char *v = sb_html_attr(o, "value");
  if (v) {
    duk_push_string(ctx, v);
    return;
  }
  sb_buf b;
  sb_buf_init(&b);
  push_string_buf(ctx, &b, sb_html_text(o, &b));
}

/* The <option> a <select> submits: the last selected one, else the first (NULL: none). */
static sb_html_node *selected_option(const sb_html_node *sel) {
  sb_html_node *first = NULL, *chosen = NULL;
  for (const sb_html_node *c = sel->children; c; c = c->next) {
    const sb_html_node *kids = is_tag(c, "optgroup") ? c->children : c;
    for (const sb_html_node *o = kids; o; o = (kids == c ? NULL : o->next)) {
      if (!is_tag(o, "option")) continue;
      if (!first) first = (sb_html_node *)o;
      if (sb_html_attr(o, "selected")) chosen = (sb_html_node *)o;
    }
  }
  return chosen ? chosen : first;
}

/* [ ... ] -> [ ... value ]: a form control's value as jQuery's val() reads it. */
static void push_value(duk_context *ctx, const sb_html_node *n) {
  if (is_tag(n, "select")) {
    const sb_html_node *o = selected_option(n);
    if (o) push_option_value(ctx, o);
    else duk_push_undefined(ctx);
  } else if (is_tag(n, "option")) {
    push_option_value(ctx, n);
  } else if (is_tag(n, "textarea")) {
    sb_buf b;
    sb_buf_init(&b);
    push_string_buf(ctx, &b, sb_html_text(n, &b));
  } else {
    const char *v = sb_html_attr(n, "value"), *t = sb_html_attr(n, "type");
    if (!v && is_tag(n, "input") && t && (!strcasecmp(t, "checkbox") || !strcasecmp(t, "radio")))
      v = "on";
    if (v) duk_push_string(ctx, v);
    else if (is_tag(n, "input")) duk_push_string(ctx, "");
    else duk_push_undefined(ctx);
  }
}

static duk_ret_t sel_val(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  if (s->n) push_value(ctx, s->v[0]);
  else duk_push_undefined(ctx);
  return 1;
}

/* data([key]): the first node's data-* attributes by camelCase key (strings, as written). */
static duk_ret_t sel_data(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  const char *want = opt_str(ctx, 0);
  if (!want) duk_push_object(ctx);
  for (const xmlAttr *a = s->n && sb_html_is_element(s->v[0]) ? s->v[0]->properties : NULL; a;
       a = a->next) {
    const char *name = (const char *)a->name;
    if (strncasecmp(name, "data-", 5) != 0) continue;
    char key[256];
    size_t k = 0;
    for (const char *p = name + 5; *p && k + 1 < sizeof(key); p++) {
      if (*p == '-' && p[1] >= 'a' && p[1] <= 'z') key[k++] = (char)(*++p - 'a' + 'A');
      else key[k++] = *p;
    }
    key[k] = '\0';
    const char *v = a->children && a->children->content ? (const char *)a->children->content : "";
    if (want && strcmp(want, key) == 0) {
      duk_push_string(ctx, v);
      return 1;
    }
    if (!want) {
      duk_push_string(ctx, v);
      duk_put_prop_string(ctx, -2, key);
    }
  }
  if (want) duk_push_undefined(ctx);
  return 1;
}

/* --- Selection: forms ---------------------------------------------------------------------- */

/* Does control |n| take part in a form submission (named, enabled, checked when a box)? */
static int submittable(const sb_html_node *n) {
  const char *name = sb_html_attr(n, "name"), *t = sb_html_attr(n, "type");
  if (!name || !name[0] || sb_html_attr(n, "disabled")) return 0;
  if (is_tag(n, "select") || is_tag(n, "textarea")) return 1;
  if (!is_tag(n, "input")) return 0;
  static const char *const skip[] = {"submit", "button", "image", "reset", "file"};
  for (size_t i = 0; t && i < sizeof(skip) / sizeof(skip[0]); i++)
    if (strcasecmp(t, skip[i]) == 0) return 0;
  if (t && (!strcasecmp(t, "checkbox") || !strcasecmp(t, "radio")))
    return sb_html_attr(n, "checked") != NULL;
  return 1;
}

/* [ ... ] -> [ ... [{name, value}] ]: the controls of the forms (or the controls themselves) in
 * this Selection, in document order. */
static void push_fields(duk_context *ctx, jsel *s) {
  duk_push_array(ctx);
  duk_uarridx_t k = 0;
  sb_html_sel *ctl = NULL;
  (void)sb_html_sel_compile(&ctl, "input, select, textarea", NULL);
  /* (only an out-of-memory error can throw while |l| lives: the buffer below; it then leaks) */
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  sb_html_nodes_begin(&l, s->doc);
  for (size_t i = 0; ctl && i < s->n; i++) {
    if (sb_html_sel_match(ctl, s->v[i])) (void)sb_html_nodes_add(&l, s->v[i]);
    else (void)sb_html_sel_find(ctl, s->v[i], &l);
  }
  sb_html_sel_free(ctl);
  size_t n = l.n;
  sb_html_node **v = duk_push_fixed_buffer(ctx, (n ? n : 1) * sizeof(*v));
  if (n) memcpy(v, l.v, n * sizeof(*v));
  sb_html_nodes_clear(&l);
  for (size_t i = 0; i < n; i++) {
    if (!submittable(v[i])) continue;
    duk_push_object(ctx);
    duk_push_string(ctx, sb_html_attr(v[i], "name"));
    duk_put_prop_string(ctx, -2, "name");
    push_value(ctx, v[i]);
    duk_put_prop_string(ctx, -2, "value");
    duk_put_prop_index(ctx, -3, k++);
  }
  duk_pop(ctx);
}

static duk_ret_t sel_serialize_array(duk_context *ctx) {
  push_fields(ctx, this_sel(ctx));
  return 1;
}

/* serializeObject(): {name: value}, the last value of a repeated name winning */
static duk_ret_t sel_serialize_object(duk_context *ctx) {
  push_fields(ctx, this_sel(ctx));
  duk_push_object(ctx);
  duk_size_t n = duk_get_length(ctx, -2);
  for (duk_size_t i = 0; i < n; i++) {
    duk_get_prop_index(ctx, -2, (duk_uarridx_t)i);
    duk_get_prop_string(ctx, -1, "name");
    duk_get_prop_string(ctx, -2, "value");
    duk_put_prop(ctx, -4);
    duk_pop(ctx);
  }
  return 1;
}

/* serialize(): "a=1&b=x+y", form-urlencoded as jQuery does it */
static duk_ret_t sel_serialize(duk_context *ctx) {
  push_fields(ctx, this_sel(ctx));                  /* -> [ fields ] */
  duk_size_t n = duk_get_length(ctx, 0);
  duk_push_array(ctx);                              /* -> [ fields parts ] */
  duk_get_global_string(ctx, "encodeURIComponent"); /* -> [ fields parts enc ] */
  for (duk_size_t i = 0; i < n; i++) {
    duk_get_prop_index(ctx, 0, (duk_uarridx_t)i);  /* -> [ fields parts enc f ] */
    duk_dup(ctx, 2);
    duk_get_prop_string(ctx, 3, "name");
    duk_call(ctx, 1);
    duk_push_string(ctx, "=");
    duk_dup(ctx, 2);
    duk_get_prop_string(ctx, 3, "value");
    duk_call(ctx, 1);                               /* -> [ ... f name = value ] */
    duk_concat(ctx, 3);
    duk_put_prop_index(ctx, 1, (duk_uarridx_t)i);
    duk_pop(ctx);
  }
  duk_push_string(ctx, "join");
  duk_push_string(ctx, "&");
  duk_call_prop(ctx, 1, 1);                         /* -> [ fields parts enc str ] */
  duk_push_string(ctx, "split");
  duk_push_string(ctx, "%20");
  duk_call_prop(ctx, -3, 1);
  duk_push_string(ctx, "join");
  duk_push_string(ctx, "+");
  duk_call_prop(ctx, -3, 1);
  return 1;
}

/* --- Element ------------------------------------------------------------------------------- */

static sb_html_node *this_node(duk_context *ctx) { return this_sel(ctx)->v[0]; }

enum el_node { E_FIRST_CHILD, E_LAST_CHILD, E_FIRST_EL, E_LAST_EL, E_NEXT, E_PREV, E_NEXT_EL,
               E_PREV_EL, E_PARENT_EL, E_PARENT_NODE, E_OWNER_DOC };

/* firstChild(), nextElementSibling(), parentNode() ...: an Element or undefined (magic: which) */
static duk_ret_t el_node_of(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  sb_html_node *n = s->v[0], *r = NULL;
  int kids = n->type == XML_ELEMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE;
  switch (duk_get_current_magic(ctx)) {
  case E_FIRST_CHILD: r = kids ? n->children : NULL; break;
  case E_LAST_CHILD: r = kids ? n->last : NULL; break;
  case E_FIRST_EL: r = kids ? first_el_child(n) : NULL; break;
  case E_LAST_EL:
    for (r = kids ? n->last : NULL; r && r->type != XML_ELEMENT_NODE;) r = r->prev;
    break;
  case E_NEXT: r = n->next; break;
  case E_PREV: r = n->prev; break;
  case E_NEXT_EL: r = sb_html_next_el(n); break;
  case E_PREV_EL: r = sb_html_prev_el(n); break;
  case E_PARENT_EL: r = sb_html_parent_el(n); break;
  case E_PARENT_NODE: r = n->parent; break;
  default: r = sb_html_doc_root(s->doc); break;
  }
  push_node(ctx, s->doc, r, 1);
  return 1;
}

/* nodeName(): goquery's names: the lower-case tag, "#text", "#comment", "#document" */
static duk_ret_t el_node_name(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  switch (n->type) {
  case XML_ELEMENT_NODE: duk_push_string(ctx, (const char *)n->name); break;
  case XML_TEXT_NODE: duk_push_string(ctx, "#text"); break;
  case XML_CDATA_SECTION_NODE: duk_push_string(ctx, "#text"); break;
  case XML_COMMENT_NODE: duk_push_string(ctx, "#comment"); break;
  case XML_HTML_DOCUMENT_NODE: duk_push_string(ctx, "#document"); break;
  default: duk_push_string(ctx, n->name ? (const char *)n->name : ""); break;
  }
  return 1;
}

/* nodeType(): the DOM's numbers (1 element, 3 text, 8 comment, 9 document, 10 doctype) */
static duk_ret_t el_node_type(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  int t = n->type == XML_CDATA_SECTION_NODE ? 3 : n->type == XML_HTML_DOCUMENT_NODE ? 9
        : n->type == XML_DTD_NODE ? 10 : (int)n->type;
  duk_push_int(ctx, t);
  return 1;
}

/* nodeValue(): the text of a text or comment node, else undefined */
static duk_ret_t el_node_value(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  if (n->type != XML_ELEMENT_NODE && n->type != XML_HTML_DOCUMENT_NODE && n->content)
    duk_push_string(ctx, (const char *)n->content);
  else
    duk_push_undefined(ctx);
  return 1;
}

/* id(), className(), lang(): the attribute or "" (magic: 0, 1, 2) */
static duk_ret_t el_attr_str(duk_context *ctx) {
  static const char *const names[] = {"id", "class", "lang"};
  const char *v = sb_html_attr(this_node(ctx), names[duk_get_current_magic(ctx)]);
  duk_push_string(ctx, v ? v : "");
  return 1;
}

static duk_ret_t el_class_list(duk_context *ctx) {
  const char *v = sb_html_attr(this_node(ctx), "class");
  duk_push_array(ctx);
  duk_uarridx_t k = 0;
  for (const char *p = v ? v : ""; *p;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') p++;
    const char *s = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\f') p++;
    if (p > s) {
      duk_push_lstring(ctx, s, (duk_size_t)(p - s));
      duk_put_prop_index(ctx, -2, k++);
    }
  }
  return 1;
}

/* textContent(), innerHTML(), toString() (magic 0, 1, 2: the outer markup) */
static duk_ret_t el_markup(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  int m = duk_get_current_magic(ctx);
  sb_buf b;
  sb_buf_init(&b);
  int rc = m == 0 ? sb_html_text(n, &b) : m == 1 ? sb_html_inner(n, &b) : sb_html_outer(n, &b);
  if (rc == 0) rc = sb_buf_reserve(&b, 0);
  push_string_buf(ctx, &b, rc);
  return 1;
}

/* getAttribute(name): string or undefined; hasAttribute(name) (magic 1) */
static duk_ret_t el_get_attribute(duk_context *ctx) {
  const char *v = sb_html_attr(this_node(ctx), duk_require_string(ctx, 0));
  if (duk_get_current_magic(ctx)) duk_push_boolean(ctx, v != NULL);
  else if (v) duk_push_string(ctx, v);
  else duk_push_undefined(ctx);
  return 1;
}

/* attributes(): {name: {name, value}} */
static duk_ret_t el_attributes(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  duk_push_object(ctx);
  for (const xmlAttr *a = sb_html_is_element(n) ? n->properties : NULL; a; a = a->next) {
    duk_push_object(ctx);
    duk_push_string(ctx, (const char *)a->name);
    duk_put_prop_string(ctx, -2, "name");
    duk_push_string(ctx, a->children && a->children->content ? (const char *)a->children->content
                                                              : "");
    duk_put_prop_string(ctx, -2, "value");
    duk_put_prop_string(ctx, -2, (const char *)a->name);
  }
  return 1;
}

/* hasAttributes(), hasChildNodes(), childElementCount() (magic 0, 1, 2) */
static duk_ret_t el_counts(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  int kids = n->type == XML_ELEMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE;
  switch (duk_get_current_magic(ctx)) {
  case 0: duk_push_boolean(ctx, sb_html_is_element(n) && n->properties); break;
  case 1: duk_push_boolean(ctx, kids && n->children); break;
  default: {
    int c = 0;
    for (sb_html_node *e = kids ? first_el_child(n) : NULL; e; e = sb_html_next_el(e)) c++;
    duk_push_int(ctx, c);
  }
  }
  return 1;
}

/* [ ... sel ] -> [ ... [Element] ]: the nodes of a Selection as Elements. */
static void sel_to_elements(duk_context *ctx) {
  jsel *s = get_sel(ctx, -1);
  duk_push_array(ctx);
  for (size_t i = 0; s && i < s->n; i++) {
    push_node(ctx, s->doc, s->v[i], 1);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
  }
  duk_remove(ctx, -2);
}

/* children(), childNodes(): arrays of Elements (magic 0, 1) */
static duk_ret_t el_children(duk_context *ctx) {
  duk_set_top(ctx, 1); /* no filter */
  walk(ctx, duk_get_current_magic(ctx) ? W_CONTENTS : W_CHILDREN, 0, -1);
  sel_to_elements(ctx);
  return 1;
}

/* querySelectorAll(sel), getElementsByTagName(name), getElementsByClassName(names) (magic 0-2)
 * -> [Element]; querySelector(sel) (magic 3) -> Element or undefined */
static duk_ret_t el_query(duk_context *ctx) {
  int m = duk_get_current_magic(ctx);
  const char *arg = duk_require_string(ctx, 0);
  if (m == 2) { /* class names "a  b" -> selector ".a.b" */
    size_t n = strlen(arg);
    char *sel = duk_push_fixed_buffer(ctx, 2 * n + 2), *o = sel;
    for (const char *p = arg; *p;) {
      while (*p == ' ' || *p == '\t' || *p == '\n') p++;
      if (*p) *o++ = '.';
      while (*p && *p != ' ' && *p != '\t' && *p != '\n') *o++ = *p++;
    }
    duk_push_lstring(ctx, sel, (duk_size_t)(o - sel));
    duk_replace(ctx, 0);
  }
  duk_set_top(ctx, 1);
  sel_find(ctx);
  if (m != 3) {
    sel_to_elements(ctx);
    return 1;
  }
  jsel *s = get_sel(ctx, -1);
  push_node(ctx, s->doc, s->n ? s->v[0] : NULL, 1);
  return 1;
}

/* matches(sel) */
static duk_ret_t el_matches(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  int none;
  sb_html_sel *s = compile(duk_require_string(ctx, 0), &none);
  int hit = matches(s, none, n);
  sb_html_sel_free(s);
  duk_push_boolean(ctx, hit);
  return 1;
}

/* isSameNode(other), contains(other) (magic 1) */
static duk_ret_t el_same(duk_context *ctx) {
  sb_html_node *n = this_node(ctx);
  jsel *o = duk_is_object(ctx, 0) ? get_sel(ctx, 0) : NULL;
  int r = 0;
  if (o && o->n) {
    if (!duk_get_current_magic(ctx)) r = o->v[0] == n;
    for (sb_html_node *p = o->v[0]; !r && p; p = p->parent) r = p == n;
  }
  duk_push_boolean(ctx, r);
  return 1;
}

/* selection(): this node as a Selection */
static duk_ret_t el_selection(duk_context *ctx) {
  jsel *s = this_sel(ctx);
  push_node(ctx, s->doc, s->v[0], 0);
  return 1;
}

/* --- prototypes and the module ------------------------------------------------------------- */

typedef struct method {
  const char *name;
  duk_c_function fn;
  duk_idx_t nargs;
  int magic;
} method;

static const method sel_methods[] = {
    {"find", sel_find, 1, 0},           {"children", sel_children, 1, 0},
    {"contents", sel_contents, 1, 0},   {"parent", sel_parent, 1, 0},
    {"parents", sel_parents, 1, 0},     {"parentsUntil", sel_parents_until, 2, 0},
    {"closest", sel_closest, 1, 0},     {"next", sel_next, 1, 0},
    {"nextAll", sel_next_all, 1, 0},    {"nextUntil", sel_next_until, 2, 0},
    {"prev", sel_prev, 1, 0},           {"prevAll", sel_prev_all, 1, 0},
    {"prevUntil", sel_prev_until, 2, 0}, {"filter", sel_filter, 1, 0},
    {"not", sel_not, 1, 0},             {"has", sel_has, 1, 0},
    {"is", sel_is, 1, 0},               {"eq", sel_eq, 1, 0},
    {"first", sel_first, 0, 0},         {"last", sel_last, 0, 0},
    {"size", sel_size, 0, 0},           {"slice", sel_slice, 2, 0},
    {"get", sel_get, 1, 0},             {"toArray", sel_to_array, 0, 0},
    {"each", sel_each, 1, 0},           {"map", sel_map, 1, 0},
    {"text", sel_text, 0, 0},           {"html", sel_html, 0, 0},
    {"attr", sel_attr, 2, 0},           {"val", sel_val, 0, 0},
    {"data", sel_data, 1, 0},           {"serialize", sel_serialize, 0, 0},
    {"serializeArray", sel_serialize_array, 0, 0},
    {"serializeObject", sel_serialize_object, 0, 0},
    {NULL, NULL, 0, 0},
};

static const method el_methods[] = {
    {"nodeName", el_node_name, 0, 0},           {"nodeType", el_node_type, 0, 0},
    {"nodeValue", el_node_value, 0, 0},         {"id", el_attr_str, 0, 0},
    {"className", el_attr_str, 0, 1},           {"lang", el_attr_str, 0, 2},
    {"classList", el_class_list, 0, 0},         {"textContent", el_markup, 0, 0},
    {"innerHTML", el_markup, 0, 1},             {"toString", el_markup, 0, 2},
    {"getAttribute", el_get_attribute, 1, 0},   {"hasAttribute", el_get_attribute, 1, 1},
    {"attributes", el_attributes, 0, 0},        {"hasAttributes", el_counts, 0, 0},
    {"hasChildNodes", el_counts, 0, 1},         {"childElementCount", el_counts, 0, 2},
    {"children", el_children, 0, 0},            {"childNodes", el_children, 0, 1},
    {"firstChild", el_node_of, 0, E_FIRST_CHILD}, {"lastChild", el_node_of, 0, E_LAST_CHILD},
    {"firstElementChild", el_node_of, 0, E_FIRST_EL},
    {"lastElementChild", el_node_of, 0, E_LAST_EL},
    {"nextSibling", el_node_of, 0, E_NEXT},     {"previousSibling", el_node_of, 0, E_PREV},
    {"nextElementSibling", el_node_of, 0, E_NEXT_EL},
    {"previousElementSibling", el_node_of, 0, E_PREV_EL},
    {"parentElement", el_node_of, 0, E_PARENT_EL}, {"parentNode", el_node_of, 0, E_PARENT_NODE},
    {"ownerDocument", el_node_of, 0, E_OWNER_DOC},
    {"querySelectorAll", el_query, 1, 0},       {"getElementsByTagName", el_query, 1, 1},
    {"getElementsByClassName", el_query, 1, 2}, {"querySelector", el_query, 1, 3},
    {"matches", el_matches, 1, 0},              {"isSameNode", el_same, 1, 0},
    {"isEqualNode", el_same, 1, 0},             {"contains", el_same, 1, 1},
    {"selection", el_selection, 0, 0},
    {NULL, NULL, 0, 0},
};

/* [ ... ] -> [ ... proto ] */
static void push_proto(duk_context *ctx, const method *m) {
  duk_push_object(ctx);
  for (; m->name; m++) {
    duk_push_c_function(ctx, m->fn, m->nargs);
    duk_set_magic(ctx, -1, m->magic);
    duk_put_prop_string(ctx, -2, m->name);
  }
  duk_push_c_function(ctx, sel_finalize, 1);
  duk_set_finalizer(ctx, -2);
}

/* Builds the two prototypes once per heap, kept in the global stash. */
static void ensure_protos(duk_context *ctx) {
  duk_push_global_stash(ctx);
  if (duk_has_prop_string(ctx, -1, K_SEL_PROTO)) {
    duk_pop(ctx);
    return;
  }
  push_proto(ctx, sel_methods);
  duk_put_prop_string(ctx, -2, K_SEL_PROTO);
  push_proto(ctx, el_methods);
  duk_put_prop_string(ctx, -2, K_EL_PROTO);
  duk_pop(ctx);
}

void sb_js_html_push_document(duk_context *ctx, const char *html, size_t len) {
  push_result(ctx, 0);
  sb_html_doc *doc = NULL;
  sb_err err;
  err.msg[0] = '\0';
  int rc = sb_html_parse(&doc, html ? html : "", html ? len : 0, &err);
  if (rc != 0)
    (void)duk_error(ctx, rc == SB_ENOMEM ? DUK_ERR_RANGE_ERROR : DUK_ERR_ERROR, "parseHTML: %s",
                    err.msg[0] ? err.msg : "out of memory");
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  rc = sb_html_nodes_add(&l, sb_html_doc_root(doc));
  if (rc == 0) rc = fill_rc(ctx, doc, &l); /* takes its own reference */
  sb_html_nodes_clear(&l);
  sb_html_doc_unref(doc);
  if (rc != 0) (void)duk_error(ctx, DUK_ERR_RANGE_ERROR, "parseHTML: out of memory");
}

/* parseHTML(src): a string, or an ArrayBuffer / typed array holding UTF-8 */
static duk_ret_t js_parse_html(duk_context *ctx) {
  duk_size_t len = 0;
  const char *src;
  if (duk_is_buffer_data(ctx, 0))
    src = duk_get_buffer_data(ctx, 0, &len);
  else
    src = duk_to_lstring(ctx, 0, &len);
  sb_js_html_push_document(ctx, src, len);
  return 1;
}

void sb_js_html_push(duk_context *ctx) {
  ensure_protos(ctx);
  duk_push_object(ctx);
  duk_push_c_function(ctx, js_parse_html, 1);
  duk_put_prop_string(ctx, -2, "parseHTML");
}
