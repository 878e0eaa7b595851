"""Exports of an assignment's grades: nbgrader CSV, Canvas CSV, Gradescope results.json, HTML.

Every exporter module renders a checked `Grades` (built by `grades_for`) to {path: text} in memory;
`export` writes them through `atomic_file` / `atomic_dir`, so each format is written whole or not
at all.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from autograder.deadlines import Deadline, check_extensions, with_late_penalty
from autograder.results import SubmissionResult
from autograder.roster import Roster, check_student_id
from toolkit.files import atomic_dir, atomic_file, why_not_written

#: The formats `autograder export --to` accepts, and the module that writes each.
FORMATS = {
    "csv": "autograder.export.csv_grades",
    "canvas": "autograder.export.canvas",
    "gradescope": "autograder.export.gradescope",
    "html": "autograder.export.html",
}


@dataclass(frozen=True)
class Grades:
    """One assignment's results (late penalties applied), its roster and its due date."""

    assignment: str
    results: tuple[SubmissionResult, ...]
    roster: Roster | None = None
    deadline: Deadline | None = None
    max_score: float = 0.0

    def by_student(self) -> dict[str, SubmissionResult]:
        """The results by student id."""
        return {r.student: r for r in self.results}

    def student_ids(self) -> list[str]:
        """Everyone with a result or on the roster, sorted."""
        ids = {r.student for r in self.results}
        if self.roster is not None:
            ids |= set(self.roster.students)
        return sorted(ids)


def grades_for(assignment: str, results: list[SubmissionResult], *, roster: Roster | None = None,
               deadlines: dict[str, Deadline] | None = None,
               max_score: float | None = None) -> Grades:
    """Check `results` belong to `assignment` and to students on `roster`; apply late penalties."""
    deadlines = deadlines or {}
    others = sorted({r.assignment for r in results} - {assignment})
    if others:
        raise ValueError(f"results for assignment(s) {', '.join(others)} were given to the export "
                         f"of {assignment!r}")
    for r in results:
        check_student_id(r.student)
    students = [r.student for r in results]
    duplicated = sorted({s for s in students if students.count(s) > 1})
    if duplicated:
        raise ValueError(f"more than one result for student(s) {', '.join(duplicated)} in "
                         f"{assignment!r}")
    if roster is not None:
        roster.require(students, what=f"the results of {assignment!r}")
        check_extensions(deadlines, roster.students)
    results = [with_late_penalty(r, deadlines) for r in sorted(results, key=lambda r: r.student)]
    if max_score is None:
        max_score = max((r.max_score for r in results), default=0.0)
    return Grades(assignment, tuple(results), roster, deadlines.get(assignment), float(max_score))


def export(formats: list[str] | str, grades: Grades, out: str | Path, *,
           settings: dict[str, dict] | None = None) -> dict[str, list[Path]]:
    """Write `grades` in each of `formats` (keys of FORMATS) under `out`; return the files by
    format. `settings` gives a format's render keyword arguments ({"canvas": {"column": ...}}).

    Every format is rendered in memory first, so a problem with any of them (a roster without Canvas
    ids, say) raises before a single file is written. Each format then replaces its own files or
    folder atomically; a write that fails (a full disk) raises ValueError, which names the formats
    written whole before it.
    """
    formats = [formats] if isinstance(formats, str) else list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown export format {', '.join(unknown) or '(none)'}: use "
                         f"{', '.join(FORMATS)}")
    modules = [importlib.import_module(FORMATS[f]) for f in formats]
    settings = settings or {}
    rendered = [(f, m, m.render(grades, **settings.get(f, {}))) for f, m in zip(formats, modules)]
    out = Path(out)
    written: dict[str, list[Path]] = {}
    for fmt, module, files in rendered:
        try:
            _write(module, files, out, grades.assignment)
        except OSError as error:
            left = [f for f, _, _ in rendered if f != fmt and f not in written]
            raise ValueError(
                f"cannot write the {fmt} export: {why_not_written(error, out)}. Written whole "
                f"before it: {', '.join(written) or 'none'}; not written: "
                f"{', '.join([fmt, *left])}") from None
        written[fmt] = [out / rel for rel in files]
    return written


def _write(module: ModuleType, files: dict[str, str | bytes], out: Path, assignment: str) -> None:
    """Write one format's ``files`` under ``out``: each file atomically, or its ``FOLDER`` as a
    whole."""
    folder = getattr(module, "FOLDER", None)
    if folder is None:
        for rel, data in files.items():
            with atomic_file(out / rel, "wb") as fh:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        return
    folder = folder.format(assignment=assignment)
    with atomic_dir(out / folder) as tmp:
        for rel, data in files.items():
            inner = Path(rel).relative_to(folder)
            (tmp / inner).parent.mkdir(parents=True, exist_ok=True)
            (tmp / inner).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
