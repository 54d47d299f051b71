#!/bin/bash
# make bench: Speedboat against wrk on the same local nginx (docs/PERFORMANCE.md).
#
# nginx (Debian's) serves a small static file on loopback, pinned to core 0; the generators are
# pinned to core 1 and run one after the other, interleaved, REPS times each, for DUR seconds with
# CONNS connections/VUs. Reported: requests per generator CPU-second (user+sys of the generator
# process, from GNU time) and the Speedboat/wrk ratio; then the resident memory per VU of 1,000
# VUs that sleep(1) between requests. Load goes only to 127.0.0.1.
set -euo pipefail
BUILD=${1:-build}
DUR=${DUR:-5}
CONNS=${CONNS:-50}
REPS=${REPS:-3}
VUS_MEM=${VUS_MEM:-1000}
case "$BUILD" in /*) SB="$BUILD/speedboat" ;; *) SB="$PWD/$BUILD/speedboat" ;; esac
work=$(mktemp -d)
chmod 755 "$work"   # nginx's workers run as an unprivileged user
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
pin_srv="taskset -c 0"; pin_gen="taskset -c 1"
[ "$(nproc)" -ge 2 ] || { pin_srv=""; pin_gen=""; }

port=$((20000 + RANDOM % 20000))
mkdir -p "$work/www" "$work/tmp"
head -c 612 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
$pin_srv nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3
url="http://127.0.0.1:$port/index.html"
curl -sf "$url" >/dev/null || { echo "bench: nginx does not serve $url:" >&2; cat "$work/error.log" >&2; exit 1; }

cat >"$work/bench.js" <<'JS'
import http from 'k6/http';
import { check } from 'k6';
export default function () {
  const r = http.get(__ENV.URL);
  check(r, { 'status 200': (r) => r.status === 200 });
}
JS
cat >"$work/mem.js" <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export default function () { http.get(__ENV.URL); sleep(1); }
JS

# Compile once: runs take the archive, so Babel's start-up is not counted as generator CPU.
"$SB" archive -O "$work/bench.tar.zst" "$work/bench.js" >/dev/null
"$SB" archive -O "$work/mem.tar.zst" "$work/mem.js" >/dev/null

cpu_of() { awk '{ print $1 + $2 }' "$1"; }

run_wrk() {
  /usr/bin/time -f "%U %S" -o "$work/t" $pin_gen wrk -t1 -c"$CONNS" -d"${DUR}s" "$url" >"$work/wrk.out"
  local reqs; reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
  echo "$reqs $(cpu_of "$work/t")"
}

run_sb() {
  /usr/bin/time -f "%U %S" -o "$work/t" $pin_gen "$SB" run -q --workers 1 -u "$CONNS" -d "${DUR}s" \
    -e URL="$url" "$work/bench.tar.zst" >"$work/sb.out" 2>"$work/sb.err"
  local reqs; reqs=$(sed -n 's/^ *http_reqs\.*: *\([0-9]*\).*/\1/p' "$work/sb.out")
  echo "$reqs $(cpu_of "$work/t")"
}

printf '%-10s %4s %10s %8s %12s\n' tool rep requests cpu_s req/cpu_s
tw=0; ts=0
for rep in $(seq 1 "$REPS"); do
  read -r r c < <(run_wrk); x=$(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.0f", r / c }')
  printf '%-10s %4d %10d %8.2f %12d\n' wrk "$rep" "$r" "$c" "$x"; tw=$((tw + x))
  read -r r c < <(run_sb); x=$(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.0f", r / c }')
  printf '%-10s %4d %10d %8.2f %12d\n' speedboat "$rep" "$r" "$c" "$x"; ts=$((ts + x))
done
awk -v w="$tw" -v s="$ts" -v n="$REPS" 'BEGIN { printf "\nmean req/cpu_s: wrk %.0f, speedboat %.0f, ratio speedboat/wrk = %.2f\n", w / n, s / n, s / w }'

# Memory: peak RSS of VUS_MEM sleeping VUs, against 1 VU, over the same time.
peak_rss() {
  "$SB" run -q -u "$1" -d 4s -e URL="$url" "$work/mem.tar.zst" >/dev/null 2>&1 &
  local pid=$! peak=0 r
  while kill -0 "$pid" 2>/dev/null; do
    r=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  wait "$pid" || true
  echo "$peak"
}
one=$(peak_rss 1); many=$(peak_rss "$VUS_MEM")
awk -v a="$one" -v b="$many" -v n="$VUS_MEM" 'BEGIN { printf "memory: 1 VU %d KiB, %d VUs %d KiB -> %.0f KiB per VU\n", a, n, b, (b - a) / (n - 1) }'
