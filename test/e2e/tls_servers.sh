# HTTPS, HTTP/2 and TLS-failure fixtures for end-to-end tests: Debian's nginx and nghttpd on free
# loopback ports, with certificates from gencerts_http.sh. Source after lib.sh (it uses $WORK,
# $PIDS, fail and start_target); every server started here is in $PIDS, so lib.sh's cleanup kills
# it on exit.
#
#   . "$SB_ROOT/test/e2e/lib.sh"
#   . "$SB_ROOT/test/e2e/tls_servers.sh"
#   start_nginx             # also starts sb-target (start_target) unless TARGET_PORT is set
#   curl --cacert "$TEST_CA" "$NGINX_HTTPS/echo"
#
# Every nginx server below answers the same paths:
#   /static/small.json      a ~2 KB JSON file, gzip-compressed for clients that accept gzip
#   /static/1mb.bin         1 MiB of fixed pseudo-random bytes (the files are in $NGINX_ROOT/static)
#   /static/index.html      a small HTML page
#   /nginx/info             one line: "proto=HTTP/2.0 scheme=https tls=TLSv1.3 client=SUCCESS
#                           dn=CN=..." (what nginx saw of the protocol, TLS and client certificate)
#   /to-https/PATH          301 to $NGINX_HTTPS/PATH (query kept); /to-http/PATH: 301 to $NGINX_HTTP
#   anything else           proxied to sb-target (HTTP/1.1, unbuffered), with Host
#                           "<host>:<port>" and X-Forwarded-Proto, so sb-target's endpoints
#                           (/echo, /redirect, /cookies, /digest-auth/..., /gzip...) work over
#                           HTTPS and HTTP/2 with absolute redirects pointing back through nginx.
#                           The raw ones (/reset, /garbage, /http10, /continue) come back as what
#                           nginx makes of them (502 and the like), not as they are.
#
# Set by start_nginx (URLs without a trailing slash; host 127.0.0.1 unless said):
#   NGINX_HTTP       plain HTTP/1.1
#   NGINX_H2C        plain HTTP/2 with prior knowledge only (no HTTP/1.1 on that port)
#   NGINX_HTTPS      TLS 1.2/1.3, ALPN h2 and http/1.1, the good server certificate
#   NGINX_HTTPS_NAME the same server as https://localhost:PORT (listening on ::1 too when the
#                    host has it), for name-based verification and SNI
#   NGINX_HTTPS_H1   TLS with ALPN http/1.1 only (no h2)
#   NGINX_EXPIRED    TLS with an expired certificate (else valid)
#   NGINX_WRONGNAME  TLS with a certificate for wrong.example only
#   NGINX_UNTRUSTED  TLS with a certificate from a CA not in $TEST_CA
#   NGINX_MTLS       TLS requiring a client certificate from $TEST_CLIENT_CA. nginx completes the
#                    handshake without one and answers 400 ("No required SSL certificate was
#                    sent"); a certificate from another CA gets 400 too.
#   NGINX_TLS12      TLS 1.2 only;   NGINX_TLS13  TLS 1.3 only (both ALPN h2 and http/1.1)
#   NGINX_ROOT       the document root;  NGINX_DIR  the prefix (nginx.conf, error.log, access.log)
# and by start_nginx or start_nghttpd (gen_http_certs):
#   TEST_CERTS       the directory gencerts_http.sh filled (see that file for every name)
#   TEST_CA          the CA that signed the good, expired and wrong-name server certificates
#   TEST_CLIENT_CERT, TEST_CLIENT_KEY, TEST_CLIENT_CA   the client certificate, its key, its CA
#
# start_nginx ARGS...: each ARG is a directive added verbatim to nginx's http{} block (e.g.
# 'keepalive_requests 3;'). Retries with new ports if one was taken in the meantime.
#
# start_nghttpd [ARGS...]: nghttpd (nghttp2's server: HTTP/2 only, ALPN h2, no HTTP/1.1) with the
# good certificate serving $NGINX_ROOT's tree (made if start_nginx did not run); extra ARGS go to
# nghttpd (e.g. --echo-upload). Sets NGHTTPD_URL (https://127.0.0.1:PORT).
#
# free_port VAR: stores in VAR a TCP port in 20000..59999 that nothing listens on and that this
# shell has not handed out before (a later bind can still lose a race; callers retry).

SB_FREE_PORTS=""
free_port() {
  while :; do
    _fp=$(( $(od -An -N2 -tu2 /dev/urandom) % 40000 + 20000 ))
    case " $SB_FREE_PORTS " in *" $_fp "*) continue ;; esac
    [ -z "$(ss -Htan "sport = :$_fp" 2>/dev/null)" ] || continue
    SB_FREE_PORTS="$SB_FREE_PORTS $_fp"
    eval "$1=\$_fp"
    return 0
  done
}

