"""Small nbgrader notebooks and course directories for the grading engine's tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

ASSIGNMENT = "ps1"
IMPORTS = "import numpy as np"
RELU = "def relu(x):\n    ### BEGIN SOLUTION\n    return np.maximum(x, 0)\n    ### END SOLUTION\n"
ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"
MEAN = "def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION\n"
TEST_RELU = """import numpy as np
from autograder.asserts import assert_close
x = np.array([[-1.0, 2.0], [3.0, -4.0]])
assert_close(relu(x), np.maximum(x, 0), name="relu(x)")
### BEGIN HIDDEN TESTS
assert_close(relu(np.array([-3.0, 5.0])), np.array([0.0, 5.0]), name="relu(x)")
### END HIDDEN TESTS
"""
TEST_ADD = """assert add(1, 2) == 3
assert np.allclose(add(np.ones(3), 1.0), 2.0)
"""
TEST_MEAN = """score = 0.0
if abs(mean([1.0, 2.0, 3.0]) - 2.0) < 1e-12:
    score += 1.0
if abs(mean([4.0]) - 4.0) < 1e-12:
    score += 1.0
score
"""
#: A module the notebook writes, imports, and writes again (a longer file: Python's cache of the
#: compiled module is checked by the source's size and whole seconds of its time).
WRITE_SCALING = ("with open('scaling.py', 'w') as f:\n"
                 "    f.write('def factor():\\n    return {}\\n')\n")
#: The test cells: grade_id -> (points, source).
TESTS = {"test_relu": (2, TEST_RELU), "test_add": (3, TEST_ADD), "test_mean": (2, TEST_MEAN)}


def cell(source: str, grade_id: str = "", solution: bool = False, points: float | None = None,
         locked: bool = False) -> nbformat.NotebookNode:
    """A code cell with nbgrader metadata (none when ``grade_id`` is empty)."""
    c = nbformat.v4.new_code_cell(source)
    if grade_id:
        meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution,
                "grade": points is not None, "locked": locked or points is not None}
        if points is not None:
            meta["points"] = points
        c.metadata["nbgrader"] = meta
    return c


def source_cells(relu: str = RELU, add: str = ADD, mean: str = MEAN) -> list:
    """The source notebook's cells (solutions given, or replaced by the arguments)."""
    return [
        cell(IMPORTS, "imports", locked=True),
        cell(relu, "relu_solution", solution=True),
        cell(TEST_RELU, "test_relu", points=2),
        cell(add, "add_solution", solution=True),
        cell(TEST_ADD, "test_add", points=3),
        cell(mean, "mean_solution", solution=True),
        cell(TEST_MEAN, "test_mean", points=2),
    ]


def write(path: Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def course(root: Path, submissions: dict[str, list | bytes | None],
           source: list | None = None) -> Path:
    """An nbgrader course at ``root`` with the source notebook (``source_cells()`` unless given)
    and one submission per student (cells, raw bytes, or None for a folder without the
    notebook)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'testcourse'\n"
        f"c.CourseDirectory.root = {str(root)!r}\n")
    write(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", source or source_cells())
    for student, content in submissions.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (folder / f"{ASSIGNMENT}.ipynb").write_bytes(content)
        elif content is not None:
            write(folder / f"{ASSIGNMENT}.ipynb", content)
    return root


CORRECT = source_cells()
PARTLY = source_cells(add="def add(a, b):\n    return a - b\n",
                      mean="def mean(xs):\n    return xs[0]\n")
STUB = source_cells(relu="def relu(x):\n    raise NotImplementedError()\n",
                    add="def add(a, b):\n    raise NotImplementedError()\n",
                    mean="def mean(xs):\n    raise NotImplementedError()\n")


def with_cell(cells: list, index: int, source: str, **meta) -> list:
    """``cells`` with cell ``index`` replaced by ``source`` (keeping its metadata unless given)."""
    out = [c.copy() for c in cells]
    old = out[index].metadata.get("nbgrader", {})
    out[index] = cell(source, meta.get("grade_id", old.get("grade_id", "")),
                      old.get("solution", False),
                      old.get("points") if old.get("grade") else None, old.get("locked", False))
    return out


def with_extra(cells: list, index: int, source: str) -> list:
    """``cells`` with a new cell (no metadata) holding ``source`` inserted before ``index``."""
    out = [c.copy() for c in cells]
    out.insert(index, cell(source))
    return out
