"""The matrix product of the numba backend, C = op(A) @ op(B), as BLIS does it: packed panels and
a register tile of explicit SIMD (simd.tile.microkernel) sized for the CPU it runs on (cpu.target).

Register tile. MR rows of C by NV vectors of columns stay in vector registers while k runs; each
step loads NV vectors of a row of B, broadcasts MR numbers of a column of A and does MR * NV
fused multiply-adds. MR and NV fill the register file with the tile that loads least per FMA:
6 x 4 vectors (6 x 64 float32) with AVX-512's 32 registers, 6 x 2 (6 x 16) with AVX2's 16.

Wide products (C more than two vectors wide) cut k into slabs of KC, chosen so that an A
micro-panel (MR x KC) stays in a quarter of L1, and the columns into stretches whose slab of B
(KC x NC) fits in half of L2. B is packed into micro-panels (zero-padded at the edges), once
by all the threads together or, where it is small beside L2, by each thread for itself; C's
tiles, taken row panel by row panel, are shared out evenly as tasks across threads, each
packing its own A micro-panels slab by slab and sweeping each over its tiles' B micro-panels
(a task may start or end within a row panel). The first slab writes C, later ones add to it.
With a small k (g @ W.T: k = 16) the stores cost as much as the FMAs; a tile six rows tall
writes six runs of four lines, which the cores' prefetchers follow, where the 14 x 2 tile's
fourteen runs of two needed each next tile fetched for writing by hand (prefetchw), and
non-temporal stores measured slower than either.

Narrow products (C at most two vectors wide: a Dense layer of 16 units) skip most packing, so
that the big operand is read once, straight from memory:
- op(A) row-major (the first layer's x @ W): the tile reads A's rows where they lie, one pointer
  per row (at most MAX_ROW_POINTERS of them), over the whole of k;
- op(A) transposed (its gradient x.T @ g): C^T = op(B)^T op(A)^T, so that the rows of x are the
  tile's vectors of B, read in place block by block, each block prefetched while the one before
  it computes; the small op(B)^T is packed, and each block of C^T is written back transposed
  into C.
Partial tiles at the edges store under lane masks, straight into C, and panels along k are
packed by register transposes, masked at the edges too. ``fastmath`` is not used: sums are formed
in order along k (each tile's FMA chain), and NaN and inf propagate as in BLAS. Integer products
take a plain loop (exact, wrapping as NumPy's), which compiles in a fraction of the time.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np
from numba import get_num_threads, get_thread_id, njit, prange

from .cpu import LINE, target
from .simd.tile import ADD, OVERWRITE, microkernel
from .simd.transpose import transpose_block
from .simd.vectors import lanes_of

#: Below this many multiply-adds (about a millisecond of one core) one thread does it all.
PARALLEL_MIN = 1 << 23
#: The most packing memory a thread keeps between products.
SCRATCH_MAX_BYTES = 1 << 28
#: Rows of A read in place by one tile: each needs a general-purpose register for its pointer.
MAX_ROW_POINTERS = 8


def tile_rows(nv: int, registers: int) -> int:
    """MR for a tile NV vectors wide: the accumulators, NV vectors of B and a broadcast of A
    fill the register file (at most 28 rows: beyond that the tile gains nothing)."""
    return min(28, (registers - nv - 1) // nv)


def wide_tile(registers: int) -> tuple[int, int]:
    """(MR, NV) of a wide product's tile: of the tiles a power of two vectors wide, the one
    with the most FMAs per load, MR * NV / (MR + NV). With 32 registers 6 x 4 (2.4 FMAs a
    load) rather than 14 x 2 (1.75), whose time it took, alternated: g @ W.T (k = 16) 0.93,
    (512x300)@(300x1000) 0.93, 256^3 0.95, 1024^3 0.97, 2048^3 1.00. With 16, 6 x 2."""
    return max(((tile_rows(nv, registers), nv) for nv in (1, 2, 4, 8)),
               key=lambda tile: tile[0] * tile[1] / (tile[0] + tile[1]))


_REGISTERS = target().vector_registers
#: Tile rows and vectors of a wide product (packed A) ...
MR_WIDE, NV_WIDE = wide_tile(_REGISTERS)
#: ... and rows of a narrow one reading the rows of A in place, two vectors or one wide.
MR_ROWS_WIDE = min(tile_rows(2, _REGISTERS), MAX_ROW_POINTERS)
MR_ROWS_NARROW = min(tile_rows(1, _REGISTERS), MAX_ROW_POINTERS)
#: Tile rows of C^T in a transposed narrow product: 8 where the registers allow (C^T's 16 rows,
#: a Dense layer's usual width, in two whole tiles), else as many as two vectors wide allow.
MR_SWAP = min(8, tile_rows(2, _REGISTERS))
_micro_wide = microkernel(MR_WIDE, NV_WIDE, a_by_rows=False)
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

_jit = dict(cache=True, error_model="numpy")
#: Serial kernels release the GIL; parallel ones keep it (the workqueue pool is not reentrant).
_serial = dict(_jit, nogil=True)
_parallel = dict(_jit, parallel=True)


@njit(error_model="numpy")
def _micro_rows(nv, a, a0, rs, b, b0, ldb, kc, c, c0, ldc, rows, cols):
    """The tile reading A's rows in place, ``nv`` vectors of columns wide, writing C's first
    ``rows`` x ``cols``."""
    if nv == 1:
        _micro_rows_narrow(a, a0, rs, b, b0, ldb, kc, c, c0, ldc, OVERWRITE, rows, cols)
    else:
        _micro_rows_wide(a, a0, rs, b, b0, ldb, kc, c, c0, ldc, OVERWRITE, rows, cols)


@njit(error_model="numpy", inline="always")
def _pack(xf, ld, along_k, r0, rows, pc, kc, width, out, o0):
    """out[o0 + p * width + r] = X(r0 + r, pc + p) for r < rows (0 for rows <= r < width),
    p < kc, where x is xf's rows of ld elements and X(r, p) = x[r, p] if along_k (x's rows run
    along k: transposed in registers, lanes x lanes at a time, the blocks at the edges under
    lane masks) else x[p, r]. Inlined: a call per micro-panel would cost as much as the
    transposes."""
    if along_k:
        lanes = lanes_of(out)
        for r in range(0, width, lanes):
            for p in range(0, kc, lanes):
                transpose_block(xf, (r0 + r) * ld + pc + p, ld, max(0, min(lanes, rows - r)),
                                min(lanes, kc - p), out, o0 + p * width + r, width,
                                min(lanes, width - r))
    else:
        for p in range(kc):
            src, dst = xf[(pc + p) * ld + r0:], out[o0 + p * width:o0 + (p + 1) * width]
            for r in range(rows):
                dst[r] = src[r]
            for r in range(rows, width):
                dst[r] = 0


@njit(error_model="numpy")
def _pack_b_task(xbf, ld, b_rows, n, k, bp, kc, nr, t):
    """Task t of packing B (n columns, k rows, held in xbf's rows of ld elements: its columns
    if b_rows, else its rows): micro-panel t % panels of slab t // panels, at that slab's
    place in bp (slabs of kc rows, each all of B's columns rounded up to nr)."""
    panels = (n + nr - 1) // nr
    slab = t // panels
    j0, pc = (t - slab * panels) * nr, slab * kc
    depth = min(kc, k - pc)
    at = pc * panels * nr + j0 * depth
    _pack(xbf, ld, b_rows, j0, min(nr, n - j0), pc, depth, nr, bp, at)


@njit(error_model="numpy")
def _wide_task(xa, a_rows, bp, c, kc, tasks, nc, nr, ap, t):
    """Task t of ``tasks``: its share of C's tiles (MR_WIDE x nr each) taken in order, row
    panel by row panel, as even as can be (a task may start or end within a row panel),
    slab by slab: pack the share's A micro-panels into
    ap (L2), then, for each stretch of nc columns (whose slab of B stays in L2), sweep each A
    micro-panel (kept in L1) over its tiles' B micro-panels. The first slab writes C, later
    ones add to it."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    cf, xaf = c.reshape(-1), xa.reshape(-1)
    n_pad = (n + nr - 1) // nr * nr
    col_panels = n_pad // nr
    tiles = (m + MR_WIDE - 1) // MR_WIDE * col_panels
    first, last = t * tiles // tasks, (t + 1) * tiles // tasks  # the share: tiles [first, last)
    if first == last:
        return
    p_lo, p_hi = first // col_panels, (last - 1) // col_panels + 1  # its row panels
    for pc in range(0, k, kc):
        depth = min(kc, k - pc)
        mode = ADD if pc > 0 else OVERWRITE
        for panel in range(p_lo, p_hi):
            i0 = panel * MR_WIDE
            _pack(xaf, xa.shape[1], a_rows, i0, min(MR_WIDE, m - i0), pc, depth, MR_WIDE, ap,
                  (panel - p_lo) * MR_WIDE * depth)
        for jc in range(0, n, nc):
            j_end = min(n, jc + nc)
            for panel in range(p_lo, p_hi):
                i0, a0 = panel * MR_WIDE, (panel - p_lo) * MR_WIDE * depth
                rows, row_tile = min(MR_WIDE, m - i0), panel * col_panels
                j_from = max(jc, (first - row_tile) * nr)
                j_to = min(j_end, (last - row_tile) * nr)
                for j0 in range(j_from, j_to, nr):
                    cols, b0 = min(nr, n - j0), pc * n_pad + j0 * depth
                    _micro_wide(ap, a0, MR_WIDE, bp, b0, nr, depth, cf, i0 * n + j0, n, mode,
                                rows, cols)


@njit(**_jit)
def packed_b_size(k, n, nr):
    """Elements of one copy of B packed: k rows of its n columns rounded up to nr (called from
    Python too, so cached on disk like the kernels)."""
    return k * ((n + nr - 1) // nr * nr)


@njit(error_model="numpy")
def _b_tasks(k, n, kc, nr):
    """Tasks of packing B (_pack_b_task): its micro-panels in every slab."""
    return ((k + kc - 1) // kc) * ((n + nr - 1) // nr)


@njit(error_model="numpy")
def _pack_b(xbf, ld, b_rows, n, k, bp, kc, nr):
    """All of B packed into bp by the calling thread (see _pack_b_task)."""
    for t in range(_b_tasks(k, n, kc, nr)):
        _pack_b_task(xbf, ld, b_rows, n, k, bp, kc, nr, t)


@njit(**_serial)
def wide_serial(xa, a_rows, xb, b_rows, bp, ap, c, kc, tasks, nc, nr):
    """c = op(A) @ op(B) with packed panels, on one thread. Row i of op(A) is xa[i] if a_rows
    else xa[:, i]; column j of op(B) is xb[j] if b_rows else xb[:, j]; bp has room for all
    of B packed (k by n rounded up to nr), ap for each task's A panels (ap_size)."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    size = ap.size // tasks
    _pack_b(xb.reshape(-1), xb.shape[1], b_rows, n, k, bp, kc, nr)
    for t in range(tasks):
        _wide_task(xa, a_rows, bp, c, kc, tasks, nc, nr, ap[t * size:(t + 1) * size], t)


@njit(**_parallel)
def wide_parallel(xa, a_rows, xb, b_rows, bp, ap, c, kc, tasks, nc, nr):
    """wide_serial with the tasks spread across threads. Where bp holds one copy of B
    packed (b_copies), the threads pack it together first: two parallel steps per product, so
    that a thread delayed by another process holds up the others only twice. Where it holds a
    copy per thread, each thread packs all of B for itself as its first task begins: one
    step, and no thread waits for another's packing or reads it from another core's cache."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    size = ap.size // tasks
    b_size = packed_b_size(k, n, nr)
    copies = bp.size // b_size
    xbf, ld = xb.reshape(-1), xb.shape[1]
    if copies == 1:
        for t in prange(_b_tasks(k, n, kc, nr)):
            _pack_b_task(xbf, ld, b_rows, n, k, bp, kc, nr, t)
        for t in prange(tasks):
            _wide_task(xa, a_rows, bp, c, kc, tasks, nc, nr, ap[t * size:(t + 1) * size], t)
    else:
        packed = np.zeros(copies, np.bool_)
        for t in prange(tasks):
            me = get_thread_id()  # 0 <= me < get_num_threads() == copies
            mine = bp[me * b_size:(me + 1) * b_size]
            if not packed[me]:
                _pack_b(xbf, ld, b_rows, n, k, mine, kc, nr)
                packed[me] = True
            _wide_task(xa, a_rows, mine, c, kc, tasks, nc, nr, ap[t * size:(t + 1) * size], t)


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


@njit(**_serial)
def rows_serial(xa, b, ldb, c, nv, mr):
    """c = A @ B for a C at most two vectors wide, on one thread (see _rows_task)."""
    (m, n), k = c.shape, xa.shape[1]
    af, cf = xa.reshape(-1), c.reshape(-1)
    for t in range((m + mr - 1) // mr):
        _rows_task(af, k, b, ldb, cf, m, n, nv, mr, t)


@njit(**_parallel)
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
        _pack(xf, m, False, whole, j_hi - whole, 0, k, nr, edge, 0)
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


@njit(**_serial)
def swap_serial(xa, ap, c, nr):
    """c = op(A) @ op(B) as (op(B)^T op(A)^T)^T for a C at most nr columns wide and op(A)
    transposed (xa[:, i] is row i of op(A)), on one thread; ap holds op(B)^T packed in panels
    of MR_SWAP rows (pack_panels)."""
    for t in range((c.shape[0] + SWAP_COLUMNS - 1) // SWAP_COLUMNS):
        _swap_task(xa, ap, c, nr, t)


@njit(**_parallel)
def swap_parallel(xa, ap, c, nr):
    """swap_serial with blocks of C^T's columns across threads."""
    for t in prange((c.shape[0] + SWAP_COLUMNS - 1) // SWAP_COLUMNS):
        _swap_task(xa, ap, c, nr, t)


@njit(**_serial)
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


@njit(**_serial)
def pack_panels(x, along_k, rows, k, width, out):
    """out = X's first ``rows`` rows over all of k in panels of ``width`` rows (each k x
    width, zero-padded), where X(r, p) = x[r, p] if along_k else x[p, r] (see _pack)."""
    xf = x.reshape(-1)
    for r0 in range(0, rows, width):
        _pack(xf, x.shape[1], along_k, r0, min(width, rows - r0), 0, k, width, out, r0 * k)


_scratch = threading.local()


def _buffer(size: int, dtype: np.dtype) -> np.ndarray:
    """``size`` elements of packing memory that this thread keeps between products (fresh
    memory would cost a page fault per 4 KiB), starting on a cache line: the tiles load whole
    vectors of the panels, which would otherwise straddle two lines."""
    nbytes = size * dtype.itemsize
    lines = getattr(_scratch, "lines", None)  # the kept buffer from its first line on
    if lines is None or lines.nbytes < nbytes:
        buf = np.empty(nbytes + LINE, np.uint8)
        lines = buf[-buf.ctypes.data % LINE:]
        if nbytes <= SCRATCH_MAX_BYTES:
            _scratch.lines = lines
    return lines[:nbytes].view(dtype)


def _rows_of(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(y, True) with y = x, or (y, False) with y = x.T, whichever is C-contiguous (a copy of x
    when neither is): row r of x is then y[r] or y[:, r]."""
    if x.flags.c_contiguous:
        return x, True
    if x.T.flags.c_contiguous:
        return x.T, False
    return np.ascontiguousarray(x), True


def blocking(m: int, k: int, n: int, itemsize: int, threads: int) -> tuple[int, int, int]:
    """(KC, tasks, NC) of a wide product: KC keeps an A micro-panel (MR x KC) within a quarter
    of L1; NC keeps a slab of B (min(KC, k) x NC) within half of L2, so that a small k sweeps
    long stretches of C's rows. The tiles of C are shared out as tasks, a whole number per
    thread (numba hands each thread an equal run of a parallel loop's iterations), enough of
    them that each task's A panels of a slab stay within a quarter of L2, beside B's: they are
    read again for every stretch of columns."""
    caches, nr = target().caches, NV_WIDE * target().lanes(itemsize)
    kc = max(64, min(512, caches["L1d"] // (4 * MR_WIDE * itemsize)) // 8 * 8)
    nc = max(nr, caches["L2"] // (2 * min(kc, k) * itemsize) // nr * nr)
    panels = -(-m // MR_WIDE)
    a_bytes = panels * MR_WIDE * min(kc, k) * itemsize
    per_thread = max(1, -(-a_bytes // (threads * (caches["L2"] // 4))))
    return kc, max(1, min(panels * -(-n // nr), per_thread * threads)), nc


def b_copies(b_bytes: int, threads: int) -> int:
    """Copies of B packed (``b_bytes`` each) in a wide product: one per thread where it fits in
    half of L2 (g @ W.T's W, 10000 x 16: packing it all takes a thread less time than waiting
    for the others at a barrier would), else one that the threads share."""
    small = b_bytes <= target().caches["L2"] // 2
    return threads if small and threads > 1 else 1


def ap_size(m: int, k: int, kc: int, tasks: int) -> int:
    """Elements of packing memory for every wide task's A panels (one slab of its rows): a
    task's share of the tiles spans at most its share of the row panels, rounded up, and one
    more where it starts or ends within a panel."""
    return tasks * (-(-m // MR_WIDE // tasks) + 1) * MR_WIDE * min(kc, k)


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
        return c
    if n <= 2 * lanes and not a_rows:  # x.T @ g: C^T = g^T x, x's rows read in place
        ap = _buffer(-(-n // MR_SWAP) * MR_SWAP * k, dtype)
        pack_panels(xb, b_rows, n, k, MR_SWAP, ap)
        (swap_parallel if parallel else swap_serial)(xa, ap, c, 2 * lanes)
        return c
    if n <= 2 * lanes:  # x @ W: x's rows read in place
        nv = 1 if n <= lanes else 2
        nr = nv * lanes
        if not b_rows and n == nr:  # B's rows are the tile's width: read in place
            bf, ldb = xb.reshape(-1), n
        else:
            bf, ldb = _buffer(k * nr, dtype), nr
            pack_panels(xb, b_rows, n, k, nr, bf)
        mr = MR_ROWS_NARROW if nv == 1 else MR_ROWS_WIDE
        (rows_parallel if parallel else rows_serial)(xa, bf, ldb, c, nv, mr)
        return c
    threads = get_num_threads() if parallel else 1
    kc, tasks, nc = blocking(m, k, n, dtype.itemsize, threads)
    nr = NV_WIDE * lanes
    b_size = packed_b_size(k, n, nr)
    b_size *= b_copies(b_size * dtype.itemsize, threads)
    buf = _buffer(b_size + ap_size(m, k, kc, tasks), dtype)
    (wide_parallel if parallel else wide_serial)(xa, a_rows, xb, b_rows, buf[:b_size],
                                                 buf[b_size:], c, kc, tasks, nc, nr)
    return c
