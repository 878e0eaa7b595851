"""The naive backend: pure Python loops over every element, as the book's naive_relu, naive_add
and naive_dot. It is the slow reference the other backends are measured against."""

from __future__ import annotations

import math

import numpy as np

from .backend import (
    binary_dtype,
    broadcast_shape,
    check_axis,
    check_numeric,
    check_relu_grad,
    dot_shape,
    unary_dtype,
)
from .host import asarray, to_numpy, zeros  # noqa: F401 - the protocol's memory functions
from .sparse import is_sparse, refuse

name = "naive"


def _map(op: str, fn, x) -> np.ndarray:
    """out[i] = fn(x[i]) for every index i, one element at a time."""
    x = np.asarray(x)
    dtype = unary_dtype(op, x)
    out = np.empty(x.shape, dtype)
    with np.errstate(all="ignore"):
        for index in np.ndindex(x.shape):
            out[index] = fn(dtype.type(x[index]))
    return out


def naive_relu(v):
    """max(v, 0); Python's max keeps NaN, since 0 > nan is False."""
    return max(v, 0)


def naive_sigmoid(v):
    """1 / (1 + e^-v), with e^-|v| so the exponential never overflows."""
    e = np.exp(-abs(v))
    return 1 / (1 + e) if v >= 0 else e / (1 + e)


def relu(x):
    """The book's naive_relu, for any rank."""
    return _map("relu", naive_relu, x)


def sigmoid(x):
    """Logistic sigmoid, element by element."""
    return _map("sigmoid", naive_sigmoid, x)


def tanh(x):
    """tanh, element by element."""
    return _map("tanh", np.tanh, x)


def exp(x):
    """e^x, element by element."""
    return _map("exp", np.exp, x)


def log(x):
    """Natural logarithm, element by element."""
    return _map("log", np.log, x)


def sqrt(x):
    """Square root, element by element."""
    return _map("sqrt", np.sqrt, x)


def abs(x):  # noqa: A001 - the protocol's name
    """|x|, element by element."""
    return _map("abs", lambda v: -v if v < 0 else v, x)


def relu_grad(x, grad):
    """grad[i] if x[i] > 0 else 0, element by element."""
    x, grad = np.asarray(x), np.asarray(grad)
    check_relu_grad(x, grad)
    out = np.zeros(grad.shape, grad.dtype)
    for index in np.ndindex(x.shape):
        if x[index] > 0:
            out[index] = grad[index]
    return out


def _source_index(index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The element of an operand of ``shape`` that broadcasting pairs with output ``index``."""
    offset = len(index) - len(shape)
    return tuple(0 if size == 1 else index[offset + d] for d, size in enumerate(shape))


def _zip(op: str, fn, a, b) -> np.ndarray:
    """out[i] = fn(a[i'], b[i'']) over the broadcast shape, as the book's naive_add does for 2-D."""
    dtype = binary_dtype(op, a, b)
    a, b = np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
    out = np.empty(broadcast_shape(op, a.shape, b.shape), dtype)
    with np.errstate(all="ignore"):
        for index in np.ndindex(out.shape):
            out[index] = fn(a[_source_index(index, a.shape)], b[_source_index(index, b.shape)])
    return out


def _pick(keep_first):
    """max or min that, like NumPy, returns NaN when either value is NaN."""
    def pick(u, v):
        if u != u or v != v:
            return u + v
        return u if keep_first(u, v) else v
    return pick


def add(a, b):
    """The book's naive_add, for any broadcastable shapes."""
    return _zip("add", lambda u, v: u + v, a, b)


def sub(a, b):
    """a - b, element by element."""
    return _zip("sub", lambda u, v: u - v, a, b)


def mul(a, b):
    """a * b, element by element."""
    return _zip("mul", lambda u, v: u * v, a, b)


def div(a, b):
    """a / b, element by element."""
    return _zip("div", lambda u, v: u / v, a, b)


def maximum(a, b):
    """The larger of a and b, element by element (NaN wins)."""
    return _zip("maximum", _pick(lambda u, v: u >= v), a, b)


def minimum(a, b):
    """The smaller of a and b, element by element (NaN wins)."""
    return _zip("minimum", _pick(lambda u, v: u <= v), a, b)


def naive_vector_dot(x, y, dtype):
    """The book's naive_vector_dot: sum of x[i] * y[i]."""
    z = dtype.type(0)
    for i in range(len(x)):
        z += x[i] * y[i]
    return z


def dot(a, b, trans_a: bool = False, trans_b: bool = False):
    """The book's naive_dot: each output element is the vector dot of a row and a column."""
    if is_sparse(a) or is_sparse(b):
        raise refuse("naive")
    a, b = np.asarray(a), np.asarray(b)
    dtype = binary_dtype("dot", a, b)
    m, _, n = dot_shape(a.shape, b.shape, trans_a, trans_b)
    a = (a.T if trans_a else a).astype(dtype, copy=False)
    b = (b.T if trans_b else b).astype(dtype, copy=False)
    out = np.zeros((m, n), dtype)
    for i in range(m):
        for j in range(n):
            out[i, j] = naive_vector_dot(a[i, :], b[:, j], dtype)
    return out


def softmax(x):
    """exp(x - row max) / row sum, one row of the last axis at a time."""
    x = np.asarray(x)
    dtype = unary_dtype("softmax", x)
    if x.ndim == 0:
        raise ValueError("softmax: needs an array of at least 1 dimension, got a scalar")
    out = np.empty(x.shape, dtype)
    for row in np.ndindex(x.shape[:-1]):
        values = [dtype.type(v) for v in x[row]]
        if not values:
            continue
        top = values[0]
        for v in values:
            top = v if (v > top or v != v) else top
        exps = [math.exp(v - top) if v == v and top == top else math.nan for v in values]
        total = 0.0
        for e in exps:
            total += e
        for j, e in enumerate(exps):
            out[row + (j,)] = e / total
    return out


def sum(x, axis: int | None = None, keepdims: bool = False):  # noqa: A001 - the protocol's name
    """Add the elements one by one, over one axis or all of them."""
    x = np.asarray(x)
    check_numeric("sum", x)
    axis = check_axis("sum", x.ndim, axis)
    dtype = np.sum(np.zeros(0, x.dtype)).dtype
    axes = range(x.ndim) if axis is None else (axis,)
    shape = tuple(1 if d in axes else s for d, s in enumerate(x.shape))
    out = np.zeros(shape, dtype)
    for index in np.ndindex(x.shape):
        target = tuple(0 if d in axes else i for d, i in enumerate(index))
        out[target] += x[index]
    if not keepdims:
        out = out.reshape(tuple(s for d, s in enumerate(x.shape) if d not in axes))
    return out
