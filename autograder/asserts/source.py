"""How the checks read the function they check: its source text (carried by the engine's proxies,
else found by ``inspect``), its syntax tree, and the helpers of the same notebook it calls, all
read statically, so that no student code runs."""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any

#: How many helper functions the source checks follow from the function they check.
MAX_HELPERS = 20


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


def _called_name(func: ast.AST) -> str:
    """``f`` for ``f(...)`` and ``np.f(...)``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""
