#!/bin/bash
# make bench: Speedboat against wrk and h2load on the same local nginx (docs/PERFORMANCE.md).
#
# nginx (Debian's) serves a small static file on loopback, pinned to core 0; the generators are
# pinned to core 1 and run one after the other, interleaved, REPS times each, for DUR seconds with
# CONNS connections/VUs. Reported: requests per generator CPU-second (user+sys of the generator
# process, from GNU time) and the Speedboat/peer ratio, for three paths on the same nginx:
#   h1 plain  HTTP/1.1 over TCP            peer: wrk
#   h1 TLS    HTTP/1.1 over TLS 1.3        peer: wrk over https (a server without http2)
#   h2 TLS    HTTP/2 over TLS 1.3 (ALPN)   peer: h2load -m1 (one stream per connection)
# then the resident memory per VU of VUS_MEM VUs that sleep(1) between requests (on each path),
# and a perf profile of Speedboat at full speed on h1 plain and h2 TLS (PERF=0 skips it). The
# certificates are made here with openssl, in the bench's temp dir. Load goes only to 127.0.0.1.
#
# Then distributed runs (issue #3; docs/PERFORMANCE.md "Distributed runs"): the controller's CPU
# while it merges the snapshots of 50 and 100 simulated agents (sb-sim-agent, DIST_DUR seconds),
# the metric-stream bytes per second of 2 real agents at full load on nginx, and the start skew of
# 3 real agents, read from the agents block the controller prints after the summary.
# DIST_ONLY=1 skips the local part; DIST=0 skips the distributed one; TLS=0 skips the two TLS
# paths (and h2load, which then need not be installed).
#
# Then arrival-rate accuracy and generator overhead (issue 11; docs/PERFORMANCE.md "Arrival-rate
# accuracy and generator overhead"): the highest constant-arrival-rate one worker holds within 1%
# against nginx, and at half of it the latency Speedboat adds over wrk on sb-target (a known
# delay). ARRIVAL=0 skips it; DIST_ONLY=1 too.
set -euo pipefail
BUILD=${1:-build}
DUR=${DUR:-5}
CONNS=${CONNS:-50}
REPS=${REPS:-3}
VUS_MEM=${VUS_MEM:-1000}
DIST=${DIST:-1}
DIST_ONLY=${DIST_ONLY:-0}
DIST_DUR=${DIST_DUR:-20}
TLS=${TLS:-1}
PERF=${PERF:-1}
ARRIVAL=${ARRIVAL:-1}        # arrival-rate accuracy and overhead (issue 11); 0 skips it
AR_DUR=${AR_DUR:-5}          # seconds per rate
AR_START=${AR_START:-2000}   # first rate tried, then doubled
AR_MAX=${AR_MAX:-256000}     # highest rate tried
AR_BISECT=${AR_BISECT:-3}    # bisection steps after the first rate missed
AR_DELAYS=${AR_DELAYS:-0 1}  # sb-target answer delays (ms) for the overhead
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SB="$BUILD/speedboat"
work=$(mktemp -d)
chmod 755 "$work"   # nginx's workers run as an unprivileged user
bg_pids=""          # sim and agent processes to stop on exit
cleanup() {
  for p in $bg_pids; do kill "$p" 2>/dev/null || true; done
  kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pin_srv="taskset -c 0"; pin_gen="taskset -c 1"
[ "$(nproc)" -ge 2 ] || { pin_srv=""; pin_gen=""; }
if [ "$TLS" = 1 ] && ! command -v h2load >/dev/null 2>&1; then
  echo "bench: h2load not found (Debian package nghttp2-client): the TLS paths are skipped" >&2
  TLS=0
fi

# A throw-away CA and a P-256 server certificate for 127.0.0.1, valid for two days.
make_certs() {
  local d="$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$d/ca.key" -out "$d/ca.pem" -subj /CN=speedboat-bench-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/srv.key" -out "$d/srv.csr" -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/srv.ext"
  openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/srv.ext" -out "$d/srv.pem" 2>/dev/null
}

port=$((20000 + RANDOM % 20000))
port_h1s=$((port + 1)); port_h2s=$((port + 2))
mkdir -p "$work/www" "$work/tmp"
head -c 612 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
tls_servers=""
if [ "$TLS" = 1 ]; then
  make_certs
  # TLS 1.3 with one cipher suite, so that every client pays for the same cipher.
  tls_servers="ssl_certificate $work/srv.pem; ssl_certificate_key $work/srv.key;
  ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
  server { listen 127.0.0.1:$port_h1s ssl; root $work/www; }
  server { listen 127.0.0.1:$port_h2s ssl http2; root $work/www; }"
fi
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
  $tls_servers
}
CONF
$pin_srv nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3
url="http://127.0.0.1:$port/index.html"
url_h1s="https://127.0.0.1:$port_h1s/index.html"
url_h2s="https://127.0.0.1:$port_h2s/index.html"
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
cat >"$work/proto.js" <<'JS'
import http from 'k6/http';
export const options = { vus: 1, iterations: 1 };
export default function () {
  const r = http.get(__ENV.URL);
  console.log('bench-probe ' + r.status + ' ' + r.proto + ' ' + (r.tls_version || 'plain') + ' ' +
    (r.tls_cipher_suite || ''));
}
JS

