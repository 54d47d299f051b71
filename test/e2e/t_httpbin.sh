# k6/http against httpbin (Debian's python3-httpbin), the service k6's documentation and examples
# are written against, reached as http://httpbin.org through the `hosts` option — the way a k6
# user's script looks, unchanged but for that one option. Our own scripts, in the style of k6's
# examples: cookies (VU jar, local jars, jar.set with domain/path), basic and digest auth, the
# verbs and forms, redirects with maxRedirects, compressed and streamed bodies, binary bodies,
# repeated response headers, and every check passes.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import httpbin' 2>/dev/null || fail "python3-httpbin is not installed (make deps)"
port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
for try in 1 2 3; do
  "$PY" -m httpbin.core --host 127.0.0.1 --port "$port" >"$WORK/httpbin.log" 2>&1 &
  HB=$!
  PIDS="$PIDS $HB"
  i=0
  until curl -sf "http://127.0.0.1:$port/get" >/dev/null 2>&1; do
    i=$((i + 1))
    kill -0 "$HB" 2>/dev/null && [ $i -lt 100 ] || break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/get" >/dev/null 2>&1 && break
  port=$((port + 1))
done
curl -sf "http://127.0.0.1:$port/get" >/dev/null 2>&1 || fail "httpbin did not start: $(tail -5 "$WORK/httpbin.log")"

