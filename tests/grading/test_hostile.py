"""Hostile and broken submissions: each scores 0 for what it breaks, full marks for its honest
parts, a flag where it attacked, and none stops the run or touches another student's result.

Written to stay harmless if the sandbox failed: forks are bounded and sleep, memory bombs stay
under a limit set here, no signal ever goes to a process group or to this test's process."""

from __future__ import annotations

import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder.engine import sandbox
from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

LIMITS = Limits(memory_mb=400, cpu_s=60, nproc=24, cell_timeout_s=6, call_timeout_s=6, output_kb=16)


@pytest.fixture(scope="module")
def worker():
    w = Worker(LIMITS)
    yield w
    w.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return nbs.course(tmp_path_factory.mktemp("course"), {})


def grade(worker, course: Path, name: str, cells: list | bytes | None):
    folder = course / "submitted" / name / nbs.ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(cells, bytes):
        (folder / f"{nbs.ASSIGNMENT}.ipynb").write_bytes(cells)
    elif cells is not None:
        nbs.write(folder / f"{nbs.ASSIGNMENT}.ipynb", cells)
    forbidden = (str(course.resolve()), "autograder.sqlite")
    result = grade_submission(nbs.ASSIGNMENT, name, course / "source" / nbs.ASSIGNMENT,
                              folder, worker, forbidden=forbidden)
    return result, {t.name: t.points for t in result.tests}


FULL = {"test_relu": 2.0, "test_add": 3.0, "test_mean": 2.0}
NO_ADD = {**FULL, "test_add": 0.0}
WRONG_ADD = "def add(a, b):\n    return a - b\n"


def attack(cells: list, code: str, index: int = 3) -> list:
    """``cells`` with a cell of ``code`` inserted before cell ``index`` (the add solution)."""
    return nbs.with_extra(cells, index, code)


def test_honest_submission_scores_full_marks(worker, course):
    result, points = grade(worker, course, "honest", nbs.CORRECT)
    assert points == FULL and result.flags == () and result.status == "graded"
    assert result.limits["isolation"] in ("bubblewrap", "rlimits")


def test_monkeypatching_numpy_and_the_asserts_changes_no_verdict(worker, course):
    code = ("import numpy as np, autograder.asserts as A\n"
            "np.allclose = lambda *a, **k: True\nA.assert_close = lambda *a, **k: None\n")
    cells = attack(nbs.with_cell(nbs.CORRECT, 3, WRONG_ADD), code)
    result, points = grade(worker, course, "patcher", cells)
    assert points == NO_ADD
    assert "monkeypatch:numpy.allclose" in result.flags
    assert "monkeypatch:autograder.asserts.assert_close" in result.flags


def test_monkeypatching_builtins_is_flagged_and_harmless(worker, course):
    code = "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.abs = lambda x: 0\n"
    result, points = grade(worker, course, "builtins", attack(nbs.CORRECT, code))
    assert points == FULL
    assert {"monkeypatch:builtins.isinstance", "monkeypatch:builtins.abs"} <= set(result.flags)


def test_a_function_named_as_a_builtin_a_test_calls_is_flagged(worker, course):
    """``def abs(x): return 0`` makes test_mean's ``abs(mean(xs) - 2) < 1e-12`` hold for any
    mean: full marks in a notebook, and here (nbgrader's grade), but flagged for a person."""
    cells = nbs.with_cell(nbs.CORRECT, 5, "def mean(xs):\n    return 0.0\n")
    result, points = grade(worker, course, "shadow", attack(cells, "def abs(x):\n    return 0\n"))
    assert points == FULL
    assert "shadowed-builtin:abs" in result.flags
    honest, _ = grade(worker, course, "own-max", attack(nbs.CORRECT, "def max(a, b):\n    "
                                                        "return a if a > b else b\n"))
    assert honest.flags == ()  # no test calls max


def test_edited_test_cell_is_replaced_by_the_source(worker, course):
    cells = nbs.with_cell(nbs.with_cell(nbs.CORRECT, 3, WRONG_ADD), 4, "pass  # all good")
    _, points = grade(worker, course, "editor", cells)
    assert points == NO_ADD


@pytest.mark.parametrize("add", [nbs.ADD, WRONG_ADD])
def test_deleted_test_cell_still_runs(worker, course, add):
    cells = nbs.with_cell(nbs.CORRECT, 3, add)
    del cells[4]
    result, points = grade(worker, course, "deleter", cells)
    assert points == (FULL if add == nbs.ADD else NO_ADD)
    assert [t.name for t in result.tests] == ["test_relu", "test_add", "test_mean"]


