# Thresholds on custom metrics (k6/metrics Counter, Gauge, Rate and a time Trend created in the
# init context): kept ones pass (exit 0), a crossed one is marked ✗ (exit 99), a sub-metric's tag
# filter picks its samples, abortOnFail stops the run, and before any request a type mismatch or
# an unknown metric is an options error (exit 104). Counts are checked at the target's own count,
# locally and over two agents.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
s=$(script custom.js <<'JS'
import http from 'k6/http';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const hits = new Counter('my_hits');
const last = new Gauge('my_last_status');
const ok = new Rate('my_ok');
const wait = new Trend('my_wait', true);

const cases = {
  pass: {
    my_hits: ['count==20', 'rate>0'],
    my_last_status: ['value==200'],
    my_ok: ['rate==1'],
    my_wait: ['p(95)<5000', 'min<25'],
    'my_wait{kind:slow}': ['min>=25'],
  },
  fail: {
    my_hits: ['count==20'],
    my_ok: ['rate<0.5'],
    'my_wait{kind:slow}': ['max<25'],
  },
  abort: { my_ok: [{ threshold: 'rate<0.5', abortOnFail: true }] },
  mismatch: { my_hits: ['count>0'], my_ok: ['p(95)<1'] },
  unknown: { my_typo: ['count>0'] },
};

export const options = __ENV.CASE === 'abort'
  ? { vus: 1, duration: '30s', thresholds: cases.abort }
  : { vus: 2, iterations: 20, thresholds: cases[__ENV.CASE] };

let n = 0;
export default function () {
  const slow = n++ % 2 === 0;
  const res = http.get(`${__ENV.TARGET}/?delay=${slow ? 30 : 0}`);
  hits.add(1);
  last.add(res.status);
  ok.add(res.status === 200);
  wait.add(res.timings.duration, { kind: slow ? 'slow' : 'fast' });
}
JS
)

# every threshold kept, the sub-metric's row under its parent; 20 requests reached the target
before=$(target_requests)
run_sb run -e TARGET="$TARGET" -e CASE=pass "$s"
expect_rc 0
expect_out '✓ my_hits\.+: 20 '
expect_out '✓ my_last_status\.+: 200 '
expect_out '✓ my_ok\.+: 100\.00% '
expect_out '✓ my_wait\.+: avg=[0-9.]+m?s '
expect_out '✓ \{ kind:slow \}\.+: avg=[0-9.]+ms +min=(2[5-9]|[3-9][0-9])'
[ "$(($(target_requests) - before))" -eq 20 ] || { show; fail "target saw $(($(target_requests) - before)) requests"; }

# crossed: ✗ on the failed ones (a sub-metric too), ✓ on the kept one, exit 99
run_sb run -e TARGET="$TARGET" -e CASE=fail "$s"
expect_rc 99
expect_out '✓ my_hits\.+: 20 '
expect_out '✗ my_ok\.+: 100\.00% '
expect_out '✗ \{ kind:slow \}\.+: avg='
expect_out '^     my_wait\.+: avg='
expect_err "thresholds on metrics 'my_ok, my_wait\{kind:slow\}' have been crossed"

# abortOnFail on a custom rate: stopped long before its 30 s
t0=$(date +%s)
run_sb run -q -e TARGET="$TARGET" -e CASE=abort "$s"
expect_rc 99
expect_err "thresholds on metrics 'my_ok' were crossed; at least one has abortOnFail enabled"
[ $(($(date +%s) - t0)) -lt 15 ] || { show; fail "abortOnFail did not stop the run"; }

# refused before any request: an aggregation the type lacks, a metric nobody created
before=$(target_requests)
run_sb run -e TARGET="$TARGET" -e CASE=mismatch "$s"
expect_rc 104
expect_err "'my_ok': 'p\(95\)<1': aggregation 'p\(95\)' does not apply to a rate metric \(use rate\)"
run_sb run -e TARGET="$TARGET" -e CASE=unknown "$s"
expect_rc 104
expect_err "'my_typo': no metric name \"my_typo\" found"
[ "$(target_requests)" -eq "$before" ] || { show; fail "requests were sent before the error"; }

# over two agents: the fleet's samples merged, judged once
start_agents 2
before=$(target_requests)
run_sb run --agents "$AGENTS" -e TARGET="$TARGET" -e CASE=pass "$s"
expect_rc 0
expect_out '✓ my_hits\.+: 20 '
expect_out '✓ \{ kind:slow \}\.+: avg='
[ "$(($(target_requests) - before))" -eq 20 ] || { show; fail "target saw $(($(target_requests) - before)) requests"; }
run_sb run --agents "$AGENTS" -e TARGET="$TARGET" -e CASE=fail "$s"
expect_rc 99
expect_out '✗ my_ok\.+: 100\.00% '
