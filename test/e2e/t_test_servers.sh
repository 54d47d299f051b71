# The HTTP test fixtures do what they promise, checked with curl: sb-target's endpoints, nginx's
# HTTPS/HTTP/2/TLS-failure servers (tls_servers.sh) and nghttpd. If this fails, the client tests
# built on these fixtures cannot be trusted either.
. "$SB_ROOT/test/e2e/lib.sh"
. "$SB_ROOT/test/e2e/tls_servers.sh"
start_target
start_nginx
start_nghttpd
B=$TARGET

# cu ARGS...: curl -sS ARGS; body in $WORK/body, stderr in $WORK/cerr, exit status in CRC.
cu() {
  set +e
  curl -sS "$@" >"$WORK/body" 2>"$WORK/cerr"
  CRC=$?
  set -e
}
# crc_is N WHAT: curl's last exit status was N.
crc_is() { [ "$CRC" -eq "$1" ] || fail "$2: curl exit $CRC, expected $1: $(cat "$WORK/cerr")"; }
# has TEXT WHAT / err_has TEXT WHAT: the last body / curl's stderr contains TEXT.
has() { grep -qF -- "$1" "$WORK/body" || fail "$2: no '$1' in: $(head -c 800 "$WORK/body")"; }
err_has() { grep -qiF -- "$1" "$WORK/cerr" || fail "$2: no '$1' in: $(cat "$WORK/cerr")"; }
# is GOT WANT WHAT
is() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }
CA="--cacert $TEST_CA"

# --- sb-target ---------------------------------------------------------------------------------
cu -A 'sb-ua/1' -H 'X-Rep: 1' -H 'X-Rep: 2' -b 'a=1; b=2' -F 'f=v' -F 'file=@-;filename=x.txt' \
  "$B/echo?q=1" <<'EOF'
file body
EOF
crc_is 0 echo
for s in '"method":"POST"' '"uri":"/echo?q=1"' '"path":"/echo"' '"query":"q=1"' \
  '["User-Agent","sb-ua/1"]' '["X-Rep","1"],["X-Rep","2"]' '"x-rep":"1, 2"' '"cookie":"a=1; b=2"' \
  'multipart/form-data; boundary=' 'name=\"file\"; filename=\"x.txt\"' 'file body\n'; do
  has "$s" echo
done
len=$(sed -n 's/.*"len":\([0-9]*\)}$/\1/p' "$WORK/body")
ctlen=$(sed -n 's/.*\["Content-Length","\([0-9]*\)"\].*/\1/p' "$WORK/body")
is "$len" "$ctlen" "echo len"
printf 'squeezed body' | gzip | zstd -q -c >"$WORK/body.gz.zst"
cu -H 'Content-Encoding: gzip, zstd' --data-binary @"$WORK/body.gz.zst" "$B/echo"
has '"decoded":"squeezed body","decoded_len":13}' "echo decodes a request body"

cu -L -o /dev/null -w '%{num_redirects} %{url_effective}' "$B/redirect?n=3"
is "$(cat "$WORK/body")" "3 $B/echo" "redirect chain"
cu -D - -o /dev/null "$B/redirect?n=2&rel=1&code=308"
has 'HTTP/1.1 308' "redirect code"
has 'Location: /redirect?n=1&code=308&rel=1' "relative redirect"
cu -L -d 'x=1' "$B/redirect?n=2&code=307"
has '"method":"POST"' "307 keeps POST"
has '"body":"x=1"' "307 keeps the body"
cu -L -d 'x=1' "$B/redirect?n=1&code=303"
has '"method":"GET"' "303 makes a GET"
cu -L $CA -o /dev/null -w '%{num_redirects} %{url_effective}' \
  "$B/redirect?n=2&to=$NGINX_HTTPS/echo%3Ffrom%3Dtarget"
