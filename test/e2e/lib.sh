# Shared helpers for end-to-end tests: a private work dir, the project's test target on a free
# loopback port, and assertions that print what they saw when they fail.
set -eu
WORK=$(mktemp -d)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

# start_target: starts sb-target on 127.0.0.1:<free port>; sets TARGET_PORT and TARGET (base URL).
start_target() {
  rm -f "$WORK/target.out" # a second target must not read the first one's line
  "$SB_TARGET" --listen 127.0.0.1:0 >"$WORK/target.out" 2>"$WORK/target.err" &
  PIDS="$PIDS $!"
  i=0
  while ! grep -q '^listening' "$WORK/target.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "sb-target did not start: $(cat "$WORK/target.err")"
    sleep 0.05
  done
  TARGET_PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$WORK/target.out" | head -1)
  TARGET="http://127.0.0.1:$TARGET_PORT"
}

# target_requests: how many requests the target has served (its own /stats not counted).
target_requests() {
  curl -s "$TARGET/stats" | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p'
}

# script NAME <<'JS' ... JS: writes a script into the work dir and prints its path.
script() { cat >"$WORK/$1"; echo "$WORK/$1"; }

# run_sb ARGS...: runs speedboat, keeping stdout in $WORK/out, stderr in $WORK/err, status in RC.
run_sb() {
  set +e
  "$SB_BIN" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  set -e
}

show() {
  echo "--- stdout"; cat "$WORK/out"; echo "--- stderr"; cat "$WORK/err"
  if [ -n "${TARGET_PORT:-}" ] && ! curl -s -m 2 -o /dev/null "$TARGET/stats"; then
    echo "--- sb-target ($TARGET) does not answer; its stderr:"; cat "$WORK/target.err" 2>/dev/null
  fi
}

expect_rc() { [ "$RC" -eq "$1" ] || { show; fail "exit code $RC, expected $1"; }; }

# expect_out REGEX: stdout has a line matching the extended regex.
expect_out() { grep -Eq -- "$1" "$WORK/out" || { show; fail "stdout has no line matching: $1"; }; }
expect_err() { grep -Eq -- "$1" "$WORK/err" || { show; fail "stderr has no line matching: $1"; }; }
expect_no_out() { ! grep -Eq -- "$1" "$WORK/out" || { show; fail "stdout unexpectedly matches: $1"; }; }

# metric_value NAME: the first number after "NAME....: " in the summary.
metric_value() {
  sed -n "s/^ *[✓✗]\{0,1\} *$1\.*: *\([0-9.]*\).*/\1/p" "$WORK/out" | head -1
}

# --- distributed runs: agents, the agents block, background runs ------------------------------

now_ms() { date +%s%3N; }

# spawn_agent NAME CMD...: runs CMD (a speedboat-agent command line, possibly behind
# `ip netns exec NS`) in the background, stderr in $WORK/NAME.err; waits for its listening line;
# sets AGENT_PID and AGENT_ADDR (the ADDR:PORT it actually bound).
spawn_agent() {
  _sa_name=$1; shift
  : >"$WORK/$_sa_name.err"
  "$@" 2>"$WORK/$_sa_name.err" &
  AGENT_PID=$!
  PIDS="$PIDS $AGENT_PID"
  _sa_i=0
  while ! grep -q 'msg="listening"' "$WORK/$_sa_name.err"; do
    _sa_i=$((_sa_i + 1))
    [ $_sa_i -lt 100 ] && kill -0 "$AGENT_PID" 2>/dev/null ||
      fail "agent $_sa_name did not start: $(cat "$WORK/$_sa_name.err")"
    sleep 0.05
  done
  AGENT_ADDR=$(sed -n '1s/.* msg="listening" addr=\([^ ]*\).*/\1/p' "$WORK/$_sa_name.err")
  [ -n "$AGENT_ADDR" ] || fail "no address in: $(head -1 "$WORK/$_sa_name.err")"
}

# start_agents N [ARGS...]: starts N agents on 127.0.0.1 (free ports) with extra ARGS. They are
# numbered on from earlier calls (AGENT_SEQ): agent K logs to $WORK/agentK.err and has AGENT_PID_K
# and AGENT_ADDR_K. Sets AGENTS to this call's addresses, comma-separated, in start order.
AGENT_SEQ=0
start_agents() {
  _sas_n=$1; shift
  AGENTS=""
  while [ "$_sas_n" -gt 0 ]; do
    AGENT_SEQ=$((AGENT_SEQ + 1))
    spawn_agent "agent$AGENT_SEQ" "$SB_AGENT" --listen 127.0.0.1:0 "$@"
    eval "AGENT_PID_$AGENT_SEQ=\$AGENT_PID; AGENT_ADDR_$AGENT_SEQ=\$AGENT_ADDR"
    AGENTS="${AGENTS:+$AGENTS,}$AGENT_ADDR"
    _sas_n=$((_sas_n - 1))
  done
}
agent_pid() { eval "echo \$AGENT_PID_$1"; }
agent_addr() { eval "echo \$AGENT_ADDR_$1"; }
agent_log() { echo "$WORK/agent$1.err"; }

