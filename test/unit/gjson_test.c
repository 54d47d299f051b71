/* gjson paths on raw JSON text: every supported form on a document shaped like gjson's README
 * example, not-found cases, malformed JSON and paths, JSON lines, a 1 MB body, and a failing
 * allocator. The module's .c is included to reach eval() (is a plain result a slice?), with
 * common/buf.c behind the failing allocator since every allocation goes through sb_buf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agent/gjson.c"
#include "common/buf.c"
#include "test/unit/failalloc.h"
#include "test/unit/failalloc_off.h"

static const char DOC[] =
    "{\n"
    "  \"user\": {\"given\": \"Ada\", \"family\": \"Lovelace\"},\n"
    "  \"age\": 36,\n"
    "  \"pets\": [\"Rex\", \"Tom\", \"Kit\"],\n"
    "  \"best.book\": \"Dune\",\n"
    "  \"pals\": [\n"
    "    {\"given\": \"Bob\", \"family\": \"Stone\", \"age\": 52, \"apps\": [\"gh\", \"mx\", "
    "\"tg\"]},\n"
    "    {\"given\": \"Cy\", \"family\": \"Reed\", \"age\": 29, \"apps\": [\"mx\", \"tg\"]},\n"
    "    {\"given\": \"Dee\", \"family\": \"Stone\", \"age\": 61, \"apps\": [\"gh\", \"tg\"]}\n"
    "  ],\n"
    "  \"esc\": \"q\\\"b\\\\s\\/\\u00e9\\ud83d\\ude00\\n\",\n"
    "  \"caf\\u00e9\": \"latte\",\n"
    "  \"k\\\"q\": \"quoted\",\n"
    "  \"ключ\": \"значение\",\n"
    "  \"a*b\": 7,\n"
    "  \"nums\": [0, -1.5, 2e3, 1E-2, 10],\n"
    "  \"flags\": [true, false, null, \"true\", \"0\", 1, 0],\n"
    "  \"grid\": [[1, 2], [3, [4, 5]], []],\n"
    "  \"words\": [\"x\\\"y\", \"\\u00e9\", \"naïve\"],\n"
    "  \"empty\": {},\n"
    "  \"none\": []\n"
    "}\n";

#define BOB                                                                                        \
  "{\"given\": \"Bob\", \"family\": \"Stone\", \"age\": 52, \"apps\": [\"gh\", \"mx\", \"tg\"]}"
#define CY "{\"given\": \"Cy\", \"family\": \"Reed\", \"age\": 29, \"apps\": [\"mx\", \"tg\"]}"
#define DEE "{\"given\": \"Dee\", \"family\": \"Stone\", \"age\": 61, \"apps\": [\"gh\", \"tg\"]}"

typedef struct tcase {
  const char *path;
  int rc;
  const char *want; /* the result's text when rc is 1 */
} tcase;

static void check_table(const char *doc, const tcase *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sb_buf out;
    sb_buf_init(&out);
    int rc = sb_gjson_get(doc, strlen(doc), t[i].path, &out);
    if (rc != t[i].rc || (rc == 1 && strcmp(out.data, t[i].want) != 0) || (rc != 1 && out.len != 0))
      fail_msg("path %s: rc %d (want %d), out '%s' (want '%s')", t[i].path, rc, t[i].rc,
               out.data ? out.data : "", t[i].want ? t[i].want : "");
    sb_buf_clear(&out);
  }
}
#define CHECK(doc, table) check_table(doc, table, sizeof(table) / sizeof(*table))

