# vus: 100, iterations: 1000 completes exactly 1000 iterations and 1000 requests (issue #2).
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
s=$(script shared.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 100, iterations: 1000 };
export default function () {
  const res = http.get(`${__ENV.TARGET}/hello`);
  check(res, { 'is status 200': (r) => r.status === 200 });
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_out 'default: 1000 iterations shared among 100 VUs'
[ "$(metric_value iterations)" = 1000 ] || { show; fail "iterations: $(metric_value iterations)"; }
[ "$(metric_value http_reqs)" = 1000 ] || { show; fail "http_reqs: $(metric_value http_reqs)"; }
[ "$(target_requests)" = 1000 ] || fail "target saw $(target_requests) requests"
expect_out '✓ is status 200'
expect_out 'checks\.*: 100\.00% +✓ 1000 +✗ 0'
for m in data_received data_sent http_req_blocked http_req_connecting http_req_duration \
         http_req_failed http_req_receiving http_req_sending http_req_tls_handshaking \
         http_req_waiting http_reqs iteration_duration iterations vus vus_max; do
  expect_out "^ +$m\.+: "
done
expect_out '^ +\{ expected_response:true \}\.*: avg='
expect_out 'http_req_duration\.+: avg=[0-9.]+(µs|ms|s) +min=.* med=.* max=.* p\(90\)=.* p\(95\)='
expect_out 'http_req_failed\.+: 0\.00% +✓ 0 +✗ 1000'