is "$(cat "$WORK/body")" "2 $NGINX_HTTPS/echo?from=target" "redirect to https"
cu -L -o /dev/null -w '%{url_effective}' "$B/redirect-dots/a/b"
is "$(cat "$WORK/body")" "$B/echo?dots=1" "redirect with dot segments"

cu -D - -o /dev/null "$B/cookies/set?c1=v1&c2=v2&path=/&max-age=60&httponly=1&samesite=Lax"
has 'Set-Cookie: c1=v1; Path=/; Max-Age=60; HttpOnly; SameSite=Lax' "cookie attributes"
has 'Set-Cookie: c2=v2; Path=/' "second cookie"
cu -L -c "$WORK/jar" -b "$WORK/jar" "$B/cookies/set?k=v&redirect=1"
has '"cookies":{"k":"v"}' "cookie set, redirected and sent back"
cu -b 'a=1; b=x=y' "$B/cookies"
has '"cookies":{"a":"1","b":"x=y"},"list":[["a","1"],["b","x=y"]],"header":"a=1; b=x=y"' cookies
cu -D - -o /dev/null "$B/cookies/delete?k"
has 'Set-Cookie: k=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0' "cookie delete"

cu -u u:p "$B/basic-auth/u/p"
has '{"authenticated":true,"user":"u"}' "basic auth"
cu -D - -u u:wrong "$B/basic-auth/u/p"
has 'HTTP/1.1 401' "basic auth refused"
has 'WWW-Authenticate: Basic realm="sb-target"' "basic challenge"
for a in "" /MD5 /SHA-256; do
  cu --digest -u u:p "$B/digest-auth/auth/u/p$a"
  has '{"authenticated":true,"user":"u"}' "digest auth$a"
  cu --digest -u u:wrong -o /dev/null -w '%{http_code}' "$B/digest-auth/auth/u/p$a"
  is "$(cat "$WORK/body")" 401 "digest auth$a, wrong password"
