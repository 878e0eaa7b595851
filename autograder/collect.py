"""Collect submissions into an nbgrader course: submitted/<student>/<assignment>/<notebook>.ipynb.

Two sources are understood:

- an LMS download, as a .zip or an unpacked folder, with Canvas's file names
  ``<name>_[LATE_]<canvas user id>_<submission id>_<file name>`` (Canvas adds ``-1``, ``-2`` to a
  resubmitted file's name); the roster maps the Canvas user id to the course's student id;
- a folder (or a zip) with one sub-folder per student id, holding the notebooks and nbgrader's
  ``timestamp.txt`` where there is one.

A submission's time is what nbgrader's ``timestamp.txt`` says, or for a Canvas download what the
Canvas API's list of submissions says (``read_times``: its ``submitted_at``). Never a file's own
time: Canvas stamps every zip entry with the moment it made the zip, and a copied file's
modification time is the copy's. Without a time a submission is on time, except that Canvas marks
late files LATE by each student's own due date: a LATE file under a late policy needs its time.

Each collected submission with a time gets a ``timestamp.txt`` in nbgrader's format, which the
grader records as the submission time and the late policy (autograder.deadlines) reads. Duplicates
(several files for one notebook of one student: the latest is kept) and late files are reported.
Checkpoints and the notebooks of the course's other assignments are skipped, and so is the work of
Canvas's Test Student (the user Student View makes): its files are named ``studenttest_<id>_...``
after its "Student, Test"; they are skipped, with a note, where its Canvas id is not on the roster
(or is the one a gradebook export's roster left out, ``Roster.test_students``), so that a real
student called Test Student, who is on the roster, is collected as any other.

For a group assignment, given the groups, each member without a submission of their own gets a
copy of the group's (``autograder.groups``), and the report says so. Every check runs
before anything is written, so a roster that lacks a student leaves the course untouched.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.deadlines import Deadline, check_extensions, parse_time, read_timestamp
from autograder.groups import shared_with_group
from autograder.roster import Roster, check_student_id, read_text
from autograder.settings import exchange_timezone
from toolkit.files import atomic_dir, why_not_written

#: Canvas's name for a downloaded submission file (the name part may hold underscores; Canvas turns
#: any "_<digits>_" in it into "-<digits>-").
CANVAS_NAME = re.compile(r"^(?P<name>[^/]+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_"
                         r"(?P<file>[^/]+)$")
#: The name part of the Test Student's files: Canvas's "Student, Test" without its punctuation.
TEST_STUDENT_NAME = "studenttest"
#: The "-1", "-2" Canvas appends to a file submitted again under the same name.
_RESUBMITTED = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)(?P<ext>\.[^.]+)$")


@dataclass(frozen=True)
class Found:
    """One submitted notebook file, before it is copied into the course."""

    student: str
    notebook: str                 # the file name it gets in the course (the released notebook's)
    source: str                   # where it came from (file name or zip member)
    timestamp: datetime | None    # when it was submitted; None where nothing says
    marked_late: bool = False     # Canvas put LATE in its name
    order: int = 0                # Canvas's submission id or the file's position: later wins
    from_canvas: bool = False     # named as in a Canvas download (which marks late files LATE)

    @property
    def sequence(self) -> tuple[datetime, int]:
        """Where it stands among one student's files: the later wins (untimed ones first)."""
        return (self.timestamp or datetime.min.replace(tzinfo=timezone.utc), self.order)


@dataclass
class CollectReport:
    """What `collect` did and what the instructor should look at."""

    collected: list[Found] = field(default_factory=list)
    duplicates: list[tuple[Found, Found]] = field(default_factory=list)   # (kept, dropped)
    late: list[tuple[Found, int]] = field(default_factory=list)           # (file, days late)
    skipped: list[tuple[str, str]] = field(default_factory=list)          # (file, why)
    shared: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (group, from, to)
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


def other_assignments(course_dir: Path, assignment: str) -> dict[str, str]:
    """The course's other assignments by their names and their notebooks' file names (but for
    a file name this assignment's notebooks share)."""
    mine = expected_notebooks(course_dir, assignment)
    others: dict[str, str] = {}
    for part in ("source", "release"):
        for folder in sorted((course_dir / part).glob("*")):
            if folder.is_dir() and folder.name != assignment:
                others.setdefault(folder.name, folder.name)
                for nb in folder.glob("*.ipynb"):
                    if nb.name not in mine:
                        others.setdefault(nb.name, folder.name)
    return others


def _original_name(file_name: str) -> str:
    """``file_name`` without the "-1", "-2" Canvas appends to a file submitted again."""
    m = _RESUBMITTED.match(file_name)
    return m["stem"] + m["ext"] if m else file_name


