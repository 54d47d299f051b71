#!/bin/sh
# The live progress (controller/progress.h): plain k6-style blocks when stderr is not a terminal,
# a block redrawn in place with bars and colours on a terminal (script(1) gives one), no colour
# with NO_COLOR, nothing with -q or --progress=none, a line per agent with --progress=agents.
. "$(dirname "$0")/lib.sh"
start_target
command -v script >/dev/null || fail "script(1) (util-linux) is needed"
S=$(script p.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: {
  default: { executor: 'constant-vus', vus: 2, duration: '3s' },
  rate: { executor: 'constant-arrival-rate', rate: 20, duration: '3s', preAllocatedVUs: 2 } } };
export default function () { http.get(`${__ENV.TARGET}/`); sleep(0.05); }
JS
)
esc=$(printf '\033')

# --- not a terminal: a block a second, percentages, no escape sequences -------------------------
run_sb run -e TARGET="$TARGET" --no-api "$S"
expect_rc 0
expect_err '^running \([0-9][0-9]\.[0-9]s\), [0-9]+/[0-9]+ VUs, [0-9]+ complete and [0-9]+ interrupted iterations$'
expect_err '^default   \[ +[0-9]+% \] 2 VUs +[0-9][0-9]\.[0-9]s/3s$'
expect_err '^rate      \[ +[0-9]+% \] [0-9]+/[0-9]+ VUs +[0-9][0-9]\.[0-9]s/3s +20\.00 iters/s$'
expect_err '^finished \([0-9.]+s\), '
expect_err '^default ✓ \[ 100% \] 2 VUs +3s$'
[ "$(grep -c '^running (' "$WORK/err")" -ge 2 ] || { show; fail "expected a block a second"; }
! grep -q "$esc" "$WORK/err" || { show; fail "escape sequences on a pipe"; }

run_sb run -e TARGET="$TARGET" --no-api -q "$S"
expect_rc 0
! grep -q '^running (' "$WORK/err" || { show; fail "-q printed progress"; }
run_sb run -e TARGET="$TARGET" --no-api --progress=none "$S"
! grep -q '^running (\|^finished (' "$WORK/err" || { show; fail "--progress=none printed progress"; }
expect_out 'execution: local' # the banner stays

# --- a terminal: redrawn in place (cursor up, erase to the end of line), bars, colours ----------
tty_run() { # tty_run ENV...: the run under script(1); what the terminal got in $WORK/tty
  env "$@" script -qec "'$SB_BIN' run -e TARGET='$TARGET' --no-api '$S' 2>&1 >/dev/null" \
    /dev/null >"$WORK/tty" </dev/null || { cat "$WORK/tty"; fail "the run under script failed"; }
}
tty_run
grep -q "${esc}\[3A" "$WORK/tty" || fail "no redraw (cursor up 3 lines): $(od -c "$WORK/tty" | head)"
grep -q "${esc}\[K" "$WORK/tty" || fail "lines are not erased to their end"
grep -q '\[=*>' "$WORK/tty" || fail "no bar drawn"
grep -q "${esc}\[32m✓${esc}\[0m" "$WORK/tty" || fail "no green ✓"
grep -q "${esc}\[2m-" "$WORK/tty" || fail "the bar's rest is not faint"
tty_run NO_COLOR=1
grep -q "${esc}\[3A" "$WORK/tty" || fail "NO_COLOR: no redraw"
! grep -q "${esc}\[[0-9]*m" "$WORK/tty" || fail "NO_COLOR: colours: $(od -c "$WORK/tty" | grep -m3 '033   \[')"

# --- agents: a line each -------------------------------------------------------------------------
start_agents 2
run_sb run -e TARGET="$TARGET" --no-api --agents "$AGENTS" --progress=agents "$S"
expect_rc 0
A1=$(agent_addr 1)
expect_err "^  agent $A1  running +[0-9]+ VUs  [0-9]+ req/s  cpu [0-9]+%  loop lag [0-9]+ms  age [0-9.]+s  rtt [0-9.]+ms$"
[ "$(grep -c '^  agent ' "$WORK/err")" -ge 4 ] || { show; fail "expected a line per agent per block"; }
run_sb run -e TARGET="$TARGET" --no-api --progress=bogus "$S"
expect_rc 2
expect_err "expected scenarios, agents or none"
