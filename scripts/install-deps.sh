#!/bin/sh
# Installs everything Speedboat's build, tests and benchmarks need on Debian 12, then the pinned
# npm packages (package-lock.json). Idempotent and quiet when nothing is missing. Needs root (or
# sudo) only when a Debian package is missing.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config git ca-certificates
  duktape-dev libevent-dev libssl-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  libzstd-dev zstd zlib1g-dev libbrotli-dev libhttp-parser-dev libcmocka-dev libjansson-dev libxml2-dev openssl
  nginx-light wrk nghttp2-client nghttp2-server python3-httpbin curl procps iproute2 tar time util-linux
  libnss-wrapper esbuild
  libsystemd-dev systemd man-db python3-yaml
  chromium prometheus libsnappy-dev valgrind"

# libsystemd-dev: the agent's sd_notify (Type=notify, watchdog). systemd (systemd-analyze), man-db
# and python3-yaml: the deploy tests (unit verification, man pages, Kubernetes manifests).
# chromium and prometheus: the dashboard test (the page renders in a headless browser; a real
# Prometheus scrapes the controller's /metrics). libsnappy-dev: --out prometheus-rw (remote write
# bodies are snappy-compressed). valgrind: the memcheck run of a small end-to-end test.
# esbuild (Debian 0.17) is the compile step's first stage (controller/transform.h): TypeScript and
# ES2016+ syntax. Node.js and npm only fetch babel-standalone at build time; a machine that has them from
# elsewhere keeps its own.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

# --fuzz (make fuzz only): clang and compiler-rt's libFuzzer, ASan and UBSan runtimes.
[ "${1:-}" = "--fuzz" ] && PKGS="$PKGS clang libclang-rt-dev"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing Debian packages:$missing"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # nginx must not start a system service on install; the tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -f node_modules/babel-standalone/babel.min.js ] || [ package-lock.json -nt node_modules/babel-standalone/babel.min.js ]; then
  echo "install-deps: installing npm packages (package-lock.json)"
  npm ci --ignore-scripts --no-audit --no-fund --silent
  touch node_modules/babel-standalone/babel.min.js
fi
