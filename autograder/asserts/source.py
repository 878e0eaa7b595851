"""How the checks read the function they check: its source text (carried by the engine's proxies,
else found by ``inspect``), its syntax tree, and the helpers of the same notebook it calls, all
read statically, so that no student code runs."""

from __future__ import annotations

import ast
import dis
import inspect
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    linecache, and Numba dispatchers) go through ``inspect.getsource``, and those defined under
    a cell magic such as ``%%time`` are read in the kernel's input history."""
    carried = inspect.getattr_static(fn, "__autograder_source__", None)
    if type(carried) is str:
        return textwrap.dedent(carried)
    target = _python_function(fn)
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError) as err:
        found = _in_magic_cell(target)
        if found is not None:
            return found
        raise AssertionError(
            f"could not read the source of {_label(fn, None)} ({err}); define it with `def` in a "
            f"notebook cell and run that cell"
        ) from None


def definition_at(source: str, line: int, name: str) -> str | None:
    """The text of the ``def`` or ``class`` called ``name`` that starts at ``line`` of ``source``
    (at its ``def`` line or its first decorator's), decorators included, dedented; for a lambda
    (``name`` "<lambda>"), the statement that starts at ``line``. None where there is none: the
    grader reads a student's function in its own copy of the cells it sent, where the sandbox
    only says where the function starts; ``source_of`` in the body of a ``%%time`` cell."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
    lines = source.splitlines()
    for node in ast.walk(tree):
        if name == "<lambda>":
            found = isinstance(node, ast.stmt) and node.lineno == line and any(
                isinstance(n, ast.Lambda) for n in ast.walk(node))
            first = node.lineno if found else 0
        else:
            found = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name
            first = min([node.lineno] + [d.lineno for d in node.decorator_list]) if found else 0
            found = found and line in (first, node.lineno)
        if found:
            return textwrap.dedent("\n".join(lines[first - 1:node.end_lineno]) + "\n")
    return None


def magic_cell_body(source: str) -> str | None:
    """The body of a cell that is one cell magic, as IPython's transformer writes the cell
    (``get_ipython().run_cell_magic('time', '', BODY)``): BODY; None for any other cell."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_cell_magic" and len(call.args) == 3 and not call.keywords
            and all(isinstance(a, ast.Constant) and type(a.value) is str for a in call.args)):
        return call.args[2].value
    return None


def _in_magic_cell(fn: Any) -> str | None:
    """``fn``'s definition where a kernel keeps no source for it: in the body of a cell magic
    (IPython compiles ``%%time``'s body as "<timed exec>"), found in the newest cell of the
    kernel's input history whose body defines it at its line; None outside a kernel."""
    code = getattr(fn, "__code__", None)
    if code is None or not code.co_filename.startswith("<"):
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    history = getattr(shell, "user_ns", {}).get("In") if shell is not None else None
    for cell in reversed(history if isinstance(history, list) else []):
        body = magic_cell_body(cell) if type(cell) is str else None
        found = body and definition_at(shell.transform_cell(body), code.co_firstlineno,
                                       code.co_name)
        if found:
            return found
    return None


#: How many decorators deep ``_python_function`` looks for the student's own function.
UNWRAP_DEPTH = 16


def _python_function(fn: Any) -> Any:
    """The plain Python function behind ``fn``, through Numba dispatchers (``py_func``) and
    decorators (``__wrapped__``, which ``functools.wraps`` and ``@np.errstate(...)`` set), up to
    ``UNWRAP_DEPTH`` deep; read statically, so no student ``__getattr__`` runs. The grading
    engine's sandbox describes a student's function by the same one, so both graders read the
    same source."""
    for _ in range(UNWRAP_DEPTH):
        inner = _static_function(fn, "py_func")
        if inner is None:
            inner = _static_function(fn, "__wrapped__")
        if inner is None:
            return fn
        fn = inner
    return fn


def _static_function(obj: Any, attr: str) -> Any:
    """``obj.attr`` if it is a Python function or a Numba dispatcher, read statically."""
    try:
        inner = inspect.getattr_static(obj, attr)
    except AttributeError:
        return None
    try:
        dispatcher = inspect.isfunction(inspect.getattr_static(inner, "py_func"))
    except AttributeError:
        dispatcher = False
    return inner if inspect.isfunction(inner) or dispatcher else None


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
    """One function to inspect: its name, syntax tree, source lines, the live function when
    there is one (None for source carried by an engine proxy), and the names its global names
    resolve through (the function's ``__globals__``; for a proxy, the student's names the grader
    gave it in ``__autograder_globals__``)."""

    name: str
    node: ast.AST
    lines: list[str]
    function: Any = None
    scope: Mapping[str, Any] = field(default_factory=dict)


