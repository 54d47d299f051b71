# TLS session resumption across a VU's connections (k6 keeps a session cache per VU): with
# noConnectionReuse every request dials anew, and every handshake after the first resumes the VU's
# session — openssl s_server counts the hits itself, for TLS 1.2 (session IDs) and TLS 1.3
# (tickets). Regression: sessions were dropped as "bad" because connections closed without a TLS
# shutdown.
. "$SB_ROOT/test/e2e/lib.sh"
sh "$SB_ROOT/test/e2e/gencerts_http.sh" "$WORK/certs" >/dev/null 2>&1
s=$(script resume.js <<'JS'
import http from 'k6/http';
export const options = { noConnectionReuse: true, vus: 1, iterations: 1 };
export default function () {
  for (let i = 0; i < 5; i++) {
    const r = http.get(__ENV.U);
    if (r.status !== 200) console.error('status ' + r.status + ' ' + r.error);
  }
  const r = http.get(__ENV.U);
  console.log('hits=' + (r.body.match(/(\d+) session cache hits/) || [0, 'none'])[1] + ' reused=' + /Reused, TLS/.test(r.body));
}
JS
)
pin=$(script pin.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, tlsVersion: http.TLS_1_2 };
export default function () {
  const r = http.get(__ENV.U);
  console.log(`pinned ${r.status} ${r.status ? r.tls_version : r.error_code}`);
}
JS
)
for v in tls1_2 tls1_3; do
  start_s_server "$WORK/s_server.$v" -cert "$WORK/certs/server.pem" \
    -key "$WORK/certs/server.key" -www "-$v" -num_tickets 2
  port=$S_PORT
  run_sb run -q --no-summary --tls-ca-file "$WORK/certs/ca.pem" -e "U=https://127.0.0.1:$port/" "$s"
  expect_rc 0
  if grep -q 'ERRO' "$WORK/err"; then show; fail "$v: a request failed"; fi
  hits=$(sed -n 's/.*hits=\([0-9a-z]*\).*/\1/p' "$WORK/err")
  [ "$v" = tls1_3 ] || [ "$hits" = 5 ] || { show; fail "$v: $hits session cache hits, expected 5"; }
  # TLS 1.3 resumes by ticket (stateless): s_server counts no cache hit, but says "Reused"
  grep -q 'reused=true' "$WORK/err" || { show; fail "$v: the last connection did not resume"; }
  # options written with k6's constants (evaluated by the controller's init): tlsVersion
  # http.TLS_1_2 pins TLS 1.2, so the TLS 1.3-only server refuses us
  run_sb run -q --no-summary --tls-ca-file "$WORK/certs/ca.pem" -e "U=https://127.0.0.1:$port/" "$pin"
  expect_rc 0
  if [ "$v" = tls1_2 ]; then expect_err 'pinned 200 tls1.2'; else expect_err 'pinned 0 1300|pinned 0 13'; fi
done
echo ok
