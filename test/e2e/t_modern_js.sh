# Modern JavaScript and TypeScript end to end (controller/transform.h, controller/polyfill.h): a
# .ts entry importing a .ts module (types, interfaces, enums, class fields), and a .js script using
# Map, Set, WeakMap, for...of over arrays/Map/Set/strings, Object.entries/fromEntries, Array
# and String methods, ?., ??, spread/rest and classes — run by real VUs against sb-target, results
# asserted through console.log, checks and the target's own request count. A runtime error names
# the user's file:line; the archive carries the polyfills and runs with the sources deleted.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target

mkdir -p "$WORK/lib"
cat >"$WORK/lib/shapes.ts" <<'TS'
export interface Shape { area(): number; name: string }
export enum Kind { Square = 'square', Circle = 'circle' }
export class Square implements Shape {
  name: string = Kind.Square;
  static made: number = 0;
  constructor(private side: number) { Square.made++; }
  area(): number { return this.side ** 2; }
}
export const total = (xs: Shape[]): number => xs.reduce((s, x) => s + x.area(), 0);
TS
s=$(script main.ts <<'TS'
import http from 'k6/http';
import { check } from 'k6';
import { Square, total, Kind, type Shape } from './lib/shapes.ts';

type Opts = { vus: number; iterations: number };
export const options: Opts = { vus: 2, iterations: 6 };

export default function (): void {
  const shapes: Shape[] = [new Square(2), new Square(3)];
  const res = http.get(`${__ENV.TARGET}/?kind=${Kind.Square}`);
  const body = res?.body ?? '';
  check(res, {
    'status 200': (r) => r.status === 200,
    'total 13': () => total(shapes) === 13,
    'class fields': () => shapes[0].name === 'square' && Square.made >= 2,
  });
  if (__ITER === 0) console.log(`ts total=${total(shapes)} len=${body.length >= 0}`);
}
TS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_err "ts total=13 len=true"
expect_out "checks\.*: 100\.00% +✓ 18 +✗ 0"
[ "$(target_requests)" = 6 ] || fail "target saw $(target_requests) requests, expected 6"

s=$(script modern.js <<'JS'
import http from 'k6/http';
import { check } from 'k6';

class Base { greet() { return 'hi'; } }
class Counter extends Base {
  count = 0;
  #step = 1;
  inc() { this.count += this.#step; return this; }
}

export const options = { vus: 1, iterations: 3 };

export default function () {
  const m = new Map([['a', 1], ['b', 2]]);
  const set = new Set([1, 2, 2, 3]);
  const wm = new WeakMap();
  const key = {};
  wm.set(key, 'w');
  let sum = 0;
  for (const [k, v] of m) sum += v;
  for (const v of set) sum += v;
  for (const x of [10, 20]) sum += x;
  let letters = '';
  for (const ch of 'ab') letters += ch;
  const obj = { x: 1, nested: { y: null } };
  const { x, ...rest } = { ...obj, z: 3 };
  const y = obj.nested?.y ?? 'default';
  const deep = obj.missing?.deeper?.value;
  const entries = Object.entries({ p: 1, q: 2 }).map(([k, v]) => `${k}${v}`).join();
  const back = Object.fromEntries(new Map([['r', 5]]));
  const c = new Counter().inc().inc();
  const arr = Array.from(set).concat(Array.of(9));
  const res = http.get(`${__ENV.TARGET}/`);
  const out = [sum, letters, x, Object.keys(rest).join(''), y, deep, entries, back.r, c.count,
    c.greet(), arr.includes(9), arr.find((n) => n > 2), [[1, [2]]].flat(2).join(''),
    'x'.padStart(3, '-'), '  t '.trimEnd(), Number.isInteger(5), [1, 2, 3].findIndex((n) => n === 3),
    'abc'.includes('b'), 'abc'.startsWith('a'), wm.get(key), set.size, m.has('b')].join('|');
  check(res, { 'status 200': (r) => r.status === 200, 'all as expected': () =>
    out === '39|ab|1|nestedz|default||p1,q2|5|2|hi|true|3|12|--x|  t|true|2|true|true|w|3|true' });
  if (__ITER === 0) console.log(`modern ${out}`);
}
JS
)
run_sb run -e TARGET="$TARGET" "$s"
expect_rc 0
expect_err "modern 39\|ab\|1\|nestedz\|default\|\|p1,q2\|5\|2\|hi\|true\|3\|12\|--x\|  t\|true\|2\|true\|true\|w\|3\|true"
expect_out "checks\.*: 100\.00% +✓ 6 +✗ 0"

# The archive carries the compiled code and its polyfills: it runs with the sources gone.
run_sb archive -O "$WORK/modern.tar.zst" "$s"
expect_rc 0
tar --zstd -tf "$WORK/modern.tar.zst" | grep -q '^es5/polyfills.js$' || fail "no es5/polyfills.js in the archive"
rm -f "$s"
run_sb run -e TARGET="$TARGET" "$WORK/modern.tar.zst"
expect_rc 0
expect_out "checks\.*: 100\.00% +✓ 6 +✗ 0"

# A runtime error in a TypeScript module names the user's file and line.
cat >"$WORK/lib/boom.ts" <<'TS'
interface Opts { limit: number }

const opts: Opts = { limit: 1 };
export function boom(n: number): number {
  if (n > opts.limit) throw new Error(`too big: ${n}`);
  return n;
}
TS
s=$(script boom.ts <<'TS'
import { boom } from './lib/boom.ts';
export const options = { vus: 1, iterations: 1 };
export default function (): void { boom(2); }
TS
)
run_sb run "$s"
expect_err "lib/boom.ts:5: Error: too big: 2"

# --compatibility-mode=base: ES5.1 CommonJS runs; modern syntax is refused with a hint.
s=$(script base.js <<'JS'
var http = require('k6/http');
module.exports.options = { vus: 1, iterations: 2 };
module.exports.default = function () { http.get(__ENV.TARGET + '/'); };
JS
)
run_sb run --compatibility-mode=base -e TARGET="$TARGET" "$s"
expect_rc 0
run_sb run --compatibility-mode=base "$WORK/main.ts"
[ "$RC" -ne 0 ] || fail "a TypeScript script ran in base mode"
expect_err "compatibility-mode=base runs plain ES5.1"
# k6's environment variable says the same; the flag wins over it
set +e
K6_COMPATIBILITY_MODE=base "$SB_BIN" run "$WORK/main.ts" >"$WORK/out" 2>"$WORK/err"; RC=$?
set -e
[ "$RC" -ne 0 ] || fail "K6_COMPATIBILITY_MODE=base: a TypeScript script ran"
set +e
K6_COMPATIBILITY_MODE=base "$SB_BIN" run -q --compatibility-mode=extended -e TARGET="$TARGET" "$WORK/main.ts" >"$WORK/out" 2>"$WORK/err"; RC=$?
set -e
expect_rc 0
run_sb run --compatibility-mode=modern "$s"
expect_rc 2
echo "ok"
