"""The compiled loops behind the numba backend: elementwise ops, broadcasting binary ops, relu_grad,
softmax and sum, each as a serial kernel (small inputs) and a ``prange`` kernel (large ones).

Ops are chosen by their integer code (backend.Op) rather than one compiled function per op, so
a process compiles (or loads from the on-disk cache) one kernel per dtype, not one per op and
dtype. The code is a loop invariant: LLVM unswitches the branch out of the loop, and each copy of
the loop vectorizes. Each branch stores its own result, so an integer loop never goes through a
float (results keep all 64 bits). exp, tanh and sigmoid go through vmath's vector routines, chosen
by the ``tag`` argument. ``error_model="numpy"`` makes x / 0 give inf or NaN as in NumPy instead
of raising. Only the sums allow fastmath, and only reassociation (rounding differences in a
float64 accumulator); every kernel propagates NaN as NumPy does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .backend import Op
from .jit import PARALLEL, SERIAL
from .simd.reductions import vector_max
from .vmath import exp_shifted_span, exp_span, sigmoid_span, tanh_span

#: Elements per parallel task: large enough to hide the scheduling, small enough to balance.
BLOCK = 1 << 15


@njit(error_model="numpy")
def _put_unary(op, out, i, x):
    """out[i] = op(x) for the ops without a vector routine; NaN stays NaN (relu(nan) is nan:
    nan < 0 is false)."""
    if op == Op.RELU:
        out[i] = 0 if x < 0 else x
    elif op == Op.ABS:
        out[i] = -x if x < 0 else x
    elif op == Op.LOG:
        out[i] = np.log(x)
    else:
        out[i] = np.sqrt(x)


@njit(error_model="numpy")
def _put_binary(op, out, i, x, y):
    """out[i] = x op y; maximum and minimum return NaN when either side is NaN, as NumPy's."""
    if op == Op.ADD:
        out[i] = x + y
    elif op == Op.SUB:
        out[i] = x - y
    elif op == Op.MUL:
        out[i] = x * y
    elif op == Op.DIV:
        out[i] = x / y
    elif op == Op.MAXIMUM:
        out[i] = x if (x > y or x != x) else y
    else:
        out[i] = x if (x < y or x != x) else y


@njit(error_model="numpy")
def _unary_span(op, x, out, lo, hi, tag):
    """out[lo:hi] = op(x[lo:hi]): exp, tanh and sigmoid by the vector math library ``tag``
    names (vmath), the others elementwise. Loops index views from 0 (here and below): an index
    that is provably non-negative spares the negative-index wraparound, which would stop
    vectorization."""
    if op == Op.EXP:
        exp_span(x, out, lo, hi, tag)
    elif op == Op.TANH:
        tanh_span(x, out, lo, hi, tag)
    elif op == Op.SIGMOID:
        sigmoid_span(x, out, lo, hi, tag)
    else:
        xs, outs = x[lo:hi], out[lo:hi]
        for i in range(hi - lo):
            _put_unary(op, outs, i, xs[i])


@njit(**SERIAL)
def unary_serial(op, x, out, tag):
    """out = op(x) over flat contiguous arrays."""
    _unary_span(op, x, out, 0, out.size, tag)