def test_duplicated_and_missing_metadata(worker, course):
    # test_add twice
    cells = nbs.CORRECT[:5] + [nbs.cell(nbs.TEST_ADD, "test_add", points=3)] + nbs.CORRECT[5:]
    cells[1] = nbs.cell(nbs.RELU)       # solution lost its metadata
    cells[7] = nbs.cell(nbs.TEST_MEAN)  # a test cell without metadata
    result, points = grade(worker, course, "metadata", cells)
    assert points == FULL and len(result.tests) == 3


def test_infinite_loop_in_a_function_times_out(worker, course):
    """Interrupted, as nbgrader interrupts a cell past its timeout: its test fails, the next
    passes."""
    cells = nbs.with_cell(nbs.CORRECT, 3, "def add(a, b):\n    while True:\n        pass\n")
    result, points = grade(worker, course, "looper", cells)
    assert points == NO_ADD
    assert "timeout" in result.flags
    assert "timed out" in next(t.message for t in result.tests if t.name == "test_add")


def test_infinite_loop_in_a_cell_times_out(worker, course):
    """Interrupted; the cells after it run (the mean solution), as in nbgrader."""
    result, points = grade(worker, course, "cell-looper",
                           attack(nbs.CORRECT, "while True:\n    pass\n", 5))
    assert points == FULL
    assert "timeout" in result.flags


def test_memory_bomb_hits_the_limit(worker, course):
    code = "try:\n    hog = bytearray(2 * 1024 ** 3)\nfinally:\n    pass\n"
    result, points = grade(worker, course, "hog", attack(nbs.CORRECT, code))
    assert points == FULL
    assert "memory-limit" in result.flags


def test_fork_bomb_is_bounded(worker, course):
    code = ("import os, time\nkids = []\nfor _ in range(50):\n    pid = os.fork()\n"
            "    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n    kids.append(pid)\n")
    result, points = grade(worker, course, "forker", attack(nbs.CORRECT, code))
    assert points == FULL
    if result.limits["nproc_enforced"]:
        assert "process-limit" in result.flags


@pytest.mark.parametrize("code, flag, expected", [
    ("import sys\nsys.exit(3)\n", "exit", FULL),
    ("import os\nos._exit(3)\n", "process-ended",
     {"test_relu": 2.0, "test_add": 0.0, "test_mean": 0.0}),
    ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", "worker-killed", None),
])
def test_exits_and_killing_the_parent(worker, course, code, flag, expected):
    result, points = grade(worker, course, "exiter", attack(nbs.CORRECT, code))
    assert flag in result.flags and points["test_relu"] == 2.0, (result.flags, result.tests)
    if expected is not None:  # the child outlives its killed parent for a moment: no exact split
        assert points == expected
    # the next student is unharmed
    after, points = grade(worker, course, "after-exiter", nbs.CORRECT)
    assert points == FULL and after.flags == ()


def test_reading_the_source_notebook_and_the_gradebook(worker, course):
    (course / "autograder.sqlite").write_text("secret")
    source = course / "source" / nbs.ASSIGNMENT / f"{nbs.ASSIGNMENT}.ipynb"
    code = (f"leaks = []\nfor p in [{str(source)!r}, {str(course / 'autograder.sqlite')!r}]:\n"
            "    try:\n        leaks.append(open(p).read())\n    except OSError:\n"
            "        leaks.append(None)\n")
    # add() is right only while the sandbox hides both files
    cells = nbs.with_cell(attack(nbs.CORRECT, code), 4,
                          "def add(a, b):\n    return a + b if leaks == [None, None] else 0\n")
    result, points = grade(worker, course, "reader", cells)
    assert "read-attempt" in result.flags
    if result.limits["isolation"] == "bubblewrap":
        assert points == FULL


def test_nothing_left_behind_for_the_next_student(worker, course):
    planted = f"/tmp/planted-{uuid.uuid4().hex}.py"
    plant = f"open({planted!r}, 'w').write('x = 1')\nopen('planted.py', 'w').write('x = 1')\n"
    try:
        grade(worker, course, "planter", attack(nbs.CORRECT, plant))
        look = (f"import os\nseen = os.path.exists({planted!r}) or os.path.exists('planted.py')\n"
                "def add(a, b):\n    return a + b if not seen else 0\n")
        result, points = grade(worker, course, "looker", nbs.with_cell(nbs.CORRECT, 3, look))
        if result.limits["isolation"] == "bubblewrap":  # without it /tmp is the host's, shared
            assert points == FULL
    finally:
        Path(planted).unlink(missing_ok=True)  # only there when the sandbox fell back


