"""No orphans: when `autograder grade` dies by SIGKILL, its pool processes, their zygotes and the
sandboxed children (and, under bubblewrap or in a cgroup, what the students started) end within
seconds; the folders they made go with the next grader that starts, and a folder that a run's
processes share goes with the last of them.

Harmless if anything survives: the only processes a submission starts sleep 30 s and exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.engine import cgroups, sandbox
from autograder.engine.folders import OWNER_MARK, leave_shared_folder, owned_folder, shared_folder
from autograder.engine.procfs import children
from autograder.engine.worker import ROOT_PREFIX
from tests.helpers import notebooks as nbs

NAP = "import subprocess, time\nhelper = subprocess.Popen(['sleep', '30'])\ntime.sleep(30)\n"


def descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every live process below ``pid``."""
    found, stack = {}, [pid]
    while stack:
        for child in children(stack.pop()):
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    found[child] = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_sigkill_of_the_grader_leaves_no_process_behind(tmp_path):
    course = nbs.course(tmp_path, {f"s{i}": nbs.with_extra(nbs.CORRECT, 1, NAP) for i in range(4)})
    grader = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", nbs.ASSIGNMENT,
                               "--course", str(course), "--workers", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tree = descendants(grader.pid)
            if sum(cmd.startswith("sleep 30") for cmd in tree.values()) >= 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the submissions never started: {descendants(grader.pid)}")
    finally:
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
    zygotes = [pid for pid, cmd in tree.items()
               if "-m autograder.engine.zygote" in cmd and not cmd.startswith("bwrap")]
    assert len(zygotes) >= 2, tree
    probe = cgroups.create(cgroups.group_name(0), 2**30, 8)
    if probe is not None:
        probe.remove()
    contained = sandbox.isolation() == "bubblewrap" or probe is not None
    watched = {pid: cmd for pid, cmd in tree.items() if contained or not cmd.startswith("sleep")}
    killed = time.monotonic()
    while time.monotonic() < killed + 10 and any(alive(pid) for pid in watched):
        time.sleep(0.05)
    left = {pid: cmd for pid, cmd in watched.items() if alive(pid)}
    assert not left, f"still running 10 s after the grader's SIGKILL: {left}"
    # the folders its processes made for themselves, removed by the next grader that starts
    temp = Path(tempfile.gettempdir())
    made = [p for pid in [grader.pid, *tree] for p in temp.glob(f"autograder-*-{pid}-*")]
    assert any(p.name.startswith("autograder-references-") for p in made), made
    for prefix in ("autograder-references-", ROOT_PREFIX):
        owned_folder(prefix).rmdir()
    assert [p for p in made if p.exists()] == []
    print(f"\n{len(watched)} processes below the killed grader ({len(zygotes)} of them zygotes and "
          f"their forked children), all gone {time.monotonic() - killed:.3f} s after it was reaped")


def test_a_runs_shared_folder_goes_with_the_last_of_its_processes():
    """The folder a run's Dask workers share on one machine: removed by the last of them to
    leave, or, when they were all killed, by the next run's first worker."""
    prefix = f"autograder-test-shared-{os.getpid()}-"
    gone = subprocess.Popen(["true"])
    gone.wait()
    killed = shared_folder(prefix, "killed")
    (killed / f"{OWNER_MARK}{os.getpid()}").rename(killed / f"{OWNER_MARK}{gone.pid}")
    running = shared_folder(prefix, "running")  # this process's: alive
    unmarked = Path(tempfile.gettempdir()) / f"{prefix}unmarked"
    unmarked.mkdir()
    mine = shared_folder(prefix, "mine")
    assert shared_folder(prefix, "mine") == mine
    try:
        assert not killed.exists() and running.exists() and unmarked.exists()
        (mine / f"{OWNER_MARK}{gone.pid}").touch()  # a worker of this run that was killed
        leave_shared_folder(running)
        leave_shared_folder(mine)
        assert not running.exists() and not mine.exists()
    finally:
        unmarked.rmdir()
