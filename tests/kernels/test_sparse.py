"""dot with a scipy.sparse first operand on the backends that accept one (numpy, numba), against
the dense product in float64: random shapes and densities, widths around the vector width (the
numba kernels' scalar tail), empty rows, transposes; and the clear refusals elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.kernels import get_backend, numba_sparse
from toolkit.kernels.cpu import target

SPARSE_BACKENDS = ["numpy", "numba"]


def csr(rows: int, cols: int, density: float, dtype, seed: int) -> scipy.sparse.csr_matrix:
    x = scipy.sparse.random(rows, cols, density=density, format="csr", random_state=seed,
                            dtype=np.float64)
    x.data = np.round(x.data * 8 - 4)  # small integers: exact in every dtype
    return x.astype(dtype)


def check(backend: str, a, b: np.ndarray, trans_a: bool, trans_b: bool) -> None:
    got = get_backend(backend).dot(a, b, trans_a=trans_a, trans_b=trans_b)
    dense = a.toarray().astype(np.float64)
    want = (dense.T if trans_a else dense) @ (b.T if trans_b else b).astype(np.float64)
    dtype = np.result_type(a.dtype, b.dtype)
    assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4)


@pytest.mark.parametrize("backend", SPARSE_BACKENDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_sparse_dot_matches_the_dense_product(backend, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    lanes = target().lanes(np.dtype(dtype).itemsize)
    m, k = data.draw(st.integers(0, 40)), data.draw(st.integers(1, 60))
    n = data.draw(st.sampled_from([1, lanes - 1, lanes, lanes + 1, 2 * lanes + 3]))
    trans_a, trans_b = data.draw(st.booleans()), data.draw(st.booleans())
    a = csr(k, m, 0.2, dtype, data.draw(st.integers(0, 999))) if trans_a \
        else csr(m, k, 0.2, dtype, data.draw(st.integers(0, 999)))
    b = np.random.default_rng(m * k).normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    check(backend, a, b, trans_a, trans_b)


@pytest.mark.parametrize("backend", SPARSE_BACKENDS)
def test_multi_hot_batches_on_the_parallel_path(backend, monkeypatch):
    """The first Dense layer's shapes: a batch of multi-hot rows times (features x 16), and its
    gradient; the row-parallel kernel where the work is large enough."""
    monkeypatch.setattr(numba_sparse, "PARALLEL_MIN", 1)
    a = csr(300, 2000, 0.013, np.float32, 1)
    a.data[:] = 1
    rng = np.random.default_rng(0)
    check(backend, a, rng.normal(size=(2000, 16)).astype(np.float32), False, False)
    check(backend, a, rng.normal(size=(300, 16)).astype(np.float32), True, False)


@pytest.mark.parametrize("backend", SPARSE_BACKENDS)
def test_other_formats_integers_and_mixed_dtypes(backend):
    a = csr(20, 30, 0.3, np.float32, 2)
    rng = np.random.default_rng(1)
    check(backend, a.tocoo(), rng.normal(size=(30, 5)), False, False)    # float32 x float64
    check(backend, a.tocsc(), rng.normal(size=(20, 3)).astype(np.float32), True, False)
    ints = a.astype(np.int64)
    check(backend, ints, rng.integers(-3, 3, (30, 4)), False, False)


@pytest.mark.parametrize("backend", SPARSE_BACKENDS)
def test_a_sparse_second_operand_or_a_bad_shape_is_refused(backend):
    b = get_backend(backend)
    a = csr(4, 5, 0.5, np.float32, 3)
    with pytest.raises(TypeError, match="only the first operand may be sparse"):
        b.dot(np.ones((3, 4), np.float32), a)
    with pytest.raises(ValueError, match=r"\(4, 5\) and \(4, 2\) are not aligned"):
        b.dot(a, np.ones((4, 2), np.float32))


def test_dense_only_backends_say_where_sparse_input_goes():
    a = csr(4, 5, 0.5, np.float32, 3)
    with pytest.raises(TypeError, match="naive backend takes dense arrays.*numpy or numba"):
        get_backend("naive").dot(a, np.ones((5, 2), np.float32))
