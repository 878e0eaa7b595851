"""The grades CSV against genuine `nbgrader export` on the same grades."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import pytest
from nbgrader.api import Gradebook as NbgraderGradebook
from nbgrader.plugins.export import CsvExportPlugin

from autograder.export import export, grades_for
from autograder.export.csv_grades import COLUMNS
from autograder.results import SubmissionResult
from autograder.results import TestResult as Cell

from .conftest import ASSIGNMENT


def nbgrader_csv(tmp_path, grades, monkeypatch) -> str:
    """What nbgrader's CsvExportPlugin writes for `grades` put into nbgrader's own database."""
    # nbgrader's database runs the `alembic` script of its environment to set up its tables.
    monkeypatch.setenv("PATH",
                       f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    db = f"sqlite:///{tmp_path / 'nbgrader.db'}"
    with NbgraderGradebook(db, course_id="dlcourse") as gb:
        gb.add_assignment(ASSIGNMENT, duedate=grades.deadline.due.replace(tzinfo=None))
        gb.add_notebook(ASSIGNMENT, ASSIGNMENT)
        first = next(r for r in grades.results if r.tests)
        for t in first.tests:
            gb.add_grade_cell(t.name, ASSIGNMENT, ASSIGNMENT, max_score=t.max_points,
                              cell_type="code")
        for s in grades.roster:
            gb.add_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email)
        for r in grades.results:
            gb.add_submission(ASSIGNMENT, r.student, timestamp=r.submitted_at)
            points = {t.name: t.points for t in r.tests}
            for t in first.tests:
                grade = gb.find_grade(t.name, ASSIGNMENT, ASSIGNMENT, r.student)
                grade.auto_score = points.get(t.name, 0.0)
            notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, r.student)
            notebook.late_submission_penalty = r.late_penalty
        gb.db.commit()
        plugin = CsvExportPlugin(to=str(tmp_path / "nbgrader_grades.csv"))
        plugin.export(gb)
    return (tmp_path / "nbgrader_grades.csv").read_text()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_csv_equals_nbgrader_export(tmp_path, results, roster, deadlines, monkeypatch):
    grades = grades_for(ASSIGNMENT, results, roster=roster, deadlines=deadlines)
    [path] = export("csv", grades, tmp_path / "out")["csv"]
    ours = path.read_text()
    assert ours == nbgrader_csv(tmp_path, grades, monkeypatch)
    lines = ours.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 1 + len(roster)
    alice = next(line for line in lines if ",alice," in line).split(",")
    # 6 points, submitted 10 hours after the due date: one started day at 10% of 6 points.
    assert alice[COLUMNS.index("raw_score")] == "6.0"
    assert alice[COLUMNS.index("late_submission_penalty")] == "0.6"
    assert alice[COLUMNS.index("score")] == "5.4"
    dave = next(line for line in lines if ",dave," in line).split(",")
    assert dave[COLUMNS.index("timestamp")] == "" and dave[COLUMNS.index("score")] == "0.0"


def test_csv_without_roster_or_deadline(tmp_path, results):
    grades = grades_for(ASSIGNMENT, results)
    [path] = export("csv", grades, tmp_path)["csv"]
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    assert [r[COLUMNS.index("student_id")] for r in rows] == ["alice", "bob", "carol"]
    assert all(r[COLUMNS.index("duedate")] == "" for r in rows)
    assert [r[COLUMNS.index("score")] for r in rows] == ["6.0", "3.5", "0.0"]
    assert datetime.fromisoformat(rows[0][COLUMNS.index("timestamp")]) == datetime(2026, 12, 2, 10)


def test_csv_numbers_are_rounded_to_6_decimals(tmp_path):
    """Partial points and a late penalty whose float arithmetic leaves noise: 0.1 + 0.2 points
    of 0.1 + 0.2 + 2.5, less 0.2 after 2.8 points. Printed raw before: 0.30000000000000004,
    2.8000000000000003 and 2.5999999999999996."""
    tests = (Cell("a", 0.1, 0.1, True), Cell("b", 0.2, 0.2, True),
             Cell("c", 0.0, 2.5, False))
    noisy = SubmissionResult(ASSIGNMENT, "erin", tests)
    late = SubmissionResult(ASSIGNMENT, "fay", (Cell("a", 0.7, 0.7, True),
                                                Cell("b", 2.1, 2.1, True)), late_penalty=0.2)
    [path] = export("csv", grades_for(ASSIGNMENT, [noisy, late]), tmp_path)["csv"]
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    rows = {r[COLUMNS.index("student_id")]: r for r in (line.split(",") for line in lines[1:])}
    numbers = ("raw_score", "late_submission_penalty", "score", "max_score")
    assert [rows["erin"][COLUMNS.index(c)] for c in numbers] == ["0.3", "0.0", "0.3", "2.8"]
    assert [rows["fay"][COLUMNS.index(c)] for c in numbers] == ["2.8", "0.2", "2.6", "2.8"]