done
# qop=auth-int (curl has none): the response computed here, over the request body.
u=/digest-auth/auth-int/u/p/SHA-256
cu -D - -o /dev/null "$B$u"
nonce=$(sed -n 's/^WWW-Authenticate: Digest .*nonce="\([^"]*\)".*/\1/p' "$WORK/body")
h() { printf %s "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }
r=$(h "$(h u:sb-target:p):$nonce:00000001:c0ffee:auth-int:$(h "POST:$u:$(h hello)")")
auth="Digest username=\"u\", realm=\"sb-target\", nonce=\"$nonce\", uri=\"$u\", qop=auth-int"
auth="$auth, nc=00000001, cnonce=\"c0ffee\", response=\"$r\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
cu -d hello -H "Authorization: $auth, algorithm=SHA-256" "$B$u"
has '"authenticated":true' "digest auth-int"
cu -d hellO -H "Authorization: $auth, algorithm=SHA-256" -o /dev/null -w '%{http_code}' "$B$u"
is "$(cat "$WORK/body")" 401 "digest auth-int, body changed"

for e in gzip deflate br zstd; do
  cu -D "$WORK/hdr" --compressed "$B/$e?size=5000"
  has "\"encoding\":\"$e\"" "$e decoded"
  grep -q "^Content-Encoding: $e" "$WORK/hdr" || fail "$e: $(cat "$WORK/hdr")"
  n=$(grep -i '^Content-Length' "$WORK/hdr" | tr -dc 0-9)
  [ "$n" -lt 1000 ] || fail "$e: $n bytes on the wire for 5 KB of x"
done

cu -D "$WORK/hdr" -o /dev/null -w '%{size_download}' "$B/chunked?size=2500&chunk=1000"
is "$(cat "$WORK/body")" 2500 "chunked size"
grep -q '^Transfer-Encoding: chunked' "$WORK/hdr" || fail "not chunked: $(cat "$WORK/hdr")"
cu --raw "$B/chunked?size=2500&chunk=1000"
is "$(grep -c "$(printf '^[0-9a-f][0-9a-f]*\r$')" "$WORK/body")" 4 "three chunks and the last"
cu -o /dev/null -w '%{size_download}' "$B/huge?size=3000000"
is "$(cat "$WORK/body")" 3000000 "huge"
cu -D - -o /dev/null "$B/headers?n=200"
is "$(grep -c '^X-Sb-' "$WORK/body")" 200 "200 headers"
cu -o /dev/null -w '%{http_code}' "$B/status/418"
is "$(cat "$WORK/body")" 418 "status"
cu -D - "$B/status/204"
has 'HTTP/1.1 204' "204"
grep -q '{' "$WORK/body" && fail "a 204 with a body"
cu -i "$B/http10"
has 'HTTP/1.0 200 OK' http10
has 'Content-Length: 15' http10
has '{"http10":true}' "http10 body"
cu -i "$B/http10?nolen=1"
has '{"http10":true}' "http10 body ended by the close"
grep -q Content-Length "$WORK/body" && fail "http10 nolen=1 has a Content-Length"
cu -i -w '%{time_total}' "$B/continue?ms=200"
has 'HTTP/1.1 100 Continue' "100 first"
has 'HTTP/1.1 200 OK' "then 200"
awk -v t="$(tail -c 8 "$WORK/body")" 'BEGIN { exit !(t >= 0.2) }' || fail "continue too fast"
cu -i "$B/continue?early=1&ms=0"
has 'HTTP/1.1 103 Early Hints' "103 first"
cu "$B/reset"
crc_is 56 "reset"
err_has 'reset by peer' "reset"
cu "$B/garbage"
[ "$CRC" -ne 0 ] || fail "garbage was accepted as HTTP: $(cat "$WORK/body")"
cu "$B/close-after-headers"
crc_is 18 "close after headers"
cu --max-time 0.5 -w '%{time_total}' "$B/hang"
crc_is 28 "hang"
cu -w ' %{time_total}' "$B/slow?ms=300"
awk -v t="$(cut -d' ' -f2 "$WORK/body")" 'BEGIN { exit !(t >= 0.3 && t < 2) }' ||
  fail "slow: $(cat "$WORK/body")"
[ "$(target_requests)" -gt 50 ] || fail "stats: $(target_requests)"

# --- nginx -------------------------------------------------------------------------------------
cu $CA --http2 -o /dev/null -w '%{http_version}' "$NGINX_HTTPS/static/small.json"
is "$(cat "$WORK/body")" 2 "h2 on NGINX_HTTPS"
cu $CA --http2 "$NGINX_HTTPS_NAME/nginx/info"
has 'proto=HTTP/2.0 scheme=https tls=TLSv1.3 client=NONE' "NGINX_HTTPS_NAME"
cu $CA --http2 -o /dev/null -w '%{http_version}' "$NGINX_HTTPS_H1/static/small.json"
is "$(cat "$WORK/body")" 1.1 "no h2 on NGINX_HTTPS_H1"
cu --http2-prior-knowledge -o /dev/null -w '%{http_version}' "$NGINX_H2C/static/small.json"
is "$(cat "$WORK/body")" 2 "h2c"
cu $CA "$NGINX_EXPIRED/"
crc_is 60 "expired"
err_has 'expired' "expired"
cu -k -o /dev/null "$NGINX_EXPIRED/static/small.json"
crc_is 0 "expired with -k"
cu $CA "$NGINX_WRONGNAME/"
crc_is 60 "wrong name"
err_has "subject name" "wrong name"
cu $CA "$NGINX_UNTRUSTED/"
crc_is 60 "untrusted"
err_has 'local issuer' "untrusted"
cu --cacert "$TEST_CERTS/other-ca.pem" -o /dev/null "$NGINX_UNTRUSTED/static/small.json"
crc_is 0 "untrusted, with its CA"
cu $CA -o /dev/null -w '%{http_code}' "$NGINX_MTLS/nginx/info"
is "$(cat "$WORK/body")" 400 "mtls without a client certificate"
cu $CA --cert "$TEST_CERTS/untrusted.pem" --key "$TEST_CERTS/untrusted.key" -o /dev/null \
  -w '%{http_code}' "$NGINX_MTLS/nginx/info"
is "$(cat "$WORK/body")" 400 "mtls with a certificate of another CA"
cu $CA --cert "$TEST_CLIENT_CERT" --key "$TEST_CLIENT_KEY" "$NGINX_MTLS/nginx/info"
has 'client=SUCCESS dn=CN=speedboat test client' "mtls with the client certificate"
cu $CA "$NGINX_TLS12/nginx/info"
has 'tls=TLSv1.2' "TLS 1.2 server"
cu $CA --tlsv1.3 "$NGINX_TLS12/"
crc_is 35 "TLS 1.2 server, TLS 1.3-only client"
cu $CA "$NGINX_TLS13/nginx/info"
has 'tls=TLSv1.3' "TLS 1.3 server"
cu $CA --tls-max 1.2 "$NGINX_TLS13/"
crc_is 35 "TLS 1.3 server, TLS 1.2 client"

cu -D "$WORK/hdr" $CA --compressed "$NGINX_HTTPS/static/small.json"
grep -qi '^content-encoding: gzip' "$WORK/hdr" || fail "no gzip: $(cat "$WORK/hdr")"
cmp -s "$WORK/body" "$NGINX_ROOT/static/small.json" || fail "gzip body differs"
cu -D "$WORK/hdr" $CA -o /dev/null "$NGINX_HTTPS/static/small.json"
grep -qi '^content-encoding' "$WORK/hdr" && fail "gzip without Accept-Encoding"
cu $CA --http2 "$NGINX_HTTPS/static/1mb.bin"
cmp -s "$WORK/body" "$NGINX_ROOT/static/1mb.bin" || fail "1 MB file differs"
cu -L $CA -o /dev/null -w '%{num_redirects} %{url_effective}' "$NGINX_HTTP/to-https/static/small.json?x=1"
is "$(cat "$WORK/body")" "1 $NGINX_HTTPS/static/small.json?x=1" "http to https"
cu -L $CA -o /dev/null -w '%{num_redirects} %{url_effective}' "$NGINX_HTTPS/to-http/nginx/info"
is "$(cat "$WORK/body")" "1 $NGINX_HTTP/nginx/info" "https to http"
# sb-target behind nginx, over HTTP/2: echo, a redirect chain that stays on https, cookies.
cu $CA --http2 -H 'Authorization: Bearer t' -d 'h2 body' "$NGINX_HTTPS/echo"
has '"x-forwarded-proto":"https"' "echo through nginx"
has '"authorization":"Bearer t"' "echo through nginx"
has '"body":"h2 body"' "echo through nginx"
cu -L $CA --http2 -o /dev/null -w '%{num_redirects} %{url_effective} %{http_version}' \
  "$NGINX_HTTPS/redirect?n=3"
is "$(cat "$WORK/body")" "3 $NGINX_HTTPS/echo 2" "redirects over h2"
cu $CA --http2 -c "$WORK/jar2" "$NGINX_HTTPS/cookies/set?s=1&secure=1"
cu $CA --http2 -b "$WORK/jar2" "$NGINX_HTTPS/cookies"
has '"cookies":{"s":"1"}' "secure cookie over h2"
cu $CA --http2 --digest -u u:p "$NGINX_HTTPS/digest-auth/auth/u/p/SHA-256"
has '"authenticated":true' "digest over h2"

# --- nghttpd -----------------------------------------------------------------------------------
cu $CA -o /dev/null -w '%{http_version}' "$NGHTTPD_URL/static/small.json"
is "$(cat "$WORK/body")" 2 "nghttpd speaks h2"
cu $CA --http1.1 "$NGHTTPD_URL/static/small.json"
[ "$CRC" -ne 0 ] || fail "nghttpd answered HTTP/1.1"
echo "ok"