static void test_basic(void **state) {
  static const tcase t[] = {
      {"user.family", 1, "\"Lovelace\""},
      {"user.given", 1, "\"Ada\""},
      {"age", 1, "36"},
      {"pets", 1, "[\"Rex\", \"Tom\", \"Kit\"]"},
      {"pets.0", 1, "\"Rex\""},
      {"pets.2", 1, "\"Kit\""},
      {"pals.1", 1, CY},
      {"pals.1.given", 1, "\"Cy\""},
      {"pals.2.apps.1", 1, "\"tg\""},
      {"user", 1, "{\"given\": \"Ada\", \"family\": \"Lovelace\"}"},
      {"empty", 1, "{}"},
      {"none", 1, "[]"},
      {"grid.1.1.0", 1, "4"},
      {"grid.1.1", 1, "[4, 5]"},
      {"nums.1", 1, "-1.5"},
      {"nums.3", 1, "1E-2"},
      {"flags.2", 1, "null"},
      {"flags.0", 1, "true"},
      {"esc", 1, "\"q\\\"b\\\\s\\/\\u00e9\\ud83d\\ude00\\n\""},
      {"pals.01.given", 1, "\"Cy\""},
  };
  CHECK(DOC, t);
}

static void test_wildcards_and_escapes(void **state) {
  static const tcase t[] = {
      {"pe*.2", 1, "\"Kit\""},
      {"p?ts.0", 1, "\"Rex\""},
      {"*.given", 1, "\"Ada\""}, /* the first key that matches: "user" */
      {"ag?", 1, "36"},
      {"a\\*b", 1, "7"},
      {"a?b", 1, "7"},
      {"best\\.book", 1, "\"Dune\""},
      {"best\\.b*", 1, "\"Dune\""},
      {"best.book", 0, NULL},
      {"café", 1, "\"latte\""},  /* the key is written "caf\u00e9" */
      {"caf?", 1, "\"latte\""},  /* '?' is one character, two bytes here */
      {"k\"q", 1, "\"quoted\""}, /* the key is written "k\"q" */
      {"ключ", 1, "\"значение\""},
      {"к?юч", 1, "\"значение\""},
      {"*ч", 1, "\"значение\""},
      {"pets.\\0", 0, NULL}, /* an escaped index is no index */
      {"?", 0, NULL},
      {"a\\?b", 0, NULL},
  };
  CHECK(DOC, t);
}

static void test_arrays(void **state) {
  static const tcase t[] = {
      {"pals.#", 1, "3"},
      {"pets.#", 1, "3"},
      {"none.#", 1, "0"},
      {"grid.#", 1, "3"},
      {"pals.#.age", 1, "[52,29,61]"},
      {"pals.#.given", 1, "[\"Bob\",\"Cy\",\"Dee\"]"},
      {"pals.#.apps.0", 1, "[\"gh\",\"mx\",\"gh\"]"},
      {"pals.#.apps.#", 1, "[3,2,2]"},
      {"pals.#.apps", 1, "[[\"gh\", \"mx\", \"tg\"],[\"mx\", \"tg\"],[\"gh\", \"tg\"]]"},
      {"pals.#.nope", 1, "[]"},
      {"pets.#.x", 1, "[]"},
      {"grid.#.#", 1, "[2,2,0]"},
      {"grid.#.1", 1, "[2,[4, 5]]"},
      {"user.#", 0, NULL}, /* '#' is a plain key in an object */
      {"age.#", 0, NULL},
  };
  CHECK(DOC, t);
}

