"""Evaluation protocols (the book's section 4.2): simple hold-out validation, K-fold and iterated
K-fold with shuffling, a temporal split for data with an arrow of time, and a check for the
redundancy leak (the same row in two splits, so the model is tested on its training data).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


def hold_out_split(*arrays: Any, validation_split: float | int = 0.2, shuffle: bool = True,
                   seed: int | None = None) -> tuple:
    """Simple hold-out validation (listing 4.1): shuffle the rows, set the first
    ``validation_split`` of them apart for validation, train on the rest.

    ``validation_split`` is a fraction in (0, 1) or a number of rows. Returns ``(train, val)``
    for one array, ``((x_train, y_train), (x_val, y_val))`` for two, and so on. The same
    permutation is applied to every array, so rows stay aligned.
    """
    n = _common_length("hold_out_split", arrays)
    n_val = _count("hold_out_split", "validation_split", validation_split, n)
    order = np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n)
    return _take(arrays, order[n_val:], order[:n_val])


def temporal_split(*arrays: Any, time: Any = None, test_split: float | int = 0.2) -> tuple:
    """Split past from future (the arrow of time): no shuffling, every test row comes strictly
    after every training row.

    ``time`` gives each row's timestamp (any sortable values); None means the rows are already
    in time order. The last ``test_split`` of the rows (a fraction or a count) go to the test
    split; rows tied with the first test row's time go to the test split too, so no training row
    shares a moment with a test row. Returns ``(train, test)`` per array, like ``hold_out_split``.
    """
    n = _common_length("temporal_split", arrays)
    n_test = _count("temporal_split", "test_split", test_split, n)
    if time is None:
        order, stamps = np.arange(n), np.arange(n)
    else:
        stamps = np.asarray(time)
        if stamps.shape != (n,):
            raise ValueError(f"temporal_split: time must have one value per row, shape ({n},), got "
                             f"{stamps.shape}")
        order = np.argsort(stamps, kind="stable")
        stamps = stamps[order]
    cut = n - n_test
    while cut > 0 and stamps[cut - 1] == stamps[cut]:
        cut -= 1
    if cut == 0:
        raise ValueError("temporal_split: every row shares the time of the first test row, so no "
                         "training row comes before it; use a smaller test_split or finer "
                         "timestamps")
    return _take(arrays, order[:cut], order[cut:])


class KFold:
    """K-fold validation: split the rows into ``k`` partitions of (nearly) equal size; fold i
    validates on partition i and trains on the other k - 1.

    With n = q k + r rows, the first r partitions have q + 1 rows, the others q, so every row is
    validated on exactly once (404 Boston rows and k=4 give the book's four folds of 101).
    ``shuffle`` permutes the rows first with ``seed``.
    """

    def __init__(self, k: int = 4, shuffle: bool = False, seed: int | None = None) -> None:
        if not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"KFold: k must be an int >= 2, got {k!r}")
        self.k, self.shuffle, self.seed = int(k), shuffle, seed

    def split(self, data: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train_indices, validation_indices) for each fold; ``data`` is an array or a row
        count."""
        n = _rows(data)
        order = np.random.RandomState(self.seed).permutation(n) if self.shuffle else np.arange(n)
        yield from _folds(order, self.k)

    def __len__(self) -> int:
        return self.k


class IteratedKFold:
    """Iterated K-fold validation with shuffling: K-fold ``iterations`` times, shuffling the rows
    anew before each; P x K models in all, for little data that must be evaluated precisely.
    Average the P x K scores."""

    def __init__(self, k: int = 4, iterations: int = 3, seed: int | None = None) -> None:
        KFold(k)  # the same check of k
        if not isinstance(iterations, (int, np.integer)) or iterations < 1:
            raise ValueError(f"IteratedKFold: iterations must be an int >= 1, got {iterations!r}")
        self.k, self.iterations, self.seed = int(k), int(iterations), seed

    def split(self, data: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train_indices, validation_indices) for each fold of each iteration, in order."""
        n = _rows(data)
        rng = np.random.RandomState(self.seed)
        for _ in range(self.iterations):
            yield from _folds(rng.permutation(n), self.k)

    def __len__(self) -> int:
        return self.k * self.iterations


@dataclass
class LeakReport:
    """The rows duplicated across two splits: ``pairs[m] = (i, j)`` means row i of the first
    split equals row j of the second."""

    pairs: np.ndarray
    rows_first: int
    rows_second: int

    @property
    def count(self) -> int:
        """How many rows of the second split also appear in the first."""
        return len(np.unique(self.pairs[:, 1]))

    @property
    def fraction(self) -> float:
        """``count`` as a fraction of the second split."""
        return self.count / self.rows_second if self.rows_second else 0.0

    def __bool__(self) -> bool:
        return len(self.pairs) > 0

    def __str__(self) -> str:
        if not self:
            return "no row of the second split appears in the first: the splits are disjoint"
        shown = ", ".join(f"{i}<->{j}" for i, j in self.pairs[:5].tolist())
        return (f"redundancy leak: {self.count} of {self.rows_second} rows ({self.fraction:.1%}) "
                f"of the second split also appear in the first (e.g. rows {shown}); remove "
                f"duplicates before splitting, or the model is evaluated on data it trained on")


def redundancy_leak(first: Any, second: Any) -> LeakReport:
    """Find rows of ``second`` equal to rows of ``first`` (e.g. training and validation data).

    Rows are compared exactly, element by element: arrays of any numeric dtype (0.0 equals -0.0,
    NaN equals NaN, an int equals the same float), or sequences of sequences such as IMDB's lists
    of word indices. ``bool(report)`` is True when there is a leak; ``str(report)`` explains it.
    """
    keys_first, keys_second = _row_keys(first, second)
    where = defaultdict(list)
    for i, key in enumerate(keys_first):
        where[key].append(i)
    pairs = [(i, j) for j, key in enumerate(keys_second) for i in where.get(key, ())]
    return LeakReport(np.array(pairs, dtype=np.int64).reshape(-1, 2), len(keys_first),
                      len(keys_second))


# ----------------------------------------------------------------------------------------------

def _folds(order: np.ndarray, k: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = len(order)
    if n < k:
        raise ValueError(f"K-fold: cannot split {n} rows into k={k} folds; use k <= {n}")
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for i in range(k):
        val = order[bounds[i]:bounds[i + 1]]
        train = np.concatenate([order[:bounds[i]], order[bounds[i + 1]:]])
        yield train, val


def _row_keys(first: Any, second: Any) -> tuple[list, list]:
    """Hashable, exactly comparable keys for the rows of two splits."""
    a, b = _as_rows(first), _as_rows(second)
    if a.dtype == object or b.dtype == object:
        return [_seq_key(r) for r in first], [_seq_key(r) for r in second]
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"redundancy_leak: rows of shape {a.shape[1:]} and {b.shape[1:]} cannot "
                         "be equal")
    dtype = np.result_type(a.dtype, b.dtype)
    keys = []
    for x in (a, b):
        x = np.ascontiguousarray(x.astype(dtype).reshape(len(x), -1))
        if dtype.kind in "fc":
            x = np.where(np.isnan(x), np.nan, x) + 0  # one NaN pattern; -0.0 + 0 is 0.0
        keys.append([row.tobytes() for row in x])
    return keys[0], keys[1]


def _as_rows(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray) and x.dtype != object:
        return x if x.ndim > 1 else x.reshape(-1, 1)
    try:
        arr = np.asarray(x)
    except ValueError:  # ragged sequences
        return np.empty(len(x), dtype=object)
    if arr.dtype == object or arr.ndim < 1:
        return np.empty(len(x), dtype=object)
    return arr if arr.ndim > 1 else arr.reshape(-1, 1)


def _seq_key(row: Any) -> tuple:
    return tuple(np.asarray(row).ravel().tolist())


def _rows(data: Any) -> int:
    if isinstance(data, (int, np.integer)):
        if data < 0:
            raise ValueError(f"the number of rows must be >= 0, got {data}")
        return int(data)
    return len(data)


def _common_length(name: str, arrays: tuple) -> int:
    if not arrays:
        raise ValueError(f"{name}: give at least one array")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"{name}: the arrays have different numbers of rows {lengths}; they must "
                         "align")
    return lengths[0]


def _count(name: str, param: str, value: float | int, n: int) -> int:
    """A fraction in (0, 1) or a count in [1, n - 1] as a row count, at least 1 and at most
    n - 1."""
    if isinstance(value, (float, np.floating)) and 0 < value < 1:
        count = int(round(n * value))
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 < value < n:
        count = int(value)
    else:
        raise ValueError(f"{name}: {param} must be a fraction in (0, 1) or a row count in [1, "
                         f"{n - 1}], got {value!r}")
    if not 0 < count < n:
        raise ValueError(f"{name}: {param}={value!r} leaves an empty split of {n} rows")
    return count


def _take(arrays: tuple, first: np.ndarray, second: np.ndarray) -> tuple:
    parts = [tuple(_index(a, idx) for a in arrays) for idx in (first, second)]
    if len(arrays) == 1:
        return parts[0][0], parts[1][0]
    return parts[0], parts[1]


def _index(array: Any, idx: np.ndarray) -> Any:
    if isinstance(array, np.ndarray):
        return array[idx]
    return [array[i] for i in idx.tolist()]
