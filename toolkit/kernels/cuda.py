"""The GPU backend: every op a numba.cuda kernel, arrays kept on the device between ops.

Data moves only when asked: ``asarray`` copies host to device, ``to_numpy`` device to host; an op
given a host (NumPy) array refuses it with a TypeError rather than copying it on every call.
Semantics are NumPy's (result dtypes, broadcasting of any ranks, NaN, empty and strided inputs);
the checks and error messages are backend.py's. Results are numba device arrays (with .shape,
.dtype, .strides and ``__cuda_array_interface__``); CuPy and PyTorch arrays are accepted as views.

Without numba-cuda or a GPU this module still imports: :func:`is_available` is False and the ops
raise a RuntimeError that says how to install the ``cuda`` extra. Under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) the same kernels run on the CPU, for tests.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import numpy as np

from . import cuda_runtime as rt
from .backend import (
    binary_dtype,
    broadcast_shape,
    check_axis,
    check_relu_grad,
    dot_shape,
    op_code,
    op_function,
    unary_dtype,
)
from .sparse import is_sparse, refuse

name = "cuda"
is_available = rt.is_available
is_device_array = rt.is_device_array
synchronize = rt.synchronize


@functools.cache
def _kernels():
    """The kernel modules, imported (and their device functions defined) on first use."""
    rt.require()
    from . import cuda_elementwise, cuda_gemm, cuda_reduce
    return cuda_elementwise, cuda_gemm, cuda_reduce


@functools.cache
def _max_blocks() -> int:
    """Enough blocks to fill the GPU several times over; grid-stride loops cover the rest."""
    if rt.SIMULATOR:
        return 4
    return rt._cuda.get_current_device().MULTIPROCESSOR_COUNT * 32


@functools.cache
def _grid(n: int, per_thread: int = 1) -> tuple[int, int]:
    """(blocks, threads) for n elements, each thread taking ``per_thread`` per round."""
    threads = 256 if n >= 256 else max(32, -(-n // 32) * 32)
    return min(max(1, -(-n // (threads * per_thread))), _max_blocks()), threads


def _threads_for(length: int) -> int:
    """A power of two of threads for one block reducing ``length`` elements."""
    return min(256, max(32, 1 << max(0, length - 1).bit_length()))


@functools.lru_cache(maxsize=None)
def _unary_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """backend.unary_dtype by dtype, cached: the checks cost microseconds on every small op."""
    return unary_dtype(op, np.empty(0, dtype))


@functools.lru_cache(maxsize=None)
def _binary_dtype(op: str, a: Any, b: Any) -> np.dtype:
    """backend.binary_dtype by operand dtype (or Python scalar type: int or float), cached."""
    return binary_dtype(op, *(x(1) if isinstance(x, type) else np.empty(0, x) for x in (a, b)))


@functools.lru_cache(maxsize=None)
def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """NumPy's dtype for a sum (integers widen to int64/uint64), after backend's dtype check."""
    _unary_dtype("sum", dtype)
    return np.sum(np.zeros(0, dtype)).dtype


# --- memory --------------------------------------------------------------------------------------

def asarray(x: Any, dtype: Any = None) -> Any:
    """``x`` on the device: a host-to-device copy of host data, or ``x`` itself if it already is
    a device array (converted on the device when ``dtype`` differs)."""
    rt.require()
    if not isinstance(x, (np.ndarray, np.generic, list, tuple, int, float)):
        x = rt.device_array("asarray", x)
        if dtype is None or np.dtype(dtype) == x.dtype:
            return x
        return _cast(_contiguous(x), np.dtype(dtype))
    return rt._cuda.to_device(np.asarray(x, dtype=dtype, order="C"))


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array holding ``x`` (a device-to-host copy)."""
    if isinstance(x, np.ndarray):
        return x
    rt.require()
    return rt.device_array("to_numpy", x).copy_to_host()


