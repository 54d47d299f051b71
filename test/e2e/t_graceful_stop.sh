# gracefulStop: an iteration still running when the duration ends gets gracefulStop to finish,
# then it is interrupted — not counted as an iteration — and the run ends on time.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
s=$(script gs.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  scenarios: {
    slow: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '1s' },
  },
};
export default function () {
  http.get(`${__ENV.TARGET}/`);
  sleep(10);
}
JS
)
t0=$(date +%s)
run_sb run -e TARGET="$TARGET" "$s"
t1=$(date +%s)
expect_rc 0
[ $((t1 - t0)) -le 5 ] || { show; fail "took $((t1 - t0))s; gracefulStop should end it after ~2s"; }
[ "$(metric_value http_reqs)" = 2 ] || { show; fail "http_reqs"; }
[ "$(target_requests)" = 2 ] || fail "target saw $(target_requests)"
# both iterations were interrupted: none complete
it=$(metric_value iterations)
[ -z "$it" ] || [ "$it" = 0 ] || { show; fail "interrupted iterations were counted: $it"; }
