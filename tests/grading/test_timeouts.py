"""A cell that runs past its timeout is interrupted, as genuine nbgrader interrupts a cell past its
``Execute.timeout``: that cell (or the test whose call ran long) fails, and grading goes on with
the next cells. nbgrader times a cell as a whole: a test cell whose calls are each shorter than the
timeout but longer together fails too, even when it catches the calls' exceptions. The timeout is
the course's nbgrader timeout unless autograder.toml sets one.

Bounded if the interrupt failed: every sleep here ends by itself within 30 s.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import pytest

from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import STEP_ALLOWANCE_S, Limits, cpu_seconds, submission_budget
from autograder.engine.session import INTERRUPT_GRACE_S
from autograder.engine.worker import Worker
from autograder.settings import UNTIMED_CELL_S, load_limits
from tests.helpers import notebooks as nbs

FULL = {"test_relu": 2.0, "test_add": 3.0, "test_mean": 2.0}
SLOW_CELL = "import time\ntime.sleep(30)\n"
SLOW_ADD = "def add(a, b):\n    import time\n    time.sleep(30)\n    return a + b\n"
#: Under the timeout once, past it twice: test_add calls add twice.
SLOWISH_ADD = "def add(a, b):\n    import time\n    time.sleep(1.2)\n    return a + b\n"
#: test_add written to let any exception of add pass (nbgrader's interrupt is no exception).
LENIENT_TEST_ADD = "try:\n    add(1, 2)\nexcept Exception:\n    pass\n"
#: A cell that ignores the interrupt: only killing its process stops it.
DEAF_CELL = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(30)\n"


def grade(worker: Worker, course: Path, name: str, cells: list):
    folder = course / "submitted" / name / nbs.ASSIGNMENT
    nbs.write(folder / f"{nbs.ASSIGNMENT}.ipynb", cells)
    result = grade_submission(nbs.ASSIGNMENT, name, course / "source" / nbs.ASSIGNMENT, folder,
                              worker)
    return result, {t.name: t.points for t in result.tests}


@pytest.fixture(scope="module")
def worker():
    w = Worker(Limits(cell_timeout_s=2, call_timeout_s=2))
    yield w
    w.close()


def test_a_slow_cell_is_interrupted_and_the_next_cells_still_run(worker, tmp_path):
    started = time.monotonic()
    result, points = grade(worker, nbs.course(tmp_path, {}), "slow-cell",
                           nbs.with_extra(nbs.CORRECT, 3, SLOW_CELL))
    assert points == FULL and "timeout" in result.flags, result.tests
    assert time.monotonic() - started < 20


def test_a_slow_call_fails_its_test_alone(worker, tmp_path):
    result, points = grade(worker, nbs.course(tmp_path, {}), "slow-call",
                           nbs.with_cell(nbs.CORRECT, 3, SLOW_ADD))
    assert points == {**FULL, "test_add": 0.0} and "timeout" in result.flags
    message = next(t.message for t in result.tests if t.name == "test_add")
    assert "CellTimeoutError" in message and "timed out after 2 s" in message, message


def test_the_calls_of_a_test_cell_share_its_timeout(worker, tmp_path):
    started = time.monotonic()
    result, points = grade(worker, nbs.course(tmp_path, {}), "slowish",
                           nbs.with_cell(nbs.CORRECT, 3, SLOWISH_ADD))
    assert points == {**FULL, "test_add": 0.0} and "timeout" in result.flags
    message = next(t.message for t in result.tests if t.name == "test_add")
    assert "CellTimeoutError" in message and "timed out after 2 s" in message, message
    assert time.monotonic() - started < 15


def test_a_test_that_catches_the_timeout_still_fails(worker, tmp_path):
    course = nbs.course(tmp_path, {}, source=nbs.with_cell(nbs.CORRECT, 4, LENIENT_TEST_ADD))
    result, points = grade(worker, course, "slow-call", nbs.with_cell(nbs.CORRECT, 3, SLOW_ADD))
    assert points == {**FULL, "test_add": 0.0} and "timeout" in result.flags
    assert "CellTimeoutError" in next(t.message for t in result.tests if t.name == "test_add")


def test_a_cell_that_ignores_the_interrupt_is_killed(worker, tmp_path):
    """Then, as before, the rest of the submission scores 0; the next one is unharmed."""
    course = nbs.course(tmp_path, {})
    started = time.monotonic()
    result, points = grade(worker, course, "deaf", nbs.with_extra(nbs.CORRECT, 3, DEAF_CELL))
    assert points == {"test_relu": 2.0, "test_add": 0.0, "test_mean": 0.0}
    assert "timeout" in result.flags
    assert time.monotonic() - started < 2 + INTERRUPT_GRACE_S + 10
    after, points = grade(worker, course, "after-deaf", nbs.CORRECT)
    assert points == FULL and after.flags == ()


def timeouts(course: Path) -> tuple[float, float]:
    limits = load_limits(course)
    return limits.cell_timeout_s, limits.call_timeout_s


def test_the_timeouts_follow_the_courses_nbgrader_timeout(tmp_path):
    """autograder.toml first, then nbgrader_config.py's c.Execute.timeout (none there: the
    submission's budget, else UNTIMED_CELL_S), then nbgrader's default of 30 s."""
    assert load_limits(tmp_path) == Limits() and Limits().cell_timeout_s == 30
    config = tmp_path / "nbgrader_config.py"
    config.write_text("c = get_config()\nc.Execute.timeout = 120\n")
    assert timeouts(tmp_path) == (120, 120)
    (tmp_path / "autograder.toml").write_text("[limits]\ncell_timeout_s = 45\nsubmission_s = 90\n")
    assert timeouts(tmp_path) == (45, 120)
    config.write_text("c = get_config()\nc.ExecutePreprocessor.timeout = None\n")
    assert load_limits(tmp_path).call_timeout_s == 90
    (tmp_path / "autograder.toml").unlink()
    assert timeouts(tmp_path) == (UNTIMED_CELL_S, UNTIMED_CELL_S)
    config.write_text("c = get_config()\nc.Execute.timeout = \n")
    with pytest.raises(ValueError, match="cannot read"):
        load_limits(tmp_path)


def graded_by_both(course: Path, students: dict[str, list]) -> tuple[dict, dict]:
    """The points genuine nbgrader (c.Execute.timeout = 3) and the engine give ``students``."""
    from tests.grading.test_nbgrader_parity import nbgrader, nbgrader_points

    with (course / "nbgrader_config.py").open("a") as config:
        config.write("c.Execute.timeout = 3\n")
    nbgrader(course, "generate_assignment", nbs.ASSIGNMENT, "--force")
    nbgrader(course, "autograde", nbs.ASSIGNMENT, "--force")
    theirs = nbgrader_points(course, nbs.ASSIGNMENT, nbs.ASSIGNMENT, list(students))
    worker = Worker(load_limits(course))
    try:
        ours = {s: grade(worker, course, s, cells)[1] for s, cells in students.items()}
    finally:
        worker.close()
    return ours, theirs


@pytest.mark.slow
def test_timeouts_score_as_nbgrader_scores_them(tmp_path):
    """Genuine nbgrader with c.Execute.timeout = 3: a slow cell is interrupted and the tests after
    it pass; a slow function fails the test that calls it, and the next test passes; two calls of
    1.8 s each fail their test cell together."""
    students = {"slow_cell": nbs.with_extra(nbs.CORRECT, 3, SLOW_CELL),
                "slow_call": nbs.with_cell(nbs.CORRECT, 3, SLOW_ADD),
                "slowish": nbs.with_cell(nbs.CORRECT, 3, SLOWISH_ADD.replace("1.2", "1.8"))}
    ours, theirs = graded_by_both(nbs.course(tmp_path / "course", students), students)
    assert ours == theirs
    assert ours == {"slow_cell": FULL, "slow_call": {**FULL, "test_add": 0.0},
                    "slowish": {**FULL, "test_add": 0.0}}


@pytest.mark.slow
def test_a_caught_timeout_scores_as_nbgrader_scores_it(tmp_path):
    """A test cell that lets the slow call's exception pass fails in nbgrader all the same."""
    students = {"slow_call": nbs.with_cell(nbs.CORRECT, 3, SLOW_ADD), "correct": nbs.CORRECT}
    course = nbs.course(tmp_path / "course", students,
                        source=nbs.with_cell(nbs.CORRECT, 4, LENIENT_TEST_ADD))
    ours, theirs = graded_by_both(course, students)
    assert ours == theirs
    assert ours == {"slow_call": {**FULL, "test_add": 0.0}, "correct": FULL}


