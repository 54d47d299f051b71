#!/bin/sh
# The README's first command: installs what is missing, builds, starts the project's test target
# on loopback and runs the workshop example against it (about 20 s).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -s all
out=$(mktemp)
build/sb-target --listen 127.0.0.1:0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT INT TERM
while ! grep -q '^listening' "$out"; do sleep 0.05; done
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$out")
script=${1:-scripts/examples/workshop-4.js}
echo "demo: target on 127.0.0.1:$port, running $script"
build/speedboat run -e TARGET="http://127.0.0.1:$port/api/recommendations?delay=20" "$script"
