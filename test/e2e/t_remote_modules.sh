# Remote modules (k6's `import { x } from 'https://jslib.k6.io/...'`): jslib-shaped libraries of
# our own (test/e2e/fixtures/jslib) served by nginx (tls_servers.sh) over plain HTTP and over
# HTTPS with the test CA trusted through SSL_CERT_FILE. The script runs end to end against
# sb-target with its checks passing; a module imported from two places is fetched once; a
# redirect is followed; the archive holds the sources under k6's `https/<host:port>/<path>`
# layout beside their es5/ code and runs with nginx stopped (nothing fetched at run time), as does
# a k6-style archive of the same sources (no es5/: transpiled from the archive). Clear
# errors naming the importing file: an unreachable URL, a 404 (from the script and from inside a
# remote module), an untrusted certificate, an import cycle through remote modules, a file://
# import from a remote module, open() of a URL.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
. "$SB_ROOT/test/e2e/tls_servers.sh"

# The test CA is trusted only where this test says so.
unset SSL_CERT_FILE SSL_CERT_DIR 2>/dev/null || true

start_nginx
cp -R "$SB_ROOT/test/e2e/fixtures/jslib" "$NGINX_ROOT/static/"
H="$NGINX_HTTP/static/jslib"          # http://127.0.0.1:PORT/static/jslib
S="$NGINX_HTTPS_NAME/static/jslib"    # https://localhost:PORT/static/jslib
HP=${NGINX_HTTP##*:}
SP=${NGINX_HTTPS_NAME##*:}

# fetches PORT PATH: how many times nginx served PATH on PORT
fetches() { grep -cE " $1 \"GET $2 HTTP/[12]\.[01]\" 200 " "$NGINX_DIR/access.log" || true; }

mkdir -p "$WORK/proj"
cat >"$WORK/proj/main.js" <<JS
import http from 'k6/http';
import { check } from 'k6';
import { randomIntBetween, randomItem, uuidv4, version } from '$H/k6-utils/1.0.0/index.js';
import { Users, utilsVersion } from '$H/helpers/1.0.0/index.js';
import * as secure from '$S/k6-utils/1.0.0/index.js';
import { randomIntBetween as viaRedirect } from '$NGINX_HTTP/to-https/static/jslib/k6-utils/1.0.0/index.js';

export const options = {
  scenarios: { p: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } },
  thresholds: { checks: ['rate==1'] },
};
const users = new Users('vu');

export default function () {
  const n = randomIntBetween(1, 5);
  const r = http.get(__ENV.TARGET + '/remote?n=' + n);
  check(r, {
    'status is 200': (res) => res.status === 200,
    'int in range': () => n >= 1 && n <= 5,
    'item from the list': () => ['a', 'b'].indexOf(randomItem(['a', 'b'])) >= 0,
    'uuid v4': () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\$/.test(uuidv4()),
    'helpers share the utils': () => utilsVersion() === version && version === 'e2e-1.0.0',
    'class from a remote module': () => /^vu-(ada|grace|linus)\$/.test(users.pick()),
    'https module': () => secure.randomIntBetween(7, 7) === 7 && secure.version === 'e2e-1.0.0',
    'redirected module': () => viaRedirect(3, 3) === 3,
  });
}
JS

# --- run from the script: the checks pass, the target saw every iteration
export SSL_CERT_FILE="$TEST_CA"
run_sb run -e TARGET="$TARGET" "$WORK/proj/main.js"
expect_rc 0
expect_out 'checks\.+: 100\.00% +✓ 48 +✗ 0'
[ "$(target_requests)" = 6 ] || fail "the target saw $(target_requests) requests, expected 6"
# one fetch per module and compile, though two modules import the utils (and the run's agents
# fetch nothing)
for p in k6-utils/1.0.0/index.js k6-utils/1.0.0/lib/rand.js helpers/1.0.0/index.js shared/version.js; do
  [ "$(fetches "$HP" "/static/jslib/$p")" = 1 ] ||
    fail "$p fetched $(fetches "$HP" "/static/jslib/$p") times over http, expected 1: $(cat "$NGINX_DIR/access.log")"
done
[ "$(fetches "$SP" /static/jslib/k6-utils/1.0.0/index.js)" = 2 ] || # direct, and the redirect's
  fail "https fetches: $(cat "$NGINX_DIR/access.log")"

# --- the archive: sources in k6's layout beside the compiled code
run_sb archive "$WORK/proj/main.js" -O "$WORK/remote.tar.zst"
expect_rc 0
tar --zstd -tf "$WORK/remote.tar.zst" >"$WORK/list" || fail "tar cannot list the archive"
for e in "https/localhost:$SP/static/jslib/k6-utils/1.0.0/index.js" \
  "https/localhost:$SP/static/jslib/k6-utils/1.0.0/lib/rand.js" \
  "https/localhost:$SP/static/jslib/shared/version.js" \
  "es5/https/localhost:$SP/static/jslib/k6-utils/1.0.0/index.js" \
  "http/127.0.0.1:$HP/static/jslib/helpers/1.0.0/index.js" \
  "es5/http/127.0.0.1:$HP/static/jslib/k6-utils/1.0.0/lib/rand.js" \
  "http/127.0.0.1:$HP/to-https/static/jslib/k6-utils/1.0.0/index.js"; do
  grep -qxF "$e" "$WORK/list" || fail "no $e in the archive: $(cat "$WORK/list")"
done
tar --zstd -xOf "$WORK/remote.tar.zst" "https/localhost:$SP/static/jslib/k6-utils/1.0.0/lib/rand.js" |
  cmp -s - "$SB_ROOT/test/e2e/fixtures/jslib/k6-utils/1.0.0/lib/rand.js" ||
  fail "the archived rand.js is not the served file"

# --- the archive runs with the web server gone, the script deleted and no CA: nothing is fetched
kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
curl -s -o /dev/null "$NGINX_HTTP/static/jslib/shared/version.js" && fail "nginx is still up"
rm -rf "$WORK/proj"
unset SSL_CERT_FILE
n0=$(target_requests)
run_sb run -e TARGET="$TARGET" "$WORK/remote.tar.zst"
expect_rc 0
expect_out 'checks\.+: 100\.00% +✓ 48 +✗ 0'
[ $(($(target_requests) - n0)) -eq 6 ] || fail "archive run: the target saw $(($(target_requests) - n0)) requests"
# the same as a `k6 archive` would be (a plain tar, sources only, no es5/): the remote sources
# are transpiled from the archive, still with nothing to fetch them from
mkdir "$WORK/k6ar"
(cd "$WORK/k6ar" && tar --zstd -xf "$WORK/remote.tar.zst" && rm -rf es5 && tar -cf "$WORK/k6.tar" *) ||
  fail "cannot repack the archive"
n0=$(target_requests)
run_sb run -e TARGET="$TARGET" "$WORK/k6.tar"
expect_rc 0
expect_out 'checks\.+: 100\.00% +✓ 48 +✗ 0'
[ $(($(target_requests) - n0)) -eq 6 ] || fail "k6-style archive: the target saw $(($(target_requests) - n0)) requests"

# --- errors: nginx back up (same ports), each one names the importing file and the import
start_nginx_again() {
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" >>"$NGINX_DIR/stderr" 2>&1 &
  NGINX_PID=$!
  PIDS="$PIDS $NGINX_PID"
  nginx_up "$NGINX_PID" || fail "nginx did not restart: $(tail -5 "$NGINX_DIR/error.log")"
}
start_nginx_again
export SSL_CERT_FILE="$TEST_CA"
# bad IMPORT-URL: a script importing it, compiled by `speedboat archive`; expects exit 104
bad() {
  printf "import { x } from '%s';\nexport default function () { x(); }\n" "$1" >"$WORK/bad.js"
  run_sb archive "$WORK/bad.js" -O "$WORK/bad.tar.zst"
  expect_rc 104
}
esc() { printf '%s' "$1" | sed 's/[.[\*^$?+(){}|]/\\&/g'; }

free_port DEAD
bad "http://127.0.0.1:$DEAD/lib.js"
expect_err "^ERRO $(esc "$WORK/bad.js: import 'http://127.0.0.1:$DEAD/lib.js': http://127.0.0.1:$DEAD/lib.js: dial: connection refused")\$"

bad "$S/nope/index.js"
expect_err "^ERRO $(esc "$WORK/bad.js: import '$S/nope/index.js': $S/nope/index.js: not found (HTTP 404")\)\$" # h2: no reason

bad "$H/broken/index.js" # the 404 is an import of the remote module: it is the one named
expect_err "^ERRO $(esc "$H/broken/index.js: import './missing.js': $H/broken/missing.js: not found (HTTP 404")"

bad "$H/cycle/a.js"
expect_err "^ERRO $(esc "$H/cycle/b.js: import './a.js': import cycle through a remote module: $H/cycle/a.js -> $H/cycle/b.js -> $H/cycle/a.js")\$"

bad "$H/local/index.js"
expect_err "$(esc "$H/local/index.js: import 'file:///etc/speedboat-e2e-secret.js': a remote module cannot import a local file")"

unset SSL_CERT_FILE # the test CA is not trusted any more
bad "$S/shared/version.js"
expect_err "^ERRO $(esc "$WORK/bad.js: import '$S/shared/version.js': $S/shared/version.js: x509: certificate signed by unknown authority")"
expect_err "SSL_CERT_FILE"

# --- open() of a URL: refused as in k6 (only local files)
cat >"$WORK/open.js" <<JS
const data = open('$H/shared/version.js');
export default function () {}
JS
run_sb archive "$WORK/open.js" -O "$WORK/open.tar.zst"
[ "$RC" -ne 0 ] || { show; fail "open() of a URL worked"; }
expect_err "$(esc "open(\"$H/shared/version.js\"): only local files can be opened")"

echo ok
