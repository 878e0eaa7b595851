"""Wide products of the numba GEMM (C more than two vectors wide): BLIS's loops around a packed
register tile. k is cut into slabs of KC, chosen so that an A micro-panel (MR x KC) stays in a
quarter of L1, and the columns into stretches whose slab of B (KC x NC) fits in half of L2. B
is packed into micro-panels (zero-padded at the edges), once by all the threads together or,
where it is small beside L2, by each thread for itself; C's tiles, taken row panel by row
panel, are shared out evenly as tasks across threads, each packing its own A micro-panels slab
by slab and sweeping each over its tiles' B micro-panels (a task may start or end within a row
panel). The first slab writes C, later ones add to it.

With a small k (g @ W.T: k = 16) the stores cost as much as the FMAs; a tile six rows tall
writes six runs of four lines, which the cores' prefetchers follow, where the 14 x 2 tile's
fourteen runs of two needed each next tile fetched for writing by hand (prefetchw), and
non-temporal stores measured slower than either.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, get_thread_id, njit, prange

from ..cpu import target
from ..jit import JIT, PARALLEL, SERIAL
from ..simd.tile import ADD, OVERWRITE, microkernel, tile_rows
from .panels import pack, scratch


def wide_tile(registers: int) -> tuple[int, int]:
    """(MR, NV) of a wide product's tile: of the tiles a power of two vectors wide, the one
    with the most FMAs per load, MR * NV / (MR + NV). With 32 registers 6 x 4 (2.4 FMAs a
    load) rather than 14 x 2 (1.75), whose time it took, alternated: g @ W.T (k = 16) 0.93,
    (512x300)@(300x1000) 0.93, 256^3 0.95, 1024^3 0.97, 2048^3 1.00. With 16, 6 x 2."""
    return max(((tile_rows(nv, registers), nv) for nv in (1, 2, 4, 8)),
               key=lambda tile: tile[0] * tile[1] / (tile[0] + tile[1]))


#: Tile rows and vectors: 6 x 4 vectors (6 x 64 float32) with AVX-512's 32 registers, 6 x 2
#: (6 x 16) with AVX2's 16.
MR_WIDE, NV_WIDE = wide_tile(target().vector_registers)
_micro_wide = microkernel(MR_WIDE, NV_WIDE, a_by_rows=False)


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
    pack(xbf, ld, b_rows, j0, min(nr, n - j0), pc, depth, nr, bp, at)


@njit(error_model="numpy")
def _wide_task(xa, a_rows, bp, c, kc, tasks, nc, nr, ap, t):
    """Task t of ``tasks``: its share of C's tiles (MR_WIDE x nr each) taken in order, row
    panel by row panel, as even as can be (a task may start or end within a row panel), slab
    by slab: pack the share's A micro-panels into ap (L2), then, for each stretch of nc
    columns (whose slab of B stays in L2), sweep each A micro-panel (kept in L1) over its
    tiles' B micro-panels. The first slab writes C, later ones add to it."""
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
            pack(xaf, xa.shape[1], a_rows, i0, min(MR_WIDE, m - i0), pc, depth, MR_WIDE, ap,
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


@njit(**JIT)
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


@njit(**SERIAL)
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


@njit(**PARALLEL)
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


def product(xa: np.ndarray, a_rows: bool, xb: np.ndarray, b_rows: bool, c: np.ndarray,
            lanes: int, parallel: bool) -> None:
    """c = op(A) @ op(B) with packed panels (row i of op(A) is xa[i] if a_rows else xa[:, i],
    column j of op(B) xb[j] if b_rows else xb[:, j]; ``lanes`` of C's dtype to a vector), on
    every thread if ``parallel``."""
    m, n = c.shape
    k = xa.shape[1] if a_rows else xa.shape[0]
    threads = get_num_threads() if parallel else 1
    kc, tasks, nc = blocking(m, k, n, c.dtype.itemsize, threads)
    nr = NV_WIDE * lanes
    b_size = packed_b_size(k, n, nr)
    b_size *= b_copies(b_size * c.dtype.itemsize, threads)
    buf = scratch(b_size + ap_size(m, k, kc, tasks), c.dtype)
    (wide_parallel if parallel else wide_serial)(xa, a_rows, xb, b_rows, buf[:b_size],
                                                 buf[b_size:], c, kc, tasks, nc, nr)
