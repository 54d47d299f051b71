# The script corpus (test/corpus/README): scripts in the styles k6 users write — TypeScript with an
# async API client, async flows with retries and timers, data files through SharedArray and
# open() (one agent and three), jslib-style remote imports from a local server, HTML scraping,
# a JWT made with k6/crypto and k6/encoding (checked here with openssl), modern classes and
# built-ins — each run end to end with its own checks passing (thresholds rate==1) and the
# values it prints asserted here.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
. "$SB_ROOT/test/e2e/tls_servers.sh"
C="$SB_ROOT/test/corpus"

start_nginx
mkdir -p "$NGINX_ROOT/static/corpus"
cp "$C"/site/*.html "$NGINX_ROOT/static/corpus/"
cp -R "$SB_ROOT/test/e2e/fixtures/jslib" "$NGINX_ROOT/static/"
cp -R "$C" "$WORK/corpus"
sed -i "s#JSLIB_URL#$NGINX_HTTP/static/jslib#" "$WORK/corpus/jslib_style.js"

# corpus NAME [speedboat args]: runs the script, expects exit 0 and every check passed.
corpus() {
  _f=$1; shift
  run_sb run -e TARGET="$TARGET" -e SITE="$NGINX_HTTP" "$@" "$WORK/corpus/$_f"
  expect_rc 0
  expect_out "checks\.*: 100\.00% +✓ [1-9][0-9]* +✗ 0"
}

corpus shop.ts
expect_err "corpus shop: total=8\.1 calls=2 sku=B2"
expect_out "http_reqs\.*: 8 "

corpus async_flows.js
expect_err "corpus async_flows: attempt=3 fastest=fast states=fulfilled,rejected,rejected ticks=3"

corpus data_users.js
expect_err "corpus data_users: vu=6 user=user6 users=30 csv=Product 1, deluxe"
[ "$(grep -c 'corpus data_users:' "$WORK/err")" = 12 ] || { show; fail "expected 12 data_users lines"; }
# The archive carries the data: run it on three agents with the data files gone.
run_sb archive -O "$WORK/users.tar" "$WORK/corpus/data_users.js"
expect_rc 0
mv "$WORK/corpus/data" "$WORK/corpus/data.gone"
start_agents 3
run_sb run --agents "$(agent_addr 1),$(agent_addr 2),$(agent_addr 3)" -e TARGET="$TARGET" "$WORK/users.tar"
expect_rc 0
expect_out "checks\.*: 100\.00% +✓ 48 +✗ 0"
for vu in 1 2 3 4 5 6; do
  [ "$(grep -c "corpus data_users: vu=$vu user=user$vu users=30" "$WORK/err")" = 2 ] ||
    { show; fail "VU $vu did not log in twice as user$vu over three agents"; }
done
mv "$WORK/corpus/data.gone" "$WORK/corpus/data"

corpus jslib_style.js
expect_err "corpus jslib_style: uuid=36 page=2"

corpus scrape.js
expect_err "corpus scrape: title=Corpus Shop items=A1\|B2\|C3 sale=Latte"

corpus jwt.js
expect_err "corpus jwt: token=eyJ"
tok=$(sed -n 's/.*corpus jwt: token=\([^ ]*\).*/\1/p' "$WORK/err" | head -1)
want=$(printf '%s' "${tok%.*}" | openssl dgst -sha256 -hmac corpus-secret -binary | base64 | tr '+/' '-_' | tr -d '=')
[ "${tok##*.}" = "$want" ] || fail "JWT signature ${tok##*.} is not openssl's $want"
claims=$(printf '%s' "$tok" | cut -d. -f2 | tr '_-' '/+')
while [ $(( ${#claims} % 4 )) -ne 0 ]; do claims="$claims="; done
printf '%s' "$claims" | base64 -d | grep -q '"name":"Zoë"' || fail "JWT claims are not UTF-8 JSON with name Zoë"

corpus modern.js
expect_err "corpus modern: shapes=rect#1\(6\.00\) circle#2\(3\.14\) rect#3\(1\.00\) seeded=0\.4066180429194277 fibs=10"
