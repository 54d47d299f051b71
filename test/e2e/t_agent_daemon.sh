# speedboat-agent as a daemon: the listening line with the real port, one thread per connection
# (two controllers connected at once, extras beyond 16 closed), one test at a time (a second
# controller is told busy), SIGTERM, --help, the rule against
# an unprotected non-loopback listener, the --tls-* options together, mutual TLS with throwaway
# certificates (a controller without a certificate is refused).
. "$SB_ROOT/test/e2e/lib.sh"

# start_agent ARGS...: starts the agent in the background (stderr in $WORK/agent.err); waits for
# its listening line and sets AGENT_PID and AGENT_PORT.
start_agent() {
  : >"$WORK/agent.err"
  "$SB_AGENT" "$@" 2>"$WORK/agent.err" &
  AGENT_PID=$!
  PIDS="$PIDS $AGENT_PID"
  i=0
  while ! grep -q 'msg="listening"' "$WORK/agent.err"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "agent did not start: $(cat "$WORK/agent.err")"
    sleep 0.05
  done
  AGENT_PORT=$(sed -n '1s/.* msg="listening" addr=[^ ]*:\([0-9]*\)\( .*\)\{0,1\}$/\1/p' "$WORK/agent.err")
  [ -n "$AGENT_PORT" ] && [ "$AGENT_PORT" -gt 0 ] || fail "no port in: $(head -1 "$WORK/agent.err")"
}