static void test_queries(void **state) {
  static const tcase t[] = {
      {"pals.#(family==\"Stone\").given", 1, "\"Bob\""},
      {"pals.#(family==\"Stone\")#.given", 1, "[\"Bob\",\"Dee\"]"},
      {"pals.#(family=\"Stone\")#.given", 1, "[\"Bob\",\"Dee\"]"},
      {"pals.#( family == \"Stone\" )#.given", 1, "[\"Bob\",\"Dee\"]"},
      {"pals.#(age>45)#.family", 1, "[\"Stone\",\"Stone\"]"},
      {"pals.#(age<30).given", 1, "\"Cy\""},
      {"pals.#(age<=29).given", 1, "\"Cy\""},
      {"pals.#(age>=61).given", 1, "\"Dee\""},
      {"pals.#(age==52).given", 1, "\"Bob\""},
      {"pals.#(age=29).given", 1, "\"Cy\""},
      {"pals.#(age!=52)#.given", 1, "[\"Cy\",\"Dee\"]"},
      {"pals.#(age==\"52\").given", 1, "\"Bob\""}, /* a number against a quoted operand */
      {"pals.#(given<\"C\")#.given", 1, "[\"Bob\"]"},
      {"pals.#(given>=\"Cy\")#.given", 1, "[\"Cy\",\"Dee\"]"},
      {"pals.#(given%\"D*\").family", 1, "\"Stone\""},
      {"pals.#(given!%\"D*\")#.given", 1, "[\"Bob\",\"Cy\"]"},
      {"pals.#(given%\"?y\").age", 1, "29"},
      {"pals.#(age>60)#", 1, "[" DEE "]"},
      {"pals.#(age>100)#", 1, "[]"},
      {"pals.#(age>100)", 0, NULL},
      {"pals.#(age>100).given", 0, NULL},
      {"pals.#(apps)#.given", 1, "[\"Bob\",\"Cy\",\"Dee\"]"},
      {"pals.#(nope)#", 1, "[]"},
      {"pals.#(nope)", 0, NULL},
      {"pets.#(==\"Tom\")", 1, "\"Tom\""},
      {"pets.#(==Tom)", 1, "\"Tom\""},
      {"pets.#(!%\"*o*\")", 1, "\"Rex\""},
      {"pets.#(%\"?e?\")#", 1, "[\"Rex\"]"},
      {"pets.#(%\"*\")#", 1, "[\"Rex\",\"Tom\",\"Kit\"]"},
      {"pals.#(apps.#(==\"gh\"))#.given", 1, "[\"Bob\",\"Dee\"]"},
      {"pals.#(apps.#(==\"mx\")).given", 1, "\"Bob\""},
      {"pals.#(apps.#(==\"zz\"))#", 1, "[]"},
      {"pals.#(apps.#>2).given", 1, "\"Bob\""},
      {"pals.#[age>50]#.given", 1, "[\"Bob\",\"Dee\"]"}, /* the pre-1.3 brackets */
      {"nums.#(>100)", 1, "2e3"},
      {"nums.#(<0)", 1, "-1.5"},
      {"nums.#(==0.01)", 1, "1E-2"},
      {"nums.#(>=0)#", 1, "[0,2e3,1E-2,10]"},
      {"nums.#(%\"1*\")", 0, NULL},                 /* like applies to strings only */
      {"flags.#(==true)#", 1, "[true,\"true\",0]"}, /* as in gjson: a number against a word
                                                     compares with 0 */
      {"flags.#(!=false)#", 1, "[true,\"true\",\"0\",1]"},
      {"flags.#(==~true)#", 1, "[true,\"true\",1]"},
      {"flags.#(==~false)#", 1, "[false,null,\"0\",0]"},
      {"flags.#(==~null)#", 1, "[null]"},
      {"flags.#(==~*)#", 1, "[true,false,null,\"true\",\"0\",1,0]"},
      {"flags.#(==~maybe)#", 1, "[]"},
      {"flags.#(>false)#", 1, "[true,\"true\",1]"},
      {"pals.#(nope==~false)#.given", 1, "[\"Bob\",\"Cy\",\"Dee\"]"}, /* missing is falsy */
      {"words.#(==\"x\\\"y\")", 1, "\"x\\\"y\""},
      {"words.#(==\"é\")", 1, "\"\\u00e9\""},
      {"words.#(==\"\\u00e9\")", 1, "\"\\u00e9\""},
      {"words.#(%\"na?ve\")", 1, "\"naïve\""},
      {"words.#(%\"*\\\\\\\"*\")", 1, "\"x\\\"y\""}, /* glob *\"* : a literal quote */
      {"words.#(%\"*\\\\\"*\")", SB_EINVAL, NULL},   /* the operand "*\\" ends early */
      {"pals.#(given==\"Cy\")|apps|1", 1, "\"tg\""},
      {"user.#(given==\"Ada\")", 0, NULL}, /* a query on an object finds nothing */
  };
  CHECK(DOC, t);
}

