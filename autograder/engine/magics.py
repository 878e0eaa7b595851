"""IPython syntax in student cells, without a Jupyter kernel.

The grader turns a cell's magics into plain Python with IPython's own transformer
(``%timeit f(x)`` becomes ``get_ipython().run_line_magic('timeit', 'f(x)')``); in the sandbox a
small stand-in shell (``MagicShell``) runs what is safe and skips the rest with a note: ``%timeit``
and ``%time`` run the statement once, ``%matplotlib`` and other display or configuration magics are
skipped, shell commands (``!ls``) never run.
"""

from __future__ import annotations

import re
from typing import Any

#: Line magics that only configure the notebook's display or kernel: skipped silently.
QUIET = {"matplotlib", "config", "load_ext", "reload_ext", "autoreload", "aimport", "precision",
         "pylab", "pprint", "xmode", "colors", "notebook", "autosave"}
#: Magics whose statement is run once, without the timing.
TIMED = {"timeit", "time", "prun", "capture"}
_TIMEIT_OPTIONS = re.compile(r"^\s*((?:-[nr]\s*\d+|-[oqcp]\s*\d*|-t)\s+)*")


def transform(source: str) -> str:
    """``source`` with IPython magics and shell escapes turned into calls on ``get_ipython()``;
    unchanged if it has none (or cannot be parsed: the sandbox reports the SyntaxError)."""
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython may raise anything on a cell it cannot read
        return source  # which then fails with its own SyntaxError


class MagicShell:
    """The ``get_ipython()`` a student cell sees in the sandbox: runs or skips magics."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.notes: list[str] = []
        self.user_ns = namespace

    def _run(self, code: str) -> Any:
        code = _TIMEIT_OPTIONS.sub("", code, count=1)
        return exec(compile(code, "<magic>", "exec"), self.namespace)

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in TIMED:
            self.notes.append(f"%{name} ran its statement once, untimed")
            return self._run(line)
        if name not in QUIET:
            self.notes.append(f"%{name} skipped: the grader does not run this magic")
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name in TIMED:
            self.notes.append(f"%%{name} ran its cell once, untimed")
            if name == "timeit" and line.strip():
                self._run(line)  # %%timeit's setup line
            return self._run(cell)
        self.notes.append(f"%%{name} skipped: the grader does not run this cell magic")
        return None

    def system(self, command: str) -> None:
        self.notes.append(f"shell command skipped: !{command.strip()[:60]}")

    def getoutput(self, command: str) -> list[str]:
        self.system(command)
        return []

    def run_cell(self, *args: Any, **kwargs: Any) -> None:
        self.notes.append("get_ipython().run_cell skipped")

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.notes.append(f"get_ipython().{name} skipped")
