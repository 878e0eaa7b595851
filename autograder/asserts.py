"""The checks that assignment test cells call: closeness with a readable diff, no Python loops,
speed against a reference, Numba compilation, CUDA kernels doing the work on the device (and
synchronizing their shared-memory tiles), and that the work is the student's own.

They run in the student's kernel under nbgrader and in the trusted grader process of the grading
engine, where the student's names are proxies. So they never trust the objects they inspect: they
read source text (``source_of``), convert results with ``np.asarray`` and compare plain arrays,
and never call a method of a student object. Every helper returns None (a number as a test cell's
last value would become nbgrader partial credit) and raises AssertionError with a message that
says what was expected, on what input, and gives a hint.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import marshal
import math
import os
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "source_of", "assert_close", "assert_no_loops", "assert_does_not_call", "assert_faster_than",
    "measure_speed", "SpeedMeasurement", "assert_numba_jit", "assert_not_toolkit",
    "assert_launches", "assert_no_array_math", "assert_tiles_synchronized",
]

#: How many mismatching elements a failure lists.
SHOWN = 5
#: How many helper functions the source checks follow from the function they check.
MAX_HELPERS = 20
#: Calls that are Python loops in disguise: NumPy's (np.vectorize, ...) and the builtins' (bare
#: map, filter, functools.reduce; a ufunc's own .reduce, as np.add.reduce, is vectorized).
HIDDEN_LOOPS = ("vectorize", "frompyfunc", "apply_along_axis", "apply_over_axes", "fromiter")
BUILTIN_LOOPS = ("map", "filter", "reduce")
_LOOP_NODES = {
    ast.For: "a for loop", ast.AsyncFor: "an async for loop", ast.While: "a while loop",
    ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
}


def _label(fn: Any, name: str | None) -> str:
    """The name a message uses for ``fn``: ``name``, else its ``__name__`` if that is a str."""
    if name:
        return name
    target = _python_function(fn)
    if inspect.isfunction(target) or inspect.isbuiltin(target):
        return target.__name__  # the function type's own slot: no student code runs
    found = inspect.getattr_static(fn, "__name__", None)
    return found if type(found) is str else "your function"


def source_of(fn: Any) -> str:
    """The source text of ``fn``, dedented: the engine's proxies carry it in
    ``__autograder_source__``; real functions (also from notebook cells, which IPython keeps in
    linecache, and Numba dispatchers) go through ``inspect.getsource``."""
    carried = inspect.getattr_static(fn, "__autograder_source__", None)
    if type(carried) is str:
        return textwrap.dedent(carried)
    target = _python_function(fn)
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError) as err:
        raise AssertionError(
            f"could not read the source of {_label(fn, None)} ({err}); define it with `def` in a "
            f"notebook cell and run that cell"
        ) from None


def _python_function(fn: Any) -> Any:
    """The plain Python function behind ``fn``: a Numba dispatcher's ``py_func``, a decorator's
    ``__wrapped__``; read statically, so no student ``__getattr__`` runs."""
    for attr in ("py_func", "__wrapped__"):
        try:
            inner = inspect.getattr_static(fn, attr)
        except AttributeError:
            continue
        if inspect.isfunction(inner):
            return inner
    return fn


def _parse(source: str, label: str) -> ast.Module:
    """The syntax tree of ``source``, or AssertionError naming the function."""
    try:
        return ast.parse(source)
    except SyntaxError as err:
        raise AssertionError(f"the source of {label} does not parse: {err}") from None


def _defs(tree: ast.AST) -> list[ast.AST]:
    """The function definitions in ``tree``, outermost first."""
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


@dataclass(frozen=True)
class _Definition:
    """One function to inspect: its name, syntax tree, source lines, and the live function when
    there is one (None for source carried by an engine proxy)."""

    name: str
    node: ast.AST
    lines: list[str]
    function: Any = None


def _definitions(fn: Any, label: str) -> list[_Definition]:
    """``fn``'s own definition, then the helpers it calls, so that a loop or an import cannot
    hide one call away: functions of the same notebook reached through its global names, or, for
    a proxy's carried source, the functions defined in that same source."""
    source = source_of(fn)
    tree = _parse(source, label)
    carried = type(inspect.getattr_static(fn, "__autograder_source__", None)) is str
    target = None if carried else _python_function(fn)
    own = target.__name__ if inspect.isfunction(target) else label
    defs = _defs(tree)
    main = next((d for d in defs if d.name == own), defs[0] if defs else tree)
    found = [_Definition(label, main, source.splitlines(), target)]
    if carried:
        by_name = {d.name: d for d in defs}
        queue, seen = [main], {getattr(main, "name", "")}
        while queue:
            for node in ast.walk(queue.pop()):
                if isinstance(node, ast.Name) and node.id in by_name and node.id not in seen:
                    seen.add(node.id)
                    queue.append(by_name[node.id])
                    found.append(_Definition(node.id, by_name[node.id], found[0].lines))
        return found
    if not inspect.isfunction(target):
        return found
    queue, seen = [target], {id(target)}
    while queue and len(found) < MAX_HELPERS:
        current = queue.pop()
        for global_name in sorted(_global_names(current)):
            helper = _python_function(current.__globals__.get(global_name))
            if (not inspect.isfunction(helper) or id(helper) in seen
                    or helper.__module__ != target.__module__):
                continue
            seen.add(id(helper))
            try:
                text = textwrap.dedent(inspect.getsource(helper))
            except (OSError, TypeError):
                continue
            helper_defs = _defs(_parse(text, global_name))
            if helper_defs:
                found.append(_Definition(global_name, helper_defs[0], text.splitlines(), helper))
                queue.append(helper)
    return found


