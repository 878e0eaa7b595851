"""Layers: each owns its forward and backward pass on a kernel backend (Keras's Dense,
Activation and Dropout, for data of shape (samples, features))."""

from __future__ import annotations

import abc
import re
from types import ModuleType
from typing import Any

import numpy as np

from . import activations, initializers, regularizers

Array = Any


class Layer(abc.ABC):
    """A step of a Sequential model. ``build`` fixes its input width and creates its weights;
    ``forward`` at training time keeps what ``backward`` needs (inference leaves it alone);
    ``backward`` sets ``grads`` (one per weight, the
    regularization penalty's gradient included) and returns the gradient for its input."""

    def __init__(self, name: str | None = None, input_shape: tuple[int, ...] | None = None,
                 input_dim: int | None = None) -> None:
        if input_dim is not None:
            input_shape = (input_dim,)
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if len(input_shape) != 1 or not _positive_int(input_shape[0]):
                raise ValueError(
                    f"{type(self).__name__}: input_shape must be (features,) with a positive "
                    f"integer, got {input_shape!r} (the layers take 2-D data (samples, features))"
                )
        self.name = name
        self.input_shape = input_shape
        self.input_units: int | None = None
        self.params: list[Array] = []
        self.param_names: list[str] = []
        self.grads: list[Array] = []
        self.backend: ModuleType | None = None

    @property
    def built(self) -> bool:
        return self.input_units is not None

    def build(self, b: ModuleType, input_units: int, rng: np.random.Generator) -> None:
        """Fix the input width and create the weights on backend ``b`` from ``rng``."""
        self.backend, self.input_units = b, input_units

    @property
    def units(self) -> int:
        """The output width."""
        assert self.input_units is not None
        return self.input_units

    @abc.abstractmethod
    def forward(self, x: Array, training: bool = False) -> Array:
        """The layer's output for ``x``."""

    @abc.abstractmethod
    def backward(self, grad: Array, need_input_grad: bool = True) -> Array | None:
        """The gradient for the input (None when not needed), given the output's ``grad``."""

    def penalty(self) -> list[Array]:
        """The regularization penalties of this layer's weights (0-d backend arrays)."""
        return []

    def count_params(self) -> int:
        return sum(int(np.prod(p.shape)) for p in self.params)

    def default_name(self) -> str:
        """Keras's naming: the class name in snake_case ('dense', 'dropout')."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()


def _positive_int(n: Any) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0


class Dense(Layer):
    """A fully connected layer, ``activation(dot(x, kernel) + bias)``. Keras's defaults:
    activation=None (linear), use_bias=True, kernel_initializer='glorot_uniform',
    bias_initializer='zeros', no regularizers."""

    def __init__(self, units: int, activation: str | activations.Activation | None = None,
                 use_bias: bool = True,
                 kernel_initializer: str | initializers.Initializer = "glorot_uniform",
                 bias_initializer: str | initializers.Initializer = "zeros",
                 kernel_regularizer: str | regularizers.Regularizer | None = None,
                 bias_regularizer: str | regularizers.Regularizer | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not _positive_int(units):
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self._units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    @property
    def units(self) -> int:
        return self._units

    def build(self, b, input_units, rng):
        super().build(b, input_units, rng)
        self.param_names = ["kernel", "bias"] if self.use_bias else ["kernel"]
        self.params = [b.asarray(self.kernel_initializer((input_units, self._units), rng))]
        if self.use_bias:
            self.params.append(b.asarray(self.bias_initializer((self._units,), rng)))
        self.regularizers = [self.kernel_regularizer, self.bias_regularizer][:len(self.params)]

    def forward(self, x, training=False):
        b = self.backend
        z = b.dot(x, self.params[0])
        if self.use_bias:
            z = b.add(z, self.params[1])
        a = self.activation(b, z)
        if training:
            self._cache = (x, z, a)
        return a

    def backward(self, grad, need_input_grad=True):
        b = self.backend
        x, z, a = self._cache
        gz = self.activation.backward(b, z, a, grad)
        grads = [b.dot(x, gz, trans_a=True)]
        if self.use_bias:
            grads.append(b.sum(gz, axis=0))
        self.grads = [g if r is None else b.add(g, r.gradient(b, w))
                      for g, w, r in zip(grads, self.params, self.regularizers)]
        self._cache = None
        return b.dot(gz, self.params[0], trans_b=True) if need_input_grad else None

    def penalty(self):
        return [r.value(self.backend, w) for w, r in zip(self.params, self.regularizers)
                if r is not None]


class Activation(Layer):
    """Applies an activation function ('relu', 'sigmoid', 'tanh', 'softmax', 'linear')."""

    def __init__(self, activation: str | activations.Activation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        a = self.activation(self.backend, x)
        if training:
            self._cache = (x, a)
        return a

    def backward(self, grad, need_input_grad=True):
        x, a = self._cache
        self._cache = None
        return self.activation.backward(self.backend, x, a, grad) if need_input_grad else None


class Dropout(Layer):
    """Inverted dropout: at training time each input is zeroed with probability ``rate`` and the
    rest scaled by 1 / (1 - rate), so that inference is the identity. ``seed`` fixes the masks
    (by default the model's seed decides them)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), the fraction of inputs to drop; "
                             f"got {rate!r}")
        self.rate, self.seed = float(rate), seed

    def build(self, b, input_units, rng):
        super().build(b, input_units, rng)
        self.rng = np.random.default_rng(self.seed) if self.seed is not None else rng.spawn(1)[0]

    def forward(self, x, training=False):
        if not training:
            return x
        if self.rate == 0.0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        self._mask = self.backend.asarray(keep.astype(np.float32) * np.float32(1 / (1 - self.rate)))
        return self.backend.mul(x, self._mask)

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad if self._mask is None else self.backend.mul(grad, self._mask)
