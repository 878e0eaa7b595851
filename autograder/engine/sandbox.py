"""The sandbox student code runs in: bubblewrap where it works, resource limits always.

With bubblewrap the worker's zygote runs with no network, its own PID/IPC/UTS namespaces, a
read-only view of only the system, Python and the installed packages, and three writable places,
each a tmpfs of capped size: a private /tmp, /dev/shm, and the work folder (``WORKDIR``) into which
the zygote writes the released assignment files and the one submission being graded. Run as root,
it then drops to an unprivileged user of its own (``sandbox_uid``), so that the process limit
applies, to it alone, and nothing else it can reach is writable. Resource limits (``Limits``) apply
always; where the grader may create cgroups, the whole process tree of a submission is capped too
(``cgroups``). Without bubblewrap only the resource limits (and cgroups) apply; ``describe`` says
what a result was graded under.
"""

from __future__ import annotations

import functools
import math
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from autograder.engine.procfs import user_tasks

#: Where the writable work folder appears inside the sandbox.
WORKDIR = "/submission"
#: Sandboxed code runs as an unprivileged user of its own when the grader runs as root: this plus
#: the grader process's pid, so that no two workers share a user and its process limit.
SANDBOX_UID_BASE = 100_000
#: Set to "none" to grade without bubblewrap (resource limits only).
ENV_SWITCH = "AUTOGRADER_SANDBOX"
#: Seconds of a submission's budget for the grader's own work on each cell (sending names,
#: computing references), on top of the cell's timeout.
STEP_ALLOWANCE_S = 5.0
#: CPU seconds between SIGXCPU, which tells the child's end apart from other kills, and SIGKILL.
CPU_GRACE_S = 2


@dataclass(frozen=True)
class Limits:
    """What one submission may use (a course sets its own in ``autograder.toml``, see
    ``autograder.settings``)."""

    memory_mb: int = 2048       # address space per process, on top of the warm zygote's; and,
                                # with cgroups, the memory of the whole process tree
    cpu_s: int | None = None    # CPU seconds per process; None: as many as its wall-clock
                                # budget gives on every core it may run on (``cpu_seconds``)
    nproc: int = 1100           # processes and threads of the submission (a pids cgroup,
                                # else RLIMIT_NPROC on top of what its user runs already):
                                # CUDA's largest block, 1024 threads, which the simulator runs
                                # as Python threads all alive at once, and room for the rest
    thread_stack_kb: int = 1024     # stack of each thread it starts (1024 simulated GPU
                                    # threads take 1 GiB of the address space; glibc's 8 MiB
                                    # would take all of it)
    fsize_mb: int = 64          # largest file it may write
    nofile: int = 256           # open files
    output_kb: int = 64         # printed output kept per request
    cell_timeout_s: float = 30.0    # wall-clock seconds for one student cell, then it is
                                    # interrupted (nbgrader's default Execute.timeout)
    call_timeout_s: float = 30.0    # ... for one call from a test cell
    submission_s: float | None = None   # ... for the whole submission, then its remaining
                                        # tests score 0; None: each cell its timeout, nbgrader's
                                        # only bound on a notebook (``submission_budget``)
    transfer_mb: int = 64       # largest value that crosses between grader and sandbox
    tmp_mb: int = 256           # size of its private /tmp (bubblewrap)
    shm_mb: int = 64            # size of its /dev/shm (bubblewrap)
    work_mb: int = 256          # size of its work folder (bubblewrap; else the grader checks it)
    gpu: bool = True            # open the machine's NVIDIA GPUs to it, where a memory cgroup can
                                # cap it (CUDA cannot run under an address-space limit); else the
                                # CUDA simulator only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def submission_budget(limits: Limits, cells: int, tests: int) -> float:
    """Wall-clock seconds for a submission whose notebooks run ``cells`` student cells and
    ``tests`` test cells: ``submission_s``, else what nbgrader would let them run, each its
    timeout, and STEP_ALLOWANCE_S each for the grader's own work (a budget any tighter would end
    honest work that nbgrader grades in full)."""
    if limits.submission_s is not None:
        return limits.submission_s
    return (cells * limits.cell_timeout_s + tests * limits.call_timeout_s
            + (cells + tests) * STEP_ALLOWANCE_S)


