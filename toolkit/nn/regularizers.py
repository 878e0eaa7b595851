"""Weight regularizers: penalties on a layer's weights added to the loss (and so to loss and
val_loss, as in Keras), and their gradients."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .composite import sign
from .registry import resolve

Array = Any


class Regularizer:
    """l1 * sum(|w|) + l2 * sum(w**2); Keras's default factor is 0.01."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        for label, value in (("l1", l1), ("l2", l2)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"regularizer factor {label} must be a number >= 0, got {value!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def value(self, b: ModuleType, w: Array) -> Array:
        """The penalty for weights ``w``, a 0-d array of backend ``b``."""
        terms = ([b.mul(b.sum(b.abs(w)), self.l1)] if self.l1 else []) + \
                ([b.mul(b.sum(b.mul(w, w)), self.l2)] if self.l2 else [])
        if not terms:
            return b.zeros((), w.dtype)
        return terms[0] if len(terms) == 1 else b.add(terms[0], terms[1])

    def gradient(self, b: ModuleType, w: Array) -> Array:
        """d(penalty)/dw: l1 * sign(w) + 2 * l2 * w."""
        terms = ([sign(b, w, self.l1)] if self.l1 else []) + \
                ([b.mul(w, 2.0 * self.l2)] if self.l2 else [])
        if not terms:
            return b.zeros(w.shape, w.dtype)
        return terms[0] if len(terms) == 1 else b.add(terms[0], terms[1])

    def __call__(self, b: ModuleType, w: Array) -> Array:
        return self.value(b, w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(Regularizer):
    """l1 * sum(|w|)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)


class L2(Regularizer):
    """l2 * sum(w**2): 'every coefficient adds l2 * w**2 to the loss' (weight decay)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w**2); Keras's L1L2 class defaults both to 0."""


def l1(l1: float = 0.01) -> Regularizer:  # Keras's name
    """L1 regularization (Keras's default factor 0.01)."""
    return L1(l1)


def l2(l2: float = 0.01) -> Regularizer:
    """L2 regularization (Keras's default factor 0.01)."""
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> Regularizer:  # Keras's name
    """L1 and L2 together (Keras's l1_l2 defaults both factors to 0.01)."""
    return L1L2(l1, l2)


REGULARIZERS = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}


def get(identifier: str | Regularizer | None) -> Regularizer | None:
    """The regularizer named ``identifier`` ('l1', 'l2', 'l1_l2'), the one given, or None."""
    if identifier is None:
        return None
    return resolve(identifier, REGULARIZERS, "regularizer", Regularizer)
