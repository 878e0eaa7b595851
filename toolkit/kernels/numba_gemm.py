"""The matrix product of the numba backend, C = op(A) @ op(B), in two forms.

Dot form (the general case). The k axis is cut into slabs of ``kc``. The columns of op(B), and
the rows of op(A) when they are not contiguous already, are packed once, slab by slab, into
contiguous rows of ``kc`` numbers (from whichever layout the operand lies in: a transposed
operand is never transposed as a whole). Each task then owns an ``MC`` x ``NC`` block of C and,
slab after slab, runs a 4 x 4 register tile over it: 4 rows of A and 4 of B, 16 running dot
products over the slab. With reassociation allowed LLVM turns each into a vector of partial
sums, so the inner loop is 8 vector loads and 16 vector FMAs. The 4 rows of A stay in L1 while
the block's B rows, reused by every row of the block, stay in L2.

Axpy form (a short k, or a long op(A) given transposed against a narrow op(B)). There a dot
product of k terms is too short to pay for the vector reduction, so C's rows are built as sums
of k scaled rows of op(B): c[i, :] += A[i, p] * B[p, :], vectorized along the row, in chunks
that stay in L1. For op(A) = a.T with a long and op(B) narrow (the backward pass of a Dense
layer, x.T @ grad) the same loop builds C.T from a's contiguous rows.

``fastmath`` is limited to reassociation and FMA contraction: the result differs from a serial
sum only by rounding, within the usual k * eps bound, and NaN and inf propagate as in BLAS.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np
from numba import njit, prange

#: Rows of A, rows of B (columns of C), per task block.
MC, NC = 64, 128
#: Bytes of one packed row slab: 1024 float32 or 512 float64. A longer slab spreads the vector
#: reductions that end each tile over more FMAs; a block's NC rows of B (512 KiB) stay in L2.
SLAB_BYTES = 4096
#: Below this many multiply-adds (about a millisecond of one core) one thread does it all.
PARALLEL_MIN = 1 << 23
#: The most packing memory a thread keeps between products.
SCRATCH_MAX_BYTES = 1 << 28
#: Products with k at most this use the axpy form, as do a.T @ b with op(b) this narrow.
SHORT_K, NARROW_N = 64, 32
#: Columns of C per axpy task: 16 rows of this many stay in L1.
CB = 256

_FAST = {"reassoc", "contract"}
#: Serial kernels release the GIL; parallel ones keep it (the workqueue pool is not reentrant).
_jit = dict(cache=True, error_model="numpy", fastmath=_FAST)
_serial = dict(_jit, nogil=True)
_parallel = dict(_jit, parallel=True)


@njit(error_model="numpy")
def _pack_rows(x, by_rows, r0, r1, kb, ke, p):
    """p[r - r0, :ke-kb] = row r of X restricted to columns kb:ke, for r0 <= r < r1, where
    X = x if by_rows, else x.T. The transposing copy goes 16 columns of p at a time, so that
    both the 16 rows of x it reads and the rows of p it writes stay in L1."""
    if by_rows:
        for r in range(r0, r1):
            src, dst = x[r, kb:ke], p[r - r0]
            for q in range(ke - kb):
                dst[q] = src[q]
    else:
        for q0 in range(kb, ke, 16):
            q1 = min(ke, q0 + 16)
            for r in range(r1 - r0):
                src, dst = x[q0:q1, r0 + r], p[r, q0 - kb:q1 - kb]
                for q in range(q1 - q0):
                    dst[q] = src[q]


@njit(fastmath=_FAST, error_model="numpy")
def _tile(ap, q0, bp, c, i, j, kc, zero):
    """c[i:i+4, j:j+4] += the 4 x 4 dot products of rows ap[i:i+4, q0:q0+kc] and bp[j:j+4, :kc]
    (both C-contiguous 2-D arrays, so that each row slice is known to be contiguous)."""
    a0, a1 = ap[i, q0:q0 + kc], ap[i + 1, q0:q0 + kc]
    a2, a3 = ap[i + 2, q0:q0 + kc], ap[i + 3, q0:q0 + kc]
    b0, b1, b2, b3 = bp[j, :kc], bp[j + 1, :kc], bp[j + 2, :kc], bp[j + 3, :kc]
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
    for q in range(kc):
        x0, x1, x2, x3 = a0[q], a1[q], a2[q], a3[q]
        y0, y1, y2, y3 = b0[q], b1[q], b2[q], b3[q]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s23 += x2 * y3
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
        s33 += x3 * y3
    c0, c1, c2, c3 = c[i], c[i + 1], c[i + 2], c[i + 3]
    c0[j] += s00
    c0[j + 1] += s01
    c0[j + 2] += s02
    c0[j + 3] += s03
    c1[j] += s10
    c1[j + 1] += s11
    c1[j + 2] += s12
    c1[j + 3] += s13
    c2[j] += s20
    c2[j + 1] += s21
    c2[j + 2] += s22
    c2[j + 3] += s23
    c3[j] += s30
    c3[j + 1] += s31
    c3[j + 2] += s32
    c3[j + 3] += s33


@njit(fastmath=_FAST, error_model="numpy")
def _single(ap, q0, bp, c, i, j, kc, zero):
    """c[i, j] += one dot product of rows (the edges that do not fill a 4 x 4 tile)."""
    x, y = ap[i, q0:q0 + kc], bp[j, :kc]
    s = zero
    for q in range(kc):
        s += x[q] * y[q]
    c[i, j] += s


@njit(error_model="numpy")
def _pack_task(x, by_rows, packed, kc, t):
    """Task t of packing an operand: 16 of its rows (of op(A), or columns of op(B)) in one slab
    of ``packed`` (slabs, rows, kc)."""
    groups = (packed.shape[1] + 15) // 16
    slab = t // groups
    r0 = (t - slab * groups) * 16
    r1 = min(packed.shape[1], r0 + 16)
    k = x.shape[1] if by_rows else x.shape[0]
    _pack_rows(x, by_rows, r0, r1, slab * kc, min(k, slab * kc + kc), packed[slab, r0:r1])


@njit(error_model="numpy")
def _block_task(x_a, a_rows, ap, bp, c, k, kc, t, zero):
    """Block t of C (MC rows by NC columns, row-block major), slab by slab: the full 4 x 4 tiles,
    then the ragged edges. op(A)'s rows are read in place when a_rows, else from ``ap``."""
    m, n = c.shape
    nblocks = (n + NC - 1) // NC
    ib = t // nblocks
    i0, j0 = ib * MC, (t - ib * nblocks) * NC
    i1, j1 = min(m, i0 + MC), min(n, j0 + NC)
    i4, j4 = i0 + (i1 - i0) // 4 * 4, j0 + (j1 - j0) // 4 * 4
    for slab in range(bp.shape[0]):
        kb = slab * kc
        depth = min(kc, k - kb)
        a, q0 = (x_a, kb) if a_rows else (ap[slab], 0)
        b = bp[slab]
        for i in range(i0, i4, 4):
            for j in range(j0, j4, 4):
                _tile(a, q0, b, c, i, j, depth, zero)
        for i in range(i0, i1):
            for j in range(j4 if i < i4 else j0, j1):
                _single(a, q0, b, c, i, j, depth, zero)


