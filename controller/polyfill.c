/* Selective polyfills (controller/polyfill.h).
 *
 * The table below names each section of controller/polyfills.js (same order) and the tokens of
 * ES5 code that call for it: "Name" is an identifier not preceded by '.', ".name" a property
 * access. Dependencies are read from the sections' own "//@name dep ..." headers, so the JS file
 * is the one place that says what needs what. The scan walks identifiers once and compares each
 * with the few dozen triggers: linear in the code, a few ms for a large bundle, once per
 * compile. */
#include "controller/polyfill.h"

#include <stdio.h>
#include <string.h>

extern const char sb_polyfills_js[], sb_polyfills_js_end[];

static const struct {
  const char *name;
  const char *triggers; /* space-separated; NULL: only as a dependency */
} POLY[] = {
    {"base", NULL},
    {"iter", ".iterator .entries .values .keys"},
    {"coll", NULL},
    {"map", "Map"},
    {"set", "Set"},
    {"weak", NULL},
    {"weakmap", "WeakMap"},
    {"weakset", "WeakSet"},
    {"array_from", ".from"},
    {"array_of", ".of"},
    {"array_find", ".find .findIndex .findLast .findLastIndex"},
    {"array_includes", ".includes"},
    {"array_flat", ".flat .flatMap"},
    {"array_misc", ".fill .at"},
    {"object_entries", ".entries .values"},
    {"object_from_entries", ".fromEntries"},
    {"object_descriptors", ".getOwnPropertyDescriptors"},
    {"string_pad", ".padStart .padEnd"},
    {"string_trim", ".trimStart .trimEnd .trimLeft .trimRight"},
    {"string_raw", ".raw"},
    {"promise", "Promise .asyncRequest"},
    {"regenerator", "regeneratorRuntime"}, /* npm's regenerator-runtime, appended at build */
};
#define NPOLY ((int)(sizeof(POLY) / sizeof(POLY[0])))

int sb_polyfill_count(void) { return NPOLY; }

const char *sb_polyfill_name(int i) { return i >= 0 && i < NPOLY ? POLY[i].name : NULL; }

static sb_polyfill_mask bit_of(const char *name, size_t n) {
  for (int i = 0; i < NPOLY; i++)
    if (strlen(POLY[i].name) == n && memcmp(POLY[i].name, name, n) == 0) return 1u << i;
  return 0;
}

sb_polyfill_mask sb_polyfill_bit(const char *name) { return bit_of(name, strlen(name)); }

static int ident_char(char c) {
  return c == '_' || c == '$' || (unsigned)((c | 32) - 'a') < 26u || (unsigned)(c - '0') < 10u;
}

/* Does the identifier |id| (|n| bytes, |member|: after a '.') match one of |triggers|? */
static int triggered(const char *triggers, const char *id, size_t n, int member) {
  for (const char *t = triggers; t && *t;) {
    const char *sp = strchr(t, ' ');
    size_t tl = sp ? (size_t)(sp - t) : strlen(t);
    int tm = *t == '.';
    if (tm == member && tl - (size_t)tm == n && memcmp(t + tm, id, n) == 0) return 1;
    t = sp ? sp + 1 : t + tl;
  }
  return 0;
}

void sb_polyfill_scan(const char *code, size_t len, sb_polyfill_mask *mask) {
  const char *p = code, *end = code + len;
  while (p < end) {
    if (!ident_char(*p) || (unsigned)(*p - '0') < 10u) {
      p++;
      continue;
    }
    const char *id = p;
    while (p < end && ident_char(*p)) p++;
    const char *b = id;
    while (b > code && (b[-1] == ' ' || b[-1] == '\n' || b[-1] == '\t')) b--;
    int member = b > code && b[-1] == '.';
    for (int i = 0; i < NPOLY; i++)
      if (!(*mask & (1u << i)) && triggered(POLY[i].triggers, id, (size_t)(p - id), member))
        *mask |= 1u << i;
  }
}

/* The sections of the blob, in order: calls |fn| with each header's name and dependencies and
 * the section's text. */
typedef struct section {
  const char *name, *deps, *text;
  size_t nlen, dlen, tlen;
} section;

static int next_section(const char **cur, section *s) {
  const char *end = sb_polyfills_js_end, *p = *cur;
  const char *h = p;
  for (;;) {
    if (!h || h >= end) return 0;
    if (strncmp(h, "//@", 3) == 0) break;
    h = memchr(h, '\n', (size_t)(end - h));
    if (h) h++;
  }
  const char *eol = memchr(h, '\n', (size_t)(end - h));
  if (!eol) eol = end;
  s->name = h + 3;
  s->nlen = strcspn(s->name, " \n");
  s->deps = s->name + s->nlen;
  s->dlen = (size_t)(eol - s->deps);
  s->text = eol < end ? eol + 1 : end;
  const char *nx = s->text;
  while (nx < end && strncmp(nx, "//@", 3) != 0) {
    nx = memchr(nx, '\n', (size_t)(end - nx));
    nx = nx ? nx + 1 : end;
  }
  s->tlen = (size_t)(nx - s->text);
  *cur = nx;
  return 1;
}

/* |mask| plus everything it depends on (sections only depend on earlier ones). */
static sb_polyfill_mask close_deps(sb_polyfill_mask mask) {
  for (int round = 0; round < NPOLY; round++) {
    sb_polyfill_mask before = mask;
    const char *cur = sb_polyfills_js;
    section s;
    while (next_section(&cur, &s)) {
      if (!(mask & bit_of(s.name, s.nlen))) continue;
      for (const char *d = s.deps, *e = s.deps + s.dlen; d < e;) {
        while (d < e && *d == ' ') d++;
        size_t n = 0;
        while (d + n < e && d[n] != ' ') n++;
        if (n) mask |= bit_of(d, n);
        d += n;
      }
    }
    if (mask == before) break;
  }
  return mask;
}

int sb_polyfill_build(sb_polyfill_mask mask, sb_buf *out) {
  if (!mask) return 0;
  mask = close_deps(mask);
  const char *cur = sb_polyfills_js;
  section s;
  int rc = sb_buf_puts(out, "(function (g) {\nvar hooks = {};\n");
  while (!rc && next_section(&cur, &s))
    if (mask & bit_of(s.name, s.nlen)) rc = sb_buf_append(out, s.text, s.tlen);
  if (!rc) rc = sb_buf_puts(out, "return hooks;\n})(this);\n");
  return rc;
}

void sb_polyfill_names(sb_polyfill_mask mask, char *out, size_t cap) {
  size_t n = 0;
  if (cap) out[0] = '\0';
  mask = mask ? close_deps(mask) : 0;
  for (int i = 0; i < NPOLY && n < cap; i++) {
    if (!(mask & (1u << i))) continue;
    int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", POLY[i].name);
    if (w < 0) break;
    n += (size_t)w;
  }
}