def _global_names(function: Any) -> set[str]:
    """The global names a Python function's code (nested code included) refers to."""
    names: set[str] = set()
    stack = [function.__code__]  # the function type's own slot: no student code runs
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(k for k in code.co_consts if inspect.iscode(k))
    return names


def _where(definition: _Definition, label: str, node: ast.AST) -> str:
    """'line N of its source: `text`', naming the helper when it is not ``label`` itself."""
    lines, number = definition.lines, getattr(node, "lineno", 0)
    text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    owner = ("its source" if definition.name == label
             else f"the source of {definition.name}, which it calls")
    return f"line {number} of {owner}: `{text}`"


def _show(value: Any) -> str:
    """A short repr of one array element."""
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


def _as_array(value: Any, what: str, label: str) -> np.ndarray:
    """``value`` as a plain ndarray (subclasses viewed as ndarray), or AssertionError."""
    if type(value) is np.ndarray:
        return value
    try:
        return np.asarray(value)
    except Exception as err:  # noqa: BLE001 - a student's object may raise anything: a failed test
        raise AssertionError(
            f"{label}: the {what} ({type(value).__name__}) could not be converted to an array: "
            f"{err}"
        ) from None


def assert_close(actual: Any, expected: Any, rtol: float = 1e-7, atol: float = 0.0,
                 name: str = "result", inputs: str = "", hint: str = "",
                 check_dtype: bool = False) -> None:
    """Fail unless ``actual`` equals ``expected`` elementwise within ``atol + rtol * |expected|``
    (same shape, NaN where and only where expected is NaN). The message names the shape or dtype
    mismatch, the max abs/rel error, the first mismatching indices with both values, ``inputs``
    (what the function was called on) and ``hint``."""
    tail = "".join(f"\n  {label}: {text}"
                   for label, text in (("input", inputs), ("hint", hint)) if text)
    got = _as_array(actual, "value you returned", name)
    want = np.asarray(expected)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape}, expected shape {want.shape}{tail}")
    if check_dtype and got.dtype != want.dtype:
        raise AssertionError(f"{name}: dtype {got.dtype}, expected dtype {want.dtype}{tail}")
    if want.dtype.kind not in "biuf":
        raise ValueError("assert_close compares numbers; the expected value has dtype "
                         f"{want.dtype}")
    if got.dtype.kind not in "biuf":
        raise AssertionError(f"{name}: dtype {got.dtype} is not a number array, expected numbers "
                             f"of dtype {want.dtype}{tail}")
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    g_nan, w_nan = np.isnan(g), np.isnan(w)
    with np.errstate(all="ignore"):
        diff = np.abs(g - w)
        finite = np.isfinite(g) & np.isfinite(w)
        infinite = (np.isinf(g) | np.isinf(w)) & ~g_nan & ~w_nan & (g != w)
        bad = (g_nan != w_nan) | infinite | (finite & ~(diff <= atol + rtol * np.abs(w)))
        if not bad.any():
            return
        err = np.where(finite & bad, diff, 0.0)
        rel = np.where(finite & bad & (w != 0), diff / np.abs(np.where(w == 0, 1, w)), 0.0)
    lines = [f"{name}: {int(bad.sum())} of {bad.size} elements differ "
             f"(rtol={rtol:g}, atol={atol:g}); max abs error {err.max():.3g}, "
             f"max rel error {rel.max():.3g}"]
    if (g_nan != w_nan).any():
        extra = np.argwhere(g_nan & ~w_nan)[:SHOWN].tolist()
        missing = np.argwhere(w_nan & ~g_nan)[:SHOWN].tolist()
        if extra:
            lines.append(f"  NaN where a number was expected at {extra}")
        if missing:
            lines.append(f"  a number where NaN was expected at {missing}")
    for index in np.argwhere(bad)[:SHOWN]:
        at = tuple(int(i) for i in index)
        lines.append(f"  at {at if at else '()'}: got {_show(got[at])}, expected {_show(want[at])}")
    raise AssertionError("\n".join(lines) + tail)