def test_an_interrupt_outside_the_students_code_is_dropped(tmp_path):
    """The grader's SIGINT can land as a cell ends, its reply on the way: outside the student's
    code the sandbox drops it (it would otherwise end the child between requests); inside, it
    is the student's KeyboardInterrupt."""
    import os
    import signal
    import socket

    from autograder.engine.servant import Servant

    previous = signal.getsignal(signal.SIGINT)
    ours, theirs = socket.socketpair()
    try:
        servant = Servant(ours, str(tmp_path), Limits(), {})
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # handled between requests: nothing happens
        with pytest.raises(KeyboardInterrupt), servant._student():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    finally:
        signal.signal(signal.SIGINT, previous)
        ours.close()
        theirs.close()


# -- the submission's budget: nbgrader bounds a notebook only by its cells' timeouts


#: A cell that keeps one core busy for 2.5 s of CPU time, under the 4 s timeout below.
BUSY_CELL = ("import time\nstarted = time.process_time()\n"
             "while time.process_time() - started < 2.5:\n    pass\n")


def test_the_budget_is_each_cells_timeout_and_the_cpu_that_gives_every_core():
    limits = Limits(cell_timeout_s=120, call_timeout_s=100)
    assert submission_budget(limits, cells=3, tests=2) == 3 * 120 + 2 * 100 + 5 * STEP_ALLOWANCE_S
    assert submission_budget(dataclasses.replace(limits, submission_s=90), 3, 2) == 90
    assert cpu_seconds(limits, 10.5) == math.ceil(10.5 * len(os.sched_getaffinity(0)))
    assert cpu_seconds(dataclasses.replace(limits, cpu_s=7), 1000) == 7


