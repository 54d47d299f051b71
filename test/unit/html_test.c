/* agent/html: libxml2's parser on tricky markup (unclosed tags, entities, comments, scripts,
 * attribute quoting, empty input), text and markup output, and every selector form against one
 * document, with the compile errors a script author sees. Run under ASan for the frees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <libxml/tree.h>

#include "agent/html.h"

static const char PAGE[] =
    "<!DOCTYPE html><html lang=en><head><title>T &amp; &eacute;</title></head><body>\n"
    "<div id=main class='box  wide'>\n"
    "  <p id=p1 class=intro>one<b id=b1>bold</b>\n"
    "  <p id=p2 data-x=\"a b c\">two <!-- a comment <p id=fake> -->\n"
    "  <ul id=list><li id=l1>a<li id=l2 class=odd>b<li id=l3>c<li id=l4 lang=en-US>d</ul>\n"
    "  <script id=s1>if (a < b && c > d) document.write(\"<p id=nope>\");</script>\n"
    "</div>\n"
    "<form id=f action=/login><input id=i1 name=user value=\"bob &lt;3\">"
    "<input id=i2 type=checkbox name=keep checked><input id=i3 name=x disabled>"
    "<a id=a1 href=\"https://example.com/x.pdf\">pdf</a><a id=a2 href='/local'>loc</a>"
    "<span id=e1></span><span id=e2> </span></form>\n"
    "</body></html>";

static sb_html_doc *doc;

static int setup(void **state) {
  sb_err err;
  return sb_html_parse(&doc, PAGE, sizeof(PAGE) - 1, &err);
}

static int teardown(void **state) {
  sb_html_doc_unref(doc);
  return 0;
}

/* The ids of the elements |sel| finds in |root| (the document when NULL), space-separated. */
static const char *ids_in(const char *sel, sb_html_node *root) {
  static char out[1024];
  sb_html_sel *s = NULL;
  sb_err err;
  if (sb_html_sel_compile(&s, sel, &err) != 0) fail_msg("%s: %s", sel, err.msg);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  sb_html_nodes_begin(&l, doc);
  assert_int_equal(sb_html_sel_find(s, root ? root : sb_html_doc_root(doc), &l), 0);
  out[0] = '\0';
  for (size_t i = 0; i < l.n; i++) {
    const char *id = sb_html_attr(l.v[i], "id");
    snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "",
             id ? id : (const char *)l.v[i]->name);
  }
  sb_html_nodes_clear(&l);
  sb_html_sel_free(s);
  return out;
}
#define ids(sel) ids_in(sel, NULL)

static sb_html_node *by_id(const char *id) {
  char sel[64];
  snprintf(sel, sizeof(sel), "#%s", id);
  sb_html_sel *s;
  assert_int_equal(sb_html_sel_compile(&s, sel, NULL), 0);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  assert_int_equal(sb_html_sel_find(s, sb_html_doc_root(doc), &l), 0);
  assert_int_equal(l.n, 1);
  sb_html_node *n = l.v[0];
  sb_html_nodes_clear(&l);
  sb_html_sel_free(s);
  return n;
}

static const char *text_of(sb_html_node *n, int (*fn)(const sb_html_node *, sb_buf *)) {
  static char out[4096];
  sb_buf b;
  sb_buf_init(&b);
  assert_int_equal(fn(n, &b), 0);
  snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
  sb_buf_clear(&b);
  return out;
}

