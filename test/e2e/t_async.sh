# Promises, async/await, generators, k6/timers and http.asyncRequest on the VU's event loop
# (agent/vu_loop.h), end to end against sb-target: an async default function awaiting requests
# made concurrently (their total time is the slowest one's), timers keeping the iteration alive
# until they fire, an interval cleared by a timeout, generators, errors thrown in callbacks and
# rejections nobody handled reported as exceptions at the user's line, an interval never cleared
# stopped by the end of the test, the same on two agents, and asyncRequest refused clearly in
# --compatibility-mode=base.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target

s=$(script flows.js <<'JS'
import http from 'k6/http';
import { check, group } from 'k6';
import { setTimeout as later } from 'k6/timers';

export const options = { vus: 2, iterations: 6, thresholds: { checks: ['rate==1'] } };

const wait = (ms, v) => new Promise((res) => later(res, ms, v));
function* ids(n) { for (let i = 1; i <= n; i++) yield `id-${i}`; }

class Api {
  constructor(base) { this.base = base; }
  async get(path) { const r = await http.asyncRequest('GET', `${this.base}${path}`); return r; }
}

export default async function () {
  const api = new Api(__ENV.TARGET);
  const t0 = Date.now();
  const [slow, echo] = await Promise.all([
    api.get('/slow?ms=300'),
    http.asyncRequest('POST', `${__ENV.TARGET}/echo`, JSON.stringify({ ids: [...ids(3)] }),
      { headers: { 'Content-Type': 'application/json' } }),
  ]);
  const both = Date.now() - t0;
  const ticks = [];
  const iv = setInterval(() => ticks.push(ticks.length), 20);
  setTimeout(() => clearInterval(iv), 110);
  const v = await wait(150, 'waited');
  const g = await group('async group', async () => (await api.get('/status/201')).status);
  check(null, {
    'concurrent': () => both >= 290 && both < 550,
    'slow ok': () => slow.status === 200,
    'echo json': () => JSON.parse(echo.json('body')).ids[2] === 'id-3',
    'ticks': () => ticks.length >= 3 && ticks.length <= 6,
    'timer value': () => v === 'waited',
    'group returns': () => g === 201,
  });
  if (__ITER === 0 && __VU === 1) console.log(`both=${both} ticks=${ticks.length} v=${v} g=${g}`);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_err "both=[0-9]+ ticks=[0-9]+ v=waited g=201"
expect_out "checks\.*: 100\.00% +✓ 36 +✗ 0"
expect_out "iteration_duration\.*: avg=[4-9][0-9][0-9](\.[0-9]+)?ms"
[ "$(target_requests)" = 18 ] || fail "target saw $(target_requests) requests, expected 18"

# Errors: each is an exception of its iteration (counted, logged at the user's line), the next
# iterations run, and nothing from a failed iteration runs later.
s=$(script errors.js <<'JS'
export const options = { scenarios: {
  unhandled: { executor: 'per-vu-iterations', iterations: 2, exec: 'unhandled' },
  timer: { executor: 'per-vu-iterations', iterations: 1, exec: 'timerThrows', startTime: '100ms' },
  rejects: { executor: 'per-vu-iterations', iterations: 1, exec: 'rejects', startTime: '200ms' },
  handled: { executor: 'per-vu-iterations', iterations: 1, exec: 'handled', startTime: '300ms' },
  forever: { executor: 'constant-vus', vus: 1, duration: '1s', exec: 'forever', gracefulStop: '0s' },
}};
export function unhandled() {
  Promise.reject(new Error('nobody handles me'));
}
export function timerThrows() {
  setTimeout(() => { throw new Error('thrown in a timer'); }, 10);
  setTimeout(() => console.log('LEFT OVER TIMER RAN'), 300);
}
export async function rejects() {
  await null;
  throw new Error('async function rejected');
}
export function handled() {
  Promise.reject(new Error('x')).catch((e) => console.log(`handled ${e.message}`));
}
let ticks = 0;
export function forever() { setInterval(() => ticks++, 50); }
export function teardown() { }
JS
)
run_sb run "$s"
expect_rc 0
expect_err "errors\.js:9: Error: Uncaught \(in promise\) nobody handles me"
expect_err "errors\.js:12: Error: thrown in a timer"
expect_err "errors\.js:17: Error: async function rejected"
expect_err "handled x"
grep -q "LEFT OVER TIMER RAN" "$WORK/err" && { show; fail "a timer of a failed iteration ran"; }
[ "$(grep -c 'nobody handles me' "$WORK/err")" = 2 ] || { show; fail "expected 2 unhandled rejections"; }
expect_out "iterations\.*: 5 "

# The same async script on two agents: counts add up.
start_agents 2
run_sb run --agents "$(agent_addr 1),$(agent_addr 2)" -e TARGET="$TARGET" "$WORK/flows.js"
expect_rc 0
expect_out "checks\.*: 100\.00% +✓ 36 +✗ 0"

# Base mode has no Promise: asyncRequest says so (and async syntax is a compile error there).
s=$(script base.js <<'JS'
var http = require('k6/http');
exports.options = { iterations: 1 };
exports.default = function () { http.asyncRequest('GET', __ENV.TARGET + '/'); };
JS
)
run_sb run --compatibility-mode=base -e TARGET="$TARGET" "$s"
expect_err "asyncRequest\(\): this script has no Promise \(--compatibility-mode=base\)"

# Timers and sleep() wait their time counted from when they are set, even when the VU has run a
# while inside the callback that resumed it: libevent's cached loop time made a setTimeout(20)
# set after 30 ms of work fire at once (and the same for sleep()).
s=$(script timers_late.js <<'JS'
import { check, sleep } from 'k6';
export const options = { vus: 1, iterations: 3 };
export default async function () {
  await new Promise((r) => setTimeout(r, 1)); // now inside a timer's callback
  let t = Date.now();
  while (Date.now() - t < 30) {}
  t = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  const timer = Date.now() - t;
  t = Date.now();
  while (Date.now() - t < 30) {}
  t = Date.now();
  sleep(0.02);
  const slept = Date.now() - t;
  check(null, { 'setTimeout waited': () => timer >= 20, 'sleep waited': () => slept >= 20 });
  if (timer < 20 || slept < 20) console.log(`early: setTimeout ${timer} ms, sleep ${slept} ms`);
}
JS
)
run_sb run "$s"
expect_rc 0
expect_out "checks\.*: 100\.00% ✓ 6 +✗ 0"
