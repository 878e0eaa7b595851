"""Collecting a Canvas download (zip or folder) or per-student folders into an nbgrader course.

A Canvas download stamps every zip entry with the moment it was made (rubyzip's default time in
Canvas's ContentZipper), so the tests' zips carry one download time, days after the due date, and
the submission times come from the Canvas API's list (``read_times``)."""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbgrader.utils import parse_utc

from autograder.collect import CANVAS_NAME, collect, read_times
from autograder.deadlines import Deadline, parse_time
from autograder.groups import read_groups
from autograder.roster import Roster, Student, read_roster

from .conftest import ASSIGNMENT

NB = f"{ASSIGNMENT}.ipynb"
DEADLINE = Deadline(parse_time("2026-12-01T23:59:00Z"), "per_day", 0.1)


@pytest.fixture
def roster():
    return Roster([Student("alice", "Liddell", "Alice", canvas_id="12345"),
                   Student("bob", "Builder", "Bob", canvas_id="23456"),
                   Student("carol", canvas_id="34567")])


#: When the tests' Canvas downloads were made: after every due date.
DOWNLOADED = (2026, 12, 9, 8, 0, 0)


def canvas_zip(path, files):
    """A Canvas download of ``files`` (name, text), every entry stamped when it was made."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files:
            zf.writestr(zipfile.ZipInfo(name, date_time=DOWNLOADED), text)
    return path


def api_times(path, times):
    """The Canvas API's submissions list, as saved: user_id and submitted_at per student."""
    path.write_text(json.dumps([{"id": 7000 + i, "user_id": int(user), "submitted_at": when,
                                 "workflow_state": "submitted" if when else "unsubmitted"}
                                for i, (user, when) in enumerate(times.items())]))
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
        (f"liddellalice_12345_111_{NB}", "alice first"),
        (f"liddellalice_LATE_12345_222_{ASSIGNMENT}-1.ipynb", "alice again"),
        (f"builderbob_LATE_23456_333_{NB}", "bob"),
        ("builderbob_23456_334_notes.pdf", "pdf"),
    ])
    times = read_times(api_times(tmp_path / "submissions.json", {
        "12345": "2026-12-02T09:00:00Z", "23456": "2026-12-04T01:00:00Z", "34567": None}), roster)
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE, times=times)
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
        (f"liddellalice_12345_111_{NB}", "alice"),
        (f"strangerdanger_99999_444_{NB}", "who?"),
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
    copied = datetime(2026, 12, 9, 12, tzinfo=timezone.utc).timestamp()
    os.utime(src / "carol" / NB, (copied, copied))   # a copy's time says nothing of the submission
    report = collect(src, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert report.students == ["bob", "carol"] and report.late == []
    assert report.warnings == ["no submission time for carol (no nbgrader timestamp.txt beside "
                               "the notebook): counted as on time"]
    assert parse_utc((course / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").read_text()) == \
        datetime(2026, 11, 30, 10)
    carol = course / "submitted" / "carol" / ASSIGNMENT
    assert not (carol / "timestamp.txt").exists()
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
        (f"liddellalice_12345_111_{NB}", "alice, with an extension"),
        (f"builderbob_LATE_23456_333_{NB}", "bob"),
    ])
    saved = api_times(tmp_path / "times.json", {"12345": "2026-12-03T09:00:00Z",
                                                "23456": "2026-12-03T09:00:00Z"})
    times = read_times(saved, roster)
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE, times=times)
    assert {(f.student, days) for f, days in report.late} == {("alice", 2), ("bob", 2)}
    [warning] = report.warnings
    assert warning.startswith(f"liddellalice_12345_111_{NB}: its time 2026-12-03T09:00:00+00:00 is "
                              "2 day(s) past the due date, but Canvas does not mark it LATE")
    assert f"gives alice one ([{ASSIGNMENT}.extensions])" in warning
    extended = dataclasses.replace(DEADLINE,
                                   extensions={"alice": parse_time("2026-12-04T23:59:00Z")})
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=extended, times=times)
    assert {(f.student, days) for f, days in report.late} == {("bob", 2)}
    assert report.warnings == []


