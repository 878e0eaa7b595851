"""A test hands the student's code a function or an object of its own, which the student's code
calls back in the grader, as it would call it in one notebook process; and reaches nothing else
of the grader's."""

from __future__ import annotations

import pytest

from autograder.engine import protocol, wire
from autograder.engine.notebook import StudentCell, TestCell
from autograder.engine.pipeline import Grader
from autograder.engine.worker import Worker

STUDENT = '''import numpy as np


def numerical_gradient(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def apply_all(fns, x):
    return [fn(x) for fn in fns]


def relu(x):
    return np.maximum(x, 0)


class Model:
    def fit(self, x, callbacks=()):
        for c in callbacks:
            c.on_epoch_end(1, {"loss": 0.5, "rate": c.rate})
        return self


def safe(f, x):
    try:
        return f(x)
    except ValueError as error:
        return f"caught {error}"


def reach(f, path):
    for name in path:
        f = getattr(f, name)
    return f
'''

PASSING = {
    "lambda": "assert abs(numerical_gradient(lambda x: x ** 2, 3.0) - 6.0) < 1e-4\n",
    "builtins_and_ufuncs": ("import math\nimport numpy as np\n"
                            "assert abs(numerical_gradient(math.sin, 0.0) - 1.0) < 1e-6\n"
                            "assert abs(numerical_gradient(np.tanh, 0.0) - 1.0) < 1e-6\n"),
    "a_list_of_functions": ("def sq(v):\n    return v * v\n"
                            "assert apply_all([sq, abs], -2) == [4, 2]\n"),
    "a_callback_object": ("class Recorder:\n    rate = 0.1\n    def __init__(self):\n"
                          "        self.seen = []\n    def on_epoch_end(self, epoch, logs):\n"
                          "        self.seen.append((epoch, logs['loss'], logs['rate']))\n"
                          "r = Recorder()\nModel().fit(None, callbacks=[r])\n"
                          "assert r.seen == [(1, 0.5, 0.1)], r.seen\n"),
    "calling_the_students_code_back": ("import numpy as np\n"
                                       "g = numerical_gradient(\n"
                                       "    lambda v: float(relu(np.array(v))), 2.0)\n"
                                       "assert abs(g - 1.0) < 1e-6\n"),
    "the_tests_error_caught_by_the_student": ("def picky(v):\n    raise ValueError('no')\n"
                                              "assert safe(picky, 1) == 'caught no'\n"),
}


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def grade(worker, tests: dict[str, str]) -> dict[str, tuple[float, str]]:
    steps = [StudentCell(STUDENT)] + [TestCell(name, 1.0, source) for name, source in tests.items()]
    run = Grader(worker).run(steps, [])
    return {t.name: (t.points, t.message) for t in run.tests}


def test_the_students_code_calls_what_a_test_passes_it(worker):
    found = grade(worker, PASSING)
    assert all(points == 1.0 for points, _ in found.values()), found


def test_the_tests_assertion_in_a_callback_fails_the_test_with_its_message(worker):
    found = grade(worker, {"t": "def strict(v):\n    assert v > 0, 'the gradient probe went '"
                                "'below zero'\n    return v\nnumerical_gradient(strict, 0.0)\n"})
    assert found["t"][0] == 0.0 and "the gradient probe went below zero" in found["t"][1]


@pytest.mark.parametrize("path, refused", [
    (["__globals__"], "__globals__"), (["__code__"], "__code__"), (["_hidden"], "_hidden"),
    (["helper"], "helper"), (["on_epoch_end", "__self__"], "__self__"),
])
def test_the_students_code_reaches_nothing_else_of_the_graders(worker, path, refused):
    """No private attribute, and of the public ones only plain data and the object's methods: a
    public attribute holding another object's function is refused."""
    test = ("import os\nclass Probe:\n    _hidden = 1\n    helper = os.getcwd\n"
            "    def on_epoch_end(self, *args):\n        return None\n"
            f"try:\n    reach(Probe(), {path!r})\nexcept Exception as error:\n"
            f"    assert {refused!r} in str(error), str(error)\n"
            "else:\n    raise AssertionError('reached')\n")
    found = grade(worker, {"t": test})
    assert found["t"][0] == 1.0, found


