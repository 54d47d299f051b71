import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';

export const options = {
  scenarios: { logins: { executor: 'per-vu-iterations', vus: 6, iterations: 2 } },
  thresholds: { checks: ['rate==1'] },
};

const users = new SharedArray('users', () => JSON.parse(open('./data/users.json')));

// a small CSV parser, as users write one when they do not pull papaparse from jslib
function parseCsv(text) {
  const [head, ...rows] = text.trim().split('\n');
  const cols = head.split(',');
  return rows.map((line) => {
    const cells = [];
    let cur = '', quoted = false;
    for (const ch of line) {
      if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) { cells.push(cur); cur = ''; }
      else cur += ch;
    }
    cells.push(cur);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i]]));
  });
}
const products = parseCsv(open('./data/products.csv'));

export default function () {
  const user = users[exec.vu.idInTest - 1];
  const product = products[(exec.vu.idInTest + exec.vu.iterationInScenario) % products.length];
  const res = http.post(`${__ENV.TARGET}/echo?op=login`, JSON.stringify({ username: user.username, password: user.password }),
    { headers: { 'Content-Type': 'application/json' }, tags: { tier: user.tier } });
  const sent = JSON.parse(res.json('body'));
  check(res, {
    'login 200': (r) => r.status === 200,
    'own user': () => sent.username === `user${exec.vu.idInTest}`,
    'shared array is read-only': () => { try { users.push({}); return false; } catch (e) { return true; } },
    'csv parsed': () => products.length === 10 && product.name.startsWith('Product ') && Number(product.price) > 0,
  });
  console.log(`corpus data_users: vu=${exec.vu.idInTest} user=${user.username} users=${users.length} csv=${products[0].name}`);
}
