"""Reading notebooks and splitting them, by their nbgrader metadata, into the steps of a grading
run.

Test cells ("Autograder tests": grade true, solution false) always come from the source notebook;
the submission's own copies are ignored, so editing or deleting them changes nothing. Locked
read-only cells are restored from the source too, as ``nbgrader autograde`` does. Every other code
cell of the submission is student code, run in order in the sandbox, but for one tagged
``skip-execution``, which nbgrader's executor skips too (a test cell runs whatever its tags).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The tag of a cell that nbgrader's executor does not run (nbclient's ``skip_cells_with_tag``).
SKIP_TAG = "skip-execution"
_HIDDEN = re.compile(r"^[ \t]*###\s*BEGIN HIDDEN TESTS.*?^[ \t]*###\s*END HIDDEN TESTS[^\n]*\n?",
                     re.MULTILINE | re.DOTALL)


class NotebookError(ValueError):
    """A notebook that cannot be read or graded (the message says what is wrong with it)."""


@dataclass(frozen=True)
class StudentCell:
    """A code cell that runs in the sandbox."""

    source: str
    grade_id: str = ""


@dataclass(frozen=True)
class TestCell:
    """A graded test cell that runs in the trusted grader."""

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    source: str
    hidden: bool = False


Step = StudentCell | TestCell


def read_notebook(path: str | Path) -> dict[str, Any]:
    """The notebook at ``path`` as a dict with a list of cells whose sources are strings."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"notebook {path} does not exist") from None
    except OSError as error:
        raise NotebookError(f"notebook {path} cannot be read: {error.strerror}") from None
    try:
        # utf-8-sig: a byte-order mark (an editor such as Windows Notepad writes one) is no
        # content; nbgrader refuses such a notebook, which is otherwise whole
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookError(f"notebook {path} is not UTF-8 text (byte {error.start}); "
                            f"save it again from Jupyter") from None
    try:
        nb = json.loads(text)
    except ValueError as error:
        raise NotebookError(f"notebook {path} is not valid JSON ({error}); "
                            f"restore it from a checkpoint or re-download it") from None
    if type(nb) is not dict or type(nb.get("cells")) is not list:
        raise NotebookError(f"notebook {path} has no list of cells; is it a Jupyter notebook?")
    cells = []
    for cell in nb["cells"]:
        if type(cell) is not dict:
            raise NotebookError(f"notebook {path} has a cell that is not an object")
        source = cell.get("source", "")
        if type(source) is list and all(type(s) is str for s in source):
            source = "".join(source)
        if type(source) is not str:
            raise NotebookError(f"notebook {path} has a cell whose source is not text")
        meta = cell.get("metadata") if type(cell.get("metadata")) is dict else {}
        nbgrader = meta.get("nbgrader") if type(meta.get("nbgrader")) is dict else {}
        tags = meta.get("tags")
        cells.append({"cell_type": cell.get("cell_type"), "source": source, "nbgrader": nbgrader,
                      "skipped": type(tags) is list and SKIP_TAG in tags})
    return {"cells": cells, "path": str(path)}


def _grade_id(cell: dict[str, Any]) -> str:
    gid = cell["nbgrader"].get("grade_id", "")
    return gid if type(gid) is str else ""


def _is_test(cell: dict[str, Any]) -> bool:
    nb = cell["nbgrader"]
    return cell["cell_type"] == "code" and nb.get("grade") is True and not nb.get("solution")


def _is_locked(cell: dict[str, Any]) -> bool:
    nb = cell["nbgrader"]
    return nb.get("locked") is True and not nb.get("solution") and not nb.get("grade")


def _marked(cell: dict[str, Any]) -> bool:
    """Whether nbgrader keeps a cell's grade_id to one cell (a test, solution or locked cell)."""
    nb = cell["nbgrader"]
    return bool(_grade_id(cell)) and (nb.get("grade") is True or nb.get("solution") is True
                                      or nb.get("locked") is True)


def _points(cell: dict[str, Any], where: str) -> float:
    points = cell["nbgrader"].get("points", 0)
    try:
        return float(points)
    except (TypeError, ValueError):
        raise NotebookError(f"test cell {_grade_id(cell)!r} of {where} has non-numeric points "
                            f"{points!r}") from None


