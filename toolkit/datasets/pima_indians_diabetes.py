"""Pima Indians Diabetes (NIDDK via UCI): 768 women of Pima heritage, 8 clinical measurements,
and whether diabetes was diagnosed within five years. The course's first binary classifier.

Columns: Pregnancies, Glucose, BloodPressure, SkinThickness, Insulin, BMI,
DiabetesPedigreeFunction, Age. A zero in Glucose, BloodPressure, SkinThickness, Insulin or BMI
(columns 1-5) means "not measured", not a measurement of zero: 374 rows have Insulin = 0. The
loader returns them as they are (as the book does); ``missing_mask(x)`` marks them so you can
impute them from training data or drop those rows, and say which you did.
"""

from __future__ import annotations

import os

import numpy as np

from ._files import HOW_TO_GET, read_csv, shipped, user_file

FEATURES = ("Pregnancies", "Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI",
            "DiabetesPedigreeFunction", "Age")
#: Columns where 0 stands for a missing value.
ZERO_MEANS_MISSING = (1, 2, 3, 4, 5)


def load_data(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): x float32 of shape (768, 8), y int64 of shape (768,) with 0/1 outcomes.

    No split is made: choose one with ``toolkit.data`` (the rows are in the file's order, so
    shuffle before a hold-out split). ``path`` is a headerless 9-column CSV; None reads the
    shipped copy. Zeros in columns 1-5 are missing values (see ``missing_mask``).
    """
    source = shipped("pima-indians-diabetes.csv") if path is None else user_file(
        path, "pima_indians_diabetes", HOW_TO_GET["package"])
    table = read_csv(source, "pima_indians_diabetes", 9, HOW_TO_GET["package"])
    return table[:, :8].astype(np.float32), table[:, 8].astype(np.int64)


def missing_mask(x: np.ndarray) -> np.ndarray:
    """A boolean array like ``x``: True where a zero stands for a missing measurement."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 8:
        raise ValueError(f"missing_mask: expected rows of the 8 Pima features, got shape {x.shape}")
    mask = np.zeros(x.shape, dtype=bool)
    mask[:, ZERO_MEANS_MISSING] = x[:, ZERO_MEANS_MISSING] == 0
    return mask