def _definitions(fn: Any, label: str) -> list[_Definition]:
    """``fn``'s own definition, then the helpers it calls, so that a loop or an import cannot
    hide one call away: the student's functions reached through its global names (the same
    notebook's functions in a notebook, the proxies that carry source in the engine), and, for a
    proxy's carried source, the functions defined in that same source."""
    source = source_of(fn)
    tree = _parse(source, label)
    carried = type(inspect.getattr_static(fn, "__autograder_source__", None)) is str
    target = None if carried else _python_function(fn)
    own = target.__name__ if inspect.isfunction(target) else label
    defs = _defs(tree)
    main = next((d for d in defs if d.name == own), defs[0] if defs else tree)
    if carried:
        first = _Definition(label, main, source.splitlines(), None, _student_names(fn))
        return [first, *_same_source(first, defs), *_helpers(first, fn, None)]
    if not inspect.isfunction(target):
        return [_Definition(label, main, source.splitlines(), target)]
    first = _Definition(label, main, source.splitlines(), target, target.__globals__)
    return [first, *_helpers(first, fn, target.__module__)]


def _student_names(proxy: Any) -> Mapping[str, Any]:
    """The student's names that the engine gave ``proxy`` (read statically), else none."""
    names = inspect.getattr_static(proxy, "__autograder_globals__", None)
    return names if type(names) is dict else {}


def _same_source(first: _Definition, defs: list[ast.AST]) -> list[_Definition]:
    """The functions defined in a carried source (a whole cell) that ``first`` calls by name."""
    by_name = {d.name: d for d in defs}
    found: list[_Definition] = []
    queue, seen = [first.node], {getattr(first.node, "name", "")}
    while queue:
        for node in ast.walk(queue.pop()):
            if isinstance(node, ast.Name) and node.id in by_name and node.id not in seen:
                seen.add(node.id)
                queue.append(by_name[node.id])
                found.append(_Definition(node.id, by_name[node.id], first.lines))
    return found


def _helpers(first: _Definition, fn: Any, module: str | None) -> list[_Definition]:
    """The student's functions that ``first`` (the definition of ``fn``) calls, directly or
    through one another: each global name of a definition looked up in its scope, and followed if
    it is a function of ``module`` (in a notebook) or a proxy carrying source (in the engine,
    where ``module`` is None and the scope holds no functions); NumPy, builtins and other
    libraries are not."""
    found: list[_Definition] = []
    queue, seen = [first], {id(fn), id(first.function)}
    while queue and len(found) < MAX_HELPERS - 1:
        current = queue.pop()
        for global_name in sorted(_names_of(current)):
            value = current.scope.get(global_name)
            if id(value) in seen:
                continue
            helper = _helper(global_name, value, module)
            if helper is not None:
                seen.add(id(value))
                found.append(helper)
                queue.append(helper)
    return found


def _helper(name: str, value: Any, module: str | None) -> _Definition | None:
    """``value``'s definition if it is one of the student's functions (a function of ``module``,
    read by ``inspect``; an engine proxy, by the source it carries), else None."""
    function = _python_function(value)
    carried = inspect.getattr_static(value, "__autograder_source__", None)
    if inspect.isfunction(function) and function.__module__ == module:
        try:
            text = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError):
            return None
        scope = function.__globals__
    elif type(carried) is str:
        text, function, scope = textwrap.dedent(carried), None, _student_names(value)
    else:
        return None
    defs = _defs(_parse(text, name))
    return _Definition(name, defs[0], text.splitlines(), function, scope) if defs else None


def _names_of(definition: _Definition) -> set[str]:
    """The global names a definition refers to: its function's code's, or for carried source
    the same names read from the code that compiling it (never running it) gives."""
    if definition.function is not None:
        return _global_names(definition.function)
    try:
        module = compile("\n".join(definition.lines), "<source>", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return {n.id for n in ast.walk(definition.node) if isinstance(n, ast.Name)}
    name = getattr(definition.node, "name", None)
    code = next((k for k in _codes(module) if k.co_name == name), module)
    return _global_names(code)


#: The instructions that read a global name (``LOAD_NAME`` in a module's or class's code).
_GLOBAL_READS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})


def _codes(code: Any) -> list[Any]:
    """``code`` and the code objects nested in it, outermost first."""
    found, queue = [], [code]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(k for k in current.co_consts if inspect.iscode(k))
    return found


def _global_names(function: Any) -> set[str]:
    """The global names a Python function's code (or a code object; nested code included)
    reads: not its attribute names (``co_names`` holds those too: ``x.mean`` would make a
    student's own ``mean`` a helper of any function that calls the method)."""
    # the function type's own slot: no student code runs
    code = function.__code__ if inspect.isfunction(function) else function
    return {instruction.argval for nested in _codes(code)
            for instruction in dis.get_instructions(nested)
            if instruction.opname in _GLOBAL_READS}


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


def _dotted(node: ast.AST) -> str:
    """"cuda.shared.array" for that attribute chain, "" for anything that is not one."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""
