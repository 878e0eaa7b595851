"""vectorize_sequences, to_categorical and the scalers against loops and float64 NumPy formulas."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from toolkit.data import (
    MeanNormalization,
    MeanNormalizer,
    MinMaxScaler,
    Rescaling,
    Standardization,
    StandardScaler,
    preprocessing,
    to_categorical,
    vectorize_sequences,
)

sequences = st.lists(st.lists(st.integers(0, 49), max_size=12), max_size=8)


def book_vectorize(seqs, dimension):
    """The book's listing, verbatim but for the dtype."""
    results = np.zeros((len(seqs), dimension), dtype=np.float32)
    for i, sequence in enumerate(seqs):
        results[i, sequence] = 1.0
    return results


@given(sequences)
def test_vectorize_matches_the_books_loop(seqs):
    out = vectorize_sequences(seqs, dimension=50)
    assert out.dtype == np.float32 and out.shape == (len(seqs), 50)
    np.testing.assert_array_equal(out, book_vectorize(seqs, 50))
    with pytest.MonkeyPatch.context() as mp:  # blocks of one or two rows: the boundaries
        mp.setattr(preprocessing, "_BLOCK_ELEMENTS", 4)
        np.testing.assert_array_equal(vectorize_sequences(seqs, dimension=50), out)


@given(sequences)
def test_sparse_vectorize_holds_the_same_ones(seqs):
    """A CSR matrix of the dense result's ones: sorted columns, no duplicates, float32."""
    dense = book_vectorize(seqs, 50)
    for block in (preprocessing._BLOCK_ELEMENTS, 4):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(preprocessing, "_BLOCK_ELEMENTS", block)
            out = vectorize_sequences(seqs, dimension=50, sparse=True)
        assert out.format == "csr" and out.dtype == np.float32 and out.shape == (len(seqs), 50)
        assert out.nnz == int(dense.sum()) and out.has_sorted_indices
        np.testing.assert_array_equal(out.toarray(), dense)


@pytest.mark.parametrize("bad", [[[0, 10]], [[-1]]])
def test_sparse_vectorize_rejects_what_dense_rejects(bad):
    with pytest.raises(ValueError, match=r"outside \[0, 10\)"):
        vectorize_sequences(bad, dimension=10, sparse=True)


def test_vectorize_takes_keras_object_arrays_and_numpy_rows():
    seqs = np.empty(3, dtype=object)
    seqs[:] = [[1, 3, 3], [], [0, 9]]
    out = vectorize_sequences(seqs, dimension=10)
    assert out[0].tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    assert out[1].sum() == 0 and out[2, [0, 9]].tolist() == [1, 1]
    np.testing.assert_array_equal(vectorize_sequences(np.array([[1, 2], [2, 2]]), 3),
                                  [[0, 1, 1], [0, 0, 1]])


@pytest.mark.parametrize("bad", [[[0, 10]], [[-1]]])
def test_vectorize_rejects_indices_outside_the_dimension(bad):
    with pytest.raises(ValueError, match=r"outside \[0, 10\).*num_words=10"):
        vectorize_sequences(bad, dimension=10)


def test_vectorize_rejects_non_integer_words():
    with pytest.raises(TypeError, match="integer word indices"):
        vectorize_sequences([["a", "b"]], dimension=10)


@given(st.lists(st.integers(0, 6), min_size=1, max_size=30))
def test_to_categorical_is_one_hot(labels):
    out = to_categorical(labels)
    assert out.shape == (len(labels), max(labels) + 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(axis=1), labels)
    np.testing.assert_array_equal(out.sum(axis=1), 1)


def test_to_categorical_follows_keras_shapes_and_checks_labels():
    assert to_categorical(np.array([[1], [0]]), 3).shape == (2, 3)       # trailing 1 dropped
    assert to_categorical(np.zeros((2, 4), int), 5).shape == (2, 4, 5)
    assert to_categorical(np.array([1.0, 2.0])).tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="num_classes=2"):
        to_categorical([0, 2], num_classes=2)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])
    with pytest.raises(ValueError, match="whole numbers"):
        to_categorical([0.5])


# -- scalers ----------------------------------------------------------------------------------

