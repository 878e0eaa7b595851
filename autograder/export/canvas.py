"""A Canvas gradebook CSV that Canvas's Gradebook > Import reads.

The layout of Canvas's own gradebook export: the columns Student, ID, SIS User ID, SIS Login ID,
Section, then one column per assignment; a "Points Possible" row after the header. Canvas matches
rows on ID (the Canvas user id), so the roster must give every student a canvas_id or SIS id.

Canvas matches the assignment column to an existing assignment by its header, "Title (id)" or the
exact title, and creates a new assignment otherwise: the header is the assignment's folder name
unless `column` gives Canvas's own (`autograder export --canvas-column`).

A student on the roster without a submission gets an empty cell, not 0: the import overwrites each
grade with what the file holds, excused ("EX") and grades entered by hand included, while an
empty cell leaves Canvas's grade as it is (Canvas's missing-submission policy applies there). A
submission that could not be graded is handed in, and scores 0.
"""

from __future__ import annotations

import csv
import io

from autograder.export import Grades

#: Canvas's fixed leading columns.
COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def rows(grades: Grades, column: str | None = None) -> list[list[str]]:
    """Header (the assignment's column named `column`, else after the assignment), points-possible
    row and one row per student (an empty cell for no submission)."""
    if grades.roster is None:
        raise ValueError("the Canvas export needs a roster with canvas_id for each student: "
                         "pass --roster roster.csv")
    results = grades.by_student()
    table = [[*COLUMNS, column or grades.assignment],
             ["    Points Possible", "", "", "", "", f"{grades.max_score:.2f}"]]
    unmatched = []
    for student_id in grades.student_ids():
        s = grades.roster.get(student_id)
        if not (s.canvas_id or s.sis_user_id or s.sis_login_id):
            unmatched.append(student_id)
        result = results.get(student_id)
        missing = result is None or result.status == "missing"
        table.append([s.sortable_name, s.canvas_id, s.sis_user_id, s.sis_login_id, s.section,
                      "" if missing else f"{result.score:.2f}"])
    if unmatched:
        raise ValueError(f"Canvas cannot match student(s) {', '.join(unmatched)}: the roster gives "
                         "them no canvas_id, sis_user_id or sis_login_id; fill one in")
    return table


def render(grades: Grades, column: str | None = None) -> dict[str, str]:
    """<assignment>_canvas.csv, its assignment column headed `column` (default: the
    assignment)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows(grades, column))
    return {f"{grades.assignment}_canvas.csv": buf.getvalue()}