def test_writing_outside_its_folder(worker, course, tmp_path):
    """Under bubblewrap neither a folder of the grader's nor the system is writable. The system
    write is tried only there, under a unique name removed afterwards, so that the test stays
    harmless on a machine where the sandbox falls back to limits alone (as root, /usr is
    writable)."""
    target = tmp_path / "outside.txt"
    code = f"try:\n    open({str(target)!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
    system = Path("/usr") / f"autograder-test-{uuid.uuid4().hex}.txt"
    if sandbox.isolation() == "bubblewrap":
        code += f"try:\n    open({str(system)!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
    try:
        result, points = grade(worker, course, "writer", attack(nbs.CORRECT, code))
        assert points == FULL
        if result.limits["isolation"] == "bubblewrap":
            assert not target.exists() and not system.exists()
    finally:
        system.unlink(missing_ok=True)


def test_network_connections_fail(worker, course):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = ("import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n")
    result, points = grade(worker, course, "network", attack(nbs.CORRECT, code, 5))
    if result.limits["isolation"] == "bubblewrap":
        assert points == FULL
        assert "network" in result.flags
        with pytest.raises(OSError):
            listener.accept()
    listener.close()


def test_printing_megabytes_is_capped(worker, course):
    cells = nbs.with_cell(nbs.CORRECT, 3, "print('x' * 5_000_000)\ndef add(a, b):\n"
                                          "    print('y' * 3_000_000)\n    return a + b\n")
    result, points = grade(worker, course, "printer", cells)
    assert points == FULL and "output-flood" in result.flags
    assert all(len(t.output) <= 4000 for t in result.tests)


def test_lying_eq_never_crosses_and_an_ndarray_subclass_crosses_as_its_plain_array(worker,
                                                                                  course):
    liar = ("class Liar:\n    def __eq__(self, other):\n        return True\n"
            "def add(a, b):\n    return Liar()\n")
    sub = ("class Sub(np.ndarray):\n    def __eq__(self, other):\n"
           "        return np.ones(np.shape(other), bool)\ndef relu(x):\n"
           "    return np.zeros_like(x).view(Sub)\n")
    cells = nbs.with_cell(nbs.with_cell(nbs.CORRECT, 3, liar), 1, sub)
    result, points = grade(worker, course, "liar", cells)
    assert points == {"test_relu": 0.0, "test_add": 0.0, "test_mean": 2.0}
    assert "lying-eq" in result.flags


def test_a_dataclass_that_writes_its_own_eq_is_flagged_and_one_that_does_not_is_not():
    import dataclasses

    from autograder.engine.tampering import suspicions

    @dataclasses.dataclass
    class Honest:
        name: str

    @dataclasses.dataclass
    class Liar:
        name: str

        def __eq__(self, other):
            return True

    assert suspicions(Honest) == [] and suspicions(Liar) == ["lying-eq"]


