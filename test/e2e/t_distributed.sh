# Distributed runs on loopback: one controller, 1 to 5 agent processes on different ports, one
# merged result. Iterations exactly as configured whatever the split (shared-iterations,
# per-vu-iterations, constant-vus, ramping-vus, two scenarios, fewer VUs than agents), the
# agents block adding up to the summary and to what the target served, start skew and clock
# offsets, weights, __VU numbered across the fleet, setup()/teardown() once with setup's data on
# every agent, merged p(95) against the exact value from the raw points, thresholds judged over
# the fleet, abortOnFail stopping every agent, the metric stream's size following tag sets and
# not the request rate, the fleet's vus gauges.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout

start_target
start_agents 5
ALL5=$AGENTS
# first_agents N: the first N of the five addresses, comma-separated
first_agents() { echo "$ALL5" | cut -d, -f"1-$1"; }

# expect_metric NAME VALUE: the summary's NAME is exactly VALUE
expect_metric() {
  [ "$(metric_value "$1")" = "$2" ] || { show; fail "$1 is '$(metric_value "$1")', expected $2"; }
}

# check_block LIST TOTAL: the agents block lists every agent of LIST as connected, none lost;
# its per-agent iterations add up to TOTAL, and every agent with VUs did some.
check_block() {
  n=$(echo "$1" | tr ',' '\n' | wc -l)
  expect_out "agents: $n connected, 0 lost"
  for a in $(echo "$1" | tr ',' ' '); do
    row=$(agent_row "$a")
    [ -n "$row" ] || { show; fail "no agents-block line for $a"; }
    case "$row" in *✓*) ;; *) show; fail "agent $a not marked ok: $row" ;; esac
    v=$(agent_vus "$a"); it=$(agent_iterations "$a")
    [ -n "$it" ] || { show; fail "no iterations for $a: $row"; }
    [ "${v:-0}" -eq 0 ] || [ "$it" -gt 0 ] || { show; fail "agent $a has $v VUs but did no iteration"; }
  done
  [ "$(agents_iterations_sum)" = "$2" ] || { show; fail "agents' iterations add up to $(agents_iterations_sum), expected $2"; }
}

# --- shared-iterations: vus 7, iterations 101, over 1, 2, 3 and 5 agents
S=$(script shared.js <<JS
import http from 'k6/http';
export const options = { vus: 7, iterations: 101 };
export default function () { http.get('$TARGET/'); }
JS
)
for n in 1 2 3 5; do
  before=$(target_requests)
  run_sb run -q --agents "$(first_agents "$n")" "$S"
  expect_rc 0
  expect_metric iterations 101
  expect_metric http_reqs 101
  [ $(($(target_requests) - before)) -eq 101 ] || fail "$n agents: the target served $(($(target_requests) - before)), expected 101"
  check_block "$(first_agents "$n")" 101
  # the VUs are split too: 7 in all
  vs=0; for a in $(first_agents "$n" | tr ',' ' '); do vs=$((vs + $(agent_vus "$a"))); done
  [ "$vs" -eq 7 ] || { show; fail "$n agents: their VUs add up to $vs, expected 7"; }
  # one start instant for the fleet: on loopback the skew is well under 100 ms
  skew=$(sed -n 's/.*agents: .* start skew \([0-9.]*\) ms.*/\1/p' "$WORK/out")
  [ "$n" = 1 ] || [ -n "$skew" ] && awk -v s="${skew:-0}" 'BEGIN { exit !(s < 100) }' || { show; fail "$n agents: start skew '$skew' ms"; }
  [ "$(grep -c 'clock offset [-+][0-9.]* ms, rtt [0-9.]* ms' "$WORK/out")" = "$n" ] || { show; fail "$n agents: no clock offset for each"; }
done

# the same from an --agents-file (comments and blank lines allowed)
printf '# the fleet\n%s\n\n%s\n%s\n' "$(agent_addr 1)" "$(agent_addr 2)" "$(agent_addr 3)" >"$WORK/agents.txt"
run_sb run -q --agents-file "$WORK/agents.txt" "$S"
expect_rc 0
expect_metric iterations 101
check_block "$(first_agents 3)" 101

# --- per-vu-iterations: 7 VUs x 13 = 91 over 3 agents; each agent did 13 per VU it had
S=$(script pervu.js <<JS
import http from 'k6/http';
export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 7, iterations: 13 } } };
export default function () { http.get('$TARGET/'); }
JS
)
before=$(target_requests)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 0
expect_metric iterations 91
expect_metric http_reqs 91
[ $(($(target_requests) - before)) -eq 91 ] || fail "per-vu-iterations: the target served $(($(target_requests) - before))"
check_block "$(first_agents 3)" 91
for a in $(first_agents 3 | tr ',' ' '); do
  [ "$(agent_iterations "$a")" -eq $((13 * $(agent_vus "$a"))) ] || { show; fail "agent $a: not 13 iterations per VU"; }