# Compile once: runs take the archive, so Babel's start-up is not counted as generator CPU.
"$SB" archive -O "$work/bench.tar.zst" "$work/bench.js" >/dev/null
"$SB" archive -O "$work/mem.tar.zst" "$work/mem.js" >/dev/null
# Speedboat verifies nginx's certificate against the bench's CA (k6's default, verification on).
sb_tls=(--tls-ca-file "$work/ca.pem")

cpu_of() { awk '{ print $1 + $2 }' "$1"; }

run_wrk() {  # URL
  /usr/bin/time -f "%U %S" -o "$work/t" $pin_gen wrk -t1 -c"$CONNS" -d"${DUR}s" "$1" >"$work/wrk.out"
  local reqs; reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
  echo "$reqs $(cpu_of "$work/t")"
}

# h2load counts the requests that succeeded (2xx/3xx) within -D seconds.
run_h2load() {  # URL
  /usr/bin/time -f "%U %S" -o "$work/t" $pin_gen h2load -m1 -c"$CONNS" -t1 -D"$DUR" "$1" \
    >"$work/h2load.out" 2>&1
  local reqs; reqs=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$work/h2load.out")
  echo "${reqs:-0} $(cpu_of "$work/t")"
}

run_sb() {  # URL [speedboat flags]
  local u=$1; shift
  /usr/bin/time -f "%U %S" -o "$work/t" $pin_gen "$SB" run -q --workers 1 -u "$CONNS" -d "${DUR}s" \
    "$@" -e URL="$u" "$work/bench.tar.zst" >"$work/sb.out" 2>"$work/sb.err"
  local reqs; reqs=$(sed -n 's/^ *http_reqs\.*: *\([0-9]*\).*/\1/p' "$work/sb.out")
  local bad; bad=$(sed -n 's/^ *checks\.*:.*✗ *\([0-9]*\).*/\1/p' "$work/sb.out")
  [ "${bad:-0}" = 0 ] || echo "bench: speedboat: $bad failed checks on $u" >&2
  echo "${reqs:-0} $(cpu_of "$work/t")"
}

# What Speedboat negotiates with URL: "status proto tls-version cipher".
probe() {  # URL [speedboat flags]
  local u=$1; shift
  "$SB" run "$@" -e URL="$u" "$work/proto.js" 2>&1 |
    sed -n 's/.*bench-probe \(.*\) source=.*/\1/p' | sed 's/ *$//' | head -1
}

