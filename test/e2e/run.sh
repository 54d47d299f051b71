#!/bin/sh
# Runs every end-to-end test (test/e2e/t_*.sh) against the binaries in $1 (default build/).
# Each test is a shell script that exits 0 on success; its output is shown only when it fails.
# E2E_ONLY=name runs the tests whose name holds it; E2E_EXCEPT="a b" leaves those out, and says
# so in the last line (make test-asan: valgrind cannot run ASan binaries).
# A test that leaves a process running fails: each runs with SB_E2E_TEST=<name>.<pid> in its
# environment, and whatever still carries it 15 s after the test ended (an agent drains its
# sessions for up to 10 s after SIGTERM) is listed and killed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
export SB_BIN="$PWD/$BUILD/speedboat" SB_AGENT="$PWD/$BUILD/speedboat-agent" SB_TARGET="$PWD/$BUILD/sb-target" SB_SIM="$PWD/$BUILD/sb-sim-agent"
export SB_ROOT="$PWD"
pass=0; fail=0; failed=""; left=""

# The PIDs of processes whose environment holds SB_E2E_TEST=$1.
marked() {
  grep -lsxzF "SB_E2E_TEST=$1" /proc/[0-9]*/environ | sed 's|^/proc/\([0-9]*\)/environ$|\1|'
}

# Waits up to 15 s for the processes marked $1 to end; prints and kills those that do not.
# Returns 1 when there were any.
reap() {
  _i=0
  while [ -n "$(marked "$1")" ] && [ $_i -lt 150 ]; do sleep 0.1; _i=$((_i + 1)); done
  _left=$(marked "$1")
  [ -n "$_left" ] || return 0
  for p in $_left; do
    echo "    | left running: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) (pid $p)"
    kill -9 "$p" 2>/dev/null
  done
  return 1
}
for t in test/e2e/t_*.sh; do
  [ -n "${E2E_ONLY:-}" ] && case "$t" in *"$E2E_ONLY"*) ;; *) continue ;; esac
  name=$(basename "$t" .sh)
  case " ${E2E_EXCEPT:-} " in *" $name "*) left="$left $name"; continue ;; esac
  log=$(mktemp)
  start=$(date +%s)
  mark="$name.$$"
  SB_E2E_TEST=$mark timeout 180 sh "$t" >"$log" 2>&1
  rc=$?
  reaped=$(reap "$mark") || rc=1
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1)); echo "ok   $name ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name ($(( $(date +%s) - start ))s)"
    sed 's/^/    | /' "$log" | tail -60
    [ -z "$reaped" ] || echo "$reaped"
  fi
  rm -f "$log"
done
echo "e2e: $pass passed, $fail failed${left:+ (not run here:$left)}"
[ "$fail" -eq 0 ]
