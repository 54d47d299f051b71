# A dead target: requests fail with status 0, count in http_req_failed, and the run goes on.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
# A port nobody listens on: start the target, then stop it.
start_target
port=$TARGET_PORT
for p in $PIDS; do kill "$p"; wait "$p" 2>/dev/null || true; done
PIDS=""
s=$(script dead.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 2, iterations: 10 };
export default function () {
  const r = http.get(`http://127.0.0.1:${__ENV.PORT}/`);
  check(r, { 'status is 0': (r) => r.status === 0, 'has error': (r) => r.error !== '' && r.error_code > 0 });
}
JS
)
run_sb run -e PORT="$port" "$s"
expect_rc 0
expect_out 'http_req_failed\.+: 100\.00% +✓ 10 +✗ 0'
expect_out '✓ status is 0'
expect_out '✓ has error'
[ "$(metric_value iterations)" = 10 ] || { show; fail "iterations"; }
