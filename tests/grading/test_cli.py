"""`autograder grade` and `autograder validate` as an instructor and a student use them."""

from __future__ import annotations

from click.testing import CliRunner

from autograder.cli import main
from autograder.gradebook import FILENAME, Gradebook
from tests.helpers import notebooks as nbs


def test_grade_a_course_in_parallel_then_skip_what_is_done(tmp_path):
    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT, "bob": nbs.PARTLY, "cat": nbs.STUB})
    runner = CliRunner()
    first = runner.invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                 "--workers", "2"])
    assert first.exit_code == 0, first.output
    assert ("amy" in first.output and "7/7" in first.output and "3/7" in first.output
            and "0/7" in first.output)
    with Gradebook(course / FILENAME) as book:
        assert {r.student: r.score for r in book.results()} == {"amy": 7.0, "bob": 3.0, "cat": 0.0}
    again = runner.invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                 "--student", "bob"])
    assert again.exit_code == 0 and "1 already graded; 0 to grade" in again.output


def test_grade_mistakes_are_one_line_errors(tmp_path):
    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT})
    runner = CliRunner()
    for args, words in ((["grade", "nope", "--course", str(course)], "no source notebooks"),
                        (["grade", nbs.ASSIGNMENT, "--course", str(course), "--student", "zed"],
                         "zed has no submission"),
                        (["grade", nbs.ASSIGNMENT, "--course", str(tmp_path / "missing")],
                         "no nbgrader course directory")):
        result = runner.invoke(main, args)
        assert result.exit_code != 0 and words in result.output and "Traceback" not in result.output


def test_validate_reports_the_visible_tests(tmp_path):
    path = nbs.write(tmp_path / "mine.ipynb", nbs.PARTLY)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "PASS  test_relu  2/2" in lines and "FAIL  test_add  0/3" in lines
    assert "FAIL  test_mean  1/2" in lines and "partial credit: 1 of 2 points" in result.output
    assert "visible tests: 3/7 points" in result.output
    # the notebook sees nbgrader's validate variables: relu is defined only after the check
    checked = nbs.with_cell(nbs.CORRECT, 1, "import os\nassert os.environ['NBGRADER_EXECUTION'] "
                                            "== 'validate'\n" + nbs.RELU)
    good = CliRunner().invoke(main, ["validate", str(nbs.write(tmp_path / "good.ipynb", checked))])
    assert good.exit_code == 0 and "visible tests: 7/7 points" in good.output, good.output
    missing = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.ipynb")])
    assert (missing.exit_code != 0 and "does not exist" in missing.output
            and "Traceback" not in missing.output)


def test_a_regrade_reports_what_changed_and_keeps_the_history(tmp_path):
    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT, "bob": nbs.PARTLY})
    runner = CliRunner()
    first = runner.invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                 "--workers", "1"])
    assert first.exit_code == 0 and "re-graded" not in first.output, first.output
    nbs.write(course / "submitted" / "bob" / nbs.ASSIGNMENT / f"{nbs.ASSIGNMENT}.ipynb",
              nbs.CORRECT)
    again = runner.invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course), "--force",
                                 "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert "re-graded 2 submission(s) graded before: 1 score(s) changed:" in again.output
    changed = [line for line in again.output.splitlines() if line.startswith("  bob")]
    assert (changed and "3 -> 7/7" in changed[0] and "test_add 0 -> 3" in changed[0]
            and "test_mean 1 -> 2" in changed[0])
    assert not any(line.startswith("  amy") for line in again.output.splitlines())
    with Gradebook(course / FILENAME) as book:
        assert [r.score for r in book.history(nbs.ASSIGNMENT, "bob")] == [3.0]
        assert book.get(nbs.ASSIGNMENT, "bob").score == 7.0
    shown = runner.invoke(main, ["status", nbs.ASSIGNMENT, "--course", str(course), "--history"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    start = lines.index("  bob")
    assert ("3/7" in lines[start + 1] and "7/7" in lines[start + 2]
            and "test_add 0 -> 3" in lines[start + 2])
    assert "history: 2 earlier grading(s), oldest first:" in shown.output


def test_grade_uses_the_course_limits_and_refuses_bad_ones(tmp_path):
    from autograder.gradebook import Gradebook as Book

    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT})
    (course / "autograder.toml").write_text("[limits]\nsubmission_s = 77\ntmp_mb = 100\n")
    result = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course)])
    assert result.exit_code == 0, result.output
    with Book(course / FILENAME) as book:
        limits = book.get(nbs.ASSIGNMENT, "amy").limits
    assert limits["submission_s"] == 77 and limits["tmp_mb"] == 100
    (course / "autograder.toml").write_text("[limits]\ntmp_mb = 'lots'\n")
    bad = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course), "--force"])
    assert bad.exit_code != 0 and "tmp_mb = 'lots' must be a positive whole number" in bad.output
    assert "Traceback" not in bad.output


def test_grade_finds_the_course_as_every_command_does(tmp_path, monkeypatch):
    """From the folder above the course (./assignments), and from $AUTOGRADER_COURSE."""
    nbs.course(tmp_path / "assignments", {"amy": nbs.CORRECT})
    monkeypatch.chdir(tmp_path)
    found = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--workers", "1"])
    assert found.exit_code == 0 and "7/7" in found.output, found.output
    monkeypatch.chdir(tmp_path / "assignments" / "source")
    monkeypatch.setenv("AUTOGRADER_COURSE", str(tmp_path / "assignments"))
    again = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--force", "--workers", "1"])
    assert again.exit_code == 0 and "7/7" in again.output, again.output


def test_validate_uses_the_course_limits_when_given(tmp_path):
    course = nbs.course(tmp_path / "c", {})
    (course / "autograder.toml").write_text("[limits]\nsubmission_s = 0.5\n")
    path = nbs.write(tmp_path / "mine.ipynb",
                     nbs.with_extra(nbs.CORRECT, 1, "import time\ntime.sleep(2)\n"))
    hurried = CliRunner().invoke(main, ["validate", str(path), "--course", str(course)])
    assert hurried.exit_code == 1 and "time budget of 0.5 s ran out" in hurried.output
    missing = CliRunner().invoke(main, ["validate", str(path), "--course",
                                        str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no nbgrader course directory" in missing.output


def test_workers_are_as_many_as_the_memory_holds_at_the_cap(tmp_path, monkeypatch):
    """Two submissions, 2 cores or more, memory for one at the 2048 MB cap: one worker by
    default, and a note (not a refusal) when asked for two."""
    from autograder.engine import cgroups, procfs

    monkeypatch.setattr(procfs, "available_memory", lambda: 3 * 2**30)
    monkeypatch.setattr(cgroups, "own_memory_headroom", lambda: None)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT, "bob": nbs.CORRECT})
    runner = CliRunner()
    grade = ["grade", nbs.ASSIGNMENT, "--course", str(course)]
    first = runner.invoke(main, grade)
    assert first.exit_code == 0 and "to grade on 1 workers" in first.output, first.output
    again = runner.invoke(main, [*grade, "--workers", "2", "--force"])
    assert again.exit_code == 0 and "to grade on 2 workers" in again.output, again.output
    assert ("note: 2 workers at a memory cap of 2048 MB each need more memory than this machine "
            "has available (enough for 1)") in again.output
    monkeypatch.setattr(cgroups, "own_memory_headroom", lambda: 2**30)  # a container's limit
    assert "to grade on 1 workers" in runner.invoke(main, [*grade, "--force"]).output
