"""What the kernel says about a sandboxed process, read from the grader's side: its CPU clock, the
CPU time of the children it reaped, and its live children. A student can patch every clock inside
the sandbox; none of these.
"""

from __future__ import annotations

import os
import time

_CPUCLOCK_SCHED = 2
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_clock_ns(pid: int) -> int:
    """Nanoseconds of CPU time process ``pid`` (all its threads, living and ended) has used: the
    kernel's CLOCK_PROCESS_CPUTIME_ID of that process, which any process may read."""
    return time.clock_gettime_ns(((~pid) << 3) | _CPUCLOCK_SCHED)


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2:].decode().split()


def reaped_cpu_ns(pid: int) -> int:
    """CPU time of the children ``pid`` has waited for (cutime + cstime), in nanoseconds; clock
    ticks, so a coarse figure: it catches work handed to short-lived processes."""
    fields = _stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) * 1_000_000_000 // _TICKS


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (a scan of /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found
