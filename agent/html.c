/* HTML documents over libxml2 and a CSS selector engine over their DOM (contract: html.h).
 *
 * The selector engine is hand-written because Debian ships no CSS selector library for C. A
 * selector compiles into groups of complex selectors, each an array of compounds joined by
 * combinators; matching runs right to left from the candidate element, backtracking over
 * ancestors (descendant) and earlier siblings (general sibling) — the way browsers and cascadia
 * do it, with no allocation while matching except for :contains(). */
#include "agent/html.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>

struct sb_html_doc {
  htmlDocPtr doc;    /* libxml2's document */
  long refs;         /* Selections (and callers) holding it */
  uintptr_t marks;   /* last mark handed to a duplicate-free node list */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void init_libxml(void) { xmlInitParser(); }

/* --- documents ----------------------------------------------------------------------------- */

int sb_html_parse(sb_html_doc **out, const char *src, size_t len, sb_err *err) {
  if (len > INT_MAX) return sb_err_set(err, SB_EINVAL, "HTML document of %zu bytes is too large", len);
  pthread_once(&init_once, init_libxml);
  sb_html_doc *d = calloc(1, sizeof(*d));
  if (!d) return SB_ENOMEM;
  int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
  if (len > 0) d->doc = htmlReadMemory(src, (int)len, NULL, "UTF-8", opts);
  if (!d->doc) d->doc = htmlNewDocNoDtD(NULL, NULL); /* empty input: libxml2 gives nothing */
  if (!d->doc) {
    free(d);
    return sb_err_set(err, SB_ENOMEM, "out of memory parsing HTML");
  }
  d->refs = 1;
  *out = d;
  return 0;
}

void sb_html_doc_ref(sb_html_doc *d) { d->refs++; }

void sb_html_doc_unref(sb_html_doc *d) {
  if (!d || --d->refs > 0) return;
  xmlFreeDoc(d->doc);
  free(d);
}

sb_html_node *sb_html_doc_root(sb_html_doc *d) { return (xmlNodePtr)d->doc; }

/* --- node lists ---------------------------------------------------------------------------- */

void sb_html_nodes_init(sb_html_nodes *l) { memset(l, 0, sizeof(*l)); }

void sb_html_nodes_clear(sb_html_nodes *l) {
  free(l->v);
  sb_html_nodes_init(l);
}

void sb_html_nodes_begin(sb_html_nodes *l, sb_html_doc *d) {
  l->n = 0;
  l->mark = ++d->marks;
}

int sb_html_nodes_add(sb_html_nodes *l, sb_html_node *n) {
  if (l->mark) {
    if (n->_private == (void *)l->mark) return 0;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    sb_html_node **v = realloc(l->v, cap * sizeof(*v));
    if (!v) return SB_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if (l->mark) n->_private = (void *)l->mark;
  l->v[l->n++] = n;
  return 0;
}

/* --- reading nodes ------------------------------------------------------------------------- */

int sb_html_is_element(const sb_html_node *n) { return n && n->type == XML_ELEMENT_NODE; }

static int has_kids(const xmlNode *n) {
  return n->type == XML_ELEMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE ||
         n->type == XML_DOCUMENT_NODE;
}

/* Pre-order successor of |n| inside the subtree of |root| (NULL past its end). */
static xmlNode *walk_next(const xmlNode *n, const xmlNode *root) {
  if (has_kids(n) && n->children) return n->children;
  while (n && n != root) {
    if (n->next) return n->next;
    n = n->parent;
  }
  return NULL;
}

const char *sb_html_attr(const sb_html_node *n, const char *name) {
  if (!sb_html_is_element(n)) return NULL;
  for (const xmlAttr *a = n->properties; a; a = a->next) {
    if (strcasecmp((const char *)a->name, name) != 0) continue;
    if (a->children && a->children->content) return (const char *)a->children->content;
    return "";
  }
  return NULL;
}

int sb_html_text(const sb_html_node *n, sb_buf *out) {
  if (!has_kids(n)) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
      return n->content ? sb_buf_puts(out, (const char *)n->content) : 0;
    return 0;
  }
  for (const xmlNode *c = walk_next(n, n); c; c = walk_next(c, n)) {
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content &&
        sb_buf_puts(out, (const char *)c->content) != 0)
      return SB_ENOMEM;
  }
  return 0;
}

