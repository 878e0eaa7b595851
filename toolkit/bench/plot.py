"""The log-log plot: time against size, one panel per op, one line per backend, and the roof's
time (the least time the ceiling allows) as a dashed line to read the distance to the limit."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the Agg backend
from matplotlib.ticker import ScalarFormatter

from .runner import Roofs, Row
from .workloads import WORKLOADS

COLORS = {"naive": "tab:red", "numpy": "tab:blue", "numba": "tab:green", "cuda": "tab:purple"}
ROOF_STYLE = {"cpu": ("0.35", "--"), "gpu": ("tab:purple", ":")}


def roof_time(row: Row, roofs: Roofs) -> float | None:
    """The least time the row's roof allows: bytes / bandwidth, or flops / peak."""
    roof = roofs.get(row.device, {}).get(row.bound)
    if roof is None:
        return None
    work = row.flops if row.bound == "compute" else row.bytes
    return work / (roof.value * 1e9) if work else None


def draw(path: str | Path, rows: list[Row], roofs: Roofs, title: str = "") -> Path:
    """Draw the rows' plot as a PNG at ``path`` (parent folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ops = list(dict.fromkeys(r.op for r in rows))
    cols = 2 if len(ops) == 4 else min(3, max(1, len(ops)))  # 2 x 2 rather than 3 + 1
    lines = math.ceil(len(ops) / cols) if ops else 1
    fig, axes = plt.subplots(lines, cols, figsize=(4.6 * cols, 3.6 * lines), squeeze=False)
    for ax, op in zip(axes.flat, ops):
        _panel(ax, [r for r in rows if r.op == op], roofs, op)
    for ax in list(axes.flat)[len(ops):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(ax, rows: list[Row], roofs: Roofs, op: str) -> None:
    """One op: a line per backend through its timed sizes, dashed roof lines below them."""
    for backend in dict.fromkeys(r.backend for r in rows):
        points = sorted((r.x, r.median_s) for r in rows if r.backend == backend and r.median_s)
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", markersize=4, label=backend,
                    color=COLORS.get(backend))
    for device, (color, style) in ROOF_STYLE.items():
        points = sorted({(r.x, roof_time(r, roofs)) for r in rows
                         if r.device == device and roof_time(r, roofs)})
        if points:
            xs, ys = zip(*points)
            name = roofs[device][rows[0].bound].name
            ax.plot(xs, ys, linestyle=style, color=color, linewidth=1, label=f"{name} roof")
    ax.set_yscale("log")
    ax.set_title(op)
    if WORKLOADS[op].axis == "n":  # matrix sides read best as plain powers of two
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("n (n x n matrices)")
    else:
        ax.set_xscale("log")
        ax.set_xlabel("elements")
    ax.set_ylabel("seconds per call")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
