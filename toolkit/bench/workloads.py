"""What `toolkit bench` times: each workload is one op of the backend protocol on inputs of given
shapes, with the bytes it must move and the flops it must do defined once here.

A size is written as an element count (``1048576`` or ``2^20``), or as explicit shapes
(``64x3x32x10+32x10``: the operands of a binary op; one shape for a unary op). For ``dot`` an
integer ``n`` means two n x n matrices.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from toolkit.kernels.backend import broadcast_shape, dot_shape

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Case:
    """One size of one workload: the operand shapes, the result's shape and the table's label."""

    label: str
    shapes: tuple[Shape, ...]
    out_shape: Shape

    @property
    def elements(self) -> int:
        """Elements of the largest array involved (operand or result)."""
        return max(math.prod(s) for s in self.shapes + (self.out_shape,))


@dataclass(frozen=True)
class Workload:
    """An op to time: how an integer size becomes shapes, and the work those shapes imply."""

    name: str
    op: str
    #: "memory" (bounded by copy bandwidth, rated in GB/s) or "compute" (by BLAS, in GFLOP/s)
    bound: str
    arity: int
    sizes: tuple[str, ...]
    quick: tuple[str, ...]
    #: a small size that shows the naive loop's cost per unit of work
    probe: str
    shapes_of: Callable[[int], tuple[Shape, ...]]
    kwargs: tuple[tuple[str, Any], ...] = ()
    #: the x axis of the plot: "elements" or "n" (square matrices)
    axis: str = "elements"
    #: sizes added to the full sweep when a GPU is timed (issue 3's: relu 2^28, dot n = 4096)
    device_sizes: tuple[str, ...] = ()

    def case(self, token: str) -> Case:
        """The case a size token names, or ValueError saying what a size looks like."""
        size = parse_size(token)
        if isinstance(size, int):
            shapes = self.shapes_of(size)
            label = _int_label(size, self.axis)
        else:
            shapes = size * self.arity if len(size) == 1 else size
            label = token.strip()
            if len(shapes) != self.arity:
                raise ValueError(
                    f"{self.name}: size {token!r} gives {len(shapes)} shapes but the op takes "
                    f"{self.arity} operand(s)"
                )
        return Case(label, tuple(shapes), self.out_shape(shapes))

    def out_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        """The result's shape (ValueError, from the backend's own checks, when shapes clash)."""
        if self.op == "dot":
            m, _, n = dot_shape(*shapes)
            return (m, n)
        if self.op == "sum":
            return ()
        if self.arity == 2:
            return broadcast_shape(self.op, *shapes)
        return shapes[0]

    def bytes_moved(self, case: Case, itemsize: int) -> int:
        """The compulsory memory traffic: every operand read once, the result written once."""
        return itemsize * (sum(math.prod(s) for s in case.shapes) + math.prod(case.out_shape))

    def flops(self, case: Case) -> int | None:
        """Floating-point operations of a dot (2 m k n); None for the memory-bound ops."""
        if self.op != "dot":
            return None
        m, k, n = dot_shape(*case.shapes)
        return 2 * m * k * n

    def work(self, case: Case) -> int:
        """What a naive loop's time is proportional to: multiply-adds of a dot, else elements."""
        flops = self.flops(case)
        return flops // 2 if flops is not None else case.elements

    def x(self, case: Case) -> int:
        """The plot's x value: n for square dots, else the element count."""
        if self.axis == "n":
            return round(math.prod(case.out_shape) ** 0.5)
        return case.elements

    def inputs(self, case: Case, dtype: np.dtype, rng: np.random.Generator) -> list[np.ndarray]:
        """Random normal operands of the case's shapes (half negative, so relu has work to do)."""
        return [rng.standard_normal(shape, dtype=dtype) for shape in case.shapes]

    def call(self, backend: Any, arrays: list[Any]) -> Any:
        """Run the op once on ``backend`` with ``arrays`` (already in the backend's memory)."""
        return getattr(backend, self.op)(*arrays, **dict(self.kwargs))


