"""The matrix product of the numba backend, C = op(A) @ op(B), as BLIS does it: packed panels and
a register tile of explicit SIMD (simd.tile.microkernel) sized for the CPU it runs on (cpu.target).
``gemm`` picks one of three paths by C's width and A's layout:

- wide products (C more than two vectors wide; wide.py): packed panels of A and B, k cut into
  slabs and C's columns into stretches that stay in L1 and L2, C's tiles shared out across
  threads;
- narrow products (C at most two vectors wide, a Dense layer of 16 units; narrow.py) skip most
  packing, so that the big operand is read once, straight from memory: x @ W reads x's rows in
  place, x.T @ g computes C^T with x's rows as the tile's vectors of B;
- integer products: a plain loop (exact, wrapping as NumPy's), which compiles in a fraction of
  the time.

Packing, and the memory each thread keeps for it, is panels.py's.

Register tile. MR rows of C by NV vectors of columns stay in vector registers while k runs; each
step loads NV vectors of a row of B, broadcasts MR numbers of a column of A and does MR * NV
fused multiply-adds. Partial tiles at the edges store under lane masks, straight into C, and
panels along k are packed by register transposes, masked at the edges too (panels.py).
``fastmath`` is not used: sums are formed in order along k (each tile's FMA chain), and NaN and
inf propagate as in BLAS.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from ..cpu import target
from ..jit import SERIAL
from . import narrow, wide

#: Below this many multiply-adds (about a millisecond of one core) one thread does it all.
PARALLEL_MIN = 1 << 23


@njit(**SERIAL)
def integer_product(xa, a_rows, xb, b_rows, c):
    """c = op(A) @ op(B) for integer dtypes (exact, wrapping as NumPy's): C's rows built as
    sums of B's rows, a loop LLVM vectorizes; the SIMD tiles serve the floats."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    row_b = np.empty(n, c.dtype)
    for i in range(m):
        out = c[i]
        out[:] = 0
        for p in range(k):
            s = xa[i, p] if a_rows else xa[p, i]
            for j in range(n):
                row_b[j] = xb[j, p] if b_rows else xb[p, j]
            for j in range(n):
                out[j] += s * row_b[j]


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
    in the result dtype. ``empty(shape, dtype)`` allocates the result (the backend passes its
    pool of reusable buffers); every path writes all of it."""
    dtype = a.dtype
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n), dtype)
    c = empty((m, n), dtype)
    parallel = m * n * k >= PARALLEL_MIN
    lanes = target().lanes(dtype.itemsize)
    xa, a_rows = _rows_of(a)     # row i of op(a): xa[i] if a_rows else xa[:, i]
    xb, b_rows = _rows_of(b.T)   # column j of op(b): xb[j] if b_rows else xb[:, j]
    if dtype.kind != "f":
        integer_product(xa, a_rows, xb, b_rows, c)
    elif n > 2 * lanes:
        wide.product(xa, a_rows, xb, b_rows, c, lanes, parallel)
    elif a_rows:  # x @ W
        narrow.rows_product(xa, xb, b_rows, c, lanes, parallel)
    else:         # x.T @ g
        narrow.transposed_product(xa, xb, b_rows, c, lanes, parallel)
    return c
