"""Sparse first operands of ``dot``: scipy.sparse CSR matrices, as multi-hot text comes (an IMDB
review sets 131 of 10,000 words on average, 98.7% zeros). The CPU backends that declare
``accepts_sparse`` (numpy, numba) multiply a CSR matrix, or its transpose, by a dense array in
time proportional to its nonzeros: a Dense layer's forward pass x @ W and its gradient x.T @ g.

The checks here give those backends one behaviour and one set of error messages; scipy itself is
imported only when a sparse matrix is actually met.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import binary_dtype, dot_shape


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy.sparse matrix or array (told without importing scipy)."""
    return type(x).__module__.startswith("scipy.sparse")


def as_csr(op: str, x: Any) -> Any:
    """``x`` as a 2-D CSR matrix (converted from another sparse format if need be), or
    ValueError naming the shape."""
    if len(x.shape) != 2:
        raise ValueError(f"{op}: a sparse operand must be 2-D, got shape {x.shape}")
    return x if x.format == "csr" else x.tocsr()


def sparse_operands(a: Any, b: Any, trans_a: bool, trans_b: bool
                    ) -> tuple[Any, np.ndarray, np.dtype, tuple[int, int, int]]:
    """(a as CSR, op(b) as a C-contiguous array, the result dtype, (m, k, n)) for
    op(a) @ op(b) with a sparse; TypeError when b is sparse too."""
    if is_sparse(b):
        raise TypeError("dot: only the first operand may be sparse; convert the second with "
                        "b.toarray()")
    a, b = as_csr("dot", a), np.asarray(b)
    dtype = binary_dtype("dot", a.data, b)
    shape = dot_shape(a.shape, b.shape, trans_a, trans_b)
    return a, np.ascontiguousarray(b.T if trans_b else b, dtype=dtype), dtype, shape


def refuse(backend: str) -> TypeError:
    """The error of a backend that takes dense arrays only."""
    return TypeError(f"dot: the {backend} backend takes dense arrays; multiply sparse input on "
                     f"the numpy or numba backend, or convert it with x.toarray()")
