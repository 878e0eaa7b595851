"""Checks on CUDA kernels and the host code that launches them, read from the source: the work done
one element per thread on the device, not on whole arrays, and shared-memory tiles synchronized
between writing and reading."""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from .source import _called_name, _Definition, _definitions, _dotted, _label, _where

#: NumPy functions that host code may call around a kernel launch on any argument: they make,
#: convert, copy, reshape or describe arrays (as do NumPy's scalar types, np.float32 ...) and
#: compute nothing; the arithmetic itself is the kernel's.
ARRAY_MAKERS = frozenset({"asarray", "asanyarray", "ascontiguousarray", "array", "empty", "zeros",
                          "empty_like", "zeros_like", "copy", "copyto", "reshape", "ravel",
                          "atleast_1d", "atleast_2d", "atleast_3d", "expand_dims", "squeeze",
                          "transpose", "result_type", "promote_types", "dtype", "shape", "ndim",
                          "size"})
#: Attributes that describe an array's size, of anything: ``x.size / threads`` is a number.
SIZE_ATTRIBUTES = frozenset({"shape", "size", "ndim", "itemsize", "nbytes", "strides"})
#: Calls that give a size whatever they are given: ``len(x)``, ``np.shape(x)``.
SIZE_CALLS = frozenset({"len", "np.shape", "np.size", "np.ndim", "numpy.shape", "numpy.size",
                        "numpy.ndim"})
#: Modules whose functions, given sizes, give sizes: ``np.ceil(x.size / threads)``.
SCALAR_MODULES = frozenset({"np", "numpy", "math"})
#: What code may read of an array argument named as a whole: its description and layout.
ARRAY_ATTRIBUTES = frozenset({"shape", "size", "ndim", "dtype", "itemsize", "nbytes", "strides",
                              "reshape", "ravel", "flatten", "astype", "copy", "T", "transpose",
                              "squeeze"})
#: Numba's CUDA functions and values that a kernel uses through the module (``cuda.grid``).
CUDA_NAMES = frozenset({"grid", "gridsize", "syncthreads", "threadIdx", "blockIdx", "blockDim",
                        "gridDim", "shared", "local", "const", "atomic", "laneid", "warpsize",
                        "syncwarp", "threadfence"})
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_DEVICE_HINT = ("a kernel computes one element per thread (out[i] = ... for the index i from "
                "cuda.grid); the host code around it only makes, moves and reshapes arrays "
                "(np.empty, cuda.to_device, copy_to_host) and launches the kernel")


def assert_launches(fn: Any, kernel: str, name: str | None = None) -> None:
    """Fail unless ``fn``, host code, launches the CUDA kernel named ``kernel`` in its own source
    (``kernel[blocks, threads](...)``, or through a name given ``kernel[blocks, threads]``) and
    leaves the arithmetic to it. Host code may make, move, copy and reshape arrays and size the
    launch; it fails on

    - ``@``, or an operator, comparison or method (but ``ARRAY_ATTRIBUTES``) on an array argument
      (a parameter without a default value);
    - a NumPy function but ``ARRAY_MAKERS`` (``np.reshape``, ``np.ravel``, ``np.empty`` ...)
      given anything but sizes: ``np.maximum(x, 0)`` and ``np.broadcast_to(y, x.shape)`` compute
      on arrays, ``np.ceil(x.size / threads)`` sizes the launch.

    A size (``_Sizes``) is a number or tuple built from constants, ``SIZE_ATTRIBUTES`` of anything
    (``x.size``, ``x.shape[0]``), ``SIZE_CALLS`` (``len(x)``), the notebook's global names
    (``THREADS``), parameters with a default (``threads``), and, through operators and calls of
    builtins, the notebook's functions and ``SCALAR_MODULES``, other sizes and the local names
    that only ever hold sizes. Only ``fn``'s own source is read, as the grading engine's proxies
    carry it, so that nbgrader and the engine judge the same text."""
    label = _label(fn, name)
    definition = _definitions(fn, label)[0]
    if not _launches(definition.node, kernel):
        raise AssertionError(
            f"{label} does not launch {kernel}\n  hint: move the arrays to the device "
            f"(cuda.to_device, cuda.device_array), launch {kernel}[blocks, threads](...) on them "
            f"in {label} itself, and copy the result back (copy_to_host)")
    arrays = _array_parameters(definition.node)
    _no_array_math(definition, label, arrays, _Sizes(definition.node, arrays))


