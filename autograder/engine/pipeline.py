"""Grading one submission: student cells in the sandboxed child, test cells here, scored as
``nbgrader autograde`` scores them.

nbgrader's rules (``nbgrader.utils.determine_grade``): a test cell that raises, or writes to
stderr, earns 0; one whose last expression has a value that reads as a number in [0, points]
earns that (partial credit); any other cell earns its points. The submission's total is the sum.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import datetime as _dt
import errno
import hashlib
import importlib
import io
import os
import socket
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from IPython.core.displayhook import DisplayHook

from autograder import asserts
from autograder.asserts.source import magic_cell_body
from autograder.engine import magics, protocol, sandbox, wire
from autograder.engine.notebook import (
    NotebookError,
    Step,
    StudentCell,
    TestCell,
    grading_plan,
    read_notebook,
    test_cells,
    visible_bindings,
)
from autograder.engine.proxies import Remote, encode_definition, make_proxy
from autograder.engine.sandbox import Limits
from autograder.engine.session import Budget, ChildSession, MachineFault, SandboxFailure
from autograder.engine.worker import Worker
from autograder.results import SubmissionResult, TestResult

#: Characters of a test's captured output kept in its result.
OUTPUT_CAP = 4000


#: The phases of grading a submission that ``SubmissionResult.timings`` records, in seconds.
PHASES = ("start_s", "cells_s", "compile_s", "tests_s", "reference_s")


@dataclass
class Run:
    """What grading one notebook produced, and where its time went (``PHASES``)."""

    tests: list[TestResult] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))


def _classify(error: dict[str, Any]) -> str | None:
    """The attack (or limit) a student cell's error points to, if any."""
    kind = error.get("type")
    code = error.get("errno")
    if kind == "MemoryError":
        return "memory-limit"
    if kind == "SystemExit":
        return "exit"
    if kind == "BlockingIOError" and code == errno.EAGAIN:
        return "process-limit"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or kind == "PermissionError":
        return "filesystem"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED) or kind == "gaierror":
        return "network"
    if code == errno.EFBIG:
        return "file-size-limit"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "disk-limit"
    return None


def _execute(source: str, namespace: dict[str, Any], filename: str) -> Any:
    """Run a cell like IPython: the value of a last bare expression (None if there is none or a
    semicolon ends it, as IPython's display hook reads one: not in a comment)."""
    tree = ast.parse(source, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and \
            not DisplayHook.semicolon_at_end_of_expression(source):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec", dont_inherit=True), namespace)
    return (eval(compile(last, filename, "eval", dont_inherit=True), namespace)
            if last is not None else None)


def _partial(value: Any, points: float) -> tuple[float, str]:
    """nbgrader's partial credit from a test cell's displayed value (``get_partial_grade``)."""
    from IPython.lib.pretty import pretty

    try:
        text = pretty(value)
    except Exception:  # noqa: BLE001 - its repr may raise anything: "something else", full credit
        return points, ""
    try:
        grade = float(text)
    except ValueError:
        return points, ""
    if grade > points:
        return 0.0, f"partial credit {grade:g} is more than the cell's {points:g} points"
    if grade < 0 or grade == points:
        return points, ""
    return grade, f"partial credit: {grade:g} of {points:g} points"


def _builtins_used(steps: list[Step]) -> frozenset[str]:
    """The built-in names (abs, all, sum ...) the test cells read. A student's function bound
    to one of them is what a test calls, in a notebook and here alike: ``def abs(x): return 0``
    passes ``abs(mean(xs) - 2) < 1e-12``. The grade stays nbgrader's; the submission is flagged
    (shadowed-builtin:abs) for a person to look at."""
    names: set[str] = set()
    for step in steps:
        if isinstance(step, TestCell):
            try:
                tree = ast.parse(magics.transform(step.source))
            except (SyntaxError, ValueError):
                continue
            names.update(node.id for node in ast.walk(tree)
                         if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))
    return frozenset(name for name in names
                     if not name.startswith("_") and hasattr(builtins, name))


