# --out prometheus-rw (controller/output_prw.h): a short run pushes to Debian's Prometheus (its
# remote-write receiver on a free loopback port, its own storage): the request count Prometheus
# stores is the summary's, a trend stat series exists; the agents send no points for it (no
# more bytes to the controller than with no output); a dead endpoint is one WARN naming the URL and
# the run still ends with exit code 0.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy
command -v prometheus >/dev/null || fail "prometheus is needed (make deps)"
start_target

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PP=$(free_port)
printf 'global: { scrape_interval: 15s }\n' >"$WORK/prom.yml"
prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PP" --web.enable-remote-write-receiver >"$WORK/prom.log" 2>&1 &
PIDS="$PIDS $!"
for _i in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PP/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PP/-/ready" >/dev/null || fail "prometheus did not start: $(tail -5 "$WORK/prom.log")"

s=$(script rw.js <<'JS'
import http from 'k6/http';
import { check, sleep } from 'k6';
export const options = { vus: 2, duration: '3s' };
export default function () {
  check(http.get(`${__ENV.TARGET}/rw`, { tags: { name: 'rw-page' } }), { 'status 200': (r) => r.status === 200 });
  sleep(0.05);
}
JS
)
URL="http://127.0.0.1:$PP/api/v1/write"
K6_PROMETHEUS_RW_PUSH_INTERVAL=1s K6_PROMETHEUS_RW_TREND_STATS='p(99),avg' \
  run_sb run --no-api -e TARGET="$TARGET" --out "prometheus-rw=$URL" "$s"
expect_rc 0
expect_out "output: .*prometheus-rw \($URL\)"
! grep -q 'WARN prometheus-rw' "$WORK/err" || { show; fail "a push failed"; }
reqs=$(metric_value http_reqs)
[ "${reqs:-0}" -gt 0 ] || { show; fail "no http_reqs in the summary"; }

query() { curl -s "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
value() { sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)".*/\1/p'; }
got=$(query 'sum(k6_http_reqs_total)' | value)
[ "$got" = "$reqs" ] || fail "Prometheus has $got requests, the summary $reqs: $(query 'k6_http_reqs_total')"
q=$(query 'k6_http_req_duration_p99{name="rw-page"}')
p99=$(echo "$q" | value)
[ -n "$p99" ] || fail "no k6_http_req_duration_p99 series: $q"
awk -v v="$p99" 'BEGIN { exit !(v > 0 && v < 2) }' || fail "p99 $p99 is not seconds"
query 'k6_http_req_duration_avg' | grep -q '"value"' || fail "no k6_http_req_duration_avg series"
query 'k6_checks_rate' | grep -q '"value":\[[0-9.]*,"1"\]' || fail "k6_checks_rate is not 1: $(query k6_checks_rate)"
query 'k6_vus' | grep -q '"value"' || fail "no k6_vus series"
# the samples came in during the run, not only at the end: more than one per series
n=$(query 'count_over_time(k6_http_reqs_total{name="rw-page"}[5m])' | value)
[ "${n:-0}" -ge 2 ] || fail "only ${n:-no} samples of k6_http_reqs_total (pushed every second)"

# the agents send no points for prometheus-rw (it encodes the controller's merged metrics): the
# bytes an agent sends the controller (counted by a relay between them) are those of a run with
# no output at all, far below json's, which needs every sample
cat >"$WORK/relay.py" <<'PY'
import socket, sys, threading
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4)
host, port = sys.argv[1].rsplit(":", 1)
print(ls.getsockname()[1], flush=True)
def pipe(a, b, count):
    n = 0
    while True:
        d = a.recv(65536)
        if not d: break
        n += len(d); b.sendall(d)
    if count:
        with open(sys.argv[2], "a") as f: f.write("%d\n" % n)
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
while True:
    c, _ = ls.accept()
    u = socket.create_connection((host, int(port)))
    threading.Thread(target=pipe, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, True), daemon=True).start()
PY
start_agents 1
python3 "$WORK/relay.py" "$AGENTS" "$WORK/relay.count" >"$WORK/relay.port" &
PIDS="$PIDS $!"
for _i in $(seq 1 50); do [ -s "$WORK/relay.port" ] && break; sleep 0.1; done
RELAY="127.0.0.1:$(cat "$WORK/relay.port")"
busy=$(script busy.js <<'JS'
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 2, iterations: 1500 } } };
export default function () { http.get(`${__ENV.TARGET}/busy`); }
JS
)
# agent_bytes ARGS...: a run through the relay; prints the bytes the agent sent the controller
agent_bytes() {
  : >"$WORK/relay.count"
  run_sb run -q --no-api --agents "$RELAY" -e TARGET="$TARGET" "$@" "$busy"
  expect_rc 0
  for _i in $(seq 1 50); do [ -s "$WORK/relay.count" ] && break; sleep 0.1; done
  awk '{ s += $1 } END { print s + 0 }' "$WORK/relay.count"
}
rw=$(agent_bytes --out "prometheus-rw=$URL")
! grep -q 'WARN prometheus-rw' "$WORK/err" || { show; fail "a push failed (distributed)"; }
none=$(agent_bytes)
json=$(agent_bytes --out "json=$WORK/points.json")
echo "agent -> controller: $rw B with prometheus-rw, $none B with no output, $json B with json"
[ "$rw" -gt 0 ] && [ "$none" -gt 0 ] || fail "the relay counted nothing"
[ "$rw" -lt $((none + none / 2 + 2000)) ] || fail "prometheus-rw made the agent send more: $rw B vs $none B"
[ "$json" -gt $((3 * rw)) ] || fail "json's points cost little more than prometheus-rw: $json B vs $rw B"

# k6's name, the URL from the environment, and nobody listening there
DEAD=$(free_port)
K6_PROMETHEUS_RW_SERVER_URL="http://127.0.0.1:$DEAD/api/v1/write" K6_PROMETHEUS_RW_PUSH_INTERVAL=500ms \
  run_sb run --no-api -u 1 -d 2s -e TARGET="$TARGET" --out experimental-prometheus-rw "$s"
expect_rc 0
n=$(grep -c "WARN prometheus-rw: pushing metrics to http://127.0.0.1:$DEAD/api/v1/write failed: .*refused" "$WORK/err" || true)
[ "$n" -eq 1 ] || { show; fail "$n WARN lines for the dead endpoint, expected 1"; }

# a bad URL is an error before the test, naming the option
run_sb run --no-api -u 1 -i 1 -e TARGET="$TARGET" --out "prometheus-rw=ftp://x/w" "$s"
[ "$RC" -ne 0 ] || fail "a bad URL was accepted"
expect_err "prometheus-rw=ftp://x/w"
