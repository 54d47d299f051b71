# Options from everywhere, in k6's order: config file < script < K6_* environment < flags. Each
# layer is shown to win over the one below it (at the target's own count and in the User-Agent it
# received); then --tag/options.tags and systemTags on samples, noCookiesReset, blockHostnames,
# --include-system-env-vars, --linger, and the messages that refuse bad values by their source.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
unset K6_ITERATIONS K6_USER_AGENT K6_VUS K6_CONFIG K6_TAGS K6_SYSTEM_TAGS 2>/dev/null || true
export HOME="$WORK" # no ~/.config/k6/config.json of the machine's
s=$(script layers.js <<'JS'
import http from 'k6/http';
import exec from 'k6/execution';
export const options = { iterations: 2, userAgent: 'script' };
export default function () {
  const r = http.get(`${__ENV.TARGET}/echo`);
  if (exec.scenario.iterationInTest === 0) console.log(`UA=${r.json().header['user-agent']}`);
}
JS
)
cfg="$WORK/cfg.json"
echo '{"iterations": 3, "userAgent": "file", "collectors": {"cloud": {"token": "x"}}}' >"$cfg"

# layer: what must win -> iterations and User-Agent seen by the target
check_layer() { # $1 iterations, $2 user agent, $3 what
  expect_rc 0
  expect_out "default: $1 iterations shared among 1 VUs"
  grep -q "UA=$2 " "$WORK/err" || { show; fail "$3: User-Agent is not $2"; }
  [ "$(metric_value http_reqs)" = "$1" ] || { show; fail "$3: http_reqs is not $1"; }
}
before=$(target_requests)
run_sb run -e TARGET="$TARGET" -c "$cfg" "$s"
check_layer 2 script "the script over the config file"
[ $(( $(target_requests) - before )) -eq 2 ] || fail "the target did not see 2 requests"
s0=$(script cfgonly.js <<'JS'
import http from 'k6/http';
export default function () {
  const r = http.get(`${__ENV.TARGET}/echo`);
  if (__ITER === 0) console.log(`UA=${r.json().header['user-agent']}`);
}
JS
)
run_sb run -e TARGET="$TARGET" --config "$cfg" "$s0"
check_layer 3 file "the config file over the defaults"
K6_CONFIG="$cfg" run_sb run -e TARGET="$TARGET" "$s0"
check_layer 3 file "K6_CONFIG"
K6_ITERATIONS=4 K6_USER_AGENT=env run_sb run -e TARGET="$TARGET" -c "$cfg" "$s"
check_layer 4 env "the environment over the script"
K6_ITERATIONS=4 K6_USER_AGENT=env run_sb run -e TARGET="$TARGET" -c "$cfg" -i 5 \
  --user-agent flag "$s"
check_layer 5 flag "the flags over the environment"
# -e does not configure options (k6: only the process environment does)
run_sb run -e TARGET="$TARGET" -e K6_ITERATIONS=9 "$s"
check_layer 2 script "-e K6_ITERATIONS"

# --tag and options.tags on every sample; the flag's tags replace the script's
s=$(script tags.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  iterations: 3, tags: { team: 'script', keep: 'yes' },
  thresholds: {
    'http_reqs{team:a}': ['count==3'], 'http_reqs{team:script}': ['count==0'],
    'http_reqs{keep:yes}': ['count==0'], 'iterations{env:prod}': ['count==3'],
    'checks{team:a}': ['rate==1'], 'http_reqs{status:200}': ['count==0'],
    'http_reqs{method:GET}': ['count==3'], 'http_reqs{vu:1}': ['count==3'],
  },
};
export default function () { check(http.get(`${__ENV.TARGET}/`), { ok: (r) => r.status === 200 }); }
JS
)
run_sb run -e TARGET="$TARGET" --tag team=a --tag env=prod --system-tags method,vu "$s"
expect_rc 0
expect_out 'team:a' # the sub-metric's line (its thresholds passed: exit 0)
# K6_TAGS and K6_SYSTEM_TAGS, k6's map and list forms
K6_TAGS="team:a,env:prod" K6_SYSTEM_TAGS="method,vu" run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
# without systemTags, k6's default set: status is there, vu is not
run_sb run -e TARGET="$TARGET" --tag team=a --tag env=prod "$s"
expect_rc 99
expect_err "thresholds on metrics .*http_reqs\{status:200\}"

