# A duration run stops at its duration (+ graceful stop), with no request lost or counted twice.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
s=$(script dur.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 5, duration: '5s' };
export default function () {
  http.get(`${__ENV.TARGET}/x?delay=20`);
  sleep(0.05);
}
JS
)
t0=$(date +%s.%N)
run_sb run -e TARGET="$TARGET" "$s"
t1=$(date +%s.%N)
expect_rc 0
expect_out 'default: 5 looping VUs for 5s \(gracefulStop: 30s\)'
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
# The run's own clock (the progress block's last line) stops at 5 s plus at most one
# iteration (~70 ms); the wall clock adds start-up (Babel ~0.5 s, seconds under ASan), and
# must be far from the 35 s a run that waited out its gracefulStop would take.
ran=$(sed -n 's/^finished (\([0-9m.]*\)s).*/\1/p' "$WORK/err" | tail -1 |
  awk -F m '{ print (NF > 1 ? $1 * 60 + $2 : $1) }')
[ -n "$ran" ] || { show; fail "no 'finished (...)' progress line"; }
echo "$ran" | awk '{ exit !($1 >= 5.0 && $1 < 5.5) }' || { show; fail "the run's clock says ${ran}s"; }
echo "$elapsed" | awk '{ exit !($1 >= 5.0 && $1 < 15.0) }' || fail "run took ${elapsed}s"
reqs=$(metric_value http_reqs)
[ "$reqs" = "$(target_requests)" ] || { show; fail "summary says $reqs requests, target saw $(target_requests)"; }
[ "$reqs" -gt 50 ] || { show; fail "only $reqs requests in 5 s"; }
[ "$(metric_value iterations)" = "$reqs" ] || { show; fail "iterations != http_reqs"; }