def importable(value: Any) -> list[str] | None:
    """Where the sandbox can import ``value`` from itself: [module, qualified name] (a module:
    [its name, ""]), or None for what no module holds under its own name."""
    if isinstance(value, types.ModuleType):
        return [value.__name__, ""]
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname or \
            module == "__main__" or module not in sys.modules:
        return None
    found: Any = sys.modules[module]
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return [module, qualname] if found is value else None


def graded_steps(steps: list[Step]) -> list[Step]:
    """The steps grading runs: up to the last test cell (cells after it cannot change a score)."""
    last_test = max((i for i, s in enumerate(steps) if isinstance(s, TestCell)), default=-1)
    return steps[:last_test + 1]


def budget_for(limits: Limits, plans: list[list[Step]]) -> float:
    """The wall-clock seconds of a submission whose notebooks are graded by ``plans``
    (``sandbox.submission_budget``)."""
    steps = [s for plan in plans for s in graded_steps(plan)]
    tests = sum(isinstance(s, TestCell) for s in steps)
    return sandbox.submission_budget(limits, len(steps) - tests, tests)


class Grader:
    """Runs a plan's steps for one notebook in one child of ``worker``."""

    def __init__(self, worker: Worker, seed: int = 0, forbidden: tuple[str, ...] = ()) -> None:
        self.worker, self.seed, self.forbidden = worker, seed, forbidden

    def run(self, steps: list[Step], folders: list[Path], prefix: str = "",
            budget: Budget | None = None) -> Run:
        """Grade ``steps`` in a fresh child, within the submission's wall-clock ``budget`` (by
        default ``budget_for`` these steps), after which the remaining tests score 0."""
        run = Run()
        clock = time.perf_counter()
        steps = graded_steps(steps)
        budget = budget or Budget.from_now(budget_for(self.worker.limits, [steps]))
        session = self.worker.session(folders, self.seed, budget)
        run.timings["start_s"] = time.perf_counter() - clock
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        namespace["get_ipython"] = lambda shell=magics.MagicShell(namespace): shell
        students: dict[str, Any] = {}
        seen: dict[str, str] = {}
        builtins_used = _builtins_used(steps)
        cells = count = 0  # student cells; code cells as a kernel counts them (not the empty)
        # the tests see nbgrader's variables too, as in the kernel nbgrader starts
        environment = mock.patch.dict(os.environ, self.worker.variables)
        environment.start()
        try:
            for step in steps:
                clock = time.perf_counter()
                count += bool(step.source.strip())
                if isinstance(step, StudentCell):
                    cells += 1
                    self._student_cell(step, cells, count, session, run)
                    run.timings["cells_s"] += time.perf_counter() - clock
                elif session.out_of_time():
                    run.flags.add("time-budget")
                    run.tests.append(_not_run(step, prefix, str(session.failure)))
                else:
                    spent = asserts.reference_seconds()
                    self._sync(session, namespace, students, seen, run)
                    run.flags.update(f"shadowed-builtin:{name}" for name in builtins_used
                                     if callable(students.get(name)))
                    before = dict(namespace)
                    run.tests.append(self._test_cell(step, namespace, session, run, prefix))
                    self._define(session, step, namespace, before, students, run)
                    run.timings["reference_s"] += asserts.reference_seconds() - spent
                    run.timings["tests_s"] += time.perf_counter() - clock
        finally:
            environment.stop()
            session.close(kill=session.failure is not None)
        if session.machine_fault:
            raise MachineFault(session.machine_fault)
        run.timings["compile_s"] = session.compile_s
        run.flags |= session.flags
        return run

    def _student_cell(self, step: StudentCell, index: int, count: int, session: ChildSession,
                      run: Run) -> None:
        for needle in self.forbidden:
            if needle and needle in step.source:
                run.flags.add("read-attempt")
        if session.failure is not None:
            return
        source = magics.transform(step.source)
        session.cells[index] = source
        body = magic_cell_body(source)
        if body is not None:
            session.cells[-index] = magics.transform(body)
        try:
            reply, _ = session.request(protocol.request("run", index=index, count=count,
                                                        source=source, raw=step.source),
                                       timeout=self.worker.limits.cell_timeout_s)
        except SandboxFailure as failure:
            run.flags.add(failure.flag)
            run.notes.append(f"cell {index}: {failure}")
            return
        if not reply.get("ok") and isinstance(reply.get("error"), dict):
            flag = _classify(reply["error"])
            if flag:
                run.flags.add(flag)
        if isinstance(reply.get("errstate"), dict):  # not on a reply that the grader made up
            session.errstate = protocol.error_handling(reply["errstate"])
        for name in reply.get("patched") or ():
            run.flags.add(f"monkeypatch:{name}")
        for note in reply.get("notes") or ():
            run.notes.append(f"cell {index}: {note}")
        if protocol.truncated(str(reply.get("stdout", "")) + str(reply.get("stderr", ""))):
            run.flags.add("output-flood")

    def _sync(self, session: ChildSession, namespace: dict[str, Any], students: dict[str, Any],
              seen: dict[str, str], run: Run) -> None:
        """Bring the student's names, as values or proxies, into the test namespace (only names
        that changed since the last test cell, so a test's own names are not overwritten), and
        into ``students``, which each proxy carries as ``__autograder_globals__``: the source
        checks follow the student's helpers through it, as they follow a function's globals in a
        notebook. The sandbox's stand-ins for the kernel (``display``) stay the grader's own. A
        name the student deleted (``del``, ``%reset``) is gone from both."""
        if session.failure is not None:
            return
        try:
            reply, blobs = session.request(protocol.request("names"))
        except SandboxFailure as failure:
            run.flags.add(failure.flag)
            return
        names = reply.get("names")
        if not isinstance(names, dict):
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            run.notes.append("the student's names could not be read: "
                             f"{error.get('message', 'no reply')}")
            return
        for name, entry in names.items():
            if type(name) is not str or not name.isidentifier() or not isinstance(entry, dict):
                continue
            kind = entry.get("kind")
            if kind == "same" or (name == "display" and entry.get("module") == magics.__name__):
                continue
            try:  # a value's digest covers its own blobs only: another name's change is not its
                used = wire.blob_indices(entry.get("value"))
                digest = hashlib.sha1(repr(entry).encode() + b"".join(
                    hashlib.sha1(blobs[i]).digest() for i in used
                    if type(i) is int and 0 <= i < len(blobs))).hexdigest()
                if seen.get(name) == digest:
                    continue
                if kind == "value":
                    value = wire.decode(entry.get("value"), blobs)
                elif kind == "module":
                    module = str(entry.get("module", ""))
                    if not protocol.trusted_module(module):
                        continue
                    value = importlib.import_module(module)
                elif kind == "object":
                    value = make_proxy(session, entry)
                    value.__autograder_globals__ = students
                else:
                    continue
            except (Exception, SystemExit):  # noqa: BLE001 - a bad entry, or a module's import
                run.flags.add("protocol")
                continue
            seen[name] = digest
            namespace[name] = students[name] = value
        for name in [n for n in seen if n not in names]:  # deleted: del, %reset
            del seen[name]
            namespace.pop(name, None)
            students.pop(name, None)

    def _define(self, session: ChildSession, step: TestCell, namespace: dict[str, Any],
                before: dict[str, Any], students: dict[str, Any], run: Run) -> None:
        """What the test cell bound (``namespace`` against ``before``) or deleted reaches the
        student's later cells, which in a notebook share its namespace: plain data, the
        student's own objects (a test's ``x = np.arange(5)``, ``model = build()``), and what it
        imported (``np``, ``assert_allclose``), which the sandbox imports itself. Only names
        its visible part binds go (``visible_bindings``: a hidden test's data stays out of the
        student's reach), and a function or class the test defined stays with the tests."""
        if session.failure is not None:
            return
        visible = visible_bindings(step.source)
        names: dict[str, Any] = {}
        imported: dict[str, list[str]] = {}
        blobs: list[bytes] = []
        budget = self.worker.limits.transfer_mb * 2**20 // 2
        for name, value in namespace.items():
            if name not in visible or name in before and before[name] is value:
                continue
            try:
                place = None if isinstance(value, Remote) else importable(value)
                if place is not None:
                    imported[name] = place
                    continue
                tree, extra = encode_definition(value, session, budget)
            except Exception:  # noqa: BLE001 - whatever cannot go (a test's own object whose
                continue       # attributes raise, too) stays with the tests
            budget -= sum(map(len, extra))
            names[name] = wire.shift(tree, len(blobs))
            blobs += extra
            if name in students:
                students[name] = value
        deleted = [name for name in before if name not in namespace and name in visible]
        if not names and not imported and not deleted:
            return
        try:
            reply, _ = session.request(protocol.request("define", names=names, imported=imported,
                                                        deleted=deleted), blobs,
                                       timeout=self.worker.limits.call_timeout_s)
        except SandboxFailure as failure:
            run.flags.add(failure.flag)
            return
        if not reply.get("ok"):
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            run.notes.append(f"what {step.grade_id} defined did not reach the student's cells: "
                             f"{error.get('message', 'no reply')}")

    def _test_cell(self, step: TestCell, namespace: dict[str, Any], session: ChildSession, run: Run,
                   prefix: str) -> TestResult:
        started = time.perf_counter()
        result = self._run_test(step, namespace, session, run, prefix)
        return dataclasses.replace(result, duration_s=round(time.perf_counter() - started, 4))

    def _run_test(self, step: TestCell, namespace: dict[str, Any], session: ChildSession, run: Run,
                  prefix: str) -> TestResult:
        session.stdout.clear()
        session.stderr.clear()
        out, err = io.StringIO(), io.StringIO()
        error, value, stopped = "", None, False
        limit, interrupts = self.worker.limits.call_timeout_s, session.interrupts
        started = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught, session.test_cell(limit), \
                np.errstate(**_students_error_handling(session.errstate)):
            _notebook_warning_filters()
            session.warning_baseline = list(warnings.filters)
            try:
                value = _execute(magics.transform(step.source), namespace,
                                 f"<test {step.grade_id}>")
            except SandboxFailure as failure:
                run.flags.add(failure.flag)
                error, stopped = f"your code could not finish: {failure}", True
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - a failed test, whatever it raised
                error = "".join(_format(exc)).strip()
        if not stopped and (session.interrupts > interrupts or time.monotonic() - started > limit):
            # nbgrader interrupts a cell past its timeout, whatever the test made of a call's
            # CellTimeoutError (an ``except Exception`` cannot keep that cell from failing)
            error = (f"CellTimeoutError: the test cell timed out after {limit:g} s and was "
                     "interrupted, as nbgrader interrupts a cell that runs past its timeout")
            run.flags.add("timeout")
        stderr = err.getvalue() + "".join(session.stderr) + "".join(
            f"{w.category.__name__}: {w.message}\n" for w in caught)
        output = (out.getvalue() + "".join(session.stdout) + stderr)[:OUTPUT_CAP]
        name = prefix + step.grade_id
        if error:
            if session.failure is not None and "could not finish" not in error:
                error += f"\n  (your notebook's code stopped earlier: {session.failure})"
            return TestResult(name, 0.0, step.points, False, error, step.hidden, output)
        if stderr:
            return TestResult(name, 0.0, step.points, False,
                              "the test wrote to stderr (nbgrader scores that 0): "
                              + stderr.strip()[:500], step.hidden, output)
        points, message = (step.points, "") if value is None else _partial(value, step.points)
        return TestResult(name, points, step.points, points >= step.points, message,
                          step.hidden, output)