done
cp "$WORK/out" "$WORK/pervu.out"   # its vus gauge is checked at the end

# --- constant-vus for a short duration over 5 agents: counts agree three ways
S=$(script constant.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { c: { executor: 'constant-vus', vus: 5, duration: '1500ms' } } };
export default function () { http.get('$TARGET/'); sleep(0.02); }
JS
)
before=$(target_requests)
run_sb run -q --agents "$ALL5" "$S"
expect_rc 0
its=$(metric_value iterations)
[ "${its:-0}" -gt 20 ] || { show; fail "constant-vus: only ${its:-0} iterations"; }
expect_metric http_reqs "$its"
[ $(($(target_requests) - before)) -eq "$its" ] || fail "constant-vus: the target served $(($(target_requests) - before)), summary says $its"
check_block "$ALL5" "$its"
for a in $(echo "$ALL5" | tr ',' ' '); do [ "$(agent_vus "$a")" = 1 ] || { show; fail "agent $a: not 1 VU"; }; done

# --- fewer VUs than agents: 2 VUs over 5 agents, three agents idle, still exactly 10
S=$(script few.js <<JS
import http from 'k6/http';
export const options = { vus: 2, iterations: 10 };
export default function () { http.get('$TARGET/'); }
JS
)
before=$(target_requests)
run_sb run -q --agents "$ALL5" "$S"
expect_rc 0
expect_metric iterations 10
[ $(($(target_requests) - before)) -eq 10 ] || fail "2 VUs over 5 agents: the target served $(($(target_requests) - before))"
check_block "$ALL5" 10
idle=0; for a in $(echo "$ALL5" | tr ',' ' '); do [ "$(agent_vus "$a")" != 0 ] || idle=$((idle + 1)); done
[ "$idle" = 3 ] || { show; fail "2 VUs over 5 agents: $idle idle agents, expected 3"; }

# --- ramping-vus and two scenarios at once over 3 agents: every scenario split, counts exact.
# gracefulRampDown 1s: a VU let go mid-iteration finishes it (with 0s, one interrupted after its
# request but before its sleep ended counts the request and not the iteration, as k6 does).
S=$(script multi.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
const fixedIters = new Counter('fixed_iters');
export const options = { scenarios: {
  ramp: { executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '600ms', target: 6 }, { duration: '600ms', target: 6 }, { duration: '300ms', target: 0 }], gracefulRampDown: '1s' },
  fixed: { executor: 'shared-iterations', vus: 3, iterations: 50, exec: 'fixed' },
} };
export default function () { http.get('$TARGET/ramp'); sleep(0.02); }
export function fixed() { http.get('$TARGET/fixed'); fixedIters.add(1); }
JS
)
before=$(target_requests)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 0
its=$(metric_value iterations)
[ "${its:-0}" -gt 60 ] || { show; fail "ramping + shared: only ${its:-0} iterations"; }
[ $(($(target_requests) - before)) -eq "$its" ] || { show; fail "ramping + shared: the target served $(($(target_requests) - before)), summary $its"; }
check_block "$(first_agents 3)" "$its"
expect_out "^ *vus_max\.*: 9 "
for a in $(first_agents 3 | tr ',' ' '); do [ "$(agent_vus "$a")" = 3 ] || { show; fail "agent $a: not 3 of the 9 VUs"; }; done
# the shared-iterations scenario alone did exactly its 50, over all the agents
expect_metric fixed_iters 50

# --- weights: @3 gets three times the VUs (and of shared iterations)
S=$(script weights.js <<JS
import http from 'k6/http';
export const options = { vus: 8, iterations: 100 };
export default function () { http.get('$TARGET/'); }
JS
)
A1=$(agent_addr 1); A2=$(agent_addr 2)
run_sb run -q --agents "$A1@3,$A2" "$S"
expect_rc 0
expect_metric iterations 100
[ "$(agent_vus "$A1")" = 6 ] && [ "$(agent_vus "$A2")" = 2 ] ||
  { show; fail "weights 3:1 of 8 VUs: got $(agent_vus "$A1") and $(agent_vus "$A2"), expected 6 and 2"; }
[ "$(agent_iterations "$A1")" = 75 ] && [ "$(agent_iterations "$A2")" = 25 ] ||
  { show; fail "weights 3:1 of 100 iterations: got $(agent_iterations "$A1") and $(agent_iterations "$A2")"; }