/* Serializes |n| with libxml2's HTML writer and appends it. */
static int dump_node(const xmlNode *n, sb_buf *out) {
  if (n->type == XML_DTD_NODE) return sb_buf_printf(out, "<!DOCTYPE %s>", (const char *)n->name);
  xmlOutputBufferPtr ob = xmlAllocOutputBuffer(NULL);
  if (!ob) return SB_ENOMEM;
  htmlNodeDumpFormatOutput(ob, n->doc, (xmlNodePtr)n, "UTF-8", 0);
  int rc = ob->error ? SB_ENOMEM
                     : sb_buf_append(out, xmlOutputBufferGetContent(ob), xmlOutputBufferGetSize(ob));
  xmlOutputBufferClose(ob);
  return rc;
}

int sb_html_inner(const sb_html_node *n, sb_buf *out) {
  if (sb_buf_reserve(out, 0) != 0) return SB_ENOMEM; /* "" rather than NULL data when empty */
  if (!has_kids(n)) return n->content ? sb_buf_puts(out, (const char *)n->content) : 0;
  for (const xmlNode *c = n->children; c; c = c->next)
    if (dump_node(c, out) != 0) return SB_ENOMEM;
  return 0;
}

int sb_html_outer(const sb_html_node *n, sb_buf *out) {
  if (sb_buf_reserve(out, 0) != 0) return SB_ENOMEM;
  if (n->type == XML_HTML_DOCUMENT_NODE || n->type == XML_DOCUMENT_NODE)
    return sb_html_inner(n, out);
  return dump_node(n, out);
}

sb_html_node *sb_html_next_el(const sb_html_node *n) {
  for (n = n->next; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE) return (sb_html_node *)n;
  return NULL;
}

sb_html_node *sb_html_prev_el(const sb_html_node *n) {
  for (n = n->prev; n; n = n->prev)
    if (n->type == XML_ELEMENT_NODE) return (sb_html_node *)n;
  return NULL;
}

sb_html_node *sb_html_parent_el(const sb_html_node *n) {
  return n->parent && n->parent->type == XML_ELEMENT_NODE ? n->parent : NULL;
}

/* --- compiled selectors -------------------------------------------------------------------- */

enum simple_kind {
  K_ID, K_CLASS, K_ATTR, K_NTH, K_NOT, K_HAS, K_CONTAINS, K_EMPTY, K_ROOT, K_CHECKED,
  K_DISABLED, K_ENABLED,
};
enum attr_op { A_EXISTS, A_EQ, A_WORD, A_DASH, A_PREFIX, A_SUFFIX, A_SUBSTR };

typedef struct simple {
  unsigned char kind;   /* enum simple_kind */
  unsigned char op;     /* K_ATTR: enum attr_op */
  unsigned char icase;  /* K_ATTR: the " i" flag */
  unsigned char last;   /* K_NTH: count from the end */
  unsigned char oftype; /* K_NTH: count siblings of the same name only */
  int a, b;             /* K_NTH: an+b */
  char *name;           /* K_ATTR attribute (lower case); K_ID / K_CLASS / K_CONTAINS value */
  char *value;          /* K_ATTR value */
  sb_html_sel *sub;     /* K_NOT / K_HAS */
} simple;

typedef struct compound {
  char *tag;      /* lower-case type, NULL for any */
  simple *s;      /* the rest of the compound */
  size_t ns;
  char comb;      /* how it joins the compound before it: ' ' '>' '+' '~'; 0 for the first */
} compound;

typedef struct complex_sel {
  compound *c;
  size_t nc;
} complex_sel;

struct sb_html_sel {
  complex_sel *v; /* the comma-separated alternatives */
  size_t n;
};