def _not_run(step: TestCell, prefix: str, why: str) -> TestResult:
    """A test cell scored 0 without running, saying why."""
    return TestResult(prefix + step.grade_id, 0.0, step.points, False,
                      f"not run: {why}", step.hidden)


def _students_error_handling(errstate: dict[str, str]) -> dict[str, str]:
    """NumPy's error handling for a test cell: the student's own, as the test cell's code meets it
    in their notebook's kernel (the test's reference arithmetic too), but "print", which would
    write to this process's stderr unseen, as "warn", which the test's warning record sees."""
    return {kind: "warn" if action == "print" else action for kind, action in errstate.items()}


def _notebook_warning_filters() -> None:
    """Python's default warning filters, as a notebook kernel has them: each warning shown once
    per place, deprecations only from the notebook's own code (whatever this process had set)."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


def _format(exc: BaseException) -> list[str]:
    import traceback

    return traceback.format_exception_only(type(exc), exc)


def versions(worker: Worker | None = None) -> dict[str, str]:
    """The versions a result was graded with."""
    import numba
    import numpy

    import autograder

    found = {"python": sys.version.split()[0], "numpy": numpy.__version__,
             "numba": numba.__version__, "autograder": autograder.__version__}
    if worker is not None and worker.hello:
        found["sandbox_python"] = str(worker.hello.get("versions", {}).get("python", ""))
    return found


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def grade_submission(assignment: str, student: str, source_dir: Path, submission_dir: Path,
                     worker: Worker, release_dir: Path | None = None, seed: int = 0,
                     forbidden: tuple[str, ...] = (), submitted_at: str = "") -> SubmissionResult:
    """Grade ``submission_dir`` (a student's folder of one assignment) against the test cells of
    the notebooks in ``source_dir``; never raises for anything the submission does.
    ``submitted_at`` (ISO 8601) is recorded as its submission time."""
    started = time.perf_counter()
    graded_at = _now()
    sources = sorted(Path(source_dir).glob("*.ipynb"))
    if not sources:
        raise NotebookError(f"{source_dir} has no source notebooks")
    tests: list[TestResult] = []
    flags: set[str] = set()
    timings = dict.fromkeys(PHASES, 0.0)
    problems: list[str] = []
    status = "graded"
    plans: list[tuple[str, list[Step] | None, list[TestResult]]] = []  # or the tests it fails
    for source_path in sources:
        source = read_notebook(source_path)
        prefix = f"{source_path.stem}:" if len(sources) > 1 else ""
        mine = Path(submission_dir) / source_path.name
        try:
            plans.append((prefix, grading_plan(source, read_notebook(mine)), []))
        except NotebookError as error:
            status = "missing" if not mine.exists() else "failed"
            problems.append(str(error))
            plans.append((prefix, None, [TestResult(prefix + t.grade_id, 0.0, t.points, False,
                                                    str(error), t.hidden)
                                         for t in test_cells(source)]))
    budget = Budget.from_now(budget_for(worker.limits, [s for _, s, _ in plans if s is not None]))
    folders = ([d for d in (release_dir,) if d is not None and Path(d).is_dir()]
               + [Path(submission_dir)])
    for prefix, steps, failed in plans:
        tests += failed
        if steps is None:
            continue
        run = Grader(worker, seed, forbidden).run(steps, folders, prefix, budget)
        tests += run.tests
        flags |= run.flags
        timings = {k: timings[k] + run.timings[k] for k in PHASES}
    return SubmissionResult(
        assignment=assignment, student=student, tests=tuple(tests), status=status,
        error="; ".join(problems), flags=tuple(sorted(flags)), seed=seed, graded_at=graded_at,
        submitted_at=submitted_at, duration_s=round(time.perf_counter() - started, 3),
        versions=versions(worker),
        limits=sandbox.describe(budget.limits(worker.limits), worker.mode,
                                worker.cgroup.version if worker.cgroup else "none",
                                len(worker.gpus)),
        timings={k: round(v, 4) for k, v in timings.items()}, host=socket.gethostname())


def validate_notebook(path: Path, worker: Worker,
                      seed: int = 0) -> tuple[list[TestResult], list[str]]:
    """Run a student's own notebook with its visible tests (hidden ones stripped): the results
    per test cell and the notes (skipped magics, flagged errors)."""
    from autograder.engine.notebook import visible_plan

    steps = visible_plan(read_notebook(path))
    run = Grader(worker, seed).run(steps, [Path(path).parent])
    return run.tests, run.notes + [f"flag: {f}" for f in sorted(run.flags)]
