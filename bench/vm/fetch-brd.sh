#!/usr/bin/env bash
# Fetches brd.ko (the RAM block device) of the VM test bed's kernel into build-vm/brd.ko, for the
# page-cache part of bench/v2-guard-band. The guest kernel has no block device of its own and
# its 9p shares keep no page cache, while tmpfs pages are not reclaimable cache at all: a brd disk
# is the guest's one source of real, reclaimable page cache. The module comes out of the same
# Debian package scripts/vm/setup.sh took the kernel from (named in build-vm/stamp), downloaded
# with apt-get and unpacked here, never installed. Idempotent: an existing build-vm/brd.ko for
# that kernel is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=build-vm
fail() { echo "fetch-brd: $*" >&2; exit 1; }

[ -f "$OUT/stamp" ] || fail "$OUT/stamp not found: run scripts/vm/setup.sh first"
read -r package version _ < "$OUT/stamp"
[ -n "$package" ] && [ -n "$version" ] || fail "$OUT/stamp does not name a kernel package"
# The package is linux-image-<release>; a module's vermagic starts with that release.
release=${package#linux-image-}

if [ -f "$OUT/brd.ko" ] && strings "$OUT/brd.ko" | grep -q "^vermagic=$release "; then
  echo "fetch-brd: up to date ($release)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-brd: fetching $package $version"
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package=$version" >/dev/null)
dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work" --wildcards './lib/modules/*/kernel/drivers/block/brd.ko*'
module=$(find "$work/lib/modules" -name 'brd.ko*' | head -n 1)
[ -n "$module" ] || fail "no brd module in $package (built in, or renamed)"
# busybox insmod in the guest reads plain .ko files only.
case "$module" in
  *.ko.xz) xz -dc "$module" > "$work/brd.ko" ;;
  *.ko.zst) zstd -dc "$module" > "$work/brd.ko" ;;
  *) cp "$module" "$work/brd.ko" ;;
esac
strings "$work/brd.ko" | grep -q "^vermagic=$release " || fail "the brd module in $package is not for $release"
mv "$work/brd.ko" "$OUT/brd.ko"
echo "fetch-brd: built $OUT/brd.ko ($release)"
