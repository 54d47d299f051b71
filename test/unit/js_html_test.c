/* k6/html on a plain Duktape heap: parseHTML and the Selection API (finding, walking, filtering,
 * picking, reading, forms) and Element against one document, Response.html()'s entry point
 * (sb_js_html_push_document), invalid selectors, and the finalizers (under ASan a leak or a
 * double free of the shared DOM fails: many Selections of one document die in any order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/js_modules.h"

static duk_context *ctx;

static const char PAGE[] =
    "<!DOCTYPE html><html lang=en><head><title>Shop &amp; Co</title></head><body>"
    "<h1 class='title main'>Hello</h1>"
    "<ul id=list><li class=item data-price=3 data-item-id=a1>apple</li>"
    "<li class='item sale'>banana<li class=item>cherry</ul>"
    "<p id=p>text <a href='/one'>one</a> and <a href='/two' class=ext>two</a></p>"
    "<form id=f action=/login>"
    "<input name=user value=bob><input type=password name=pass value='p w'>"
    "<input type=checkbox name=keep checked><input type=checkbox name=no>"
    "<input type=radio name=r value=x><input type=radio name=r value=y checked>"
    "<select name=lang><option value=en>English<option selected>Deutsch</select>"
    "<textarea name=msg>hi &lt;there&gt;</textarea><input type=submit name=go value=Go>"
    "<input name=off value=1 disabled></form>"
    "<script>var x = '<li class=item>fake</li>';</script>"
    "</body></html>";

static int setup(void **state) {
  ctx = duk_create_heap_default();
  sb_js_html_push(ctx);
  duk_put_global_string(ctx, "html");
  sb_js_html_push_document(ctx, PAGE, sizeof(PAGE) - 1);
  duk_put_global_string(ctx, "doc");
  return 0;
}

static int teardown(void **state) {
  duk_destroy_heap(ctx);
  return 0;
}

#include "duk_eval.h"
#define check(js, want) assert_string_equal(eval_str(js), want)

static void test_find_text_attr(void **state) {
  check("doc.find('title').text()", "Shop & Co");
  check("doc.find('html').attr('lang')", "en");
  check("doc.find('h1').attr('nope')", "undefined");
  check("doc.find('h1').attr('nope', 'dflt')", "dflt");
  check("doc.find('li.item').size()", "3");
  check("doc.find('ul').find('.sale').text()", "banana");
  check("doc.find('li').text()", "applebananacherry");
  check("doc.find('p').html()", "text <a href=\"/one\">one</a> and <a href=\"/two\" class=\"ext\">two</a>");
  check("doc.find('nothing').html()", "");
  check("doc.find('nothing').text()", "");
  check("doc.find('a[href^=\"/t\"]').text()", "two");
  check("doc.find('p > a:last-child').attr('href')", "/two");
  check("doc.find('li:nth-child(2), h1').map(function(i, s) { return s.text(); }).join()",
        "Hello,banana");
  check("doc.find('ul li:not(.sale)').size()", "2");
  check("doc.find('!!bad((').size()", "0"); /* k6: an invalid selector matches nothing */
}

static void test_pick_and_iterate(void **state) {
  check("doc.find('li').first().text()", "apple");
  check("doc.find('li').last().text()", "cherry");
  check("doc.find('li').eq(1).text()", "banana");
  check("doc.find('li').eq(-1).text()", "cherry");
  check("doc.find('li').eq(7).size()", "0");
  check("doc.find('li').slice(1).text()", "bananacherry");
  check("doc.find('li').slice(0, -2).text()", "apple");
  check("doc.find('li').get(0).textContent()", "apple");
  check("doc.find('li').get(5)", "undefined");
  check("doc.find('li').get().length", "3");
  check("doc.find('li').toArray()[2].text()", "cherry");
  check("var out = []; doc.find('a').each(function(i, el) { out.push(i + el.getAttribute('href')); });"
        " out.join()", "0/one,1/two");
  check("doc.find('a').map(function(i, s) { return i ? s.attr('href') : null; }).join()", "/two");
}

static void test_walk_and_filter(void **state) {
  check("doc.find('ul').children().size()", "3");
  check("doc.find('ul').children('.sale').text()", "banana");
  check("doc.find('.sale').parent().attr('id')", "list");
  check("doc.find('li').parent().size()", "1"); /* de-duplicated */
  check("doc.find('.sale').parents().map(function(i, s) { return s.get(0).nodeName(); }).join()",
        "ul,body,html");
  check("doc.find('.sale').parentsUntil('body').size()", "1");
  check("doc.find('.sale').closest('ul').attr('id')", "list");
  check("doc.find('.sale').closest('li').text()", "banana");
  check("doc.find('.sale').next().text()", "cherry");
  check("doc.find('.sale').prev().text()", "apple");
  check("doc.find('li').first().nextAll().size()", "2");
  check("doc.find('li').last().prevAll().size()", "2");
  check("doc.find('h1').nextUntil('form').size()", "2");
  check("doc.find('li').last().prevUntil('.item').size()", "0");
  check("doc.find('p').contents().size()", "4");
  check("doc.find('li').filter('.sale').text()", "banana");
  check("doc.find('li').filter(function(i, s) { return i != 1; }).text()", "applecherry");
  check("doc.find('li').not('.sale').size()", "2");
  check("doc.find('li').is('.sale')", "true");
  check("doc.find('li').is('p')", "false");
  check("doc.find('body > *').has('a').get(0).nodeName()", "p");
}