REFERENCES = {  # float64 formulas from the slides: (offset, spread) of the training data
    StandardScaler: lambda x: (x.mean(0), x.std(0)),
    MinMaxScaler: lambda x: (x.min(0), x.max(0) - x.min(0)),
    MeanNormalizer: lambda x: (x.mean(0), x.max(0) - x.min(0)),
}
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False, width=64)


@pytest.mark.parametrize("scaler", list(REFERENCES))
@given(train=hnp.arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 5)),
                        elements=finite),
       data=st.data())
@settings(max_examples=40)
def test_scalers_use_training_statistics_only(scaler, train, data):
    test = data.draw(hnp.arrays(np.float64, (3, train.shape[1]), elements=finite))
    offset, spread = REFERENCES[scaler](train)
    # no rounding-noise spreads
    assume(np.all((spread == 0) | (spread > 1e-9 * np.abs(train).max(0))))
    spread = np.where(spread == 0, 1.0, spread)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = scaler().fit(train)
    expected = (test - offset) / spread
    if not np.isfinite(expected.astype(np.float64)).all():  # a tiny spread: refused, not inf
        with pytest.raises(ValueError, match="overflowed to infinity"):
            s.transform(test)
        return
    # test data is transformed with the training statistics, never its own
    np.testing.assert_allclose(s.transform(test), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s.inverse_transform(s.transform(test)), test, rtol=1e-9, atol=1e-6)
    assert np.isfinite(s.transform(test)).all()


def test_standardization_is_the_books_listing_on_boston():
    from toolkit.datasets import boston_housing

    (train, _), (test, _) = boston_housing.load_data()
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    scaler = Standardization().fit(train)
    np.testing.assert_allclose(scaler.transform(test), (test - mean) / std)
    z = scaler.fit_transform(train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1)


def test_min_max_and_mean_normalization_ranges():
    x = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 40.0]])
    np.testing.assert_allclose(Rescaling().fit_transform(x), [[0, 0], [0.5, 1 / 3], [1, 1]])
    out = MeanNormalization().fit_transform(x)
    np.testing.assert_allclose(out[:, 0], [-0.5, 0, 0.5])
    np.testing.assert_allclose(out.max(0) - out.min(0), 1)  # each feature spans exactly 1
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-12)


@pytest.mark.parametrize("scaler", list(REFERENCES))
def test_constant_feature_warns_and_gives_no_nan(scaler):
    x = np.array([[1.0, 0.1], [3.0, 0.1], [5.0, 0.1]])  # np.std of 0.1s is ~1e-17, not 0
    with pytest.warns(RuntimeWarning,
                      match=r"feature\(s\) 1 are constant.*instead of dividing by zero"):
        out = scaler().fit_transform(x)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 1], 0, atol=1e-12)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_in_input_is_refused_with_its_location(value):
    x = np.ones((4, 3))
    x[2, 1] = value
    with pytest.raises(ValueError, match=r"row\(s\) 2 and feature\(s\) 1.*impute"):
        StandardScaler().fit(x)
    scaler = StandardScaler().fit(np.random.RandomState(0).rand(4, 3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        scaler.transform(x)


def test_scaler_misuse_gets_clear_errors():
    with pytest.raises(ValueError, match="call fit"):
        StandardScaler().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="reshape a single feature"):
        StandardScaler().fit(np.ones(3))
    scaler = MinMaxScaler().fit(np.random.RandomState(0).rand(5, 3))
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        scaler.transform(np.ones((1, 2)))


def test_float32_stays_float32_and_integers_become_float64():
    x32 = np.random.RandomState(1).rand(6, 2).astype(np.float32)
    assert StandardScaler().fit_transform(x32).dtype == np.float32
    assert StandardScaler().fit_transform(np.arange(12).reshape(6, 2)).dtype == np.float64


def test_overflow_from_a_tiny_training_spread_is_refused():
    scaler = MinMaxScaler().fit(np.array([[0.0], [1e-300]]))
    with pytest.raises(ValueError,
                       match=r"overflowed to infinity in feature\(s\) 0.*max - min \(1e-300\)"):
        scaler.transform(np.array([[1e10]]))
