"""What the kernels learn about the CPU: features as Numba hands them to LLVM (NUMBA_CPU_FEATURES
honoured), the vector width and register count that follow, and cache sizes from sysfs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from toolkit.bench import machine
from toolkit.kernels import cpu
from toolkit.kernels.numba_gemm import wide
from toolkit.kernels.simd.tile import tile_rows

HASWELL = "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fxsr,+popcnt,+sse,+sse2," \
          "+sse3,+sse4.1,+sse4.2,+ssse3,+xsave,-avx512f"


def test_features_and_vector_shapes():
    features = cpu.parse_features(HASWELL)
    assert {"avx2", "fma", "sse4.2"} <= features and "avx512f" not in features
    assert cpu.vector_shape(features, "x86_64") == (32, 16)
    assert cpu.vector_shape(features | {"avx512f"}, "x86_64") == (64, 32)
    assert cpu.vector_shape(frozenset({"sse2"}), "x86_64") == (16, 16)
    assert cpu.vector_shape(frozenset({"neon"}), "aarch64") == (16, 32)


def test_cache_sizes_from_sysfs(tmp_path):
    for index, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                                  (2, "Unified", "2048K"),
                                                  (3, "Unified", "300M")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(f"{value}\n")
    assert cpu.cache_sizes(tmp_path) == {"L1d": 48 << 10, "L2": 2 << 20, "L3": 300 << 20}


def test_the_tile_fills_the_register_file():
    """14 x 2 vectors of accumulators with 32 registers, 6 x 2 with 16 (AVX2's); a wide
    product takes 6 x 4 with 32 (the fewest loads per FMA) and 6 x 2 with 16."""
    assert tile_rows(2, 32) == 14 and tile_rows(2, 16) == 6
    assert tile_rows(1, 32) == 28 and tile_rows(1, 16) == 14
    assert wide.wide_tile(32) == (6, 4) and wide.wide_tile(16) == (6, 2)


def test_numba_cpu_features_steer_the_target():
    code = ("import json; from toolkit.kernels import cpu; from toolkit.kernels.numba_gemm import "
            "wide; t = cpu.target(); "
            "print(json.dumps([t.cpu, t.vector_bytes, t.vector_registers, wide.MR_WIDE]))")
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES=HASWELL)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == ["haswell", 32, 16, 6]


def test_the_bench_names_features_caches_and_target():
    info = machine.describe()
    line = machine.simd_summary(info)
    assert line.startswith("SIMD ") and "caches L1d" in line and "vector math" in line
    target = info["numba_target"]
    assert target["vector_bits"] == 8 * cpu.target().vector_bytes
    assert target["vector_math"] in ("svml", "fallback")
