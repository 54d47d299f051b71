// CI smoke test: the target answers within budget. Point it at your service here, or add
// "-e", "TARGET_URL=..." to the Job's args with a patch.
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const res = http.get(`${__ENV.TARGET_URL || 'http://web.staging.svc.cluster.local'}/`);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