static void test_parse_tricky(void **state) {
  /* entities decoded, unclosed <p> closed by the next <p>, <li> by <li> */
  assert_string_equal(text_of(by_id("b1"), sb_html_text), "bold");
  assert_string_equal(ids("title"), "title");
  assert_string_equal(ids("p"), "p1 p2");             /* the comment's <p> is no element */
  assert_string_equal(ids("#fake, #nope"), "");       /* nor the script's */
  assert_string_equal(ids("li"), "l1 l2 l3 l4");
  assert_string_equal(sb_html_attr(by_id("i1"), "value"), "bob <3");
  assert_string_equal(sb_html_attr(by_id("p2"), "data-x"), "a b c");
  assert_string_equal(sb_html_attr(by_id("a2"), "HREF"), "/local");
  assert_null(sb_html_attr(by_id("a2"), "title"));
  assert_non_null(sb_html_attr(by_id("i2"), "checked"));
  /* the script body is raw text, comments are not text */
  assert_string_equal(text_of(by_id("s1"), sb_html_text),
                      "if (a < b && c > d) document.write(\"<p id=nope>\");");
  assert_null(strstr(text_of(by_id("p2"), sb_html_text), "comment"));
  assert_string_equal(text_of(by_id("p1"), sb_html_inner), "one<b id=\"b1\">bold</b>\n  ");
  assert_string_equal(text_of(by_id("b1"), sb_html_outer), "<b id=\"b1\">bold</b>");
}

static void test_parse_title_entities(void **state) {
  assert_string_equal(text_of(by_id("b1")->parent, sb_html_text), "onebold\n  ");
  sb_html_sel *s;
  assert_int_equal(sb_html_sel_compile(&s, "title", NULL), 0);
  sb_html_nodes l;
  sb_html_nodes_init(&l);
  assert_int_equal(sb_html_sel_find(s, sb_html_doc_root(doc), &l), 0);
  assert_int_equal(l.n, 1);
  assert_string_equal(text_of(l.v[0], sb_html_text), "T & \xc3\xa9");
  sb_html_nodes_clear(&l);
  sb_html_sel_free(s);
}

static void test_parse_edge_inputs(void **state) {
  static const char *const srcs[] = {"", "plain text", "<", "<a href=\"unterminated",
                                     "<<<>>>&&&;", "\0\0\0", "<div><div><div>"};
  for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
    sb_html_doc *d = NULL;
    assert_int_equal(sb_html_parse(&d, srcs[i], i == 5 ? 3 : strlen(srcs[i]), NULL), 0);
    assert_non_null(sb_html_doc_root(d));
    sb_buf b;
    sb_buf_init(&b);
    assert_int_equal(sb_html_text(sb_html_doc_root(d), &b), 0);
    assert_int_equal(sb_html_inner(sb_html_doc_root(d), &b), 0);
    sb_buf_clear(&b);
    sb_html_doc_ref(d);
    sb_html_doc_unref(d);
    sb_html_doc_unref(d);
  }
  sb_html_doc_unref(NULL);
}

static void test_sel_simple(void **state) {
  assert_string_equal(ids("#p2"), "p2");
  assert_string_equal(ids(".intro"), "p1");
  assert_string_equal(ids(".box.wide"), "main");
  assert_string_equal(ids("div.box#main"), "main");
  assert_string_equal(ids("DIV"), "main");
  assert_string_equal(ids("*[id^=l]"), "list l1 l2 l3 l4");
  assert_string_equal(ids("[checked]"), "i2");
  assert_string_equal(ids("[name=user]"), "i1");
  assert_string_equal(ids("[name='user']"), "i1");
  assert_string_equal(ids("[ name = \"USER\" i ]"), "i1");
  assert_string_equal(ids("[name=USER]"), "");
  assert_string_equal(ids("a[href^=https]"), "a1");
  assert_string_equal(ids("a[href$='.pdf']"), "a1");
  assert_string_equal(ids("a[href*=loc]"), "a2");
  assert_string_equal(ids("[data-x~=b]"), "p2");
  assert_string_equal(ids("[data-x~=\"a b\"]"), "");
  assert_string_equal(ids("[lang|=en]"), "html l4");
  assert_string_equal(ids("[href^='']"), "");
}

