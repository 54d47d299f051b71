# The controller's side of bad input: agents that break the protocol (simulated by sb-sim-agent
# --misbehave) get a clear error naming the agent, before any load, and the controller never
# hangs: an agent of another protocol version, one that answers hello with bytes that are not a
# frame, one that never answers, and one whose snapshot is inconsistent mid-run. Past the
# controller's limits (issue 10): a 300 MB frame and a zstd bomb mid-run lose that agent only,
# the controller's memory staying small; agents' dropped raw samples make one warning.
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
expect_err "agent $SIM speaks protocol 99 \(speedboat 99\.0\.0-future\), this controller protocol 2"
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

# Limits on what an agent sends (issue 10): a frame announcing 300 MB and a zstd frame inflating
# to 1 GiB, each sent mid-run in place of a snapshot. The controller refuses them from the header
# (before buffering or inflating any of it), loses that agent like one that died (exit 111) and
# runs the test to its end on the good agent, its memory staying small (VmHWM read while the run
# still goes on: the old controller buffered the whole 300 MB).
S5=$(script t5.js <<JS
import http from 'k6/http';
export const options = { vus: 2, duration: '5s' };
export default function () { http.get('$TARGET/'); }
JS
)
# The same test on the good agent alone, its controller's peak RSS 2 s in: what the bad agents
# may not add much to (a sanitizer build's baseline is several times a release build's).
run_sb_bg run -q --no-api --agents "$GOOD" "$S5"
sleep 2
base=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SB_PID/status")
wait_sb
expect_rc 0
echo "baseline: controller peak RSS ${base} kB"
for mode in huge-frame zstd-bomb; do
  sim $mode
  run_sb_bg run -q --no-api --agents "$GOOD,$SIM" "$S5"
  wait_file "agent $SIM lost" "$WORK/err" 8
  hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SB_PID/status")
  wait_sb
  expect_rc 111
  case $mode in
  huge-frame) why="protocol error: frame of 300000000 bytes exceeds the 67108864-byte limit of this controller" ;;
  zstd-bomb) why="protocol error: a [0-9]+-byte compressed frame inflates to 1073741824 bytes, over the 268435456-byte limit of this controller" ;;
  esac
  expect_err "WARN\[[0-9]+\] agent $SIM lost: $why; it had reported [0-9]+ iterations"
  expect_err "ERRO 1 of 2 agents lost: the run was degraded"
  expect_out "✗ $SIM  lost at [0-9.]+s \($why\)"
  expect_out "✓ $GOOD  "
  [ "$(agent_iterations "$GOOD")" -gt 10 ] || { show; fail "$mode: the good agent did not run on"; }
  echo "$mode: controller peak RSS ${hwm} kB"
  [ -n "$hwm" ] && [ "$hwm" -lt $((base + 120000)) ] ||
    { show; fail "$mode: the controller's peak RSS was ${hwm} kB, ${base} kB without the bad agent"; }
done

# An agent that could not keep every raw sample for --out json (past SB_POINTS_MAX in an
# interval, or out of memory) says so in its Points messages; the controller warns once, at the
# end, with the agent's total.
sim dropped-points
S1=$(script t1.js <<'JS'
export const options = { vus: 1, duration: '2s' };
export default function () {}
JS
)
run_sb run -q --no-api --agents "$SIM" --out json="$WORK/points.json" "$S1"
expect_rc 0
expect_err "^WARN agent $SIM dropped 1234567 samples of the --out outputs: more than 2000000 between two snapshots \(or out of memory\); the output files miss them, the summary and thresholds count them all$"
[ "$(grep -c "dropped 1234567" "$WORK/err")" = 1 ] || { show; fail "the warning is not printed once"; }
echo ok
