"""The GPU's part of the bench: whether a real GPU is there, and its two roofs measured in the
same run, device-to-device copy bandwidth (numba.cuda) and cuBLAS SGEMM with TF32 off (CuPy,
when it is installed). Every GPU import is guarded: the toolkit never needs one."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from .ceilings import Ceiling
from .timing import timed

#: The issue's relu size on the device, 2^28 float32 elements: far beyond any GPU's L2 cache.
DEVICE_COPY_BYTES = 2**30
SGEMM_SIZES = (4096,)


def cuda_backend() -> tuple[ModuleType | None, str]:
    """The ``cuda`` backend module when a real GPU can run it, else None and the reason."""
    try:
        cuda = importlib.import_module("toolkit.kernels.cuda")
    except ImportError as error:
        return None, f"the cuda backend cannot be imported ({error})"
    if _simulator():
        return None, "Numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1), so no real GPU"
    try:
        available = cuda.is_available()
    except Exception as error:  # noqa: BLE001 - a broken CUDA driver or library counts as no GPU
        return None, f"the CUDA driver is not usable ({error})"
    if not available:
        return None, "numba.cuda finds no CUDA device"
    return cuda, ""


def _simulator() -> bool:
    try:
        from numba import config
    except ImportError:
        return False
    return bool(getattr(config, "ENABLE_CUDASIM", False))


def device_info() -> dict[str, Any]:
    """The current device's name, compute capability and memory (what numba.cuda reports)."""
    from numba import cuda
    device = cuda.get_current_device()
    name = getattr(device, "name", "unknown")
    info: dict[str, Any] = {
        "name": name.decode() if isinstance(name, bytes) else str(name),
        "compute_capability": list(getattr(device, "compute_capability", ())),
    }
    try:
        free, total = cuda.current_context().get_memory_info()
        info["memory_bytes"] = int(total)
    except Exception:  # noqa: BLE001 - the simulator and some drivers do not say
        pass
    return info


def copy_bandwidth(nbytes: int = DEVICE_COPY_BYTES, trials: int = 5) -> Ceiling:
    """Best-of-``trials`` GB/s of a device-to-device copy of ``nbytes`` (read + write counted)."""
    from numba import cuda
    n = nbytes // 4
    src = cuda.device_array(n, np.float32)  # what the bytes hold does not change the copy's speed
    dst = cuda.device_array(n, np.float32)
    dst.copy_to_device(src)
    cuda.synchronize()
    best = min(timed(lambda: dst.copy_to_device(src), cuda.synchronize) for _ in range(trials))
    return Ceiling("device_copy", 2 * n * 4 / best / 1e9, "GB/s",
                   f"numba.cuda device-to-device copy of {n * 4 / 2**20:.0f} MiB, best of {trials}")


def import_cupy() -> tuple[ModuleType | None, str]:
    """CuPy with TF32 off, or None and why it is not there."""
    os.environ["CUPY_TF32"] = "0"
    os.environ["NVIDIA_TF32_OVERRIDE"] = "0"
    try:
        import cupy
    except ImportError as error:
        return None, f"CuPy is not installed ({error.name or error})"
    except Exception as error:  # noqa: BLE001 - CuPy present but its CUDA libraries are not
        return None, f"CuPy cannot start ({error})"
    return cupy, ""


def cublas_sgemm(sizes: tuple[int, ...] = SGEMM_SIZES,
                 trials: int = 3) -> tuple[Ceiling | None, str]:
    """The best FP32 GFLOP/s of cuBLAS SGEMM (CuPy's matmul, TF32 off) over n x n ``sizes``,
    or None and why it could not be measured."""
    cupy, why = import_cupy()
    if cupy is None:
        return None, why
    try:
        handle = cupy.cuda.device.get_cublas_handle()
        cupy.cuda.cublas.setMathMode(handle, cupy.cuda.cublas.CUBLAS_DEFAULT_MATH)
        best = 0.0
        for n in sizes:
            a = cupy.random.standard_normal((n, n), dtype=cupy.float32)
            b = cupy.random.standard_normal((n, n), dtype=cupy.float32)
            out = cupy.matmul(a, b)
            check_fp32(cupy.asnumpy(a[:64]), cupy.asnumpy(b), cupy.asnumpy(out[:64]))
            sync = cupy.cuda.Device().synchronize
            seconds = min(timed(lambda: cupy.matmul(a, b, out=out), sync) for _ in range(trials))
            best = max(best, 2 * n**3 / seconds / 1e9)
    except Exception as error:  # noqa: BLE001 - a CUDA error in CuPy: report it, not the roof
        return None, f"cuBLAS SGEMM through CuPy failed ({error})"
    names = ", ".join(map(str, sizes))
    return Ceiling("cublas", best, "GFLOP/s",
                   f"cuBLAS SGEMM (CuPy matmul, TF32 off) n={names}, best of {trials} each"), ""


def check_fp32(a: np.ndarray, b: np.ndarray, product: np.ndarray) -> None:
    """RuntimeError unless ``product`` is a @ b to FP32 accuracy: TF32's 10-bit mantissa errs
    by about 1e-3 of the result's scale, FP32 by about 1e-6."""
    reference = a.astype(np.float64) @ b.astype(np.float64)
    error = np.max(np.abs(product - reference)) / np.max(np.abs(reference))
    if error > 1e-4:
        raise RuntimeError(f"SGEMM's relative error is {error:.1e}: TF32 seems to be on")
