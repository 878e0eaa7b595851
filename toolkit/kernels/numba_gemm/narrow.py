"""Narrow products of the numba GEMM (C at most two vectors wide: a Dense layer of 16 units),
which skip most packing so that the big operand is read once, straight from memory:

- op(A) row-major (the first layer's x @ W): the tile reads A's rows where they lie, one pointer
  per row (at most MAX_ROW_POINTERS of them), over the whole of k;
- op(A) transposed (its gradient x.T @ g): C^T = op(B)^T op(A)^T, so that the rows of x are the
  tile's vectors of B, read in place block by block, each block prefetched while the one before
  it computes; the small op(B)^T is packed, and each block of C^T is written back transposed
  into C.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..cpu import target
from ..jit import PARALLEL, SERIAL
from ..simd.tile import ADD, OVERWRITE, microkernel, tile_rows
from ..simd.transpose import transpose_block
from ..simd.vectors import lanes_of
from .panels import pack, pack_panels, scratch

#: Rows of A read in place by one tile: each needs a general-purpose register for its pointer.
MAX_ROW_POINTERS = 8
_REGISTERS = target().vector_registers
#: Rows of a tile reading the rows of A in place, two vectors or one wide.
MR_ROWS_WIDE = min(tile_rows(2, _REGISTERS), MAX_ROW_POINTERS)
MR_ROWS_NARROW = min(tile_rows(1, _REGISTERS), MAX_ROW_POINTERS)
#: Tile rows of C^T in a transposed narrow product: 8 where the registers allow (C^T's 16 rows,
#: a Dense layer's usual width, in two whole tiles), else as many as two vectors wide allow.
MR_SWAP = min(8, tile_rows(2, _REGISTERS))
_micro_rows_wide = microkernel(MR_ROWS_WIDE, 2, a_by_rows=True)
_micro_rows_narrow = microkernel(MR_ROWS_NARROW, 1, a_by_rows=True)
_micro_swap = microkernel(MR_SWAP, 2, a_by_rows=False, prefetch_block=True)
#: Columns of C^T per task of a transposed narrow product, and rows of op(A)^T per block. The
#: tiles walk a block's rows side by side, each row a stream that advances a tile's width at a
#: time; the cores' L2 prefetchers follow a few dozen such streams (about 32 on Intel's), so
#: blocks of 32 rows are followed where blocks of 128 were not: x.T @ g of the first Dense
#: layer (x 512 x 10000) took 0.82-0.87 of the time (0.95 compiled for AVX2), other shapes of
#: this path 0.85-1.0. The next block is prefetched while one computes.
SWAP_COLUMNS, SWAP_DEPTH = 512, 32


@njit(error_model="numpy")
def _micro_rows(nv, a, a0, rs, b, b0, ldb, kc, c, c0, ldc, rows, cols):
    """The tile reading A's rows in place, ``nv`` vectors of columns wide, writing C's first
    ``rows`` x ``cols``."""
    if nv == 1:
        _micro_rows_narrow(a, a0, rs, b, b0, ldb, kc, c, c0, ldc, OVERWRITE, rows, cols)
    else:
        _micro_rows_wide(a, a0, rs, b, b0, ldb, kc, c, c0, ldc, OVERWRITE, rows, cols)


@njit(error_model="numpy")
def _rows_task(af, k, b, ldb, cf, m, n, nv, mr, t):
    """Rows t*mr.. of C (all its n columns) = A @ B over the whole of k, A's rows read in place
    (row i of A is af[i*k:][:k], of C cf[i*n:][:n]); B's row p starts at b[p*ldb] (nv whole
    vectors, zero-padded past n). The last tile, past m, reads a copy of A's last rows,
    zero-padded. The operands come flat: a reshape per tile (a call into Numba's runtime) cost
    more than a small tile's FMAs."""
    i0 = t * mr
    rows = min(mr, m - i0)
    if rows == mr:
        _micro_rows(nv, af, i0 * k, k, b, 0, ldb, k, cf, i0 * n, n, rows, n)
    else:
        edge = np.zeros(mr * k, cf.dtype)
        edge[:rows * k] = af[i0 * k:(i0 + rows) * k]
        _micro_rows(nv, edge, 0, k, b, 0, ldb, k, cf, i0 * n, n, rows, n)


@njit(**SERIAL)
def rows_serial(xa, b, ldb, c, nv, mr):
    """c = A @ B for a C at most two vectors wide, on one thread (see _rows_task)."""
    (m, n), k = c.shape, xa.shape[1]
    af, cf = xa.reshape(-1), c.reshape(-1)
    for t in range((m + mr - 1) // mr):
        _rows_task(af, k, b, ldb, cf, m, n, nv, mr, t)


@njit(**PARALLEL)
def rows_parallel(xa, b, ldb, c, nv, mr):
    """rows_serial with the row tiles across threads."""
    (m, n), k = c.shape, xa.shape[1]
    af, cf = xa.reshape(-1), c.reshape(-1)
    for t in prange((m + mr - 1) // mr):
        _rows_task(af, k, b, ldb, cf, m, n, nv, mr, t)


@njit(error_model="numpy")
def _swap_task(xa, ap, c, nr, t):
    """Rows t*SWAP_COLUMNS.. of C = those columns of C^T = op(B)^T @ op(A)^T, where op(A)^T
    is xa (k x m) and ap holds op(B)^T packed in panels of MR_SWAP rows (k x MR_SWAP each).
    The rows of xa are the tile's B, read in place a block of SWAP_DEPTH rows at a time, the
    first tile of each panel prefetching the same columns of the next block. C^T's block is
    summed in a scratch buffer, then written into C transposed in registers. A partial last
    panel (past m) is packed first."""
    m, n = c.shape
    k = xa.shape[0]
    xf = xa.reshape(-1)
    j_lo = t * SWAP_COLUMNS
    j_hi = min(m, j_lo + SWAP_COLUMNS)
    whole = j_lo + (j_hi - j_lo) // nr * nr
    width = (j_hi - j_lo + nr - 1) // nr * nr
    block = np.empty((n + MR_SWAP - 1) // MR_SWAP * MR_SWAP * width, c.dtype)
    edge = np.empty(k * nr if whole < j_hi else 0, c.dtype)
    if whole < j_hi:
        pack(xf, m, False, whole, j_hi - whole, 0, k, nr, edge, 0)
    for p0 in range(0, k, SWAP_DEPTH):
        depth = min(SWAP_DEPTH, k - p0)
        ahead = min(p0 + SWAP_DEPTH, k - depth)  # the next block, or this one at the end
        for j0 in range(j_lo, j_hi, nr):
            source, b0, ldb = (xf, p0 * m + j0, m) if j0 < whole else (edge, p0 * nr, nr)
            for i0 in range(0, n, MR_SWAP):
                _micro_swap(ap, i0 * k + p0 * MR_SWAP, MR_SWAP, source, b0, ldb, depth, block,
                            i0 * width + j0 - j_lo, width, ADD if p0 > 0 else OVERWRITE,
                            MR_SWAP, nr, xf, ahead * m + j0, m if i0 == 0 else 0)
    lanes, cf = lanes_of(block), c.reshape(-1)
    for i0 in range(0, n, lanes):
        rows = min(lanes, n - i0)
        for j0 in range(0, j_hi - j_lo, lanes):
            transpose_block(block, i0 * width + j0, width, rows, min(lanes, j_hi - j_lo - j0),
                            cf, (j_lo + j0) * n + i0, n, rows)


@njit(**SERIAL)
def swap_serial(xa, ap, c, nr):
    """c = op(A) @ op(B) as (op(B)^T op(A)^T)^T for a C at most nr columns wide and op(A)
    transposed (xa[:, i] is row i of op(A)), on one thread; ap holds op(B)^T packed in panels
    of MR_SWAP rows (pack_panels)."""
    for t in range((c.shape[0] + SWAP_COLUMNS - 1) // SWAP_COLUMNS):
        _swap_task(xa, ap, c, nr, t)


@njit(**PARALLEL)
def swap_parallel(xa, ap, c, nr):
    """swap_serial with blocks of C^T's columns across threads."""
    for t in prange((c.shape[0] + SWAP_COLUMNS - 1) // SWAP_COLUMNS):
        _swap_task(xa, ap, c, nr, t)


def transposed_product(xa: np.ndarray, xb: np.ndarray, b_rows: bool, c: np.ndarray, lanes: int,
                       parallel: bool) -> None:
    """c = op(A) @ op(B), op(A) = xa.T (x.T @ g), C ``lanes`` x 2 elements wide at most:
    op(B)^T packed in panels of MR_SWAP rows, then C^T = op(B)^T xa with xa's rows read in
    place (_swap_task)."""
    k, n = xa.shape[0], c.shape[1]
    ap = scratch(-(-n // MR_SWAP) * MR_SWAP * k, c.dtype)
    pack_panels(xb, b_rows, n, k, MR_SWAP, ap)
    (swap_parallel if parallel else swap_serial)(xa, ap, c, 2 * lanes)


def rows_product(xa: np.ndarray, xb: np.ndarray, b_rows: bool, c: np.ndarray, lanes: int,
                 parallel: bool) -> None:
    """c = xa @ op(B) (x @ W), C ``lanes`` x 2 elements wide at most, xa's rows read in place;
    op(B) read in place too where its rows are the tile's width, else packed."""
    k, n = xa.shape[1], c.shape[1]
    nv = 1 if n <= lanes else 2
    nr = nv * lanes
    if not b_rows and n == nr:  # B's rows are the tile's width: read in place
        bf, ldb = xb.reshape(-1), n
    else:
        bf, ldb = scratch(k * nr, c.dtype), nr
        pack_panels(xb, b_rows, n, k, nr, bf)
    mr = MR_ROWS_NARROW if nv == 1 else MR_ROWS_WIDE
    (rows_parallel if parallel else rows_serial)(xa, bf, ldb, c, nv, mr)
