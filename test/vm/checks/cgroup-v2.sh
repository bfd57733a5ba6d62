# What cgroup v2 gives a child cgroup in the guest: the controllers, and the memory files
# oomwarden will read and write. Each fact goes to its own file for the test to check.
set -eu
stat -f -c %T /sys/fs/cgroup > fstype
cat /sys/fs/cgroup/cgroup.controllers > root-controllers
cat /sys/fs/cgroup/cgroup.subtree_control > root-subtree-control

child=/sys/fs/cgroup/smoke-files
mkdir "$child"
cat "$child/cgroup.controllers" > child-controllers
echo $((64 * 1024 * 1024)) > "$child/memory.max"
cat "$child/memory.max" > memory.max
echo $((48 * 1024 * 1024)) > "$child/memory.high"
cat "$child/memory.high" > memory.high
cat "$child/memory.events" > memory.events
# The counters are the kernel's alone: even root cannot write them, so a watcher has to diff.
if (echo 0 > "$child/memory.events") 2>/dev/null; then echo writable; else echo read-only; fi > memory.events-mode
rmdir "$child"
