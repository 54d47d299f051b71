#!/bin/sh
# Runs every end-to-end test (test/e2e/t_*.sh) against the binaries in $1 (default build/).
# Each test is a shell script that exits 0 on success; its output is shown only when it fails.
# E2E_ONLY=name runs the tests whose name holds it; E2E_EXCEPT="a b" leaves those out, and says
# so in the last line (make test-asan: valgrind cannot run ASan binaries).
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
export SB_BIN="$PWD/$BUILD/speedboat" SB_AGENT="$PWD/$BUILD/speedboat-agent" SB_TARGET="$PWD/$BUILD/sb-target" SB_SIM="$PWD/$BUILD/sb-sim-agent"
export SB_ROOT="$PWD"
pass=0; fail=0; failed=""; left=""
for t in test/e2e/t_*.sh; do
  [ -n "${E2E_ONLY:-}" ] && case "$t" in *"$E2E_ONLY"*) ;; *) continue ;; esac
  name=$(basename "$t" .sh)
  case " ${E2E_EXCEPT:-} " in *" $name "*) left="$left $name"; continue ;; esac
  log=$(mktemp)
  start=$(date +%s)
  if timeout 180 sh "$t" >"$log" 2>&1; then
    pass=$((pass + 1)); echo "ok   $name ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name ($(( $(date +%s) - start ))s)"
    sed 's/^/    | /' "$log" | tail -60
  fi
  rm -f "$log"
done
echo "e2e: $pass passed, $fail failed${left:+ (not run here:$left)}"
[ "$fail" -eq 0 ]
