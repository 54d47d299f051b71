# What users install: `make install DESTDIR=...` and `make uninstall`; the man pages render with
# `man` and name every flag of both --help texts; `make deb` builds a package whose control data,
# maintainer scripts (run against a scratch root through DPKG_ROOT, with stubbed user tools) and
# files are right. Both installed trees run a test in a chroot as an unprivileged user: the
# installed controller through the installed agent against sb-target, counted at the target —
# the same check as the container image's final stage (deploy/Dockerfile), which cannot be built
# here (no registry to pull debian:12 from).
. "$SB_ROOT/test/e2e/lib.sh"
B=$(dirname "$SB_BIN")
B=${B#"$SB_ROOT"/}
# -o: the binaries under test are used as they are, never rebuilt by these make calls
mk() { make --no-print-directory -C "$SB_ROOT" -o "$B/speedboat" -o "$B/speedboat-agent" BUILD="$B" "$@"; }

# --- make install into a staging tree
R="$WORK/root"
mk install DESTDIR="$R" >"$WORK/install.out" 2>&1 || { cat "$WORK/install.out"; fail "make install failed"; }
for f in usr/local/bin/speedboat usr/local/bin/speedboat-agent usr/local/share/man/man1/speedboat.1 \
    usr/local/share/man/man1/speedboat-agent.1 usr/local/lib/systemd/system/speedboat-agent.service \
    usr/local/share/doc/speedboat/examples/workshop-1.js usr/local/share/doc/speedboat/examples/lib/utils.js \
    usr/local/share/doc/speedboat/README.deploy.md etc/speedboat/agent.env; do
  [ -e "$R/$f" ] || fail "make install did not install /$f: $(cd "$R" && find . -type f)"
done
[ -x "$R/usr/local/bin/speedboat-agent" ] || fail "the agent is not executable"
[ "$(stat -c %a "$R/etc/speedboat/agent.env")" = 640 ] || fail "agent.env is not mode 0640"
grep -q '^ExecStart=/usr/local/bin/speedboat-agent --listen ${SPEEDBOAT_LISTEN} ' \
  "$R/usr/local/lib/systemd/system/speedboat-agent.service" || fail "installed unit's ExecStart"
# a second install keeps an edited agent.env
echo '# edited' >>"$R/etc/speedboat/agent.env"
mk install DESTDIR="$R" >/dev/null 2>&1
grep -q '^# edited$' "$R/etc/speedboat/agent.env" || fail "make install overwrote an edited agent.env"

# --- man renders both pages, and each names every flag its --help lists
for p in speedboat speedboat-agent; do
  LC_ALL=C MANWIDTH=200 MANPATH="$R/usr/local/share/man" man "$p" >"$WORK/$p.man" 2>"$WORK/man.err" ||
    { cat "$WORK/man.err"; fail "man $p does not render"; }
  grep -q "^NAME" "$WORK/$p.man" && grep -q "^EXIT STATUS" "$WORK/$p.man" && grep -q "^FILES" "$WORK/$p.man" &&
    grep -q "^EXAMPLES" "$WORK/$p.man" || fail "man $p lacks a section: $(grep '^[A-Z]' "$WORK/$p.man")"
done
for f in $("$R/usr/local/bin/speedboat" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  grep -q -- "$f" "$WORK/speedboat.man" || fail "man speedboat does not mention $f"
done
for f in $("$R/usr/local/bin/speedboat-agent" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  grep -q -- "$f" "$WORK/speedboat-agent.man" || fail "man speedboat-agent does not mention $f"
done
for c in 0 99 104 107 108 111 255; do
  grep -Eq "^ +$c +[A-Za-z]" "$WORK/speedboat.man" || fail "man speedboat lacks exit code $c"
done

# --- run_in_chroot ROOT BINDIR: the tree's agent and controller, in a chroot of ROOT holding only
# the installed files and the libraries they link (as the image's final stage), as uid 65534.
# chroot.sh ROOT BINDIR (in its own mount namespace): /proc and /dev for the chroot, then the
# agent in the background and the controller, both as uid 65534.
cat >"$WORK/chroot.sh" <<'SH'
set -eu
root=$1 bin=$2
if [ -z "${CHROOT_NONE:-}" ]; then
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  inside() { chroot --userspec=65534:65534 "$root" "$@"; }
  inside_exec() { exec chroot --userspec=65534:65534 "$root" "$@"; }
else
  inside() { _b=$1; shift; "$root$_b" "$@"; }
  inside_exec() { _b=$1; shift; exec "$root$_b" "$@"; }
fi
# exec: $! is the agent itself (a function run in the background is a subshell of its own, and
# the agent its child: killing the subshell left the agent running)
inside_exec "$bin/speedboat-agent" --listen 127.0.0.1:0 2>"$root/tmp/agent.err" &
apid=$!
i=0
while ! grep -q 'msg="listening"' "$root/tmp/agent.err"; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$root/tmp/agent.err"; kill $apid; exit 1; }
  sleep 0.05
done
addr=$(sed -n '1s/.* addr=\([^ ]*\).*/\1/p' "$root/tmp/agent.err")
script=/work/t.js
[ -z "${CHROOT_NONE:-}" ] || script=$root/work/t.js
set +e
inside "$bin/speedboat" run -q --agents "$addr" -u 5 -i 25 "$script"
rc=$?
kill -TERM $apid; wait $apid
arc=$?
echo "controller exit code $rc"
[ $arc -eq 0 ] || { echo "agent exit code $arc after SIGTERM: $(cat "$root/tmp/agent.err")"; exit 1; }
exit $rc
SH
start_target
printf 'import http from "k6/http";\nexport default function () { http.get("%s/"); }\n' "$TARGET" >"$WORK/t.js"
run_in_chroot() {
  root=$1 bin=$2
  for lib in $(ldd "$root$bin/speedboat" "$root$bin/speedboat-agent" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
    cp -L --parents "$lib" "$root/"
  done
  if command -v esbuild >/dev/null; then cp -L --parents "$(command -v esbuild)" "$root/"; fi
  mkdir -p "$root/proc" "$root/dev" "$root/tmp" "$root/work"
  chmod 1777 "$root/tmp"
  cp "$WORK/t.js" "$root/work/t.js"
  before=$(target_requests)
  if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
    unshare -m --fork sh "$WORK/chroot.sh" "$root" "$bin" >"$WORK/chroot.out" 2>&1 ||
      { cat "$WORK/chroot.out"; fail "the installed tree in $root did not run the test"; }
  else
    echo "not root or no mount namespace: running the installed binaries without a chroot"
    CHROOT_NONE=1 sh "$WORK/chroot.sh" "$root" "$bin" >"$WORK/chroot.out" 2>&1 ||
      { cat "$WORK/chroot.out"; fail "the installed tree in $root did not run the test"; }
  fi
  grep -q 'iterations\.*: 25 ' "$WORK/chroot.out" || { cat "$WORK/chroot.out"; fail "no 25 iterations"; }
  [ $(( $(target_requests) - before )) -eq 25 ] || fail "the target saw $(( $(target_requests) - before )) requests, not 25"
}
run_in_chroot "$R" /usr/local/bin

# --- make uninstall removes what install put there, and keeps /etc/speedboat
mk uninstall DESTDIR="$R" >/dev/null 2>&1
for f in usr/local/bin/speedboat usr/local/bin/speedboat-agent usr/local/share/man/man1/speedboat.1 \
    usr/local/lib/systemd/system/speedboat-agent.service usr/local/share/doc/speedboat; do
  [ ! -e "$R/$f" ] || fail "make uninstall left /$f"
done
[ -e "$R/etc/speedboat/agent.env" ] || fail "make uninstall removed the settings"

# --- make deb: control data, then its tree runs the same test
mk deb >"$WORK/deb.out" 2>&1 || { cat "$WORK/deb.out"; fail "make deb failed"; }
DEB=$(sed -n 's/^ *DEB *//p' "$WORK/deb.out")
[ -f "$SB_ROOT/$DEB" ] || fail "no package: $(cat "$WORK/deb.out")"
dpkg-deb -f "$SB_ROOT/$DEB" Package Version Depends >"$WORK/control"
grep -q '^Package: speedboat$' "$WORK/control" && grep -Eq '^Version: [0-9]' "$WORK/control" &&
  grep -Eq '^Depends: .*libevent-2\.1-7.*libssl3.*libsystemd0.*adduser' "$WORK/control" ||
  fail "control: $(cat "$WORK/control")"
[ "$(dpkg-deb --ctrl-tarfile "$SB_ROOT/$DEB" | tar -xO ./conffiles)" = /etc/speedboat/agent.env ] ||
  fail "agent.env is not a conffile"
D="$WORK/deb"
dpkg-deb -x "$SB_ROOT/$DEB" "$D"
dpkg-deb -e "$SB_ROOT/$DEB" "$WORK/DEBIAN"
[ -x "$D/usr/bin/speedboat-agent" ] && [ -f "$D/usr/lib/systemd/system/speedboat-agent.service" ] ||
  fail "package tree: $(cd "$D" && find . -type f)"
grep -q '^ExecStart=/usr/bin/speedboat-agent ' "$D/usr/lib/systemd/system/speedboat-agent.service" ||
  fail "the package's unit does not start /usr/bin/speedboat-agent"
LC_ALL=C man -l "$D/usr/share/man/man1/speedboat-agent.1.gz" 2>/dev/null | grep -q -- '--health' ||
  fail "the packaged man page does not render"

# maintainer scripts against the extracted tree (DPKG_ROOT), user tools stubbed and logged
mkdir "$WORK/stubs"
for t in adduser deluser delgroup chown systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/stubs.log"\n' "$t" "$WORK" >"$WORK/stubs/$t"
done
printf '#!/bin/sh\n[ -n "${STUB_USER:-}" ]\n' >"$WORK/stubs/getent"
chmod +x "$WORK/stubs/"*
PATH="$WORK/stubs:$PATH" DPKG_ROOT="$D" sh "$WORK/DEBIAN/postinst" configure || fail "postinst failed"
grep -q '^adduser --system --group .* speedboat$' "$WORK/stubs.log" || fail "postinst: $(cat "$WORK/stubs.log")"
grep -q "^chown root:speedboat $D/etc/speedboat/agent.token$" "$WORK/stubs.log" || fail "token owner: $(cat "$WORK/stubs.log")"
[ "$(stat -c %a "$D/etc/speedboat")" = 750 ] && [ "$(stat -c %a "$D/etc/speedboat/agent.token")" = 640 ] ||
  fail "modes: $(ls -la "$D/etc/speedboat")"
grep -Eqx '[0-9a-f]{64}' "$D/etc/speedboat/agent.token" || fail "token: $(cat "$D/etc/speedboat/agent.token")"
! grep -q systemctl "$WORK/stubs.log" || fail "postinst called systemctl under DPKG_ROOT"
tok=$(cat "$D/etc/speedboat/agent.token")
PATH="$WORK/stubs:$PATH" DPKG_ROOT="$D" STUB_USER=1 sh "$WORK/DEBIAN/postinst" configure
[ "$(cat "$D/etc/speedboat/agent.token")" = "$tok" ] || fail "an upgrade replaced the token"
[ "$(grep -c '^adduser' "$WORK/stubs.log")" -eq 1 ] || fail "an existing user was added again"
run_in_chroot "$D" /usr/bin
PATH="$WORK/stubs:$PATH" DPKG_ROOT="$D" sh "$WORK/DEBIAN/postrm" remove
[ -e "$D/etc/speedboat/agent.token" ] || fail "postrm remove deleted the token"
rm -f "$D/etc/speedboat/agent.env" # dpkg's part of a purge (a conffile)
PATH="$WORK/stubs:$PATH" DPKG_ROOT="$D" STUB_USER=1 sh "$WORK/DEBIAN/postrm" purge
[ ! -e "$D/etc/speedboat" ] || fail "purge left $(ls -la "$D/etc/speedboat")"
grep -q '^deluser --system speedboat$' "$WORK/stubs.log" || fail "purge kept the user: $(cat "$WORK/stubs.log")"
rm -rf "$SB_ROOT/$B/deb" "$SB_ROOT/$DEB"
echo ok
