# More of k6/http at the target: http.url name grouping, noVUConnectionReuse, keep-alive ended by
# the server (Connection: close), a chunked request body, discardResponseBodies, IPv6 literals
# ([::1]:port), and the dns policy steering localhost to ::1.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
B=$TARGET

# --- http.url: one name for many URLs (k6: tags.name = the template with ${}), url = the real one
s=$(script urlname.js <<'JS'
import http from 'k6/http';
export const options = {
  iterations: 1,
  thresholds: {
    'http_reqs{name:B/echo?id=${}}': ['count==3'],
    'http_reqs{url:B/echo?id=2}': ['count==1'],
  },
};
export default function () {
  for (let id = 1; id <= 3; id++) {
    const r = http.get(http.url`B/echo?id=${id}`); // B: the target, written in by sed
    if (r.status !== 200 || r.url !== `${__ENV.B}/echo?id=${id}`) console.error(`bad ${r.status} ${r.url}`);
  }
}
JS
)
sed -i "s#B/echo#$B/echo#g" "$s"
run_sb run -q -e B="$B" "$s"
expect_rc 0
expect_out "✓ \{ name:$B/echo\?id=\\$\{\} \}"
expect_out "✓ \{ url:$B/echo\?id=2 \}"
if grep -q ERRO "$WORK/err"; then show; fail "http.url"; fi

# --- noVUConnectionReuse: a new connection at each iteration, kept within it; without it, one
s=$(script vureuse.js <<'JS'
import http from 'k6/http';
export const options = { vus: 1, iterations: 3, noVUConnectionReuse: __ENV.NOREUSE === '1' };
export default function () {
  const a = http.get(`${__ENV.B}/echo`), b = http.get(`${__ENV.B}/echo`);
  console.log(`conn first=${a.timings.connecting > 0} second=${b.timings.connecting > 0}`);
}
JS
)
run_sb run -q --no-summary -e B="$B" -e NOREUSE=1 "$s"
expect_rc 0
[ "$(grep -c 'conn first=true second=false' "$WORK/err")" = 3 ] || { show; fail "noVUConnectionReuse: a new connection per iteration"; }
run_sb run -q --no-summary -e B="$B" -e NOREUSE=0 "$s"
expect_rc 0
[ "$(grep -c 'conn first=true' "$WORK/err")" = 1 ] || { show; fail "without noVUConnectionReuse: one connection for the VU"; }

# --- every iteration starts with an empty VU jar, also when the jar was only used directly
s=$(script jarreset.js <<'JS'
import http from 'k6/http';
export const options = { vus: 1, iterations: 3 };
export default function () {
  const jar = http.cookieJar();
  console.log('jar before ' + JSON.stringify(jar.cookiesForURL('http://x.test/')));
  jar.set('http://x.test/', 'a', String(__ITER));
}
JS
)
run_sb run -q --no-summary "$s"
expect_rc 0
[ "$(grep -c 'jar before {}' "$WORK/err")" = 3 ] || { show; fail "the VU jar was not emptied between iterations"; }

# --- the server ends keep-alive (Connection: close): the next request dials again, no error
s=$(script close.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  const a = http.get(`${__ENV.B}/?close=1`), b = http.get(`${__ENV.B}/`), c = http.get(`${__ENV.B}/`);
  console.log(`close ${a.status} ${b.status} ${c.status} ${b.timings.connecting > 0} ${c.timings.connecting > 0} ${b.error}${c.error}`);
}
JS
)
run_sb run -q --no-summary -e B="$B" "$s"
expect_rc 0
expect_err 'close 200 200 200 true false +source=console'

# --- a chunked request body (the script asks for Transfer-Encoding: chunked), discarded bodies
s=$(script chunked.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, discardResponseBodies: __ENV.DISCARD === '1' };
export default function () {
  const body = 'x'.repeat(100000);
  const r = http.post(`${__ENV.B}/echo`, body, { headers: { 'Transfer-Encoding': 'chunked' } });
  if (__ENV.DISCARD === '1') { console.log(`discarded ${r.status} ${r.body === null}`); return; }
  const e = r.json();
  console.log(`chunked ${r.status} len=${e.len} te=${e.header['transfer-encoding']} cl=${e.header['content-length']}`);
  const t = http.get(`${__ENV.B}/echo`, { responseType: 'text' });
  console.log(`text ${typeof t.body}`);
}
JS
)
run_sb run -q --no-summary -e B="$B" -e DISCARD=0 "$s"
expect_rc 0
expect_err 'chunked 200 len=100000 te=chunked cl=undefined'
run_sb run -q --no-summary -e B="$B" -e DISCARD=1 "$s"
expect_rc 0
expect_err 'discarded 200 true'

