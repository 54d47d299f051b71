# The end-of-test summary modes of k6 v1: compact by default (thresholds, then TOTAL RESULTS with
# the checks and the metrics under HTTP / EXECUTION / NETWORK, without the HTTP phase timings),
# full (every metric, a section per group of the default scenario and per other scenario, each
# with its own counts), legacy (the classic layout); --summary-mode, K6_SUMMARY_MODE (the flag
# wins), disabled; summaryTimeUnit; the agents block of a distributed run in every mode. Counts
# are checked against what the target served.
. "$SB_ROOT/test/e2e/lib.sh"
unset K6_SUMMARY_MODE 2>/dev/null || true
start_target

s=$(script modes.js <<JS
import http from 'k6/http';
import { check, group } from 'k6';
export const options = {
  vus: 2, iterations: 10,
  thresholds: { http_req_duration: ['p(95)<5000'], 'http_req_duration{expected_response:true}': ['max<5000'] },
};
export default function () {
  const r = http.get('${TARGET}/');
  check(r, { 'status is 200': (x) => x.status === 200 });
  group('api', function () {
    group('inner', function () { http.get('${TARGET}/?inner=1'); });
  });
}
JS
)

# line REGEX: the single stdout line matching REGEX (fails when there is none)
line() { grep -E -- "$1" "$WORK/out" | head -1 | grep . || { show; fail "no line matching: $1"; }; }

# --- compact (the default)
base=$(target_requests)
run_sb run -q "$s"
expect_rc 0
[ $(( $(target_requests) - base )) = 20 ] || fail "target served $(( $(target_requests) - base ))"
expect_out '^  █ THRESHOLDS$'
expect_out '^    http_req_duration$'
expect_out "^    ✓ 'p\(95\)<5000' p\(95\)=[0-9.]+(µs|ms|s)$"
expect_out '^      \{expected_response:true\}$'
expect_out "^      ✓ 'max<5000' max="
expect_out '^  █ TOTAL RESULTS$'
expect_out '^    checks_total\.+: 10 +[0-9.]+/s$'
expect_out '^    checks_succeeded\.+: 100\.00% 10 out of 10$'
expect_out '^    checks_failed\.+: 0\.00% +0 out of 10$'
expect_out '^    ✓ status is 200$'
expect_out '^    HTTP$'
expect_out '^    http_reqs\.+: 20 +[0-9.]+/s$'
expect_out '^      \{ expected_response:true \}\.+: avg='
expect_out '^    http_req_failed\.+: 0\.00% +0 out of 20$'
expect_out '^    EXECUTION$'
expect_out '^    iterations\.+: 10 '
expect_out '^    vus_max\.+: 2 '
expect_out '^    NETWORK$'
expect_out '^    data_received\.+: [0-9.]+ k?B '
expect_no_out 'http_req_(blocked|connecting|waiting|sending|receiving|tls_handshaking)|group_duration|GROUP:'
expect_no_out ' +$'
# THRESHOLDS, TOTAL RESULTS, then HTTP before EXECUTION before NETWORK
order=$(grep -nE '█ THRESHOLDS|█ TOTAL RESULTS|^    (HTTP|EXECUTION|NETWORK)$' "$WORK/out" | cut -d: -f2 | tr -d ' █' | tr '\n' ,)
[ "$order" = "THRESHOLDS,TOTALRESULTS,HTTP,EXECUTION,NETWORK," ] || { show; fail "sections: $order"; }

# --- the same from K6_SUMMARY_MODE=compact, and a flag over the variable
K6_SUMMARY_MODE=legacy run_sb run -q --summary-mode=compact "$s"
expect_rc 0
expect_out '^  █ TOTAL RESULTS$'

# --- legacy: the classic layout, from the variable
K6_SUMMARY_MODE=legacy run_sb run -q "$s"
expect_rc 0
expect_out '^     ✓ status is 200$'
expect_out '^     checks\.+: 100\.00% ✓ 10 +✗ 0$'
expect_out '^   ✓ http_req_duration\.+: avg='
expect_out '^     http_req_blocked\.+: avg='
expect_out '^     http_reqs\.+: 20 '
expect_no_out 'TOTAL RESULTS|THRESHOLDS'

