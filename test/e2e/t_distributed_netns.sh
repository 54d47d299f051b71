# Agents on separate "hosts": two network namespaces made by the test, each joined to the root
# namespace by a veth pair with private 10.213.x addresses that exist only inside this test. The
# target runs in the root namespace on the first pair's root-side address; the controller too.
# - an agent on a non-loopback address refuses to start unprotected; with a token and mutual TLS
#   (a certificate naming its 10.x address) it serves the controller, and a controller without
#   the certificate or the token is refused before any load;
# - a URL the agents' host cannot reach (the controller's 127.0.0.1) is refused before any load;
# - an agent cut off mid-run (its link brought down) is detected within 5 s and the run ends
#   degraded (exit 111) with the other agent running to the end; the cut-off agent notices its
#   controller is gone and takes the next test once the link is back.
# Needs root (CAP_NET_ADMIN) and ip(8): without them this test fails, it does not skip.
. "$SB_ROOT/test/e2e/lib.sh"

NS_A="sbtest-$$-a"; NS_B="sbtest-$$-b"
VA="sb$$ar"; VB="sb$$br"                 # root-side ends; the namespace ends are ...n
NET="10.213.$(($$ % 200 + 20))"
RA="$NET.1"; IA="$NET.2"                 # pair A: /30 .0-.3
RB="$NET.5"; IB="$NET.6"                 # pair B: /30 .4-.7
# ip(8) mounts /run/netns the first time a namespace is added; leave the machine as it was found
RUN_NETNS_WAS_MOUNTED=0
mountpoint -q /run/netns 2>/dev/null && RUN_NETNS_WAS_MOUNTED=1
netns_cleanup() {
  cleanup
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  ip link del "$VA" 2>/dev/null || true
  ip link del "$VB" 2>/dev/null || true
  if [ "$RUN_NETNS_WAS_MOUNTED" = 0 ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
    umount /run/netns 2>/dev/null || true
  fi
}
trap netns_cleanup EXIT
trap "exit 1" INT TERM

command -v ip >/dev/null || fail "ip(8) is missing (iproute2): network namespaces cannot be made"
# pair NS ROOT-END ROOT-ADDR NS-ADDR: a namespace joined to the root namespace by a veth pair
pair() {
  # leftovers of a killed run whose pid was the same (names are per pid, so never another live test)
  ip netns del "$1" 2>/dev/null || true
  ip link del "$2" 2>/dev/null || true
  ip netns add "$1" || fail "cannot create network namespace $1 (needs root / CAP_NET_ADMIN)"
  ip link add "$2" type veth peer name "${2%r}n" netns "$1" || fail "cannot create veth pair $2"
  ip addr add "$3/30" dev "$2"
  ip link set "$2" up
  nsenter --net="/run/netns/$1" ip addr add "$4/30" dev "${2%r}n"
  nsenter --net="/run/netns/$1" ip link set "${2%r}n" up
  nsenter --net="/run/netns/$1" ip link set lo up
  # the target lives on pair A's root-side address: reach it through the root namespace
  nsenter --net="/run/netns/$1" ip route add default via "$3"
}
pair "$NS_A" "$VA" "$RA" "$IA"
pair "$NS_B" "$VB" "$RB" "$IB"

# the target, in the root namespace on a non-loopback address of this test's own
"$SB_TARGET" --listen "$RA:0" --any >"$WORK/target.out" 2>"$WORK/target.err" &
PIDS="$PIDS $!"
wait_file '^listening' "$WORK/target.out"
TARGET_PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$WORK/target.out" | head -1)
TARGET="http://$RA:$TARGET_PORT"
for ns in "$NS_A" "$NS_B"; do
  nsenter --net="/run/netns/$ns" curl -s -m 3 "$TARGET/stats" | grep -q requests || fail "namespace $ns cannot reach $TARGET"
done

# --- unprotected on a non-loopback address: refused at start
set +e
nsenter --net="/run/netns/$NS_A" "$SB_AGENT" --listen "$IA:0" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
[ "$RC" -ne 0 ] || fail "an unprotected agent started on $IA"
expect_err "refusing to listen on non-loopback $IA:0 without --token-file"

# --- token + mutual TLS, with a certificate naming both agents' addresses
sh "$SB_ROOT/test/e2e/gencerts.sh" "$WORK/certs" "IP:$IA" "IP:$IB"
C=$WORK/certs
printf 'netns-token\n' >"$WORK/token"
AGENT_TLS="--tls-cert $C/agent.pem --tls-key $C/agent.key --tls-ca $C/ca.pem"
CTL_TLS="--agent-tls-cert $C/controller.pem --agent-tls-key $C/controller.key --agent-tls-ca $C/ca.pem"
# shellcheck disable=SC2086
spawn_agent nsa nsenter --net="/run/netns/$NS_A" "$SB_AGENT" --listen "$IA:0" --token-file "$WORK/token" $AGENT_TLS
PA=$AGENT_PID; AA=$AGENT_ADDR
# shellcheck disable=SC2086
spawn_agent nsb nsenter --net="/run/netns/$NS_B" "$SB_AGENT" --listen "$IB:0" --token-file "$WORK/token" $AGENT_TLS
PB=$AGENT_PID; AB=$AGENT_ADDR
case "$AA$AB" in "$IA:"*"$IB:"*) ;; *) fail "agents bound $AA and $AB" ;; esac
grep -q 'tls=on token=on' "$WORK/nsa.err" || fail "agent A not protected: $(head -1 "$WORK/nsa.err")"

