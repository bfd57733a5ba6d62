# Runs in the test VM as root, chrooted into the host's root (read-only over 9p), with the run's
# writable share at /run/vm. Gives the guest what a booted machine has (proc, sys, dev, tmpfs
# where programs write) and cgroup v2 with the memory and pids controllers enabled for children,
# then runs the test's script from the share in /run/vm/out. The harness (test/vm/harness.ts)
# copies this file into the share for each run; the initramfs's init records our exit status.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8
# From the harness: OOMWARDEN_ROOT, NODE, VM_IN and VM_HOST_PATHS.
. /run/vm/env

say() { echo "oomwarden-vm: $*"; }
setup_failed() {
  say "guest setup failed: $*"
  exit 125
}

mount -t proc proc /proc &&
  mount -t sysfs sysfs /sys &&
  mount -t devtmpfs devtmpfs /dev &&
  mkdir -p /dev/pts /dev/shm &&
  mount -t devpts devpts /dev/pts &&
  mount -t tmpfs tmpfs /dev/shm || setup_failed "proc, sys or dev"

# The host folders the run needs (the checkout, node's folder) have to stay at their own paths,
# even under a folder that gets a fresh tmpfs here, as a CI clone in /tmp does: hold each one
# aside, mount the tmpfs, then put back what it hid.
held() { echo "/run/vm-held/$1"; }
count=0
IFS=:
for path in $VM_HOST_PATHS; do
  count=$((count + 1))
  mkdir -p "$(held $count)" && mount --bind "$path" "$(held $count)" || setup_failed "cannot hold $path"
done
unset IFS
mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /var/lib || setup_failed "tmpfs on /tmp or /var/lib"
count=0
IFS=:
for path in $VM_HOST_PATHS; do
  count=$((count + 1))
  if [ ! -e "$path" ]; then
    mkdir -p "$path" && mount --bind "$(held $count)" "$path" || setup_failed "cannot put back $path"
  fi
  umount "$(held $count)"
done
unset IFS

mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
  echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control || setup_failed "cgroup v2"

# This shell reports the script's status: no OOM kill may take it. The script itself starts at
# the default score, so the kernel's choices in the tests are the ones any process would get.
echo -1000 > /proc/self/oom_score_adj
mkdir -p /run/vm/out
# On a line of its own: the BIOS leaves the cursor at the end of its last message.
echo
say "ready $(cut -d' ' -f1 /proc/uptime)"
(
  echo 0 > /proc/self/oom_score_adj
  cd /run/vm/out && exec /bin/sh /run/vm/script.sh
)
status=$?
say "script exited $status"
sync
exit "$status"
