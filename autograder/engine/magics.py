"""IPython syntax in student cells, without a Jupyter kernel.

The grader turns a cell's magics into plain Python with IPython's own transformer
(``%timeit f(x)`` becomes ``get_ipython().run_line_magic('timeit', 'f(x)')``); in the sandbox a
small stand-in shell (``MagicShell``) runs what is safe and skips the rest with a note. What a
magic gives back, or leaves in the namespace, is what IPython's gives: ``%time`` and ``%%time``
run once, untimed, and return the value of a last expression; ``%timeit`` runs its statement
once, untimed and inside a function as IPython's does, unless its result is kept (``-o``,
``-v NAME``) or its loops are given (``-n``), when it is timed as IPython times it and the
result is IPython's ``TimeitResult``; ``%%capture NAME`` keeps the cell's output in ``NAME``;
``%%writefile`` (or ``%%file``) writes its file; ``%run`` runs a script;
``%env`` reads and sets variables; ``%reset`` and ``%reset_selective`` delete the notebook's
names; ``%load_ext autoreload`` with ``%autoreload`` and ``%aimport`` reload changed modules
before each cell, with IPython's own reloader (other extensions are not loaded, but one that is
not installed fails); and Numba reads the variables ``%env`` sets when the notebook first
imports it. ``%matplotlib`` and other display or configuration magics are skipped, shell
commands (``!ls``) never run, and ``%conda`` fails outside a conda environment as it fails in a
kernel. Cells are compiled as IPython compiles them: a top-level ``await`` runs to its end on an
event loop, as IPython's autoawait runs it, and a cell's ``from __future__`` imports hold for
the cells after it. The shell keeps the kernel's history names (``In``, ``Out``, ``_``:
``history``), gives the namespace the ``display`` a kernel defines, is what ``get_ipython()``
gives the notebook's code (imported from IPython too), and pyplot behaves as under the inline
backend: ``plt.show()`` and the end of each cell close the figures.

The body of a cell magic (``%%time`` above a ``def``) runs from a file of its own, cell-<index>.py
beside the cell's cell<index>.py, so that the functions it defines have their source, as they do
in a kernel; the grader reads them in its copy of that body (``asserts.source.magic_cell_body``).
"""

from __future__ import annotations
import __future__

import ast
import asyncio
import builtins
import functools
import importlib.util
import inspect
import linecache
import operator
import os
import re
import shlex
import sys
import time
import timeit
import traceback
import types
import uuid
from typing import Any

from autograder.engine.history import History

#: Line magics that only configure the notebook's display or kernel: skipped silently.
QUIET = {"matplotlib", "config", "precision", "pylab", "pprint", "xmode", "colors", "notebook",
         "autosave"}
#: Line magics that run a conda-like installer, which IPython runs only in a conda environment.
CONDA = {"conda", "mamba", "micromamba"}
#: The names a kernel gives a notebook, which ``%reset`` leaves.
KERNEL_NAMES = ("__name__", "__builtin__", "__builtins__", "get_ipython", "display")
#: The compiler flags of every ``from __future__`` import: IPython's compiler keeps those a cell
#: imported for the cells after it (``codeop.Compile``).
FUTURE_FLAGS = functools.reduce(operator.or_, (getattr(__future__, name).compiler_flag
                                               for name in __future__.all_feature_names))
#: Options of the magics that run a statement: those that take a value, and flags.
OPTIONS = {"timeit": ("nrpv", "tcqo"), "time": ("", ""), "prun": ("DlsT", "rq")}


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


