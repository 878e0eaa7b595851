"""Reading the roster CSV or Canvas's gradebook export, and what it refuses."""

from __future__ import annotations

import csv

import pytest

from autograder.export import export, grades_for
from autograder.results import SubmissionResult
from autograder.roster import Student, read_roster, write_roster

from .conftest import ASSIGNMENT
from .conftest import tests_scoring as scoring


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
    ("name,email\nbob,b@x\n", r"no 'id' column and is not a Canvas gradebook export \(its "
                              r"columns: name, email\): .*header has id .*starts Student,ID"),
    ("Student,SIS User ID\n\"Doe, Jane\",S1\n", "no 'id' column and is not a Canvas"),
    ("Student,ID\n\"Doe, Jane\",\n", r"line 2: Doe, Jane has ID '', not a Canvas user id"),
    ("Student,ID\n\"Doe, Jane\",jdoe\n", "line 2: Doe, Jane has ID 'jdoe'"),
    ("Student,ID\n\"Doe, Jane\",7\n\"Doe, John\",7\n", "lists student id '7' twice"),
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


#: Canvas's gradebook export (Grades > Export > CSV) as a newer Canvas writes it: the Manual
#: Posting row before Points Possible, "Last, First" names, the Test Student (Student View) last,
#: with no SIS User ID and the HMAC digest Canvas makes its login; a real student of that name.
GRADEBOOK = (
    "Student,ID,SIS User ID,SIS Login ID,Section,HW1 Tensors (501),HW2 Losses (502),"
    "Current Score\r\n"
    "    Manual Posting,,,,,Manual Posting,,\r\n"
    "    Points Possible,,,,,10.00,5.00,(read only)\r\n"
    "\"Liddell, Alice\",1001,S1,aliddell,A,9.00,,90.00\r\n"
    "\"van der Berg, Jan\",1002,,jan@example.edu,A and B,N/A,EX,\r\n"
    "\"Student, Test\",1003,S3,tstudent,B,,,\r\n"
    "\"Student, Test\",1999,,3f786850e387550fdab836ed7e6dc881de23001b,A,10.00,,\r\n"
)


def test_a_canvas_gradebook_export_is_a_roster(tmp_path):
    """Each student's id is the Canvas user id, the key of the download's names and of the
    Canvas import; the Points Possible and Manual Posting rows and Canvas's Test Student are not
    students, a real student called Test Student is."""
    (tmp_path / "grades.csv").write_bytes(("\ufeff" + GRADEBOOK).encode())  # Canvas's BOM
    roster = read_roster(tmp_path / "grades.csv")
    assert list(roster) == [
        Student("1001", "Liddell", "Alice", "", "1001", "S1", "aliddell", "A"),
        Student("1002", "van der Berg", "Jan", "", "1002", "", "jan@example.edu", "A and B"),
        Student("1003", "Student", "Test", "", "1003", "S3", "tstudent", "B")]
    assert roster.test_students == {"1999"} and roster.by_canvas_id("1999") is None
    assert roster.by_canvas_id("1002").sortable_name == "van der Berg, Jan"


@pytest.mark.parametrize("text", [
    "LastName;FirstName;ID;SIS Login ID;Section;HW1 (501)\n;;;;;Manual Posting\n"
    "    Points Possible;;;;;10,00\nLiddell;Alice;1001;aliddell;A;9,00\n"
    "Student;Test;1999;;A;\n",
    "Student\tID\tSection\n    Points Possible\t\t\nLiddell, Alice\t1001\tA\n"
    "Student, Test\t1999\tA\n"])
def test_the_gradebook_export_with_split_names_or_other_separators(tmp_path, text):
    """Canvas writes semicolons or tabs where a user's locale or setting asks, LastName and
    FirstName where the gradebook shows them apart, and leaves out SIS columns the exporter may
    not see (in old courses the Test Student has no login)."""
    (tmp_path / "grades.csv").write_text(text)
    roster = read_roster(tmp_path / "grades.csv")
    assert [(s.id, s.sortable_name, s.section) for s in roster] == [("1001", "Liddell, Alice",
                                                                     "A")]
    assert roster.test_students == {"1999"}


def test_the_canvas_export_of_a_gradebook_roster_gives_canvas_its_own_rows_back(tmp_path):
    """Grades exported for Canvas with the gradebook export as the roster carry each student's
    Student, ID, SIS and Section cells as Canvas wrote them, so its import matches every row."""
    (tmp_path / "grades.csv").write_text(GRADEBOOK)
    roster = read_roster(tmp_path / "grades.csv")
    results = [SubmissionResult(ASSIGNMENT, s.id, scoring(2.0, True, True))
               for s in roster]
    [path] = export("canvas", grades_for(ASSIGNMENT, results, roster=roster), tmp_path / "out",
                    settings={"canvas": {"column": "HW1 Tensors (501)"}})["canvas"]
    with path.open(newline="") as fh:
        exported = list(csv.reader(fh))
    gradebook = list(csv.reader(GRADEBOOK.splitlines()))
    assert exported[0] == gradebook[0][:6]
    assert [row[:5] for row in exported[2:]] == [row[:5] for row in gradebook[3:6]]