static void free_compound(compound *c) {
  free(c->tag);
  for (size_t i = 0; i < c->ns; i++) {
    free(c->s[i].name);
    free(c->s[i].value);
    sb_html_sel_free(c->s[i].sub);
  }
  free(c->s);
}

void sb_html_sel_free(sb_html_sel *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    for (size_t j = 0; j < s->v[i].nc; j++) free_compound(&s->v[i].c[j]);
    free(s->v[i].c);
  }
  free(s->v);
  free(s);
}

/* --- the selector parser ------------------------------------------------------------------- */

typedef struct parser {
  const char *src; /* the whole selector, for messages */
  const char *p;   /* the cursor */
  sb_err *err;
  int rc;          /* first error */
  int depth;       /* :not() / :has() nesting */
} parser;

static int fail(parser *ps, int rc, const char *what) {
  if (ps->rc == 0) {
    ps->rc = rc;
    if (rc == SB_ENOMEM)
      sb_err_set(ps->err, rc, "out of memory compiling selector");
    else
      sb_err_set(ps->err, rc, "selector \"%s\": %s at offset %d", ps->src, what,
                 (int)(ps->p - ps->src));
  }
  return rc;
}

static void skip_ws(parser *ps) {
  while (*ps->p && isspace((unsigned char)*ps->p)) ps->p++;
}

static int ident_char(unsigned char c) {
  return isalnum(c) || c == '-' || c == '_' || c >= 0x80 || c == '\\';
}

/* Reads an identifier (backslash escapes taken literally) into a malloc'd string, lower-cased
 * when |lower|. NULL on error (ps->rc set). */
static char *read_ident(parser *ps, int lower) {
  sb_buf b;
  sb_buf_init(&b);
  while (*ps->p && ident_char((unsigned char)*ps->p)) {
    char c = *ps->p++;
    if (c == '\\') {
      if (!*ps->p) break;
      c = *ps->p++;
    }
    if (lower) c = (char)tolower((unsigned char)c);
    if (sb_buf_append(&b, &c, 1) != 0) {
      sb_buf_clear(&b);
      fail(ps, SB_ENOMEM, NULL);
      return NULL;
    }
  }
  if (b.len == 0) {
    fail(ps, SB_EFORMAT, "expected a name");
    return NULL;
  }
  return sb_buf_steal(&b, NULL);
}

/* A quoted string ('..' or "..") or an identifier. */
static char *read_value(parser *ps) {
  char q = *ps->p;
  if (q != '"' && q != '\'') return read_ident(ps, 0);
  const char *start = ++ps->p;
  while (*ps->p && *ps->p != q) ps->p += (*ps->p == '\\' && ps->p[1]) ? 2 : 1;
  if (!*ps->p) {
    fail(ps, SB_EFORMAT, "unterminated string");
    return NULL;
  }
  sb_buf b;
  sb_buf_init(&b);
  for (const char *c = start; c < ps->p; c++) {
    if (*c == '\\') c++;
    if (sb_buf_append(&b, c, 1) != 0) break;
  }
  ps->p++;
  if (sb_buf_reserve(&b, 0) != 0) {
    sb_buf_clear(&b);
    fail(ps, SB_ENOMEM, NULL);
    return NULL;
  }
  return sb_buf_steal(&b, NULL);
}

static simple *add_simple(parser *ps, compound *c, int kind) {
  simple *s = realloc(c->s, (c->ns + 1) * sizeof(*s));
  if (!s) {
    fail(ps, SB_ENOMEM, NULL);
    return NULL;
  }
  c->s = s;
  s = &c->s[c->ns++];
  memset(s, 0, sizeof(*s));
  s->kind = (unsigned char)kind;
  return s;
}

