"""Packing for the numba GEMM: an operand's block copied into the layout the register tile reads,
zero-padded at the edges, along k by register transposes where the operand's rows run along k;
and the memory it is packed into, kept by each thread between products."""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from ..cpu import LINE
from ..jit import SERIAL
from ..simd.transpose import copy_vector, transpose_block
from ..simd.vectors import lanes_of


@njit(error_model="numpy", inline="always")
def pack(xf, ld, along_k, r0, rows, pc, kc, width, out, o0):
    """out[o0 + p * width + r] = X(r0 + r, pc + p) for r < rows (0 for rows <= r < width),
    p < kc, where x is xf's rows of ld elements and X(r, p) = x[r, p] if along_k (x's rows run
    along k: transposed in registers, lanes x lanes at a time) else x[p, r] (a vector at a
    time); the blocks at the edges under lane masks. Inlined: a call per micro-panel would cost
    as much as the transposes."""
    lanes = lanes_of(out)
    if along_k:
        for r in range(0, width, lanes):
            for p in range(0, kc, lanes):
                transpose_block(xf, (r0 + r) * ld + pc + p, ld, max(0, min(lanes, rows - r)),
                                min(lanes, kc - p), out, o0 + p * width + r, width,
                                min(lanes, width - r))
    else:
        for p in range(kc):
            s0, d0 = (pc + p) * ld + r0, o0 + p * width
            for r in range(0, width, lanes):
                copy_vector(xf, s0 + r, max(0, min(lanes, rows - r)), out, d0 + r,
                            min(lanes, width - r))


@njit(**SERIAL)
def pack_panels(x, along_k, rows, k, width, out):
    """out = X's first ``rows`` rows over all of k in panels of ``width`` rows (each k x
    width, zero-padded), where X(r, p) = x[r, p] if along_k else x[p, r] (see pack)."""
    xf = x.reshape(-1)
    for r0 in range(0, rows, width):
        pack(xf, x.shape[1], along_k, r0, min(width, rows - r0), 0, k, width, out, r0 * k)



#: The most packing memory a thread keeps between products.
SCRATCH_MAX_BYTES = 1 << 28
_kept = threading.local()


def scratch(size: int, dtype: np.dtype) -> np.ndarray:
    """``size`` elements of packing memory that this thread keeps between products (fresh
    memory would cost a page fault per 4 KiB), starting on a cache line: the tiles load whole
    vectors of the panels, which would otherwise straddle two lines."""
    nbytes = size * dtype.itemsize
    lines = getattr(_kept, "lines", None)  # the kept buffer from its first line on
    if lines is None or lines.nbytes < nbytes:
        buf = np.empty(nbytes + LINE, np.uint8)
        lines = buf[-buf.ctypes.data % LINE:]
        if nbytes <= SCRATCH_MAX_BYTES:
            _kept.lines = lines
    return lines[:nbytes].view(dtype)
