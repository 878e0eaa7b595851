"""The numba backend's vector math (vmath): both libraries, SVML where this machine has it and the
vectorizable polynomials always, against float64 NumPy, on spans of any length (so that the
scalar tail after the last whole vector is covered) with NaN, infinities, signed zeros and the
edges of the float range."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from toolkit.kernels import numba_loops as loops
from toolkit.kernels import vmath
from toolkit.kernels.backend import op_code

REFERENCE = {"exp": np.exp, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
TAGS = {"fallback": vmath.FALLBACK_TAG}
if vmath.LIBRARY == "svml":
    TAGS["svml"] = vmath.SVML_TAG
EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 20.0, -20.0, 88.7, 89.0,
         -87.0, -103.0, -110.0, 709.0, 710.0, -744.0, -746.0]


def expected(op: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return REFERENCE[op](x.astype(np.float64)).astype(x.dtype)


def run(op: str, x: np.ndarray, tag: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    loops.unary_serial(op_code(op), x, out, tag)
    return out


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    rtol = 1e-5 if want.dtype == np.float32 else 1e-12  # the conformance test's tolerance
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.parametrize("library", list(TAGS))
@pytest.mark.parametrize("op", list(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges(library, op, dtype):
    x = np.array(EDGES, dtype)
    got = run(op, x, TAGS[library])
    assert_close(got, expected(op, x))
    if op == "tanh":  # the sign of zero survives
        assert np.signbit(got[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()


@pytest.mark.parametrize("library", list(TAGS))
@pytest.mark.parametrize("op", list(REFERENCE))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_spans(library, op, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    bound = 80.0 if op == "exp" else 300.0
    elements = st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8)
    x = data.draw(hnp.arrays(dtype, st.integers(0, 100), elements=elements))
    assert_close(run(op, x, TAGS[library]), expected(op, x))


def test_fallback_scalars_cover_the_whole_range():
    """The polynomials on a dense sweep, subnormal results and overflow included."""
    x = np.concatenate([np.linspace(-750, 712, 20001), np.linspace(-1, 1, 2001)])
    exp = np.array([vmath.exp64(v) for v in x])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(exp, np.exp(x), rtol=4e-15, atol=5e-324)
    np.testing.assert_allclose([vmath.tanh64(v) for v in x], np.tanh(x), rtol=4e-15, atol=0)


def test_float32_fallback_within_two_ulp_over_the_whole_range():
    """exp32 and sigmoid32 (the float32 fallback) vectorized over a dense sweep, subnormal
    results, overflow and the scalar tail included, against float64 NumPy rounded to float32.
    Below x = -88.7 sigmoid's e^-x overflows float32, as in NumPy's float32 and in SVML's path,
    and 1 / (1 + inf) is 0 where the true value is under float32's smallest normal number."""
    x = np.concatenate([np.linspace(-110, 90, 400_003, dtype=np.float32),
                        np.linspace(-1, 1, 20_001, dtype=np.float32)])
    f32 = np.finfo(np.float32)
    for op, atol in (("exp", f32.smallest_subnormal), ("sigmoid", f32.tiny)):
        got, want = run(op, x, vmath.FALLBACK_TAG), expected(op, x)
        np.testing.assert_allclose(got, want, rtol=2 * f32.eps, atol=atol)


def test_the_library_is_svml_where_installed_unless_disabled():
    code = "import json; from toolkit.kernels import vmath; print(json.dumps(vmath.LIBRARY))"
    env = dict(os.environ, NUMBA_DISABLE_INTEL_SVML="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == "fallback"
    installed = any(path.startswith("/") for path in vmath._svml_paths())
    assert vmath.LIBRARY == "svml" or not installed


@pytest.mark.skipif(vmath.LIBRARY != "svml", reason="SVML is not installed here")
def test_svml_routines_are_the_variants_for_this_cpus_instruction_set():
    import llvmlite.binding as llvm

    from toolkit.kernels.cpu import target

    lanes = target().lanes(4)
    name = vmath._routine(f"__svml_expf{lanes}")
    assert llvm.address_of_symbol(name)
    suffix = {64: "_z0", 32: "_l9" if "avx2" in target().features else "_e9"}.get(
        target().vector_bytes, "")
    assert name == f"__svml_expf{lanes}{suffix}"
    assert vmath._routine("__svml_nosuchf8") == "__svml_nosuchf8"  # the dispatcher's name
