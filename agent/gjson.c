/* gjson paths on raw JSON text (see gjson.h for the syntax covered).
 *
 * The walk keeps a position in the text and a path; each path component moves the position into
 * a member of the object or array there (walk()). A member that does not match is skipped with
 * scan_value(), which checks it as strict JSON on the way: that is the only place the body is
 * validated, so the cost of a lookup is the bytes before the match plus the match itself. The
 * components that make new text ('#' counts and collections, '#(...)#', modifiers) build it into
 * |out| directly, or into a temporary buffer when a '|' applies more path to it. */
#include "agent/gjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

#define MAX_NEST 4096 /* JSON nesting the scanner follows (Duktape decodes ~1000) */
#define MAX_EVAL 64   /* path nesting: queries in queries, '#.' sub-paths, pipes */
#define NOMOD 2       /* modifier(): '@name' is no modifier of ours, read it as a key */

typedef struct span {
  const char *p; /* NULL: none */
  size_t n;
} span;

typedef struct cx {
  const char *doc; /* the caller's text, for @valid at the root */
  int depth;       /* eval() frames in use */
  sb_buf tmp;      /* a decoded key or string, or a number's text: short-lived */
} cx;

/* Members of an object or array, or the values of JSON lines. */
typedef struct iter {
  const char *p, *e; /* the next member (or, after iter_next(), its value) is at |p| */
  char close;        /* '}' or ']', or 0 for JSON lines */
  int started;       /* a member was returned: the next one needs a ',' */
  span key;          /* objects: the member's key as written, without quotes */
  int kesc;          /* |key| holds a backslash escape */
} iter;

enum { C_KEY, C_COUNT, C_QUERY };
enum { OP_NONE, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_LIKE, OP_NLIKE };
enum { T_MISSING, T_NULL, T_FALSE, T_TRUE, T_NUM, T_STR, T_JSON };

/* One path component, and what follows it. */
typedef struct comp {
  int kind;   /* C_* */
  int all;    /* '#(...)#': every match */
  span raw;   /* C_KEY: the key pattern, '\' escapes kept */
  span qpath; /* C_QUERY: the path before the operator, trimmed */
  int op;     /* OP_* */
  span qval;  /* the operand as written, trimmed */
  char sep;   /* '.' or '|' after the component, 0 at the end of the path */
  span rest;  /* the path after |sep| */
} comp;

/* A query ready to test elements. */
typedef struct qarg {
  int op;
  span path;  /* run on each element */
  span want;  /* the operand: a string's decoded text, or a bare word */
  double num; /* the operand as a number (0 when it is none, as Go's ParseFloat leaves it) */
  int tilde;  /* 't' 'f' 'n' '*' for ~true ~false ~null ~*, '?' for another ~word, or 0 */
  sb_buf dec; /* holds |want| when the string had escapes */
  sb_buf res; /* |path|'s built result on the current element */
} qarg;

static int eval(cx *c, const char *j, const char *e, const char *path, size_t pn, sb_buf *out,
                span *res);

/* Scanning ---------------------------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Returns the byte after the string whose quote is at |p|, or NULL when it is not a valid
 * string; sets *esc when it holds a backslash escape. */
static const char *scan_str(const char *p, const char *e, int *esc) {
  for (p++; p < e; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '"') return p + 1;
    if (ch < 0x20) return NULL;
    if (ch != '\\') continue;
    if (esc) *esc = 1;
    if (++p >= e) return NULL;
    if (*p == 'u') {
      if (e - p < 5) return NULL;
      for (int i = 1; i <= 4; i++)
        if (hexval(p[i]) < 0) return NULL;
      p += 4;
    } else if (!memchr("\"\\/bfnrt", *p, 8)) {
      return NULL;
    }
  }
  return NULL;
}

static const char *scan_digits(const char *p, const char *e) {
  const char *s = p;
  while (p < e && *p >= '0' && *p <= '9')
    p++;
  return p > s ? p : NULL;
}

static const char *scan_scalar(const char *p, const char *e) {
  static const char *const lits[] = {"true", "false", "null"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(lits[i]);
    if (*p == lits[i][0]) return (size_t)(e - p) >= n && !memcmp(p, lits[i], n) ? p + n : NULL;
  }
  if (*p == '-') p++;
  if (p < e && *p == '0')
    p++;
  else if (!(p = scan_digits(p, e)))
    return NULL;
  if (p < e && *p == '.' && !(p = scan_digits(p + 1, e))) return NULL;
  if (p < e && (*p == 'e' || *p == 'E')) {
    if (++p < e && (*p == '+' || *p == '-')) p++;
    if (!(p = scan_digits(p, e))) return NULL;
  }
  return p;
}

