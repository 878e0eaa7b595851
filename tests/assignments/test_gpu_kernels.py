"""Assignment 05_gpu_kernels in the grading engine, on Numba's CUDA simulator (this machine has no
GPU): the notebook turns the simulator on by itself inside a sandbox whose zygote has already
imported Numba; host code that does the work with NumPy scores 0 with a message that says so
although its results are right; and the speed test that runs on a GPU (hidden, in the tiled
product's test cell) compares the tiled kernel with the naive one through the engine's sandboxed
CPU clock, failing and passing as it should, when a submission's kernels are taken to be on a GPU.

The matching nbgrader runs (solution, stub, racing tiled kernel) are in test_nbgrader.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.engine.pipeline import validate_notebook
from autograder.engine.worker import Worker
from tests.assignments import conftest
from tests.assignments.conftest import grade_notebook

pytestmark = pytest.mark.slow

ASSIGNMENT = "05_gpu_kernels"
SOURCE = conftest.SOURCE / ASSIGNMENT
NOTEBOOK = SOURCE / f"{ASSIGNMENT}.ipynb"


def source() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def edit(nb: nbformat.NotebookNode, cell_id: str, old: str, new: str) -> None:
    """Replace ``old`` (which must occur once) by ``new`` in the cell ``cell_id``."""
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    assert cell.source.count(old) == 1, (cell_id, old)
    cell.source = cell.source.replace(old, new)


def on_a_gpu(nb: nbformat.NotebookNode) -> None:
    """Make the grader take the kernels to be on a GPU: a student cell after the given first
    cell (which the engine restores from the source) says so."""
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "given-1")
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("SIMULATOR = False"))


def grade(worker: Worker, course: Path, student: str, nb: nbformat.NotebookNode,
          source_dir: Path = SOURCE):
    return grade_notebook(worker, course, student, ASSIGNMENT, nb, source_dir)


def test_the_notebook_turns_the_simulator_on_itself(monkeypatch):
    """No NUMBA_ENABLE_CUDASIM in the grader's environment: the first cell asks numba.cuda in a
    fresh process, finds no GPU, and switches the sandbox's already imported Numba over."""
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    worker = Worker()
    try:
        tests, notes = validate_notebook(NOTEBOOK, worker)
    finally:
        worker.close()
    assert [(t.name, t.points, t.passed) for t in tests] == [
        ("test_blocks_for", 1, True), ("test_relu_kernel", 2, True),
        ("test_add_broadcast", 2, True),
        ("test_matmul_naive", 2, True), ("test_matmul_tiled", 3, True)], [t.message for t in tests]
    assert tests[0].output.startswith("These tests ran on Numba's CUDA simulator: results and code "
                                      "are graded; speed is shown in the notebook, not graded.")
    assert not [n for n in notes if n.startswith("flag:")]


def test_work_done_on_the_host_scores_zero_although_its_results_are_right(worker, tmp_path):
    nb = source()
    edit(nb, "relu_kernel", "return out.copy_to_host().reshape(x.shape)", "return np.maximum(x, 0)")
    edit(nb, "add_kernel", "cuda.to_device(y.ravel())",
         "cuda.to_device(np.broadcast_to(y, x.shape).ravel())")
    edit(nb, "matmul_naive", "    return c.copy_to_host()", "    return a @ b")
    tests = grade(worker, tmp_path, "shortcuts", nb)
    assert {name: t.points for name, t in tests.items()} == {
        "test_blocks_for": 1, "test_relu_kernel": 0, "test_add_broadcast": 0,
        "test_matmul_naive": 0, "test_matmul_tiled": 3}
    for name, what, line in (("test_relu_kernel", "numpy.maximum", "return np.maximum(x, 0)"),
                             ("test_add_broadcast", "numpy.broadcast_to",
                              "np.broadcast_to(y, x.shape)"),
                             ("test_matmul_naive", "the @ operator", "return a @ b")):
        message = tests[name].message
        assert f"computes with {what} on line" in message and line in message, message
        assert "this part asks for the arithmetic to run in the kernel" in message


