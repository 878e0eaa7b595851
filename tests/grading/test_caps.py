"""Every resource a submission can use is capped: the tmpfs mounts and its work folder (bytes), the
memory and tasks of its whole process tree (cgroups, where the grader may create them), and its
wall-clock time. One that goes over scores 0 for what it breaks, is flagged, and the next
submission on the same worker is unharmed.

Written to stay harmless if the sandbox failed: every writer stops at a bound set here and writes
under a name of its own, every process sleeps a bounded time, every allocation is bounded.
"""

from __future__ import annotations

import ast
import tempfile
import time
from pathlib import Path

import pytest

from autograder.engine import sandbox
from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

FULL = {"test_relu": 2.0, "test_add": 3.0, "test_mean": 2.0}
#: A student cell that writes up to 40 files of 2 MB into each writable place, stopping at the
#: first error, and records how many MB it got into each (the test cell prints them). It runs only
#: under bubblewrap, where the files it leaves are on the sandbox's tmpfs mounts.
FILL = """import errno, os
written, errors = {}, {}
for place in ("/tmp", "/dev/shm", "."):
    written[place] = 0
    try:
        for i in range(40):
            with open(os.path.join(place, f"fill-{i}"), "wb") as f:
                f.write(b"x" * 2**21)
            written[place] += 2
    except OSError as error:
        errors[place] = errno.errorcode.get(error.errno, str(error.errno))
"""
SHOW = "print('written', written, 'errors', errors)\n"


def grade(worker: Worker, course: Path, name: str, cells: list):
    folder = course / "submitted" / name / nbs.ASSIGNMENT
    nbs.write(folder / f"{nbs.ASSIGNMENT}.ipynb", cells)
    result = grade_submission(nbs.ASSIGNMENT, name, course / "source" / nbs.ASSIGNMENT,
                              folder, worker)
    return result, {t.name: t.points for t in result.tests}


@pytest.mark.skipif(sandbox.isolation() != "bubblewrap", reason="the tmpfs caps need bubblewrap")
def test_tmpfs_and_work_folder_writes_stop_at_their_caps(tmp_path):
    cells = [nbs.cell(FILL, "solution", solution=True), nbs.cell(SHOW, "test_caps", points=1)]
    nbs.write(tmp_path / "source" / "ps" / "ps.ipynb", cells)
    nbs.write(tmp_path / "submitted" / "filler" / "ps" / "ps.ipynb", cells)
    worker = Worker(Limits(tmp_mb=16, shm_mb=8, work_mb=12))
    try:
        result = grade_submission("ps", "filler", tmp_path / "source" / "ps",
                                  tmp_path / "submitted" / "filler" / "ps", worker)
        output = result.tests[0].output
        written = ast.literal_eval(output[output.index("{"):output.index("} errors") + 1])
        assert written["/tmp"] <= 16 and written["/dev/shm"] <= 8 and written["."] <= 12, output
        assert "ENOSPC" in output and output.count("ENOSPC") == 3, output
        assert result.limits["tmpfs_capped"] and result.limits["tmp_mb"] == 16
        assert "disk-limit" in result.flags  # it left them full
        honest, points = grade(worker, nbs.course(tmp_path / "honest", {}), "next", nbs.CORRECT)
        assert points == FULL and honest.flags == ()
    finally:
        worker.close()


def test_without_bubblewrap_the_work_folder_is_watched(tmp_path):
    """The grader counts the work folder's bytes while a request runs: past the cap the child is
    stopped and flagged (the writer stops at 48 MB in the worker's own folder anyway), and the
    files of the child it killed go with the worker."""
    code = ("import time\nfor i in range(24):\n    open(f'fill-{i}', 'wb').write(b'x' * 2**21)\n"
            "    time.sleep(0.1)\n")
    worker = Worker(Limits(work_mb=8, cell_timeout_s=30), mode="rlimits")
    course = nbs.course(tmp_path, {})
    try:
        worker.start()
        stopped = worker.proc.pid  # the zygote killed with its child, the filler
        result, points = grade(worker, course, "filler", nbs.with_extra(nbs.CORRECT, 3, code))
        assert "disk-limit" in result.flags
        assert points == {"test_relu": 2.0, "test_add": 0.0, "test_mean": 0.0}
        assert "stopped earlier: the work folder went over its 8 MB cap" in result.tests[1].message
        result, points = grade(worker, course, "next", nbs.CORRECT)
        assert points == FULL and result.flags == ()
    finally:
        worker.close()
    # its child's files (cells, output) were in the worker's folder, removed with it
    assert not list(Path(tempfile.gettempdir()).glob(f"agjob-{stopped}-*"))
    assert not worker.root.exists()


