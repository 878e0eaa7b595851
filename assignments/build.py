"""Write the nbgrader source notebooks (source/<assignment>/<assignment>.ipynb) from the readable
cell files in cells/<assignment>.txt, so that the notebooks' text can be reviewed as plain text.

The committed notebooks are what nbgrader reads; tests check that they equal this script's output.
A cell file is a sequence of cells, each opened by a marker line:

    %%% markdown                  explanation (read-only for students)
    %%% code                      given code, locked: nbgrader restores it when grading
    %%% solution GRADE_ID         the student's part: ### BEGIN SOLUTION / ### END SOLUTION inside
    %%% tests GRADE_ID POINTS     a graded test cell: visible asserts, then hidden ones

A test cell's code runs inside a function of its own, ``_<GRADE_ID>``, called at once: nbgrader
runs test cells in the student's namespace, where a name a test bound at the top level would replace
the student's own of that name (a helper function called ``keep`` or ``_spread`` turned into an
array, and correct work scored 0). Its first lines import the builtins it uses from ``builtins``,
for the same reason the other way round: a student's ``max = x.max()`` replaced the test's ``max``.

Usage: python assignments/build.py [--check]   (--check: exit 1 if a notebook is out of date)
"""

from __future__ import annotations

import ast
import builtins
import sys
import textwrap
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
CELLS = HERE / "cells"
SOURCE = HERE / "source"
MARKER = "%%% "
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float | None = None) -> dict:
    """nbgrader's cell metadata (schema 3)."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def in_function(grade_id: str, body: str, students: frozenset[str] = frozenset()) -> str:
    """A test cell's code as the body of the function ``_<grade_id>``, then its call. The builtins
    the code reads come from ``builtins`` first: a notebook's scratch ``max = x.max()`` or
    ``list = reviews[0]`` would otherwise be what the test's own ``max(...)`` calls (and correct
    work would score 0); ``students``, the names the notebook's own cells bind, are left to it."""
    name = f"_{grade_id}"
    read, bound = names_in(body)
    used = sorted(n for n in read - bound - students
                  if n in vars(builtins) and not n.startswith("_"))
    code = body.rstrip()
    if used:
        imports = [f"from builtins import {', '.join(used)}"]
        if len(imports[0]) > 96:
            imports = textwrap.wrap(f"from builtins import ({', '.join(used)})", 96,
                                    subsequent_indent="    ")
        code = "\n".join(["# the builtins, whatever the notebook has named max, list, ...",
                           *imports, code])
    return f"def {name}():\n{textwrap.indent(code, '    ')}\n\n\n{name}()\n"


def names_in(code: str) -> tuple[set[str], set[str]]:
    """The names ``code`` reads, and those it binds (anywhere: assignments, definitions,
    parameters, imports, ``except ... as``)."""
    read, bound = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read, bound


def parse(text: str, origin: str) -> list[tuple[list[str], str]]:
    """The cells of a cell file as (marker words, body) pairs; ValueError names a bad marker."""
    cells: list[tuple[list[str], list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(MARKER):
            words = line[len(MARKER):].split()
            kind = words[0] if words else ""
            arity = {"markdown": 1, "code": 1, "solution": 2, "tests": 3}.get(kind)
            if arity != len(words):
                raise ValueError(f"{origin}:{number}: bad cell marker {line!r}; expected one of "
                                 "'%%% markdown', '%%% code', '%%% solution ID', "
                                 "'%%% tests ID POINTS'")
            cells.append((words, []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"{origin}:{number}: text before the first cell marker")
    return [(words, "\n".join(body).strip("\n")) for words, body in cells]


def build(assignment: str) -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` built from cells/<assignment>.txt."""
    path = CELLS / f"{assignment}.txt"
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    given = 0
    cells = parse(path.read_text(encoding="utf-8"), str(path))
    students = frozenset(name for words, body in cells if words[0] in ("code", "solution")
                         for name in names_in(body)[1])
    for index, (words, body) in enumerate(cells):
        kind = words[0]
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(body)
            cell.id = f"md-{index:02d}"
            nb.cells.append(cell)
            continue
        cell = nbformat.v4.new_code_cell(in_function(words[1], body, students) if kind == "tests"
                                         else body)
        if kind == "code":
            given += 1
            cell.metadata = _nbgrader(f"given-{given}", locked=True)
        elif kind == "solution":
            cell.metadata = _nbgrader(words[1], solution=True)
        else:
            cell.metadata = _nbgrader(words[1], grade=True, locked=True, points=float(words[2]))
        cell.id = cell.metadata["nbgrader"]["grade_id"]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def assignments() -> list[str]:
    """The assignment names, one per cell file."""
    return sorted(p.stem for p in CELLS.glob("*.txt"))


def notebook_path(assignment: str) -> Path:
    """Where the source notebook of ``assignment`` lives in the nbgrader course directory."""
    return SOURCE / assignment / f"{assignment}.ipynb"


def render(assignment: str) -> str:
    """The exact text of the committed notebook."""
    return nbformat.writes(build(assignment))


def main(argv: list[str]) -> int:
    """Write every notebook, or with --check report the ones that differ from their cell files."""
    check = "--check" in argv
    stale = []
    for assignment in assignments():
        text, path = render(assignment), notebook_path(assignment)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run python assignments/build.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
