"""The committed assignment notebooks: built from their cell files, valid, and shaped as nbgrader
and the grading engine expect (solution regions, graded test cells with hidden tests)."""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.assignments.conftest import COURSE
from tests.helpers.scripts import load_script

build = load_script("assignments/build.py")
ASSIGNMENTS = build.assignments()


def test_there_are_the_five_assignments():
    assert ASSIGNMENTS == ["01_tensors_vectorization", "02_data_preparation",
                           "03_losses_activations", "04_regularization", "05_gpu_kernels"]
    assert (COURSE / "nbgrader_config.py").is_file()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_notebook_is_what_the_builder_writes(assignment):
    path = build.notebook_path(assignment)
    assert path.read_text(encoding="utf-8") == build.render(assignment), (
        f"{path} differs from cells/{assignment}.txt: run python assignments/build.py")


def test_builder_check_mode_agrees(capsys):
    assert build.main(["--check"]) == 0


def test_builder_rejects_bad_markers():
    with pytest.raises(ValueError, match="bad cell marker"):
        build.parse("%%% tests only_an_id\nassert True\n", "x.txt")
    with pytest.raises(ValueError, match="text before the first cell marker"):
        build.parse("stray\n%%% code\n", "x.txt")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_cells_are_well_formed(assignment):
    nb = nbformat.read(build.notebook_path(assignment), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(solutions) >= 3 and len(tests) >= 4
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                "notebooks are committed without outputs"
    for cell in solutions:
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") >= 1
        assert not cell.metadata["nbgrader"]["locked"]
    for cell in tests:
        meta = cell.metadata["nbgrader"]
        assert meta["locked"] and meta["points"] > 0 and not meta["solution"]
        source = cell.source
        # at most one hidden region; a cell without one shows its output in the feedback
        assert source.count("### BEGIN HIDDEN TESTS") == source.count("### END HIDDEN TESTS") <= 1
        visible = source.split("### BEGIN HIDDEN TESTS")[0]
        assert re.search(r"^from autograder\.asserts import", visible, re.M), \
            "test cells import their helpers"
        assert "assert_not_toolkit(" in visible, \
            f"{meta['grade_id']} must check the work is the student's own"
        assert "assert_close(" in source or "check(" in source
    hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(hidden) >= len(tests) - 1, "every test cell but one holds hidden tests"


def test_every_function_a_student_writes_is_checked_against_the_toolkit():
    for assignment in ASSIGNMENTS:
        nb = nbformat.read(build.notebook_path(assignment), as_version=4)
        written = {m for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                   for m in re.findall(r"^def ([a-z]\w*)\(", c.source, re.M)}
        checked = {m for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                   for m in re.findall(r"assert_not_toolkit\((\w+)", c.source)}
        checked |= {m for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                    for m in re.findall(r'\("\w+", (\w+)', c.source)}
        assert written <= checked, \
            f"{assignment}: not checked with assert_not_toolkit: {written - checked}"
