#!/bin/sh
# Runs every fuzz target of BUILD/fuzz/ for SECONDS each (make fuzz): the committed seeds of
# test/fuzz/corpus/<name>/ plus what earlier runs found (BUILD/fuzz-corpus/<name>/, kept between
# runs, never committed), with the target's dictionary test/fuzz/<name>.dict when there is one.
# A crash, leak, UB report or timeout stops it with the input saved in BUILD/fuzz-artifacts/ and
# the command that replays it. Prints one line per target: runs, exec/s, coverage.
#   usage: test/fuzz/run.sh BUILD [SECONDS] [TARGET...]
set -u
build=$1
secs=${2:-30}
shift; [ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-$(cd "$build/fuzz" && ls | sed -n 's/_fuzz$//p')}
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
pass=0; fail=0
for t in $targets; do
  bin=$build/fuzz/${t}_fuzz
  work=$build/fuzz-corpus/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$work"
  dict=""
  [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
  # -rss_limit_mb: the targets inflate what the input asks (a response body, an archive) up to
  # the limits of the code under test; ASan's own overhead comes on top.
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/${t}-" $dict "$work" "$here/corpus/$t" >"$log" 2>&1; then
    pass=$((pass + 1))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\).*/cov \1, ft \2, corpus \3/p')
    printf 'fuzz: %-10s ok   %s runs in %ss, %s exec/s, %s\n' "$t" "$runs" "$secs" "$eps" "$cov"
  else
    fail=$((fail + 1))
    echo "fuzz: $t FAILED; log: $log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5 | sed 's/^/  /'
    echo "  replay: $bin $(ls -t "$build/fuzz-artifacts/${t}-"* 2>/dev/null | head -1)"
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
