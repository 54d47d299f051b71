# Open model: constant-arrival-rate starts its iterations on schedule whatever the target's
# latency. Over 30 s against a target answering in 50 ms, the achieved rate is the asked one
# within 1% (counted by the target itself), locally and cut over three agents (each agent its
# stripe of the iteration numbers, the fleet's total exact); a scenario's tags reach every sample
# and its env its VUs; too few VUs for the latency drop iterations (dropped_iterations) and make
# VUs mid-test up to maxVUs (vus_max grows), every due start counted once; ramping-arrival-rate
# starts the area under its stages; `--vus N` alone is N iterations shared among N VUs (k6 v2).
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout

start_target

# expect_metric_near NAME WANT PCT: the summary's NAME is within PCT% of WANT.
expect_metric_near() {
  v=$(metric_value "$1")
  [ -n "$v" ] || { show; fail "no $1 in the summary"; }
  awk -v v="$v" -v w="$2" -v p="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= w * p / 100) }' ||
    { show; fail "$1 is $v, expected $2 within $3%"; }
}

S=$(script car.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: {
    open: {
      executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '30s',
      preAllocatedVUs: 40, maxVUs: 100, gracefulStop: '5s',
      tags: { kind: 'open' }, env: { WHO: 'scenario' },
    },
  },
  thresholds: {
    'http_reqs{kind:open}': ['count>5900'],
    'checks{kind:open}': ['rate==1'],
  },
};
export default function () {
  const res = http.get(`${__ENV.TARGET}/ar?delay=50`);
  check(res, { 'status 200': (r) => r.status === 200, 'scenario env': () => __ENV.WHO === 'scenario' });
}
JS
)

# --- locally: 200/s for 30 s is 6000 iterations (~10 in flight: 40 VUs leave room for a stall of
# the machine; a start that still finds no VU is dropped and misses the 1%)
before=$(target_requests)
run_sb run -e TARGET="$TARGET" "$S"
expect_rc 0
expect_out 'open: 200.00 iterations/s for 30s \(maxVUs: 40-100, gracefulStop: 5s\)'
expect_out "✓ 'http_reqs\{kind:open\}'|✓ \{ kind:open \}"
served=$(( $(target_requests) - before ))
it=$(metric_value iterations)
[ "$it" = "$served" ] || { show; fail "summary says $it iterations, the target served $served"; }
expect_metric_near iterations 6000 1
echo "local: $it iterations in 30 s (asked 6000), $(metric_value dropped_iterations) dropped;" \
  "$(grep -o 'iteration_start_delay.*' "$WORK/out")"

# --- three agents: the same 6000, each agent about a third, the target serving exactly them
start_agents 3
before=$(target_requests)
run_sb run --agents "$AGENTS" -e TARGET="$TARGET" "$S"
expect_rc 0
expect_out 'agents: 3 connected, 0 lost'
served=$(( $(target_requests) - before ))
it=$(metric_value iterations)
[ "$it" = "$served" ] || { show; fail "summary says $it iterations, the target served $served"; }
expect_metric_near iterations 6000 1
[ "$(agents_iterations_sum)" = "$it" ] || { show; fail "the agents' iterations do not add up to $it"; }
for a in $(echo "$AGENTS" | tr ',' ' '); do
  n=$(agent_iterations "$a")
  awk -v n="$n" 'BEGIN { exit !(n >= 1900 && n <= 2100) }' || { show; fail "agent $a ran $n iterations, not a third"; }
done
echo "3 agents: $it iterations in 30 s (asked 6000)"

# --- too few VUs: 100/s for 3 s at 200 ms needs 20 VUs; with 2 to 5, most starts drop, VUs are
# made mid-test up to maxVUs, and every due start is either run or dropped
D=$(script drop.js <<'JS'
import http from 'k6/http';
export const options = {
  scenarios: {
    tight: { executor: 'constant-arrival-rate', rate: 100, duration: '3s', preAllocatedVUs: 2,
             maxVUs: 5 },
  },
};
export default function () { http.get(`${__ENV.TARGET}/tight?delay=200`); }
JS
)
run_sb run -e TARGET="$TARGET" "$D"
expect_rc 0
expect_err 'Insufficient VUs, reached 5 active VUs and cannot initialize more'
dropped=$(metric_value dropped_iterations); it=$(metric_value iterations)
[ -n "$dropped" ] && [ "$dropped" -gt 0 ] || { show; fail "no dropped_iterations"; }
[ $((dropped + it)) -eq 300 ] || { show; fail "$it iterations + $dropped dropped != 300 due"; }
expect_out 'vus_max\.*: 5 ' # made mid-test: only 2 existed before the start
echo "tight: $it iterations, $dropped dropped, vus_max 2 -> 5"

# --- ramping-arrival-rate: 0 -> 40/s over 2 s then 40/s for 1 s: the area, 40 + 40
R=$(script ramp.js <<'JS'
import http from 'k6/http';
export const options = {
  scenarios: {
    ramp: { executor: 'ramping-arrival-rate', startRate: 0, preAllocatedVUs: 5, maxVUs: 10,
            stages: [{ duration: '2s', target: 40 }, { duration: '1s', target: 40 }] },
  },
};
export default function () { http.get(`${__ENV.TARGET}/ramp`); }
JS
)
run_sb run -e TARGET="$TARGET" "$R"
expect_rc 0
expect_out 'ramp: Up to 40.00 iterations/s for 3s over 2 stages \(maxVUs: 5-10, gracefulStop: 30s\)'
[ "$(metric_value iterations)" = 80 ] || { show; fail "ramping-arrival-rate ran $(metric_value iterations) iterations, expected 80"; }

# --- k6 v2: --vus alone is as many iterations shared among as many VUs
V=$(script vus.js <<'JS'
export default function () {}
JS
)
run_sb run --vus 3 "$V"
expect_rc 0
expect_out 'default: 3 iterations shared among 3 VUs'
[ "$(metric_value iterations)" = 3 ] || { show; fail "--vus 3 ran $(metric_value iterations) iterations"; }