# LABEL PEER "PEER_CMD" URL [speedboat flags]: REPS interleaved runs of the peer (a command that
# prints "requests cpu_s") and of Speedboat; one line per run, the means and the ratio, which is
# also added to $work/summary.txt.
duel() {
  local label=$1 peer=$2 peer_cmd=$3 u=$4; shift 4
  local tp=0 ts=0 r c x rep
  echo "$label: $u"
  printf '  %-10s %4s %10s %8s %12s\n' tool rep requests cpu_s req/cpu_s
  for rep in $(seq 1 "$REPS"); do
    read -r r c < <($peer_cmd); x=$(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.0f", r / c }')
    printf '  %-10s %4d %10d %8.2f %12d\n' "$peer" "$rep" "$r" "$c" "$x"; tp=$((tp + x))
    read -r r c < <(run_sb "$u" "$@"); x=$(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.0f", r / c }')
    printf '  %-10s %4d %10d %8.2f %12d\n' speedboat "$rep" "$r" "$c" "$x"; ts=$((ts + x))
  done
  awk -v l="$label" -v p="$peer" -v w="$tp" -v s="$ts" -v n="$REPS" 'BEGIN {
    printf "  mean req/cpu_s: %s %.0f, speedboat %.0f, ratio speedboat/%s = %.2f\n\n",
      p, w / n, s / n, p, s / w
    printf "%-9s %-7s %12.0f %12.0f %6.2f\n", l, p, w / n, s / n, s / w >>"'"$work/summary.txt"'" }'
}

# Peak RSS of a run of $1 VUs of mem.js on URL $2 (more speedboat flags after).
peak_rss() {
  local n=$1 u=$2; shift 2
  "$SB" run -q -u "$n" -d 4s "$@" -e URL="$u" "$work/mem.tar.zst" >/dev/null 2>&1 &
  local pid=$! peak=0 r
  while kill -0 "$pid" 2>/dev/null; do
    r=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  wait "$pid" || true
  echo "$peak"
}
mem_per_vu() {  # LABEL URL [speedboat flags]
  local label=$1 u=$2 one many; shift 2
  one=$(peak_rss 1 "$u" "$@"); many=$(peak_rss "$VUS_MEM" "$u" "$@")
  awk -v l="$label" -v a="$one" -v b="$many" -v n="$VUS_MEM" 'BEGIN {
    printf "memory %s: 1 VU %d KiB, %d VUs %d KiB -> %.0f KiB per VU\n", l, a, n, b, (b - a) / (n - 1) }'
}

# perf of Speedboat at full speed on URL (not timed: perf's sampling costs CPU): the share of
# each object (the kernel's included), then the user-space symbols at 1% of all samples or more.
profile() {  # LABEL URL [speedboat flags]
  local label=$1 u=$2; shift 2
  if ! perf record -q -F 1999 -o "$work/perf.data" -- $pin_gen "$SB" run -q --workers 1 -u "$CONNS" \
      -d "${DUR}s" "$@" -e URL="$u" "$work/bench.tar.zst" >/dev/null 2>"$work/perf.err"; then
    echo "perf $label: perf record failed:"; sed 's/^/  /' "$work/perf.err" | tail -3; return 0
  fi
  echo "perf $label (speedboat at full speed, self %: by object, then user-space symbols >= 1%):"
  perf report -i "$work/perf.data" --no-children --sort dso --stdio -q 2>/dev/null |
    awk 'NF { printf "  %s", $0 "\n" }' | head -6
  perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio -q \
    --percent-limit 1 2>/dev/null | grep -F '[.]' | head -"${PERF_TOP:-20}" | sed 's/^ */    /'
}

