import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { setTimeout } from 'k6/timers';

export const options = { vus: 2, iterations: 4, thresholds: { checks: ['rate==1'] } };

const sleepMs = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withRetry(fn, { tries = 4, backoffMs = 20 } = {}) {
  let lastErr;
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      return { value: await fn(attempt), attempt };
    } catch (e) {
      lastErr = e;
      await sleepMs(backoffMs * 2 ** (attempt - 1));
    }
  }
  throw lastErr;
}

const get = async (path) => {
  const res = await http.asyncRequest('GET', `${__ENV.TARGET}${path}`);
  if (res.status >= 500) throw new Error(`status ${res.status}`);
  return res;
};

export default async function () {
  // fails twice (503), then succeeds: three attempts, backoff 20 + 40 ms
  const t0 = Date.now();
  const retried = await withRetry((n) => get(n < 3 ? '/status/503' : '/status/200'));
  const retryMs = Date.now() - t0;

  // the fastest of three wins; all of them still finish before the iteration ends
  const fastest = await Promise.race([
    get('/slow?ms=250').then(() => 'slow'),
    get('/slow?ms=20').then(() => 'fast'),
    sleepMs(150).then(() => 'timer'),
  ]);

  const settled = await Promise.allSettled([get('/status/200'), get('/status/500'), http.asyncRequest('GET', 'not a url')]);
  const states = settled.map((s) => s.status).join(',');

  let ticks = 0;
  await new Promise((resolve) => {
    const id = setInterval(() => { if (++ticks === 3) { clearInterval(id); resolve(); } }, 10);
  });

  check(null, {
    'retried 3 times': () => retried.attempt === 3 && retried.value.status === 200,
    'backoff waited': () => retryMs >= 60,
    'race won by fast': () => fastest === 'fast',
    'allSettled': () => states === 'fulfilled,rejected,rejected',
    'interval ticked': () => ticks === 3,
  });
  if (exec.scenario.iterationInTest === 0) console.log(`corpus async_flows: attempt=${retried.attempt} fastest=${fastest} states=${states} ticks=${ticks}`);
}
