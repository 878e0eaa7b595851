"""What a Jupyter kernel gives student cells, in the sandbox's stand-in shell: ``display``, the
values and names IPython's magics leave (``%timeit -o``, ``%time``, ``%%capture``,
``%%writefile``, ``%env``) or take away (``%reset``), and, in the engine, the student's helpers
followed by the source checks as in a notebook, modules reloaded by ``%autoreload``, names the
student deleted gone from the tests, and Numba reading the notebook's ``%env`` at its import."""

from __future__ import annotations

import os
import sys

import pytest

from autograder.engine.magics import MagicShell, options, transform
from autograder.engine.notebook import StudentCell, TestCell, visible_bindings
from autograder.engine.pipeline import Grader, Run
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs


def graded(worker: Worker, steps: list, points: list[float]) -> Run:
    """The run that grades ``steps`` in the engine, its tests scoring ``points`` (else the
    tests' messages say why not)."""
    run = Grader(worker).run(steps, [])
    assert [test.points for test in run.tests] == points, [t.message for t in run.tests]
    return run


def run_cells(*cells: str) -> tuple[dict, MagicShell]:
    """The cells run as the sandbox runs them; the namespace and the shell."""
    namespace: dict = {"__name__": "__main__"}  # as in the sandbox and a kernel
    shell = MagicShell(namespace)
    namespace["get_ipython"] = lambda: shell
    for count, cell in enumerate(cells, 1):
        shell.run_cell_source(count, transform(cell), "<cell>", cell)
    return namespace, shell


@pytest.mark.parametrize("line, found, rest", [
    ("-n3 -r 2 -qo f(x)", {"n": "3", "r": "2", "q": "", "o": ""}, "f(x)"),
    ("-o -v saved f(x, -1)", {"o": "", "v": "saved"}, "f(x, -1)"),
    ("-x + 1", {}, "-x + 1"),
])
def test_timeit_options_are_read_as_ipython_reads_them(line, found, rest):
    assert options("timeit", line) == (found, rest)


def test_display_shows_each_objects_repr_and_keeps_the_cell_running(capsys):
    namespace, _ = run_cells("import numpy as np\nx = np.arange(3.0)\ndisplay(x, 'a')\n"
                             "handle = display(x, display_id=True)\nhandle.update(2 * x)\n"
                             "def double(v):\n    return 2 * v\n")
    assert capsys.readouterr().out == ("array([0., 1., 2.])\n'a'\narray([0., 1., 2.])\n"
                                       "array([0., 2., 4.])\n")
    assert namespace["double"](2) == 4


def test_timeit_gives_ipythons_result_when_it_is_kept():
    from IPython.core.magics.execution import TimeitResult

    namespace, shell = run_cells("def f(v):\n    return v + 1\n",
                                 "t = %timeit -o -n 3 -r 2 f(1)\n",
                                 "%timeit -q -n 2 -r 1 -v kept f(1)\n",
                                 "plain = %timeit f(1)\n")
    t = namespace["t"]
    assert type(t) is TimeitResult and (t.loops, t.repeat, len(t.all_runs)) == (3, 2, 2)
    assert 0 < t.best <= t.average <= t.worst and t.stdev >= 0 and t.compile_time >= 0
    assert t.timings == [run / 3 for run in t.all_runs]
    assert type(namespace["kept"]) is TimeitResult and namespace["kept"].loops == 2
    assert namespace["plain"] is None and "%timeit ran its statement once, untimed" in shell.notes


def test_timeit_runs_its_statement_inside_a_function_as_ipython_does():
    """The names a ``%timeit`` statement or ``%%timeit`` cell assigns stay in timeit's function;
    with ``-n`` given, the statement runs as often as IPython runs it (``-r`` times ``-n``)."""
    namespace, shell = run_cells("calls = []\n", "%timeit kept = calls.append(1)\n",
                                 "%%timeit -n1 -r1\ndef inner():\n    return 1\n",
                                 "%timeit -n 2 -r 3 -q calls.append(2)\n")
    assert "kept" not in namespace and "inner" not in namespace
    assert namespace["calls"] == [1] + [2] * 6


