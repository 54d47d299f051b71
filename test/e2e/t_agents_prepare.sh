# Before any load: every agent checks it can reach the URLs the script writes out (and -e URL
# values), refuses a share bigger than its --max-vus, and reports init code that throws on it —
# each a clear error naming the agent, with no request sent.
. "$SB_ROOT/test/e2e/lib.sh"

start_target
spawn_agent a "$SB_AGENT" --listen 127.0.0.1:0; A=$AGENT_ADDR
spawn_agent b "$SB_AGENT" --listen 127.0.0.1:0 --max-vus 3; B=$AGENT_ADDR
# a port nothing listens on (tcpmux, never served on a test machine)
DEAD=1

S=$(script dead.js <<JS
import http from 'k6/http';
export const options = { vus: 2, iterations: 10 };
export default function () { http.get('$TARGET/'); http.get('http://127.0.0.1:$DEAD/x'); }
JS
)
run_sb run -q --agents "$A,$B" "$S"
expect_rc 255
expect_err "ERRO agent 127\.0\.0\.1:[0-9]+: cannot reach 127\.0\.0\.1:$DEAD: Connection refused"
[ "$(target_requests)" = 0 ] || fail "load was sent: $(target_requests) requests"
# the first agent to answer ends the run, so either may be the one that logged it
cat "$WORK/a.err" "$WORK/b.err" | grep -q "cannot reach 127.0.0.1:$DEAD" ||
  fail "no agent logged it: $(cat "$WORK/a.err" "$WORK/b.err")"

# --no-target-check: the run goes on, the dead URL's requests fail as in k6
run_sb run -q --no-target-check --agents "$A,$B" "$S"
expect_rc 0
[ "$(metric_value iterations)" = 10 ] || { show; fail "iterations: $(metric_value iterations)"; }
expect_out "http_req_failed.*50\.00%"

# an -e URL value is a target too
S2=$(script env.js <<'JS'
import http from 'k6/http';
export const options = { vus: 1, iterations: 1 };
export default function () { http.get(`${__ENV.BASE}/x`); }
JS
)
run_sb run -q -e "BASE=http://127.0.0.1:$DEAD" --agents "$A" "$S2"
expect_rc 255
expect_err "cannot reach 127\.0\.0\.1:$DEAD"

# a share bigger than an agent's --max-vus: refused before the start (b may run 3 VUs; half of 10
# is 5)
S3=$(script big.js <<JS
import http from 'k6/http';
export const options = { vus: 10, iterations: 10 };
export default function () { http.get('$TARGET/'); }
JS
)
before=$(target_requests)
run_sb run -q --agents "$A,$B" "$S3"
[ "$RC" -ne 0 ] || { show; fail "a share over --max-vus was accepted"; }
expect_err "agent $B: its share of the test needs 5 VUs, more than its --max-vus 3"
[ "$(target_requests)" = "$before" ] || fail "load was sent despite --max-vus"

# init code that throws only on the agents (the controller's own init run has __VU 0)
S4=$(script init.js <<JS
import http from 'k6/http';
if (__VU === 2) { throw new Error('no VU 2 here'); }
export const options = { vus: 2, iterations: 4 };
export default function () { http.get('$TARGET/'); }
JS
)
run_sb run -q --agents "$A,$B" "$S4"
expect_rc 107
expect_err "agent 127\.0\.0\.1:[0-9]+: .*no VU 2 here"
[ "$(target_requests)" = "$before" ] || fail "load was sent despite the init error"
# both agents are free again: a good run goes through
run_sb run -q --agents "$A,$B" "$S3" --no-target-check -u 4
expect_rc 0
[ "$(metric_value iterations)" = 10 ] || { show; fail "iterations after the errors: $(metric_value iterations)"; }
