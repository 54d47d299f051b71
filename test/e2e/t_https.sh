# HTTPS and HTTP/2 against real servers (Debian's nginx and nghttpd, tls_servers.sh): ALPN to h2
# or http/1.1, k6's response fields (proto, tls_version, tls_cipher_suite, timings), handshakes
# only on new connections (per-VU keep-alive), request counts against nginx's access log,
# http.batch multiplexed over one h2 connection, certificate verification and its error codes
# (expired 1300, wrong name 1311, unknown CA 1310) without failing the run, --tls-ca-file,
# insecureSkipTLSVerify (option and flag), tlsVersion, tlsAuth client certificates, gzip bodies,
# thresholds on tag-filtered submetrics (proto, tls_version, status, expected_response, error_code).
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
. "$SB_ROOT/test/e2e/tls_servers.sh"

# The CA must come from --tls-ca-file alone: no trust from the environment.
unset SSL_CERT_FILE SSL_CERT_DIR 2>/dev/null || true

# A second access log with nginx's connection serial number and the client's port, to tell
# requests on one connection from requests on several.
start_nginx \
  'log_format sbconn "$server_port $connection $connection_requests $remote_port $server_protocol $status $ssl_protocol $request_uri";' \
  "access_log $WORK/nginx/conn.log sbconn;"
start_nghttpd
SMALL_SIZE=$(wc -c <"$NGINX_ROOT/static/small.json")

# port_of URL: the port of an https://host:port URL
port_of() { echo "${1##*:}"; }
# nginx_lines PORT: requests nginx has logged on PORT so far
nginx_lines() { awk -v p="$1" '$1 == p' "$WORK/nginx/conn.log" | wc -l; }
# nginx_conns PORT SKIP: distinct connections of the requests on PORT after the first SKIP of them
nginx_conns() { awk -v p="$1" '$1 == p' "$WORK/nginx/conn.log" | tail -n +$(($2 + 1)) |
  awk '{ print $2 }' | sort -u | wc -l; }
# lines TAG: stderr's console lines that start with TAG (the message only)
lines() { sed -n "s/^INFO\[[0-9]*\] $1 \(.*\)  source=console\$/\1/p" "$WORK/err"; }
# expect_lines TAG N: exactly N such lines
expect_lines() {
  [ "$(lines "$1" | wc -l)" -eq "$2" ] || { show; fail "$(lines "$1" | wc -l) '$1' lines, expected $2"; }
}

# --- HTTPS + HTTP/2 to nginx: 2 VUs x 5 iterations over the good server. Each response is h2
# over TLS 1.3 with a cipher suite and status 200; the first request of each VU did a TCP and a
# TLS handshake, the other four reused that VU's connection (0 for both), so nginx saw exactly 2
# connections and 10 requests. Thresholds check the tags on every sample.
S=$(script h2.js <<'JS'
import http from 'k6/http';
export const options = {
  scenarios: { p: { executor: 'per-vu-iterations', vus: 2, iterations: 5 } },
  thresholds: {
    'http_reqs{proto:HTTP/2.0}': ['count==10'],
    'http_reqs{tls_version:tls1.3}': ['count==10'],
    'http_reqs{status:200}': ['count==10'],
    'http_reqs{expected_response:true}': ['count==10'],
    'http_reqs': ['count==10'],
    'http_req_failed': ['rate==0'],
  },
};
export default function () {
  const r = http.get(`${__ENV.U}/static/index.html`);
  const t = r.timings;
  console.log(`R ${__VU} ${__ITER} ${r.status} ${r.proto} ${r.tls_version} ${r.tls_cipher_suite || '-'} ` +
    `${t.tls_handshaking} ${t.connecting} ${t.blocked} ${t.duration} ${r.error_code}`);
}
JS
)
P=$(port_of "$NGINX_HTTPS"); n0=$(nginx_lines "$P")
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" "$S"
expect_rc 0
expect_lines R 10
lines R | awk '
  $3 != 200 || $4 != "HTTP/2.0" || $5 != "tls1.3" || $6 == "-" || $11 != 0 { print "bad response: " $0; bad = 1 }
  $2 == 0 && ($7 <= 0 || $8 <= 0) { print "first request without a handshake: " $0; bad = 1 }
  $2 > 0 && ($7 != 0 || $8 != 0) { print "reused connection with a handshake: " $0; bad = 1 }
  $10 <= 0 { print "no duration: " $0; bad = 1 }
  END { exit bad }' || { show; fail "HTTPS + h2 responses (vu iter status proto tls cipher hs conn blocked dur code)"; }
