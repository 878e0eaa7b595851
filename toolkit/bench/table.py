"""The printed table: one aligned line per row, times in readable units, and a skipped row's
reason in place of its numbers."""

from __future__ import annotations

from typing import Iterable

from .ceilings import Ceiling
from .runner import Row

COLUMNS = ("op", "backend", "size", "median", "rate", "speedup", "% of ceiling", "first call")
TRANSFER = "to/from device"


def seconds(value: float | None) -> str:
    """``1.23 s``, ``4.56 ms``, ``7.89 us`` or ``12 ns`` (empty for None)."""
    if value is None:
        return ""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _estimate(value: float) -> str:
    """A rough duration: ``1,234 s``, ``56 s``, ``7.8 s``, ``0.12 s``."""
    return f"{value:,.0f} s" if value >= 10 else f"{value:.2g} s"


def _speedup(row: Row) -> str:
    if row.speedup is None:
        return ""
    text = f"{row.speedup:,.0f}x" if row.speedup >= 100 else f"{row.speedup:.2g}x"
    return text if row.speedup_over == "naive" else f"{text} vs {row.speedup_over}"


def _cells(row: Row, transfer: bool) -> list[str]:
    """The row's cells; a skipped row has its reason as its fourth and last cell."""
    head = [row.op, row.backend, row.size]
    if row.median_s is None:
        if row.estimate_s is not None:
            return head + [f"skipped (would take ~{_estimate(row.estimate_s)} per call)"]
        return head + [row.skipped or "skipped"]
    percent = "" if row.percent_of_ceiling is None else (
        f"{row.percent_of_ceiling:.0f}% {row.ceiling}")
    cells = head + [seconds(row.median_s), f"{row.rate:,.3g} {row.unit}", _speedup(row), percent,
                    seconds(row.first_call_s)]
    if transfer:
        cells.append(f"{seconds(row.to_device_s)} / {seconds(row.to_host_s)}"
                     if row.to_device_s is not None else "")
    return cells


def render(rows: Iterable[Row]) -> str:
    """The rows as an aligned table (numbers right-aligned), a rule under the header."""
    rows = list(rows)
    transfer = any(r.device == "gpu" and r.median_s is not None for r in rows)
    header = list(COLUMNS) + ([TRANSFER] if transfer else [])
    body = [_cells(row, transfer) for row in rows]
    widths = [len(h) for h in header]
    for cells in body:
        full = len(cells) == len(header)
        for i, cell in enumerate(cells if full else cells[:3]):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        if len(cells) < len(header):  # a skipped row: its reason runs on unaligned
            return "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths)) + "  " + cells[3]
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(cells) for cells in body])


def ceilings_lines(roofs: dict[str, dict[str, Ceiling]], extra: Iterable[Ceiling] = ()) -> str:
    """One line per measured roof: ``copy  19.7 GB/s  (np.copyto of 256 MiB ..., best of 5)``."""
    found = [c for device in roofs.values() for c in device.values()] + list(extra)
    width = max((len(c.name) for c in found), default=0)
    return "\n".join(f"  {c.name.ljust(width)}  {c.value:,.4g} {c.unit}  ({c.how})" for c in found)