def test_a_canvas_download_holds_no_submission_times(course, roster, tmp_path):
    """Downloaded a week after the due date, with no times given: nobody is late by the zip's
    own times; bob, whom Canvas marks LATE, stops the collect under a late policy (nothing is
    written) and is reported late, days unknown, without one."""
    z = canvas_zip(tmp_path / "download.zip", [(f"liddellalice_12345_111_{NB}", "alice"),
                                               (f"builderbob_LATE_23456_333_{NB}", "bob")])
    with pytest.raises(ValueError, match=r"Canvas marks the work of bob LATE.*--times.*written"):
        collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert not (course / "submitted").exists()
    report = collect(z, course, ASSIGNMENT, roster=roster,
                     deadline=dataclasses.replace(DEADLINE, policy="none"))
    assert [(f.student, days) for f, days in report.late] == [("bob", 0)]
    assert not list((course / "submitted").rglob("timestamp.txt"))
    on_time = canvas_zip(tmp_path / "on_time.zip", [(f"liddellalice_12345_111_{NB}", "alice")])
    report = collect(on_time, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert report.late == [] and report.warnings == []


def test_submission_times_from_the_canvas_api_or_a_csv(roster, tmp_path):
    expected = {"alice": parse_time("2026-12-02T09:00:00Z"), "bob": parse_time("2026-12-01T12:00Z")}
    saved = api_times(tmp_path / "s.json", {"12345": "2026-12-02T09:00:00Z",
                                            "23456": "2026-12-01T12:00:00Z", "34567": None})
    assert read_times(saved, roster) == expected
    (tmp_path / "s.csv").write_text("canvas_id,submitted_at\r\n12345,2026-12-02T09:00:00Z\r\n"
                                    "23456,2026-12-01T12:00:00+00:00\r\n34567,\r\n")
    assert read_times(tmp_path / "s.csv", roster) == expected
    (tmp_path / "ids.csv").write_text("id,submitted_at\nalice,2026-12-02T09:00:00Z\n")
    assert read_times(tmp_path / "ids.csv", roster) == {"alice": expected["alice"]}
    for name, text, message in [
            ("a.json", '[{"user_id": 99, "submitted_at": "2026-12-01T00:00:00Z"}]',
             "entry 1: no student on the roster has canvas_id '99'"),
            ("b.json", '{"user_id": 1}', "not a list of submissions"),
            ("c.json", "[", "is not JSON"),
            ("d.csv", "user,when\n1,2\n", "needs the columns submitted_at and canvas_id"),
            ("e.csv", "canvas_id,submitted_at\n12345,soon\n", "entry 1: cannot read the time")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            read_times(tmp_path / name, roster)


def test_canvas_names_whose_name_part_holds_underscores(course, tmp_path):
    roster = Roster([Student("jan", canvas_id="2001"), Student("pat", canvas_id="2003")])
    z = canvas_zip(tmp_path / "download.zip", [(f"van_der_bergjan_2001_5501_{NB}", "jan"),
                                               (f"o_brienpat_LATE_2003_5503_{NB}", "pat")])
    report = collect(z, course, ASSIGNMENT, roster=roster)
    assert report.students == ["jan", "pat"] and report.skipped == []
    assert [f.marked_late for f in report.collected] == [False, True]


def test_checkpoints_and_other_assignments_notebooks_are_skipped(course, roster, tmp_path):
    """A student's folder holding a Jupyter checkpoint and the next assignment's notebook, and a
    Canvas file of that notebook: only this assignment's notebook is collected."""
    other = course / "source" / "losses"
    other.mkdir(parents=True)
    (other / "losses.ipynb").write_text("{}")
    src = tmp_path / "inbox"
    (src / "bob" / ".ipynb_checkpoints").mkdir(parents=True)
    (src / "bob" / NB).write_text("bob's work")
    (src / "bob" / ".ipynb_checkpoints" / f"{ASSIGNMENT}-checkpoint.ipynb").write_text("older")
    (src / "bob" / "losses").mkdir()
    (src / "bob" / "losses" / "losses.ipynb").write_text("next week's")
    (src / "bob" / "losses.ipynb").write_text("next week's, loose")
    report = collect(src, course, ASSIGNMENT, roster=roster)
    assert (course / "submitted" / "bob" / ASSIGNMENT / NB).read_text() == "bob's work"
    assert sorted(why for _, why in report.skipped) == [
        "a Jupyter checkpoint, not the notebook", "belongs to the assignment losses",
        "belongs to the assignment losses"]
    z = canvas_zip(tmp_path / "d.zip", [("builderbob_23456_333_losses.ipynb", "losses")])
    with pytest.raises(ValueError, match="no submission of 'vectorization'"):
        collect(z, course, ASSIGNMENT, roster=roster)
    (other / f"{ASSIGNMENT}.ipynb").write_text("{}")   # a notebook name both assignments use
    z = canvas_zip(tmp_path / "e.zip", [(f"builderbob_23456_334_{NB}", "bob's, again")])
    assert collect(z, course, ASSIGNMENT, roster=roster).students == ["bob"]


def test_a_zip_of_student_folders_keeps_their_nbgrader_timestamps(course, roster, tmp_path):
    with zipfile.ZipFile(tmp_path / "exchange.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"bob/{NB}", date_time=DOWNLOADED), "bob")
        zf.writestr(zipfile.ZipInfo("bob/timestamp.txt", date_time=DOWNLOADED),
                    "2026-12-02 01:00:00.000000 UTC")
    report = collect(tmp_path / "exchange.zip", course, ASSIGNMENT, roster=roster,
                     deadline=DEADLINE)
    assert [(f.student, days) for f, days in report.late] == [("bob", 1)]


def test_canvas_test_student_is_skipped_with_a_note(course, roster, tmp_path):
    """Student View's Test Student hands in as studenttest_<its id>: skipped with a note, not a
    submitter missing from the roster (which stopped collect before); a real student called Test
    Student, on the roster, is collected."""
    z = canvas_zip(tmp_path / "download.zip", [(f"liddellalice_12345_111_{NB}", "alice"),
                                               (f"studenttest_LATE_88888_112_{NB}", "preview")])
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE)
    assert report.students == ["alice"] and report.late == []
    assert report.skipped == [(f"studenttest_LATE_88888_112_{NB}",
                               "Canvas's Test Student (Student View), not a student on the "
                               "roster")]
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice"]
    real = Roster([*roster, Student("tstudent", "Student", "Test", canvas_id="88888")])
    assert collect(z, course, ASSIGNMENT, roster=real).students == ["alice", "tstudent"]
    # another name under an unknown id is still a submitter missing from the roster
    z = canvas_zip(tmp_path / "other.zip", [(f"studenttess_88888_112_{NB}", "who?")])
    with pytest.raises(ValueError, match="roster is missing 1 submitter"):
        collect(z, course, ASSIGNMENT, roster=roster)


def test_the_test_student_a_gradebook_export_left_out_is_skipped_in_files_and_times(course,
                                                                                    tmp_path):
    (tmp_path / "grades.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
        "\"Liddell, Alice\",12345,S1,aliddell,A\n"
        "\"Student, Test\",88888,,3f786850e387550fdab836ed7e6dc881de23001b,A\n")
    roster = read_roster(tmp_path / "grades.csv")
    times = read_times(api_times(tmp_path / "s.json", {"12345": "2026-12-01T09:00:00Z",
                                                       "88888": "2026-12-03T09:00:00Z"}), roster)
    assert times == {"12345": parse_time("2026-12-01T09:00:00Z")}
    z = canvas_zip(tmp_path / "download.zip", [(f"liddellalice_12345_111_{NB}", "alice"),
                                               (f"studenttest_LATE_88888_112_{NB}", "preview")])
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE, times=times)
    assert report.students == ["12345"] and [n for n, _ in report.skipped] == [
        f"studenttest_LATE_88888_112_{NB}"]


#: A group assignment's download: Canvas names each group's file after one member, whom it
#: renames after the group ("Team Rocket"), and marks it late by that member's due date.
GROUP_DOWNLOAD = [(f"teamrocket_LATE_12345_111_{NB}", "the team's"),
                  (f"builderbob_23456_222_{NB}", "bob's own")]


def test_a_group_submission_is_copied_to_every_member(course, tmp_path):
    roster = Roster([Student("alice", canvas_id="12345"), Student("bob", canvas_id="23456"),
                     Student("carol", canvas_id="34567"), Student("dave", canvas_id="45678")])
    z = canvas_zip(tmp_path / "download.zip", GROUP_DOWNLOAD)
    saved = api_times(tmp_path / "times.json", {"12345": "2026-12-02T09:00:00Z",
                                                "23456": "2026-12-01T09:00:00Z"})
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE,
                     times=read_times(saved, roster))
    assert report.students == ["alice", "bob"] and report.shared == []   # without groups: as before
    (tmp_path / "groups.csv").write_text("group,id\nTeam Rocket,alice\nTeam Rocket,carol\n"
                                         "Team Rocket,bob\nSolo,dave\n")
    groups = read_groups(tmp_path / "groups.csv", roster)
    assert groups == {"Team Rocket": ["alice", "carol", "bob"], "Solo": ["dave"]}
    report = collect(z, course, ASSIGNMENT, roster=roster, deadline=DEADLINE,
                     times=read_times(saved, roster), groups=groups)
    assert report.students == ["alice", "bob", "carol"]
    assert report.shared == [("Team Rocket", "alice", ["carol"])]
    submitted = course / "submitted"
    assert (submitted / "carol" / ASSIGNMENT / NB).read_text() == "the team's"
    assert (submitted / "bob" / ASSIGNMENT / NB).read_text() == "bob's own"   # kept
    assert ((submitted / "carol" / ASSIGNMENT / "timestamp.txt").read_text()
            == (submitted / "alice" / ASSIGNMENT / "timestamp.txt").read_text())
    assert {(f.student, days) for f, days in report.late} == {("alice", 1), ("carol", 1)}
    assert not (submitted / "dave").exists()