static void test_pipes_and_modifiers(void **state) {
  static const tcase t[] = {
      {"pals.0.given", 1, "\"Bob\""},
      {"pals|0.given", 1, "\"Bob\""},
      {"pals.0|given", 1, "\"Bob\""},
      {"pals|0|given", 1, "\"Bob\""},
      {"pals|#", 1, "3"},
      {"pals.#(family==\"Stone\")#", 1, "[" BOB "," DEE "]"},
      {"pals.#(family==\"Stone\")#|given", 0, NULL},
      {"pals.#(family==\"Stone\")#.0", 1, "[]"},
      {"pals.#(family==\"Stone\")#|0", 1, BOB},
      {"pals.#(family==\"Stone\")#.#", 1, "[]"},
      {"pals.#(family==\"Stone\")#|#", 1, "2"},
      {"pals.#.given|1", 1, "\"Cy\""},
      {"pals.#.apps.#|2", 1, "2"},
      {"pals.#|x", 0, NULL},
      {"pets.@reverse", 1, "[\"Kit\",\"Tom\",\"Rex\"]"},
      {"pets.@reverse.0", 1, "\"Kit\""},
      {"pets|@reverse|#", 1, "3"},
      {"user.@reverse", 1, "{\"family\":\"Lovelace\",\"given\":\"Ada\"}"},
      {"user|@keys", 1, "[\"given\",\"family\"]"},
      {"user.@values", 1, "[\"Ada\",\"Lovelace\"]"},
      {"pets.@keys", 1, "[null,null,null]"},
      {"age.@keys", 1, "[null]"},
      {"age.@values", 1, "[36]"},
      {"pets.@values", 1, "[\"Rex\", \"Tom\", \"Kit\"]"},
      {"grid.@flatten", 1, "[1,2,3,[4, 5]]"},
      {"user.@flatten", 1, "{\"given\": \"Ada\", \"family\": \"Lovelace\"}"},
      {"user.@ugly", 1, "{\"given\":\"Ada\",\"family\":\"Lovelace\"}"},
      {"pals.1.@ugly", 1,
       "{\"given\":\"Cy\",\"family\":\"Reed\",\"age\":29,\"apps\":[\"mx\",\"tg\"]}"},
      {"esc.@ugly", 1, "\"q\\\"b\\\\s\\/\\u00e9\\ud83d\\ude00\\n\""},
      {"@this.age", 1, "36"},
      {"@valid.age", 1, "36"},
      {"user.@this", 1, "{\"given\": \"Ada\", \"family\": \"Lovelace\"}"},
      {"pals.#.given|@reverse", 1, "[\"Dee\",\"Cy\",\"Bob\"]"},
      {"pals.#.given.@reverse", 1, "[\"Bob\",\"Cy\",\"Dee\"]"}, /* per element: strings stay */
      {"pets.@reverse:{\"x\":1}.0", 1, "\"Kit\""}, /* an argument is read and ignored */
      {"pets.@reverse:arg|0", 1, "\"Kit\""},
      {"@nosuch", 0, NULL}, /* an unknown modifier is a key */
  };
  CHECK(DOC, t);

  sb_buf out;
  sb_buf_init(&out);
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), "@this", &out), 1);
  assert_int_equal(out.len, strlen(DOC) - 1); /* the value, not the trailing newline */
  sb_buf_clear(&out);
  assert_int_equal(sb_gjson_get("{\"a\":1} x", 9, "@valid", &out), 0);
  assert_int_equal(sb_gjson_get("{\"a\":1} ", 8, "@valid", &out), 1);
  assert_string_equal(out.data, "{\"a\":1}");
  sb_buf_clear(&out);
}

static void test_not_found(void **state) {
  static const tcase t[] = {
      {"nope", 0, NULL},   {"user.nope", 0, NULL},
      {"age.x", 0, NULL},  {"age.0", 0, NULL},
      {"pets.x", 0, NULL}, {"pets.-1", 0, NULL},
      {"pets.3", 0, NULL}, {"pets.99999999999999999999", 0, NULL},
      {"user.0", 0, NULL}, {"empty.a", 0, NULL},
      {"none.0", 0, NULL}, {"", 0, NULL},
      {"user.", 0, NULL},  {"user..given", 0, NULL},
      {"!true", 0, NULL},  {"pals.1.apps.2", 0, NULL},
  };
  CHECK(DOC, t);
  check_table("5", &(tcase){"a", 0, NULL}, 1);
  check_table("\"s\"", &(tcase){"#", 0, NULL}, 1);
  check_table("[]", &(tcase){"0", 0, NULL}, 1);
}