def test_cells_are_compiled_as_ipython_compiles_them():
    """A top-level ``await`` runs on an event loop; annotations are evaluated where they stand
    (the engine's own ``from __future__ import annotations`` is not inherited)."""
    namespace, _ = run_cells("import asyncio\nawait asyncio.sleep(0)\nawaited = 1\n")
    assert namespace["awaited"] == 1
    with pytest.raises(NameError, match="undefined_name"):
        run_cells("def f(x: undefined_name):\n    return x\n")


def test_other_magics_leave_what_ipython_leaves(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a kernel's '' on sys.path, as in the sandbox
    monkeypatch.delenv("GRADED_BY", raising=False)
    namespace, _ = run_cells(
        "y = %time 6 * 7\n",
        "%%time\nz = 1\nz + 1\n",
        "%%capture out\nprint('hidden')\n",
        "%%writefile helper_module.py\ndef helper():\n    return 5\n",
        "from helper_module import helper\n%env GRADED_BY=engine\nwho = %env GRADED_BY\n",
        "%prun -s cumulative -q helper()\n",
        "%%file other_module.py\nSEVEN = 7\n",  # IPython's alias of %%writefile
        "from other_module import SEVEN\n",
        "%%writefile script.py\nimport sys\nran_as, args = __name__, sys.argv[1:]\n"
        "def stable(v):\n    return v + SEVEN_HERE\nSEVEN_HERE = 7\n",
        "%run script.py a b\n",
        "%run -i script.py\n",
    )
    assert (namespace["ran_as"], namespace["args"], namespace["stable"](1)) == ("__main__", [], 8)
    assert (namespace["y"], namespace["z"], namespace["who"]) == (42, 1, "engine")
    assert namespace["SEVEN"] == 7
    assert namespace["out"].stdout == "hidden\n" and "hidden" not in capsys.readouterr().out
    assert namespace["helper"]() == 5 and os.environ["GRADED_BY"] == "engine"


def test_reset_deletes_the_names_ipython_deletes():
    keep = "import numpy as np\nx = np.arange(3.0)\nscale = 2.0\n_hidden = 1\n"
    everything, _ = run_cells(keep, "%reset -f\n")
    assert sorted(everything) == ["In", "Out", "__builtins__", "__name__", "_dh", "_ih", "_oh",
                                  "display", "get_ipython"]  # the history's, as IPython's
    arrays, _ = run_cells(keep, "%reset -f array\n")
    assert "x" not in arrays and arrays["scale"] == 2.0 and "np" in arrays
    chosen, _ = run_cells(keep, "%reset_selective -f ^sc\n%reset -f in out\n")
    assert "scale" not in chosen and {"x", "np", "_hidden"} <= set(chosen)
    with pytest.raises(ValueError, match="unknown target 'everything'"):
        run_cells("%reset -f everything\n")


def test_cells_keep_the_from_future_imports_of_the_cells_before_as_in_ipython():
    namespace, _ = run_cells("from __future__ import annotations\n",
                             "def f(x: NotYetDefined) -> NotYetDefined:\n    return x\n",
                             "%time g = f\n")
    assert namespace["f"].__annotations__ == {"x": "NotYetDefined", "return": "NotYetDefined"}


@pytest.mark.skipif(os.path.exists(os.path.join(sys.prefix, "conda-meta", "history")),
                    reason="this Python is a conda environment")
def test_conda_magics_fail_outside_a_conda_environment_as_in_a_kernel():
    with pytest.raises(ValueError, match="not appear to be a conda environment"):
        run_cells("%conda install -y numpy\n\ndef half(x):\n    return x / 2\n")
    _, shell = run_cells("%pip install -q numba\n")
    assert shell.notes == ["%pip skipped: the grader does not run this magic"]


def test_autoreload_is_a_magic_only_once_its_extension_is_loaded():
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="%autoreload` not found"):
        run_cells("%autoreload 2\n")
    _, shell = run_cells("%load_ext autoreload\n%autoreload 2\n")
    assert shell.autoreload._reloader.enabled and shell.autoreload._reloader.check_all