# --- res.request as k6 shows it: the headers sent ({Name: [values]}, the default User-Agent
# included), the cookies they carried, the body as sent (a form encoded)
s=$(script request.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  http.cookieJar().set(`${__ENV.B}/echo`, 'jar', '1');
  const q = http.post(`${__ENV.B}/echo`, { a: 'b c' }, { headers: { 'x-one': 'x' }, cookies: { mine: '2' } }).request;
  console.log(`req ${q.method} ${q.body} ${q.headers['X-One'][0]} ${q.headers['Content-Type'][0]}` +
    ` ${q.headers['User-Agent'][0].indexOf('speedboat/') === 0} ${q.cookies.mine[0].value} ${q.cookies.jar[0].value}`);
}
JS
)
run_sb run -q --no-summary -e B="$B" "$s"
expect_rc 0
expect_err 'req POST a=b\+c x application/x-www-form-urlencoded true 2 1'

# --- a failed request: k6's "Request Failed" warning and a response; with throw (the option or
# -w/--throw) an exception instead
dead=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
while [ -n "$(ss -Htln "sport = :$dead" 2>/dev/null)" ]; do dead=$((dead + 1)); done # nobody listens
s=$(script throw.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, throw: __ENV.THROW === '1' };
export default function () {
  try {
    const r = http.get(`http://127.0.0.1:${__ENV.DEAD}/x`);
    console.log(`returned ${r.status} ${r.error_code}`);
  } catch (e) {
    console.log(`threw ${e.message}`);
  }
}
JS
)
run_sb run -q --no-summary -e DEAD="$dead" -e THROW=0 "$s"
expect_rc 0
expect_err "^WARN\[[0-9]+\] Request Failed  error=\"GET .*127\.0\.0\.1:$dead/x.*: dial: connection refused\"\$"
expect_err 'returned 0 1212'
run_sb run -q --no-summary -e DEAD="$dead" -e THROW=1 "$s"
expect_rc 0
expect_err "threw GET http://127\.0\.0\.1:$dead/x: dial: connection refused"
if grep -q 'Request Failed' "$WORK/err"; then show; fail "throw: no warning expected"; fi
run_sb run -q --no-summary -w -e DEAD="$dead" -e THROW=0 "$s"
expect_rc 0
expect_err "threw GET"

# --- the summary lists checks and groups in the script's order, as k6 does (not by name)
s=$(script order.js <<'JS'
import { check, group } from 'k6';
export const options = { iterations: 2 };
export default function () {
  check(1, { 'zeta first': () => true, 'alpha second': () => true });
  group('zgroup', () => { check(1, { 'inside z': () => true }); });
  group('agroup', () => { check(1, { 'inside a': () => true }); });
}
JS
)
run_sb run -q "$s"
expect_rc 0
order=$(grep -E '✓ (zeta first|alpha second|inside z|inside a)|█ (zgroup|agroup)' "$WORK/out" | sed 's/^ *//' | tr '\n' '|')
[ "$order" = "✓ zeta first|✓ alpha second|█ zgroup|✓ inside z|█ agroup|✓ inside a|" ] ||
  { show; fail "summary order: $order"; }

# --- console.debug shows only with -v/--verbose, as in k6
s=$(script debug.js <<'JS'
export const options = { iterations: 1 };
export default function () { console.debug('a debug line'); console.log('a log line'); }
JS
)
run_sb run -q --no-summary "$s"
expect_rc 0
expect_err 'a log line'
if grep -q 'a debug line' "$WORK/err"; then show; fail "console.debug shown without --verbose"; fi
run_sb run -q --no-summary -v "$s"
expect_rc 0
expect_err '^DEBU\[[0-9]+\] a debug line'

# --- IPv6: a literal [::1]:port, and the dns policy sending localhost to ::1
"$SB_TARGET" --listen '[::1]:0' >"$WORK/target6.out" 2>&1 &
PIDS="$PIDS $!"
i=0
until grep -q '^listening' "$WORK/target6.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "sb-target on ::1 did not start: $(cat "$WORK/target6.out")"; sleep 0.05
done
P6=$(sed -n 's/^listening \[::1\]:\([0-9]*\)$/\1/p' "$WORK/target6.out")
s=$(script v6.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 1, dns: { policy: 'onlyIPv6' } };
export default function () {
  const a = http.get(`http://[::1]:${__ENV.P6}/echo`);
  const b = http.get(`http://localhost:${__ENV.P6}/echo`);
  console.log(`v6 ${a.status} ${a.remote_ip} ${a.json().header.host} ${b.status} ${b.remote_ip}`);
}
JS
)
run_sb run -q --no-summary -e P6="$P6" "$s"
expect_rc 0
expect_err "v6 200 ::1 \[::1\]:$P6 200 ::1"
echo ok