def cpu_seconds(limits: Limits, wall_s: float) -> int:
    """The CPU seconds a child with ``wall_s`` seconds of its budget left may use: ``cpu_s``,
    else ``wall_s`` on every core this process may run on (Numba's threads use them all). A
    backstop for processes that outlive their timeouts, never tighter than the timeouts."""
    if limits.cpu_s is not None:
        return limits.cpu_s
    return max(1, math.ceil(wall_s * len(os.sched_getaffinity(0))))


@functools.lru_cache(maxsize=1)
def isolation() -> str:
    """"bubblewrap" if bwrap is installed and can create its namespaces here, else "rlimits"."""
    if os.environ.get(ENV_SWITCH, "").lower() == "none":
        return "rlimits"
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "rlimits"
    try:
        probe = subprocess.run(bwrap_command([sys.executable, "-c", "pass"]),
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "rlimits"
    return "bubblewrap" if probe.returncode == 0 else "rlimits"


def _package_roots() -> list[str]:
    """Folders the sandbox must see read-only to run Python with the course's packages."""
    import autograder
    import toolkit

    roots = {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix)}
    for package in (toolkit, autograder):
        roots.add(os.path.dirname(os.path.abspath(package.__file__)))
    exe = os.path.realpath(sys.executable)
    roots.add(os.path.dirname(os.path.dirname(exe)))
    return sorted(r for r in roots if r and not r.startswith(("/usr/", "/etc/"))
                  and r not in ("/usr", "/"))


def gpu_devices(dev: str = "/dev") -> list[str]:
    """The device nodes of NVIDIA's driver on this machine (the GPUs, nvidiactl, nvidia-uvm, ...):
    what CUDA opens; none without a GPU."""
    return sorted(str(p) for p in Path(dev).glob("nvidia*") if p.is_char_device())


def bwrap_command(argv: list[str], limits: Limits | None = None,
                  binds: dict[str, str] | None = None,
                  devices: list[str] | None = None) -> list[str]:
    """The bubblewrap command line that runs ``argv`` sandboxed: WORKDIR, /tmp and /dev/shm are
    tmpfs mounts of the sizes in ``limits``; ``binds`` maps host folders to read-only places;
    ``devices`` (GPU device nodes, ``gpu_devices``) appear under /dev, with /sys read-only, which
    the CUDA driver reads."""
    limits = limits or Limits()
    mb = 1024 * 1024
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--new-session", "--die-with-parent",
            "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # the private /tmp first: a package root under /tmp (a checkout there) is bound on top of it
    args += ["--perms", "1777", "--size", str(limits.tmp_mb * mb), "--tmpfs", "/tmp"]
    made = {"/", "/usr", "/etc", "/tmp", "/dev", "/proc", WORKDIR}
    for root in _package_roots():
        parts = Path(root).parts
        for i in range(2, len(parts)):
            parent = str(Path(*parts[:i]))
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", root, root]
        made.add(root)
    for host, inside in (binds or {}).items():
        args += ["--ro-bind", host, inside]
    args += ["--dev", "/dev",
             "--perms", "1777", "--size", str(limits.shm_mb * mb), "--tmpfs", "/dev/shm",
             "--proc", "/proc",
             "--perms", "1777", "--size", str(limits.work_mb * mb), "--tmpfs", WORKDIR,
             "--chdir", WORKDIR]
    for node in devices or ():
        args += ["--dev-bind", node, f"/dev/{os.path.basename(node)}"]
    if devices:
        args += ["--ro-bind", "/sys", "/sys"]
    if os.geteuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    return args + ["--", *argv]


def nbgrader_variables(execution: str) -> dict[str, str]:
    """The variables nbgrader sets while it runs a notebook (``execution``: "autograde" or
    "validate"), which a notebook may read to skip work while it is graded, as nbgrader's FAQ
    suggests."""
    if execution not in ("autograde", "validate"):
        raise ValueError(f"nbgrader runs a notebook to autograde or validate it, not {execution!r}")
    found = {"NBGRADER_EXECUTION": execution}
    if execution == "validate":
        found["NBGRADER_VALIDATING"] = "1"
    return found


