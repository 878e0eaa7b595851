"""Each optimizer's first two updates against its formula, written out here in float64 (two steps,
so that momentum and accumulated state count), plus Keras's defaults and name resolution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toolkit.kernels import get_backend, numba_cpu
from toolkit.nn import optimizers

B = get_backend("numpy")
W0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.5, 0.1, -1.0]), np.array([-0.3, 0.4, 2.0])]


def run(opt: optimizers.Optimizer) -> list[np.ndarray]:
    """The weights after each of the two steps."""
    w, out = W0.copy(), []
    for g in GRADS:
        (w,) = opt.apply(B, [w], [g])
        out.append(np.asarray(w))
    return out


def sgd(lr, momentum=0.0, nesterov=False):
    w, v, out = W0.copy(), 0.0, []
    for g in GRADS:
        v = momentum * v - lr * g
        w = w + momentum * v - lr * g if nesterov else w + v
        out.append(w)
    return out


def rmsprop(lr=0.001, rho=0.9, eps=1e-7, momentum=0.0):
    w, a, m, out = W0.copy(), 0.0, 0.0, []
    for g in GRADS:
        a = rho * a + (1 - rho) * g * g
        m = momentum * m + lr * g / np.sqrt(a + eps)
        w = w - m
        out.append(w)
    return out


def adagrad(lr=0.001, init=0.1, eps=1e-7):
    w, a, out = W0.copy(), init, []
    for g in GRADS:
        a = a + g * g
        w = w - lr * g / np.sqrt(a + eps)
        out.append(w)
    return out


def adadelta(lr=0.001, rho=0.95, eps=1e-7):
    w, a, s, out = W0.copy(), 0.0, 0.0, []
    for g in GRADS:
        a = rho * a + (1 - rho) * g**2
        d = np.sqrt(s + eps) / np.sqrt(a + eps) * g
        s = rho * s + (1 - rho) * d**2
        w = w - lr * d
        out.append(w)
    return out


def adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    w, m, v, out = W0.copy(), 0.0, 0.0, []
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        out.append(w)
    return out


def adamax(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    w, m, u, out = W0.copy(), 0.0, np.zeros(3), []
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        w = w - lr / (1 - b1**t) * m / (u + eps)
        out.append(w)
    return out


def nadam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    mu = [b1 * (1 - 0.5 * 0.96**t) for t in range(1, 4)]  # mu_1, mu_2, mu_3
    w, m, v, out = W0.copy(), 0.0, 0.0, []
    for t, g in enumerate(GRADS, start=1):
        prod_t = math.prod(mu[:t])
        prod_next = prod_t * mu[t]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = mu[t] * m / (1 - prod_next) + (1 - mu[t - 1]) * g / (1 - prod_t)
        v_hat = v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w)
    return out


CASES = [
    ("sgd", optimizers.SGD(), sgd(0.01)),
    ("sgd momentum", optimizers.SGD(0.1, momentum=0.9), sgd(0.1, 0.9)),
    ("sgd nesterov", optimizers.SGD(0.1, momentum=0.9, nesterov=True), sgd(0.1, 0.9, True)),
    ("rmsprop", optimizers.RMSprop(), rmsprop()),
    ("rmsprop momentum", optimizers.RMSprop(0.01, rho=0.8, momentum=0.5),
     rmsprop(0.01, 0.8, momentum=0.5)),
    ("adagrad", optimizers.Adagrad(), adagrad()),
    ("adadelta", optimizers.Adadelta(1.0), adadelta(1.0)),
    ("adam", optimizers.Adam(), adam()),
    ("adam custom", optimizers.Adam(0.1, beta_1=0.5, beta_2=0.9), adam(0.1, 0.5, 0.9)),
    ("adamax", optimizers.Adamax(), adamax()),
    ("nadam", optimizers.Nadam(), nadam()),
    ("nadam custom", optimizers.Nadam(0.1, beta_1=0.8), nadam(0.1, 0.8)),
]


@pytest.mark.parametrize("opt, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_two_steps_match_the_formula(opt, expected):
    for got, want in zip(run(opt), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert opt.iterations == 2


def test_first_rmsprop_step_by_hand():
    """a = 0.1 * 0.25 = 0.025; step = 0.001 * 0.5 / sqrt(0.025 + 1e-7)."""
    (w,) = optimizers.RMSprop().apply(B, [np.array([1.0])], [np.array([0.5])])
    assert float(w[0]) == pytest.approx(1.0 - 0.0005 / math.sqrt(0.025 + 1e-7))


def test_updates_do_not_write_into_old_arrays():
    w = W0.copy()
    optimizers.Adam().apply(B, [w], [GRADS[0]])
    np.testing.assert_array_equal(w, W0)


@pytest.mark.parametrize("name, cls, defaults", [
    ("sgd", optimizers.SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    ("rmsprop", optimizers.RMSprop, {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7}),
    ("adagrad", optimizers.Adagrad, {"learning_rate": 0.001, "initial_state": 0.1}),
    ("adadelta", optimizers.Adadelta, {"learning_rate": 0.001, "rho": 0.95}),
    ("adam", optimizers.Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999}),
    ("adamax", optimizers.Adamax, {"learning_rate": 0.001, "beta_2": 0.999}),
    ("nadam", optimizers.Nadam, {"learning_rate": 0.001, "epsilon": 1e-7}),
])
def test_names_resolve_to_keras_defaults(name, cls, defaults):
    for opt in (optimizers.get(name), optimizers.get(name.upper()), cls()):
        assert type(opt) is cls
        assert {k: getattr(opt, k) for k in defaults} == defaults


def test_object_is_kept_and_unknown_name_suggests():
    opt = optimizers.RMSprop(learning_rate=1e-3)
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match=r"Did you mean 'rmsprop'.*adam.*sgd"):
        optimizers.get("rmsprp")
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(300, 7), (numba_cpu.PARALLEL_MIN + 37,)],
                         ids=["serial", "parallel"])
def test_fused_rmsprop_step_equals_the_ops(dtype, shape):
    """The numba backend's fused step (backend.FUSED) gives the ops' results bit for bit, on
    one thread and (past the cut-over, in tasks that end mid-vector) on all of them."""
    nb = get_backend("numba")
    rng = np.random.default_rng(3)
    w = rng.normal(size=shape).astype(dtype)
    grads = [rng.normal(size=w.shape).astype(dtype) for _ in range(3)]
    fused, plain = optimizers.RMSprop(0.01), optimizers.RMSprop(0.01)
    wf = wp = w
    for g in grads:
        (wf,) = fused.apply(nb, [wf], [g])
        (wp,) = plain.apply(B, [wp], [g])
    np.testing.assert_array_equal(wf, wp)
    np.testing.assert_array_equal(fused.state[0]["velocity"], plain.state[0]["velocity"])
    with pytest.raises(ValueError, match="one shape and dtype"):
        nb.rmsprop_step(w, w[:2], w, 0.1, 0.9, 1e-7)
