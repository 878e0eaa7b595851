"""The vectorized backend: each op is one or a few NumPy calls (what the book means by
"well-optimized built-in Numpy functions")."""

from __future__ import annotations

import numpy as np

from .backend import (
    binary_dtype,
    broadcast_shape,
    check_axis,
    check_relu_grad,
    dot_shape,
    op_function,
    unary_dtype,
)
from .host import asarray, to_numpy, zeros  # noqa: F401 - the protocol's memory functions
from .sparse import is_sparse, sparse_operands

name = "numpy"
#: dot takes a scipy.sparse CSR first operand (scipy multiplies it).
accepts_sparse = True


def _unary(op: str, x) -> tuple[np.ndarray, np.dtype]:
    x = np.asarray(x)
    return x, unary_dtype(op, x)


def relu(x):
    """max(x, 0) elementwise (np.maximum propagates NaN)."""
    x, dtype = _unary("relu", x)
    return np.maximum(x, x.dtype.type(0))


def relu_grad(x, grad):
    """``grad`` where ``x > 0``, else 0."""
    x, grad = np.asarray(x), np.asarray(grad)
    check_relu_grad(x, grad)
    return np.where(x > 0, grad, grad.dtype.type(0))


def sigmoid(x):
    """1 / (1 + exp(-x)), written so that exp never overflows."""
    x, dtype = _unary("sigmoid", x)
    x = x.astype(dtype, copy=False)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype, copy=False)


def _float_ufunc(op: str, ufunc):
    @op_function(op, f"np.{ufunc.__name__} elementwise.")
    def apply(x):
        x, dtype = _unary(op, x)
        with np.errstate(all="ignore"):
            return ufunc(x.astype(dtype, copy=False))
    return apply


tanh = _float_ufunc("tanh", np.tanh)
exp = _float_ufunc("exp", np.exp)
log = _float_ufunc("log", np.log)
sqrt = _float_ufunc("sqrt", np.sqrt)


def abs(x):  # noqa: A001 - the protocol's name
    """|x| elementwise."""
    x, _ = _unary("abs", x)
    return np.abs(x)


def _binary(op: str, ufunc):
    @op_function(op, f"np.{ufunc.__name__}(a, b) with broadcasting.")
    def apply(a, b):
        dtype = binary_dtype(op, a, b)
        a, b = (v if isinstance(v, (int, float)) else np.asarray(v) for v in (a, b))
        broadcast_shape(op, np.shape(a), np.shape(b))
        with np.errstate(all="ignore"):
            return np.asarray(ufunc(a, b)).astype(dtype, copy=False)
    return apply


add = _binary("add", np.add)
sub = _binary("sub", np.subtract)
mul = _binary("mul", np.multiply)
div = _binary("div", np.divide)
maximum = _binary("maximum", np.maximum)
minimum = _binary("minimum", np.minimum)


def dot(a, b, trans_a: bool = False, trans_b: bool = False):
    """op(a) @ op(b) through NumPy's BLAS; a scipy.sparse ``a`` through scipy's sparse product."""
    if is_sparse(a) or is_sparse(b):
        a, b, dtype, _ = sparse_operands(a, b, trans_a, trans_b)
        return np.asarray((a.T if trans_a else a) @ b).astype(dtype, copy=False)
    a, b = np.asarray(a), np.asarray(b)
    dtype = binary_dtype("dot", a, b)
    dot_shape(a.shape, b.shape, trans_a, trans_b)
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b).astype(dtype, copy=False)


def softmax(x):
    """exp(x - max) / sum over the last axis."""
    x, dtype = _unary("softmax", x)
    if x.ndim == 0:
        raise ValueError("softmax: needs an array of at least 1 dimension, got a scalar")
    x = x.astype(dtype, copy=False)
    if x.size == 0:
        return np.empty(x.shape, dtype)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sum(x, axis: int | None = None, keepdims: bool = False):  # noqa: A001 - the protocol's name
    """np.sum over one axis, or all of them."""
    x, _ = _unary("sum", x)
    return np.asarray(np.sum(x, axis=check_axis("sum", x.ndim, axis), keepdims=keepdims))