local_bench() {
  : >"$work/summary.txt"
  duel "h1 plain" wrk "run_wrk $url" "$url"
  if [ "$TLS" = 1 ]; then
    local p1 p2
    p1=$(probe "$url_h1s" "${sb_tls[@]}"); p2=$(probe "$url_h2s" "${sb_tls[@]}")
    echo "speedboat negotiates: h1 TLS: ${p1:-?}; h2 TLS: ${p2:-?}"
    case "$p2" in
      "200 HTTP/2.0 "*) ;;
      *) echo "bench: speedboat did not get HTTP/2 from $url_h2s" >&2 ;;
    esac
    echo "h2load negotiates: $(h2load -n1 -c1 "$url_h2s" 2>/dev/null |
      awk '/^TLS Protocol|^Cipher|^Application protocol/ { printf "%s ", $0 }')"
    echo
    duel "h1 TLS" wrk "run_wrk $url_h1s" "$url_h1s" "${sb_tls[@]}"
    duel "h2 TLS" h2load "run_h2load $url_h2s" "$url_h2s" "${sb_tls[@]}"
  fi
  echo "summary (mean requests per generator CPU-second over $REPS runs of ${DUR}s, $CONNS connections):"
  printf '  %-9s %-7s %12s %12s %6s\n' path peer peer speedboat ratio
  sed 's/^/  /' "$work/summary.txt"
  echo
  # Memory: peak RSS of VUS_MEM sleeping VUs, against 1 VU, over the same time.
  mem_per_vu "h1 plain" "$url"
  if [ "$TLS" = 1 ]; then
    mem_per_vu "h1 TLS" "$url_h1s" "${sb_tls[@]}"
    mem_per_vu "h2 TLS" "$url_h2s" "${sb_tls[@]}"
  fi
  if [ "$PERF" = 1 ] && command -v perf >/dev/null 2>&1; then
    echo
    profile "h1 plain" "$url"
    [ "$TLS" = 1 ] && profile "h2 TLS" "$url_h2s" "${sb_tls[@]}"
  elif [ "$PERF" = 1 ]; then
    echo; echo "perf: not installed (Debian package linux-perf): no profile"
  fi
  return 0
}

# --- Arrival-rate accuracy and generator overhead (issue 11; docs/PERFORMANCE.md) ---------------
# (a) Accuracy: a constant-arrival-rate scenario on one worker (core 1) against nginx, AR_DUR
# seconds per rate, the rate doubled from AR_START until a run misses (or AR_MAX is held), then
# AR_BISECT halvings between the last rate held and the first missed. A rate is held when the
# iterations are >= 99% of rate x duration and dropped_iterations <= 1% of it (both from
# --summary-export); the highest rate held is the sustainable maximum.
# (b) Overhead at half that maximum, on sb-target (core 0) answering at once (delay=0) and after
# a 1 ms timer (delay=1): Speedboat's http_req_duration p50/p99 minus what wrk --latency measures
# on the same URL with as many connections as Speedboat had in flight (rate x its median latency,
# at least 1; wrk is a closed model and runs at its own rate). sb-target's delay is not a known
# latency at this scale: its timer runs on libevent's coarse monotonic clock (a 4 ms tick here),
# so wrk is the reference in both cases.
cat >"$work/ar.js" <<'JS'
import http from 'k6/http';
export const options = {
  scenarios: {
    ar: {
      executor: 'constant-arrival-rate', rate: Number(__ENV.RATE), timeUnit: '1s',
      duration: __ENV.DUR + 's', preAllocatedVUs: Number(__ENV.PRE), maxVUs: Number(__ENV.MAX),
    },
  },
};
export default function () { http.get(__ENV.URL); }
JS

# One run at RATE on URL: "iterations dropped isd_p50 isd_p99 req_p50 req_p99 failed vus_max"
# (times in microseconds; the export's times are milliseconds).
ar_run() {
  local rate=$1 u=$2 pre
  pre=$((rate / 50)); [ "$pre" -ge 100 ] || pre=100
  rm -f "$work/ar.json"
  $pin_gen "$SB" run -q --no-api --workers 1 --summary-trend-stats 'med,p(99)' \
    --summary-export "$work/ar.json" -e RATE="$rate" -e DUR="$AR_DUR" -e PRE="$pre" \
    -e MAX=$((pre * 4)) -e URL="$u" "$work/ar.js" >"$work/ar.out" 2>"$work/ar.err" || true
  python3 - "$work/ar.json" <<'PY' 2>/dev/null || echo "0 0 0 0 0 0 0 0"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
def v(name, key, scale=1):
    return m.get(name, {}).get(key, 0) * scale
print("%d %d %.0f %.0f %.0f %.0f %d %d" % (
    v("iterations", "count"), v("dropped_iterations", "count"),
    v("iteration_start_delay", "med", 1000), v("iteration_start_delay", "p(99)", 1000),
    v("http_req_duration", "med", 1000), v("http_req_duration", "p(99)", 1000),
    v("http_req_failed", "passes"), v("vus_max", "max")))
PY
}

