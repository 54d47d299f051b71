#!/bin/bash
# Instructions per request of Speedboat's own code, counted by callgrind (deterministic, unlike
# CPU time on a shared machine): the bench script (http.get + check) on one worker with 50 VUs
# against a local nginx, run twice under valgrind (SHORT and LONG seconds); the difference of
# the two runs' instruction counts over the difference of their requests leaves out start-up
# and teardown. Prints the total and the top functions (self cost) per request.
#
#   scripts/bench-callgrind.sh [BUILD]       SHORT=2 LONG=8 TOP=30
#
# Needs valgrind and nginx (scripts/install-deps.sh installs both). Load goes to 127.0.0.1 only.
set -euo pipefail
BUILD=${1:-build}
SHORT=${SHORT:-2}
LONG=${LONG:-8}
TOP=${TOP:-30}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
work=$(mktemp -d)
chmod 755 "$work"
trap 'kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
mkdir -p "$work/www" "$work/tmp"
head -c 612 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3
cat >"$work/bench.js" <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export default function () {
  const r = http.get(__ENV.URL);
  check(r, { 'status 200': (r) => r.status === 200 });
}
JS
"$BUILD/speedboat" archive -O "$work/bench.tar.zst" "$work/bench.js" >/dev/null

for d in "$SHORT" "$LONG"; do
  rm -f "$work"/cg.out*
  SB_VU_POOL=1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$BUILD/speedboat" run -q \
    --workers 1 -u 50 -d "${d}s" -e URL="http://127.0.0.1:$port/index.html" \
    --summary-export "$work/sum.json" "$work/bench.tar.zst" >/dev/null 2>"$work/cg.err"
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['http_reqs']['count'])" \
    "$work/sum.json" >"$work/reqs$d"
  callgrind_annotate --auto=no --threshold=100 "$work"/cg.out* 2>/dev/null |
    sed -n '/file:function/,$p' >"$work/ann$d"
done

python3 - "$work" "$SHORT" "$LONG" "$TOP" <<'PY'
import re, sys
work, short, long_, top = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def load(f):
    d = {}
    for l in open(f):
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(\S+)', l)
        if m:
            d[m.group(2)] = d.get(m.group(2), 0) + int(m.group(1).replace(',', ''))
    return d
a, b = load(f"{work}/ann{short}"), load(f"{work}/ann{long_}")
n = int(open(f"{work}/reqs{long_}").read()) - int(open(f"{work}/reqs{short}").read())
per = {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}
tot = sum(per.values())
print(f"requests {n} (between the {short} s and the {long_} s run)")
print(f"instructions per request: {tot:.0f}")
for k, v in sorted(per.items(), key=lambda x: -x[1])[:top]:
    print(f"{v:8.0f} {100 * v / tot:5.1f}%  {k.split('/')[-1]}")
PY
