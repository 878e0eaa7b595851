"""Classifying movie reviews (section 3.4): the 16-16-1 network on multi-hot IMDB reviews.

First the book's validation run (10,000 training reviews set apart, figures 3.7 and 3.8), then a
fresh model trained on all training reviews for 4 epochs and evaluated once on the test set
(the book: test accuracy 0.885).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from toolkit.data import vectorize_sequences
from toolkit.datasets import imdb
from toolkit.nn import Dense, Sequential

from .plots import plot_history

NUM_WORDS = 10000


def load_vectorized(data: str | os.PathLike | None = None
                    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """IMDB (the shipped subset, or the full data at ``data``) as multi-hot float32 vectors of the
    10,000 most frequent words and float32 labels."""
    (train_data, train_labels), (test_data, test_labels) = imdb.load_data(path=data,
                                                                          num_words=NUM_WORDS)
    return ((vectorize_sequences(train_data, NUM_WORDS), train_labels.astype(np.float32)),
            (vectorize_sequences(test_data, NUM_WORDS), test_labels.astype(np.float32)))


def validation_split(x: np.ndarray, y: np.ndarray) -> tuple[tuple, tuple]:
    """The book's hold-out: the first 10,000 training reviews validate (on a smaller set, 40% of
    it), the rest train. The rows are already shuffled by the loader."""
    n_val = 10000 if len(x) > 20000 else len(x) * 2 // 5
    return (x[n_val:], y[n_val:]), (x[:n_val], y[:n_val])


def build_model(units: int = 16, backend: str = "numpy", seed: int | None = 0) -> Sequential:
    """Listing 3.4's network: two Dense(units, relu) layers and a sigmoid output, compiled with
    rmsprop and binary crossentropy."""
    model = Sequential([Dense(units, activation="relu", input_shape=(NUM_WORDS,)),
                        Dense(units, activation="relu"),
                        Dense(1, activation="sigmoid")], backend=backend, seed=seed)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def run(data: str | os.PathLike | None = None, epochs: int = 4, validation_epochs: int = 20,
        batch_size: int = 512, backend: str = "numpy", out: str | os.PathLike = "out/examples",
        seed: int | None = 0, verbose: int = 1) -> dict[str, float]:
    """Run the listing; print progress, save imdb_loss.png and imdb_accuracy.png under ``out``
    (the validation run, when ``validation_epochs`` > 0) and return the test loss and accuracy."""
    say = print if verbose else (lambda *a, **k: None)
    (x_train, y_train), (x_test, y_test) = load_vectorized(data)
    which = ("full data: " + str(data) if data
             else "the shipped subset; pass --data for the full set")
    say(f"IMDB: {len(x_train)} training and {len(x_test)} test reviews ({which})")
    out = Path(out)
    result: dict[str, float] = {}
    if validation_epochs:
        (partial_x, partial_y), (x_val, y_val) = validation_split(x_train, y_train)
        say(f"Validation run: {len(partial_x)} training, {len(x_val)} validation reviews, "
            f"{validation_epochs} epochs")
        history = build_model(backend=backend, seed=seed).fit(
            partial_x, partial_y, epochs=validation_epochs, batch_size=batch_size,
            validation_data=(x_val, y_val), verbose=verbose).history
        for metric in ("loss", "accuracy"):
            path = plot_history(history, metric, out / f"imdb_{metric}.png",
                                f"IMDB: training and validation {metric}")
            say(f"saved {path}")
        best = int(np.argmin(history["val_loss"])) + 1
        say(f"lowest validation loss at epoch {best}: {min(history['val_loss']):.4f}")
        result["best_epoch"] = best
    say(f"Final model: all {len(x_train)} training reviews, {epochs} epochs")
    model = build_model(backend=backend, seed=seed)
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=verbose)
    say(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    result.update(test_loss=loss, test_accuracy=accuracy)
    return result
