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


def test_collect_with_a_gradebook_export_as_roster_and_groups(course, tmp_path):
    """Canvas's gradebook export as the roster (ids are Canvas ids), its Test Student's file
    skipped with a note, and a group's one file copied to its other member; a bad groups file is
    one line and writes nothing."""
    (tmp_path / "grades.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,HW1 (501)\n    Points Possible,,,,,3.00\n"
        "\"Liddell, Alice\",12345,S1,aliddell,A,\n\"Builder, Bob\",23456,S2,bbuilder,A,\n"
        "\"Danvers, Carol\",34567,S3,cdanvers,A,\n"
        "\"Student, Test\",88888,,3f786850e387550fdab836ed7e6dc881de23001b,A,\n")
    (tmp_path / "groups.csv").write_text("group,canvas_id\nTeam Rocket,12345\nTeam Rocket,23456\n")
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.writestr(f"teamrocket_12345_1_{ASSIGNMENT}.ipynb", "{}")
        zf.writestr(f"studenttest_88888_2_{ASSIGNMENT}.ipynb", "{}")
    args = ("collect", str(tmp_path / "d.zip"), "--course", str(course), "--roster",
            str(tmp_path / "grades.csv"))
    (tmp_path / "bad.csv").write_text("group,canvas_id\nTeam Rocket,99\n")
    result = run(*args, "--groups", str(tmp_path / "bad.csv"))
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'bad.csv'}, line 2: no student on the roster has canvas_id '99'"]
    assert not (course / "submitted").exists()
    result = run(*args, "--groups", str(tmp_path / "groups.csv"))
    assert result.exit_code == 0, result.output
    assert f"collected 2 notebook(s) of {ASSIGNMENT} from 2 student(s)" in result.output
    assert "group Team Rocket: 12345's submission copied to 23456" in result.output
    assert (f"skipped: studenttest_88888_2_{ASSIGNMENT}.ipynb: Canvas's Test Student (Student "
            "View), not a student on the roster") in result.output
    assert "no submission from 1 student(s): 34567" in result.output
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["12345", "23456"]


def record_as_grade_does(course, results) -> None:
    """Record `results` with the fingerprints `autograder grade` records (its find_jobs, seed 0,
    the course's limits), as if it had just graded the submissions in `course`."""
    from autograder.commands.grading import find_jobs
    from autograder.settings import load_limits

    jobs = {j.student: j for j in find_jobs(course, ASSIGNMENT, None, 0, load_limits(course))}
    with Gradebook.for_course(course) as book:
        for r in results:
            book.record(r, jobs[r.student].fingerprint)


def status_rows(course) -> tuple[dict[str, str], list[str]]:
    """`status`'s table rows by student, and every line of its output."""
    result = run("status", ASSIGNMENT, "--course", str(course))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    return {line.split()[0]: line for line in lines[1:] if line.split()[0] in
            ("alice", "bob", "carol", "dave")}, lines


def test_a_submission_changed_since_grading_is_stale_in_status_and_export_refuses(graded, results,
                                                                               tmp_path):
    """bob hands in again after grading: his 3.5 is the grade of the old notebook. Before, export
    wrote it (exit 0) and status showed it next to the new time."""
    record_as_grade_does(graded, results)
    export = ("export", ASSIGNMENT, "--course", str(graded), "--to", "csv,canvas,html")
    assert run(*export, "--out", str(tmp_path / "ok")).exit_code == 0
    rows, _ = status_rows(graded)
    assert "stale" not in "".join(rows.values())

    bob = graded / "submitted" / "bob" / ASSIGNMENT
    (bob / f"{ASSIGNMENT}.ipynb").write_text('{"resubmitted": true}')
    (bob / "timestamp.txt").write_text("2026-12-01T20:00:00+00:00")
    refused = run(*export, "--out", str(tmp_path / "x"))
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        f"Error: 1 grade(s) of {ASSIGNMENT} are stale: for bob, their submission (or the "
        "assignment's source or release files, the course's limits or the grader) changed since "
        f"they were graded; nothing was exported. Run `autograder grade {ASSIGNMENT}` first: it "
        "grades just those"]
    assert not (tmp_path / "x").exists()
    rows, lines = status_rows(graded)
    assert rows["bob"].split()[1:5] == ["2026-12-01", "20:00", "stale", "was"]
    assert "3.5 / 6" in rows["bob"] and "stale" not in rows["alice"] + rows["carol"]
    assert lines[-2] == "3 submitted, 1 graded, 1 stale, 1 failed, 1 no submission"
    assert lines[-1].startswith("stale: bob: ") and f"autograder grade {ASSIGNMENT}`" in lines[-1]


