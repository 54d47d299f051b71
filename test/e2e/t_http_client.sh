# What a k6 script relies on from k6/http against a real server (sb-target): redirects, cookie
# jars, basic and digest auth, compression both ways, request and response bodies, http.batch and
# its per-host limit, response callbacks, the hosts option, noConnectionReuse, json(selector) and
# the User-Agent. Scripts report what they saw as console lines "T name=<JSON> |" (stderr);
# thresholds with tag filters check how requests were measured (exit 99 when one is crossed).
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target

# expect_t NAME JSON: the script logged "T NAME=JSON |".
expect_t() {
  grep -Fq -- "T $1=$2 |" "$WORK/err" || { show; fail "no console line: T $1=$2"; }
}
# served_since N: requests the target served since its count was N.
served_since() { echo $(($(target_requests) - $1)); }

JSHEAD="import http from 'k6/http';
const T = __ENV.TARGET;
const t = (k, v) => console.log('T ' + k + '=' + JSON.stringify(v) + ' |');"

# --- redirects: each hop is a measured request; the chain ends where the final URL says ---------
s=$(script redirects.js <<JS
$JSHEAD
export const options = {
  iterations: 1,
  thresholds: {
    'http_reqs{hop:chain}': ['count==4'],
    'http_reqs{hop:chain,status:302}': ['count==3'],
    'http_reqs{hop:chain,status:200}': ['count==1'],
    'http_reqs{hop:none}': ['count==1'],
    'http_reqs{status:303}': ['count==1'],
    'http_reqs{status:307}': ['count==1'],
    ['http_reqs{url:' + T + '/echo}']: ['count==4'],
    ['http_reqs{url:' + T + '/redirect?n=1&code=302&rel=0}']: ['count==1'],
  },
};
export default function () {
  let r = http.get(T + '/redirect?n=3', { tags: { hop: 'chain' } });
  t('chain.status', r.status);
  t('chain.url', r.url);
  t('chain.uri', r.json().uri);
  r = http.get(T + '/redirect?n=3', { redirects: 0, tags: { hop: 'none' } });
  t('none.status', r.status);
  t('none.location', r.headers['Location'] !== undefined);
  r = http.get(T + '/redirect?n=2&rel=1');
  t('rel.status', r.status);
  t('rel.uri', r.json().uri);
  r = http.get(T + '/redirect-dots/a/b');
  t('dots.status', r.status);
  t('dots.uri', r.json().uri);
  t('dots.url', r.url);
  r = http.post(T + '/redirect?n=1&code=303', 'hello body');
  t('303.method', r.json().method);
  t('303.len', r.json().len);
  r = http.post(T + '/redirect?n=1&code=307', 'hello body');
  t('307.method', r.json().method);
  t('307.body', r.json().body);
}
JS
)
n0=$(target_requests)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t chain.status 200
expect_t chain.url "\"$TARGET/echo\""
expect_t chain.uri '"/echo"'
expect_t none.status 302
expect_t none.location true
expect_t rel.status 200
expect_t rel.uri '"/echo"'
expect_t dots.status 200
expect_t dots.uri '"/echo?dots=1"'
expect_t dots.url "\"$TARGET/echo?dots=1\""
expect_t 303.method '"GET"'
expect_t 303.len 0
expect_t 307.method '"POST"'
expect_t 307.body '"hello body"'
[ "$(metric_value http_reqs)" = 14 ] || { show; fail "http_reqs: expected 14 (4+1+3+2+2+2)"; }
n=$(served_since "$n0")
[ "$n" = 14 ] || fail "the target served $n requests, expected 14"

