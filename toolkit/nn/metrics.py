"""Metrics reported during training: accuracy (binary or categorical), mae and mse.

Metrics are computed on the host from a batch's predictions (which come back from the backend
anyway) and labels already prepared by the loss as (samples, units) float32 arrays; fit averages
them over an epoch weighted by batch size, as Keras does.
"""

from __future__ import annotations

import difflib
from typing import Callable

import numpy as np

from .losses import BinaryCrossentropy, CategoricalCrossentropy, Loss

Metric = Callable[[np.ndarray, np.ndarray], float]


def binary_accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> float:
    """The fraction of outputs where (y_pred > threshold) equals the 0/1 label."""
    return float(np.mean(y_true == (y_pred > threshold)))


def categorical_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of samples whose largest output is the labelled class (one-hot labels)."""
    return float(np.mean(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)))


def mean_absolute_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """mean(|y_pred - y_true|)."""
    return float(np.mean(np.abs(y_pred.astype(np.float64) - y_true)))


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """mean((y_pred - y_true)**2)."""
    return float(np.mean(np.square(y_pred.astype(np.float64) - y_true)))


METRICS: dict[str, Metric] = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    # sparse labels are one-hot encoded by the loss before metrics see them
    "sparse_categorical_accuracy": categorical_accuracy,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
}
ACCURACY = ("accuracy", "acc")


def check(name: str) -> str:
    """``name`` if it is a known metric, else ValueError listing the valid ones."""
    if not isinstance(name, str):
        raise TypeError(f"metrics are given by name, e.g. metrics=['accuracy'], got {name!r}")
    if name in METRICS or name in ACCURACY:
        return name
    valid = sorted(list(METRICS) + list(ACCURACY))
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown metric {name!r}.{hint} Valid metric names: {', '.join(valid)}")


def get(name: str, loss: Loss, units: int) -> Metric:
    """The function for metric ``name``; 'accuracy' is binary or categorical depending on the loss
    (and, for other losses, on whether the model has one output), as Keras chooses."""
    check(name)
    if name in ACCURACY:
        if isinstance(loss, BinaryCrossentropy):
            return binary_accuracy
        if isinstance(loss, CategoricalCrossentropy):
            return categorical_accuracy
        return binary_accuracy if units == 1 else categorical_accuracy
    return METRICS[name]
