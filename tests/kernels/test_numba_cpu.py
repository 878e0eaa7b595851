"""The numba backend beyond the conformance test: the parallel kernels above the serial/parallel
cut-over, the matrix product's tile, block and slab edges in every transpose combination,
non-contiguous and empty inputs, the reuse of dropped result buffers, and the on-disk cache.
Every result is checked against NumPy in float64."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import get_num_threads, njit, set_num_threads

from toolkit.kernels import jit, numba_gemm, numba_loops
from toolkit.kernels import numba_cpu as nb
from toolkit.kernels.cpu import target
from toolkit.kernels.numba_gemm import narrow, wide
from toolkit.kernels.simd.reductions import vector_max
from toolkit.kernels.simd.tile import ADD, OVERWRITE
from toolkit.kernels.simd.transpose import copy_vector, transpose_block

RNG = np.random.default_rng(7)
BIG = nb.PARALLEL_MIN + 37  # just above the cut-over, and not a multiple of the task size
UNARY_REFERENCE = {
    "relu": lambda x: np.maximum(x, 0), "abs": np.abs, "sqrt": np.sqrt, "log": np.log,
    "exp": np.exp, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}
BINARY_REFERENCE = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                    "maximum": np.maximum, "minimum": np.minimum}


def close(got: np.ndarray, want: np.ndarray, dtype) -> None:
    """``got`` has ``dtype`` and ``want``'s shape, and matches the float64 ``want``."""
    assert got.dtype == dtype and got.shape == want.shape
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)


def values(shape, dtype, special=True) -> np.ndarray:
    """Random values in [-4, 4], with a sprinkling of NaN, infinities and zeros."""
    x = RNG.uniform(-4, 4, shape).astype(dtype)
    if special and x.size and np.dtype(dtype).kind == "f":
        flat = x.reshape(-1)
        picks = RNG.integers(0, flat.size, 8)
        flat[picks] = [np.nan, np.inf, -np.inf, 0.0, -0.0, np.nan, 1.0, -1.0]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(UNARY_REFERENCE))
def test_unary_parallel_path(op, dtype):
    x = values(BIG, dtype)
    with np.errstate(all="ignore"):
        close(getattr(nb, op)(x), UNARY_REFERENCE[op](x.astype(np.float64)), dtype)


