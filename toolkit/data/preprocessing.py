"""Turning raw data into tensors a network takes (chapter 3.4-3.6 and 4.3 of the book):
multi-hot vectors for word sequences, one-hot labels, and feature scaling.

Why does Sam's model predict NaN? Two usual causes, both caught here with a clear error or warning
instead of a silent NaN:

1. A feature is constant in the training data, so its standard deviation (or its max - min) is 0
   and ``(x - mean) / std`` divides 0 by 0. The scalers leave such a feature unscaled (divide by 1,
   so it becomes 0 after centring) and warn, naming the feature.
2. The input itself holds NaN (a missing value): NaN propagates through every mean, every sum and
   every layer, so one NaN in a test row makes that row's prediction NaN, and one NaN in the
   training data makes the statistics, and then every weight, NaN. The scalers refuse NaN and
   infinite values in ``fit`` and ``transform`` with a ValueError naming the rows and columns:
   impute them (with statistics from the training data) or drop those rows first.

The scalers are fitted on training data only and then applied unchanged to validation and test
data: fitting on test data would leak information about it into the model.
"""

from __future__ import annotations

import itertools
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np


def vectorize_sequences(sequences: Sequence[Sequence[int]], dimension: int = 10000,
                        dtype: Any = np.float32, sparse: bool = False) -> Any:
    """Multi-hot encode integer sequences: row i has 1.0 at each index in ``sequences[i]``.

    The book's loop (``results[i, sequence] = 1.``) done as one vectorized scatter per block of
    rows: the flat positions ``i * dimension + index`` of a block's words are computed at once,
    and the small temporaries stay in cache while the result is written in order. Indices must
    lie in ``[0, dimension)``: load the data with ``num_words=dimension``.

    With ``sparse=True`` the result is a scipy.sparse CSR matrix holding only the ones (IMDB's
    reviews set 1.3% of 10,000 words: 26 MB instead of 1 GB for the training set), which
    ``Sequential.fit``, ``evaluate`` and ``predict`` take as they take the dense array.
    """
    if not isinstance(dimension, (int, np.integer)) or dimension < 1:
        raise ValueError("vectorize_sequences: dimension must be a positive int, got "
                         f"{dimension!r}")
    n = len(sequences)
    if sparse:
        return _multi_hot_csr(n, _word_positions(sequences, dimension), dimension, dtype)
    results = np.zeros((n, dimension), dtype=dtype)
    flat_results = results.reshape(-1)
    for positions in _word_positions(sequences, dimension):
        flat_results[positions] = 1
    return results


