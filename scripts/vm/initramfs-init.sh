#!/bin/busybox sh
# PID 1 of the test VM, inside the initramfs. Loads the virtio and 9p modules, mounts the host's
# root (read-only) and the run's writable share, runs the share's guest-init.sh chrooted into the
# host's root, records its exit status in the share and powers the guest off. Staying PID 1 here
# (rather than switch_root) keeps the power-off in our hands whatever the guest script does, and
# PID 1 is never an OOM victim, so a whole-guest OOM cannot take the reporting with it.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

stop() {
  echo "oomwarden-vm: $*"
  sync
  poweroff -f
}

while read -r module; do
  insmod "/modules/$module.ko" || stop "insmod $module failed"
done </modules/order

# msize 512000 is the largest the 6.1 virtio transport takes; bigger messages, fewer round trips.
NINEP=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$NINEP,ro" hostroot /newroot || stop "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || stop "cannot mount a tmpfs on /run"
mkdir /newroot/run/vm
mount -t 9p -o "$NINEP" results /newroot/run/vm || stop "cannot mount the results share (9p tag results)"

chroot /newroot /bin/sh /run/vm/guest-init.sh
echo "$?" > /newroot/run/vm/exit-code
umount /newroot/run/vm
stop "powering off"