def test_work_whose_cells_keep_within_their_timeouts_is_never_cut(tmp_path):
    """Four cells that each spend 2.5 CPU seconds, 10 in all, under a 4 s timeout: full marks,
    as nbgrader gives, with no cap set on the submission's time or CPU. (A fixed 120 CPU-s cap
    and a 300 s budget had failed two 65 s training cells and three 105 s ones, which nbgrader
    graded in full.) The result records the budget and CPU seconds the submission had."""
    cells = nbs.CORRECT
    for index in (5, 3, 1, 1):
        cells = nbs.with_extra(cells, index, BUSY_CELL)
    worker = Worker(Limits(cell_timeout_s=4, call_timeout_s=4))
    try:
        result, points = grade(worker, nbs.course(tmp_path, {}), "busy", cells)
    finally:
        worker.close()
    assert points == FULL and not result.flags, result.tests
    budget = submission_budget(worker.limits, cells=8, tests=3)
    assert result.limits["submission_s"] == budget
    assert result.limits["cpu_s"] == cpu_seconds(worker.limits, budget)


def test_a_process_past_its_cpu_seconds_is_stopped_and_the_feedback_says_so(tmp_path):
    cells = nbs.with_extra(nbs.CORRECT, 1, BUSY_CELL.replace("2.5", "20"))
    worker = Worker(Limits(cpu_s=2, cell_timeout_s=25, call_timeout_s=25))
    try:
        result, points = grade(worker, nbs.course(tmp_path, {}), "burner", cells)
    finally:
        worker.close()
    assert points == dict.fromkeys(FULL, 0.0)
    assert "cpu-limit" in result.flags, result.flags
    assert any("used its 2 CPU seconds (cpu_s)" in t.message for t in result.tests), result.tests