/* Expects an object key at |p|; returns the start of its value, whitespace skipped. */
static const char *scan_key(const char *p, const char *e) {
  if (p >= e || *p != '"' || !(p = scan_str(p, e, NULL))) return NULL;
  p = skip_ws(p, e);
  return p < e && *p == ':' ? skip_ws(p + 1, e) : NULL;
}

/* Returns the end of the JSON value at |p| (whitespace already skipped), or NULL when it is not
 * one. Iterative, so a hostile body's nesting costs 512 bytes of stack, not a frame per level. */
static const char *scan_value(const char *p, const char *e) {
  uint8_t objs[MAX_NEST / 8];
  int depth = 0;
  for (;;) {
    if (p >= e) return NULL;
    if (*p == '{' || *p == '[') {
      int obj = *p == '{';
      if (depth == MAX_NEST) return NULL;
      if (obj)
        objs[depth / 8] |= (uint8_t)(1u << depth % 8);
      else
        objs[depth / 8] &= (uint8_t) ~(1u << depth % 8);
      depth++;
      p = skip_ws(p + 1, e);
      if (p >= e || *p != (obj ? '}' : ']')) {
        if (obj && !(p = scan_key(p, e))) return NULL;
        continue;
      }
      p++;
      depth--;
    } else if (!(p = *p == '"' ? scan_str(p, e, NULL) : scan_scalar(p, e))) {
      return NULL;
    }
    for (;;) { /* a value ended: close containers up to the next value */
      if (depth == 0) return p;
      int obj = objs[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
      p = skip_ws(p, e);
      if (p >= e) return NULL;
      if (*p == ',') {
        p = skip_ws(p + 1, e);
        if (obj && !(p = scan_key(p, e))) return NULL;
        break;
      }
      if (*p != (obj ? '}' : ']')) return NULL;
      p++;
      depth--;
    }
  }
}

int sb_gjson_valid(const char *json, size_t len) {
  if (!json) return 0;
  const char *e = json + len, *q = scan_value(skip_ws(json, e), e);
  return q && skip_ws(q, e) == e;
}

static void iter_open(iter *it, const char *p, const char *e, int lines) {
  memset(it, 0, sizeof(*it));
  it->e = e;
  it->p = lines ? p : p + 1;
  it->close = lines ? 0 : *p == '{' ? '}' : ']';
}

/* Moves to the next member: returns 1 with |it->p| at its value (and |it->key| set in an
 * object), 0 past the end, or SB_EFORMAT. The caller consumes the value, with iter_skip() or by
 * walking into it, before the next call. */
static int iter_next(iter *it) {
  const char *p = skip_ws(it->p, it->e), *e = it->e, *q;
  if (!it->close) return (it->p = p) < e;
  if (p >= e) return SB_EFORMAT;
  if (*p == it->close) {
    it->p = p + 1;
    return 0;
  }
  if (it->started) {
    if (*p != ',') return SB_EFORMAT;
    p = skip_ws(p + 1, e);
  }
  it->started = 1;
  if (it->close == '}') {
    int esc = 0;
    if (p >= e || *p != '"' || !(q = scan_str(p, e, &esc))) return SB_EFORMAT;
    it->key = (span){p + 1, (size_t)(q - p - 2)};
    it->kesc = esc;
    q = skip_ws(q, e);
    if (q >= e || *q != ':') return SB_EFORMAT;
    p = skip_ws(q + 1, e);
  }
  it->p = p;
  return 1;
}

static int iter_skip(iter *it, span *v) {
  const char *q = scan_value(it->p, it->e);
  if (!q) return SB_EFORMAT;
  if (v) *v = (span){it->p, (size_t)(q - it->p)};
  it->p = q;
  return 0;
}

/* Strings and matching ---------------------------------------------------------------------- */

static char *put_utf8(char *w, uint32_t cp) {
  int n = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3; /* continuation bytes */
  *w++ = (char)(n ? (0xFFu << (7 - n) & 0xFF) | cp >> 6 * n : cp);
  while (n-- > 0)
    *w++ = (char)(0x80 | (cp >> 6 * n & 0x3F));
  return w;
}

static uint32_t hex4(const char *s) {
  return (uint32_t)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

/* Appends the string content |s|/|n| (checked by scan_str) to |b| with its escapes decoded; a
 * lone surrogate becomes U+FFFD, as in Go. Decoding never lengthens the text. */
static int decode_str(const char *s, size_t n, sb_buf *b) {
  if (sb_buf_reserve(b, n) != 0) return SB_ENOMEM;
  char *w = b->data + b->len;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\') {
      *w++ = s[i];
      continue;
    }
    char ch = s[++i];
    const char *at = strchr("b\bf\fn\nr\rt\t", ch);
    if (ch != 'u') {
      *w++ = at && ch ? at[1] : ch; /* '"', '\\' and '/' stand for themselves */
      continue;
    }
    uint32_t cp = hex4(s + i + 1), lo;
    i += 4;
    if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u' &&
        (lo = hex4(s + i + 3)) >= 0xDC00 && lo < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      i += 6;
    }
    w = put_utf8(w, cp >= 0xD800 && cp < 0xE000 ? 0xFFFD : cp);
  }
  b->len = (size_t)(w - b->data);
  b->data[b->len] = '\0';
  return 0;
}