S=$(script shared.js <<JS
import http from 'k6/http';
export const options = { vus: 4, iterations: 40 };
export default function () { http.get('$TARGET/'); }
JS
)
# shellcheck disable=SC2086
run_sb run -q --agents "$AA,$AB" --agent-token-file "$WORK/token" $CTL_TLS "$S"
expect_rc 0
expect_out "agents: 2 connected, 0 lost"
[ "$(metric_value iterations)" = 40 ] || { show; fail "iterations: $(metric_value iterations)"; }
[ "$(agent_iterations "$AA")" = 20 ] && [ "$(agent_iterations "$AB")" = 20 ] || { show; fail "not 20 + 20 iterations"; }
[ "$(target_requests)" = 40 ] || fail "the target served $(target_requests), expected 40"

# without the controller certificate, or without the token: refused, no load
run_sb run -q --agents "$AA" --agent-token-file "$WORK/token" "$S"
[ "$RC" -ne 0 ] || { show; fail "a controller without TLS was accepted by a TLS agent"; }
expect_err "ERRO .*$AA"
# shellcheck disable=SC2086
run_sb run -q --agents "$AA" $CTL_TLS "$S"
[ "$RC" -ne 0 ] || { show; fail "a controller without the token was accepted"; }
expect_err "ERRO .*$AA.*authentication failed"
[ "$(target_requests)" = 40 ] || fail "a refused controller sent load: $(target_requests)"
# the agent's certificate must name the address dialled: a certificate for 127.0.0.1 only fails
sh "$SB_ROOT/test/e2e/gencerts.sh" "$WORK/certs2"
spawn_agent nsa2 nsenter --net="/run/netns/$NS_A" "$SB_AGENT" --listen "$IA:0" --token-file "$WORK/token" \
  --tls-cert "$WORK/certs2/agent.pem" --tls-key "$WORK/certs2/agent.key" --tls-ca "$WORK/certs2/ca.pem"
run_sb run -q --agents "$AGENT_ADDR" --agent-token-file "$WORK/token" --agent-tls-cert "$WORK/certs2/controller.pem" \
  --agent-tls-key "$WORK/certs2/controller.key" --agent-tls-ca "$WORK/certs2/ca.pem" "$S"
[ "$RC" -ne 0 ] || { show; fail "a certificate without $IA was accepted for $AGENT_ADDR"; }
expect_err "ERRO .*$AGENT_ADDR.*(certificate|verify)"
kill "$AGENT_PID"