static void test_malformed_json(void **state) {
  static const struct {
    const char *json, *path;
    int rc;
  } t[] = {
      {"{\"a\":1,\"b\":}", "b", SB_EFORMAT},
      {"{\"a\":1,\"b\":}", "a", 1}, /* the error lies after the match: not read */
      {"{\"a\":[1,2", "b", SB_EFORMAT},
      {"{\"a\":[1,2", "a", SB_EFORMAT},
      {"{\"a\" 1}", "a", SB_EFORMAT},
      {"", "a", SB_EFORMAT},
      {"   ", "a", SB_EFORMAT},
      {"nope", "a", SB_EFORMAT},
      {"{\"a\":\"x\\q\"}", "b", SB_EFORMAT},
      {"{\"a\":\"\\u12\"}", "b", SB_EFORMAT},
      {"{\"a\":\"x\ny\"}", "b", SB_EFORMAT}, /* a raw control character in a string */
      {"{\"a\":01}", "b", SB_EFORMAT},
      {"{\"a\":1.}", "b", SB_EFORMAT},
      {"{\"a\":-}", "b", SB_EFORMAT},
      {"{\"a\":1e}", "b", SB_EFORMAT},
      {"{\"a\":tru}", "b", SB_EFORMAT},
      {"{\"a\":nul}", "a", SB_EFORMAT},
      {"{'a':1}", "a", SB_EFORMAT},
      {"{\"a\":1,}", "b", SB_EFORMAT},
      {"[1,]", "#", SB_EFORMAT},
      {"[,1]", "0", SB_EFORMAT},
      {"[1 2]", "1", SB_EFORMAT},
      {"[1,2]", "#(>1", SB_EINVAL},
      {"{\"a\":{\"b\":[}}", "a.b.#", SB_EFORMAT},
      {"{\"a\":[1,{]}", "a.#(>0)#", SB_EFORMAT},
      {"{\"a\":[1,2]]", "a", 1},
      {"{\"a\":[1,2]]", "b", SB_EFORMAT},
      {"{\"a\":1} trailing", "a", 1}, /* sb_gjson_valid() is what refuses this body */
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
    sb_buf out;
    sb_buf_init(&out);
    int rc = sb_gjson_get(t[i].json, strlen(t[i].json), t[i].path, &out);
    if (rc != t[i].rc) fail_msg("%s on %s: rc %d, want %d", t[i].path, t[i].json, rc, t[i].rc);
    sb_buf_clear(&out);
  }
}

static void test_malformed_paths(void **state) {
  static const char *const bad[] = {
      "pals.#(age>45",           "pals.#(given==\"Bob)",  "user\\",
      "pals.#(age>45)x",         "{user.given,age}",      "[age,user]",
      "pals.#(age!45)",          "pals.#(given==\"x\"y)", "pals.#(age>45)#x",
      "pals.#(apps.#(==\"gh\")", "pets.@reverse:{bad",    "user.{given}",
      "pets.@reverse:\"open",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    sb_buf out;
    sb_buf_init(&out);
    int rc = sb_gjson_get(DOC, strlen(DOC), bad[i], &out);
    if (rc != SB_EINVAL) fail_msg("path %s: rc %d, want SB_EINVAL", bad[i], rc);
    sb_buf_clear(&out);
  }
  /* each modifier runs the rest of the path one level down: past 64 levels the path is
   * refused, not a stack overflow */
  sb_buf path, out;
  sb_buf_init(&path);
  sb_buf_init(&out);
  assert_int_equal(sb_buf_puts(&path, "pets"), 0);
  for (int i = 0; i < 100; i++)
    assert_int_equal(sb_buf_puts(&path, "|@reverse"), 0);
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), path.data, &out), SB_EINVAL);
  sb_buf_reset(&path);
  assert_int_equal(sb_buf_puts(&path, "pets"), 0);
  for (int i = 0; i < 11; i++)
    assert_int_equal(sb_buf_puts(&path, "|@reverse"), 0);
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), path.data, &out), 1);
  assert_string_equal(out.data, "[\"Kit\",\"Tom\",\"Rex\"]");
  sb_buf_clear(&path);
  sb_buf_clear(&out);
  assert_int_equal(sb_gjson_get(NULL, 1, "a", &out), SB_EINVAL);
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), NULL, &out), SB_EINVAL);
  assert_int_equal(sb_gjson_get(NULL, 0, "a", &out), SB_EFORMAT);
}

