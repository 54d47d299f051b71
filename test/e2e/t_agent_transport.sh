# The agent's transport policy (issue 10, docs/SECURITY.md): on loopback (127.0.0.0/8, ::1)
# anything goes; off loopback TLS is required, a token alone over plain TCP only with
# --insecure-plaintext-transport (which says INSECURE in a warning at every start), and no
# authentication at all never, flag or not. 0.0.0.0 and [::] count as off loopback: they listen
# on every interface.
. "$SB_ROOT/test/e2e/lib.sh"
printf 'transport-token\n' >"$WORK/token"

# refused AGENT-ARGS... REGEX: the agent exits 2 at start with REGEX on stderr, binding nothing
refused() {
  _re=$1; shift
  set +e
  timeout 5 "$SB_AGENT" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  set -e
  [ "$RC" -eq 2 ] || { show; fail "speedboat-agent $*: exit $RC, expected 2"; }
  expect_err "$_re"
  ! grep -q 'msg="listening"' "$WORK/err" || fail "speedboat-agent $* listened"
}

# --- a token alone off loopback: refused, naming TLS and the flag
refused 'refusing to listen on non-loopback 0\.0\.0\.0:0 in clear text: .*--tls-cert/--tls-key/--tls-ca, or --insecure-plaintext-transport' \
  --listen 0.0.0.0:0 --token-file "$WORK/token"
refused 'refusing to listen on non-loopback \[::\]:0 in clear text' --listen '[::]:0' --token-file "$WORK/token"
# --- nothing at all: refused, with the flag too
refused 'refusing to listen on non-loopback 0\.0\.0\.0:0 without --token-file or --tls-cert' --listen 0.0.0.0:0
refused 'refusing to listen on non-loopback 0\.0\.0\.0:0 without --token-file' \
  --listen 0.0.0.0:0 --insecure-plaintext-transport

# --- loopback, 127.0.0.2 included: a token alone is fine, and says nothing insecure
start_target
S=$(script t.js <<JS
import http from 'k6/http';
export const options = { vus: 1, iterations: 4 };
export default function () { http.get('$TARGET/'); }
JS
)
spawn_agent lo2 "$SB_AGENT" --listen 127.0.0.2:0 --token-file "$WORK/token"
case "$AGENT_ADDR" in 127.0.0.2:*) ;; *) fail "bound $AGENT_ADDR" ;; esac
run_sb run -q --agents "$AGENT_ADDR" --agent-token-file "$WORK/token" "$S"
expect_rc 0
[ "$(metric_value iterations)" = 4 ] || { show; fail "iterations: $(metric_value iterations)"; }
! grep -q INSECURE "$WORK/lo2.err" || fail "a loopback agent warned: $(cat "$WORK/lo2.err")"
kill "$AGENT_PID"

# --- the flag: a token over plain TCP on every interface, said loudly at start, and it works
spawn_agent plain "$SB_AGENT" --listen 0.0.0.0:0 --token-file "$WORK/token" --insecure-plaintext-transport
sed -n 2p "$WORK/plain.err" | grep -q '^time=[^ ]* level=warn msg="INSECURE: plain TCP on a non-loopback address (--insecure-plaintext-transport)' ||
  fail "no INSECURE warning right after the listening line: $(cat "$WORK/plain.err")"
PORT=${AGENT_ADDR##*:}
run_sb run -q --agents "127.0.0.1:$PORT" --agent-token-file "$WORK/token" "$S"
expect_rc 0
[ "$(metric_value iterations)" = 4 ] || { show; fail "iterations: $(metric_value iterations)"; }
kill "$AGENT_PID"

# --- TLS off loopback (mutual, with the token on top): starts, nothing insecure
sh "$SB_ROOT/test/e2e/gencerts.sh" "$WORK/certs" >/dev/null
C=$WORK/certs
spawn_agent tls "$SB_AGENT" --listen 0.0.0.0:0 --token-file "$WORK/token" \
  --tls-cert "$C/agent.pem" --tls-key "$C/agent.key" --tls-ca "$C/ca.pem"
grep -q 'tls=on token=on' "$WORK/tls.err" || fail "$(head -1 "$WORK/tls.err")"
! grep -q INSECURE "$WORK/tls.err" || fail "a TLS agent warned: $(cat "$WORK/tls.err")"
PORT=${AGENT_ADDR##*:}
run_sb run -q --agents "127.0.0.1:$PORT" --agent-token-file "$WORK/token" --agent-tls-cert "$C/controller.pem" \
  --agent-tls-key "$C/controller.key" --agent-tls-ca "$C/ca.pem" "$S"
expect_rc 0
kill "$AGENT_PID"
echo ok