def assert_no_loops(fn: Any, name: str | None = None) -> None:
    """Fail if ``fn``'s source, or a helper of the same notebook it calls, has a for/while loop,
    a comprehension or generator, or calls a loop in disguise (np.vectorize, map, ...); the
    message gives the line."""
    label = _label(fn, name)
    for definition in _definitions(fn, label):
        for node in ast.walk(definition.node):
            what = _LOOP_NODES.get(type(node))
            if what is None and isinstance(node, ast.Call) and _hidden_loop(node.func):
                what = f"{_called_name(node.func)}(), a Python loop in disguise"
            if what is not None:
                raise AssertionError(
                    f"{label} must be vectorized but has {what} on "
                    f"{_where(definition, label, node)}\n  hint: express the whole computation "
                    "with NumPy array operations (arithmetic on arrays, np.maximum, broadcasting, "
                    "np.dot, ...)"
                )


def _hidden_loop(func: ast.AST) -> bool:
    """Whether a call of ``func`` runs a Python-level loop: np.vectorize(...), map(...), ...."""
    if isinstance(func, ast.Name):
        return func.id in HIDDEN_LOOPS + BUILTIN_LOOPS
    if isinstance(func, ast.Attribute):
        module = func.value.id if isinstance(func.value, ast.Name) else ""
        return func.attr in HIDDEN_LOOPS or (module in ("functools", "builtins")
                                             and func.attr in BUILTIN_LOOPS)
    return False


