"""Gradescope's autograder results.json, one per submission.

The schema of Gradescope's autograder specification: a top-level ``score`` (it overrides the sum of
the tests, so it carries the late penalty), ``output``, ``visibility`` and ``tests``, each test with
``score``, ``max_score``, ``status``, ``name``, ``output`` and ``visibility``. Hidden tests are
``after_published``: students see their name and points once grades are published, never their code
(the engine's message only, no captured output).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.export import Grades, atomic_dir
from autograder.results import SubmissionResult


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


def write(grades: Grades, out: Path) -> list[Path]:
    """Write <out>/gradescope/<assignment>/<student>/results.json for every submission."""
    target = out / "gradescope" / grades.assignment
    with atomic_dir(target) as tmp:
        for result in grades.results:
            (tmp / result.student).mkdir()
            with open(tmp / result.student / "results.json", "w", encoding="utf-8") as fh:
                json.dump(results_json(result), fh, indent=2)
    return [target / r.student / "results.json" for r in grades.results]