expect_out 'http_reqs\.+: 10 '
expect_out '✓ .*proto:HTTP/2\.0'
expect_out '✓ .*tls_version:tls1\.3'
# the summary's handshake trend: some handshakes, and a median of 0 (8 of 10 reused)
expect_out 'http_req_tls_handshaking\.+: avg=[0-9.]+[µm]s +min=0s +med=0s +max=[0-9.]+[µm]?s'
expect_no_out 'http_req_tls_handshaking\.+: .*max=0s'
[ $(($(nginx_lines "$P") - n0)) -eq 10 ] || fail "nginx logged $(($(nginx_lines "$P") - n0)) requests, expected 10"
[ "$(nginx_conns "$P" "$n0")" -eq 2 ] ||
  fail "10 requests of 2 VUs came over $(nginx_conns "$P" "$n0") connections, expected 2 (one per VU)"
awk -v p="$P" '$1 == p' "$WORK/nginx/conn.log" | tail -n 10 | grep -v ' HTTP/2.0 200 TLSv1.3 ' &&
  fail "nginx did not see h2 over TLS 1.3 with status 200 for every request"

# --- ALPN http/1.1 only: HTTP/1.1 over TLS, one keep-alive connection for 3 iterations
S=$(script h1.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 3, thresholds: { 'http_reqs{proto:HTTP/1.1}': ['count==3'], 'http_reqs{proto:HTTP/2.0}': ['count==0'] } };
export default function () {
  const r = http.get(`${__ENV.U}/nginx/info`);
  console.log(`R ${r.status} ${r.proto} ${r.tls_version} ${r.body.trim()}`);
}
JS
)
P=$(port_of "$NGINX_HTTPS_H1"); n0=$(nginx_lines "$P")
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS_H1" "$S"
expect_rc 0
expect_lines R 3
[ "$(lines R | grep -c '^200 HTTP/1\.1 tls1\.3 proto=HTTP/1\.1 scheme=https tls=TLSv1\.3 ')" -eq 3 ] ||
  { show; fail "ALPN http/1.1: not HTTP/1.1 over TLS 1.3 on both sides"; }
[ "$(nginx_conns "$P" "$n0")" -eq 1 ] || fail "HTTP/1.1 keep-alive: $(nginx_conns "$P" "$n0") connections for 3 requests"

# --- nghttpd (h2 only, no HTTP/1.1 fallback): HTTP/2.0
S=$(script nghttpd.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 2, thresholds: { 'http_reqs{proto:HTTP/2.0}': ['count==2'], 'http_reqs{status:200}': ['count==2'] } };
export default function () {
  const r = http.get(`${__ENV.U}/static/index.html`);
  console.log(`R ${r.status} ${r.proto} ${r.tls_version} ${r.body.length}`);
}
JS
)
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGHTTPD_URL" "$S"
expect_rc 0
[ "$(lines R | grep -c "^200 HTTP/2\.0 tls1\.3 $(wc -c <"$NGINX_ROOT/static/index.html")\$")" -eq 2 ] ||
  { show; fail "nghttpd: not two h2 200 responses with the file's body"; }

