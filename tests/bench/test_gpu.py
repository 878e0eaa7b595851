"""The GPU part's control flow, run under Numba's CUDA simulator where there is no GPU."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from toolkit.bench import gpu

no_gpu = pytest.mark.skipif(os.path.exists("/dev/nvidiactl"), reason="a real GPU is present")


@no_gpu
def test_no_real_gpu_means_no_cuda_backend_and_says_why():
    module, why = gpu.cuda_backend()
    assert module is None
    assert why  # the simulator, a missing module or no GPU: never silent


@no_gpu
def test_the_simulator_is_not_taken_for_a_gpu(monkeypatch):
    from numba import config
    monkeypatch.setattr(config, "ENABLE_CUDASIM", True, raising=False)
    module, why = gpu.cuda_backend()
    assert module is None and ("simulator" in why or "cannot be imported" in why)


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs the simulator")
def test_device_copy_bandwidth_and_info_under_the_simulator():
    copy = gpu.copy_bandwidth(nbytes=4096, trials=2)
    assert copy.name == "device_copy" and copy.unit == "GB/s" and copy.value > 0
    assert "device-to-device" in copy.how
    info = gpu.device_info()
    assert isinstance(info["name"], str) and info["name"]


def test_no_cupy_means_no_cublas_ceiling_and_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy now raises ImportError
    ceiling, why = gpu.cublas_sgemm(sizes=(8,), trials=1)
    assert ceiling is None and "CuPy is not installed" in why
    assert os.environ["CUPY_TF32"] == "0" and os.environ["NVIDIA_TF32_OVERRIDE"] == "0"


def test_fp32_products_pass_the_tf32_check():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 512), dtype=np.float32)
    b = rng.standard_normal((512, 256), dtype=np.float32)
    gpu.check_fp32(a, b, a @ b)


def test_tf32_products_fail_the_tf32_check():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 512), dtype=np.float32)
    b = rng.standard_normal((512, 256), dtype=np.float32)

    def tf32(x):  # keep 10 of float32's 23 mantissa bits, as TF32 tensor cores read operands
        return (x.view(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32)

    with pytest.raises(RuntimeError, match="TF32"):
        gpu.check_fp32(a, b, tf32(a) @ tf32(b))