# noCookiesReset: the jar keeps what earlier iterations received (k6 clears it otherwise)
s=$(script cookies.js <<'JS'
import http from 'k6/http';
export const options = { iterations: 2, noCookiesReset: true };
export default function () {
  const r = http.get(`${__ENV.TARGET}/cookies`);
  console.log(`cookies${__ITER}=${JSON.stringify(r.json().cookies)}`);
  http.get(`${__ENV.TARGET}/cookies/set?c${__ITER}=1`);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_err 'cookies1=\{"c0":"1"\}'
K6_NO_COOKIES_RESET=false run_sb run -e TARGET="$TARGET" "$s"
expect_err 'cookies1=\{\}'

# blockHostnames: k6's error and error_code 1111, before any lookup; other hosts still work
s=$(script block.js <<'JS'
import http from 'k6/http';
export const options = {
  blockHostnames: ['*.blocked.test'], hosts: { 'a.blocked.test': '127.0.0.1' },
  thresholds: { 'http_reqs{error_code:1111}': ['count==1'], 'http_reqs{status:200}': ['count==1'] },
};
export default function () {
  const r = http.get(`http://a.blocked.test:${__ENV.PORT}/`);
  console.log(`blocked=${r.error_code} ${r.error}`);
  http.get(`${__ENV.TARGET}/`);
}
JS
)
before=$(target_requests)
run_sb run -e TARGET="$TARGET" -e PORT="$TARGET_PORT" "$s"
expect_rc 0
expect_err 'blocked=1111 hostname \(a\.blocked\.test\) is in a blocked pattern \(\*\.blocked\.test\)'
[ $(( $(target_requests) - before )) -eq 1 ] || fail "a blocked request reached the target"
run_sb run -e TARGET="$TARGET" -e PORT="$TARGET_PORT" --block-hostnames 'nothing.test' "$s"
expect_rc 99 # the flag's list replaces the script's: the request goes through

# __ENV holds the system environment in a local run (k6 run), not with the flag set to false
echo 'export default function () { console.log(`SEEN=${__ENV.SB_E2E_MARK}`); }' >"$WORK/env.js"
SB_E2E_MARK=here run_sb run --no-summary "$WORK/env.js"
expect_err 'SEEN=here'
SB_E2E_MARK=here run_sb run --no-summary --include-system-env-vars=false "$WORK/env.js"
expect_err 'SEEN=undefined'
SB_E2E_MARK=here K6_INCLUDE_SYSTEM_ENV_VARS=0 run_sb run --no-summary -e SB_E2E_MARK=e "$WORK/env.js"
expect_err 'SEEN=e'

# --linger: the process waits for Ctrl+C after the summary
"$SB_BIN" run -q --linger "$WORK/env.js" >"$WORK/out" 2>"$WORK/err" &
pid=$!
i=0
until grep -q 'Linger set' "$WORK/err"; do
  i=$((i + 1)); [ $i -lt 100 ] || { kill "$pid"; show; fail "no linger message"; }
  sleep 0.05
done
sleep 0.3
kill -0 "$pid" || fail "did not linger"
kill -INT "$pid"
set +e; wait "$pid"; RC=$?; set -e
expect_rc 0

# refused, each by its source
K6_VUS=ten run_sb run "$WORK/env.js"
expect_rc 104
expect_err "K6_VUS: 'ten' is not an integer"
K6_ITERATIONS=-2 run_sb run "$WORK/env.js"
expect_rc 104
expect_err 'K6_ITERATIONS: iterations: must be a non-negative integer'
echo '{"vus": "many"}' >"$WORK/bad.json"
run_sb run -c "$WORK/bad.json" "$WORK/env.js"
expect_rc 104
expect_err "--config $WORK/bad.json: vus: must be a non-negative integer"
echo '{"vus": ' >"$WORK/broken.json"
run_sb run -c "$WORK/broken.json" "$WORK/env.js"
expect_rc 104
expect_err 'broken.json: invalid JSON'
run_sb run -c "$WORK/missing.json" "$WORK/env.js"
expect_rc 104
expect_err "missing.json"
run_sb run --system-tags method,iter "$WORK/env.js"
expect_rc 104
expect_err "--system-tags: systemTags\[1\]: 'iter' is not supported"
run_sb run --summary-time-unit ns "$WORK/env.js"
expect_rc 104
expect_err "--summary-time-unit: summaryTimeUnit: invalid summary time unit; use 's', 'ms' or 'us'"
run_sb run --tag oops "$WORK/env.js"
expect_rc 2
expect_err "--tag 'oops': expected NAME=VALUE"
SPEEDBOAT_WORKERS=lots run_sb run "$WORK/env.js"
expect_rc 2
expect_err 'came from SPEEDBOAT_WORKERS'
s=$(script bad.js <<'JS'
export const options = { blockHostnames: ['bad..name'] };
export default function () {}
JS
)
run_sb run "$s"
expect_rc 104
expect_err "options.blockHostnames\[0\]: invalid hostname pattern 'bad..name'"
# unknown keys are warned about as k6 warns; k6's options speedboat lacks are named too
s=$(script unknown.js <<'JS'
export const options = { iterations: 1, itrations: 5, rps: 10 };
export default function () {}
JS
)
run_sb run "$s"
expect_rc 0
expect_err 'There were unknown fields in the options exported in the script: "itrations"'
expect_err 'options.rps: speedboat does not implement this k6 option; ignored'
K6_RPS=3 run_sb run "$s"
expect_err 'K6_RPS: speedboat does not implement this k6 option; ignored'
echo "ok"