def test_cells(nb: dict[str, Any]) -> list[TestCell]:
    """The graded test cells of a (source) notebook, in order; hidden tests kept."""
    found, seen = [], set()
    for cell in nb["cells"]:
        if not _is_test(cell):
            continue
        gid = _grade_id(cell)
        if not gid:
            raise NotebookError(f"{nb['path']} has a test cell without a grade_id; "
                                f"run `nbgrader generate_assignment` to check the source notebook")
        if gid in seen:
            raise NotebookError(f"{nb['path']} has two test cells with grade_id {gid!r}")
        seen.add(gid)
        found.append(TestCell(gid, _points(cell, nb["path"]), cell["source"],
                              hidden=bool(_HIDDEN.search(cell["source"]))))
    if not found:
        raise NotebookError(f"{nb['path']} has no graded test cells (nbgrader grade: true)")
    return found


def grading_plan(source: dict[str, Any], submission: dict[str, Any]) -> list[Step]:
    """The steps that grade ``submission``: its code cells as student cells, with every test cell
    (and locked cell) taken from ``source``. A test cell the student deleted goes after the cell it
    followed in the source (the end, if that is gone too). Of cells that share a grade_id (a
    cell the student copied), the last keeps it and those before run as the student's own code,
    as submitted (nbgrader's ``DeduplicateIds``): a copied test is graded where its last copy
    stands."""
    tests = {t.grade_id: t for t in test_cells(source)}
    locked = {_grade_id(c): c["source"] for c in source["cells"] if _is_locked(c) and _grade_id(c)}
    last = {_grade_id(c): i for i, c in enumerate(submission["cells"]) if _marked(c)}
    steps: list[Step] = []
    placed: set[str] = set()
    anchors: dict[str, int] = {}  # grade_id of a submission cell -> index of its step
    for index, cell in enumerate(submission["cells"]):
        if cell["cell_type"] != "code":
            continue
        gid = _grade_id(cell) if last.get(_grade_id(cell), index) == index else ""
        if gid in tests:
            steps.append(tests[gid])
            placed.add(gid)
        elif not cell["skipped"]:
            steps.append(StudentCell(locked.get(gid, cell["source"]), gid))
        if gid:
            anchors.setdefault(gid, len(steps) - 1)
    # Deleted test cells: insert each after the step of the nearest preceding source cell present.
    previous = ""
    inserts: list[tuple[int, int, TestCell]] = []
    for order, cell in enumerate(source["cells"]):
        gid = _grade_id(cell)
        if gid in tests and gid not in placed:
            position = anchors[previous] + 1 if previous in anchors else len(steps)
            inserts.append((position, order, tests[gid]))
            placed.add(gid)
        if gid and gid in anchors:
            previous = gid
    for position, _, test in sorted(inserts, key=lambda x: (x[0], x[1]), reverse=True):
        steps.insert(position, test)
    return steps


def strip_hidden(source: str) -> str:
    """A test cell's source without its ``### BEGIN/END HIDDEN TESTS`` regions."""
    return _HIDDEN.sub("", source)


def visible_bindings(source: str) -> set[str]:
    """The names a test cell's visible part (its hidden tests stripped: what the student's own
    notebook ran) binds or deletes at its top level: what its student may have used after it."""
    try:
        tree = ast.parse(strip_hidden(source))
    except SyntaxError:  # magics: the tests of this course have none
        return set()
    found: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue  # its body is its own scope
        if not isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                                 ast.GeneratorExp)):
            stack.extend(ast.iter_child_nodes(node))
    return found


def visible_plan(nb: dict[str, Any]) -> list[Step]:
    """The steps that check a student's own notebook: its code cells, its test cells with any
    hidden tests stripped (for ``autograder validate``)."""
    steps: list[Step] = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if _is_test(cell) and _grade_id(cell):
            steps.append(TestCell(_grade_id(cell), _points(cell, nb["path"]),
                                  strip_hidden(cell["source"]),
                                  hidden=bool(_HIDDEN.search(cell["source"]))))
        elif not cell["skipped"]:
            steps.append(StudentCell(cell["source"], _grade_id(cell)))
    if not any(isinstance(s, TestCell) for s in steps):
        raise NotebookError(f"{nb['path']} has no graded test cells to check")
    return steps
