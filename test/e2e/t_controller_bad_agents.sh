# The controller's side of bad input: agents that break the protocol (simulated by sb-sim-agent
# --misbehave) get a clear error naming the agent, before any load, and the controller never
# hangs: an agent of another protocol version, one that answers hello with bytes that are not a
# frame, one that never answers, and one whose snapshot is inconsistent mid-run.
. "$SB_ROOT/test/e2e/lib.sh"

# sim MODE: starts one misbehaving simulated agent; sets SIM (its address)
sim() {
  "$SB_SIM" --misbehave "$1" >"$WORK/sim-$1.out" 2>&1 &
  PIDS="$PIDS $!"
  i=0
  while ! grep -q '^listening' "$WORK/sim-$1.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "sb-sim-agent did not start: $(cat "$WORK/sim-$1.out")"
    sleep 0.05
  done
  SIM=$(sed -n 's/^listening //p' "$WORK/sim-$1.out" | head -1)
}

start_target
S=$(script t.js <<JS
import http from 'k6/http';
export const options = { vus: 2, duration: '3s' };
export default function () { http.get('$TARGET/'); }
JS
)
# a healthy real agent beside the bad one: it must not be sent any load either
spawn_agent good "$SB_AGENT" --listen 127.0.0.1:0
GOOD=$AGENT_ADDR

sim version
run_sb run -q --agents "$GOOD,$SIM" "$S"
expect_rc 255
expect_err "agent $SIM speaks protocol 99 \(speedboat 99\.0\.0-future\), this controller protocol 1"
[ "$(target_requests)" = 0 ] || fail "load was sent"

sim garbage
run_sb run -q --agents "$GOOD,$SIM" "$S"
expect_rc 255
expect_err "agent $SIM: protocol error: a 8-byte frame is not a valid message"
[ "$(target_requests)" = 0 ] || fail "load was sent"

sim mute
start=$(date +%s)
run_sb run -q --agents "$GOOD,$SIM" "$S"
expect_rc 255
expect_err "agent $SIM: silent for [0-9.]+ s \(before the test started; no load was sent\)"
[ $(( $(date +%s) - start )) -le 8 ] || fail "took $(( $(date +%s) - start )) s to give up on a mute agent"
[ "$(target_requests)" = 0 ] || fail "load was sent"

# mid-run: the run stops (the good agent's load too), the error names the agent and the series
sim bad-snapshot
start=$(date +%s)
run_sb run -q --agents "$GOOD,$SIM" "$S"
expect_rc 255
expect_err "agent $SIM sent a bad snapshot: snapshot series 0 \(metric 'http_req_duration'\)"
[ $(( $(date +%s) - start )) -le 6 ] || fail "took $(( $(date +%s) - start )) s"
# the good agent is free again afterwards
S2=$(script ok.js <<JS
import http from 'k6/http';
export const options = { vus: 1, iterations: 5 };
export default function () { http.get('$TARGET/'); }
JS
)
run_sb run -q --agents "$GOOD" "$S2"
expect_rc 0
[ "$(metric_value iterations)" = 5 ] || { show; fail "the good agent did not run the next test"; }
