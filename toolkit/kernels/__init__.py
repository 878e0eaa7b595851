"""The tensor operations, once per backend: ``naive`` (Python loops), ``numpy`` (vectorized),
``numba`` (compiled for the CPU) and ``cuda`` (compiled for an NVIDIA GPU).

>>> from toolkit.kernels import get_backend
>>> get_backend("numba").relu(x)
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .backend import MEMORY, OPS, Backend, is_backend

#: Backend names and the modules that implement them.
BACKENDS = {
    "naive": "toolkit.kernels.naive",
    "numpy": "toolkit.kernels.numpy",
    "numba": "toolkit.kernels.numba_cpu",
    "cuda": "toolkit.kernels.cuda",
}


def get_backend(backend: str | ModuleType = "numpy") -> ModuleType:
    """The backend module named ``backend`` (or ``backend`` itself if it already is one)."""
    if isinstance(backend, ModuleType) and is_backend(backend):
        return backend
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown backend {backend!r}; choose one of {', '.join(sorted(BACKENDS))}"
        )
    return importlib.import_module(BACKENDS[backend])


__all__ = ["BACKENDS", "MEMORY", "OPS", "Backend", "get_backend", "is_backend"]