def test_numpy_that_reshapes_or_sizes_on_the_host_scores_full(worker, tmp_path):
    """Host code may reshape and size the launch with NumPy. Tiles declared in one tuple
    assignment count as shared memory, but the simulator gives both one memory: the test says
    so rather than leave a wrong result unexplained."""
    nb = source()
    edit(nb, "relu_kernel", "blocks = min(blocks_for(x.size, threads), MAX_BLOCKS)",
         "blocks = int(min(np.ceil(x.size / threads), MAX_BLOCKS))")
    edit(nb, "relu_kernel", "return out.copy_to_host().reshape(x.shape)",
         "return np.reshape(out.copy_to_host(), x.shape)")
    edit(nb, "add_kernel", "cuda.to_device(x.ravel()), cuda.to_device(y.ravel())",
         "cuda.to_device(np.ravel(x)), cuda.to_device(np.ravel(y))")
    edit(nb, "matmul_tiled", "    a_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)\n"
         "    b_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)\n",
         "    a_tile, b_tile = cuda.shared.array((TILE, TILE), c.dtype), "
         "cuda.shared.array((TILE, TILE), c.dtype)\n")
    tests = grade(worker, tmp_path, "honest", nb)
    assert {name: t.points for name, t in tests.items()} == {
        "test_blocks_for": 1, "test_relu_kernel": 2, "test_add_broadcast": 2,
        "test_matmul_naive": 2, "test_matmul_tiled": 0}, [t.message for t in tests.values()]
    assert ("matmul_tiled_kernel declares 2 shared arrays on line 5 of its source"
            in tests["test_matmul_tiled"].message), tests["test_matmul_tiled"].message


@pytest.fixture(scope="module")
def small_speed_test(tmp_path_factory) -> Path:
    """The source notebook with the GPU speed test's matrices shrunk to what the simulator runs."""
    folder = tmp_path_factory.mktemp("source") / ASSIGNMENT
    folder.mkdir()
    nb = source()
    edit(nb, "test_matmul_tiled", "n = 2048\n", "n = 8\n")
    nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    return folder


def test_on_a_gpu_a_tiled_kernel_slower_than_the_naive_one_fails(worker, tmp_path,
                                                                 small_speed_test):
    """On the simulator every cuda.syncthreads() waits for Python threads: there the tiled kernel
    is many times slower than the naive one, which the speed test must then report."""
    nb = source()
    on_a_gpu(nb)
    tests = grade(worker, tmp_path, "slow_tiled", nb, small_speed_test)
    tiled = tests["test_matmul_tiled"]
    assert tiled.points == 0 and tests["test_matmul_naive"].points == 2
    message = tiled.message
    assert "gpu_matmul_tiled took" in message
    assert "for your gpu_matmul_naive on inputs of shapes (8, 8), (8, 8)" in message
    assert "expected at least 1 times" in message and "in the sandbox where it runs" in message
    assert "hint: each thread copies one number of a and one of b per round" in message
    assert tests["test_blocks_for"].output.startswith("These tests ran on Numba's CUDA simulator")


def test_on_a_gpu_a_tiled_kernel_faster_than_the_naive_one_passes(worker, tmp_path,
                                                                  small_speed_test):
    nb = source()
    on_a_gpu(nb)
    docstring = ('    """a @ b on the device by matmul_naive_kernel, in blocks of shape '
                 '``block``."""\n')
    edit(nb, "matmul_naive", docstring,
         docstring + "    import time\n"
                     "    # CPU time the tiled kernel does not spend\n"
                     "    burn = time.process_time() + 0.6\n"
                     "    while time.process_time() < burn:\n        pass\n")
    tests = grade(worker, tmp_path, "slow_naive", nb, small_speed_test)
    assert tests["test_matmul_tiled"].points == 3, tests["test_matmul_tiled"].message
    assert tests["test_matmul_tiled"].output == "Speed graded on Numba's CUDA simulator.\n"


def test_the_device_grading_check_runs_here_on_the_simulator(tmp_path):
    """benchmarks/gpu_grading_check.py, which a session with a GPU runs on the device machine:
    genuine nbgrader's release prepared here, then the solution, stub and racing submission
    graded with the verdicts it expects (on the simulator here), the solution twice alike."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_grading_check.py"
    for step in (["prepare", str(tmp_path / "course")],
                 ["grade", str(tmp_path / "course"), "--json", str(tmp_path / "report.json")]):
        done = subprocess.run([sys.executable, str(script), *step], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "racing: 7/10" in done.stdout and "stub: 0/10" in done.stdout
    assert "the solution's two gradings: the same verdicts" in done.stdout
    assert "These tests ran on Numba's CUDA simulator" in done.stdout
