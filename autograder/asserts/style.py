"""Checks on how the work is written, read from the source: vectorized (no Python loops), the
formula written by hand (not a library's), compiled with Numba, and the student's own (not the
course toolkit's)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
from collections.abc import Sequence
from typing import Any

from .source import (
    _called_name,
    _definitions,
    _dotted,
    _global_names,
    _label,
    _python_function,
    _where,
)

#: Calls that are Python loops in disguise: NumPy's (np.vectorize, ...) and the builtins' (bare
#: map, filter, functools.reduce; a ufunc's own .reduce, as np.add.reduce, is vectorized).
HIDDEN_LOOPS = ("vectorize", "frompyfunc", "apply_along_axis", "apply_over_axes", "fromiter")
BUILTIN_LOOPS = ("map", "filter", "reduce")
_LOOP_NODES = {
    ast.For: "a for loop", ast.AsyncFor: "an async for loop", ast.While: "a while loop",
    ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
}


def assert_no_loops(fn: Any, name: str | None = None) -> None:
    """Fail if ``fn``'s source, or a helper of the same notebook it calls, has a for/while loop,
    a comprehension or generator, or calls a loop in disguise (np.vectorize, map, ...); the
    message gives the line. A for loop, comprehension or generator over an array's dimensions,
    or over a handful of values named one by one, is not a loop over its data and passes
    (``_over_dimensions``): ``any(n == 0 for n in np.shape(y))``, ``for axis in range(x.ndim)``,
    ``for a in (y_true, y_pred): check(a)``; one over ``range(len(x))``, ``x`` itself, ``x.flat``
    or ``range(x.shape[0])`` fails."""
    label = _label(fn, name)
    for definition in _definitions(fn, label):
        for node in ast.walk(definition.node):
            what = _LOOP_NODES.get(type(node))
            if what is not None and _over_dimensions(node):
                what = None
            if what is None and isinstance(node, ast.Call) and _hidden_loop(node.func):
                what = f"{_called_name(node.func)}(), a Python loop in disguise"
            if what is not None:
                raise AssertionError(
                    f"{label} must be vectorized but has {what} on "
                    f"{_where(definition, label, node)}\n  hint: express the whole computation "
                    "with NumPy array operations (arithmetic on arrays, np.maximum, broadcasting, "
                    "np.dot, ...); a loop over the dimensions (x.shape, range(x.ndim)) or over "
                    "values you name one by one (for a in (y_true, y_pred)) may stay"
                )


def _over_dimensions(loop: ast.AST) -> bool:
    """Whether ``loop`` (a for loop, comprehension or generator; never a while loop) iterates
    over dimensions only: every iterable is a shape (``x.shape``, ``np.shape(x)``, a slice of
    one), ``range`` of dimension counts (``x.ndim``, ``np.ndim(x)``, ``len`` of a shape, with
    constants and operators), a tuple or list written out of names (``x``, ``x.T``) and constants
    (``(y_true, y_pred)``: as many steps as it names, whatever the data; not ``(x[0], x[1])``),
    or ``zip`` / ``enumerate`` / ``reversed`` of those."""
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        return _dimensions(loop.iter)
    generators = getattr(loop, "generators", None)
    return bool(generators) and all(_dimensions(g.iter) for g in generators)


def _dimensions(node: ast.AST) -> bool:
    """Whether iterating over ``node`` gives an array's dimensions or axes, not its data."""
    if _shape(node):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(isinstance(e, ast.Constant) or _dotted(e) for e in node.elts)
    if not isinstance(node, ast.Call) or node.keywords:
        return False
    called = _dotted(node.func)
    if called == "range":
        return (all(_count(a) or isinstance(a, ast.Constant) for a in node.args)
                and any(_count(a) for a in node.args))
    return called in ("zip", "enumerate", "reversed") and bool(node.args) \
        and all(_dimensions(a) for a in node.args)


def _shape(node: ast.AST) -> bool:
    """``x.shape``, ``np.shape(x)`` or a slice of one (``x.shape[1:]``)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "shape"
    if isinstance(node, ast.Call):
        return _dotted(node.func) in ("np.shape", "numpy.shape")
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) \
        and _shape(node.value)


def _count(node: ast.AST) -> bool:
    """A number of dimensions: ``x.ndim``, ``np.ndim(x)``, ``len`` of a shape, or arithmetic
    on one of them and constants (``x.ndim - 1``)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "ndim"
    if isinstance(node, ast.Call):
        called = _dotted(node.func)
        return called in ("np.ndim", "numpy.ndim") or (
            called == "len" and len(node.args) == 1 and _shape(node.args[0]))
    if isinstance(node, ast.BinOp):
        parts = (node.left, node.right)
        return any(_count(p) for p in parts) and all(_count(p) or isinstance(p, ast.Constant)
                                                    for p in parts)
    return isinstance(node, ast.UnaryOp) and _count(node.operand)


def _hidden_loop(func: ast.AST) -> bool:
    """Whether a call of ``func`` runs a Python-level loop: np.vectorize(...), map(...), ...."""
    if isinstance(func, ast.Name):
        return func.id in HIDDEN_LOOPS + BUILTIN_LOOPS
    if isinstance(func, ast.Attribute):
        module = func.value.id if isinstance(func.value, ast.Name) else ""
        return func.attr in HIDDEN_LOOPS or (module in ("functools", "builtins")
                                             and func.attr in BUILTIN_LOOPS)
    return False


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
