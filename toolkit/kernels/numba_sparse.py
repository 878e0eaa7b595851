"""The numba backend's products with a sparse first operand (sparse.py): CSR @ dense and
CSR.T @ dense, in time proportional to the nonzeros times the dense operand's width.

Each nonzero A[i, c] = v adds v times a row of the dense operand to a row of C: row c of B into
row i of C for A @ B, row i of G into row c of C for A.T @ G. Those rows are contiguous and
short (a Dense layer's 16 units: one AVX-512 vector), so the inner loop is one vector FMA per
nonzero (simd.sparse_rows: gather_rows_sum keeps the sum of a row in a register; scatter_rows_add
updates rows that differ within a CSR row, so its FMAs are independent). A @ B splits its rows
across threads when large; A.T @ G scatters into rows that any row of A may share, so it stays
on one thread (a batch of multi-hot rows is a fraction of a millisecond of work). Integer
products go to scipy.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit, prange

from .jit import PARALLEL, SERIAL
from .simd.sparse_rows import gather_rows_sum, scatter_rows_add
from .simd.vectors import lanes_of
from .sparse import sparse_operands

#: Multiply-adds from which A @ B runs on every core.
PARALLEL_MIN = 1 << 22


@njit(error_model="numpy")
def _rows(indptr, indices, data, b, out, r0, r1):
    """out[r0:r1] = A[r0:r1] @ b: per row of A and vector of columns, one register sum over
    the row's nonzeros; the columns past the last whole vector one at a time."""
    n = out.shape[1]
    width = lanes_of(b)
    whole = n // width * width
    bf, of = b.reshape(-1), out.reshape(-1)
    for i in range(r0, r1):
        p0, p1 = indptr[i], indptr[i + 1]
        for j0 in range(0, whole, width):
            gather_rows_sum(indices, data, p0, p1, bf, n, j0, of, i * n + j0)
        for j in range(whole, n):
            total = 0.0
            for p in range(p0, p1):
                total += data[p] * b[indices[p], j]
            out[i, j] = total


@njit(**SERIAL)
def csr_dense_serial(indptr, indices, data, b, out):
    """out = A @ b for A in CSR (indptr, indices, data) and a C-contiguous b."""
    _rows(indptr, indices, data, b, out, 0, out.shape[0])


@njit(**PARALLEL)
def csr_dense_parallel(indptr, indices, data, b, out):
    """csr_dense_serial with blocks of 64 rows across threads."""
    rows = out.shape[0]
    for t in prange((rows + 63) // 64):
        _rows(indptr, indices, data, b, out, t * 64, min(rows, t * 64 + 64))


@njit(**SERIAL)
def csr_t_dense(indptr, indices, data, g, out):
    """out += A.T @ g: row i of g, scaled by each nonzero of A's row i, into the row of out
    that nonzero's column names (a vector at a time, the last columns one at a time)."""
    n = out.shape[1]
    width = lanes_of(g)
    whole = n // width * width
    gf, of = g.reshape(-1), out.reshape(-1)
    for i in range(indptr.size - 1):
        p0, p1 = indptr[i], indptr[i + 1]
        for j0 in range(0, whole, width):
            scatter_rows_add(indices, data, p0, p1, gf, i * n + j0, of, n, j0)
        for j in range(whole, n):
            for p in range(p0, p1):
                out[indices[p], j] += data[p] * g[i, j]


def dot(a, b, trans_a: bool, trans_b: bool,
        empty: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty) -> np.ndarray:
    """op(a) @ op(b) for a scipy.sparse ``a`` and a dense ``b``."""
    a, b, dtype, (m, _, n) = sparse_operands(a, b, trans_a, trans_b)
    if dtype.kind != "f":  # integer products: scipy's loops
        return np.asarray((a.T if trans_a else a) @ b).astype(dtype, copy=False)
    out = empty((m, n), dtype)
    out.fill(0)
    if a.nnz == 0 or n == 0:
        return out
    data = a.data.astype(dtype, copy=False)
    if trans_a:
        csr_t_dense(a.indptr, a.indices, data, b, out)
    elif a.nnz * n >= PARALLEL_MIN:
        csr_dense_parallel(a.indptr, a.indices, data, b, out)
    else:
        csr_dense_serial(a.indptr, a.indices, data, b, out)
    return out
