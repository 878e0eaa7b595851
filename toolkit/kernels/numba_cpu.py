"""The compiled CPU backend: every op as Numba ``@njit(cache=True)`` kernels (numba_loops for the
elementwise ops and reductions, numba_gemm for dot), ``prange`` across cores for inputs above
``PARALLEL_MIN`` elements and a serial kernel below it, where starting threads costs more than it
saves. Semantics, dtypes and error messages are the numpy backend's (backend.py's checks).

Kernels compile on first use, not at import, and load from Numba's on-disk cache after that.
Nothing here starts Numba's thread pool or sets its thread count at import.
"""

from __future__ import annotations

import builtins
import math
import sys
import threading

import numpy as np

from . import numba_loops as loops
from . import numba_sparse, vmath
from .backend import (
    binary_dtype,
    broadcast_shape,
    check_axis,
    check_numeric,
    check_relu_grad,
    dot_shape,
    op_code,
    op_function,
    unary_dtype,
)
from .cpu import LINE
from .host import asarray, to_numpy, zeros  # noqa: F401 - the protocol's memory functions
from .numba_gemm import gemm
from .sparse import is_sparse

name = "numba"
#: dot takes a scipy.sparse CSR first operand (numba_sparse).
accepts_sparse = True

#: Inputs with at least this many elements of a one-pass, memory-bound op (relu, add) run on
#: every core; smaller ones on one. Waking the thread pool costs little on an idle machine but
#: up to a scheduler time slice (milliseconds) on a busy one, so only work of a millisecond or
#: more is split.
PARALLEL_MIN = 1 << 21
#: The cost of an element of the ops that compute more than they move, in elements of relu's,
#: so that each splits at the same amount of work: PARALLEL_MIN / WORK[op] elements. Measured
#: serially at 2^20 float32 on an AVX2 core (AMD EPYC, Zen 3): relu 122-157 us, tanh 378, exp
#: 458, sigmoid 522, softmax 650 (its passes over each row: the maximum, the exponentials,
#: their sum, the scaling), log 3337 (libm, an element at a time); on two cores exp took
#: 179 us, sigmoid 256, softmax 357.
WORK = {"tanh": 2, "exp": 4, "sigmoid": 4, "softmax": 4, "log": 16}
#: Results of at least this many bytes reuse the memory of dropped results (see ``_empty``).
POOL_MIN_BYTES = 1 << 22
#: The most memory the pool of result buffers keeps alive.
POOL_MAX_BYTES = 1 << 30

_NO_OFFSETS = np.empty(0, np.int64)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_pool: list[tuple[np.ndarray, int]] = []  # buffers, and where their first cache line starts
_pool_lock = threading.Lock()
_plans: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[tuple[int, ...], tuple]] = {}


def _empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """np.empty, except that a large result reuses the memory of an earlier result that the
    caller has dropped (only the pool still refers to it), and starts on a cache line (so that
    the vectors a kernel stores do not straddle two lines). Fresh memory from the OS costs a
    page fault per 4 KiB at its first write, which halves the speed of a memory-bound op; a
    training loop asks for the same sizes every step. The pool is bounded by POOL_MAX_BYTES."""
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes < POOL_MIN_BYTES:
        return np.empty(shape, dtype)
    with _pool_lock:
        for i in range(len(_pool) - 1, -1, -1):  # the most recently used first
            buf, start = _pool[i]
            # the references: the pool's, ``buf`` and getrefcount's argument; a view of ``buf``
            # that the caller still holds refers to it as its base, so it is not reused
            if buf.nbytes == nbytes + LINE and sys.getrefcount(buf) == 3:
                _pool.append(_pool.pop(i))
                return buf[start:start + nbytes].view(dtype).reshape(shape)
        buf = np.empty(nbytes + LINE, np.uint8)
        start = -buf.__array_interface__["data"][0] % LINE
        _pool.append((buf, start))
        while builtins.sum(b.nbytes for b, _ in _pool) > POOL_MAX_BYTES:
            _pool.pop(0)
        return buf[start:start + nbytes].view(dtype).reshape(shape)