# wait_log REGEX [COUNT]: waits up to 5 s for COUNT (default 1) lines of the agent's log to match.
wait_log() {
  i=0
  while [ "$(grep -Ec -- "$1" "$WORK/agent.err")" -lt "${2:-1}" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { cat "$WORK/agent.err"; fail "agent log: no ${2:-1} line(s) matching $1"; }
    sleep 0.05
  done
}

# hold SECONDS: opens a TCP connection to the agent and keeps it open (silent) for SECONDS.
hold() {
  bash -c "exec 3<>/dev/tcp/127.0.0.1/$AGENT_PORT && sleep $1" 2>/dev/null &
  PIDS="$PIDS $!"
}

# --- the listening line is the first line and carries the port actually bound
start_agent --listen 127.0.0.1:0
head -1 "$WORK/agent.err" | grep -Eq '^time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z level=info msg="listening" addr=127\.0\.0\.1:[1-9][0-9]* ' ||
  fail "first line: $(head -1 "$WORK/agent.err")"
# the port really is ours: a connection is logged with its peer
hold 3
hold 3
# two controllers at once: both are connected before either leaves (one thread each)
wait_log 'msg="controller connected" peer=127\.0\.0\.1:[0-9]+' 2
grep -q 'msg="controller disconnected"' "$WORK/agent.err" && fail "a held connection ended early: $(cat "$WORK/agent.err")"
# beyond 16 at once short of hello, extras are closed at once with a line saying so
n=0; while [ $n -lt 16 ]; do hold 3; n=$((n + 1)); done
wait_log 'level=warn msg="too many unauthenticated connections, closing" peer=127\.0\.0\.1:[0-9]+ limit=16'
# SIGTERM: a clean exit with a line saying so
kill -TERM "$AGENT_PID"
set +e; wait "$AGENT_PID"; RC=$?; set -e
[ "$RC" -eq 0 ] || { cat "$WORK/agent.err"; fail "exit code $RC after SIGTERM"; }
grep -q 'msg="shutting down"' "$WORK/agent.err" || fail "no shutdown line: $(cat "$WORK/agent.err")"

# --- one test at a time across connections: while one controller holds the agent after its hello,
# a second is answered "busy"; once the first leaves, a third is welcomed. HELLO is a framed
# Envelope{hello: Hello{protocol_version: 2}} written by hand (4-byte length, then protobuf).
HELLO='\000\000\000\004\012\002\010\002'
# controller N SECONDS: sends hello, keeps what the agent answers in $WORK/cN.out for SECONDS.
controller() {
  bash -c "exec 3<>/dev/tcp/127.0.0.1/$AGENT_PORT && printf '$HELLO' >&3 && timeout $2 cat <&3 >'$WORK/c$1.out'" || true
}
start_agent --listen 127.0.0.1:0 --id busy-test
controller 1 2 &
PIDS="$PIDS $!"
wait_log 'msg="controller authenticated'
controller 2 2
grep -aq "busy: this agent is running another controller's test" "$WORK/c2.out" ||
  fail "second controller was not told busy: $(tr -cd '[:print:]' <"$WORK/c2.out")"
grep -aq 'busy-test' "$WORK/c1.out" || fail "first controller got no welcome: $(tr -cd '[:print:]' <"$WORK/c1.out")"
wait_log 'msg="controller disconnected"' 2
controller 3 1
grep -aq 'busy-test' "$WORK/c3.out" || fail "third controller got no welcome: $(tr -cd '[:print:]' <"$WORK/c3.out")"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "exit code $? after SIGTERM"

# --- --help lists every option, the default address and the security rule
"$SB_AGENT" --help >"$WORK/out" 2>"$WORK/err"
for opt in --listen --token-file --tls-cert --tls-key --tls-ca --max-vus --id --help --version \
    127.0.0.1:6566 non-loopback; do
  grep -q -- "$opt" "$WORK/out" || fail "--help does not mention $opt"
done

# --- refusals: exit 2 with a message naming the rule or the option
run_agent() { set +e; "$SB_AGENT" "$@" >"$WORK/out" 2>"$WORK/err"; RC=$?; set -e; }
run_agent --listen 0.0.0.0:0
expect_rc 2
expect_err 'refusing to listen on non-loopback 0\.0\.0\.0:0 without --token-file or --tls-cert'
run_agent --listen 127.0.0.1:0 --tls-cert "$WORK/x.pem"
expect_rc 2
expect_err '--tls-cert, --tls-key and --tls-ca go together \(missing: --tls-key --tls-ca\)'
run_agent --listen 127.0.0.1:0 --max-vus 0
expect_rc 2
expect_err "--max-vus '0': expected a positive integer"
run_agent --listen 127.0.0.1:0 --token-file "$WORK/no-such-token"
expect_rc 2
expect_err 'no-such-token'

# --- with a token and TLS an agent may listen on every address
sh "$SB_ROOT/test/e2e/gencerts.sh" "$WORK/certs"
C="$WORK/certs"
run_agent --listen 127.0.0.1:0 --tls-cert "$C/agent.pem" --tls-key "$C/controller.key" --tls-ca "$C/ca.pem"
expect_rc 2
expect_err "^speedboat-agent: --tls-key: .*controller\.key: the key does not match"
echo s3cret >"$WORK/token"
start_agent --listen 0.0.0.0:0 --token-file "$WORK/token" --tls-cert "$C/agent.pem" \
  --tls-key "$C/agent.key" --tls-ca "$C/ca.pem" --id agent-7 --max-vus 50
head -1 "$WORK/agent.err" | grep -Eq 'msg="listening" addr=0\.0\.0\.0:[1-9][0-9]* id="agent-7" tls=on token=on max_vus=50' ||
  fail "first line: $(head -1 "$WORK/agent.err")"
# mutual TLS: a controller with a certificate from the CA completes the handshake...
timeout 5 openssl s_client -connect "127.0.0.1:$AGENT_PORT" -cert "$C/controller.pem" \
  -key "$C/controller.key" -CAfile "$C/ca.pem" -verify_ip 127.0.0.1 </dev/null >"$WORK/out" 2>&1 || true
grep -q 'Verify return code: 0 (ok)' "$WORK/out" || { cat "$WORK/out"; fail "TLS handshake with the agent failed"; }
# ...and one without a certificate is refused by the agent
timeout 5 openssl s_client -connect "127.0.0.1:$AGENT_PORT" -CAfile "$C/ca.pem" </dev/null >/dev/null 2>&1 || true
wait_log 'peer did not return a certificate'
kill -TERM "$AGENT_PID"
set +e; wait "$AGENT_PID"; RC=$?; set -e
[ "$RC" -eq 0 ] || fail "exit code $RC after SIGTERM"
echo ok