def test_an_extension_that_is_not_installed_fails_its_cell_as_in_a_kernel():
    with pytest.raises(ModuleNotFoundError, match="No module named 'no_such_profiler'"):
        run_cells("%load_ext no_such_profiler\n\ndef cube(x):\n    return x ** 3\n")
    namespace, _ = run_cells("%load_ext storemagic\n%reload_ext numpy\nx = 1\n")
    assert namespace["x"] == 1  # installed: not loaded, and the cell goes on


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


CHECK_RELU = ("import numpy as np\nfrom autograder.asserts import assert_no_loops\n"
              "assert_no_loops(relu)\nassert (relu(np.array([-1.0, 2.0])) == [0, 2]).all()\n")


@pytest.mark.parametrize("helper, points", [
    ("def _rows(x):\n    return np.array([np.maximum(row, 0) for row in x])\n", 0.0),
    ("def _rows(x):\n    return np.maximum(x, 0)\n", 1.0),
])
def test_the_source_checks_follow_the_students_helpers_in_the_engine(worker, helper, points):
    cell = "import numpy as np\n\n" + helper + "\n\ndef relu(x):\n    return _rows(x)\n"
    steps = [StudentCell(cell),
             TestCell("t", 1.0, CHECK_RELU)]
    run = Grader(worker).run(steps, [])
    assert run.tests[0].points == points, run.tests[0].message
    if not points:
        assert "the source of _rows, which it calls" in run.tests[0].message


def test_a_callable_object_is_named_in_the_engine_as_in_a_notebook(worker):
    # an instance with __call__ has no __name__: the source checks' message and a test that
    # reads the name see what a kernel shows, not a name the proxy made up
    cell = ("import functools\nimport numpy as np\n\nclass ReLU:\n    def __call__(self, x):\n"
            "        return np.maximum(x, 0)\n\nrelu = ReLU()\n"
            "clip = functools.partial(np.maximum, 0.0)\n")
    check = ("from autograder.asserts import assert_no_loops\n"
             "for _f in (relu, clip):\n    try:\n        _f.__name__\n    except AttributeError:\n"
             "        pass\n    else:\n        raise AssertionError('a name')\n"
             "assert_no_loops(relu)\n")
    run = graded(worker, [StudentCell(cell), TestCell("t", 1.0, check)], [0.0])
    namespace, _ = run_cells(cell)
    with pytest.raises(AssertionError) as kernel:
        exec(check, namespace)
    assert run.tests[0].message.splitlines()[-1] == f"AssertionError: {kernel.value}"
    assert "could not read the source of your function" in str(kernel.value)


def test_kernel_names_and_magic_results_in_the_engine(worker):
    steps = [StudentCell("import numpy as np\nx = np.arange(3.0)\ndisplay(x)\n\n"
                         "def double(v):\n    return 2 * v\n"),
             TestCell("t1", 1.0, "assert (double(np.arange(3.0)) == [0, 2, 4]).all()\n"
                                 "display(double(1))\n"),
             StudentCell("t = %timeit -o -n 3 -r 2 double(x)\nbest = t.best\n"
                         "twice = %time double(x)\n\ndef triple(v):\n    return 3 * v\n"),
             StudentCell("%%writefile quadruple.py\ndef quadruple(v):\n    return 4 * v\n"),
             StudentCell("from quadruple import quadruple\n"),
             TestCell("t2", 1.0, "assert (triple(np.arange(3.0)) == [0, 3, 6]).all()\n"
                                 "assert best > 0 and t.loops == 3\n"
                                 "assert (twice == [0, 2, 4]).all() and quadruple(1) == 4\n")]
    graded(worker, steps, [1.0, 1.0])


