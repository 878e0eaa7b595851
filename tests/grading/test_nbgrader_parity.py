"""Honest work scores what genuine ``nbgrader autograde`` gives it: the same points per test cell
(partial credit included) for correct, partly correct and stub submissions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.engine.pipeline import grade_submission
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
REAL = "03_losses_activations"


def nbgrader(course: Path, *args: str) -> None:
    """Run genuine nbgrader in ``course`` (its kernel is this Python, with numpy and autograder)."""
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    # nbgrader runs `alembic` from PATH
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def nbgrader_points(course: Path, assignment: str, notebook: str, students: list[str]) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        out = {}
        for student in students:
            nb = gb.find_submission_notebook(notebook, assignment, student)
            out[student] = {g.name: g.score for g in nb.grades if g.cell.cell_type == "code"}
        return out


def engine_points(course: Path, assignment: str, students: list[str]) -> dict:
    worker = Worker()
    try:
        return {s: {t.name: t.points for t in grade_submission(
                    assignment, s, course / "source" / assignment,
                    course / "submitted" / s / assignment,
                    worker, course / "release" / assignment).tests} for s in students}
    finally:
        worker.close()


@pytest.fixture(scope="module")
def small_course(tmp_path_factory) -> Path:
    course = nbs.course(tmp_path_factory.mktemp("parity"),
                        {"correct": nbs.CORRECT, "partly": nbs.PARTLY, "stub": nbs.STUB})
    nbgrader(course, "generate_assignment", nbs.ASSIGNMENT, "--force")
    nbgrader(course, "autograde", nbs.ASSIGNMENT, "--force")
    return course


def test_small_notebooks_score_as_nbgrader_scores_them(small_course):
    students = ["correct", "partly", "stub"]
    theirs = nbgrader_points(small_course, nbs.ASSIGNMENT, nbs.ASSIGNMENT, students)
    ours = engine_points(small_course, nbs.ASSIGNMENT, students)
    assert ours == theirs
    # and the three cases are what they should be: full, partial (credit 1 of 2 on test_mean), zero
    assert ours["correct"] == {"test_relu": 2.0, "test_add": 3.0, "test_mean": 2.0}
    assert ours["partly"] == {"test_relu": 2.0, "test_add": 0.0, "test_mean": 1.0}
    assert sum(ours["stub"].values()) == 0


@pytest.mark.skipif(not (REPO / "assignments" / "source" / REAL).is_dir(),
                    reason=f"{REAL} not in the course")
def test_a_real_assignment_scores_as_nbgrader_scores_it(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "assignments" / "source" / REAL, course / "source" / REAL)
    shutil.copy(REPO / "assignments" / "nbgrader_config.py", course / "nbgrader_config.py")
    nbgrader(course, "generate_assignment", REAL, "--force")
    for student, folder in (("solution", course / "source" / REAL),
                            ("stub", course / "release" / REAL)):
        shutil.copytree(folder, course / "submitted" / student / REAL)
    nbgrader(course, "autograde", REAL, "--force")
    theirs = nbgrader_points(course, REAL, REAL, ["solution", "stub"])
    ours = engine_points(course, REAL, ["solution", "stub"])
    assert ours == theirs
    assert all(ours["solution"].values()) and sum(ours["stub"].values()) == 0
