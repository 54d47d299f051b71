# Network and protocol failures never throw from k6/http: the response has status 0 (or what was
# received), error and k6's error_code, the error_code tag is on the samples, and the run goes on
# and exits 0. Script mistakes (a header value with CR LF, an unsupported scheme) do throw.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target

expect_t() {
  grep -Fq -- "T $1=$2 |" "$WORK/err" || { show; fail "no console line: T $1=$2"; }
}

JSHEAD="import http from 'k6/http';
const T = __ENV.TARGET;
const t = (k, v) => console.log('T ' + k + '=' + JSON.stringify(v) + ' |');"

# --- failures are responses, not exceptions -------------------------------------------------------
s=$(script neterr.js <<JS
$JSHEAD
export const options = {
  iterations: 1,
  thresholds: {
    'http_reqs{error_code:1212}': ['count==1'],
    'http_reqs{error_code:1101}': ['count==1'],
    'http_reqs{error_code:1050}': ['count==1'],
    'http_req_failed{case:refused}': ['rate==1'],
  },
};
function req(name, url, params) {
  const t0 = Date.now();
  try {
    const r = http.get(url, params);
    t(name, [r.status, r.error_code, typeof r.error === 'string' && r.error.length > 0]);
    console.log('E ' + name + ': status=' + r.status + ' code=' + r.error_code +
                ' error=' + r.error + ' ms=' + (Date.now() - t0));
    return r;
  } catch (e) {
    t(name, 'threw: ' + e);
    return null;
  }
}
export default function () {
  req('refused', 'http://127.0.0.1:1/', { tags: { case: 'refused' } });
  req('nohost', 'http://speedboat-no-such-host.invalid/');
  const t0 = Date.now();
  req('timeout', T + '/hang', { timeout: '300ms' });
  const ms = Date.now() - t0;
  t('timeout.fast', ms >= 250 && ms < 1000);
  req('reset', T + '/reset');
  req('garbage', T + '/garbage');
  const r = req('eof', T + '/close-after-headers');
  t('eof.msg', r !== null && /EOF/.test(r.error));
  t('after', http.get(T + '/').status);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t refused '[0,1212,true]'
expect_t nohost '[0,1101,true]'
expect_t timeout '[0,1050,true]'
expect_t timeout.fast true
expect_t reset '[0,1220,true]'
expect_t garbage '[0,1000,true]'
grep -Eq 'T eof=\[[0-9]+,[1-9][0-9]*,true\] \|' "$WORK/err" ||
  { show; fail "/close-after-headers: no error"; }
expect_t eof.msg true
expect_t after 200
expect_out '✓ \{ error_code:1212 \}'
expect_out 'iterations\.+: 1 '

# --- script mistakes throw: a header value with CR LF, an unsupported scheme ----------------------
s=$(script scripterr.js <<JS
$JSHEAD
export const options = { iterations: 3, vus: 1 };
export default function () {
  if (__ITER === 0) {
    try {
      http.get(T + '/echo', { headers: { 'X-Injected': 'a\r\nX-Evil: 1' } });
      t('crlf', 'no exception');
    } catch (e) {
      t('crlf.names.header', /X-Injected/i.test(String(e)));
      console.log('crlf exception: ' + e);
    }
    try {
      http.get('ftp://127.0.0.1/file');
      t('ftp', 'no exception');
    } catch (e) {
      t('ftp.clear', /ftp/.test(String(e)) && /scheme|protocol/i.test(String(e)));
      console.log('ftp exception: ' + e);
    }
  }
  if (__ITER === 1) {
    http.get(T + '/echo', { headers: { 'X-Injected': 'a\r\nX-Evil: 1' } });
    t('uncaught', 'went on');
  }
  t('iter' + __ITER, 'done');
}
JS
)
n0=$(target_requests)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t crlf.names.header true
expect_t ftp.clear true
expect_t iter0 '"done"'
expect_t iter2 '"done"'
grep -Fq 'T iter1=' "$WORK/err" && { show; fail "iteration 1 went on after the exception"; }
grep -Fq 'T uncaught=' "$WORK/err" && { show; fail "iteration 1 went on after the exception"; }
expect_err '^ERRO.*X-Injected'
[ "$(target_requests)" = "$n0" ] ||
  fail "a request with CR LF in a header or to ftp:// reached the target"
