"""Boston Housing (Harrison & Rubinfeld 1978, via UCI/StatLib): 506 Boston suburbs of the 1970s,
13 features, the median home value in $1000s as the target. Keras's loader, offline.

Columns: CRIM ZN INDUS CHAS NOX RM AGE DIS RAD TAX PTRATIO B LSTAT.

A warning on feature ``B`` (column 11): it is 1000 (Bk - 0.63)^2, where Bk is the proportion of
Black residents, built on the authors' assumption that racial self-segregation raises house
prices. It encodes a racist premise, is not invertible to the proportion it claims to measure, and
is why scikit-learn removed this dataset. It is kept here only so the book's listings and Keras's
split reproduce exactly; do not use it to reason about people or prices, and consider dropping
column 11 (``x[:, np.arange(13) != 11]``) in your own work.
"""

from __future__ import annotations

import os

import numpy as np

from ._files import HOW_TO_GET, read_csv, shipped, user_file

FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX",
            "PTRATIO", "B", "LSTAT")


def load_data(path: str | os.PathLike | None = None, test_split: float = 0.2, seed: int = 113
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)) as float64, split as
    ``keras.datasets.boston_housing``.

    The rows are shuffled with ``np.random.RandomState(seed).shuffle`` and the first
    ``int(506 * (1 - test_split))`` go to training: 404 / 102 with the defaults, the book's split.
    ``path`` is a headerless 14-column CSV (13 features, then MEDV); None reads the shipped copy.
    See the module docstring about the ethical problem of feature ``B``.
    """
    if not 0.0 <= test_split < 1.0:
        raise ValueError(f"test_split must be in [0, 1), got {test_split}")
    source = (shipped("boston_housing.csv") if path is None
              else user_file(path, "boston_housing", HOW_TO_GET["package"]))
    table = read_csv(source, "boston_housing", 14, HOW_TO_GET["package"])
    x, y = table[:, :13], table[:, 13]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
