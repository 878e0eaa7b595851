"""The sweep: every workload at every size on every backend, one :class:`Row` each. The CPU
backends' repeats of an op at a size are taken in turns (after each one's warm-up), the order
reversing every round, so that the ratios between them compare the same moments of a shared
machine rather than two stretches of it. A naive run's time is estimated from the naive loop's
measured cost per unit of work: it runs fewer repeats to fit the budget, or is skipped when even
one would not; naive and GPU rows are timed on their own. Every row is then rated against its
roof and against the slow peer."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any, Callable, Iterable

import numpy as np

from .ceilings import Ceiling, percent_of, rate
from .timing import EXTRA_CALLS, Timer, Timing, measure, start, timed, timed_result
from .workloads import Case, Workload

#: Roofs by device ("cpu", "gpu") and bound ("memory", "compute").
Roofs = dict[str, dict[str, Ceiling]]
#: Seconds to wait when the backend changes next to a compute-bound row (dot): a BLAS's worker
#: threads spin for a while after each call (OpenBLAS: 2^28 cycles, about 0.1 s) and share
#: the cores with the next backend's threads. Measured on 2 cores: numba's n=1024 dot took
#: 2-4x its time right after NumPy's, and its own time after 0.3 s.
SETTLE_S = 0.3


@dataclass
class Row:
    """One op on one backend at one size: its times and what they mean."""

    op: str
    backend: str
    size: str
    x: int
    shapes: list[list[int]]
    dtype: str
    bound: str
    bytes: int
    flops: int | None
    device: str = "cpu"
    median_s: float | None = None
    first_call_s: float | None = None
    times_s: list[float] = field(default_factory=list)
    calls_per_repeat: int = 1
    #: host-to-device and device-to-host copies of the operands and result (GPU rows)
    to_device_s: float | None = None
    to_host_s: float | None = None
    #: why the row was not timed, and the estimated time of one call when that is known
    skipped: str | None = None
    estimate_s: float | None = None
    rate: float | None = None
    unit: str = ""
    speedup: float | None = None
    speedup_over: str | None = None
    percent_of_ceiling: float | None = None
    ceiling: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """What to run: workloads with their cases, backend modules by name, and how."""

    cases: list[tuple[Workload, list[Case]]]
    backends: dict[str, ModuleType]
    dtype: np.dtype
    repeats: int
    naive_budget: float
    min_repeat: float = 0.005
    settle: float = SETTLE_S

    @property
    def total(self) -> int:
        """The number of rows the plan makes."""
        return sum(len(cases) for _, cases in self.cases) * len(self.backends)


def run(plan: Plan, progress: Callable[[str], None] = lambda label: None) -> list[Row]:
    """Time the plan, calling ``progress`` before each row; :func:`rate_rows` rates the rows."""
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    cores = _Cores(plan.settle)
    for workload, cases in plan.cases:
        naive_cost: float | None = None  # seconds per unit of work, from the last naive row
        for case in sorted(cases, key=workload.work):
            inputs = workload.inputs(case, plan.dtype, rng)
            in_turns: list[tuple[Row, Timer]] = []
            for name, backend in plan.backends.items():
                row = _row(workload, case, name, plan.dtype)
                cores.hand_to(row)
                progress(f"{workload.name} {name} {case.label}")
                rows.append(row)
                if name == "naive":
                    if naive_cost is None:
                        naive_cost = _naive_cost(workload, backend, plan.dtype, rng)
                    per_call = naive_cost * workload.work(case)
                    repeats = naive_repeats(per_call, plan.repeats, plan.naive_budget)
                    if repeats == 0:
                        row.skipped = "over the naive time budget"
                        row.estimate_s = per_call
                        continue
                    _time(row, workload, backend, inputs, repeats, plan.min_repeat)
                    if row.median_s is not None:
                        naive_cost = row.median_s / workload.work(case)
                elif row.device == "gpu":
                    _time(row, workload, backend, inputs, plan.repeats, plan.min_repeat)
                else:
                    timer = _start(row, workload, backend, inputs, plan.min_repeat)
                    if timer is not None:
                        in_turns.append((row, timer))
            _repeat_in_turns(plan.repeats, in_turns, cores)
            del inputs
    return rows


@dataclass
class _Cores:
    """The row whose backend ran last on the cores, and the wait (``settle`` seconds) before
    another backend runs where either side is compute-bound: the last backend's threads may
    still spin."""

    settle: float
    last: Row | None = None

    def hand_to(self, row: Row) -> None:
        """Wait if need be, then let ``row``'s backend run."""
        last, self.last = self.last, row
        if last is not None and last.backend != row.backend and (
                "compute" in (last.bound, row.bound)):
            time.sleep(self.settle)