/* "[name op value flag]" after the '['. */
static int parse_attr(parser *ps, compound *c) {
  simple *s = add_simple(ps, c, K_ATTR);
  if (!s) return ps->rc;
  skip_ws(ps);
  if (!(s->name = read_ident(ps, 1))) return ps->rc;
  skip_ws(ps);
  static const char ops[] = "~|^$*";
  const char *o = *ps->p ? strchr(ops, *ps->p) : NULL;
  if (*ps->p == ']') {
    ps->p++;
    return 0;
  }
  if (*ps->p == '=') {
    s->op = A_EQ;
    ps->p++;
  } else if (o && ps->p[1] == '=') {
    s->op = (unsigned char)(A_WORD + (o - ops));
    ps->p += 2;
  } else {
    return fail(ps, SB_EFORMAT, "expected an attribute operator or ']'");
  }
  skip_ws(ps);
  if (!(s->value = read_value(ps))) return ps->rc;
  skip_ws(ps);
  if (*ps->p == 'i' || *ps->p == 'I') {
    s->icase = 1;
    ps->p++;
    skip_ws(ps);
  } else if (*ps->p == 's' || *ps->p == 'S') {
    ps->p++;
    skip_ws(ps);
  }
  if (*ps->p != ']') return fail(ps, SB_EFORMAT, "expected ']'");
  ps->p++;
  return 0;
}

/* "an+b", "odd", "even", "-n+3", "5" up to the ')'. */
static int parse_nth(parser *ps, simple *s) {
  skip_ws(ps);
  if (strncasecmp(ps->p, "odd", 3) == 0) {
    s->a = 2, s->b = 1, ps->p += 3;
  } else if (strncasecmp(ps->p, "even", 4) == 0) {
    s->a = 2, s->b = 0, ps->p += 4;
  } else {
    int sign = 1, num = -1;
    if (*ps->p == '+' || *ps->p == '-') sign = *ps->p++ == '-' ? -1 : 1;
    if (isdigit((unsigned char)*ps->p)) num = (int)strtol(ps->p, (char **)&ps->p, 10);
    if (*ps->p == 'n' || *ps->p == 'N') {
      ps->p++;
      s->a = sign * (num < 0 ? 1 : num);
      skip_ws(ps);
      if (*ps->p == '+' || *ps->p == '-') {
        int bs = *ps->p++ == '-' ? -1 : 1;
        skip_ws(ps);
        if (!isdigit((unsigned char)*ps->p)) return fail(ps, SB_EFORMAT, "expected a number");
        s->b = bs * (int)strtol(ps->p, (char **)&ps->p, 10);
      }
    } else if (num >= 0) {
      s->a = 0, s->b = sign * num;
    } else {
      return fail(ps, SB_EFORMAT, "expected an+b, odd or even");
    }
  }
  skip_ws(ps);
  if (*ps->p != ')') return fail(ps, SB_EFORMAT, "expected ')'");
  ps->p++;
  return 0;
}

static sb_html_sel *parse_list(parser *ps, char end);

