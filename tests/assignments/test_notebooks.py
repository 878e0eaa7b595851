"""The committed assignment notebooks: built from their cell files, valid, and shaped as nbgrader
and the grading engine expect (solution regions, graded test cells with hidden tests)."""

from __future__ import annotations

import ast
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
        assert re.search(r"^\s*from autograder\.asserts import", visible, re.M), \
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


def top_level_bindings(source: str) -> list[tuple[str, int]]:
    """(name, line) of each name a cell's code binds in the namespace it runs in, imports aside:
    assignment (plain, augmented, annotated), for, with ... as, except ... as, del, walrus and
    match targets, def and class names, and names a function declares global. Function, lambda
    and class bodies and comprehensions have scopes of their own (a walrus in a comprehension
    binds in the cell's)."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.name, node.lineno))
            inner: list[ast.AST] = list(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                inner += node.bases + [keyword.value for keyword in node.keywords]
            else:
                inner += node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
            for child in inner:
                visit(child)
            found.extend((name, sub.lineno) for sub in ast.walk(node)
                         if isinstance(sub, ast.Global) for name in sub.names)
            return
        if isinstance(node, ast.Lambda):
            for child in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                visit(child)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            visit(node.generators[0].iter)
            found.extend((sub.target.id, sub.lineno) for sub in ast.walk(node)
                         if isinstance(sub, ast.NamedExpr))
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.append((node.id, node.lineno))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.append((node.name, node.lineno))
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            found.append((node.name, node.lineno))
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.append((node.rest, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def test_top_level_bindings_finds_every_kind_of_binding():
    source = '''
import numpy as np
from autograder.asserts import assert_close
a = 1
b += 1
c: int = 2
for d, (e, f) in []:
    pass
with open("x") as g:
    pass
try:
    pass
except ValueError as h:
    pass
if (i := 3):
    del j
def k(x, y=(z := 1)):
    global m
    m = x
    n = y
class o:
    p = 1
q = [r for r in range(3) if (s := r)]
t = lambda u: u + v
match a:
    case [w, *rest]:
        pass
    case {"k": 1, **others}:
        pass
_private, _ = 1, 2
'''
    names = [name for name, _ in top_level_bindings(source)]
    assert sorted(names) == sorted(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "z",
                                    "m", "o", "q", "s", "t", "w", "rest", "others", "_private",
                                    "_"])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_bind_nothing_but_their_own_function(assignment):
    """nbgrader runs a test cell in the student's kernel, so a name the cell binds replaces the
    student's own of that name: a test's `keep = ...` replaced a student's helper function `keep`,
    and `_spread = ...` a helper `_spread` (0 points where the work was right). Each test cell
    binds one name, its function ``_<grade_id>`` (build.in_function), and calls it."""
    nb = nbformat.read(build.notebook_path(assignment), as_version=4)
    wrong = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        name = f"_{meta['grade_id']}"
        bound = [n for n, _ in top_level_bindings(cell.source)]
        last = ast.parse(cell.source).body[-1]
        called = (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                  and ast.unparse(last.value) == f"{name}()")
        if bound != [name] or not called:
            wrong.append(f"{meta['grade_id']} binds {bound}{'' if called else ', no call last'}")
    assert not wrong, f"{assignment}: " + "; ".join(wrong)
