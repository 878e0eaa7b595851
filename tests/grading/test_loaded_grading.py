"""benchmarks/loaded_grading.py: it grades a real course alone and under load, and it fails, naming
the test, when a loaded grading's verdict differs from the quiet one."""

from __future__ import annotations

import pytest

from tests.helpers.scripts import load_script


@pytest.fixture
def loaded_grading():
    return load_script("benchmarks/loaded_grading.py")


@pytest.mark.slow
def test_a_real_course_gets_the_same_verdicts_under_load(loaded_grading, capsys):
    code = loaded_grading.main(["--assignment", "03_losses_activations", "--rounds", "1",
                                "--spinners", "1", "--sweep-mb", "64"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "sample-right     17/17          identical in 1/1" in out
    assert "sample-hostile   0/17 flagged   identical in 1/1" in out
    assert "all loaded verdicts identical" in out


def test_a_changed_verdict_fails_the_check_and_is_named(loaded_grading, monkeypatch, capsys,
                                                        tmp_path):
    quiet = {"ann": ("graded", (), (("test_relu", 2.0, True, 2.0), ("test_dot", 1.0, True, 1.0)))}
    slow = {"ann": ("graded", (), (("test_relu", 0.0, False, 2.0), ("test_dot", 1.0, True, 1.0)))}
    gradings = iter([(1.0, quiet), (2.0, quiet), (3.0, slow)])
    monkeypatch.setattr(loaded_grading, "build", lambda root, assignment: tmp_path)
    monkeypatch.setattr(loaded_grading, "grade", lambda course, assignment: next(gradings))
    code = loaded_grading.main(["--assignment", "x", "--rounds", "2", "--spinners", "1",
                                "--sweep-mb", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "ann              3/3            identical in 1/2 loaded rounds" in out
    assert "differs: test_relu (2.0, True, 2.0) -> (0.0, False, 2.0)" in out
    assert "1 loaded gradings differ" in out


def test_a_submission_missing_from_a_loaded_grading_differs(loaded_grading):
    entry = ("graded", (), (("test_relu", 2.0, True, 2.0),))
    assert loaded_grading.difference(entry, entry) == ""
    assert loaded_grading.difference(entry, None) == "not graded"
    assert loaded_grading.difference(entry, ("failed", ("fork-bomb",), ())) == (
        "status graded -> failed; flags () -> ('fork-bomb',); test_relu (2.0, True, 2.0) -> -")
