import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { randomIntBetween, randomItem, uuidv4 } from 'JSLIB_URL/k6-utils/1.0.0/index.js';

export const options = { vus: 2, iterations: 6, thresholds: { checks: ['rate==1'] } };

const pages = ['/a', '/b', '/c'];

export default function () {
  const id = uuidv4();
  const page = randomItem(pages);
  const res = http.get(`${__ENV.TARGET}${page}?req=${id}`, { tags: { name: 'page' } });
  check(res, {
    'status 200': (r) => r.status === 200,
    'uuid v4 shape': () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id),
    'page picked': () => pages.includes(page),
  });
  sleep(randomIntBetween(1, 2) / 100);
  if (exec.scenario.iterationInTest === 0) console.log(`corpus jslib_style: uuid=${id.length} page=${page.length}`);
}