# Runs RATE on nginx, prints its table row and returns 0 when the rate was held.
ar_step() {
  local rate=$1 it dr i50 i99 r50 r99 bad vmax
  read -r it dr i50 i99 r50 r99 bad vmax < <(ar_run "$rate" "$url")
  [ "$it" -gt 0 ] || { echo "  $rate/s: no summary export; speedboat said:"; sed 's/^/    /' "$work/ar.err" | tail -3; }
  [ "$bad" = 0 ] || echo "bench: speedboat: $bad failed requests at $rate/s" >&2
  awk -v r="$rate" -v d="$AR_DUR" -v it="$it" -v dr="$dr" -v i50="$i50" -v i99="$i99" \
    -v r50="$r50" -v r99="$r99" -v vm="$vmax" 'BEGIN {
    want = r * d; acc = 100 * it / want; dp = 100 * dr / want; ok = acc >= 99 && dp <= 1
    printf "  %8d %9.0f %7.2f %8d %6.2f %8d %8d %8d %8d %6d  %s\n", r, it / d, acc, dr, dp, i50, i99,
      r50, r99, vm, ok ? "held" : "missed"
    exit !ok }'
}

# "p50 p99" in microseconds from wrk --latency's distribution (units us, ms or s).
wrk_pcts() {
  awk '/^ +(50|99)%/ { v = $2; u = v; gsub(/[0-9.]/, "", u); v += 0
    v *= (u == "ms" ? 1000 : u == "s" ? 1e6 : 1); p[$1] = v }
    END { printf "%.0f %.0f\n", p["50%"], p["99%"] }' "$1"
}

arrival_bench() {
  local rate lo=0 hi=0 n mid
  if ! command -v python3 >/dev/null 2>&1; then
    echo "arrival rate: python3 not found (it reads the summary export): skipped"; return 0
  fi
  echo "arrival rate: constant-arrival-rate on 1 worker against nginx, ${AR_DUR}s per rate"
  echo "  (held: achieved >= 99% of asked and dropped <= 1%; start delay and request duration in us)"
  printf '  %8s %9s %7s %8s %6s %8s %8s %8s %8s %6s  %s\n' asked/s achieved/s acc% dropped drop% \
    delay50 delay99 req50 req99 vusmax ""
  rate=$AR_START
  while [ "$rate" -le "$AR_MAX" ]; do
    if ar_step "$rate"; then lo=$rate; else hi=$rate; break; fi
    rate=$((rate * 2))
  done
  if [ "$hi" -gt 0 ] && [ "$lo" -gt 0 ]; then
    for n in $(seq 1 "$AR_BISECT"); do
      mid=$(( (lo + hi) / 200 * 100 ))
      [ "$mid" -gt "$lo" ] && [ "$mid" -lt "$hi" ] || break
      if ar_step "$mid"; then lo=$mid; else hi=$mid; fi
    done
  fi
  if [ "$lo" = 0 ]; then
    echo "  sustainable maximum: none (not even $AR_START/s held): no overhead figure"; return 0
  fi
  echo "  sustainable maximum: $lo iterations/s (one worker, one core)$([ "$hi" = 0 ] && echo " (AR_MAX reached)")"
  echo
  ar_overhead $((lo / 200 * 100))
}

