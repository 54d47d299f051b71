#!/bin/sh
# The controller's REST API driven with curl and `speedboat status|pause|resume|scale` during real
# runs: pause stops new iterations (the target's own count stays flat) and resume continues;
# scale changes the active VUs over three agents; /v1/metrics agrees with the final summary
# (read while --linger keeps the API up); bad requests get 4xx with a JSON error; a --address
# already in use ends the run with k6's exit code 106.
. "$(dirname "$0")/lib.sh"
start_target

# api_addr: the API's address from the banner of the run in the background.
api_addr() {
  wait_file '^   rest api: http://' "$WORK/out" 10
  sed -n 's|^   rest api: http://\([^/]*\)/v1/status$|\1|p' "$WORK/out"
}
# api_get PATH / api_patch JSON: the body; the status code in $WORK/code.
api_get() { curl -s -o "$WORK/body" -w '%{http_code}' "http://$API$1" >"$WORK/code"; cat "$WORK/body"; }
api_patch() {
  curl -s -o "$WORK/body" -w '%{http_code}' -X PATCH -H 'Content-Type: application/json' \
    -d "$1" "http://$API/v1/status" >"$WORK/code"
  cat "$WORK/body"
}
# json_num KEY: the number after "KEY": in $WORK/body.
json_num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$WORK/body" | head -1; }
sb() { "$SB_BIN" "$@"; }

S=$(script steady.js <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { steady: { executor: 'constant-vus', vus: 6, duration: '14s' } } };
export default function () { http.get(`${__ENV.TARGET}/`); sleep(0.05); }
JS
)

# --- pause and resume, locally ----------------------------------------------------------------
run_sb_bg run -e TARGET="$TARGET" --address 127.0.0.1:0 "$S"
API=$(api_addr)
wait_target_growing
api_get /v1/status >/dev/null
[ "$(cat "$WORK/code")" = 200 ] || fail "GET /v1/status: $(cat "$WORK/code") $(cat "$WORK/body")"
grep -q '"type":"status","id":"default"' "$WORK/body" || fail "status document: $(cat "$WORK/body")"
grep -q '"running":true' "$WORK/body" || fail "not running: $(cat "$WORK/body")"
sb pause -a "$API" >"$WORK/cli" || fail "speedboat pause: $(cat "$WORK/cli")"
grep -q '^paused: true$' "$WORK/cli" || fail "pause printed: $(cat "$WORK/cli")"
sleep 0.6 # iterations under way finish (one request, then a 50 ms sleep)
n1=$(target_requests); sleep 2; n2=$(target_requests)
[ "$n1" = "$n2" ] || { show; fail "paused, yet the target got $((n2 - n1)) requests in 2 s"; }
sb status -a "$API" | grep -q '^paused: true$' || fail "status does not say paused"
sb resume -a "$API" | grep -q '^paused: false$' || fail "resume did not say paused: false"
wait_target_growing 3
api_patch '{"data":{"attributes":{"paused":"yes"}}}' >/dev/null
[ "$(cat "$WORK/code")" = 400 ] || fail "a bad PATCH answered $(cat "$WORK/code")"
grep -q '"errors":\[{"status":"400","title":"Invalid data","detail":"attributes.paused must be' \
  "$WORK/body" || fail "bad PATCH error: $(cat "$WORK/body")"
api_get /v1/nope >/dev/null
[ "$(cat "$WORK/code")" = 404 ] && grep -q '"status":"404"' "$WORK/body" ||
  fail "GET /v1/nope: $(cat "$WORK/code") $(cat "$WORK/body")"
set +e; sb scale -a "$API" --vus 7 2>"$WORK/cli"; rc=$?; set -e
[ $rc = 1 ] && grep -q "at most 6 VUs" "$WORK/cli" || fail "scale over the max: rc $rc, $(cat "$WORK/cli")"
# the same --address while this run holds it: k6's exit code 106
set +e; "$SB_BIN" run -e TARGET="$TARGET" --address "$API" -i 1 "$S" >/dev/null 2>"$WORK/err106"
rc=$?; set -e
[ $rc = 106 ] && grep -q "the REST API cannot listen on $API: Address already in use"   "$WORK/err106" || fail "a busy --address: rc $rc, $(cat "$WORK/err106")"
kill -INT "$SB_PID"
wait_sb
expect_rc 105 # interrupted (k6's ExternalAbort)
grep -q 'test paused by the REST API' "$WORK/err" || { show; fail "no pause line"; }

