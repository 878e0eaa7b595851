"""Splitting notebooks into student cells and test cells by nbgrader metadata."""

from __future__ import annotations

import copy

import pytest

from autograder.engine.magics import transform
from autograder.engine.notebook import (
    NotebookError,
    StudentCell,
    TestCell,
    grading_plan,
    read_notebook,
    strip_hidden,
    visible_plan,
)
from tests.helpers import notebooks as nbs


def load(tmp_path, cells, name="nb.ipynb"):
    return read_notebook(nbs.write(tmp_path / name, cells))


def kinds(steps):
    return [s.grade_id if isinstance(s, TestCell) else "student" for s in steps]


def test_test_cells_come_from_the_source(tmp_path):
    source = load(tmp_path, nbs.CORRECT, "source.ipynb")
    edited = load(tmp_path, nbs.with_cell(nbs.STUB, 4, "pass"))
    steps = grading_plan(source, edited)
    assert kinds(steps) == ["student", "student", "test_relu", "student", "test_add",
                            "student", "test_mean"]
    assert steps[4].source == nbs.TEST_ADD and steps[4].points == 3 and not steps[4].hidden
    assert steps[2].hidden and "HIDDEN" in steps[2].source
    assert "NotImplementedError" in steps[1].source  # the student's own code


def test_deleted_tests_go_back_where_they_were(tmp_path):
    source = load(tmp_path, nbs.CORRECT, "source.ipynb")
    cells = [c for c in nbs.CORRECT
             if c.metadata.get("nbgrader", {}).get("grade_id") not in ("test_add", "test_relu")]
    assert kinds(grading_plan(source, load(tmp_path, cells))) == [
        "student", "student", "test_relu", "student", "test_add", "student", "test_mean"]


def test_cells_that_lost_their_metadata_run_as_student_code_before_every_test(tmp_path):
    """A notebook whose cells lost their nbgrader metadata (pasted into a new notebook, or through
    an editor that drops it): every cell is the student's, the visible copies of the tests
    included, and every test cell of the source runs after them, in the source's order, so honest
    work keeps its points (nbgrader, which finds no test cell, gives 0)."""
    source = load(tmp_path, nbs.CORRECT, "source.ipynb")
    bare = [nbs.cell(c.source) for c in nbs.CORRECT]
    steps = grading_plan(source, load(tmp_path, bare))
    assert kinds(steps) == ["student"] * len(bare) + ["test_relu", "test_add", "test_mean"]
    assert [s.source for s in steps[:len(bare)]] == [c.source for c in nbs.CORRECT]


def test_a_cell_tagged_skip_execution_is_skipped_as_nbgrader_skips_it_but_never_a_test(tmp_path):
    """nbgrader's executor skips a cell tagged ``skip-execution`` (a slow cell the notebook marks);
    a test cell so tagged, which nbgrader would skip and score in full, runs."""
    source = load(tmp_path, nbs.CORRECT, "source.ipynb")
    cells = copy.deepcopy(nbs.with_extra(nbs.CORRECT, 1, "raise RuntimeError('slow')"))
    for cell in (cells[1], cells[3]):  # the slow cell, test_relu
        cell.metadata["tags"] = ["skip-execution"]
    for steps in (grading_plan(source, load(tmp_path, cells)), visible_plan(load(tmp_path, cells))):
        assert kinds(steps) == ["student", "student", "test_relu", "student", "test_add",
                                "student", "test_mean"]
        assert all("slow" not in s.source for s in steps)


def test_of_cells_sharing_a_grade_id_the_last_keeps_it_as_nbgrader_keeps_it(tmp_path):
    """A test cell the student copied to the end is graded there, from the source; the copy
    before runs as the student's own code, as submitted (nbgrader's DeduplicateIds); a locked
    cell copied likewise is restored at its last copy only."""
    source = load(tmp_path, nbs.CORRECT, "source.ipynb")
    cells = copy.deepcopy(nbs.CORRECT) + [nbs.cell("edited test", "test_relu", points=2),
                                          nbs.cell("edited imports", "imports", locked=True)]
    cells[2].source = "my copy of the test"
    steps = grading_plan(source, load(tmp_path, cells))
    assert kinds(steps) == ["student", "student", "student", "student", "test_add", "student",
                            "test_mean", "test_relu", "student"]
    assert [steps[0].source, steps[2].source] == [nbs.IMPORTS, "my copy of the test"]
    assert steps[7].source == nbs.TEST_RELU and steps[8].source == nbs.IMPORTS


def test_locked_cells_are_restored(tmp_path):
    source = load(tmp_path, nbs.CORRECT, "source.ipynb")
    steps = grading_plan(source, load(tmp_path, nbs.with_cell(nbs.CORRECT, 0, "np = None")))
    assert steps[0] == StudentCell(nbs.IMPORTS, "imports")


def test_visible_plan_strips_hidden_tests(tmp_path):
    steps = visible_plan(load(tmp_path, nbs.CORRECT))
    relu = next(s for s in steps if isinstance(s, TestCell) and s.grade_id == "test_relu")
    assert "HIDDEN" not in relu.source and "assert_close(relu(x)" in relu.source
    assert strip_hidden("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc\n") == "a\nc\n"


@pytest.mark.parametrize("content, words", [
    (b"{not json", "not valid JSON"), (b'{"cells": 3}', "no list of cells"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"cells": [{"cell_type": "code", "source": 5}]}', "source is not text"),
])
def test_broken_notebooks_say_what_is_wrong(tmp_path, content, words):
    (tmp_path / "bad.ipynb").write_bytes(content)
    with pytest.raises(NotebookError, match=words):
        read_notebook(tmp_path / "bad.ipynb")
    with pytest.raises(NotebookError, match="does not exist"):
        read_notebook(tmp_path / "missing.ipynb")


def test_a_notebook_saved_with_a_byte_order_mark_and_crlf_reads_as_saved_without(tmp_path):
    """Windows editors may add both; the cells are the same."""
    plain = tmp_path / "plain.ipynb"
    nbs.write(plain, nbs.CORRECT)
    windows = tmp_path / "windows.ipynb"
    windows.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    assert read_notebook(windows)["cells"] == read_notebook(plain)["cells"]


def test_source_problems_are_errors(tmp_path):
    twice = nbs.CORRECT + [nbs.cell("pass", "test_add", points=1)]
    with pytest.raises(NotebookError, match="two test cells"):
        grading_plan(load(tmp_path, twice, "s.ipynb"), load(tmp_path, nbs.CORRECT))
    with pytest.raises(NotebookError, match="no graded test cells"):
        grading_plan(load(tmp_path, [nbs.cell("x = 1")], "s2.ipynb"), load(tmp_path, nbs.CORRECT))


def test_magics_become_calls_on_the_stand_in_shell():
    out = transform("%timeit f(x)\n!ls\ny = 1\n")
    assert "run_line_magic('timeit', 'f(x)')" in out and "system('ls')" in out and "y = 1" in out
    assert transform("x = 1 % 2").strip() == "x = 1 % 2"
