"""Memory functions of the CPU backends (naive, numpy, numba): their arrays are NumPy arrays."""

from __future__ import annotations

import numpy as np


def asarray(x, dtype=None) -> np.ndarray:
    """``x`` as a NumPy array (no copy when it already is one of that dtype)."""
    return np.asarray(x, dtype=dtype)


def to_numpy(x) -> np.ndarray:
    """``x`` as a NumPy array."""
    return np.asarray(x)


def zeros(shape, dtype=np.float32) -> np.ndarray:
    """A new array of zeros."""
    return np.zeros(shape, dtype=dtype)
