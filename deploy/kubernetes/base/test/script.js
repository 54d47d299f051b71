// The test the controller Job runs: replace it (and config.json) in an overlay or with
//   kubectl -n loadtest create configmap speedboat-test --from-file=script.js --from-file=config.json
import http from 'k6/http';
import { check, sleep } from 'k6';

export default function () {
  const res = http.get(__ENV.TARGET_URL || 'http://test.example.internal/');
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(1);
}
