"""The class list: who the students are, by the course's id and by their LMS ids.

Two formats are read, told apart by their header row.

A roster CSV: only ``id`` is required; the other columns are used where they exist (Canvas exports
need ``canvas_id``; nbgrader's CSV has names and email):

    id,last_name,first_name,email,canvas_id,sis_user_id,sis_login_id,section
    jdoe,Doe,Jane,jdoe@example.edu,12345,2026001,jdoe,Section 1

Canvas's gradebook export (Grades > Export > CSV), whose header starts ``Student,ID`` (or
``LastName,FirstName,ID``), then ``SIS User ID``, ``SIS Login ID``, ``Section`` where Canvas gives
them and the assignments' columns, which are ignored; its ``Points Possible`` row and the
``Manual Posting`` row newer exports put before it are not students. Names are "Last, First".
Each student's id is the Canvas user ID (``ID``), which is also its ``canvas_id``: it is the one
key every row has (the SIS columns are empty for students enrolled by hand and absent where the
exporter may not see SIS data), never changes or is reused (a login can be renamed, and may be an
email), is always a plain folder name, and is what both ends of the workflow match on: the
download's file names (``collect``) and the ID column of the Canvas CSV the grades go back in
(``autograder.export.canvas``, which writes the Student, ID, SIS and Section cells read here, so
Canvas matches every row). Readable ids take a roster CSV: copy the export's columns into one,
with ``id`` as you like and ``canvas_id`` the export's ID.

Canvas's Test Student (the user Student View makes, "Student, Test") is left out of a gradebook
export's roster, and its Canvas id kept in ``Roster.test_students`` so that ``collect`` skips its
work. Only the row Canvas makes is left out: that user has no SIS User ID and, for a login, an
HMAC-SHA1 digest Canvas makes up (40 hex digits; none in old courses); a real student called Test
Student has a login of their own and stays. A roster CSV is the instructor's list and is taken
as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The columns a roster may have, in the order `write_roster` writes them.
COLUMNS = ("id", "last_name", "first_name", "email", "canvas_id", "sis_user_id", "sis_login_id",
           "section")

#: Canvas's gradebook export columns a roster takes, by the Student field they fill.
CANVAS_COLUMNS = {"canvas_id": "ID", "sis_user_id": "SIS User ID", "sis_login_id": "SIS Login ID",
                  "section": "Section"}

#: (last name, first name) of a gradebook export's rows without an ID that are not students: the
#: Points Possible row, the Manual Posting row before it (its text in the first cell or only under
#: the assignments), a row of empty cells.
_NOT_STUDENTS = {("Points Possible", ""), ("Manual Posting", ""), ("", "")}

#: The login Canvas gives its Test Student: an HMAC-SHA1 hex digest, never a person's login.
_TEST_STUDENT_LOGIN = re.compile(r"^[0-9a-f]{40}$")

#: A student id must be usable as a folder name in an nbgrader course (submitted/<id>/...).
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


@dataclass(frozen=True)
class Student:
    """One row of the roster."""

    id: str
    last_name: str = ""
    first_name: str = ""
    email: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def sortable_name(self) -> str:
        """'Last, First' as Canvas shows it; the id where the roster has no names."""
        if self.last_name or self.first_name:
            return ", ".join(p for p in (self.last_name, self.first_name) if p)
        return self.id


def check_student_id(student_id: str) -> str:
    """Return `student_id` if it is a safe folder name, else raise ValueError naming it."""
    if not _SAFE_ID.match(student_id) or student_id in (".", ".."):
        raise ValueError(f"student id {student_id!r} is not a plain name: use letters, digits and "
                         "._@+- only (it becomes a folder name in the course)")
    return student_id


class Roster:
    """Students by course id, with look-ups by Canvas id; ``test_students``: the Canvas ids of
    Canvas's Test Student, left out of a gradebook export's roster."""

    def __init__(self, students: list[Student], test_students: Iterable[str] = ()) -> None:
        self.test_students = frozenset(test_students)
        self.students: dict[str, Student] = {}
        self._by_canvas: dict[str, Student] = {}
        for s in students:
            check_student_id(s.id)
            if s.id in self.students:
                raise ValueError(f"roster lists student id {s.id!r} twice: keep one row per "
                                 "student")
            self.students[s.id] = s
            if s.canvas_id:
                if s.canvas_id in self._by_canvas:
                    raise ValueError(f"roster gives canvas_id {s.canvas_id!r} to both "
                                     f"{self._by_canvas[s.canvas_id].id!r} and {s.id!r}")
                self._by_canvas[s.canvas_id] = s

    def __contains__(self, student_id: object) -> bool:
        return student_id in self.students

    def __iter__(self):
        return iter(self.students.values())

    def __len__(self) -> int:
        return len(self.students)

    def get(self, student_id: str) -> Student | None:
        """The student with course id `student_id`, or None."""
        return self.students.get(student_id)

    def by_canvas_id(self, canvas_id: str) -> Student | None:
        """The student whose Canvas user id is `canvas_id`, or None."""
        return self._by_canvas.get(canvas_id)

    def require(self, student_ids, what: str = "the gradebook") -> None:
        """Raise ValueError naming every id in `student_ids` that the roster lacks."""
        missing = sorted(set(student_ids) - set(self.students))
        if missing:
            raise ValueError(f"roster is missing {len(missing)} student(s) found in {what}: "
                             f"{', '.join(missing)}; add them to the roster CSV and run again")


def read_roster(path: str | Path) -> Roster:
    """Read a roster CSV (header row with at least an ``id`` column) or Canvas's gradebook
    export (header row starting ``Student,ID``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"roster {path} does not exist: give a CSV with an 'id' column or "
                         "Canvas's gradebook export (Grades > Export > CSV)")
    text = read_text(path, "roster")
    delimiter = _canvas_gradebook_delimiter(text.partition("\n")[0])
    if delimiter is not None:
        return _read_canvas_gradebook(path, text, delimiter)
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "id" not in header:
            raise ValueError(f"roster {path} has no 'id' column and is not a Canvas gradebook "
                             f"export (its columns: {', '.join(header) or 'none'}): give a CSV "
                             f"whose header has id (and any of {', '.join(COLUMNS[1:])}), or "
                             "Canvas's Grades > Export > CSV, whose header starts Student,ID")
        students = []
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            if not any(row.values()):
                continue          # a row of empty cells, as spreadsheets leave at the end
            if not row.get("id"):
                raise ValueError(f"roster {path}, line {reader.line_num}: empty id")
            students.append(Student(**{c: row.get(c, "") for c in COLUMNS}))
    return Roster(students)


