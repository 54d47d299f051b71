# OCSP stapling: response.ocsp carries what the server stapled (k6's status, revocation reason and
# times) — a "good" and a "revoked" (keyCompromise) answer made here with openssl ocsp, served by
# openssl s_server -status_file — and "unknown" when the server staples nothing.
. "$SB_ROOT/test/e2e/lib.sh"
C="$WORK/certs"
sh "$SB_ROOT/test/e2e/gencerts_http.sh" "$C" >/dev/null 2>&1
serial=$(openssl x509 -in "$C/server.pem" -noout -serial | cut -d= -f2)
exp=$(date -u -d "$(openssl x509 -in "$C/server.pem" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
subj=$(openssl x509 -in "$C/server.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
revoked=$(date -u -d '-1 day' +%y%m%d%H%M%SZ)
openssl ocsp -issuer "$C/ca.pem" -cert "$C/server.pem" -reqout "$WORK/req.der" -no_nonce >/dev/null 2>&1
printf 'V\t%s\t\t%s\tunknown\t%s\n' "$exp" "$serial" "$subj" >"$WORK/good.txt"
printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t%s\n' "$exp" "$revoked" "$serial" "$subj" >"$WORK/revoked.txt"
for k in good revoked; do
  openssl ocsp -index "$WORK/$k.txt" -CA "$C/ca.pem" -rsigner "$C/ca.pem" -rkey "$C/ca.key" \
    -reqin "$WORK/req.der" -respout "$WORK/$k.der" -ndays 7 >/dev/null 2>&1 ||
    fail "openssl ocsp could not make the $k response"
done

s=$(script ocsp.js <<'JS'
import http from 'k6/http';
export const options = { vus: 1, iterations: 1 };
export default function () {
  const r = http.get(__ENV.U);
  const o = r.ocsp;
  console.log(`st=${r.status} status=${o.status} reason=${o.revocation_reason} produced=${o.produced_at > 0}` +
    ` this=${o.this_update > 0} next=${o.next_update > o.this_update} revoked_at=${o.revoked_at > 0}` +
    ` good=${o.status === http.OCSP_STATUS_GOOD} kc=${o.revocation_reason === http.OCSP_REASON_KEY_COMPROMISE}`);
}
JS
)
# serve ARGS...: openssl s_server on a free port with ARGS; sets U.
serve() {
  start_s_server "$WORK/s_server.out" -cert "$C/server.pem" -key "$C/server.key" -www "$@"
  U="https://127.0.0.1:$S_PORT/"
}

serve -status_file "$WORK/good.der"
run_sb run -q --no-summary --tls-ca-file "$C/ca.pem" -e U="$U" "$s"
expect_rc 0
expect_err 'st=200 status=good reason= produced=true this=true next=true revoked_at=false good=true'

serve -status_file "$WORK/revoked.der"
run_sb run -q --no-summary --tls-ca-file "$C/ca.pem" -e U="$U" "$s"
expect_rc 0
expect_err 'st=200 status=revoked reason=key_compromise produced=true this=true next=true revoked_at=true good=false kc=true'

serve
run_sb run -q --no-summary --tls-ca-file "$C/ca.pem" -e U="$U" "$s"
expect_rc 0
expect_err 'st=200 status=unknown reason= produced=false'
echo ok