def test_an_installed_librarys_class_is_not_flagged_and_one_in_the_work_folder_is(tmp_path,
                                                                                  monkeypatch):
    """A PyTorch tensor or a Fraction kept in a notebook defines __eq__ honestly; a class in a
    module the student wrote beside the notebook is the student's."""
    import fractions

    from autograder.engine.tampering import suspicions

    (tmp_path / "liar_module.py").write_text("class Liar:\n    def __eq__(self, other):\n"
                                             "        return True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import liar_module

    assert suspicions(fractions.Fraction) == [] and suspicions(liar_module.Liar) == ["lying-eq"]


@pytest.mark.parametrize("content, status, words", [
    (b'{"cells": [', "failed", "not valid JSON"),
    (b'{"cells": [], "x": "\xff\xfe"}', "failed", "not UTF-8"),
    (None, "missing", "does not exist"),
])
def test_broken_notebooks_score_zero_with_a_reason(worker, course, content, status, words):
    result, points = grade(worker, course, f"broken-{status}-{len(content or b'')}", content)
    assert result.status == status and words in result.error
    assert points == {"test_relu": 0.0, "test_add": 0.0, "test_mean": 0.0} and result.max_score == 7


def test_magics_run_or_are_skipped_with_a_note(worker, course):
    code = ("%matplotlib inline\n%timeit -n 1 -r 1 sum(range(10))\n!ls /\ncounter = 1\n"
            "%time counter += 1\n")
    cells = nbs.with_cell(nbs.CORRECT, 3, code + "def add(a, b):\n    return a + b + counter - 2\n")
    result, points = grade(worker, course, "magic", cells)
    assert points == FULL


def test_parallel_numba_runs_in_the_forked_child(worker):
    from autograder.engine.notebook import StudentCell, TestCell
    from autograder.engine.pipeline import Grader

    code = ("import numpy as np\nfrom numba import njit, prange\n@njit(parallel=True)\n"
            "def twice(a):\n    out = np.empty(a.size)\n    for i in prange(a.size):\n"
            "        out[i] = 2 * a[i]\n    return out\n")
    steps = [StudentCell(code),
             TestCell("t", 1.0, "import numpy as np\nassert np.allclose(twice(np.arange(1000.0)), "
                                "2 * np.arange(1000.0))")]
    run = Grader(worker).run(steps, [])
    assert run.tests[0].passed, run.tests[0].message
    assert worker.hello["threads"] == 1  # the zygote forked with no thread running


def test_without_bubblewrap_the_limits_still_hold(course):
    fallback = Worker(LIMITS, mode="rlimits")
    try:
        result, points = grade(fallback, course, "fallback-honest", nbs.CORRECT)
        assert points == FULL and result.limits["isolation"] == "rlimits"
        cells = nbs.with_cell(nbs.CORRECT, 3, "def add(a, b):\n    while True:\n        pass\n")
        result, points = grade(fallback, course, "fallback-looper", cells)
        assert (points["test_relu"] == 2.0 and points["test_add"] == 0.0
                and "timeout" in result.flags)
        result, points = grade(fallback, course, "fallback-after", nbs.CORRECT)
        assert points == FULL
    finally:
        fallback.close()


def test_an_honest_object_array_is_not_flagged(worker, course):
    """An array of lists (as imdb.load_data returns) cannot cross as plain data, yet is no
    attack."""
    code = ("reviews = np.empty(2, dtype=object)\nreviews[0], reviews[1] = [1, 2], [3]\n"
            "def add(a, b):\n    return a + b\n")
    result, points = grade(worker, course, "object-array", nbs.with_cell(nbs.CORRECT, 3, code))
    assert points == FULL and result.flags == ()


def test_a_module_or_exception_class_named_to_run_a_program_is_never_loaded(worker, course):
    """A name bound to a fake module called numpy.f2py.__main__, and an exception class that
    claims that module: importing it in the grader would run f2py's main, whose SystemExit
    ended the whole grading run. Neither is imported; the grade is the work's."""
    code = ("import types\n_m = types.ModuleType('numpy.f2py.__main__')\n"
            "class Fake(ValueError):\n    pass\nFake.__module__ = 'numpy.f2py.__main__'\n"
            "def add(a, b):\n    raise Fake('no sum')\n")
    result, points = grade(worker, course, "program", nbs.with_cell(nbs.CORRECT, 3, code))
    assert points == NO_ADD and result.status == "graded"
    assert "numpy.f2py.__main__" not in sys.modules


def test_crafted_replies_cost_the_grader_nothing(worker, course):
    """The student's process answers with a set of keys that share one hash (building it would
    take the grader minutes), a range of a billion numbers (a test would turn it into an array
    in the grader's memory), and a write-back path through a range: each is refused at once."""
    code = ("from autograder.engine import servant as S\nnames, call = S.Servant.op_names, "
            "S.Servant.op_call\n"
            "def op_names(self, msg, blobs):\n    reply, out = names(self, msg, blobs)\n"
            "    reply['names']['zz'] = {'kind': 'value', 'value': "
            "{'__set': [k * (2**61 - 1) for k in range(1, 60000)]}}\n    return reply, out\n"
            "def op_call(self, msg, blobs):\n    reply, out = call(self, msg, blobs)\n"
            "    reply['changed'] = [[[0, 0, {'__r': [0, 10**8, 1]}], {'__a': 0}]]\n"
            "    return reply, out\n"
            "S.Servant.op_names, S.Servant.op_call = op_names, op_call\n"
            "def mean(xs):\n    return range(10**9)\n")
    started = time.monotonic()
    result, points = grade(worker, course, "crafty", nbs.with_cell(nbs.CORRECT, 5, code))
    assert points["test_mean"] == 0.0 and time.monotonic() - started < 15
    assert "protocol" in result.flags


def test_a_patched_inspect_does_not_fool_the_source_checks(worker, tmp_path):
    """The sandbox's inspect.getsource made to show a loop-free relu: the grader reads relu's
    definition in its own copy of the cells it sent, and finds the loop."""
    looping = ("def relu(x):\n    out = x.copy()\n    for i in range(out.size):\n"
               "        out.flat[i] = max(out.flat[i], 0)\n    return out\n")
    cells = [nbs.cell("import numpy as np", "imports", locked=True),
             nbs.cell(looping, "relu_solution", solution=True),
             nbs.cell("from autograder.asserts import assert_no_loops\nassert_no_loops(relu)\n",
                      "test_relu", points=1)]
    course = nbs.course(tmp_path / "course", {}, source=cells)
    patch = ("import inspect, linecache\ninspect.getsource = lambda obj: "
             "'def relu(x):\\n    return np.maximum(x, 0)\\n'\n"
             "linecache.getlines = lambda *a, **k: ['def relu(x):\\n', "
             "'    return np.maximum(x, 0)\\n']\n")
    for name, submitted in (("honest-loop", cells), ("patched", nbs.with_extra(cells, 2, patch))):
        result, points = grade(worker, course, name, submitted)
        assert points == {"test_relu": 0.0}, (name, result.tests)
        assert "for loop" in result.tests[0].message, result.tests[0].message
