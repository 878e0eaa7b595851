"""Speed tests: a student's function against a reference (the loop version), each timed by the CPU
time of the process it runs in; the reference measured once per process, or per grading run
through a shared folder, and input."""

from __future__ import annotations

import hashlib
import inspect
import marshal
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .source import _global_names, _label


@dataclass(frozen=True)
class SpeedMeasurement:
    """What a speed test measured: CPU seconds per call of a function and of its reference (the
    best of several calls each), and where each was timed."""

    fn_s: float
    reference_s: float
    fn_where: str
    reference_where: str

    @property
    def speedup(self) -> float:
        return self.reference_s / self.fn_s if self.fn_s > 0 else math.inf


#: What a failed speed test suggests unless the test says otherwise.
SPEED_HINT = ("let NumPy (or compiled code) do the work on whole arrays; avoid Python-level loops, "
              "element access and copies")


def measure_speed(fn: Callable[..., Any], reference: Callable[..., Any], args: Sequence[Any],
                  repeats: int = 5) -> SpeedMeasurement:
    """Time ``fn(*args)`` and ``reference(*args)``.

    Each is timed by the CPU time of the process it runs in, the best of ``repeats`` calls on
    fresh copies of ``args`` after one untimed call (which also compiles Numba code): a machine
    busy with other work slows neither figure. In the grading engine the student's function is
    timed in its sandbox by the kernel's clock for that process, read by the grader (see
    ``engine.proxies``), so neither the transport nor a patched clock shows in it. The reference's
    time is measured once per process and input (``REFERENCE_CALLS`` calls) and reused.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    args = tuple(args)
    fn_s, fn_where = _best_time(fn, args, repeats)
    reference_s, reference_where = _reference_time(reference, args)
    return SpeedMeasurement(fn_s, reference_s, fn_where, reference_where)


def assert_faster_than(fn: Callable[..., Any], reference: Callable[..., Any], args: Sequence[Any],
                       factor: float, repeats: int = 5, name: str | None = None,
                       reference_name: str = "the loop version", hint: str = SPEED_HINT) -> None:
    """Fail unless ``fn(*args)`` runs at least ``factor`` times faster than ``reference(*args)``,
    as ``measure_speed`` times them; the message says how it was measured, then gives ``hint``."""
    if repeats < 1 or not factor > 0:
        raise ValueError(f"repeats must be >= 1 and factor > 0, got {repeats} and {factor}")
    label = _label(fn, name)
    args = tuple(args)
    measured = measure_speed(fn, reference, args, repeats)
    if measured.speedup < factor:
        shapes = ", ".join(str(np.shape(a)) if type(a) is np.ndarray else type(a).__name__
                           for a in args)
        raise AssertionError(
            f"{label} took {_ms(measured.fn_s)} per call against {_ms(measured.reference_s)} for "
            f"{reference_name} on inputs of shapes {shapes}: {measured.speedup:.1f} times faster, "
            f"expected at least {factor:g} times"
            f"\n  measured: CPU time, the best of {repeats} calls after an untimed first call; "
            f"{label} {measured.fn_where}, {reference_name} {measured.reference_where}"
            f"\n  hint: {hint}"
        )


#: Timed calls of a speed test's reference (the best counts).
REFERENCE_CALLS = 3
_reference_times: dict[str, float] = {}
_reference_spent = [0.0]


def reference_seconds() -> float:
    """Wall-clock seconds this process has spent timing references (for the engine's breakdown)."""
    return _reference_spent[0]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _best_time(fn: Any, args: tuple, repeats: int) -> tuple[float, str]:
    """The least CPU time of ``repeats`` calls after an untimed one, and where it was measured.
    A grading engine's proxy times the call in its sandbox (``__autograder_cpu_times__``, looked
    up on the proxy's class without running student code); a real function is timed here."""
    timer = inspect.getattr_static(type(fn), "__autograder_cpu_times__", None)
    if callable(timer):
        times = timer(fn, args, {}, repeats + 1)
        where = "in the sandbox where it runs, by the kernel's CPU clock of that process"
    else:
        times = _cpu_times(fn, args, repeats + 1)
        where = "by this process's CPU clock"
    return min(times[1:]), where


def _cpu_times(fn: Callable[..., Any], args: tuple, calls: int) -> list[float]:
    """CPU seconds of ``calls`` calls of ``fn`` in this process, each on fresh copies of
    ``args``."""
    times = []
    for _ in range(calls):
        fresh = _fresh(args)
        start = time.process_time_ns()
        fn(*fresh)
        times.append((time.process_time_ns() - start) / 1e9)
    return times


def _fresh(value: Any) -> Any:
    """``value`` with its arrays copied (through lists, tuples and dicts), so a call that changes
    its input in place cannot change what the next call gets."""
    if type(value) is np.ndarray:
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(_fresh(v) for v in value)
    if type(value) is dict:
        return {k: _fresh(v) for k, v in value.items()}
    return value


def share_reference_times(folder: str | os.PathLike | None) -> None:
    """Keep reference times in ``folder`` as well, so that every process grading the same run
    (a pool's workers) uses one measurement of each reference and input: the same verdict on
    whichever worker grades a submission, and the references timed once, not once per worker."""
    _shared[0] = Path(folder) if folder is not None else None


_shared: list[Path | None] = [None]


def _reference_time(reference: Any, args: tuple) -> tuple[float, str]:
    """The reference's best CPU time on ``args``, measured once per process (or shared folder)
    and input."""
    key = _reference_key(reference, args)
    if key is None:
        return _measure_reference(reference, args)
    once = "by the grader's CPU clock (measured once per grading run and input)" if _shared[0] \
        else "by this process's CPU clock (measured once per process and input)"
    if key not in _reference_times:
        _reference_times[key] = _stored(key, lambda: _measure_reference(reference, args)[0])
    return _reference_times[key], once


def _measure_reference(reference: Any, args: tuple) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        return _best_time(reference, args, REFERENCE_CALLS)
    finally:
        _reference_spent[0] += time.perf_counter() - started


def _stored(key: str, measure: Callable[[], float]) -> float:
    """``measure()``, or what another process of the run stored under ``key`` (one measures
    while the others wait for it)."""
    folder = _shared[0]
    if folder is None:
        return measure()
    import fcntl

    try:
        lock = open(folder / f"{key}.lock", "w")
    except OSError:  # the folder went away: this process measures for itself
        return measure()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / f"{key}.s"
        if path.exists():
            return float(path.read_text())
        seconds = measure()
        try:
            partial = folder / f"{key}.partial"
            partial.write_text(repr(seconds))
            partial.replace(path)
        except OSError:
            pass
        return seconds


def _reference_key(reference: Any, args: tuple) -> str | None:
    """What a reference's time depends on: its code, its defaults, the code of the functions it
    calls by global name, and its arguments' bytes; None (not reused) when it depends on anything
    else (a global value, a student's object)."""
    if not inspect.isfunction(reference):
        return None
    digest = hashlib.sha256(marshal.dumps(reference.__code__)
                            + repr(reference.__defaults__).encode())
    for global_name in sorted(_global_names(reference)):
        value = reference.__globals__.get(global_name)
        if inspect.isfunction(value):
            digest.update(global_name.encode() + marshal.dumps(value.__code__))
        elif not (value is None or inspect.ismodule(value) or inspect.isbuiltin(value)):
            return None
    for arg in args:
        if type(arg) is np.ndarray and not arg.dtype.hasobject:
            digest.update(f"{arg.dtype.str}{arg.shape}".encode()
                          + np.ascontiguousarray(arg).tobytes())
        elif type(arg) in (int, float, bool, str) or arg is None:
            digest.update(repr(arg).encode())
        else:
            return None
    return digest.hexdigest()