def _called_name(func: ast.AST) -> str:
    """``f`` for ``f(...)`` and ``np.f(...)``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def assert_does_not_call(fn: Any, *names: str, hint: str = "", name: str | None = None) -> None:
    """Fail if ``fn``'s source (or a helper's it calls) uses any of ``names``, as ``f(...)``,
    ``np.f`` or a bare name: for parts where the point is to write the formula yourself."""
    label = _label(fn, name)
    for definition in _definitions(fn, label):
        for node in ast.walk(definition.node):
            used = (node.id if isinstance(node, ast.Name)
                    else node.attr if isinstance(node, ast.Attribute) else None)
            if used in names:
                raise AssertionError(
                    f"{label} uses `{used}` on {_where(definition, label, node)}, which this part "
                    f"asks you to write yourself" + (f"\n  hint: {hint}" if hint else "")
                )


@dataclass(frozen=True)
class SpeedMeasurement:
    """What a speed test measured: CPU seconds per call of a function and of its reference (the
    best of several calls each), and where each was timed."""

    fn_s: float
    reference_s: float
    fn_where: str
    reference_where: str

    @property
    def speedup(self) -> float:
        return self.reference_s / self.fn_s if self.fn_s > 0 else math.inf


#: What a failed speed test suggests unless the test says otherwise.
SPEED_HINT = ("let NumPy (or compiled code) do the work on whole arrays; avoid Python-level loops, "
              "element access and copies")


def measure_speed(fn: Callable[..., Any], reference: Callable[..., Any], args: Sequence[Any],
                  repeats: int = 5) -> SpeedMeasurement:
    """Time ``fn(*args)`` and ``reference(*args)``.

    Each is timed by the CPU time of the process it runs in, the best of ``repeats`` calls on
    fresh copies of ``args`` after one untimed call (which also compiles Numba code): a machine
    busy with other work slows neither figure. In the grading engine the student's function is
    timed in its sandbox by the kernel's clock for that process, read by the grader (see
    ``engine.proxies``), so neither the transport nor a patched clock shows in it. The reference's
    time is measured once per process and input (``REFERENCE_CALLS`` calls) and reused.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    args = tuple(args)
    fn_s, fn_where = _best_time(fn, args, repeats)
    reference_s, reference_where = _reference_time(reference, args)
    return SpeedMeasurement(fn_s, reference_s, fn_where, reference_where)


def assert_faster_than(fn: Callable[..., Any], reference: Callable[..., Any], args: Sequence[Any],
                       factor: float, repeats: int = 5, name: str | None = None,
                       reference_name: str = "the loop version", hint: str = SPEED_HINT) -> None:
    """Fail unless ``fn(*args)`` runs at least ``factor`` times faster than ``reference(*args)``,
    as ``measure_speed`` times them; the message says how it was measured, then gives ``hint``."""
    if repeats < 1 or not factor > 0:
        raise ValueError(f"repeats must be >= 1 and factor > 0, got {repeats} and {factor}")
    label = _label(fn, name)
    args = tuple(args)
    measured = measure_speed(fn, reference, args, repeats)
    if measured.speedup < factor:
        shapes = ", ".join(str(np.shape(a)) if type(a) is np.ndarray else type(a).__name__
                           for a in args)
        raise AssertionError(
            f"{label} took {_ms(measured.fn_s)} per call against {_ms(measured.reference_s)} for "
            f"{reference_name} on inputs of shapes {shapes}: {measured.speedup:.1f} times faster, "
            f"expected at least {factor:g} times"
            f"\n  measured: CPU time, the best of {repeats} calls after an untimed first call; "
            f"{label} {measured.fn_where}, {reference_name} {measured.reference_where}"
            f"\n  hint: {hint}"
        )


#: Timed calls of a speed test's reference (the best counts).
REFERENCE_CALLS = 3
_reference_times: dict[str, float] = {}
_reference_spent = [0.0]


def reference_seconds() -> float:
    """Wall-clock seconds this process has spent timing references (for the engine's breakdown)."""
    return _reference_spent[0]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _best_time(fn: Any, args: tuple, repeats: int) -> tuple[float, str]:
    """The least CPU time of ``repeats`` calls after an untimed one, and where it was measured.
    A grading engine's proxy times the call in its sandbox (``__autograder_cpu_times__``, looked
    up on the proxy's class without running student code); a real function is timed here."""
    timer = inspect.getattr_static(type(fn), "__autograder_cpu_times__", None)
    if callable(timer):
        times = timer(fn, args, {}, repeats + 1)
        where = "in the sandbox where it runs, by the kernel's CPU clock of that process"
    else:
        times = _cpu_times(fn, args, repeats + 1)
        where = "by this process's CPU clock"
    return min(times[1:]), where


