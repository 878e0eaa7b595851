"""What the assignment tests share: where the course is, its source notebooks, one
grading-engine worker per test module, and grading a notebook as a student's submission."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.engine.pipeline import grade_submission
from autograder.engine.worker import Worker

#: The nbgrader course, and its source notebooks.
COURSE = Path(__file__).resolve().parents[2] / "assignments"
SOURCE = COURSE / "source"


def source_notebook(assignment: str) -> nbformat.NotebookNode:
    """The source notebook (solutions and hidden tests) of ``assignment``."""
    return nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def grade_notebook(worker: Worker, course: Path, student: str, assignment: str,
                   nb: nbformat.NotebookNode, source_dir: Path | None = None) -> dict:
    """Grade ``nb`` as ``student``'s submission of ``assignment`` (written under ``course``)
    against the source notebook in ``source_dir`` (the course's own unless given): the results
    by test name."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    result = grade_submission(assignment, student, source_dir or SOURCE / assignment, folder,
                              worker)
    return {t.name: t for t in result.tests}
