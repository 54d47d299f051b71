# --vus/--iterations/--duration override the script's options, as in k6.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
s=$(script cli.js <<'JS'
import http from 'k6/http';
export const options = { vus: 50, iterations: 500 };
export default function () { http.get(`${__ENV.TARGET}/`); }
JS
)
run_sb run -u 3 -i 7 -e TARGET="$TARGET" "$s"
expect_rc 0
expect_out 'default: 7 iterations shared among 3 VUs'
[ "$(metric_value http_reqs)" = 7 ] || { show; fail "http_reqs"; }
run_sb run --vus 2 --duration 1s -e TARGET="$TARGET" "$s"
expect_rc 0
expect_out 'default: 2 looping VUs for 1s'
# no script options at all: k6's default of one VU, one iteration
s=$(script none.js <<'JS'
import http from 'k6/http';
export default function () { http.get(`${__ENV.TARGET}/`); }
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
[ "$(metric_value http_reqs)" = 1 ] || { show; fail "default run: http_reqs"; }