# --- scale over three agents -------------------------------------------------------------------
start_agents 3
run_sb_bg run -e TARGET="$TARGET" --agents "$AGENTS" --address 127.0.0.1:0 "$S"
API=$(api_addr)
wait_target_growing
vus_now() { api_get /v1/status >/dev/null; json_num vus; }
# wait_vus N: the fleet's active VUs reach N within 5 s
wait_vus() {
  i=0
  while [ "$(vus_now)" != "$1" ]; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "vus stayed $(vus_now), expected $1"
    sleep 0.1
  done
}
wait_vus 6
sb scale -a "$API" --vus 2 >"$WORK/cli" || fail "scale 2: $(cat "$WORK/cli")"
wait_vus 2
sb scale -a "$API" --vus 5 --scenario steady >"$WORK/cli" || fail "scale 5: $(cat "$WORK/cli")"
wait_vus 5
api_get /v1/metrics/vus >/dev/null
[ "$(cat "$WORK/code")" = 200 ] || fail "GET /v1/metrics/vus: $(cat "$WORK/body")"
kill -INT "$SB_PID"
wait_sb
grep -q "scenario steady scaled to 2 VUs by the REST API" "$WORK/err" || { show; fail "no scale line"; }

# --- /v1/metrics agrees with the final summary (the API lingers with --linger) ------------------
S2=$(script shared.js <<'JS'
import http from 'k6/http';
import { check, group } from 'k6';
export const options = { vus: 3, iterations: 40 };
export function setup() { return { who: 'setup' }; }
export default function () {
  group('front', () => { check(http.get(`${__ENV.TARGET}/`), { 'is 200': (r) => r.status === 200 }); });
}
JS
)
run_sb_bg run -e TARGET="$TARGET" --agents "$AGENTS" --address 127.0.0.1:0 --linger \
  --summary-mode=legacy "$S2"
API=$(api_addr)
wait_file 'Linger set' "$WORK/err" 20
api_get /v1/metrics/http_reqs >/dev/null
[ "$(json_num count)" = "$(metric_value http_reqs)" ] && [ "$(json_num count)" = 40 ] ||
  { show; fail "/v1/metrics http_reqs count $(json_num count), summary $(metric_value http_reqs)"; }
api_get /v1/metrics/iterations >/dev/null
[ "$(json_num count)" = "$(metric_value iterations)" ] ||
  fail "/v1/metrics iterations $(json_num count), summary $(metric_value iterations)"
api_get /v1/metrics >/dev/null
grep -q '"id":"http_req_duration","attributes":{"type":"trend","contains":"time"' "$WORK/body" ||
  fail "/v1/metrics: $(cat "$WORK/body")"
api_get /v1/groups >/dev/null
grep -q '"path":"::front::is 200","name":"is 200","passes":40,"fails":0' "$WORK/body" ||
  fail "/v1/groups: $(cat "$WORK/body")"
api_get /v1/setup >/dev/null
grep -q '"attributes":{"data":{"who":"setup"}}' "$WORK/body" || fail "/v1/setup: $(cat "$WORK/body")"
api_get /v1/status >/dev/null
grep -q '"status":9' "$WORK/body" && grep -q '"running":false' "$WORK/body" ||
  fail "status after the end: $(cat "$WORK/body")"
api_patch '{"data":{"attributes":{"paused":true}}}' >/dev/null
[ "$(cat "$WORK/code")" = 409 ] || fail "pause after the end answered $(cat "$WORK/code")"
kill -INT "$SB_PID"
wait_sb
expect_rc 0
echo "ok: pause held the target at $n1 requests; scale 6 -> 2 -> 5 VUs over 3 agents"
