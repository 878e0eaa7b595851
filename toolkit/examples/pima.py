"""Pima Indians diabetes: a small binary classifier (the course's first network, 8-12-8-1) judged
against the majority-class baseline on a held-out split.

The rows are shuffled before the split (the file is not in random order). Zeros that stand for
missing Glucose, BloodPressure, SkinThickness, Insulin and BMI are replaced by the median of the
measured values in the *training* split, and the features are standardized with training
statistics only, so the test split stays unseen until the single final evaluation. Training
stops after 40 epochs of batches of 10: the validation loss (pima_loss.png) bottoms out after about
15 epochs and then rises slowly, the start of overfitting; run with --epochs 150, the course's
original setting, to watch it grow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from toolkit.data import StandardScaler, hold_out_split, redundancy_leak
from toolkit.datasets import pima_indians_diabetes
from toolkit.nn import Dense, Sequential

from .plots import plot_history


def impute_missing(x_train: np.ndarray, x_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both splits with each missing zero replaced by the training split's median of that
    feature's measured values."""
    filled = []
    medians = {}
    for col in pima_indians_diabetes.ZERO_MEANS_MISSING:
        measured = x_train[:, col][x_train[:, col] != 0]
        medians[col] = np.median(measured)
    for x in (x_train, x_other):
        x = x.copy()
        mask = pima_indians_diabetes.missing_mask(x)
        for col, median in medians.items():
            x[mask[:, col], col] = median
        filled.append(x)
    return filled[0], filled[1]


def build_model(backend: str = "numpy", seed: int | None = 0) -> Sequential:
    """Dense(12, relu), Dense(8, relu), Dense(1, sigmoid); adam, binary crossentropy, accuracy."""
    model = Sequential([Dense(12, activation="relu", input_shape=(8,)),
                        Dense(8, activation="relu"),
                        Dense(1, activation="sigmoid")], backend=backend, seed=seed)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def run(epochs: int = 40, batch_size: int = 10, test_split: float = 0.2, backend: str = "numpy",
        out: str | os.PathLike = "out/examples", seed: int | None = 0, verbose: int = 1
        ) -> dict[str, float]:
    """Hold out ``test_split`` of the rows, train, and compare test accuracy with the majority-class
    baseline; saves pima_loss.png and pima_accuracy.png (training curves, with a validation
    fifth of the training split)."""
    say = print if verbose else (lambda *a, **k: None)
    x, y = pima_indians_diabetes.load_data()
    (x_train, y_train), (x_test, y_test) = hold_out_split(x, y,
                                                          validation_split=test_split, seed=seed)
    leak = redundancy_leak(x_train, x_test)
    say(f"Pima: {len(x)} rows shuffled (seed {seed}) and split {len(x_train)} training / "
        f"{len(x_test)} test; {leak}")
    majority = int(np.bincount(y_train).argmax())
    baseline = float(np.mean(y_test == majority))
    say(f"majority class in training: {majority}; baseline test accuracy (always predict it): "
        f"{baseline:.3f}")
    x_train, x_test = impute_missing(x_train, x_test)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    model = build_model(backend, seed)
    history = model.fit(x_train, y_train.astype(np.float32), epochs=epochs, batch_size=batch_size,
                        validation_split=0.2, verbose=verbose).history
    for metric in ("loss", "accuracy"):
        path = plot_history(history, metric, Path(out) / f"pima_{metric}.png", f"Pima: {metric}")
        say(f"saved {path}")
    loss, accuracy = model.evaluate(x_test, y_test.astype(np.float32), verbose=0)
    say(f"test accuracy {accuracy:.3f} vs majority-class baseline {baseline:.3f} "
        f"({accuracy - baseline:+.3f}); test loss {loss:.4f}")
    return {"baseline": baseline, "test_accuracy": accuracy, "test_loss": loss,
            "train_rows": len(x_train), "test_rows": len(x_test)}