static void test_sel_combinators(void **state) {
  assert_string_equal(ids("div p"), "p1 p2");
  assert_string_equal(ids("div > b"), "");
  assert_string_equal(ids("div b"), "b1");
  assert_string_equal(ids("body > div > p > b"), "b1");
  assert_string_equal(ids("#p1 + p"), "p2");
  assert_string_equal(ids("#l1 ~ li"), "l2 l3 l4");
  assert_string_equal(ids("#l1+li"), "l2");
  assert_string_equal(ids("#l3 ~ #l1"), "");
  assert_string_equal(ids("li#l3, #p1, b"), "p1 b1 l3"); /* document order, not group order */
  assert_string_equal(ids("p, p , #p1"), "p1 p2");       /* no duplicates */
  assert_string_equal(ids("html  body   form>a"), "a1 a2");
  /* scoped: ancestors may lie outside the root, as in goquery */
  assert_string_equal(ids_in("div li", by_id("list")), "l1 l2 l3 l4");
  assert_string_equal(ids_in("ul", by_id("list")), "");
}

static void test_sel_pseudo(void **state) {
  assert_string_equal(ids("li:first-child"), "l1");
  assert_string_equal(ids("li:last-child"), "l4");
  assert_string_equal(ids("li:nth-child(2)"), "l2");
  assert_string_equal(ids("li:nth-child(odd)"), "l1 l3");
  assert_string_equal(ids("li:nth-child(even)"), "l2 l4");
  assert_string_equal(ids("li:nth-child(2n+1)"), "l1 l3");
  assert_string_equal(ids("li:nth-child(-n+2)"), "l1 l2");
  assert_string_equal(ids("li:nth-child(n+3)"), "l3 l4");
  assert_string_equal(ids("li:nth-last-child(1)"), "l4");
  assert_string_equal(ids("form > input:nth-of-type(2)"), "i2");
  assert_string_equal(ids("form > a:first-of-type"), "a1");
  assert_string_equal(ids("form > a:last-of-type"), "a2");
  assert_string_equal(ids("title:only-child"), "title");
  assert_string_equal(ids("li:not(.odd)"), "l1 l3 l4");
  assert_string_equal(ids("li:not(#l1, #l4)"), "l2 l3");
  assert_string_equal(ids("input:not([type])"), "i1 i3");
  assert_string_equal(ids("div:has(b)"), "main");
  assert_string_equal(ids("a:contains('pdf')"), "a1");
  assert_string_equal(ids("span:empty"), "e1");
  assert_string_equal(ids(":root"), "html");
  assert_string_equal(ids("input:checked"), "i2");
  assert_string_equal(ids("input:disabled"), "i3");
  assert_string_equal(ids("input:enabled"), "i1 i2");
}

static void test_sel_errors(void **state) {
  static const char *const bad[] = {"", "  ", "p >", "[x", "[x=", "[x='y", "p:nope", ":nth-child(x)",
                                    ":not()", "a,", "a)", "#", ".", "[x!=y]", ":not(a", "p !"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sb_html_sel *s = NULL;
    sb_err err;
    err.msg[0] = '\0';
    int rc = sb_html_sel_compile(&s, bad[i], &err);
    if (rc != SB_EFORMAT) fail_msg("\"%s\" compiled (rc %d)", bad[i], rc);
    assert_null(s);
    assert_non_null(strstr(err.msg, "selector"));
  }
  sb_err err;
  sb_html_sel *s = NULL;
  assert_int_equal(sb_html_sel_compile(&s, "a[x=", &err), SB_EFORMAT);
  assert_string_equal(err.msg, "selector \"a[x=\": expected a name at offset 4");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_tricky),     cmocka_unit_test(test_parse_title_entities),
      cmocka_unit_test(test_parse_edge_inputs), cmocka_unit_test(test_sel_simple),
      cmocka_unit_test(test_sel_combinators),  cmocka_unit_test(test_sel_pseudo),
      cmocka_unit_test(test_sel_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
