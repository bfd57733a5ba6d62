# A process group of its own, as a shell's job or a tool with workers makes one:
#
#   mg-group.py [--ignore-term] PIDS_FILE COMMAND... [-- COMMAND...]...
#
# Becomes the leader of a new process group (setpgid, not setsid: the session stays the one it
# was started in), starts each COMMAND as a child (they inherit the group), writes the pids, its
# own first, one a line, to PIDS_FILE, and waits for its children, then for ever. With
# --ignore-term it ignores SIGTERM itself, set after the children started so they keep the
# default (a disposition of SIG_IGN survives exec).
import os
import signal
import subprocess
import sys
import time

args = sys.argv[1:]
ignore_term = args[0] == "--ignore-term"
if ignore_term:
    args.pop(0)
pids_file = args.pop(0)
commands = [[]]
for arg in args:
    if arg == "--":
        commands.append([])
    else:
        commands[-1].append(arg)

os.setpgid(0, 0)
children = [subprocess.Popen(command) for command in commands if command]
if ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(pids_file + ".tmp", "w") as f:
    f.write("".join("%d\n" % pid for pid in [os.getpid()] + [c.pid for c in children]))
os.rename(pids_file + ".tmp", pids_file)
for child in children:
    child.wait()
while True:
    time.sleep(3600)
