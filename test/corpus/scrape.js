import http from 'k6/http';
import { check } from 'k6';
import { parseHTML } from 'k6/html';

export const options = { vus: 1, iterations: 2, thresholds: { checks: ['rate==1'] } };

export default function () {
  const home = http.get(`${__ENV.SITE}/static/corpus/shop.html`);
  const links = home.html('nav a').map((_, a) => a.attr('href'));
  const pages = http.batch(links.map((href) => ['GET', `${__ENV.SITE}${href}`]));
  const doc = parseHTML(pages[0].body);
  const items = doc.find('li.product').map((_, li) => ({
    sku: li.attr('data-sku'),
    name: li.find('a').text(),
    price: Number(li.find('.price').text()),
  }));
  const form = home.html().find('form#search');
  const params = {};
  form.find('input').each((_, el) => { params[el.getAttribute('name')] = el.getAttribute('value'); });
  const search = http.get(`${__ENV.TARGET}${form.attr('action')}?${Object.entries(params).map(([k, v]) => `${k}=${v}`).join('&')}`);
  const onSale = doc.find('li.sale a').text();
  const about = parseHTML(pages[1].body).find('p').text();
  check(null, {
    'two links': () => links.length === 2,
    'three products': () => items.length === 3 && items[2].name === 'Mocha',
    'prices parsed': () => items.reduce((s, i) => s + i.price, 0) === 9.5,
    'on sale': () => onSale === 'Latte',
    'form submitted': () => search.json('query') === 'csrf=abc123&q=coffee',
    'entities decoded': () => about === 'About us & our coffee.',
  });
  if (__ITER === 0) console.log(`corpus scrape: title=${home.html('title').text()} items=${items.map((i) => i.sku).join('|')} sale=${onSale}`);
}
