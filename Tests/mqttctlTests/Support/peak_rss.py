# peak_rss.py FILE PROGRAM ARGS...: runs PROGRAM with this process's stdin,
# stdout and stderr, writes its peak resident memory (KiB) to FILE and exits
# with its status.
#
# Why not wait4 in the test process itself: the test spawns with vfork
# semantics, and Linux folds the high-water mark of the memory the child ran
# in before exec (the test process's, often 100 MB) into the child's
# ru_maxrss. Spawned from here, that floor is this small interpreter's.
import os
import sys

pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
