"""The tiled matrix product C = op(A) @ op(B) on the GPU: shared-memory tiles, register blocking.

Each block computes a BM x BN tile of C with BM/TM * BN/TN threads; each thread keeps a TM x TN
tile of C in registers. The k dimension is walked BK at a time: the block stages a BM x BK slice
of op(A) and a BK x BN slice of op(B) in shared memory, and while it multiplies them it already
loads the next slices from global memory into registers. op(A)[i, k] is a[i * sa_row + k * sa_col],
so a transposed operand is read in place (its strides swapped), never materialised; the loading
threads walk whichever index is contiguous, so global reads stay coalesced either way.

Thread (tx, ty) owns two groups of TM/2 consecutive rows (ty*TM/2 and BM/2 + ty*TM/2 onwards) and
likewise of columns: its shared-memory reads are 16-byte vector loads (the tiles are 16-byte
aligned; tx is a mask of the thread index so the compiler can prove it), a quarter-warp's reads
cover 128 consecutive bytes without bank conflicts, and it writes runs of consecutive columns of C.
The k steps are unrolled four at a time. The shared tiles are padded by PAD words per row so that
column-wise stores do not collide in one bank. Partial tiles at the edges are zero-filled on load
and masked on store. With STAGES = 2 the slices alternate between two shared buffers, which
saves one barrier per slice but costs registers (ptxas for sm_90: 220 against 167 for float32,
neither spills); the default is one stage until the device measures otherwise.

The tile sizes are module constants (compile-time constants in the kernel). Under Numba's CUDA
simulator, which runs each GPU thread as a Python thread, they shrink so the tests stay quick; the
code path, partial tiles included, is the same.
"""

from __future__ import annotations

import os

from numba import cuda

from .cuda_runtime import SIMULATOR, UNCACHED

#: Tiles BM,BN,BK,TM,TN and the shared-memory STAGES (1 or 2); TOOLKIT_CUDA_GEMM_TILES overrides
#: them (benchmarks/device_check.py times a few this way, each in its own process, since they are
#: compile-time constants).
DEFAULT_TILES = "128,128,8,8,8,1"
TILES = os.environ.get("TOOLKIT_CUDA_GEMM_TILES", DEFAULT_TILES)
FIELDS = [int(v) for v in TILES.split(",") if v.strip().isdigit()]
if len(FIELDS) != 6:
    raise ValueError(f"TOOLKIT_CUDA_GEMM_TILES={TILES!r}: give six integers BM,BN,BK,TM,TN,STAGES, "
                     f"e.g. {DEFAULT_TILES}")
if SIMULATOR:  # tiny tiles, no alignment (the simulator has none); the same code path otherwise
    BM, BN, BK, TM, TN, STAGES, ALIGN = 16, 16, 4, 4, 4, FIELDS[5], None
else:
    BM, BN, BK, TM, TN, STAGES = FIELDS
    ALIGN = 16
TX, TY = BN // TN, BM // TM
THREADS = TX * TY
A_LOADS, B_LOADS = BM * BK // THREADS, BK * BN // THREADS
PAD = 4
GM, GN, HALF_M, HALF_N = TM // 2, TN // 2, BM // 2, BN // 2
A_TILE, B_TILE = (STAGES, BK, BM + PAD), (STAGES, BK, BN + PAD)  # literal shapes for the kernel
ACC = (TM, TN)
if not (TX * TN == BN and TY * TM == BM and TX & (TX - 1) == 0 and TM % 2 == TN % 2 == 0
        and BK % 4 == 0 and A_LOADS * THREADS == BM * BK and B_LOADS * THREADS == BK * BN
        and THREADS <= 1024 and STAGES in (1, 2)):
    raise ValueError(f"GEMM tiles BM,BN,BK,TM,TN,STAGES = {TILES} do not fit the kernel: BN/TN "
                     f"must be a power of two, TM and TN even, BK a multiple of 4, the threads "
                     f"must share the BM x BK and BK x BN loads evenly, and STAGES be 1 or 2")