def _cpu_times(fn: Callable[..., Any], args: tuple, calls: int) -> list[float]:
    """CPU seconds of ``calls`` calls of ``fn`` in this process, each on fresh copies of
    ``args``."""
    times = []
    for _ in range(calls):
        fresh = _fresh(args)
        start = time.process_time_ns()
        fn(*fresh)
        times.append((time.process_time_ns() - start) / 1e9)
    return times


def _fresh(value: Any) -> Any:
    """``value`` with its arrays copied (through lists, tuples and dicts), so a call that changes
    its input in place cannot change what the next call gets."""
    if type(value) is np.ndarray:
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(_fresh(v) for v in value)
    if type(value) is dict:
        return {k: _fresh(v) for k, v in value.items()}
    return value


def share_reference_times(folder: str | os.PathLike | None) -> None:
    """Keep reference times in ``folder`` as well, so that every process grading the same run
    (a pool's workers) uses one measurement of each reference and input: the same verdict on
    whichever worker grades a submission, and the references timed once, not once per worker."""
    _shared[0] = Path(folder) if folder is not None else None


_shared: list[Path | None] = [None]


def _reference_time(reference: Any, args: tuple) -> tuple[float, str]:
    """The reference's best CPU time on ``args``, measured once per process (or shared folder)
    and input."""
    key = _reference_key(reference, args)
    if key is None:
        return _measure_reference(reference, args)
    once = "by the grader's CPU clock (measured once per grading run and input)" if _shared[0] \
        else "by this process's CPU clock (measured once per process and input)"
    if key not in _reference_times:
        _reference_times[key] = _stored(key, lambda: _measure_reference(reference, args)[0])
    return _reference_times[key], once


def _measure_reference(reference: Any, args: tuple) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        return _best_time(reference, args, REFERENCE_CALLS)
    finally:
        _reference_spent[0] += time.perf_counter() - started


def _stored(key: str, measure: Callable[[], float]) -> float:
    """``measure()``, or what another process of the run stored under ``key`` (one measures
    while the others wait for it)."""
    folder = _shared[0]
    if folder is None:
        return measure()
    import fcntl

    try:
        lock = open(folder / f"{key}.lock", "w")
    except OSError:  # the folder went away: this process measures for itself
        return measure()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / f"{key}.s"
        if path.exists():
            return float(path.read_text())
        seconds = measure()
        try:
            partial = folder / f"{key}.partial"
            partial.write_text(repr(seconds))
            partial.replace(path)
        except OSError:
            pass
        return seconds


def _reference_key(reference: Any, args: tuple) -> str | None:
    """What a reference's time depends on: its code, its defaults, the code of the functions it
    calls by global name, and its arguments' bytes; None (not reused) when it depends on anything
    else (a global value, a student's object)."""
    if not inspect.isfunction(reference):
        return None
    digest = hashlib.sha256(marshal.dumps(reference.__code__)
                            + repr(reference.__defaults__).encode())
    for global_name in sorted(_global_names(reference)):
        value = reference.__globals__.get(global_name)
        if inspect.isfunction(value):
            digest.update(global_name.encode() + marshal.dumps(value.__code__))
        elif not (value is None or inspect.ismodule(value) or inspect.isbuiltin(value)):
            return None
    for arg in args:
        if type(arg) is np.ndarray and not arg.dtype.hasobject:
            digest.update(f"{arg.dtype.str}{arg.shape}".encode()
                          + np.ascontiguousarray(arg).tobytes())
        elif type(arg) in (int, float, bool, str) or arg is None:
            digest.update(repr(arg).encode())
        else:
            return None
    return digest.hexdigest()