def _contiguous(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype``, copied only when it is not one already."""
    if x.dtype != dtype or not x.flags.c_contiguous:
        return np.ascontiguousarray(x, dtype=dtype).reshape(x.shape)
    return x


def _unary_op(op: str, doc: str):
    """The backend function of a unary op: one compiled kernel, chosen by the op's code."""
    code, work = op_code(op), WORK.get(op, 1)

    @op_function(op, doc)
    def apply(x):
        x = np.asarray(x)
        dtype = unary_dtype(op, x)
        x = _contiguous(x, dtype)
        out = _empty(x.shape, dtype)
        if out.size * work >= PARALLEL_MIN:
            loops.unary_parallel(code, x.reshape(-1), out.reshape(-1), vmath.TAG)
        elif out.size:
            loops.unary_serial(code, x.reshape(-1), out.reshape(-1), vmath.TAG)
        return out
    return apply


relu = _unary_op("relu", "max(x, 0) elementwise; relu(nan) is nan.")
sigmoid = _unary_op("sigmoid", "1 / (1 + exp(-x)) elementwise (vector exp; an overflow to inf "
                               "gives the correct 0).")
tanh = _unary_op("tanh", "tanh elementwise (a rational function for float32, else a vector "
                         "routine).")
exp = _unary_op("exp", "e^x elementwise (a vector routine).")
log = _unary_op("log", "Natural logarithm elementwise (NaN below 0, -inf at 0, as NumPy).")
sqrt = _unary_op("sqrt", "Square root elementwise (NaN below 0, as NumPy).")
abs = _unary_op("abs", "|x| elementwise.")  # noqa: A001 - the protocol's name


def relu_grad(x, grad):
    """``grad`` where ``x > 0``, else 0."""
    x, grad = np.asarray(x), np.asarray(grad)
    check_relu_grad(x, grad)
    x, grad = _contiguous(x, x.dtype), _contiguous(grad, grad.dtype)
    out = _empty(grad.shape, grad.dtype)
    if out.size >= PARALLEL_MIN:
        loops.relu_grad_parallel(x.reshape(-1), grad.reshape(-1), out.reshape(-1))
    elif out.size:
        loops.relu_grad_serial(x.reshape(-1), grad.reshape(-1), out.reshape(-1))
    return out


def _element_strides(shape: tuple[int, ...], ndim: int) -> list[int]:
    """Strides in elements of a C-contiguous array of ``shape`` indexed by the broadcast result's
    ``ndim`` indices: 0 along the axes where it is broadcast."""
    strides, step = [0] * ndim, 1
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] != 1:
            strides[ndim - len(shape) + d] = step
        step *= shape[d]
    return strides


def _row_offsets(dims: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Where each row of the result starts in a and in b, over the outer axes ``dims``."""
    a_off, b_off = np.zeros(1, np.int64), np.zeros(1, np.int64)
    for n, sa, sb in dims:
        index = np.arange(n, dtype=np.int64)
        a_off = (a_off[:, None] + index * sa).reshape(-1)
        b_off = (b_off[:, None] + index * sb).reshape(-1)
    return a_off, b_off


def _broadcast_plan(a_shape: tuple[int, ...], b_shape: tuple[int, ...], shape: tuple[int, ...]):
    """The broadcast as rows: (a row offsets, a row stride, a column stride, the same for b,
    rows, row length). Adjacent axes that step alike in a, b and the result merge, so the book's
    (64, 3, 32, 10) + (32, 10) becomes 192 rows of 320 with b's row stride 0."""
    ndim = len(shape)
    dims: list[tuple[int, int, int]] = []
    for n, sa, sb in zip(shape, _element_strides(a_shape, ndim),
                          _element_strides(b_shape, ndim)):
        if n == 1:
            continue
        if dims and dims[-1][1] == sa * n and dims[-1][2] == sb * n:
            dims[-1] = (dims[-1][0] * n, sa, sb)
        else:
            dims.append((n, sa, sb))
    if not dims:  # one element
        return _NO_OFFSETS, 0, 1, _NO_OFFSETS, 0, 1, 1, 1
    inner, ca, cb = dims.pop()
    if not dims:
        return _NO_OFFSETS, 0, ca, _NO_OFFSETS, 0, cb, 1, inner
    if len(dims) == 1:
        outer, a_row, b_row = dims[0]
        return _NO_OFFSETS, a_row, ca, _NO_OFFSETS, b_row, cb, outer, inner
    a_off, b_off = _row_offsets(dims)
    return a_off, 0, ca, b_off, 0, cb, a_off.size, inner


def _plan(op: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]):
    """(the broadcast shape, its plan), remembered for the next call with the same shapes."""
    shape = broadcast_shape(op, a_shape, b_shape)
    if len(_plans) >= 256:
        _plans.clear()
    _plans[a_shape, b_shape] = shape, _broadcast_plan(a_shape, b_shape, shape)
    return _plans[a_shape, b_shape]