def close_figures() -> None:
    """What IPython's inline backend does after each cell, and in ``plt.show()``: close every
    pyplot figure, so that the notebook holds only what one cell made (past 20 open figures
    matplotlib warns on stderr, which fails a test cell that plots)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    try:
        pyplot.close("all")
    except Exception:  # noqa: BLE001 - not imported, or a student's own in its place
        pass


def read_numba_environment_on_import(watched: dict[str, int]) -> None:
    """A kernel's Numba reads the NUMBA_* variables when the notebook first imports it (and
    again at each compile); the zygote imported it before the notebook ran. So the notebook's
    first ``import numba`` reads them again, and a variable set before it
    (``%env NUMBA_DISABLE_JIT=1``) holds from there, as in a kernel. The hook on
    ``builtins.__import__`` is the grader's: ``watched`` (``tampering``) is told of it."""
    from autograder.engine.tampering import accept

    original = builtins.__import__

    def first_import(name: str, scope: Any = None, local: Any = None, fromlist: Any = (),
                     level: int = 0) -> Any:
        importer = scope.get("__name__", "") if isinstance(scope, dict) else ""
        if (level == 0 and name.split(".")[0] == "numba"
                and not str(importer).startswith("autograder.")):  # the grader's own
            builtins.__import__ = original
            accept(watched, builtins, "__import__")
            config = sys.modules.get("numba.core.config")
            if config is not None:
                config.reload_config()
        return original(name, scope, local, fromlist, level)

    builtins.__import__ = first_import
    accept(watched, builtins, "__import__")


def get_ipython_in_cells(shell: MagicShell) -> None:
    """IPython's ``get_ipython()`` gives the notebook's code (its cells, and functions they
    define) the shell, as ``from IPython import get_ipython`` gives a kernel's cells the
    kernel's; a library asking whether it runs under IPython keeps IPython's own answer: None,
    as no IPython shell runs here (this shell is no stand-in for one to a library)."""
    import IPython
    from IPython.core import getipython

    original = getipython.get_ipython

    def get_ipython() -> Any:
        return shell if sys._getframe(1).f_globals is shell.namespace else original()

    IPython.get_ipython = getipython.get_ipython = get_ipython


def show(*args: Any, **kwargs: Any) -> None:
    """pyplot's ``show`` under IPython's inline backend: the figures are shown (here, to
    nobody) and closed."""
    close_figures()


def display(*objs: Any, display_id: Any = None, raw: bool = False, **kwargs: Any) -> Any:
    """IPython's ``display`` as a kernel shows plain objects: the text of each one's repr (of a
    raw output, its text/plain part), here printed. It must exist: a cell that calls it and
    stops there would lose the functions it defines after the call."""
    for obj in objs:
        if not raw:
            print(repr(obj))
        elif isinstance(obj, dict) and "text/plain" in obj:
            print(obj["text/plain"])
    if display_id:
        return DisplayHandle(uuid.uuid4().hex if display_id is True else display_id)
    return None


class DisplayHandle:
    """What ``display(..., display_id=...)`` returns, so that a cell's later ``update`` works."""

    def __init__(self, display_id: str) -> None:
        self.display_id = display_id

    def display(self, obj: Any, **kwargs: Any) -> None:
        display(obj, **kwargs)

    def update(self, obj: Any, **kwargs: Any) -> None:
        display(obj, **kwargs)


def options(name: str, line: str) -> tuple[dict[str, str], str]:
    """A magic's leading options (``-n 3 -o``, as IPython's ``parse_options`` reads them) and the
    statement after them."""
    valued, flags = OPTIONS.get(name, ("", ""))
    found: dict[str, str] = {}
    rest = line.lstrip()
    while rest.startswith("-") and len(rest) > 1:
        key = rest[1]
        if rest.startswith("--no-raise-error"):  # %time's only long option
            rest = rest[len("--no-raise-error"):].lstrip()
        elif key in flags:  # alone, or in a cluster as -qo
            found[key], rest = "", rest[2:]
            rest = rest.lstrip() if rest[:1].isspace() or not rest else "-" + rest
        elif key in valued:
            value, _, rest = rest[2:].lstrip().partition(" ")
            found[key], rest = value, rest.lstrip()
        else:
            break
    return found, rest


def notebook_namespace() -> dict[str, Any]:
    """A notebook's namespace as IPython makes it: the ``__dict__`` of a module ``__main__``
    that ``sys.modules`` holds, where pickle, copy and dataclasses look up the classes a
    notebook defines (their ``__module__`` is ``"__main__"``)."""
    module = types.ModuleType("__main__", doc="Automatically created module for IPython "
                                              "interactive environment")
    module.__dict__.update(__builtin__=builtins, __builtins__=builtins)
    sys.modules["__main__"] = module
    return module.__dict__


