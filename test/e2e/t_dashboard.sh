# The live dashboard, the HTML report and Prometheus' /metrics (controller/dash.h, dashboard.h,
# prom.h): during a real run headless Chromium (Debian's) loads /dashboard, whose charts fill
# from the run so far and then its server-sent events, and more points a moment later (a screenshot is kept in $SB_ARTIFACTS, default build/artifacts);
# Debian's Prometheus scrapes /metrics and a query returns the request count; the report
# written at the end renders offline in Chromium with the run's points and its URL table; a
# stream whose client went away does not disturb the end of the run.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy
command -v chromium >/dev/null || fail "chromium is needed (make deps)"
command -v prometheus >/dev/null || fail "prometheus is needed (make deps)"
start_target
ART=${SB_ARTIFACTS:-$SB_ROOT/build/artifacts}
mkdir -p "$ART"
# chrome ARGS...: headless Chromium with a profile of its own per call (two at once would
# share the default one and the second would exit)
CHROME_N=0
chrome() {
  CHROME_N=$((CHROME_N + 1))
  timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome$CHROME_N" "$@"
}

s=$(script dash.js <<'JS'
import http from 'k6/http';
import { check, sleep } from 'k6';
export const options = { vus: 3, duration: '24s', thresholds: { http_req_duration: ['p(95)<2000'] } };
export default function () {
  check(http.get(`${__ENV.TARGET}/dash?delay=20`, { tags: { name: 'dash-page' } }), { 'status 200': (r) => r.status === 200 });
  sleep(0.2);
}
JS
)
run_sb_bg run --dashboard --address 127.0.0.1:0 --report "$WORK/report.html" -e TARGET="$TARGET" "$s"
wait_file "dashboard: http://" "$WORK/out" 10
ADDR=$(sed -n 's/.*dashboard: http:\/\/\([^/]*\)\/dashboard.*/\1/p' "$WORK/out" | head -1)
[ -n "$ADDR" ] || fail "no dashboard address in the banner"

# (the run lasts 24 s: on a slow VM each headless Chromium below takes 5-6 s, the dashboard's
# page keeping its event stream open for all of --timeout, and the three must load it live)

# a stream whose client leaves at once
timeout 1 curl -sN "http://$ADDR/dashboard/events" >/dev/null || true
# a stream that stays: the run so far at once, then a document a second
timeout 2.6 curl -sN "http://$ADDR/dashboard/events" >"$WORK/sse.txt" || true
n=$(grep -c '^data: {"status":{"phase":"running"' "$WORK/sse.txt" || true)
[ "${n:-0}" -ge 3 ] || fail "the event stream sent ${n:-no} documents in 2.6 s: $(head -c 300 "$WORK/sse.txt")"

# Prometheus scrapes /metrics every second
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PP=$(free_port)
cat >"$WORK/prom.yml" <<YML
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: speedboat
    static_configs: [ { targets: ['$ADDR'] } ]
YML
prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PP" >"$WORK/prom.log" 2>&1 &
PIDS="$PIDS $!"

sleep 3
# Chromium loads the live dashboard mid-run: the charts have points, the URL table our name
chrome --timeout=3000 \
  --dump-dom "http://$ADDR/dashboard" >"$WORK/live.html" 2>"$WORK/chromium.err" || true
live=$(sed -n 's/.*data-rendered="\([0-9]*\)".*/\1/p' "$WORK/live.html" | head -1)
# (on failure: whether the run was still there, and the end of what it said)
sb_state() { kill -0 "$SB_PID" 2>/dev/null && echo "speedboat still running" || echo "speedboat gone: $(tail -3 "$WORK/err")"; }
[ "${live:-0}" -ge 2 ] || fail "the live dashboard rendered ${live:-no} points ($(sb_state)): $(grep -v dbus "$WORK/chromium.err" | tail -3)"
grep -q '<td>dash-page</td>' "$WORK/live.html" || fail "the live dashboard has no row for dash-page"
sleep 2 # ... and a later load has more: the charts follow the run
chrome --timeout=3000 --dump-dom "http://$ADDR/dashboard" >"$WORK/live2.html" 2>/dev/null || true
live2=$(sed -n 's/.*data-rendered="\([0-9]*\)".*/\1/p' "$WORK/live2.html" | head -1)
[ "${live2:-0}" -gt "$live" ] || fail "the dashboard did not move on: $live points, then ${live2:-no}"
chrome --timeout=3000 \
  --window-size=1280,1400 --screenshot="$ART/dashboard.png" "http://$ADDR/dashboard" >"$WORK/shot.err" 2>&1 || true
[ -s "$ART/dashboard.png" ] || fail "no screenshot of the dashboard: $(grep -v dbus "$WORK/shot.err" | tail -5)"

# Prometheus has the request count
q=""
for _i in $(seq 1 40); do
  q=$(curl -s "http://127.0.0.1:$PP/api/v1/query?query=sum(k6_http_reqs_total)" || true)
  echo "$q" | grep -q '"value":\[[0-9.]*,"[1-9]' && break
  sleep 0.25
done
echo "$q" | grep -q '"value":\[[0-9.]*,"[1-9]' || fail "Prometheus has no request count: $q $(tail -3 "$WORK/prom.log")"

wait_sb
expect_rc 0
reqs=$(metric_value http_reqs)
# the controller's /metrics is gone with the run; the last scrape is at most 1 s old: close.
# last_over_time: once a scrape of the ended run fails, Prometheus marks the series stale and a
# plain instant query finds nothing (seen under ASan, where the end takes longer)
last=$(curl -s "http://127.0.0.1:$PP/api/v1/query" --data-urlencode 'query=sum(last_over_time(k6_http_reqs_total[5m]))' |
  sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)".*/\1/p')
[ -n "$last" ] && [ "$last" -le "$reqs" ] && [ "$last" -ge $((reqs * 3 / 4)) ] ||
  fail "Prometheus says $last requests, the summary $reqs"

# The report renders offline with every point and the table
[ -s "$WORK/report.html" ] || fail "no report written"
grep -q 'https\?://[a-z]' "$WORK/report.html" && grep -o 'https\?://[a-z][^"]*' "$WORK/report.html" | grep -v '127.0.0.1' | head -1 | grep -q . && fail "the report refers to another site"
chrome --dump-dom "file://$WORK/report.html" \
  >"$WORK/report.dom" 2>/dev/null || true
pts=$(sed -n 's/.*data-rendered="\([0-9]*\)".*/\1/p' "$WORK/report.dom" | head -1)
[ "${pts:-0}" -ge 10 ] || fail "the report rendered ${pts:-no} points (a 24 s run)"
grep -q '<td>dash-page</td>' "$WORK/report.dom" || fail "the report has no row for dash-page"
grep -q 'passing' "$WORK/report.dom" || fail "the report shows no passing threshold"
chrome --window-size=1280,1400 \
  --screenshot="$ART/report.png" "file://$WORK/report.html" >/dev/null 2>&1 || true

# --report to a place that cannot be written: an error, the verdict stays the test's
run_sb run --no-api --report /nonexistent-dir/r.html -u 1 -i 1 -e TARGET="$TARGET" "$s"
expect_rc 0
expect_err "ERRO --report /nonexistent-dir/r.html: "
