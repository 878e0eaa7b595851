"""Speed tests in the grading engine: the student's function is timed where it runs, by the
kernel's CPU clock of the sandboxed process, so neither the transport of its arguments nor a
patched clock nor work handed to another process changes a verdict.

Harmless without the sandbox: the only process a submission starts here sleeps a second and exits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

SPEED = """import numpy as np
from autograder.asserts import assert_faster_than, measure_speed

def loop_relu(x):
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x

big = np.random.default_rng(0).normal(size=(300, 300))
measured = measure_speed(relu, loop_relu, (big,), repeats=3)
print(f"speedup {measured.speedup:.1f} fn_s {measured.fn_s:.6f}")
assert_faster_than(relu, loop_relu, (big,), factor=5, repeats=3)
"""
TRANSPORT = """import numpy as np
from autograder.asserts import measure_speed

def corner(x):
    return x[0, 0]

huge = np.ones((2000, 2000))  # 32 MB: about 10 ms to cross into the sandbox, each time
measured = measure_speed(first, corner, (huge,), repeats=3)
print(f"fn_s {measured.fn_s:.6f}")
"""
HONEST = ("import numpy as np\n\ndef relu(x):\n    return np.maximum(x, 0)\n\n"
          "def first(x):\n    return x[0, 0]\n")
LOOPS = """import numpy as np

def relu(x):
    out = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = max(x[i, j], 0)
    return out

def first(x):
    return x[0, 0]
"""
PATCHED_CLOCKS = """import time
for clock in ("perf_counter", "perf_counter_ns", "process_time", "process_time_ns", "thread_time",
              "thread_time_ns", "monotonic", "monotonic_ns", "time", "time_ns"):
    setattr(time, clock, lambda: 0)
"""
OFFLOAD = """import os, time
import numpy as np

def relu(x):
    if os.fork() == 0:  # a helper that would do the work where the child's clock cannot see
        time.sleep(1)
        os._exit(0)
    return np.maximum(x, 0)

def first(x):
    return x[0, 0]
"""


def submission(solution: str) -> list:
    return [nbs.cell(solution, "solution", solution=True),
            nbs.cell(SPEED, "test_speed", points=1),
            nbs.cell(TRANSPORT, "test_transport", points=1)]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("speed")
    nbs.write(root / "source" / "ps" / "ps.ipynb", submission(HONEST))
    return root


@pytest.fixture(scope="module")
def worker():
    w = Worker(Limits(cell_timeout_s=60, call_timeout_s=60))
    yield w
    w.close()


def grade(worker, course: Path, name: str, cells: list):
    folder = course / "submitted" / name / "ps"
    nbs.write(folder / "ps.ipynb", cells)
    result = grade_submission("ps", name, course / "source" / "ps", folder, worker)
    return result, {t.name: t for t in result.tests}


def printed(test, key: str) -> float:
    words = test.output.split()
    return float(words[words.index(key) + 1])


def test_honest_work_measures_far_above_the_threshold(worker, course):
    result, tests = grade(worker, course, "honest", submission(HONEST))
    assert tests["test_speed"].passed, tests["test_speed"].message
    assert printed(tests["test_speed"], "speedup") > 50  # the lesson's gap, not a squeak past 5


def test_the_transport_of_arguments_is_not_timed(worker, course):
    _, tests = grade(worker, course, "transport", submission(HONEST))
    assert printed(tests["test_transport"], "fn_s") < 0.002, tests["test_transport"].output


def test_loops_fail_and_the_message_says_how_it_was_measured(worker, course):
    _, tests = grade(worker, course, "loops", submission(LOOPS))
    message = tests["test_speed"].message
    assert not tests["test_speed"].passed and "expected at least 5 times" in message
    assert "CPU time" in message and "in the sandbox where it runs" in message
    assert printed(tests["test_speed"], "speedup") < 3


def test_patched_clocks_change_no_verdict(worker, course):
    _, tests = grade(worker, course, "patcher", [nbs.cell(PATCHED_CLOCKS)] + submission(LOOPS))
    assert not tests["test_speed"].passed
    assert printed(tests["test_speed"], "speedup") < 3


def test_work_handed_to_another_process_is_refused(worker, course):
    result, tests = grade(worker, course, "offloader", submission(OFFLOAD))
    assert not tests["test_speed"].passed and "other process" in tests["test_speed"].message
    assert "speed-test-helpers" in result.flags
