# Memcheck over real runs (issue 10): (a) `speedboat run` of a small script (2 VUs, 10
# iterations: http.get to the test target, checks, a group, a custom metric, a little JS, and
# --out json so the raw-points path runs too), controller and in-process agent in one process
# under valgrind; (b) a `speedboat-agent` under valgrind running the same test for a plain
# controller, then stopped by SIGTERM so its exit is checked for leaks too. Any memcheck error
# or definite leak makes valgrind exit 99; the summaries must be the ones a normal run prints.
# VU stacks are registered with valgrind (agent/coro.c), so the coroutine switches are clean.
# Suppressions (library noise only, each entry says why) are in test/valgrind.supp.
# Time on the project's 2-core machine: (a) ~20 s (Babel compiling the script under valgrind is
# most of it), (b) ~3 s.
. "$SB_ROOT/test/e2e/lib.sh"
command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/install-deps.sh installs it)"
VG="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
  --suppressions=$SB_ROOT/test/valgrind.supp"

start_target
S=$(script vg.js <<JS
import http from 'k6/http';
import { check, group } from 'k6';
import { Trend } from 'k6/metrics';
const sizes = new Trend('body_size');
export const options = { vus: 2, iterations: 10, thresholds: { checks: ['rate==1'] } };
export default function () {
  group('front', () => {
    const r = http.get('$TARGET/?n=' + __ITER);
    sizes.add(r.body.length);
    const o = { doubled: [1, 2, 3].map((x) => x * 2), text: JSON.stringify({ s: r.status }) };
    check(r, {
      'status is 200': (x) => x.status === 200,
      'json round trip': () => JSON.parse(o.text).s === 200 && o.doubled[2] === 6,
    });
  });
}
JS
)

# expect_summary LABEL: the last run's summary holds the 10 iterations and their checks.
expect_summary() {
  [ "$(metric_value iterations)" = 10 ] || { show; fail "$1: iterations"; }
  [ "$(metric_value http_reqs)" = 10 ] || { show; fail "$1: http_reqs"; }
  expect_out "checks_succeeded\.*: 100\.00% 20 out of 20"
  expect_out "body_size"
  n=$(grep -c '"metric":"http_reqs","type":"Point"' "$WORK/$1.json" || true)
  [ "$n" = 10 ] || fail "$1: --out json holds $n http_reqs points, not 10"
}

# expect_clean LOG LABEL: valgrind's log reports no error and no definite leak.
expect_clean() {
  grep -q "ERROR SUMMARY: 0 errors" "$1" || { cat "$1"; fail "$2: memcheck errors (above)"; }
  grep -Eq "definitely lost: 0 bytes|All heap blocks were freed" "$1" || { cat "$1"; fail "$2: leaks"; }
}

# (a) a local run, all of it under valgrind
t0=$(date +%s)
set +e
$VG --log-file="$WORK/vg-local.log" "$SB_BIN" run -q --no-api --out json="$WORK/local.json" "$S" \
  >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
[ "$RC" != 99 ] || { cat "$WORK/vg-local.log"; fail "local run: valgrind found errors (above)"; }
expect_rc 0
expect_clean "$WORK/vg-local.log" "local run"
# every thread the in-process engine started was joined (its init watchdog too)
grep -Eq "possibly lost: 0 bytes|All heap blocks were freed" "$WORK/vg-local.log" ||
  { cat "$WORK/vg-local.log"; fail "local run: memory possibly lost at exit (a thread not joined?)"; }
expect_summary local
[ "$(target_requests)" = 10 ] || fail "the target saw $(target_requests) requests"
echo "local run under valgrind: $(( $(date +%s) - t0 )) s"

# (b) an agent under valgrind, the controller not
t0=$(date +%s)
spawn_agent vgagent $VG --log-file="$WORK/vg-agent.log" "$SB_AGENT" --listen 127.0.0.1:0
VG_AGENT=$AGENT_PID
run_sb run -q --no-api --agents "$AGENT_ADDR" --out json="$WORK/agent.json" "$S"
expect_rc 0
expect_summary agent
expect_out "✓ $AGENT_ADDR  .* 10 iterations, 10 requests"
kill -TERM "$VG_AGENT"
set +e
wait "$VG_AGENT"
ARC=$?
set -e
[ "$ARC" != 99 ] || { cat "$WORK/vg-agent.log"; fail "agent: valgrind found errors (above)"; }
[ "$ARC" = 0 ] || fail "the agent exited $ARC after SIGTERM: $(cat "$WORK/vgagent.err")"
expect_clean "$WORK/vg-agent.log" "agent"
# and nothing possibly lost: every thread it started has been joined (the init watchdog's
# stack was reported here while that thread ran on, detached)
grep -Eq "possibly lost: 0 bytes|All heap blocks were freed" "$WORK/vg-agent.log" ||
  { cat "$WORK/vg-agent.log"; fail "agent: memory possibly lost at exit (a thread not joined?)"; }
echo "agent under valgrind: $(( $(date +%s) - t0 )) s"
echo ok