@pytest.mark.parametrize("op", sorted(BINARY_REFERENCE))
@pytest.mark.parametrize("shapes", [
    ((BIG,), (BIG,)),                      # same shape, split into blocks
    ((BIG // 50, 50), (50,)),              # suffix broadcast: rows with a stride-0 b
    ((BIG // 50, 1), (1, 50)),             # an outer product: both broadcast
    ((5, 1, BIG // 3500, 100), (7, 1, 100)),  # general: per-row offset tables
    ((BIG,), ()),                          # an array against a 0-d array
])
def test_binary_parallel_paths(op, shapes):
    a, b = values(shapes[0], np.float32), values(shapes[1], np.float32)
    with np.errstate(all="ignore"):
        want = BINARY_REFERENCE[op](a.astype(np.float64), b.astype(np.float64))
        close(getattr(nb, op)(a, b), want, np.float32)
        close(getattr(nb, op)(b, a), BINARY_REFERENCE[op](b.astype(np.float64),
                                                          a.astype(np.float64)), np.float32)


def test_maximum_and_minimum_propagate_nan_from_either_side():
    a = np.array([np.nan, 1.0, np.nan, -np.inf], np.float32)
    b = np.array([1.0, np.nan, np.nan, np.nan], np.float32)
    for op in (nb.maximum, nb.minimum):
        assert np.isnan(op(a, b)).all() and np.isnan(op(b, a)).all()


def test_python_scalars_are_weak_and_integers_stay_exact():
    x = values((3, 4), np.float32)
    assert nb.add(x, 2.0).dtype == np.float32 and nb.mul(3, x).dtype == np.float32
    big = np.array([2**62 + 1, -5], np.int64)
    assert nb.add(big, 2).tolist() == [2**62 + 3, -3]  # no detour through float64
    assert nb.div(np.array([1, 2], np.int32), 4).dtype == np.float64
    assert nb.maximum(np.array([3, -7], np.int32), np.array([1, 2], np.int32)).tolist() == [3, 2]


def test_relu_grad_and_softmax_parallel_paths():
    x, grad = values(BIG, np.float32), values(BIG, np.float32, special=False)
    close(nb.relu_grad(x, grad), np.where(x > 0, grad, 0).astype(np.float64), np.float32)
    logits = values((BIG // 64, 64), np.float64, special=False) * 50
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    close(nb.softmax(logits), e / e.sum(axis=-1, keepdims=True), np.float64)


@njit
def _vector_max(x):
    return vector_max(x)


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(st.sampled_from([np.float32, np.float64]), st.integers(1, 300),
                    elements=st.floats(width=32, allow_infinity=True)))
def test_vector_max_is_nanmax_at_every_length(x):
    """softmax's row maximum: its groups of running vectors, the whole vectors after them and the
    scalar tail, NaN ignored (all-NaN gives NaN)."""
    got = _vector_max(x)
    want = np.nan if np.isnan(x).all() else np.nanmax(x)
    assert got == want or (np.isnan(got) and np.isnan(want))


@njit
def _transpose_block(x, x0, ldx, rows, cols, out, o0, ldo, width):
    transpose_block(x, x0, ldx, rows, cols, out, o0, ldo, width)


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64, np.int32]), x0=st.integers(0, 40),
       extra_x=st.integers(0, 9), o0=st.integers(0, 40), extra_o=st.integers(0, 9),
       data=st.data())
def test_transpose_block_at_any_offset_stride_and_edge(dtype, x0, extra_x, o0, extra_o, data):
    """The packing's register transpose: a block of up to lanes x lanes, read at any offset and
    row stride, is written transposed at any other, zero-padded from ``rows`` to ``width``;
    nothing around it is read (x ends where the block does) or written."""
    lanes = target().lanes(np.dtype(dtype).itemsize)
    whole = data.draw(st.booleans())
    width = lanes if whole else data.draw(st.integers(0, lanes))
    rows = lanes if whole else data.draw(st.integers(0, width))
    cols = lanes if whole else data.draw(st.integers(0, lanes))
    ldx, ldo = lanes + extra_x, lanes + extra_o
    x = (np.arange(x0 + max(rows - 1, 0) * ldx + cols) + 1).astype(dtype)
    out = np.full(o0 + lanes * ldo, -1, dtype)
    _transpose_block(x, x0, ldx, rows, cols, out, o0, ldo, width)
    block = np.zeros((width, cols), dtype)
    for i in range(rows):
        block[i] = x[x0 + i * ldx:][:cols]
    want = np.full_like(out, -1)
    want[o0:].reshape(lanes, ldo)[:cols, :width] = block.T
    np.testing.assert_array_equal(out, want)


@njit
def _copy_vector(x, x0, count, out, o0, width):
    copy_vector(x, x0, count, out, o0, width)


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64, np.int32]), x0=st.integers(0, 40),
       o0=st.integers(0, 40), data=st.data())
def test_copy_vector_pads_with_zeros_and_touches_nothing_else(dtype, x0, o0, data):
    """The packing's masked copy: ``count`` elements read at any offset (x ends where they do),
    written at any other and zero-padded to ``width``; nothing past ``width`` is written."""
    lanes = target().lanes(np.dtype(dtype).itemsize)
    width = data.draw(st.integers(0, lanes))
    count = data.draw(st.integers(0, width))
    x = (np.arange(x0 + count) + 1).astype(dtype)
    out = np.full(o0 + lanes + 3, -1, dtype)
    _copy_vector(x, x0, count, out, o0, width)
    want = np.full_like(out, -1)
    want[o0:o0 + width] = 0
    want[o0:o0 + count] = x[x0:]
    np.testing.assert_array_equal(out, want)


@njit
def _tile(a, b, c, c0, ldc, mode, rows, cols, kc):
    wide._micro_wide(a, 0, wide.MR_WIDE, b, 0, b.size // kc, kc, c, c0, ldc, mode, rows, cols)


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64]), mode=st.sampled_from([OVERWRITE, ADD]),
       kc=st.integers(1, 20), c0=st.integers(0, 17), data=st.data())
