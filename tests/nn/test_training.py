"""Training end to end: loss falls on every backend, reproducibility, validation_split, early
stopping, dropout, save/load, summary and history keys."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.nn import (
    Dense,
    Dropout,
    EarlyStopping,
    RMSprop,
    Sequential,
    layers,
    models,
    regularizers,
)


def backends() -> list[str]:
    """numpy always; numba and cuda once their modules exist (cuda runs under the simulator
    without a GPU). A module that exists but fails to import fails the tests."""
    names = ["numpy"]
    for name, module in (("numba", "numba_cpu"), ("cuda", "cuda")):
        try:
            importlib.import_module(f"toolkit.kernels.{module}")
        except ModuleNotFoundError as error:
            if error.name != f"toolkit.kernels.{module}":
                raise
            continue
        names.append(name)
    return names


def separable(n: int = 256, features: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points labelled by the side of a hyperplane they fall on."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=features) > 0).astype(np.float32)
    return x, y


def imdb_like(units: int = 16, features: int = 100, seed: int = 0, backend: str = "numpy"):
    return Sequential([Dense(units, activation="relu", input_shape=(features,)),
                       Dense(units, activation="relu"), Dense(1, activation="sigmoid")],
                      backend=backend, seed=seed)


@pytest.mark.parametrize("backend", backends())
def test_loss_falls_on_a_separable_problem(backend):
    tiny = backend == "cuda"  # the simulator runs every GPU thread in Python
    x, y = separable(n=32 if tiny else 256, features=8 if tiny else 20)
    model = imdb_like(units=4 if tiny else 16, features=x.shape[1], seed=1, backend=backend)
    model.compile(optimizer=RMSprop(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=2 if tiny else 15, batch_size=16 if tiny else 64, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < loss[0]
    if not tiny:
        assert loss[-1] < 0.3 and history.history["accuracy"][-1] > 0.9
        assert model.evaluate(x, y, verbose=0)[1] > 0.9


@pytest.mark.parametrize("backend", [b for b in backends() if b != "numpy"])
def test_backend_matches_numpy(backend):
    """One epoch from the same seed gives the same weights on every backend (to float32 noise)."""
    if backend == "cuda":
        x, y = separable(n=16, features=4)
    else:
        x, y = separable()
    results = []
    for name in ("numpy", backend):
        model = imdb_like(units=4, features=x.shape[1], seed=3, backend=name)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_the_books_listing_runs_with_keras_names():
    x, y = separable(n=100, features=30)
    model = models.Sequential()
    model.add(layers.Dense(16, kernel_regularizer=regularizers.l2(0.001), activation="relu",
                           input_shape=(30,)))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(16, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:80], y[:80], epochs=2, batch_size=512, validation_data=(x[80:], y[80:]),
                        verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1]
    assert model.predict(x).shape == (100, 1)


def test_input_dropout_and_activation_layers_train():
    x, y = separable(n=128)
    model = Sequential([Dropout(0.1, input_shape=(20,)), Dense(8), layers.Activation("relu"),
                        Dense(1), layers.Activation("sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert [layer.name for layer in model.layers] == [
        "dropout", "dense", "activation", "dense_1", "activation_1"]


def test_keras_1_nb_epoch_still_works_with_a_warning():
    x, y = separable(n=20)
    model = imdb_like(features=20)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    with pytest.warns(FutureWarning, match="use epochs"):
        history = model.fit(x, y, nb_epoch=3, batch_size=512, verbose=0)
    assert history.epoch == [0, 1, 2] and model.history is history


def test_summary_counts_the_imdb_models_parameters():
    lines: list[str] = []
    imdb_like(features=10000).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 160,305" in text
    assert lines[2].startswith("Layer (type)") and "Output Shape" in lines[2]
    assert "dense (Dense)" in text and "dense_2 (Dense)" in text
    assert "(None, 16)" in text and "160016" in text and "272" in text and "17" in text
    assert imdb_like(features=10000).count_params() == 16 * 10000 + 16 + 16 * 16 + 16 + 16 + 1


def test_same_seed_gives_identical_history_and_other_seeds_differ():
    x, y = separable()

    def train(seed: int) -> dict:
        model = Sequential([Dense(8, activation="relu", input_shape=(20,)), Dropout(0.3),
                            Dense(1, activation="sigmoid")], seed=seed)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
        return model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0).history

    assert train(5) == train(5)
    assert train(5)["loss"] != train(6)["loss"]


def test_validation_split_holds_out_the_last_fraction_before_shuffling():
    x, y = separable(n=100)
    model = imdb_like(features=20, seed=0)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    seen = []
    original = model._to_backend
    model._to_backend = lambda data, index: seen.append(data[index].copy()) or original(data, index)
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.3, verbose=0)
    trained = np.concatenate(seen[:7])
    validated = np.concatenate(seen[7:])
    np.testing.assert_array_equal(np.sort(trained, axis=0), np.sort(x[:70], axis=0))
    np.testing.assert_array_equal(validated, x[70:])
    # val_loss is the model's loss on the held-out rows after the epoch
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[70:], y[70:],
                                                                          verbose=0)[0], rel=1e-6)


def test_fit_does_not_copy_the_dataset():
    """The largest array fit allocates is a batch, not the training set (tracemalloc sees NumPy's
    allocations)."""
    import tracemalloc

    x, y = separable(n=4000, features=50)
    model = imdb_like(features=50)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    tracemalloc.start()
    model.fit(x, y, epochs=1, batch_size=100, validation_split=0.2, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.25 * x.nbytes


def test_regularization_is_part_of_loss_and_val_loss():
    x, y = separable(n=64)
    histories = []
    for factor in (0.0, 1.0):
        model = Sequential([Dense(4, input_shape=(20,), kernel_regularizer=regularizers.l2(factor)),
                            Dense(1, activation="sigmoid")], seed=0)
        model.compile(optimizer=RMSprop(learning_rate=1e-9), loss="binary_crossentropy")
        penalty = factor * float(np.sum(model.get_weights()[0].astype(np.float64) ** 2))
        histories.append((model.fit(x, y, epochs=1, batch_size=64, validation_data=(x, y),
                                    verbose=0).history, penalty))
    (plain, _), (regular, penalty) = histories
    assert penalty > 0.1
    assert regular["loss"][0] == pytest.approx(plain["loss"][0] + penalty, rel=1e-4)
    assert regular["val_loss"][0] == pytest.approx(plain["val_loss"][0] + penalty, rel=1e-4)


def test_dropout_scales_at_training_time_and_is_identity_at_inference():
    layer = Dropout(0.25, seed=1)
    from toolkit.kernels import get_backend
    layer.build(get_backend("numpy"), 1000, np.random.default_rng(0))
    x = np.ones((200, 1000), np.float32)
    out = layer.forward(x, training=True)
    kept = out != 0
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


class Scripted(EarlyStopping):
    """EarlyStopping fed a scripted val_loss, so the best epoch is known in advance."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script = script

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs, val_loss=self.script[epoch])
        self.seen.append(self.model.get_weights())
        super().on_epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.seen = []


