# One DNS name with several addresses (as a Kubernetes headless Service resolves) is one agent per
# address. The test gives the name two loopback addresses in a hosts file of its own, read by the
# controller through nss_wrapper (Debian's libnss-wrapper, made for such tests), so the machine's
# resolver and /etc/hosts are never touched.
. "$SB_ROOT/test/e2e/lib.sh"

# agent_on ADDR:PORT NAME: starts an agent, waits for its listening line, sets AGENT_PORT.
agent_on() {
  "$SB_AGENT" --listen "$1" 2>"$WORK/$2.err" &
  PIDS="$PIDS $!"
  i=0
  while ! grep -q 'msg="listening"' "$WORK/$2.err" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "agent $2 did not start: $(cat "$WORK/$2.err")"
    sleep 0.05
  done
  AGENT_PORT=$(sed -n '1s/.* addr=[0-9.]*:\([0-9]*\).*/\1/p' "$WORK/$2.err")
}

start_target
agent_on 127.0.0.2:0 a
PORT=$AGENT_PORT
[ -n "$PORT" ] || fail "no port for agent a"
agent_on "127.0.0.3:$PORT" b
printf '127.0.0.1 localhost\n127.0.0.2 fleet.test\n127.0.0.3 fleet.test\n' >"$WORK/hosts"
S=$(script dns.js <<JS
import http from 'k6/http';
export const options = { vus: 4, iterations: 40 };
export default function () { http.get('$TARGET/'); }
JS
)
NSS_WRAPPER=$(ls /usr/lib/*/libnss_wrapper.so 2>/dev/null | head -1)
[ -n "$NSS_WRAPPER" ] || fail "libnss_wrapper.so not found (make deps installs libnss-wrapper)"
set +e
# (an ASan build must be told that a preloaded library ahead of its runtime is expected)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
LD_PRELOAD=$NSS_WRAPPER NSS_WRAPPER_HOSTS="$WORK/hosts" "$SB_BIN" run -q --agents "fleet.test:$PORT" "$S" \
  >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_rc 0
expect_out "agents: 2 connected, 0 lost"
expect_out "✓ fleet\.test\(127\.0\.0\.2\):$PORT .* 20 iterations"
expect_out "✓ fleet\.test\(127\.0\.0\.3\):$PORT .* 20 iterations"
[ "$(metric_value iterations)" = 40 ] || { show; fail "iterations: $(metric_value iterations), expected 40"; }
[ "$(target_requests)" = 40 ] || fail "the target served $(target_requests) requests, expected 40"