# --- http.batch over h2: 12 requests after one GET go out on the connection the GET opened,
# together (one connection, not six); then a cold batch (first request of a fresh VU) must not
# open more than one connection either (h2 needs only one).
S=$(script batch.js <<'JS'
import http from 'k6/http';
// COLD=1: the batch is the VU's first request; else one GET opens the connection first
export const options = { iterations: 1, thresholds: {
  'http_reqs{proto:HTTP/2.0}': [__ENV.COLD ? 'count==12' : 'count==13'],
  'http_reqs{status:200}': [__ENV.COLD ? 'count==12' : 'count==13'] } };
export default function () {
  if (!__ENV.COLD) http.get(`${__ENV.U}/static/index.html?warm`);
  const reqs = [];
  for (let i = 0; i < 12; i++) reqs.push(['GET', `${__ENV.U}/static/index.html?b=${i}`]);
  const rs = http.batch(reqs);
  let ok = 0;
  rs.forEach((r) => { if (r.status === 200 && r.proto === 'HTTP/2.0') ok++; });
  console.log(`B ${rs.length} ${ok}`);
}
JS
)
P=$(port_of "$NGINX_HTTPS"); n0=$(nginx_lines "$P")
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" "$S"
expect_rc 0
[ "$(lines B)" = "12 12" ] || { show; fail "batch: '$(lines B)', expected 12 h2 200 responses"; }
expect_out 'http_reqs\.+: 13 '
[ $(($(nginx_lines "$P") - n0)) -eq 13 ] || fail "batch: nginx logged $(($(nginx_lines "$P") - n0)) requests, expected 13"
[ "$(nginx_conns "$P" "$n0")" -eq 1 ] ||
  fail "a warm h2 batch of 12 used $(nginx_conns "$P" "$n0") connections, expected 1: $(tail -13 "$WORK/nginx/conn.log")"
n0=$(nginx_lines "$P")
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" -e COLD=1 "$S"
expect_rc 0
[ "$(lines B)" = "12 12" ] || { show; fail "cold batch: '$(lines B)', expected 12 h2 200 responses"; }
[ $(($(nginx_lines "$P") - n0)) -eq 12 ] || fail "cold batch: nginx logged $(($(nginx_lines "$P") - n0)) requests, expected 12"
[ "$(nginx_conns "$P" "$n0")" -eq 1 ] ||
  fail "a cold h2 batch of 12 used $(nginx_conns "$P" "$n0") connections, expected 1: $(tail -12 "$WORK/nginx/conn.log")"

# --- certificate verification: an expired certificate (1300), one for another name (1311), one
# from an unknown CA (1310) each give status 0, an error and that error_code, tagged on the
# samples; the run still exits 0 (failed requests do not fail a k6 run). The good server
# succeeds in the same run.
S=$(script verify.js <<'JS'
import http from 'k6/http';
const bad = __ENV.BAD === '1';
export const options = {
  iterations: 1,
  insecureSkipTLSVerify: __ENV.SKIP === '1',
  thresholds: bad ? {
    'http_reqs{error_code:1300}': ['count==1'],
    'http_reqs{error_code:1311}': ['count==1'],
    'http_reqs{error_code:1310}': ['count==1'],
    'http_reqs{expected_response:false}': ['count==3'],
    'http_reqs{status:200}': ['count==1'],
    'http_req_failed': ['rate==0.75'],
  } : {
    'http_reqs{status:200}': ['count==4'],
    'http_req_failed': ['rate==0'],
  },
};
export default function () {
  for (const name of ['GOOD', 'EXPIRED', 'WRONGNAME', 'UNTRUSTED']) {
    const r = http.get(`${__ENV[name]}/static/index.html`);
    console.log(`V ${name} ${r.status} ${r.error_code} ${r.proto || '-'} ${r.tls_version || '-'} err=${r.error}`);
  }
}
JS
)
TLSURLS="-e GOOD=$NGINX_HTTPS -e EXPIRED=$NGINX_EXPIRED -e WRONGNAME=$NGINX_WRONGNAME -e UNTRUSTED=$NGINX_UNTRUSTED"
# v_line NAME: the "status code proto tls" of NAME's request
v_line() { lines V | sed -n "s/^$1 \([^ ]* [^ ]* [^ ]* [^ ]*\) err=.*/\1/p"; }
# v_err NAME: its error message
v_err() { lines V | sed -n "s/^$1 .* err=//p"; }
run_sb run -q --tls-ca-file "$TEST_CA" -e BAD=1 $TLSURLS "$S"
expect_rc 0
expect_lines V 4
[ "$(v_line GOOD)" = "200 0 HTTP/2.0 tls1.3" ] || { show; fail "verification: the good server gave '$(v_line GOOD)'"; }
for nc in EXPIRED:1300 WRONGNAME:1311 UNTRUSTED:1310; do
  n=${nc%:*}; c=${nc#*:}
  case "$(v_line "$n")" in "0 $c "*) ;; *) show; fail "verification: $n gave '$(v_line "$n")', expected status 0 and error_code $c" ;; esac
  [ -n "$(v_err "$n")" ] || { show; fail "verification: $n has an empty error"; }