@njit(**_serial)
def dot_serial(x_a, a_rows, x_b, b_rows, ap, bp, c, kc, zero):
    """c += op(A) @ op(B) in dot form on one thread. Row r of op(A) is x_a[r] if a_rows (read
    in place) else x_a[:, r] (packed into ap, (slabs, m, >= kc)); column j of op(B) is x_b[j]
    if b_rows else x_b[:, j] (packed into bp, (slabs, n, >= kc)); c is (m, n) zeros; k is cut
    into slabs of kc."""
    m, n = c.shape
    k = x_a.shape[1] if a_rows else x_a.shape[0]
    slabs = bp.shape[0]
    a_tasks = 0 if a_rows else slabs * ((m + 15) // 16)
    for t in range(a_tasks + slabs * ((n + 15) // 16)):
        if t < a_tasks:
            _pack_task(x_a, a_rows, ap, kc, t)
        else:
            _pack_task(x_b, b_rows, bp, kc, t - a_tasks)
    for t in range(((m + MC - 1) // MC) * ((n + NC - 1) // NC)):
        _block_task(x_a, a_rows, ap, bp, c, k, kc, t, zero)


@njit(**_parallel)
def dot_parallel(x_a, a_rows, x_b, b_rows, ap, bp, c, kc, zero):
    """dot_serial with the packing, then the blocks of C, spread across threads."""
    m, n = c.shape
    k = x_a.shape[1] if a_rows else x_a.shape[0]
    slabs = bp.shape[0]
    a_tasks = 0 if a_rows else slabs * ((m + 15) // 16)
    for t in prange(a_tasks + slabs * ((n + 15) // 16)):
        if t < a_tasks:
            _pack_task(x_a, a_rows, ap, kc, t)
        else:
            _pack_task(x_b, b_rows, bp, kc, t - a_tasks)
    for t in prange(((m + MC - 1) // MC) * ((n + NC - 1) // NC)):
        _block_task(x_a, a_rows, ap, bp, c, k, kc, t, zero)


@njit(fastmath=_FAST, error_model="numpy")
def _axpy_task(x_a, a_rows, b, c, t):
    """Rows 16i.. and columns CB*j.. of c (task t, row-block major) = the sum over p of A[i, p]
    * b[p, cols], where A[i, p] is x_a[i, p] if a_rows else x_a[p, i]. For each p the row piece
    of b is read once and added into the block's 16 rows, summed in a small buffer that stays
    in L1; c is written once at the end (so it need not start as zeros, nor be read)."""
    m, n = c.shape
    nblocks = (n + CB - 1) // CB
    ib = t // nblocks
    i0, j0 = ib * 16, (t - ib * nblocks) * CB
    i1, j1 = min(m, i0 + 16), min(n, j0 + CB)
    acc = np.zeros((i1 - i0, j1 - j0), c.dtype)
    for p in range(b.shape[0]):
        src = b[p, j0:j1]
        for i in range(i1 - i0):
            s = x_a[i0 + i, p] if a_rows else x_a[p, i0 + i]
            row = acc[i]
            for j in range(j1 - j0):
                row[j] += s * src[j]
    for i in range(i1 - i0):
        row, dst = acc[i], c[i0 + i, j0:j1]
        for j in range(j1 - j0):
            dst[j] = row[j]


@njit(**_serial)
def axpy_serial(x_a, a_rows, b, c):
    """c = A @ b in axpy form on one thread; b is (k, n) with contiguous rows."""
    m, n = c.shape
    for t in range(((m + 15) // 16) * ((n + CB - 1) // CB)):
        _axpy_task(x_a, a_rows, b, c, t)


@njit(**_parallel)
def axpy_parallel(x_a, a_rows, b, c):
    """axpy_serial across threads."""
    m, n = c.shape
    for t in prange(((m + 15) // 16) * ((n + CB - 1) // CB)):
        _axpy_task(x_a, a_rows, b, c, t)


_scratch = threading.local()


def _packing_buffers(slabs: int, rows_a: int, n: int, width: int, dtype: np.dtype):
    """Zero-copy views (slabs, rows_a, width) and (slabs, n, width) into packing memory that
    this thread keeps between products: fresh memory would cost a page fault per 4 KiB."""
    size_a, size_b = slabs * rows_a * width, slabs * n * width
    nbytes = (size_a + size_b) * dtype.itemsize
    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, np.uint8)
        if nbytes <= SCRATCH_MAX_BYTES:
            _scratch.buf = buf
    flat = buf[:nbytes].view(dtype)
    return (flat[:size_a].reshape(slabs, rows_a, width),
            flat[size_a:].reshape(slabs, n, width))


def _rows_of(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(y, True) with y = x, or (y, False) with y = x.T, whichever is C-contiguous (a copy of x
    when neither is): row r of x is then y[r] or y[:, r]."""
    if x.flags.c_contiguous:
        return x, True
    if x.T.flags.c_contiguous:
        return x.T, False
    return np.ascontiguousarray(x), True


def gemm(a: np.ndarray, b: np.ndarray, m: int, k: int, n: int,
         empty: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty) -> np.ndarray:
    """op(a) @ op(b), given as the (m, k) and (k, n) views ``a`` and ``b`` (transposed or not)
    in the result dtype, in whichever form suits the shapes and layouts. ``empty(shape, dtype)``
    allocates the result (the backend passes its pool of reusable buffers)."""
    dtype = a.dtype
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n), dtype)
    parallel = m * n * k >= PARALLEL_MIN
    x_a, a_rows = _rows_of(a)     # row r of op(a): x_a[r] if a_rows else x_a[:, r]
    x_bt, b_rows = _rows_of(b.T)  # column j of op(b): x_bt[j] if b_rows else x_bt[:, j]
    c = empty((m, n), dtype)
    if k <= SHORT_K or (not a_rows and n <= NARROW_N < m):
        axpy = axpy_parallel if parallel else axpy_serial
        if n >= m:  # build C's rows from the rows of op(b), copied if they are not contiguous
            axpy(x_a, a_rows, np.ascontiguousarray(b) if b_rows else x_bt, c)
            return c
        # build the longer rows of C.T from the rows of op(a).T (a's own when trans_a)
        ct = empty((n, m), dtype)
        axpy(x_bt, b_rows, np.ascontiguousarray(a.T) if a_rows else x_a, ct)
        c[...] = ct.T
        return c
    c.fill(0)
    kc = SLAB_BYTES // a.itemsize
    slabs = (k + kc - 1) // kc
    # rows padded by a cache line, so that packed rows kc apart do not share L1 sets
    ap, bp = _packing_buffers(slabs, 0 if a_rows else m, n, kc + 64 // a.itemsize, dtype)
    (dot_parallel if parallel else dot_serial)(x_a, a_rows, x_bt, b_rows, ap, bp, c, kc,
                                               dtype.type(0))
    return c