# agent_row ADDR: the agents-block line of the agent at ADDR in the last run's stdout.
agent_row() { grep -F " $1  " "$WORK/out" | grep -E '^ *[✓✗] ' | head -1; }
# agent_iterations ADDR / agent_requests ADDR / agent_vus ADDR: numbers from that line.
agent_iterations() { agent_row "$1" | sed -n 's/.* \([0-9][0-9]*\) iterations.*/\1/p'; }
agent_requests() { agent_row "$1" | sed -n 's/.* \([0-9][0-9]*\) requests.*/\1/p'; }
agent_vus() { agent_row "$1" | sed -n 's/.*(\([0-9][0-9]*\) VUs\{0,1\}[;)].*/\1/p'; }
# agents_iterations_sum: the per-agent iterations of the agents block added up.
agents_iterations_sum() {
  grep -E '^ *[✓✗] [^ ]+  ' "$WORK/out" | sed -n 's/.* \([0-9][0-9]*\) iterations.*/\1/p' |
    awk '{ s += $1 } END { print s + 0 }'
}

# run_sb_bg ARGS...: starts speedboat in the background (stdout $WORK/out, stderr $WORK/err),
# sets SB_PID; wait_sb waits for it and sets RC.
run_sb_bg() {
  "$SB_BIN" "$@" >"$WORK/out" 2>"$WORK/err" &
  SB_PID=$!
  PIDS="$PIDS $SB_PID"
}
wait_sb() {
  set +e
  wait "$SB_PID"
  RC=$?
  set -e
}

# wait_file REGEX FILE [SECONDS]: waits (default 5 s) until FILE has a line matching REGEX.
wait_file() {
  _wf_i=0
  while ! grep -Eq -- "$1" "$2" 2>/dev/null; do
    _wf_i=$((_wf_i + 1))
    [ $_wf_i -lt $((${3:-5} * 20)) ] || fail "no line matching '$1' in $2 within ${3:-5} s: $(cat "$2")"
    sleep 0.05
  done
}

# wait_target_growing [SECONDS]: waits (default 5 s) until the target has served a request more.
wait_target_growing() {
  _wg_0=$(target_requests); _wg_i=0
  while [ "$(target_requests)" = "$_wg_0" ]; do
    _wg_i=$((_wg_i + 1)); [ $_wg_i -lt $((${1:-5} * 20)) ] || fail "the target got no request"
    sleep 0.05
  done
}

# target_goes_quiet SINCE_MS LIMIT_MS: polls the target's request count until it has not grown
# for 2 s; fails if it still grew more than LIMIT_MS ms after SINCE_MS (a now_ms value).
# Sets QUIET_AFTER_MS (ms from SINCE_MS to the last growth seen).
target_goes_quiet() {
  _tq_last=$(target_requests); _tq_change=$(now_ms)
  while :; do
    sleep 0.2
    _tq_n=$(target_requests); _tq_now=$(now_ms)
    if [ "$_tq_n" != "$_tq_last" ]; then _tq_last=$_tq_n; _tq_change=$_tq_now; fi
    QUIET_AFTER_MS=$((_tq_change - $1))
    [ $QUIET_AFTER_MS -le "$2" ] ||
      fail "the target still got requests ${QUIET_AFTER_MS} ms later (limit $2 ms): $_tq_n served"
    [ $((_tq_now - _tq_change)) -lt 2000 ] || break
  done
}

# start_s_server OUT ARGS...: `openssl s_server -accept 127.0.0.1:PORT ARGS` on a free port (a
# port someone holds makes it exit at once: another is tried), its output in OUT; waits for it to
# accept; sets S_PORT.
start_s_server() {
  _ss_out=$1; shift
  for _ss_try in 1 2 3 4 5 6 7 8; do
    S_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
    : >"$_ss_out"
    openssl s_server -accept "127.0.0.1:$S_PORT" "$@" >"$_ss_out" 2>&1 &
    _ss_pid=$!
    _ss_i=0
    while ! grep -q ACCEPT "$_ss_out" 2>/dev/null; do
      kill -0 "$_ss_pid" 2>/dev/null || break
      _ss_i=$((_ss_i + 1)); [ $_ss_i -lt 100 ] || fail "s_server did not start: $(cat "$_ss_out")"
      sleep 0.05
    done
    if grep -q ACCEPT "$_ss_out" 2>/dev/null; then PIDS="$PIDS $_ss_pid"; return 0; fi
    wait "$_ss_pid" 2>/dev/null || true
  done
  fail "s_server did not start: $(cat "$_ss_out")"
}