@njit(**PARALLEL)
def unary_parallel(op, x, out, tag):
    """out = op(x) over flat contiguous arrays, in BLOCK-sized tasks across threads."""
    n = out.size
    for t in prange((n + BLOCK - 1) // BLOCK):
        _unary_span(op, x, out, t * BLOCK, min(n, (t + 1) * BLOCK), tag)


@njit(error_model="numpy")
def _binary_rows(op, t0, t1, blocks, block, a, a_off, a_row, ca, b, b_off, b_row, cb, out,
                 inner):
    """Tasks t0..t1-1 of out = a op b: task t is row t // blocks, columns of block t % blocks.
    A row of a starts at a_off[row] when a_off is given (general broadcasting), else at
    row * a_row, and steps by ca in {0, 1} along the row; likewise b (at least one of ca, cb is
    1: a row of one element counts as stepping). Each stride case is its own loop so that every
    one of them vectorizes."""
    for t in range(t0, t1):
        r, lo, n = t, 0, inner
        if blocks > 1:
            r = t // blocks
            lo = (t - r * blocks) * block
            n = min(inner, lo + block) - lo
        ao = (a_off[r] if a_off.size else r * a_row) + lo * ca
        bo = (b_off[r] if b_off.size else r * b_row) + lo * cb
        o = out[r * inner + lo:r * inner + lo + n]
        if ca == 1 and cb == 1:
            xs, ys = a[ao:ao + n], b[bo:bo + n]
            for j in range(n):
                _put_binary(op, o, j, xs[j], ys[j])
        elif ca == 1:
            xs, y = a[ao:ao + n], b[bo]
            for j in range(n):
                _put_binary(op, o, j, xs[j], y)
        else:
            x, ys = a[ao], b[bo:bo + n]
            for j in range(n):
                _put_binary(op, o, j, x, ys[j])


@njit(error_model="numpy")
def _binary_tasks(op, t0, t1, blocks, block, a, a_off, a_row, ca, b, b_off, b_row, cb, out,
                  inner):
    """_binary_rows, with add (a Dense layer's bias, the book's broadcast) as a constant: LLVM
    inlines that call and folds the op switch out of its loops, which saves a tenth to a fifth
    per row over unswitching. Every op so specialized would cost seconds of compile time."""
    if op == Op.ADD:
        _binary_rows(Op.ADD, t0, t1, blocks, block, a, a_off, a_row, ca, b, b_off, b_row, cb, out,
                     inner)
    else:
        _binary_rows(op, t0, t1, blocks, block, a, a_off, a_row, ca, b, b_off, b_row, cb, out,
                     inner)


@njit(**SERIAL)
def binary_serial(op, a, a_off, a_row, ca, b, b_off, b_row, cb, out, outer, inner):
    """out (flat, outer rows of inner elements) = a op b, each operand addressed per row by an
    offset table or a row stride, and along the row with stride 0 (broadcast) or 1."""
    _binary_tasks(op, 0, outer, 1, inner, a, a_off, a_row, ca, b, b_off, b_row, cb, out, inner)


@njit(**PARALLEL)
def binary_parallel(op, a, a_off, a_row, ca, b, b_off, b_row, cb, out, outer, inner):
    """binary_serial with the rows (and long rows' BLOCK-sized pieces) spread across threads."""
    blocks = (inner + BLOCK - 1) // BLOCK
    for t in prange(outer * blocks):
        _binary_tasks(op, t, t + 1, blocks, BLOCK, a, a_off, a_row, ca, b, b_off, b_row, cb,
                      out, inner)


@njit(error_model="numpy")
def _relu_grad_span(x, grad, out, lo, hi):
    xs, gs, outs = x[lo:hi], grad[lo:hi], out[lo:hi]
    for i in range(hi - lo):
        outs[i] = gs[i] if xs[i] > 0 else 0


@njit(**SERIAL)
def relu_grad_serial(x, grad, out):
    """out = grad where x > 0, else 0 (flat contiguous arrays)."""
    _relu_grad_span(x, grad, out, 0, out.size)


@njit(**PARALLEL)
def relu_grad_parallel(x, grad, out):
    """relu_grad_serial across threads."""
    n = out.size
    for t in prange((n + BLOCK - 1) // BLOCK):
        _relu_grad_span(x, grad, out, t * BLOCK, min(n, (t + 1) * BLOCK))


@njit(error_model="numpy")
def _take_span(x, rows, out, lo, hi):
    """out[i] = x[rows[i]] for lo <= i < hi (converted to out's dtype)."""
    for i in range(lo, hi):
        src, dst = x[rows[i]], out[i]
        for j in range(dst.size):
            dst[j] = src[j]


@njit(**SERIAL)
def take_rows_serial(x, rows, out):
    """out = x[rows] for a C-contiguous 2-D x."""
    _take_span(x, rows, out, 0, rows.size)


@njit(**PARALLEL)
def take_rows_parallel(x, rows, out):
    """take_rows_serial with blocks of 16 rows across threads."""
    for t in prange((rows.size + 15) // 16):
        _take_span(x, rows, out, t * 16, min(rows.size, t * 16 + 16))


@njit(error_model="numpy")
def _rmsprop_span(w, g, v, lr, rho, decay, eps, w_out, v_out, lo, hi):
    """RMSprop on elements lo..hi-1, in the order and precision of the optimizer's ops:
    v' = v rho + g g decay (decay = 1 - rho), w' = w - g lr / sqrt(v' + eps). Views indexed
    from 0, as the other spans: indexing from lo, which LLVM cannot prove non-negative in a
    parallel task, kept the loop scalar (the parallel step took 3x the serial one's time)."""
    ws, gs, vs, wo, vo = w[lo:hi], g[lo:hi], v[lo:hi], w_out[lo:hi], v_out[lo:hi]
    for i in range(hi - lo):
        a = vs[i] * rho + gs[i] * gs[i] * decay
        vo[i] = a
        wo[i] = ws[i] - gs[i] * lr / np.sqrt(a + eps)


@njit(**SERIAL)
def rmsprop_serial(w, g, v, lr, rho, decay, eps, w_out, v_out):
    """One RMSprop step over flat arrays; the scalars in the arrays' dtype."""
    _rmsprop_span(w, g, v, lr, rho, decay, eps, w_out, v_out, 0, w.size)


@njit(**PARALLEL)
def rmsprop_parallel(w, g, v, lr, rho, decay, eps, w_out, v_out):
    """rmsprop_serial in BLOCK-sized tasks across threads."""
    n = w.size
    for t in prange((n + BLOCK - 1) // BLOCK):
        _rmsprop_span(w, g, v, lr, rho, decay, eps, w_out, v_out, t * BLOCK,
                      min(n, (t + 1) * BLOCK))


@njit(error_model="numpy", fastmath={"reassoc"})
def _sum_flat(xs, s):
    """s + the sum of the 1-D xs. Reassociation lets LLVM keep vector partial sums: the result
    differs from a left-to-right sum by rounding only (in the float64 accumulator)."""
    for i in range(xs.size):
        s += xs[i]
    return s


@njit(error_model="numpy")
def _softmax_row(x, out, r, tag):
    """Softmax of row r: the row's maximum (NaN ignored), subtracted as exp's argument is
    formed, the sum in float64, then one multiply by its inverse in the row's dtype. A NaN
    anywhere in the row (or an inf, whose x - max is NaN) makes the sum NaN, so the whole row
    comes out NaN, as NumPy's does."""
    xr, outr = x[r], out[r]
    exp_shifted_span(xr, outr, 0, outr.size, vector_max(xr), tag)
    factor = np.empty(1, outr.dtype)  # the inverse in the row's dtype: float32 stays float32
    factor[0] = 1.0 / _sum_flat(outr, 0.0)
    s = factor[0]
    for j in range(outr.size):
        outr[j] = outr[j] * s


@njit(**SERIAL)
def softmax_serial(x, out, tag):
    """Row-wise softmax of a contiguous 2-D array."""
    for r in range(x.shape[0]):
        _softmax_row(x, out, r, tag)


@njit(**PARALLEL)
def softmax_parallel(x, out, tag):
    """Row-wise softmax, rows across threads."""
    for r in prange(x.shape[0]):
        _softmax_row(x, out, r, tag)


@njit(**SERIAL)
def sum_last_serial(x, acc):
    """acc[o] += the sum of row o of a contiguous 2-D x: the sum over the last axis, each row a
    contiguous vectorized sum."""
    for o in range(x.shape[0]):
        acc[o] = _sum_flat(x[o], acc[o])


@njit(**PARALLEL)
def sum_last_parallel(x, acc):
    """sum_last_serial with the rows across threads."""
    for o in prange(x.shape[0]):
        acc[o] = _sum_flat(x[o], acc[o])


@njit(error_model="numpy")
def _sum_rows(x, acc, o):
    """acc[o, :] = the sum of x[o, j, :] over j (the inner loop runs along contiguous memory)."""
    accr = acc[o]
    for j in range(x.shape[1]):
        xr = x[o, j]
        for i in range(xr.size):
            accr[i] += xr[i]


@njit(**SERIAL)
def sum_serial(x, acc):
    """acc (zeros, float64 or 64-bit integers) += x summed over axis 1 of a contiguous 3-D x."""
    for o in range(x.shape[0]):
        _sum_rows(x, acc, o)


@njit(**PARALLEL)
def sum_parallel(x, acc):
    """sum_serial with the outer index across threads."""
    for o in prange(x.shape[0]):
        _sum_rows(x, acc, o)


@njit(**PARALLEL)
def sum_all_parallel(x, acc):
    """acc[t] = the sum of BLOCK-sized piece t of a flat contiguous x (acc has one slot per
    piece; the caller adds the few partial sums)."""
    n = x.size
    for t in prange(acc.size):
        acc[t] = _sum_flat(x[t * BLOCK:min(n, (t + 1) * BLOCK)], acc[t])
