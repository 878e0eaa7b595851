"""Elementwise CUDA kernels: relu, the unary maps, relu_grad, dtype casts and strided gathers, and
the broadcasting binary ops, with fast paths for equal shapes, a scalar, and a suffix operand.

Every kernel takes flat (1-D, C-contiguous) arrays and walks them with a grid-stride loop, so one
launch configuration serves any size. Broadcasting of any ranks is index arithmetic on the device:
the output shape and each operand's element strides (0 along broadcast axes) come as int64 tuples.
The math is written so that it gives NumPy's answers both on the GPU and on Numba's simulator,
where ``math.log(0)`` would raise: the special cases are spelt out.
"""

from __future__ import annotations

import math

from numba import cuda

from .backend import Op

#: Above this, exp overflows float64 (and float32 long before): the answer is inf.
EXP_MAX = 709.0


def relu_kernel(x, out):
    """max(x, 0), NaN kept; four independent loads in flight per thread before the stores."""
    n = out.size
    stride = cuda.gridsize(1)
    i = cuda.grid(1)
    while i + 3 * stride < n:
        v0 = x[i]
        v1 = x[i + stride]
        v2 = x[i + 2 * stride]
        v3 = x[i + 3 * stride]
        _relu_store(out, i, v0)
        _relu_store(out, i + stride, v1)
        _relu_store(out, i + 2 * stride, v2)
        _relu_store(out, i + 3 * stride, v3)
        i += 4 * stride
    while i < n:
        _relu_store(out, i, x[i])
        i += stride


@cuda.jit(device=True)
def _relu_store(out, i, v):
    if v > 0 or v != v:
        out[i] = v
    else:
        out[i] = 0


def relu_grad_kernel(x, grad, out):
    """grad where x > 0, else 0."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        if x[i] > 0:
            out[i] = grad[i]
        else:
            out[i] = 0
        i += stride


def abs_kernel(x, out):
    """|x| for any numeric dtype (NaN stays NaN)."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        v = x[i]
        if v < 0:
            out[i] = -v
        else:
            out[i] = v
        i += stride


def float_kernel(x, out, op, one, inf, nan):
    """sigmoid, tanh, exp, log or sqrt of a floating array; ``one``, ``inf`` and ``nan`` come in
    the array's dtype so float32 stays float32 arithmetic."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        v = x[i]
        if op == Op.SIGMOID:
            e = math.exp(-abs(v))
            if v >= 0:
                out[i] = one / (one + e)
            else:
                out[i] = e / (one + e)
        elif op == Op.TANH:
            out[i] = math.tanh(v)
        elif op == Op.EXP:
            if v > EXP_MAX:
                out[i] = inf
            else:
                out[i] = math.exp(v)
        elif op == Op.LOG:
            if v > 0 or v != v:
                out[i] = math.log(v)
            elif v == 0:
                out[i] = -inf
            else:
                out[i] = nan
        else:
            if v >= 0 or v != v:
                out[i] = math.sqrt(v)
            else:
                out[i] = nan
        i += stride


def cast_kernel(x, out):
    """out = x converted to out's dtype."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        out[i] = x[i]
        i += stride


def fill_kernel(out, value):
    """out[:] = value."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        out[i] = value
        i += stride


def gather_kernel(base, out, shape, strides):
    """out (contiguous) = the strided array whose first element is base[0]."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        rest = i
        offset = 0
        for d in range(len(shape) - 1, -1, -1):
            q = rest // shape[d]
            offset += (rest - q * shape[d]) * strides[d]
            rest = q
        out[i] = base[offset]
        i += stride


@cuda.jit(device=True)
def _binary_store(out, i, op, u, v):
    if op == Op.ADD:
        out[i] = u + v
    elif op == Op.SUB:
        out[i] = u - v
    elif op == Op.MUL:
        out[i] = u * v
    elif op == Op.DIV:
        out[i] = u / v
    elif u != u or v != v:  # maximum and minimum: NaN wins, as in NumPy
        out[i] = u + v
    elif op == Op.MAXIMUM:
        if u >= v:
            out[i] = u
        else:
            out[i] = v
    else:
        if u <= v:
            out[i] = u
        else:
            out[i] = v


def same_kernel(a, b, out, op):
    """a op b, both of out's shape."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        _binary_store(out, i, op, a[i], b[i])
        i += stride


def scalar_kernel(a, s, out, op, swap):
    """a op s, or s op a when ``swap``; s is a scalar of the result's dtype."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        if swap:
            _binary_store(out, i, op, s, a[i])
        else:
            _binary_store(out, i, op, a[i], s)
        i += stride


def suffix_kernel(a, b, out, op, period, swap):
    """a op b where a has out's shape and b repeats every ``period`` elements (b's shape is a
    suffix of out's: the book's (64, 3, 32, 10) + (32, 10)); b op a when ``swap``."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        if swap:
            _binary_store(out, i, op, b[i % period], a[i])
        else:
            _binary_store(out, i, op, a[i], b[i % period])
        i += stride


def general_kernel(a, b, out, op, shape, a_strides, b_strides):
    """a op b for any broadcast: each output index is split into coordinates along ``shape``, and
    each operand's element is found through its strides (0 along the axes it is broadcast on)."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        rest = i
        ia = 0
        ib = 0
        for d in range(len(shape) - 1, -1, -1):
            q = rest // shape[d]
            c = rest - q * shape[d]
            ia += c * a_strides[d]
            ib += c * b_strides[d]
            rest = q
        _binary_store(out, i, op, a[ia], b[ib])
        i += stride