/* The pseudo-class after ':' (a second ':' is accepted and ignored). */
static int parse_pseudo(parser *ps, compound *c) {
  static const struct { const char *name; int kind, a, b, last, oftype; } plain[] = {
    {"first-child", K_NTH, 0, 1, 0, 0},   {"last-child", K_NTH, 0, 1, 1, 0},
    {"first-of-type", K_NTH, 0, 1, 0, 1}, {"last-of-type", K_NTH, 0, 1, 1, 1},
    {"empty", K_EMPTY, 0, 0, 0, 0},       {"root", K_ROOT, 0, 0, 0, 0},
    {"checked", K_CHECKED, 0, 0, 0, 0},   {"disabled", K_DISABLED, 0, 0, 0, 0},
    {"enabled", K_ENABLED, 0, 0, 0, 0},
  };
  if (*ps->p == ':') ps->p++;
  char *name = read_ident(ps, 1);
  if (!name) return ps->rc;
  int rc = 0;
  simple *s = NULL;
  for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
    if (strcmp(name, plain[i].name) != 0) continue;
    if ((s = add_simple(ps, c, plain[i].kind)))
      s->a = plain[i].a, s->b = plain[i].b, s->last = (unsigned char)plain[i].last,
      s->oftype = (unsigned char)plain[i].oftype;
    goto done;
  }
  if (strcmp(name, "only-child") == 0 || strcmp(name, "only-of-type") == 0) {
    int ot = name[5] == 'o';
    if ((s = add_simple(ps, c, K_NTH))) s->b = 1, s->oftype = (unsigned char)ot;
    if (s && (s = add_simple(ps, c, K_NTH))) s->b = 1, s->last = 1, s->oftype = (unsigned char)ot;
    goto done;
  }
  if (*ps->p != '(') {
    rc = fail(ps, SB_EFORMAT, "unknown pseudo-class");
    goto done;
  }
  ps->p++;
  if (strncmp(name, "nth-", 4) == 0) {
    const char *k = name + 4;
    int last = strncmp(k, "last-", 5) == 0;
    if (last) k += 5;
    if (strcmp(k, "child") != 0 && strcmp(k, "of-type") != 0) {
      rc = fail(ps, SB_EFORMAT, "unknown pseudo-class");
    } else if ((s = add_simple(ps, c, K_NTH))) {
      s->last = (unsigned char)last;
      s->oftype = k[0] == 'o';
      rc = parse_nth(ps, s);
    }
  } else if (strcmp(name, "not") == 0 || strcmp(name, "has") == 0) {
    if ((s = add_simple(ps, c, name[0] == 'n' ? K_NOT : K_HAS)))
      s->sub = parse_list(ps, ')');
    if (s && s->sub) ps->p++;
  } else if (strcmp(name, "contains") == 0) {
    skip_ws(ps);
    if ((s = add_simple(ps, c, K_CONTAINS)) && (s->name = read_value(ps))) {
      skip_ws(ps);
      if (*ps->p == ')') ps->p++;
      else rc = fail(ps, SB_EFORMAT, "expected ')'");
    }
  } else {
    rc = fail(ps, SB_EFORMAT, "unknown pseudo-class");
  }
done:
  free(name);
  return ps->rc ? ps->rc : rc;
}

/* One compound: [type|*] then #id .class [attr] :pseudo in any number. */
static int parse_compound(parser *ps, compound *c) {
  int any = 0;
  if (*ps->p == '*') {
    ps->p++;
    any = 1;
  } else if (ident_char((unsigned char)*ps->p)) {
    if (!(c->tag = read_ident(ps, 1))) return ps->rc;
    any = 1;
  }
  for (;;) {
    char ch = *ps->p;
    int rc = 0;
    if (ch == '#' || ch == '.') {
      ps->p++;
      simple *s = add_simple(ps, c, ch == '#' ? K_ID : K_CLASS);
      if (!s || !(s->name = read_ident(ps, 0))) return ps->rc;
    } else if (ch == '[') {
      ps->p++;
      rc = parse_attr(ps, c);
    } else if (ch == ':') {
      ps->p++;
      rc = parse_pseudo(ps, c);
    } else {
      break;
    }
    if (rc != 0) return rc;
    any = 1;
  }
  return any ? 0 : fail(ps, SB_EFORMAT, "expected a selector");
}

/* One complex selector: compounds joined by combinators, up to ',' or |end|. */
static int parse_complex(parser *ps, complex_sel *cx, char end) {
  char comb = 0;
  for (;;) {
    compound *c = realloc(cx->c, (cx->nc + 1) * sizeof(*c));
    if (!c) return fail(ps, SB_ENOMEM, NULL);
    cx->c = c;
    c = &cx->c[cx->nc++];
    memset(c, 0, sizeof(*c));
    c->comb = comb;
    if (parse_compound(ps, c) != 0) return ps->rc;
    const char *before = ps->p;
    skip_ws(ps);
    char ch = *ps->p;
    if (ch == '\0' || ch == ',' || (end && ch == end)) return 0;
    if (ch == '>' || ch == '+' || ch == '~') {
      comb = ch;
      ps->p++;
      skip_ws(ps);
    } else if (ps->p > before) {
      comb = ' ';
    } else {
      return fail(ps, SB_EFORMAT, "unexpected character");
    }
  }
}

