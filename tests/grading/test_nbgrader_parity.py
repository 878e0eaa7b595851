"""Honest work scores what genuine ``nbgrader autograde`` gives it: the same points per test cell
(partial credit included) for correct, partly correct and stub submissions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.engine.pipeline import grade_submission
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
REAL = "03_losses_activations"


def nbgrader(course: Path, *args: str) -> None:
    """Run genuine nbgrader in ``course`` (its kernel is this Python, with numpy and autograder)."""
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    # nbgrader runs `alembic` from PATH
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def nbgrader_points(course: Path, assignment: str, notebook: str, students: list[str]) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        out = {}
        for student in students:
            nb = gb.find_submission_notebook(notebook, assignment, student)
            out[student] = {g.name: g.score for g in nb.grades if g.cell.cell_type == "code"}
        return out


def engine_points(course: Path, assignment: str, students: list[str]) -> dict:
    worker = Worker()
    try:
        return {s: {t.name: t.points for t in grade_submission(
                    assignment, s, course / "source" / assignment,
                    course / "submitted" / s / assignment,
                    worker, course / "release" / assignment).tests} for s in students}
    finally:
        worker.close()


@pytest.fixture(scope="module")
def small_course(tmp_path_factory) -> Path:
    course = nbs.course(tmp_path_factory.mktemp("parity"),
                        {"correct": nbs.CORRECT, "partly": nbs.PARTLY, "stub": nbs.STUB})
    nbgrader(course, "generate_assignment", nbs.ASSIGNMENT, "--force")
    nbgrader(course, "autograde", nbs.ASSIGNMENT, "--force")
    return course


def test_small_notebooks_score_as_nbgrader_scores_them(small_course):
    students = ["correct", "partly", "stub"]
    theirs = nbgrader_points(small_course, nbs.ASSIGNMENT, nbs.ASSIGNMENT, students)
    ours = engine_points(small_course, nbs.ASSIGNMENT, students)
    assert ours == theirs
    # and the three cases are what they should be: full, partial (credit 1 of 2 on test_mean), zero
    assert ours["correct"] == {"test_relu": 2.0, "test_add": 3.0, "test_mean": 2.0}
    assert ours["partly"] == {"test_relu": 2.0, "test_add": 0.0, "test_mean": 1.0}
    assert sum(ours["stub"].values()) == 0


@pytest.mark.skipif(not (REPO / "assignments" / "source" / REAL).is_dir(),
                    reason=f"{REAL} not in the course")
def test_a_real_assignment_scores_as_nbgrader_scores_it(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "assignments" / "source" / REAL, course / "source" / REAL)
    shutil.copy(REPO / "assignments" / "nbgrader_config.py", course / "nbgrader_config.py")
    nbgrader(course, "generate_assignment", REAL, "--force")
    for student, folder in (("solution", course / "source" / REAL),
                            ("stub", course / "release" / REAL)):
        shutil.copytree(folder, course / "submitted" / student / REAL)
    nbgrader(course, "autograde", REAL, "--force")
    theirs = nbgrader_points(course, REAL, REAL, ["solution", "stub"])
    ours = engine_points(course, REAL, ["solution", "stub"])
    assert ours == theirs
    assert all(ours["solution"].values()) and sum(ours["stub"].values()) == 0


#: What crosses between a test cell and the student's code, in pairs of (student cell, test
#: cell): the honest submission's cells and, where the other submission differs, its cell.
CROSSING = {
    "large_by_keyword": ("def scale(x, w):\n    return x * w.sum()\n", None, """
W = np.full((100, 100), 2.0)
assert np.allclose(scale(np.ones(10), w=W), 20000.0)
assert np.allclose(scale(np.ones(20000), w=W), 20000.0)
"""),
    "alike_arrays": ("def labels_of(y):\n    return np.argmax(y, axis=1)\n", None, """
