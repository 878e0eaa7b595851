"""Results, rosters and deadlines that the tests of the instructor's workflow share."""

from __future__ import annotations

import pytest

from autograder.deadlines import Deadline, parse_time
from autograder.gradebook import FILENAME, Gradebook
from autograder.results import SubmissionResult, TestResult
from autograder.roster import Roster, Student, write_roster

ASSIGNMENT = "vectorization"
XSS = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'


def tests_scoring(naive: float, vectorized: bool, dot: bool) -> tuple[TestResult, ...]:
    """Three test cells worth 2 + 1 + 3 points; the middle one has hidden tests."""
    return (
        TestResult("test_naive_relu", naive, 2.0, naive == 2.0,
                   "" if naive == 2.0 else "naive_relu(x) differs from np.maximum(x, 0) at [0, 1]"),
        TestResult("test_relu", 1.0 if vectorized else 0.0, 1.0, vectorized,
                   "" if vectorized else "relu(x) has a Python loop", hidden=True,
                   output="SECRET hidden test output"),
        TestResult("test_dot", 3.0 if dot else 0.0, 3.0, dot,
                   "" if dot else "AssertionError: dot(x, y) has shape (3, 3), expected (3, 4)",
                   output="printed by the test cell"),
    )


@pytest.fixture
def results() -> list[SubmissionResult]:
    """alice (full marks, 1 day late), bob (partial, flagged, XSS in a message), carol (failed)."""
    bob_tests = list(tests_scoring(0.5, False, True))
    bob_tests[0] = TestResult("test_naive_relu", 0.5, 2.0, False, f"expected {XSS}", output=XSS)
    return [
        SubmissionResult(ASSIGNMENT, "alice", tests_scoring(2.0, True, True),
                         submitted_at="2026-12-02T10:00:00+00:00",
                         graded_at="2026-12-03T09:00:00+00:00", duration_s=1.5),
        SubmissionResult(ASSIGNMENT, "bob", tuple(bob_tests),
                         submitted_at="2026-11-30T08:30:00+00:00",
                         flags=("monkeypatch:numpy.allclose",)),
        SubmissionResult(ASSIGNMENT, "carol", (), status="failed",
                         error="the notebook is not valid JSON",
                         submitted_at="2026-12-01T12:00:00+00:00"),
    ]


@pytest.fixture
def roster() -> Roster:
    """The three submitters and dave, who submitted nothing."""
    return Roster([
        Student("alice", "Liddell", "Alice", "alice@example.edu", "1001", "S1", "aliddell", "A"),
        Student("bob", "Builder", "Bob", "bob@example.edu", "1002", "S2", "bbuilder", "A"),
        Student("carol", "Danvers", "Carol", "carol@example.edu", "1003", "S3", "cdanvers", "B"),
        Student("dave", "Bowman", "Dave", "dave@example.edu", "1004", "S4", "dbowman", "B"),
    ])


@pytest.fixture
def deadlines() -> dict[str, Deadline]:
    """Due 1 December 23:59 UTC, 10% of the maximum score off per started day late."""
    return {ASSIGNMENT: Deadline(parse_time("2026-12-01T23:59:00Z"), "per_day", 0.1)}


def _cell(kind: str, source: str, grade_id: str, points: float | None = None):
    import nbformat

    meta = {"grade": kind == "tests", "grade_id": grade_id, "locked": kind != "solution",
            "schema_version": 3, "solution": kind == "solution", "task": False}
    if points is not None:
        meta["points"] = points
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


SOLUTION = "def relu(x):\n    ### BEGIN SOLUTION\n    return max(x, 0)\n    ### END SOLUTION\n"
TESTS = ("assert relu(1) == 1\n### BEGIN HIDDEN TESTS\nassert relu(-2) == 0\n"
         "### END HIDDEN TESTS\n")


@pytest.fixture
def course(tmp_path):
    """A small nbgrader course 'dlcourse' with the assignment 'vectorization' (one solution, two
    tests)."""
    import nbformat

    root = tmp_path / "course"
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text('c = get_config()\n'
                                             'c.CourseDirectory.course_id = "dlcourse"\n')
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Write `relu`."),
        _cell("solution", SOLUTION, "relu_solution"),
        _cell("tests", TESTS, "test_relu", 2),
        _cell("tests", "assert relu(0) == 0\n", "test_relu_zero", 1),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    nbformat.write(nb, root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return root


@pytest.fixture
def graded(course, results, roster):
    """The course with a roster, a deadline and the fixture's results in its gradebook."""
    write_roster(course / "roster.csv", list(roster))
    (course / "deadlines.toml").write_text(
        f'[{ASSIGNMENT}]\ndue = 2026-12-01T23:59:00Z\npolicy = "per_day"\nper_day = 0.1\n')
    for r in results:
        (course / "submitted" / r.student / ASSIGNMENT).mkdir(parents=True)
        (course / "submitted" / r.student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text("{}")
        (course / "submitted" / r.student / ASSIGNMENT / "timestamp.txt").write_text(r.submitted_at)
    with Gradebook(course / FILENAME, "dlcourse") as book:
        for r in results:
            book.record(r)
    return course