/* A comma-separated list up to |end| ('\0' or ')'), the cursor left on |end|. */
static sb_html_sel *parse_list(parser *ps, char end) {
  if (++ps->depth > 16) {
    fail(ps, SB_EFORMAT, "selector nested too deeply");
    return NULL;
  }
  sb_html_sel *s = calloc(1, sizeof(*s));
  if (!s) {
    fail(ps, SB_ENOMEM, NULL);
    return NULL;
  }
  for (;;) {
    skip_ws(ps);
    complex_sel *v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v) {
      fail(ps, SB_ENOMEM, NULL);
      break;
    }
    s->v = v;
    memset(&s->v[s->n], 0, sizeof(*v));
    if (parse_complex(ps, &s->v[s->n++], end) != 0) break;
    if (*ps->p != ',') break;
    ps->p++;
  }
  if (ps->rc == 0 && *ps->p != end) fail(ps, SB_EFORMAT, end ? "expected ')'" : "unexpected text");
  ps->depth--;
  if (ps->rc != 0) {
    sb_html_sel_free(s);
    return NULL;
  }
  return s;
}

int sb_html_sel_compile(sb_html_sel **out, const char *src, sb_err *err) {
  parser ps = {.src = src, .p = src, .err = err};
  sb_html_sel *s = parse_list(&ps, '\0');
  if (!s) return ps.rc;
  *out = s;
  return 0;
}

/* --- matching ------------------------------------------------------------------------------ */

/* Is |word| one of the whitespace-separated words of |list|? */
static int has_word(const char *list, const char *word, int icase) {
  size_t wl = strlen(word);
  if (wl == 0) return 0;
  for (const char *p = list; *p;) {
    while (*p && isspace((unsigned char)*p)) p++;
    const char *s = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if ((size_t)(p - s) == wl && (icase ? strncasecmp(s, word, wl) : strncmp(s, word, wl)) == 0)
      return 1;
  }
  return 0;
}

static int match_attr(const simple *s, const char *v) {
  if (!v) return 0;
  int (*cmp)(const char *, const char *, size_t) = s->icase ? strncasecmp : strncmp;
  size_t vl = strlen(v), wl = s->value ? strlen(s->value) : 0;
  switch (s->op) {
  case A_EXISTS: return 1;
  case A_EQ: return vl == wl && cmp(v, s->value, wl) == 0;
  case A_WORD: return has_word(v, s->value, s->icase);
  case A_DASH: return cmp(v, s->value, wl) == 0 && (v[wl] == '\0' || v[wl] == '-');
  case A_PREFIX: return wl > 0 && cmp(v, s->value, wl) == 0;
  case A_SUFFIX: return wl > 0 && vl >= wl && cmp(v + vl - wl, s->value, wl) == 0;
  case A_SUBSTR:
    if (wl == 0) return 0;
    for (size_t i = 0; i + wl <= vl; i++)
      if (cmp(v + i, s->value, wl) == 0) return 1;
    return 0;
  }
  return 0;
}

static int match_nth(const simple *s, const xmlNode *n) {
  int pos = 1;
  for (const xmlNode *o = s->last ? n->next : n->prev; o; o = s->last ? o->next : o->prev)
    if (o->type == XML_ELEMENT_NODE && (!s->oftype || xmlStrcasecmp(o->name, n->name) == 0)) pos++;
  if (s->a == 0) return pos == s->b;
  int d = pos - s->b;
  return d % s->a == 0 && d / s->a >= 0;
}

static int match_contains(const simple *s, const xmlNode *n) {
  sb_buf b;
  sb_buf_init(&b);
  int hit = sb_html_text(n, &b) == 0 && b.data && strstr(b.data, s->name) != NULL;
  if (!s->name[0]) hit = 1;
  sb_buf_clear(&b);
  return hit;
}