def _repeat_in_turns(repeats: int, in_turns: list[tuple[Row, Timer]], cores: _Cores) -> None:
    """The repeats of the rows started, one of each in turn, the order reversing every round
    (A B, B A, A B ...); then each row's times. A row whose op fails in a repeat says so and
    leaves the turns."""
    for round_ in range(repeats):
        for row, timer in in_turns if round_ % 2 == 0 else in_turns[::-1]:
            if row.skipped:
                continue
            cores.hand_to(row)
            try:
                timer.repeat()
            except Exception as error:  # noqa: BLE001 - a failing kernel is a result to show
                _failed(row, error)
    for row, timer in in_turns:
        if not row.skipped:
            _fill(row, timer.timing())


def _row(workload: Workload, case: Case, backend: str, dtype: np.dtype) -> Row:
    """A row with what is known before timing: the case and the work it implies."""
    return Row(op=workload.name, backend=backend, size=case.label, x=workload.x(case),
               shapes=[list(s) for s in case.shapes], dtype=np.dtype(dtype).name,
               bound=workload.bound, bytes=workload.bytes_moved(case, np.dtype(dtype).itemsize),
               flops=workload.flops(case), device="gpu" if backend == "cuda" else "cpu")


def _naive_cost(workload: Workload, backend: ModuleType, dtype: np.dtype,
                rng: np.random.Generator) -> float:
    """Seconds per unit of work of the naive loop, from one call on the workload's probe size."""
    probe = workload.case(workload.probe)
    arrays = workload.inputs(probe, dtype, rng)
    return timed(lambda: workload.call(backend, arrays)) / workload.work(probe)


def naive_repeats(per_call: float, repeats: int, budget: float) -> int:
    """How many of ``repeats`` a naive run of ``per_call`` seconds a call can afford within
    ``budget`` seconds, the warm-up and probe calls included; 0 when not even one."""
    affordable = int(budget // per_call) - EXTRA_CALLS if per_call > 0 else repeats
    return max(0, min(repeats, affordable))


def _start(row: Row, workload: Workload, backend: ModuleType, inputs: list[np.ndarray],
           min_repeat: float) -> Timer | None:
    """A CPU row's :class:`Timer`, warmed up, or None where the op fails (the row says why: a
    failing kernel is a result to show, not fatal)."""
    try:
        arrays = [backend.asarray(x) for x in inputs]
        return start(lambda: workload.call(backend, arrays), min_repeat=min_repeat)
    except Exception as error:  # noqa: BLE001 - a failing kernel is a result to show
        _failed(row, error)
        return None


def _time(row: Row, workload: Workload, backend: ModuleType, inputs: list[np.ndarray],
          repeats: int, min_repeat: float) -> None:
    """Fill a row timed on its own (naive, or GPU), or say why it has none. On a GPU the
    operands are moved to the device first and the copies timed apart."""
    gpu = row.device == "gpu"
    sync = backend.synchronize if gpu else (lambda: None)
    try:
        arrays, seconds = timed_result(lambda: [backend.asarray(x) for x in inputs], sync)
        row.to_device_s = seconds if gpu else None
        timing = measure(lambda: workload.call(backend, arrays), repeats, sync, min_repeat)
        if gpu:
            result, _ = timed_result(lambda: workload.call(backend, arrays), sync)
            _, row.to_host_s = timed_result(lambda: backend.to_numpy(result), sync)
    except Exception as error:  # noqa: BLE001 - a failing kernel is a result to show
        _failed(row, error)
        return
    _fill(row, timing)


def _fill(row: Row, timing: Timing) -> None:
    """A timed row's warm-up, repeats, median and calls per repeat."""
    row.first_call_s, row.times_s = timing.first_call, list(timing.times)
    row.median_s, row.calls_per_repeat = timing.median, timing.number


def _failed(row: Row, error: Exception) -> None:
    """Mark ``row`` as failed, saying why: a failing kernel is a result to show, not fatal."""
    row.skipped = f"failed: {type(error).__name__}: {error}"


def rate_rows(rows: Iterable[Row], roofs: Roofs) -> None:
    """Fill rate, speedup and percent of the roof: the speedup is over naive at the same op and
    size, or over numpy (and said so) where naive was skipped or not run."""
    rows = list(rows)
    timed_rows = {(r.op, r.size, r.backend): r for r in rows if r.median_s}
    for row in rows:
        if not row.median_s:
            continue
        row.rate = rate(row.bytes, row.flops, row.bound, row.median_s)
        row.unit = "GFLOP/s" if row.bound == "compute" else "GB/s"
        roof = roofs.get(row.device, {}).get(row.bound)
        row.percent_of_ceiling = percent_of(row.rate, roof)
        row.ceiling = roof.name if roof else None
        for peer in ("naive", "numpy"):
            base = timed_rows.get((row.op, row.size, peer))
            if base is not None:
                row.speedup, row.speedup_over = base.median_s / row.median_s, peer
                break
