# k6/execution: ids and iteration counters of a shared-iterations and a per-vu-iterations
# scenario (exact sets, from console lines, locally and over two agents: unique in the fleet),
# scenario name/executor, the instance counters, exec.vu.tags on the VU's samples (thresholds
# with a tag filter), k6's init-context errors, test.options as k6's consolidated options (a CLI
# override visible in scenarios.default), and test.abort() (exit 108, its reason printed,
# teardown still run, no request at the target afterwards) locally and with two agents.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
s=$(script exec.js <<'JS'
import http from 'k6/http';
import exec from 'k6/execution';
import { vu, scenario, instance } from 'k6/execution';

function err(f) { try { f(); return 'none'; } catch (e) { return e.message; } }
const initVu = err(() => exec.vu.idInTest);

export const options = {
  scenarios: {
    sh: { executor: 'shared-iterations', vus: 3, iterations: 10, exec: 'sh' },
    pv: { executor: 'per-vu-iterations', vus: 2, iterations: 3, exec: 'pv', startTime: '300ms' },
  },
  thresholds: {
    'iterations{mytag:odd}': ['count==3'],
    'iterations{mytag:even}': ['count==3'],
    'data_sent{mytag:odd}': ['count>0'],
    'http_reqs{mytag:odd}': ['count==3'],
  },
};

export function setup() { console.log(`SETUP vu=${vu.idInTest} init=[${initVu}]`); }

export function sh() {
  http.get(`${__ENV.TARGET}/sh`);
  console.log(`SH vu=${vu.idInTest} local=${vu.idInInstance} it=${scenario.iterationInTest} ` +
              `name=${scenario.name} ex=${scenario.executor}`);
}

export function pv() {
  exec.vu.tags.mytag = vu.idInInstance % 2 ? 'odd' : 'even'; // one of each, local or not
  http.get(`${__ENV.TARGET}/pv`);
  console.log(`PV vu=${vu.idInTest} vi=${vu.iterationInScenario} it=${scenario.iterationInTest} ` +
              `name=${scenario.name} ex=${scenario.executor} init=${instance.vusInitialized} ` +
              `done=${instance.iterationsCompleted >= 10} tag=${exec.vu.tags.mytag}`);
}
JS
)

# field LABEL KEY: the values of KEY= on the LABEL lines, sorted, space-separated.
field() {
  grep -F "$1 vu=" "$WORK/err" |
    awk -v k="$2=" '{ for (i = 1; i <= NF; i++) if (index($i, k) == 1) print substr($i, length(k) + 1) }' |
    sort -n | tr '\n' ' ' | sed 's/ $//'
}
check_counters() { # $1: the vu ids sh may run on, $2: pv's ids (one per iteration, sorted)
  [ "$(grep -c 'SH vu=' "$WORK/err")" = 10 ] || { show; fail "not 10 SH lines"; }
  [ "$(grep -c 'PV vu=' "$WORK/err")" = 6 ] || { show; fail "not 6 PV lines"; }
  [ "$(field SH it)" = "0 1 2 3 4 5 6 7 8 9" ] || { show; fail "sh iterationInTest: $(field SH it)"; }
  [ "$(field PV it)" = "0 1 2 3 4 5" ] || { show; fail "pv iterationInTest: $(field PV it)"; }
  for v in $(field SH vu); do # shared: whichever VUs were quicker took the iterations
    case " $1 " in *" $v "*) ;; *) show; fail "sh ran on VU $v, not one of $1";; esac
  done
  [ "$(field PV vu)" = "$2" ] || { show; fail "pv VUs: $(field PV vu)"; }
  [ "$(field PV vi)" = "0 0 1 1 2 2" ] || { show; fail "pv iterationInScenario: $(field PV vi)"; }
  [ "$(field SH name | tr ' ' '\n' | sort -u)" = sh ] || fail "sh name"
  [ "$(field SH ex | tr ' ' '\n' | sort -u)" = shared-iterations ] || fail "sh executor"
  [ "$(field PV ex | tr ' ' '\n' | sort -u)" = per-vu-iterations ] || fail "pv executor"
  expect_err 'SETUP vu=0 init=\[getting VU information in the init context is not supported\]'
  expect_out '✓ \{ mytag:odd \}'
  expect_out '✓ \{ mytag:even \}'
}

# --- local: ids and counters exact ---
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
check_counters "1 2 3" "4 4 4 5 5 5"
[ "$(field SH local)" = "$(field SH vu)" ] || fail "idInInstance differs from idInTest locally"
[ "$(field PV init | tr ' ' '\n' | sort -u)" = 5 ] || fail "vusInitialized: $(field PV init)"
[ "$(field PV done | tr ' ' '\n' | sort -u)" = true ] || { show; fail "iterationsCompleted"; }
[ "$(target_requests)" = 16 ] || fail "target saw $(target_requests) requests"