def test_early_stopping_restores_the_best_weights():
    x, y = separable(n=64)
    model = imdb_like(features=20)
    model.compile(optimizer=RMSprop(learning_rate=0.01), loss="binary_crossentropy")
    stopper = Scripted([0.9, 0.5, 0.7, 0.6, 0.55, 0.4], monitor="val_loss", patience=2,
                       restore_best_weights=True)
    history = model.fit(x, y, epochs=6, batch_size=16, callbacks=[stopper], verbose=0)
    assert history.epoch == [0, 1, 2, 3]  # best at epoch 1, two epochs without improvement
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    for restored, best in zip(model.get_weights(), stopper.seen[1]):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(stopper.seen[3][0], stopper.seen[1][0])


def test_early_stopping_min_delta_and_mode():
    stopper = EarlyStopping(monitor="val_accuracy", min_delta=0.05)
    assert stopper.mode == "max"
    stopper.on_train_begin()
    stopper.model = type("M", (), {"stop_training": False})()
    stopper.on_epoch_end(0, {"val_accuracy": 0.5})
    stopper.on_epoch_end(1, {"val_accuracy": 0.53})  # not better by more than min_delta
    assert stopper.model.stop_training and stopper.best == 0.5


def test_save_and_load_weights_round_trip(tmp_path):
    x, y = separable(n=40)
    model = imdb_like(features=20, seed=1)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "weights.npz"
    model.save_weights(path)
    other = imdb_like(features=20, seed=2)
    assert not np.array_equal(other.predict(x), model.predict(x))
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    assert sorted(np.load(path).files) == sorted(
        ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias", "dense_2/kernel",
         "dense_2/bias"])
    wrong = imdb_like(units=8, features=20)
    with pytest.raises(ValueError, match=r"dense/kernel has shape \(20, 8\)"):
        wrong.load_weights(path)
    assert os.listdir(tmp_path) == ["weights.npz"]  # no temporary files left behind


