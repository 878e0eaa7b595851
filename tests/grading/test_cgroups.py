"""The worker's cgroup: what it writes to the kernel's files (v2 checked against a folder laid out
as cgroup v2's, since a machine has one hierarchy or the other), and on this machine's own
hierarchy that a process put in it is held there and killed with it."""

from __future__ import annotations

import os
import subprocess

import pytest

from autograder.engine import cgroups


def fake_v2(parent, enabled: str = "") -> None:
    (parent / "cgroup.controllers").write_text("cpu memory pids\n")
    (parent / "cgroup.subtree_control").write_text(enabled)


def test_v2_caps_memory_and_tasks_and_enables_the_controllers(tmp_path):
    fake_v2(tmp_path)
    group = cgroups._v2(tmp_path, "autograder-1-1", 300 * 2**20, 24)
    assert (group is not None and group.version == "v2"
            and group.folders == [tmp_path / "autograder-1-1"])
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (group.memory / "memory.max").read_text() == str(300 * 2**20)
    assert (group.memory / "pids.max").read_text() == "24"
    (group.memory / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    (group.memory / "cgroup.procs").write_text("")
    assert group.memory_events() == (2, 1) and group.procs() == [] and group.kill()


def test_v1_counts_the_cap_reached_by_the_peak_since_it_was_reset(tmp_path):
    """v1 keeps no count of its cap being reached (failcnt stays 0 on recent kernels): a peak
    within CAP_MARGIN of the cap counts; a kill with the peak far below it was the machine's."""
    group = cgroups.Cgroup("v1", [tmp_path])
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    (tmp_path / "memory.limit_in_bytes").write_text(str(256 * 2**20))
    for peak_mb, reached in ((256, 1), (253, 1), (200, 0)):
        (tmp_path / "memory.max_usage_in_bytes").write_text(str(peak_mb * 2**20))
        assert group.memory_events() == (3, reached)
    group.reset_peak()
    assert (tmp_path / "memory.max_usage_in_bytes").read_text() == "0"


def test_v2_without_the_controllers_delegated_is_none(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    assert cgroups._v2(tmp_path, "autograder-1-1", 2**30, 8) is None


def test_stale_groups_of_dead_graders_are_swept(tmp_path):
    fake_v2(tmp_path, "memory pids")
    dead = tmp_path / "autograder-999999999-1"
    dead.mkdir()
    alive = tmp_path / f"autograder-{os.getpid()}-7"
    alive.mkdir()
    assert cgroups._v2(tmp_path, cgroups.group_name(8), 2**30, 8) is not None
    assert not dead.exists() and alive.exists()


def test_a_process_in_the_group_is_held_and_killed_with_it():
    group = cgroups.create(cgroups.group_name(99), 256 * 2**20, 16)
    if group is None:
        pytest.skip("this process may not create cgroups here")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        group.add(sleeper.pid)
        assert group.procs() == [sleeper.pid]
        assert group.kill() and sleeper.wait(timeout=5) == -9
    finally:
        sleeper.kill()
        group.remove()
    assert all(not folder.exists() for folder in group.folders)


def test_the_memory_available_is_read_from_meminfo(tmp_path):
    from autograder.engine import procfs

    (tmp_path / "meminfo").write_text("MemTotal:  32000000 kB\nMemFree:  1000 kB\n"
                                      "MemAvailable:  2097152 kB\n")
    assert procfs.available_memory(str(tmp_path / "meminfo")) == 2 * 2**30
    (tmp_path / "old").write_text("MemTotal:  32000000 kB\n")
    assert procfs.available_memory(str(tmp_path / "old")) is None
    assert procfs.available_memory() > 0  # this machine's


def test_the_own_groups_headroom_is_its_limit_less_its_usage(tmp_path, monkeypatch):
    """v1 and v2 alike; None where the group has no limit ("max", or v1's near 2^63)."""
    own = tmp_path / "job"
    own.mkdir()
    monkeypatch.setattr(cgroups, "_own_paths", lambda: {"": "/job", "memory": "/job"})
    for kind, limit, usage in (("cgroup2", "memory.max", "memory.current"),
                               ("cgroup", "memory.limit_in_bytes", "memory.usage_in_bytes")):
        monkeypatch.setattr(cgroups, "_mounts", lambda: [(str(tmp_path), kind, {"memory"})])
        (own / usage).write_text(str(3 * 2**30))
        (own / limit).write_text(str(4 * 2**30))
        assert cgroups.own_memory_headroom() == 2**30
        (own / limit).write_text("max" if kind == "cgroup2" else "9223372036854771712")
        assert cgroups.own_memory_headroom() is None
