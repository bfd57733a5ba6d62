#!/usr/bin/env bash
# Builds what the VM tests boot: Debian's stock kernel (the one linux-image-amd64 points at,
# downloaded and unpacked here, never installed on this machine) and a small busybox initramfs
# that loads the virtio and 9p modules and hands over to the guest script (see
# scripts/vm/initramfs-init.sh). Idempotent: a stamp records what the cache was built from, and
# a second run with nothing changed does nothing.
#
# Needs: apt-get (with package lists), dpkg-deb, busybox-static, cpio, gzip, xz-utils.
# Output (gitignored): build-vm/vmlinuz, build-vm/initramfs.cpio.gz, build-vm/stamp.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=build-vm
INIT=scripts/vm/initramfs-init.sh
BUSYBOX=${BUSYBOX:-/bin/busybox}
# The guest reaches the host's root over virtio-pci 9p; these are the modules that needs. Their
# own dependencies are found from each module's depends= field, so a newer kernel that splits a
# module further still loads in a working order.
WANTED_MODULES=(virtio_pci 9pnet_virtio 9p)

fail() { echo "vm setup: $*" >&2; exit 1; }

command -v apt-cache >/dev/null || fail "apt-cache not found: the kernel comes from Debian's archive"
command -v cpio >/dev/null || fail "cpio not found (apt-get install cpio)"
[ -x "$BUSYBOX" ] || fail "$BUSYBOX not found (apt-get install busybox-static)"
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
file_is_static "$BUSYBOX" || fail "$BUSYBOX is dynamically linked; the initramfs needs busybox-static"

# linux-image-amd64 is a metapackage: its one dependency is the real image package.
KERNEL_PACKAGE=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" { print $2; exit }')
[ -n "$KERNEL_PACKAGE" ] || fail "no linux-image-amd64 in the package lists (run apt-get update)"
KERNEL_VERSION=$(apt-cache policy "$KERNEL_PACKAGE" | awk '$1 == "Candidate:" { print $2; exit }')

want_stamp="$KERNEL_PACKAGE $KERNEL_VERSION $(cat "$0" "$INIT" | sha256sum | cut -c1-16) $(sha256sum "$BUSYBOX" | cut -c1-16)"
if [ -f "$OUT/stamp" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.cpio.gz" ] && [ "$(cat "$OUT/stamp")" = "$want_stamp" ]; then
  echo "vm setup: up to date ($KERNEL_PACKAGE $KERNEL_VERSION)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "vm setup: fetching $KERNEL_PACKAGE $KERNEL_VERSION"
# apt-get download writes into the current directory; as root it would try to drop to the _apt
# user, who cannot write to our temp dir, and warn. The download is a plain file fetch either way.
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$KERNEL_PACKAGE=$KERNEL_VERSION" >/dev/null)
dpkg-deb -x "$work"/*.deb "$work/pkg"

vmlinuz=$(ls "$work"/pkg/boot/vmlinuz-* | head -n 1)
modules_dir=$(ls -d "$work"/pkg/lib/modules/* | head -n 1)

# Modules in load order: each after the modules it depends on.
declare -A seen=()
ordered=()
module_file() { find "$modules_dir" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \) | head -n 1; }
module_plain() {  # the module as a plain .ko (busybox insmod cannot read compressed ones)
  case "$1" in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -dc "$1" ;;
    *) cat "$1" ;;
  esac
}
add_module() {
  local name=$1 file deps dep
  [ -n "${seen[$name]:-}" ] && return
  seen[$name]=1
  file=$(module_file "$name")
  if [ -z "$file" ]; then
    # Built into this kernel: nothing to load.
    grep -q "/$name.ko\$" "$modules_dir/modules.builtin" && return
    fail "module $name not found in $KERNEL_PACKAGE"
  fi
  deps=$(module_plain "$file" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1)
  for dep in ${deps//,/ }; do add_module "$dep"; done
  ordered+=("$name")
  module_plain "$file" > "$work/root/modules/$name.ko"
}

mkdir -p "$work"/root/{bin,dev,proc,sys,newroot,modules}
for m in "${WANTED_MODULES[@]}"; do add_module "$m"; done
printf '%s\n' "${ordered[@]}" > "$work/root/modules/order"
cp "$BUSYBOX" "$work/root/bin/busybox"
cp "$INIT" "$work/root/init"
chmod 0755 "$work/root/init" "$work/root/bin/busybox"
# The kernel opens /dev/console for init before anything is mounted; init also mounts devtmpfs
# and reopens it, so a builder that may not mknod (not root) still gets a working initramfs.
mknod -m 600 "$work/root/dev/console" c 5 1 2>/dev/null || true

mkdir -p "$OUT"
(cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 > "$OUT/initramfs.cpio.gz.new"
cp "$vmlinuz" "$OUT/vmlinuz.new"
mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"
mv "$OUT/initramfs.cpio.gz.new" "$OUT/initramfs.cpio.gz"
echo "$want_stamp" > "$OUT/stamp"
echo "vm setup: built $OUT/vmlinuz and $OUT/initramfs.cpio.gz (modules: ${ordered[*]})"
