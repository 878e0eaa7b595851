"""Sample submissions for the demo, made from an assignment's own notebooks so they never go stale.

Four students hand in the released notebook: ``right`` fills in every solution from the source,
``partial`` the first half of them, ``late`` is right but two days after the due date, and
``hostile`` does no work: its functions return their input and an extra cell monkeypatches NumPy's
and the course's checks to pass everything and tries to read the instructor's files. A fifth student
on the roster hands in nothing. They come as a Canvas "Download Submissions" zip (every entry
stamped with the moment the zip was made, as Canvas stamps them) with a roster and the submission
times as the Canvas API lists them, so the demo runs the instructor's whole workflow: collect,
grade, status, export.

Usage: python -m autograder.samples ASSIGNMENT --course DIR --zip OUT.zip --roster OUT.csv
       --times OUT.json
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import nbformat

from autograder.roster import Student, write_roster

#: The demo's due date, written to the course's deadlines.toml with 10% off per started day late.
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc)
#: When the demo's Canvas download was made: a week after the due date.
DOWNLOADED = DUE + timedelta(days=7)

#: The extra cell of the hostile submission. Harmless where it runs: it only patches its own
#: process and reads (never writes) files.
HOSTILE_CELL = '''\
# Make every check pass instead of doing the work.
import builtins
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
try:
    import autograder.asserts as _checks
    for _name in dir(_checks):
        if _name.startswith("assert_"):
            setattr(_checks, _name, lambda *args, **kwargs: None)
except ImportError:
    pass
# Peek at the instructor's files: the source notebook with the hidden tests, the gradebook.
for _path in ("../../source", "../../autograder.sqlite", "../../../source"):
    try:
        print(open(_path).read(200))
    except Exception as _error:
        print("could not read", _path, type(_error).__name__)
'''

#: name, Canvas user id, submission id, hours after the due date (None: no submission).
STUDENTS = (
    ("right", "Ada", "Lovelace", "2001", "9001", -30.0),
    ("partial", "Alan", "Turing", "2002", "9002", -2.0),
    ("late", "Grace", "Hopper", "2003", "9003", 36.0),
    ("hostile", "Mallory", "Mischief", "2004", "9004", -1.0),
    ("absent", "Bart", "Simpson", "2005", "", None),
)

_STUB = re.compile(r"^(?P<indent>\s*)raise NotImplementedError\(\)\s*$")
_DEF = re.compile(r"^\s*def \w+\((?P<first>\w+)")
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def _solutions(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the source's solution cell with the BEGIN/END SOLUTION lines taken out."""
    return {c.metadata.nbgrader["grade_id"]: "\n".join(
                line for line in c.source.splitlines() if not _MARKER.match(line))
            for c in source.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def _returns_input(stub: str) -> str:
    """The stub with each `raise NotImplementedError()` replaced by returning the function's first
    argument."""
    lines, first = [], "None"
    for line in stub.splitlines():
        if m := _DEF.match(line):
            first = m["first"]
        if m := _STUB.match(line):
            line = f"{m['indent']}return {first}"
        lines.append(line)
    return "\n".join(lines)


def make_notebook(release: nbformat.NotebookNode, source: nbformat.NotebookNode, kind: str
                  ) -> nbformat.NotebookNode:
    """The released notebook as a student of `kind` (right, partial, late, hostile) hands it in."""
    nb = nbformat.from_dict(release)   # a deep copy
    solutions = _solutions(source)
    cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    filled = {"right": len(cells), "late": len(cells), "partial": (len(cells) + 1) // 2,
              "hostile": 0}[kind]
    for i, cell in enumerate(cells):
        grade_id = cell.metadata.nbgrader["grade_id"]
        if i < filled:
            cell.source = solutions[grade_id]
        elif kind == "hostile":
            cell.source = _returns_input(cell.source)
    if kind == "hostile":
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(HOSTILE_CELL))
    return nb


def write_samples(course_dir: str | Path, assignment: str, zip_path: str | Path,
                  roster_path: str | Path, times_path: str | Path) -> list[str]:
    """Write the Canvas-style zip of sample submissions, their roster and their submission times
    as the Canvas API lists them; return the submitters."""
    course_dir = Path(course_dir)
    release_dir = course_dir / "release" / assignment
    notebooks = sorted(release_dir.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"{release_dir} has no notebooks: run `autograder generate {assignment}` "
                         "first")
    submitters, times = [], []
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for login, _first, last, canvas_id, submission_id, hours in STUDENTS:
            when = None if hours is None else DUE + timedelta(hours=hours)
            times.append({"user_id": int(canvas_id), "late": bool(hours and hours > 0),
                          "submitted_at": when and when.strftime("%Y-%m-%dT%H:%M:%SZ")})
            if hours is None:
                continue
            for path in notebooks:
                release = nbformat.read(path, as_version=4)
                source = nbformat.read(course_dir / "source" / assignment / path.name, as_version=4)
                nb = make_notebook(release, source, login)
                late = "LATE_" if hours > 0 else ""
                name = f"{last.lower()}{login}_{late}{canvas_id}_{submission_id}_{path.name}"
                info = zipfile.ZipInfo(name, date_time=DOWNLOADED.timetuple()[:6])
                zf.writestr(info, nbformat.writes(nb))
            submitters.append(f"sample-{login}")
    Path(times_path).write_text(json.dumps(times, indent=1) + "\n", encoding="utf-8")
    write_roster(roster_path, [Student(f"sample-{login}", last, first, f"{login}@example.edu",
                                       canvas_id, f"S{canvas_id}", login, "Demo")
                               for login, first, last, canvas_id, _, _ in STUDENTS])
    return submitters


def write_deadline(course_dir: str | Path, assignment: str) -> Path:
    """Add the demo's due date (10% off per started day late) to the course's deadlines.toml."""
    path = Path(course_dir) / "deadlines.toml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if f"[{assignment}]" not in text:
        text += (f'\n[{assignment}]\ndue = {DUE.strftime("%Y-%m-%dT%H:%M:%SZ")}\n'
                 'policy = "per_day"\nper_day = 0.1\n')
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


@click.command()
@click.argument("assignment")
@click.option("--course", "course_dir", required=True, type=click.Path(file_okay=False))
@click.option("--zip", "zip_path", required=True, type=click.Path(dir_okay=False))
@click.option("--roster", "roster_path", required=True, type=click.Path(dir_okay=False))
@click.option("--times", "times_path", required=True, type=click.Path(dir_okay=False),
              help="where to write the submission times, as the Canvas API lists them (JSON).")
def main(assignment: str, course_dir: str, zip_path: str, roster_path: str,
         times_path: str) -> None:
    """Write sample submissions of ASSIGNMENT as a Canvas zip, their roster, their submission
    times and a due date."""
    try:
        submitters = write_samples(course_dir, assignment, zip_path, roster_path, times_path)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    deadlines = write_deadline(course_dir, assignment)
    click.echo(f"sample submissions ({', '.join(submitters)}) as a Canvas download: {zip_path}; "
               f"roster: {roster_path}; submission times: {times_path}; due date in {deadlines}")


if __name__ == "__main__":
    main()
