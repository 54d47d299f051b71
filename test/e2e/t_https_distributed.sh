# HTTPS and HTTP/2 in a distributed run: two agents on loopback share 200 iterations against
# nginx over h2 with the CA of --tls-ca-file (read by the controller, shipped to the agents).
# The merged http_reqs, the tag-filtered submetrics, the agents block and nginx's access log
# agree on 200; without the CA every agent fails verification (1310) and the run still exits 0;
# --insecure-skip-tls-verify reaches the agents; tlsAuth with files read by open() works there.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
. "$SB_ROOT/test/e2e/tls_servers.sh"

# The CA must come from --tls-ca-file alone, for the controller and the agents.
unset SSL_CERT_FILE SSL_CERT_DIR 2>/dev/null || true

start_nginx \
  'log_format sbconn "$server_port $connection $connection_requests $remote_port $server_protocol $status $ssl_protocol $request_uri";' \
  "access_log $WORK/nginx/conn.log sbconn;"
start_agents 2
A1=$(agent_addr 1); A2=$(agent_addr 2)

# port_of URL: the port of an https://host:port URL
port_of() { echo "${1##*:}"; }
# nginx_lines PORT: requests nginx has logged on PORT so far (access.log: "addr port ...")
nginx_lines() { awk -v p="$1" '$2 == p' "$NGINX_DIR/access.log" | wc -l; }
# nginx_conns PORT SKIP: distinct connections of the requests on PORT after the first SKIP
nginx_conns() { awk -v p="$1" '$1 == p' "$WORK/nginx/conn.log" | tail -n +$(($2 + 1)) |
  awk '{ print $2 }' | sort -u | wc -l; }
expect_metric() {
  [ "$(metric_value "$1")" = "$2" ] || { show; fail "$1 is '$(metric_value "$1")', expected $2"; }
}

# --- 200 shared iterations over 2 agents, 4 VUs, all h2 over TLS 1.3 with status 200
S=$(script shared.js <<'JS'
import http from 'k6/http';
const n = Number(__ENV.N);
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: n } },
  thresholds: __ENV.MODE === 'ok' ? {
    'http_reqs': [`count==${n}`],
    'http_reqs{proto:HTTP/2.0}': [`count==${n}`],
    'http_reqs{tls_version:tls1.3}': [`count==${n}`],
    'http_reqs{status:200}': [`count==${n}`],
    'http_req_failed': ['rate==0'],
    'http_req_tls_handshaking{proto:HTTP/2.0}': ['max>0', 'med==0'],
  } : {
    'http_reqs': [`count==${n}`],
    'http_reqs{error_code:1310}': [`count==${n}`],
    'http_reqs{status:0}': [`count==${n}`],
    'http_req_failed': ['rate==1'],
  },
};
export default function () {
  const r = http.get(`${__ENV.U}/static/index.html?vu=${__VU}`);
  if (__ITER === 0) console.log(`D vu=${__VU} ${r.status} ${r.error_code} ${r.proto || '-'} ${r.tls_version || '-'}`);
}
JS
)
P=$(port_of "$NGINX_HTTPS")
n0=$(nginx_lines "$P"); c0=$(awk -v p="$P" '$1 == p' "$WORK/nginx/conn.log" | wc -l)
run_sb run -q --agents "$A1,$A2" --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" -e N=200 -e MODE=ok "$S"
expect_rc 0
expect_metric http_reqs 200
expect_metric iterations 200
expect_out '✓ \{ proto:HTTP/2\.0 \}'
expect_out 'http_req_failed\.+: 0\.00% +✓ 0 +✗ 200'
[ $(($(nginx_lines "$P") - n0)) -eq 200 ] || fail "nginx logged $(($(nginx_lines "$P") - n0)) requests, expected 200"
awk -v p="$P" '$2 == p' "$NGINX_DIR/access.log" | tail -n 200 | grep -v '"GET /static/index.html?vu=[0-9]* HTTP/2.0" 200 [0-9]* TLSv1.3$' &&
  fail "nginx logged requests that were not h2 over TLS 1.3 with status 200"
expect_out "agents: 2 connected, 0 lost"
r1=$(agent_requests "$A1"); r2=$(agent_requests "$A2")
[ -n "$r1" ] && [ -n "$r2" ] && [ "$r1" -gt 0 ] && [ "$r2" -gt 0 ] && [ $((r1 + r2)) -eq 200 ] ||
  { show; fail "agents' requests: '$r1' + '$r2', expected both > 0 and 200 in all"; }
# each agent's VUs keep their connection: at most one per VU, at least one per agent
conns=$(nginx_conns "$P" "$c0")
[ "$conns" -ge 2 ] && [ "$conns" -le 4 ] || fail "200 requests of 4 VUs came over $conns connections (expected 2..4)"
# the console lines of both agents report h2 over TLS 1.3
for a in "$A1" "$A2"; do
  grep "D vu=.* agent=$a\$" "$WORK/err" | grep -q ' 200 0 HTTP/2\.0 tls1\.3 ' ||
    { show; fail "no h2/TLS 1.3 response logged by a VU of $a"; }
done

# --- without --tls-ca-file the agents do not trust the test CA: every request fails with 1310
# (status 0), and failed requests do not fail the run
n0=$(nginx_lines "$P")
run_sb run -q --agents "$A1,$A2" -e U="$NGINX_HTTPS" -e N=20 -e MODE=fail "$S"
expect_rc 0
expect_metric http_reqs 20
expect_out 'http_req_failed\.+: 100\.00% +✓ 20 +✗ 0'
[ "$(nginx_lines "$P")" -eq "$n0" ] || fail "nginx answered requests of agents that should not trust it"

# --- --insecure-skip-tls-verify reaches the agents: the untrusted server answers over h2
run_sb run -q --agents "$A1,$A2" --insecure-skip-tls-verify -e U="$NGINX_UNTRUSTED" -e N=20 -e MODE=ok "$S"
expect_rc 0
expect_metric http_reqs 20
expect_out '✓ \{ proto:HTTP/2\.0 \}'

# --- tlsAuth with the client certificate read by open() in the init context: the files travel
# with the script to the agents, and nginx sees a verified client certificate from both
S=$(script mtls.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 2, iterations: 10 } },
  tlsAuth: [{ domains: ['127.0.0.1', 'localhost'], cert: open(__ENV.CERT), key: open(__ENV.KEY) }],
  thresholds: { 'http_reqs{status:200}': ['count==10'], checks: ['rate==1'] },
};
export default function () {
  const r = http.get(`${__ENV.U}/nginx/info`);
  check(r, { 'client=SUCCESS': (r) => r.status === 200 && r.body.indexOf('client=SUCCESS') >= 0 });
}
JS
)
run_sb run -q --agents "$A1,$A2" --tls-ca-file "$TEST_CA" -e U="$NGINX_MTLS" \
  -e CERT="$TEST_CLIENT_CERT" -e KEY="$TEST_CLIENT_KEY" "$S"
expect_rc 0
expect_out '✓ client=SUCCESS'
echo ok