def assert_numba_jit(fn: Any, name: str | None = None) -> None:
    """Fail unless ``fn`` is decorated with Numba's ``@njit`` / ``@jit`` (read from its source)."""
    label = _label(fn, name)
    node = _definitions(fn, label)[0].node
    for decorator in getattr(node, "decorator_list", ()):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if _called_name(target) in ("njit", "jit"):
            return
    raise AssertionError(
        f"{label} is not compiled with Numba\n  hint: put `@njit` (from numba import njit) on the "
        f"line above `def`, and keep the loops: Numba turns them into machine code"
    )


#: NumPy functions that host code may call around a kernel launch: they make, convert or describe
#: arrays (as do NumPy's scalar types, np.float32 ...); the arithmetic itself is the kernel's.
ARRAY_MAKERS = frozenset({"asarray", "ascontiguousarray", "array", "empty", "zeros", "empty_like",
                          "zeros_like", "result_type", "promote_types", "dtype", "shape",
                          "ndim", "size"})
#: What code may read of an array argument named as a whole: its description and layout.
ARRAY_ATTRIBUTES = frozenset({"shape", "size", "ndim", "dtype", "itemsize", "nbytes", "strides",
                              "reshape", "ravel", "flatten", "astype", "copy"})
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_DEVICE_HINT = ("a kernel computes one element per thread (out[i] = ... for the index i from "
                "cuda.grid); the host code around it only makes, moves and reshapes arrays "
                "(np.empty, cuda.to_device, copy_to_host) and launches the kernel")


def assert_launches(fn: Any, kernel: str, name: str | None = None) -> None:
    """Fail unless ``fn``, host code, launches the CUDA kernel named ``kernel`` in its own source
    (``kernel[blocks, threads](...)``) and leaves the arithmetic to it: no NumPy function but
    ``ARRAY_MAKERS``, no ``@``, no operator, comparison or method (but ``ARRAY_ATTRIBUTES``) on an
    array argument. Only ``fn``'s own source is read, as the grading engine's proxies carry it,
    so that nbgrader and the engine judge the same text."""
    label = _label(fn, name)
    definition = _definitions(fn, label)[0]
    if not any(isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript)
               and isinstance(node.func.value, ast.Name) and node.func.value.id == kernel
               for node in ast.walk(definition.node)):
        raise AssertionError(
            f"{label} does not launch {kernel}\n  hint: move the arrays to the device "
            f"(cuda.to_device, cuda.device_array), launch {kernel}[blocks, threads](...) on them "
            f"in {label} itself, and copy the result back (copy_to_host)")
    _no_array_math(definition, label, host=True)


def assert_no_array_math(fn: Any, name: str | None = None) -> None:
    """Fail if the CUDA kernel ``fn`` computes on whole arrays, NumPy's way, instead of one
    element per thread: ``@``, a NumPy function given an array argument whole, or an operator,
    comparison or method (but ``ARRAY_ATTRIBUTES``) on one. Under the simulator such a kernel
    would even give right results; on a GPU it does not compile. Reads ``fn``'s own source."""
    label = _label(fn, name)
    _no_array_math(_definitions(fn, label)[0], label, host=False)


def _no_array_math(definition: _Definition, label: str, host: bool) -> None:
    """The check of ``assert_no_array_math``; ``host``: any computing NumPy call counts. The array
    arguments are the parameters without a default value."""
    arrays = _array_parameters(definition.node)
    for node in ast.walk(definition.node):
        what = _array_math(node, arrays, host)
        if what:
            raise AssertionError(
                f"{label} computes with {what} on {_where(definition, label, node)}: this part "
                f"asks for the arithmetic to run in the kernel\n  hint: {_DEVICE_HINT}")


def _array_parameters(node: ast.AST) -> set[str]:
    """The names of a definition's parameters that have no default value."""
    args = getattr(node, "args", None)
    if not isinstance(args, ast.arguments):
        return set()
    positional = [a.arg for a in args.posonlyargs + args.args]
    return set(positional[:len(positional) - len(args.defaults)])