def _binary(op: str, code: int, a, b) -> np.ndarray:
    ta, tb = type(a), type(b)
    if ta is np.ndarray and a.dtype in _FLOATS and (
            (tb is np.ndarray and b.dtype == a.dtype) or tb is float or tb is int):
        dtype = a.dtype  # the common cases (a Python scalar is weak), decided without
    elif tb is np.ndarray and b.dtype in _FLOATS and (ta is float or ta is int):
        dtype = b.dtype  # binary_dtype's general rules
    else:
        dtype = binary_dtype(op, a, b)
    if ta is not np.ndarray or tb is not np.ndarray:
        # a Python scalar takes the result dtype (OverflowError if it does not fit, as NumPy)
        a, b = (np.asarray(v, dtype) if isinstance(v, (int, float)) else np.asarray(v)
                for v in (a, b))
    if a.shape == b.shape:
        shape = a.shape
        plan = (_NO_OFFSETS, 0, 1, _NO_OFFSETS, 0, 1, 1, a.size)
    else:  # plans are cached by shapes: a layer broadcasts the same shapes every step
        shape, plan = _plans.get((a.shape, b.shape)) or _plan(op, a.shape, b.shape)
    a, b = _contiguous(a, dtype), _contiguous(b, dtype)
    out = _empty(shape, dtype)
    if out.size == 0:
        return out
    a_off, a_row, ca, b_off, b_row, cb, outer, inner = plan
    kernel = loops.binary_parallel if out.size >= PARALLEL_MIN else loops.binary_serial
    kernel(code, a.reshape(-1), a_off, a_row, ca, b.reshape(-1), b_off, b_row, cb,
           out.reshape(-1), outer, inner)
    return out


def _binary_op(op: str, doc: str):
    """The backend function of a binary op with NumPy broadcasting."""
    code = op_code(op)

    @op_function(op, doc)
    def apply(a, b):
        return _binary(op, code, a, b)
    return apply


add = _binary_op("add", "a + b with NumPy broadcasting (any ranks; Python scalars are weakly "
                        "typed).")
sub = _binary_op("sub", "a - b with broadcasting.")
mul = _binary_op("mul", "a * b with broadcasting.")
div = _binary_op("div", "a / b with broadcasting (integers divide to float64, as NumPy's true "
                        "division).")
maximum = _binary_op("maximum", "The elementwise maximum with broadcasting; NaN on either side "
                                "gives NaN.")
minimum = _binary_op("minimum", "The elementwise minimum with broadcasting; NaN on either side "
                                "gives NaN.")


def dot(a, b, trans_a: bool = False, trans_b: bool = False):
    """op(a) @ op(b) by a blocked, packed, multithreaded matrix product (numba_gemm); a
    transposed operand is read where it lies, not transposed first. A scipy.sparse ``a`` takes
    time proportional to its nonzeros (numba_sparse)."""
    if is_sparse(a) or is_sparse(b):
        return numba_sparse.dot(a, b, trans_a, trans_b, _empty)
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.dtype not in _FLOATS:
        dtype = binary_dtype("dot", a, b)
        a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    m, k, n = dot_shape(a.shape, b.shape, trans_a, trans_b)
    return gemm(a.T if trans_a else a, b.T if trans_b else b, m, k, n, _empty)


def softmax(x):
    """exp(x - max) / sum over the last axis, row by row."""
    x = np.asarray(x)
    dtype = unary_dtype("softmax", x)
    if x.ndim == 0:
        raise ValueError("softmax: needs an array of at least 1 dimension, got a scalar")
    x = _contiguous(x, dtype)
    out = _empty(x.shape, dtype)
    if out.size == 0:
        return out
    rows = x.reshape(-1, x.shape[-1])
    parallel = x.size * WORK["softmax"] >= PARALLEL_MIN and rows.shape[0] > 1
    kernel = loops.softmax_parallel if parallel else loops.softmax_serial
    kernel(rows, out.reshape(rows.shape), vmath.TAG)
    return out


