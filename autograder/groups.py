"""Group assignments: which students hand in together, and the copies that give each member the
group's submission.

Canvas downloads one file per group, named after one member (whom it renames after the group), so
the other members would show "no submission". Given the groups (``read_groups``: a CSV of group
and id, or Canvas's group-set export), ``collect`` gives each member without a submission of
their own a copy of the group's (``shared_with_group``), with its time, and says so.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.roster import Roster, check_student_id, read_text

if TYPE_CHECKING:
    from autograder.collect import Found


def shared_with_group(found: list[Found], groups: dict[str, list[str]]
                      ) -> tuple[dict[Found, Found], list[tuple[str, str, list[str]]]]:
    """Copies of each group's submission (that of the member who handed in last) for its members
    without one of their own, each mapped to the original it copies; and, per group that shared,
    (group, the member copied from, the members copied to)."""
    copies: dict[Found, Found] = {}
    shared = []
    for group, members in groups.items():
        handed_in = [f for f in found if f.student in members]
        without = [m for m in members if m not in {f.student for f in handed_in}]
        if not handed_in or not without:
            continue
        source = max(handed_in, key=lambda f: f.sequence).student
        for f in [f for f in found if f.student == source]:
            copies.update({dataclasses.replace(f, student=m): f for m in without})
        shared.append((group, source, without))
    return copies, shared


def read_groups(path: str | Path, roster: Roster | None) -> dict[str, list[str]]:
    """The members of each group, by course student id, from a CSV of ``group`` and ``id`` (the
    course's) or ``canvas_id``, or Canvas's export of a group set (People > Groups > Export:
    ``group_name`` and ``canvas_user_id``, with a row of empty group cells for each student in
    no group, which is left out, as is Canvas's Test Student)."""
    path = Path(path)
    text = read_text(path, "the groups")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    group_column = next((c for c in ("group", "group_name") if c in header), None)
    member_column = next((c for c in ("id", "canvas_id", "canvas_user_id") if c in header), None)
    if group_column is None or member_column is None:
        raise ValueError(f"{path} needs the columns group and id (or canvas_id), or Canvas's "
                         "group_name and canvas_user_id (People > Groups > Export); it has "
                         f"{', '.join(header) or 'none'}")
    if member_column != "id" and roster is None:
        raise ValueError(f"{path} names students by their Canvas ids: pass --roster roster.csv "
                         "with a canvas_id column")
    groups: dict[str, list[str]] = {}
    group_of: dict[str, str] = {}
    for row in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        group, member = row.get(group_column, ""), row.get(member_column, "")
        where = f"{path}, line {reader.line_num}"
        if not group or (member_column != "id" and member in roster.test_students):
            continue
        if not member:
            raise ValueError(f"{where}: group {group!r} with an empty {member_column}: fill it "
                             "in or remove the row")
        if member_column == "id":
            try:
                check_student_id(member)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
            student = member if roster is None or member in roster else None
        else:
            student = getattr(roster.by_canvas_id(member), "id", None)
        if student is None:
            raise ValueError(f"{where}: no student on the roster has {member_column} {member!r}")
        if group_of.setdefault(student, group) != group:
            raise ValueError(f"{where}: {student} is in both group {group_of[student]!r} and "
                             f"{group!r}: give each student one group")
        if student not in groups.setdefault(group, []):
            groups[group].append(student)
    return groups
