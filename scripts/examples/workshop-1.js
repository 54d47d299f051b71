// Workshop breakout 1, step 1: one VU sends one GET request.
//   speedboat run scripts/examples/workshop-1.js -e TARGET=http://127.0.0.1:8080/
import http from 'k6/http';

const TARGET = __ENV.TARGET || 'http://127.0.0.1:8080/';

export const options = {
  vus: 1,
  iterations: 1,
};

export default function () {
  http.get(TARGET);
}
