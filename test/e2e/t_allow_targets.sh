# issue 10: an agent started with --allow-targets opens connections only to what it lists. A
# request elsewhere (a loopback alias, a redirect to it, a name the test maps there with `hosts`)
# fails with error_code 1112 and is counted in http_reqs/http_req_failed, and the target behind it
# sees nothing; the allowed target is served as usual. A test naming a refused target statically
# is refused at prepare, before any VU. Without the flag everything is allowed, as before.
. "$SB_ROOT/test/e2e/lib.sh"

start_target                                    # 127.0.0.1: allowed
T1=$TARGET
"$SB_TARGET" --listen 127.0.0.2:0 >"$WORK/t2.out" 2>"$WORK/t2.err" &
PIDS="$PIDS $!"
wait_file '^listening' "$WORK/t2.out"
T2_PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$WORK/t2.out" | head -1)
T2="http://127.0.0.2:$T2_PORT"
t2_requests() { curl -s "$T2/stats" | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p'; }
[ "$(t2_requests)" = 0 ] || fail "the 127.0.0.2 target is not up"

spawn_agent agent "$SB_AGENT" --listen 127.0.0.1:0 --allow-targets 127.0.0.1/32
grep -q 'allow_targets="127.0.0.1/32"' "$WORK/agent.err" || fail "the policy is not logged: $(cat "$WORK/agent.err")"

S=$(script allow.js <<JS
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, hosts: { 'mapped.test': '127.0.0.2' } };
export default function () {
  const base = ['$T1', '$T2', 'http://mapped.test:$T2_PORT'];
  const ok = http.get(base[0] + '/');
  const direct = http.get(base[1] + '/');
  const redirected = http.get(base[0] + '/redirect?n=1&to=' + encodeURIComponent(base[1] + '/echo'));
  const mapped = http.get(base[2] + '/');
  check(ok, { 'allowed served': (r) => r.status === 200 });
  check(direct, { 'alias refused 1112': (r) => r.status === 0 && r.error_code === 1112 });
  check(redirected, { 'redirect refused 1112': (r) => r.status === 0 && r.error_code === 1112 });
  check(mapped, { 'hosts override refused 1112': (r) => r.status === 0 && r.error_code === 1112 });
  console.log('refusal: ' + direct.error);
}
JS
)
run_sb run --no-target-check --agents "$AGENT_ADDR" "$S"
expect_rc 0
expect_out "✓ allowed served"
expect_out "✓ alias refused 1112"
expect_out "✓ redirect refused 1112"
expect_out "✓ hosts override refused 1112"
expect_err "refusal: dial: the agent's --allow-targets does not allow this address"
[ "$(metric_value http_reqs)" = 5 ] || { show; fail "expected 5 http_reqs (the redirect's first hop and three refusals counted)"; }
expect_out "http_req_failed.*: 60\.00% +3 out of 5"
[ "$(t2_requests)" = 0 ] || fail "the refused target was reached: $(t2_requests) requests"

# a target the script names statically: refused at prepare, naming the flag
S2=$(script named.js <<JS
import http from 'k6/http';
export default function () { http.get('$T2/'); }
JS
)
run_sb run --agents "$AGENT_ADDR" "$S2"
[ "$RC" -ne 0 ] || { show; fail "a test naming a refused target ran"; }
expect_err "names 127\.0\.0\.2:$T2_PORT, which this agent's --allow-targets \(127\.0\.0\.1/32\) does not allow"
[ "$(t2_requests)" = 0 ] || fail "the refused target was reached at prepare"

# a bad list: the agent does not start, and says which entry
set +e
"$SB_AGENT" --listen 127.0.0.1:0 --allow-targets 10.0.0.0/40 >/dev/null 2>"$WORK/bad.err"
BRC=$?
set -e
[ "$BRC" -eq 2 ] || fail "a bad --allow-targets exited $BRC"
grep -q "'10.0.0.0/40': prefix length must be 0..32" "$WORK/bad.err" || fail "$(cat "$WORK/bad.err")"

# no flag: every target, as before (local run)
run_sb run --no-target-check "$S"
expect_out "✗ alias refused 1112"
[ "$(t2_requests)" -ge 2 ] || fail "without --allow-targets the 127.0.0.2 target should be served"
