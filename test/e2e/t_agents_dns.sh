# One DNS name with several addresses (as a Kubernetes headless Service resolves) is one agent per
# address. The test gives the name two loopback addresses in a hosts file of its own, read by the
# controller through nss_wrapper (Debian's libnss-wrapper, made for such tests), so the machine's
# resolver and /etc/hosts are never touched.
. "$SB_ROOT/test/e2e/lib.sh"

start_target
spawn_agent a "$SB_AGENT" --listen 127.0.0.2:0
PORT=${AGENT_ADDR##*:}
spawn_agent b "$SB_AGENT" --listen "127.0.0.3:$PORT"
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
# (an ASan build must be told that a preloaded library ahead of its runtime is expected; the
# REST API is off: binding it resolves its address through nss_wrapper, which then dlopens libc
# with RTLD_DEEPBIND, and ASan refuses that — nothing to do with the agents' names tested here)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
LD_PRELOAD=$NSS_WRAPPER NSS_WRAPPER_HOSTS="$WORK/hosts" "$SB_BIN" run -q --no-api --agents "fleet.test:$PORT" "$S" \
  >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_rc 0
expect_out "agents: 2 connected, 0 lost"
expect_out "✓ fleet\.test\(127\.0\.0\.2\):$PORT .* 20 iterations"
expect_out "✓ fleet\.test\(127\.0\.0\.3\):$PORT .* 20 iterations"
[ "$(metric_value iterations)" = 40 ] || { show; fail "iterations: $(metric_value iterations), expected 40"; }
[ "$(target_requests)" = 40 ] || fail "the target served $(target_requests) requests, expected 40"
