# teardown() runs exactly once in the fleet even when agents come and go around it: an agent that
# already finished its share and dies while another runs teardown() is not lost work (exit 0, no
# second teardown); the agent running teardown() dying moves it to a surviving agent, once.
. "$SB_ROOT/test/e2e/lib.sh"

start_target
S=$(script td.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 3, duration: '1s' };
export function setup() { console.log('setup ran'); return { v: 7 }; }
export default function (d) { http.get('$TARGET/'); sleep(0.1); }
export function teardown(d) { console.log('teardown ran with ' + d.v); sleep(2); console.log('teardown done'); }
JS
)

# 1. agent 3 (not the one running teardown, which is agent 1) dies during teardown
start_agents 3
run_bg() {
  "$SB_BIN" run -q --agents "$AGENTS" "$S" >"$WORK/out" 2>"$WORK/err" &
  CTL=$!
}
wait_teardown() { # until the controller's log shows teardown() started (10 s at most)
  i=0
  while ! grep -q 'teardown ran' "$WORK/err"; do
    i=$((i + 1)); [ $i -lt 200 ] || { show; fail "teardown never started"; }
    sleep 0.05
  done
}
run_bg
wait_teardown
kill -9 "$(agent_pid 3)"
set +e; wait "$CTL"; RC=$?; set -e
expect_rc 0
[ "$(grep -c 'teardown ran with 7' "$WORK/err")" = 1 ] || { show; fail "teardown ran $(grep -c 'teardown ran' "$WORK/err") times"; }
[ "$(grep -c 'teardown done' "$WORK/err")" = 1 ] || { show; fail "teardown did not finish once"; }
[ "$(grep -c 'setup ran' "$WORK/err")" = 1 ] || { show; fail "setup did not run once"; }

# 2. the agent running teardown (agent 4: the first of the new fleet) dies during it: teardown
# runs again on another agent, once, and the run still ends
start_agents 2
run_bg
wait_teardown
first=$(sed -n 's/.*teardown ran with 7 .*agent=\([^ ]*\).*/\1/p' "$WORK/err" | head -1)
[ "$first" = "$(agent_addr 4)" ] || { show; fail "teardown started on $first, expected $(agent_addr 4)"; }
kill -9 "$(agent_pid 4)"
set +e; wait "$CTL"; RC=$?; set -e
[ "$RC" -eq 0 ] || [ "$RC" -eq 111 ] || { show; fail "exit code $RC"; }
[ "$(grep -c 'teardown ran with 7' "$WORK/err")" = 2 ] || { show; fail "teardown ran $(grep -c 'teardown ran' "$WORK/err") times, expected once more after the loss"; }
second=$(sed -n 's/.*teardown ran with 7 .*agent=\([^ ]*\).*/\1/p' "$WORK/err" | sed -n 2p)
[ "$second" = "$(agent_addr 5)" ] || { show; fail "teardown re-ran on $second, expected $(agent_addr 5)"; }
[ "$(grep -c 'teardown done' "$WORK/err")" = 1 ] || { show; fail "teardown did not finish exactly once"; }
