"""Collect submissions into an nbgrader course: submitted/<student>/<assignment>/<notebook>.ipynb.

Two sources are understood:

- an LMS download, as a .zip or an unpacked folder, with Canvas's file names
  ``<name>_[LATE_]<canvas user id>_<submission id>_<file name>`` (Canvas adds ``-1``, ``-2`` to a
  resubmitted file's name); the roster maps the Canvas user id to the course's student id; a zip
  entry's time is read as UTC;
- a folder with one sub-folder per student id, holding the notebooks (and nbgrader's
  ``timestamp.txt`` where there is one, else the file's modification time).

Each collected submission gets a ``timestamp.txt`` in nbgrader's format, which the grader records as
the submission time and the late policy (autograder.deadlines) reads. Duplicates (several files for
one notebook of one student: the latest is kept) and late files are reported. Every check runs
before anything is written, so a roster that lacks a student leaves the course untouched.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.deadlines import Deadline, check_extensions, read_timestamp
from autograder.roster import Roster, check_student_id
from autograder.settings import exchange_timezone
from toolkit.files import atomic_dir, why_not_written

#: Canvas's name for a downloaded submission file.
CANVAS_NAME = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_"
                         r"(?P<file>.+)$")
#: The "-1", "-2" Canvas appends to a file submitted again under the same name.
_RESUBMITTED = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)(?P<ext>\.[^.]+)$")


@dataclass(frozen=True)
class Found:
    """One submitted notebook file, before it is copied into the course."""

    student: str
    notebook: str                 # the file name it gets in the course (the released notebook's)
    source: str                   # where it came from (file name or zip member)
    timestamp: datetime
    marked_late: bool = False     # Canvas put LATE in its name
    order: int = 0                # Canvas's submission id or the file's position: later wins
    from_canvas: bool = False     # named as in a Canvas download (which marks late files LATE)


@dataclass
class CollectReport:
    """What `collect` did and what the instructor should look at."""

    collected: list[Found] = field(default_factory=list)
    duplicates: list[tuple[Found, Found]] = field(default_factory=list)   # (kept, dropped)
    late: list[tuple[Found, int]] = field(default_factory=list)           # (file, days late)
    skipped: list[tuple[str, str]] = field(default_factory=list)          # (file, why)
    warnings: list[str] = field(default_factory=list)

    @property
    def students(self) -> list[str]:
        """The students with a collected submission, sorted."""
        return sorted({f.student for f in self.collected})


def expected_notebooks(course_dir: Path, assignment: str) -> set[str]:
    """The notebook file names of `assignment` in the course's source (or release) folder."""
    for part in ("source", "release"):
        folder = course_dir / part / assignment
        if folder.is_dir():
            names = {p.name for p in folder.glob("*.ipynb")}
            if names:
                return names
    known = sorted(p.name for p in (course_dir / "source").glob("*") if p.is_dir())
    raise ValueError(f"unknown assignment {assignment!r}: {course_dir / 'source'} has no such "
                     f"folder with notebooks (known: {', '.join(known) or 'none'})")


def _notebook_name(file_name: str, expected: set[str]) -> str | None:
    """The expected notebook `file_name` stands for, undoing Canvas's "-1" resubmission suffix."""
    if file_name in expected:
        return file_name
    m = _RESUBMITTED.match(file_name)
    if m and m["stem"] + m["ext"] in expected:
        return m["stem"] + m["ext"]
    if len(expected) == 1 and file_name.endswith(".ipynb"):
        return next(iter(expected))   # one notebook per assignment: students rename it freely
    return None


def _read_entries(source: Path, zone: str) -> list[tuple[str, datetime, bytes]]:
    """(relative path, timestamp, content) of every file in a zip or folder (timestamp.txt files
    read as stamped in ``zone``)."""
    entries = []
    if source.is_file():
        try:
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    ts = datetime(*info.date_time, tzinfo=timezone.utc)
                    entries.append((info.filename, ts, zf.read(info)))
        except zipfile.BadZipFile as error:
            raise ValueError(f"{source} is not a zip file ({error}): give a Canvas download .zip "
                             "or a folder") from error
    elif source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = path.relative_to(source).as_posix()
            stamp = path.parent / "timestamp.txt"
            if stamp.is_file() and path.name != "timestamp.txt":
                ts = read_timestamp(stamp, zone)
            else:
                ts = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
            entries.append((rel, ts, path.read_bytes()))
    else:
        raise ValueError(f"{source} does not exist: give a Canvas download .zip or a folder of "
                         "submissions")
    return entries