# --- full: every metric, the groups with their own samples
run_sb run -q --summary-mode=full "$s"
expect_rc 0
expect_out '^  █ TOTAL RESULTS$'
expect_out '^    http_req_blocked\.+: avg='
expect_out '^    http_reqs\.+: 20 '
expect_out '^  █ GROUP: api$'
expect_out '^    ↳ GROUP: inner$'
expect_out '^      http_reqs\.+: 10 '
expect_no_out 'group_duration|SCENARIO:'
[ "$(grep -c 'checks_total' "$WORK/out")" = 1 ] || { show; fail "checks outside the root"; }

# --- full with scenarios: a section each, by name, with its own counts
s2=$(script scenarios.js <<JS
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: {
    zeta: { executor: 'shared-iterations', vus: 1, iterations: 3 },
    alpha: { executor: 'per-vu-iterations', vus: 2, iterations: 2, exec: 'other' },
  },
};
export default function () { http.get('${TARGET}/'); }
export function other() { check(http.get('${TARGET}/'), { 'alpha ok': (r) => r.status === 200 }); }
JS
)
run_sb run -q --summary-mode=full "$s2"
expect_rc 0
expect_out '^    http_reqs\.+: 7 '
a=$(grep -n '█ SCENARIO: alpha' "$WORK/out" | cut -d: -f1)
z=$(grep -n '█ SCENARIO: zeta' "$WORK/out" | cut -d: -f1)
[ -n "$a" ] && [ -n "$z" ] && [ "$a" -lt "$z" ] || { show; fail "scenario sections"; }
[ "$(sed -n "$a,${z}p" "$WORK/out" | grep -cE '^    http_reqs\.+: 4 ')" = 1 ] || { show; fail "alpha's count"; }
[ "$(sed -n "$a,${z}p" "$WORK/out" | grep -cE '^    checks_total\.+: 4 ')" = 1 ] || { show; fail "alpha's checks"; }
[ "$(sed -n "$z,\$p" "$WORK/out" | grep -cE '^    http_reqs\.+: 3 ')" = 1 ] || { show; fail "zeta's count"; }

# --- summaryTimeUnit: every time in that unit, two decimals
s3=$(script unit.js <<JS
import http from 'k6/http';
export const options = { vus: 1, iterations: 2, summaryTimeUnit: 'ms' };
export default function () { http.get('${TARGET}/'); }
JS
)
run_sb run -q "$s3"
expect_rc 0
expect_out '^    http_req_duration\.+: avg=[0-9]+\.[0-9][0-9]ms min=[0-9]+\.[0-9][0-9]ms'
expect_out "p\(95\)=[0-9]+\.[0-9][0-9]ms$"

# --- disabled, and a mode that does not exist
run_sb run -q --summary-mode=disabled "$s"
expect_rc 0
[ ! -s "$WORK/out" ] || { show; fail "a summary with --summary-mode=disabled"; }
run_sb run -q --summary-mode=short "$s"
expect_rc 2
expect_err "summary mode 'short': expected compact, full, legacy or disabled"
K6_SUMMARY_MODE=nope run_sb run -q "$s"
expect_rc 2
expect_err "K6_SUMMARY_MODE: summary mode 'nope'"

# --- distributed: the agents block after the summary in every mode
start_agents 2
for mode in compact full legacy; do
  base=$(target_requests)
  run_sb run -q --agents "$AGENTS" --summary-mode=$mode "$s"
  expect_rc 0
  [ $(( $(target_requests) - base )) = 20 ] || fail "$mode: target served $(( $(target_requests) - base ))"
  expect_out 'agents: 2 connected, 0 lost'
  [ "$(agents_iterations_sum)" = 10 ] || { show; fail "$mode: agents' iterations $(agents_iterations_sum)"; }
  last=$(grep -nE '^ *[✓✗] [^ ]+  clock offset' "$WORK/out" | tail -1 | cut -d: -f1)
  http=$(grep -nE 'http_reqs\.+: 20 ' "$WORK/out" | head -1 | cut -d: -f1)
  [ -n "$http" ] && [ "$http" -lt "$last" ] || { show; fail "$mode: the agents block is not after the summary"; }
done
echo ok