def test_canvas_groups_export_and_bad_groups_files(course, roster, tmp_path):
    """Canvas's export of a group set (People > Groups > Export) lists every student, those in
    no group with empty group cells; members by Canvas id need the roster."""
    (tmp_path / "canvas_groups.csv").write_text(
        "name,canvas_user_id,user_id,login_id,sections,group_name,canvas_group_id,group_id\n"
        "Alice Liddell,12345,S1,aliddell,A,Team Rocket,77,\n"
        "Bob Builder,23456,S2,bbuilder,A,,,\n"
        "carol,34567,S3,carol,A,Team Rocket,77,\n")
    assert read_groups(tmp_path / "canvas_groups.csv", roster) == {"Team Rocket": ["alice",
                                                                                   "carol"]}
    for text, message in [
            ("team,student\nA,alice\n", r"needs the columns group and id \(or canvas_id\).*it has "
                                        "team, student"),
            ("group,id\nA,alice\nA,mallory\n", "line 3: no student on the roster has id "
                                               "'mallory'"),
            ("group,canvas_id\nA,99\n", "line 2: no student on the roster has canvas_id '99'"),
            ("group,id\nA,alice\nB,alice\n", "line 3: alice is in both group 'A' and 'B'"),
            ("group,id\nA,../x\n", "line 2: student id '../x' is not a plain name"),
            ("group,id\nA,\n", "line 2: group 'A' with an empty id")]:
        (tmp_path / "g.csv").write_text(text)
        with pytest.raises(ValueError, match=message):
            read_groups(tmp_path / "g.csv", roster)
    (tmp_path / "g.csv").write_text("group,canvas_id\nA,12345\n")
    with pytest.raises(ValueError, match="Canvas ids: pass --roster"):
        read_groups(tmp_path / "g.csv", None)
    (tmp_path / "g.csv").write_text("group,id\nA,alice\nA,bob\n")
    assert read_groups(tmp_path / "g.csv", None) == {"A": ["alice", "bob"]}   # folders, no roster
    # saved from Excel in the Windows code page: the fix a roster's message gives
    (tmp_path / "g.csv").write_bytes("group,id\nÉquipe,alice\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"the groups .*g\.csv is not UTF-8 .*CSV UTF-8"):
        read_groups(tmp_path / "g.csv", roster)
    with pytest.raises(ValueError, match=r"the submission times .*g\.csv is not UTF-8"):
        read_times(tmp_path / "g.csv", roster)