/* The text of a string value |v| (quotes included), decoded into |c->tmp| if it must be. */
static int str_text(cx *c, span v, span *s) {
  *s = (span){v.p + 1, v.n - 2};
  if (!memchr(s->p, '\\', s->n)) return 0;
  sb_buf_reset(&c->tmp);
  if (decode_str(s->p, s->n, &c->tmp) != 0) return SB_ENOMEM;
  *s = (span){c->tmp.data, c->tmp.len};
  return 0;
}

static size_t rune_len(const char *s, size_t n) {
  unsigned char ch = (unsigned char)*s;
  size_t l = ch < 0xC0 ? 1 : ch < 0xE0 ? 2 : ch < 0xF0 ? 3 : 4;
  return l < n ? l : n;
}

/* Matches |s| against the pattern |p|: '*' any run, '?' one character, '\x' a literal x. One
 * backtrack point, so the cost is at most |p| times |s|. */
static int glob(const char *p, size_t pn, const char *s, size_t sn) {
  size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
  while (si < sn) {
    if (pi < pn && p[pi] == '*') {
      star = ++pi;
      mark = si;
      continue;
    }
    if (pi < pn && p[pi] == '?') {
      pi++;
      si += rune_len(s + si, sn - si);
      continue;
    }
    size_t pl = pi + 1 < pn && p[pi] == '\\' ? 2 : 1;
    if (pi < pn && p[pi + pl - 1] == s[si]) {
      pi += pl;
      si++;
      continue;
    }
    if (star == SIZE_MAX) return 0;
    pi = star;
    mark += rune_len(s + mark, sn - mark);
    si = mark;
  }
  while (pi < pn && p[pi] == '*')
    pi++;
  return pi == pn;
}

static int key_matches(cx *c, span pat, const iter *it) {
  span k = it->key;
  if (it->kesc) {
    sb_buf_reset(&c->tmp);
    if (decode_str(k.p, k.n, &c->tmp) != 0) return SB_ENOMEM;
    k = (span){c->tmp.data, c->tmp.len};
  }
  return glob(pat.p, pat.n, k.p, k.n);
}

/* Path parsing ------------------------------------------------------------------------------ */

static span trim(const char *p, const char *e) {
  while (p < e && (unsigned char)*p <= ' ')
    p++;
  while (e > p && (unsigned char)e[-1] <= ' ')
    e--;
  return (span){p, (size_t)(e - p)};
}

/* Finds the end of the query '#(' at |p|: *close is the index of its ')', *opat that of its
 * operator at the top level (0: none). Strings and '\' escapes inside are stepped over. */
static int query_scan(const char *p, size_t n, size_t *close, size_t *opat) {
  int depth = 1;
  size_t i = 2;
  *opat = 0;
  for (; i < n; i++) {
    char ch = p[i];
    if (ch == '\\') {
      i++;
    } else if (ch == '"') {
      for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\') i++;
      if (i >= n) return SB_EINVAL;
    } else if (depth == 1 && !*opat && memchr("!=<>%", ch, 5)) {
      *opat = i;
    } else if (ch == '(' || ch == '[') {
      depth++;
    } else if ((ch == ')' || ch == ']') && --depth == 0) {
      *close = i;
      return 0;
    }
  }
  return SB_EINVAL;
}

