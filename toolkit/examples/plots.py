"""The book's training-curve figures as PNG files (matplotlib, Agg backend): training values as
dots, validation values as a line, per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the Agg backend
from matplotlib.ticker import MaxNLocator


def plot_history(history: Mapping[str, Sequence[float]], metric: str, path: str | Path,
                 title: str) -> Path:
    """``metric`` and ``val_<metric>`` of a History's dict against the epoch (figures 3.7, 3.8)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    values = history[metric]
    epochs = range(1, len(values) + 1)
    ax.plot(epochs, values, "bo", label=f"Training {metric}")
    if f"val_{metric}" in history:
        ax.plot(epochs, history[f"val_{metric}"], "b", label=f"Validation {metric}")
    return _finish(fig, ax, title, metric, path)


def plot_curves(curves: Mapping[str, Sequence[float]], path: str | Path, title: str, ylabel: str,
                first_epoch: int = 1) -> Path:
    """Several per-epoch curves on one plot, one labelled line each, the first value at
    ``first_epoch`` (figures 3.9, 3.10, 4.4-4.8)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(range(first_epoch, first_epoch + len(values)), values,
                marker="o" if len(values) <= 30 else None, markersize=3, label=label)
    return _finish(fig, ax, title, ylabel, path)


def _finish(fig, ax, title: str, ylabel: str, path: str | Path) -> Path:
    ax.set_title(title)
    ax.set_xlabel("Epochs")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
