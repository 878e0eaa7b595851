"""Collecting a Canvas download (zip or folder) or per-student folders into an nbgrader course."""

from __future__ import annotations

import dataclasses
import os
import zipfile
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbgrader.utils import parse_utc

from autograder.collect import CANVAS_NAME, collect
from autograder.deadlines import Deadline, parse_time
from autograder.roster import Roster, Student

from .conftest import ASSIGNMENT

NB = f"{ASSIGNMENT}.ipynb"
DEADLINE = Deadline(parse_time("2026-12-01T23:59:00Z"), "per_day", 0.1)


@pytest.fixture
def roster():
    return Roster([Student("alice", "Liddell", "Alice", canvas_id="12345"),
                   Student("bob", "Builder", "Bob", canvas_id="23456"),
                   Student("carol", canvas_id="34567")])


def canvas_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, when, text in files:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


def test_canvas_names():
    m = CANVAS_NAME.match(f"liddellalice_LATE_12345_67890_{NB}")
    assert (m["name"], m["late"], m["user"], m["submission"], m["file"]) == (
        "liddellalice", "LATE", "12345", "67890", NB)
    m = CANVAS_NAME.match("lastname_12345_67890_notebook.ipynb")
    assert (m["late"], m["user"], m["file"]) == (None, "12345", "notebook.ipynb")
    assert CANVAS_NAME.match("notes.txt") is None


def test_collect_canvas_zip(course, roster, tmp_path):
    z = canvas_zip(tmp_path / "download.zip", [
        (f"liddellalice_12345_111_{NB}", (2026, 12, 1, 20, 0, 0), "alice first"),
        (f"liddellalice_LATE_12345_222_{ASSIGNMENT}-1.ipynb", (2026, 12, 2, 9, 0, 0),
         "alice again"),
        (f"builderbob_LATE_23456_333_{NB}", (2026, 12, 4, 1, 0, 0), "bob"),
        ("builderbob_23456_334_notes.pdf", (2026, 12, 1, 1, 0, 0), "pdf"),
    ])
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert report.students == ["alice", "bob"]
    alice = course / "submitted" / "alice" / ASSIGNMENT
    assert (alice / NB).read_text() == "alice again"          # the later of the two is kept
    [(kept, dropped)] = report.duplicates
    assert kept.source.endswith("-1.ipynb") and dropped.source.startswith("liddellalice_12345_111")
    assert parse_utc((alice / "timestamp.txt").read_text().strip()) == datetime(2026, 12, 2, 9)
    assert {(f.student, days) for f, days in report.late} == {("alice", 1), ("bob", 3)}
    assert [name for name, _ in report.skipped] == ["builderbob_23456_334_notes.pdf"]
    assert not (course / "submitted" / "carol").exists()


def test_roster_missing_a_submitter_writes_nothing(course, roster, tmp_path):
    z = canvas_zip(tmp_path / "download.zip", [
        (f"liddellalice_12345_111_{NB}", (2026, 12, 1, 20, 0, 0), "alice"),
        (f"strangerdanger_99999_444_{NB}", (2026, 12, 1, 20, 0, 0), "who?"),
    ])
    with pytest.raises(ValueError, match="roster is missing 1 submitter.*99999.*strangerdanger"):
        collect(z, course, ASSIGNMENT, roster=roster)
    assert not (course / "submitted").exists()
    with pytest.raises(ValueError, match="--roster"):
        collect(z, course, ASSIGNMENT, roster=None)


def test_collect_student_folders_and_recollect(course, roster, tmp_path):
    src = tmp_path / "inbox"
    (src / "bob").mkdir(parents=True)
    (src / "bob" / NB).write_text("bob v1")
    (src / "bob" / "timestamp.txt").write_text("2026-11-30 10:00:00.000000 UTC")
    (src / "carol").mkdir()
    (src / "carol" / NB).write_text("carol")
    on_time = datetime(2026, 12, 1, 12, tzinfo=timezone.utc).timestamp()
    os.utime(src / "carol" / NB, (on_time, on_time))   # no timestamp.txt: the file's mtime counts
    report = collect(src, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert report.students == ["bob", "carol"] and report.late == []
    assert parse_utc((course / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").read_text()) == \
        datetime(2026, 11, 30, 10)
    carol = course / "submitted" / "carol" / ASSIGNMENT
    assert parse_utc((carol / "timestamp.txt").read_text()) == datetime(2026, 12, 1, 12)
    (src / "bob" / NB).write_text("bob v2")
    collect(src, course, ASSIGNMENT, roster=roster)
    assert (course / "submitted" / "bob" / ASSIGNMENT / NB).read_text() == "bob v2"
    (src / "mallory").mkdir()
    (src / "mallory" / NB).write_text("not on the roster")
    with pytest.raises(ValueError, match="mallory"):
        collect(src, course, ASSIGNMENT, roster=roster)


def test_collect_bad_input(course, roster, tmp_path):
    with pytest.raises(ValueError, match="unknown assignment 'nope'.*vectorization"):
        collect(tmp_path, course, "nope", roster=roster)
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="not a zip file"):
        collect(tmp_path / "fake.zip", course, ASSIGNMENT, roster=roster)
    with pytest.raises(ValueError, match="does not exist"):
        collect(tmp_path / "missing", course, ASSIGNMENT, roster=roster)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no submission"):
        collect(tmp_path / "empty", course, ASSIGNMENT, roster=roster)
    assert not (course / "submitted").exists()


@given(name=st.from_regex(r"[a-z]{1,12}", fullmatch=True), late=st.booleans(),
       user=st.integers(1, 10**9), submission=st.integers(1, 10**9),
       file=st.from_regex(r"[A-Za-z0-9_ .-]{0,20}\.ipynb", fullmatch=True))
def test_canvas_names_round_trip(name, late, user, submission, file):
    m = CANVAS_NAME.match(f"{name}_{'LATE_' if late else ''}{user}_{submission}_{file}")
    assert (m["name"], bool(m["late"]), m["user"], m["submission"], m["file"]) == (
        name, late, str(user), str(submission), file)


def test_canvas_not_marking_late_work_late_is_reported(course, roster, tmp_path):
    """Canvas marks a file LATE by the student's own due date, extensions included: a file past
    the course's due date that Canvas does not mark is reported, and an extension for its student
    in deadlines.toml makes it on time."""
    z = canvas_zip(tmp_path / "download.zip", [
        (f"liddellalice_12345_111_{NB}", (2026, 12, 3, 9, 0, 0), "alice, with an extension"),
        (f"builderbob_LATE_23456_333_{NB}", (2026, 12, 3, 9, 0, 0), "bob"),
    ])
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert {(f.student, days) for f, days in report.late} == {("alice", 2), ("bob", 2)}
    [warning] = report.warnings
    assert warning.startswith(f"liddellalice_12345_111_{NB}: its time 2026-12-03T09:00:00+00:00 is "
                              "2 day(s) past the due date, but Canvas does not mark it LATE")
    assert f"gives alice one ([{ASSIGNMENT}.extensions])" in warning
    extended = dataclasses.replace(DEADLINE,
                                   extensions={"alice": parse_time("2026-12-04T23:59:00Z")})
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=extended)
    assert {(f.student, days) for f, days in report.late} == {("bob", 2)}
    assert report.warnings == []