static int parse_query(const char *p, size_t n, comp *k, size_t *end) {
  static const struct {
    const char *s;
    int op;
  } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"!%", OP_NLIKE},
             {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT},  {"%", OP_LIKE}};
  size_t close, opat;
  if (query_scan(p, n, &close, &opat) != 0) return SB_EINVAL;
  k->kind = C_QUERY;
  k->qpath = trim(p + 2, p + (opat ? opat : close));
  *end = close + 1;
  if (!opat) return 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
    size_t l = strlen(ops[i].s);
    if (opat + l <= close && !memcmp(p + opat, ops[i].s, l)) {
      k->op = ops[i].op;
      k->qval = trim(p + opat + l, p + close);
      return 0;
    }
  }
  return SB_EINVAL; /* a lone '!' */
}

static int parse_comp(const char *p, size_t n, comp *k) {
  size_t i = 0;
  memset(k, 0, sizeof(*k));
  if (n && (p[0] == '{' || p[0] == '[')) return SB_EINVAL; /* a multipath */
  if (n >= 2 && p[0] == '#' && (p[1] == '(' || p[1] == '[')) {
    if (parse_query(p, n, k, &i) != 0) return SB_EINVAL;
    if (i < n && p[i] == '#') k->all = 1, i++;
    if (i < n && p[i] != '.' && p[i] != '|') return SB_EINVAL;
  } else {
    for (; i < n && p[i] != '.' && p[i] != '|'; i++)
      if (p[i] == '\\' && ++i == n) return SB_EINVAL;
    k->raw = (span){p, i};
    k->kind = i == 1 && p[0] == '#' ? C_COUNT : C_KEY;
  }
  if (i < n) {
    k->sep = p[i];
    k->rest = (span){p + i + 1, n - i - 1};
  }
  return 0;
}

/* The index of the first '|' of |p| outside escapes and queries, or |n|. */
static size_t split_pipe(const char *p, size_t n) {
  size_t close, opat;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\\')
      i++;
    else if (p[i] == '|')
      return i;
    else if (p[i] == '#' && i + 1 < n && (p[i + 1] == '(' || p[i + 1] == '[') &&
             query_scan(p + i, n - i, &close, &opat) == 0)
      i += close;
  }
  return n;
}

/* Queries ----------------------------------------------------------------------------------- */

static int vtype(span v) {
  static const char lead[] = "\"{[tfn";
  static const int type[] = {T_STR, T_JSON, T_JSON, T_TRUE, T_FALSE, T_NULL};
  const char *at = v.p ? memchr(lead, v.p[0], 6) : NULL;
  return !v.p ? T_MISSING : at ? type[at - lead] : T_NUM;
}

/* |s| as a number, as Go's ParseFloat would read it: 0 when it is none. */
static int to_num(cx *c, span s, double *d) {
  char buf[64], *z = buf, *end;
  if (s.n < sizeof(buf)) {
    if (s.n) memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
  } else {
    sb_buf_reset(&c->tmp);
    if (sb_buf_append(&c->tmp, s.p, s.n) != 0) return SB_ENOMEM;
    z = c->tmp.data;
  }
  *d = strtod(z, &end);
  if (s.n == 0 || *end) *d = 0;
  return 0;
}

static int qarg_init(cx *c, qarg *q, const comp *k) {
  span v = k->qval;
  memset(q, 0, sizeof(*q));
  q->op = k->op;
  q->path = k->qpath;
  q->want = v;
  if (v.n && v.p[0] == '"') {
    int esc = 0;
    if (scan_str(v.p, v.p + v.n, &esc) != v.p + v.n) return SB_EINVAL;
    q->want = (span){v.p + 1, v.n - 2};
    if (esc && decode_str(v.p + 1, v.n - 2, &q->dec) != 0) return SB_ENOMEM;
    if (esc) q->want = (span){q->dec.data, q->dec.len};
  } else if (v.n && v.p[0] == '~') {
    static const char *const words[] = {"true", "false", "null", "*"};
    q->tilde = '?';
    for (size_t i = 0; i < 4; i++)
      if (v.n - 1 == strlen(words[i]) && !memcmp(v.p + 1, words[i], v.n - 1))
        q->tilde = words[i][0];
    q->want = (span){"true", 4};
  }
  return to_num(c, q->want, &q->num);
}

