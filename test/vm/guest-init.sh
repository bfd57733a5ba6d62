# Runs in the test VM as root, chrooted into the host's root (read-only over 9p), with the run's
# writable share at /run/vm. Gives the guest what a booted machine has (proc, sys, dev, tmpfs
# where programs write) and cgroup v2 with the memory and pids controllers enabled for children,
# then runs the test's script from the share in /run/vm/out. The harness (test/vm/harness.ts)
# copies this file into the share for each run; the initramfs's init records our exit status.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8

say() { echo "oomwarden-vm: $*"; }

mount -t proc proc /proc &&
  mount -t sysfs sysfs /sys &&
  mount -t devtmpfs devtmpfs /dev &&
  mkdir -p /dev/pts /dev/shm &&
  mount -t devpts devpts /dev/pts &&
  mount -t tmpfs tmpfs /dev/shm &&
  mount -t tmpfs tmpfs /tmp &&
  mount -t tmpfs tmpfs /var/lib &&
  mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
  echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control || {
  say "guest setup failed"
  exit 125
}

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
