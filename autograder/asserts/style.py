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
    message gives the line. A loop whose number of steps the code fixes, not the data, passes
    (``_fixed_count``): a for loop, comprehension, generator, map or filter over an array's
    dimensions, over values written out (``for a in (y_true, y_pred)``), a dict literal's or the
    function's own ``**kwargs``' items, or a local name bound once to one of those, as
    ``any(n == 0 for n in np.shape(y))``, ``map(np.asarray, (y_true, y_pred))``; so does any loop
    in a ``raise``, which only writes the message. One over ``range(len(x))``, ``x`` itself,
    ``x.flat``, ``range(x.shape[0])`` or ``(x[0], x[1])`` fails."""
    label = _label(fn, name)
    for definition in _definitions(fn, label):
        scope = definition.node
        in_raise = {id(n) for r in ast.walk(scope) if isinstance(r, ast.Raise) for n in ast.walk(r)}
        for node in ast.walk(scope):
            what = _LOOP_NODES.get(type(node))
            if isinstance(node, ast.Call) and _hidden_loop(node.func):
                what = f"{_called_name(node.func)}(), a Python loop in disguise"
            if what is not None and id(node) not in in_raise and not _fixed_loop(node, scope):
                raise AssertionError(
                    f"{label} must be vectorized but has {what} on "
                    f"{_where(definition, label, node)}\n  hint: express the whole computation "
                    "with NumPy array operations (arithmetic on arrays, np.maximum, broadcasting, "
                    "np.dot, ...); a loop whose length your code fixes, not the data, may stay: "
                    "over the dimensions (x.shape, range(x.ndim)), over values you write out "
                    "(for a in (y_true, y_pred)) or **kwargs.items(), or in a raise's message"
                )


def _fixed_loop(loop: ast.AST, scope: ast.AST) -> bool:
    """Whether ``loop`` (a for loop, comprehension, generator or call of map or filter; never a
    while loop) in the function ``scope`` takes a number of steps fixed by the code: every
    iterable is ``_fixed_count``."""
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        return _fixed_count(loop.iter, scope)
    if isinstance(loop, ast.Call):
        return _fixed_count(loop, scope)
    generators = getattr(loop, "generators", None)
    return bool(generators) and all(_fixed_count(g.iter, scope) for g in generators)


def _fixed_count(node: ast.AST, scope: ast.AST, follow: bool = True) -> bool:
    """Whether iterating over ``node`` takes as many steps as the code says, whatever the data: a
    shape (``x.shape``, ``np.shape(x)``, a slice of one), ``range`` of dimension counts
    (``x.ndim``, ``len`` of a shape, with constants and operators), a tuple or list written out
    (``_written_out``), the items, keys or values of a dict written out or of ``scope``'s own
    ``**kwargs``, zip / enumerate / reversed / map / filter of those, or (when ``follow``) a
    local name bound once to one of those (``_only_value``)."""
    if _shape(node):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return _written_out(node.elts)
    if isinstance(node, ast.Name):
        value = _only_value(node.id, scope) if follow else None
        return _kwargs(node.id, scope) or (value is not None and _fixed_count(value, scope, False))
    if not isinstance(node, ast.Call) or node.keywords:
        return False
    if isinstance(node.func, ast.Attribute) and node.func.attr in _VIEWS and not node.args:
        owner = node.func.value
        return (isinstance(owner, ast.Dict) and _written_out(owner.keys + owner.values)) or (
            isinstance(owner, ast.Name) and _kwargs(owner.id, scope))
    called = _dotted(node.func)
    if called == "range":
        return (all(_count(a) or isinstance(a, ast.Constant) for a in node.args)
                and any(_count(a) for a in node.args))
    iterables = node.args[1:] if called in ("map", "filter") else node.args
    return called in ("zip", "enumerate", "reversed", "map", "filter") and bool(iterables) \
        and all(_fixed_count(a, scope, follow) for a in iterables)


#: A dict's methods that iterate over it, and methods that read a tuple, list or dict without
#: changing it.
_VIEWS = ("items", "keys", "values")
_READS = (*_VIEWS, "get", "copy", "count", "index")


def _written_out(items: list[Any]) -> bool:
    """Whether ``items`` (of a tuple, list or dict as written) are as many as written: none
    unpacked (``*x``, ``**d``), none an array's item picked by position (``(x[0], x[1])`` is a
    loop over the data unrolled by hand)."""
    return not any(e is None or isinstance(e, ast.Starred) or _by_position(e) for e in items)


def _by_position(node: ast.AST) -> bool:
    """``x[0]``, ``x[:, -1]``: items picked by a number (of anything but a shape)."""
    if not isinstance(node, ast.Subscript) or _shape(node.value):
        return False
    index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    numbers = [i.operand if isinstance(i, ast.UnaryOp) else i for i in index]
    return any(isinstance(i, ast.Constant) and type(i.value) is int for i in numbers)


def _only_value(name: str, scope: ast.AST) -> ast.AST | None:
    """The value of ``name = value`` in ``scope`` if that is the name's only binding there
    (``_bindings``), else None."""
    values = [n.value for n in ast.walk(scope) if isinstance(n, ast.Assign)
              and [getattr(t, "id", None) for t in n.targets] == [name]]
    return values[0] if len(values) == 1 and _bindings(name, scope) == 1 else None


def _kwargs(name: str, scope: ast.AST) -> bool:
    """Whether ``name`` is ``scope``'s own ``**kwargs`` parameter, its only binding there: the
    keyword arguments its caller writes out."""
    kwarg = getattr(getattr(scope, "args", None), "kwarg", None)
    return kwarg is not None and kwarg.arg == name and _bindings(name, scope) == 1


def _bindings(name: str, scope: ast.AST) -> int:
    """How often ``scope`` binds ``name`` (assigned, deleted, a parameter or loop target,
    imported, defined, declared global or nonlocal, ...) or may change it in place
    (``name.extend(x)``, ``name[:] = x``; reading ``name.items()``, ``name[0]`` does not)."""
    count = 0
    for node in ast.walk(scope):
        if isinstance(node, ast.Name):
            count += node.id == name and not isinstance(node.ctx, ast.Load)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            changed = not isinstance(node.ctx, ast.Load) or (
                isinstance(node, ast.Attribute) and node.attr not in _READS)
            count += changed and getattr(node.value, "id", None) == name
        elif not isinstance(node, ast.keyword):
            fields = [getattr(node, f, None) for f in ("arg", "name", "asname", "rest")]
            count += name in fields + list(getattr(node, "names", ()))
    return count


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
    """Fail if ``fn``'s source (or a helper's it calls) reads any of ``names``, as ``f(...)``,
    ``np.f`` or a bare name (not as a name assigned, as ``tanh = lambda x: ...``): for parts where
    the point is to write the formula yourself."""
    label = _label(fn, name)
    for definition in _definitions(fn, label):
        for node in ast.walk(definition.node):
            used = (node.id if isinstance(node, ast.Name)
                    else node.attr if isinstance(node, ast.Attribute) else None)
            if used in names and isinstance(getattr(node, "ctx", None), ast.Load):
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