# --- __VU numbered across the fleet: 7 VUs over 5 agents log 1..7, each exactly once, and agent
# 1's VUs come first
S=$(script vu.js <<'JS'
export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 7, iterations: 3 } } };
export default function () { if (__ITER === 0) console.log(`vu=${__VU}`); }
JS
)
run_sb run -q --agents "$ALL5" "$S"
expect_rc 0
got=$(sed -n 's/.*vu=\([0-9]*\) .*/\1/p' "$WORK/err" | sort -n | tr '\n' ' ')
[ "$got" = "1 2 3 4 5 6 7 " ] || { show; fail "__VU across the fleet: got '$got', expected 1..7 once each"; }
grep 'vu=1 ' "$WORK/err" | grep -q "agent=$(agent_addr 1)" || { show; fail "__VU 1 is not on the first agent"; }
# every line from a VU names its agent, and every agent with VUs logged
for a in $(echo "$ALL5" | tr ',' ' '); do
  [ "$(agent_vus "$a")" -eq 0 ] || grep -q "vu=.* agent=$a\$" "$WORK/err" || { show; fail "no VU line from $a"; }
done

# --- setup() and teardown() once in the fleet; setup's data reaches every VU on every agent
S=$(script setup.js <<'JS'
import { Counter } from 'k6/metrics';
const fromSetup = new Counter('from_setup');
export const options = { vus: 6, iterations: 60 };
export function setup() { console.log('setup ran'); return { k: 42 }; }
export default function (data) {
  fromSetup.add(data.k);
  if (__ITER === 0) console.log(`vu=${__VU} k=${data.k}`);
}
export function teardown(data) { console.log(`teardown ran k=${data.k}`); }
JS
)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 0
expect_metric from_setup 2520
[ "$(grep -c 'setup ran' "$WORK/err")" = 1 ] || { show; fail "setup() did not run exactly once"; }
[ "$(grep -c 'teardown ran k=42' "$WORK/err")" = 1 ] || { show; fail "teardown() did not run exactly once with setup's data"; }
for a in $(first_agents 3 | tr ',' ' '); do
  grep -q "k=42 .*agent=$a\$" "$WORK/err" || { show; fail "setup's data did not reach the VUs of $a"; }
done

# --- merged p(95) within 1% of the exact value (k6: linear interpolation between closest ranks)
S=$(script trend.js <<'JS'
import { Trend } from 'k6/metrics';
const t = new Trend('my_trend');
export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 6, iterations: 50 } } };
export default function () { t.add(1 + ((__VU * 7919 + __ITER * 104729) % 10007) / 10); }
JS
)
exact=$(awk 'BEGIN { for (vu = 1; vu <= 6; vu++) for (i = 0; i < 50; i++) print 1 + ((vu * 7919 + i * 104729) % 10007) / 10 }' |
  sort -g | awk '{ v[NR] = $1 } END { p = 0.95 * (NR - 1); lo = int(p); printf "%.6f", v[lo + 1] + (v[lo + 2] - v[lo + 1]) * (p - lo) }')
run_sb run -q --summary-trend-stats "p(95)" --agents "$(first_agents 3)" "$S"
expect_rc 0
expect_metric iterations 300
got=$(sed -n 's/^ *my_trend\.*: *p(95)=\([0-9.]*\).*/\1/p' "$WORK/out")
[ -n "$got" ] || { show; fail "no p(95) for my_trend"; }
awk -v g="$got" -v e="$exact" 'BEGIN { d = (g - e) / e; if (d < 0) d = -d; exit !(d <= 0.01) }' ||
  { show; fail "merged p(95) $got is not within 1% of the exact $exact"; }
# and the merge is exact: the same as one process running every VU
dist=$got
cp "$WORK/out" "$WORK/trend.out"   # its vus gauge is checked at the end
run_sb run -q --summary-trend-stats "p(95)" "$S"
expect_rc 0
[ "$(sed -n 's/^ *my_trend\.*: *p(95)=\([0-9.]*\).*/\1/p' "$WORK/out")" = "$dist" ] ||
  { show; fail "3 agents give p(95)=$dist, one process another"; }

