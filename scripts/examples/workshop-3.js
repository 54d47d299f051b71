// Workshop breakout 1, step 3: a small load test with random think time.
// The seed ran 100 VUs for 1,000 iterations; this demo keeps it short.
import http from 'k6/http';
import { sleep } from 'k6';
import { randomIntBetween } from './lib/utils.js';

const TARGET = __ENV.TARGET || 'http://127.0.0.1:8080/';

export const options = {
  vus: 10,
  iterations: 50,
};

export default function () {
  http.get(TARGET);

  sleep(randomIntBetween(1, 2));
}
