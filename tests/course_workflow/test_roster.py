"""Reading the roster CSV, and what it refuses."""

from __future__ import annotations

import pytest

from autograder.roster import Student, read_roster, write_roster


def test_round_trip_and_lookups(tmp_path):
    students = [Student("jdoe", "Doe", "Jane", "j@x.edu", "12345", "2026001", "jdoe", "Sec 1"),
                Student("asmith")]
    write_roster(tmp_path / "r.csv", students)
    roster = read_roster(tmp_path / "r.csv")
    assert list(roster) == students and "jdoe" in roster and len(roster) == 2
    assert roster.by_canvas_id("12345").id == "jdoe" and roster.by_canvas_id("1") is None
    assert (roster.get("jdoe").sortable_name == "Doe, Jane"
            and roster.get("asmith").sortable_name == "asmith")


def test_only_id_is_required_and_extra_columns_are_ignored(tmp_path):
    (tmp_path / "r.csv").write_text("\ufeffid , nickname\nbob,Bobby\n,\n")  # a BOM, as Excel writes
    assert [s.id for s in read_roster(tmp_path / "r.csv")] == ["bob"]


@pytest.mark.parametrize("text, message", [
    ("name,email\nbob,b@x\n", "no 'id' column"),
    ("id\nbob\nbob\n", "lists student id 'bob' twice"),
    ("id\n../etc\n", "not a plain name"),
    ("id,email\nbob,b@x\n\n,c@x\n", "line 4: empty id"),
    ("id,canvas_id\nbob,1\ncarol,1\n", "canvas_id '1' to both 'bob' and 'carol'"),
])
def test_bad_rosters(tmp_path, text, message):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_roster(tmp_path / "r.csv")


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_roster(tmp_path / "nope.csv")


def test_a_roster_excel_saved_in_windows_1252_names_the_file_and_the_fix(tmp_path):
    (tmp_path / "roster.csv").write_bytes("id,last_name\nmuller,Müller\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"roster .*roster\.csv is not UTF-8 .*CSV UTF-8"):
        read_roster(tmp_path / "roster.csv")
    (tmp_path / "roster.csv").write_bytes("\ufeffid,last_name\r\nmuller,Müller\r\n".encode())
    assert read_roster(tmp_path / "roster.csv").get("muller").last_name == "Müller"
