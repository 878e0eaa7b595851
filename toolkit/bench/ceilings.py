"""The machine's limits, measured in the same run as the kernels (a roofline's two roofs): memory
copy bandwidth for the memory-bound ops, NumPy's BLAS matmul for ``dot``. Each kernel row is then
a percentage of the roof that bounds it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from toolkit.kernels.cpu import cache_sizes

from .timing import timed

#: Below this the copy would run in cache, not memory.
MIN_COPY_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Ceiling:
    """One roof: its value, its unit (GB/s or GFLOP/s) and how it was measured."""

    name: str
    value: float
    unit: str
    how: str

    def to_dict(self) -> dict:
        return asdict(self)


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache one core sees."""
    return max(cache_sizes().values())


def copy_bytes() -> int:
    """Bytes of each array of the copy test: 8 times the last-level cache, at least 256 MiB."""
    return max(MIN_COPY_BYTES, 8 * last_level_cache_bytes())


def copy_bandwidth(nbytes: int | None = None, trials: int = 5) -> Ceiling:
    """Best-of-``trials`` GB/s of ``np.copyto`` between two arrays of ``nbytes`` (read + write
    bytes counted, as STREAM's copy does)."""
    nbytes = copy_bytes() if nbytes is None else nbytes
    src = np.ones(nbytes // 4, np.float32)
    dst = np.zeros_like(src)  # zeros_like touches every page before the clock starts
    best = min(timed(lambda: np.copyto(dst, src)) for _ in range(trials))
    return Ceiling("copy", 2 * src.nbytes / best / 1e9, "GB/s",
                   f"np.copyto of {src.nbytes / 2**20:.0f} MiB into an existing array, "
                   f"best of {trials}")


def new_array_copy_bandwidth(nbytes: int | None = None, trials: int = 5) -> Ceiling:
    """Best-of-``trials`` GB/s of ``np.copy`` (a fresh result array each time, as every op
    returns one): the cost of the operating system's page faults shows as the gap to
    :func:`copy_bandwidth`."""
    nbytes = copy_bytes() if nbytes is None else nbytes
    src = np.ones(nbytes // 4, np.float32)
    best = min(timed(lambda: np.copy(src)) for _ in range(trials))
    return Ceiling("copy_new", 2 * src.nbytes / best / 1e9, "GB/s",
                   f"np.copy of {src.nbytes / 2**20:.0f} MiB into a new array, best of {trials}")


def blas_matmul(sizes: tuple[int, ...] = (1024, 2048), dtype=np.float32,
                trials: int = 3) -> Ceiling:
    """The best GFLOP/s of ``np.matmul`` on n x n matrices over ``sizes`` (best of ``trials``
    each): the BLAS NumPy is linked with (OpenBLAS for the wheels)."""
    rng = np.random.default_rng(0)
    best = 0.0
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=dtype)
        b = rng.standard_normal((n, n), dtype=dtype)
        out = np.empty((n, n), dtype)
        np.matmul(a, b, out=out)
        seconds = min(timed(lambda: np.matmul(a, b, out=out)) for _ in range(trials))
        best = max(best, 2 * n**3 / seconds / 1e9)
    names = ", ".join(map(str, sizes))
    return Ceiling("blas", best, "GFLOP/s",
                   f"np.matmul {np.dtype(dtype).name} n={names}, best of {trials} each")


def best(first: Ceiling, second: Ceiling) -> Ceiling:
    """The higher of two measurements of one roof: taken before and after the kernels, so that
    a moment of load from other processes cannot lower the roof alone."""
    top = max(first, second, key=lambda c: c.value)
    return replace(top, how=f"{top.how}, before and after the kernels")


def rate(bytes_moved: int, flops: int | None, bound: str, seconds: float) -> float:
    """GB/s for a memory-bound op, GFLOP/s for a compute-bound one."""
    if bound == "compute":
        if flops is None:
            raise ValueError("a compute-bound op needs a flop count")
        return flops / seconds / 1e9
    return bytes_moved / seconds / 1e9


def percent_of(achieved: float, ceiling: Ceiling | None) -> float | None:
    """``achieved`` as a percentage of ``ceiling`` (None when the roof was not measured)."""
    if ceiling is None or ceiling.value <= 0:
        return None
    return 100.0 * achieved / ceiling.value
