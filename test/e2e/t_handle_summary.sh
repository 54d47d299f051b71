# handleSummary(data) as in k6: the script's function gets k6's data (metrics with values and
# thresholds, root_group with groups and checks, options, state, setup_data) and what it returns
# is written: stdout, stderr, files. Its helper is imported the way k6 users do, from a jslib-style
# URL (our own textSummary-compatible fixture, test/e2e/fixtures/summary, served by nginx) and from
# a local copy. The counts in the data are checked at the target's own count, locally, from an
# archive run with the sources deleted and nginx stopped, and over two agents (where the agents
# block moves to stderr: stdout is the script's). An exception prints the default summary
# instead; --no-summary skips handleSummary; a failed threshold still exits 99.
. "$SB_ROOT/test/e2e/lib.sh"
. "$SB_ROOT/test/e2e/tls_servers.sh"
unset SSL_CERT_FILE SSL_CERT_DIR K6_SUMMARY_MODE 2>/dev/null || true

start_nginx
mkdir -p "$NGINX_ROOT/static/jslib/k6-summary/0.0.2" "$WORK/proj/lib"
cp "$SB_ROOT/test/e2e/fixtures/summary/k6-summary.js" "$NGINX_ROOT/static/jslib/k6-summary/0.0.2/index.js"
cp "$SB_ROOT/test/e2e/fixtures/summary/k6-summary.js" "$WORK/proj/lib/k6-summary.js"

# hs_script FILE IMPORT: a test of 12 requests in two groups whose handleSummary writes the
# helper's text to stdout and the data and a JUnit report to files named by __ENV.OUT.
hs_script() {
  cat >"$WORK/proj/$1" <<JS
import http from 'k6/http';
import { check, group } from 'k6';
import { textSummary, jUnit } from '$2';

export const options = {
  vus: 3, iterations: 12,
  thresholds: { http_reqs: ['count>=' + (__ENV.MIN || 1)], checks: ['rate==1'] },
};
export function setup() { return { started: 'yes' }; }
export default function () {
  group('api', function () {
    check(http.get('${TARGET}/'), { 'status is 200': (r) => r.status === 200 });
  });
}
export function handleSummary(data) {
  if (__ENV.THROW) throw new Error('summary boom');
  const out = {
    stdout: textSummary(data, { indent: ' ', enableColors: false }) + '\n',
    stderr: 'handleSummary ran\n',
  };
  out[__ENV.OUT + '.json'] = JSON.stringify(data);
  out[__ENV.OUT + '.xml'] = jUnit(data);
  return out;
}
JS
  echo "$WORK/proj/$1"
}

# check_data FILE REQS: the data file's counts match REQS (what the target served) and k6's shape.
check_data() {
  python3 - "$1" "$2" <<'PY' || { show; fail "bad data in $1: $(head -c 600 "$1")"; }
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
m = d["metrics"]
assert m["http_reqs"]["type"] == "counter" and m["http_reqs"]["values"]["count"] == n, m["http_reqs"]
assert m["http_reqs"]["thresholds"]["count>=1"]["ok"] is True, m["http_reqs"]
assert m["iterations"]["values"]["count"] == 12, m["iterations"]
assert m["http_req_duration"]["contains"] == "time" and "p(95)" in m["http_req_duration"]["values"]
assert m["checks"]["values"]["passes"] == n and m["checks"]["values"]["fails"] == 0
assert "http_req_duration{expected_response:true}" in m
g = d["root_group"]
assert g["path"] == "" and g["id"] == "d41d8cd98f00b204e9800998ecf8427e", g
api = [x for x in g["groups"] if x["name"] == "api"][0]
c = api["checks"][0]
assert api["path"] == "::api" and c["path"] == "::api::status is 200", api
assert c["passes"] == n and c["fails"] == 0, c
assert d["options"]["summaryTrendStats"] == ["avg", "min", "med", "max", "p(90)", "p(95)"]
assert d["state"]["testRunDurationMs"] > 0 and d["state"]["isStdOutTTY"] is False
assert d["setup_data"] == {"started": "yes"}, d.get("setup_data")
PY
}

# --- local, helper from a URL: the default summary is replaced
s=$(hs_script remote.js "$NGINX_HTTP/static/jslib/k6-summary/0.0.2/index.js")
run_sb run -q -e OUT="$WORK/local" "$s"
expect_rc 0
expect_out '^ *✓ status is 200$'
expect_out '^   ✓ http_reqs\.+: 12 '
expect_no_out 'TOTAL RESULTS'
expect_err '^handleSummary ran$'
[ "$(target_requests)" = 12 ] || fail "target served $(target_requests)"
check_data "$WORK/local.json" 12
grep -q '<testcase name="http_reqs - count>=1">' "$WORK/local.xml" || fail "junit: $(cat "$WORK/local.xml")"

# --- the same from its archive, the sources deleted and nginx stopped: all in the archive
run_sb archive -O "$WORK/hs.tar.zst" "$s"
expect_rc 0
kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
rm -f "$s"
base=$(target_requests)
run_sb run -q -e OUT="$WORK/archived" "$WORK/hs.tar.zst"
expect_rc 0
expect_out '^   ✓ http_reqs\.+: 12 '
check_data "$WORK/archived.json" $(( $(target_requests) - base ))

# --- a local copy of the helper, over two agents: the merged counts; the agents block on stderr
start_agents 2
s=$(hs_script local.js ./lib/k6-summary.js)
base=$(target_requests)
run_sb run -q --agents "$AGENTS" -e OUT="$WORK/dist" "$s"
expect_rc 0
check_data "$WORK/dist.json" $(( $(target_requests) - base ))
expect_out '^   ✓ http_reqs\.+: 12 '
expect_no_out 'agents: 2 connected'
expect_err 'agents: 2 connected, 0 lost'

# --- an exception: reported, and the default summary printed instead (k6)
run_sb run -q -e THROW=1 -e OUT="$WORK/throw" "$s"
expect_rc 0
expect_err '^ERRO\[[0-9]+\] handleSummary\(\): file://.*local\.js:[0-9]+: Error: summary boom'
expect_out '█ TOTAL RESULTS'
expect_out '^    http_reqs\.+: 12 '
[ ! -e "$WORK/throw.json" ] || fail "a file was written after the exception"

# --- a failed threshold still exits 99, handleSummary sees it
run_sb run -q -e MIN=1000 -e OUT="$WORK/failed" "$s"
expect_rc 99
python3 -c "import json,sys; d=json.load(open('$WORK/failed.json')); sys.exit(d['metrics']['http_reqs']['thresholds']['count>=1000']['ok'] is not False)" ||
  fail "threshold not failed in the data"

# --- no summary at all: handleSummary is not called (k6)
run_sb run -q --no-summary -e OUT="$WORK/nosum" "$s"
expect_rc 0
[ ! -e "$WORK/nosum.json" ] || fail "handleSummary ran with --no-summary"
run_sb run -q --summary-mode=disabled -e OUT="$WORK/disabled" "$s"
expect_rc 0
[ ! -e "$WORK/disabled.json" ] && [ ! -s "$WORK/out" ] || { show; fail "output with --summary-mode=disabled"; }
echo "ok"
