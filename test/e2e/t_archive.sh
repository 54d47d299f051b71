# speedboat archive writes a zstd tar that tar lists and speedboat runs.
. "$SB_ROOT/test/e2e/lib.sh"
start_target
mkdir -p "$WORK/proj/lib"
cat >"$WORK/proj/lib/util.js" <<'JS'
export function pick(a) { return a[0]; }
JS
cat >"$WORK/proj/main.js" <<'JS'
import http from 'k6/http';
import { pick } from './lib/util.js';
export const options = { vus: 1, iterations: 3 };
export default function () { http.get(pick([`${__ENV.TARGET}/a`])); }
JS
run_sb archive "$WORK/proj/main.js" -O "$WORK/test.tar.zst"
expect_rc 0
tar --zstd -tf "$WORK/test.tar.zst" >"$WORK/list" || fail "tar cannot list the archive"
grep -q '^metadata.json$' "$WORK/list" || fail "no metadata.json: $(cat "$WORK/list")"
grep -q 'lib/util.js$' "$WORK/list" || fail "no lib/util.js: $(cat "$WORK/list")"
rm -rf "$WORK/proj"   # the archive must be self-contained
run_sb run -e TARGET="$TARGET" "$WORK/test.tar.zst"
expect_rc 0
[ "$(metric_value http_reqs)" = 3 ] || { show; fail "http_reqs"; }
[ "$(target_requests)" = 3 ] || fail "target saw $(target_requests)"