# --- thresholds over the fleet: 101 requests over 3 agents, none of which did 101 alone
S=$(script th_pass.js <<JS
import http from 'k6/http';
export const options = { vus: 6, iterations: 101, thresholds: { http_reqs: ['count>=101'] } };
export default function () { http.get('$TARGET/'); }
JS
)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 0
expect_out "✓ http_reqs"
S=$(script th_fail.js <<JS
import http from 'k6/http';
export const options = { vus: 6, iterations: 101, thresholds: { http_reqs: ['count>101'] } };
export default function () { http.get('$TARGET/'); }
JS
)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 99
expect_out "✗ http_reqs"
expect_metric http_reqs 101
# a rate threshold on a check, judged on the merged rate: agent 1's VUs (1 and 2 of 6) fail
# their check, so the fleet's rate is 2/3 whatever each agent saw alone
S=$(script th_rate.js <<'JS'
import { check } from 'k6';
export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 6, iterations: 10 } },
  thresholds: { checks: ['rate>0.6', 'rate<0.7'] } };
export default function () { check(__VU, { 'big VU': (v) => v > 2 }); }
JS
)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 0
expect_out "checks.*66\.66%|checks.*66\.67%"

# --- abortOnFail stops every agent: a threshold that fails at once ends a 30 s run quickly
S=$(script abort.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  scenarios: { c: { executor: 'constant-vus', vus: 3, duration: '30s' } },
  thresholds: { http_reqs: [{ threshold: 'count<5', abortOnFail: true }] },
};
export default function () { http.get('$TARGET/'); sleep(0.01); }
JS
)
t0=$(now_ms)
run_sb run -q --agents "$(first_agents 3)" "$S"
took=$(($(now_ms) - t0))
expect_rc 99
[ "$took" -lt 8000 ] || fail "abortOnFail: the run took $took ms"
echo "abortOnFail ended the 30 s run after $took ms"
expect_out "✗ http_reqs"
expect_out "agents: 3 connected, 0 lost"
t1=$(now_ms)
target_goes_quiet "$t1" 1000
# the agents are free: a new run goes through on all three
S=$(script after.js <<JS
import http from 'k6/http';
export const options = { vus: 3, iterations: 9 };
export default function () { http.get('$TARGET/'); }
JS
)
run_sb run -q --agents "$(first_agents 3)" "$S"
expect_rc 0
expect_metric iterations 9

# --- the metric stream grows with the (metric, tag set) pairs, not with the request rate: at
# full speed (no sleep, thousands of requests/s) an agent's stream stays within a few times that
# at ~10 requests/s, while 40 URLs (40 tag sets) at ~100 requests/s cost more than either
# stream_run SLEEP URLS: a 2 s constant-vus run, 1 VU per agent; sets STREAM (agent 1's B/s) and
# REQS (its requests)
stream_run() {
  S=$(script "stream_$1_$2.js" <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { c: { executor: 'constant-vus', vus: 3, duration: '2s' } } };
export default function () { http.get('$TARGET/u' + (__ITER % $2)); if ($1 > 0) sleep($1); }
JS
)
  run_sb run -q --agents "$(first_agents 3)" "$S"
  expect_rc 0
  STREAM=$(agent_row "$(agent_addr 1)" | sed -n 's/.*metric stream \([0-9]*\) B\/s.*/\1/p')
  REQS=$(agent_requests "$(agent_addr 1)")
  [ -n "$STREAM" ] && [ "$STREAM" -gt 0 ] || { show; fail "no metric stream rate for agent 1"; }
}
stream_run 0.1 1; low=$STREAM; low_reqs=$REQS
stream_run 0 1; high=$STREAM; high_reqs=$REQS
stream_run 0.01 40; many=$STREAM
echo "metric stream per agent: $low B/s at $low_reqs requests, $high B/s at $high_reqs, $many B/s for 40 URLs"
[ "$high_reqs" -gt $((20 * low_reqs)) ] || fail "the full-speed run was not fast enough to compare ($high_reqs vs $low_reqs requests)"
[ "$high" -lt $((8 * low)) ] || fail "the metric stream grew with the rate: $low B/s -> $high B/s for $low_reqs -> $high_reqs requests"
[ "$many" -gt $((2 * low)) ] || fail "40 tag sets did not grow the stream: $low B/s -> $many B/s"

# --- the fleet's vus gauges: all 7 VUs of the quick per-vu-iterations run over 3 agents ran at
# once, as one process running them would report (bugs.md: the merged max fell to 3..5)
cp "$WORK/pervu.out" "$WORK/out"
expect_out "^ *vus_max\.*: 7 .*max=7"
expect_out "^ *vus\.*: [0-9]+ .*max=7"
# the same for the trend run (6 VUs over 3 agents, iterations that take microseconds)
cp "$WORK/trend.out" "$WORK/out"
expect_out "^ *vus_max\.*: 6 .*max=6"
expect_out "^ *vus\.*: [0-9]+ .*max=6"
echo "ok"
