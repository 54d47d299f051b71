#!/bin/sh
# `make install` and `make uninstall` (deploy/README.md). Usage:
#   deploy/install.sh install|uninstall BUILD DESTDIR PREFIX SYSCONFDIR
# Installs both binaries, their man pages, the example scripts, the systemd unit (its ExecStart
# pointed at PREFIX/bin), the agent's example settings and the sysctl advice. An existing
# SYSCONFDIR/speedboat/agent.env is never overwritten; uninstall leaves SYSCONFDIR/speedboat
# (settings and secrets) in place. Creates no user: the .deb does, or see deploy/README.md.
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 5 ] || { echo "usage: $0 install|uninstall BUILD DESTDIR PREFIX SYSCONFDIR" >&2; exit 2; }
action=$1 build=$2 dest=$3 prefix=$4 etc=$5

bindir=$dest$prefix/bin
man1=$dest$prefix/share/man/man1
doc=$dest$prefix/share/doc/speedboat
unitdir=$dest$prefix/lib/systemd/system
confdir=$dest$etc/speedboat

say() { printf '  %-6s %s\n' "$1" "$2"; }

do_install() {
  for b in speedboat speedboat-agent; do
    [ -x "$build/$b" ] || { echo "install: $build/$b is missing (run make first)" >&2; exit 1; }
  done
  install -d "$bindir" "$man1" "$doc/examples" "$unitdir" "$confdir"
  say INSTALL "$bindir/speedboat $bindir/speedboat-agent"
  install -m 0755 "$build/speedboat" "$build/speedboat-agent" "$bindir/"
  install -m 0644 deploy/man/speedboat.1 deploy/man/speedboat-agent.1 "$man1/"
  # scripts/examples keeps its layout (workshop scripts import ./lib/utils.js)
  (cd scripts/examples && find . -type f) | while read -r f; do
    install -D -m 0644 "scripts/examples/$f" "$doc/examples/$f"
  done
  install -m 0644 deploy/systemd/agent.env "$doc/agent.env.example"
  install -m 0644 deploy/systemd/60-speedboat.conf "$doc/sysctl-60-speedboat.conf"
  install -m 0644 deploy/cloud-init/agent.yaml "$doc/cloud-init-agent.yaml"
  install -m 0644 deploy/README.md "$doc/README.deploy.md"
  sed "s|/usr/local/bin/speedboat-agent|$prefix/bin/speedboat-agent|; s|/etc/speedboat/|$etc/speedboat/|g" \
    deploy/systemd/speedboat-agent.service >"$unitdir/speedboat-agent.service"
  chmod 0644 "$unitdir/speedboat-agent.service"
  say UNIT "$unitdir/speedboat-agent.service"
  if [ ! -e "$confdir/agent.env" ]; then
    install -m 0640 deploy/systemd/agent.env "$confdir/agent.env"
    say CONFIG "$confdir/agent.env"
  else
    say KEEP "$confdir/agent.env (the example is $doc/agent.env.example)"
  fi
}

do_uninstall() {
  rm -f "$bindir/speedboat" "$bindir/speedboat-agent" "$man1/speedboat.1" \
    "$man1/speedboat-agent.1" "$unitdir/speedboat-agent.service"
  rm -rf "$doc"
  say REMOVE "speedboat from $dest$prefix (kept: $confdir)"
}

case "$action" in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "$0: install or uninstall, not '$action'" >&2; exit 2 ;;
esac
