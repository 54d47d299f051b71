# issue 10: per-VU limits and scale. (1) 5,000 VUs that sleep between requests start and run on
# one local agent (their stacks no longer cost two kernel mappings each: 100,000 stopped at
# ~32,000; scripts/bench-100k-vus.sh is the full-size run). (2) On an agent whose --max-vu-memory
# is 16MiB, a VU that allocates without bound fails each of its iterations with an error naming
# the limit, while the other VU goes on and the run ends normally.
. "$SB_ROOT/test/e2e/lib.sh"

start_target
S=$(script many.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 5000, duration: '4s', gracefulStop: '5s' };
export default function () { sleep(Math.random()); http.get('$TARGET/'); sleep(1); }
JS
)
t0=$(now_ms)
run_sb run -q "$S"
expect_rc 0
expect_out "vus_max.*: 5000 "
n=$(target_requests)
[ "$n" -ge 5000 ] || { show; fail "only $n requests reached the target from 5,000 VUs"; }
expect_out "http_req_failed.*: 0\.00% "
echo "5,000 VUs: $(( $(now_ms) - t0 )) ms, $n requests"

spawn_agent agent "$SB_AGENT" --listen 127.0.0.1:0 --max-vu-memory 16MiB
grep -q 'max_vu_memory="16 MiB"' "$WORK/agent.err" || fail "the policy is not logged: $(cat "$WORK/agent.err")"
before=$(target_requests)
S2=$(script hog.js <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: {
  hog: { executor: 'per-vu-iterations', vus: 1, iterations: 3, exec: 'hog' },
  other: { executor: 'constant-vus', vus: 1, duration: '3s' } } };
export function hog() { const a = []; for (let i = 0; ; i++) a.push('x'.repeat(100) + i); }
export default function () { http.get('$TARGET/'); sleep(0.1); }
JS
)
run_sb run --agents "$AGENT_ADDR" "$S2"
expect_rc 0
expect_err "VU 1: heap limit 16 MiB exceeded \(maxVUMemory\): .*alloc failed"
[ "$(grep -c 'heap limit 16 MiB exceeded' "$WORK/err")" = 3 ] || { show; fail "expected 3 failed hog iterations"; }
served=$(( $(target_requests) - before ))
# (the scenarios' VUs go round the workers: the other scenario's VU is not on the hog's worker)
[ "$served" -ge 10 ] || { show; fail "VU 2 was disturbed: $served requests"; }
kill -0 "$AGENT_PID" || fail "the agent died"
# the agent is free and well for the next test
S3=$(script ok.js <<'JS'
export const options = { vus: 1, iterations: 2 };
export default function () { }
JS
)
run_sb run -q --agents "$AGENT_ADDR" "$S3"
expect_rc 0
[ "$(metric_value iterations)" = 2 ] || { show; fail "the agent did not run the next test"; }

set +e
"$SB_AGENT" --listen 127.0.0.1:0 --max-vu-memory 12parsecs >/dev/null 2>"$WORK/bad.err"
BRC=$?
set -e
[ "$BRC" -eq 2 ] || fail "a bad --max-vu-memory exited $BRC"
grep -q "max-vu-memory '12parsecs'" "$WORK/bad.err" || fail "$(cat "$WORK/bad.err")"
