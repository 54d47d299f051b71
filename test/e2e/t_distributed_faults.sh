# Distributed runs when things go wrong: kill -9 of an agent mid-run (the run goes on with the
# others and ends degraded, or stops at once with --on-agent-loss=abort), kill -9 of the controller
# mid-run (the agents go quiet within 5 s, checked at the target, and take the next test), a wrong
# or missing token, garbled bytes on the agent port, a second controller while busy, a dead agent
# address, and init code that throws on the agents — each a clear error before any load.
. "$SB_ROOT/test/e2e/lib.sh"

start_target
start_agents 3
A1=$(agent_addr 1); A2=$(agent_addr 2); A3=$(agent_addr 3)
ALL=$AGENTS

# sent ACTION...: runs ACTION and sets SENT to the requests the target got meanwhile
sent() { _b=$(target_requests); "$@"; SENT=$(($(target_requests) - _b)); }

# a small run every agent must take after a fault
S_OK=$(script ok.js <<JS
import http from 'k6/http';
export const options = { vus: 3, iterations: 30 };
export default function () { http.get('$TARGET/'); }
JS
)
expect_good_run() { # expect_good_run AGENTS: the small run goes through on AGENTS
  run_sb run -q --agents "$1" "$S_OK"
  expect_rc 0
  [ "$(metric_value iterations)" = 30 ] || { show; fail "after the fault: $(metric_value iterations) iterations"; }
}

