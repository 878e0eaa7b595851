"""Checks on CUDA kernels and the host code that launches them, read from the source: the work done
one element per thread on the device, not on whole arrays, and shared-memory tiles synchronized
between writing and reading."""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from .source import _called_name, _Definition, _definitions, _label, _where

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
