"""Explicit SIMD for the numba kernels: Numba intrinsics that emit LLVM vector instructions of the
target's full width (cpu.target), where LLVM's loop vectorizer would not.

LLVM's vectorizer keeps accumulators only as vectors of partial sums along a loop, and on recent
Intel cores it prefers 256-bit vectors even where AVX-512 doubles the arithmetic. A register tile
of a matrix product wants the opposite arrangement: vectors across the columns of C, held in
registers for the whole k loop. The intrinsics here write such loops in LLVM IR directly:

- ``vectors``: the building blocks they share (vector types, splats, FMAs, prefetches, masked
  loads and stores) and ``lanes_of``;
- ``tile``: the matrix product's register tile (``microkernel``);
- ``transpose``: blocks transposed in registers (``transpose_block``) and short runs copied under
  lane masks (``copy_vector``), for packing;
- ``sparse_rows``: CSR rows against a dense matrix (``gather_rows_sum``, ``scatter_rows_add``);
- ``reductions``: the largest element (``vector_max``).

Numba's on-disk cache checks only the source file of each cached kernel, not the modules it
calls into; kernels/jit.py stamps every kernel with all the package's sources, so that an edit
here recompiles the kernels built on it.
"""
