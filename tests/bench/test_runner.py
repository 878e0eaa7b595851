"""The sweep: a row for every op, backend and size; naive runs over budget skipped; failures
shown."""

from __future__ import annotations

import dataclasses
import importlib
import types

import numpy as np
import pytest

from toolkit.bench.ceilings import Ceiling
from toolkit.bench.runner import Plan, naive_repeats, rate_rows, run
from toolkit.bench.table import render
from toolkit.bench.workloads import WORKLOADS
from toolkit.kernels import get_backend

ROOFS = {"cpu": {"memory": Ceiling("copy", 20.0, "GB/s", "by hand"),
                 "compute": Ceiling("blas", 100.0, "GFLOP/s", "by hand")}}


def _plan(ops_sizes, backends, budget=30.0, repeats=1):
    """A plan of (op, sizes) pairs on named backends, float32, one repeat."""
    cases = [(WORKLOADS[op], [WORKLOADS[op].case(s) for s in sizes]) for op, sizes in ops_sizes]
    modules = {name: get_backend(name) for name in backends}
    return Plan(cases, modules, np.dtype(np.float32), repeats, budget, min_repeat=0.0005,
                settle=0.0)


def test_the_cores_settle_between_backends_next_to_compute_bound_rows(monkeypatch):
    """A BLAS's threads spin after a dot: a backend waits plan.settle before its warm-up and
    before each repeat of a dot row where another backend ran last; memory-bound rows
    (single-threaded NumPy) follow each other at once."""
    slept = []
    monkeypatch.setattr("toolkit.bench.runner.time.sleep", slept.append)
    plan = dataclasses.replace(_plan([("relu", ["16"]), ("dot", ["4", "8"])], ["numpy", "numba"]),
                               settle=0.25)
    labels = []
    run(plan, lambda label: labels.append((label, len(slept))))
    # sleeps by the start of each row: none for relu; for each dot size one before each
    # warm-up, then one before each of the two repeats (numpy, numba) taken in turn
    assert [count for _, count in labels] == [0, 0, 1, 2, 5, 6]
    assert slept == [0.25] * 8


def test_the_backends_repeats_are_taken_in_turns_the_order_reversing(monkeypatch):
    """Each round times one repeat of every CPU backend, so their ratio compares the same
    moments of the machine; the order reverses every round, so neither always goes first."""
    import toolkit.bench.runner as runner

    order, original = [], runner._start

    def recording(row, *args):
        timer = original(row, *args)
        take = timer.repeat
        timer.repeat = lambda: (order.append(row.backend), take())
        return timer

    monkeypatch.setattr(runner, "_start", recording)
    rows = run(_plan([("relu", ["16"])], ["numpy", "numba"], repeats=3))
    assert order == ["numpy", "numba", "numba", "numpy", "numpy", "numba"]
    assert [len(row.times_s) for row in rows] == [3, 3]


def test_every_op_backend_and_size_gets_a_row_in_order_of_work():
    plan = _plan([("relu", ["256", "16"]), ("dot", ["4"])], ["naive", "numpy"])
    labels = []
    rows = run(plan, labels.append)
    rate_rows(rows, ROOFS)
    assert [(r.op, r.backend, r.size) for r in rows] == [
        ("relu", "naive", "16"), ("relu", "numpy", "16"), ("relu", "naive", "256"),
        ("relu", "numpy", "256"), ("dot", "naive", "n=4"), ("dot", "numpy", "n=4")]
    assert labels[0] == "relu naive 16" and len(labels) == plan.total == 6
    for row in rows:
        assert row.median_s > 0 and row.first_call_s > 0 and row.percent_of_ceiling is not None
        assert row.speedup_over == "naive"


def test_naive_over_budget_is_skipped_with_an_estimate():
    plan = _plan([("dot", ["4", "160"])], ["naive", "numpy"], budget=0.05)
    rows = run(plan)
    rate_rows(rows, ROOFS)
    skipped = [r for r in rows if r.skipped]
    assert [(r.backend, r.size) for r in skipped] == [("naive", "n=160")]
    # 160^3 multiply-adds: far more than 0.05 s at any naive loop's speed
    assert skipped[0].estimate_s > 0.05 and skipped[0].median_s is None
    numpy_row = next(r for r in rows if r.backend == "numpy" and r.size == "n=160")
    assert numpy_row.speedup_over == "numpy" and numpy_row.speedup == pytest.approx(1.0)
    assert "skipped (would take ~" in render(rows)


def test_a_failing_kernel_is_a_row_that_says_so():
    broken = types.SimpleNamespace(asarray=np.asarray,
                                   relu=lambda x: (_ for _ in ()).throw(RuntimeError("boom")))
    plan = _plan([("relu", ["64"])], ["numpy"])
    plan.backends["broken"] = broken
    rows = run(plan)
    rate_rows(rows, ROOFS)
    failed = rows[1]
    assert failed.median_s is None and failed.skipped == "failed: RuntimeError: boom"
    assert "failed: RuntimeError: boom" in render(rows)


def test_a_kernel_failing_in_a_later_repeat_leaves_the_turns_and_says_so():
    """The warm-up and probe pass, the third call fails: the row says so, the others finish."""
    calls = []

    def flaky(x):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("third call")
        return x

    plan = _plan([("relu", ["64"])], ["numpy"], repeats=3)
    plan.backends["flaky"] = types.SimpleNamespace(asarray=np.asarray, relu=flaky)
    rows = run(plan)
    assert rows[1].skipped == "failed: RuntimeError: third call" and rows[1].median_s is None
    assert len(rows[0].times_s) == 3 and rows[0].median_s > 0
    assert len(calls) == 3  # no more turns for it after the failure


def _cuda_module():
    try:
        return importlib.import_module("toolkit.kernels.cuda")
    except ImportError:
        return None


@pytest.mark.skipif(_cuda_module() is None, reason="the cuda backend is not there yet")
def test_cuda_rows_time_the_transfers_apart_under_the_simulator():
    cuda = _cuda_module()
    plan = Plan([(WORKLOADS["relu"], [WORKLOADS["relu"].case("64")])], {"cuda": cuda},
                np.dtype(np.float32), 1, 1.0, min_repeat=0.0)
    roofs = dict(ROOFS, gpu={"memory": Ceiling("device_copy", 100.0, "GB/s", "by hand")})
    (row,) = run(plan)
    rate_rows([row], roofs)
    assert row.device == "gpu" and row.median_s > 0
    assert row.to_device_s > 0 and row.to_host_s > 0 and row.ceiling == "device_copy"
    assert "to/from device" in render([row])


@pytest.mark.parametrize("per_call, repeats, budget, expected", [
    (0.1, 5, 3.0, 5),   # 30 calls fit: all five repeats
    (0.5, 5, 3.0, 4),   # 6 calls fit: warm-up, probe and four repeats
    (1.0, 5, 3.0, 1),   # 3 calls fit: warm-up, probe and one repeat
    (2.0, 5, 3.0, 0),   # not even one repeat: skipped
    (0.0, 5, 3.0, 5),
])
def test_naive_repeats_fit_the_budget(per_call, repeats, budget, expected):
    assert naive_repeats(per_call, repeats, budget) == expected


def test_a_slow_naive_size_runs_fewer_repeats():
    plan = _plan([("relu", ["2^12"])], ["naive"], budget=0.3, repeats=1000)
    (row,) = run(plan)
    assert 1 <= len(row.times_s) < 1000
