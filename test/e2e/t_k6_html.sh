# k6/html in a real run: a scraping-style script fetches an HTML page (served by python3's
# http.server on loopback) and extracts its title, links, list items, a table and a login form's
# values with parseHTML() and res.html(), asserting each through checks and console lines. The
# page holds the traps a scraper meets: unclosed <li> and <p>, entities, a comment and a script
# holding markup that must not be found, unquoted and single-quoted attributes.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
command -v python3 >/dev/null || fail "python3 is needed"

mkdir -p "$WORK/site"
cat >"$WORK/site/shop.html" <<'HTML'
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Caf&eacute; &amp; Shop</title></head>
<body>
<nav><a href="/">Home</a> <a href='/products?page=2' class="next">Next &raquo;</a>
<a href=https://example.com/ext rel=external>Out</a></nav>
<!-- <a href="/hidden">commented out</a> -->
<ul id=products>
  <li class="product" data-sku=A1>Espresso <span class=price>2.50</span>
  <li class="product sale" data-sku=B2>Latte <span class=price>3.10</span>
  <li class="product" data-sku=C3>Mocha <span class=price>3.90</span>
</ul>
<table id=stock><tr><th>item<th>qty<tr><td>beans<td>12<tr><td>milk<td>7</table>
<p>First paragraph
<p>Second paragraph
<form id=login action="/login" method=post>
  <input type=hidden name=csrf value="tok&#61;123">
  <input name=user value="alice">
  <input type=checkbox name=remember checked>
  <select name=region><option value=eu>Europe<option value=us selected>USA</select>
  <textarea name=note>hello &lt;world&gt;</textarea>
  <input type=submit value=Login>
</form>
<script>document.write('<a href="/from-script">x</a><li class="product">Fake</li>');</script>
</body></html>
HTML

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$WORK/site" >"$WORK/http.out" 2>&1 &
PIDS="$PIDS $!"
i=0
while ! grep -q 'port [0-9]' "$WORK/http.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "http.server did not start: $(cat "$WORK/http.out")"
  sleep 0.05
done
PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$WORK/http.out" | head -1)
URL="http://127.0.0.1:$PORT/shop.html"

s=$(script scrape.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';
import { parseHTML } from 'k6/html';

export const options = { vus: 2, iterations: 4 };

export default function () {
  const res = http.get(__ENV.URL);
  const doc = parseHTML(res.body);
  const title = doc.find('head title').text();
  const links = doc.find('a').map((i, a) => a.attr('href'));
  const products = [];
  doc.find('#products li.product').each(function (i, el) {
    products.push(el.getAttribute('data-sku') + ':' + el.querySelector('.price').textContent());
  });
  const form = doc.find('form#login');
  const fields = form.serializeObject();
  const qty = doc.find('#stock tr').slice(1).map((i, tr) => tr.find('td').first().text() + '=' +
                                                            tr.find('td:nth-child(2)').text());
  check(doc, {
    'title': () => title === 'Caf\u00e9 & Shop',
    'lang': (d) => d.find('html').attr('lang') === 'en',
    'three links': () => links.length === 3,
    'next link': (d) => d.find('a.next').attr('href') === '/products?page=2',
    'external': (d) => d.find('a[rel=external]').text() === 'Out',
    'three products': () => products.length === 3,
    'sale': (d) => d.find('li.sale').data('sku') === 'B2',
    'paragraphs': (d) => d.find('p').size() === 2,
    'csrf': () => form.find('input[name=csrf]').val() === 'tok=123',
    'region': () => form.find('select').val() === 'us',
    'note': () => form.find('textarea').val() === 'hello <world>',
  });
  if (__ITER === 0) { // whichever VU starts first (shared-iterations may give VU 1 none)
    console.log('title ' + title);
    console.log('links ' + links.join(' '));
    console.log('products ' + products.join(' '));
    console.log('stock ' + qty.join(' '));
    console.log('form ' + JSON.stringify(fields));
    console.log('serialize ' + form.serialize());
    console.log('closest ' + doc.find('.price').eq(1).closest('li').data('sku'));
    console.log('next ' + doc.find('li.sale').next().find('.price').text());
    console.log('p2 ' + doc.find('p').last().text().trim());
  }
}
JS
)

run_sb run -e URL="$URL" "$s"
expect_rc 0
has() { grep -qF -- "$1" "$WORK/err" || { show; fail "no log line with: $1"; }; }
has "title Café & Shop"
has "links / /products?page=2 https://example.com/ext"
has "products A1:2.50 B2:3.10 C3:3.90"
has "stock beans=12 milk=7"
has 'form {"csrf":"tok=123","user":"alice","remember":"on","region":"us","note":"hello <world>"}'
has "serialize csrf=tok%3D123&user=alice&remember=on&region=us&note=hello+%3Cworld%3E"
has "closest B2"
has "next 3.90"
has "p2 Second paragraph"
[ "$(metric_value iterations)" = 4 ] || { show; fail "iterations"; }
expect_out 'checks\.*: 100\.00% +✓ 44 +✗ 0'