def zeros(shape: tuple[int, ...] | int, dtype: Any = np.float32) -> Any:
    """A new device array of zeros."""
    rt.require()
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dtype = np.dtype(dtype)
    out = rt.empty(shape, dtype)
    if out.size:
        k = rt.kernel(_kernels()[0].fill_kernel, dtype, ("scalar", dtype))
        blocks, threads = _grid(out.size)
        k.launch(blocks, threads, 0, (out, dtype.type(0)))
    return out


def warm_up(dtypes: tuple = (np.float32, np.float64)) -> None:
    """Compile (or load from the cache) the kernels the network uses, for ``dtypes``: so that
    compile time is paid here, not in the first timed call."""
    for dtype in dtypes:
        x = zeros((2, 3), dtype)
        for op in ("relu", "sigmoid", "tanh", "exp", "softmax"):
            globals()[op](x)
        relu_grad(x, x)
        for op in ("add", "sub", "mul", "div", "maximum", "minimum"):
            globals()[op](x, x)
            globals()[op](x, 1.0)
            globals()[op](x, zeros((3,), dtype))
        dot(x, x, trans_b=True)
        dot(x, x, trans_a=True)
        sum(x)
        sum(x, axis=0)
        sum(x, axis=1)
    synchronize()


# --- helpers -------------------------------------------------------------------------------------

def _launch_flat(fn, x: Any, out: Any) -> None:
    """An elementwise kernel fn(x, out) over out's elements."""
    k = rt.kernel(fn, x.dtype, out.dtype)
    blocks, threads = _grid(out.size)
    k.launch(blocks, threads, 0, (x, out))


def _contiguous(x: Any) -> Any:
    """``x`` itself if C-contiguous, else a contiguous copy made on the device."""
    if rt.is_contiguous(x):
        return x
    plan = _gather_plan(tuple(x.shape), tuple(x.strides), x.dtype.itemsize)
    out = rt.empty(x.shape, x.dtype)
    if out.size:
        ew = _kernels()[0]
        span, shape, strides = plan
        rank = ("tuple", len(shape))
        k = rt.kernel(ew.gather_kernel, x.dtype, x.dtype, rank, rank)
        blocks, threads = _grid(out.size)
        k.launch(blocks, threads, 0, (rt.base_view(x, span), out, shape, strides))
    return out


