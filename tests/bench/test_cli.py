"""`toolkit bench` end to end through click's CliRunner, on tiny sizes and one repeat."""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys

import pytest
from click.testing import CliRunner

from toolkit.bench import ceilings, gpu
from toolkit.bench.cli import bench
from toolkit.cli import main


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


CPU = "naive,numpy" + (",numba" if _importable("toolkit.kernels.numba_cpu") else "")


@pytest.fixture(autouse=True)
def small_ceilings(monkeypatch):
    """The roofs measured on small arrays, so that each run takes a fraction of a second."""
    monkeypatch.setattr(ceilings, "copy_bytes", lambda: 2**22)
    monkeypatch.setattr(ceilings, "blas_matmul",
                        functools.partial(ceilings.blas_matmul, sizes=(128,), trials=1))


def _bench(*args):
    return CliRunner().invoke(bench, list(args), catch_exceptions=False)


def test_table_json_and_plot(tmp_path):
    out = tmp_path / "deep" / "er"
    result = _bench("--ops", "relu,add_broadcast,dot", "--backends", CPU,
                    "--sizes", "2^8", "--sizes", "add_broadcast:4x3x2+3x2,2^10",
                    "--sizes", "dot:8", "--repeats", "1", "--json", str(out / "b.json"),
                    "--plot", str(out / "b.png"), "--table", str(out / "b.txt"))
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("op "))
    for column in ("op", "backend", "size", "median", "rate", "speedup", "% of ceiling",
                   "first call"):
        assert column in header
    assert "copy" in result.output and "blas" in result.output and "BLAS: " in result.output
    assert f"JSON:  {out / 'b.json'}" in result.output
    assert f"plot:  {out / 'b.png'}" in result.output

    record = json.loads((out / "b.json").read_text())
    backends = CPU.split(",")
    assert len(record["rows"]) == (1 + 2 + 1) * len(backends)
    assert {r["op"] for r in record["rows"]} == {"relu", "add_broadcast", "dot"}
    broadcasts = {r["size"] for r in record["rows"] if r["op"] == "add_broadcast"}
    assert broadcasts == {"4x3x2+3x2", "2^10"}
    for row in record["rows"]:
        assert row["median_s"] > 0 and row["first_call_s"] > 0 and row["speedup_over"] == "naive"
        assert row["percent_of_ceiling"] > 0
    assert record["ceilings"]["cpu"]["memory"]["unit"] == "GB/s"
    assert record["ceilings"]["cpu"]["compute"]["unit"] == "GFLOP/s"
    assert record["machine"]["cores"] >= 1 and record["machine"]["blas"]
    assert set(record["machine"]["cache_bytes"]) == {"L1d", "L2", "L3"}
    assert "sse4.2" in record["machine"]["simd"] or "neon" in record["machine"]["simd"]
    assert record["gpu"]["present"] is False

    png = (out / "b.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    machine_line, blas_line, _, table_header = (out / "b.txt").read_text().splitlines()[:4]
    assert "SIMD " in machine_line and "caches L1d" in machine_line
    assert blas_line.startswith("BLAS: ") and table_header.startswith("op ")


def test_naive_over_budget_is_skipped_and_shown():
    result = _bench("--ops", "dot", "--backends", "naive,numpy", "--sizes", "4,200",
                    "--repeats", "1", "--naive-budget", "0.05")
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if "skipped (would take ~" in line]
    assert len(skipped) == 1 and "naive" in skipped[0] and "n=200" in skipped[0]
    numpy_row = next(line for line in result.output.splitlines()
                     if "numpy" in line and "n=200" in line)
    assert "vs numpy" in numpy_row


@pytest.mark.parametrize("args, message", [
    (["--ops", "relu,conv"], "unknown op 'conv'; choose from relu, relu_grad, add"),
    (["--backends", "numpy,gpu"], "unknown backend 'gpu'; choose from naive, numpy, numba, cuda"),
    (["--ops", "relu", "--sizes", "big"], "bad size 'big'"),
    (["--ops", "dot", "--sizes", "3x4+5x6"], "(3, 4) and (5, 6)"),
    (["--sizes", "conv:12"], "unknown op 'conv'"),
    (["--sizes", "dot:"], "names no size"),
])
def test_bad_options_exit_2_with_one_clear_line(args, message):
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output


def test_cuda_without_a_gpu_says_so(tmp_path):
    alone = _bench("--backends", "cuda")
    assert alone.exit_code == 0
    assert "no GPU present: cuda rows skipped" in alone.output
    with_cpu = _bench("--ops", "relu", "--backends", "numpy,cuda", "--sizes", "64",
                      "--repeats", "1")
    assert with_cpu.exit_code == 0, with_cpu.output
    assert "no GPU present: cuda rows skipped" in with_cpu.output
    assert any(line.startswith("relu  numpy") for line in with_cpu.output.splitlines())


def test_the_toolkit_group_finds_bench():
    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0
    assert "OPENBLAS_CORETYPE" in result.output and "--quick" in result.output


@pytest.mark.skipif(not _importable("toolkit.kernels.cuda"), reason="no cuda backend")
def test_gpu_rows_and_roofs_flow_under_the_simulator(monkeypatch, tmp_path):
    """The GPU path end to end, with the simulator standing in for the device it refuses."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.skip("needs Numba's CUDA simulator")
    cuda = importlib.import_module("toolkit.kernels.cuda")
    monkeypatch.setattr(gpu, "cuda_backend", lambda: (cuda, ""))
    monkeypatch.setattr(gpu, "copy_bandwidth", functools.partial(gpu.copy_bandwidth, nbytes=4096))
    monkeypatch.setitem(sys.modules, "cupy", None)
    result = _bench("--ops", "relu,dot", "--backends", "numpy,cuda", "--sizes", "64",
                    "--sizes", "dot:4", "--repeats", "1", "--json", str(tmp_path / "g.json"))
    assert result.exit_code == 0, result.output
    assert "device_copy" in result.output and "to/from device" in result.output
    assert "no cuBLAS ceiling: CuPy is not installed" in result.output
    record = json.loads((tmp_path / "g.json").read_text())
    assert record["gpu"]["present"] is True and "memory" in record["ceilings"]["gpu"]
    cuda_rows = [r for r in record["rows"] if r["backend"] == "cuda"]
    assert len(cuda_rows) == 2 and all(r["device"] == "gpu" for r in cuda_rows)
    assert all(r["to_device_s"] > 0 and r["to_host_s"] > 0 for r in cuda_rows)
    relu = next(r for r in cuda_rows if r["op"] == "relu")
    dot = next(r for r in cuda_rows if r["op"] == "dot")
    assert relu["ceiling"] == "device_copy" and dot["percent_of_ceiling"] is None
