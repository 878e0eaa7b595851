"""A cgroup per worker that caps the whole process tree of the submission it grades: memory (tmpfs
pages it writes included) and the number of processes and threads. RLIMIT_AS caps one process's
address space; a student who forks twenty processes, or fills a tmpfs, gets past it, not past this.

Both kernels' interfaces are handled: cgroup v2 (``memory.max``, ``pids.max``, ``cgroup.kill``),
where the grader's own cgroup has the memory and pids controllers delegated to it, and v1 (a group
in the memory hierarchy and one in the pids hierarchy), where the grader may create groups there.
Where neither works (an unprivileged grader without delegation) ``create`` returns None and the
submission runs under its resource limits alone; results record which it was.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_PREFIX = "autograder-"
#: How near its cap a v1 group's peak memory must come to count as having reached it: a charge
#: that fails is at most a batch of pages or a huge page short of the cap.
CAP_MARGIN = 4 * 2**20


def _counters(path: Path, key: str | None = None) -> dict[str, int]:
    """The "name value" lines of a cgroup file (or, with ``key``, its one number), {} where it
    cannot be read."""
    try:
        text = path.read_text()
        if key is not None:
            return {key: int(text)}
        return {name: int(value) for name, _, value in
                (line.partition(" ") for line in text.splitlines()) if value.strip().isdigit()}
    except (OSError, ValueError):
        return {}


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, options) of the cgroup file systems, from /proc/self/mountinfo."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per hierarchy: "" for v2, controller names for v1."""
    paths = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


class Cgroup:
    """The groups (one for v2; memory and pids for v1) that hold one worker's submissions."""

    def __init__(self, version: str, folders: list[Path]) -> None:
        self.version, self.folders = version, folders

    @property
    def memory(self) -> Path:
        return self.folders[0]

    def add(self, pid: int) -> None:
        """Move process ``pid`` (with its threads) into the groups."""
        for folder in self.folders:
            _write(folder / "cgroup.procs", str(pid))

    def procs(self) -> list[int]:
        """The processes in the groups now."""
        found: set[int] = set()
        for folder in self.folders:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return sorted(found)

    def memory_events(self) -> tuple[int, int]:
        """(processes the kernel's OOM killer has killed here, times the group's own memory cap
        was reached). Any OOM kill counts in the first, the machine's too; only the cap in the
        second: v2's memory.events oom; v1 keeps no such count (its failcnt stays 0 on recent
        kernels), so there 1 if the peak since ``reset_peak`` came within CAP_MARGIN of it."""
        if self.version == "v2":
            counts = _counters(self.memory / "memory.events")
            return counts.get("oom_kill", 0), counts.get("oom", 0)
        kills = _counters(self.memory / "memory.oom_control").get("oom_kill", 0)
        peak = _counters(self.memory / "memory.max_usage_in_bytes", key="n").get("n", 0)
        cap = _counters(self.memory / "memory.limit_in_bytes", key="n").get("n", 0)
        return kills, int(cap > 0 and peak >= cap - max(CAP_MARGIN, cap // 100))

    def reset_peak(self) -> None:
        """Start v1's peak memory (memory.max_usage_in_bytes) again from the usage now."""
        if self.version == "v1":
            try:
                _write(self.memory / "memory.max_usage_in_bytes", "0")
            except OSError:
                pass

    def kill(self, within: float = 5.0) -> bool:
        """SIGKILL every process in the groups until none is left; whether that happened."""
        if self.version == "v2" and (self.memory / "cgroup.kill").exists():
            try:
                _write(self.memory / "cgroup.kill", "1")
            except OSError:
                pass
        deadline = time.monotonic() + within
        while True:
            left = self.procs()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the groups."""
        self.kill()
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass


def own_memory_headroom() -> int | None:
    """Bytes this process's own memory group (a container's, say) may still grow by, or None
    where it has no limit or none can be read."""
    own = _own_paths()
    for mount, kind, options in _mounts():
        if kind == "cgroup2" and "" in own:
            names = ("memory.max", "memory.current")
            folder = Path(mount) / own[""].lstrip("/")
        elif kind == "cgroup" and "memory" in options and "memory" in own:
            names = ("memory.limit_in_bytes", "memory.usage_in_bytes")
            folder = Path(mount) / own["memory"].lstrip("/")
        else:
            continue
        limit, usage = (_counters(folder / name, key="n").get("n") for name in names)
        if limit is not None and usage is not None and limit < 2**60:
            return max(0, limit - usage)
    return None


def create(name: str, memory_bytes: int, pids: int) -> Cgroup | None:
    """New groups ``name`` capped at ``memory_bytes`` and ``pids`` tasks, or None where this
    process may not create them. Stale groups of graders that died are removed first."""
    mounts, own = _mounts(), _own_paths()
    for mount, kind, options in mounts:  # v2 first
        if kind == "cgroup2" and "" in own:
            group = _v2(Path(mount) / own[""].lstrip("/"), name, memory_bytes, pids)
            if group is not None:
                return group
    v1 = {}
    for mount, kind, options in mounts:
        for controller in ("memory", "pids"):
            if kind == "cgroup" and controller in options and controller in own:
                v1[controller] = Path(mount) / own[controller].lstrip("/")
    if len(v1) == 2:
        return _v1(v1["memory"], v1["pids"], name, memory_bytes, pids)
    return None


def _v2(parent: Path, name: str, memory_bytes: int, pids: int) -> Cgroup | None:
    try:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= enabled:
            if not {"memory", "pids"} <= set((parent / "cgroup.controllers").read_text().split()):
                return None
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        _sweep(parent)
        folder = parent / name
        folder.mkdir()
    except OSError:
        return None
    group = Cgroup("v2", [folder])
    try:
        _write(folder / "memory.max", str(memory_bytes))
        if (folder / "memory.swap.max").exists():
            _write(folder / "memory.swap.max", "0")
        _write(folder / "pids.max", str(pids))
    except OSError:
        group.remove()
        return None
    return group


def _v1(memory_parent: Path, pids_parent: Path, name: str, memory_bytes: int,
        pids: int) -> Cgroup | None:
    made: list[Path] = []
    try:
        for parent in (memory_parent, pids_parent):
            _sweep(parent)
            (parent / name).mkdir()
            made.append(parent / name)
        memory, tasks = made
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(tasks / "pids.max", str(pids))
    except OSError:
        Cgroup("v1", made).remove()
        return None
    return Cgroup("v1", made)


def _sweep(parent: Path) -> None:
    """Remove the groups of graders that are no longer running (killed ones leave theirs)."""
    for folder in parent.glob(_PREFIX + "*"):
        owner = folder.name[len(_PREFIX):].split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            Cgroup("stale", [folder]).remove()


def group_name(tag: int) -> str:
    """The name of a worker's groups: the grader's pid (so a later grader can tell they are
    stale once it is gone) and a tag."""
    return f"{_PREFIX}{os.getpid()}-{tag}"