# Overhead at RATE on sb-target (core 0), once per delay in AR_DELAYS: Speedboat, then wrk on
# the same URL with as many connections as Speedboat had in flight (rate x its median latency; at
# least 1). wrk is the reference: what a C client sees on that target, the generator's share
# being the difference.
ar_overhead() {
  local rate=$1 tpid tport i d
  $pin_srv "$BUILD/sb-target" --listen 127.0.0.1:0 >"$work/target.out" 2>"$work/target.err" &
  tpid=$!; bg_pids="$bg_pids $tpid"
  for i in $(seq 1 50); do grep -q '^listening' "$work/target.out" && break; sleep 0.1; done
  tport=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/target.out" | head -1)
  [ -n "$tport" ] || { echo "overhead: sb-target did not start:"; sed 's/^/  /' "$work/target.err"; return 0; }
  echo "overhead: speedboat at half the maximum, $rate/s, against wrk on sb-target (us)"
  echo "  (wrk: closed model, connections = rate x speedboat's median latency, at least 1)"
  printf '  %-9s %-10s %5s %9s %8s %8s %8s %9s %9s\n' delay tool vus/c req/s p50 p99 dropped \
    over50 over99
  for d in $AR_DELAYS; do ar_overhead_one "$rate" "http://127.0.0.1:$tport/ar?delay=$d" "$d"; done
  echo "  (over50/over99: speedboat minus wrk; goal <= 50 us at p50, <= 500 us at p99; vus/c:"
  echo "  speedboat's vus_max, wrk's connections. sb-target's delay timer ticks with CLOCK_MONOTONIC_COARSE,"
  echo "  $(python3 -c 'import time; print(time.clock_getres(6) * 1000)' 2>/dev/null || echo '?') ms here)"
  kill "$tpid" 2>/dev/null || true
  return 0
}

ar_overhead_one() {  # RATE URL DELAY_MS
  local rate=$1 tu=$2 d=$3 it dr i50 i99 r50 r99 bad vmax c w50 w99 wreqs
  read -r it dr i50 i99 r50 r99 bad vmax < <(ar_run "$rate" "$tu")
  [ "$it" -gt 0 ] || { echo "  no summary export from speedboat:"; sed 's/^/    /' "$work/ar.err" | tail -3; return 0; }
  [ "$bad" = 0 ] || echo "bench: speedboat: $bad failed requests on $tu" >&2
  c=$(awk -v r="$rate" -v l="$r50" 'BEGIN { c = int(r * l / 1e6 + 0.5); print c < 1 ? 1 : c }')
  $pin_gen wrk -t1 -c"$c" -d"${AR_DUR}s" --latency "$tu" >"$work/wrk.out" 2>&1 || true
  read -r w50 w99 < <(wrk_pcts "$work/wrk.out")
  wreqs=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
  awk -v d="${d} ms" -v r="$rate" -v t="$AR_DUR" -v it="$it" -v dr="$dr" -v vm="$vmax" \
    -v s50="$r50" -v s99="$r99" -v c="$c" -v wr="${wreqs:-0}" -v w50="$w50" -v w99="$w99" 'BEGIN {
    printf "  %-9s %-10s %5s %9.0f %8d %8d %8d %+9d %+9d\n", d, "speedboat", vm, it / t, s50, s99,
      dr, s50 - w50, s99 - w99
    printf "  %-9s %-10s %5d %9.0f %8d %8d %8s\n", d, "wrk", c, wr / t, w50, w99, "-" }'
}

[ "$DIST_ONLY" = 1 ] || local_bench
[ "$DIST_ONLY" = 1 ] || [ "$ARRIVAL" = 0 ] || { echo; arrival_bench; }
[ "$DIST" = 1 ] || exit 0

# --- Distributed runs ---------------------------------------------------------------------------
echo
echo "distributed:"
cat >"$work/dist.js" <<'JS'
export const options = { vus: 100, duration: '20s' };
export default function () {}
JS
"$SB" archive -O "$work/dist.tar.zst" "$work/dist.js" >/dev/null

