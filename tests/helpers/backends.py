"""Which backends the tests run, and how large their generated inputs may be."""

from __future__ import annotations

import importlib
import os

#: Per backend: hypothesis examples per test, max rank, max side, max side of a dot.
BACKEND_LIMITS = {
    "naive": {"examples": 25, "dims": 3, "side": 4, "dot_side": 6},
    "numpy": {"examples": 60, "dims": 4, "side": 6, "dot_side": 40},
    "numba": {"examples": 60, "dims": 4, "side": 6, "dot_side": 70},
    "cuda": {"examples": 10, "dims": 3, "side": 4, "dot_side": 20},
}


def available_backends() -> list[str]:
    """naive, numpy and numba always; cuda on a GPU or under NUMBA_ENABLE_CUDASIM=1."""
    names = ["naive", "numpy", "numba"]
    try:
        cuda = importlib.import_module("toolkit.kernels.cuda")
    except ImportError:
        return names
    if cuda.is_available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        names.append("cuda")
    return names
