"""Loss functions with their gradients, computed through a kernel backend.

As in Keras, a loss is the mean over the batch of a per-sample loss; for mse, mae and
binary_crossentropy the per-sample loss is itself the mean over the output units. Each loss also
checks and prepares the labels on the host (``targets``), so that a wrong label shape fails with a
message that names the fix.
"""

from __future__ import annotations

import abc
from types import ModuleType
from typing import Any

import numpy as np

from .composite import clip, clip_grad, sign, size
from .registry import resolve

Array = Any

#: Keras's backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON] before the log.
EPSILON = 1e-7


class Loss(abc.ABC):
    """A loss: ``value`` (a 0-d backend array), ``gradient`` (dL/dy_pred) and ``targets``."""

    name = "loss"

    def targets(self, y: np.ndarray, units: int) -> np.ndarray:
        """``y`` as float32 of shape (samples, units); (samples,) is accepted when units == 1."""
        y = np.asarray(y)
        if y.ndim == 1 and units == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != units:
            raise ValueError(
                f"{self.name}: labels of shape {y.shape} do not match the model's output "
                f"(samples, {units}); give labels of shape (samples, {units})"
                + self._shape_hint(y, units)
            )
        return y.astype(np.float32, copy=False)

    def _shape_hint(self, y: np.ndarray, units: int) -> str:
        return ""

    @abc.abstractmethod
    def value(self, b: ModuleType, y_true: Array, y_pred: Array) -> Array:
        """The mean loss over the batch, as a 0-d array of backend ``b``."""

    @abc.abstractmethod
    def gradient(self, b: ModuleType, y_true: Array, y_pred: Array) -> Array:
        """d(value)/d(y_pred), same shape as ``y_pred``."""

    def __call__(self, b: ModuleType, y_true: Array, y_pred: Array) -> Array:
        return self.value(b, y_true, y_pred)

    def __repr__(self) -> str:
        return self.name


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2): regression (Boston Housing)."""

    name = "mean_squared_error"

    def value(self, b, y_true, y_pred):
        d = b.sub(y_pred, y_true)
        return b.mul(b.sum(b.mul(d, d)), 1.0 / size(d))

    def gradient(self, b, y_true, y_pred):
        return b.mul(b.sub(y_pred, y_true), 2.0 / size(y_pred))


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|): regression, less swayed by outliers."""

    name = "mean_absolute_error"

    def value(self, b, y_true, y_pred):
        d = b.sub(y_pred, y_true)
        return b.mul(b.sum(b.abs(d)), 1.0 / size(d))

    def gradient(self, b, y_true, y_pred):
        return sign(b, b.sub(y_pred, y_true), 1.0 / size(y_pred))


class BinaryCrossentropy(Loss):
    """-mean(y log p + (1 - y) log(1 - p)) with p clipped to [1e-7, 1 - 1e-7]: two-class
    problems with a sigmoid output (IMDB, Pima)."""

    name = "binary_crossentropy"

    def value(self, b, y_true, y_pred):
        p = clip(b, y_pred, EPSILON, 1.0 - EPSILON)
        ll = b.add(b.mul(y_true, b.log(p)), b.mul(b.sub(1.0, y_true), b.log(b.sub(1.0, p))))
        return b.mul(b.sum(ll), -1.0 / size(p))

    def gradient(self, b, y_true, y_pred):
        p = clip(b, y_pred, EPSILON, 1.0 - EPSILON)
        g = b.div(b.sub(p, y_true), b.mul(p, b.sub(1.0, p)))
        return clip_grad(b, y_pred, EPSILON, 1.0 - EPSILON, b.mul(g, 1.0 / size(p)))


class CategoricalCrossentropy(Loss):
    """-mean over samples of sum(y log p) with p clipped to [1e-7, 1 - 1e-7]: one-hot labels and a
    softmax output."""

    name = "categorical_crossentropy"

    def _shape_hint(self, y, units):
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            return (" (these look like integer class labels: use "
                    "loss='sparse_categorical_crossentropy', or one-hot encode them)")
        return ""

    def value(self, b, y_true, y_pred):
        p = clip(b, y_pred, EPSILON, 1.0 - EPSILON)
        return b.mul(b.sum(b.mul(y_true, b.log(p))), -1.0 / y_pred.shape[0])

    def gradient(self, b, y_true, y_pred):
        p = clip(b, y_pred, EPSILON, 1.0 - EPSILON)
        g = b.div(b.mul(y_true, -1.0 / y_pred.shape[0]), p)
        return clip_grad(b, y_pred, EPSILON, 1.0 - EPSILON, g)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """categorical_crossentropy for integer class labels (samples,) or (samples, 1), one-hot
    encoded batch by batch on the host."""

    name = "sparse_categorical_crossentropy"

    def targets(self, y, units):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"{self.name}: labels of shape {y.shape} should be integer classes of shape "
                f"(samples,); for one-hot labels use loss='categorical_crossentropy'"
            )
        if y.size and (not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0 or y.max() >= units):
            raise ValueError(
                f"{self.name}: labels must be integers in [0, {units}) for a model with {units} "
                f"outputs, got values from {y.min()} to {y.max()}"
            )
        onehot = np.zeros((len(y), units), np.float32)
        onehot[np.arange(len(y)), y.astype(np.int64)] = 1.0
        return onehot


LOSSES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}

mse = mean_squared_error = MeanSquaredError()
mae = mean_absolute_error = MeanAbsoluteError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()


def get(identifier: str | Loss) -> Loss:
    """The loss named ``identifier`` (e.g. 'binary_crossentropy', 'mse') or the Loss given."""
    return resolve(identifier, LOSSES, "loss", Loss)