# Waits until $1 has $2 lines (5 s at most).
wait_lines() {
  local i
  for i in $(seq 1 50); do
    [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "bench: timed out waiting for $1:" >&2; cat "$1" >&2; return 1
}

# Controller with --agents $1, then the rest of the run arguments; stdout to $work/ctl.out,
# "user sys elapsed" seconds to $work/t (bash's time: milliseconds, where GNU time rounds to 10 ms).
# Returns the controller's exit code.
run_ctl() {
  local agents=$1 TIMEFORMAT='%3U %3S %3R'; shift
  { time $pin_gen "$SB" run -q --agents "$agents" "$@" >"$work/ctl.out" 2>"$work/ctl.err"; } 2>"$work/t"
}

# What the agents block says (see controller/run.c): "metric stream N B/s" per agent, the start
# skew on the header line.
stream_bps() { sed -n 's/.*metric stream \([0-9.]*\) B\/s.*/\1/p' "$work/ctl.out"; }
start_skew() { sed -n 's/.*agents:.*start skew \([0-9.]*\) ms.*/\1/p' "$work/ctl.out" | head -1; }
ctl_failed() {
  echo "  controller failed (exit $1):"; sed 's/^/    /' "$work/ctl.err" | tail -5
}

# (a) Merge CPU: N simulated agents (one process on the server core, each agent sending one
# snapshot a second of SIM_SERIES series at SIM_RPS requests/s) for DIST_DUR seconds.
merge_cpu() {
  local n=$1 ports agents rc=0
  $pin_srv "$BUILD/sb-sim-agent" --listen-count "$n" --series "${SIM_SERIES:-40}" \
    --rps "${SIM_RPS:-5000}" >"$work/sim.out" 2>"$work/sim.err" &
  local sim=$!; bg_pids="$bg_pids $sim"
  wait_lines "$work/sim.out" "$n" || return 1
  agents=$(awk '{ print $2 }' "$work/sim.out" | paste -sd, -)
  run_ctl "$agents" -u 100 -d "${DIST_DUR}s" "$work/dist.tar.zst" || rc=$?
  kill "$sim" 2>/dev/null; wait "$sim" 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then ctl_failed "$rc"; return 1; fi
  read -r u s e <"$work/t"
  local bps; bps=$(stream_bps | awk '{ t += $1; n++ } END { if (n) printf "%.0f", t / n; else print "?" }')
  awk -v n="$n" -v u="$u" -v s="$s" -v e="$e" -v d="$DIST_DUR" -v b="$bps" 'BEGIN {
    c = u + s; printf "  merge: %3d sim agents x %ds: controller cpu %.3f s over %.1f s = %.1f%% of a core, %.3f ms per snapshot (stream %s B/s per agent)\n",
      n, d, c, e, 100 * c / e, 1000 * c / (n * d), b }'
  echo "$n $u $s" >>"$work/merge.txt"
}
: >"$work/merge.txt"
for n in ${SIM_AGENTS:-50 100}; do merge_cpu "$n" || true; done
if [ "$(wc -l <"$work/merge.txt")" -ge 2 ]; then
  # Start-up and the compile cost the same with 50 and 100 agents: the difference is the merge.
  awk -v d="$DIST_DUR" 'NR == 1 { n1 = $1; c1 = $2 + $3 } NR == 2 { n2 = $1; c2 = $2 + $3 } END {
    printf "  merge: marginal %.3f ms of controller cpu per snapshot (%d -> %d agents)\n",
      1000 * (c2 - c1) / ((n2 - n1) * d), n1, n2 }' "$work/merge.txt"
fi