static void qarg_free(qarg *q) {
  sb_buf_clear(&q->dec);
  sb_buf_clear(&q->res);
}

static int compare(int op, double a, double b) {
  switch (op) {
  case OP_EQ: return a == b;
  case OP_NE: return a != b;
  case OP_LT: return a < b;
  case OP_LE: return a <= b;
  case OP_GT: return a > b;
  case OP_GE: return a >= b;
  default: return 0;
  }
}

static int word_is(span s, const char *w) {
  return s.n == strlen(w) && !memcmp(s.p, w, s.n);
}

/* gjson's trueish/falseish for '~': strings as Go's ParseBool reads them. */
static int bool_ish(cx *c, span v, int t, int want_true, int *ish) {
  span s;
  double d;
  int r = 0;
  *ish = t == (want_true ? T_TRUE : T_FALSE) || (!want_true && (t == T_NULL || t == T_MISSING));
  if (t == T_NUM && (r = to_num(c, v, &d)) == 0) *ish = want_true ? d != 0 : d == 0;
  if (t == T_STR && (r = str_text(c, v, &s)) == 0) {
    const char *const *w = want_true ? (const char *const[]){"1", "t", "true", NULL}
                                     : (const char *const[]){"0", "f", "false", NULL};
    for (; *w; w++)
      if (s.n == strlen(*w) && !strncasecmp(s.p, *w, s.n)) *ish = 1;
  }
  return r;
}

/* Whether the value |v| (p NULL: missing) passes the query. */
static int qmatch(cx *c, const qarg *q, span v) {
  int t = vtype(v), r, ish = t != T_MISSING;
  span s;
  double d;
  if (q->tilde == '?') return 0;
  if (q->tilde == 't' || q->tilde == 'f') {
    if ((r = bool_ish(c, v, t, q->tilde == 't', &ish)) != 0) return r;
  } else if (q->tilde == 'n') {
    ish = t == T_NULL;
  }
  if (q->tilde) t = ish ? T_TRUE : T_FALSE;
  if (t == T_MISSING) return 0;
  if (q->op == OP_NONE) return 1;
  switch (t) {
  case T_STR:
    if ((r = str_text(c, v, &s)) != 0) return r;
    if (q->op == OP_LIKE || q->op == OP_NLIKE)
      return glob(q->want.p, q->want.n, s.p, s.n) == (q->op == OP_LIKE);
    r = memcmp(s.p, q->want.p, s.n < q->want.n ? s.n : q->want.n);
    return compare(q->op, r ? r : (s.n > q->want.n) - (s.n < q->want.n), 0);
  case T_NUM:
    if ((r = to_num(c, v, &d)) != 0) return r;
    return compare(q->op, d, q->num);
  case T_TRUE:
    return q->op == OP_EQ   ? word_is(q->want, "true")
           : q->op == OP_NE ? !word_is(q->want, "true")
           : q->op == OP_GT ? word_is(q->want, "false")
                            : q->op == OP_GE;
  case T_FALSE:
    return q->op == OP_EQ   ? word_is(q->want, "false")
           : q->op == OP_NE ? !word_is(q->want, "false")
           : q->op == OP_LT ? word_is(q->want, "true")
                            : q->op == OP_LE;
  default: return 0;
  }
}

/* Runs the query on the element |el|: its path on an object or array, the element itself for a
 * query without a path. */
static int qmatch_elem(cx *c, qarg *q, span el) {
  int container = el.p[0] == '{' || el.p[0] == '[', r = 1;
  span v = container ? (span){0} : el;
  if (q->path.n && !container) return 0;
  if (q->path.n) {
    sb_buf_reset(&q->res);
    if ((r = eval(c, el.p, el.p + el.n, q->path.p, q->path.n, &q->res, &v)) < 0) return r;
    if (r == 1 && !v.p) v = (span){q->res.data, q->res.len};
  }
  return qmatch(c, q, r == 1 ? v : (span){0});
}

/* Components -------------------------------------------------------------------------------- */

static int find_key(cx *c, iter *it, span pat) {
  int r;
  while ((r = iter_next(it)) == 1) {
    if ((r = key_matches(c, pat, it)) != 0) return r;
    if ((r = iter_skip(it, NULL)) != 0) return r;
  }
  return r;
}