def test_the_whole_process_tree_is_held_to_the_memory_cap(tmp_path):
    """Three processes of 120 MB each fit their own address-space limit but not the tree's 256
    MB."""
    worker = Worker(Limits(memory_mb=256))
    if worker.cgroup is None:
        worker.close()
        pytest.skip("this grader may not create cgroups here")
    code = ("import os, time\nimport numpy as np\nkids = []\nfor _ in range(3):\n"
            "    pid = os.fork()\n    if pid == 0:\n        block = np.ones(120 * 2**20 // 8)\n"
            "        time.sleep(2)\n        os._exit(0)\n    kids.append(pid)\nfor pid in kids:\n"
            "    os.waitpid(pid, 0)\n")
    course = nbs.course(tmp_path, {})
    try:
        result, points = grade(worker, course, "hog", nbs.with_extra(nbs.CORRECT, 3, code))
        assert "memory-limit" in result.flags, result.flags
        assert points["test_relu"] == 2.0
        assert result.limits["cgroup"] in ("v1", "v2")
        result, points = grade(worker, course, "next", nbs.CORRECT)
        assert points == FULL and result.flags == ()
    finally:
        worker.close()


def test_a_large_array_the_notebook_keeps_stays_behind_a_proxy(tmp_path):
    """A 300 MB array that fits the student's 512 MB stays in the sandbox: the names sent before
    each test cell are not copied first (a copy past the cap once failed them all: NameErrors for
    every function, 0 points for correct work)."""
    worker = Worker(Limits(memory_mb=512))
    course = nbs.course(tmp_path, {})
    try:
        kept = "import numpy as np\nbig = np.ones(300 * 2**20 // 8)\n"
        result, points = grade(worker, course, "keeper", nbs.with_extra(nbs.CORRECT, 1, kept))
        assert points == FULL, [t.message for t in result.tests]
    finally:
        worker.close()


def test_a_sleeping_submission_is_stopped_by_its_budget(tmp_path):
    """Every cell and function sleeps: the submission gets 5 s in all, not a timeout per cell."""
    nap = "import time\ntime.sleep(2)\n"
    cells = nbs.source_cells(
        relu="def relu(x):\n    import time\n    time.sleep(2)\n    return x\n",
        add="def add(a, b):\n    import time\n    time.sleep(2)\n    return a + b\n",
        mean="def mean(xs):\n    import time\n    time.sleep(2)\n    return 0\n")
    for index in (5, 3, 1):
        cells = nbs.with_extra(cells, index, nap)
    worker = Worker(Limits(submission_s=5, cell_timeout_s=4, call_timeout_s=4))
    try:
        worker.start()
        started = time.monotonic()
        result, points = grade(worker, nbs.course(tmp_path, {}), "sleeper", cells)
        assert time.monotonic() - started < 5 + 3
        assert points == {"test_relu": 0.0, "test_add": 0.0, "test_mean": 0.0}
        assert "time-budget" in result.flags
        assert any("time budget of 5 s ran out" in t.message for t in result.tests)
    finally:
        worker.close()


def test_course_limits_come_from_autograder_toml(tmp_path):
    from autograder.settings import load_limits

    assert load_limits(tmp_path) == Limits()
    (tmp_path / "autograder.toml").write_text("[limits]\ntmp_mb = 128\nsubmission_s = 90\n")
    assert load_limits(tmp_path) == Limits(tmp_mb=128, submission_s=90.0)
    for text, words in (("[limits]\ntmp = 1\n", "unknown limit 'tmp'"),
                        ("[limits]\ntmp_mb = 1.5\n",
                         "tmp_mb = 1.5 must be a positive whole number"),
                        ("[limits]\nsubmission_s = -1\n", "must be a positive number"),
                        ("[limits\n", "cannot read")):
        (tmp_path / "autograder.toml").write_text(text)
        with pytest.raises(ValueError, match=words):
            load_limits(tmp_path)


def test_a_fork_bomb_does_not_spend_its_neighbours_process_limit(tmp_path):
    """Two workers grade at once: one student forks up to the process limit and holds it; the
    other's threads, started meanwhile, still start (each worker's sandbox is its own user, with
    its own count). Bounded: 30 forks that sleep 6 s, 12 threads that sleep 0.5 s."""
    from autograder.engine.pool import Job, grade_all

    forker = ("import os, time\nfor _ in range(30):\n    try:\n        if os.fork() == 0:\n"
              "            time.sleep(6)\n            os._exit(0)\n    except OSError:\n"
              "        break\ntime.sleep(6)\n")
    threader = ("import threading, time\ntime.sleep(1.5)\n"
                "threads = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(12)]\n"
                "for t in threads:\n    t.start()\nfor t in threads:\n    t.join()\n"
                "started = len(threads)\n")
    needs_threads = "def add(a, b):\n    return a + b if started == 12 else 0\n"
    course = nbs.course(tmp_path, {
        "forker": nbs.with_extra(nbs.CORRECT, 3, forker),
        "threader": nbs.with_cell(nbs.with_extra(nbs.CORRECT, 3, threader), 4, needs_threads)})
    found = {}
    grade_all([Job(nbs.ASSIGNMENT, s, course / "source" / nbs.ASSIGNMENT,
                   course / "submitted" / s / nbs.ASSIGNMENT)
               for s in ("forker", "threader")], 2, Limits(nproc=24),
              on_result=lambda job, result: found.__setitem__(job.student, result))
    assert {t.name: t.points for t in found["threader"].tests} == FULL, found["threader"].tests
    assert found["threader"].flags == ()