def _array_math(node: ast.AST, arrays: set[str], host: bool) -> str:
    """What ``node`` computes on whole arrays ("" if nothing)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return "the @ operator"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        dotted = _numpy_name(node.func)
        whole = any(isinstance(a, ast.Name) and a.id in arrays for a in node.args)
        if dotted and _computes(dotted) and (host or whole):
            return f"numpy.{dotted}"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id in arrays and node.attr not in ARRAY_ATTRIBUTES:
        return f"`{node.value.id}.{node.attr}` of the whole array {node.value.id}"
    if isinstance(node, ast.BinOp):
        operands = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
        operands = [node.operand]
    elif isinstance(node, ast.Compare) and all(isinstance(op, _COMPARISONS) for op in node.ops):
        operands = [node.left, *node.comparators]
    else:
        operands = []
    for operand in operands:
        if isinstance(operand, ast.Name) and operand.id in arrays:
            return f"an operator on the whole array {operand.id}"
    return ""


def _numpy_name(func: ast.Attribute) -> str:
    """"linalg.matmul" for ``np.linalg.matmul`` (or ``numpy.``...), "" for anything else."""
    parts = []
    node: ast.AST = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (".".join(reversed(parts)) if isinstance(node, ast.Name) and node.id in ("np", "numpy")
            else "")


def _computes(dotted: str) -> bool:
    """Whether NumPy's ``dotted`` (looked up in this process's NumPy) computes: a function that
    is not one of ``ARRAY_MAKERS`` nor a scalar type."""
    found: Any = np
    for part in dotted.split("."):
        found = getattr(found, part, None)
    if dotted in ARRAY_MAKERS or not callable(found):
        return False
    return not (isinstance(found, type) and issubclass(found, np.generic))


def assert_tiles_synchronized(fn: Any, name: str | None = None) -> None:
    """Fail unless the CUDA kernel ``fn`` stages tiles in ``cuda.shared.array`` and, in the loop
    over the tiles, calls ``cuda.syncthreads()`` between writing the tiles and reading them, and
    between reading them and writing them again in the next round. Without either barrier the
    threads of a block race: one reads a tile the others have not finished writing, or overwrites
    one they still read. A race need not show in results, least of all on the simulator, so the
    source is read: statements in order, a statement's reads before its writes."""
    label = _label(fn, name)
    definition = _definitions(fn, label)[0]
    shared = {target.id for node in ast.walk(definition.node)
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
              and _dotted(node.value.func).endswith("shared.array")
              for target in node.targets if isinstance(target, ast.Name)}
    if not shared:
        raise AssertionError(
            f"{label} does not use shared memory\n  hint: declare each tile in the kernel as "
            f"tile = cuda.shared.array((TILE, TILE), dtype=c.dtype) and copy the tiles of a and b "
            f"into them before multiplying")
    loops = [node for node in ast.walk(definition.node) if isinstance(node, (ast.For, ast.While))
             and {"write", "read"} <= {kind for kind, _ in _tile_events(node.body, shared)}]
    if not loops:
        raise AssertionError(
            f"{label} does not write its shared tiles ({', '.join(sorted(shared))}) and read them "
            f"back in a loop over the tiles\n  hint: for each tile along the inner dimension: "
            f"copy it into shared memory, cuda.syncthreads(), multiply, cuda.syncthreads()")
    # the outermost such loop (ast.walk is breadth-first)
    events = _tile_events(loops[0].body, shared)
    last, synced = None, False
    for kind, node in events + events:  # twice round: the next round's writes follow the reads
        if kind == "sync":
            synced = True
            continue
        if last not in (None, kind) and not synced:
            race = ("reads a shared tile that other threads may not have finished writing"
                    if kind == "read" else
                    "writes a shared tile that other threads may still be reading")
            raise AssertionError(
                f"{label} {race}: no cuda.syncthreads() before {_where(definition, label, node)}"
                f"\n  hint: every thread of the block must wait at cuda.syncthreads() after the "
                f"tiles are written (before any thread reads them) and after they are used "
                f"(before the next round overwrites them); a race need not show in the results")
        last, synced = kind, False


