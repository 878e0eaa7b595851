"""The gradebook: one row per (course, assignment, student), replaced on re-grading, refused to
another course, and a grading run killed with SIGKILL finishes the rest when started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from autograder import results as records
from autograder.gradebook import FILENAME, Gradebook, course_id
from autograder.results import SubmissionResult
from tests.helpers import notebooks as nbs


def result(student: str, points: float, assignment: str = "ps1") -> SubmissionResult:
    return SubmissionResult(assignment, student,
                            (records.TestResult("t1", points, 2.0, points == 2.0, "msg", True),),
                            seed=7, graded_at="2026-01-01T00:00:00+00:00",
                            versions={"python": "3.11"},
                            limits={"memory_mb": 100, "isolation": "bubblewrap"},
                            flags=("timeout",))


def test_record_get_and_results_round_trip(tmp_path):
    with Gradebook(tmp_path / FILENAME, "course-a") as book:
        book.record(result("bob", 1.0))
        book.record(result("amy", 2.0))
        book.record(result("amy", 2.0, "ps2"))
        assert book.get("ps1", "bob") == result("bob", 1.0)
        assert book.get("ps1", "nobody") is None
        assert ([(r.assignment, r.student) for r in book.results()]
                == [("ps1", "amy"), ("ps1", "bob"), ("ps2", "amy")])
        assert [r.student for r in book.results("ps2")] == ["amy"]
        stored = book.get("ps1", "amy")
        assert (stored.seed == 7 and stored.limits["isolation"] == "bubblewrap"
                and stored.flags == ("timeout",))


def test_regrading_replaces_and_never_duplicates(tmp_path):
    with Gradebook(tmp_path / FILENAME, "course-a") as book:
        book.record(result("bob", 0.0), "first")
        book.record(result("bob", 2.0), "second")
        assert len(book.results()) == 1 and book.get("ps1", "bob").score == 2.0
        assert book.fingerprints("ps1") == {"bob": "second"}


def test_another_course_is_refused(tmp_path):
    Gradebook(tmp_path / FILENAME, "course-a").close()
    with pytest.raises(ValueError, match="course-a"):
        Gradebook(tmp_path / FILENAME, "course-b")
    Gradebook(tmp_path / FILENAME).close()  # no course given: opened as it is


def test_course_id_comes_from_nbgrader_config(tmp_path):
    nbs.course(tmp_path / "c", {})
    assert course_id(tmp_path / "c") == "testcourse"
    (tmp_path / "d").mkdir()
    assert course_id(tmp_path / "d") == "d"


def test_not_a_gradebook_is_a_clear_error(tmp_path):
    (tmp_path / FILENAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not an autograder gradebook"):
        Gradebook(tmp_path / FILENAME)


@pytest.mark.slow
def test_a_run_killed_with_sigkill_finishes_the_rest_when_restarted(tmp_path):
    students = {f"s{i}": nbs.CORRECT if i % 2 else nbs.PARTLY for i in range(6)}
    course = nbs.course(tmp_path / "course", students)
    # each submission sleeps a little so that the run can be killed in the middle
    for s in students:
        path = course / "submitted" / s / nbs.ASSIGNMENT / f"{nbs.ASSIGNMENT}.ipynb"
        cells = nbs.with_extra(students[s], 1, "import time\ntime.sleep(1.0)")
        nbs.write(path, cells)
    command = [sys.executable, "-m", "autograder.cli", "grade", nbs.ASSIGNMENT,
               "--course", str(course), "--workers", "1"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    graded: list[SubmissionResult] = []
    while time.monotonic() < deadline and run.poll() is None:
        if (course / FILENAME).exists():
            with Gradebook(course / FILENAME) as book:
                graded = book.results()
            if len(graded) >= 2:
                break
        time.sleep(0.2)
    assert run.poll() is None, "the run finished before it could be killed"
    assert run.pid > 1 and run.pid != os.getpid()
    os.killpg(run.pid, signal.SIGKILL)  # the run's own process group (its session), nothing else
    run.wait()
    with Gradebook(course / FILENAME) as book:
        before = {r.student: r for r in book.results()}
    assert 2 <= len(before) < 6
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(before)} already graded" in again.stderr
    with Gradebook(course / FILENAME) as book:
        after = book.results()
    assert sorted(r.student for r in after) == sorted(students)  # each once: none lost, none twice
    for r in after:
        if r.student in before:
            assert r == before[r.student]  # not graded again
        expected = 7.0 if students[r.student] is nbs.CORRECT else 3.0
        assert r.score == expected and r.status == "graded"