def parse_size(token: str) -> int | tuple[Shape, ...]:
    """``"1048576"`` or ``"2^20"`` -> an int; ``"64x3x32x10+32x10"`` -> a tuple of shapes."""
    text = token.strip().lower().replace(" ", "")
    power = re.fullmatch(r"(\d+)\^(\d+)", text)
    if power:
        size = int(power.group(1)) ** int(power.group(2))
    elif text.isdigit():
        size = int(text)
    elif re.fullmatch(r"\d+(x\d+)*(\+\d+(x\d+)*)*", text):
        shapes = tuple(tuple(int(d) for d in part.split("x")) for part in text.split("+"))
        if any(d == 0 for shape in shapes for d in shape):
            raise ValueError(f"bad size {token!r}: every dimension must be at least 1")
        return shapes
    else:
        raise ValueError(
            f"bad size {token!r}: write an element count (1048576 or 2^20) or shapes "
            f"(64x3x32x10+32x10)"
        )
    if size < 1:
        raise ValueError(f"bad size {token!r}: a size must be at least 1")
    return size


def _int_label(size: int, axis: str) -> str:
    """``2^26`` for powers of two from 2^10 on, the plain number otherwise; ``n=1024`` for dots."""
    if axis == "n":
        return f"n={size}"
    if size >= 1024 and size & (size - 1) == 0:
        return f"2^{size.bit_length() - 1}"
    return str(size)


def _vector(n: int) -> tuple[Shape, ...]:
    return ((n,),)


def _same_shape(n: int) -> tuple[Shape, ...]:
    return ((n,), (n,))


def _rows(width: int) -> Callable[[int], tuple[Shape, ...]]:
    """n elements as rows of ``gcd(n, width)`` columns (width columns when n is a multiple)."""
    def shapes(n: int) -> tuple[Shape, ...]:
        cols = math.gcd(n, width)
        return ((n // cols, cols),)
    return shapes


def _broadcast_rows(n: int) -> tuple[Shape, ...]:
    """A matrix of n elements plus a row vector: 2^24 gives (4096, 4096) + (4096,)."""
    cols = math.gcd(n, 4096)
    return ((n // cols, cols), (cols,))


def _square(n: int) -> tuple[Shape, ...]:
    return ((n, n), (n, n))


_ELEMENTWISE = ("2^10", "2^14", "2^18", "2^22", "2^26")
_ELEMENTWISE_QUICK = ("2^10", "2^16", "2^20")
#: the book's broadcast, then the large one of issue 2
BOOK_BROADCAST = "64x3x32x10+32x10"

WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("relu", "relu", "memory", 1, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12", _vector,
             device_sizes=("2^28",)),
    Workload("relu_grad", "relu_grad", "memory", 2, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12",
             _same_shape),
    Workload("add", "add", "memory", 2, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12", _same_shape),
    Workload("add_broadcast", "add", "memory", 2, (BOOK_BROADCAST, "2^20", "4096x4096+4096"),
             (BOOK_BROADCAST, "2^20"), "64x64+64", _broadcast_rows),
    Workload("sigmoid", "sigmoid", "memory", 1, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12",
             _vector),
    Workload("tanh", "tanh", "memory", 1, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12", _vector),
    Workload("exp", "exp", "memory", 1, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12", _vector),
    Workload("softmax", "softmax", "memory", 1, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12",
             _rows(1024)),
    Workload("sum", "sum", "memory", 1, _ELEMENTWISE, _ELEMENTWISE_QUICK, "2^12", _vector),
    Workload("dot", "dot", "compute", 2, ("64", "128", "256", "512", "1024", "2048"),
             ("64", "128", "256"), "24", _square, axis="n", device_sizes=("4096",)),
)}


def select(names: str | None) -> list[Workload]:
    """The workloads of a comma list (all when None), or ValueError naming the valid ones."""
    if names is None:
        return list(WORKLOADS.values())
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown op {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(WORKLOADS)}"
        )
    return [WORKLOADS[name] for name in dict.fromkeys(chosen)]
