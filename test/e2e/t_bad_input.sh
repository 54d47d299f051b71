# Broken scripts and options: clear errors naming the file/line or option, non-zero exit codes,
# and no load sent.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
s=$(script syntax.js <<'JS'
import http from 'k6/http';
export default function () {
  http.get('http://127.0.0.1:1/' +);
}
JS
)
run_sb run "$s"
[ "$RC" -ne 0 ] || fail "a syntax error exited 0"
expect_err 'syntax\.js:3:[0-9]+'
s=$(script badthr.js <<'JS'
export const options = { thresholds: { http_req_duration: ['p95 < 200'] } };
export default function () {}
JS
)
run_sb run "$s"
expect_rc 104
expect_err 'http_req_duration'
s=$(script throwinit.js <<'JS'
throw new Error('boom in init');
export default function () {}
JS
)
run_sb run "$s"
expect_rc 107
expect_err 'boom in init'
s=$(script noexport.js <<'JS'
export const options = { scenarios: { a: { executor: 'shared-iterations', exec: 'nope' } } };
export default function () {}
JS
)
run_sb run "$s"
[ "$RC" -ne 0 ] || { show; fail "a missing exec function exited 0"; }
expect_err 'nope'
run_sb run "$WORK/does-not-exist.js"
[ "$RC" -ne 0 ] || fail "a missing script exited 0"
expect_err 'does-not-exist\.js'
[ "$(target_requests)" = 0 ] || fail "load was sent"
