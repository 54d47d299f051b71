# Several scenarios in one run, each with exec, startTime and its own executor; ramping-vus stages.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
s=$(script sc.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  scenarios: {
    first: { executor: 'per-vu-iterations', vus: 2, iterations: 3, exec: 'a' },
    later: { executor: 'shared-iterations', vus: 1, iterations: 2, exec: 'b', startTime: '1s' },
    ramp: { executor: 'ramping-vus', startVUs: 0, exec: 'c',
            stages: [{ duration: '1s', target: 4 }, { duration: '1s', target: 0 }], gracefulRampDown: '1s' },
  },
};
export function a() { http.get(`${__ENV.TARGET}/a`, { tags: { name: 'A' } }); }
export function b() { http.get(`${__ENV.TARGET}/b`); console.log(`b at ${Date.now()}`); }
export function c() { sleep(0.1); }
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_out 'first: 3 iterations for each of 2 VUs'
expect_out 'later: 2 iterations shared among 1 VUs'
expect_out 'ramp: Up to 4 looping VUs for 2s over 2 stages'
[ "$(metric_value http_reqs)" = 8 ] || { show; fail "http_reqs"; }
[ "$(target_requests)" = 8 ] || fail "target saw $(target_requests)"
