"""The timing loop: warm-up apart, a probe to size the repeats, the device synchronized."""

from __future__ import annotations

import time

import pytest

from toolkit.bench.timing import measure, slow_call_count, timed_result


def test_slow_calls_run_once_per_repeat():
    calls, syncs = [], []
    timing = measure(lambda: (calls.append(1), time.sleep(0.01)), repeats=3,
                     sync=lambda: syncs.append(1), min_repeat=0.001)
    assert timing.number == 1 and len(timing.times) == 3
    assert len(calls) == slow_call_count(3) == 5
    assert len(syncs) == 5  # the clock stops after the device is synchronized, every time
    assert all(t >= 0.01 for t in timing.times) and timing.first_call >= 0.01
    assert timing.median == sorted(timing.times)[1]


def test_fast_calls_are_batched_per_repeat():
    calls = []
    timing = measure(lambda: calls.append(1), repeats=2, min_repeat=0.002)
    assert timing.number > 1
    assert len(calls) == 2 + 2 * timing.number


def test_the_first_call_is_reported_apart():
    state = {"compiled": False}

    def kernel():
        if not state["compiled"]:
            time.sleep(0.05)
            state["compiled"] = True

    timing = measure(kernel, repeats=2)
    assert timing.first_call >= 0.05 and timing.median < 0.01


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="repeats"):
        measure(lambda: None, repeats=0)


def test_timed_result_returns_the_result():
    value, seconds = timed_result(lambda: 42)
    assert value == 42 and seconds >= 0
