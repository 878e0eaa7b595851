"""Honest work that the style checks must pass, and the dishonest forms beside it that must still
fail: loops whose number of steps the code fixes (values written out, a dict literal's or
``**kwargs``' items, map over those or a shape, a name bound once to one, a ``raise``'s
message) are not loops over the data; a name assigned is not a name used."""

from __future__ import annotations

import linecache
import re

import numpy as np
import pytest

from autograder.asserts import assert_does_not_call, assert_no_loops


def cell_function(source: str, name: str = "f"):
    """Define ``name`` from ``source`` as IPython runs a notebook cell: compiled under a pseudo
    file name whose text is in linecache, so that its source can be read."""
    filename = f"<ipython-input-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"np": np}
    exec(compile(source, filename, "exec"), scope)
    return scope[name]


class Proxy:
    """What the grading engine hands to test cells: a callable carrying the student's source."""

    def __init__(self, source: str):
        self.__autograder_source__ = source


def both_graders(source: str):
    """``f`` from ``source`` as a notebook defines it and as the engine carries it."""
    return [(cell_function(source), None), (Proxy(source), "f")]


HONEST_LOOPS = {
    "tuple of expressions": "def f(x_train, x_test):\n    low = x_train.min(0)\n"
    "    spread = x_train.max(0) - low\n"
    "    return tuple(d / spread for d in (x_train - low, x_test - low))\n",
    "nested tuples": "def f(y_true, y_pred):\n"
    "    for name, a in (('y_true', y_true), ('y_pred', y_pred)):\n"
    "        assert np.ndim(a) == 1, name\n    return y_true - y_pred\n",
    "dict literal items": "def f(y_true, y_pred):\n"
    "    for name, a in {'y_true': y_true, 'y_pred': y_pred}.items():\n"
    "        assert np.ndim(a) == 1, name\n    return y_true - y_pred\n",
    "map over a shape": "def f(w):\n    label = 'x'.join(map(str, np.shape(w)))\n"
    "    return w, label\n",
    "map over arguments": "def f(y_true, y_pred):\n"
    "    y_true, y_pred = map(np.asarray, (y_true, y_pred))\n    return y_true - y_pred\n",
    "map of a lambda": "def f(x_train, x_test):\n    mean, std = x_train.mean(0), x_train.std(0)\n"
    "    return tuple(map(lambda x: (x - mean) / std, (x_train, x_test)))\n",
    "filter over a shape": "def f(x):\n    return list(filter(None, x.shape)), x\n",
    "a name bound once to a tuple": "def f(y_true, y_pred):\n    arrays = (y_true, y_pred)\n"
    "    if any(np.size(a) == 0 for a in arrays):\n        return 0.0\n"
    "    return np.mean(y_true - y_pred)\n",
    "a name bound once to a shape": "def f(y_true):\n    a = np.shape(y_true)\n"
    "    return ', '.join(str(n) for n in a)\n",
    "map in a raise": "def f(w):\n    if np.ndim(w) != 2:\n"
    "        raise ValueError(f\"bad shape {'x'.join(map(str, np.shape(w)))}\")\n    return w\n",
    "data loop in a raise": "def f(y):\n    if np.any(y < 0):\n"
    "        raise ValueError(', '.join(str(v) for v in y if v < 0))\n    return np.sqrt(y)\n",
    "**kwargs items": "def f(x, **factors):\n    scale = factors.get('scale', 1)\n"
    "    for name, value in factors.items():\n        assert np.isscalar(value), name\n"
    "    return x * scale\n",
}


@pytest.mark.parametrize("source", HONEST_LOOPS.values(), ids=HONEST_LOOPS)
def test_loops_fixed_by_the_code_pass(source):
    for fn, name in both_graders(source):
        assert_no_loops(fn, name=name)


DATA_LOOPS = {
    "map over data": ("def f(x):\n    return list(map(abs, x))\n",
                      "map(), a Python loop in disguise on line 2"),
    "map over x.flat": ("def f(x):\n    return list(map(abs, x.flat))\n", "map()"),
    "map over range(len(x))": ("def f(x):\n    return list(map(abs, range(len(x))))\n", "map()"),
    "filter over data": ("def f(x):\n    return list(filter(None, x))\n", "filter()"),
    "reduce over a tuple": ("def f(a, b):\n    import functools\n"
                            "    return functools.reduce(np.add, (a, b))\n", "reduce()"),
    "items picked by position": ("def f(x):\n    return [v for v in (x[0], x[-1])]\n",
                                 "a list comprehension on line 2"),
    "a tuple unpacking data": ("def f(x):\n    return [v for v in (*x,)]\n",
                               "a list comprehension"),
    "a name rebound": ("def f(x, y):\n    arrays = (x, y)\n    arrays = x\n"
                       "    return [a for a in arrays]\n", "a list comprehension on line 4"),
    "a name also a loop target": ("def f(x, y):\n    arrays = (x, y)\n    for arrays in (x,):\n"
                                  "        pass\n    return [a for a in arrays]\n",
                                  "a list comprehension on line 5"),
    "a name also a parameter": ("def f(arrays, y):\n    arrays = (arrays, y)\n"
                                "    return [a for a in arrays]\n", "a list comprehension"),
    "a name grown in place": ("def f(x):\n    out = []\n    out.extend(x)\n"
                              "    return [v for v in out]\n", "a list comprehension on line 4"),
    "a name grown by +=": ("def f(x):\n    out = ()\n    out += tuple(x)\n"
                           "    return [v for v in out]\n", "a list comprehension on line 4"),
    "kwargs rebound": ("def f(x, **kw):\n    kw = dict(enumerate(x))\n"
                       "    return [v for v in kw.values()]\n", "a list comprehension on line 3"),
    "while loop": ("def f(x):\n    i = 0\n    while i < len(x):\n        i += 1\n    return x\n",
                   "a while loop on line 3"),
    "data loop beside a raise": ("def f(y):\n    if y.size == 0:\n        raise ValueError()\n"
                                 "    return [v for v in y]\n", "a list comprehension on line 4"),
}


@pytest.mark.parametrize("source, what", DATA_LOOPS.values(), ids=DATA_LOOPS)
def test_loops_over_the_data_still_fail(source, what):
    for fn, name in both_graders(source):
        with pytest.raises(AssertionError, match=re.escape(f"f must be vectorized but has {what}")):
            assert_no_loops(fn, name=name)


SIGMOID = "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n\n\n"


def test_a_name_assigned_is_not_a_name_used():
    honest = SIGMOID + "tanh = lambda x: 2 * sigmoid(2 * x) - 1\n"
    assert_does_not_call(cell_function(honest, "tanh"), "tanh")
    for source, name, line in [("tanh = lambda x: np.tanh(x)\n", "tanh", 1),
                               ("tanh = lambda x: tanh(x)\n", "tanh", 1),
                               ("def my_tanh(x):\n    return np.tanh(x)\n", "my_tanh", 2)]:
        with pytest.raises(AssertionError, match=f"uses `tanh` on line {line}"):
            assert_does_not_call(cell_function(source, name), "tanh")
