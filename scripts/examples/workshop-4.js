// Workshop breakout 1, step 4: ramp VUs up in stages, check each response, log the failures,
// and judge the run with a threshold (exit code 99 when it is crossed).
// The seed ramped to 200 VUs over 1m + 2m; this demo takes 15 s.
import http from 'k6/http';
import { sleep, check } from 'k6';
import { randomIntBetween } from './lib/utils.js';

const TARGET = __ENV.TARGET || 'http://127.0.0.1:8080/';

export const options = {
  stages: [
    { duration: '5s', target: 20 },
    { duration: '10s', target: 20 },
  ],
  thresholds: {
    http_req_duration: ['p(95)<2000'], // 95% of requests should be below 2000ms
  },
};

export default function () {
  const response = http.get(TARGET);

  const didSucceed = check(response, {
    'is status 200': (r) => r.status === 200,
  });

  if (!didSucceed) {
    console.log(`Unexpected response code: ${response.status}. Received: ${response.body}`);
  }

  sleep(randomIntBetween(1, 5));
}