def _notebook_name(file_name: str, expected: set[str]) -> str | None:
    """The expected notebook `file_name` stands for, undoing Canvas's "-1" resubmission suffix."""
    for name in (file_name, _original_name(file_name)):
        if name in expected:
            return name
    if len(expected) == 1 and file_name.endswith(".ipynb"):
        return next(iter(expected))   # one notebook per assignment: students rename it freely
    return None


def _unwanted(parts: list[str], others: dict[str, str]) -> str | None:
    """Why a file at ``parts`` is not a submission of this assignment (None if it may be)."""
    name = parts[-1]
    if ".ipynb_checkpoints" in parts or name.endswith("-checkpoint.ipynb"):
        return "a Jupyter checkpoint, not the notebook"
    for part in [*parts[:-1], name, _original_name(name)]:
        if part in others:
            return f"belongs to the assignment {others[part]}"
    return None


def _read_entries(source: Path, zone: str) -> list[tuple[str, datetime | None, bytes]]:
    """(relative path, submission time, content) of every file in a zip or folder: the time of
    the nbgrader timestamp.txt beside it (read as stamped in ``zone``), else None."""
    files: list[tuple[str, bytes]] = []
    stamps: dict[str, datetime] = {}
    if source.is_file():
        try:
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    data = zf.read(info)
                    folder, _, name = info.filename.rpartition("/")
                    if name == "timestamp.txt":
                        stamps[folder] = read_timestamp(source / info.filename, zone,
                                                        data.decode("utf-8", "replace"))
                    else:
                        files.append((info.filename, data))
        except zipfile.BadZipFile as error:
            raise ValueError(f"{source} is not a zip file ({error}): give a Canvas download .zip "
                             "or a folder") from error
    elif source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = path.relative_to(source).as_posix()
            if path.name == "timestamp.txt":
                stamps[rel.rpartition("/")[0]] = read_timestamp(path, zone)
            else:
                files.append((rel, path.read_bytes()))
    else:
        raise ValueError(f"{source} does not exist: give a Canvas download .zip or a folder of "
                         "submissions")
    return [(rel, stamps.get(rel.rpartition("/")[0]), data) for rel, data in files]


def read_times(path: str | Path, roster: Roster) -> dict[str, datetime]:
    """When each student submitted, by course student id, from the Canvas API's list of an
    assignment's submissions (``GET /api/v1/courses/:course/assignments/:assignment/submissions``,
    saved as JSON: each entry's ``user_id`` and ``submitted_at``) or a CSV with the columns
    ``canvas_id`` (or ``id``, the course's) and ``submitted_at``. Entries without a time (not
    submitted) are left out, and so are those of the Test Student a gradebook export's roster
    left out."""
    path = Path(path)
    text = read_text(path, "the submission times")
    if path.suffix.lower() == ".json":
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not JSON ({error}): save the Canvas API's submissions "
                             "list as it comes") from None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(f"{path} is not a list of submissions (objects with user_id and "
                             "submitted_at)")
        rows = [{"canvas_id": str(e.get("user_id", "")), "submitted_at": e.get("submitted_at")}
                for e in entries]
    else:
        rows = list(csv.DictReader(text.splitlines()))
        if rows and ("submitted_at" not in rows[0] or not {"id", "canvas_id"} & set(rows[0])):
            raise ValueError(f"{path} needs the columns submitted_at and canvas_id (or id); it has "
                             f"{', '.join(rows[0])}")
    times: dict[str, datetime] = {}
    for number, row in enumerate(rows, start=1):
        when = row.get("submitted_at")
        if not when or (not row.get("id")
                        and str(row.get("canvas_id", "")).strip() in roster.test_students):
            continue
        student = (roster.get(str(row["id"]).strip()) if row.get("id")
                   else roster.by_canvas_id(str(row.get("canvas_id", "")).strip()))
        if student is None:
            raise ValueError(f"{path}, entry {number}: no student on the roster has "
                             f"{'id' if row.get('id') else 'canvas_id'} "
                             f"{row.get('id') or row.get('canvas_id')!r}")
        try:
            times[student.id] = parse_time(str(when))
        except ValueError as error:
            raise ValueError(f"{path}, entry {number}: {error}") from None
    return times


