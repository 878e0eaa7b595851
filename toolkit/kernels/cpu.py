"""The CPU the numba kernels are compiled for: its SIMD features, vector width, vector registers
and cache sizes. The matrix product picks its register tile and blocking from these, and the
vector math its vector width, so that kernels fit the machine they run on rather than the one
they were written on.

The features are the ones Numba hands to LLVM: the host's, or ``NUMBA_CPU_FEATURES`` when set
(with ``NUMBA_CPU_NAME``, to compile for another CPU, e.g. an AVX2-only one on an AVX-512 host:
``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=+avx,+avx2,+fma,...``). Cache sizes come from sysfs.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

#: The SIMD features worth naming beside a speed figure, in order of age.
NOTABLE = ("sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni",
           "avx512bf16", "avx512fp16", "amx-tile", "neon", "sve")
#: Bytes of a cache line (x86-64 and ARM64 alike): where buffers that kernels stream through start.
LINE = 64
#: Cache sizes assumed where the operating system does not tell (a common desktop core).
DEFAULT_CACHES = {"L1d": 32 << 10, "L2": 256 << 10, "L3": 8 << 20}


@dataclass(frozen=True)
class Target:
    """What the compiled kernels can count on."""

    cpu: str
    features: frozenset[str]
    #: bytes of one SIMD register the kernels use: 64 with AVX-512, 32 with AVX, else 16
    vector_bytes: int
    #: architectural SIMD registers: 32 with AVX-512 (and on AArch64), else 16
    vector_registers: int
    #: bytes of the level-1 data, level-2 and last-level caches one core sees
    caches: dict[str, int]

    def lanes(self, itemsize: int) -> int:
        """Elements of ``itemsize`` bytes in one vector (16 float32 with AVX-512)."""
        return max(1, self.vector_bytes // itemsize)

    @property
    def simd(self) -> list[str]:
        """The notable SIMD features present, e.g. ['sse4.2', 'avx', 'avx2', 'fma']."""
        return [name for name in NOTABLE if name in self.features]

    def describe(self) -> dict:
        """A JSON-ready record: what the benchmark files keep beside the figures."""
        return {"compiled_for": self.cpu, "simd": self.simd,
                "vector_bits": 8 * self.vector_bytes, "vector_registers": self.vector_registers,
                "cache_bytes": dict(self.caches)}

    def summary(self) -> str:
        """One line: 'emeraldrapids: 512-bit vectors, 32 registers; SIMD sse4.2 avx ...;
        caches L1d 48 KiB, L2 2 MiB, L3 300 MiB'."""
        caches = ", ".join(f"{name} {size_text(size)}" for name, size in self.caches.items())
        return (f"{self.cpu}: {8 * self.vector_bytes}-bit vectors, {self.vector_registers} "
                f"registers; SIMD {' '.join(self.simd) or 'none'}; caches {caches}")


def parse_features(text: str) -> frozenset[str]:
    """The enabled names of an LLVM feature string ('+avx2,-avx512f,...' -> {'avx2'})."""
    return frozenset(item[1:] for item in text.split(",") if item.startswith("+"))


def vector_shape(features: frozenset[str], machine: str) -> tuple[int, int]:
    """(vector bytes, vector registers) for these features on this machine type."""
    if machine in ("x86_64", "amd64", "i386", "i686"):
        if "avx512f" in features:
            return 64, 32
        if "avx" in features:
            return 32, 16
        return 16, 16
    return 16, 32  # AArch64 NEON, POWER VSX: 128-bit vectors, 32 registers


def cache_sizes(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[str, int]:
    """L1d, L2 and L3 bytes one core sees (sysfs, else sysconf, else DEFAULT_CACHES)."""
    found: dict[str, int] = {}
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            text = (index / "size").read_text().strip().upper()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        found["L1d" if level == 1 else f"L{level}"] = int(text.rstrip("KMG")) * scale
    for name, key in (("L1d", "SC_LEVEL1_DCACHE_SIZE"), ("L2", "SC_LEVEL2_CACHE_SIZE"),
                      ("L3", "SC_LEVEL3_CACHE_SIZE")):
        if name not in found and hasattr(os, "sysconf"):
            try:
                if os.sysconf(key) > 0:
                    found[name] = os.sysconf(key)
            except (ValueError, OSError):
                pass
    return {name: found.get(name, DEFAULT_CACHES[name]) for name in DEFAULT_CACHES}


@functools.cache
def target() -> Target:
    """The target of this process's numba kernels (NUMBA_CPU_NAME/FEATURES honoured)."""
    import llvmlite.binding as llvm
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    features = parse_features(config.CPU_FEATURES if config.CPU_FEATURES is not None
                              else get_host_cpu_features())
    vector_bytes, registers = vector_shape(features, platform.machine().lower())
    return Target(config.CPU_NAME or llvm.get_host_cpu_name(), features, vector_bytes,
                  registers, cache_sizes())


def host_simd() -> list[str]:
    """The notable SIMD features of the CPU itself (whatever Numba is told to compile for)."""
    import llvmlite.binding as llvm

    return [name for name in NOTABLE
            if name in parse_features(llvm.get_host_cpu_features().flatten())]


def size_text(nbytes: int) -> str:
    """``48 KiB``, ``2 MiB``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale and nbytes % scale == 0:
            return f"{nbytes // scale} {unit}"
    return f"{nbytes} B"