/* |out| is appended to on a match and left as it was otherwise. */
static void test_appends(void **state) {
  sb_buf out;
  sb_buf_init(&out);
  assert_int_equal(sb_buf_puts(&out, "X"), 0);
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), "age", &out), 1);
  assert_string_equal(out.data, "X36");
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), "pals.#.age", &out), 1);
  assert_string_equal(out.data, "X36[52,29,61]");
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), "nope", &out), 0);
  assert_int_equal(sb_gjson_get(DOC, strlen(DOC), "pals.#(", &out), SB_EINVAL);
  assert_int_equal(sb_gjson_get("[1,{", 4, "#.a", &out), SB_EFORMAT);
  assert_string_equal(out.data, "X36[52,29,61]");
  assert_int_equal(out.len, 13);
  sb_buf_clear(&out);
}

static void test_json_lines(void **state) {
  static const char lines[] = "{\"n\":1,\"s\":\"a\"}\n{\"n\":2}\n  {\"n\":3,\"s\":\"c\"}\n";
  static const tcase t[] = {
      {"..#", 1, "3"},
      {"..0", 1, "{\"n\":1,\"s\":\"a\"}"},
      {"..1.n", 1, "2"},
      {"..#.n", 1, "[1,2,3]"},
      {"..#.s", 1, "[\"a\",\"c\"]"},
      {"..#(n>1)#.n", 1, "[2,3]"},
      {"..#(n==3).s", 1, "\"c\""},
      {"..3", 0, NULL},
      {"n", 1, "1"}, /* without '..', the first value only */
  };
  CHECK(lines, t);
  check_table("{\"n\":1}\n{\"n\":", &(tcase){"..#", SB_EFORMAT, NULL}, 1);
}

static void test_valid(void **state) {
  assert_true(sb_gjson_valid(DOC, strlen(DOC)));
  assert_true(sb_gjson_valid(" 5 ", 3));
  assert_true(sb_gjson_valid("\"\\ud83d\"", 8));
  assert_false(sb_gjson_valid("{\"a\":1} x", 9));
  assert_false(sb_gjson_valid("{\"a\":1}{}", 9));
  assert_false(sb_gjson_valid("", 0));
  assert_false(sb_gjson_valid(NULL, 0));
  assert_false(sb_gjson_valid("[1,2", 4));
  assert_false(sb_gjson_valid("{\"a\":1}", 6));
  assert_false(sb_gjson_valid("\"a\0b\"", 5));
}