@pytest.mark.parametrize("load, second", [("%load_ext autoreload\n%autoreload 2\n", 20.0),
                                          ("", 1.0)])
def test_autoreload_reloads_a_changed_module_before_each_cell_in_the_engine(worker, load, second):
    """With autoreload, the rewritten module's new code reaches the function imported before,
    before the test cell runs, as IPython's hook does in a kernel; without it, the old stays."""
    steps = [StudentCell(load + nbs.WRITE_SCALING.format(1) + "from scaling import factor\n"),
             TestCell("t1", 1.0, "factor()\n"),
             StudentCell(nbs.WRITE_SCALING.format(20)),
             TestCell("t2", 20.0, "factor()\n")]
    graded(worker, steps, [1.0, second])


def test_names_the_notebook_deletes_are_gone_from_the_tests(worker):
    steps = [StudentCell("import numpy as np\n\ndef relu(x):\n    return np.maximum(x, 0)\n"
                         "\nbias = 1.0\n"),
             TestCell("t1", 1.0, "assert relu(np.array([-1.0]))[0] == 0 and bias == 1.0\n"),
             StudentCell("del bias\n"),
             TestCell("t2", 1.0, "assert 'bias' not in globals() and relu(np.zeros(1))[0] == 0\n"),
             StudentCell("%reset -f\n"),
             TestCell("t3", 1.0, "assert 'relu' not in globals() and 'np' not in globals()\n")]
    graded(worker, steps, [1.0, 1.0, 1.0])


def test_numba_reads_the_notebooks_environment_at_its_first_import(worker):
    """``NUMBA_DISABLE_JIT=1`` set before ``import numba`` holds, as Numba reads it on import in
    a kernel, though the zygote imported Numba long before."""
    steps = [StudentCell("%env NUMBA_DISABLE_JIT=1\nimport numba\n\n@numba.njit\n"
                         "def twice(x):\n    return 2 * x\n"),
             TestCell("t", 1.0, "assert twice(2) == 4 and not hasattr(twice, 'py_func')\n")]
    graded(worker, steps, [1.0])


def test_the_notebooks_classes_pickle_and_a_dataclass_is_not_flagged(worker):
    """A class the notebook defines is found in ``__main__`` by pickle, as in a kernel, and the
    ``__eq__`` that ``@dataclass`` writes is not taken for a lying one (a hand-written one is)."""
    steps = [StudentCell("import dataclasses\nimport pickle\n\n\nclass Timer:\n"
                         "    def __init__(self):\n        self.t = 2\n\n\n"
                         "copied = pickle.loads(pickle.dumps(Timer())).t\n\n\n"
                         "@dataclasses.dataclass\nclass Result:\n    name: str\n\n\n"
                         "last = pickle.loads(pickle.dumps(Result('relu')))\n"),
             TestCell("t", 1.0, "assert copied == 2 and last.name == 'relu'\n")]
    run = graded(worker, steps, [1.0])
    assert not run.flags


STUDENT_DRAWS = ("import random\nimport numpy as np\n\n\ndef dropout(x, p):\n"
                 "    return x * (np.random.rand(*x.shape) > p) / (1 - p)\n\n\n"
                 "def pick(items):\n    return random.choice(items)\n")