def test_microkernel_stores_only_its_rows_and_columns(dtype, mode, kc, c0, data):
    """A partial tile at C's edge writes (or adds to) C's first rows x cols of the tile, under
    lane masks, and no element of C beyond them."""
    lanes = target().lanes(np.dtype(dtype).itemsize)
    mr, nr = wide.MR_WIDE, wide.NV_WIDE * lanes
    rows, cols = data.draw(st.integers(1, mr)), data.draw(st.integers(1, nr))
    ldc = nr + data.draw(st.integers(0, 5))
    a = values((kc, mr), dtype, special=False)  # a packed panel: column p of A is a[p]
    b = values((kc, nr), dtype, special=False)
    c = values(c0 + mr * ldc + 3, dtype, special=False)
    want, inside = c.astype(np.float64), np.zeros(c.size, bool)
    tile = (a.astype(np.float64).T @ b.astype(np.float64))[:rows, :cols]
    region = want[c0:c0 + mr * ldc].reshape(mr, ldc)[:rows, :cols]
    region[...] = region + tile if mode == ADD else tile
    inside[c0:c0 + mr * ldc].reshape(mr, ldc)[:rows, :cols] = True
    _tile(a.reshape(-1), b.reshape(-1), c, c0, ldc, mode, rows, cols, kc)
    np.testing.assert_array_equal(c[~inside], want[~inside])
    bound = (kc + 2) * 64 * np.finfo(dtype).eps  # |a|, |b|, |c| <= 4
    np.testing.assert_allclose(c[inside], want[inside], rtol=0, atol=bound)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_sum_parallel_paths(dtype, axis):
    x = values((BIG // 41, 41), dtype, special=False)
    want = np.sum(x.astype(np.float64), axis=axis, keepdims=True)
    got = nb.sum(x, axis=axis, keepdims=True)
    assert got.dtype == np.sum(x).dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)


def reference_dot(a, b, trans_a, trans_b):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64.T if trans_a else a64) @ (b64.T if trans_b else b64)


