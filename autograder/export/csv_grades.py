"""The grades CSV exactly as `nbgrader export` writes it (nbgrader.plugins.export.CsvExportPlugin).

One row per student on the roster or in the results, ordered as nbgrader orders them (last name,
first name); a student without a submission gets 0, as in nbgrader. Times are naive UTC, printed as
Python prints a datetime, like nbgrader's database does. Numbers are printed as Python prints a
float, rounded to 6 decimals ("2.6", where nbgrader prints a sum's 2.5999999999999996). A field
with a comma is quoted (nbgrader writes it bare, which breaks the row); every other byte is
nbgrader's.
"""

from __future__ import annotations

import csv
import io

from autograder.deadlines import parse_time
from autograder.export import Grades

#: nbgrader's column order.
COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score")


def _number(value: float) -> str:
    """A number as the CSV holds it: a float rounded to 6 decimals, as str prints it."""
    return str(round(float(value), 6) + 0.0)  # + 0.0: no "-0.0"


def _naive_utc(value) -> str:
    return str(parse_time(value).replace(tzinfo=None)) if value else ""


def rows(grades: Grades) -> list[dict[str, str]]:
    """The CSV's rows as nbgrader would write them."""
    results = grades.by_student()
    out = []
    for student_id in grades.student_ids():
        duedate = (str(grades.deadline.for_student(student_id).due.replace(tzinfo=None))
                   if grades.deadline else "")
        student = grades.roster.get(student_id) if grades.roster is not None else None
        result = results.get(student_id)
        row = {"assignment": grades.assignment, "duedate": duedate, "student_id": student_id,
               "last_name": student.last_name if student else "",
               "first_name": student.first_name if student else "",
               "email": student.email if student else "",
               "max_score": _number(grades.max_score)}
        if result is None or result.status == "missing":
            row.update(timestamp="", raw_score="0.0", late_submission_penalty="0.0", score="0.0")
        else:
            raw = float(sum(t.points for t in result.tests))
            row.update(timestamp=_naive_utc(result.submitted_at), raw_score=_number(raw),
                       late_submission_penalty=_number(result.late_penalty),
                       score=_number(max(0.0, raw - result.late_penalty)))
        out.append({k: row[k] for k in COLUMNS})
    return sorted(out, key=lambda row: (row["last_name"], row["first_name"], row["student_id"]))


def render(grades: Grades) -> dict[str, str]:
    """<assignment>_grades.csv."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(grades))
    return {f"{grades.assignment}_grades.csv": buf.getvalue()}
