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

show() { echo "--- stdout"; cat "$WORK/out"; echo "--- stderr"; cat "$WORK/err"; }

expect_rc() { [ "$RC" -eq "$1" ] || { show; fail "exit code $RC, expected $1"; }; }

# expect_out REGEX: stdout has a line matching the extended regex.
expect_out() { grep -Eq -- "$1" "$WORK/out" || { show; fail "stdout has no line matching: $1"; }; }
expect_err() { grep -Eq -- "$1" "$WORK/err" || { show; fail "stderr has no line matching: $1"; }; }
expect_no_out() { ! grep -Eq -- "$1" "$WORK/out" || { show; fail "stdout unexpectedly matches: $1"; }; }

# metric_value NAME: the first number after "NAME....: " in the summary.
metric_value() {
  sed -n "s/^ *[✓✗]\{0,1\} *$1\.*: *\([0-9.]*\).*/\1/p" "$WORK/out" | head -1
}