static int find_index(iter *it, span raw) {
  size_t idx = 0;
  int r;
  if (raw.n == 0 || raw.n > 18) return 0;
  for (size_t i = 0; i < raw.n; i++) {
    if (raw.p[i] < '0' || raw.p[i] > '9') return 0;
    idx = idx * 10 + (size_t)(raw.p[i] - '0');
  }
  while ((r = iter_next(it)) == 1 && idx--)
    if ((r = iter_skip(it, NULL)) != 0) return r;
  return r;
}

/* '#(...)': leaves |it->p| at the first element that passes. */
static int find_match(cx *c, iter *it, const comp *k) {
  qarg q;
  span el;
  int r = qarg_init(c, &q, k);
  while (r == 0 && (r = iter_next(it)) == 1) {
    if ((r = iter_skip(it, &el)) == 0 && (r = qmatch_elem(c, &q, el)) == 1) it->p = el.p;
  }
  qarg_free(&q);
  return r;
}

/* Appends '[' each element (that passes |k|'s query, if any; with |sub| evaluated on it, if
 * given, and skipped where that finds nothing) ']' to |dst|. */
static int collect(cx *c, iter *it, const comp *k, const span *sub, sb_buf *dst) {
  qarg q;
  span el, s;
  size_t n = 0, mark;
  int r = k ? qarg_init(c, &q, k) : 0;
  if (r == 0 && sb_buf_append(dst, "[", 1) != 0) r = SB_ENOMEM;
  while (r == 0 && (r = iter_next(it)) == 1) {
    if ((r = iter_skip(it, &el)) != 0) break;
    if (k && (r = qmatch_elem(c, &q, el)) != 1) continue;
    mark = dst->len;
    s = el;
    r = 1;
    if (n && sb_buf_append(dst, ",", 1) != 0)
      r = SB_ENOMEM;
    else if (sub)
      r = eval(c, el.p, el.p + el.n, sub->p, sub->n, dst, &s);
    if (r < 0) break;
    if (r == 0) {
      dst->len = mark;
      dst->data[mark] = '\0';
    } else if (s.p && sb_buf_append(dst, s.p, s.n) != 0) {
      r = SB_ENOMEM;
    } else {
      n++;
      r = 0;
    }
  }
  if (r == 0 && sb_buf_append(dst, "]", 1) != 0) r = SB_ENOMEM;
  if (k) qarg_free(&q);
  return r;
}

static int count(iter *it, sb_buf *dst) {
  size_t n = 0;
  int r;
  while ((r = iter_next(it)) == 1 && (r = iter_skip(it, NULL)) == 0)
    n++;
  return r < 0 ? r : sb_buf_printf(dst, "%zu", n);
}

/* A component built its result into |tmp| when |rest| follows (then runs |rest| on it), else
 * into |out|. |r| is the builder's code. */
static int built(cx *c, int r, sb_buf *tmp, span rest, sb_buf *out, span *res) {
  res->p = NULL;
  if (r >= 0 && rest.p) {
    r = eval(c, tmp->data, tmp->data + tmp->len, rest.p, rest.n, out, res);
    if (r == 1 && res->p && sb_buf_append(out, res->p, res->n) != 0) r = SB_ENOMEM;
    res->p = NULL;
  }
  sb_buf_clear(tmp);
  return r < 0 || rest.p ? r : 1;
}

/* The components that build an array or a number: '#', '#.sub', '#(...)#', '#(...)#.sub'. A
 * '.sub' runs on each element up to the first '|'; what follows a '|' runs on the result. */
static int build(cx *c, iter *it, const comp *k, sb_buf *out, span *res) {
  span sub = {0}, rest = k->rest;
  sb_buf tmp;
  int r;
  if (k->sep == '.') {
    size_t at = split_pipe(rest.p, rest.n);
    sub = (span){rest.p, at};
    rest = at < rest.n ? (span){rest.p + at + 1, rest.n - at - 1} : (span){0};
  } else if (k->sep == 0) {
    rest = (span){0};
  }
  sb_buf_init(&tmp);
  sb_buf *dst = rest.p ? &tmp : out;
  if (k->kind == C_COUNT && !sub.p)
    r = count(it, dst);
  else
    r = collect(c, it, k->kind == C_QUERY ? k : NULL, sub.p ? &sub : NULL, dst);
  return built(c, r, &tmp, rest, out, res);
}

