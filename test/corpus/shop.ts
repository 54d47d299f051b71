import exec from 'k6/execution';
import { check, group } from 'k6';
import { Options } from 'k6/options';
import { ApiClient, Method, type Echo } from './lib/api.ts';

type Item = { sku: string; qty: number; price: number };
interface Cart { id: number; items: Item[] }

export const options: Options = {
  vus: 2,
  iterations: 4,
  thresholds: { checks: ['rate==1'], 'http_req_duration{name:?op=cart}': ['p(95)<2000'] },
};

const total = <T extends { qty: number; price: number }>(xs: readonly T[]): number =>
  xs.reduce((sum, x) => sum + x.qty * x.price, 0);

export default async function (): Promise<void> {
  const api = new ApiClient(__ENV.TARGET as string, `vu-${__VU}`);
  const cart: Cart = { id: __VU * 100 + __ITER, items: [
    { sku: 'A1', qty: 2, price: 2.5 },
    { sku: 'B2', qty: 1, price: 3.1 },
  ] };
  const [put, got] = await group('checkout', async () => Promise.all([
    api.send<Cart>(Method.Post, '?op=cart', cart),
    api.send<never>(Method.Get, `?op=cart&id=${cart.id}`),
  ]));
  const echoed: Echo<Cart> = put;
  check(echoed, {
    'cart posted': (e) => e.method === 'POST' && e.parsed?.items.length === 2,
    'total computed': (e) => total(e.parsed?.items ?? []) === 8.1,
    'bearer sent': (e) => e.header.authorization === `Bearer vu-${__VU}`,
    'query kept': () => got.query === `op=cart&id=${cart.id}`,
    'two calls': () => api.made === 2,
  });
  if (exec.scenario.iterationInTest === 0)
    console.log(`corpus shop: total=${total(cart.items)} calls=${api.made} sku=${echoed.parsed?.items[1]?.sku ?? '-'}`);
}
