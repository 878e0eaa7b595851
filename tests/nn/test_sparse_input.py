"""Training on scipy.sparse CSR input: the same model, seed and batches give the same losses,
weights and predictions as the dense array; evaluate, predict and validation_split take it; the
memory fit allocates follows the nonzeros; and the cases it cannot serve say why."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse

from toolkit.data import vectorize_sequences
from toolkit.nn import Dense, Dropout, Sequential


def multi_hot(rows: int = 300, words: int = 500, seed: int = 0):
    """Sequences of word indices with Zipf-like frequencies, labels from a hidden linear rule."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, words + 1)
    seqs = [rng.choice(words, size=rng.integers(0, 40), p=p / p.sum()) for _ in range(rows)]
    dense = vectorize_sequences(seqs, words)
    labels = (dense @ rng.normal(size=words) > 0).astype(np.float32)
    return seqs, dense, vectorize_sequences(seqs, words, sparse=True), labels


def model(backend: str, features: int, first=None) -> Sequential:
    first = first or Dense(16, activation="relu", input_shape=(features,))
    m = Sequential([first, Dense(16, activation="relu"), Dense(1, activation="sigmoid")],
                   backend=backend, seed=0)
    m.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return m


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sparse_training_follows_the_dense_one(backend):
    _, dense, sparse, y = multi_hot()
    runs = []
    for x in (dense, sparse):
        m = model(backend, dense.shape[1])
        history = m.fit(x, y, epochs=3, batch_size=64, validation_split=0.2, verbose=0)
        runs.append((history.history, m.get_weights(), m.predict(x, batch_size=50),
                     m.evaluate(x, y, batch_size=70, verbose=0)))
    (h_dense, w_dense, p_dense, e_dense), (h_sparse, w_sparse, p_sparse, e_sparse) = runs
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h_sparse[key], h_dense[key], rtol=1e-4, atol=1e-5)
    for got, want in zip(w_sparse, w_dense):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p_sparse, p_dense, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e_sparse, e_dense, rtol=1e-4, atol=1e-5)
    assert h_sparse["loss"][-1] < h_sparse["loss"][0]


def test_any_sparse_format_and_dtype_is_taken():
    _, dense, sparse, y = multi_hot(rows=120)
    m = model("numba", dense.shape[1])
    m.fit(sparse.tocoo().astype(np.float64), y, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_allclose(m.predict(sparse.tocsc()), m.predict(dense), rtol=1e-5)


def test_a_sparse_fit_allocates_in_proportion_to_the_nonzeros():
    """Peak allocations of a sparse fit stay a small multiple of the CSR data, far below the
    dense array (here 100 times the CSR's size)."""
    seqs, _, _, y = multi_hot(rows=2000, words=20000)
    sparse = vectorize_sequences(seqs, 20000, sparse=True)
    csr_bytes = sparse.data.nbytes + sparse.indices.nbytes + sparse.indptr.nbytes
    dense_bytes = 4 * sparse.shape[0] * sparse.shape[1]
    m = model("numba", 20000)
    m.fit(sparse[:64], y[:64], epochs=1, batch_size=64, verbose=0)  # build, compile, warm up
    tracemalloc.start()
    m.fit(sparse, y, epochs=1, batch_size=256, verbose=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    weights = 4 * 2 * 3 * 20000 * 16  # kernel, its gradient and RMSprop's state, new and old
    assert peak < 2 * csr_bytes + weights < dense_bytes / 10


@pytest.mark.parametrize("backend, message", [
    ("naive", "naive backend takes dense arrays"),
])
def test_dense_only_backends_refuse_sparse_input(backend, message):
    _, dense, sparse, y = multi_hot(rows=20)
    with pytest.raises(TypeError, match=message):
        model(backend, dense.shape[1]).fit(sparse, y, verbose=0)


def test_sparse_input_needs_a_dense_first_layer():
    _, dense, sparse, y = multi_hot(rows=20)
    m = model("numba", dense.shape[1], first=Dropout(0.5, input_shape=(dense.shape[1],)))
    with pytest.raises(ValueError, match="needs a Dense first layer"):
        m.fit(sparse, y, verbose=0)


def test_bad_sparse_shapes_are_named():
    m = model("numba", 10)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 10\).*\(5, 7\)"):
        m.predict(scipy.sparse.csr_matrix((5, 7), dtype=np.float32))
    with pytest.raises(ValueError, match="x has 5 samples but y has 4"):
        m.evaluate(scipy.sparse.csr_matrix((5, 10), dtype=np.float32), np.ones(4), verbose=0)
