"""`autograder collect | status | export` and their errors on a small course with a real gradebook
(generate runs in test_workflow.py)."""

from __future__ import annotations

import csv
import json
import zipfile

from click.testing import CliRunner

from autograder.cli import main
from autograder.gradebook import Gradebook
from autograder.roster import Student, write_roster

from .conftest import ASSIGNMENT


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_unknown_assignment_is_one_line(course):
    for command in (["generate", "nope"], ["status", "nope"],
                    ["export", "nope", "--to", "csv", "--out", "x"]):
        result = run(*command, "--course", str(course))
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [
            f"Error: unknown assignment 'nope' in {course}: the course has {ASSIGNMENT}"]
    assert run("status", ASSIGNMENT, "--course", str(course / "nowhere")).exit_code == 1


def test_export_all_formats_from_the_gradebook(graded, tmp_path):
    out = tmp_path / "exports"
    result = run("export", ASSIGNMENT, "--course", str(graded), "--to", "csv,canvas",
                 "--to", "gradescope", "--to", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / f"{ASSIGNMENT}_grades.csv").open()))
    assert {r["student_id"]: r["score"] for r in rows} == {"alice": "5.4", "bob": "3.5",
                                                           "carol": "0.0", "dave": "0.0"}
    assert (out / f"{ASSIGNMENT}_canvas.csv").exists()
    bob = json.loads((out / "gradescope" / ASSIGNMENT / "bob" / "results.json").read_text())
    assert bob["score"] == 3.5
    assert (out / "feedback" / ASSIGNMENT / "students" / "alice.html").exists()
    assert str(out / "feedback" / ASSIGNMENT / "index.html") in result.output


def test_status_reports_each_student(graded):
    result = run("status", ASSIGNMENT, "--course", str(graded))
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:-1]}
    assert "5.4 / 6" in lines["alice"] and "1d" in lines["alice"]
    assert "flagged: monkeypatch:numpy.allclose" in lines["bob"]
    assert "failed" in lines["carol"] and "not valid JSON" in lines["carol"]
    assert "no submission" in lines["dave"]
    assert result.output.splitlines()[-1] == "3 submitted, 2 graded, 1 failed, 1 no submission"


def test_an_extension_in_deadlines_toml_reaches_status_and_every_export(graded, tmp_path):
    """alice, a day late in `graded`, has an extension: no penalty in status, the CSV (whose
    duedate is hers) and her feedback page; a misspelt id is refused."""
    toml = graded / "deadlines.toml"
    extension = f"\n[{ASSIGNMENT}.extensions]\nalice = 2026-12-03T12:00:00Z\n"
    toml.write_text(toml.read_text() + extension)
    status = run("status", ASSIGNMENT, "--course", str(graded))
    lines = {line.split()[0]: line for line in status.output.splitlines()[1:-1]}
    assert "6 / 6" in lines["alice"] and "1d" not in lines["alice"]
    out = tmp_path / "exports"
    result = run("export", ASSIGNMENT, "--course", str(graded), "--to", "csv,html", "--out",
                 str(out))
    assert result.exit_code == 0, result.output
    rows = {r["student_id"]: r for r in csv.DictReader((out / f"{ASSIGNMENT}_grades.csv").open())}
    assert (rows["alice"]["score"], rows["alice"]["duedate"]) == ("6.0", "2026-12-03 12:00:00")
    assert (rows["bob"]["score"], rows["bob"]["duedate"]) == ("3.5", "2026-12-01 23:59:00")
    page = (out / "feedback" / ASSIGNMENT / "students" / "alice.html").read_text()
    assert "due 2026-12-03 12:00" in page
    toml.write_text(toml.read_text().replace("alice = ", "alcie = "))
    export = ("export", ASSIGNMENT, "--to", "csv", "--out", str(out))
    for command in (("status", ASSIGNMENT), export):
        refused = run(*command, "--course", str(graded))
        assert refused.exit_code == 1
        assert "names alcie, not on the roster" in refused.output


def test_roster_missing_students_writes_nothing(graded, roster, tmp_path):
    write_roster(graded / "roster.csv", [s for s in roster if s.id != "bob"])
    result = run("export", ASSIGNMENT, "--course", str(graded), "--to", "csv", "--out",
                 str(tmp_path / "x"))
    assert (result.exit_code == 1 and "roster is missing 1 student(s)" in result.output
            and "bob" in result.output)
    assert not (tmp_path / "x").exists()


def test_gradebook_of_another_course_writes_nothing(graded, results, tmp_path):
    other = tmp_path / "other.sqlite"
    with Gradebook(other, "someothercourse") as book:
        book.record(results[0])
    result = run("export", ASSIGNMENT, "--course", str(graded), "--gradebook", str(other),
                 "--to", "html", "--out", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert "someothercourse" in result.output and "dlcourse" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_export_without_gradebook(course, tmp_path):
    result = run("export", ASSIGNMENT, "--course", str(course), "--to", "csv", "--out",
                 str(tmp_path / "x"))
    assert (result.exit_code == 1 and "no gradebook" in result.output
            and "autograder grade" in result.output)


def test_unknown_format(graded, tmp_path):
    result = run("export", ASSIGNMENT, "--course", str(graded), "--to", "pdf", "--out",
                 str(tmp_path / "x"))
    assert result.exit_code == 1 and "unknown export format pdf" in result.output
    assert not (tmp_path / "x").exists()


def test_collect_command(course, tmp_path):
    write_roster(course / "roster.csv",
                 [Student("alice", canvas_id="12345"), Student("bob", canvas_id="2")])
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.writestr(f"liddellalice_LATE_12345_1_{ASSIGNMENT}.ipynb", "{}")
    result = run("collect", str(tmp_path / "d.zip"), "--course", str(course))
    assert result.exit_code == 0, result.output
    assert f"collected 1 notebook(s) of {ASSIGNMENT} from 1 student(s)" in result.output
    assert ("late: alice" in result.output
            and "no submission from 1 student(s): bob" in result.output)
