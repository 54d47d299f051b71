# Init code runs once per VU and per-VU globals persist between iterations (seed 001's counter);
# __VU and __ITER are set; console output reaches the controller.
. "$SB_ROOT/test/e2e/lib.sh"
s=$(script counter.js <<'JS'
let counter = 0;
let inits = 0;
inits++;
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 4 } } };
export default function () {
  counter++;
  if (__ITER === 3) console.log(`vu=${__VU} counter=${counter} inits=${inits}`);
}
JS
)
run_sb run "$s"
expect_rc 0
for vu in 1 2 3; do expect_err "vu=$vu counter=4 inits=1"; done
[ "$(metric_value iterations)" = 12 ] || { show; fail "iterations"; }
