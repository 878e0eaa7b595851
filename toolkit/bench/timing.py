"""Timing one call: a warm-up call timed apart (for compiled backends it includes the compile),
then the median of repeats, each repeat running the call often enough to be well above the
clock's resolution; the repeats of several calls can be taken in turns (:class:`Timer`). On a
GPU, ``sync`` waits for the device before the clock stops."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Timing:
    """The warm-up call's time and the per-call time of each repeat, in seconds."""

    first_call: float
    times: tuple[float, ...]
    #: calls per repeat (1 for slow calls; more for calls of a few microseconds)
    number: int

    @property
    def median(self) -> float:
        """The median per-call time of the repeats."""
        return statistics.median(self.times)


def _nothing() -> None:
    """The ``sync`` of a CPU backend: its calls have finished when they return."""


def timed(fn: Callable[[], Any], sync: Callable[[], Any] = _nothing, number: int = 1) -> float:
    """Seconds per call of ``number`` back-to-back calls of ``fn``, the device synchronized."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    sync()
    return (time.perf_counter() - start) / number


def timed_result(fn: Callable[[], Any], sync: Callable[[], Any] = _nothing) -> tuple[Any, float]:
    """``fn()``'s result and the seconds it took, the device synchronized."""
    start = time.perf_counter()
    result = fn()
    sync()
    return result, time.perf_counter() - start


@dataclass
class Timer:
    """A call under timing: its warm-up time, how many calls make one repeat, and the per-call
    time of each repeat taken so far (:meth:`repeat`). Repeats of several calls can be taken
    in turns, so that each call's repeats meet the same moments of a shared machine."""

    fn: Callable[[], Any]
    sync: Callable[[], Any]
    first_call: float
    number: int
    times: list[float]

    def repeat(self) -> None:
        """Take one more repeat: ``number`` back-to-back calls."""
        self.times.append(timed(self.fn, self.sync, self.number))

    def timing(self) -> Timing:
        """The warm-up and the repeats taken, as a :class:`Timing`."""
        return Timing(self.first_call, tuple(self.times), self.number)


def start(fn: Callable[[], Any], sync: Callable[[], Any] = _nothing, min_repeat: float = 0.005,
          max_number: int = 10_000) -> Timer:
    """A :class:`Timer` for ``fn``: a warm-up call, then a second call to choose ``number`` so
    that a repeat lasts about ``min_repeat``."""
    first = timed(fn, sync)
    probe = timed(fn, sync)
    number = max(1, min(max_number, math.ceil(min_repeat / probe) if probe > 0 else max_number))
    return Timer(fn, sync, first, number, [])


def measure(fn: Callable[[], Any], repeats: int, sync: Callable[[], Any] = _nothing,
            min_repeat: float = 0.005, max_number: int = 10_000) -> Timing:
    """Time ``fn`` alone: :func:`start`, then ``repeats`` repeats."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    timer = start(fn, sync, min_repeat, max_number)
    for _ in range(repeats):
        timer.repeat()
    return timer.timing()


#: Calls :func:`start` makes before the repeats: the warm-up and the probe.
EXTRA_CALLS = 2


def slow_call_count(repeats: int) -> int:
    """Calls :func:`measure` makes for a slow ``fn`` (one a repeat): warm-up, probe, repeats."""
    return repeats + EXTRA_CALLS