@functools.lru_cache(maxsize=1024)
def _gather_plan(shape, strides, itemsize):
    """(span, shape, element strides) of a strided array, adjacent axes merged where they can be."""
    if any(s < 0 for s in strides):
        raise ValueError(f"arrays with negative strides {strides} are not supported on the cuda "
                         f"backend; make a copy with cuda.asarray(cuda.to_numpy(x)) first")
    dims = [(n, s // itemsize) for n, s in zip(shape, strides) if n != 1]
    merged: list[list[int]] = []
    for n, s in dims:
        if merged and merged[-1][1] == s * n:
            merged[-1] = [merged[-1][0] * n, s]
        else:
            merged.append([n, s])
    span = 1 + builtins.sum((n - 1) * s for n, s in merged)
    return span, tuple(n for n, _ in merged), tuple(s for _, s in merged)


def _cast(x: Any, dtype: np.dtype) -> Any:
    """``x`` (contiguous) converted to ``dtype`` on the device (``x`` itself if it already is)."""
    if x.dtype == dtype:
        return x
    out = rt.empty(x.shape, dtype)
    if out.size:
        _launch_flat(_kernels()[0].cast_kernel, x, out)
    return out


def _operand(op: str, x: Any, dtype: np.dtype | None = None) -> Any:
    """A device array argument, contiguous, converted to ``dtype`` if given."""
    x = _contiguous(rt.device_array(op, x))
    return x if dtype is None else _cast(x, dtype)


# --- unary ops -----------------------------------------------------------------------------------

def relu(x: Any) -> Any:
    """max(x, 0) elementwise; NaN stays NaN (grid-stride, four loads in flight per thread)."""
    x = rt.device_array("relu", x)
    _unary_dtype("relu", x.dtype)
    x = _contiguous(x)
    out = rt.empty(x.shape, x.dtype)
    if out.size:
        ew = _kernels()[0]
        k = rt.kernel(ew.relu_kernel, x.dtype, x.dtype)
        blocks, threads = _grid(out.size, 4)
        k.launch(blocks, threads, 0, (x, out))
    return out


def relu_grad(x: Any, grad: Any) -> Any:
    """The backward pass of relu: ``grad`` where ``x > 0``, else 0."""
    x, grad = rt.device_array("relu_grad", x), rt.device_array("relu_grad", grad)
    check_relu_grad(x, grad)
    x, grad = _contiguous(x), _contiguous(grad)
    out = rt.empty(grad.shape, grad.dtype)
    if out.size:
        k = rt.kernel(_kernels()[0].relu_grad_kernel, x.dtype, grad.dtype, grad.dtype)
        blocks, threads = _grid(out.size)
        k.launch(blocks, threads, 0, (x, grad, out))
    return out


def abs(x: Any) -> Any:  # noqa: A001 - the protocol's name
    """|x| elementwise."""
    x = rt.device_array("abs", x)
    _unary_dtype("abs", x.dtype)
    x = _contiguous(x)
    out = rt.empty(x.shape, x.dtype)
    if out.size:
        _launch_flat(_kernels()[0].abs_kernel, x, out)
    return out


def _floating(op: str):
    code = op_code(op)

    @op_function(op, f"{op} elementwise (float32 stays float32; integers give float64).")
    def apply(x: Any) -> Any:
        x = rt.device_array(op, x)
        dtype = _unary_dtype(op, x.dtype)
        x = _cast(_contiguous(x), dtype)
        out = rt.empty(x.shape, dtype)
        if out.size:
            ew = _kernels()[0]
            scalar = ("scalar", dtype)
            k = rt.kernel(ew.float_kernel, dtype, dtype, "int", scalar, scalar, scalar)
            blocks, threads = _grid(out.size)
            one, inf, nan = _SPECIALS[dtype]
            k.launch(blocks, threads, 0, (x, out, code, one, inf, nan))
        return out
    return apply


_SPECIALS = {np.dtype(t): (t(1), t(np.inf), t(np.nan)) for t in (np.float32, np.float64)}

sigmoid = _floating("sigmoid")
sigmoid.__doc__ = "1 / (1 + exp(-x)) elementwise, through exp(-|x|) so that it never overflows."
tanh = _floating("tanh")
exp = _floating("exp")
log = _floating("log")
sqrt = _floating("sqrt")


# --- binary ops ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _broadcast_plan(op: str, a_shape: tuple, b_shape: tuple):
    """How a op b runs for these shapes: ("same"|"suffix"|"general", out shape, arguments).

    Axes of size 1 in the output are dropped and adjacent axes merged while both operands are
    either contiguous or broadcast along them, so (64, 3, 32, 10) + (32, 10) becomes a suffix
    broadcast of period 320 over 61440 elements."""
    out_shape = broadcast_shape(op, a_shape, b_shape)
    ndim = len(out_shape)
    a_pad = (1,) * (ndim - len(a_shape)) + a_shape
    b_pad = (1,) * (ndim - len(b_shape)) + b_shape
    dims = []  # (size, a broadcast?, b broadcast?) for output axes of size > 1
    for n, na, nb in zip(out_shape, a_pad, b_pad):
        if n != 1:
            dims.append([n, na == 1, nb == 1])
    merged: list[list] = []
    for d in dims:
        if merged and merged[-1][1:] == d[1:]:
            merged[-1][0] *= d[0]
        else:
            merged.append(d)
    if all(not da and not db for _, da, db in merged):
        return "same", out_shape, ()
    if len(merged) == 2 and not merged[1][1] and not merged[1][2]:
        if not merged[0][1] and merged[0][2]:
            return "suffix", out_shape, (merged[1][0], 0)
        if merged[0][1] and not merged[0][2]:
            return "suffix", out_shape, (merged[1][0], 1)
    if len(merged) == 1:  # one operand is a single element
        return "suffix", out_shape, (1, 0 if merged[0][2] else 1)
    shape = tuple(n for n, _, _ in merged)
    strides = []
    for which in (1, 2):
        stride, out = 1, []
        for n, *broadcast in reversed(merged):
            out.append(0 if broadcast[which - 1] else stride)
            stride *= 1 if broadcast[which - 1] else n
        strides.append(tuple(reversed(out)))
    return "general", out_shape, (shape, strides[0], strides[1])


@functools.lru_cache(maxsize=4096)
def _binary_recipe(op: str, a_shape: tuple, b_shape: tuple, a_type: Any, b_type: Any):
    """Everything a op b needs that depends only on shapes and dtypes, worked out once: (kernel,
    blocks, threads, out shape, out dtype, swap operands?, extra kernel arguments). A Python
    scalar's "shape" is None and its type int or float."""
    dtype = _binary_dtype(op, a_type, b_type)
    ew = _kernels()[0]
    code = op_code(op)
    if a_shape is None or b_shape is None:
        swap = int(a_shape is None)
        shape, array_type = (b_shape, b_type) if swap else (a_shape, a_type)
        k = rt.kernel(ew.scalar_kernel, array_type, ("scalar", dtype), dtype, "int", "int")
        return (k, *_grid(_size(shape)), shape, dtype, bool(swap), (code, swap))
    kind, out_shape, args = _broadcast_plan(op, a_shape, b_shape)
    grid = _grid(_size(out_shape))
    if kind == "same":
        k = rt.kernel(ew.same_kernel, a_type, b_type, dtype, "int")
        return (k, *grid, out_shape, dtype, False, (code,))
    if kind == "suffix":
        period, swap = args
        types = (b_type, a_type) if swap else (a_type, b_type)
        k = rt.kernel(ew.suffix_kernel, *types, dtype, "int", "int", "int")
        return (k, *grid, out_shape, dtype, bool(swap), (code, period, swap))
    shape, a_strides, b_strides = args
    rank = ("tuple", len(shape))
    k = rt.kernel(ew.general_kernel, a_type, b_type, dtype, "int", rank, rank, rank)
    return (k, *grid, out_shape, dtype, False, (code, shape, a_strides, b_strides))


def _size(shape: tuple) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _binary(op: str):
    @op_function(op, f"{op}(a, b) elementwise with NumPy broadcasting (any ranks, Python "
                     "scalars).")
    def apply(a: Any, b: Any) -> Any:
        if type(a) in (int, float):
            if type(b) in (int, float):
                raise TypeError(f"{op}: needs at least one device array, got two Python scalars")
            b = _contiguous(rt.device_array(op, b))
            k, blocks, threads, shape, dtype, swap, extra = _binary_recipe(
                op, None, tuple(b.shape), type(a), b.dtype)
            args = (b, dtype.type(a))
        elif type(b) in (int, float):
            a = _contiguous(rt.device_array(op, a))
            k, blocks, threads, shape, dtype, swap, extra = _binary_recipe(
                op, tuple(a.shape), None, a.dtype, type(b))
            args = (a, dtype.type(b))
        else:
            a, b = rt.device_array(op, a), rt.device_array(op, b)
            k, blocks, threads, shape, dtype, swap, extra = _binary_recipe(
                op, tuple(a.shape), tuple(b.shape), a.dtype, b.dtype)
            a, b = _contiguous(a), _contiguous(b)
            args = (b, a) if swap else (a, b)
        out = rt.empty(shape, dtype)
        if out.size:
            k.launch(blocks, threads, 0, (args[0], args[1], out, *extra))
        return out
    return apply


add = _binary("add")
sub = _binary("sub")
mul = _binary("mul")
div = _binary("div")
maximum = _binary("maximum")
minimum = _binary("minimum")


# --- dot, softmax, sum ---------------------------------------------------------------------------

def dot(a: Any, b: Any, trans_a: bool = False, trans_b: bool = False) -> Any:
    """op(a) @ op(b) with the tiled, register-blocked kernel; a transposed operand is read in
    place through swapped strides, never copied."""
    if is_sparse(a) or is_sparse(b):
        raise refuse("cuda")
    a, b = rt.device_array("dot", a), rt.device_array("dot", b)
    dtype = _binary_dtype("dot", a.dtype, b.dtype)
    m, k, n = dot_shape(a.shape, b.shape, trans_a, trans_b)
    if k == 0 or m * n == 0:
        return zeros((m, n), dtype)
    a, b = _operand("dot", a, dtype), _operand("dot", b, dtype)
    out = rt.empty((m, n), dtype)
    gemm = _kernels()[1]
    sa = (1, m) if trans_a else (k, 1)
    sb = (1, k) if trans_b else (n, 1)
    kern = rt.kernel(gemm.gemm_kernel, dtype, dtype, dtype, *("int",) * 7)
    grid = (-(-n // gemm.BN), -(-m // gemm.BM))
    if grid[1] > 65535:  # CUDA's limit on a grid's y dimension
        raise ValueError(f"dot: {m} rows are more than the kernel's {65535 * gemm.BM}; "
                         f"split op(a) into row blocks")
    kern.launch(grid, gemm.THREADS, 0, (a, b, out, m, n, k, *sa, *sb))
    return out


def softmax(x: Any) -> Any:
    """Softmax over the last axis, stable (row maximum subtracted): one block per row."""
    x = rt.device_array("softmax", x)
    dtype = _unary_dtype("softmax", x.dtype)
    if x.ndim == 0:
        raise ValueError("softmax: needs an array of at least 1 dimension, got a scalar")
    x = _cast(_contiguous(x), dtype)
    out = rt.empty(x.shape, dtype)
    if not out.size:
        return out
    cols = x.shape[x.ndim - 1]
    k = rt.kernel(_kernels()[2].softmax_kernel, dtype, dtype, "int", ("scalar", dtype))
    k.launch(out.size // cols, _threads_for(cols), 0, (x, out, cols, dtype.type(0)))
    return out


def sum(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:  # noqa: A001
    """The sum over one axis, or over all elements (a 0-d array): tree reductions in shared
    memory, or one thread per output element when the reduced axis is not the last."""
    x = rt.device_array("sum", x)
    dtype = _sum_dtype(x.dtype)
    axis = check_axis("sum", x.ndim, axis)
    if axis is None:
        shape = (1,) * x.ndim if keepdims else ()
        outer, length, inner = 1, x.size, 1
    else:
        shape = tuple(1 if d == axis else s for d, s in enumerate(x.shape))
        if not keepdims:
            shape = shape[:axis] + shape[axis + 1:]
        outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        length, inner = x.shape[axis], int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    if outer * inner == 0 or length == 0:
        return zeros(shape, dtype)
    x = _contiguous(x)
    out = rt.empty(shape, dtype)
    reduce = _kernels()[2]
    zero = dtype.type(0)
    array_x, array_out, scalar = x.dtype, dtype, ("scalar", dtype)
    if inner > 1:
        k = rt.kernel(reduce.sum_axis_kernel, array_x, array_out, "int", "int", scalar)
        blocks, threads = _grid(outer * inner)
        k.launch(blocks, threads, 0, (x, out, length, inner, zero))
    elif outer > 1:
        k = rt.kernel(reduce.sum_rows_kernel, array_x, array_out, "int", scalar)
        k.launch(outer, _threads_for(length), 0, (x, out, length, zero))
    else:  # everything: per-block partial sums, then one block over them
        blocks, _ = _grid(length)
        threads = _threads_for(min(length, reduce.MAX_THREADS))
        partial = rt.empty((blocks,), dtype)
        k = rt.kernel(reduce.sum_partial_kernel, array_x, array_out, scalar)
        k.launch(blocks, threads, 0, (x, partial, zero))
        k2 = rt.kernel(reduce.sum_partial_kernel, array_out, array_out, scalar)
        k2.launch(1, _threads_for(blocks), 0, (partial, out, zero))
    return out