def test_a_test_and_the_students_code_share_one_random_stream(worker):
    """As in one kernel: a test seeds NumPy's and Python's generators, the student's function
    draws from them, the test's own draws go on from there, and so does the next student cell;
    the stream is handed back and forth only where one side drew."""
    steps = [StudentCell(STUDENT_DRAWS),
             TestCell("t1", 1.0, "import random\nimport numpy as np\nnp.random.seed(0)\n"
                                 "x = np.random.randn(3, 4)\nout = dropout(x, 0.5)\n"
                                 "np.random.seed(0)\nnp.random.randn(3, 4)\n"
                                 "assert np.allclose(out, x * (np.random.rand(3, 4) > 0.5) / 0.5)\n"
                                 "random.seed(3)\ngot = pick(list(range(100)))\nrandom.seed(3)\n"
                                 "assert got == random.choice(list(range(100)))\n"
                                 "np.random.seed(5)\nfirst = np.random.rand()\n"),
             StudentCell("after_test = np.random.rand()\n"),
             TestCell("t2", 1.0, "np.random.seed(5)\nnp.random.rand()\n"
                                 "assert after_test == np.random.rand()\n")]
    run = graded(worker, steps, [1.0, 1.0])
    assert not run.flags


def test_a_value_the_grader_holds_already_is_not_sent_again_and_one_that_changed_is(worker):
    """The sandbox sends "same" for a name whose value crosses as it did last time; a value
    changed in place, a name deleted and made again, and one that was an object between, all
    reach the tests as they are now."""
    steps = [StudentCell("data = [1, 2, 3]\nd = {'k': 1}\n"),
             TestCell("t1", 1.0, "assert data == [1, 2, 3] and d == {'k': 1}\n"),
             StudentCell("del data\n"),
             TestCell("t2", 1.0, "assert 'data' not in globals()\n"),
             StudentCell("data = [1, 2, 3]\nd['k'] = 2\n"),
             TestCell("t3", 1.0, "assert data == [1, 2, 3] and d == {'k': 2}\n"),
             StudentCell("data = lambda: 0\n"),
             TestCell("t4", 1.0, "assert data() == 0\n"),
             StudentCell("data = [1, 2, 3]\n"),
             TestCell("t5", 1.0, "assert data == [1, 2, 3] and d == {'k': 2}\n")]
    run = Grader(worker).run(steps, [])
    assert [t.points for t in run.tests] == [1.0] * 5, [t.message for t in run.tests]


def test_what_a_test_cell_binds_reaches_the_students_later_cells_in_the_engine(worker):
    """In a notebook the tests and the student share one namespace: a later student cell uses
    the data a test made, what it imported, and the student's own object it kept; a name it
    deleted is gone. A function the test defined stays with the tests, and what the test bound
    is not sent back to it (the test's own ``assert_allclose`` is still NumPy's)."""
    steps = [StudentCell("import numpy as np\n\ndef relu(x):\n    return np.maximum(x, 0)\n"
                         "\nscale = 2.0\n"),
             TestCell("t1", 1.0, "from numpy.testing import assert_allclose\nimport math\n"
                                 "probe = np.array([-1.0, 2.0])\nkept = relu\nsizes = [1, 2]\n"
                                 "assert_allclose(relu(probe), [0.0, 2.0])\ndel scale\n"
                                 "def _helper():\n    return 1\n"),
             StudentCell("assert_allclose(kept(probe), [0.0, 2.0])\nroot = math.sqrt(4.0)\n"
                         "sizes.append(3)\ngone = 'scale' not in globals()\n"
                         "helper_seen = '_helper' in globals()\n"
                         "def tanh(x):\n    return np.tanh(x)\n"),
             TestCell("t2", 1.0, "import numpy.testing\n"
                                 "assert assert_allclose is numpy.testing.assert_allclose\n"
                                 "assert root == 2.0 and sizes == [1, 2, 3] and gone\n"
                                 "assert not helper_seen and tanh(0.0) == 0.0\n")]
    graded(worker, steps, [1.0, 1.0])