def take_rows(x, rows, dtype=np.float32):
    """x[rows] in ``dtype`` for a 2-D array and an integer array of row indices: a training
    batch, gathered on every core into a pooled buffer (a host helper, backend.HOST)."""
    x, rows = np.asarray(x), np.asarray(rows)
    dtype = np.dtype(dtype)
    if x.ndim != 2 or rows.ndim != 1 or rows.dtype.kind not in "iu":
        raise ValueError(f"take_rows: needs a 2-D array and a 1-D array of row indices, got "
                         f"shapes {x.shape} and {rows.shape} ({rows.dtype})")
    if rows.size and (rows.min() < -x.shape[0] or rows.max() >= x.shape[0]):
        raise IndexError(f"take_rows: row index out of range for {x.shape[0]} rows")
    x = _contiguous(x, x.dtype)
    out = _empty((rows.size, x.shape[1]), dtype)
    rows = rows % max(1, x.shape[0])  # NumPy's negative indices
    kernel = loops.take_rows_parallel if out.size >= PARALLEL_MIN else loops.take_rows_serial
    kernel(x, rows, out)
    return out


def rmsprop_step(w, g, velocity, learning_rate: float, rho: float, epsilon: float):
    """One RMSprop step fused into one pass, (new w, new velocity): the same arithmetic, in the
    same order and dtype, as optimizers.RMSprop's ops, which would make nine passes over the
    weights and nine result arrays (a fused step, backend.FUSED)."""
    w, g, velocity = np.asarray(w), np.asarray(g), np.asarray(velocity)
    if not (w.shape == g.shape == velocity.shape and w.dtype == g.dtype == velocity.dtype
            and w.dtype in _FLOATS):
        raise ValueError(f"rmsprop_step: w, g and velocity must be float arrays of one shape "
                         f"and dtype, got {w.shape} {w.dtype}, {g.shape} {g.dtype}, "
                         f"{velocity.shape} {velocity.dtype}")
    w, g, velocity = (_contiguous(x, w.dtype) for x in (w, g, velocity))
    w_out, v_out = _empty(w.shape, w.dtype), _empty(w.shape, w.dtype)
    scalars = [w.dtype.type(s) for s in (learning_rate, rho, 1.0 - rho, epsilon)]
    kernel = loops.rmsprop_parallel if w.size >= PARALLEL_MIN else loops.rmsprop_serial
    kernel(w.reshape(-1), g.reshape(-1), velocity.reshape(-1), *scalars, w_out.reshape(-1),
           v_out.reshape(-1))
    return w_out, v_out


def _sum_dtype(dtype: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(NumPy's result dtype of a sum, the dtype the kernels accumulate in)."""
    result = np.add.reduce(np.zeros(1, dtype)).dtype
    return result, (np.dtype(np.float64) if result.kind == "f" else result)


def sum(x, axis: int | None = None, keepdims: bool = False):  # noqa: A001 - the protocol's name
    """The sum over one axis, or over every element when ``axis`` is None (float sums in
    float64, rounded once to the result dtype at the end)."""
    x = np.asarray(x)
    check_numeric("sum", x)
    axis = check_axis("sum", x.ndim, axis)
    result, acc_dtype = _sum_dtype(x.dtype)
    x = _contiguous(x, x.dtype)
    if axis is None:
        if x.size >= PARALLEL_MIN:
            acc = np.zeros((x.size + loops.BLOCK - 1) // loops.BLOCK, acc_dtype)
            loops.sum_all_parallel(x.reshape(-1), acc)
            total = np.add.reduce(acc)
        else:
            acc = np.zeros(1, acc_dtype)
            loops.sum_last_serial(x.reshape(1, -1), acc)
            total = acc[0]
        shape = (1,) * x.ndim if keepdims else ()
        return np.asarray(total, dtype=result).reshape(shape)
    outer, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    acc = np.zeros((outer, inner), acc_dtype)
    parallel = x.size >= PARALLEL_MIN and outer > 1
    if inner == 1:  # the last axis (or what follows it is all 1s): contiguous rows
        rows, sums = x.reshape(outer, x.shape[axis]), acc.reshape(outer)
        if parallel:
            loops.sum_last_parallel(rows, sums)
        elif x.size:
            loops.sum_last_serial(rows, sums)
    elif parallel:
        loops.sum_parallel(x.reshape(outer, x.shape[axis], inner), acc)
    elif x.size:
        loops.sum_serial(x.reshape(outer, x.shape[axis], inner), acc)
    shape = x.shape[:axis] + ((1,) if keepdims else ()) + x.shape[axis + 1:]
    return acc.astype(result, copy=False).reshape(shape)