def read_text(path: str | Path, what: str) -> str:
    """The text of an instructor's file (a roster, the submission times, the groups: CSV or
    JSON, often saved from Excel), a byte-order mark dropped; ValueError naming ``what`` and the
    fix where it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path} is not UTF-8 ({error.reason} at byte {error.start}): "
                         "save it as \"CSV UTF-8\" (Excel) or UTF-8 text") from None
    except OSError as error:
        raise ValueError(f"cannot read {what} {path}: {error.strerror or error}") from None


def _canvas_gradebook_delimiter(header_line: str) -> str | None:
    """The field separator of a Canvas gradebook export's header line (Canvas writes commas, or
    the semicolons or tabs a user's locale or setting asks for); None for any other header."""
    for delimiter in ",;\t":
        cells = [c.strip() for c in next(csv.reader([header_line], delimiter=delimiter), [])]
        if cells[:2] == ["Student", "ID"] or cells[:3] == ["LastName", "FirstName", "ID"]:
            return delimiter
    return None


def _read_canvas_gradebook(path: Path, text: str, delimiter: str) -> Roster:
    """The students of a Canvas gradebook export, by Canvas user id, less Canvas's Test
    Student."""
    students, test_students = [], []
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            if "Student" in row:
                last, _, first = row["Student"].partition(",")
            else:
                last, first = row.get("LastName", ""), row.get("FirstName", "")
            last, first = last.strip(), first.strip()
            canvas_id = row.get("ID", "")
            if not canvas_id and (last, first) in _NOT_STUDENTS:
                continue
            if not (canvas_id.isascii() and canvas_id.isdigit()):
                who = ", ".join(p for p in (last, first) if p) or "a row"
                raise ValueError(f"roster {path}, line {reader.line_num}: {who} has ID "
                                 f"{canvas_id!r}, not a Canvas user id: export the gradebook "
                                 "from Canvas again, or write a roster CSV with an id column")
            login = row.get("SIS Login ID", "")
            if ((last, first) == ("Student", "Test") and not row.get("SIS User ID")
                    and (not login or _TEST_STUDENT_LOGIN.match(login))):
                test_students.append(canvas_id)
                continue
            students.append(Student(canvas_id, last, first, **{
                field: row.get(column, "") for field, column in CANVAS_COLUMNS.items()}))
    return Roster(students, test_students)


def write_roster(path: str | Path, students: list[Student]) -> None:
    """Write `students` as a roster CSV that `read_roster` reads back."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for s in students:
            writer.writerow([getattr(s, c) for c in COLUMNS])