s=$(script httpbin.js <<'JS'
import http from 'k6/http';
import { check, group } from 'k6';

export const options = {
  hosts: { 'httpbin.org:80': `127.0.0.1:${__ENV.PORT}` },
  maxRedirects: 4,
  iterations: 2,
  thresholds: { checks: ['rate==1'] },
};
const H = 'http://httpbin.org';

export default function () {
  group('cookies', () => {
    let r = http.get(`${H}/cookies`, { cookies: { c1: 'v1' } });
    check(r, { 'request cookie sent': (r) => r.json().cookies.c1 === 'v1' });
    check(http.cookieJar().cookiesForURL(r.url), { 'request cookies stay out of the jar': (c) => c.c1 === undefined });
    r = http.get(`${H}/cookies/set?c2=v2&c3=v3`);
    check(r, {
      'set then redirected to /cookies': (r) => r.status === 200 && r.url === `${H}/cookies`,
      'jar cookies sent after the redirect': (r) => r.json().cookies.c2 === 'v2' && r.json().cookies.c3 === 'v3',
    });
    const jar = new http.CookieJar();
    jar.set(`${H}/cookies`, 'c4', 'v4', { domain: 'httpbin.org', path: '/cookies' });
    jar.set(`${H}/cookies`, 'c5', 'v5', { domain: 'example.com', path: '/' });
    r = http.get(`${H}/cookies`, { jar });
    check(r, {
      'local jar cookie sent': (r) => r.json().cookies.c4 === 'v4',
      'foreign-domain cookie not sent': (r) => r.json().cookies.c5 === undefined,
      'local jar kept apart from the VU jar': (r) => r.json().cookies.c2 === undefined,
    });
  });
  group('auth', () => {
    check(http.get('http://user:passwd@httpbin.org/basic-auth/user/passwd'), {
      'basic auth from the URL': (r) => r.status === 200 && r.json().authenticated === true && r.json().user === 'user',
    });
    check(http.get('http://user:wrong@httpbin.org/basic-auth/user/passwd'), { 'wrong password is 401': (r) => r.status === 401 });
    check(http.get('http://user:passwd@httpbin.org/digest-auth/auth/user/passwd', { auth: 'digest' }), {
      'digest auth': (r) => r.status === 200 && r.json().authenticated === true && r.json().user === 'user',
    });
  });
  group('verbs and bodies', () => {
    check(http.post(`${H}/post`, { name: 'Test Name', topping: ['onion', 'bacon'] }), {
      'form with a repeated key': (r) => r.json().form.name === 'Test Name' &&
        JSON.stringify(r.json().form.topping) === '["onion","bacon"]',
    });
    const json = { headers: { 'Content-Type': 'application/json' } };
    check(http.put(`${H}/put`, JSON.stringify({ verb: 'put' }), json), { put: (r) => r.json().json.verb === 'put' });
    check(http.patch(`${H}/patch`, JSON.stringify({ verb: 'patch' }), json), { patch: (r) => r.json().json.verb === 'patch' });
    check(http.del(`${H}/delete?verb=delete`), { del: (r) => r.json().args.verb === 'delete' });
    check(http.request('TRACE', `${H}/anything`), { 'any method through request()': (r) => r.json().method === 'TRACE' });
    check(http.request('PROPFIND', `${H}/anything`), { 'a custom method reaches the server': (r) => r.status === 405 });
    check(http.post(`${H}/post`, { f: http.file('file body', 'a.txt', 'text/plain'), k: 'v' }), {
      multipart: (r) => r.json().files.f === 'file body' && r.json().form.k === 'v',
    });
    check(http.post(`${H}/post`, 'zipped', { compression: 'gzip', headers: { 'Content-Type': 'text/plain' } }), {
      'gzip request body reaches the server': (r) => r.status === 200 && r.json().headers['Content-Encoding'] === 'gzip',
    });
  });
  group('redirects', () => {
    check(http.get(`${H}/redirect/5`), { 'beyond maxRedirects: the last 302': (r) => r.status === 302 });
    check(http.get(`${H}/redirect/1`, { redirects: 1 }), { 'one redirect followed': (r) => r.status === 200 && r.url === `${H}/get` });
    check(http.get(`${H}/absolute-redirect/2`), { 'absolute Location': (r) => r.status === 200 && r.url === `${H}/get` });
    check(http.get(`${H}/redirect-to?url=${encodeURIComponent('/anything/x/../y')}&status_code=307`), {
      'dot segments normalized': (r) => r.json().url === `${H}/anything/y`,
    });
  });
  group('bodies', () => {
    check(http.get(`${H}/gzip`), { gzip: (r) => r.json().gzipped === true });
    check(http.get(`${H}/deflate`), { deflate: (r) => r.json().deflated === true });
    check(http.get(`${H}/brotli`), { brotli: (r) => r.json().brotli === true });
    check(http.get(`${H}/stream/5`), { 'chunked stream': (r) => r.body.trim().split('\n').length === 5 });
    check(http.get(`${H}/bytes/1024`, { responseType: 'binary' }), { binary: (r) => r.body.byteLength === 1024 });
    check(http.get(`${H}/response-headers?X-A=1&X-A=2`), { 'repeated header joined': (r) => r.headers['X-A'] === '1, 2' });
    check(http.get(`${H}/status/418`), { 'status 418 with the server\'s reason': (r) => r.status === 418 && r.status_text.toLowerCase() === '418 i\'m a teapot' });
    check(http.get(`${H}/html`), {
      'res.html(selector)': (r) => r.html('h1').text() === 'Herman Melville - Moby-Dick' && r.html().find('p').size() === 1,
    });
    check(http.get(`${H}/user-agent`, { headers: { 'User-Agent': 'mine/1.0' } }), { 'user agent': (r) => r.json()['user-agent'] === 'mine/1.0' });
    check(http.post(`${H}/anything`, JSON.stringify({ show: { title: 'T', n: [1, 2, 3] } }), { headers: { 'Content-Type': 'application/json' } }), {
      'json selector': (r) => r.json('json.show.title') === 'T' && r.json('json.show.n.#') === 3 && r.json('json.none') === undefined,
    });
  });
}
JS
)
run_sb run -q -e PORT="$port" "$s"
expect_rc 0
expect_out 'checks\.*: 100\.00%'
if grep -Eq '^ +✗ ' "$WORK/out"; then show; fail "a check failed"; fi
echo ok