def gemm_kernel(a, b, c, m, n, k, sa_row, sa_col, sb_row, sb_col):
    """c (m x n, row-major) = op(a) @ op(b), op(a)[i, p] = a[i*sa_row + p*sa_col]."""
    a_tile = cuda.shared.array(A_TILE, dtype=c.dtype, alignment=ALIGN)
    b_tile = cuda.shared.array(B_TILE, dtype=c.dtype, alignment=ALIGN)
    acc = cuda.local.array(ACC, dtype=c.dtype)
    a_reg = cuda.local.array(A_LOADS, dtype=c.dtype)
    b_reg = cuda.local.array(B_LOADS, dtype=c.dtype)
    a_frag = cuda.local.array(TM, dtype=c.dtype)
    b_frag = cuda.local.array(TN, dtype=c.dtype)

    tid = cuda.threadIdx.x
    tx = tid & (TX - 1)  # TX is a power of two; a mask keeps the index provably non-negative,
    ty = tid // TX  # so the shared-memory reads below become 16-byte vector loads
    row0 = cuda.blockIdx.y * BM
    col0 = cuda.blockIdx.x * BN
    a_rows_contiguous = sa_row == 1  # op(a) is a transposed row-major matrix
    b_rows_contiguous = sb_row == 1

    for i in range(TM):
        for j in range(TN):
            acc[i, j] = 0

    tiles = (k + BK - 1) // BK
    _load_a(a, a_reg, tid, row0, 0, m, k, sa_row, sa_col, a_rows_contiguous)
    _load_b(b, b_reg, tid, col0, 0, n, k, sb_row, sb_col, b_rows_contiguous)
    _stage(a_tile, b_tile, 0, a_reg, b_reg, tid, a_rows_contiguous, b_rows_contiguous)
    cuda.syncthreads()
    for t in range(tiles):
        buf = t & (STAGES - 1)  # a mask, not %: provably non-negative, so reads stay 16-byte
        more = t + 1 < tiles
        if more:  # the next slices travel while this one is multiplied
            _load_a(a, a_reg, tid, row0, (t + 1) * BK, m, k, sa_row, sa_col, a_rows_contiguous)
            _load_b(b, b_reg, tid, col0, (t + 1) * BK, n, k, sb_row, sb_col, b_rows_contiguous)
        for p in range(0, BK, 4):  # four k steps per round: a quarter of the loop bookkeeping
            _multiply_slice(a_tile, b_tile, buf, p, tx, ty, a_frag, b_frag, acc)
            _multiply_slice(a_tile, b_tile, buf, p + 1, tx, ty, a_frag, b_frag, acc)
            _multiply_slice(a_tile, b_tile, buf, p + 2, tx, ty, a_frag, b_frag, acc)
            _multiply_slice(a_tile, b_tile, buf, p + 3, tx, ty, a_frag, b_frag, acc)
        if STAGES == 1:  # one buffer: everyone must be done reading it before it is refilled
            cuda.syncthreads()
        if more:
            _stage(a_tile, b_tile, (t + 1) & (STAGES - 1), a_reg, b_reg, tid, a_rows_contiguous,
                   b_rows_contiguous)
        cuda.syncthreads()

    for i in range(TM):
        r = row0 + (i // GM) * HALF_M + ty * GM + i % GM
        if r < m:
            for j in range(TN):
                col = col0 + (j // GN) * HALF_N + tx * GN + j % GN
                if col < n:
                    c[r * n + col] = acc[i, j]


@cuda.jit(device=True)
def _stage(a_tile, b_tile, buf, a_reg, b_reg, tid, a_rows_contiguous, b_rows_contiguous):
    """Write the slices held in registers into shared-memory buffer ``buf``, k-major."""
    for q in range(A_LOADS):
        e = tid + q * THREADS
        if a_rows_contiguous:
            a_tile[buf, e // BM, e % BM] = a_reg[q]
        else:
            a_tile[buf, e % BK, e // BK] = a_reg[q]
    for q in range(B_LOADS):
        e = tid + q * THREADS
        if b_rows_contiguous:
            b_tile[buf, e % BK, e // BK] = b_reg[q]
        else:
            b_tile[buf, e // BN, e % BN] = b_reg[q]


@cuda.jit(device=True)
def _multiply_slice(a_tile, b_tile, buf, p, tx, ty, a_frag, b_frag, acc):
    """acc += the outer product of row p of the staged op(a) slice and row p of op(b)'s, for
    this thread's TM x TN tile (16-byte shared-memory reads)."""
    for i in range(TM):
        a_frag[i] = a_tile[buf, p, (i // GM) * HALF_M + ty * GM + i % GM]
    for j in range(TN):
        b_frag[j] = b_tile[buf, p, (j // GN) * HALF_N + tx * GN + j % GN]
    for i in range(TM):
        for j in range(TN):
            acc[i, j] += a_frag[i] * b_frag[j]


@cuda.jit(device=True)
def _load_a(a, a_reg, tid, row0, k0, m, k, sa_row, sa_col, rows_contiguous):
    """This thread's share of the BM x BK slice of op(a) at (row0, k0), zero outside the matrix."""
    for q in range(A_LOADS):
        e = tid + q * THREADS
        if rows_contiguous:  # consecutive threads, consecutive rows
            r, p = row0 + e % BM, k0 + e // BM
        else:  # consecutive threads, consecutive k
            r, p = row0 + e // BK, k0 + e % BK
        if r < m and p < k:
            a_reg[q] = a[r * sa_row + p * sa_col]
        else:
            a_reg[q] = 0


@cuda.jit(device=True)
def _load_b(b, b_reg, tid, col0, k0, n, k, sb_row, sb_col, rows_contiguous):
    """This thread's share of the BK x BN slice of op(b) at (k0, col0), zero outside the matrix."""
    for q in range(B_LOADS):
        e = tid + q * THREADS
        if rows_contiguous:  # op(b) is transposed: consecutive threads walk k
            p, col = k0 + e % BK, col0 + e // BK
        else:
            p, col = k0 + e // BN, col0 + e % BN
        if p < k and col < n:
            b_reg[q] = b[p * sb_row + col * sb_col]
        else:
            b_reg[q] = 0


if TILES != DEFAULT_TILES:  # Numba's disk cache does not see globals: never mix tile shapes in it
    UNCACHED.add(gemm_kernel)