def _word_positions(sequences: Sequence[Sequence[int]], dimension: int):
    """The flat positions ``row * dimension + index`` of every word, a block of rows at a time
    (in row order), after checking that every index lies in [0, dimension)."""
    n = len(sequences)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=n)
    block = max(1, _BLOCK_ELEMENTS // max(1, int(lengths.mean()) if n else 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        count = int(lengths[start:stop].sum())
        try:
            indices = np.fromiter(itertools.chain.from_iterable(sequences[start:stop]),
                                  dtype=np.int64, count=count)
        except (TypeError, ValueError) as error:
            raise TypeError("vectorize_sequences: sequences must hold integer word indices "
                            f"({error})") from None
        if count == 0:
            continue
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= dimension:
            bad = low if low < 0 else high
            raise ValueError(
                f"vectorize_sequences: index {bad} is outside [0, {dimension}); load the data "
                f"with num_words={dimension} or pass dimension={high + 1} (or more)"
            )
        positions = np.repeat(np.arange(start, stop, dtype=np.int64) * dimension,
                              lengths[start:stop])
        yield positions + indices


def _multi_hot_csr(n: int, blocks, dimension: int, dtype: Any):
    """The CSR matrix with a one at each distinct position (rows' columns sorted)."""
    import scipy.sparse

    distinct = [np.unique(positions) for positions in blocks]
    positions = np.concatenate(distinct) if distinct else np.zeros(0, np.int64)
    rows, columns = np.divmod(positions, dimension)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    index_type = np.int32 if max(dimension, len(positions)) < 2**31 else np.int64
    return scipy.sparse.csr_matrix(
        (np.ones(len(positions), dtype), columns.astype(index_type), indptr.astype(index_type)),
        shape=(n, dimension))


#: About how many word indices one block of vectorize_sequences handles (temporaries of ~2 MB).
_BLOCK_ELEMENTS = 1 << 18


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = np.float32) -> np.ndarray:
    """One-hot encode integer class labels as Keras does: shape ``y.shape + (num_classes,)``
    (a trailing axis of size 1 is dropped first); ``num_classes`` defaults to ``max(y) + 1``."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if np.any(~np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("to_categorical: labels must be whole numbers (got non-integer or NaN "
                             "values)")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    flat = y.reshape(-1).astype(np.int64)
    if flat.size and flat.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, got {flat.min()}")
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    elif flat.size and flat.max() >= num_classes:
        raise ValueError(f"to_categorical: label {flat.max()} does not fit "
                         f"num_classes={num_classes} (labels must be < num_classes)")
    categorical = np.zeros((flat.size, num_classes), dtype=dtype)
    categorical[np.arange(flat.size), flat] = 1
    return categorical.reshape(y.shape + (num_classes,))


class _Scaler(ABC):
    """Shared fit / transform / fit_transform / inverse_transform over axis 0 (one statistic per
    feature); subclasses say how to compute the ``offset`` and ``scale`` of each feature."""

    #: The name of the spread the scaler divides by, for the zero-spread warning.
    spread = "spread"

    def __init__(self) -> None:
        self.offset_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.constant_features_: np.ndarray | None = None

    def fit(self, x: Any) -> "_Scaler":
        """Compute each feature's statistics from ``x`` (the training data only)."""
        x = _check_finite(type(self).__name__ + ".fit", x)
        if len(x) == 0:
            raise ValueError(f"{type(self).__name__}.fit: needs at least one row, got shape "
                             f"{x.shape}")
        stats = x.astype(np.float64)
        offset, spread = self._statistics(stats)
        # "zero" allows for rounding: a spread within a few ulps of the feature's magnitude
        # (or subnormal) is noise, and dividing by it would blow values up to inf.
        magnitude = np.abs(stats).max(axis=0)
        constant = ((spread <= 10 * np.finfo(np.float64).eps * magnitude)
                    | (spread < np.finfo(np.float64).tiny))
        if np.any(constant):
            where = np.argwhere(constant)
            names = ", ".join(str(tuple(int(i) for i in w)) if w.size > 1 else str(int(w[0]))
                              for w in where[:10])
            warnings.warn(
                f"{type(self).__name__}: feature(s) {names}{' ...' if len(where) > 10 else ''} are "
                f"constant in the training data ({self.spread} 0); they are centred but not scaled "
                f"(divided by 1) instead of dividing by zero, which would give NaN",
                RuntimeWarning, stacklevel=2,
            )
        self.offset_, self.scale_ = offset, np.where(constant, 1.0, spread)
        self.constant_features_ = constant
        return self

    def transform(self, x: Any) -> np.ndarray:
        """``(x - offset) / scale`` with the statistics learned by ``fit``."""
        name = type(self).__name__ + ".transform"
        if self.offset_ is None:
            raise ValueError(f"{name}: call fit(training_data) first")
        x = _check_finite(name, x)
        if x.shape[1:] != self.offset_.shape:
            raise ValueError(f"{name}: x has features of shape {x.shape[1:]}, but the scaler was "
                             f"fitted on features of shape {self.offset_.shape}")
        with np.errstate(over="ignore"):  # reported below, with its cause
            out = ((x - self.offset_) / self.scale_).astype(_float_dtype(x), copy=False)
        overflow = ~np.isfinite(out)
        if overflow.any():
            cols = np.unique(np.argwhere(overflow)[:, 1])
            raise ValueError(
                f"{name}: scaling overflowed to infinity in feature(s) {_few(cols)}: their "
                f"training {self.spread} ({_few_values(self.scale_.reshape(-1)[cols])}) is tiny "
                f"for these values; drop such near-constant features or rescale them first"
            )
        return out

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``: for the training data only."""
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any) -> np.ndarray:
        """Undo ``transform``: ``x * scale + offset`` (e.g. to read scaled predictions in the
        original units)."""
        if self.offset_ is None:
            raise ValueError(f"{type(self).__name__}.inverse_transform: call fit(training_data) "
                             "first")
        x = np.asarray(x)
        return (x * self.scale_ + self.offset_).astype(_float_dtype(x), copy=False)

    @abstractmethod
    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each feature's (offset, spread) over axis 0 of the float64 training data."""


class StandardScaler(_Scaler):
    """Standardization, the book's normalization: ``(x - mean) / std`` per feature, with the mean
    and (population) standard deviation of the training data; zero-std features are divided by 1."""

    spread = "standard deviation"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(_Scaler):
    """Rescaling (min-max normalization): ``(x - min) / (max - min)`` per feature, mapping the
    training data to [0, 1]; zero-range features are divided by 1."""

    spread = "max - min"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low = x.min(axis=0)
        return low, x.max(axis=0) - low


class MeanNormalizer(_Scaler):
    """Mean normalization: ``(x - mean) / (max - min)`` per feature, centring the training data
    in [-1, 1]; zero-range features are divided by 1."""

    spread = "max - min"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), x.max(axis=0) - x.min(axis=0)


#: The slides' names for the three scalers.
Standardization = StandardScaler
Rescaling = MinMaxScaler
MeanNormalization = MeanNormalizer


def _check_finite(name: str, x: Any) -> np.ndarray:
    """``x`` as an array of at least 2 dimensions (rows, features...), or ValueError naming where
    it holds NaN or infinity."""
    x = np.asarray(x)
    if x.dtype.kind not in "iufb":
        raise TypeError(f"{name}: expected a numeric array, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{name}: expected rows of features (at least 2 dimensions), got shape "
                         f"{x.shape}; reshape a single feature with x.reshape(-1, 1)")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            where = np.argwhere(bad)
            rows = np.unique(where[:, 0])
            cols = np.unique(where[:, 1])
            raise ValueError(
                f"{name}: x holds {int(bad.sum())} NaN or infinite value(s), in row(s) "
                f"{_few(rows)} and feature(s) {_few(cols)}. NaN would propagate into every "
                f"statistic and prediction: impute the missing values (with training-data "
                f"statistics) or drop those rows first"
            )
    return x


def _few(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return shown + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def _few_values(values: np.ndarray, limit: int = 4) -> str:
    return ", ".join(f"{v:.3g}" for v in values[:limit]) + (" ..." if len(values) > limit else "")


def _float_dtype(x: np.ndarray) -> np.dtype:
    """Floating inputs keep their precision (float32 stays float32); others become float64."""
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
