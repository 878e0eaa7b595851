"""`autograder grade` grades a submission again when anything its verdict depends on changed (the
course's limits, the released files, the engine's code), and only then."""

from __future__ import annotations

from click.testing import CliRunner

from autograder.cli import main
from autograder.commands import grading
from tests.helpers import notebooks as nbs

SLOW_ADD = "def add(a, b):\n    import time\n    time.sleep(3)\n    return a + b\n"


def run(course, *args: str) -> str:
    done = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                     "--workers", "1", *args])
    assert done.exit_code == 0, done.output
    return done.output


def test_a_changed_limit_release_or_engine_grades_again(tmp_path, monkeypatch):
    """The audit's case: a call timed out under a short limit; once the limit is raised the
    submission is graded again without --force."""
    course = nbs.course(tmp_path / "c", {"amy": nbs.with_cell(nbs.CORRECT, 3, SLOW_ADD)})
    (course / "autograder.toml").write_text("[limits]\ncall_timeout_s = 1\n")
    assert "amy                  4/7" in run(course)
    assert "1 already graded; 0 to grade" in run(course)
    (course / "autograder.toml").write_text("[limits]\ncall_timeout_s = 20\n")
    raised = run(course)
    assert "0 already graded; 1 to grade" in raised and "amy                  7/7" in raised
    assert "1 already graded; 0 to grade" in run(course)
    (course / "release" / nbs.ASSIGNMENT).mkdir(parents=True)
    (course / "release" / nbs.ASSIGNMENT / "data.csv").write_text("1,2\n")
    assert "0 already graded; 1 to grade" in run(course)
    monkeypatch.setattr(grading, "_engine_digest", lambda: "another engine")
    assert "0 already graded; 1 to grade" in run(course)
