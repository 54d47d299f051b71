# The agent as systemd runs it (deploy/systemd/): `systemd-analyze verify` and an offline
# security score for the unit; the unit's exact ExecStart line, expanded from its EnvironmentFile
# (the shipped agent.env with the token, TLS, max-VUs and health lines switched on and paths moved
# to the work dir), answers a controller and runs a test; READY=1, WATCHDOG=1 and STOPPING=1
# arrive on a NOTIFY_SOCKET; the health endpoint says idle, then busy during a run; SIGTERM
# mid-run aborts the test, tells the controller (exit 111 with the reason) and exits 0.
. "$SB_ROOT/test/e2e/lib.sh"
UNIT="$SB_ROOT/deploy/systemd/speedboat-agent.service"
ENVF="$SB_ROOT/deploy/systemd/agent.env"

# --- the unit verifies (a copy pointing at the binary under test) and stays hardened
sed "s|/usr/local/bin/speedboat-agent|$SB_AGENT|" "$UNIT" >"$WORK/speedboat-agent.service"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no "$WORK/speedboat-agent.service" >"$WORK/verify.out" 2>&1 ||
    { cat "$WORK/verify.out"; fail "systemd-analyze verify failed"; }
  [ ! -s "$WORK/verify.out" ] || { cat "$WORK/verify.out"; fail "systemd-analyze verify warns"; }
  # exposure 0 (best) .. 10: the unit scores ~1.7; fail if a change takes it past 2.5
  systemd-analyze security --offline=yes --threshold=25 "$WORK/speedboat-agent.service" \
    >"$WORK/security.out" 2>&1 || { tail -3 "$WORK/security.out"; fail "the unit's exposure rose"; }
else
  echo "skipped: systemd-analyze is not installed (scripts/install-deps.sh installs systemd)"
fi
grep -q '^Type=notify$' "$UNIT" && grep -q '^WatchdogSec=' "$UNIT" && grep -q '^Restart=on-failure$' "$UNIT" ||
  fail "the unit lost Type=notify, WatchdogSec= or Restart=on-failure"

# --- the env file, as shipped, with the optional lines switched on and paths in the work dir
sh "$SB_ROOT/test/e2e/gencerts.sh" "$WORK/etc/speedboat" >/dev/null
openssl rand -hex 32 >"$WORK/etc/speedboat/agent.token"
sed -e "s|/etc/speedboat/|$WORK/etc/speedboat/|g" \
    -e 's|^SPEEDBOAT_LISTEN=.*|SPEEDBOAT_LISTEN=127.0.0.1:0|' \
    -e 's|^#SPEEDBOAT_TLS=|SPEEDBOAT_TLS=|' -e 's|^#SPEEDBOAT_MAX_VUS=|SPEEDBOAT_MAX_VUS=|' \
    -e 's|^SPEEDBOAT_HEALTH=.*|SPEEDBOAT_HEALTH="--health 127.0.0.1:0"|' "$ENVF" >"$WORK/agent.env"
grep -q '^#SPEEDBOAT_ALLOW_TARGETS=' "$WORK/agent.env" || fail "agent.env: the allowed-targets line should stay commented"

# systemd's expansion of ExecStart, in sh: ${VAR} is one word (SPEEDBOAT_LISTEN has no space),
# $VAR splits at whitespace and vanishes when empty; no globbing.
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
[ -n "$EXEC" ] || fail "no ExecStart= line in $UNIT"
cat >"$WORK/start.sh" <<SH
set -a; . "$WORK/agent.env"; set +a
set -f
eval "set -- $EXEC"
shift
WATCHDOG_PID=\$\$ exec "$SB_AGENT" "\$@"
SH

# a NOTIFY_SOCKET: every datagram's lines into notify.log
cat >"$WORK/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
        out.flush()
PY
: >"$WORK/notify.log"
python3 "$WORK/notify.py" "$WORK/notify.sock" "$WORK/notify.log" &
PIDS="$PIDS $!"
wait_n=0; while [ ! -S "$WORK/notify.sock" ]; do wait_n=$((wait_n + 1)); [ $wait_n -lt 100 ] || fail "no notify socket"; sleep 0.05; done

export NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000
spawn_agent agent sh "$WORK/start.sh"
unset NOTIFY_SOCKET WATCHDOG_USEC
head -1 "$WORK/agent.err" | grep -Eq 'tls=on token=on max_vus=20000 health=127\.0\.0\.1:[1-9]' ||
  fail "the env file's flags did not all arrive: $(head -1 "$WORK/agent.err")"
HEALTH=$(sed -n '1s/.* health=\([^ ]*\).*/\1/p' "$WORK/agent.err")

wait_file '^READY=1$' "$WORK/notify.log"
grep -q "^STATUS=listening on $AGENT_ADDR\$" "$WORK/notify.log" || fail "no STATUS line: $(cat "$WORK/notify.log")"
sleep 1
[ "$(grep -c '^WATCHDOG=1$' "$WORK/notify.log")" -ge 3 ] ||
  fail "fewer than 3 WATCHDOG=1 in 1 s with WatchdogSec=0.4s: $(cat "$WORK/notify.log")"

# --- health: idle before a test
code() { curl -s -o "$WORK/health.body" -w '%{http_code}' "http://$HEALTH$1"; }
[ "$(code /healthz)" = 200 ] || fail "/healthz: $(cat "$WORK/health.body")"
[ "$(code /readyz)" = 200 ] && grep -qx idle "$WORK/health.body" || fail "/readyz before a test: $(cat "$WORK/health.body")"
[ "$(code /status)" = 200 ] || fail "/status"
grep -Eq '^\{"state":"idle","version":"[^"]+","id":"[^"]+","capacity":\{"cores":[1-9][0-9]*,"memory_bytes":[1-9][0-9]*,"max_vus":20000\}\}$' \
  "$WORK/health.body" || fail "/status: $(cat "$WORK/health.body")"

# --- a controller with the token and TLS runs a test through it
start_target
S=$(script t.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export default function () { http.get('$TARGET/'); sleep(0.05); }
JS
)
C="$WORK/etc/speedboat"
TLS_ARGS="--agent-tls-cert $C/controller.pem --agent-tls-key $C/controller.key --agent-tls-ca $C/ca.pem"
run_sb run -q --agents "$AGENT_ADDR" --agent-token-file "$C/agent.token" $TLS_ARGS -u 2 -i 20 "$S"
expect_rc 0
expect_out 'iterations\.*: 20 '
[ "$(code /readyz)" = 200 ] || fail "/readyz after the test: $(cat "$WORK/health.body")"

# --- busy during a run; SIGTERM aborts it and the controller is told
run_sb_bg run -q --agents "$AGENT_ADDR" --agent-token-file "$C/agent.token" $TLS_ARGS -u 2 -d 20s "$S"
wait_target_growing 10
[ "$(code /readyz)" = 503 ] && grep -qx busy "$WORK/health.body" || fail "/readyz during a run: $(cat "$WORK/health.body")"
[ "$(code /healthz)" = 200 ] || fail "/healthz during a run"
code /status >/dev/null; grep -q '"state":"busy"' "$WORK/health.body" || fail "/status during a run: $(cat "$WORK/health.body")"
t0=$(now_ms)
kill -TERM "$AGENT_PID"
set +e; wait "$AGENT_PID"; ARC=$?; set -e
[ "$ARC" -eq 0 ] || fail "agent exit code $ARC after SIGTERM: $(cat "$WORK/agent.err")"
[ $(( $(now_ms) - t0 )) -lt 5000 ] || fail "the agent took $(( $(now_ms) - t0 )) ms to stop"
wait_file '^STOPPING=1$' "$WORK/notify.log"
grep -q 'msg="agent shutting down: aborting the test"' "$WORK/agent.err" || fail "no abort line: $(cat "$WORK/agent.err")"
wait_sb
expect_rc 111
expect_err 'WARN\[[0-9]+\] the agent is shutting down \(SIGTERM\): its test was aborted  source=agent'
expect_err "agent $AGENT_ADDR lost"
echo ok