def _launches(host: ast.AST, kernel: str) -> bool:
    """Whether ``host`` calls ``kernel[...]``, directly or through a name assigned it
    (``launch = kernel[blocks, threads]; launch(x, out)``)."""
    def configured(node: ast.AST) -> bool:
        return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
            and node.value.id == kernel

    aliases = {target.id for node in ast.walk(host)
               if isinstance(node, ast.Assign) and configured(node.value)
               for target in node.targets if isinstance(target, ast.Name)}
    return any(isinstance(node, ast.Call) and (configured(node.func) or (
        isinstance(node.func, ast.Name) and node.func.id in aliases))
        for node in ast.walk(host))


def assert_no_array_math(fn: Any, name: str | None = None) -> None:
    """Fail if the CUDA kernel ``fn`` computes on whole arrays, NumPy's way, instead of one
    element per thread: ``@``, a NumPy function given an array argument whole, or an operator,
    comparison or method (but ``ARRAY_ATTRIBUTES``) on one. Under the simulator such a kernel
    would even give right results; on a GPU it does not compile. Also fail where it calls Numba's
    CUDA functions by a bare name (``syncthreads()`` from ``from numba.cuda import
    syncthreads``), which the simulator does not provide: the same kernel would pass on a GPU
    grader and fail on one without. Reads ``fn``'s own source."""
    label = _label(fn, name)
    definition = _definitions(fn, label)[0]
    _no_array_math(definition, label, _array_parameters(definition.node), None)
    bound = ({n.id for n in ast.walk(definition.node)
              if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
             | {n.arg for n in ast.walk(definition.node) if isinstance(n, ast.arg)})
    for node in ast.walk(definition.node):
        if isinstance(node, ast.Name) and node.id in CUDA_NAMES and node.id not in bound:
            raise AssertionError(
                f"{label} uses `{node.id}`, not cuda.{node.id}, on "
                f"{_where(definition, label, node)}: Numba's CUDA simulator, on which a grader "
                f"without a GPU runs the kernels, has it only in the module\n  hint: import "
                f"cuda (from numba import cuda) and write cuda.{node.id}")


def _no_array_math(definition: _Definition, label: str, arrays: set[str],
                   sizes: _Sizes | None) -> None:
    """The check of both: ``arrays``, the array arguments; ``sizes``, for host code, what its
    NumPy calls may be given (None in a kernel, where only a whole array argument counts)."""
    for node in ast.walk(definition.node):
        what = _array_math(node, arrays, sizes)
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


def _array_math(node: ast.AST, arrays: set[str], sizes: _Sizes | None) -> str:
    """What ``node`` computes on whole arrays ("" if nothing)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return "the @ operator"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        dotted = _numpy_name(node.func)
        given = [*node.args, *(k.value for k in node.keywords)]
        computes_here = (any(isinstance(a, ast.Name) and a.id in arrays for a in node.args)
                         if sizes is None else not all(sizes.holds(a) for a in given))
        if dotted and _computes(dotted) and computes_here:
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


class _Sizes:
    """Which expressions of a host function hold sizes (see ``assert_launches``), read from its
    syntax tree. A local name holds a size when every assignment to it (a loop's target: every
    item it iterates over) does; a name bound any other way (``with``, ``import``, a parameter
    without a default) does not. The names found are the largest set whose assignments hold
    sizes of the set, so that ``n = x.size; n += 1`` keeps ``n`` a size."""

    def __init__(self, function: ast.AST, arrays: set[str]) -> None:
        values: dict[str, list[ast.AST | None]] = {}
        args = getattr(function, "args", None)
        defaulted: set[str] = set()
        if isinstance(args, ast.arguments):
            defaulted = {a.arg for a in args.posonlyargs + args.args} - arrays
            defaulted |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
        for node in ast.walk(function):  # its other parameters, and those of nested functions
            if isinstance(node, ast.arg) and node.arg not in defaulted:
                values.setdefault(node.arg, []).append(None)
        handled: set[int] = set()
        for node in ast.walk(function):
            for target, value in _bindings(node):
                _bind(target, value, values, handled)
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) \
                    and id(node) not in handled:
                values.setdefault(node.id, []).append(None)
        self.bound = set(values) | defaulted
        self.names = {name for name in self.bound if None not in values.get(name, [])}
        while True:
            kept = {name for name in self.names
                    if all(self.holds(value) for value in values.get(name, []))}
            if kept == self.names:
                break
            self.names = kept

    def holds(self, node: ast.AST | None) -> bool:
        """Whether ``node`` holds a size."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.names or node.id not in self.bound
        if isinstance(node, ast.Attribute):
            root = _dotted(node).split(".")[0]
            return node.attr in SIZE_ATTRIBUTES or root not in ("", *self.bound)
        if isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            if dotted in SIZE_CALLS:
                return True
            callee = dotted.split(".")
            scalar = (len(callee) == 1 and callee[0] not in ("", *self.bound)) \
                or (len(callee) > 1 and callee[0] in SCALAR_MODULES)
            return scalar and all(self.holds(a) for a in
                                  [*node.args, *(k.value for k in node.keywords)])
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
                             ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Starred)):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
                return False
            return all(self.holds(child) for child in ast.iter_child_nodes(node)
                       if not isinstance(child, (ast.operator, ast.unaryop, ast.boolop,
                                                 ast.cmpop, ast.expr_context)))
        return False


