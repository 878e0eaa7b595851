"""assert_close: a student's result against the expected numbers, with a readable diff; and
assert_no_float_errors: their arithmetic on extreme inputs without overflow, NaN or division by 0.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

#: How many mismatching elements a failure lists.
SHOWN = 5


def _show(value: Any) -> str:
    """A short repr of one array element."""
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


def _as_array(value: Any, what: str, label: str) -> np.ndarray:
    """``value`` as a plain ndarray (subclasses viewed as ndarray), or AssertionError."""
    if type(value) is np.ndarray:
        return value
    try:
        return np.asarray(value)
    except Exception as err:  # noqa: BLE001 - a student's object may raise anything: a failed test
        raise AssertionError(
            f"{label}: the {what} ({type(value).__name__}) could not be converted to an array: "
            f"{err}"
        ) from None


def assert_close(actual: Any, expected: Any, rtol: float = 1e-7, atol: float = 0.0,
                 name: str = "result", inputs: str = "", hint: str = "",
                 check_dtype: bool = False) -> None:
    """Fail unless ``actual`` equals ``expected`` elementwise within ``atol + rtol * |expected|``
    (same shape, NaN where and only where expected is NaN). The message names the shape or dtype
    mismatch, the max abs/rel error, the first mismatching indices with both values, ``inputs``
    (what the function was called on) and ``hint``."""
    tail = "".join(f"\n  {label}: {text}"
                   for label, text in (("input", inputs), ("hint", hint)) if text)
    got = _as_array(actual, "value you returned", name)
    want = np.asarray(expected)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape}, expected shape {want.shape}{tail}")
    if check_dtype and got.dtype != want.dtype:
        raise AssertionError(f"{name}: dtype {got.dtype}, expected dtype {want.dtype}{tail}")
    if want.dtype.kind not in "biuf":
        raise ValueError("assert_close compares numbers; the expected value has dtype "
                         f"{want.dtype}")
    if got.dtype.kind not in "biuf":
        raise AssertionError(f"{name}: dtype {got.dtype} is not a number array, expected numbers "
                             f"of dtype {want.dtype}{tail}")
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    g_nan, w_nan = np.isnan(g), np.isnan(w)
    with np.errstate(all="ignore"):
        diff = np.abs(g - w)
        finite = np.isfinite(g) & np.isfinite(w)
        infinite = (np.isinf(g) | np.isinf(w)) & ~g_nan & ~w_nan & (g != w)
        bad = (g_nan != w_nan) | infinite | (finite & ~(diff <= atol + rtol * np.abs(w)))
        if not bad.any():
            return
        err = np.where(finite & bad, diff, 0.0)
        rel = np.where(finite & bad & (w != 0), diff / np.abs(np.where(w == 0, 1, w)), 0.0)
    lines = [f"{name}: {int(bad.sum())} of {bad.size} elements differ "
             f"(rtol={rtol:g}, atol={atol:g}); max abs error {err.max():.3g}, "
             f"max rel error {rel.max():.3g}"]
    if (g_nan != w_nan).any():
        extra = np.argwhere(g_nan & ~w_nan)[:SHOWN].tolist()
        missing = np.argwhere(w_nan & ~g_nan)[:SHOWN].tolist()
        if extra:
            lines.append(f"  NaN where a number was expected at {extra}")
        if missing:
            lines.append(f"  a number where NaN was expected at {missing}")
    for index in np.argwhere(bad)[:SHOWN]:
        at = tuple(int(i) for i in index)
        lines.append(f"  at {at if at else '()'}: got {_show(got[at])}, expected {_show(want[at])}")
    raise AssertionError("\n".join(lines) + tail)


@contextlib.contextmanager
def assert_no_float_errors(failure: str, inputs: str = "", hint: str = "") -> Iterator[None]:
    """Fail if NumPy overflows, makes NaN of numbers or divides by zero in the block:
    AssertionError "``failure`` (NumPy's error) on ``inputs``" with ``hint``. Underflow, which
    rounds to 0 and is right (``exp(-1000)``), is never an error, whatever the notebook set with
    ``np.seterr``: a student's ``np.seterr(all="raise")`` or ``"warn"`` does not fail a stable
    sigmoid."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            yield
        except FloatingPointError as err:
            raise AssertionError(f"{failure} ({err})" + (f" on {inputs}" if inputs else "")
                                 + (f"\n  hint: {hint}" if hint else "")) from None