# Real agents: speedboat-agent on 127.0.0.1:0; the port is on its first stderr line
# (level=info msg="listening" addr=127.0.0.1:PORT).
start_agent() {
  local log="$work/agent$1.err" port
  "$BUILD/speedboat-agent" --listen 127.0.0.1:0 >/dev/null 2>"$log" &
  local pid=$!; bg_pids="$bg_pids $pid"
  wait_lines "$log" 1 || return 1
  port=$(sed -n '1s/.*msg="listening".*addr=[^ ]*:\([0-9]*\).*/\1/p' "$log")
  if [ "${port:-0}" = 0 ]; then  # an agent that prints the address it was given, not the bound one
    sleep 0.2
    port=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
  fi
  [ -n "$port" ] || { echo "bench: agent $1 did not say its port:" >&2; cat "$log" >&2; return 1; }
  agent_addr[$1]="127.0.0.1:$port"
}
declare -a agent_addr
if start_agent 1 && start_agent 2 && start_agent 3; then
  a1=${agent_addr[1]} a2=${agent_addr[2]} a3=${agent_addr[3]}
  # (b) Stream bytes at full load: 2 agents, one worker each, CONNS VUs in all against nginx.
  rc=0
  run_ctl "$a1,$a2" --workers 1 -u "$CONNS" -d 10s -e URL="$url" "$work/bench.tar.zst" || rc=$?
  if [ "$rc" -eq 0 ]; then
    reqs=$(sed -n 's/^ *http_reqs\.*: *\([0-9]*\).*/\1/p' "$work/ctl.out")
    stream_bps | awk -v r="${reqs:-0}" '{ printf "  stream: agent %d at full load: %.0f B/s\n", NR, $1; t += $1 }
      END { if (NR) printf "  stream: mean %.0f B/s per agent (%.0f KiB/s for 100 agents), %d requests in 10 s\n", t / NR, t / NR * 100 / 1024, r }'
    [ -n "$(stream_bps)" ] || echo "  stream: the controller printed no 'metric stream' lines"
  else ctl_failed "$rc"; fi
  # (c) Start skew: 3 agents, one VU each, a short run. The agents block gives the controller's
  # view (each agent's reported start instant, corrected by its clock offset); the target gives
  # what happened: a tiny HTTP server stamps the arrival of each VU's first request (same host,
  # same clock), so the spread of those stamps is the skew the target saw.
  cat >"$work/stamp.py" <<'PY'
# Answers every HTTP request with 200 "ok" from one select loop and writes "PATH TIME_NS" for
# each, stamped when its bytes are read (no thread or parser between arrival and stamp).
import selectors, socket, sys, time
log = open(sys.argv[1], "a")  # append: the bench empties it between runs
sel = selectors.DefaultSelector()
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(64); srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ)
print(srv.getsockname()[1], flush=True)
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            c, _ = srv.accept(); c.setblocking(False); sel.register(c, selectors.EVENT_READ)
            continue
        c = key.fileobj
        try: data = c.recv(65536)
        except OSError: data = b""
        if not data:
            sel.unregister(c); c.close(); continue
        t = time.time_ns()
        for line in data.split(b"\r\n\r\n")[:-1]:
            log.write("%s %d\n" % (line.split(b" ")[1].decode(), t))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        log.flush()
PY
  cat >"$work/skew.js" <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export default function () { http.get(__ENV.URL + '?vu=' + __VU); sleep(0.5); }
JS
  "$SB" archive -O "$work/skew.tar.zst" "$work/skew.js" >/dev/null
  # The target-side stamps need python3 (not among the project's dependencies): without it the
  # controller's figure is shown alone, against nginx.
  skew_url=$url
  if command -v python3 >/dev/null 2>&1; then
    python3 "$work/stamp.py" "$work/stamps.txt" >"$work/stamp.port" 2>/dev/null &
    bg_pids="$bg_pids $!"
    wait_lines "$work/stamp.port" 1 || exit 1
    skew_url="http://127.0.0.1:$(cat "$work/stamp.port")/"
  fi
  for rep in 1 2 3; do
    rc=0
    : >"$work/stamps.txt"
    run_ctl "$a1,$a2,$a3" --workers 1 -u 3 -d 2s -e URL="$skew_url" \
      "$work/skew.tar.zst" || rc=$?
    [ "$rc" -eq 0 ] || { ctl_failed "$rc"; break; }
    skew=$(start_skew)
    seen=$(awk '{ if (!($1 in first)) { first[$1] = $2; n++ } } END {
      if (n < 2) { print "?"; exit } lo = hi = -1
      for (v in first) { if (lo < 0 || first[v] < lo) lo = first[v]; if (first[v] > hi) hi = first[v] }
      printf "%.2f", (hi - lo) / 1e6 }' "$work/stamps.txt")
    echo "  start skew: 3 agents, run $rep: ${skew:-? (no 'start skew' in the agents block)} ms by the controller, $seen ms between the first requests at the target"
  done
fi
