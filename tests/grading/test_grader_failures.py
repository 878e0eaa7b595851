"""The grader's own failure is never a grade: a grader process killed midway (as the kernel's OOM
killer may on a busy machine) costs no submission its points, and a submission the grader keeps
failing on is reported, not recorded, graded on the next run, and kept out of the exports.

Harmless if anything survives: each submission starts one `sleep 2`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import autograder.engine.pipeline
from autograder.cli import main
from autograder.engine import pool
from autograder.engine.pool import Job, grade_all, grader_error
from autograder.gradebook import FILENAME, Gradebook
from tests.grading.test_orphans import descendants
from tests.helpers import notebooks as nbs

NAP = "import subprocess\nsubprocess.run(['sleep', '2'])\n"


def test_a_grader_process_killed_midway_costs_no_submission_its_points(tmp_path):
    students = [f"s{i}" for i in range(6)]  # more than the pool holds at once
    course = nbs.course(tmp_path, {s: nbs.with_extra(nbs.CORRECT, 1, NAP) for s in students})
    grader = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", nbs.ASSIGNMENT,
                               "--course", str(course), "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tree = descendants(grader.pid)
            napping = [pid for pid, cmd in tree.items() if cmd.startswith("sleep 2")]
            if napping:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no submission started: {descendants(grader.pid)}")
        workers = [pid for pid, cmd in tree.items()
                   if "multiprocessing.spawn" in cmd and napping[0] in descendants(pid)]
        os.kill(workers[0], signal.SIGKILL)
        output, _ = grader.communicate(timeout=240)
    finally:
        grader.kill()
        grader.wait()
    assert grader.returncode == 0, output
    with Gradebook(course / FILENAME) as book:
        results = book.results(nbs.ASSIGNMENT)
    assert {r.student: (r.status, r.score) for r in results} == {s: ("graded", 7.0)
                                                                 for s in students}, output


def test_a_submission_the_grader_keeps_failing_on_is_not_graded_until_it_can_be(tmp_path,
                                                                                monkeypatch):
    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT, "bob": nbs.CORRECT})
    real = autograder.engine.pipeline.grade_submission
    calls = []

    def sandbox_cannot_start(assignment, student, *args):
        calls.append(student)
        if student == "bob":
            raise RuntimeError("the grading worker did not fork a child")
        return real(assignment, student, *args)

    monkeypatch.setattr(autograder.engine.pipeline, "grade_submission", sandbox_cannot_start)
    runner = CliRunner()
    grade = ["grade", nbs.ASSIGNMENT, "--course", str(course), "--workers", "1"]
    first = runner.invoke(main, grade)
    assert first.exit_code == 1, first.output
    assert calls.count("bob") == 1 + pool.RETRIES and calls.count("amy") == 1
    assert "bob                  not graded  (the grader failed on it, not the submission: " \
           "RuntimeError: the grading worker did not fork a child)" in first.output
    assert "1 submission(s) not graded, as the grader failed on them 3 times (bob)" in first.output
    with Gradebook(course / FILENAME) as book:
        assert [r.student for r in book.results(nbs.ASSIGNMENT)] == ["amy"]

    status = runner.invoke(main, ["status", nbs.ASSIGNMENT, "--course", str(course)])
    assert "not graded" in status.output and "1 graded" in status.output
    export = runner.invoke(main, ["export", nbs.ASSIGNMENT, "--course", str(course), "--to", "csv",
                                  "--out", str(tmp_path / "out")])
    assert export.exit_code != 0 and not (tmp_path / "out").exists()
    assert "1 submission(s) of ps1 are not graded yet (bob); nothing was exported" in export.output

    monkeypatch.setattr(autograder.engine.pipeline, "grade_submission", real)
    second = runner.invoke(main, grade)
    assert second.exit_code == 0 and "1 already graded; 1 to grade" in second.output
    assert runner.invoke(main, ["export", nbs.ASSIGNMENT, "--course", str(course), "--to", "csv",
                                "--out", str(tmp_path / "out")]).exit_code == 0
    assert "bob" in (tmp_path / "out" / f"{nbs.ASSIGNMENT}_grades.csv").read_text()


class DyingPool:
    """A pool whose grader process dies on the first ``deaths`` submissions given to it."""

    def __init__(self, deaths: int) -> None:
        self.deaths, self.submitted = deaths, 0

    def capacity(self) -> int:
        return 2

    def submit(self, job):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        self.submitted += 1
        future = Future()
        if self.submitted <= self.deaths:
            future.set_exception(BrokenProcessPool("a process in the pool was terminated"))
        else:
            future.set_result(grader_error(job, "stand-in").to_dict() | {"status": "graded"})
        return future


def test_a_job_goes_back_in_line_at_most_retries_times(tmp_path):
    nbs.write(tmp_path / "source" / "a.ipynb", nbs.CORRECT)
    job = Job(nbs.ASSIGNMENT, "amy", tmp_path / "source", tmp_path)
    for deaths, status in ((pool.RETRIES, "graded"), (pool.RETRIES + 1, "error")):
        got = []
        grade_all([job], on_result=lambda job, result: got.append(result), pool=DyingPool(deaths))
        assert [r.status for r in got] == [status]
    assert "its grader process ended: a process in the pool was terminated" in got[0].error


def test_the_gradebook_refuses_a_grader_error(tmp_path):
    nbs.write(tmp_path / "source" / "a.ipynb", nbs.CORRECT)
    error = grader_error(Job(nbs.ASSIGNMENT, "amy", tmp_path / "source", tmp_path), "boom")
    with Gradebook(tmp_path / FILENAME, "c") as book:
        try:
            book.record(error)
        except ValueError as refused:
            assert "a grader error is not a grade" in str(refused)
        else:
            raise AssertionError("a grader error was recorded")
        assert book.results() == []


def memory_parent(tmp_name: str, limit_mb: int):
    """A v1 memory group under this process's own, capped at ``limit_mb``: the machine running
    short, for the processes put in it. None where v1 groups cannot be made here."""
    from autograder.engine import cgroups

    own = cgroups._own_paths()
    for mount, kind, options in cgroups._mounts():
        if kind == "cgroup" and "memory" in options and "memory" in own:
            folder = Path(mount) / own["memory"].lstrip("/") / tmp_name
            try:
                folder.mkdir()
                (folder / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
            except OSError:
                return None
            return folder
    return None


def test_a_submission_the_machine_oom_kills_within_its_cap_is_not_graded(tmp_path):
    """The grader runs in a group capped at 1 GB (the machine); the submission's own cap is 8 GB
    and it takes 1.5 GB: the kernel kills it for the machine's shortage, not its own. Its own
    cap's kills stay memory-limit flags (test_caps)."""
    parent = memory_parent(f"autograder-machine-{os.getpid()}", 1024)
    if parent is None:
        pytest.skip("no cgroup v1 memory hierarchy this process may create groups in")
    hog = "import numpy as np\nblock = np.ones(1536 * 2**20 // 8)\n"
    course = nbs.course(tmp_path, {"amy": nbs.with_extra(nbs.CORRECT, 1, hog)})
    (course / "autograder.toml").write_text("[limits]\nmemory_mb = 8192\n")
    try:
        done = subprocess.run(
            ["sh", "-c", f'echo $$ > {parent}/cgroup.procs && exec "$0" "$@"', sys.executable,
             "-m", "autograder.cli", "grade", nbs.ASSIGNMENT, "--course", str(course),
             "--workers", "1"], capture_output=True, text=True, timeout=300)
    finally:
        for group in parent.glob("autograder-*"):
            group.rmdir()
        parent.rmdir()
    if "cgroup: none" in done.stdout + done.stderr:
        pytest.skip("the grader made no cgroup inside the test's group")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("amy                  not graded  (the grader failed on it, not the submission: "
            "MachineFault: the machine ran out of memory and its OOM killer ended a process of "
            "the submission, which was within its memory cap of 8192 MB)") in done.stdout
    with Gradebook(course / FILENAME) as book:
        assert book.results(nbs.ASSIGNMENT) == []


def test_a_process_that_dies_while_the_machine_oom_kills_is_graded_again(tmp_path, monkeypatch):
    """The child ends by SIGKILL while the machine's OOM kill count rises (its zygote's death,
    say, looks the same): graded again. It killed itself, so the second grading, with no OOM
    kill on the machine, scores what the submission earns: the tests after the kill fail."""
    from autograder.engine import procfs

    suicide = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    course = nbs.course(tmp_path / "c", {"amy": nbs.with_extra(nbs.CORRECT, 3, suicide)})
    readings = iter([5, 6])  # the first session starts at 5 and its child dies at 6
    monkeypatch.setattr(procfs, "oom_kills", lambda: next(readings, 6))
    starts = []
    real = autograder.engine.pipeline.grade_submission

    def counted(*args):
        starts.append(args[1])
        return real(*args)

    monkeypatch.setattr(autograder.engine.pipeline, "grade_submission", counted)
    result = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                       "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert starts == ["amy", "amy"]
    with Gradebook(course / FILENAME) as book:
        (graded,) = book.results(nbs.ASSIGNMENT)
    assert graded.status == "graded" and graded.score < 7 and "process-ended" in graded.flags
