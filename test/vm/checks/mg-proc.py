# A process for the machine-guard sections, in the shape a section needs, around v2-alloc.py:
#
#   mg-proc.py [--comm NAME] [--ignore-term] [--head-start MIB] ALLOC MIB RATE [READY_FILE]
#
# --comm NAME     the process's name (/proc/self/comm, what a victim rule's comm matches: what
#                 prctl(PR_SET_NAME) sets), so a Python can stand for a database;
# --ignore-term   SIGTERM ignored: a program that does not stop when asked;
# --head-start N  N MiB touched at once before the allocator's schedule begins: a fresh guest has
#                 800 MiB and more available, which a 40 MiB/s hog would take 20 s to cross before
#                 the first level; the levels are then crossed at the allocator's own rate.
#
# Then runs v2-alloc.py (ALLOC) with MIB RATE [READY_FILE] in this same process, so the pid, the
# name and the signal disposition are the allocator's. "head start done" goes to stderr.
import runpy
import signal
import sys

args = sys.argv[1:]
comm = None
ignore_term = False
head_start_mib = 0
while args and args[0].startswith("--"):
    option = args.pop(0)
    if option == "--comm":
        comm = args.pop(0)
    elif option == "--ignore-term":
        ignore_term = True
    elif option == "--head-start":
        head_start_mib = int(args.pop(0))
    else:
        sys.exit("mg-proc.py: unknown option " + option)

if comm is not None:
    with open("/proc/self/comm", "w") as f:
        f.write(comm)
if ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
# Real pages, as the allocator's own blocks: bytes filled with "x", copied into a bytearray.
head_start = [bytearray(b"x" * (1 << 20)) for _ in range(head_start_mib)]
if head_start_mib > 0:
    sys.stderr.write("head start done: %d MiB\n" % head_start_mib)
    sys.stderr.flush()

alloc = args[0]
sys.argv = [alloc] + args[1:]
runpy.run_path(alloc, run_name="__main__")
