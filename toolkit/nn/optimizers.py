"""Optimizers: the update rules of Keras 3, with its defaults, on backend arrays.

An optimizer keeps one set of state arrays (velocities, moments) per parameter, on the backend,
created at the first ``apply``. Updates are functional: ``apply`` returns new parameter arrays and
never writes into the old ones, so a reference to an old array is a snapshot.
"""

from __future__ import annotations

import abc
import math
from types import ModuleType
from typing import Any

from .registry import resolve

Array = Any


class Optimizer(abc.ABC):
    """The shared loop: count steps, build state per parameter, call ``update`` for each."""

    #: Names of the state arrays each parameter gets, all starting at ``initial_state``.
    slots: tuple[str, ...] = ()
    initial_state = 0.0

    def __init__(self, learning_rate: float) -> None:
        if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a number > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self.state: list[dict[str, Array]] | None = None

    def build(self, b: ModuleType, params: list[Array]) -> None:
        """Fresh state arrays for ``params`` on backend ``b``; the step count starts again."""
        self.iterations = 0
        self.state = [
            {slot: b.add(b.zeros(p.shape, p.dtype), self.initial_state) for slot in self.slots}
            for p in params
        ]

    def apply(self, b: ModuleType, params: list[Array], grads: list[Array]) -> list[Array]:
        """One step: the new value of each parameter given its gradient."""
        if self.state is None or len(self.state) != len(params):
            self.build(b, params)
        self.begin_step()
        new = [self.update(b, w, g, s) for w, g, s in zip(params, grads, self.state)]
        self.iterations += 1
        return new

    def begin_step(self) -> None:
        """Per-step bookkeeping shared by all parameters (Nadam's momentum schedule)."""

    @abc.abstractmethod
    def update(self, b: ModuleType, w: Array, g: Array, state: dict[str, Array]) -> Array:
        """The new ``w`` from gradient ``g``; replaces the entries of ``state`` it advances."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate})"


class SGD(Optimizer):
    """Stochastic gradient descent: w -= lr * g; with momentum, v = momentum * v - lr * g and
    w += v (nesterov: w += momentum * v - lr * g). Keras's defaults: learning_rate=0.01,
    momentum=0.0, nesterov=False."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slots = ("velocity",) if self.momentum else ()

    def update(self, b, w, g, state):
        step = b.mul(g, self.learning_rate)
        if not self.momentum:
            return b.sub(w, step)
        v = state["velocity"] = b.sub(b.mul(state["velocity"], self.momentum), step)
        if self.nesterov:
            return b.sub(b.add(w, b.mul(v, self.momentum)), step)
        return b.add(w, v)


class RMSprop(Optimizer):
    """Divides the gradient by a running root mean square: a = rho a + (1 - rho) g**2,
    w -= lr g / sqrt(a + epsilon) (with momentum > 0: m = momentum m + that step, w -= m).
    Keras's defaults: learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7."""

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.slots = ("velocity", "momentum") if self.momentum else ("velocity",)

    def update(self, b, w, g, state):
        fused = getattr(b, "rmsprop_step", None)  # backend.FUSED: one pass, same arithmetic
        if fused is not None and not self.momentum:
            w, state["velocity"] = fused(w, g, state["velocity"], self.learning_rate, self.rho,
                                         self.epsilon)
            return w
        a = state["velocity"] = b.add(b.mul(state["velocity"], self.rho),
                                      b.mul(b.mul(g, g), 1.0 - self.rho))
        step = b.div(b.mul(g, self.learning_rate), b.sqrt(b.add(a, self.epsilon)))
        if self.momentum:
            step = state["momentum"] = b.add(b.mul(state["momentum"], self.momentum), step)
        return b.sub(w, step)


class Adagrad(Optimizer):
    """Divides by the root of all past squared gradients: a += g**2,
    w -= lr g / sqrt(a + epsilon). Keras's defaults: learning_rate=0.001,
    initial_accumulator_value=0.1, epsilon=1e-7."""

    slots = ("accumulator",)

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.initial_state = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def update(self, b, w, g, state):
        a = state["accumulator"] = b.add(state["accumulator"], b.mul(g, g))
        return b.sub(w, b.div(b.mul(g, self.learning_rate), b.sqrt(b.add(a, self.epsilon))))