def _bindings(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """The (target, value) pairs that ``node`` assigns; a loop's target gets what it iterates."""
    if isinstance(node, ast.Assign):
        return [(target, node.value) for target in node.targets]
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
        return [(node.target, node.value)]
    if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        return [(node.target, node.iter)]
    return []


def _bind(target: ast.AST, value: ast.AST, values: dict[str, list[ast.AST | None]],
          handled: set[int]) -> None:
    """Record that ``target`` gets ``value``: a tuple target paired with a tuple value item by
    item, else each of its names the whole value (a size's items are sizes)."""
    if isinstance(target, ast.Name):
        values.setdefault(target.id, []).append(value)
        handled.add(id(target))
    elif isinstance(target, (ast.Tuple, ast.List)):
        paired = isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
        for index, item in enumerate(target.elts):
            _bind(item, value.elts[index] if paired else value, values, handled)
    elif isinstance(target, ast.Starred):
        _bind(target.value, value, values, handled)


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


def assert_tiles_synchronized(fn: Any, name: str | None = None, simulator: bool = False) -> None:
    """Fail unless the CUDA kernel ``fn`` stages tiles in ``cuda.shared.array`` and, in the loop
    over the tiles, calls ``cuda.syncthreads()`` between writing the tiles and reading them, and
    between reading them and writing them again in the next round. Without either barrier the
    threads of a block race: one reads a tile the others have not finished writing, or overwrites
    one they still read. A race need not show in results, least of all on the simulator, so the
    source is read: statements in order, a statement's reads before its writes. ``simulator``:
    the kernel runs on Numba's CUDA simulator, which gives the shared arrays declared on one line
    the same memory (a limitation it documents): fail on two there, saying so, rather than leave
    the student a wrong result that a GPU would not give."""
    label = _label(fn, name)
    definition = _definitions(fn, label)[0]
    shared = _shared_arrays(definition.node)
    if not shared:
        raise AssertionError(
            f"{label} does not use shared memory\n  hint: declare each tile in the kernel as "
            f"tile = cuda.shared.array((TILE, TILE), dtype=c.dtype) and copy the tiles of a and b "
            f"into them before multiplying")
    if simulator:
        _declared_apart(definition, label)
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


def _declared_apart(definition: _Definition, label: str) -> None:
    """Fail if two ``cuda.shared.array`` calls share a line of the kernel."""
    lines: dict[int, list[ast.Call]] = {}
    for node in ast.walk(definition.node):
        if isinstance(node, ast.Call) and _dotted(node.func).endswith("shared.array"):
            lines.setdefault(node.lineno, []).append(node)
    for calls in lines.values():
        if len(calls) > 1:
            raise AssertionError(
                f"{label} declares {len(calls)} shared arrays on "
                f"{_where(definition, label, calls[0])}: Numba's CUDA simulator, on which these "
                f"tests run, gives the arrays declared on one line the same memory\n  hint: "
                f"declare each shared array on its own line")


def _shared_arrays(kernel: ast.AST) -> set[str]:
    """The names in ``kernel`` that hold shared memory: assigned ``cuda.shared.array(...)``,
    alone or in a tuple (``a_tile, b_tile = cuda.shared.array(...), cuda.shared.array(...)``),
    or a view of a shared array (``a_tile = tiles[0]``)."""
    pairs: list[tuple[ast.AST, ast.AST]] = []
    for node in ast.walk(kernel):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            pairs.extend(pair for target in targets for pair in _paired(target, node.value))
    shared: set[str] = set()
    while True:
        found = {target.id for target, value in pairs if isinstance(target, ast.Name)
                 and (isinstance(value, ast.Call) and _dotted(value.func).endswith("shared.array")
                      or isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name)
                      and value.value.id in shared)}
        if found <= shared:
            return shared
        shared |= found


def _paired(target: ast.AST, value: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """The (name, value) pairs of an assignment, a tuple target item by item with a tuple
    value of the same length."""
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        return [pair for item, part in zip(target.elts, value.elts)
                for pair in _paired(item, part)]
    return [(target, value)]


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
