#!/bin/bash
# 100,000 VUs that sleep between requests, on one machine (issue 10; docs/PERFORMANCE.md "100,000
# VUs on one machine"). Not part of `make test`: it takes minutes and ~17 GB of memory.
#
# Each VU waits a random 0-10 s, sends one GET to a local sb-target, then sleeps 10 s (about
# VUS/10 requests per second overall). Connections are not kept (noConnectionReuse): 100,000 idle
# keep-alive sockets would need 100,000 descriptors, more than a usual hard RLIMIT_NOFILE. Printed:
# the time until every VU is made and the test starts (the first progress line, less the run time
# it shows; +-0.5 s), the
# peak RSS of the speedboat process (GNU time), the memory mappings it held, and the run's
# requests, failures and exit code. Load goes only to 127.0.0.1.
#
#   scripts/bench-100k-vus.sh [BUILD_DIR]       VUS=100000 DUR=40s by default
#
# `make bench` measures memory per VU and start-up at 1,000, 10,000 and 100,000 VUs itself
# (mem_scale in scripts/bench.sh, against nginx, start-up read from setup()); this script stays
# as the standalone run against sb-target with its own request pattern.
set -euo pipefail
BUILD=${1:-build}
VUS=${VUS:-100000}
DUR=${DUR:-40s}
TMP=$(mktemp -d)
trap 'kill $TPID 2>/dev/null || true; rm -rf "$TMP"' EXIT

"$BUILD/sb-target" --listen 127.0.0.1:0 >"$TMP/target.out" 2>"$TMP/target.err" &
TPID=$!
for _ in $(seq 100); do grep -q '^listening' "$TMP/target.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$TMP/target.out")
cat >"$TMP/sleepy.js" <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: $VUS, duration: '$DUR', noConnectionReuse: true };
export default function () {
  sleep(Math.random() * 10);
  http.get('http://127.0.0.1:$PORT/');
  sleep(10);
}
JS
echo "vm.max_map_count $(cat /proc/sys/vm/max_map_count), open files $(ulimit -n) (hard $(ulimit -Hn)), kernel $(uname -r)"
start=$(date +%s%3N)
set +e
/usr/bin/time -v "$BUILD/speedboat" run "$TMP/sleepy.js" >"$TMP/out" 2>"$TMP/err" &
RUN=$!
maxmaps=0
made=""
while kill -0 $RUN 2>/dev/null; do
  pid=$(pgrep -P $RUN -x speedboat || true)
  if [ -n "$pid" ]; then
    m=$(wc -l <"/proc/$pid/maps" 2>/dev/null || echo 0)
    [ "$m" -gt "$maxmaps" ] && maxmaps=$m
  fi
  line=$(grep -m1 '^running (' "$TMP/err" 2>/dev/null || true)
  if [ -z "$made" ] && [ -n "$line" ]; then # its clock starts once every VU is made
    # "running (01.0s)" under a minute, "running (1m02.0s)" after
    el=$(echo "$line" | sed -n 's/^running (\(\([0-9]*\)m\)\{0,1\}\([0-9]*\)\.\([0-9]\)s).*/\2 \3 \4/p')
    set -- $el
    [ $# = 2 ] && set -- 0 "$@"
    made=$(( $(date +%s%3N) - start - ($1 * 60000 + 10#$2 * 1000 + $3 * 100) ))
  fi
  sleep 0.5
done
wait $RUN
rc=$?
set -e
echo "exit code $rc; all $VUS VUs made after ${made:-?} ms; peak mappings $maxmaps"
grep -E 'Maximum resident set size|Elapsed \(wall|User time|System time' "$TMP/err" | sed 's/^\s*/  /'
grep -E 'vus_max|http_reqs|http_req_failed|iterations\.\.\.' "$TMP/out" | sed 's/^\s*/  /'
grep -E 'ERRO|WARN' "$TMP/err" | sort | uniq -c | sort -rn | head -5
