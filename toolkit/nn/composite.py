"""Operations the network needs that the backend protocol does not list, composed from its ops
(so they run on every backend, on the device where the backend has one)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

Array = Any


def size(x: Array) -> int:
    """The number of elements of a backend array."""
    return int(np.prod(x.shape))


def full(b: ModuleType, shape: tuple[int, ...], value: float, dtype: Any = np.float32) -> Array:
    """A backend array of ``shape`` filled with ``value``."""
    return b.add(b.zeros(shape, dtype), value)


def sign(b: ModuleType, x: Array, scale: float = 1.0) -> Array:
    """scale * sign(x), from relu_grad (which passes its gradient where x > 0); sign(0) = 0."""
    ones = full(b, x.shape, scale, x.dtype)
    return b.sub(b.relu_grad(x, ones), b.relu_grad(b.sub(0.0, x), ones))


def clip(b: ModuleType, x: Array, low: float, high: float) -> Array:
    """x limited to [low, high] elementwise."""
    return b.maximum(b.minimum(x, high), low)


def clip_grad(b: ModuleType, x: Array, low: float, high: float, grad: Array) -> Array:
    """The backward pass of clip: ``grad`` where low < x < high, else 0."""
    return b.relu_grad(b.sub(x, low), b.relu_grad(b.sub(high, x), grad))
