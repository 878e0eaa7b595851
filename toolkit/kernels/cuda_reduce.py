"""Reductions on the GPU: row-wise stable softmax and sum, each a shared-memory tree reduction.

softmax gives one block to each row: the threads stride along the row for its maximum (NaN wins,
as in NumPy), reduce it in shared memory, then do the same for the sum of exp(x - max), and write
exp(x - max) / sum. sum over the last axis is the same one-block-per-row reduction; over all
elements it is two passes (per-block partial sums, then one block over the partials); over an
inner axis each thread adds one output element's column, consecutive threads reading consecutive
addresses.
"""

from __future__ import annotations

import math

from numba import cuda

#: Threads per block (a power of two) and so the size of the shared reduction buffer.
MAX_THREADS = 256


@cuda.jit(device=True)
def _tree_max(shared, t, value):
    """The block's maximum of ``value`` (NaN wins), returned to every thread."""
    shared[t] = value
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            other = shared[t + s]
            if other > shared[t] or other != other:
                shared[t] = other
        cuda.syncthreads()
        s //= 2
    result = shared[0]
    cuda.syncthreads()
    return result


@cuda.jit(device=True)
def _tree_sum(shared, t, value):
    """The block's sum of ``value``, returned to every thread."""
    shared[t] = value
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            shared[t] += shared[t + s]
        cuda.syncthreads()
        s //= 2
    result = shared[0]
    cuda.syncthreads()
    return result


def softmax_kernel(x, out, cols, zero):
    """Row blockIdx.x of the (rows, cols) array x: exp(x - max) / sum, computed stably."""
    shared = cuda.shared.array(MAX_THREADS, dtype=out.dtype)
    t = cuda.threadIdx.x
    base = cuda.blockIdx.x * cols
    top = x[base]
    j = t
    while j < cols:
        v = x[base + j]
        if v > top or v != v:
            top = v
        j += cuda.blockDim.x
    top = _tree_max(shared, t, top)
    total = zero
    j = t
    while j < cols:
        total += math.exp(x[base + j] - top)
        j += cuda.blockDim.x
    total = _tree_sum(shared, t, total)
    j = t
    while j < cols:
        out[base + j] = math.exp(x[base + j] - top) / total
        j += cuda.blockDim.x


def sum_rows_kernel(x, out, cols, zero):
    """out[r] = the sum of row blockIdx.x of the (rows, cols) array x."""
    shared = cuda.shared.array(MAX_THREADS, dtype=out.dtype)
    t = cuda.threadIdx.x
    base = cuda.blockIdx.x * cols
    total = zero
    j = t
    while j < cols:
        total += x[base + j]
        j += cuda.blockDim.x
    total = _tree_sum(shared, t, total)
    if t == 0:
        out[cuda.blockIdx.x] = total


def sum_partial_kernel(x, partial, zero):
    """partial[block] = the sum of the elements this block's threads visit in a grid-stride loop."""
    shared = cuda.shared.array(MAX_THREADS, dtype=partial.dtype)
    t = cuda.threadIdx.x
    total = zero
    i = cuda.grid(1)
    while i < x.size:
        total += x[i]
        i += cuda.gridsize(1)
    total = _tree_sum(shared, t, total)
    if t == 0:
        partial[cuda.blockIdx.x] = total


def sum_axis_kernel(x, out, length, inner, zero):
    """out[o, q] = sum over p of x[o, p, q], x viewed as (outer, length, inner): one thread for
    each output element, so a warp reads consecutive q."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < out.size:
        o = i // inner
        q = i - o * inner
        base = o * length * inner + q
        total = zero
        for p in range(length):
            total += x[base + p * inner]
        out[i] = total
        i += stride
