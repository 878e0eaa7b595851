"""What the numbers were measured on: CPU model, cores, SIMD features and cache sizes (and what
Numba compiles for, which NUMBA_CPU_NAME/FEATURES can change), library versions, and the BLAS
NumPy calls (with OpenBLAS's core type, which environment variables can force to a slower one)."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import numpy as np

from toolkit.kernels import cpu

from .ceilings import last_level_cache_bytes

#: OpenBLAS settings that change its speed; a fair BLAS ceiling runs with them unset.
BLAS_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                    "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def blas() -> list[dict[str, Any]]:
    """The BLAS libraries NumPy loaded, with version, threads and core type (threadpoolctl);
    where threadpoolctl is missing (a source tree run on another machine), NumPy's build
    configuration, which names the BLAS but not the core type chosen at run time."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        library = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return [{"internal_api": library.get("name", "unknown"),
                 "version": library.get("version", "unknown"),
                 "source": "numpy build configuration (install threadpoolctl for the core type)"}]
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "prefix")
    return [{key: info.get(key) for key in keys} for info in threadpool_info()
            if info.get("user_api") == "blas"]


def blas_environment() -> dict[str, str]:
    """The BLAS-related environment variables that are set (see BLAS_ENVIRONMENT)."""
    return {name: os.environ[name] for name in BLAS_ENVIRONMENT if name in os.environ}


def describe() -> dict[str, Any]:
    """Everything the JSON records about the machine and the software."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    versions = {}
    for package in ("numpy", "numba", "threadpoolctl", "cupy", "numba-cuda"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": cores,
        "cpu_count": os.cpu_count(),
        "last_level_cache_bytes": last_level_cache_bytes(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "blas": blas(),
        "blas_environment": blas_environment(),
        "simd": cpu.host_simd(),
        "cache_bytes": cpu.cache_sizes(),
        "numba_target": numba_target(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = round(os.getloadavg()[0], 2)
    try:
        import numba
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:
        pass
    return info


def numba_target() -> dict[str, Any] | None:
    """What the numba kernels are compiled for (cpu.Target), and the vector math library they
    call; None where the numba backend cannot be imported."""
    try:
        from toolkit.kernels import vmath
    except ImportError:
        return None
    return dict(cpu.target().describe(), vector_math=vmath.LIBRARY)


def simd_summary(info: dict[str, Any]) -> str:
    """One line: the CPU's SIMD features and caches, and what numba compiles for when it is
    not all of them (an AVX2 target on an AVX-512 machine, say)."""
    caches = ", ".join(f"{name} {cpu.size_text(size)}"
                       for name, size in info["cache_bytes"].items())
    line = f"SIMD {' '.join(info['simd']) or 'none'}; caches {caches}"
    target = info.get("numba_target")
    if target:
        line += (f"; numba compiles for {target['compiled_for']} ({target['vector_bits']}-bit "
                 f"vectors, {' '.join(target['simd'])}), vector math {target['vector_math']}")
    return line


def blas_summary(info: dict[str, Any]) -> str:
    """One line naming the BLAS, its core type and threads, and any variables that steer it."""
    parts = []
    for lib in info["blas"]:
        text = f"{lib.get('internal_api')} {lib.get('version')}"
        if lib.get("architecture"):
            text += f" (core type {lib['architecture']})"
        if lib.get("num_threads"):
            text += f", {lib['num_threads']} threads"
        parts.append(text)
    line = "; ".join(parts) or "unknown"
    if info["blas_environment"]:
        settings = " ".join(f"{k}={v}" for k, v in info["blas_environment"].items())
        line += f" -- set in the environment: {settings} (unset them for a fair BLAS ceiling)"
    return line


def load_warning(info: dict[str, Any]) -> str | None:
    """A warning when other processes keep the cores busy (the 1-minute load average is above
    the core count): every figure of the run is then noisier than usual."""
    load = info.get("load_average")
    if load is None or load <= info["cores"]:
        return None
    return (f"warning: load average {load:g} on {info['cores']} cores: other processes are "
            f"running, so the figures are noisy; compare ratios within this run only")
