"""Mistakes users make get errors that name the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.nn import Dense, Dropout, Sequential, activations, initializers, losses, regularizers


def model(features: int = 10, units: int = 1, activation: str = "sigmoid") -> Sequential:
    m = Sequential([Dense(4, activation="relu", input_shape=(features,)),
                    Dense(units, activation=activation)], seed=0)
    return m


def compiled(**kwargs) -> Sequential:
    m = model(**kwargs)
    m.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return m


X, Y = np.zeros((8, 10), np.float32), np.zeros(8, np.float32)


def test_wrong_input_width_names_both_widths():
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 10\).*\(8, 9\)"):
        compiled().fit(np.zeros((8, 9)), Y, verbose=0)
    with pytest.raises(ValueError, match=r"\(None, 10\)"):
        model().predict(np.zeros((3, 11)))


def test_input_of_the_wrong_rank_says_to_flatten():
    with pytest.raises(ValueError, match=r"2-D.*reshape"):
        compiled().fit(np.zeros((8, 2, 5)), Y, verbose=0)


def test_labels_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"labels of shape \(8, 2\).*\(samples, 1\)"):
        compiled().fit(X, np.zeros((8, 2)), verbose=0)
    with pytest.raises(ValueError, match=r"x has 8 samples but y has 7"):
        compiled().fit(X, np.zeros(7), verbose=0)
    m = model(units=3, activation="softmax")
    m.compile(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        m.fit(X, np.zeros(8), verbose=0)
    m.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"integers in \[0, 3\)"):
        m.fit(X, np.full(8, 3), verbose=0)


@pytest.mark.parametrize("getter, typo, right", [
    (lambda name: model().compile(optimizer=name, loss="mse"), "rmsprp", "rmsprop"),
    (lambda name: model().compile(loss=name), "binary_crossentropi", "binary_crossentropy"),
    (lambda name: model().compile(loss="mse", metrics=[name]), "acuracy", "accuracy"),
    (lambda name: Dense(3, activation=name), "rellu", "relu"),
    (initializers.get, "glorot_unifrom", "glorot_uniform"),
    (regularizers.get, "l22", "l2"),
])
def test_unknown_names_list_the_valid_ones_and_suggest(getter, typo, right):
    with pytest.raises(ValueError, match=rf"unknown .*{typo!r}.*Did you mean {right!r}.*Valid"):
        getter(typo)


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_any_unknown_activation_name_is_a_value_error(name):
    if name.lower() in activations.ACTIVATIONS:
        return
    with pytest.raises(ValueError, match="Valid activation names: linear, relu, sigmoid"):
        activations.get(name)


def test_fit_and_evaluate_before_compile():
    with pytest.raises(RuntimeError, match=r"compile.*model\.compile\(optimizer="):
        model().fit(X, Y)
    with pytest.raises(RuntimeError, match="compiled first"):
        model().evaluate(X, Y)


def test_compile_needs_a_loss_and_a_metrics_list():
    with pytest.raises(ValueError, match="needs a loss"):
        model().compile(optimizer="adam")
    with pytest.raises(TypeError, match=r"metrics=\['accuracy'\]"):
        model().compile(loss="mse", metrics="accuracy")


def test_bad_arguments():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        Dense(0)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="input_shape must be"):
        Dense(2, input_shape=(3, 4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        compiled().fit(X, Y, batch_size=0)
    with pytest.raises(ValueError, match="validation_split"):
        compiled().fit(X, Y, validation_split=1.5)
    with pytest.raises(ValueError, match="unknown backend 'cpu'"):
        Sequential(backend="cpu")
    with pytest.raises(TypeError, match="x must hold numbers"):
        compiled().fit(np.array([["a"] * 10] * 8), Y)
    with pytest.raises(ValueError, match="unique"):
        Sequential([Dense(2, input_dim=3, name="a"), Dense(2, name="a")])


def test_unbuilt_model_says_how_to_build_it():
    m = Sequential([Dense(2), Dense(1)])
    with pytest.raises(ValueError, match=r"input_shape=\(features,\)"):
        m.summary()
    m.compile(loss="mse")
    m.fit(np.zeros((4, 3)), np.zeros(4), verbose=0)  # fit builds it from the data
    assert m.count_params() == 3 * 2 + 2 + 2 + 1


def test_early_stopping_on_a_missing_key():
    from toolkit.nn import EarlyStopping
    with pytest.raises(ValueError, match=r"monitor 'val_loss'.*validation_data"):
        compiled().fit(X, Y, callbacks=[EarlyStopping()], verbose=0)


def test_loss_names_are_keras_aliases():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("mean_absolute_error"), losses.MeanAbsoluteError)