done
expect_out '✓ \{ error_code:1311 \}'
expect_out 'http_req_failed\.+: 75\.00% +✓ 3 +✗ 1'

# without --tls-ca-file the good server is not trusted either: 1310 for it too
run_sb run -q --no-thresholds $TLSURLS "$S"
expect_rc 0
case "$(v_line GOOD)" in "0 1310 "*) ;; *) show; fail "no --tls-ca-file: the good server gave '$(v_line GOOD)', expected 0 1310" ;; esac

# insecureSkipTLSVerify (the option, then the flag): all four succeed over h2, with or without a CA
for how in option flag; do
  if [ $how = option ]; then run_sb run -q -e SKIP=1 $TLSURLS "$S"
  else run_sb run -q --insecure-skip-tls-verify $TLSURLS "$S"; fi
  expect_rc 0
  for n in GOOD EXPIRED WRONGNAME UNTRUSTED; do
    [ "$(v_line $n)" = "200 0 HTTP/2.0 tls1.3" ] ||
      { show; fail "insecureSkipTLSVerify ($how): $n gave '$(v_line $n)', expected 200 0 HTTP/2.0 tls1.3"; }
  done
done

# --- tlsVersion: a minimum above what the server speaks fails the handshake (status 0, an
# error_code), a matching version succeeds and is reported as tls_version and as the tag
S=$(script tlsver.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, tlsVersion: JSON.parse(__ENV.V),
  thresholds: { [`http_reqs{tls_version:${__ENV.WANT}}`]: [`count==${__ENV.OK}`] } };
export default function () {
  const r = http.get(`${__ENV.U}/nginx/info`);
  console.log(`T ${r.status} ${r.error_code} ${r.tls_version || '-'} ${r.status === 200 ? r.body.trim() : r.error}`);
}
JS
)
# tlsver VERSION-JSON URL: runs it; sets TV to "status error_code tls_version body-or-error"
tlsver() {
  run_sb run -q --tls-ca-file "$TEST_CA" -e V="$1" -e U="$2" -e WANT="${3:-tls1.3}" -e OK="${4:-0}" "$S"
  expect_rc 0
  TV=$(lines T)
}
# expect_tv_fail WHAT: the handshake failed: status 0, a non-zero error_code, no tls_version
expect_tv_fail() {
  case "$TV" in "0 "[1-9]*" - "*) ;; *) show; fail "$1: '$TV', expected status 0, an error_code and no tls_version" ;; esac
}
tlsver '{"min":"tls1.3"}' "$NGINX_TLS12"
expect_tv_fail "tlsVersion min tls1.3 against a TLS 1.2 server"
tlsver '"tls1.2"' "$NGINX_TLS13"
expect_tv_fail "tlsVersion tls1.2 against a TLS 1.3 server"
tlsver '{"min":"tls1.3"}' "$NGINX_TLS13" tls1.3 1
case "$TV" in "200 0 tls1.3 "*"tls=TLSv1.3 "*) ;; *) show; fail "tlsVersion min tls1.3 against TLS 1.3: '$TV'" ;; esac
tlsver '"tls1.2"' "$NGINX_TLS12" tls1.2 1
case "$TV" in "200 0 tls1.2 "*"tls=TLSv1.2 "*) ;; *) show; fail "tlsVersion tls1.2 against TLS 1.2: '$TV'" ;; esac
# pinned to 1.2 against a server that speaks both: 1.2, not 1.3
tlsver '"tls1.2"' "$NGINX_HTTPS" tls1.2 1
case "$TV" in "200 0 tls1.2 "*"tls=TLSv1.2 "*) ;; *) show; fail "tlsVersion tls1.2 against TLS 1.2/1.3: '$TV'" ;; esac
# max tls1.2 with a TLS 1.2 cipher suite: the suite is the one asked for
S=$(script cipher.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, tlsVersion: 'tls1.2', tlsCipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] };
export default function () {
  const r = http.get(`${__ENV.U}/nginx/info`);
  console.log(`T ${r.status} ${r.tls_version} ${r.tls_cipher_suite}`);
}
JS
)
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" "$S"
expect_rc 0
[ "$(lines T)" = "200 tls1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" ] ||
  { show; fail "tlsCipherSuites: '$(lines T)'"; }