# gen_http_certs: makes the certificates once per test ($WORK/http-certs) and sets TEST_*.
gen_http_certs() {
  TEST_CERTS="$WORK/http-certs"
  [ -f "$TEST_CERTS/client.pem" ] || sh "$SB_ROOT/test/e2e/gencerts_http.sh" "$TEST_CERTS" ||
    fail "gencerts_http.sh failed"
  TEST_CA="$TEST_CERTS/ca.pem"
  TEST_CLIENT_CA="$TEST_CERTS/client-ca.pem"
  TEST_CLIENT_CERT="$TEST_CERTS/client.pem"
  TEST_CLIENT_KEY="$TEST_CERTS/client.key"
  export TEST_CERTS TEST_CA TEST_CLIENT_CA TEST_CLIENT_CERT TEST_CLIENT_KEY
}

# make_doc_root: the static tree served by nginx and nghttpd ($NGINX_ROOT/static).
make_doc_root() {
  NGINX_ROOT="$WORK/nginx/html"
  export NGINX_ROOT
  [ -f "$NGINX_ROOT/static/1mb.bin" ] && return 0
  mkdir -p "$NGINX_ROOT/static"
  {
    printf '{"small":true,"items":['
    i=0; while [ $i -lt 40 ]; do printf '{"id":%d,"name":"item %d"},' $i $i; i=$((i + 1)); done
    printf '{"id":40,"name":"last"}]}\n'
  } >"$NGINX_ROOT/static/small.json"
  printf '<!doctype html><title>sb</title><p>hello from nginx</p>\n' >"$NGINX_ROOT/static/index.html"
  # AES-CTR over zeros with a fixed key: the same 1 MiB in every run, and it does not compress.
  head -c 1048576 /dev/zero | openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f \
    -iv 00000000000000000000000000000000 -nosalt >"$NGINX_ROOT/static/1mb.bin"
}