static void test_forms(void **state) {
  check("doc.find('input[name=user]').val()", "bob");
  check("doc.find('input[name=keep]').val()", "on");
  check("doc.find('select').val()", "Deutsch");
  check("doc.find('textarea').val()", "hi <there>");
  check("doc.find('option').first().val()", "en");
  check("doc.find('h1').val()", "undefined");
  check("doc.find('li').first().data('price')", "3");
  check("doc.find('li').first().data('itemId')", "a1");
  check("JSON.stringify(doc.find('li').first().data())", "{\"price\":\"3\",\"itemId\":\"a1\"}");
  check("doc.find('form').serialize()", "user=bob&pass=p+w&keep=on&r=y&lang=Deutsch&msg=hi+%3Cthere%3E");
  check("JSON.stringify(doc.find('form').serializeObject())",
        "{\"user\":\"bob\",\"pass\":\"p w\",\"keep\":\"on\",\"r\":\"y\",\"lang\":\"Deutsch\",\"msg\":\"hi <there>\"}");
  check("doc.find('form').serializeArray()[0].name", "user");
  check("doc.find('form input').serializeArray().length", "4");
}

static void test_element(void **state) {
  check("var e = doc.find('h1').get(0); e.nodeName() + e.nodeType() + e.className()", "h11title main");
  check("doc.find('h1').get(0).classList().join('|')", "title|main");
  check("doc.find('ul').get(0).id()", "list");
  check("doc.find('ul').get(0).childElementCount()", "3");
  check("doc.find('ul').get(0).children()[1].textContent()", "banana");
  check("doc.find('ul').get(0).firstElementChild().textContent()", "apple");
  check("doc.find('ul').get(0).lastElementChild().textContent()", "cherry");
  check("doc.find('.sale').get(0).nextElementSibling().textContent()", "cherry");
  check("doc.find('.sale').get(0).previousElementSibling().textContent()", "apple");
  check("doc.find('.sale').get(0).parentElement().id()", "list");
  check("doc.find('p').get(0).firstChild().nodeName()", "#text");
  check("doc.find('p').get(0).firstChild().nodeValue()", "text ");
  check("doc.find('p').get(0).childNodes().length", "4");
  check("doc.find('p').get(0).innerHTML().indexOf('<a href=\"/one\">')", "5");
  check("doc.find('a').get(1).toString()", "<a href=\"/two\" class=\"ext\">two</a>");
  check("var a = doc.find('a').get(1).attributes(); a.href.value + a['class'].name", "/twoclass");
  check("doc.find('a').get(1).hasAttribute('class') + ',' + doc.find('a').get(0).hasAttributes()",
        "true,true");
  check("doc.find('a').get(0).getAttribute('class')", "undefined");
  check("doc.find('p').get(0).querySelector('.ext').textContent()", "two");
  check("doc.find('body').get(0).querySelectorAll('a').length", "2");
  check("doc.find('body').get(0).getElementsByTagName('li').length", "3");
  check("doc.find('body').get(0).getElementsByClassName('item sale').length", "1");
  check("doc.find('a').get(1).matches('p > .ext')", "true");
  check("var u = doc.find('ul').get(0); u.contains(u.firstElementChild()) + ',' + "
        "u.isSameNode(doc.find('#list').get(0))", "true,true");
  check("doc.find('li').get(0).selection().next().text()", "banana");
  check("doc.find('li').get(0).ownerDocument().nodeName()", "#document");
}

static void test_parse_html_function(void **state) {
  check("html.parseHTML('<dl><dt id=t1>A</dt><dt id=t2>B</dl>').find('dl').children().get(1).id()", "t2");
  check("html.parseHTML('').find('*').size()", "0"); /* libxml2 implies nothing in an empty one */
  check("html.parseHTML('plain').text()", "plain");
}

/* Many Selections of several documents, dropped in any order, each DOM freed once. */
static void test_finalizers(void **state) {
  check("var keep = []; for (var i = 0; i < 200; i++) { var d = html.parseHTML('<p>' + i + '</p>');"
        " keep.push(d.find('p')); if (i % 3) keep.push(d.find('p').get(0)); }"
        " keep[keep.length - 2].text()", "199");
  check("keep = null; Duktape.gc(); Duktape.gc(); 'ok'", "ok");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_find_text_attr),   cmocka_unit_test(test_pick_and_iterate),
      cmocka_unit_test(test_walk_and_filter),  cmocka_unit_test(test_forms),
      cmocka_unit_test(test_element),          cmocka_unit_test(test_parse_html_function),
      cmocka_unit_test(test_finalizers),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
