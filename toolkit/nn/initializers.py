"""Weight initializers with Keras's formulas and defaults; they draw on the host from a seeded
NumPy generator (so a seed makes a model reproducible) and return float32 arrays."""

from __future__ import annotations

import abc
import math

import numpy as np

from .registry import resolve


class Initializer(abc.ABC):
    """Makes an initial weight array of a given shape."""

    @abc.abstractmethod
    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """A new array of ``shape``, drawn from ``rng`` where the scheme is random."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Zeros(Initializer):
    """All zeros (Keras's default for biases)."""

    def __call__(self, shape, rng):
        return np.zeros(shape, np.float32)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, rng):
        return np.ones(shape, np.float32)


class Constant(Initializer):
    """All ``value`` (default 0)."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape, rng):
        return np.full(shape, self.value, np.float32)


class RandomNormal(Initializer):
    """Normal(mean, stddev); Keras's defaults mean=0.0, stddev=0.05."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape).astype(np.float32)


class RandomUniform(Initializer):
    """Uniform(minval, maxval); Keras's defaults minval=-0.05, maxval=0.05."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape).astype(np.float32)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape: (inputs, units) for a Dense kernel."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return int(np.prod(shape[:-1])), shape[-1]


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: variance scale / n, n the fan_in, fan_out or their mean ('mode');
    'uniform' draws from [-sqrt(3 var), sqrt(3 var)], 'truncated_normal' from a normal cut at
    two standard deviations and rescaled so that the variance stays ``var``."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal") -> None:
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "uniform"):
            raise ValueError(f"distribution must be 'truncated_normal' or 'uniform', "
                             f"got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, rng):
        fan_in, fan_out = fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape).astype(np.float32)
        stddev = math.sqrt(variance) / 0.87962566103423978  # std of a unit normal cut at +-2
        out = rng.normal(0.0, 1.0, shape)
        bad = np.abs(out) > 2.0
        while bad.any():
            out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
            bad = np.abs(out) > 2.0
        return (out * stddev).astype(np.float32)


class GlorotUniform(VarianceScaling):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)): Keras's default kernel initializer."""

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "uniform")


class GlorotNormal(VarianceScaling):
    """Truncated normal with stddev sqrt(2 / (fan_in + fan_out))."""

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal")


class HeUniform(VarianceScaling):
    """Uniform in +-sqrt(6 / fan_in), suited to relu layers."""

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "uniform")


class HeNormal(VarianceScaling):
    """Truncated normal with stddev sqrt(2 / fan_in), suited to relu layers."""

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal")


INITIALIZERS = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
}


def get(identifier: str | Initializer) -> Initializer:
    """The initializer named ``identifier`` (e.g. 'glorot_uniform', 'zeros') or the one given."""
    return resolve(identifier, INITIALIZERS, "initializer", Initializer)