class Adadelta(Optimizer):
    """Scales steps by the ratio of running RMS of past steps and of gradients:
    a = rho a + (1 - rho) g**2, d = sqrt(s + eps) / sqrt(a + eps) g, s = rho s + (1 - rho) d**2,
    w -= lr d. Keras's defaults: learning_rate=0.001, rho=0.95, epsilon=1e-7."""

    slots = ("accumulated_grad", "accumulated_delta")

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.95,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def update(self, b, w, g, state):
        rho, eps = self.rho, self.epsilon
        a = state["accumulated_grad"] = b.add(b.mul(state["accumulated_grad"], rho),
                                              b.mul(b.mul(g, g), 1.0 - rho))
        s = state["accumulated_delta"]
        d = b.div(b.mul(b.sqrt(b.add(s, eps)), g), b.sqrt(b.add(a, eps)))
        state["accumulated_delta"] = b.add(b.mul(s, rho), b.mul(b.mul(d, d), 1.0 - rho))
        return b.sub(w, b.mul(d, self.learning_rate))


class Adam(Optimizer):
    """Running moments m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g**2, bias-corrected:
    w -= lr sqrt(1 - b2**t) / (1 - b1**t) m / (sqrt(v) + epsilon). Keras's defaults:
    learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    slots = ("m", "v")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def moments(self, b: ModuleType, g: Array, state: dict[str, Array]) -> tuple[Array, Array]:
        """The advanced first and second moments of the gradient."""
        m = state["m"] = b.add(b.mul(state["m"], self.beta_1), b.mul(g, 1.0 - self.beta_1))
        v = state["v"] = b.add(b.mul(state["v"], self.beta_2),
                               b.mul(b.mul(g, g), 1.0 - self.beta_2))
        return m, v

    def update(self, b, w, g, state):
        t = self.iterations + 1
        m, v = self.moments(b, g, state)
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        return b.sub(w, b.div(b.mul(m, alpha), b.add(b.sqrt(v), self.epsilon)))


class Adamax(Optimizer):
    """Adam with the infinity norm: m = b1 m + (1 - b1) g, u = max(b2 u, |g|),
    w -= lr / (1 - b1**t) m / (u + epsilon). Keras's defaults: learning_rate=0.001, beta_1=0.9,
    beta_2=0.999, epsilon=1e-7."""

    slots = ("m", "u")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def update(self, b, w, g, state):
        t = self.iterations + 1
        m = state["m"] = b.add(b.mul(state["m"], self.beta_1), b.mul(g, 1.0 - self.beta_1))
        u = state["u"] = b.maximum(b.mul(state["u"], self.beta_2), b.abs(g))
        step = b.div(b.mul(m, self.learning_rate / (1 - self.beta_1**t)), b.add(u, self.epsilon))
        return b.sub(w, step)


class Nadam(Adam):
    """Adam with Nesterov momentum and Dozat's schedule mu_t = b1 (1 - 0.5 * 0.96**t):
    m_hat = mu_{t+1} m / (1 - prod mu_1..t+1) + (1 - mu_t) g / (1 - prod mu_1..t),
    w -= lr m_hat / (sqrt(v / (1 - b2**t)) + epsilon). Keras's defaults: learning_rate=0.001,
    beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def build(self, b, params):
        super().build(b, params)
        self.u_product = 1.0

    def _mu(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96**t)

    def begin_step(self):
        self.u_product *= self._mu(self.iterations + 1)

    def update(self, b, w, g, state):
        t = self.iterations + 1
        u_t, u_next = self._mu(t), self._mu(t + 1)
        m, v = self.moments(b, g, state)
        m_hat = b.add(b.mul(m, u_next / (1 - self.u_product * u_next)),
                      b.mul(g, (1 - u_t) / (1 - self.u_product)))
        v_hat = b.mul(v, 1.0 / (1 - self.beta_2**t))
        return b.sub(w, b.div(b.mul(m_hat, self.learning_rate),
                              b.add(b.sqrt(v_hat), self.epsilon)))


OPTIMIZERS = {
    "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta, "adam": Adam,
    "adamax": Adamax, "nadam": Nadam,
}


def get(identifier: str | Optimizer) -> Optimizer:
    """The optimizer named ``identifier`` (with Keras's defaults) or the Optimizer given."""
    return resolve(identifier, OPTIMIZERS, "optimizer", Optimizer)
