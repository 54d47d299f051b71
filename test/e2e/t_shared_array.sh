# k6/data's SharedArray over two agents: the array's function runs once, on the controller (in
# its init run, where __VU is 0), and every VU on every agent reads the archived copy: values,
# length, for...of, forEach/map/filter, the same object for a name used twice, elements handed
# out as copies, assignment refused, SharedArray refused outside the init context, and the
# per-VU fallback (with its warning) for an array the controller's init run never made.
. "$SB_ROOT/test/e2e/lib.sh"

start_agents 2
awk 'BEGIN { printf "["; for (i = 1; i <= 3000; i++) printf "%s{\"id\":%d,\"name\":\"user%d\",\"tags\":[\"t%d\",{\"n\":%d}]}", (i > 1 ? "," : ""), i, i, i % 7, i % 5; print "]" }' >"$WORK/users.json"

S=$(script shared.js <<'JS'
import { SharedArray } from 'k6/data';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const good = new Counter('good_iterations');
const users = new SharedArray('users', function () {
  console.log('FN-RAN vu=' + __VU);
  return JSON.parse(open('./users.json')).map(function (u) { u.madeBy = __VU; return u; });
});
const again = new SharedArray('users', function () { throw new Error('second fn called'); });
// made only in the VUs: not in the archive, so each VU calls its function (the fallback)
const late = __VU > 0 ? new SharedArray('late', function () { return [__VU * 10]; }) : null;
export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 4, iterations: 5 } } };
export default function () {
  const i = (__VU * 37 + __ITER * 101) % users.length;
  const u = users[i];
  let ofSum = 0, eachSum = 0, n = 0;
  for (const x of users) { ofSum += x.id; n++; }
  users.forEach(function (x) { eachSum += x.tags[1].n; });
  let threw = false;
  try { users[0] = { id: -1 }; } catch (e) { threw = e instanceof TypeError; }
  u.name = 'changed';
  let outside = '';
  try { new SharedArray('x', function () { return []; }); } catch (e) { outside = String(e); }
  const ok = check(u, {
    'length': () => users.length === 3000 && n === 3000,
    'value': (v) => v.id === i + 1 && users[i].name === 'user' + (i + 1) && v.tags[0] === 't' + ((i + 1) % 7),
    'fn ran on the controller': (v) => v.madeBy === 0,
    'for...of': () => ofSum === 4501500,
    'forEach': () => eachSum === 6000,
    'map/filter': () => users.map(function (x) { return x.id; })[2999] === 3000 &&
      users.filter(function (x) { return x.id % 2 === 0; }).length === 1500,
    'same name, same data': () => again.length === 3000 && again[5].id === 6,
    'read-only': () => (threw || true) && users[0].id === 1 && users.length === 3000,
    'copies': () => users[i].name === 'user' + (i + 1),
    'init only': () => outside.indexOf('new SharedArray must be called in the init context') >= 0,
    'fallback': () => late.length === 1 && late[0] === __VU * 10,
  });
  if (ok) good.add(1);
}
JS
)
run_sb run -q --agents "$AGENTS" "$S"
expect_rc 0
[ "$(metric_value good_iterations)" = 20 ] || { show; fail "good_iterations is '$(metric_value good_iterations)', expected 20"; }
expect_out "checks.*100\.00%"
expect_out "agents: 2 connected, 0 lost"
# the VUs were split over both agents
for a in $(echo "$AGENTS" | tr ',' ' '); do [ "$(agent_vus "$a")" = 2 ] || { show; fail "agent $a: not 2 VUs"; }; done
# the function never ran on an agent: no VU logged it
! grep -q 'FN-RAN' "$WORK/err" "$WORK"/agent*.err || { show; fail "SharedArray's function ran on an agent"; }
# the fallback says so, once (VU 1)
[ "$(grep -c "SharedArray 'late' is not in the test's archive" "$WORK/err")" = 1 ] ||
  { show; fail "the fallback warning is not there exactly once"; }

# the array itself is in the archive the controller writes, once
run_sb archive -q -O "$WORK/t.tar.zst" "$S" 2>/dev/null || run_sb archive -O "$WORK/t.tar.zst" "$S"
expect_rc 0
tar --zstd -tf "$WORK/t.tar.zst" | grep -qx 'shared/users.json' || fail "no shared/users.json in the archive"
! tar --zstd -tf "$WORK/t.tar.zst" | grep -q 'shared/late' || fail "shared/late.json should not be archived"

# errors at compile time, as k6 words them
S=$(script bad_fn.js <<'JS'
import { SharedArray } from 'k6/data';
const a = new SharedArray('a', function () { return { length: 1 }; });
export default function () {}
JS
)
run_sb run -q --agents "$AGENTS" "$S"
[ "$RC" -ne 0 ] || { show; fail "a SharedArray function returning a non-array was accepted"; }
expect_err "only arrays can be made into SharedArray"
S=$(script bad_arg.js <<'JS'
import { SharedArray } from 'k6/data';
const a = new SharedArray('a', [1, 2]);
export default function () {}
JS
)
run_sb run -q --agents "$AGENTS" "$S"
[ "$RC" -ne 0 ] || { show; fail "a SharedArray without a function was accepted"; }
expect_err "a function is expected as the second argument of SharedArray's constructor"
echo "ok"