# nginx_common: the locations every server shares (arguments: the HTTP and HTTPS ports).
nginx_common() {
  cat <<CONF
    location / {
      proxy_pass http://127.0.0.1:$TARGET_PORT;
      proxy_http_version 1.1;
      proxy_set_header Host \$host:\$server_port;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
    location /static/ {
      gzip on;
      gzip_types application/json;
      gzip_min_length 0;
      gzip_vary on;
    }
    location = /nginx/info {
      default_type text/plain;
      return 200 "proto=\$server_protocol scheme=\$scheme tls=\$ssl_protocol client=\$ssl_client_verify dn=\$ssl_client_s_dn\n";
    }
    location ~ ^/to-https(/.*)\$ { return 301 https://127.0.0.1:$2\$1\$is_args\$args; }
    location ~ ^/to-http(/.*)\$ { return 301 http://127.0.0.1:$1\$1\$is_args\$args; }
CONF
}

# nginx_server PORT LISTEN-FLAGS CERT [DIRECTIVE...]: one server block with the shared locations;
# CERT "" for plain HTTP.
nginx_server() {
  printf '  server {\n    listen 127.0.0.1:%s%s;\n' "$1" "$2"
  [ -z "$3" ] || printf '    ssl_certificate %s.pem;\n    ssl_certificate_key %s.key;\n' \
    "$TEST_CERTS/$3" "$TEST_CERTS/$3"
  shift 3
  for _d in "$@"; do printf '    %s\n' "$_d"; done
  nginx_common "$NP_HTTP" "$NP_HTTPS"
  printf '  }\n'
}

# nginx_conf ARGS...: writes $NGINX_DIR/nginx.conf for the ports in NP_*.
nginx_conf() {
  _v6=""
  ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' && _v6="listen [::1]:$NP_HTTPS ssl http2;"
  {
    cat <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 1024; }
http {
  types { application/json json; text/html html; application/octet-stream bin; }
  default_type application/octet-stream;
  log_format sb '\$remote_addr \$server_port "\$request" \$status \$body_bytes_sent \$ssl_protocol';
  access_log $NGINX_DIR/access.log sb;
  client_body_temp_path $NGINX_DIR/tmp/body;
  proxy_temp_path $NGINX_DIR/tmp/proxy;
  fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
  uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
  scgi_temp_path $NGINX_DIR/tmp/scgi;
  root $NGINX_ROOT;
  ssl_protocols TLSv1.2 TLSv1.3;
CONF
    for _d in "$@"; do printf '  %s\n' "$_d"; done
    nginx_server "$NP_HTTP" "" ""
    nginx_server "$NP_H2C" " http2" ""
    nginx_server "$NP_HTTPS" " ssl http2" server ${_v6:+"$_v6"}
    nginx_server "$NP_H1" " ssl" server
    nginx_server "$NP_EXPIRED" " ssl http2" expired
    nginx_server "$NP_WRONGNAME" " ssl http2" wrong
    nginx_server "$NP_UNTRUSTED" " ssl http2" untrusted
    nginx_server "$NP_MTLS" " ssl http2" server "ssl_verify_client on;" \
      "ssl_client_certificate $TEST_CLIENT_CA;"
    nginx_server "$NP_TLS12" " ssl http2" server "ssl_protocols TLSv1.2;"
    nginx_server "$NP_TLS13" " ssl http2" server "ssl_protocols TLSv1.3;"
    echo "}"
  } >"$NGINX_DIR/nginx.conf"
}

# nginx_up PID: waits until nginx answers on every port; returns 1 if it died (a port was taken).
nginx_up() {
  _i=0
  while :; do
    kill -0 "$1" 2>/dev/null || return 1
    _ok=1
    for _p in $NP_HTTP $NP_H2C $NP_HTTPS $NP_H1 $NP_EXPIRED $NP_WRONGNAME $NP_UNTRUSTED \
      $NP_MTLS $NP_TLS12 $NP_TLS13; do
      [ -n "$(ss -Htln "sport = :$_p" 2>/dev/null)" ] || { _ok=0; break; }
    done
    [ $_ok -eq 1 ] && curl -s -o /dev/null "http://127.0.0.1:$NP_HTTP/nginx/info" && return 0
    _i=$((_i + 1)); [ $_i -lt 100 ] || fail "nginx did not start: $(cat "$NGINX_DIR/error.log")"
    sleep 0.05
  done
}

start_nginx() {
  gen_http_certs
  make_doc_root
  [ -n "${TARGET_PORT:-}" ] || start_target
  NGINX_DIR="$WORK/nginx"
  mkdir -p "$NGINX_DIR/tmp"
  for _try in 1 2 3; do
    for _n in HTTP H2C HTTPS H1 EXPIRED WRONGNAME UNTRUSTED MTLS TLS12 TLS13; do free_port "NP_$_n"; done
    nginx_conf "$@"
    nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
      >>"$NGINX_DIR/stderr" 2>&1 &
    NGINX_PID=$!
    PIDS="$PIDS $NGINX_PID"
    nginx_up "$NGINX_PID" && break
    wait "$NGINX_PID" 2>/dev/null || true
    [ $_try -lt 3 ] || fail "nginx failed three times: $(tail -5 "$NGINX_DIR/error.log")"
  done
  NGINX_HTTP="http://127.0.0.1:$NP_HTTP"
  NGINX_H2C="http://127.0.0.1:$NP_H2C"
  NGINX_HTTPS="https://127.0.0.1:$NP_HTTPS"
  NGINX_HTTPS_NAME="https://localhost:$NP_HTTPS"
  NGINX_HTTPS_H1="https://127.0.0.1:$NP_H1"
  NGINX_EXPIRED="https://127.0.0.1:$NP_EXPIRED"
  NGINX_WRONGNAME="https://127.0.0.1:$NP_WRONGNAME"
  NGINX_UNTRUSTED="https://127.0.0.1:$NP_UNTRUSTED"
  NGINX_MTLS="https://127.0.0.1:$NP_MTLS"
  NGINX_TLS12="https://127.0.0.1:$NP_TLS12"
  NGINX_TLS13="https://127.0.0.1:$NP_TLS13"
  export NGINX_HTTP NGINX_H2C NGINX_HTTPS NGINX_HTTPS_NAME NGINX_HTTPS_H1 NGINX_EXPIRED \
    NGINX_WRONGNAME NGINX_UNTRUSTED NGINX_MTLS NGINX_TLS12 NGINX_TLS13 NGINX_DIR
}

start_nghttpd() {
  gen_http_certs
  make_doc_root
  for _try in 1 2 3; do
    free_port NGHTTPD_PORT
    nghttpd -a 127.0.0.1 -d "$NGINX_ROOT" "$@" "$NGHTTPD_PORT" "$TEST_CERTS/server.key" \
      "$TEST_CERTS/server.pem" >"$WORK/nghttpd.out" 2>&1 &
    NGHTTPD_PID=$!
    PIDS="$PIDS $NGHTTPD_PID"
    _i=0
    while kill -0 "$NGHTTPD_PID" 2>/dev/null && [ -z "$(ss -Htln "sport = :$NGHTTPD_PORT")" ]; do
      _i=$((_i + 1)); [ $_i -lt 100 ] || fail "nghttpd did not start: $(cat "$WORK/nghttpd.out")"
      sleep 0.05
    done
    kill -0 "$NGHTTPD_PID" 2>/dev/null && break
    [ $_try -lt 3 ] || fail "nghttpd failed three times: $(cat "$WORK/nghttpd.out")"
  done
  NGHTTPD_URL="https://127.0.0.1:$NGHTTPD_PORT"
  export NGHTTPD_URL
}
