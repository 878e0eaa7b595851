"""The same submission always gets the same per-test results: the vectorization assignment's
solution (speed tests included) and a partly right copy of it, graded 10 times each alone, beside
two busy processes, and beside CPU- and memory-hungry submissions in the same pool; a test
cell that draws its inputs unseeded draws the same ones on every grading, and so does a
student's generator made without a seed; a set of words iterates in one order on every worker.

Harmless if the sandbox failed: the busy processes and hungry submissions stop after a few
seconds, allocate at most 400 MB and write at most 64 MB, under unique names they remove.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.engine.notebook import StudentCell, TestCell
from autograder.engine.pipeline import Grader, grade_submission
from autograder.engine.pool import Job, grade_all
from autograder.engine.worker import Worker

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "01_tensors_vectorization"
SOURCE = REPO / "assignments" / "source" / ASSIGNMENT
RUNS = 10
CPU_HUNGRY = """import os, time
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        end = time.time() + 3
        while time.time() < end:
            pass
        os._exit(0)
    kids.append(pid)
end = time.time() + 3
while time.time() < end:
    pass
for pid in kids:
    os.waitpid(pid, 0)
"""
MEMORY_HUNGRY = """import os, time, uuid
import numpy as np
block = np.ones(400 * 2**20 // 8)
path = f"/tmp/hungry-{uuid.uuid4().hex}"
with open(path, "wb") as f:
    f.write(b"x" * 64 * 2**20)
time.sleep(2)
os.unlink(path)
del block
"""
BUSY = "import time\nend = time.time() + 300\nwhile time.time() < end:\n    pass\n"


def notebook(cell_edit=None, extra: str | None = None) -> dict:
    """The solution notebook, with a solution cell's text changed and a student cell added."""
    nb = json.loads((SOURCE / f"{ASSIGNMENT}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell_edit and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = cell_edit("".join(cell["source"]))
    if extra is not None:
        nb["cells"].insert(1, {"cell_type": "code", "metadata": {}, "source": extra, "outputs": [],
                               "execution_count": None})
    return nb


def partly(text: str) -> str:
    """relu with loops (not vectorized), naive_add and add_numba subtracting."""
    return (text.replace("return np.maximum(x, 0)", "out = x.copy()\n    for i in range(x.size):\n"
                         "        out.flat[i] = max(out.flat[i], 0)\n    return out")
                .replace("z[i, j] += y[j]", "z[i, j] -= y[j]", 1))


def submission(root: Path, name: str, nb: dict) -> Path:
    folder = root / "submitted" / name / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(nb))
    return folder


def verdicts(result) -> tuple:
    return tuple((t.name, t.points, t.passed) for t in result.tests)


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    return submission(tmp_path_factory.mktemp("determinism"), "honest", notebook())


def grade_repeatedly(folder: Path, runs: int = RUNS) -> list[tuple]:
    worker = Worker()
    try:
        return [verdicts(grade_submission(ASSIGNMENT, "s", SOURCE, folder, worker))
                for _ in range(runs)]
    finally:
        worker.close()


def full_marks(found: tuple) -> bool:
    return all(passed for _, _, passed in found)


#: A test cell whose score is what it draws, unseeded, from Python's and NumPy's generators.
DRAW = ("import random\nimport numpy as np\n"
        "float(np.random.randint(0, 500) + random.randrange(500))\n")


def test_a_test_cells_unseeded_draws_are_the_same_on_every_grading():
    """Whatever the grading process drew before, a test cell draws the same numbers each time the
    submission is graded (seeded by its grade_id: another cell draws others)."""
    steps = [StudentCell("x = 1\n"), TestCell("draw_a", 1000.0, DRAW),
             TestCell("draw_b", 1000.0, DRAW)]
    worker = Worker()
    try:
        first = [t.points for t in Grader(worker).run(steps, []).tests]
        np.random.rand(7), random.random()  # the process's generators move on
        second = [t.points for t in Grader(worker).run(steps, []).tests]
    finally:
        worker.close()
    assert first == second and first[0] != first[1], (first, second)


def test_a_compiled_functions_unseeded_draws_are_the_same_on_every_grading():
    """Numba's own generator, which seeds itself from the OS in each forked process, starts
    from the submission's seed in each child, as Python's and NumPy's do."""
    steps = [StudentCell("import numpy as np\nfrom numba import njit\n\n\n@njit\n"
                         "def noise():\n    return np.random.randint(0, 1000)\n"),
             TestCell("draw", 1000.0, "float(noise())\n")]
    worker = Worker()
    try:
        found = [Grader(worker).run(steps, []).tests[0].points for _ in range(3)]
    finally:
        worker.close()
    assert len(set(found)) == 1, found


def test_the_order_of_a_set_of_words_is_the_same_on_every_worker():
    """Python seeds its str hashes at random in each interpreter, and a set of words iterates in
    their order: each worker's sandbox starts from the same seed."""
    steps = [StudentCell("words = [f'w{i}' for i in range(40)]\norder = list(set(words))\n"),
             TestCell("order", 1000.0, "float(order.index('w0') * 25 + order.index('w1') % 25)\n")]
    found = []
    for _ in range(3):
        worker = Worker()
        try:
            found.append(Grader(worker).run(steps, []).tests[0].points)
        finally:
            worker.close()
    assert len(set(found)) == 1, found


def test_a_generator_made_without_a_seed_draws_the_same_on_every_grading():
    """np.random.default_rng() takes its entropy from the OS in a kernel; in the sandbox from the
    submission's seed: each generator draws other numbers, the same on every grading and worker."""
    steps = [StudentCell("import numpy as np\nw = np.random.default_rng().normal(size=3)\n"
                         "v = np.random.default_rng().normal(size=3)\n"
                         "entropy = np.random.SeedSequence().entropy\n"),
             TestCell("draw", 1000.0,
                      "assert (w != v).all()\nfloat(int(abs(w[0]) * 1e6) % 1000)\n"),
             TestCell("entropy", 1000.0, "float(entropy % 1000)\n")]
    found = []
    for _ in range(2):
        worker = Worker()
        try:
            found += [tuple(t.points for t in Grader(worker).run(steps, []).tests)
                      for _ in range(2)]
        finally:
            worker.close()
    assert len(set(found)) == 1, found


@pytest.mark.slow
def test_alone(honest):
    found = grade_repeatedly(honest)
    assert len(set(found)) == 1 and full_marks(found[0]), found
    print(f"\nalone: {RUNS} gradings, identical per-test results, "
          f"{sum(p for _, p, _ in found[0]):g} points")


@pytest.mark.slow
def test_beside_two_busy_processes(honest):
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        found = grade_repeatedly(honest)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert len(set(found)) == 1 and full_marks(found[0]), found
    print(f"\nbeside two busy processes: {RUNS} gradings, identical per-test results")


@pytest.mark.slow
def test_beside_hungry_submissions(tmp_path):
    """One pool of 2 workers grades 10 honest and 10 partly right submissions between 6 hungry
    ones; every honest grading is identical, and so is every partly right one."""
    honest = notebook()
    wrong = notebook(partly)
    jobs, kinds = [], {}
    for i in range(RUNS):
        for kind, nb in (("honest", honest), ("partly", wrong)):
            name = f"{kind}{i:02d}"
            jobs.append(Job(ASSIGNMENT, name, SOURCE, submission(tmp_path, name, nb)))
            kinds[name] = kind
        if i < 6:
            hungry = ("cpu", CPU_HUNGRY) if i % 2 == 0 else ("memory", MEMORY_HUNGRY)
            name = f"hungry-{hungry[0]}{i:02d}"
            jobs.append(Job(ASSIGNMENT, name, SOURCE,
                            submission(tmp_path, name, notebook(extra=hungry[1]))))
            kinds[name] = "hungry"
    found: dict[str, list] = {"honest": [], "partly": [], "hungry": []}
    started = time.monotonic()
    grade_all(jobs, 2,
              on_result=lambda job, result: found[kinds[job.student]].append(verdicts(result)))
    assert len(found["honest"]) == len(found["partly"]) == RUNS and len(found["hungry"]) == 6
    assert len(set(found["honest"])) == 1 and full_marks(found["honest"][0]), found["honest"]
    assert len(set(found["partly"])) == 1, found["partly"]
    lost = {name for name, points, passed in found["partly"][0] if not passed}
    assert lost == {"test_naive_add", "test_relu", "test_add_numba"}, found["partly"][0]
    print(f"\nbeside hungry submissions ({time.monotonic() - started:.0f} s): {RUNS} honest "
          f"gradings identical at full marks, {RUNS} partly right identical (lost: {sorted(lost)})")