def find_submissions(source: Path, expected: set[str], roster: Roster | None, zone: str = "UTC",
                     others: dict[str, str] | None = None,
                     times: dict[str, datetime] | None = None,
                     groups: dict[str, list[str]] | None = None,
                     ) -> tuple[list[Found], dict[tuple[str, str], bytes], CollectReport]:
    """Match every file of `source` to a student and a notebook; raise ValueError on unknown
    students. nbgrader's timestamp.txt files are read as stamped in ``zone``; ``others``: the
    course's other assignments and notebooks (``other_assignments``), whose files are skipped;
    ``times``: Canvas submission times by student id (``read_times``); ``groups``: the members of
    each group (``groups.read_groups``), who share their group's submission."""
    report = CollectReport()
    found: list[Found] = []
    content: dict[Found, bytes] = {}
    unknown: list[str] = []
    for position, (rel, ts, data) in enumerate(_read_entries(source, zone)):
        parts = rel.split("/")
        name = parts[-1]
        if name.startswith(".") or "__MACOSX" in parts:
            continue
        m = CANVAS_NAME.match(name)
        why = _unwanted([*parts[:-1], m["file"] if m else name], others or {})
        if why:
            report.skipped.append((rel, why))
            continue
        if m:
            if roster is None:
                raise ValueError(f"{name} is a Canvas download name: pass --roster roster.csv with "
                                 "a canvas_id column to map Canvas user ids to students")
            student = roster.by_canvas_id(m["user"])
            if student is None and (m["user"] in roster.test_students
                                    or m["name"] == TEST_STUDENT_NAME):
                report.skipped.append((rel, "Canvas's Test Student (Student View), not a student "
                                            "on the roster"))
                continue
            if student is None:
                unknown.append(f"canvas user {m['user']} ({m['name']}, file {name})")
                continue
            student_id, file_name, late, order = (student.id, m["file"], bool(m["late"]),
                                                  int(m["submission"]))
            ts = (times or {}).get(student_id, ts)
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
    for f in sorted(found, key=lambda f: f.sequence):
        key = (f.student, f.notebook)
        if key in keep:
            report.duplicates.append((f, keep[key]))
        keep[key] = f
    copies, report.shared = shared_with_group(list(keep.values()), groups or {})
    for copy, original in copies.items():
        keep[(copy.student, copy.notebook)] = copy
        content[copy] = content[original]
    report.collected = sorted(keep.values(), key=lambda f: (f.student, f.notebook))
    return report.collected, {k: content[f] for k, f in keep.items()}, report


def nbgrader_timestamp(ts: datetime) -> str:
    """The timestamp.txt text nbgrader writes ("%Y-%m-%d %H:%M:%S.%f %Z")."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def collect(source: str | Path, course_dir: str | Path, assignment: str, *,
            roster: Roster | None = None, deadline: Deadline | None = None,
            times: dict[str, datetime] | None = None,
            groups: dict[str, list[str]] | None = None) -> CollectReport:
    """Copy the submissions in `source` into `course_dir`/submitted and report duplicates and late
    work; ``times``: when each student submitted, for a Canvas download (``read_times``);
    ``groups``: the members of each group, for a group assignment (``groups.read_groups``)."""
    source, course_dir = Path(source), Path(course_dir)
    expected = expected_notebooks(course_dir, assignment)
    collected, content, report = find_submissions(
        source, expected, roster, exchange_timezone(course_dir),
        other_assignments(course_dir, assignment), times, groups)
    if not collected:
        raise ValueError(f"no submission of {assignment!r} found in {source} "
                         f"(looked for {', '.join(sorted(expected))}); nothing was written")
    if deadline is not None and roster is not None:
        check_extensions({assignment: deadline}, roster.students)
    untimed_late = sorted({f.student for f in collected if f.marked_late and f.timestamp is None})
    if untimed_late and deadline is not None and deadline.policy != "none":
        raise ValueError(
            f"Canvas marks the work of {', '.join(untimed_late)} LATE, and {assignment} takes off "
            "points for lateness, but a Canvas download holds no submission times (it stamps every "
            "file with the moment it made the zip): give them with --times, the Canvas API's "
            "list of the assignment's submissions saved as JSON (GET /api/v1/courses/<course>/"
            "assignments/<assignment>/submissions), or a CSV of canvas_id and submitted_at; "
            "nothing was written")
    untimed = sorted({f.student for f in collected if f.timestamp is None and not f.from_canvas})
    if untimed and deadline is not None:
        report.warnings.append(f"no submission time for {', '.join(untimed)} (no nbgrader "
                               "timestamp.txt beside the notebook): counted as on time")
    for f in collected:
        days = (deadline.for_student(f.student).days_late(f.timestamp)
                if deadline is not None and f.timestamp is not None else 0)
        if f.marked_late and f.timestamp is not None and deadline is not None and days == 0:
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
                known = [f.timestamp for f in mine if f.timestamp is not None]
                if known:
                    (tmp / "timestamp.txt").write_text(nbgrader_timestamp(max(known)) + "\n")
        except OSError as error:
            with contextlib.suppress(OSError):
                folder.rmdir()  # made for this submission, and empty
            raise ValueError(
                f"cannot collect {student}'s submission: "
                f"{why_not_written(error, course_dir / 'submitted')}; {done} of "
                f"{len(report.students)} student(s) were collected before it, each whole. "
                "Collecting again replaces them") from None
    return report