# --- gzip: nginx compresses small.json; the body the script sees is the file, decoded
S=$(script gzip.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  const r = http.get(`${__ENV.U}/static/small.json`, { headers: { 'Accept-Encoding': 'gzip' } });
  let items = -1;
  try { items = JSON.parse(r.body).items.length; } catch (e) { items = `unparsable: ${e}`; }
  console.log(`G ${r.status} ${r.proto} ${r.headers['Content-Encoding']} ${r.body.length} ${items} ${r.json('items.#')}`);
}
JS
)
P=$(port_of "$NGINX_HTTPS"); n0=$(nginx_lines "$P")
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" "$S"
expect_rc 0
[ "$(lines G)" = "200 HTTP/2.0 gzip $SMALL_SIZE 41 41" ] ||
  { show; fail "gzip: '$(lines G)', expected '200 HTTP/2.0 gzip $SMALL_SIZE 41 41'"; }
# it really came compressed: nginx sent fewer bytes than the file has
sent=$(awk -v p="$P" '$2 == p && /small.json/ { b = $(NF - 1) } END { print b + 0 }' "$NGINX_DIR/access.log")
[ "$sent" -gt 0 ] && [ "$sent" -lt "$SMALL_SIZE" ] || fail "gzip: nginx sent $sent bytes of a $SMALL_SIZE-byte file"

# --- thresholds over tag-filtered submetrics: a passing set, then the same run against a set
# that must fail (exit 99, the crossed ones marked ✗)
S=$(script th.js <<'JS'
import http from 'k6/http';
export const options = {
  scenarios: { p: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } },
  thresholds: __ENV.STRICT ? {
    'http_req_failed': ['rate==0'],
    'http_reqs{proto:HTTP/1.1}': ['count>0'],
  } : {
    // per VU: 4 good h2 + 1 h1, 2 expired: 14 requests, 4 failed
    'http_req_failed': ['rate>0.285', 'rate<0.286'],
    'http_req_failed{proto:HTTP/2.0}': ['rate==0'],
    'http_reqs{expected_response:true}': ['count==10'],
    'http_reqs{expected_response:false}': ['count==4'],
    'http_reqs{proto:HTTP/2.0,tls_version:tls1.3}': ['count==8'],
    'http_reqs{proto:HTTP/1.1}': ['count==2'],
    'http_req_tls_handshaking{proto:HTTP/2.0}': ['max>0', 'med==0'],
    'http_req_duration{expected_response:true}': ['max>0'],
  },
};
export default function () {
  http.get(`${__ENV.GOOD}/static/index.html`);
  if (__ITER < 2) http.get(`${__ENV.EXPIRED}/static/index.html`);
  if (__ITER === 0) http.get(`${__ENV.H1}/static/index.html`);
  if (__ITER === 2) http.get(`${__ENV.GOOD}/static/index.html`);
}
JS
)
run_sb run -q --tls-ca-file "$TEST_CA" -e GOOD="$NGINX_HTTPS" -e EXPIRED="$NGINX_EXPIRED" -e H1="$NGINX_HTTPS_H1" "$S"
expect_rc 0
expect_out 'http_req_failed\.+: 28\.57% +✓ 4 +✗ 10'
expect_no_out '^ *✗ '
run_sb run -q --tls-ca-file "$TEST_CA" -e STRICT=1 -e GOOD="$NGINX_HTTPS" -e EXPIRED="$NGINX_EXPIRED" -e H1="$NGINX_HTTPS_H1" "$S"
expect_rc 99
expect_out '✗ http_req_failed'
expect_out '✓ \{ proto:HTTP/1\.1 \}'

