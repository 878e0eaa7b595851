"""Activation functions with their derivatives, computed through a kernel backend.

Each activation maps ``z`` to ``a = f(z)`` and turns the gradient with respect to ``a`` into the
gradient with respect to ``z`` (``backward``), given both ``z`` and ``a``.
"""

from __future__ import annotations

import abc
from types import ModuleType
from typing import Any

from .registry import resolve

Array = Any


class Activation(abc.ABC):
    """An elementwise (or row-wise, for softmax) nonlinearity and its backward pass."""

    name = "activation"

    @abc.abstractmethod
    def __call__(self, b: ModuleType, z: Array) -> Array:
        """f(z) on backend ``b``."""

    @abc.abstractmethod
    def backward(self, b: ModuleType, z: Array, a: Array, grad: Array) -> Array:
        """dL/dz from dL/da = ``grad``, where ``a = f(z)``."""

    def __repr__(self) -> str:
        return self.name


class Linear(Activation):
    """The identity, a(z) = z (Keras's default for Dense)."""

    name = "linear"

    def __call__(self, b, z):
        return z

    def backward(self, b, z, a, grad):
        return grad


class Relu(Activation):
    """max(z, 0); its derivative is 1 where z > 0, else 0."""

    name = "relu"

    def __call__(self, b, z):
        return b.relu(z)

    def backward(self, b, z, a, grad):
        return b.relu_grad(z, grad)


class Sigmoid(Activation):
    """1 / (1 + exp(-z)); its derivative is a (1 - a)."""

    name = "sigmoid"

    def __call__(self, b, z):
        return b.sigmoid(z)

    def backward(self, b, z, a, grad):
        return b.mul(grad, b.mul(a, b.sub(1.0, a)))


class Tanh(Activation):
    """tanh(z); its derivative is 1 - a**2."""

    name = "tanh"

    def __call__(self, b, z):
        return b.tanh(z)

    def backward(self, b, z, a, grad):
        return b.mul(grad, b.sub(1.0, b.mul(a, a)))


class Softmax(Activation):
    """exp(z) / sum(exp(z)) over the last axis; backward is a * (grad - sum(grad * a))."""

    name = "softmax"

    def __call__(self, b, z):
        return b.softmax(z)

    def backward(self, b, z, a, grad):
        return b.mul(a, b.sub(grad, b.sum(b.mul(grad, a), axis=-1, keepdims=True)))


linear = Linear()
relu = Relu()
sigmoid = Sigmoid()
tanh = Tanh()
softmax = Softmax()

ACTIVATIONS = {"linear": Linear, "relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh,
               "softmax": Softmax}


def get(identifier: str | Activation | None) -> Activation:
    """The activation named ``identifier`` ('relu', 'sigmoid', 'tanh', 'softmax', 'linear'); None
    means linear, as in Keras."""
    if identifier is None:
        return linear
    return resolve(identifier, ACTIVATIONS, "activation", Activation)
