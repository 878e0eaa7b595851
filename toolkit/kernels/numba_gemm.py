"""The matrix product of the numba backend, C = op(A) @ op(B), blocked and packed.

The k axis is cut into slabs of ``kc``. For each slab the rows of op(A) and the columns of op(B)
are packed into contiguous buffers, each row of ``kc`` numbers (from either layout: a transposed
operand is packed from where it lies, never transposed as a whole). Then a 4 x 4 register tile of
C at a time takes 4 packed rows of A and 4 of B and keeps 16 running dot products over the slab;
with reassociation allowed LLVM turns each into a vector of partial sums, so the inner loop is 8
vector loads and 16 vector FMAs. The tiles are grouped into ``mc`` x ``nc`` blocks (the A rows stay
in L1 while the B rows, reused across the block, stay in L2) and the blocks run across threads.

``fastmath`` is limited to reassociation and FMA contraction: the result differs from a serial
sum only by rounding, within the usual k * eps bound, and NaN and inf propagate as in BLAS.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Rows of A, rows of B (columns of C), per task block.
MC, NC = 64, 256
#: Bytes of one packed row slab: 512 float32 or 256 float64, so 8 packed rows fill 16 KiB of L1.
SLAB_BYTES = 2048
#: Below this many multiply-adds one thread does the whole product.
PARALLEL_MIN = 1 << 18

_FAST = {"reassoc", "contract"}
_jit = dict(cache=True, error_model="numpy", fastmath=_FAST, nogil=True)


@njit(error_model="numpy")
def _pack_task(x, by_rows, kb, ke, p, t):
    """Rows 16t..16t+15 of the packed slab p: p[r] = x[r, kb:ke] when by_rows, else x[kb:ke, r]
    (a transposing copy, read along x's rows 16 columns at a time)."""
    r0 = 16 * t
    r1 = min(p.shape[0], r0 + 16)
    if by_rows:
        for r in range(r0, r1):
            p[r, :ke - kb] = x[r, kb:ke]
    else:
        for q in range(ke - kb):
            src = x[kb + q, r0:r1]
            for r in range(r1 - r0):
                p[r0 + r, q] = src[r]


@njit(fastmath=_FAST, error_model="numpy")
def _tile(ap, bp, c, i, j, kc, zero):
    """c[i:i+4, j:j+4] += the 4 x 4 dot products of packed rows ap[i:i+4] and bp[j:j+4]."""
    a0, a1, a2, a3 = ap[i, :kc], ap[i + 1, :kc], ap[i + 2, :kc], ap[i + 3, :kc]
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
def _single(ap, bp, c, i, j, kc, zero):
    """c[i, j] += one dot product of packed rows (the edges that do not fill a 4 x 4 tile)."""
    x, y = ap[i, :kc], bp[j, :kc]
    s = zero
    for q in range(kc):
        s += x[q] * y[q]
    c[i, j] += s


@njit(error_model="numpy")
def _block_task(ap, bp, c, t, kc, zero):
    """Block t of C (MC rows by NC columns, row-block major): its full tiles, then its edges."""
    m, n = c.shape
    nblocks = (n + NC - 1) // NC
    ib = t // nblocks
    i0, j0 = ib * MC, (t - ib * nblocks) * NC
    i1, j1 = min(m, i0 + MC), min(n, j0 + NC)
    i4, j4 = i0 + (i1 - i0) // 4 * 4, j0 + (j1 - j0) // 4 * 4
    for i in range(i0, i4, 4):
        for j in range(j0, j4, 4):
            _tile(ap, bp, c, i, j, kc, zero)
    for i in range(i0, i1):
        for j in range(j4 if i < i4 else j0, j1):
            _single(ap, bp, c, i, j, kc, zero)


@njit(**_jit)
def gemm_serial(a, a_rows, b, b_rows, c, kc, zero):
    """c += A @ B on one thread, where row r of A is a[r] if a_rows else a[:, r], and column j
    of B is b[j] if b_rows else b[:, j]; c is (m, n), k comes from a."""
    m, n = c.shape
    k = a.shape[1] if a_rows else a.shape[0]
    ap = np.empty((m, min(kc, k)), c.dtype)
    bp = np.empty((n, min(kc, k)), c.dtype)
    tasks = ((m + MC - 1) // MC) * ((n + NC - 1) // NC)
    for kb in range(0, k, kc):
        ke = min(k, kb + kc)
        for t in range((m + 15) // 16):
            _pack_task(a, a_rows, kb, ke, ap, t)
        for t in range((n + 15) // 16):
            _pack_task(b, b_rows, kb, ke, bp, t)
        for t in range(tasks):
            _block_task(ap, bp, c, t, ke - kb, zero)


@njit(parallel=True, **_jit)
def gemm_parallel(a, a_rows, b, b_rows, c, kc, zero):
    """gemm_serial with the packing and the blocks of C spread across threads."""
    m, n = c.shape
    k = a.shape[1] if a_rows else a.shape[0]
    ap = np.empty((m, min(kc, k)), c.dtype)
    bp = np.empty((n, min(kc, k)), c.dtype)
    tasks = ((m + MC - 1) // MC) * ((n + NC - 1) // NC)
    a_packs, b_packs = (m + 15) // 16, (n + 15) // 16
    for kb in range(0, k, kc):
        ke = min(k, kb + kc)
        for t in prange(a_packs + b_packs):
            if t < a_packs:
                _pack_task(a, a_rows, kb, ke, ap, t)
            else:
                _pack_task(b, b_rows, kb, ke, bp, t - a_packs)
        for t in prange(tasks):
            _block_task(ap, bp, c, t, ke - kb, zero)


def gemm(a: np.ndarray, b: np.ndarray, m: int, k: int, n: int) -> np.ndarray:
    """op(a) @ op(b), given as the (m, k) and (k, n) views ``a`` and ``b`` (transposed or not) in
    the result dtype. Each is packed from whichever of its layouts is C-contiguous, so a
    transposed operand is read in place; only an operand that is neither gets copied first."""
    c = np.zeros((m, n), a.dtype)
    if m == 0 or n == 0 or k == 0:
        return c
    # Row r of op(a) is x_a[r] (a_rows) or the column x_a[:, r]; column j of op(b) likewise.
    if a.flags.c_contiguous:
        x_a, a_rows = a, True
    elif a.T.flags.c_contiguous:
        x_a, a_rows = a.T, False
    else:
        x_a, a_rows = np.ascontiguousarray(a), True
    if b.T.flags.c_contiguous:
        x_b, b_rows = b.T, True
    elif b.flags.c_contiguous:
        x_b, b_rows = b, False
    else:
        x_b, b_rows = np.ascontiguousarray(b), False
    kc = max(16, SLAB_BYTES // a.itemsize)
    kernel = gemm_parallel if m * n * k >= PARALLEL_MIN else gemm_serial
    kernel(x_a, a_rows, x_b, b_rows, c, kc, a.dtype.type(0))
    return c
