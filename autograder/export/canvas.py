"""A Canvas gradebook CSV that Canvas's Gradebook > Import reads.

The layout of Canvas's own gradebook export: the columns Student, ID, SIS User ID, SIS Login ID,
Section, then one column per assignment; a "Points Possible" row after the header. Canvas matches
rows on ID (the Canvas user id), so the roster must give every student a canvas_id or SIS id.
"""

from __future__ import annotations

import csv
import io

from autograder.export import Grades

#: Canvas's fixed leading columns.
COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def rows(grades: Grades) -> list[list[str]]:
    """Header, points-possible row and one row per student (0 for no submission, as nbgrader
    does)."""
    if grades.roster is None:
        raise ValueError("the Canvas export needs a roster with canvas_id for each student: "
                         "pass --roster roster.csv")
    results = grades.by_student()
    table = [[*COLUMNS, grades.assignment],
             ["    Points Possible", "", "", "", "", f"{grades.max_score:.2f}"]]
    unmatched = []
    for student_id in grades.student_ids():
        s = grades.roster.get(student_id)
        if not (s.canvas_id or s.sis_user_id or s.sis_login_id):
            unmatched.append(student_id)
        result = results.get(student_id)
        score = result.score if result is not None and result.status != "missing" else 0.0
        table.append([s.sortable_name, s.canvas_id, s.sis_user_id, s.sis_login_id, s.section,
                      f"{score:.2f}"])
    if unmatched:
        raise ValueError(f"Canvas cannot match student(s) {', '.join(unmatched)}: the roster gives "
                         "them no canvas_id, sis_user_id or sis_login_id; fill one in")
    return table


def render(grades: Grades) -> dict[str, str]:
    """<assignment>_canvas.csv."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows(grades))
    return {f"{grades.assignment}_canvas.csv": buf.getvalue()}