# --- names: https://localhost verifies against the certificate's DNS name; with the hosts
# option, https://wrong.example resolves to loopback and verifies against the wrong-name
# server's certificate (SNI and verification use the URL's name, not the address)
S=$(script names.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, hosts: { 'wrong.example': '127.0.0.1' } };
export default function () {
  for (const u of [__ENV.LOCAL, __ENV.WRONG]) {
    const r = http.get(`${u}/nginx/info`);
    console.log(`N ${r.status} ${r.error_code} ${r.proto || '-'}`);
  }
}
JS
)
run_sb run -q --tls-ca-file "$TEST_CA" -e LOCAL="$NGINX_HTTPS_NAME" \
  -e WRONG="https://wrong.example:$(port_of "$NGINX_WRONGNAME")" "$S"
expect_rc 0
[ "$(lines N | tr '\n' ' ')" = "200 0 HTTP/2.0 200 0 HTTP/2.0 " ] ||
  { show; fail "by name (localhost, then wrong.example through hosts): '$(lines N | tr '\n' ' ')'"; }

# --- noConnectionReuse: every request opens its own connection and pays a handshake
S=$(script noreuse.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 4, noConnectionReuse: true,
  thresholds: { 'http_req_tls_handshaking{proto:HTTP/2.0}': ['min>0'], 'http_reqs{proto:HTTP/2.0}': ['count==4'] } };
export default function () { http.get(`${__ENV.U}/static/index.html?noreuse`); }
JS
)
P=$(port_of "$NGINX_HTTPS"); n0=$(awk -v p="$P" '$1 == p' "$WORK/nginx/conn.log" | wc -l)
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_HTTPS" "$S"
expect_rc 0
[ "$(nginx_conns "$P" "$n0")" -eq 4 ] || fail "noConnectionReuse: 4 requests over $(nginx_conns "$P" "$n0") connections"

# --- client certificates: with tlsAuth for the host the mTLS server is on, nginx sees a verified
# client certificate; for another domain the certificate is not sent; without tlsAuth nginx
# answers 400
S=$(script mtls.js <<'JS'
import http from 'k6/http';
// CERT and KEY: PEM text, or (as k6 users write it) paths read with open()
const pem = (v) => (v.indexOf('-----BEGIN') === 0 ? v : open(v));
const auth = __ENV.DOMAIN ? [{ domains: [__ENV.DOMAIN], cert: pem(__ENV.CERT), key: pem(__ENV.KEY) }] : [];
export const options = { iterations: 1, tlsAuth: auth };
export default function () {
  const r = http.get(`${__ENV.U}/nginx/info`);
  console.log(`M ${r.status} ${r.proto} ${r.body.trim().split('\n')[0]}`);
}
JS
)
MTLSHOST=$(echo "$NGINX_MTLS" | sed 's,https://\([^:]*\):.*,\1,')
# expect_client_ok HOW: the last run's request went through with the client certificate
expect_client_ok() {
  expect_rc 0
  case "$(lines M)" in "200 HTTP/2.0 proto=HTTP/2.0 scheme=https tls=TLSv1.3 client=SUCCESS dn=CN=speedboat test client") ;;
    *) show; fail "tlsAuth ($1): '$(lines M)', expected nginx to see client=SUCCESS" ;; esac
}
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_MTLS" -e DOMAIN="$MTLSHOST" \
  -e CERT="$(cat "$TEST_CLIENT_CERT")" -e KEY="$(cat "$TEST_CLIENT_KEY")" "$S"
expect_client_ok "PEM text"
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_MTLS" "$S"
expect_rc 0
case "$(lines M)" in "400 "*) ;; *) show; fail "no tlsAuth: '$(lines M)', expected nginx's 400" ;; esac
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_MTLS" -e DOMAIN=other.example \
  -e CERT="$(cat "$TEST_CLIENT_CERT")" -e KEY="$(cat "$TEST_CLIENT_KEY")" "$S"
expect_rc 0
case "$(lines M)" in "400 "*) ;; *) show; fail "tlsAuth for another domain: '$(lines M)', expected nginx's 400" ;; esac

# the files read with open() in the init context, as k6's documentation writes tlsAuth
run_sb run -q --tls-ca-file "$TEST_CA" -e U="$NGINX_MTLS" -e DOMAIN="$MTLSHOST" \
  -e CERT="$TEST_CLIENT_CERT" -e KEY="$TEST_CLIENT_KEY" "$S"
expect_client_ok "open()"

echo ok
