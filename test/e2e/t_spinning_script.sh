# A script that never yields (a busy loop that even swallows exceptions) cannot hang a run: the
# engine interrupts it once the scenario's gracefulStop is over, and a lost controller frees the
# agent from it too.
. "$SB_ROOT/test/e2e/lib.sh"

S=$(script spin.js <<'JS'
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '1s' } } };
export default function () { for (;;) { try { } catch (e) {} } }
JS
)
start=$(date +%s)
set +e
timeout 20 "$SB_BIN" run -q "$S" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
[ "$RC" -ne 124 ] || fail "the run hung on a spinning script"
expect_rc 0
[ $(( $(date +%s) - start )) -le 10 ] || fail "took $(( $(date +%s) - start )) s, expected about 6"
expect_out "vus_max.*: 2 "

# the same script on an agent whose controller is killed: the agent is free again within 5 s
spawn_agent agent "$SB_AGENT" --listen 127.0.0.1:0
S2=$(script spin2.js <<'JS'
export const options = { vus: 2, duration: '60s' };
export default function () { for (;;) { try { } catch (e) {} } }
JS
)
"$SB_BIN" run -q --agents "$AGENT_ADDR" "$S2" >/dev/null 2>&1 &
CTL=$!
# killed once the agent has it and its VUs spin (the controller compiles first: seconds under
# ASan on a slow VM, where a fixed 2 s killed it before it connected and nothing was to be freed)
wait_file 'msg="controller authenticated' "$WORK/agent.err" 60
sleep 2
kill -9 "$CTL"
i=0
while ! grep -q 'msg="controller disconnected"' "$WORK/agent.err"; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$WORK/agent.err"; fail "agent still busy 5 s after its controller died"; }
  sleep 0.05
done
grep -q 'controller lost' "$WORK/agent.err" || fail "no 'controller lost' line: $(cat "$WORK/agent.err")"
S3=$(script ok.js <<'JS'
export const options = { vus: 1, iterations: 3 };
export default function () { }
JS
)
run_sb run -q --agents "$AGENT_ADDR" "$S3"
expect_rc 0
[ "$(metric_value iterations)" = 3 ] || { show; fail "the agent did not run the next test"; }

# Iterations that never wait but do end (50 ms of CPU each, four VUs on one worker): the worker's
# loop still sees the end of the test. It ran for ever before (each finished iteration activated
# the next, and libevent never got back to its timers): 36 s for this 3 s test.
S4=$(script busy.js <<'JS'
export const options = { vus: 4, duration: '3s' };
export default function () { const t = Date.now(); while (Date.now() - t < 50) {} }
JS
)
start=$(date +%s)
set +e
timeout 30 "$SB_BIN" run -q --workers 1 "$S4" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
[ "$RC" -ne 124 ] || fail "a run of busy iterations did not end within 30 s"
expect_rc 0
took=$(( $(date +%s) - start ))
[ "$took" -le 9 ] || fail "a 3 s run of busy iterations took $took s"
