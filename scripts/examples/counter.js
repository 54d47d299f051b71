// State kept between iterations of the same VU: each VU has its own `counter`
// (init code runs once per VU; the default function runs over and over).
import http from 'k6/http';
import { check } from 'k6';

const TARGET = __ENV.TARGET || 'http://127.0.0.1:8080/';

export const options = {
  vus: 2,
  iterations: 10,
};

let counter = 0;

export default function () {
  counter++;
  const res = http.get(`${TARGET}?vu=${__VU}&n=${counter}`);
  check(res, { 'is status 200': (r) => r.status === 200 });
  console.log(`VU ${__VU}: iteration ${counter} of this VU`);
}
