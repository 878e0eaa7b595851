"""A CUDA kernel launched with the largest block a GPU allows (1024 threads) grades under the
simulator in the engine as in nbgrader: the simulator runs every thread of a block as a Python
thread, all alive together while they wait at ``cuda.syncthreads()``, so the sandbox's task
allowance and thread stacks must hold a whole block. Before, a 16 x 16 block failed with
"can't start new thread" in the engine only, and blocks that never synchronize passed or failed
by how fast their threads happened to finish."""

from __future__ import annotations

import pytest

from autograder.engine import sandbox
from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

KERNEL = """import os
import numba
import numpy as np

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
numba.core.config.reload_config()   # as 05_gpu_kernels does: the grader has imported numba
from numba import cuda

@cuda.jit
def reverse_tiles(x, out):
    tile = cuda.shared.array((32, 32), dtype=np.float64)
    i, j = cuda.threadIdx.x, cuda.threadIdx.y
    tile[i, j] = x[i, j]
    cuda.syncthreads()      # every thread of the block waits here, alive
    out[i, j] = tile[31 - i, 31 - j]


def gpu_reverse(x):
    out = np.zeros_like(x)
    reverse_tiles[1, (32, 32)](x, out)
    return out
"""
TEST = """import numpy as np
x = np.arange(1024.0).reshape(32, 32)
assert (gpu_reverse(x) == x[::-1, ::-1]).all()
"""


@pytest.mark.parametrize("mode", ["bubblewrap", "rlimits"])
def test_a_block_of_1024_threads_that_synchronizes_passes(tmp_path, mode):
    if mode == "bubblewrap" and sandbox.isolation() != "bubblewrap":
        pytest.skip("needs bubblewrap")
    cells = [nbs.cell(KERNEL, "kernel", solution=True), nbs.cell(TEST, "test_block", points=1)]
    course = nbs.course(tmp_path, {"s": cells}, source=cells)
    worker = Worker(Limits(gpu=False), mode=mode)
    try:
        result = grade_submission(nbs.ASSIGNMENT, "s", course / "source" / nbs.ASSIGNMENT,
                                  course / "submitted" / "s" / nbs.ASSIGNMENT, worker)
    finally:
        worker.close()
    assert [(t.passed, t.points) for t in result.tests] == [(True, 1)], result.tests[0].message


def test_a_course_may_not_set_stacks_too_small_for_a_thread(tmp_path):
    from autograder.settings import load_limits

    (tmp_path / "autograder.toml").write_text("[limits]\nthread_stack_kb = 16\n")
    with pytest.raises(ValueError, match="thread_stack_kb = 16 is too small for Python to start "
                                         "a thread; give at least thread_stack_kb = 64"):
        load_limits(tmp_path)
    (tmp_path / "autograder.toml").write_text("[limits]\nthread_stack_kb = 256\nnproc = 300\n")
    limits = load_limits(tmp_path)
    assert (limits.thread_stack_kb, limits.nproc) == (256, 300)
