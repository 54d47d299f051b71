#!/bin/sh
# The generator's self-report (agent/selfmon.h, controller/run_state.h): a run whose own agent
# limits the load says so after the summary, with the cause and what to do — a worker thread
# busy in JS, the descriptor limit — and a calm run says nothing; --summary-export carries the
# verdict as handleSummary's data does (speedboat_generator).
. "$(dirname "$0")/lib.sh"
export K6_SUMMARY_MODE=legacy
start_target

# --- (a) VUs spinning in JS on one worker: worker CPU -------------------------------------------
# (the sleep lets the loop turn between iterations: an iteration that never waits keeps the
# scenario's end timer from firing, and the run from ending on time)
S=$(script spin.js <<'JS'
import { sleep } from 'k6';
export default function () { const t = Date.now(); while (Date.now() - t < 50) {} sleep(0.001); }
JS
)
run_sb run --no-api --workers 1 -u 4 -d 4s --summary-export "$WORK/export.json" "$S"
expect_rc 0
expect_out '^WARN the load generator was saturated — results may describe the generator, not the target:$'
expect_out '^  - agent local: a worker thread was busy \(on a CPU or waiting for one\) >= 90% of the time for [0-9.]+ s of [0-9.]+ s \(peak (9[0-9]|100)%\): add agents, raise --workers'
expect_out '^  - agent local: its event loops ran late by up to [0-9]+ ms'
# --summary-export carries the same verdict, under handleSummary's key, beside k6's own keys
python3 - "$WORK/export.json" <<'PY' || fail "bad speedboat_generator in the export: $(cat "$WORK/export.json")"
import json, sys
d = json.load(open(sys.argv[1]))
g = d["speedboat_generator"]
assert "metrics" in d and "root_group" in d, list(d)
assert g["saturated"] is True, g
assert "cpu" in [c["cause"] for c in g["causes"]], g["causes"]
assert len(g["agents"]) == 1 and g["agents"][0]["cpu_peak"] >= 0.9, g["agents"]
PY
grep -q '^    "speedboat_generator": {$' "$WORK/export.json" || fail "the key is not laid out as the rest"

# handleSummary's data carries the same verdict, under a key of its own
H=$(script hs.js <<'JS'
import { sleep } from 'k6';
export default function () { const t = Date.now(); while (Date.now() - t < 50) {} sleep(0.001); }
export function handleSummary(data) {
  const g = data.speedboat_generator;
  return { stdout: `saturated=${g.saturated} causes=${g.causes.map((c) => c.cause).join(',')} ` +
                   `agents=${g.agents.length} peak=${g.agents[0].cpu_peak >= 0.9}\n` };
}
JS
)
run_sb run --no-api --workers 1 -u 4 -d 3s "$H"
expect_rc 0
expect_out '^saturated=true causes=cpu(,loop_lag)? agents=1 peak=true$'
expect_err '^WARN the load generator was saturated' # handleSummary took stdout: on stderr

# --- (b) a calm run: no block --------------------------------------------------------------------
C=$(script calm.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export default function () { http.get(`${__ENV.TARGET}/`); sleep(0.5); }
JS
)
run_sb run --no-api -e TARGET="$TARGET" -u 2 -d 3s "$C"
expect_rc 0
expect_out '^ *http_reqs\.*: [0-9]+'
expect_no_out 'saturated'
! grep -q 'saturated' "$WORK/err" || { show; fail "a calm run reported a saturated generator"; }
run_sb run --no-api -e TARGET="$TARGET" -u 1 -i 2 --summary-export "$WORK/calm.json" "$C"
expect_rc 0
python3 -c 'import json,sys; g = json.load(open(sys.argv[1]))["speedboat_generator"]; assert g["saturated"] is False and g["causes"] == [], g' \
  "$WORK/calm.json" || fail "a calm run's export: $(cat "$WORK/calm.json")"

# --- (c) 64 descriptors, 100 VUs each holding a connection: the descriptor limit ----------------
F=$(script fds.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { noConnectionReuse: true };
export default function () { http.get(`${__ENV.TARGET}/slow?ms=300`); sleep(0.1); }
JS
)
set +e
(ulimit -n 64 && exec "$SB_BIN" run --no-api -e TARGET="$TARGET" -u 100 -d 3s "$F") \
  >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_rc 0
expect_out '^WARN the load generator was saturated'
expect_out '^  - agent local: [0-9]+ of its 64 file descriptors were in use: raise its limit \(`ulimit -n`'
expect_out '^  - agent local: [0-9]+ connections failed with "too many open files" \(limit 64\): raise its descriptor limit'
expect_out 'dial: too many open files|http_req_failed'
echo "ok"
