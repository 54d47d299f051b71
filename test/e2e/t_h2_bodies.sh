# Large bodies over HTTP/2 both ways, past the flow-control windows: a 3 MiB upload echoed back by
# nghttpd (--echo-upload) and a 5 MiB binary download arrive whole, byte for byte in size.
. "$SB_ROOT/test/e2e/lib.sh"
. "$SB_ROOT/test/e2e/tls_servers.sh"
start_nghttpd --echo-upload
dd if=/dev/urandom of="$NGINX_ROOT/big.bin" bs=1M count=5 2>/dev/null
s=$(script bodies.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  const body = 'y'.repeat(3 * 1024 * 1024 + 7);
  const r = http.post(`${__ENV.U}/`, body, { timeout: '20s' });
  console.log(`up ${r.status} ${r.proto} ${r.body.length} ${r.body === body}`);
  const b = http.get(`${__ENV.U}/big.bin`, { responseType: 'binary', timeout: '20s' });
  console.log(`down ${b.status} ${b.proto} ${b.body.byteLength}`);
}
JS
)
run_sb run -q --no-summary --tls-ca-file "$TEST_CA" -e U="$NGHTTPD_URL" "$s"
expect_rc 0
expect_err 'up 200 HTTP/2.0 3145735 true'
expect_err 'down 200 HTTP/2.0 5242880'
echo ok