def _dotted(node: ast.AST) -> str:
    """"cuda.shared.array" for that attribute chain, "" for anything that is not one."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _tile_events(statements: list[ast.stmt], shared: set[str]) -> list[tuple[str, ast.AST]]:
    """The writes and reads of the ``shared`` arrays and the cuda.syncthreads() calls in
    ``statements``, in the order they run (an assignment's value before its targets)."""
    def in_order(node: ast.AST):
        yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            children.sort(key=lambda child: child is not node.value)
        for child in children:
            yield from in_order(child)

    events = []
    for statement in statements:
        for node in in_order(statement):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                    and node.value.id in shared:
                events.append(("write" if isinstance(node.ctx, ast.Store) else "read", node))
            elif isinstance(node, ast.Call) and _called_name(node.func) == "syncthreads":
                events.append(("sync", node))
    return events


def assert_not_toolkit(fn: Any, name: str | None = None,
                       allowed: Sequence[str] = ("toolkit.datasets",)) -> None:
    """Fail if ``fn`` is, or uses, the course toolkit's own implementation: its module (a proxy's
    ``__module__``) or source file is the toolkit's, its source mentions ``toolkit``, or a global
    name it or a helper it calls refers to is a toolkit module or object (modules under
    ``allowed``, the data loaders, are fine)."""
    label = _label(fn, name)
    message = (f"{label} uses the course toolkit's own implementation ({{}}); this part asks you "
               f"to write it yourself\n  hint: remove the toolkit import and implement {label} "
               f"with NumPy (only toolkit.datasets may be used, to load data)")

    def forbidden(module: Any) -> bool:
        return (type(module) is str and (module == "toolkit" or module.startswith("toolkit."))
                and not any(module == a or module.startswith(a + ".") for a in allowed))

    module = _module_of(_python_function(fn))
    if forbidden(module):
        raise AssertionError(message.format(f"it comes from module {module}"))
    root = _toolkit_root()
    for definition in _definitions(fn, label):
        target = definition.function
        if target is not None:
            module = _module_of(target)
            if forbidden(module):
                raise AssertionError(message.format(f"{definition.name} comes from module "
                                                    f"{module}"))
            try:
                path = os.path.abspath(inspect.getsourcefile(target) or "")
            except TypeError:
                path = ""
            if root and path.startswith(root + os.sep):
                raise AssertionError(message.format(f"the source of {definition.name} is {path}"))
            for global_name in sorted(_global_names(target)):
                if global_name in target.__globals__:
                    module = _module_of(target.__globals__[global_name])
                    if forbidden(module):
                        raise AssertionError(message.format(f"`{global_name}` is {module}"))
        for node in ast.walk(definition.node):
            if isinstance(node, ast.Name) and node.id == "toolkit":
                raise AssertionError(message.format("`toolkit` on "
                                                    f"{_where(definition, label, node)}"))
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                           else [a.name for a in node.names])
                for module in modules:
                    if forbidden(module):
                        raise AssertionError(message.format(
                            f"an import of {module} on {_where(definition, label, node)}"))


def _module_of(obj: Any) -> Any:
    """The module name ``obj`` comes from (a module's own name), read without running its code."""
    if inspect.ismodule(obj):
        return inspect.getattr_static(obj, "__name__", None)
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return obj.__module__  # the function type's own slot: no student code runs
    found = inspect.getattr_static(obj, "__module__", None)
    if type(found) is str:
        return found
    return inspect.getattr_static(type(obj), "__module__", None)


def _toolkit_root() -> str:
    """The toolkit package's folder (found without importing it), or "" if it is not installed."""
    spec = importlib.util.find_spec("toolkit")
    origin = spec.origin if spec is not None else None
    return os.path.dirname(os.path.abspath(origin)) if origin else ""