def test_a_hidden_tests_names_stay_out_of_the_students_reach_in_the_engine(worker):
    """Only what a test cell's visible part binds reaches the student's later cells: the
    student's own notebook never had what the hidden part makes (its expected values)."""
    steps = [StudentCell("import numpy as np\n\ndef relu(x):\n    return np.maximum(x, 0)\n"),
             TestCell("t1", 1.0, "probe = np.array([-1.0, 2.0])\n### BEGIN HIDDEN TESTS\n"
                                 "expected = np.array([0.0, 2.0])\nfor step in range(3):\n"
                                 "    assert (relu(probe) == expected).all()\n"
                                 "### END HIDDEN TESTS\n", hidden=True),
             StudentCell("seen = sorted({'probe', 'expected', 'step'} & set(globals()))\n"),
             TestCell("t2", 1.0, "assert seen == ['probe'], seen\n")]
    graded(worker, steps, [1.0, 1.0])


@pytest.mark.parametrize("source, bound", [
    ("x = 1\nfor i, (a, b) in enumerate([]):\n    pass\n", {"x", "i", "a", "b"}),
    ("import numpy.testing\nfrom math import sqrt as root\nwith open('f') as f:\n    pass\n",
     {"numpy", "root", "f"}),
    ("def check(v):\n    inner = v\n    return inner\nclass C:\n    field = 1\n", {"check", "C"}),
    ("squares = [k * k for k in range(3)]\nfn = lambda q: q\ndel old\n", {"squares", "fn", "old"}),
    ("shown = 1\n### BEGIN HIDDEN TESTS\nsecret = 2\n### END HIDDEN TESTS\n", {"shown"}),
    ("%timeit f()\n", set()),
])
def test_the_names_a_test_cells_visible_part_binds(source, bound):
    assert visible_bindings(source) == bound


def test_get_ipython_imported_from_ipython_is_the_shell_for_the_notebook_only(worker):
    """``from IPython import get_ipython`` gives a cell the shell, as in a kernel; a library
    asking (here a module of the student's, and pyplot switching its backend) gets IPython's
    own None, so it does not take the shell for a kernel's."""
    steps = [StudentCell("%%writefile probe.py\nfrom IPython import get_ipython\n\n"
                         "def asks():\n    return get_ipython()\n"),
             StudentCell("from IPython import get_ipython\nimport probe\n"
                         "import matplotlib.pyplot as plt\n"
                         "get_ipython().run_line_magic('matplotlib', 'inline')\n"
                         "plt.switch_backend('agg')\nlibrary_sees = probe.asks()\n\n"
                         "def relu(x):\n    return max(x, 0)\n"),
             TestCell("t", 1.0, "assert relu(-1) == 0 and library_sees is None\n")]
    graded(worker, steps, [1.0])


def test_the_notebook_and_its_tests_see_nbgraders_variables_in_the_engine(worker):
    """nbgrader sets NBGRADER_EXECUTION while it grades ("autograde") or validates ("validate",
    with NBGRADER_VALIDATING), and its FAQ suggests that notebooks read it to skip slow work."""
    steps = [StudentCell("import os\nmode = os.environ.get('NBGRADER_EXECUTION')\n"
                         "validating = os.environ.get('NBGRADER_VALIDATING')\n"),
             TestCell("t", 1.0, "import os\nassert mode == os.environ['NBGRADER_EXECUTION']\n"
                                "assert validating == os.environ.get('NBGRADER_VALIDATING')\n"
                                "print(mode, validating)\n")]
    run = Grader(worker).run(steps, [])
    assert run.tests[0].points == 1.0 and run.tests[0].output == "autograde None\n", run.tests
    assert "NBGRADER_EXECUTION" not in os.environ  # the grader's own, after the run
    validator = Worker(execution="validate")
    try:
        run = Grader(validator).run(steps, [])
    finally:
        validator.close()
    assert run.tests[0].points == 1.0 and run.tests[0].output == "validate 1\n", run.tests
    with pytest.raises(ValueError, match="autograde or validate it, not 'grade'"):
        Worker(execution="grade")
