# --out json/csv and --summary-export: the files parse back, and their samples add up to what the
# summary and the target counted, locally and over two agents (points travel from every agent).
. "$SB_ROOT/test/e2e/lib.sh"
start_target
s=$(script out.js <<'JS'
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter } from 'k6/metrics';
const hits = new Counter('my_hits');
export const options = {
  vus: 4, iterations: 200,
  thresholds: { http_req_duration: ['p(95)<5000'], 'checks{check:odd}': ['rate>=0'] },
};
export default function () {
  group('outer', function () {
    const r = http.get(`${__ENV.TARGET}/x?q=a,b`, { tags: { kind: 'x "quoted"' } });
    check(r, { 'is 200': (r) => r.status === 200, odd: () => __ITER % 2 === 1 });
  });
  hits.add(2);
}
JS
)

# check_files DIR_LABEL: parses $WORK/o.json.gz, $WORK/o.csv and $WORK/sum.json, compares counts
# with the summary's numbers and the target's.
check_files() {
  python3 - "$WORK" "$(metric_value http_reqs)" "$(metric_value iterations)" "$(target_requests)" <<'PY' || { show; fail "$1: outputs disagree"; }
import csv, gzip, json, sys
work, reqs, iters, served = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert reqs == served == 200 and iters == 200, (reqs, iters, served)
pts, metrics = {}, {}
for line in gzip.open(work + '/o.json.gz', 'rt'):
    rec = json.loads(line)
    if rec['type'] == 'Metric':
        assert rec['metric'] not in metrics, 'Metric record twice: ' + rec['metric']
        metrics[rec['metric']] = rec['data']
        continue
    assert rec['type'] == 'Point' and rec['metric'] in metrics, rec
    d = rec['data']
    assert d['time'][:2] == '20' and d['time'][10] == 'T', d['time']
    pts.setdefault(rec['metric'], []).append(d)
def count(m): return len(pts.get(m, []))
assert count('http_reqs') == reqs, ('json http_reqs', count('http_reqs'), reqs)
assert count('iterations') == iters, ('json iterations', count('iterations'))
assert count('checks') == 2 * iters, ('json checks', count('checks'))
assert sum(p['value'] for p in pts['my_hits']) == 2 * iters
assert count('vus') > 0 and count('vus_max') > 0
assert metrics['http_req_duration']['type'] == 'trend' and metrics['http_req_duration']['contains'] == 'time'
assert metrics['http_req_duration']['thresholds'] == ['p(95)<5000'], metrics['http_req_duration']
assert metrics['checks']['submetrics'][0]['name'] == 'checks{check:odd}', metrics['checks']
req = pts['http_reqs'][0]['tags']
assert req['method'] == 'GET' and req['status'] == '200' and req['group'] == '::outer', req
assert req['kind'] == 'x "quoted"' and req['url'].endswith('/x?q=a,b'), req
passes = sum(1 for p in pts['checks'] if p['value'] == 1)

rows = list(csv.reader(open(work + '/o.csv', newline='')))
assert rows[0] == ['metric_name', 'timestamp', 'metric_value', 'check', 'error', 'error_code',
                   'expected_response', 'group', 'method', 'name', 'proto', 'scenario', 'service',
                   'status', 'subproto', 'tls_version', 'url', 'extra_tags', 'metadata'], rows[0]
by = {}
for r in rows[1:]:
    assert len(r) == 19, r
    by.setdefault(r[0], []).append(r)
for m, v in pts.items():
    assert len(by.get(m, [])) == len(v), ('csv vs json', m, len(by.get(m, [])), len(v))
r = by['http_reqs'][0]
assert r[8] == 'GET' and r[13] == '200' and r[16].endswith('/x?q=a,b') and r[17] == 'kind=x "quoted"', r
assert int(r[1]) > 1500000000 and r[2] == '1.000000', r

s = json.load(open(work + '/sum.json'))
assert s['metrics']['http_reqs']['count'] == reqs, s['metrics']['http_reqs']
assert s['metrics']['iterations']['count'] == iters
c = s['metrics']['checks']
assert c['passes'] == passes and c['passes'] + c['fails'] == 2 * iters, (c, passes)
assert s['metrics']['http_req_duration']['thresholds'] == {'p(95)<5000': False}
assert 'checks{check:odd}' in s['metrics'], list(s['metrics'])
g = s['root_group']['groups']['outer']
assert g['path'] == '::outer' and g['checks']['is 200']['passes'] == iters, g
assert g['checks']['odd']['passes'] + g['checks']['odd']['fails'] == iters, g
print('ok', reqs, 'requests,', sum(len(v) for v in pts.values()), 'points')
PY
}

# Local: the in-process agent is "distributed with one agent".
run_sb run -q -e TARGET="$TARGET" --out json="$WORK/o.json.gz" -o csv="$WORK/o.csv" \
  --summary-export "$WORK/sum.json" "$s"
expect_rc 0
check_files local

# Two agents: every agent's points, one set of files.
start_target
start_agents 2
run_sb run -q -e TARGET="$TARGET" --agents "$AGENTS" --out json="$WORK/o.json.gz" \
  --out csv="$WORK/o.csv" --summary-export "$WORK/sum.json" "$s"
expect_rc 0
check_files distributed

# A bad --out is refused before any load.
run_sb run -q -e TARGET="$TARGET" --out influxdb=http://x "$s"
expect_rc 104
expect_err "unknown output type 'influxdb'"
# An output file that cannot be created is an error before the test starts.
run_sb run -q -e TARGET="$TARGET" --out json=/nonexistent/dir/o.json "$s"
expect_rc 255
expect_err "cannot create output file '/nonexistent/dir/o.json'"
