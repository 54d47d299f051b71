# Thresholds: a crossed one prints ✗ and exits 99; a kept one prints ✓ and exits 0.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
s=$(script th.js <<'JS'
import http from 'k6/http';
export const options = {
  vus: 2, iterations: 20,
  thresholds: {
    http_req_duration: [__ENV.LIMIT],
    'http_req_duration{expected_response:true}': ['max>=0'],
    http_reqs: ['count==20'],
  },
};
export default function () { http.get(`${__ENV.TARGET}/?delay=30`); }
JS
)
run_sb run -e TARGET="$TARGET" -e LIMIT='p(95)<10' "$s"
expect_rc 99
expect_out '✗ http_req_duration\.+: avg='
expect_out '✓ http_reqs\.+: 20 '
expect_err "thresholds on metrics 'http_req_duration' have been crossed"
run_sb run -e TARGET="$TARGET" -e LIMIT='p(95)<5000' "$s"
expect_rc 0
expect_out '✓ http_req_duration\.+: avg='
# --no-thresholds ignores them
run_sb run --no-thresholds -e TARGET="$TARGET" -e LIMIT='p(95)<10' "$s"
expect_rc 0
