"""The matrix product of the numba backend, C = op(A) @ op(B), as BLIS does it: packed panels and
a register tile of explicit SIMD (simd.microkernel) sized for the CPU it runs on (cpu.target).

Register tile. MR rows of C by NV vectors of columns stay in vector registers while k runs; each
step loads NV vectors of a row of B, broadcasts MR numbers of a column of A and does MR * NV
fused multiply-adds. MR and NV fill the register file: 14 x 2 vectors (14 x 32 float32) with
AVX-512's 32 registers, 6 x 2 (6 x 16) with AVX2's 16. A C only one vector wide takes a taller
tile of one vector (28 x 16 float32 with AVX-512, 14 x 8 with AVX2).

Blocking, from the cache sizes. Wide products cut k into slabs of KC, chosen so that a B
micro-panel (KC x NR) fills half of L1, and the rows of C into blocks whose A panels (MC x KC)
fit in half of L2. Each slab packs the panels of B and A (zero-padded at the edges), then the
blocks of C run across threads, each sweeping B's micro-panels over its A panels.

Skinny products, where C is one tile of columns wide (the first Dense layer's x @ W and
x.T @ grad), skip the packing of A: the tile reads A where it lies, along its rows (a row-major
operand) or its columns (a transposed one), so every element of the big operand is read once,
straight from memory; B is read in place when its rows are the tile's width.

Partial tiles at the edges go through a small scratch tile. ``fastmath`` is not used: sums are
formed in order along k (each tile's FMA chain), and NaN and inf propagate as in BLAS.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np
from numba import get_num_threads, njit, prange

from . import simd
from .cpu import target

#: Below this many multiply-adds (about a millisecond of one core) one thread does it all.
PARALLEL_MIN = 1 << 23
#: The most packing memory a thread keeps between products.
SCRATCH_MAX_BYTES = 1 << 28
#: Blocks of C per thread in a wide product, for balance when a core is busy elsewhere.
TASKS_PER_THREAD = 4
#: Rows of A read in place by one tile: each needs a general-purpose register for its pointer.
MAX_ROW_POINTERS = 8


def tile_rows(nv: int, registers: int) -> int:
    """MR for a tile NV vectors wide: the accumulators, NV vectors of B and a broadcast of A
    fill the register file (at most 28 rows: beyond that the tile gains nothing)."""
    return min(28, (registers - nv - 1) // nv)


_REGISTERS = target().vector_registers
#: Tile rows for (a wide tile, a narrow one), reading packed or transposed A ...
MR_WIDE, MR_NARROW = tile_rows(2, _REGISTERS), tile_rows(1, _REGISTERS)
#: ... and reading the rows of A in place.
MR_ROWS_WIDE = min(MR_WIDE, MAX_ROW_POINTERS)
MR_ROWS_NARROW = min(MR_NARROW, MAX_ROW_POINTERS)
_micro_wide = simd.microkernel(MR_WIDE, 2, a_by_rows=False)
_micro_narrow = simd.microkernel(MR_NARROW, 1, a_by_rows=False)
_micro_rows_wide = simd.microkernel(MR_ROWS_WIDE, 2, a_by_rows=True)
_micro_rows_narrow = simd.microkernel(MR_ROWS_NARROW, 1, a_by_rows=True)

_jit = dict(cache=True, error_model="numpy")
#: Serial kernels release the GIL; parallel ones keep it (the workqueue pool is not reentrant).
_serial = dict(_jit, nogil=True)
_parallel = dict(_jit, parallel=True)


@njit(error_model="numpy")
def _micro(nv, by_rows, a, a0, rs, b, b0, ldb, kc, c, c0, ldc):
    """The register tile for ``nv`` vectors of columns, reading A by rows or by columns."""
    if nv == 1:
        if by_rows:
            _micro_rows_narrow(a, a0, rs, b, b0, ldb, kc, c, c0, ldc)
        else:
            _micro_narrow(a, a0, rs, b, b0, ldb, kc, c, c0, ldc)
    elif by_rows:
        _micro_rows_wide(a, a0, rs, b, b0, ldb, kc, c, c0, ldc)
    else:
        _micro_wide(a, a0, rs, b, b0, ldb, kc, c, c0, ldc)


@njit(error_model="numpy")
def _pack(x, along_k, r0, rows, pc, kc, width, out):
    """out[p * width + r] = X(r0 + r, pc + p) for r < rows (0 for rows <= r < width), p < kc,
    where X(r, p) = x[r, p] if along_k (x's rows run along k) else x[p, r]."""
    for p in range(kc):
        dst = out[p * width:(p + 1) * width]
        if along_k:
            for r in range(rows):
                dst[r] = x[r0 + r, pc + p]
        else:
            src = x[pc + p, r0:r0 + rows]
            for r in range(rows):
                dst[r] = src[r]
        for r in range(rows, width):
            dst[r] = 0


@njit(error_model="numpy")
def _add_tile(tile, nr, c, i0, j0, rows, cols):
    """c[i0:i0+rows, j0:j0+cols] += the top-left corner of a scratch tile (rows of nr)."""
    for i in range(rows):
        src, dst = tile[i * nr:i * nr + cols], c[i0 + i, j0:j0 + cols]
        for j in range(cols):
            dst[j] += src[j]


@njit(error_model="numpy")
def _pack_b_task(xb, b_rows, bp, kc, nr, t):
    """Task t of packing B: micro-panel t % panels of slab t // panels, at that slab's place
    in bp (slabs of kc rows, each all of B's columns rounded up to nr)."""
    n, k = (xb.shape[0], xb.shape[1]) if b_rows else (xb.shape[1], xb.shape[0])
    panels = (n + nr - 1) // nr
    slab = t // panels
    j0, pc = (t - slab * panels) * nr, slab * kc
    depth = min(kc, k - pc)
    at = pc * panels * nr + j0 * depth
    _pack(xb, b_rows, j0, min(nr, n - j0), pc, depth, nr, bp[at:at + nr * depth])


@njit(error_model="numpy")
def _wide_task(xa, a_rows, bp, c, kc, mc, nc, nr, t):
    """Block t of C (mc rows by nc columns, row-block major), slab by slab: pack the block's
    A micro-panels, then sweep each (kept in L1) over the block's B micro-panels (in L2)."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    cf = c.reshape(-1)
    n_pad = (n + nr - 1) // nr * nr
    blocks_n = (n + nc - 1) // nc
    ib = t // blocks_n
    i_lo, j_lo = ib * mc, (t - ib * blocks_n) * nc
    i_hi, j_hi = min(m, i_lo + mc), min(n, j_lo + nc)
    ap = np.empty((i_hi - i_lo + MR_WIDE) * min(kc, k), c.dtype)
    tile = np.empty(MR_WIDE * nr, c.dtype)
    for pc in range(0, k, kc):
        depth = min(kc, k - pc)
        for i0 in range(i_lo, i_hi, MR_WIDE):
            at = (i0 - i_lo) * depth
            _pack(xa, a_rows, i0, min(MR_WIDE, m - i0), pc, depth, MR_WIDE,
                  ap[at:at + MR_WIDE * depth])
        for i0 in range(i_lo, i_hi, MR_WIDE):
            rows, a0 = min(MR_WIDE, m - i0), (i0 - i_lo) * depth
            for j0 in range(j_lo, j_hi, nr):
                cols, b0 = min(nr, n - j0), pc * n_pad + j0 * depth
                if rows == MR_WIDE and cols == nr:
                    _micro(2, False, ap, a0, MR_WIDE, bp, b0, nr, depth, cf, i0 * n + j0, n)
                else:
                    tile[:] = 0
                    _micro(2, False, ap, a0, MR_WIDE, bp, b0, nr, depth, tile, 0, nr)
                    _add_tile(tile, nr, c, i0, j0, rows, cols)


@njit(**_serial)
def wide_serial(xa, a_rows, xb, b_rows, bp, c, kc, mc, nc, nr):
    """c += op(A) @ op(B) with packed panels, on one thread. Row i of op(A) is xa[i] if a_rows
    else xa[:, i]; column j of op(B) is xb[j] if b_rows else xb[:, j]; bp has room for all
    of B packed (k by n rounded up to nr); c is (m, n) zeros."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    for t in range(((k + kc - 1) // kc) * ((n + nr - 1) // nr)):
        _pack_b_task(xb, b_rows, bp, kc, nr, t)
    for t in range(((m + mc - 1) // mc) * ((n + nc - 1) // nc)):
        _wide_task(xa, a_rows, bp, c, kc, mc, nc, nr, t)


@njit(**_parallel)
def wide_parallel(xa, a_rows, xb, b_rows, bp, c, kc, mc, nc, nr):
    """wide_serial with the packing of B, then the blocks of C, spread across threads: two
    parallel steps per product, so that a thread delayed by another process holds up the
    others only twice."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    for t in prange(((k + kc - 1) // kc) * ((n + nr - 1) // nr)):
        _pack_b_task(xb, b_rows, bp, kc, nr, t)
    for t in prange(((m + mc - 1) // mc) * ((n + nc - 1) // nc)):
        _wide_task(xa, a_rows, bp, c, kc, mc, nc, nr, t)


@njit(error_model="numpy")
def _skinny_task(xa, a_rows, b, b0, ldb, c, direct_c, nv, mr, nr, t):
    """Rows t*mr.. of C (all its columns) = op(A) @ B over the whole of k, A read in place. B's
    row p is b[b0 + p*ldb:][:nr]. The last, partial tile packs its rows of A, zero-padded."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    lda = xa.shape[1]
    af, cf = xa.reshape(-1), c.reshape(-1)
    i0 = t * mr
    rows = min(mr, m - i0)
    if rows == mr and direct_c:
        if a_rows:
            _micro(nv, True, af, i0 * lda, lda, b, b0, ldb, k, cf, i0 * n, n)
        else:
            _micro(nv, False, af, i0, lda, b, b0, ldb, k, cf, i0 * n, n)
        return
    width = MR_NARROW if nv == 1 else MR_WIDE  # the by-columns tile, at least mr rows
    tile = np.zeros(width * nr, c.dtype)
    if rows == mr and not a_rows:
        _micro(nv, False, af, i0, lda, b, b0, ldb, k, tile, 0, nr)
    elif rows == mr:
        _micro(nv, True, af, i0 * lda, lda, b, b0, ldb, k, tile, 0, nr)
    else:
        edge = np.empty(k * width, c.dtype)
        _pack(xa, a_rows, i0, rows, 0, k, width, edge)
        _micro(nv, False, edge, 0, width, b, b0, ldb, k, tile, 0, nr)
    _add_tile(tile, nr, c, i0, 0, rows, n)


@njit(**_serial)
def skinny_serial(xa, a_rows, b, b0, ldb, c, direct_c, nv, mr, nr):
    """c += op(A) @ B for a C at most nr columns wide, on one thread (see _skinny_task)."""
    for t in range((c.shape[0] + mr - 1) // mr):
        _skinny_task(xa, a_rows, b, b0, ldb, c, direct_c, nv, mr, nr, t)


@njit(**_parallel)
def skinny_parallel(xa, a_rows, b, b0, ldb, c, direct_c, nv, mr, nr):
    """skinny_serial with the row tiles across threads."""
    for t in prange((c.shape[0] + mr - 1) // mr):
        _skinny_task(xa, a_rows, b, b0, ldb, c, direct_c, nv, mr, nr, t)


@njit(**_serial)
def pack_serial(x, along_k, cols, k, width, out):
    """out (k rows of width) = the first ``cols`` columns of op(B), zero-padded (see _pack)."""
    _pack(x, along_k, 0, cols, 0, k, width, out)


_scratch = threading.local()


def _buffer(size: int, dtype: np.dtype) -> np.ndarray:
    """``size`` elements of packing memory that this thread keeps between products: fresh
    memory would cost a page fault per 4 KiB."""
    nbytes = size * dtype.itemsize
    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, np.uint8)
        if nbytes <= SCRATCH_MAX_BYTES:
            _scratch.buf = buf
    return buf[:nbytes].view(dtype)


def _rows_of(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(y, True) with y = x, or (y, False) with y = x.T, whichever is C-contiguous (a copy of x
    when neither is): row r of x is then y[r] or y[:, r]."""
    if x.flags.c_contiguous:
        return x, True
    if x.T.flags.c_contiguous:
        return x.T, False
    return np.ascontiguousarray(x), True


def blocking(m: int, n: int, itemsize: int, threads: int) -> tuple[int, int, int]:
    """(KC, MC, NC) of a wide product: KC keeps an A micro-panel (MR x KC) within a quarter of
    L1; NC keeps a slab of B (KC x NC) within half of L2; MC makes at least TASKS_PER_THREAD
    blocks of C per thread (NC shrinks too when the rows alone are too few)."""
    caches, nr = target().caches, 2 * target().lanes(itemsize)
    kc = max(64, min(512, caches["L1d"] // (4 * MR_WIDE * itemsize)) // 8 * 8)
    nc = max(nr, caches["L2"] // (2 * kc * itemsize) // nr * nr)
    tasks = TASKS_PER_THREAD * threads
    col_blocks = -(-n // nc)
    row_blocks = max(1, min(-(-m // MR_WIDE), -(-tasks // col_blocks)))
    mc = -(-m // row_blocks // MR_WIDE) * MR_WIDE
    if row_blocks * col_blocks < tasks:  # too few rows: split the columns further
        nc = max(nr, -(-n // -(-tasks // row_blocks) // nr) * nr)
    return kc, mc, nc


def gemm(a: np.ndarray, b: np.ndarray, m: int, k: int, n: int,
         empty: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty) -> np.ndarray:
    """op(a) @ op(b), given as the (m, k) and (k, n) views ``a`` and ``b`` (transposed or not)
    in the result dtype. ``empty(shape, dtype)`` allocates the result (the backend passes its
    pool of reusable buffers)."""
    dtype = a.dtype
    c = empty((m, n), dtype)
    c.fill(0)
    if m == 0 or n == 0 or k == 0:
        return c
    parallel = m * n * k >= PARALLEL_MIN
    lanes = target().lanes(dtype.itemsize)
    xa, a_rows = _rows_of(a)     # row i of op(a): xa[i] if a_rows else xa[:, i]
    xb, b_rows = _rows_of(b.T)   # column j of op(b): xb[j] if b_rows else xb[:, j]
    if n <= 2 * lanes:
        nv = 1 if n <= lanes else 2
        nr = nv * lanes
        if a_rows:
            mr = MR_ROWS_NARROW if nv == 1 else MR_ROWS_WIDE
        else:
            mr = MR_NARROW if nv == 1 else MR_WIDE
        if not b_rows and n == nr:  # B's rows are the tile's width: read in place
            bf, ldb = xb.reshape(-1), n
        else:
            bf, ldb = _buffer(k * nr, dtype), nr
            pack_serial(xb, b_rows, n, k, nr, bf)
        run = skinny_parallel if parallel else skinny_serial
        run(xa, a_rows, bf, 0, ldb, c, n == nr, nv, mr, nr)
        return c
    threads = get_num_threads() if parallel else 1
    kc, mc, nc = blocking(m, n, dtype.itemsize, threads)
    nr = 2 * lanes
    bp = _buffer(k * -(-n // nr) * nr, dtype)
    (wide_parallel if parallel else wide_serial)(xa, a_rows, xb, b_rows, bp, c, kc, mc, nc, nr)
    return c