@pytest.mark.parametrize("loss, y, units, activation, metric", [
    ("categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]], 3, "softmax", "accuracy"),
    ("sparse_categorical_crossentropy", np.array([0, 1, 2, 1]), 3, "softmax", "accuracy"),
    ("mse", np.array([0.5, 1.0, -1.0, 2.0]), 1, None, "mae"),
])
def test_other_losses_train_and_log_their_metrics(loss, y, units, activation, metric):
    x = np.random.default_rng(0).normal(size=(4, 5))
    model = Sequential([Dense(8, activation="tanh", input_dim=5),
                        Dense(units, activation=activation)], seed=0)
    model.compile(optimizer="adam", loss=loss, metrics=[metric])
    history = model.fit(x, y, epochs=3, batch_size=2, verbose=0)
    assert list(history.history) == ["loss", metric]
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_accuracy_follows_the_loss_as_in_keras():
    from toolkit.nn import losses, metrics
    assert metrics.get("accuracy", losses.get("binary_crossentropy"), 1) is metrics.binary_accuracy
    assert metrics.get("accuracy", losses.get("categorical_crossentropy"), 3) is \
        metrics.categorical_accuracy
    y = np.eye(3)[[0, 2]]
    assert metrics.categorical_accuracy(y, np.array([[0.7, 0.2, 0.1], [0.5, 0.1, 0.4]])) == 0.5
    assert metrics.binary_accuracy(np.array([[1.0], [0.0]]), np.array([[0.6], [0.7]])) == 0.5


def test_verbose_prints_one_keras_style_line_per_epoch(capsys):
    x, y = separable(n=50)
    model = imdb_like(features=20)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=20, validation_split=0.2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - 2/2 - ")
    for key in ("- loss: ", "- accuracy: ", "- val_loss: ", "- val_accuracy: "):
        assert key in lines[1]


NUMPY_ACTIVATIONS = {
    "linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 70), features=st.integers(1, 6), units=st.integers(1, 5),
       hidden=st.sampled_from(["linear", "relu", "tanh", "sigmoid"]),
       batch_size=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_predict_and_evaluate_match_a_float64_reference(n, features, units, hidden, batch_size,
                                                        seed):
    """predict is the float64 forward pass, whatever the batching; evaluate is the mean
    binary_crossentropy and binary accuracy of those predictions."""
    rng = np.random.default_rng(seed)
    model = Sequential([Dense(units, activation=hidden, input_shape=(features,)),
                        Dense(1, activation="sigmoid")], seed=seed)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = rng.integers(0, 2, n).astype(np.float32)
    w1, b1, w2, b2 = (w.astype(np.float64) for w in model.get_weights())
    h = NUMPY_ACTIVATIONS[hidden](x.astype(np.float64) @ w1 + b1)
    p = NUMPY_ACTIVATIONS["sigmoid"](h @ w2 + b2)
    np.testing.assert_allclose(model.predict(x, batch_size=batch_size), p, rtol=1e-5, atol=1e-6)
    q = np.clip(p[:, 0], 1e-7, 1 - 1e-7)
    loss, accuracy = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    assert loss == pytest.approx(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)), rel=1e-4,
                                 abs=1e-6)
    assert accuracy == pytest.approx(np.mean((p[:, 0] > 0.5) == y), abs=1.01 / n)