# maxRedirects: the option caps every request (the last redirect is returned); params.redirects
# overrides it.
s=$(script maxredir.js <<JS
$JSHEAD
export const options = {
  iterations: 1, maxRedirects: 1,
  thresholds: { 'http_reqs{hop:capped}': ['count==2'], 'http_reqs{hop:over}': ['count==4'] },
};
export default function () {
  let r = http.get(T + '/redirect?n=3', { tags: { hop: 'capped' } });
  t('capped.status', r.status);
  r = http.get(T + '/redirect?n=3', { redirects: 5, tags: { hop: 'over' } });
  t('over.status', r.status);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t capped.status 302
expect_t over.status 200

# --- cookies: a jar per VU iteration, the jar API, params.cookies, cookies across redirects, path
# and secure scoping, expiry by Set-Cookie, a script's own jar (params.jar) ---------------------
s=$(script cookies.js <<JS
$JSHEAD
export const options = { iterations: 2, vus: 1 };
export default function () {
  const i = __ITER;
  let r = http.get(T + '/cookies');
  t(i + '.start', r.json().cookies);
  r = http.get(T + '/cookies/set?a=1');
  t(i + '.res.cookies', r.cookies.a && r.cookies.a[0].value);
  r = http.get(T + '/cookies');
  t(i + '.after.set', r.json().cookies);
  const jar = http.cookieJar();
  jar.set(T + '/', 'x', 'y');
  r = http.get(T + '/cookies');
  t(i + '.jar.set', r.json().cookies);
  const f = jar.cookiesForURL(T + '/cookies');
  t(i + '.forurl', [f.a, f.x]);
  r = http.get(T + '/cookies', { cookies: { a: { value: '9', replace: true } } });
  t(i + '.replace', r.json().list.sort());
  r = http.get(T + '/cookies', { cookies: { a: '5' } });
  t(i + '.added', r.json().list.sort());
  r = http.get(T + '/cookies');
  t(i + '.jar.kept', r.json().list.sort());
  r = http.get(T + '/cookies/set?r=7&redirect=1');
  t(i + '.redirected', [r.status, r.json().cookies.r]);
  jar.clear(T + '/cookies');
  t(i + '.clear', http.get(T + '/cookies').json().cookies);
  http.get(T + '/cookies/set?p=1&path=/other');
  http.get(T + '/cookies/set?s=1&secure&path=/');
  http.get(T + '/cookies/set?d=1&e=2&path=/');
  jar.delete(T + '/', 'e');
  t(i + '.scoped', http.get(T + '/cookies').json().cookies);
  http.get(T + '/cookies/delete?d');
  t(i + '.expired', http.get(T + '/cookies').json().cookies);
  const own = new http.CookieJar();
  own.set(T + '/', 'own', 'jar');
  t(i + '.own.sent', http.get(T + '/cookies', { jar: own }).json().cookies);
  http.get(T + '/cookies/set?z=9&path=/', { jar: own });
  t(i + '.own.kept', [own.cookiesForURL(T + '/'), http.get(T + '/cookies').json().cookies]);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
for i in 0 1; do
  expect_t $i.start '{}'
  expect_t $i.res.cookies '"1"'
  expect_t $i.after.set '{"a":"1"}'
  expect_t $i.jar.set '{"a":"1","x":"y"}'
  expect_t $i.forurl '[["1"],["y"]]'
  expect_t $i.replace '[["a","9"],["x","y"]]'
  expect_t $i.added '[["a","1"],["a","5"],["x","y"]]'
  expect_t $i.jar.kept '[["a","1"],["x","y"]]'
  expect_t $i.redirected '[200,"7"]'
  expect_t $i.clear '{}'
  expect_t $i.scoped '{"d":"1"}'
  expect_t $i.expired '{}'
  expect_t $i.own.sent '{"own":"jar"}'
  expect_t $i.own.kept '[{"own":["jar"],"z":["9"]},{}]'
done

# --- auth: basic from the URL's userinfo, digest with {auth:'digest'} (a 401, then the 200) -----
HP=${TARGET#http://}
s=$(script auth.js <<JS
$JSHEAD
const HP = '$HP';
export const options = {
  iterations: 1,
  thresholds: {
    'http_reqs{auth:digest}': ['count==2'],
    'http_reqs{auth:digest,status:401}': ['count==1'],
    'http_reqs{auth:digest,status:200}': ['count==1'],
  },
};
export default function () {
  let r = http.get('http://user:pass@' + HP + '/basic-auth/user/pass');
  t('basic.ok', [r.status, r.status === 200 && r.json().user]);
  r = http.get('http://user:wrong@' + HP + '/basic-auth/user/pass');
  t('basic.bad', r.status);
  r = http.get('http://user:pass@' + HP + '/digest-auth/auth/user/pass',
               { auth: 'digest', tags: { auth: 'digest' } });
  t('digest.ok', r.status);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t basic.ok '[200,"user"]'
expect_t basic.bad 401
expect_t digest.ok 200

# --- compression: responses decoded, request bodies compressed with params.compression ------------
s=$(script compression.js <<JS
$JSHEAD
export const options = { iterations: 1 };
export default function () {
  for (const e of ['gzip', 'deflate', 'br', 'zstd']) {
    const r = http.get(T + '/' + e + '?size=3000');
    let j = null;
    try { j = r.json(); } catch (x) { j = String(x); }
    t('resp.' + e, j && [j.encoding, j.data && j.data.length]);
  }
  const body = 'speedboat body '.repeat(200);
  for (const e of ['gzip', 'br', 'deflate', 'zstd']) {
    const j = http.post(T + '/echo', body, { compression: e }).json();
    t('req.' + e, [j.header['content-encoding'], j.decoded === body, j.len < body.length]);
  }
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
for e in gzip deflate br zstd; do
  expect_t resp.$e "[\"$e\",3000]"
  expect_t req.$e "[\"$e\",true,true]"
done

# --- bodies: forms, multipart, binary both ways, none, chunked, huge, many headers, 1.0, 100 ----
s=$(script bodies.js <<JS
$JSHEAD
export const options = { iterations: 1 };
export default function () {
  let j = http.post(T + '/echo', { a: ['1', '2'], b: 'x y' }).json();
  t('form.body', j.body);
  t('form.type', j.header['content-type']);
  const file = http.file('file text', 'test.txt', 'text/plain');
  j = http.post(T + '/echo', { field: 'v', file: file }).json();
  const ct = j.header['content-type'] || '';
  const m = /^multipart\/form-data; boundary=(.+)$/.exec(ct);
  t('multi.type', m !== null);
  t('multi.parts', m !== null && j.body.indexOf('--' + m[1] + '\r\n') === 0 &&
    j.body.indexOf('--' + m[1] + '--') > 0);
  t('multi.file', j.body.indexOf('filename="test.txt"') > 0 && j.body.indexOf('file text') > 0);
  t('multi.field', j.body.indexOf('name="field"') > 0);
  const u = new Uint8Array([0, 1, 2, 200, 255]);
  j = http.post(T + '/echo', u.buffer).json();
  t('bin.req', [j.len, Array.prototype.map.call(j.body, (c) => c.charCodeAt(0))]);
  let r = http.get(T + '/?size=1234', { responseType: 'binary' });
  t('bin.res', [r.body instanceof ArrayBuffer, r.body.byteLength]);
  r = http.get(T + '/?size=1234', { responseType: 'none' });
  t('none.res', [r.status, r.body]);
  r = http.get(T + '/chunked?size=12345&chunk=1000');
  t('chunked', [r.status, r.body.length]);
  r = http.get(T + '/huge?size=5000000', { responseType: 'binary' });
  t('huge', [r.status, r.body.byteLength]);
  r = http.get(T + '/headers?n=200');
  const xs = Object.keys(r.headers).filter((k) => /^x-sb-[0-9]+$/i.test(k));
  t('headers', [xs.length, r.headers['X-Sb-1'] !== undefined, r.headers['X-Sb-200'] !== undefined]);
  r = http.get(T + '/http10');
  t('http10', [r.status, r.proto, r.body.length > 0 && r.json().http10]);
  r = http.get(T + '/http10?nolen=1');
  t('http10.nolen', [r.status, r.body.length > 0 && r.json().http10]);
  r = http.get(T + '/continue?ms=200');
  t('continue', [r.status, r.timings.waiting >= 150]);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t form.body '"a=1&a=2&b=x+y"'
expect_t form.type '"application/x-www-form-urlencoded"'
expect_t multi.type true
expect_t multi.parts true
expect_t multi.file true
expect_t multi.field true
expect_t bin.req '[5,[0,1,2,200,255]]'
expect_t bin.res '[true,1234]'
expect_t none.res '[200,null]'
expect_t chunked '[200,12345]'
expect_t huge '[200,5000000]'
expect_t headers '[200,true,true]'
expect_t http10 '[200,"HTTP/1.0",true]'
expect_t http10.nolen '[200,true]'
expect_t continue '[200,true]'

# --- http.batch: the three forms, and batchPerHost bounding the parallel requests to one host ---
s=$(script batch.js <<JS
$JSHEAD
export const options = { iterations: 1 };
export default function () {
  let rs = http.batch([T + '/?status=201', T + '/?status=202']);
  t('array', [Array.isArray(rs), rs.map((r) => r.status)]);
  rs = http.batch({ first: T + '/?status=203',
                    second: { method: 'GET', url: T + '/?status=204' } });
  t('object', [Object.keys(rs).sort(), rs.first.status, rs.second.status]);
  rs = http.batch([['POST', T + '/echo', 'batched body', { headers: { 'X-B': 'yes' } }],
                   ['GET', T + '/echo?q=1']]);
  t('tuple', [rs[0].json().method, rs[0].json().body, rs[0].json().header['x-b'],
              rs[1].json().uri]);
  const t0 = Date.now();
  rs = http.batch([1, 2, 3, 4].map(() => T + '/slow?ms=200'));
  const ms = Date.now() - t0;
  t('slow.parallel', [rs.map((r) => r.status), ms >= 190 && ms < 600]);
  if (!(ms >= 190 && ms < 600)) console.log('parallel batch took ' + ms + ' ms');
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t array '[true,[201,202]]'
expect_t object '[["first","second"],203,204]'
expect_t tuple '["POST","batched body","yes","/echo?q=1"]'
expect_t slow.parallel '[[200,200,200,200],true]'

s=$(script batchperhost.js <<JS
$JSHEAD
export const options = { iterations: 1, batchPerHost: 1 };
export default function () {
  const t0 = Date.now();
  const rs = http.batch([1, 2, 3, 4].map(() => T + '/slow?ms=200'));
  const ms = Date.now() - t0;
  t('slow.serial', [rs.map((r) => r.status), ms >= 790]);
  console.log('serial batch took ' + ms + ' ms');
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t slow.serial '[[200,200,200,200],true]'

# --- response callbacks: which statuses count as failed, and the expected_response tag ------------
s=$(script callback.js <<JS
$JSHEAD
export const options = {
  iterations: 1,
  thresholds: {
    'http_req_failed{cb:global}': ['rate==0'],
    'http_reqs{cb:global,expected_response:true}': ['count==1'],
    'http_req_failed{cb:local}': ['rate==1'],
    'http_reqs{cb:local,expected_response:false}': ['count==1'],
  },
};
http.setResponseCallback(http.expectedStatuses(404));
export default function () {
  let r = http.get(T + '/status/404', { tags: { cb: 'global' } });
  t('global', r.status);
  const only2xx = http.expectedStatuses({ min: 200, max: 299 });
  r = http.get(T + '/status/404', { tags: { cb: 'local' }, responseCallback: only2xx });
  t('local', r.status);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t global 404
expect_t local 404

# --- hosts option: a name resolved from the script's own table ------------------------------------
s=$(script hosts.js <<JS
$JSHEAD
export const options = { iterations: 1, hosts: { 'test.speedboat': '127.0.0.1' } };
export default function () {
  const r = http.get('http://test.speedboat:$TARGET_PORT/echo');
  t('hosts', [r.status, r.status === 200 && r.json().header.host]);
}
JS
)
run_sb run "$s"
expect_rc 0
expect_t hosts "[200,\"test.speedboat:$TARGET_PORT\"]"

# --- noConnectionReuse: a connection per request (each one connects; the client closes each) -----
# Connections a run made are counted in TIME-WAIT: whichever side closes a connection first keeps
# one socket there (both sides, when they close at once). tw_mark lists those toward the target
# before a run; tw_new counts the ones that appeared since.
tw_list() {
  ss -Htan state time-wait "( sport = :$TARGET_PORT or dport = :$TARGET_PORT )" |
    awk '{ print $(NF - 1), $NF }' | sort
}
tw_mark() { tw_list >"$WORK/tw.before"; }
tw_new() { tw_list | comm -13 "$WORK/tw.before" - | wc -l; }
s=$(script reuse.js <<JS
$JSHEAD
export const options = { iterations: 1, noConnectionReuse: __ENV.NOREUSE === '1' };
export default function () {
  const c = [];
  for (let i = 0; i < 5; i++) {
    const r = http.get(T + '/');
    c.push(r.timings.connecting > 0);
    console.log('request ' + i + ': status ' + r.status + ', connecting ' + r.timings.connecting);
  }
  t('connecting', c);
}
JS
)
tw_mark
run_sb run -e TARGET="$TARGET" -e NOREUSE=0 "$s"
expect_rc 0
expect_t connecting '[true,false,false,false,false]'
n=$(tw_new)
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "with reuse: $n new sockets in TIME-WAIT, expected 1 or 2"
tw_mark
run_sb run -e TARGET="$TARGET" -e NOREUSE=1 "$s"
expect_rc 0
expect_t connecting '[true,true,true,true,true]'
n=$(tw_new)
[ "$n" -ge 5 ] || fail "noConnectionReuse: $n new sockets in TIME-WAIT, expected >= 5"

# --- res.json(selector) and the User-Agent ------------------------------------------------------
s=$(script json.js <<JS
$JSHEAD
export const options = { iterations: 1, userAgent: __ENV.UA || undefined };
export default function () {
  const r = http.get(T + '/echo?x=1');
  t('sel.method', r.json('method'));
  t('sel.nested', r.json('header.host'));
  t('sel.array', r.json('headers.0.0'));
  t('sel.missing', r.json('missing') === undefined);
  t('ua', r.json().header['user-agent']);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t sel.method '"GET"'
expect_t sel.nested "\"127.0.0.1:$TARGET_PORT\""
expect_t sel.array '"Host"'
expect_t sel.missing true
grep -Eq 'T ua="speedboat/[^"]+" \|' "$WORK/err" ||
  { show; fail "the default User-Agent is not speedboat/..."; }
run_sb run -e TARGET="$TARGET" -e UA='mybot/2.0 (test)' "$s"
expect_rc 0
expect_t ua '"mybot/2.0 (test)"'

# --- redirects and credentials: following a redirect to another host drops Authorization and a
# hand-set Cookie header (as Go's client under k6 does) and keeps other headers; a redirect within
# the host keeps them all.
s=$(script xorigin.js <<JS
$JSHEAD
export const options = { iterations: 1, hosts: { 'other.speedboat': '127.0.0.1' } };
const H = { Authorization: 'Bearer secret', Cookie: 'hand=set', 'X-Custom': 'kept' };
const hdrs = (r) => {
  const h = r.json().header;
  return [h.authorization, h.cookie, h['x-custom']];
};
export default function () {
  let r = http.get(T + '/redirect?n=1', { headers: H });
  t('same.host', hdrs(r));
  const to = encodeURIComponent('http://other.speedboat:$TARGET_PORT/echo');
  r = http.get(T + '/redirect?n=1&to=' + to, { headers: H });
  t('other.host', [r.json().header.host, hdrs(r)]);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_t same.host '["Bearer secret","hand=set","kept"]'
expect_t other.host "[\"other.speedboat:$TARGET_PORT\",[null,null,\"kept\"]]"
