"""The checks that assignment test cells call: closeness with a readable diff and arithmetic
without overflow (``values``), how the work is written: no Python loops, the formula by hand,
Numba, the student's own (``style``), speed against a reference (``speed``), and CUDA kernels doing
the work on the device and synchronizing their shared-memory tiles (``device``); ``source`` is how
they all read the function they check.

They run in the student's kernel under nbgrader and in the trusted grader process of the grading
engine, where the student's names are proxies. So they never trust the objects they inspect: they
read source text (``source_of``), convert results with ``np.asarray`` and compare plain arrays,
and never call a method of a student object. Every helper returns None (a number as a test cell's
last value would become nbgrader partial credit), or is a with-block, and raises AssertionError
with a message that says what was expected, on what input, and gives a hint.
"""

from __future__ import annotations

from .device import assert_launches, assert_no_array_math, assert_tiles_synchronized
from .source import source_of
from .speed import (
    SpeedMeasurement,
    assert_faster_than,
    measure_speed,
    reference_seconds,
    share_reference_times,
)
from .style import assert_does_not_call, assert_no_loops, assert_not_toolkit, assert_numba_jit
from .values import assert_close, assert_no_float_errors

__all__ = [
    "source_of", "assert_close", "assert_no_float_errors", "assert_no_loops",
    "assert_does_not_call", "assert_faster_than",
    "measure_speed", "SpeedMeasurement", "assert_numba_jit", "assert_not_toolkit",
    "assert_launches", "assert_no_array_math", "assert_tiles_synchronized",
    # for the grading engine
    "reference_seconds", "share_reference_times",
]
