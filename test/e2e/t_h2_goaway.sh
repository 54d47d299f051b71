# HTTP/2 GOAWAY: nginx closes an h2 connection after 3 requests (keepalive_requests 3), refusing
# the streams above its last one. As with Go's transport in k6, refused streams were never
# processed, so they go again on a fresh connection: a batch of 10 and a loop of 7 requests all
# succeed, every one counted once, over several connections.
. "$SB_ROOT/test/e2e/lib.sh"
. "$SB_ROOT/test/e2e/tls_servers.sh"
start_nginx 'keepalive_requests 3;'
s=$(script goaway.js <<'JS'
import http from 'k6/http';
export const options = {
  iterations: 1,
  batchPerHost: 10,
  thresholds: { 'http_reqs{proto:HTTP/2.0,status:200}': ['count==17'], http_req_failed: ['rate==0'] },
};
export default function () {
  const reqs = [];
  for (let i = 0; i < 10; i++) reqs.push(['POST', `${__ENV.U}/echo?i=${i}`, `body ${i}`]);
  const rs = http.batch(reqs);
  console.log('batch ' + rs.map((r, i) => r.status === 200 && r.json().body === `body ${i}`).join(' '));
  for (let i = 0; i < 7; i++) http.get(`${__ENV.U}/static/small.json`);
}
JS
)
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" "$s"
expect_rc 0
expect_err 'batch true true true true true true true true true true'
# each request reached nginx once (the refused ones were never processed)
n=$(grep -c ' "POST /echo' "$NGINX_DIR/access.log" || true)
[ "$n" = 10 ] || { show; fail "nginx logged $n POSTs, expected 10"; }
echo ok