def find_submissions(source: Path, expected: set[str], roster: Roster | None, zone: str = "UTC"
                     ) -> tuple[list[Found], dict[tuple[str, str], bytes], CollectReport]:
    """Match every file of `source` to a student and a notebook; raise ValueError on unknown
    students. nbgrader's timestamp.txt files are read as stamped in ``zone``."""
    report = CollectReport()
    found: list[Found] = []
    content: dict[Found, bytes] = {}
    unknown: list[str] = []
    for position, (rel, ts, data) in enumerate(_read_entries(source, zone)):
        parts = rel.split("/")
        name = parts[-1]
        if name == "timestamp.txt" or name.startswith(".") or "__MACOSX" in parts:
            continue
        m = CANVAS_NAME.match(name)
        if m:
            if roster is None:
                raise ValueError(f"{name} is a Canvas download name: pass --roster roster.csv with "
                                 "a canvas_id column to map Canvas user ids to students")
            student = roster.by_canvas_id(m["user"])
            if student is None:
                unknown.append(f"canvas user {m['user']} ({m['name']}, file {name})")
                continue
            student_id, file_name, late, order = (student.id, m["file"], bool(m["late"]),
                                                  int(m["submission"]))
        elif len(parts) >= 2:
            student_id, file_name, late, order = parts[0], name, False, position
            try:
                check_student_id(student_id)
            except ValueError as error:
                report.skipped.append((rel, str(error)))
                continue
            if roster is not None and student_id not in roster:
                unknown.append(f"student {student_id} (folder {parts[0]})")
                continue
        else:
            report.skipped.append((rel,
                                   "neither a Canvas download name nor inside a student's folder"))
            continue
        notebook = _notebook_name(file_name, expected)
        if notebook is None:
            report.skipped.append((rel, "not a notebook of this assignment "
                                        f"({', '.join(sorted(expected))})"))
            continue
        f = Found(student_id, notebook, rel, ts, late, order, from_canvas=bool(m))
        found.append(f)
        content[f] = data
    if unknown:
        raise ValueError(f"the roster is missing {len(unknown)} submitter(s): "
                         f"{'; '.join(unknown)}. Add them to the roster (id and canvas_id) and "
                         "collect again; nothing was written")
    keep: dict[tuple[str, str], Found] = {}
    for f in sorted(found, key=lambda f: (f.timestamp, f.order)):
        key = (f.student, f.notebook)
        if key in keep:
            report.duplicates.append((f, keep[key]))
        keep[key] = f
    report.collected = sorted(keep.values(), key=lambda f: (f.student, f.notebook))
    return report.collected, {k: content[f] for k, f in keep.items()}, report


def nbgrader_timestamp(ts: datetime) -> str:
    """The timestamp.txt text nbgrader writes ("%Y-%m-%d %H:%M:%S.%f %Z")."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def collect(source: str | Path, course_dir: str | Path, assignment: str, *,
            roster: Roster | None = None, deadline: Deadline | None = None) -> CollectReport:
    """Copy the submissions in `source` into `course_dir`/submitted and report duplicates and late
    work."""
    source, course_dir = Path(source), Path(course_dir)
    expected = expected_notebooks(course_dir, assignment)
    collected, content, report = find_submissions(source, expected, roster,
                                                  exchange_timezone(course_dir))
    if not collected:
        raise ValueError(f"no submission of {assignment!r} found in {source} "
                         f"(looked for {', '.join(sorted(expected))}); nothing was written")
    if deadline is not None and roster is not None:
        check_extensions({assignment: deadline}, roster.students)
    for f in collected:
        days = deadline.for_student(f.student).days_late(f.timestamp) if deadline else 0
        if f.marked_late and deadline is not None and days == 0:
            report.warnings.append(f"{f.source}: Canvas marks it LATE but its time "
                                   f"{f.timestamp.isoformat()} is within the due date; it is "
                                   "graded by its time")
        if f.from_canvas and not f.marked_late and days:
            report.warnings.append(f"{f.source}: its time {f.timestamp.isoformat()} is {days} "
                                   "day(s) past the due date, but Canvas does not mark it LATE "
                                   "(an extension given in Canvas?); it is graded late unless "
                                   f"deadlines.toml gives {f.student} one "
                                   f"([{assignment}.extensions])")
        if days or f.marked_late:
            report.late.append((f, days))
    for done, student in enumerate(report.students):
        mine = [f for f in collected if f.student == student]
        folder = course_dir / "submitted" / student
        try:
            with atomic_dir(folder / assignment) as tmp:
                for f in mine:
                    (tmp / f.notebook).write_bytes(content[(f.student, f.notebook)])
                (tmp / "timestamp.txt").write_text(
                    nbgrader_timestamp(max(f.timestamp for f in mine)) + "\n")
        except OSError as error:
            with contextlib.suppress(OSError):
                folder.rmdir()  # made for this submission, and empty
            raise ValueError(
                f"cannot collect {student}'s submission: "
                f"{why_not_written(error, course_dir / 'submitted')}; {done} of "
                f"{len(report.students)} student(s) were collected before it, each whole. "
                "Collecting again replaces them") from None
    return report