/* Nesting deeper than the scanner follows is refused, without a frame per level. */
static void test_deep_nesting(void **state) {
  size_t n = 200000;
  char *deep = malloc(2 * n);
  assert_non_null(deep);
  memset(deep, '[', n);
  memset(deep + n, ']', n);
  sb_buf out;
  sb_buf_init(&out);
  assert_false(sb_gjson_valid(deep, 2 * n));
  assert_int_equal(sb_gjson_get(deep, 2 * n, "0", &out), SB_EFORMAT);
  assert_int_equal(sb_gjson_get(deep, 2 * n, "1", &out), SB_EFORMAT);
  size_t ok = MAX_NEST;
  memmove(deep + ok, deep + 2 * n - ok, ok);
  assert_true(sb_gjson_valid(deep, 2 * ok));
  assert_int_equal(sb_gjson_get(deep, 2 * ok, "0.0.0.#", &out), 1);
  assert_string_equal(out.data, "1");
  free(deep);
  sb_buf_clear(&out);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A plain path on a 1 MB body: the result is a slice of the input and a lookup reads the body
 * once (a quadratic walk would take minutes here). */
static void test_large_body(void **state) {
  sb_buf doc, out;
  sb_buf_init(&doc);
  sb_buf_init(&out);
  size_t items = 0;
  assert_int_equal(sb_buf_puts(&doc, "{\"items\": ["), 0);
  while (doc.len < (1u << 20)) {
    assert_int_equal(sb_buf_printf(&doc,
                                   "%s{\"id\": %zu, \"name\": \"item-%zu\", \"tags\": "
                                   "[\"a\\\"b\", 1.5e3, true, null, {}]}",
                                   items ? ", " : "", items, items),
                     0);
    items++;
  }
  assert_int_equal(sb_buf_puts(&doc, "], \"tail\": {\"x\": \"end\"}}"), 0);

  cx c = {.doc = doc.data};
  span s = {0};
  assert_int_equal(eval(&c, doc.data, doc.data + doc.len, "tail", 4, &out, &s), 1);
  assert_non_null(s.p);
  assert_true(s.p > doc.data && s.p + s.n <= doc.data + doc.len);
  assert_memory_equal(s.p, "{\"x\": \"end\"}", s.n);
  assert_int_equal(out.len, 0); /* nothing was built */

  double t0 = now_s();
  for (int i = 0; i < 20; i++) {
    sb_buf_reset(&out);
    assert_int_equal(sb_gjson_get(doc.data, doc.len, "tail.x", &out), 1);
    assert_string_equal(out.data, "\"end\"");
  }
  char path[64], want[64];
  snprintf(path, sizeof(path), "items.%zu.name", items - 1);
  snprintf(want, sizeof(want), "\"item-%zu\"", items - 1);
  sb_buf_reset(&out);
  assert_int_equal(sb_gjson_get(doc.data, doc.len, path, &out), 1);
  assert_string_equal(out.data, want);
  sb_buf_reset(&out);
  assert_int_equal(sb_gjson_get(doc.data, doc.len, "items.#", &out), 1);
  assert_int_equal(strtoul(out.data, NULL, 10), items);
  sb_buf_reset(&out);
  assert_int_equal(sb_gjson_get(doc.data, doc.len, "items.#(id==7).name", &out), 1);
  assert_string_equal(out.data, "\"item-7\"");
  double dt = now_s() - t0;
  assert_true(dt < 10.0); /* ~25 passes over 1 MB: milliseconds, seconds under ASan */
  sb_buf_clear(&doc);
  sb_buf_clear(&out);
}

/* Every allocation may fail: the call returns SB_ENOMEM and leaves |out| alone, or succeeds
 * with the full answer. */
static void test_enomem(void **state) {
  static const tcase t[] = {
      {"pals.#(family==\"Stone\")#.given|@reverse", 1, "[\"Dee\",\"Bob\"]"},
      {"user|@keys", 1, "[\"given\",\"family\"]"},
      {"caf?", 1, "\"latte\""},
      {"words.#(==\"\\u00e9\")", 1, "\"\\u00e9\""},
      {"pals.#(apps.#>2).given", 1, "\"Bob\""},
      {"grid.@flatten|@ugly", 1, "[1,2,3,[4,5]]"},
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
    int done = 0;
    for (long at = 1; at < 100 && !done; at++) {
      sb_buf out;
      sb_buf_init(&out);
      alloc_fail_at = at;
      alloc_calls = 0;
      int rc = sb_gjson_get(DOC, strlen(DOC), t[i].path, &out);
      alloc_fail_at = 0;
      if (rc == 1) {
        assert_string_equal(out.data, t[i].want);
        done = 1;
      } else {
        if (rc != SB_ENOMEM) fail_msg("%s, alloc %ld fails: rc %d", t[i].path, at, rc);
        assert_true(out.len == 0);
      }
      sb_buf_clear(&out);
    }
    assert_true(done);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_wildcards_and_escapes),
      cmocka_unit_test(test_arrays),
      cmocka_unit_test(test_queries),
      cmocka_unit_test(test_pipes_and_modifiers),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_malformed_json),
      cmocka_unit_test(test_malformed_paths),
      cmocka_unit_test(test_appends),
      cmocka_unit_test(test_json_lines),
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_large_body),
      cmocka_unit_test(test_enomem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