# --- kill -9 of one of 3 agents mid-run (continue, the default)
S=$(script long.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { c: { executor: 'constant-vus', vus: 3, duration: __ENV.D || '6s' } } };
export function setup() { console.log('setup ran'); return { k: 7 }; }
export default function () { http.get('$TARGET/'); sleep(0.01); }
export function teardown(data) { console.log(\`teardown ran k=\${data.k}\`); }
JS
)
t0=$(now_ms)
# A2 first: the agent that runs setup() is the one lost; teardown() must still run, elsewhere
run_sb_bg run -q --agents "$A2,$A1,$A3" "$S"
wait_target_growing
sleep 1.5
kill -9 "$(agent_pid 2)"
wait_sb
took=$(($(now_ms) - t0))
expect_rc 111
[ "$took" -ge 5500 ] || { show; fail "the degraded run ended after $took ms, before its 6 s"; }
expect_out "agents: 3 connected, 1 lost"
expect_out "✗ $A2  lost at [0-9.]+s \(.*\): had reported [0-9]+ iterations"
expect_out "✓ $A1  "
expect_out "✓ $A3  "
expect_err "WARN\[[0-9]+\] agent $A2 lost"
# the others ran to the end: each did several times what the lost one had reported
lost=$(agent_iterations "$A2")
[ "$(agent_iterations "$A1")" -gt $((2 * lost)) ] && [ "$(agent_iterations "$A3")" -gt $((2 * lost)) ] ||
  { show; fail "the surviving agents did not run on"; }
[ "$(grep -c 'setup ran' "$WORK/err")" = 1 ] || { show; fail "setup() did not run exactly once"; }
[ "$(grep -c 'teardown ran k=7' "$WORK/err")" = 1 ] || { show; fail "teardown() did not run exactly once, with setup's data, after the loss"; }
! grep 'teardown ran' "$WORK/err" | grep -q "agent=$A2\$" || { show; fail "teardown() ran on the lost agent"; }
# what the summary counts is what the agents reported, lost one included
[ "$(metric_value iterations)" = "$(agents_iterations_sum)" ] ||
  { show; fail "summary iterations $(metric_value iterations), agents block adds up to $(agents_iterations_sum)"; }
start_agents 1
A2=$AGENTS; ALL="$A1,$A2,$A3"

# --- the same with --on-agent-loss=abort: everything stops soon after the loss
run_sb_bg run -q --on-agent-loss=abort --agents "$ALL" -e D=20s "$S"
wait_target_growing
sleep 1
t0=$(now_ms)
kill -9 "$(agent_pid 4)"
wait_sb
took=$(($(now_ms) - t0))
expect_rc 111
[ "$took" -lt 6000 ] || { show; fail "--on-agent-loss=abort: the run went on $took ms after the loss"; }
echo "--on-agent-loss=abort: the run ended $took ms after kill -9"
expect_out "✗ $A2  lost"
expect_err "agent $A2 lost.*--on-agent-loss=abort"
target_goes_quiet "$(now_ms)" 1000
start_agents 1
A2=$AGENTS; ALL="$A1,$A2,$A3"
expect_good_run "$ALL"

# --- kill -9 of the controller mid-run: the agents stop the load within 5 s (checked at the
# target), log it, stay alive and take the next test
run_sb_bg run -q --agents "$ALL" -e D=60s "$S"
wait_target_growing
sleep 1
t0=$(now_ms)
kill -9 "$SB_PID"
wait_sb
target_goes_quiet "$t0" 5000
echo "controller killed: the target's count stopped growing ${QUIET_AFTER_MS} ms later"
for k in 1 5 3; do
  kill -0 "$(agent_pid $k)" 2>/dev/null || fail "agent $k died with its controller: $(cat "$(agent_log $k)")"
  wait_file 'controller lost' "$(agent_log $k)" 1
done
expect_good_run "$ALL"

# --- a controller that goes silent (SIGSTOP: its connections stay open): the agents' heartbeat
# check stops the load within 5 s (4 s of silence, heartbeats twice a second: measured ~4 s)
run_sb_bg run -q --agents "$ALL" -e D=60s "$S"
wait_target_growing
sleep 1
t0=$(now_ms)
kill -STOP "$SB_PID"
target_goes_quiet "$t0" 5000
echo "controller stopped: the target's count stopped growing ${QUIET_AFTER_MS} ms later"
for k in 1 5 3; do wait_file 'controller lost: .*(silent|heartbeat|no message)' "$(agent_log $k)" 2; done
kill -9 "$SB_PID"; kill -CONT "$SB_PID" 2>/dev/null || true
wait_sb
expect_good_run "$ALL"

# --- an agent that goes silent (SIGSTOP) mid-run: the controller declares it lost within 5 s
# and the run ends degraded
run_sb_bg run -q --agents "$ALL" -e D=8s "$S"
wait_target_growing
sleep 1
t0=$(now_ms)
kill -STOP "$(agent_pid 3)"
wait_file "WARN.* agent $A3 lost" "$WORK/err" 8
detect=$(($(now_ms) - t0))
echo "stopped agent reported lost ${detect} ms after SIGSTOP"
[ "$detect" -ge 2500 ] && [ "$detect" -le 5000 ] || fail "a silent agent reported lost after $detect ms (expected within 5 s)"
wait_sb
kill -CONT "$(agent_pid 3)"
expect_rc 111
expect_out "✗ $A3  lost at [0-9.]+s"
# once running again it sees its controller gone and takes the next test
wait_file 'controller lost' "$(agent_log 3)" 3
expect_good_run "$ALL"

# --- Ctrl-C (SIGINT) to the controller: every agent stops, exit 105, everything counted
before=$(target_requests)
run_sb_bg run -q --agents "$ALL" -e D=60s "$S"
wait_target_growing
sleep 1
t0=$(now_ms)
kill -INT "$SB_PID"
wait_sb
took=$(($(now_ms) - t0))
expect_rc 105
[ "$took" -lt 3000 ] || { show; fail "Ctrl-C: the run ended $took ms later"; }
target_goes_quiet "$t0" 2000
expect_out "agents: 3 connected, 0 lost"
[ $(($(target_requests) - before)) = "$(metric_value http_reqs)" ] ||
  { show; fail "Ctrl-C: the target served $(($(target_requests) - before)), the summary counts $(metric_value http_reqs)"; }
expect_good_run "$ALL"

# --- wrong or missing token: refused before any load, logged by the agent
printf 'right-token\n' >"$WORK/right"
printf 'wrong-token\n' >"$WORK/wrong"
start_agents 1 --token-file "$WORK/right"
T=$AGENTS; TK=$AGENT_SEQ
sent run_sb run -q --agents "$A1,$T" --agent-token-file "$WORK/wrong" "$S_OK"
[ "$RC" -ne 0 ] || { show; fail "a wrong token was accepted"; }
expect_err "ERRO .*$T.*authentication failed"
[ "$SENT" = 0 ] || fail "a wrong token: the target got $SENT requests"
wait_file 'authentication failed: wrong token' "$(agent_log $TK)"
sent run_sb run -q --agents "$T" "$S_OK"
[ "$RC" -ne 0 ] || { show; fail "no token was accepted"; }
expect_err "authentication failed"
[ "$SENT" = 0 ] || fail "no token: the target got $SENT requests"
wait_file 'authentication failed: missing token' "$(agent_log $TK)"
# the right token, from the file or the environment, works
run_sb run -q --agents "$T" --agent-token-file "$WORK/right" "$S_OK"
expect_rc 0
set +e
SPEEDBOAT_AGENT_TOKEN=right-token "$SB_BIN" run -q --agents "$T" "$S_OK" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_rc 0
[ "$(metric_value iterations)" = 30 ] || { show; fail "token from the environment: $(metric_value iterations) iterations"; }

# --- garbled bytes on the agent port: a protocol error in the log, then a real controller served
P1=${A1##*:}
garble() { # garble PRINTF-FORMAT: sends those bytes to agent 1, then closes
  bash -c "exec 3<>/dev/tcp/127.0.0.1/$P1 && printf '$1' >&3 && sleep 0.3" 2>/dev/null || true
}
L1=$(agent_log 1)
n0=$(grep -c 'protocol error' "$L1" || true)
garble '\000\000\000\010\377\377\377\377\377\377\377\377'      # a frame that is no message
wait_file "protocol error: a 8-byte frame is not a valid message" "$L1"
garble 'GET / HTTP/1.1\r\nHost: agent\r\n\r\n'                 # HTTP: a 1.2 GB "length"
wait_file "protocol error: frame of [0-9]+ bytes exceeds" "$L1"
garble '\200\000\000\020garbage-not-zstd'                       # a "compressed" frame
wait_file "protocol error: a compressed frame before hello is refused" "$L1"  # (docs/SECURITY.md)
[ "$(grep -c 'protocol error' "$L1")" -ge $((n0 + 3)) ] || fail "agent 1 did not log each protocol error: $(cat "$L1")"
# a well-formed Hello from a controller of another protocol version (99): refused with a clear
# reason, sent back to it too; a first message that is not a Hello (a Heartbeat): refused
bash -c "exec 3<>/dev/tcp/127.0.0.1/$P1 && printf '\000\000\000\004\012\002\010\143' >&3 && timeout 2 cat <&3" \
  >"$WORK/reply" 2>/dev/null || true
wait_file "protocol version mismatch: controller speaks 99, agent [0-9]+" "$L1"
grep -aq "protocol version mismatch" "$WORK/reply" || fail "the agent did not tell the old controller why: $(od -c "$WORK/reply" | head)"
garble '\000\000\000\002\122\000'
wait_file "protocol error: the first message was not hello" "$L1"
head -c 8192 /dev/urandom >"$WORK/noise"
bash -c "exec 3<>/dev/tcp/127.0.0.1/$P1 && cat '$WORK/noise' >&3 && sleep 0.3" 2>/dev/null || true
kill -0 "$(agent_pid 1)" 2>/dev/null || fail "agent 1 died of garbled bytes: $(tail "$L1")"
expect_good_run "$A1"
expect_good_run "$ALL"

# --- a second controller while the first holds the agents: "busy", and the first run completes
before=$(target_requests)
# (10 s: under ASan the second controller takes seconds to compile its script before it connects)
run_sb_bg run -q --agents "$ALL" -e D=10s "$S"
SB1=$SB_PID
wait_target_growing
set +e
"$SB_BIN" run -q --agents "$A3" "$S_OK" >"$WORK/out2" 2>"$WORK/err2"
RC2=$?
set -e
[ "$RC2" -ne 0 ] || fail "the second controller was accepted: $(cat "$WORK/out2" "$WORK/err2")"
grep -Eq "ERRO .*$A3.*busy" "$WORK/err2" || fail "the second controller got no busy error: $(cat "$WORK/err2")"
SB_PID=$SB1
wait_sb
expect_rc 0
expect_out "agents: 3 connected, 0 lost"
its=$(metric_value iterations)
[ "$(agents_iterations_sum)" = "$its" ] || { show; fail "first run after a busy refusal: block $(agents_iterations_sum), summary $its"; }
[ $(($(target_requests) - before)) = "$its" ] ||
  { show; fail "the target served $(($(target_requests) - before)), the first run counted $its (and the second none)"; }
grep -q 'refused a controller: busy' "$(agent_log 3)" || fail "agent 3 did not log the busy refusal"

# --- a dead agent address: a clear error, no load, and the live agents are free afterwards
start_agents 1
DEAD=$AGENTS
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
sent run_sb run -q --agents "$A1,$DEAD" "$S_OK"
[ "$RC" -ne 0 ] || { show; fail "a dead agent address was accepted"; }
expect_err "ERRO .*$DEAD.*(refused|connect)"
[ "$SENT" = 0 ] || fail "dead agent address: the target got $SENT requests"
expect_good_run "$A1"

# --- malformed --agents values: refused with a clear message, no load
for bad in "127.0.0.1" "127.0.0.1:0" "127.0.0.1:99999" "$A1@0" "$A1@x" ""; do
  sent run_sb run -q --agents "$bad" "$S_OK"
  [ "$RC" -ne 0 ] || { show; fail "--agents '$bad' was accepted"; }
  expect_err "ERRO --agents: "
  [ "$SENT" = 0 ] || fail "--agents '$bad': the target got $SENT requests"
done

# --- init code that throws on the agents: a script error before any load
S_INIT=$(script init.js <<JS
import http from 'k6/http';
if (__VU > 0) { throw new Error('init fails on the agents'); }
export const options = { vus: 3, iterations: 30 };
export default function () { http.get('$TARGET/'); }
JS
)
sent run_sb run -q --agents "$ALL" "$S_INIT"
expect_rc 107
expect_err "ERRO .*init fails on the agents"
[ "$SENT" = 0 ] || fail "init error: the target got $SENT requests"
expect_good_run "$ALL"
echo ok
