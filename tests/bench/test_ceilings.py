"""Rates, roofline percentages and speedups against hand-computed cases; the roofs measured."""

from __future__ import annotations

import pytest

from toolkit.bench import ceilings
from toolkit.bench.ceilings import Ceiling, percent_of, rate
from toolkit.bench.runner import Row, rate_rows

COPY = Ceiling("copy", 20.0, "GB/s", "by hand")
BLAS = Ceiling("blas", 100.0, "GFLOP/s", "by hand")
ROOFS = {"cpu": {"memory": COPY, "compute": BLAS}}


def test_rate_is_bytes_or_flops_per_second():
    assert rate(2_000_000_000, None, "memory", 0.5) == pytest.approx(4.0)
    assert rate(1, 3_000_000_000, "compute", 2.0) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="flop count"):
        rate(1, None, "compute", 1.0)


def test_percent_of_a_ceiling():
    assert percent_of(15.0, COPY) == pytest.approx(75.0)
    assert percent_of(15.0, None) is None


def _row(op, backend, size, median, bound="memory", nbytes=0, flops=None, device="cpu"):
    return Row(op=op, backend=backend, size=size, x=1, shapes=[], dtype="float32", bound=bound,
               bytes=nbytes, flops=flops, device=device, median_s=median)


def test_relu_of_2_26_elements_against_copy_bandwidth():
    # 2^26 float32 in and out is 536,870,912 bytes; in 40 ms that is 13.42 GB/s, 67.1% of 20
    row = _row("relu", "numba", "2^26", 0.040, nbytes=2 * 2**26 * 4)
    naive = _row("relu", "naive", "2^26", 80.0, nbytes=2 * 2**26 * 4)
    rate_rows([row, naive], ROOFS)
    assert row.rate == pytest.approx(13.4217728) and row.unit == "GB/s"
    assert row.percent_of_ceiling == pytest.approx(67.108864) and row.ceiling == "copy"
    assert row.speedup == pytest.approx(2000.0) and row.speedup_over == "naive"


def test_dot_against_blas_and_over_numpy_when_naive_was_skipped():
    # n = 1024: 2 * 1024^3 = 2,147,483,648 flops; in 50 ms that is 42.95 GFLOP/s, 42.9% of 100
    flops = 2 * 1024**3
    numba = _row("dot", "numba", "n=1024", 0.050, "compute", flops=flops)
    numpy = _row("dot", "numpy", "n=1024", 0.025, "compute", flops=flops)
    naive = _row("dot", "naive", "n=1024", None, "compute", flops=flops)
    naive.skipped, naive.estimate_s = "over the naive time budget", 900.0
    rate_rows([naive, numpy, numba], ROOFS)
    assert numba.rate == pytest.approx(42.94967296) and numba.unit == "GFLOP/s"
    assert numba.percent_of_ceiling == pytest.approx(42.94967296)
    assert numba.speedup == pytest.approx(0.5) and numba.speedup_over == "numpy"
    assert naive.rate is None and naive.speedup is None


def test_gpu_rows_use_the_gpu_roof_and_have_none_without_it():
    gpu_roofs = dict(ROOFS, gpu={"memory": Ceiling("device_copy", 2000.0, "GB/s", "by hand")})
    relu = _row("relu", "cuda", "2^28", 0.001, nbytes=2 * 10**9, device="gpu")
    dot = _row("dot", "cuda", "n=4096", 0.01, "compute", flops=10**12, device="gpu")
    rate_rows([relu, dot], gpu_roofs)
    assert relu.percent_of_ceiling == pytest.approx(100.0) and relu.ceiling == "device_copy"
    assert dot.rate == pytest.approx(100_000.0) and dot.percent_of_ceiling is None


def test_copy_bandwidth_and_blas_are_measured():
    copy = ceilings.copy_bandwidth(nbytes=2**22, trials=2)
    assert copy.unit == "GB/s" and copy.value > 0 and "4 MiB" in copy.how
    new = ceilings.new_array_copy_bandwidth(nbytes=2**22, trials=2)
    assert new.value > 0
    blas = ceilings.blas_matmul(sizes=(64, 96), trials=1)
    assert blas.unit == "GFLOP/s" and blas.value > 0 and "n=64, 96" in blas.how


def test_copy_size_is_beyond_the_cache():
    assert ceilings.copy_bytes() >= max(ceilings.MIN_COPY_BYTES,
                                        8 * ceilings.last_level_cache_bytes())
    assert ceilings.last_level_cache_bytes() >= 0


def test_the_higher_of_two_rounds_is_the_roof():
    low = Ceiling("copy", 7.0, "GB/s", "np.copyto")
    high = Ceiling("copy", 19.0, "GB/s", "np.copyto")
    assert ceilings.best(low, high).value == 19.0 == ceilings.best(high, low).value
    assert "before and after" in ceilings.best(low, high).how