/* Modifiers --------------------------------------------------------------------------------- */

enum { M_THIS, M_VALID, M_REVERSE, M_UGLY, M_KEYS, M_VALUES, M_FLATTEN };

static int put(sb_buf *b, const char *p, size_t n) {
  return sb_buf_append(b, p, n) ? SB_ENOMEM : 0;
}

/* Appends '[' or '{', the members of |v| in reverse, then the closer. */
static int mod_reverse(span v, sb_buf *dst) {
  sb_buf list; /* span pairs: key, value */
  iter it;
  span kv[2];
  int r;
  if (v.p[0] != '{' && v.p[0] != '[') return put(dst, v.p, v.n);
  sb_buf_init(&list);
  iter_open(&it, v.p, v.p + v.n, 0);
  while ((r = iter_next(&it)) == 1 && (r = iter_skip(&it, &kv[1])) == 0) {
    kv[0] = it.key;
    if (put(&list, (const char *)kv, sizeof(kv)) != 0) r = SB_ENOMEM;
    if (r) break;
  }
  size_t n = list.len / sizeof(kv);
  r = r ? r : put(dst, v.p, 1);
  for (size_t i = n; r == 0 && i-- > 0;) {
    memcpy(kv, list.data + i * sizeof(kv), sizeof(kv));
    if (i + 1 < n) r = put(dst, ",", 1);
    if (r == 0 && v.p[0] == '{') r = put(dst, kv[0].p - 1, kv[0].n + 2);
    if (r == 0 && v.p[0] == '{') r = put(dst, ":", 1);
    if (r == 0) r = put(dst, kv[1].p, kv[1].n);
  }
  sb_buf_clear(&list);
  return r ? r : put(dst, v.p[0] == '{' ? "}" : "]", 1);
}

static int mod_ugly(span v, sb_buf *dst) {
  const char *p = v.p, *e = v.p + v.n, *q;
  int r = 0;
  for (; r == 0 && p < e; p = q) { /* strings whole, other bytes one by one, spaces dropped */
    q = *p == '"' ? scan_str(p, e, NULL) : p + 1;
    if ((unsigned char)*p > ' ') r = put(dst, p, (size_t)(q - p));
  }
  return r;
}

/* @keys, @values, @flatten: an array built from the members of |v|. */
static int mod_members(int m, span v, sb_buf *dst) {
  int obj = v.p[0] == '{', arr = v.p[0] == '[', r;
  iter it, in;
  span el, x;
  size_t n = 0;
  if ((m == M_FLATTEN && !arr) || (m == M_VALUES && arr)) return put(dst, v.p, v.n);
  if ((r = put(dst, "[", 1)) != 0) return r;
  if (!obj && !arr)
    r = m == M_KEYS ? put(dst, "null", 4) : put(dst, v.p, v.n);
  else
    iter_open(&it, v.p, v.p + v.n, 0);
  while (r == 0 && (obj || arr) && (r = iter_next(&it)) == 1 && (r = iter_skip(&it, &el)) == 0) {
    if (m == M_FLATTEN && el.p[0] == '[') { /* one level: the inner array's elements */
      iter_open(&in, el.p, el.p + el.n, 0);
      while (r == 0 && (r = iter_next(&in)) == 1 && (r = iter_skip(&in, &x)) == 0)
        if ((r = n++ ? put(dst, ",", 1) : 0) == 0) r = put(dst, x.p, x.n);
      continue;
    }
    if ((r = n++ ? put(dst, ",", 1) : 0) != 0) break;
    if (m == M_KEYS && obj)
      r = put(dst, it.key.p - 1, it.key.n + 2); /* with its quotes */
    else
      r = m == M_KEYS ? put(dst, "null", 4) : put(dst, el.p, el.n);
  }
  return r ? r : put(dst, "]", 1);
}

/* Applies the modifier '@name[:arg]' at the start of |path| to the value at |j|, then the rest of
 * the path to its result. Returns NOMOD when the name is none of ours. */
