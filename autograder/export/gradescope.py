"""Gradescope's autograder results.json, one per submission.

The schema of Gradescope's autograder specification: a top-level ``score`` (it overrides the sum of
the tests, so it carries the late penalty), ``output``, ``visibility`` and ``tests``, each test with
``score``, ``max_score``, ``status``, ``name``, ``output`` and ``visibility``. Hidden tests are
``after_published``: students see their name and points once grades are published, never their code
(the engine's message only, no captured output).
"""

from __future__ import annotations

import json
from typing import Any

from autograder.export import Grades
from autograder.results import SubmissionResult

#: The folder this export owns and replaces as a whole.
FOLDER = "gradescope/{assignment}"


def results_json(result: SubmissionResult) -> dict[str, Any]:
    """The results.json object of one submission."""
    tests = []
    for number, t in enumerate(result.tests, start=1):
        if t.hidden:
            output = t.message or ("passed" if t.passed else "failed")
            output += "\n(hidden test: its code is not shown)"
        else:
            output = "\n".join(p for p in (t.message, t.output) if p)
        tests.append({"score": float(t.points), "max_score": float(t.max_points),
                      "status": "passed" if t.passed else "failed", "name": t.name,
                      "number": str(number), "output": output,
                      "visibility": "after_published" if t.hidden else "visible"})
    notes = []
    if result.status == "failed":
        notes.append(f"The notebook could not be graded: {result.error}")
    elif result.status == "missing":
        notes.append("No submission was found.")
    if result.late_penalty:
        notes.append(f"Late penalty: -{result.late_penalty:g} points.")
    if result.flags:
        notes.append("Flagged for review: " + ", ".join(result.flags))
    return {"score": float(result.score) if result.status == "graded" else 0.0,
            "execution_time": round(float(result.duration_s), 3),
            "output": "\n".join(notes), "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


def render(grades: Grades) -> dict[str, str]:
    """gradescope/<assignment>/<student>/results.json for every submission."""
    folder = FOLDER.format(assignment=grades.assignment)
    return {f"{folder}/{r.student}/results.json": json.dumps(results_json(r), indent=2)
            for r in grades.results}