# --- a target the agents' host may not reach: 127.0.0.1 of the root namespace is not the agent's
# 127.0.0.1. The prepare-time check says so, naming the agent, before any load
"$SB_TARGET" --listen 127.0.0.1:0 >"$WORK/lo.out" 2>"$WORK/lo.err" &
PIDS="$PIDS $!"
wait_file '^listening' "$WORK/lo.out"
LO_PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$WORK/lo.out" | head -1)
S_LO=$(script lo.js <<JS
import http from 'k6/http';
export const options = { vus: 2, iterations: 10 };
export default function () { http.get('$TARGET/'); http.get('http://127.0.0.1:$LO_PORT/'); }
JS
)
before=$(target_requests)
# shellcheck disable=SC2086
run_sb run -q --agents "$AA,$AB" --agent-token-file "$WORK/token" $CTL_TLS "$S_LO"
[ "$RC" -ne 0 ] || { show; fail "agents in namespaces claimed to reach the root namespace's 127.0.0.1"; }
expect_err "ERRO agent ($IA|$IB):[0-9]+: cannot reach 127\.0\.0\.1:$LO_PORT"
[ "$(target_requests)" = "$before" ] || fail "load was sent to $TARGET despite the unreachable target"
[ "$(curl -s "http://127.0.0.1:$LO_PORT/stats" | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p')" = 0 ] ||
  fail "the loopback target got requests"
cat "$WORK/nsa.err" "$WORK/nsb.err" | grep -q "cannot reach 127.0.0.1:$LO_PORT" || fail "no agent logged the unreachable target"

# --- agent B cut off mid-run: detected within 5 s, the run ends degraded, A runs to the end
S=$(script long.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { c: { executor: 'constant-vus', vus: 2, duration: '9s' } } };
export default function () { http.get('$TARGET/'); sleep(0.01); }
JS
)
t0=$(now_ms)
# shellcheck disable=SC2086
run_sb_bg run -q --agents "$AA,$AB" --agent-token-file "$WORK/token" $CTL_TLS "$S"
wait_target_growing
sleep 1.5
tcut=$(now_ms)
ip link set "$VB" down
wait_file "WARN.* agent $AB lost" "$WORK/err" 9
detect=$(($(now_ms) - tcut))
echo "cut-off agent reported lost ${detect} ms after its link went down"
[ "$detect" -le 5000 ] || fail "the cut-off agent was reported lost only after $detect ms (limit 5 s)"
kill -0 "$SB_PID" 2>/dev/null || { show; fail "the run ended at the loss (default is to continue)"; }
wait_sb
took=$(($(now_ms) - t0))
expect_rc 111
[ "$took" -ge 8500 ] || { show; fail "the degraded run ended after $took ms, before its 9 s"; }
expect_out "agents: 2 connected, 1 lost"
expect_out "✗ $AB  lost at [0-9.]+s .*had reported [0-9]+ iterations"
expect_out "✓ $AA  "
expect_err "ERRO 1 of 2 agents lost"
[ "$(metric_value iterations)" = "$(agents_iterations_sum)" ] ||
  { show; fail "summary iterations $(metric_value iterations), agents block adds up to $(agents_iterations_sum)"; }
# B, alone behind its dead link, decides its controller is gone and stops
wait_file 'controller lost' "$WORK/nsb.err" 8
kill -0 "$PB" 2>/dev/null || fail "agent B died: $(tail -5 "$WORK/nsb.err")"
# the link back: B takes the next test
ip link set "$VB" up
nsenter --net="/run/netns/$NS_B" ip route replace default via "$RB"
# a request B had in flight when its link went down is still in its kernel's send queue and
# reaches the target once the link is back (TCP retransmission): let it land before counting
target_goes_quiet "$(now_ms)" 4000
before=$(target_requests)
S=$(script again.js <<JS
import http from 'k6/http';
export const options = { vus: 2, iterations: 10 };
export default function () { http.get('$TARGET/'); }
JS
)
# shellcheck disable=SC2086
run_sb run -q --agents "$AA,$AB" --agent-token-file "$WORK/token" $CTL_TLS "$S"
expect_rc 0
[ "$(agent_iterations "$AB")" = 5 ] || { show; fail "agent B after the cut: $(agent_iterations "$AB") iterations"; }
[ $(($(target_requests) - before)) = 10 ] || fail "the target served $(($(target_requests) - before)), expected 10"
kill -0 "$PA" || fail "agent A died"
echo ok