labels = np.arange(1000) % 10
swapped = labels.copy()
swapped[[600, 700]] = labels[[700, 600]]
assert (labels_of(np.eye(10)[labels]) == labels).all()
assert (labels_of(np.eye(10)[swapped]) == swapped).all()
"""),
    "global_made": ("X = np.arange(200_000.0).reshape(1000, 200)\n", None,
                    "assert X.shape == (1000, 200)\n"),
    "global_changed_in_place": ("X -= X.mean(axis=0)\n", None,
                                "assert abs(X.mean()) < 1e-9, X.mean()\n"),
    "containers": ("""def folds(n, k):
    return [range(i * (n // k), (i + 1) * (n // k)) for i in range(k)]


def counts(words):
    return collections.Counter(words)
""", None, """
assert folds(6, 3) == [range(0, 2), range(2, 4), range(4, 6)]
assert np.asarray(folds(6, 3)[1]).tolist() == [2, 3]
assert counts(["a", "b", "a"])["z"] == 0 and counts(["a"]) == collections.Counter(a=1)
assert set(counts(["a", "b"])) == {"a", "b"}
"""),
    "argument_changed_in_place": ("def center_(x):\n    x -= x.mean()\n", None, """
x = np.array([1.0, 2.0, 3.0])
center_(x)
assert np.allclose(x, [-1.0, 0.0, 1.0]), x
"""),
    "lists_and_dicts_changed_in_place": ("""def add_word(vocabulary, word):
    vocabulary.append(word)
    return len(vocabulary)


def count(counts, word):
    counts[word] = counts.get(word, 0) + 1
""", None, """
words = ["a"]
assert add_word(words, "b") == 2 and words == ["a", "b"], words
counts = {}
count(counts, "x")
count(counts, "x")
assert counts == {"x": 2}, counts
"""),
    "argument_left_alone": ("def relu(x):\n    return np.maximum(x, 0)\n",
                            "def relu(x):\n    x[x < 0] = 0\n    return x\n", """
x = np.array([-1.0, 2.0])
assert np.array_equal(relu(x), [0.0, 2.0])
assert np.array_equal(x, [-1.0, 2.0]), "relu changed its input"
"""),
    "error_handling": ("""def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
""", "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n", """
with np.errstate(over="raise"):
    s = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
assert np.allclose(s, [0.0, 0.5, 1.0])
"""),
    "warning_filters": ("""import numba


@numba.njit(parallel=True)  # nothing to parallelize: Numba warns when it compiles
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s


def log_of(x):
    return np.log(x)
""", None, """
import warnings
from numba.core.errors import NumbaPerformanceWarning
with warnings.catch_warnings():
    warnings.simplefilter("ignore", NumbaPerformanceWarning)
    assert total(np.ones(4)) == 4.0
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    assert log_of(np.array([0.0]))[0] == -np.inf
"""),
    "exceptions": ("""class ShapeMismatchError(ValueError):
    pass


def check_pair(a, b):
    if np.shape(a) != np.shape(b):
        raise ShapeMismatchError(f"{np.shape(a)} against {np.shape(b)}")


def solve(a, b):
    if np.linalg.det(a) == 0:
        raise np.linalg.LinAlgError("singular matrix")
    return np.linalg.solve(a, b)
""", None, """
for call, caught in ((lambda: check_pair(np.ones(2), np.ones(3)), ValueError),
                     (lambda: solve(np.zeros((2, 2)), np.ones(2)), np.linalg.LinAlgError),
                     (lambda: solve(np.zeros((2, 2)), np.ones(2)), ValueError)):
    try:
        call()
    except caught:
        pass
    else:
        raise AssertionError("no error")
try:
    check_pair(np.ones(2), np.ones(3))
except KeyError:
    raise AssertionError("a ValueError is no KeyError")
except ValueError as error:
    assert "(2,) against (3,)" in str(error)
"""),
    "type_names": ("""import functools
import operator


def evens(n):
    return (i for i in range(0, n, 2))


def times(k):
    return functools.partial(operator.mul, k)
""", None, """
got = evens(6)
assert type(got).__name__ == "generator", type(got).__name__
try:
    got[0]
except TypeError as error:
    assert "'generator' object is not subscriptable" in str(error), str(error)
assert type(times(3)).__name__ == "partial", type(times(3)).__name__
assert times(3)(2) == 6
"""),
    "a_name_the_test_takes": ("x = np.arange(3.0)\n", None, "x = \"the test's own x\"\n"),
    "another_array_changed": ("y = np.ones(3)\n", None, "assert x == \"the test's own x\"\n"),
    "warning_shown_again": ("def doubled(x):\n    return 2 * x\n", """import warnings


def doubled(x):
    warnings.warn("doubled is deprecated")
    return 2 * x


doubled(1)
""", "assert doubled(2) == 4\n"),
    "defined_under_time": (
        "%%time\n\ndef timed_relu(x):\n    return np.maximum(x, 0)\n",
        "%%time\n\ndef timed_relu(x):\n    return np.array([max(v, 0) for v in x])\n", """
from autograder.asserts import assert_no_loops
assert_no_loops(timed_relu)
assert (timed_relu(np.array([-1.0, 2.0])) == [0.0, 2.0]).all()
"""),
    "defined_under_capture": (
        "%%capture shown\ndef quiet_relu(x):\n    print('relu')\n    return np.maximum(x, 0)\n",
        None, """
from autograder.asserts import assert_no_loops
assert_no_loops(quiet_relu)
assert (quiet_relu(np.array([-1.0, 2.0])) == [0.0, 2.0]).all()
"""),
    "named_tuple": ("""Stop = collections.namedtuple("Stop", ["stopped_epoch", "best_epoch"])


def stop_at(losses):
    return Stop(None, min(range(len(losses)), key=losses.__getitem__))
""", None, """
got = stop_at([3.0, 1.0, 2.0])
assert isinstance(got, tuple) and tuple(got) == (None, 1), got
assert got.best_epoch == 1 and type(got).__name__ == "Stop"
"""),
    "decorated": ("""import functools


def as_arrays(fn):
    @functools.wraps(fn)
    def wrapper(*arrays):
        return fn(*[np.asarray(a, dtype=float) for a in arrays])
    return wrapper


@as_arrays
def mean_gap(a, b):
    return float(np.mean(np.abs(a - b)))


@np.errstate(invalid="ignore", divide="ignore")
def signs(d):
    return np.where(d == 0, 0.0, d / np.abs(d))
""", """import functools


def as_arrays(fn):
    @functools.wraps(fn)
    def wrapper(*arrays):
        return fn(*arrays)
    return wrapper


@as_arrays
def mean_gap(a, b):
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


@np.errstate(invalid="ignore", divide="ignore")
def signs(d):
    return np.where(d == 0, 0.0, d / np.abs(d))
""", """
from autograder.asserts import assert_no_loops
assert_no_loops(mean_gap)
assert_no_loops(signs)
assert mean_gap([1, 2], [2, 2]) == 0.5
assert signs(np.array([0.0, -2.0])).tolist() == [0.0, -1.0]
"""),
    "plots_shown": ("""import matplotlib.pyplot as plt


def plotted_relu(x):
    plt.figure()
    plt.plot(x)
    plt.show()
    return np.maximum(x, 0)
""", None, """
for _ in range(25):  # plt.show() closes each figure, as the inline backend does
    assert plotted_relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
"""),
    "autoreloaded_module": ("%load_ext autoreload\n%autoreload 2\n" + nbs.WRITE_SCALING.format(1)
                            + "from scaling import factor\n",
                            nbs.WRITE_SCALING.format(1) + "from scaling import factor\n",
                            "assert factor() == 1\n"),
    "autoreloaded_again": (nbs.WRITE_SCALING.format(20), None, "assert factor() == 20\n"),
    "extension_not_installed": ("def cube(x):\n    return x ** 3\n",
                                "%load_ext no_such_profiler\n\n\ndef cube(x):\n    return x ** 3\n",
                                "assert cube(2) == 8\n"),
    # pickle finds a class the notebook defines in __main__, as in a kernel
    "pickled_class": ("import pickle\n\n\nclass Scale:\n    def __init__(self, k):\n"
                      "        self.k = k\n\n\nscale_copy = pickle.loads(pickle.dumps(Scale(3)))\n",
                      None, "assert scale_copy.k == 3\n"),
    "awaited": ("import asyncio\nawait asyncio.sleep(0)\nawaited = 'yes'\n", None,
                "assert awaited == 'yes'\n"),
    # a test that seeds the global generators predicts what the student's function draws
    "shared_random": ("import random\n\n\ndef noisy(x):\n"
                      "    return x + np.random.rand(*np.shape(x)) + random.random()\n",
                      None, "import random\nnp.random.seed(3)\nrandom.seed(4)\n"
                      "out = noisy(np.zeros(4))\nnp.random.seed(3)\nrandom.seed(4)\n"
                      "assert np.array_equal(out, np.random.rand(4) + random.random())\n"),
    # the student's code calls a function the test passes it
    "function_passed": ("def derivative(f, x, h=1e-5):\n"
                        "    return (f(x + h) - f(x - h)) / (2 * h)\n", None,
                        "assert abs(derivative(lambda v: v ** 3, 2.0) - 12.0) < 1e-4\n"
                        "assert abs(derivative(np.tanh, 0.0) - 1.0) < 1e-6\n"),
    "timed_definition": ("def cube_root(x):\n    return x ** (1 / 3)\n",
                         "%%timeit -n1 -r1\ndef cube_root(x):\n    return x ** (1 / 3)\n",
                         "assert cube_root(8.0) == 2.0\n"),
    # the student's np.seterr holds for the rest of the notebook
    "students_error_handling": ("""np.seterr(under="raise", divide="ignore")


def stable_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def inverse(x):
    return 1 / x
""", None, """
with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
    s = stable_sigmoid(np.array([-1000.0, 0.0, 1000.0]))
assert np.allclose(s, [0.0, 0.5, 1.0])
assert inverse(np.array([0.0]))[0] == np.inf
assert np.log(np.zeros(1))[0] == -np.inf
"""),
    # the value a cell ended with, in Out (a test's loop variable froze _ for good, in the
    # kernel), numbered as the kernel numbers the cells; a __future__ import, for the rest
    "last_value": ("np.zeros((3, 2)).shape\n", None, "pass\n"),
    "last_value_read": ("last = max(Out)\nrows = Out[last][0]\ncells_run = len(In) - 1\n", None,
                        "assert rows == 3 and cells_run == last + 2\n"),
    "future_import": ("from __future__ import annotations\n", "pass\n", "pass\n"),
    "forward_reference": ("def first_of(batch: Batch) -> Row:\n    return batch[0]\n", None,
                          "assert first_of([4, 5]) == 4\n"),
    # what a test cell made and imported, used by the student's next cell
    "test_made_data": ("def double(x):\n    return 2 * x\n", None,
                       "from numpy.testing import assert_allclose\nprobe = np.arange(3.0)\n"
                       "assert_allclose(double(probe), [0.0, 2.0, 4.0])\n"),
    "uses_test_data": ("doubled = double(probe)\nassert_allclose(doubled, 2 * probe)\n", None,
                       "assert doubled.tolist() == [0.0, 2.0, 4.0]\n"),
    # the variable nbgrader sets while it grades, which notebooks may read to skip slow work
    "grading_variable": ("import os\nmode = os.environ.get('NBGRADER_EXECUTION')\n", None,
                         "import os\nassert mode == os.environ['NBGRADER_EXECUTION'] == "
                         "'autograde'\n"),
    # a cell tagged skip-execution, which nbgrader's executor skips (the tag in the 4th place)
    "skipped_cell": ("skipped_ran = True\n", None, "assert 'skipped_ran' not in globals()\n",
                     ["skip-execution"]),
    # a test cell's last value is its partial credit unless a semicolon ends the expression,
    # as IPython reads it: not one in a comment, and one before a comment
    "partial_after_comment": ("half = 0.5\n", None, "half  # of the point; the rest is style\n"),
    "quiet_before_comment": ("pass\n", None, "0.25;  # not shown, so full credit\n"),
    # last: the notebook's names are gone
    "reset": ("%reset -f\n", "pass\n", "assert 'stable_sigmoid' not in globals()\n"),
}


def crossing_cells(honest: bool) -> list:
    cells = [nbs.cell("import collections\nimport numpy as np", "imports", locked=True)]
    for name, (student, other, test, *tags) in CROSSING.items():
        cells += [nbs.cell(student if honest or other is None else other, name, solution=True),
                  nbs.cell(test, f"test_{name}", points=1)]
        cells[-2].metadata["tags"] = tags[0] if tags else []
    return cells


def test_what_crosses_to_the_students_code_behaves_as_in_a_notebook(tmp_path):
    """Arguments and results cross between the test cells and the sandbox as they would pass
    within one notebook's kernel: a large array by keyword, arrays alike but for two labels, a
    global array changed in place, ranges and Counters returned, an array, a list and a dict the
    student's function changes in place (seen by the test), one it must leave alone, a test's
    ``np.errstate`` and warning filters, the student's own ``np.seterr`` (which the test's code
    and calls start from, and which a test's ``np.errstate`` overrides, default values included),
    a named tuple returned, figures shown by the student's function (and closed, as the inline
    backend closes them), functions under ``functools.wraps`` and ``@np.errstate`` decorators
    (their own source read, not the decorator's), the student's own ValueError and NumPy's
    LinAlgError
    caught as they are in a notebook, the type names of a returned generator and partial (in
    Python's own messages too), and a test's own name that the student also used, kept
    when another of the student's arrays changes. The other submission changes its input,
    overflows, and warns in a test cell after its own cell showed the same warning (a kernel
    shows it again in each cell, and nbgrader scores the stderr 0): 0 there, as in nbgrader.
    Functions defined under ``%%time`` and ``%%capture`` have their source read (IPython keeps
    none for ``%%time``'s body): the loop in the other one's is found, and the loop under the
    other's decorator. A module the notebook rewrites reaches its tests with ``%autoreload 2``
    (the other loads no autoreload: the old module stays), and ``%reset -f`` leaves the tests
    none of the notebook's names (the other resets nothing). The other's cell that loads an
    extension that is not installed stops there, as in a kernel. A class the notebook defines
    survives pickle, a cell may ``await`` at its top level, a test that seeds the global
    generators predicts what the student's function draws from them, the student's code calls
    the test's own functions, and a function defined under
    ``%%timeit`` (the other's) stays inside timeit's function, as in IPython. A cell reads the
    value a cell before it ended with (``Out``), and a ``from __future__ import annotations``
    holds for the cells after it (the other imports none: its annotation fails). A student's
    cell uses the array a test cell made and the function it imported, the notebook and its
    tests read ``NBGRADER_EXECUTION``, and a cell tagged ``skip-execution`` does not run. A test
    cell's last value is partial credit where IPython shows it: a semicolon in a comment does
    not hide it, one before a comment does."""
    course = nbs.course(tmp_path / "course", {"honest": crossing_cells(True),
                                              "careless": crossing_cells(False)},
                        source=crossing_cells(True))
    nbgrader(course, "generate_assignment", nbs.ASSIGNMENT, "--force")
    nbgrader(course, "autograde", nbs.ASSIGNMENT, "--force")
    students = ["honest", "careless"]
    theirs = nbgrader_points(course, nbs.ASSIGNMENT, nbs.ASSIGNMENT, students)
    ours = engine_points(course, nbs.ASSIGNMENT, students)
    assert ours == theirs
    assert all(ours["honest"].values()) and len(ours["honest"]) == len(CROSSING)
    assert [name for name, points in ours["careless"].items() if not points] == [
        "test_argument_left_alone", "test_error_handling", "test_warning_shown_again",
        "test_defined_under_time", "test_decorated", "test_autoreloaded_again",
        "test_extension_not_installed", "test_timed_definition", "test_forward_reference",
        "test_reset"]