def test_a_changed_assignment_or_limits_make_every_grade_stale(graded, results, tmp_path):
    export = ("export", ASSIGNMENT, "--course", str(graded), "--to", "csv", "--out",
              str(tmp_path / "x"))
    source = graded / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    changes = [(graded / "autograder.toml", "[limits]\nmemory_mb = 1024\n"),
               (graded / "release" / ASSIGNMENT / "data.csv", "1,2\n"),
               (source, source.read_text().replace("relu(1) == 1", "relu(3) == 3"))]
    for path, text in changes:
        record_as_grade_does(graded, results)
        assert run(*export).exit_code == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        refused = run(*export)
        assert refused.exit_code == 1, path
        assert "3 grade(s) of vectorization are stale: for alice, bob, carol" in refused.output
        rows, lines = status_rows(graded)
        assert all("stale" in rows[s] for s in ("alice", "bob", "carol"))
        assert lines[-2] == "3 submitted, 0 graded, 3 stale, 1 no submission"


def test_a_graded_submission_gone_from_the_course_keeps_its_grade_with_a_note(graded, results,
                                                                            tmp_path):
    import shutil

    record_as_grade_does(graded, results)
    shutil.rmtree(graded / "submitted" / "alice")
    rows, lines = status_rows(graded)
    assert "graded, submission gone" in rows["alice"] and "5.4 / 6" in rows["alice"]
    assert rows["alice"].split()[1] == "-"
    assert lines[-2] == "2 submitted, 2 graded, 1 failed, 1 no submission, 1 submission gone"
    assert lines[-1].startswith("submission gone: alice: ")
    out = tmp_path / "exports"
    result = run("export", ASSIGNMENT, "--course", str(graded), "--to", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "note: the submission of alice is no longer in submitted/; exported the grade recorded "
        "when it was graded")
    rows = {r["student_id"]: r for r in csv.DictReader((out / f"{ASSIGNMENT}_grades.csv").open())}
    assert rows["alice"]["score"] == "5.4"


def test_canvas_column_header(graded, tmp_path):
    """The header Canvas matches to its assignment: the folder name unless --canvas-column gives
    "Title (id)"; the output line says which."""
    out = tmp_path / "exports"
    export = ("export", ASSIGNMENT, "--course", str(graded), "--to", "canvas", "--out", str(out))
    default = run(*export)
    assert default.exit_code == 0, default.output
    header = (out / f"{ASSIGNMENT}_canvas.csv").read_text().splitlines()[0]
    assert header == f"Student,ID,SIS User ID,SIS Login ID,Section,{ASSIGNMENT}"
    assert (f'column header "{ASSIGNMENT}"; Canvas matches a column to its assignment by '
            '"Title (id)"') in default.output
    named = run(*export, "--canvas-column", "HW1 Tensors (12345)")
    assert named.exit_code == 0, named.output
    header = (out / f"{ASSIGNMENT}_canvas.csv").read_text().splitlines()[0]
    assert header == "Student,ID,SIS User ID,SIS Login ID,Section,HW1 Tensors (12345)"
    assert 'column header "HW1 Tensors (12345)"' in named.output
    misused = run("export", ASSIGNMENT, "--course", str(graded), "--to", "csv", "--out", str(out),
                  "--canvas-column", "HW1 (1)")
    assert misused.exit_code == 2 and "for --to canvas" in misused.output