def sandbox_env() -> dict[str, str]:
    """The environment the zygote starts with: no secrets, one thread per library pool (forking a
    process with live thread pools is unsafe), Numba's fork-safe threading layer, a fixed number
    of malloc arenas, and a fixed hash seed."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "XDG_CACHE_HOME": "/tmp/cache",
        "NUMBA_CACHE_DIR": "/tmp/numba-cache",
        "NUMBA_THREADING_LAYER": "workqueue",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # glibc reserves 64 MiB of address space for each malloc arena, up to eight per core:
        # with two, what a submission's threads take of its address space (the CUDA simulator
        # starts one per GPU thread) does not depend on how many cores the worker has
        "MALLOC_ARENA_MAX": "2",
        # a set or a dict of str iterates in the order of their hashes, which a kernel seeds at
        # random: fixed, a submission whose results follow that order gets the same grade on
        # every worker
        "PYTHONHASHSEED": "0",
    }
    for key in ("NUMBA_ENABLE_CUDASIM", "NUMBA_DISABLE_JIT"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def vm_size() -> int:
    """This process's current address-space size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def apply_rlimits(limits: Limits, gpu: bool = False, tasks_capped: bool = False) -> None:
    """Limit the calling (student) process: CPU seconds, processes, file size, open files, no
    core dumps, and memory on top of what it already maps, unless it has a GPU (CUDA maps far
    more address space than memory; a memory cgroup caps it instead).

    Processes: the kernel counts RLIMIT_NPROC over every process and thread of the user,
    wherever they run, so a fixed limit would make a grade depend on what else the user runs.
    Where the worker puts the child in a pids cgroup (``tasks_capped``), that counts the
    submission's own tasks, and RLIMIT_NPROC is left alone. Otherwise it is what the user runs
    now plus the submission's allowance."""
    mb = 1024 * 1024
    caps = [(resource.RLIMIT_FSIZE, limits.fsize_mb * mb), (resource.RLIMIT_NOFILE, limits.nofile),
            (resource.RLIMIT_CORE, 0)]
    if not tasks_capped:
        # A race remains: the count is taken once, at the fork. Tasks the same user starts later
        # take from this allowance (another worker's submission where workers share a user:
        # without bubblewrap, as a non-root user), tasks that end add to it. Under bubblewrap as
        # a non-root user, /proc shows only the sandbox's PID namespace: that is the count
        # Linux 5.14 and later check (per user namespace); older kernels count the user's tasks
        # on the whole machine, of which this sees only the sandbox's.
        caps.append((resource.RLIMIT_NPROC, user_tasks() + limits.nproc))
    if not gpu:
        caps.append((resource.RLIMIT_AS, vm_size() + limits.memory_mb * mb))
    for which, value in caps:
        resource.setrlimit(which, (_within(which, value),) * 2)
    # SIGXCPU at cpu_s, which the child could catch; the kernel's SIGKILL CPU_GRACE_S later
    cpu = limits.cpu_s
    if cpu is None:
        raise ValueError("a child's cpu_s is set when it is forked (cpu_seconds)")
    resource.setrlimit(resource.RLIMIT_CPU, (_within(resource.RLIMIT_CPU, cpu),
                                             _within(resource.RLIMIT_CPU, cpu + CPU_GRACE_S)))


def _within(which: int, value: int) -> int:
    """``value``, or the hard limit this process has on ``which`` where that is lower."""
    hard = resource.getrlimit(which)[1]
    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def sandbox_uid() -> int:
    """The user (and group) this process's sandboxes run as under bubblewrap as root. RLIMIT_NPROC
    counts a user's processes and threads across the machine: with one user for all workers, one
    student's fork bomb (or a CUDA simulator's threads) would spend every other student's share."""
    return SANDBOX_UID_BASE + os.getpid()


def describe(limits: Limits, mode: str, cgroup: str = "none", gpus: int = 0) -> dict[str, Any]:
    """The ``limits`` a result records: the limits, the isolation it was graded under, the
    cgroup version that capped its process tree ("none" where there was none), and how many GPU
    device nodes it could open (0: the CUDA simulator only)."""
    enforced_nproc = os.geteuid() != 0 or mode == "bubblewrap" or cgroup != "none"
    return {**limits.to_dict(), "isolation": mode,
            "network": "none" if mode == "bubblewrap" else "host",
            "user": str(sandbox_uid() if mode == "bubblewrap" and os.geteuid() == 0
                        else os.geteuid()),
            "nproc_enforced": enforced_nproc, "tmpfs_capped": mode == "bubblewrap",
            "cgroup": cgroup, "gpu_devices": gpus}