class MagicShell:
    """The ``get_ipython()`` a student cell sees in the sandbox: runs or skips magics. It adds
    ``display`` to ``namespace``, as a kernel does."""

    def __init__(self, namespace: dict[str, Any], cell_files: set[str] | None = None) -> None:
        self.namespace = namespace
        self.notes: list[str] = []
        self.user_ns = namespace
        self.cell_files = cell_files if cell_files is not None else set()
        self.body_path: str | None = None   # the file the running cell's magic body runs from
        self.autoreload: Any = None  # IPython's AutoreloadMagics, once %load_ext loads it
        self.loop: asyncio.AbstractEventLoop | None = None  # for cells with a top-level await
        self.future = 0  # the flags of the ``from __future__`` imports cells made so far
        self.history = History(namespace)
        namespace.setdefault("display", display)

    def compile(self, source: str | ast.AST, path: str, mode: str = "exec",
                cell: bool = False) -> types.CodeType:
        """``source`` compiled as IPython compiles it: with the ``from __future__`` imports of
        the cells before (and its own kept for the cells after), none of this module's, and,
        in a cell (``cell``), a top-level ``await`` allowed."""
        flags = self.future | (ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if cell else 0)
        code = compile(source, path, mode, flags=flags, dont_inherit=True)
        self.future |= code.co_flags & FUTURE_FLAGS
        return code

    def run_cell_source(self, count: int, source: str, path: str, raw: str | None = None) -> None:
        """Run cell number ``count`` (``source``, written to ``path``; ``raw``: as written, its
        magics not yet turned into calls) as a kernel runs it: its input kept in the history,
        its statements run, and the value of a last expression kept in ``Out`` and ``_``
        (``history``)."""
        self.history.store_input(count, source, source if raw is None else raw)
        tree = compile(source, path, "exec", flags=ast.PyCF_ONLY_AST | self.future,
                       dont_inherit=True)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        self.execute(self.compile(tree, path, cell=True))
        if last is not None:
            value = self.execute(self.compile(ast.Expression(last.value), path, "eval", True))
            self.history.store_output(count, value, source)

    def execute(self, code: types.CodeType) -> Any:
        """Run code compiled with ``compile`` in the namespace, and give its value (None for a
        module's); a cell with a top-level ``await`` is a coroutine, run to its end on the
        shell's own event loop, as IPython's autoawait runs it."""
        if not code.co_flags & inspect.CO_COROUTINE:
            return eval(code, self.namespace)
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(eval(code, self.namespace))

    def pre_run_cell(self) -> None:
        """What a kernel does before each cell it runs: IPython's autoreload checks for
        changed modules (errors are its own to show)."""
        if self.autoreload is not None:
            self.autoreload.pre_run_cell(None)

    def post_execute(self) -> None:
        """What a kernel does after each cell: autoreload notes the modules it imported (an
        error in it is shown, as IPython shows an error in a hook, and the cell stands)."""
        if self.autoreload is not None:
            try:
                self.autoreload.post_execute_hook()
            except Exception:  # noqa: BLE001 - the student's modules may hold anything
                traceback.print_exc()

    def push(self, variables: dict[str, Any]) -> None:
        """IPython's ``push``: ``variables`` into the notebook's namespace."""
        self.namespace.update(variables)

    def _run(self, code: str, path: str = "<magic>") -> Any:
        """Run ``code`` (its own magics turned into calls, as IPython does) in the namespace,
        compiled as the file ``path``; the value of its last expression, as ``%time`` gives."""
        tree = ast.parse(transform(code), path)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(self.compile(tree, path), self.namespace)
        if last is None:
            return None
        return eval(self.compile(ast.Expression(last.value), path, "eval"), self.namespace)

    def _body_file(self, cell: str) -> str:
        """Where a cell magic's body runs from: the cell's ``body_path``, written with the
        body (once per cell: a magic inside the body runs as "<magic>")."""
        path, self.body_path = self.body_path, None
        if path is None:
            return "<magic>"
        with open(path, "w", encoding="utf-8") as f:
            f.write(transform(cell))
        self.cell_files.add(path)
        linecache.checkcache(path)
        return path

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in OPTIONS:
            found, statement = options(name, line)
            return self._statement(name, found, "pass", statement)
        if name == "env":
            return self._env(line)
        if name == "run":
            return self._run_script(line)
        if name in ("reset", "reset_selective"):
            return self._reset(line, selective=name == "reset_selective")
        if name in ("load_ext", "reload_ext"):
            return self._load_extension(line.strip())
        if name in ("autoreload", "aimport"):
            if self.autoreload is None:  # IPython has no such magic before the extension
                from IPython.core.error import UsageError

                raise UsageError(f"Line magic function `%{name}` not found.")
            return getattr(self.autoreload, name)(line)
        if name in CONDA:  # a kernel outside a conda environment refuses them
            from IPython.core.magics.packaging import is_conda_environment

            is_conda_environment(lambda: None)()
        if name not in QUIET:
            self.notes.append(f"%{name} skipped: the grader does not run this magic")
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name in OPTIONS:
            found, setup = options(name, line)
            return self._statement(name, found, setup or "pass", cell, self._body_file(cell))
        if name == "capture":
            return self._capture(line, cell, self._body_file(cell))
        if name in ("writefile", "file"):  # %%file: IPython's alias
            return self._writefile(line, cell)
        self.notes.append(f"%%{name} skipped: the grader does not run this cell magic")
        return None

    def _statement(self, name: str, found: dict[str, str], setup: str, statement: str,
                   path: str = "<magic>") -> Any:
        """``%time``, ``%timeit``, ``%prun``: the statement run once, untimed (its value
        returned), or, for a ``%timeit`` whose result is kept or whose loops are given (``-n``:
        a statement's effects then happen as often as in IPython), timed as IPython times it;
        ``path``: the file the statement runs from. ``%timeit`` runs its statement inside a
        function, as IPython's does, so the names it assigns never reach the notebook."""
        if name == "timeit" and ("o" in found or "v" in found or "n" in found):
            return self._timeit(found, setup, statement)
        self.notes.append(f"%{name} ran its statement once, untimed")
        if name == "timeit":  # inside a function, as IPython's: its names stay there
            timeit.Timer(transform(statement), transform(setup), globals=self.namespace).timeit(1)
            return None
        self._run(setup)
        value = self._run(statement, path)
        return value if name == "time" else None

    def _timeit(self, found: dict[str, str], setup: str, statement: str) -> Any:
        """IPython's ``%timeit`` with a result: loops chosen to take at least 0.2 s unless
        ``-n`` is given, ``-r`` repeats (at least 7), the result kept in ``-v``'s name and
        returned for ``-o``."""
        from IPython.core.magics.execution import TimeitResult

        self.notes.append("%timeit timed its statement: " + (
            "its result is used" if "o" in found or "v" in found else "its loops are given"))
        statement, setup = transform(statement), transform(setup)
        started = time.perf_counter()
        timer = timeit.Timer(statement, setup, globals=self.namespace)
        compile_time = time.perf_counter() - started
        number = int(found.get("n", 0))
        for power in range(10 if number == 0 else 0):
            number = 10 ** power
            if timer.timeit(number) >= 0.2:
                break
        repeat = int(found.get("r", max(timeit.default_repeat, 7)))
        runs = timer.repeat(repeat, number)
        result = TimeitResult(number, repeat, min(runs) / number, max(runs) / number, runs,
                              compile_time, int(found.get("p", 3)))
        if "q" not in found:
            print(result)
        if "v" in found:
            self.namespace[found["v"]] = result
        return result if "o" in found else None

    def _capture(self, line: str, cell: str, path: str = "<magic>") -> None:
        """``%%capture [--no-stdout] [--no-stderr] [NAME]``: the cell's output kept in NAME."""
        from IPython.utils.capture import capture_output

        words = shlex.split(line)
        with capture_output("--no-stdout" not in words, "--no-stderr" not in words) as captured:
            self._run(cell, path)
        names = [w for w in words if not w.startswith("-")]
        if names:
            self.namespace[names[0]] = captured

    def _writefile(self, line: str, cell: str) -> None:
        """``%%writefile [-a] FILE``: the cell written (or appended) to FILE, as IPython does."""
        words = shlex.split(line)
        append = bool({"-a", "--append"} & set(words))
        names = [w for w in words if not w.startswith("-")]
        if not names:
            raise ValueError("%%writefile needs the name of the file to write")
        filename = os.path.expanduser(names[0])
        print(("Appending to " if append and os.path.exists(filename) else
               "Overwriting " if os.path.exists(filename) else "Writing ") + filename)
        with open(filename, "a" if append else "w", encoding="utf-8") as f:
            f.write(cell)

    def _run_script(self, line: str) -> None:
        """``%run [-i] SCRIPT.py [ARGS]``: the script run as IPython runs it, as ``__main__`` with
        ``sys.argv`` its name and arguments, in a namespace of its own whose names then join the
        notebook's (with ``-i``, in the notebook's own); other options and files are skipped."""
        words = shlex.split(line)
        interactive = words[:1] == ["-i"]
        words = words[1:] if interactive else words
        if not words or not words[0].endswith(".py"):
            self.notes.append(f"%run {line} skipped: the grader runs only %run [-i] SCRIPT.py")
            return
        path = os.path.expanduser(words[0])
        with open(path, encoding="utf-8") as f:
            code = compile(transform(f.read()), os.path.abspath(path), "exec", dont_inherit=True)
        scope = self.namespace if interactive else {
            "__name__": "__main__", "__file__": path,
            "__builtins__": self.namespace.get("__builtins__", __builtins__)}
        argv, sys.argv = sys.argv, words
        try:
            exec(code, scope)
        finally:
            sys.argv = argv
        if not interactive:
            self.namespace.update({k: v for k, v in scope.items()
                                   if not (k.startswith("__") and k.endswith("__"))})

    def _reset(self, line: str, selective: bool = False) -> None:
        """``%reset [-f] [-s] [array]``: the notebook's names deleted (``array``: its NumPy
        arrays), as a kernel without stdin deletes them unasked; ``%reset_selective [-f] REGEX``:
        the names REGEX finds (not those starting with _)."""
        words = [w for w in line.split() if not w.startswith("-")]
        if selective:
            if not words:
                return
            found = re.compile(words[0])
            doomed = [k for k in self.namespace if not k.startswith("_") and found.search(k)]
        elif "array" in words:
            import numpy

            doomed = [k for k, v in self.namespace.items() if isinstance(v, numpy.ndarray)]
        elif words and not {"in", "out", "dhist"} >= set(words):
            raise ValueError(f"%reset: unknown target {' '.join(words)!r}")
        elif words:  # the history only
            if "out" in words:
                self.history.clear_outputs()
            if "in" in words:
                self.history.clear_inputs()
            if "dhist" in words:
                self.history.clear_folders()
            return
        else:
            self.history.clear_outputs()
            doomed = list(self.namespace)
        for name in doomed:
            if name not in KERNEL_NAMES:
                del self.namespace[name]
        if not selective and not words:
            self.history.start()

    def _load_extension(self, module: str) -> None:
        """``%load_ext MODULE``: autoreload is IPython's own (``_load_autoreload``); another
        extension is not loaded, but one that is not installed fails as in a kernel, where the
        rest of its cell does not run."""
        from IPython.core.error import UsageError
        from IPython.core.extensions import BUILTINS_EXTS

        if not module:
            raise UsageError("Missing module name.")
        if module in ("autoreload", "IPython.extensions.autoreload"):
            return self._load_autoreload()
        if module not in BUILTINS_EXTS and importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named '{module}'", name=module)
        return None

    def _load_autoreload(self) -> None:
        """``%load_ext autoreload``: IPython's own extension, its hooks run by the sandbox
        around each cell (``pre_run_cell``, ``post_execute``)."""
        if self.autoreload is None:
            from IPython.extensions.autoreload import AutoreloadMagics

            self.autoreload = AutoreloadMagics(None)
            self.autoreload.shell = self  # for %aimport's push

    def _env(self, line: str) -> Any:
        """``%env``: all variables, one variable's value, or ``NAME=VALUE`` / ``NAME VALUE`` set."""
        line = line.strip()
        if not line:
            return dict(os.environ)
        name, sep, value = line.partition("=") if "=" in line else line.partition(" ")
        if not sep:
            return os.environ[name]
        os.environ[name.strip()] = value.strip()
        print(f"env: {name.strip()}={value.strip()}")
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