def test_the_graders_objects_cross_under_their_own_tag():
    with pytest.raises(TypeError, match="callback 'back_call' takes"):
        protocol.callback("back_call", g=1)
    tree, blobs = wire.encode([wire.Back(7), wire.Handle(8)])
    assert tree == [{"__g": 7}, {"__h": 8}]
    assert wire.decode(tree, blobs, handle=lambda h: ("child", h), back=lambda g: ("grader", g)) \
        == [("grader", 7), ("child", 8)]
    with pytest.raises(wire.WireError):
        wire.decode({"__g": 7}, [])  # only where the decoder is given the grader's objects


def test_a_module_cannot_be_passed_to_the_students_code(worker):
    found = grade(worker, {"t": "import os\nsafe(os, 1)\n"})
    assert found["t"][0] == 0.0 and "a module (os) cannot be passed" in found["t"][1]


def test_a_student_loop_that_keeps_calling_back_times_out_and_the_next_test_runs():
    from autograder.engine.sandbox import Limits

    worker = Worker(Limits(cell_timeout_s=3, call_timeout_s=3))
    try:
        steps = [StudentCell("def spin(f):\n    while True:\n        try:\n            f(1)\n"
                             "        except Exception:\n            pass\n\n\n"
                             "def double(x):\n    return 2 * x\n"),
                 TestCell("spun", 1.0, "spin(lambda v: v)\n"),
                 TestCell("after", 1.0, "assert double(2) == 4\n")]
        run = Grader(worker).run(steps, [])
    finally:
        worker.close()
    found = {t.name: (t.points, t.message) for t in run.tests}
    assert found["spun"][0] == 0.0 and "timed out" in found["spun"][1], found
    assert found["after"] == (1.0, ""), found


def back_call(**changes):
    """A child's back_call of the grader's object 1 with no arguments, with ``changes``."""
    return {"op": "back_call", "g": 1, "name": "", "args": [], "kwargs": {"__d": []},
            "objects": {}, **changes}


@pytest.mark.parametrize("message, error", [
    (back_call(g=99), "no object of the test's"), (back_call(g="1"), "no object of the test's"),
    ({"op": "back_getattr", "g": 1, "name": "__class__"}, "not a public attribute"),
    ({"op": "back_getattr", "g": 1, "name": ["x"]}, "not a public attribute"),
    (back_call(name="helper"), "cannot be called"),
    (back_call(args={"__t": []}), "bad arguments"),
    (back_call(kwargs={"__d": [[1, 2]]}), "bad arguments"),
    (back_call(args=[{"__g": 5}]), "no object of the grader's"),
])
def test_what_a_hostile_child_asks_is_answered_with_an_error(message, error):
    import os
    import types

    from autograder.engine.proxies import answer_callback
    from autograder.engine.sandbox import Limits

    class Probe:
        helper = os.getcwd

        def __call__(self, *args):
            return "called"

    session = types.SimpleNamespace(kept={1: Probe()}, worker=types.SimpleNamespace(
        limits=Limits()), sent=wire.ArrayCache())
    answer, _ = answer_callback(session, message, [])
    assert answer["ok"] is False and error in answer["error"]["message"], answer
    assert answer_callback(session, back_call(), [])[0] == {"ok": True, "value": "called"}


def test_a_kept_callback_called_from_a_student_cell_prints_nowhere(worker, capsys):
    """A student cell may call a function a test passed before; what it prints belongs to no
    test (in a kernel it would go to the student's cell), not to the grader's own output."""
    steps = [StudentCell("kept = []\n\n\ndef keep(f):\n    kept.append(f)\n"),
             TestCell("t1", 1.0, "def loud(v):\n    print('the test speaks')\n"
                                 "    import sys\n    print('to stderr', file=sys.stderr)\n"
                                 "    return v + 1\nkeep(loud)\n"),
             StudentCell("later = kept[0](1)\n"),
             TestCell("t2", 1.0, "assert later == 2\n")]
    capsys.readouterr()
    run = Grader(worker).run(steps, [])
    assert [t.points for t in run.tests] == [1.0, 1.0], [t.message for t in run.tests]
    assert "the test speaks" not in "".join(capsys.readouterr())
