"""Hold-out, K-fold, iterated K-fold, temporal split and the redundancy-leak check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.data import IteratedKFold, KFold, hold_out_split, redundancy_leak, temporal_split


@given(n=st.integers(2, 60), k=st.integers(2, 8), shuffle=st.booleans(), seed=st.integers(0, 99))
def test_k_fold_validates_each_row_exactly_once(n, k, shuffle, seed):
    if n < k:
        with pytest.raises(ValueError, match=f"k={k}"):
            list(KFold(k).split(n))
        return
    folds = list(KFold(k, shuffle=shuffle, seed=seed).split(np.zeros((n, 3))))
    assert len(folds) == k
    validated = np.concatenate([val for _, val in folds])
    np.testing.assert_array_equal(np.sort(validated), np.arange(n))
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))


def test_k_fold_reproduces_the_books_boston_loop():
    data = np.arange(404)
    k = 4
    num_val_samples = len(data) // k
    for i, (train, val) in enumerate(KFold(k).split(data)):
        val_data = data[i * num_val_samples: (i + 1) * num_val_samples]
        partial_train = np.concatenate([data[:i * num_val_samples],
                                        data[(i + 1) * num_val_samples:]])
        np.testing.assert_array_equal(data[val], val_data)
        np.testing.assert_array_equal(data[train], partial_train)


def test_iterated_k_fold_shuffles_each_iteration():
    splits = list(IteratedKFold(k=3, iterations=4, seed=0).split(30))
    assert len(splits) == 12 == len(IteratedKFold(3, 4))
    firsts = []
    for p in range(4):
        block = splits[3 * p: 3 * p + 3]
        np.testing.assert_array_equal(np.sort(np.concatenate([v for _, v in block])), np.arange(30))
        firsts.append(tuple(np.sort(block[0][1])))
    assert len(set(firsts)) == 4  # a different partition each time
    again = list(IteratedKFold(k=3, iterations=4, seed=0).split(30))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))


def test_hold_out_split_keeps_rows_aligned_and_sizes():
    x = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    (x_train, y_train), (x_val, y_val) = hold_out_split(x, y, validation_split=0.2, seed=3)
    assert len(x_val) == 10 and len(x_train) == 40
    np.testing.assert_array_equal(x_train[:, 0] // 2, y_train)
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_val])), y)
    train, val = hold_out_split(list("abcdef"), validation_split=2, shuffle=False)
    assert (train, val) == (list("cdef"), list("ab"))  # the book: the first samples validate


@pytest.mark.parametrize("bad", [0, 1.0, 50, -0.1, True])
def test_hold_out_split_rejects_empty_splits(bad):
    with pytest.raises(ValueError, match="validation_split"):
        hold_out_split(np.arange(50), validation_split=bad)


def test_hold_out_split_rejects_misaligned_arrays():
    with pytest.raises(ValueError, match=r"different numbers of rows \[3, 4\]"):
        hold_out_split(np.arange(3), np.arange(4))


@given(times=st.lists(st.integers(0, 20), min_size=2, max_size=40), frac=st.floats(0.05, 0.95))
def test_temporal_split_puts_every_test_row_after_every_training_row(times, frac):
    times = np.array(times)
    rows = np.arange(len(times))
    try:
        train, test = temporal_split(rows, time=times, test_split=frac)
    except ValueError as error:
        assert "no training row" in str(error) or "empty split" in str(error)
        return
    assert len(train) and len(test)
    assert times[train].max() < times[test].min()
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), rows)
    assert np.all(np.diff(times[train]) >= 0) and np.all(np.diff(times[test]) >= 0)


def test_temporal_split_without_time_keeps_order():
    (x_past, y_past), (x_future, y_future) = temporal_split(np.arange(10), np.arange(10) * 10,
                                                            test_split=3)
    assert x_past.tolist() == list(range(7)) and x_future.tolist() == [7, 8, 9]
    assert y_future.tolist() == [70, 80, 90]


def test_leak_check_finds_planted_duplicates():
    rng = np.random.RandomState(0)
    train = rng.rand(200, 5)
    val = rng.rand(50, 5)
    val[[3, 17, 40]] = train[[10, 150, 10]]
    report = redundancy_leak(train, val)
    assert bool(report) and report.count == 3
    assert sorted(map(tuple, report.pairs.tolist())) == [(10, 3), (10, 40), (150, 17)]
    assert "3 of 50 rows (6.0%)" in str(report)
    assert not redundancy_leak(train, rng.rand(50, 5))


def test_leak_check_compares_values_not_bits_and_handles_sequences():
    a = np.array([[0.0, np.nan], [1.0, 2.0]])
    b = np.array([[-0.0, np.nan], [1, 3]], dtype=np.float32)
    assert redundancy_leak(a, b).pairs.tolist() == [[0, 0]]
    assert redundancy_leak(np.array([1, 2, 3]), np.array([3.0, 4.0])).pairs.tolist() == [[2, 0]]
    reviews_train = [[1, 14, 22], [1, 5], [1, 7, 7, 9]]
    reviews_test = [[1, 5], [1, 14], [1, 7, 7, 9]]
    assert redundancy_leak(reviews_train, reviews_test).pairs.tolist() == [[1, 0], [2, 2]]
    with pytest.raises(ValueError, match="cannot be equal"):
        redundancy_leak(np.zeros((2, 3)), np.zeros((2, 4)))