static int modifier(cx *c, const char *j, const char *e, const char *path, size_t pn, sb_buf *out,
                    span *res) {
  static const char *const names[] = {"this", "valid",  "reverse", "ugly",
                                      "keys", "values", "flatten"};
  size_t i = 1, m = 0;
  while (i < pn && path[i] != '.' && path[i] != '|' && path[i] != ':')
    i++;
  while (m < sizeof(names) / sizeof(*names) && !word_is((span){path + 1, i - 1}, names[m]))
    m++;
  if (m == sizeof(names) / sizeof(*names)) return NOMOD;
  if (i < pn && path[i] == ':') { /* an argument: none of ours uses one */
    const char *q = path + ++i;
    if (i < pn && (*q == '{' || *q == '[' || *q == '"')) {
      if (!(q = scan_value(q, path + pn))) return SB_EINVAL;
      i = (size_t)(q - path);
    } else {
      while (i < pn && path[i] != '|')
        i++;
    }
  }
  if (i < pn && path[i] != '.' && path[i] != '|') return SB_EINVAL;
  span rest = i < pn ? (span){path + i + 1, pn - i - 1} : (span){0};
  const char *v = skip_ws(j, e), *ve = v < e ? scan_value(v, e) : NULL;
  if (!ve || (m == M_VALID && j == c->doc && skip_ws(ve, e) != e))
    return m == M_VALID ? 0 : SB_EFORMAT;
  span val = {v, (size_t)(ve - v)};
  if (m == M_THIS || m == M_VALID) {
    *res = val;
    return rest.p ? eval(c, v, ve, rest.p, rest.n, out, res) : 1;
  }
  sb_buf tmp;
  sb_buf_init(&tmp);
  sb_buf *dst = rest.p ? &tmp : out;
  int r = m == M_REVERSE ? mod_reverse(val, dst)
          : m == M_UGLY  ? mod_ugly(val, dst)
                         : mod_members((int)m, val, dst);
  return built(c, r, &tmp, rest, out, res);
}

/* Walks |path| from the value at the start of [j, e): each plain component moves into a member,
 * in a loop; the components that build text hand over to build(). */
static int walk(cx *c, const char *j, const char *e, const char *path, size_t pn, sb_buf *out,
                span *res) {
  int lines = pn >= 2 && path[0] == '.' && path[1] == '.', r;
  comp k;
  iter it;
  if (lines) path += 2, pn -= 2;
  for (;;) {
    if (!lines && pn > 1 && path[0] == '@' && (r = modifier(c, j, e, path, pn, out, res)) != NOMOD)
      return r;
    if ((r = parse_comp(path, pn, &k)) != 0) return r;
    const char *v = skip_ws(j, e);
    if (!lines && v >= e) return SB_EFORMAT;
    if (!lines && *v != '{' && *v != '[') return scan_value(v, e) ? 0 : SB_EFORMAT;
    iter_open(&it, v, e, lines);
    lines = 0;
    if (it.close == '}')
      r = k.kind == C_QUERY ? 0 : find_key(c, &it, k.raw);
    else if (k.kind == C_KEY)
      r = find_index(&it, k.raw);
    else if (k.kind == C_QUERY && !k.all)
      r = find_match(c, &it, &k);
    else
      return build(c, &it, &k, out, res);
    if (r != 1) return r;
    if (!k.sep) return iter_skip(&it, res) ? SB_EFORMAT : 1;
    j = it.p;
    path = k.rest.p;
    pn = k.rest.n;
  }
}

/* Evaluates |path| on the value at the start of [j, e). Returns 1 with |*res| a slice of the
 * text, or with |res->p| NULL and the result appended to |out|; 0; or a negative SB_E*. */
static int eval(cx *c, const char *j, const char *e, const char *path, size_t pn, sb_buf *out,
                span *res) {
  if (c->depth >= MAX_EVAL) return SB_EINVAL;
  c->depth++;
  int r = walk(c, j, e, path, pn, out, res);
  c->depth--;
  return r;
}

int sb_gjson_get(const char *json, size_t len, const char *path, sb_buf *out) {
  if ((!json && len) || !path || !out) return SB_EINVAL;
  cx c = {.doc = json ? json : ""};
  span s = {0};
  size_t mark = out->len;
  sb_buf_init(&c.tmp);
  int r = eval(&c, c.doc, c.doc + len, path, strlen(path), out, &s);
  if (r == 1 && s.p && sb_buf_append(out, s.p, s.n) != 0) r = SB_ENOMEM;
  if (r != 1 && out->data) {
    out->len = mark;
    out->data[mark] = '\0';
  }
  sb_buf_clear(&c.tmp);
  return r;
}
