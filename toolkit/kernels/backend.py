"""The backend protocol: the tensor operations every backend implements, and the checks they share.

A backend is a module (``naive``, ``numpy``, ``numba_cpu``, ``cuda``) that defines every name in
``OPS`` with the signatures of :class:`Backend`. Semantics are NumPy's: result dtypes, broadcasting
of any ranks, NaN propagation, empty and non-contiguous inputs. The checks below give every backend
the same error messages for the same mistakes.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import numpy as np

#: Operations every backend implements (the conformance test runs each on each backend).
OPS = (
    "relu", "relu_grad", "sigmoid", "tanh", "exp", "log", "sqrt", "abs",
    "add", "sub", "mul", "div", "maximum", "minimum",
    "dot", "softmax", "sum",
)
#: Moving data in and out of a backend's own array type.
MEMORY = ("asarray", "to_numpy", "zeros")
#: Optional fused optimizer steps a backend may offer: one pass instead of an op per term, the
#: same arithmetic in the same order. The optimizers use them where present, else the ops.
FUSED = ("rmsprop_step",)
#: Optional host-side helpers of a CPU backend: ``take_rows(x, rows)`` gathers a training batch
#: (x[rows] as float32) on every core; the network uses it where present, else NumPy's indexing.
HOST = ("take_rows",)

UNARY = ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs")
BINARY = ("add", "sub", "mul", "div", "maximum", "minimum")
#: Unary ops whose result is floating point even for integer input (as NumPy's ufuncs).
FLOATING = ("sigmoid", "tanh", "exp", "log", "sqrt", "softmax")

#: One integer code per op, for compiled kernels that take the op as an argument (numba_loops,
#: cuda_elementwise): ``Op.RELU``, ``Op["add".upper()]``. Numba treats the members of an IntEnum
#: as constants, so ``op == Op.RELU`` in a kernel folds as a literal would.
Op = enum.IntEnum("Op", [(name.upper(), code) for code, name in enumerate(OPS)])


def op_code(op: str) -> int:
    """The integer code of ``op`` ('relu', 'add', ...), as a kernel argument."""
    return int(Op[op.upper()])


def op_function(op: str, doc: str):
    """A decorator for the function a backend's factory makes for ``op``: it takes the op's
    name (``__name__`` and ``__qualname__``) and ``doc``."""
    def name(function):
        function.__name__ = function.__qualname__ = op
        function.__doc__ = doc
        return function
    return name

Array = Any  # a backend's array type: numpy.ndarray on the CPU, a device array on CUDA


class Backend(Protocol):
    """What a backend module provides. ``x``, ``a``, ``b`` are that backend's arrays; binary ops
    also take Python scalars."""

    name: str

    def asarray(self, x: Any, dtype: Any = None) -> Array:
        """The backend's array holding ``x`` (a host-to-device copy on a GPU)."""

    def to_numpy(self, x: Array) -> np.ndarray:
        """A NumPy array holding ``x`` (a device-to-host copy on a GPU)."""

    def zeros(self, shape: tuple[int, ...], dtype: Any = np.float32) -> Array:
        """A new array of zeros."""

    def relu(self, x: Array) -> Array:
        """max(x, 0) elementwise; NaN stays NaN."""

    def relu_grad(self, x: Array, grad: Array) -> Array:
        """The backward pass of relu: ``grad`` where ``x > 0``, else 0 (same shapes)."""

    def sigmoid(self, x: Array) -> Array:
        """1 / (1 + exp(-x)) elementwise, without overflow for large |x|."""

    def tanh(self, x: Array) -> Array: ...
    def exp(self, x: Array) -> Array: ...
    def log(self, x: Array) -> Array: ...
    def sqrt(self, x: Array) -> Array: ...
    def abs(self, x: Array) -> Array: ...

    def add(self, a: Array, b: Array) -> Array:
        """a + b with NumPy broadcasting (any ranks); likewise sub, mul, div, maximum, minimum."""

    def sub(self, a: Array, b: Array) -> Array: ...
    def mul(self, a: Array, b: Array) -> Array: ...
    def div(self, a: Array, b: Array) -> Array: ...
    def maximum(self, a: Array, b: Array) -> Array: ...
    def minimum(self, a: Array, b: Array) -> Array: ...

    def dot(self, a: Array, b: Array, trans_a: bool = False, trans_b: bool = False) -> Array:
        """The 2-D matrix product op(a) @ op(b), where op transposes when asked (the backward
        pass of Dense needs x.T @ grad and grad @ w.T). Backends with ``accepts_sparse`` also
        take a scipy.sparse CSR ``a``, in time proportional to its nonzeros (sparse.py)."""

    def softmax(self, x: Array) -> Array:
        """Softmax over the last axis, computed stably (the row maximum subtracted first)."""

    def sum(self, x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        """The sum over one axis, or over all elements when ``axis`` is None (a 0-d array)."""


def is_backend(module: Any) -> bool:
    """Whether ``module`` defines every op and memory function of the protocol."""
    return all(callable(getattr(module, op, None)) for op in OPS + MEMORY)


def check_numeric(op: str, x: Any) -> np.dtype:
    """The dtype of ``x``, or TypeError if the op cannot take it (bool, complex, float16,
    objects)."""
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype
    if dtype.kind in "iu" or dtype in (np.float32, np.float64):
        return dtype
    raise TypeError(
        f"{op}: dtype {dtype} is not supported; the kernels take float32, float64 or integer "
        f"arrays (convert with x.astype(np.float32))"
    )


def unary_dtype(op: str, x: Any) -> np.dtype:
    """NumPy's result dtype for a unary op (floating ops turn integers into float64/float32)."""
    dtype = check_numeric(op, x)
    if op in FLOATING and dtype.kind in "iu":
        return np.result_type(dtype, np.float32)
    return dtype


def binary_dtype(op: str, a: Any, b: Any) -> np.dtype:
    """NumPy's result dtype for ``a op b``; Python scalars are weak, as in NumPy 2."""
    args = [x if _is_scalar(x) else check_numeric(op, x) for x in (a, b)]
    if op == "div" and _all_int(a, b):
        return np.dtype(np.float64)
    return check_numeric(op, np.empty(0, np.result_type(*args)))


def check_relu_grad(x: Any, grad: Any) -> None:
    """TypeError or ValueError unless ``x`` and ``grad`` are numeric arrays of one shape."""
    check_numeric("relu_grad", x)
    check_numeric("relu_grad", grad)
    if x.shape != grad.shape:
        raise ValueError(f"relu_grad: shapes {x.shape} and {grad.shape} must be equal")


def broadcast_shape(op: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast shape of two shapes by NumPy's rules, or ValueError naming both."""
    ndim = max(len(a_shape), len(b_shape))
    a = (1,) * (ndim - len(a_shape)) + tuple(a_shape)
    b = (1,) * (ndim - len(b_shape)) + tuple(b_shape)
    out = []
    for m, n in zip(a, b):
        if m != n and m != 1 and n != 1:
            raise ValueError(
                f"{op}: shapes {tuple(a_shape)} and {tuple(b_shape)} do not broadcast "
                f"(trailing dimensions must be equal or 1)"
            )
        out.append(n if m == 1 else m)
    return tuple(out)


def dot_shape(a_shape: tuple[int, ...], b_shape: tuple[int, ...],
              trans_a: bool = False, trans_b: bool = False) -> tuple[int, int, int]:
    """(m, k, n) for op(a) @ op(b), or ValueError naming the shapes when ranks or sizes differ."""
    if len(a_shape) != 2 or len(b_shape) != 2:
        raise ValueError(
            f"dot: needs two 2-D arrays, got shapes {tuple(a_shape)} and {tuple(b_shape)} "
            f"(reshape vectors to (1, n) or (n, 1))"
        )
    m, k = a_shape[::-1] if trans_a else a_shape
    k2, n = b_shape[::-1] if trans_b else b_shape
    if k != k2:
        ta, tb = (".T" if trans_a else ""), (".T" if trans_b else "")
        raise ValueError(
            f"dot: shapes {tuple(a_shape)}{ta} and {tuple(b_shape)}{tb} are not aligned: "
            f"{k} (columns of the first) != {k2} (rows of the second)"
        )
    return m, k, n


def check_axis(op: str, ndim: int, axis: int | None) -> int | None:
    """``axis`` made non-negative, or ValueError if the array has no such axis."""
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % ndim


def _is_scalar(x: Any) -> bool:
    """A Python int or float (weakly typed in NumPy 2), not a NumPy scalar or a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, (bool, np.generic))


def _all_int(a: Any, b: Any) -> bool:
    return all((isinstance(x, int) if _is_scalar(x) else np.dtype(x.dtype).kind in "iu")
               for x in (a, b))