# --- two agents: the same iteration sets over the fleet; __VU is numbered agent by agent (the
# first agent's VUs of every scenario, then the second's), unique in the fleet ---
start_agents 2
run_sb run --agents "$AGENTS" -e TARGET="$TARGET" "$s"
expect_rc 0
check_counters "1 2 4" "3 3 3 5 5 5"
[ "$(field PV init | tr ' ' '\n' | sort -u | tr '\n' ' ')" = "2 3 " ] ||
  fail "vusInitialized per agent: $(field PV init)"
[ "$(target_requests)" = 32 ] || fail "target saw $(target_requests) requests"

# --- test.options are k6's consolidated options: `vus: 2, duration: '1s'` run with --vus 3 is
# scenarios.default {executor: constant-vus, vus: 3, duration: "1s"}, what k6 does not fill in
# is null, the shortcuts themselves are gone; the same in setup() and on every agent ---
o=$(script opts.js <<'JS'
import exec from 'k6/execution';
import { sleep } from 'k6';
export const options = { vus: 2, duration: '1s', setupTimeout: '90s', unknownOption: 1 };
function show(where) {
  const o = exec.test.options, d = o.scenarios.default;
  console.log(`OPTS ${where} ex=${d.executor} vus=${d.vus} dur=${d.duration} ` +
              `gs=${d.gracefulStop} shortcuts=${'vus' in o || 'duration' in o} ` +
              `setup=${o.setupTimeout} unknown=${'unknownOption' in o} ` +
              `paused=${o.paused} trend=${o.summaryTrendStats.join(',')}`);
}
export function setup() { show('setup'); }
export default function () {
  if (exec.vu.iterationInInstance === 0) show('vu');
  sleep(0.1);
}
JS
)
want='ex=constant-vus vus=3 dur=1s gs=null shortcuts=false setup=1m30s unknown=false paused=null trend=avg,min,med,max,p(90),p(95)'
for mode in local fleet; do
  if [ $mode = local ]; then run_sb run --vus 3 "$o"
  else run_sb run --agents "$AGENTS" --vus 3 "$o"; fi
  expect_rc 0
  [ "$(grep -cF "OPTS setup $want" "$WORK/err")" = 1 ] || { show; fail "$mode: setup's options"; }
  [ "$(grep -cF "OPTS vu $want" "$WORK/err")" = 3 ] || { show; fail "$mode: not 3 VUs saw them"; }
  [ "$(grep -F 'OPTS' "$WORK/err" | grep -vcF "$want")" = 0 ] || { show; fail "$mode: other options"; }
done

# --- test.abort(): exit 108, the reason, teardown, nothing after ---
a=$(script abort.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';
export const options = { vus: 4, duration: '30s' };
export function teardown() { console.log('TEARDOWN ran'); }
export default function () {
  http.get(`${__ENV.TARGET}/a`);
  if (exec.scenario.iterationInTest === 40) exec.test.abort('enough of this');
  sleep(0.02);
}
JS
)
for mode in local fleet; do
  before=$(target_requests)
  t0=$(now_ms)
  if [ $mode = local ]; then run_sb run -e TARGET="$TARGET" "$a"
  else run_sb run --agents "$AGENTS" -e TARGET="$TARGET" "$a"; fi
  t1=$(now_ms)
  expect_rc 108
  expect_err 'test aborted: enough of this'
  expect_err 'TEARDOWN ran'
  [ $((t1 - t0)) -lt 10000 ] || fail "$mode: the aborted run took $((t1 - t0)) ms"
  n=$(( $(target_requests) - before ))
  # 41 requests up to the aborting one, plus at most one in flight per VU (and, over two agents,
  # what the other agent's VUs send before the controller's stop reaches it: a few ms)
  [ "$n" -ge 41 ] && [ "$n" -le $((41 + 4 + 12)) ] || { show; fail "$mode: $n requests at the target"; }
  target_goes_quiet "$t1" 1000
  iters=$(metric_value iterations)
  [ -n "$iters" ] && [ "$iters" -lt "$n" ] || { show; fail "$mode: iterations $iters, requests $n"; }
done

# test.abort() in the init code: exit 108 with the reason, nothing sent
s=$(script initabort.js <<'JS'
import exec from 'k6/execution';
import http from 'k6/http';
if (!__ENV.NODATA) exec.test.abort('no test data');
export default function () { http.get(`${__ENV.TARGET}/b`); }
JS
)
before=$(target_requests)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 108
expect_err 'test aborted: no test data'
[ "$(target_requests)" = "$before" ] || fail "init abort: requests were sent"
echo "ok"