def check_dot(m, k, n, dtype, trans_a, trans_b):
    a = values((k, m) if trans_a else (m, k), dtype, special=False)
    b = values((n, k) if trans_b else (k, n), dtype, special=False)
    want = reference_dot(a, b, trans_a, trans_b)
    got = nb.dot(a, b, trans_a, trans_b)
    assert got.dtype == dtype and got.shape == (m, n)
    bound = 4 * (k + 1) * np.finfo(dtype).eps * (np.abs(a.astype(np.float64)).max(initial=0)
                                                 * np.abs(b.astype(np.float64)).max(initial=0))
    assert np.all(np.abs(got - want) <= bound + 1e-30), f"dot {m}x{k}x{n} {trans_a=} {trans_b=}"


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_dot_tile_edges(trans_a, trans_b):
    """Sizes around the register tiles on the serial path: C one vector wide (the narrow tile),
    two vectors wide (the wide tile, A read in place), and wider (packed panels), each with
    full and partial tiles of rows, columns and vectors."""
    for dtype in (np.float32, np.float64):
        lanes = target().lanes(np.dtype(dtype).itemsize)
        for mr in {narrow.MR_SWAP, narrow.MR_ROWS_NARROW, wide.MR_WIDE, narrow.MR_ROWS_WIDE}:
            for m in (1, mr - 1, mr, mr + 1, 2 * mr + 3):
                for n in (1, lanes - 1, lanes, lanes + 1, 2 * lanes, 2 * lanes + 1, 4 * lanes + 3):
                    check_dot(m, 7 + m % 5, n, dtype, trans_a, trans_b)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_blocks_and_slabs(trans_a, trans_b, dtype):
    """The parallel path of a wide product, over more than one k slab, task and stretch of
    columns, then with three row panels between two tasks (the split falls within the middle
    panel); ragged edges everywhere."""
    itemsize = np.dtype(dtype).itemsize
    kc, _, nc = wide.blocking(1, 1 << 20, 1 << 20, itemsize, 1)
    m, k, n = 17 * wide.MR_WIDE + 5, kc + 45, nc + 5
    kc, tasks, nc = wide.blocking(m, k, n, itemsize, 2)
    assert k > kc and tasks == 2 and n > nc
    check_dot(m, k, n, dtype, trans_a, trans_b)
    check_dot(3 * wide.MR_WIDE - 1, k, n, dtype, trans_a, trans_b)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 90), k=st.integers(1, 300), n=st.integers(1, 200),
       trans_a=st.booleans(), trans_b=st.booleans(), threads=st.sampled_from([1, 2]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_dot_at_any_shape_on_the_parallel_paths(m, k, n, trans_a, trans_b, threads, dtype):
    """Every path of the product (narrow, transposed narrow, wide with shared or per-thread
    packing of B, tasks starting inside row panels) on one and two threads, at shapes drawn
    at random, the cut-over to the parallel kernels lowered to 1."""
    before = get_num_threads()
    try:
        set_num_threads(min(threads, before))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(numba_gemm, "PARALLEL_MIN", 1)
            check_dot(m, k, n, dtype, trans_a, trans_b)
    finally:
        set_num_threads(before)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_dot_skinny_shapes(trans_a, trans_b):
    """The network's shapes, smaller: x @ w with a long k, x.T @ grad (C built transposed when
    op(b) is narrow), grad @ w.T with a short k, and the last three on the parallel path."""
    for m, k, n in [(2, 3000, 3), (300, 2, 301), (200, 100, 16), (33, 1000, 16),
                    (500, 16, 1100), (1100, 16, 500), (2100, 250, 16)]:
        check_dot(m, k, n, np.float32, trans_a, trans_b)


@pytest.mark.parametrize("k", [3, 97])
def test_dot_integers(k):
    a, b = RNG.integers(-50, 50, (37, k)), RNG.integers(-50, 50, (k, 29))
    for dtype in (np.int32, np.int64):
        got = nb.dot(a.astype(dtype), b.astype(dtype))
        assert got.dtype == dtype and np.array_equal(got, a @ b)
    big = np.full((5, 70), 2**20, np.int32)  # wraps around as NumPy's int32 product does
    np.testing.assert_array_equal(nb.dot(big, big.T), big @ big.T)


def test_dot_propagates_nan_and_inf():
    a, b = np.ones((6, 6), np.float32), np.ones((6, 6), np.float32)
    a[2, 3], b[1, 4] = np.nan, np.inf
    got = nb.dot(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(got, want.astype(np.float32))


def test_non_contiguous_inputs():
    x = values((40, 2 * BIG // 40), np.float32)[:, ::2]       # strided rows
    close(nb.relu(x), np.maximum(x.astype(np.float64), 0), np.float32)
    y = values((x.shape[1], 40), np.float32).T                # a transposed view
    close(nb.add(x, y), x.astype(np.float64) + y, np.float32)
    close(nb.sum(x, axis=1), x.astype(np.float64).sum(axis=1), np.float32)
    a = values((30, 50), np.float64, special=False)[::3, ::2]   # (10, 25), neither layout
    b = values((40, 50), np.float64, special=False)[::2, 1::2]  # (20, 25), contiguous
    for a_, b_, trans_a, trans_b in [(a, b.T, False, False), (a.T, b, True, True),
                                     (a, b, False, True), (a.T, b.T, True, False)]:
        close(nb.dot(a_, b_, trans_a, trans_b), reference_dot(a_, b_, trans_a, trans_b),
              np.float64)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 5, 2)])
def test_empty_inputs(shape):
    x = np.zeros(shape, np.float32)
    for op in UNARY_REFERENCE:
        assert getattr(nb, op)(x).shape == shape
    for op in BINARY_REFERENCE:
        assert getattr(nb, op)(x, np.ones(shape[-1:], np.float32)).shape == shape
    assert nb.relu_grad(x, x).shape == shape and nb.softmax(x).shape == shape
    assert nb.sum(x).item() == 0 and nb.sum(x, axis=-1).shape == shape[:-1]
    assert nb.dot(np.zeros((3, 0)), np.zeros((0, 4))).tolist() == [[0.0] * 4] * 3
    assert nb.dot(np.zeros((0, 5)), np.zeros((5, 2))).shape == (0, 2)


def test_results_held_by_the_caller_are_never_reused():
    """Large results come from a pool of dropped buffers: one the caller still holds, directly
    or through a view, must keep its values."""
    n = nb.POOL_MIN_BYTES // 4
    x, x2 = np.full(n, 3.0, np.float32), np.full(n, -2.0, np.float32)
    kept = nb.relu(x)
    view = nb.abs(x2)[::7]
    for _ in range(3):
        nb.relu(x2), nb.add(x, x2), nb.sub(x, x2)
    assert (kept == 3).all() and (view == 2).all()
    first = nb.relu(x).ctypes.data
    assert nb.relu(x2).ctypes.data == first  # the dropped result's memory was reused


CACHE_SCRIPT = textwrap.dedent("""
    import json, os, sys, numba, numpy as np
    from numba.np.ufunc import parallel
    from toolkit.kernels import jit
    if os.environ.get("EDITED"):  # as if a file the kernels compile in had changed
        jit.sources_stamp = lambda: "edited"
    from toolkit.kernels import numba_cpu, numba_loops
    started = parallel._is_initialized
    compiled = [k.signatures for k in (numba_loops.unary_serial, numba_loops.binary_serial)]
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    numba_cpu.relu(x), numba_cpu.add(x, x[0])
    print(json.dumps({
        "threads_started_at_import": started, "compiled_at_import": any(compiled),
        "hits": sum(sum(k.stats.cache_hits.values()) for k in (numba_loops.unary_serial,
                                                                numba_loops.binary_serial)),
        "misses": sum(sum(k.stats.cache_misses.values()) for k in (numba_loops.unary_serial,
                                                                   numba_loops.binary_serial)),
    }))
""")


def test_a_second_process_loads_the_kernels_from_the_disk_cache(tmp_path):
    """The first process compiles relu's and add's kernels into a fresh cache directory; the
    second compiles nothing. Neither starts threads or compiles anything at import. A third,
    which sees the package's sources changed (in a file other than the kernels' own), compiles
    them again: Numba alone would load the old ones."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = []
    for edited in ("", "", "1"):
        done = subprocess.run([sys.executable, "-c", CACHE_SCRIPT], env=dict(env, EDITED=edited),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.splitlines()[-1]))
    first, second, after_edit = runs
    assert first["misses"] == 2 and second == {"threads_started_at_import": False,
                                               "compiled_at_import": False, "hits": 2, "misses": 0}
    assert after_edit["misses"] == 2 and after_edit["hits"] == 0
    assert any(p.suffix == ".nbi" for p in tmp_path.rglob("*")), "no cache index was written"


def test_only_the_packages_kernels_are_stamped_with_its_sources(tmp_path):
    """The package's kernels carry the hash of all its sources, which changes with any file's
    contents; a function defined elsewhere keeps Numba's own locator."""
    stamp = numba_loops.unary_serial._cache._impl.locator.get_source_stamp()
    assert stamp[1] == jit.sources_stamp()
    (tmp_path / "a.py").write_text("x = 1\n")
    before = jit.sources_stamp(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    jit.sources_stamp.cache_clear()
    assert jit.sources_stamp(tmp_path) != before

    @njit(cache=True)
    def outside(v):
        return v + 1

    assert not type(outside._cache._impl.locator).__name__.startswith("Package")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_take_rows_gathers_a_batch_as_float32(dtype, monkeypatch):
    """The host helper behind fit's batches (backend.HOST), on both paths, with negative rows
    and repeated ones, against NumPy's indexing; bad arguments name the problem."""
    x = values((300, 37), dtype)
    rows = np.array([5, -1, 0, 5, 299, 17])
    for parallel_min in (nb.PARALLEL_MIN, 1):
        monkeypatch.setattr(nb, "PARALLEL_MIN", parallel_min)
        got = nb.take_rows(x, rows)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, x[rows].astype(np.float32))
    with pytest.raises(IndexError, match="out of range for 300 rows"):
        nb.take_rows(x, np.array([300]))
    with pytest.raises(ValueError, match="2-D array and a 1-D array of row indices"):
        nb.take_rows(x, np.array([[1]]))
