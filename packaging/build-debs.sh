#!/usr/bin/env bash
# Builds the FedMail Debian packages (fedmail-milter, fedmail-broker,
# fedmail-tools) with dpkg-buildpackage from a staged copy of the source
# tree whose debian/ is packaging/debian.
#
# Usage: bash packaging/build-debs.sh [OUTDIR]     (default .build-deb-pkg/out)
#
# Needs: Debian 12 with debhelper, libmilter-dev, libssl-dev, pkg-config
# (contrib/scripts/install-deps.sh) and a Swift 6 toolchain on PATH or in
# $SWIFT. No network: SwiftPM takes its dependencies from its scratch
# directory or the local mirror git is configured for.
#
# Environment:
#   FEDMAIL_SWIFT_SCRATCH  SwiftPM scratch directory, kept between runs so
#                          rebuilds are incremental (default .build-deb)
#   FEDMAIL_DEB_WORK       staging directory (default .build-deb-pkg)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FEDMAIL_DEB_WORK:-$REPO/.build-deb-pkg}
OUT=${1:-$WORK/out}
export FEDMAIL_SWIFT_SCRATCH=${FEDMAIL_SWIFT_SCRATCH:-$REPO/.build-deb}
if [ -z "${SWIFT:-}" ]; then
    SWIFT=$(command -v swift || true)
    [ -n "$SWIFT" ] || SWIFT=/opt/swift/usr/bin/swift
fi
[ -x "$SWIFT" ] || { echo "build-debs: no Swift toolchain (put swift on PATH or set SWIFT)" >&2; exit 1; }
export SWIFT

version=$(dpkg-parsechangelog -l "$REPO/packaging/debian/changelog" -S Version)
src=$WORK/fedmail-$version
mkdir -p "$src" "$OUT"

# Stage the files the build reads. rsync (or cp -u) leaves unchanged files
# untouched, so SwiftPM's incremental build sees no change.
stage() {  # stage SRC DEST (directories)
    if command -v rsync >/dev/null; then
        rsync -a --delete "$1/" "$2/"
    else
        mkdir -p "$2"; cp -a -u "$1/." "$2/"
    fi
}
cp -p "$REPO/Package.swift" "$src/Package.swift"
if [ -f "$REPO/Package.resolved" ]; then cp -p "$REPO/Package.resolved" "$src/Package.resolved"; fi
stage "$REPO/Sources" "$src/Sources"
stage "$REPO/Tests" "$src/Tests"   # Package.swift declares the test targets
mkdir -p "$src/contrib"
stage "$REPO/contrib/postfix" "$src/contrib/postfix"
stage "$REPO/contrib/sendmail" "$src/contrib/sendmail"
stage "$REPO/packaging/debian" "$src/debian"

rm -f "$WORK"/*.deb "$WORK"/*.changes "$WORK"/*.buildinfo
(cd "$src" && dpkg-buildpackage -us -uc -b)
cp "$WORK"/*.deb "$OUT"/
echo "build-debs: packages in $OUT:"
ls -l "$OUT"/*.deb
