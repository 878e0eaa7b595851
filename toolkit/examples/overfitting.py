"""Overfitting and underfitting (section 4.4): five IMDB models trained side by side, their
validation-loss curves on one plot, as the book's figures 4.4 to 4.8.

original: 16-16-1 (listing 4.3); smaller: 4-4-1 (4.4); bigger: 512-512-1 (4.5); L2: the original
with ``regularizers.l2(0.001)`` on both hidden layers (4.6); dropout: the original with
``Dropout(0.5)`` after each hidden layer (4.8). The book validated on the test set; here the
models validate on reviews held out of the training set (the same split as the imdb example),
and the test set is not touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from toolkit.nn import Dense, Dropout, Sequential, regularizers

from .imdb import NUM_WORDS, load_vectorized, validation_split
from .plots import plot_curves


def _stack(units: int, l2: float | None = None, dropout: float | None = None) -> list:
    layers: list = []
    for i in range(2):
        shape = {"input_shape": (NUM_WORDS,)} if i == 0 else {}
        reg = {"kernel_regularizer": regularizers.l2(l2)} if l2 else {}
        layers.append(Dense(units, activation="relu", **shape, **reg))
        if dropout:
            layers.append(Dropout(dropout))
    return layers + [Dense(1, activation="sigmoid")]


#: The five models of the chapter: name -> (plot label, layers).
MODELS: dict[str, tuple[str, Callable[[], list]]] = {
    "original": ("original (16-16-1)", lambda: _stack(16)),
    "smaller": ("smaller (4-4-1)", lambda: _stack(4)),
    "bigger": ("bigger (512-512-1)", lambda: _stack(512)),
    "l2": ("L2 (16-16-1, l2=0.001)", lambda: _stack(16, l2=0.001)),
    "dropout": ("dropout (16-16-1, 0.5)", lambda: _stack(16, dropout=0.5)),
}


def run(data: str | os.PathLike | None = None, epochs: int = 20, batch_size: int = 512,
        models: list[str] | None = None, backend: str = "numpy",
        out: str | os.PathLike = "out/examples", seed: int | None = 0, verbose: int = 1
        ) -> dict[str, dict[str, float]]:
    """Train each model on the same split; save overfitting_val_loss.png and
    overfitting_train_loss.png under ``out``; return each model's lowest validation loss, its
    epoch and the final validation loss."""
    say = print if verbose else (lambda *a, **k: None)
    chosen = list(MODELS) if models is None else models
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    (x_train, y_train), _ = load_vectorized(data)
    (partial_x, partial_y), (x_val, y_val) = validation_split(x_train, y_train)
    say(f"IMDB: {len(partial_x)} training, {len(x_val)} validation reviews "
        f"({'full data' if data else 'the shipped subset; pass --data for the full set'}), "
        f"{epochs} epochs")
    val_loss, train_loss, summary = {}, {}, {}
    for name in chosen:
        label, layers = MODELS[name]
        say(f"-- {label}")
        model = Sequential(layers(), backend=backend, seed=seed)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
        history = model.fit(partial_x, partial_y, epochs=epochs, batch_size=batch_size,
                            validation_data=(x_val, y_val), verbose=verbose).history
        val_loss[label], train_loss[label] = history["val_loss"], history["loss"]
        best = int(np.argmin(history["val_loss"]))
        summary[name] = {"min_val_loss": history["val_loss"][best], "best_epoch": best + 1,
                         "final_val_loss": history["val_loss"][-1]}
    out = Path(out)
    for curves, kind in ((val_loss, "val"), (train_loss, "train")):
        label = "Validation loss" if kind == "val" else "Training loss"
        path = plot_curves(curves, out / f"overfitting_{kind}_loss.png",
                           f"IMDB: {label.lower()} by model", label)
        say(f"saved {path}")
    say(f"{'model':24s} {'lowest val loss':>16s} {'at epoch':>9s} {'final val loss':>15s}")
    for name, s in summary.items():
        say(f"{MODELS[name][0]:24s} {s['min_val_loss']:16.4f} {s['best_epoch']:9d} "
            f"{s['final_val_loss']:15.4f}")
    return summary
