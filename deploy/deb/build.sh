#!/bin/sh
# `make deb`: a Debian package of Speedboat, built with dpkg-deb from `make install`'s tree
# (PREFIX=/usr). Usage: deploy/deb/build.sh BUILD VERSION. Writes BUILD/speedboat_V_ARCH.deb and
# prints its path. Library dependencies come from dpkg-shlibdeps; the maintainer scripts
# (deploy/deb/post*, prerm) create and, on purge, remove the `speedboat` user and /etc/speedboat.
set -eu
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] || { echo "usage: $0 BUILD VERSION" >&2; exit 2; }
build=$1

# Debian versions start with a digit and have no '-' without a revision: v1.2-3-gabc -> 1.2+3+gabc,
# a bare commit id e3cefbc-dirty -> 0.0.0+ge3cefbc+dirty.
version=$(printf '%s' "$2" | sed 's/^v//; s/-/+/g')
case "$version" in [0-9]*) ;; *) version="0.0.0+g$version" ;; esac
arch=$(dpkg --print-architecture)

work=$build/deb
pkg=$work/debian/speedboat
rm -rf "$work"
mkdir -p "$pkg/DEBIAN"
deploy/install.sh install "$build" "$PWD/$pkg" /usr /etc >/dev/null
strip --strip-unneeded --remove-section=.comment "$pkg/usr/bin/speedboat" "$pkg/usr/bin/speedboat-agent"
gzip -9n "$pkg/usr/share/man/man1/speedboat.1" "$pkg/usr/share/man/man1/speedboat-agent.1"

printf 'Source: speedboat\n\nPackage: speedboat\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e debian/speedboat/usr/bin/speedboat \
  -e debian/speedboat/usr/bin/speedboat-agent 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed "s|@VERSION@|$version|; s|@ARCH@|$arch|; s|@DEPENDS@|$depends|; s|@SIZE@|$size|" \
  deploy/deb/control.in >"$pkg/DEBIAN/control"
echo /etc/speedboat/agent.env >"$pkg/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "deploy/deb/$s" "$pkg/DEBIAN/$s"; done
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"

out=$build/speedboat_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
printf '  %-6s %s\n' DEB "$out"
