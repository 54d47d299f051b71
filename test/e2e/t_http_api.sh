# The k6/http and k6 module surface a script uses: post with a body, json(), headers, status
# codes, group, check with several conditions, tags, console levels.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
s=$(script api.js <<'JS'
import http from 'k6/http';
import { check, group } from 'k6';
export const options = { iterations: 2, thresholds: { 'http_reqs{name:posted}': ['count==2'] } };
export default function () {
  group('read', function () {
    const r = http.get(`${__ENV.TARGET}/`);
    check(r, {
      'json ok': (r) => r.json().ok === true,
      'has content type': (r) => r.headers['Content-Type'] !== undefined,
      'timings': (r) => r.timings.duration >= r.timings.waiting && r.timings.waiting > 0,
    });
  });
  group('write', function () {
    const r = http.post(`${__ENV.TARGET}/echo`, 'x'.repeat(1000), { tags: { name: 'posted' } });
    check(r, { 'posted 200': (r) => r.status === 200 });
  });
  const nf = http.request('GET', `${__ENV.TARGET}/?status=404`);
  check(nf, { 'is 404': (r) => r.status === 404 });
  console.warn(`warned ${nf.status}`);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_out '█ read'
expect_out '█ write'
for c in 'json ok' 'has content type' 'timings' 'posted 200' 'is 404'; do expect_out "✓ $c"; done
expect_out 'checks\.*: 100\.00% +✓ 10 +✗ 0'
expect_out '✓ \{ name:posted \}|http_reqs\{name:posted\}|\{ name:posted \}'
expect_out 'http_req_failed\.+: 33\.33% +✓ 2 +✗ 4'
expect_err 'WARN\[[0-9]+\] warned 404'
[ "$(metric_value http_reqs)" = 6 ] || { show; fail "http_reqs"; }
