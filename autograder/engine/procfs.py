"""What the kernel says about a sandboxed process, read from the grader's side: its CPU clock, the
CPU time of the children it reaped, and its live children. A student can patch every clock inside
the sandbox; none of these. Also the tasks of a user, which the kernel counts against its
RLIMIT_NPROC (read where the sandbox sets that limit), and the machine's memory: how much is
available, how many processes its out-of-memory killer has ended.
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


def _pids(proc: str = "/proc") -> list[int]:
    """The processes ``proc`` lists (some may end before they are read)."""
    return [int(entry) for entry in os.listdir(proc) if entry.isdigit()]


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (a scan of /proc)."""
    found = []
    for child in _pids():
        try:
            if int(_stat_fields(child)[1]) == pid:
                found.append(child)
        except (OSError, ValueError, IndexError):
            continue
    return found


def user_tasks(uid: int | None = None, proc: str = "/proc") -> int:
    """Processes and threads whose real user is ``uid`` (this process's), as ``proc`` shows
    them: what the kernel counts against that user's RLIMIT_NPROC."""
    uid = os.getuid() if uid is None else uid
    total = 0
    for pid in _pids(proc):
        try:
            with open(os.path.join(proc, str(pid), "status"), "rb") as f:
                fields = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
            if int(fields[b"Uid"].split()[0]) == uid:
                total += int(fields[b"Threads"])
        except (OSError, KeyError, ValueError, IndexError):  # ended meanwhile, or unreadable
            continue
    return total


def available_memory(meminfo: str = "/proc/meminfo") -> int | None:
    """Bytes of memory the machine can give new work without swapping (MemAvailable), or None
    where the kernel does not say."""
    try:
        with open(meminfo, "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def oom_kills(vmstat: str = "/proc/vmstat") -> int:
    """How many processes the kernel's out-of-memory killer has ended on this machine since it
    booted, any cgroup's limit or the machine's own shortage (0 where the kernel does not say)."""
    try:
        with open(vmstat, "rb") as f:
            for line in f:
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
