"""The class list: who the students are, by the course's id and by their LMS ids.

A roster is a CSV file with a header row. Only ``id`` is required; the other columns are used where
they exist (Canvas exports need ``canvas_id``; nbgrader's CSV has names and email):

    id,last_name,first_name,email,canvas_id,sis_user_id,sis_login_id,section
    jdoe,Doe,Jane,jdoe@example.edu,12345,2026001,jdoe,Section 1
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

#: The columns a roster may have, in the order `write_roster` writes them.
COLUMNS = ("id", "last_name", "first_name", "email", "canvas_id", "sis_user_id", "sis_login_id",
           "section")

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
    """Students by course id, with look-ups by Canvas id."""

    def __init__(self, students: list[Student]) -> None:
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
    """Read a roster CSV (header row with at least an ``id`` column)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"roster {path} does not exist: give a CSV with an 'id' column")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"roster {path} is not UTF-8 ({error.reason} at byte {error.start}): "
                         "save it as \"CSV UTF-8\" (Excel) or UTF-8 text") from None
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "id" not in header:
            raise ValueError(f"roster {path} has no 'id' column (columns: "
                             f"{', '.join(header) or 'none'}); its header row may use: "
                             f"{', '.join(COLUMNS)}")
        students = []
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            if not any(row.values()):
                continue          # a row of empty cells, as spreadsheets leave at the end
            if not row.get("id"):
                raise ValueError(f"roster {path}, line {reader.line_num}: empty id")
            students.append(Student(**{c: row.get(c, "") for c in COLUMNS}))
    return Roster(students)


def write_roster(path: str | Path, students: list[Student]) -> None:
    """Write `students` as a roster CSV that `read_roster` reads back."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for s in students:
            writer.writerow([getattr(s, c) for c in COLUMNS])
