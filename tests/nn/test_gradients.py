"""Every backward pass against central differences in float64: activations, losses, regularizers,
each layer, and a whole model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.gradcheck import numerical_gradient
from toolkit.kernels import get_backend
from toolkit.nn import Activation, Dense, Dropout, Sequential, activations, losses, regularizers

B = get_backend("numpy")
SETTINGS = settings(max_examples=25, deadline=None)
shapes = st.tuples(st.integers(1, 5), st.integers(1, 4))
seeds = st.integers(0, 2**32 - 1)


def scalar(x) -> float:
    return float(np.asarray(x))


@pytest.mark.parametrize("name", ["linear", "relu", "sigmoid", "tanh", "softmax"])
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_activation_backward_matches_numerical(name, shape, seed):
    rng = np.random.default_rng(seed)
    act = activations.get(name)
    z = rng.normal(0, 2, shape)
    z[np.abs(z) < 1e-3] = 0.5  # relu's kink is not differentiable
    weights = rng.normal(size=shape)  # L = sum(weights * f(z)), so dL/da = weights
    numeric = numerical_gradient(lambda v: float(np.sum(weights * act(B, v))), z)
    analytic = act.backward(B, z, act(B, z), weights)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def _targets(name: str, rng, shape):
    n, units = shape
    if name == "binary_crossentropy":
        return rng.integers(0, 2, shape).astype(np.float64), rng.uniform(0.05, 0.95, shape)
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        p = rng.uniform(0.05, 1.0, shape)
        p /= p.sum(axis=1, keepdims=True)
        labels = rng.integers(0, units, n)
        y = labels if name.startswith("sparse") else np.eye(units)[labels]
        return y, p
    y = rng.normal(size=shape)
    p = y + rng.choice([-1, 1], shape) * rng.uniform(0.01, 1, shape)  # away from mae's kink
    return y, p


@pytest.mark.parametrize("name", ["mse", "mae", "binary_crossentropy",
                                  "categorical_crossentropy", "sparse_categorical_crossentropy"])
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_loss_gradient_matches_numerical(name, shape, seed):
    loss = losses.get(name)
    if "categorical" in name:
        shape = (shape[0], shape[1] + 1)  # one class would give p = 1, where the clip is flat
    y, p = _targets(name, np.random.default_rng(seed), shape)
    y = loss.targets(y, shape[1]).astype(np.float64)
    numeric = numerical_gradient(lambda v: scalar(loss.value(B, y, v)), p)
    np.testing.assert_allclose(loss.gradient(B, y, p), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name, reference", [
    ("mse", lambda y, p: np.mean((p - y) ** 2)),
    ("mae", lambda y, p: np.mean(np.abs(p - y))),
    ("binary_crossentropy", lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
    ("categorical_crossentropy", lambda y, p: -np.mean(np.sum(y * np.log(p), axis=1))),
])
def test_loss_values_match_formulas(name, reference):
    y, p = _targets(name, np.random.default_rng(1), (6, 3))
    assert scalar(losses.get(name).value(B, y, p)) == pytest.approx(reference(y, p), rel=1e-12)


def test_binary_crossentropy_clips_probabilities_as_keras():
    y = np.array([[1.0], [0.0]])
    p = np.array([[0.0], [1.0]])  # certain and wrong: log(0) without the clip
    expected = -np.log(1e-7)
    assert scalar(losses.binary_crossentropy.value(B, y, p)) == pytest.approx(expected, rel=1e-6)
    assert np.all(losses.binary_crossentropy.gradient(B, y, p) == 0)  # outside the clip range


@pytest.mark.parametrize("reg", [regularizers.l1(0.03), regularizers.l2(0.02),
                                 regularizers.l1_l2(l1=0.01, l2=0.05)], ids=repr)
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_regularizer_gradient_matches_numerical(reg, shape, seed):
    w = np.random.default_rng(seed).normal(size=shape)
    w[np.abs(w) < 1e-3] = 0.1  # |w| has a kink at 0
    numeric = numerical_gradient(lambda v: scalar(reg.value(B, v)), w)
    np.testing.assert_allclose(reg.gradient(B, w), numeric, rtol=1e-5, atol=1e-7)
    expected = reg.l1 * np.abs(w).sum() + reg.l2 * np.square(w).sum()
    assert scalar(reg.value(B, w)) == pytest.approx(expected, rel=1e-12)


def _float64(layer) -> None:
    layer.params = [np.array(p, dtype=np.float64) for p in layer.params]


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("use_bias", [True, False])
@SETTINGS
@given(n=st.integers(1, 4), inputs=st.integers(1, 4), units=st.integers(1, 4), seed=seeds)
def test_dense_backward_matches_numerical(activation, use_bias, n, inputs, units, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(units, activation=activation, use_bias=use_bias,
                  kernel_regularizer=regularizers.l2(0.1), bias_initializer="random_normal")
    layer.build(B, inputs, rng)
    _float64(layer)
    x = rng.normal(size=(n, inputs))
    upstream = rng.normal(size=(n, units))

    def objective(_=None) -> float:
        penalty = sum(scalar(p) for p in layer.penalty())
        return float(np.sum(upstream * layer.forward(x))) + penalty

    layer.forward(x, training=True)
    dx = layer.backward(upstream)
    np.testing.assert_allclose(dx, numerical_gradient(objective, x), rtol=1e-5, atol=1e-6)
    for param, grad in zip(layer.params, layer.grads):
        np.testing.assert_allclose(grad, numerical_gradient(objective, param), rtol=1e-5, atol=1e-6)


def test_activation_layer_backward_matches_numerical():
    rng = np.random.default_rng(3)
    layer = Activation("tanh")
    layer.build(B, 3, rng)
    x, upstream = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    layer.forward(x, training=True)
    numeric = numerical_gradient(lambda v: float(np.sum(upstream * layer.forward(v))), x)
    np.testing.assert_allclose(layer.backward(upstream), numeric, rtol=1e-6)


def test_dropout_backward_matches_numerical_for_its_mask():
    rng = np.random.default_rng(4)
    layer = Dropout(0.5, seed=7)
    layer.build(B, 6, rng)
    x, upstream = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    out = layer.forward(x, training=True)
    mask = layer._mask
    numeric = numerical_gradient(lambda v: float(np.sum(upstream * v * mask)), x)
    np.testing.assert_allclose(layer.backward(upstream), numeric, rtol=1e-6)
    np.testing.assert_allclose(out, x * mask)


@pytest.mark.parametrize("loss, units, activation", [
    ("binary_crossentropy", 1, "sigmoid"), ("categorical_crossentropy", 3, "softmax"),
    ("mse", 2, "linear"), ("mae", 1, "linear")])
def test_whole_model_gradient_matches_numerical(loss, units, activation):
    """Backpropagation through a small model, penalties included, against the numeric gradient of
    the model's own reported loss."""
    rng = np.random.default_rng(5)
    model = Sequential([Dense(4, activation="relu", input_shape=(3,),
                              kernel_regularizer=regularizers.l1_l2(0.01, 0.01)),
                        Dense(3, activation="tanh"),
                        Dense(units, activation=activation, bias_regularizer="l2")], seed=2)
    model.compile(optimizer="sgd", loss=loss)
    for layer in model.layers:
        _float64(layer)
    x = rng.normal(size=(6, 3))
    y_raw, _ = _targets(loss, rng, (6, units))
    y = model.loss.targets(y_raw, units).astype(np.float64)

    def objective(_=None) -> float:
        return scalar(model.loss.value(B, y, model._forward(x, training=False))) + model._penalty()

    out = model._forward(x, training=True)
    grad = model.loss.gradient(B, y, out)
    for layer in reversed(model.layers):
        grad = layer.backward(grad)
    for layer in model.layers:
        for param, g in zip(layer.params, layer.grads):
            np.testing.assert_allclose(g, numerical_gradient(objective, param), rtol=1e-4,
                                       atol=1e-7)