static int match_has(const sb_html_sel *sub, const xmlNode *n) {
  for (const xmlNode *c = walk_next(n, n); c; c = walk_next(c, n))
    if (sb_html_sel_match(sub, c)) return 1;
  return 0;
}

static int is_form_control(const xmlNode *n) {
  static const char *const names[] = {"input", "button", "select", "textarea", "option",
                                      "optgroup", "fieldset"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (xmlStrcasecmp(n->name, (const xmlChar *)names[i]) == 0) return 1;
  return 0;
}

static int match_simple(const simple *s, const xmlNode *n) {
  switch (s->kind) {
  case K_ID: {
    const char *v = sb_html_attr(n, "id");
    return v && strcmp(v, s->name) == 0;
  }
  case K_CLASS: {
    const char *v = sb_html_attr(n, "class");
    return v && has_word(v, s->name, 0);
  }
  case K_ATTR: return match_attr(s, sb_html_attr(n, s->name));
  case K_NTH: return match_nth(s, n);
  case K_NOT: return !sb_html_sel_match(s->sub, n);
  case K_HAS: return match_has(s->sub, n);
  case K_CONTAINS: return match_contains(s, n);
  case K_EMPTY:
    for (const xmlNode *c = n->children; c; c = c->next)
      if (c->type == XML_ELEMENT_NODE || ((c->type == XML_TEXT_NODE ||
          c->type == XML_CDATA_SECTION_NODE) && c->content && c->content[0]))
        return 0;
    return 1;
  case K_ROOT: return n->parent && n->parent->type != XML_ELEMENT_NODE;
  case K_CHECKED:
    return (xmlStrcasecmp(n->name, (const xmlChar *)"input") == 0 && sb_html_attr(n, "checked")) ||
           (xmlStrcasecmp(n->name, (const xmlChar *)"option") == 0 && sb_html_attr(n, "selected"));
  case K_DISABLED: return is_form_control(n) && sb_html_attr(n, "disabled") != NULL;
  case K_ENABLED: return is_form_control(n) && sb_html_attr(n, "disabled") == NULL;
  }
  return 0;
}

static int match_compound(const compound *c, const xmlNode *n) {
  if (n->type != XML_ELEMENT_NODE) return 0;
  if (c->tag && xmlStrcasecmp(n->name, (const xmlChar *)c->tag) != 0) return 0;
  for (size_t i = 0; i < c->ns; i++)
    if (!match_simple(&c->s[i], n)) return 0;
  return 1;
}

/* Does compound |i| of |cx| (with everything left of it) match |n|? */
static int match_from(const complex_sel *cx, size_t i, const xmlNode *n) {
  if (!match_compound(&cx->c[i], n)) return 0;
  if (i == 0) return 1;
  switch (cx->c[i].comb) {
  case '>': {
    const xmlNode *p = sb_html_parent_el(n);
    return p && match_from(cx, i - 1, p);
  }
  case '+': {
    const xmlNode *p = sb_html_prev_el(n);
    return p && match_from(cx, i - 1, p);
  }
  case '~':
    for (const xmlNode *p = sb_html_prev_el(n); p; p = sb_html_prev_el(p))
      if (match_from(cx, i - 1, p)) return 1;
    return 0;
  default:
    for (const xmlNode *p = sb_html_parent_el(n); p; p = sb_html_parent_el(p))
      if (match_from(cx, i - 1, p)) return 1;
    return 0;
  }
}

int sb_html_sel_match(const sb_html_sel *s, const sb_html_node *n) {
  if (!sb_html_is_element(n)) return 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i].nc && match_from(&s->v[i], s->v[i].nc - 1, n)) return 1;
  return 0;
}

int sb_html_sel_find(const sb_html_sel *s, const sb_html_node *root, sb_html_nodes *out) {
  for (const xmlNode *c = walk_next(root, root); c; c = walk_next(c, root))
    if (sb_html_sel_match(s, c) && sb_html_nodes_add(out, (xmlNode *)c) != 0) return SB_ENOMEM;
  return 0;
}
